//! Hostile clients against a real `chatd` process over loopback TCP. Each
//! attack is bounded in count and time; each test asserts a memory bound
//! (resident memory from /proc), that a well-behaved client is served
//! meanwhile, and what the attacker gets.
//!
//! Attackers connect from 127.0.0.2 and up, the well-behaved clients from
//! 127.0.0.1, so per-address limits tell them apart.

mod common;

// Holes a security review found, one attack a test.
#[path = "hostile/files.rs"]
mod files;
#[path = "hostile/legacy.rs"]
mod legacy;
#[path = "hostile/rooms.rs"]
mod rooms;
#[path = "hostile/web_headers.rs"]
mod web_headers;

use std::time::Duration;

use chat_proto::chat::v1::GetHistoryRequest;
use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::classic::Empty;
use chat_testkit::hostile::{self, H2Attacker, Reading, attacker_ip};
use common::native::{NativeUser, next_event, next_message};
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

/// While `attackers` keep up their attack, a bystander is served and the
/// server's peak memory grew less than 64 MiB over `baseline_kib`; once
/// they leave, it serves again.
async fn assert_attack_bounded(
    chatd: &ChatdProcess,
    baseline_kib: u64,
    attackers: Vec<H2Attacker>,
    what: &str,
) {
    assert_served(chatd, "bystander").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let growth = growth_mib(chatd, baseline_kib);
    assert!(growth < 64, "memory grew by {growth} MiB for {what}");
    assert!(
        attackers.iter().all(H2Attacker::is_open),
        "the server closed an attacker's connection"
    );
    drop(attackers);
    assert_served(chatd, "after").await;
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
    let what = format!(
        "{} unread history replies ({reading:?})",
        CONNECTIONS * CALLS
    );
    assert_attack_bounded(&chatd, baseline_kib, attackers, &what).await;
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
    classic_streams_never_read(Reading::NoSocket, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_streams_replaying_from_the_store_never_read_are_held_within_a_budget() {
    // Only the newest 64 notes in memory: the replay comes from the
    // database, each stream reading copies of its own.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let flags = ["--recent-window", "64", "--data-dir", data_dir];
    classic_streams_never_read(Reading::NoWindow, &flags).await;
}

async fn classic_streams_never_read(reading: Reading, flags: &[&str]) {
    const CONNECTIONS: usize = 4;
    const CALLS: usize = 200;
    let chatd = chatd_with_history(1000, flags).await;
    let baseline_kib = chatd.rss_kib();

    // Each stream replays 1,000 notes of 4 KB.
    let attackers = unread_calls(
        &chatd,
        reading,
        CONNECTIONS,
        CALLS,
        "/grpc.ChatServer/ChatStream",
        &Empty {},
        None,
    )
    .await;
    let what = format!(
        "{} unread replaying streams ({flags:?})",
        CONNECTIONS * CALLS
    );
    assert_attack_bounded(&chatd, baseline_kib, attackers, &what).await;
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
            "3s",
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
    // The rest are held (on the native port with the web client on, the
    // server waits to see HTTP/1.1 or HTTP/2 before it says anything)
    // until they fail to start HTTP in time.
    for tcp in &idle[..16] {
        let mut byte = [0u8; 1];
        let open = matches!(tcp.try_read(&mut byte), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock);
        assert!(open, "an admitted connection was closed at once");
    }
    assert_served(&chatd, "bystander").await;
    for tcp in &mut idle[..16] {
        hostile::wait_closed_by_server(tcp).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_backs_off_and_recovers() {
    // 300 descriptors, and a connection limit above what they allow, so
    // accept itself runs out.
    let chatd = ChatdProcess::spawn_with(
        &["--max-connections", "100000", "--handshake-timeout", "60s"],
        &[],
        ChildSetup {
            open_files: Some(300),
            ..ChildSetup::default()
        },
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_never_read_hold_little_and_end_when_they_fall_behind() {
    const READERS: usize = 150;
    let chatd = ChatdProcess::spawn(
        &[
            "--rooms-created-per-hour",
            "100000",
            "--max-rooms-created-per-user",
            "100000",
            // Each test user has a connection of its own.
            "--max-connections-per-address",
            "1000",
        ],
        &[],
    )
    .await;
    // Sessions in `general` whose event streams are never read: their
    // windows are small, so the server soon has to hold what they miss.
    let mut stalled = Vec::new();
    for i in 0..READERS {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", chatd.native))
            .unwrap()
            .initial_stream_window_size(Some(1024))
            .initial_connection_window_size(Some(1024))
            .connect()
            .await
            .unwrap();
        let mut client = chat_proto::chat::v1::chat_service_client::ChatServiceClient::new(channel);
        let login = client
            .login(chat_proto::chat::v1::LoginRequest {
                name: format!("stalled{i}"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut user = NativeUser {
            name: login.name,
            token: login.session_token,
            client,
        };
        user.join("general").await;
        let events = user.subscribe(&[]).await;
        stalled.push((user, events));
    }
    let baseline_kib = chatd.rss_kib();

    // Another user comes and goes (presence and membership churn in
    // their room) and creates more rooms than a stream's backlog holds.
    let mut churner = NativeUser::account(chatd.native, "churner").await;
    churner.join("general").await;
    for round in 0..100 {
        let events = churner.subscribe(&[]).await;
        drop(events);
        churner.leave("general").await;
        churner.join("general").await;
        churner.create(&format!("flood-{round}")).await;
        churner.leave(&format!("flood-{round}")).await;
    }
    for round in 100..400 {
        churner.create(&format!("flood-{round}")).await;
        churner.leave(&format!("flood-{round}")).await;
    }
    assert_served(&chatd, "bystander").await;
    let growth = growth_mib(&chatd, baseline_kib);
    assert!(
        growth < 48,
        "memory grew by {growth} MiB for {READERS} unread event streams"
    );

    // A stalled stream, read at last: what it had, then a clear status.
    let (_, events) = &mut stalled[0];
    let status = loop {
        match tokio::time::timeout(PATIENCE, events.message())
            .await
            .expect("the stalled stream hung")
        {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the stream ended without saying it fell behind"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("fell behind"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_flood_is_refused_and_rooms_are_cheap() {
    const ROOMS: usize = 3000;
    let chatd = ChatdProcess::spawn(&["--max-rooms", "3002"], &[]).await;
    // One user may create 20 rooms an hour.
    let mut flooder = NativeUser::account(chatd.native, "flooder").await;
    for i in 0..20 {
        flooder.create(&format!("mine-{i}")).await;
    }
    let refused = flooder
        .try_create("one-too-many", false)
        .await
        .expect_err("a 21st room in an hour");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused.message().contains("at most 20 an hour"),
        "{refused:?}"
    );

    // Many users fill the server up to its limit; each idle room is small.
    // Their accounts are made first: the password hashing's memory (kept
    // by the allocator) is not the rooms'.
    let mut creators = Vec::new();
    for user in 0..(ROOMS - 20).div_ceil(20) {
        creators.push(NativeUser::account(chatd.native, &format!("maker{user}")).await);
    }
    let mut last = NativeUser::account(chatd.native, "last").await;
    let baseline_kib = chatd.rss_kib();
    let mut created = 20;
    for creator in &mut creators {
        for _ in 0..20.min(ROOMS - created) {
            creator.create(&format!("room-{created}")).await;
            created += 1;
        }
    }
    let per_room = (chatd.rss_kib().saturating_sub(baseline_kib) * 1024) / (ROOMS as u64 - 20);
    assert!(per_room < 4096, "an idle room costs {per_room} bytes");
    let full = last
        .try_create("no-room", false)
        .await
        .expect_err("past the server's limit");
    assert_eq!(full.code(), tonic::Code::ResourceExhausted);
    assert!(full.message().contains("limit of 3002 rooms"), "{full:?}");

    // Every room is listed once, in order, page by page.
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = last
            .client
            .list_rooms(last.req(chat_proto::chat::v1::ListRoomsRequest {
                page_size: 1000,
                page_token: token,
            }))
            .await
            .unwrap()
            .into_inner();
        names.extend(page.rooms.into_iter().map(|room| room.name));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(names.len(), 3002);
    assert!(names.windows(2).all(|pair| pair[0] < pair[1]));
    assert_served(&chatd, "bystander").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_history_reads_at_once_use_a_fixed_pool() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let chatd = ChatdProcess::spawn(&["--data-dir", data_dir], &[]).await;
    let mut user = NativeUser::login(chatd.native, "reader").await;
    user.join("general").await;
    user.send("general", "one").await;
    let files_before = chatd.open_files();

    // 40 connections x 100 concurrent reads.
    let mut readers = Vec::new();
    for _ in 0..40 {
        let client = chat_proto::chat::v1::chat_service_client::ChatServiceClient::new(
            connect(chatd.native).await,
        );
        for _ in 0..100 {
            let mut client = client.clone();
            let request = user.req(GetHistoryRequest {
                room: "general".into(),
                position: None,
                limit: 1,
            });
            readers.push(tokio::spawn(
                async move { client.get_history(request).await },
            ));
        }
    }
    let peak_files = chatd.open_files();
    for reader in readers {
        let page = reader.await.unwrap().expect("GetHistory").into_inner();
        assert_eq!(page.messages.len(), 1);
    }
    let files_after = chatd.open_files();
    // The 40 connections, and nothing per read.
    assert!(
        files_after <= files_before + 40 + 8 && peak_files <= files_before + 40 + 8,
        "open files: {files_before} before, {peak_files} during, {files_after} after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_retried_after_a_restart_is_not_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let first = {
        let chatd = ChatdProcess::spawn(&["--data-dir", data_dir], &[]).await;
        let mut ann = NativeUser::login(chatd.native, "ann").await;
        ann.join("general").await;
        ann.try_send("general", "only once", "ONCE-1")
            .await
            .unwrap()
        // Killed here, as by a crash.
    };
    let chatd = ChatdProcess::spawn(&["--data-dir", data_dir], &[]).await;
    let mut ann = NativeUser::login(chatd.native, "ann").await;
    ann.join("general").await;
    let retried = ann
        .try_send("general", "only once", "ONCE-1")
        .await
        .unwrap();
    assert_eq!(retried.seq, first.seq);
    let next = ann.try_send("general", "another", "ONCE-2").await.unwrap();
    assert_eq!(next.seq, first.seq + 1);
    let history = ann.history("general", None, 10).await;
    assert_eq!(history.messages.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_can_pass_for_a_logged_in_user() {
    let chatd = ChatdProcess::spawn(&[], &[]).await;
    let mut alice = NativeUser::login(chatd.native, "alice").await;
    alice.join("general").await;
    let mut events = alice.subscribe(&[]).await;
    for (name, code) in [
        ("ALICE", tonic::Code::AlreadyExists),
        ("\u{0430}lice", tonic::Code::AlreadyExists),
        ("ａｌｉｃｅ", tonic::Code::AlreadyExists),
        ("alice\u{200b}", tonic::Code::InvalidArgument),
        (" alice", tonic::Code::InvalidArgument),
        ("al\u{200d}ice", tonic::Code::InvalidArgument),
        ("alice\u{202e}", tonic::Code::InvalidArgument),
        ("\u{feff}alice", tonic::Code::InvalidArgument),
        ("bell\u{7}", tonic::Code::InvalidArgument),
    ] {
        let refused = NativeUser::try_login(chatd.native, name)
            .await
            .err()
            .unwrap_or_else(|| panic!("logged in as {name:?}"));
        assert_eq!(refused.code(), code, "{name:?}: {refused:?}");
    }

    // Classic senders may not use her name, or one like it.
    let mut classic = classic_client(chatd.classic).await;
    for name in ["alice", "Alice", "\u{0430}lice"] {
        let refused = send(&mut classic, name, "it's me").await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::AlreadyExists, "{name:?}");
        assert!(refused.message().contains("logged in"), "{refused:?}");
    }
    // A free name is fine, and native users see where it came from.
    send(&mut classic, "bob", "hi from classic").await.unwrap();
    let note = next_message(&mut events).await;
    assert_eq!(note.sender, "bob");
    assert_eq!(
        note.origin(),
        chat_proto::chat::v1::Origin::Classic,
        "{note:?}"
    );
    let own = alice.send("general", "hi from native").await;
    assert_eq!(own.origin(), chat_proto::chat::v1::Origin::Native);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_on_every_protocol() {
    let chatd = ChatdProcess::spawn(&[], &[]).await;
    let mut ann = NativeUser::login(chatd.native, "ann").await;
    ann.join("general").await;
    let mut classic = classic_client(chatd.classic).await;
    let mut lobby = common::lobby::LobbyUser::login(chatd.agent()).await;
    for text in [
        "\u{1b}[2J",
        "\u{1b}]0;x\u{7}",
        "fake\r[09:00] admin: hi",
        "\u{202e}txet",
    ] {
        let native = ann.try_send("general", text, "").await.unwrap_err();
        assert_eq!(native.code(), tonic::Code::InvalidArgument, "{text:?}");
        assert!(native.message().contains("control"), "{native:?}");
        let note = send(&mut classic, "bob", text).await.unwrap_err();
        assert_eq!(note.code(), tonic::Code::InvalidArgument, "{text:?}");
        let chat = lobby
            .lobby
            .try_chat_send(common::lobby::chat(lobby.index, text))
            .await
            .unwrap_err();
        assert_eq!(chat.code(), tonic::Code::InvalidArgument, "{text:?}");
    }
    let name = send(&mut classic, "evil\u{1b}[2J", "hi").await.unwrap_err();
    assert_eq!(name.code(), tonic::Code::InvalidArgument);
    // Newlines and tabs are text.
    let sent = ann.send("general", "two\nlines\tand a tab").await;
    assert_eq!(sent.text, "two\nlines\tand a tab");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_senders_and_logins_are_held_to_a_rate_per_address() {
    let chatd = ChatdProcess::spawn(
        &[
            "--max-legacy-sends-per-second",
            "5",
            "--max-logins-per-second",
            "5",
        ],
        &[],
    )
    .await;
    let mut flooder = chat_proto::classic::chat_server_client::ChatServerClient::new(
        connect_from(attacker_ip(0), chatd.classic).await,
    );
    let mut refused = None;
    for i in 0..50 {
        if let Err(status) = send(&mut flooder, "flood", &i.to_string()).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("50 notes at once were all taken");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(refused.message().contains("at most 5 messages a second"));
    // Another address is not held up.
    let mut other = classic_client(chatd.classic).await;
    send(&mut other, "calm", "hello").await.unwrap();

    // Logins from one address are held to their rate too.
    let mut logins = chat_proto::chat::v1::chat_service_client::ChatServiceClient::new(
        connect_from(attacker_ip(0), chatd.native).await,
    );
    let mut refused = None;
    for i in 0..50 {
        let login = chat_proto::chat::v1::LoginRequest {
            name: format!("guest{i}"),
            ..Default::default()
        };
        if let Err(status) = logins.login(login).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("50 logins at once were all taken");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(refused.message().contains("at most 5 logins a second"));
    NativeUser::login(chatd.native, "calm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_coming_online_cost_each_member_an_event_or_two() {
    const USERS: usize = 300;
    // Each test user has a connection of its own.
    let chatd = ChatdProcess::spawn(&["--max-connections-per-address", "1000"], &[]).await;
    let mut observer = NativeUser::login(chatd.native, "observer").await;
    observer.join("general").await;
    let mut events = observer.subscribe(&[]).await;
    let Kind::RoomJoined(_) = next_event(&mut events).await else {
        panic!("a stream starts with its rooms");
    };
    // Read as they come, so what is measured is the server's events, not
    // how much a stream left unread may hold.
    let seen = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            match next_event(&mut events).await {
                Kind::Message(message) if message.text == "done" => return seen,
                event => seen.push(event),
            }
        }
    });
    let mut arrivals = Vec::new();
    for i in 0..USERS {
        let mut user = NativeUser::login(chatd.native, &format!("arrival{i}")).await;
        user.join("general").await;
        let mut stream = user.subscribe(&[]).await;
        // Each arrival gets one member list, its room's.
        let Kind::RoomJoined(joined) = next_event(&mut stream).await else {
            panic!("no member list");
        };
        assert_eq!(joined.members.len(), i + 2);
        arrivals.push((user, stream));
    }
    // Someone sends, so the observer knows it has seen every arrival.
    observer.send("general", "done").await;
    let seen = seen.await.unwrap();
    let joins = seen
        .iter()
        .filter(|e| matches!(e, Kind::MemberJoined(_)))
        .count();
    let presence = seen
        .iter()
        .filter(|e| matches!(e, Kind::Presence(_)))
        .count();
    assert_eq!(joins, USERS, "one join per arrival");
    assert!(
        presence <= USERS,
        "{presence} presence events for {USERS} arrivals"
    );
    assert!(
        !seen.iter().any(|e| matches!(e, Kind::RoomJoined(_))),
        "the observer was sent a member list again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_is_never_held_up_by_its_reply_budget() {
    const MESSAGES: usize = 3000;
    // The smallest budget: what a reader is charged must all come back,
    // or it runs out long before these messages are through.
    let chatd = ChatdProcess::spawn(
        &[
            "--max-unsent-bytes-per-connection",
            "16384",
            "--max-sends-per-second",
            "1000000",
        ],
        &[],
    )
    .await;
    let mut reader = NativeUser::login(chatd.native, "reader").await;
    reader.join("general").await;
    let mut events = reader.subscribe(&[]).await;
    let mut classic = classic_client(chatd.classic).await;
    let mut notes = chat_stream(&mut classic).await;
    let mut sender = NativeUser::login(chatd.native, "sender").await;
    sender.join("general").await;
    for i in 0..MESSAGES {
        sender.send("general", &format!("message {i}")).await;
    }
    for i in 0..MESSAGES {
        let message = next_message(&mut events).await;
        assert_eq!(message.text, format!("message {i}"));
    }
    let texts: Vec<String> = read_notes(&mut notes, MESSAGES)
        .await
        .into_iter()
        .map(|note| note.message)
        .collect();
    assert_eq!(texts.last().map(String::as_str), Some("message 2999"));
}
