//! A short run of each benchmark against a chatd on loopback, so the
//! benchmarks keep working. These check that figures come out, not what
//! they are: benchmarks are programs, not tests with time bounds.

use chat_testkit::TestServer;

async fn bench(args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-bench"))
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "chat-bench {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The `chatd` to start: the one `cargo test --workspace` builds next to
/// chat-bench.
fn chatd() -> String {
    let chatd = std::path::Path::new(env!("CARGO_BIN_EXE_chat-bench")).with_file_name("chatd");
    assert!(chatd.exists(), "no {}: build it first", chatd.display());
    chatd.to_str().expect("a UTF-8 path").to_owned()
}

/// The figure after `label` on its line.
fn figure(output: &str, label: &str) -> f64 {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} figure in:\n{output}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reports_deliveries_and_latency_for_both_protocols() {
    let server =
        TestServer::start(&["--max-sends-per-second", "1000000", "--history-replay", "0"]).await;
    for (protocol, addr) in [("classic", server.classic), ("native", server.addrs.native)] {
        let addr = addr.to_string();
        let output = bench(
            &[
                &["fanout", "--protocol", protocol, "--server", &addr],
                SMALL_LOAD,
            ]
            .concat(),
        )
        .await;
        assert_fanout_figures(&output, &output);
    }
}

/// A fan-out load of a second.
const SMALL_LOAD: &[&str] = &[
    "-s",
    "20",
    "-c",
    "2",
    "-p",
    "1",
    "--duration",
    "1s",
    "--warmup",
    "300ms",
];

/// That `part` of a fan-out's `output` has its figures.
fn assert_fanout_figures(part: &str, output: &str) {
    assert!(figure(part, "delivered") > 0.0, "{output}");
    assert!(part.contains("latency       p50"), "{output}");
    assert!(part.contains("send          p50"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_beside_redis_measures_the_same_load_on_both_servers() {
    let chatd = chatd();
    let load = [
        "fanout",
        "--beside-redis",
        "--chatd",
        &chatd,
        "--rate",
        "50",
    ];
    let output = bench(&[&load, SMALL_LOAD].concat()).await;
    let (chatd_part, redis_part) = output
        .split_once("Redis protocol: 20 subscribers / 20 connections")
        .unwrap_or_else(|| panic!("no Redis run in:\n{output}"));
    for part in [chatd_part, redis_part] {
        assert_fanout_figures(part, &output);
    }
    assert!(chatd_part.contains("  chatd "), "{output}");
    assert!(redis_part.contains("  redis-server "), "{output}");
}

/// The bare HTTP/2 relay answers the classic load, the raw readers' too,
/// and shows its CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_measures_the_bare_http2_floor() {
    let load = [
        "fanout",
        "--protocol",
        "bare-h2",
        "--rate",
        "50",
        "--raw-readers",
        "2",
    ];
    let output = bench(&[&load, SMALL_LOAD].concat()).await;
    assert_fanout_figures(&output, &output);
    assert!(output.contains("raw h2 check  p50"), "{output}");
    assert!(figure(&output, "per delivery") > 0.0, "{output}");
    assert!(output.contains("of bare h2's CPU"), "{output}");
}

#[tokio::test]
async fn idle_holds_subscribers_and_store_measures_both_stores() {
    let server = TestServer::start(&[]).await;
    let output = bench(&[
        "idle",
        "--server",
        &server.classic.to_string(),
        "-s",
        "200",
        "-c",
        "4",
        "--hold",
        "100ms",
    ])
    .await;
    assert!(
        output.starts_with("200 idle classic subscribers"),
        "{output}"
    );

    let output = bench(&["store", "--senders", "1,4", "--duration", "300ms"]).await;
    assert_eq!(
        output.lines().filter(|l| l.starts_with("sqlite")).count(),
        2,
        "{output}"
    );
}

#[tokio::test]
async fn login_times_guests_and_accounts() {
    let server = TestServer::start(&["--max-logins-per-second", "1000"]).await;
    let addr = server.addrs.native.to_string();
    let output = bench(&["login", "--server", &addr, "-n", "4", "-c", "2"]).await;
    for kind in [
        "guest (no password)",
        "account (Argon2id check)",
        "account, 2 at once",
    ] {
        assert!(timed(&output, kind), "{output}");
    }
}

/// Whether `output` has a line of timings for `kind`.
fn timed(output: &str, kind: &str) -> bool {
    output
        .lines()
        .any(|line| line.trim().starts_with(kind) && line.contains("p99"))
}

#[tokio::test]
async fn handshake_times_plaintext_and_tls_connections() {
    let chatd = chatd();
    let output = bench(&["handshake", "-n", "5", "--chatd", &chatd]).await;
    for kind in ["plaintext", "TLS 1.3"] {
        assert!(timed(&output, kind), "{output}");
    }
}

#[tokio::test]
async fn rooms_times_moderation_listing_subscribing_and_direct_conversations() {
    let chatd = chatd();
    let output = bench(&["rooms", "--rooms", "40", "-n", "5", "--chatd", &chatd]).await;
    for kind in [
        "CreateRoom",
        "ModerateRoom (mute, unmute)",
        "ListRooms, 100, as the outsider",
        "ListRooms, 100, as the owner",
        "Subscribe, to the first invitation",
        "OpenDirect (found among them)",
    ] {
        assert!(timed(&output, kind), "{output}");
    }
}

#[tokio::test]
async fn changes_times_sends_edits_reactions_and_deletions() {
    let chatd = chatd();
    let output = bench(&["changes", "-n", "6", "--readers", "2", "--chatd", &chatd]).await;
    for kind in [
        "SendMessage",
        "EditMessage",
        "React (put, take back)",
        "DeleteMessage",
    ] {
        assert!(timed(&output, kind), "{output}");
    }
}

#[tokio::test]
async fn files_times_uploads_photos_and_fetches() {
    let chatd = chatd();
    let output = bench(&[
        "files", "-n", "4", "--bytes", "10000", "--photos", "1", "--chatd", &chatd,
    ])
    .await;
    for kind in [
        "upload 0.0 MiB, 1 at once",
        "upload 0.0 MiB, 4 at once",
        "fetch 0.0 MiB, 4 at once",
    ] {
        assert!(timed(&output, kind), "{output}");
    }
    assert!(output.contains("photo (JPEG)"), "{output}");
}
