//! `chat --plain` end to end: the real binary, fed on standard input,
//! against a real chatd, with a library client on the other side.

use std::process::Stdio;
use std::time::Duration;

use chat_client::{Client, ClientConfig, ClientEvent};
use chat_testkit::{PATIENCE, TestServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStderr, ChildStdout, Command};

fn chat(server: &TestServer, name: &str) -> Command {
    chat_with(server, name, &[])
}

fn chat_with(server: &TestServer, name: &str, flags: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat"));
    command
        .args([
            "--plain",
            "--server",
            &server.addrs.native.to_string(),
            "--name",
            name,
        ])
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn line_containing<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut Lines<R>,
    wanted: &str,
) -> String {
    let found = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(wanted) {
                return line;
            }
        }
        panic!("output ended before a line with {wanted:?}");
    });
    found
        .await
        .unwrap_or_else(|_| panic!("no line with {wanted:?}"))
}

/// Registers account `name` with a library client and saves its session
/// token to a file, which `chat --password --token-file FILE` logs in
/// with (no terminal to ask a password on). Returns the client too.
async fn account(server: &TestServer, name: &str, dir: &std::path::Path) -> (Client, String) {
    let config = ClientConfig {
        password: "correct horse".into(),
        register: true,
        ..ClientConfig::new(server.addrs.native.to_string(), name)
    };
    let (client, _events) = Client::connect(config).await.unwrap();
    let file = dir.join(format!("{name}.token"));
    std::fs::write(&file, client.session_token().unwrap()).unwrap();
    (client, file.to_str().unwrap().to_owned())
}

/// `chat --plain` logged in to account `name` with the token in
/// `token_file`, and its standard input, output and error.
fn spawn_logged_in(
    server: &TestServer,
    name: &str,
    token_file: &str,
) -> (
    tokio::process::Child,
    tokio::process::ChildStdin,
    Lines<BufReader<ChildStdout>>,
    Lines<BufReader<ChildStderr>>,
) {
    let mut chat = chat_with(server, name, &["--password", "--token-file", token_file])
        .spawn()
        .unwrap();
    let stdin = chat.stdin.take().unwrap();
    let out = BufReader::new(chat.stdout.take().unwrap()).lines();
    let err = BufReader::new(chat.stderr.take().unwrap()).lines();
    (chat, stdin, out, err)
}

async fn bob(server: &TestServer) -> (Client, tokio::sync::mpsc::Receiver<ClientEvent>) {
    let config = ClientConfig {
        rooms: vec!["general".into()],
        ..ClientConfig::new(server.addrs.native.to_string(), "bob")
    };
    Client::connect(config).await.unwrap()
}

/// The next event that `pick` takes, skipping others.
async fn next_event<T>(
    events: &mut tokio::sync::mpsc::Receiver<ClientEvent>,
    pick: impl Fn(ClientEvent) -> Option<T>,
) -> T {
    loop {
        let event = tokio::time::timeout(PATIENCE, events.recv())
            .await
            .unwrap()
            .unwrap();
        if let Some(picked) = pick(event) {
            return picked;
        }
    }
}

