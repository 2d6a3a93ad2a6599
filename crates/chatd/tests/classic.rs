//! The classic protocol over real loopback TCP: fan-out to many
//! subscribers, order, history, hang-ups, slow readers, bad input,
//! discovery and shutdown.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chat_proto::classic::Note;
use common::*;
use futures::future::join_all;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_subscribers_receive_every_note_in_one_order() {
    const SUBSCRIBERS: usize = 200;
    const CONNECTIONS: usize = 20;
    const SENDERS: usize = 4;
    const EACH: usize = 250;
    let server = TestServer::start(&[]).await;

    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        connections.push(server.classic_client().await);
    }
    let mut streams = Vec::new();
    for i in 0..SUBSCRIBERS {
        streams.push(chat_stream(&mut connections[i % CONNECTIONS].clone()).await);
    }
    server.wait_for_subscribers(SUBSCRIBERS).await;

    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move { read_notes(&mut stream, SENDERS * EACH).await })
        })
        .collect();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let mut client = connections[s].clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    send(
                        &mut client,
                        &format!("보낸이-{s}"),
                        &format!("{i} 안녕하세요 👋🏽 chat"),
                    )
                    .await
                    .expect("send");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let orders: Vec<Vec<Note>> = join_all(readers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    for (i, order) in orders.iter().enumerate() {
        assert_eq!(order, &orders[0], "subscriber {i} saw another order");
    }
    let mut per_sender: HashMap<&str, Vec<usize>> = HashMap::new();
    for note in &orders[0] {
        let (counter, rest) = note.message.split_once(' ').unwrap();
        assert_eq!(rest, "안녕하세요 👋🏽 chat", "text was altered");
        per_sender
            .entry(note.name.as_str())
            .or_default()
            .push(counter.parse().unwrap());
    }
    assert_eq!(per_sender.len(), SENDERS);
    for (sender, counters) in per_sender {
        assert_eq!(
            counters,
            (0..EACH).collect::<Vec<_>>(),
            "{sender}'s notes out of order"
        );
    }
}

#[tokio::test]
async fn the_sender_sees_its_own_note() {
    let server = TestServer::start(&[]).await;
    let mut client = server.classic_client().await;
    let mut stream = chat_stream(&mut client).await;
    server.wait_for_subscribers(1).await;
    send(&mut client, "민지", "제 메시지도 보여요? 🙂")
        .await
        .unwrap();
    assert_eq!(
        read_notes(&mut stream, 1).await,
        [note("민지", "제 메시지도 보여요? 🙂")]
    );
}

#[tokio::test]
async fn a_late_subscriber_gets_history_first_then_live_notes() {
    let server = TestServer::start(&[]).await;
    let mut client = server.classic_client().await;
    for i in 0..30 {
        send(&mut client, "early", &format!("old {i}"))
            .await
            .unwrap();
    }
    let mut stream = chat_stream(&mut client).await;
    let history = read_notes(&mut stream, 30).await;
    let expected: Vec<_> = (0..30)
        .map(|i| note("early", &format!("old {i}")))
        .collect();
    assert_eq!(history, expected);
    send(&mut client, "late", "new").await.unwrap();
    assert_eq!(read_notes(&mut stream, 1).await, [note("late", "new")]);
}

#[tokio::test]
async fn a_new_stream_holds_its_replay_back_for_the_seeds_own_client() {
    // The seed's Tk client reads before it has a widget to show notes in:
    // a replay that comes at once crashes it.
    let server = TestServer::start(&["--classic-replay-delay", "5s"]).await;
    let mut client = server.classic_client().await;
    send(&mut client, "early", "old").await.unwrap();
    let mut stream = chat_stream(&mut client).await;
    // Sent while the replay is held: it follows the replay, not lost.
    send(&mut client, "early", "during the wait").await.unwrap();
    let soon = tokio::time::timeout(Duration::from_secs(1), stream.message()).await;
    assert!(
        soon.is_err(),
        "a note came before the wait was over: {soon:?}"
    );
    let notes = read_notes(&mut stream, 2).await;
    assert_eq!(
        notes,
        [note("early", "old"), note("early", "during the wait")]
    );
}

