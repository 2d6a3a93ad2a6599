//! Nodes of a cluster: `chatd --database-url ... --nats-url ...`, on a
//! real PostgreSQL and a real NATS of the test's own.

mod common;

use chat_testkit::nats::Nats;
use chat_testkit::postgres::Postgres;
use common::native::{NativeUser, next_message};
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

    async fn node(&self) -> TestServer {
        let nats = self.nats.url();
        TestServer::start(&[
            "--database-url",
            &self.url,
            "--nats-url",
            &nats,
            "--admin-socket",
            "off",
        ])
        .await
    }
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
             INSERT INTO messages (room, seq, sent_at_ms, sender, text, origin)
                 VALUES ('general', 2, 0, 'ghost', 'lost on the way', 1);",
        )
        .await
        .unwrap();

    // The next one comes through the broker; node b sees the gap before
    // it and reads it from the database.
    assert_eq!(ann.send("general", "third").await.seq, 3);
    let second = next_message(&mut events).await;
    assert_eq!((second.seq, second.text.as_str()), (2, "lost on the way"));
    let third = next_message(&mut events).await;
    assert_eq!((third.seq, third.text.as_str()), (3, "third"));
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