/// The next message someone other than Bob sent, as Bob sees it.
async fn next_text(events: &mut tokio::sync::mpsc::Receiver<ClientEvent>) -> (String, String) {
    next_event(events, |event| match event {
        ClientEvent::Message(m) if m.sender != "bob" => Some((m.sender, m.text)),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_chats_runs_commands_and_quits() {
    let server = TestServer::start(&[]).await;
    let (bob, mut bob_events) = bob(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, token_file) = account(&server, "ann", dir.path()).await;
    let (mut ann, mut stdin, mut out, mut err) = spawn_logged_in(&server, "ann", &token_file);

    line_containing(&mut out, "* in #general with 2 member(s)").await;
    let hello = bob.send("general", "hello ann 👋").await.unwrap().seq;

    let shown = line_containing(&mut out, "bob:").await;
    assert!(shown.ends_with("#general bob: hello ann 👋"), "{shown}");
    assert!(shown.starts_with('['), "a time comes first: {shown}");

    stdin.write_all("안녕 bob\n".as_bytes()).await.unwrap();
    assert_eq!(
        next_text(&mut bob_events).await,
        ("ann".into(), "안녕 bob".into())
    );

    // /reply answers the newest message of someone else: bob's, not the
    // line ann sent after it.
    stdin.write_all(b"/reply and to you\n").await.unwrap();
    let reply = next_event(&mut bob_events, |event| match event {
        ClientEvent::Message(m) if m.sender == "ann" => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(
        (reply.text.as_str(), reply.reply_to),
        ("and to you", Some(hello))
    );

    stdin.write_all(b"/dance\n").await.unwrap();
    let error = line_containing(&mut err, "unknown command").await;
    assert_eq!(error, "! unknown command /dance; /help lists the commands");

    stdin.write_all(b"/make dev\n/who\n").await.unwrap();
    line_containing(&mut out, "* created #dev").await;
    line_containing(&mut out, "* now in #dev").await;
    assert_eq!(
        line_containing(&mut out, "* in #dev:").await,
        "* in #dev: ~ann"
    );
    stdin.write_all(b"/list\n").await.unwrap();
    let list = line_containing(&mut out, "* rooms:").await;
    assert_eq!(list, "* rooms: #dev (1), #general (2), #lobby (0)");

    stdin.write_all(b"/quit\n").await.unwrap();
    let status = tokio::time::timeout(PATIENCE, ann.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    // Gone: an account keeps its rooms, offline once the server sees its
    // connection close (quitting keeps the session, so this is not at once).
    let offline = tokio::time::timeout(PATIENCE, async {
        loop {
            let members = bob.list_members("general").await.unwrap();
            let ann = members.iter().find(|m| m.name == "ann").expect("ann kept");
            if !ann.online {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    offline.await.expect("ann still online after quitting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_sends_piped_lines_and_exits_at_the_end_of_input() {
    let server = TestServer::start(&[]).await;
    let (_bob, mut bob_events) = bob(&server).await;
    let mut ann = chat(&server, "ann").spawn().unwrap();
    let mut stdin = ann.stdin.take().unwrap();
    stdin
        .write_all(b"first\nsecond\n\n//slash\n")
        .await
        .unwrap();
    drop(stdin);
    for expected in ["first", "second", "/slash"] {
        assert_eq!(
            next_text(&mut bob_events).await,
            ("ann".into(), expected.into())
        );
    }
    let status = tokio::time::timeout(PATIENCE, ann.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_name_in_use_or_no_server_is_a_clear_error() {
    let server = TestServer::start(&[]).await;
    let _bob = bob(&server).await;
    let output = chat(&server, "bob").output().await.unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "chat: the name `bob` is in use by a user who is logged in, or was a moment ago (a name is kept about 10 s for its user to come back); choose another, or try again shortly"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chat"))
        .args(["--plain", "--server", &closed.to_string(), "--name", "ann"])
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .unwrap()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "chat: nothing answers at {closed} (connection refused)"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_marks_classic_senders_and_indents_later_lines() {
    let server = TestServer::start(&[]).await;
    let (bob, _bob_events) = bob(&server).await;
    let mut ann = chat(&server, "ann").spawn().unwrap();
    let mut out: Lines<BufReader<ChildStdout>> = BufReader::new(ann.stdout.take().unwrap()).lines();
    line_containing(&mut out, "* in #general with 2 member(s)").await;

    // A classic client, with no login, is marked as such.
    let mut classic = server.classic_client().await;
    chat_testkit::send(&mut classic, "carol", "from classic")
        .await
        .unwrap();
    let shown = line_containing(&mut out, "from classic").await;
    assert!(
        shown.ends_with("#general carol (classic): from classic"),
        "{shown}"
    );

    // A message's later lines cannot pass for events of their own.
    bob.send(
        "general",
        "hi\n[09:00] #general admin: give me your password",
    )
    .await
    .unwrap();
    let first = line_containing(&mut out, "bob:").await;
    assert!(first.ends_with("#general bob: hi"), "{first}");
    let next = out.next_line().await.unwrap().unwrap();
    assert_eq!(next, "    [09:00] #general admin: give me your password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_moderates_and_sends_direct_messages() {
    let server = TestServer::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, token_file) = account(&server, "ann", dir.path()).await;
    let (carl, _) = account(&server, "carl", dir.path()).await;
    let (bob, mut bob_events) = bob(&server).await;
    let (_ann, mut stdin, mut out, mut err) = spawn_logged_in(&server, "ann", &token_file);
    line_containing(&mut out, "* in #general").await;

    stdin
        .write_all(b"/make dev\n/topic Rust, mostly\n")
        .await
        .unwrap();
    line_containing(&mut out, "* now in #dev").await;
    line_containing(&mut out, "* #dev: ann set the topic: Rust, mostly").await;
    bob.join_room("dev").await.unwrap();
    line_containing(&mut out, "* bob joined #dev").await;
    stdin.write_all(b"/mute bob\n").await.unwrap();
    line_containing(&mut out, "* #dev: ann muted bob").await;
    let refused = bob.send("dev", "hello?").await.unwrap_err();
    assert!(refused.to_string().contains("muted"), "{refused}");
    stdin.write_all(b"/kick bob\n").await.unwrap();
    line_containing(&mut out, "* #dev: ann kicked bob").await;
    let reason = next_event(&mut bob_events, |event| match event {
        ClientEvent::RoomLeft { room, reason } if room == "dev" => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, "kicked by ann");
    bob.join_room("dev").await.unwrap();
    stdin.write_all(b"/ban bob\n/bans\n").await.unwrap();
    line_containing(&mut out, "* #dev: ann banned bob").await;
    assert_eq!(
        line_containing(&mut out, "* banned from").await,
        "* banned from #dev: bob"
    );
    assert!(
        bob.join_room("dev").await.is_err(),
        "a banned guest came back"
    );
    stdin.write_all(b"/op bob\n").await.unwrap();
    let error = line_containing(&mut err, "bob").await;
    assert!(error.starts_with("! "), "{error}");

    // A private room: bob is invited and told so.
    stdin
        .write_all(b"/private ops\n/invite bob\n")
        .await
        .unwrap();
    line_containing(&mut out, "* created private room #ops").await;
    line_containing(&mut out, "* #ops: ann invited bob").await;
    let by = next_event(&mut bob_events, |event| match event {
        ClientEvent::Invited { room, by } if room == "ops" => Some(by),
        _ => None,
    })
    .await;
    assert_eq!(by, "ann");

    // A direct message goes to carl's direct conversation with ann.
    stdin
        .write_all(b"/msg carl just between us\n")
        .await
        .unwrap();
    let shown = line_containing(&mut out, "just between us").await;
    assert!(shown.contains(" ann: just between us"), "{shown}");
    // Named by the other account, not by the room's internal name.
    assert!(shown.contains("] @carl ann:"), "{shown}");
    let rooms = carl.list_rooms().await.unwrap();
    let direct = rooms
        .iter()
        .find(|room| room.direct)
        .expect("carl's direct room");
    assert_eq!(direct.peer, "ann");
    let history = carl.history(&direct.name, None, 10).await.unwrap();
    assert_eq!(history.messages[0].text, "just between us");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_keeps_an_accounts_saved_session_and_ends_quietly() {
    let server = TestServer::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, token_file) = account(&server, "ann", dir.path()).await;
    // The end of input, then /quit: each time the saved token logs in again.
    for last_line in ["", "/quit\n"] {
        let (mut ann, mut stdin, mut out, mut err) = spawn_logged_in(&server, "ann", &token_file);
        line_containing(&mut out, "in #general").await;
        stdin.write_all(last_line.as_bytes()).await.unwrap();
        drop(stdin);
        let status = tokio::time::timeout(PATIENCE, ann.wait())
            .await
            .expect("chat --plain did not finish")
            .unwrap();
        assert!(status.success(), "{status}");
        let mut said = Vec::new();
        while let Some(line) = err.next_line().await.unwrap() {
            said.push(line);
        }
        assert!(
            !said.iter().any(|line| line.starts_with('!')),
            "a normal end reported trouble: {said:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_says_that_it_talks_to_the_lobby_and_does() {
    let server = TestServer::start(&[]).await;
    let mut chat = chat_with(&server, "lee", &[]).spawn().unwrap();
    let mut stdin = chat.stdin.take().unwrap();
    let mut out = BufReader::new(chat.stdout.take().unwrap()).lines();
    line_containing(&mut out, "in #general").await;
    stdin.write_all(b"/all hello lobby\n").await.unwrap();
    // The message and what /all says come in either order.
    let (mut said, mut sent) = (None, false);
    tokio::time::timeout(PATIENCE, async {
        while said.is_none() || !sent {
            let line = out.next_line().await.unwrap().expect("output ended");
            if line.contains("/all talks to #lobby") {
                said = Some(line);
            } else if line.contains("#lobby lee: hello lobby") {
                sent = true;
            }
        }
    })
    .await
    .expect("/all said nothing of the lobby, or sent nothing there");
    let said = said.unwrap();
    assert!(said.contains("/leave lobby"), "{said}");
}