#[tokio::test]
async fn history_replay_length_is_a_flag() {
    let server = TestServer::start(&["--history-replay", "5"]).await;
    let mut client = server.classic_client().await;
    for i in 0..12 {
        send(&mut client, "a", &i.to_string()).await.unwrap();
    }
    let mut stream = chat_stream(&mut client).await;
    let texts: Vec<_> = read_notes(&mut stream, 5)
        .await
        .into_iter()
        .map(|n| n.message)
        .collect();
    assert_eq!(texts, ["7", "8", "9", "10", "11"]);

    let server = TestServer::start(&["--history-replay", "0"]).await;
    let mut client = server.classic_client().await;
    send(&mut client, "a", "before").await.unwrap();
    let mut stream = chat_stream(&mut client).await;
    server.wait_for_subscribers(1).await;
    send(&mut client, "a", "after").await.unwrap();
    assert_eq!(read_notes(&mut stream, 1).await, [note("a", "after")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_hangups_do_not_disturb_others_and_leave_no_state() {
    const STAYING: usize = 20;
    const LEAVING: usize = 50;
    let server = TestServer::start(&[]).await;
    let mut sender = server.classic_client().await;
    let mut staying = Vec::new();
    for _ in 0..STAYING {
        staying.push(chat_stream(&mut server.classic_client().await).await);
    }

    // The leaving subscribers run on a runtime of their own, which is then
    // dropped mid-stream: their sockets close with no gRPC goodbye at all.
    let classic = server.classic;
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let (hang_up_tx, hang_up_rx) = std::sync::mpsc::channel::<()>();
    let leaver = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let streams = runtime.block_on(async {
            let mut streams = Vec::new();
            for _ in 0..LEAVING {
                let mut client = classic_client(classic).await;
                let mut stream = chat_stream(&mut client).await;
                // Read one note, so the stream is known to be live.
                read_notes(&mut stream, 1).await;
                streams.push((client, stream));
            }
            streams
        });
        opened_tx.send(()).unwrap();
        hang_up_rx.recv().unwrap();
        runtime.shutdown_background();
        drop(streams);
    });

    send(&mut sender, "s", "0").await.unwrap();
    opened_rx.recv().unwrap();
    server.wait_for_subscribers(STAYING + LEAVING).await;
    for i in 1..50 {
        send(&mut sender, "s", &i.to_string()).await.unwrap();
    }
    hang_up_tx.send(()).unwrap();
    leaver.join().unwrap();
    for i in 50..100 {
        send(&mut sender, "s", &i.to_string()).await.unwrap();
    }

    server.wait_for_subscribers(STAYING).await;
    for stream in &mut staying {
        let texts: Vec<String> = read_notes(stream, 100)
            .await
            .into_iter()
            .map(|n| n.message)
            .collect();
        assert_eq!(texts, (0..100).map(|i| i.to_string()).collect::<Vec<_>>());
    }
    drop(staying);
    server.wait_for_subscribers(0).await;
    assert_eq!(server.engine.room_names(), ["general", "lobby"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_does_not_stall_others_and_server_memory_stays_bounded() {
    const NOTES: usize = 20_000;
    const NOTE_BYTES: usize = 4000;
    const ACTIVE: usize = 3;
    const SENDERS: usize = SenderOrder::SENDERS;
    // History keeps 2,000 notes (8 MB): far less than the 80 MB sent. (Set
    // through the environment, so that path is covered too.)
    let chatd = ChatdProcess::spawn(
        &["--recent-window", "512", "--log", "warn,chatd=info"],
        &[("CHATD_RETAIN_MESSAGES", "2000")],
    )
    .await;

    let mut sender = classic_client(chatd.classic).await;
    let mut stalled_client = classic_client(chatd.classic).await;
    let mut stalled = chat_stream(&mut stalled_client).await;
    let mut active = Vec::new();
    for _ in 0..ACTIVE {
        active.push(chat_stream(&mut classic_client(chatd.classic).await).await);
    }
    send(&mut sender, "s", "warm-up").await.unwrap();
    read_notes(&mut stalled, 1).await;
    for stream in &mut active {
        read_notes(stream, 1).await;
    }
    let baseline_kib = chatd.rss_kib();

    let readers: Vec<_> = active
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut order = SenderOrder::default();
                for note in read_notes(&mut stream, NOTES).await {
                    order.check(&note);
                }
                assert!(order.complete(NOTES), "an active reader missed notes");
            })
        })
        .collect();
    let body = "x".repeat(NOTE_BYTES - 8);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let mut client = sender.clone();
            let body = body.clone();
            tokio::spawn(async move {
                for i in (s..NOTES).step_by(SENDERS) {
                    send(&mut client, "s", &format!("{i:07} {body}"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in senders.into_iter().chain(readers) {
        task.await.unwrap();
    }
    let growth_mib = chatd.peak_rss_kib().saturating_sub(baseline_kib) / 1024;
    let sent_mib = (NOTES * NOTE_BYTES / (1024 * 1024)) as u64;
    assert!(
        growth_mib < sent_mib / 2,
        "server memory grew by {growth_mib} MiB while {sent_mib} MiB was sent past a stalled reader"
    );

    // The stalled reader resumes: it gets an unbroken run of notes, then a
    // clear status saying it fell behind, never a silent gap.
    let mut order = SenderOrder::default();
    let status = loop {
        match tokio::time::timeout(PATIENCE, stalled.message())
            .await
            .expect("stalled stream hung")
        {
            Ok(Some(note)) => order.check(&note),
            Ok(None) => panic!("stalled stream ended without saying it fell behind"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("fell behind"),
        "{}",
        status.message()
    );
    // The server still serves.
    send(&mut sender, "s", "still here").await.unwrap();
}

/// Checks that each sender's notes arrive in order with none missing:
/// sender `s` sends counters `s`, `s + SENDERS`, `s + 2 * SENDERS`, ...
#[derive(Default)]
struct SenderOrder {
    next: HashMap<usize, usize>,
}

impl SenderOrder {
    const SENDERS: usize = 4;

    fn check(&mut self, note: &Note) {
        let n: usize = note.message[..7].parse().unwrap();
        let sender = n % Self::SENDERS;
        let expected = self.next.entry(sender).or_insert(sender);
        assert_eq!(
            n, *expected,
            "sender {sender}: got note {n}, expected {expected}"
        );
        *expected += Self::SENDERS;
    }

    /// Whether every sender's notes below `total` have all been seen.
    fn complete(&self, total: usize) -> bool {
        (0..Self::SENDERS).all(|s| self.next.get(&s).is_some_and(|&next| next >= total))
    }
}
