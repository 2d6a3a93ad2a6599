//! History kept in SQLite across restarts and crashes, and the errors a
//! bad data directory gives.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chat_proto::chat::v1::get_history_request::Position;
use common::native::NativeUser;
use common::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_numbering_and_rooms_come_back_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    {
        let server = TestServer::start(&["--data-dir", dir]).await;
        let mut classic = server.classic_client().await;
        for i in 1..=3 {
            send(&mut classic, "지민", &format!("note {i}"))
                .await
                .unwrap();
        }
        let mut ann = NativeUser::account(server.addrs.native, "ann").await;
        ann.create("dev").await;
        ann.send("dev", "kept in dev").await;
        server.stop().await.unwrap();
    }
    let server = TestServer::start(&["--data-dir", dir]).await;
    // Classic clients get the history first, as before the restart.
    let mut classic = server.classic_client().await;
    let mut stream = chat_stream(&mut classic).await;
    let replay: Vec<String> = read_notes(&mut stream, 3)
        .await
        .into_iter()
        .map(|n| n.message)
        .collect();
    assert_eq!(replay, ["note 1", "note 2", "note 3"]);
    // Numbering carries on; the room made before the restart is there.
    let mut bob = NativeUser::login(server.addrs.native, "bob").await;
    bob.join("general").await;
    assert_eq!(bob.send("general", "after").await.seq, 4);
    let rooms = bob.rooms().await;
    assert!(
        rooms.iter().any(|r| r.name == "dev" && r.last_seq == 1),
        "{rooms:?}"
    );
    let history = bob.history("dev", None, 10).await;
    assert_eq!(history.messages[0].text, "kept in dev");
    assert_eq!(history.messages[0].sender, "ann");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_note_survives_a_kill_in_the_middle_of_sending() {
    const SENDERS: usize = 4;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let mut chatd =
        ChatdProcess::spawn(&["--data-dir", dir, "--log", "warn,chatd=info"], &[]).await;
    let acked = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (addr, acked) = (chatd.classic, Arc::clone(&acked));
            tokio::spawn(async move {
                let mut client = classic_client(addr).await;
                let mut confirmed = 0;
                // Full speed until the server dies under us.
                while send(&mut client, &format!("sender-{s}"), &confirmed.to_string())
                    .await
                    .is_ok()
                {
                    confirmed += 1;
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                confirmed
            })
        })
        .collect();
    wait_until(
        || acked.load(Ordering::Relaxed) >= 2000,
        || "2000 acknowledged sends".into(),
    )
    .await;
    chatd.child.start_kill().unwrap();
    chatd.child.wait().await.unwrap();
    let mut confirmed = Vec::new();
    for sender in senders {
        confirmed.push(sender.await.unwrap());
    }

    let chatd = ChatdProcess::spawn(&["--data-dir", dir, "--log", "warn,chatd=info"], &[]).await;
    let mut reader = NativeUser::login(chatd.native, "reader").await;
    let mut history = Vec::new();
    loop {
        let after = history
            .last()
            .map_or(0, |m: &chat_proto::chat::v1::Message| m.seq);
        let page = reader
            .history("general", Some(Position::AfterSeq(after)), 500)
            .await;
        history.extend(page.messages);
        if !page.has_more {
            break;
        }
    }
    // One unbroken numbering, nothing doubled.
    let seqs: Vec<u64> = history.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=history.len() as u64).collect::<Vec<_>>());
    for (s, &confirmed) in confirmed.iter().enumerate() {
        let sent: Vec<usize> = history
            .iter()
            .filter(|m| m.sender == format!("sender-{s}"))
            .map(|m| m.text.parse().unwrap())
            .collect();
        // Every acknowledged note, in order; at most one more whose
        // acknowledgement the kill cut off.
        assert!(
            sent.len() == confirmed || sent.len() == confirmed + 1,
            "sender {s}: {} stored, {confirmed} acknowledged",
            sent.len()
        );
        assert_eq!(
            sent,
            (0..sent.len()).collect::<Vec<_>>(),
            "sender {s} has gaps or doubles"
        );
    }
    eprintln!(
        "{} notes acknowledged before the kill, {} stored",
        confirmed.iter().sum::<usize>(),
        history.len()
    );
}

#[tokio::test]
async fn a_full_database_fails_sends_with_unavailable_and_the_server_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = TestServer::start(&["--data-dir", dir, "--max-db-bytes", "300000"]).await;
    let mut client = server.classic_client().await;
    let note = "x".repeat(4000);
    let mut sent = 0;
    let status = loop {
        match send(&mut client, "ann", &note).await {
            Ok(()) => sent += 1,
            Err(status) => break status,
        }
        assert!(sent < 1000, "a 300 KB database took 4 MB");
    };
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("full"), "{}", status.message());
    // Reading goes on: a new stream replays what was stored.
    let mut stream = chat_stream(&mut client).await;
    assert_eq!(read_notes(&mut stream, sent).await.len(), sent);
}

#[tokio::test]
async fn a_bad_data_directory_stops_chatd_with_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let corrupt = data.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    std::fs::write(corrupt.join("chat.db"), vec![7u8; 4096]).unwrap();
    for (dir, expected) in [
        (&file, "cannot use the data directory"),
        (&corrupt, "not a usable database"),
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
            .args(LOOPBACK)
            .arg("--data-dir")
            .arg(dir)
            .output()
            .await
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
