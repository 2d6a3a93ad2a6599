//! Running `chatd` for others: Prometheus metrics scraped over HTTP during
//! a real chat, the configuration file (every key, bad files, flags and
//! environment over it), SIGHUP changing limits and the TLS certificate
//! live, and what log lines say about clients.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::metrics::Scrape;
use common::native::{NativeUser, next_message};
use common::*;
use tonic::Code;

async fn scrape(server: &TestServer) -> Scrape {
    Scrape::of(server.addrs.metrics.expect("metrics served")).await
}

/// Scrapes `server` until `holds` of a scrape, failing the test after
/// [`PATIENCE`]; returns that scrape.
async fn scrape_until(server: &TestServer, what: &str, holds: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = scrape(server).await;
        if holds(&now) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_move_as_a_real_chat_goes_on() {
    let server = TestServer::start(&["--metrics-addr", "127.0.0.1:0"]).await;
    let native = server.addrs.native;
    let before = scrape(&server).await;
    for series in [
        r#"chatd_connections_open{protocol="native"}"#,
        r#"chatd_streams_open{protocol="classic"}"#,
        r#"chatd_messages_accepted_total{protocol="lobby"}"#,
        r#"chatd_limits_hit_total{limit="sends_per_user"}"#,
        r#"chatd_login_failures_total{code="unauthenticated"}"#,
        r#"chatd_users_online{kind="guest"}"#,
        "chatd_rooms_open",
        "chatd_deliveries_total",
        "chatd_store_commit_seconds_count",
    ] {
        assert!(before.has(series), "no {series} before any client came");
    }
    assert_eq!(before.get(r#"chatd_users_online{kind="guest"}"#), 0.0);
    assert_eq!(
        before.get(r#"chatd_messages_accepted_total{protocol="native"}"#),
        0.0
    );
    for name in before.0.keys() {
        assert!(name.starts_with("chatd_"), "{name} lacks the chatd_ prefix");
    }

    let mut ann = NativeUser::login(native, "ann").await;
    let mut bob = NativeUser::login(native, "bob").await;
    ann.join("general").await;
    bob.join("general").await;
    let mut ann_events = ann.subscribe(&[]).await;
    for n in 0..3 {
        bob.send("general", &format!("hello {n}")).await;
    }
    for _ in 0..3 {
        next_message(&mut ann_events).await;
    }
    let too_long = "x".repeat(5000);
    let refused = bob.try_send("general", &too_long, "").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    send(
        &mut server.classic_client().await,
        "cleo",
        "hi from classic",
    )
    .await
    .unwrap();
    let wrong = NativeUser::try_login_with(native, "ann-account", "not the password").await;
    assert!(wrong.is_err());

    let during = scrape(&server).await;
    for (series, value) in [
        (r#"chatd_messages_accepted_total{protocol="native"}"#, 3.0),
        (r#"chatd_messages_accepted_total{protocol="classic"}"#, 1.0),
        (
            r#"chatd_messages_refused_total{protocol="native",code="invalid_argument"}"#,
            1.0,
        ),
        (r#"chatd_send_seconds_count{protocol="native"}"#, 3.0),
        (r#"chatd_login_failures_total{code="unauthenticated"}"#, 1.0),
    ] {
        assert_eq!(during.get(series), value, "{series}");
    }
    // Online is having an event stream open: ann has, bob only logged in.
    assert_eq!(during.get(r#"chatd_users_online{kind="guest"}"#), 1.0);
    assert_eq!(during.get(r#"chatd_users_online{kind="account"}"#), 0.0);
    assert!(during.get("chatd_messages_stored_total") >= 4.0);
    assert!(during.get("chatd_store_commit_seconds_count") >= 1.0);
    // Ann's stream had bob's three, at least.
    assert!(during.get("chatd_deliveries_total") >= 3.0);
    assert!(during.get(r#"chatd_connections_open{protocol="native"}"#) >= 2.0);
    assert!(during.get(r#"chatd_streams_open{protocol="native"}"#) >= 1.0);
    assert!(during.get("chatd_rooms_open") >= 1.0);
    scrape_until(&server, "a timed store health check", |now| {
        now.get(r#"chatd_health_check_seconds_count{check="store"}"#) >= 1.0
    })
    .await;

    drop(ann_events);
    drop((ann, bob));
    scrape_until(&server, "connections and streams counted closed", |now| {
        now.get(r#"chatd_connections_open{protocol="native"}"#) == 0.0
            && now.get(r#"chatd_streams_open{protocol="native"}"#) == 0.0
    })
    .await;
}

#[tokio::test]
async fn metrics_count_the_limits_clients_hit() {
    let server = TestServer::start(&[
        "--metrics-addr",
        "127.0.0.1:0",
        "--max-sends-per-second",
        "1",
        "--max-connections-per-address",
        "2",
    ])
    .await;
    let mut ann = NativeUser::login(server.addrs.native, "ann").await;
    ann.join("general").await;
    ann.send("general", "one").await;
    let refused = ann.try_send("general", "two", "").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    // Ann holds one connection; one more is allowed, the next refused.
    let mut extra = Vec::new();
    for _ in 0..2 {
        extra.push(
            tokio::net::TcpStream::connect(server.addrs.native)
                .await
                .unwrap(),
        );
    }
    let now = scrape_until(&server, "a connection refusal counted", |now| {
        now.get(r#"chatd_limits_hit_total{limit="connections_per_address"}"#) == 1.0
    })
    .await;
    for (series, value) in [
        (r#"chatd_limits_hit_total{limit="sends_per_user"}"#, 1.0),
        (
            r#"chatd_messages_refused_total{protocol="native",code="resource_exhausted"}"#,
            1.0,
        ),
        (r#"chatd_limits_hit_total{limit="connections"}"#, 0.0),
    ] {
        assert_eq!(now.get(series), value, "{series}");
    }
}

/// Writes `text` to `chatd.toml` in `dir`.
fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("chatd.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `chatd ARGS config`: its exit status, standard output and error.
async fn chatd_config(args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(args)
        .arg("config")
        .env_clear()
        .envs(envs.iter().copied())
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `key = value` lines of a configuration file, by key.
fn keys_of(file: &str) -> HashMap<String, String> {
    file.lines()
        .filter_map(|line| line.trim_start_matches("# ").split_once(" ="))
        .map(|(key, value)| (key.to_owned(), value.trim().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_config_file_can_set_every_key_and_flags_and_environment_beat_it() {
    let (ok, defaults, stderr) = chatd_config(&[], &[]).await;
    assert!(ok, "{stderr}");
    let defaults = keys_of(&defaults);
    assert!(defaults.len() >= 45, "{defaults:?}");

    // A value other than the default for every key.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let chosen: Vec<(&str, String)> = vec![
        ("admin-socket", r#""off""#.into()),
        ("advertised-host", r#""chat.example""#.into()),
        ("agent-addr", r#""127.0.0.1:1001""#.into()),
        ("channel-ports", r#""2001-2003""#.into()),
        ("classic-addr", r#""off""#.into()),
        ("classic-replay-delay", r#""1s""#.into()),
        ("classic-room", r#""lounge""#.into()),
        ("data-dir", r#""/var/lib/chatd""#.into()),
        ("database-url", r#""postgres://chat@db/chat""#.into()),
        ("file-quota-bytes", "5000000".into()),
        ("guest-uploads", "true".into()),
        ("handshake-timeout", r#""3s""#.into()),
        ("heartbeat-addr", r#""127.0.0.1:1002""#.into()),
        ("heartbeat-interval", r#""2s""#.into()),
        ("heartbeat-timeout", r#""4s""#.into()),
        ("history-replay", "10".into()),
        ("in-memory", "false".into()),
        ("keepalive-interval", r#""30s""#.into()),
        ("keepalive-timeout", r#""15s""#.into()),
        ("legacy-guests", "true".into()),
        ("lobby-addr", r#""127.0.0.1:1003""#.into()),
        ("log", r#""chatd=debug""#.into()),
        ("log-format", r#""json""#.into()),
        ("max-channels-per-address", "3".into()),
        ("max-connections", "5000".into()),
        ("max-connections-per-address", "16".into()),
        ("max-db-bytes", "1000000000".into()),
        ("max-file-bytes", "1000000".into()),
        ("max-legacy-sends-per-second", "5".into()),
        ("max-logins-per-second", "3".into()),
        ("max-message-bytes", "2048".into()),
        ("max-name-chars", "32".into()),
        ("max-reactions", "12".into()),
        ("max-reactions-per-user", "4".into()),
        ("max-rooms", "500".into()),
        ("max-rooms-created-per-user", "7".into()),
        ("max-rooms-per-user", "9".into()),
        ("max-sends-per-second", "11".into()),
        ("max-streams-per-connection", "50".into()),
        ("max-unsent-bytes-per-connection", "65536".into()),
        ("metrics-addr", r#""127.0.0.1:9100""#.into()),
        ("native-addr", r#""127.0.0.1:1004""#.into()),
        ("nats-url", r#""nats://broker:4222""#.into()),
        ("presence-grace", r#""20s""#.into()),
        ("public-url", r#""https://chat.example""#.into()),
        ("recent-window", "512".into()),
        ("require-accounts", "true".into()),
        ("retain-age", r#""forever""#.into()),
        ("retain-messages", "1000".into()),
        ("rooms-created-per-hour", "3".into()),
        ("session-ttl", r#""7days""#.into()),
        ("shutdown-grace", r#""1s""#.into()),
        ("tls-cert", format!("{:?}", cert.to_str().unwrap())),
        ("tls-key", format!("{:?}", key.to_str().unwrap())),
        ("unsent-file-grace", r#""10m""#.into()),
        ("web", r#""off""#.into()),
    ];
    let mut listed: Vec<&str> = chosen.iter().map(|(key, _)| *key).collect();
    listed.sort_unstable();
    let mut every: Vec<&str> = defaults.keys().map(String::as_str).collect();
    every.sort_unstable();
    assert_eq!(
        listed, every,
        "the test sets every key `chatd config` lists"
    );
    let file: String = chosen
        .iter()
        .map(|(key, value)| format!("{key} = {value}\n"))
        .collect();
    let path = write_config(dir.path(), &file);

    let (ok, effective, stderr) = chatd_config(&["--config", &path], &[]).await;
    assert!(ok, "{stderr}");
    let effective = keys_of(&effective);
    for (key, value) in &chosen {
        // `in-memory = false` is the default: the file may set it anyway.
        assert_eq!(effective.get(*key), Some(value), "{key}");
    }

    // A flag beats the environment, which beats the file.
    let (ok, effective, stderr) = chatd_config(
        &["--config", &path, "--max-rooms", "42"],
        &[
            ("CHATD_MAX_ROOMS", "41"),
            ("CHATD_MAX_SENDS_PER_SECOND", "13"),
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let effective = keys_of(&effective);
    assert_eq!(effective["max-rooms"], "42");
    assert_eq!(effective["max-sends-per-second"], "13");
    assert_eq!(effective["max-rooms-per-user"], "9");
}

#[tokio::test]
async fn a_bad_config_file_is_refused_naming_its_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (file, says) in [
        (
            "max-rooms = 5\n\nmax-roms = 3\n",
            ":3: unknown setting `max-roms`",
        ),
        (
            "# limits\nmax-rooms = \"many\"\n",
            ":2: `max-rooms`: invalid value 'many'",
        ),
        (
            "keepalive-interval = \"0s\"\n",
            ":1: `keepalive-interval`: invalid value '0s'",
        ),
        (
            "in-memory = \"yes\"\n",
            ":1: `in-memory` is a switch: true or false",
        ),
        (
            "native-addr = [\"127.0.0.1:1\"]\n",
            ":1: `native-addr` takes a string or a number",
        ),
        ("web = on\n", ":1:"),
        ("config = \"other.toml\"\n", ":1: unknown setting `config`"),
    ] {
        let path = write_config(dir.path(), file);
        let (ok, _, stderr) = chatd_config(&["--config", &path], &[]).await;
        assert!(!ok, "{file:?} was taken");
        assert!(
            stderr.starts_with(&format!("chatd: {path}{says}")),
            "{file:?}: {stderr}"
        );
    }
    let (ok, _, stderr) = chatd_config(&["--config", "/nonexistent/chatd.toml"], &[]).await;
    assert!(!ok);
    assert!(
        stderr.contains("cannot read the configuration file /nonexistent/chatd.toml"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sighup_changes_a_limit_live_and_names_what_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "max-sends-per-second = 1\n");
    let mut chatd = ChatdProcess::spawn(&["--config", &path], &[]).await;
    let mut ann = NativeUser::login(chatd.native, "ann").await;
    ann.join("general").await;
    ann.send("general", "first").await;
    let refused = ann.try_send("general", "second", "").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");

    write_config(dir.path(), "max-sends-per-second = 1000\n");
    hang_up(&chatd);
    let changed = chatd.wait_for_log("setting changed").await;
    assert!(
        changed.contains(r#"setting="max-sends-per-second" from="1" to="1000""#),
        "{changed}"
    );
    chatd.wait_for_log("configuration reloaded changed=1").await;
    for n in 0..10 {
        ann.send("general", &format!("fast {n}")).await;
    }

    // A bad file changes nothing, and chatd goes on.
    write_config(dir.path(), "max-sends-per-second = \"lots\"\n");
    hang_up(&chatd);
    let error = chatd.wait_for_log("configuration not reloaded").await;
    assert!(error.contains("max-sends-per-second"), "{error}");
    for n in 0..10 {
        ann.send("general", &format!("still fast {n}")).await;
    }
}

#[tokio::test]
async fn a_restart_only_setting_is_named_on_reload_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "max-rooms = 100\n");
    let mut chatd = ChatdProcess::spawn(&["--config", &path], &[]).await;
    write_config(dir.path(), "max-rooms = 200\n");
    hang_up(&chatd);
    let kept = chatd.wait_for_log("needs a restart").await;
    assert!(kept.contains("max-rooms") && kept.contains("200"), "{kept}");
    chatd.wait_for_log("configuration reloaded").await;
}

fn hang_up(chatd: &ChatdProcess) {
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &chatd.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn log_lines_about_a_client_name_its_protocol_and_address_and_never_its_password() {
    let mut chatd = ChatdProcess::spawn(&[], &[]).await;
    let password = "correct horse battery staple";
    NativeUser::register(chatd.native, "dora", password).await;
    let wrong = "not-dora's-password-7741";
    let refused = NativeUser::try_login_with(chatd.native, "dora", wrong)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let failed = chatd.wait_for_log("failed login").await;
    assert!(failed.contains(r#"protocol="native""#), "{failed}");
    assert!(failed.contains("client=127.0.0.1:"), "{failed}");
    assert!(
        failed.contains(r#"method="/chat.v1.ChatService/Login""#),
        "{failed}"
    );

    let mut classic = classic_client(chatd.classic).await;
    let long = "y".repeat(10_000);
    assert!(send(&mut classic, "eve", &long).await.is_err());
    // Enough time for any line about the calls above to be written.
    NativeUser::login(chatd.native, "flo").await;
    chatd.wait_for_log("guest logged in").await;
    let lines = chatd.log_so_far().join("\n");
    for secret in [password, wrong] {
        assert!(!lines.contains(secret), "a password in the log:\n{lines}");
    }
}

#[tokio::test]
async fn a_reload_serves_a_renewed_tls_certificate_to_new_connections() {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

    let dir = tempfile::tempdir().unwrap();
    let (server, first) = tls_server(dir.path(), &[]).await;
    let first_pem = std::fs::read(&first).unwrap();
    let trusting = |pem: Vec<u8>| {
        Endpoint::from_shared(format!("https://localhost:{}", server.addrs.native.port()))
            .unwrap()
            .tls_config(
                ClientTlsConfig::new()
                    .domain_name("localhost")
                    .ca_certificate(Certificate::from_pem(pem)),
            )
            .unwrap()
    };
    trusting(first_pem.clone())
        .connect()
        .await
        .expect("the first certificate is served");

    // Renewed in place, as certbot does.
    let (cert, key) = certificate(dir.path());
    let renewed_pem = std::fs::read(&cert).unwrap();
    assert_ne!(renewed_pem, first_pem);
    assert!(trusting(renewed_pem.clone()).connect().await.is_err());
    server.reload(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while trusting(renewed_pem.clone()).connect().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the renewed certificate is not served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
