//! `chatd --database-url`: history, rooms, accounts and sessions in a real
//! PostgreSQL (a server of the test's own, from Debian's package).

mod common;

use std::sync::Arc;

use chat_engine::{Entry, HistoryStore, Message, Origin, PostgresOptions, PostgresStore, SentKey};
use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::get_history_request::Position;
use chat_testkit::postgres::Postgres;
use chatd::{Chatd, Config};
use clap::Parser;
use common::native::{NativeUser, PASSWORD, next_matching, next_message};
use common::*;

fn options() -> PostgresOptions {
    PostgresOptions {
        retain_messages: 100_000,
        retain_age: None,
    }
}

fn message(seq: u64, text: &str, client_id: Option<&str>) -> Arc<Message> {
    Arc::new(Message {
        seq,
        sent_at_ms: 1_700_000_000_000 + seq as i64,
        sender: "ann".into(),
        origin: Origin::Native,
        text: text.into(),
        client_id: client_id.map(Into::into),
        ..Message::default()
    })
}

fn entry(message: &Arc<Message>) -> Entry {
    Entry::Message(Arc::clone(message))
}

fn seqs(stored: &[Arc<Message>]) -> Vec<u64> {
    stored.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn rooms_history_and_accounts_outlive_a_restart_in_postgres() {
    let postgres = Postgres::start().await;
    let url = postgres.new_database("restart").await;
    let flags = ["--database-url", url.as_str(), "--admin-socket", "off"];
    let (token, seq) = {
        let server = TestServer::start(&flags).await;
        let mut ann = NativeUser::register(server.addrs.native, "ann", PASSWORD).await;
        ann.try_create("ops", true).await.unwrap();
        for n in 1..=3 {
            ann.send("ops", &format!("before {n}")).await;
        }
        let sent = ann.send("ops", "안녕 🐘").await;
        server.stop().await.unwrap();
        (ann.token, sent.seq)
    };
    assert_eq!(seq, 4);

    let server = TestServer::start(&flags).await;
    let mut ann = NativeUser::with_token(server.addrs.native, "ann", &token).await;
    assert_eq!(ann.who_am_i().await.unwrap(), ("ann".into(), true));
    let mut events = ann.subscribe(&[("ops", seq - 1)]).await;
    let joined = next_matching(&mut events, |kind| match kind {
        Kind::RoomJoined(joined) => Some(joined),
        _ => None,
    })
    .await;
    let details = joined.details.unwrap();
    assert!(details.private);
    assert_eq!(details.owner, "ann");
    assert_eq!(next_message(&mut events).await.text, "안녕 🐘");
    // Numbering carries on; history reads back in order.
    assert_eq!(ann.send("ops", "after").await.seq, 5);
    let page = ann.history("ops", Some(Position::BeforeSeq(6)), 10).await;
    let texts: Vec<_> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["before 1", "before 2", "before 3", "안녕 🐘", "after"]
    );
    // The private room is still hidden from others.
    let mut bob = NativeUser::login(server.addrs.native, "bob").await;
    assert!(bob.try_join("ops").await.is_err());
}

