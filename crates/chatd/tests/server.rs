//! The server as a whole: discovery by generic gRPC tools, and shutdown.

mod common;

use common::native::{NativeUser, next_message};
use common::*;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test]
async fn health_reports_the_classic_service_serving() {
    let server = TestServer::start(&[]).await;
    let mut health = HealthClient::new(connect(server.classic).await);
    let reply = health
        .check(HealthCheckRequest {
            service: "grpc.ChatServer".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.status(), ServingStatus::Serving);
}

#[tokio::test]
async fn health_goes_not_serving_as_shutdown_begins() {
    let server = TestServer::start(&[]).await;
    let mut health = HealthClient::new(connect(server.addrs.native).await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "chat.v1.ChatService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().expect("a status");
    assert_eq!(first.status(), ServingStatus::Serving);
    // Stopping waits for open streams, this one among them.
    let stopping = tokio::spawn(server.stop());
    let next = tokio::time::timeout(PATIENCE, watch.message())
        .await
        .expect("told before the stream ends")
        .unwrap()
        .expect("a status");
    assert_eq!(next.status(), ServingStatus::NotServing);
    drop(watch);
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn reflection_lists_the_classic_service() {
    let server = TestServer::start(&[]).await;
    let mut reflection = ServerReflectionClient::new(connect(server.classic).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().expect("a reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reply {reply:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"grpc.ChatServer".to_owned()), "{names:?}");
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly() {
    let server = TestServer::start(&[]).await;
    let mut client = server.classic_client().await;
    let mut stream = chat_stream(&mut client).await;
    send(&mut client, "ann", "before shutdown").await.unwrap();
    assert_eq!(
        read_notes(&mut stream, 1).await,
        [note("ann", "before shutdown")]
    );
    let mut minji = NativeUser::account(server.addrs.native, "민지").await;
    minji.create("lounge").await;
    let mut events = minji.subscribe(&[]).await;
    minji.send("lounge", "before shutdown").await;
    assert_eq!(next_message(&mut events).await.text, "before shutdown");

    let stopped = tokio::spawn(server.stop());
    // Both streams end with an OK status, not a reset, and drain first.
    assert_eq!(stream.message().await.expect("clean end"), None);
    let drained = tokio::time::timeout(PATIENCE, async {
        while let Some(event) = events.message().await.expect("clean end") {
            assert!(
                !matches!(
                    event.event,
                    Some(chat_proto::chat::v1::event::Event::Message(_))
                ),
                "no message was left to read: {event:?}"
            );
        }
    });
    drained.await.expect("the event stream ended at shutdown");
    stopped.await.unwrap().expect("server stopped cleanly");
}

#[tokio::test]
async fn the_binary_stops_cleanly_on_sigterm() {
    let mut chatd = ChatdProcess::spawn(&[], &[]).await;
    let mut client = classic_client(chatd.classic).await;
    let mut stream = chat_stream(&mut client).await;
    send(&mut client, "ann", "hello").await.unwrap();
    read_notes(&mut stream, 1).await;

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &chatd.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(stream.message().await.expect("clean end"), None);
    let exit = tokio::time::timeout(PATIENCE, chatd.child.wait())
        .await
        .expect("chatd did not exit")
        .unwrap();
    assert!(exit.success(), "chatd exited with {exit}");
}

#[tokio::test]
async fn the_binary_refuses_a_busy_port_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(LOOPBACK)
        .args(["--in-memory", "--classic-addr", &addr])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen for the classic protocol on {addr}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_listen_address_may_name_its_host() {
    let flags = [
        "--native-addr",
        "localhost:0",
        "--classic-addr",
        "localhost:0",
    ];
    let chatd = ChatdProcess::spawn(&flags, &[]).await;
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    assert_eq!(
        (chatd.native.ip(), chatd.classic.ip()),
        (loopback, loopback)
    );
    let mut ann = NativeUser::login(chatd.native, "ann").await;
    ann.join("general").await;
}

#[tokio::test]
async fn busy_ports_are_all_named_in_one_message_without_a_backtrace() {
    let native = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let classic = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let native = native.local_addr().unwrap().to_string();
    let classic = classic.local_addr().unwrap().to_string();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(LOOPBACK)
        .args([
            "--in-memory",
            "--native-addr",
            &native,
            "--classic-addr",
            &classic,
        ])
        .env("RUST_BACKTRACE", "1")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for said in [
        format!("cannot listen for the native protocol on {native}"),
        format!("cannot listen for the classic protocol on {classic}"),
        "most often another chatd".to_owned(),
    ] {
        assert!(stderr.contains(&said), "{said:?} not in {stderr}");
    }
    assert_eq!(
        stderr.matches("most often another chatd").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_event_fields() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(LOOPBACK)
        .args(["--in-memory", "--log-format", "json"])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = tokio::time::timeout(PATIENCE, async {
        loop {
            let line = lines.next_line().await.unwrap().expect("chatd exited");
            let event: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            for field in ["timestamp", "level", "target", "message"] {
                assert!(event.get(field).is_some(), "no {field}: {line}");
            }
            if event["message"] == "native protocol listening" {
                return event;
            }
        }
    })
    .await
    .expect("chatd said where it listens");
    assert_eq!(listening["level"], "INFO");
    let addr = listening["addr"].as_str().expect("the address as a field");
    assert!(addr.parse::<std::net::SocketAddr>().is_ok(), "{addr}");
}
