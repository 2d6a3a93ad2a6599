//! Nodes of a cluster: `chatd --database-url ... --nats-url ...`, on a
//! real PostgreSQL and a real NATS of the test's own.

mod common;

use chat_proto::chat::v1::room_action::Action;
use chat_testkit::nats::Nats;
use chat_testkit::postgres::Postgres;
use common::files::{get_link, uploaded};
use common::metrics::Scrape;
use common::native::{NativeUser, PASSWORD, next_matching, next_message, next_update};
use common::*;

/// A PostgreSQL database and a NATS server, and nodes on them.
struct Cluster {
    postgres: Postgres,
    nats: Nats,
    url: String,
}

impl Cluster {
    async fn start(name: &str) -> Self {
        let postgres = Postgres::start().await;
        let url = postgres.new_database(name).await;
        Cluster {
            postgres,
            nats: Nats::start().await,
            url,
        }
    }

    /// The flags of a node of this cluster.
    fn flags(&self) -> Vec<String> {
        [
            "--database-url",
            &self.url,
            "--nats-url",
            &self.nats.url(),
            "--admin-socket",
            "off",
            // Senders here send faster than people do.
            "--max-sends-per-second",
            "1000",
        ]
        .map(String::from)
        .to_vec()
    }

    async fn node(&self) -> TestServer {
        self.node_with(&[]).await
    }

    /// A node with `extra` flags.
    async fn node_with(&self, extra: &[&str]) -> TestServer {
        let flags = self.flags();
        let mut flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        flags.extend_from_slice(extra);
        TestServer::start(&flags).await
    }

    /// A node as a process of its own, to be killed.
    async fn node_process(&self) -> ChatdProcess {
        let flags = self.flags();
        ChatdProcess::spawn(&flags.iter().map(String::as_str).collect::<Vec<_>>(), &[]).await
    }
}

