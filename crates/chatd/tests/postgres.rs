//! `chatd --database-url`: history, rooms, accounts and sessions in a real
//! PostgreSQL (a server of the test's own, from Debian's package).

mod common;

use std::sync::Arc;

use chat_engine::{HistoryStore, Message, Origin, PostgresOptions, PostgresStore, SentKey};
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
        wire: Default::default(),
    })
}

#[tokio::test]
async fn rooms_history_and_accounts_outlive_a_restart_in_postgres() {
    let postgres = Postgres::start().await;
    let url = postgres.new_database("restart").await;
    let flags = ["--database-url", url.as_str()];
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
async fn the_store_keeps_each_number_once_and_finds_retried_sends() {
    let postgres = Postgres::start().await;
    let url = postgres.new_database("store").await;
    // Two stores on one database, as two nodes would be.
    let first = PostgresStore::connect(&url, options()).await.unwrap();
    let second = PostgresStore::connect(&url, options()).await.unwrap();

    let one = message(1, "one", Some("id-1"));
    let two = message(2, "two", None);
    first
        .append(&[("general", &one), ("general", &two)])
        .await
        .unwrap();
    assert_eq!(first.last_seq("general"), 2);

    // The same number from another writer is refused, and nothing of its
    // batch is kept.
    let clash = message(2, "clash", None);
    let three = message(3, "three", None);
    let refused = second
        .append(&[("general", &three), ("general", &clash)])
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("cannot store messages"),
        "{refused}"
    );
    let kept = first.read_from("general", 1, 10).await.unwrap();
    let texts: Vec<_> = kept.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["one", "two"]);

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
    assert_eq!(third.last_seq("general"), 2);
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
