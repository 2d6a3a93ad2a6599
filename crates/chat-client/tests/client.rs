//! The client library against a real chatd on loopback: chatting, failing
//! to connect, and riding out dropped connections and ended sessions with
//! nothing lost or doubled.

use std::time::Duration;

use chat_client::{ChatMessage, Client, ClientConfig, ClientError, ClientEvent, Connection};
use chat_testkit::proxy::Proxy;
use chat_testkit::{PATIENCE, TestServer};
use tokio::sync::mpsc::Receiver;

fn config(server: impl ToString, name: &str) -> ClientConfig {
    ClientConfig {
        rooms: vec!["general".into()],
        backoff: (Duration::from_millis(50), Duration::from_millis(500)),
        ..ClientConfig::new(server.to_string(), name)
    }
}

/// Waits for the first event `pick` accepts, skipping others.
async fn wait_for<T>(
    events: &mut Receiver<ClientEvent>,
    pick: impl Fn(ClientEvent) -> Option<T>,
) -> T {
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            let event = events.recv().await.expect("the client stopped");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    });
    found.await.expect("the awaited event did not come")
}

async fn next_message(events: &mut Receiver<ClientEvent>) -> ChatMessage {
    wait_for(events, |event| match event {
        ClientEvent::Message(message) => Some(message),
        _ => None,
    })
    .await
}