/// Evaluates `check` (an `Option`) until it is `Some`, failing the test
/// after [`PATIENCE`]: for what another node learns a moment later.
macro_rules! eventually {
    ($what:expr, $check:expr) => {{
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(value) = $check {
                break value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting: {}",
                $what
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }};
}

/// Whether `name` is among `user`'s room's members, and online.
async fn membership(user: &mut NativeUser, room: &str, name: &str) -> Option<bool> {
    user.members(room)
        .await
        .into_iter()
        .find(|member| member.name == name)
        .map(|member| member.online)
}

/// A user of the node at `addr`, in `general`.
async fn member(addr: std::net::SocketAddr, name: &str) -> NativeUser {
    let mut user = NativeUser::login(addr, name).await;
    user.join("general").await;
    user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_on_one_node_reaches_readers_on_the_others_live() {
    let cluster = Cluster::start("live").await;
    let nodes = [
        cluster.node().await,
        cluster.node().await,
        cluster.node().await,
    ];
    let mut readers = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        let mut reader = member(node.addrs.native, &format!("reader{n}")).await;
        readers.push(reader.subscribe(&[]).await);
    }
    // Senders on the first two nodes; the third only reads.
    let mut ann = NativeUser::login(nodes[0].addrs.native, "ann").await;
    let mut bob = NativeUser::login(nodes[1].addrs.native, "bob").await;
    ann.join("general").await;
    bob.join("general").await;
    let mut sent = Vec::new();
    for i in 0..20 {
        let (user, name) = if i % 3 == 0 {
            (&mut bob, "bob")
        } else {
            (&mut ann, "ann")
        };
        sent.push(user.send("general", &format!("{name} {i}")).await.seq);
    }
    assert_eq!(sent, (1..=20).collect::<Vec<_>>());
    for (n, events) in readers.iter_mut().enumerate() {
        for seq in 1..=20 {
            let message = next_message(events).await;
            assert_eq!(message.seq, seq, "node {n}");
            let sender = if (seq - 1) % 3 == 0 { "bob" } else { "ann" };
            assert_eq!(message.text, format!("{sender} {}", seq - 1), "node {n}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_broker_never_brought_is_read_from_the_database() {
    let cluster = Cluster::start("lost").await;
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut reader = member(b.addrs.native, "reader").await;
    let mut events = reader.subscribe(&[]).await;
    let mut ann = member(a.addrs.native, "ann").await;
    assert_eq!(ann.send("general", "first").await.seq, 1);
    assert_eq!(next_message(&mut events).await.text, "first");

    // A message stored as another node would, but never published.
    let (client, connection) = tokio_postgres::connect(&cluster.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "UPDATE rooms SET last_seq = 2 WHERE name = 'general';
             INSERT INTO messages (room, seq, sent_at_ms, sender, text, origin, reply_to)
                 VALUES ('general', 2, 0, 'ghost', 'lost on the way', 1, 1);",
        )
        .await
        .unwrap();

    // The next one comes through the broker; node b sees the gap before
    // it and reads it from the database.
    // Replies cross both ways, the database's and the broker's.
    let third = ann.try_reply("general", "third", 1).await.unwrap();
    assert_eq!(third.seq, 3);
    let second = next_message(&mut events).await;
    assert_eq!((second.seq, second.text.as_str()), (2, "lost on the way"));
    assert_eq!(second.reply_to, 1);
    let third = next_message(&mut events).await;
    assert_eq!(
        (third.seq, third.text.as_str(), third.reply_to),
        (3, "third", 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_cross_nodes_count_when_made_at_once_and_are_read_when_missed() {
    let cluster = Cluster::start("changes").await;
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut reader = member(b.addrs.native, "reader").await;
    let mut events = reader.subscribe(&[]).await;
    let mut ann = member(a.addrs.native, "ann").await;
    let mut bob = member(b.addrs.native, "bob").await;
    let first = ann.send("general", "frist").await;
    assert_eq!(next_message(&mut events).await.seq, first.seq);

    // Made on node a, seen on node b.
    ann.try_edit("general", first.seq, "first").await.unwrap();
    let edited = next_update(&mut events).await;
    assert_eq!(edited.message.unwrap().text, "first");

    // Reactions made on both nodes at once both count.
    let (from_a, from_b) = tokio::join!(
        ann.try_react("general", first.seq, "👍", false),
        bob.try_react("general", first.seq, "👍", false),
    );
    from_a.unwrap();
    from_b.unwrap();
    next_update(&mut events).await;
    let both = next_update(&mut events).await;
    let count = both.message.as_ref().unwrap().reactions[0].count;
    assert_eq!(count, 2, "{both:?}");

    // A change stored as another node would, but never published: node b
    // finds the gap it leaves and reads it, in its message's state now.
    let (client, connection) = tokio_postgres::connect(&cluster.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let ghost_seq = both.seq + 1;
    client
        .batch_execute(&format!(
            "UPDATE rooms SET last_seq = {ghost_seq} WHERE name = 'general';
             UPDATE messages SET text = 'first, fixed' WHERE room = 'general' AND seq = 1;
             INSERT INTO messages (room, seq, sent_at_ms, sender, text, origin, deleted, target)
                 VALUES ('general', {ghost_seq}, 0, '', '', 0, TRUE, 1);"
        ))
        .await
        .unwrap();
    let next = ann.send("general", "next").await;
    assert_eq!(next.seq, ghost_seq + 1);
    let ghost = next_update(&mut events).await;
    assert_eq!(ghost.seq, ghost_seq);
    assert_eq!(ghost.message.unwrap().text, "first, fixed");
    assert_eq!(next_message(&mut events).await.seq, next.seq);
    let page = reader.history("general", None, 10).await;
    let texts: Vec<&str> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["first, fixed", "next"],
        "history holds messages as they are"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_carry_on_through_a_broker_restart_with_nothing_lost() {
    let mut cluster = Cluster::start("broker_restart").await;
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut reader = member(b.addrs.native, "reader").await;
    let mut events = reader.subscribe(&[]).await;
    let mut ann = member(a.addrs.native, "ann").await;
    ann.send("general", "before").await;
    assert_eq!(next_message(&mut events).await.text, "before");

    // Without the broker, sends are still stored and acknowledged.
    cluster.nats.kill();
    assert_eq!(
        ann.send("general", "while the broker was down").await.seq,
        2
    );
    cluster.nats.restart().await;

    // Once the nodes are back on the broker, the next message brings
    // node b up to date: the one it missed is read from the database.
    let mut n = 0;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        n += 1;
        ann.send("general", &format!("after {n}")).await;
        let waited =
            tokio::time::timeout(std::time::Duration::from_secs(1), next_message(&mut events));
        if let Ok(message) = waited.await {
            seen.push((message.seq, message.text));
        }
        assert!(n < 30, "node b never caught up: {seen:?}");
    }
    assert_eq!(seen[0], (2, "while the broker was down".to_owned()));
    assert_eq!(seen[1].0, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_fail_clearly_while_the_database_is_down_and_work_again_after() {
    let mut cluster = Cluster::start("database_restart").await;
    let a = cluster.node().await;
    let mut ann = member(a.addrs.native, "ann").await;
    assert_eq!(ann.send("general", "before").await.seq, 1);

    cluster.postgres.kill();
    let refused = ann
        .try_send("general", "while down", "id-1")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("database"), "{refused:?}");

    // Back: the node recovers by itself, numbering on without a gap, and
    // the retried send (same client id) is posted once.
    cluster.postgres.restart().await;
    let mut tries = 0;
    let sent = loop {
        tries += 1;
        match ann.try_send("general", "while down", "id-1").await {
            Ok(sent) => break sent,
            Err(status) if tries < 50 => {
                assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(status) => panic!("never recovered: {status:?}"),
        }
    };
    assert_eq!(sent.seq, 2);
    assert_eq!(
        ann.try_send("general", "while down", "id-1")
            .await
            .unwrap()
            .seq,
        2
    );
    assert_eq!(ann.send("general", "after").await.seq, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_presence_are_the_same_on_every_node() {
    let cluster = Cluster::start("presence").await;
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut ann = member(a.addrs.native, "ann").await;
    let mut bob = member(b.addrs.native, "bob").await;
    eventually!(
        "bob sees ann, offline",
        (membership(&mut bob, "general", "ann").await == Some(false)).then_some(())
    );
    let events = ann.subscribe(&[]).await;
    eventually!(
        "bob sees ann come online",
        (membership(&mut bob, "general", "ann").await == Some(true)).then_some(())
    );
    drop(events);
    eventually!(
        "bob sees ann go offline",
        (membership(&mut bob, "general", "ann").await == Some(false)).then_some(())
    );
    ann.leave("general").await;
    eventually!(
        "bob sees ann leave",
        membership(&mut bob, "general", "ann")
            .await
            .is_none()
            .then_some(())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_name_is_held_on_every_node_until_its_node_dies() {
    let cluster = Cluster::start("names").await;
    let mut a = cluster.node_process().await;
    let b = cluster.node().await;
    let mut ann = member(a.native, "ann").await;
    // Logged in, not yet online: only the database knows her name is held.
    for taken in ["ann", "ANN", "\u{430}nn"] {
        let refused = NativeUser::try_login(b.addrs.native, taken)
            .await
            .err()
            .unwrap_or_else(|| panic!("{taken} logged in on the other node"));
        assert_eq!(refused.code(), tonic::Code::AlreadyExists, "{refused:?}");
    }
    let _stream = ann.subscribe(&[]).await;
    let mut bob = member(b.addrs.native, "bob").await;
    eventually!(
        "bob sees ann online",
        (membership(&mut bob, "general", "ann").await == Some(true)).then_some(())
    );

    // An account on the node too.
    let mut carl = NativeUser::account(a.native, "carl").await;
    carl.join("general").await;
    let _carl_stream = carl.subscribe(&[]).await;
    eventually!(
        "bob sees carl online",
        (membership(&mut bob, "general", "carl").await == Some(true)).then_some(())
    );

    // Killed: within a lease, the guest is gone from the room and her name
    // free again; the account stays in it, offline.
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    eventually!(
        "bob sees ann leave and carl go offline",
        (membership(&mut bob, "general", "ann").await.is_none()
            && membership(&mut bob, "general", "carl").await == Some(false))
        .then_some(())
    );
    eventually!(
        "the name ann is free",
        NativeUser::try_login(b.addrs.native, "ann").await.ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_sessions_rooms_and_roles_are_the_same_on_every_node() {
    let cluster = Cluster::start("accounts").await;
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut ann = NativeUser::account(a.addrs.native, "ann").await;
    let mut bob = NativeUser::account(b.addrs.native, "bob").await;

    // A session opened on one node is good on the other; a password too.
    let mut ann_on_b = NativeUser::with_token(b.addrs.native, "ann", &ann.token).await;
    eventually!(
        "ann's session is known on b",
        ann_on_b.who_am_i().await.ok()
    );
    NativeUser::try_login_with(b.addrs.native, "ann", PASSWORD)
        .await
        .expect("ann logs in on b");
    let refused = NativeUser::try_register(b.addrs.native, "ANN", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::AlreadyExists, "{refused:?}");

    // A private room made on a: hidden from bob on b until he is invited.
    ann.try_create("secret", true).await.unwrap();
    let hidden = bob.try_join("secret").await.unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound, "{hidden:?}");
    ann.moderate("secret", Action::Invite("bob".into()))
        .await
        .unwrap();
    eventually!("bob may join on b", bob.try_join("secret").await.ok());
    eventually!(
        "ann sees bob in the room",
        membership(&mut ann, "secret", "bob").await.map(drop)
    );

    // Banned on a: out on b, and kept out.
    ann.moderate("secret", Action::Ban("bob".into()))
        .await
        .unwrap();
    let mut ann_on_b = NativeUser::with_token(b.addrs.native, "ann", &ann.token).await;
    eventually!(
        "bob is out on b",
        membership(&mut ann_on_b, "secret", "bob")
            .await
            .is_none()
            .then_some(())
    );
    let banned = bob.try_join("secret").await.unwrap_err();
    assert_eq!(banned.code(), tonic::Code::NotFound, "{banned:?}");

    // Logged out on a: the session is over on b too.
    ann.logout().await;
    eventually!("ann's session ended on b", ann_on_b.who_am_i().await.err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_loses_nothing_and_its_clients_go_on_elsewhere() {
    use chat_client::{Client, ClientConfig, ClientEvent};
    use chat_proto::chat::v1::get_history_request::Position;
    use std::time::Duration;

    let cluster = Cluster::start("kill").await;
    let mut a = cluster.node_process().await;
    let (b, c) = (cluster.node().await, cluster.node().await);
    let mut dave = member(c.addrs.native, "dave").await;
    let mut dave_events = dave.subscribe(&[]).await;
    NativeUser::account(a.native, "ann").await;

    // ann's client knows two nodes and starts on a; bob sends on b and
    // carl on c, all at once.
    let (ann, mut ann_events) = Client::connect(ClientConfig {
        password: PASSWORD.into(),
        rooms: vec!["general".into()],
        backoff: (Duration::from_millis(50), Duration::from_millis(500)),
        ..ClientConfig::new(format!("{},{}", a.native, b.addrs.native), "ann")
    })
    .await
    .unwrap();
    const EACH: usize = 60;
    let mut senders = tokio::task::JoinSet::new();
    for (name, addr) in [("bob", b.addrs.native), ("carl", c.addrs.native)] {
        senders.spawn(async move {
            let mut user = member(addr, name).await;
            let mut acked = Vec::new();
            for i in 0..EACH {
                let text = format!("{name} {i}");
                let sent = user.send("general", &text).await;
                acked.push((sent.seq, text));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            acked
        });
    }
    // a is killed while ann sends, a third of the way through.
    let (progress, mut ann_acked) = tokio::sync::mpsc::unbounded_channel();
    senders.spawn(async move {
        let mut acked = Vec::new();
        for i in 0..EACH {
            let text = format!("ann {i}");
            let sent = ann.send("general", &text).await.expect("ann's send");
            acked.push((sent.seq, text));
            let _ = progress.send(());
        }
        acked
    });
    for _ in 0..EACH / 3 {
        ann_acked.recv().await.unwrap();
    }
    a.child.start_kill().unwrap();
    let killed = std::time::Instant::now();
    a.child.wait().await.unwrap();
    // How long ann's client went without an acknowledged send: a figure
    // for the docs, not asserted.
    ann_acked.recv().await.unwrap();
    eprintln!(
        "ann's first send after the kill acknowledged in {:?}",
        killed.elapsed()
    );
    let mut acked = Vec::new();
    while let Some(sender) = senders.join_next().await {
        acked.extend(sender.unwrap());
    }

    // Every acknowledged message is in history once, in one order with no
    // gap, as the survivors have it.
    acked.sort();
    let total = acked.len() as u64;
    assert_eq!(total, 3 * EACH as u64);
    let numbers: Vec<u64> = acked.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>(), "doubled or lost");
    for node in [b.addrs.native, c.addrs.native] {
        let mut reader = NativeUser::login(node, &format!("reader-{}", node.port())).await;
        reader.join("general").await;
        let history = reader
            .history("general", Some(Position::AfterSeq(0)), total as u32)
            .await;
        let stored: Vec<(u64, String)> = history
            .messages
            .into_iter()
            .map(|m| (m.seq, m.text))
            .collect();
        assert_eq!(stored, acked, "history on {node}");
    }
    // A reader on a survivor saw them all live, once each, in order.
    for (seq, text) in &acked {
        let message = next_message(&mut dave_events).await;
        assert_eq!((&message.seq, &message.text), (seq, text));
    }
    // ann's client resumed on b and has them all too, once each, in order.
    let mut seen = Vec::new();
    while seen.len() < acked.len() {
        let event = tokio::time::timeout(PATIENCE, ann_events.recv())
            .await
            .expect("ann's client has every message")
            .expect("ann's client runs");
        if let ClientEvent::Message(message) = event {
            seen.push((message.seq, message.text));
        }
    }
    assert_eq!(seen, acked, "ann's client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lobby_classic_and_native_users_on_different_nodes_talk() {
    use common::lobby::{LobbyUser, chat, next};

    let cluster = Cluster::start("protocols").await;
    let (a, b, c) = (
        cluster.node().await,
        cluster.node().await,
        cluster.node().await,
    );
    // Lobby users of two nodes get indexes given once in the cluster, and
    // share the lobby.
    let mut ann = LobbyUser::login(a.addrs.agent).await;
    let mut bob = LobbyUser::login(b.addrs.agent).await;
    assert_ne!(ann.index, bob.index, "one index given twice");
    let mut carl = member(c.addrs.native, "carl").await;
    carl.join("lobby").await;
    let mut carl_events = carl.subscribe(&[]).await;
    eventually!(
        "the lobby's members are known on a",
        (a.engine.find_room("lobby").map(|room| room.member_count()) == Some(3)).then_some(())
    );
    ann.all("hello from a").await;
    assert_eq!(
        next(&mut bob.lobby_chat).await,
        chat(ann.index, "hello from a")
    );
    let heard = next_message(&mut carl_events).await;
    assert_eq!(
        (heard.sender.as_str(), heard.text.as_str()),
        (format!("user-{}", ann.index).as_str(), "hello from a")
    );

    // A channel lives on its node; a native user of another node reaches
    // it as a room.
    let port = ann.make().await;
    let mut dave = member(b.addrs.native, "dave").await;
    let channel = format!("-{port}");
    let room = eventually!(
        "the channel is listed on b",
        dave.rooms()
            .await
            .into_iter()
            .find(|room| room.name.starts_with("channel-") && room.name.ends_with(&channel))
    )
    .name;
    dave.join(&room).await;
    dave.send(&room, "hello channel").await;
    assert_eq!(
        next(&mut ann.seat().chat).await,
        chat(0, "dave: hello channel")
    );

    // A classic client of one node and a native user of another share
    // `general`.
    let mut reader = member(a.addrs.native, "erin").await;
    let mut erin_events = reader.subscribe(&[]).await;
    let mut classic = c.classic_client().await;
    send(&mut classic, "지민", "hello from a classic client")
        .await
        .unwrap();
    let heard = next_message(&mut erin_events).await;
    assert_eq!(
        (heard.sender.as_str(), heard.text.as_str()),
        ("지민", "hello from a classic client")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_not_serving_while_the_database_or_the_broker_is_down() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let mut cluster = Cluster::start("health").await;
    let node = cluster.node_with(&["--metrics-addr", "127.0.0.1:0"]).await;
    let metrics = node.addrs.metrics.unwrap();
    let mut health = HealthClient::new(connect(node.addrs.native).await);
    macro_rules! status_becomes {
        ($wanted:expr, $what:expr) => {
            eventually!(
                $what,
                (health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .status()
                    == $wanted)
                    .then_some(())
            )
        };
    }
    status_becomes!(ServingStatus::Serving, "serving at first");
    cluster.postgres.kill();
    status_becomes!(
        ServingStatus::NotServing,
        "not serving without the database"
    );
    // The round trips to both are timed, and the database's failures
    // counted.
    let scrape = Scrape::of(metrics).await;
    assert!(scrape.get(r#"chatd_health_check_failures_total{check="store"}"#) >= 1.0);
    assert!(scrape.get(r#"chatd_health_check_seconds_count{check="broker"}"#) >= 1.0);
    cluster.postgres.restart().await;
    status_becomes!(ServingStatus::Serving, "serving with the database back");
    cluster.nats.kill();
    status_becomes!(ServingStatus::NotServing, "not serving without the broker");
    let scrape = Scrape::of(metrics).await;
    assert!(scrape.get(r#"chatd_health_check_failures_total{check="broker"}"#) >= 1.0);
    cluster.nats.restart().await;
    status_becomes!(ServingStatus::Serving, "serving with the broker back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_moved_on_one_node_clears_the_badge_on_another_and_typing_crosses() {
    use chat_proto::chat::v1::event::Event as Kind;
    use chat_proto::chat::v1::{MarkReadRequest, NotifyLevel, SetTypingRequest};
    let cluster = Cluster::start("attention").await;
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut ann = NativeUser::account(a.addrs.native, "ann").await;
    ann.join("general").await;
    let mut phone = NativeUser::with_token(b.addrs.native, "ann", &ann.token).await;
    let mut events = phone.subscribe(&[]).await;
    let mut bob = member(a.addrs.native, "bob").await;
    let said = bob.send("general", "@ann lunch?").await;
    let badge = |rooms: Vec<chat_proto::chat::v1::Room>| {
        let general = rooms.into_iter().find(|r| r.name == "general").unwrap();
        (general.unread_count, general.mention_count)
    };
    eventually!(
        "node b counts bob's message",
        (badge(phone.rooms().await) == (1, 1)).then_some(())
    );

    let request = ann.req(MarkReadRequest {
        room: "general".into(),
        seq: said.seq,
    });
    ann.client.mark_read(request).await.unwrap();
    let moved = next_matching(&mut events, |event| match event {
        Kind::ReadMarker(marker) => Some(marker.seq),
        _ => None,
    })
    .await;
    assert_eq!(moved, said.seq);
    assert_eq!(badge(phone.rooms().await), (0, 0), "cleared on node b");

    let request = bob.req(SetTypingRequest {
        room: "general".into(),
        typing: true,
    });
    bob.client.set_typing(request).await.unwrap();
    let typing = next_matching(&mut events, |event| match event {
        Kind::Typing(typing) => Some((typing.name, typing.typing)),
        _ => None,
    })
    .await;
    assert_eq!(typing, ("bob".to_owned(), true));

    // A level set on node a is the level on node b.
    ann.try_set_notify("general", NotifyLevel::None)
        .await
        .unwrap();
    let heard = next_matching(&mut events, |event| match event {
        Kind::NotifyChanged(changed) => Some(changed.level()),
        _ => None,
    })
    .await;
    assert_eq!(heard, NotifyLevel::None, "ann's session on node b is told");
    assert_eq!(phone.notify_level("general").await, NotifyLevel::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_on_one_node_is_served_by_another() {
    let cluster = Cluster::start("files").await;
    let (a, b) = (cluster.node().await, cluster.node().await);
    let mut ann = NativeUser::account(a.addrs.native, "ann").await;
    ann.join("general").await;
    let mut bob = member(b.addrs.native, "bob").await;
    let mut events = bob.subscribe(&[]).await;
    let bytes: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
    let file = uploaded(a.addrs.native, &ann, "data.bin", &bytes).await;
    ann.try_send_files("general", "the data", &[file["id"].as_str().unwrap()])
        .await
        .unwrap();
    // Node b signs bob's link with the key both nodes share, and serves
    // the bytes node a kept in PostgreSQL.
    let message = next_message(&mut events).await;
    let link = &message.attachments[0].url;
    let fetched = get_link(b.addrs.native, link, None).await;
    assert_eq!(fetched.status(), http::StatusCode::OK);
    assert_eq!(fetched.body().as_ref(), &bytes[..]);
    let owners = get_link(b.addrs.native, file["url"].as_str().unwrap(), None).await;
    assert_eq!(owners.status(), http::StatusCode::OK);
}
