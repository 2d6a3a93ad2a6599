//! Hostile clients against a real `chatd` process over loopback TCP. Each
//! attack is bounded in count and time; each test asserts a memory bound
//! (resident memory from /proc), that a well-behaved client is served
//! meanwhile, and what the attacker gets.
//!
//! Attackers connect from 127.0.0.2 and up, the well-behaved clients from
//! 127.0.0.1, so per-address limits tell them apart.

mod common;

use std::time::Duration;

use chat_proto::chat::v1::GetHistoryRequest;
use chat_proto::classic::Empty;
use chat_testkit::hostile::{self, H2Attacker, Reading, attacker_ip};
use common::native::{NativeUser, next_message};
use common::*;

/// A chatd whose room `general` holds `notes` notes of 4,000 bytes.
async fn chatd_with_history(notes: usize, flags: &[&str]) -> ChatdProcess {
    let mut all = vec!["--max-sends-per-second", "1000000"];
    all.extend_from_slice(flags);
    let chatd = ChatdProcess::spawn(&all, &[]).await;
    let body = "x".repeat(3990);
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let classic = chatd.classic;
            let body = body.clone();
            tokio::spawn(async move {
                let mut client = classic_client(classic).await;
                for i in (s..notes).step_by(4) {
                    send(&mut client, "filler", &format!("{i:08} {body}"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    chatd
}

/// A native user in `general` sends a message and reads it back on its
/// event stream, and reads a page of history: the server serves it.
async fn assert_served(chatd: &ChatdProcess, name: &str) {
    let mut user = NativeUser::login(chatd.native, name).await;
    user.join("general").await;
    let mut events = user.subscribe(&[]).await;
    let sent = user.send("general", "still served?").await;
    let got = next_message(&mut events).await;
    assert_eq!((got.seq, got.text.as_str()), (sent.seq, "still served?"));
    let page = user.history("general", None, 5).await;
    assert_eq!(page.messages.last().map(|m| m.seq), Some(sent.seq));
}

/// Growth of the server's peak memory over `baseline_kib`, in MiB.
fn growth_mib(chatd: &ChatdProcess, baseline_kib: u64) -> u64 {
    chatd.peak_rss_kib().saturating_sub(baseline_kib) / 1024
}

/// Sends `calls` of `path` on each of `connections` attacker connections,
/// none of them read.
async fn unread_calls(
    chatd: &ChatdProcess,
    reading: Reading,
    connections: usize,
    calls: usize,
    path: &str,
    message: &impl prost::Message,
    token: Option<&str>,
) -> Vec<H2Attacker> {
    let mut attackers = Vec::new();
    for _ in 0..connections {
        let mut attacker = H2Attacker::connect(attacker_ip(0), chatd.native_or(path), reading)
            .await
            .expect("attacker connects");
        for _ in 0..calls {
            attacker
                .call(path, message, token)
                .await
                .expect("call sent");
        }
        attackers.push(attacker);
    }
    attackers
}

trait PortFor {
    /// The port that serves `path`.
    fn native_or(&self, path: &str) -> std::net::SocketAddr;
}

impl PortFor for ChatdProcess {
    fn native_or(&self, path: &str) -> std::net::SocketAddr {
        if path.starts_with("/grpc.ChatServer/") {
            self.classic
        } else {
            self.native
        }
    }
}

async fn history_replies_never_read(reading: Reading) {
    const CONNECTIONS: usize = 4;
    const CALLS: usize = 200; // the server's default stream limit
    let chatd = chatd_with_history(1000, &[]).await;
    let attacker = NativeUser::login(chatd.native, "attacker").await;
    let baseline_kib = chatd.rss_kib();

    // Each reply could be 500 x 4 KB = 2 MB: 1.6 GB in all if held.
    let request = GetHistoryRequest {
        room: "general".into(),
        position: None,
        limit: 500,
    };
    let attackers = unread_calls(
        &chatd,
        reading,
        CONNECTIONS,
        CALLS,
        "/chat.v1.ChatService/GetHistory",
        &request,
        Some(&attacker.token),
    )
    .await;
    eprintln!(
        "DEBUG after calls rss {} peak {} base {}",
        chatd.rss_kib(),
        chatd.peak_rss_kib(),
        baseline_kib
    );
    assert_served(&chatd, "bystander").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    eprintln!(
        "DEBUG after 1s rss {} peak {}",
        chatd.rss_kib(),
        chatd.peak_rss_kib()
    );

    let growth = growth_mib(&chatd, baseline_kib);
    assert!(
        growth < 64,
        "{reading:?}: memory grew by {growth} MiB for {} unread history replies",
        CONNECTIONS * CALLS
    );
    assert!(attackers.iter().all(H2Attacker::is_open));
    drop(attackers);
    assert_served(&chatd, "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_replies_a_client_never_takes_are_held_within_a_budget() {
    history_replies_never_read(Reading::NoWindow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_replies_to_a_client_that_stops_reading_its_socket_are_held_within_a_budget() {
    history_replies_never_read(Reading::NoSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_streams_never_read_are_held_within_a_budget() {
    const CONNECTIONS: usize = 4;
    const CALLS: usize = 200;
    let chatd = chatd_with_history(1000, &[]).await;
    let baseline_kib = chatd.rss_kib();

    // Each stream replays 1,000 notes of 4 KB.
    let attackers = unread_calls(
        &chatd,
        Reading::NoSocket,
        CONNECTIONS,
        CALLS,
        "/grpc.ChatServer/ChatStream",
        &Empty {},
        None,
    )
    .await;
    assert_served(&chatd, "bystander").await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let growth = growth_mib(&chatd, baseline_kib);
    assert!(
        growth < 64,
        "memory grew by {growth} MiB for {} unread replaying streams",
        CONNECTIONS * CALLS
    );
    drop(attackers);
    assert_served(&chatd, "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_may_open_only_so_many_streams() {
    let chatd = ChatdProcess::spawn(&["--max-streams-per-connection", "7"], &[]).await;
    let attacker = H2Attacker::connect(attacker_ip(0), chatd.classic, Reading::NoWindow)
        .await
        .unwrap();
    assert_eq!(attacker.max_streams().await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_each_address_holds_only_so_many() {
    let chatd = ChatdProcess::spawn(
        &[
            "--max-connections-per-address",
            "16",
            "--handshake-timeout",
            "1s",
        ],
        &[],
    )
    .await;
    let mut idle = hostile::idle_connections(attacker_ip(0), chatd.native, 40).await;
    assert_eq!(idle.len(), 40, "the kernel takes them all");
    // Past the address's 16, each is closed as it arrives, unserved.
    for tcp in &mut idle[16..] {
        assert_eq!(hostile::wait_closed_by_server(tcp).await, 0);
    }
    // The rest are served (the server's HTTP/2 settings arrive) until they
    // fail to start HTTP/2 in time.
    assert_served(&chatd, "bystander").await;
    for tcp in &mut idle[..16] {
        assert!(hostile::wait_closed_by_server(tcp).await > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_backs_off_and_recovers() {
    // 300 descriptors, and a connection limit above what they allow, so
    // accept itself runs out.
    let chatd = ChatdProcess::spawn_with_open_files(
        &["--max-connections", "100000", "--handshake-timeout", "60s"],
        &[],
        Some(300),
    )
    .await;
    // A client connected before the attack.
    let mut early = NativeUser::login(chatd.native, "early").await;
    early.join("general").await;
    let mut events = early.subscribe(&[]).await;

    let mut held = Vec::new();
    for n in 0..4 {
        held.extend(hostile::idle_connections(attacker_ip(n), chatd.native, 100).await);
    }
    assert!(chatd.open_files() >= 290, "descriptors were not exhausted");
    let cpu_before = chatd.cpu_seconds();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = chatd.cpu_seconds() - cpu_before;
    // A spinning accept loop burns a whole core: about 3 s here.
    assert!(
        cpu < 1.5,
        "chatd used {cpu:.2} s of CPU in 3 s while out of descriptors"
    );
    // The connected client is still served.
    let sent = early.send("general", "during").await;
    assert_eq!(next_message(&mut events).await.seq, sent.seq);

    drop(held);
    // New connections are served again as soon as the idle ones are gone.
    assert_served(&chatd, "late").await;
}