#[tokio::test]
async fn writers_sharing_the_store_number_on_from_each_other_and_find_retried_sends() {
    let postgres = Postgres::start().await;
    let url = postgres.new_database("store").await;
    // Two stores on one database, as two nodes would be.
    let first = PostgresStore::connect(&url, options()).await.unwrap();
    let second = PostgresStore::connect(&url, options()).await.unwrap();

    let one = message(1, "one", Some("id-1"));
    let two = message(2, "two", None);
    let stored = first
        .append(&[("general", entry(&one)), ("general", entry(&two))])
        .await
        .unwrap();
    assert_eq!(seqs(&stored), [1, 2]);
    assert_eq!(first.last_seq("general"), 2);

    // The other writer numbered from what it knew (nothing): its messages
    // go after the stored ones, in their order, and it is told where.
    let late = message(1, "late", None);
    let later = message(2, "later", None);
    let stored = second
        .append(&[("general", entry(&late)), ("general", entry(&later))])
        .await
        .unwrap();
    assert_eq!(seqs(&stored), [3, 4]);
    let kept = first.read_from("general", 1, 10).await.unwrap();
    let kept: Vec<_> = kept.iter().map(|m| (m.seq, m.text.as_str())).collect();
    assert_eq!(kept, [(1, "one"), (2, "two"), (3, "late"), (4, "later")]);

    let older = first.read_before("general", 3, 1).await.unwrap();
    assert_eq!(older[0].text, "two");
    let found = second
        .find_sent(vec![
            SentKey {
                room: "general".into(),
                sender: "ann".into(),
                client_id: "id-1".into(),
            },
            SentKey {
                room: "general".into(),
                sender: "ann".into(),
                client_id: "never".into(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(found[0].as_ref().map(|m| m.seq), Some(1));
    assert!(found[1].is_none());

    // A store that connects later reads where numbering stands.
    let third = PostgresStore::connect(&url, options()).await.unwrap();
    assert_eq!(third.last_seq("general"), 4);
}

#[tokio::test]
async fn a_database_chatd_cannot_use_is_a_clear_error_at_start() {
    let postgres = Postgres::start().await;
    let url = postgres.new_database("newer").await;
    PostgresStore::connect(&url, options()).await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("UPDATE chatd_schema SET version = 99")
        .await
        .unwrap();
    let newer = PostgresStore::connect(&url, options()).await.unwrap_err();
    assert!(newer.to_string().contains("run a newer chatd"), "{newer}");

    // Nothing listening there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!(
        "host=127.0.0.1 port={} user=postgres dbname=x connect_timeout=5",
        closed.port()
    );
    let mut args = vec!["chatd", "--database-url", url.as_str()];
    args.extend_from_slice(LOOPBACK);
    let error = Chatd::bind(Config::parse_from(args)).await.unwrap_err();
    assert!(
        error.to_string().contains("cannot reach the database"),
        "{error}"
    );
}

/// The flags of a node on the database at `url`, whose senders here send
/// faster than the default allowance.
fn node_flags(url: &str) -> [&str; 6] {
    [
        "--database-url",
        url,
        "--admin-socket",
        "off",
        "--max-sends-per-second",
        "100000",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_give_one_order_without_gaps_or_doubles() {
    let postgres = Postgres::start().await;
    let url = postgres.new_database("two_nodes").await;
    let flags = node_flags(&url);
    let nodes = [
        TestServer::start(&flags).await,
        TestServer::start(&flags).await,
    ];
    let mut readers = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        let mut reader = NativeUser::login(node.addrs.native, &format!("reader{n}")).await;
        reader.join("general").await;
        readers.push(reader.subscribe(&[]).await);
    }

    // Two senders on each node, all at once.
    const EACH: usize = 25;
    let mut senders = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for s in 0..2 {
            let addr = node.addrs.native;
            senders.push(tokio::spawn(async move {
                let name = format!("node{n}-sender{s}");
                let mut user = NativeUser::login(addr, &name).await;
                user.join("general").await;
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    seqs.push(user.send("general", &format!("{name} {i}")).await.seq);
                }
                seqs
            }));
        }
    }
    let mut all = Vec::new();
    for sender in senders {
        let seqs = sender.await.unwrap();
        // A sender's messages keep the order it sent them in.
        assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    let total = 4 * EACH as u64;
    assert_eq!(
        all,
        (1..=total).collect::<Vec<_>>(),
        "numbers given twice or skipped"
    );

    // A send on each node brings it up to date; each node's reader then
    // has every message once, in the one order.
    let mut last = NativeUser::login(nodes[0].addrs.native, "closer0").await;
    last.join("general").await;
    assert_eq!(last.send("general", "from node 0").await.seq, total + 1);
    let mut last = NativeUser::login(nodes[1].addrs.native, "closer1").await;
    last.join("general").await;
    assert_eq!(last.send("general", "from node 1").await.seq, total + 2);
    let mut orders = Vec::new();
    for (n, events) in readers.iter_mut().enumerate() {
        let upto = total + 1 + n as u64;
        let mut order = Vec::new();
        while order.len() < upto as usize {
            let message = next_message(events).await;
            assert_eq!(
                message.seq,
                order.len() as u64 + 1,
                "node {n} skipped or repeated"
            );
            order.push(message.text);
        }
        orders.push(order);
    }
    assert_eq!(orders[0][..], orders[1][..orders[0].len()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_writing_the_same_rooms_at_once_never_wait_on_each_other_in_a_circle() {
    let postgres = Postgres::start().await;
    let url = postgres.new_database("many_rooms").await;
    let flags = node_flags(&url);
    // The rooms are made before the second node starts, which reads them.
    let first = TestServer::start(&flags).await;
    let rooms: Vec<String> = (0..4).map(|r| format!("room-{r}")).collect();
    let mut owner = NativeUser::account(first.addrs.native, "owner").await;
    for room in &rooms {
        owner.create(room).await;
    }
    let nodes = [first, TestServer::start(&flags).await];
    // Senders on both nodes, each going through the rooms in its own
    // order, so batches of the two nodes hold the same rooms in other
    // orders.
    const EACH: usize = 30;
    const SENDERS: usize = 10;
    let mut senders = tokio::task::JoinSet::new();
    for (n, node) in nodes.iter().enumerate() {
        for s in 0..SENDERS {
            let addr = node.addrs.native;
            let rooms = rooms.clone();
            senders.spawn(async move {
                let mut user = NativeUser::login(addr, &format!("node{n}-sender{s}")).await;
                for room in &rooms {
                    user.join(room).await;
                }
                let mut sent = Vec::new();
                for i in 0..EACH {
                    let room = &rooms[(i + s + n) % rooms.len()];
                    let message = user
                        .try_send(room, &format!("{i}"), "")
                        .await
                        .expect("a send is stored");
                    sent.push((room.clone(), message.seq));
                }
                sent
            });
        }
    }
    let mut by_room: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    while let Some(sent) = senders.join_next().await {
        for (room, seq) in sent.unwrap() {
            by_room.entry(room).or_default().push(seq);
        }
    }
    let total: usize = by_room.values().map(Vec::len).sum();
    assert_eq!(total, 2 * SENDERS * EACH);
    for (room, mut seqs) in by_room {
        seqs.sort_unstable();
        let count = seqs.len() as u64;
        assert_eq!(seqs, (1..=count).collect::<Vec<_>>(), "{room}");
    }
}