async fn online(events: &mut Receiver<ClientEvent>) {
    wait_for(events, |event| {
        (event == ClientEvent::Connection(Connection::Online)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_chat_in_a_room() {
    let server = TestServer::start(&[]).await;
    let (ann, mut ann_events) = Client::connect(config(server.addrs.native, "ann"))
        .await
        .unwrap();
    let (bob, _bob_events) = Client::connect(config(server.addrs.native, "bob"))
        .await
        .unwrap();
    online(&mut ann_events).await;
    let sent = bob.send("general", "안녕 ann 👋").await.unwrap();
    let got = next_message(&mut ann_events).await;
    assert_eq!(got, sent);
    assert_eq!((got.sender.as_str(), got.room.as_str()), ("bob", "general"));
    assert_eq!(ann.rooms(), ["general"]);
    let members: Vec<String> = ann
        .list_members("general")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(members, ["ann", "bob"]);
    let history = ann.history("general", None, 10).await.unwrap();
    assert_eq!(history.messages, [sent]);
}

#[tokio::test]
async fn an_unreachable_server_and_a_taken_name_are_clear_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = Client::connect(config(closed, "ann")).await.err().unwrap();
    assert!(
        matches!(error, ClientError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("nothing answers at {closed}")),
        "{error}"
    );

    let server = TestServer::start(&[]).await;
    let _ann = Client::connect(config(server.addrs.native, "ann"))
        .await
        .unwrap();
    let error = Client::connect(config(server.addrs.native, "ann"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&error, ClientError::NameTaken { name, message }
            if name == "ann" && message.contains("in use")),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_resumed_with_nothing_lost_or_doubled() {
    let server = TestServer::start(&[]).await;
    let proxy = Proxy::start(server.addrs.native).await;
    let (ann, mut ann_events) = Client::connect(config(proxy.addr, "ann")).await.unwrap();
    let (bob, _bob_events) = Client::connect(config(server.addrs.native, "bob"))
        .await
        .unwrap();
    online(&mut ann_events).await;
    for i in 1..=5 {
        bob.send("general", &i.to_string()).await.unwrap();
    }
    for i in 1..=5 {
        assert_eq!(next_message(&mut ann_events).await.text, i.to_string());
    }

    proxy.cut();
    wait_for(&mut ann_events, |event| match event {
        ClientEvent::Connection(Connection::Offline { .. }) => Some(()),
        _ => None,
    })
    .await;
    for i in 6..=10 {
        bob.send("general", &i.to_string()).await.unwrap();
    }
    // A send made while the connection is down goes through once.
    let own = ann.send("general", "ann was away").await.unwrap();
    let mut texts = Vec::new();
    while texts.len() < 6 {
        texts.push(next_message(&mut ann_events).await.text);
    }
    assert_eq!(texts, ["6", "7", "8", "9", "10", "ann was away"]);
    let history = ann.history("general", None, 50).await.unwrap();
    let seqs: Vec<u64> = history.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    assert_eq!(own.seq, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ended_while_away_is_renewed_and_resumed() {
    let server = TestServer::start(&["--presence-grace", "100ms"]).await;
    let proxy = Proxy::start(server.addrs.native).await;
    let (_ann, mut ann_events) = Client::connect(config(proxy.addr, "ann")).await.unwrap();
    let (bob, _bob_events) = Client::connect(config(server.addrs.native, "bob"))
        .await
        .unwrap();
    online(&mut ann_events).await;
    bob.send("general", "before").await.unwrap();
    assert_eq!(next_message(&mut ann_events).await.text, "before");

    // Ann is cut off long enough for the server to end her session.
    proxy.go_silent();
    proxy.cut();
    chat_testkit::wait_until(
        || !server.engine.room("general").is_member("ann"),
        || "ann removed".into(),
    )
    .await;
    bob.send("general", "while ann was gone").await.unwrap();
    proxy.heal();
    proxy.cut();

    // She logs in again, rejoins `general`, and gets what she missed.
    assert_eq!(
        next_message(&mut ann_events).await.text,
        "while ann was gone"
    );
    assert!(server.engine.room("general").is_member("ann"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_faster_than_the_server_allows_is_paced_not_lost() {
    let server = TestServer::start(&["--max-sends-per-second", "20"]).await;
    let (ann, _events) = Client::connect(config(server.addrs.native, "ann"))
        .await
        .unwrap();
    for i in 1..=45 {
        ann.send("general", &i.to_string()).await.unwrap();
    }
    let history = ann.history("general", None, 100).await.unwrap();
    let texts: Vec<String> = history.messages.into_iter().map(|m| m.text).collect();
    assert_eq!(texts, (1..=45).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_registers_logs_in_with_its_password_and_resumes_a_saved_token() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let registering = ClientConfig {
        password: "a long password".into(),
        register: true,
        ..config(addr, "ann")
    };
    let (ann, _events) = Client::connect(registering).await.unwrap();
    let token = ann.session_token().expect("a session");

    let wrong = ClientConfig {
        password: "not it at all".into(),
        ..config(addr, "ann")
    };
    let refused = Client::connect(wrong).await.err().unwrap();
    assert!(
        matches!(&refused, ClientError::Refused { message, .. } if message == "wrong name or password"),
        "{refused:?}"
    );
    let guest = Client::connect(config(addr, "ann")).await.err().unwrap();
    assert!(guest.to_string().contains("registered"), "{guest}");

    // A saved token resumes the session without the password.
    let resumed = ClientConfig {
        token: Some(token.clone()),
        ..config(addr, "ann")
    };
    let (again, _events) = Client::connect(resumed).await.unwrap();
    assert_eq!(again.session_token(), Some(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connects_with_the_servers_certificate_and_says_what_to_do_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, cert) = chat_testkit::tls_server(dir.path(), &[]).await;
    let server_url = format!("https://localhost:{}", server.addrs.native.port());
    let trusting = ClientConfig {
        ca_cert: Some(std::fs::read(&cert).unwrap()),
        ..config(&server_url, "ann")
    };
    let (ann, mut events) = Client::connect(trusting).await.unwrap();
    wait_for(&mut events, |event| {
        matches!(event, ClientEvent::Connection(Connection::Online)).then_some(())
    })
    .await;
    ann.send("general", "over TLS").await.unwrap();
    assert_eq!(next_message(&mut events).await.text, "over TLS");

    let untrusting = Client::connect(config(&server_url, "bob"))
        .await
        .err()
        .unwrap();
    let untrusting = untrusting.to_string();
    assert!(
        untrusting.starts_with("the server's certificate is not trusted")
            && untrusting.contains("--ca-cert")
            && !untrusting.contains("UnknownIssuer"),
        "{untrusting}"
    );
    let plaintext = Client::connect(config(server.addrs.native, "carl"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        plaintext.to_string(),
        format!(
            "the server at {0} closed the connection at once: if it serves TLS, use \
             https://{0} (or --tls)",
            server.addrs.native
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_port_or_scheme_is_said_once_with_what_to_do() {
    let server = TestServer::start(&[]).await;
    let said = |server: String| async move {
        Client::connect(config(server, "ann"))
            .await
            .err()
            .expect("refused")
            .to_string()
    };
    assert_eq!(
        said(server.addrs.classic.to_string()).await,
        format!(
            "the server at {} does not speak chat's protocol: it may be one of chatd's other \
             ports (classic, lobby); its native port is 7070 unless set",
            server.addrs.classic
        )
    );
    let native = server.addrs.native;
    assert_eq!(
        said(format!("https://{native}")).await,
        format!("the server at {native} does not speak TLS: use http://{native}")
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(
        said(closed.to_string()).await,
        format!(
            "nothing answers at {closed} (connection refused): is chatd running there, and is \
             that its native port (7070 unless set)?"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_given_several_nodes_moves_to_another_when_its_node_goes() {
    let postgres = chat_testkit::postgres::Postgres::start().await;
    let database = postgres.new_database("failover").await;
    let broker = chat_testkit::nats::Nats::start().await;
    let nats = broker.url();
    let flags = [
        "--database-url",
        database.as_str(),
        "--nats-url",
        nats.as_str(),
        "--admin-socket",
        "off",
    ];
    let a = TestServer::start(&flags).await;
    let b = TestServer::start(&flags).await;
    let both = format!("{},{}", a.addrs.native, b.addrs.native);
    let (ann, mut events) = Client::connect(config(both, "ann")).await.unwrap();
    let (bob, _bob_events) = Client::connect(config(b.addrs.native, "bob"))
        .await
        .unwrap();
    for i in 0..5 {
        bob.send("general", &format!("m{i}")).await.unwrap();
    }
    for i in 0..5 {
        assert_eq!(next_message(&mut events).await.text, format!("m{i}"));
    }

    // ann's node goes; what is said meanwhile reaches ann on the other
    // node, once each, in order.
    a.stop().await.unwrap();
    for i in 5..10 {
        bob.send("general", &format!("m{i}")).await.unwrap();
    }
    for i in 5..10 {
        assert_eq!(next_message(&mut events).await.text, format!("m{i}"));
    }
    let sent = ann.send("general", "from ann, on b").await.unwrap();
    assert_eq!(sent.seq, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_uploads_and_sends_a_file_and_a_reader_fetches_it_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (server, cert) = chat_testkit::tls_server(dir.path(), &[]).await;
    let server_url = format!("https://localhost:{}", server.addrs.native.port());
    let trusting = |name: &str, password: &str| ClientConfig {
        ca_cert: Some(std::fs::read(&cert).unwrap()),
        password: password.into(),
        register: !password.is_empty(),
        ..config(&server_url, name)
    };
    let (ann, _ann_events) = Client::connect(trusting("ann", "a long password"))
        .await
        .unwrap();
    let (bob, mut bob_events) = Client::connect(trusting("bob", "")).await.unwrap();
    online(&mut bob_events).await;

    let bytes = "the list, 안녕\n".repeat(1000).into_bytes();
    let file = ann.upload("list.txt", bytes.clone()).await.unwrap();
    assert_eq!(
        (file.name.as_str(), file.size),
        ("list.txt", bytes.len() as u64)
    );
    assert_eq!(file.label(), "[list.txt, 17.0 kB]");
    ann.send_files("general", "", None, vec![file.id.clone()])
        .await
        .unwrap();
    let got = next_message(&mut bob_events).await;
    assert_eq!(got.files.len(), 1);
    assert_eq!(bob.fetch(&got.files[0].url).await.unwrap(), bytes);
    assert!(
        bob.full_url(&got.files[0].url)
            .starts_with(&format!("{server_url}/files/"))
    );

    // A guest does not upload, and is told why.
    let refused = bob.upload("x.txt", b"x".to_vec()).await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Refused { code: chat_client::Code::PermissionDenied, message } if message.contains("register")),
        "{refused:?}"
    );
}
