//! Streams that share one connection: a stream whose client stops reading
//! holds up none of its neighbours, a stream cancelled ends alone, and
//! streams opening and closing while messages flow lose and double
//! nothing for the others. (What any way of serving streams must keep.)

mod common;

use std::time::Duration;

use common::native::{NativeUser, next_message};
use common::*;

/// A live-only classic room: no replay, no delay before it.
const LIVE: &[&str] = &["--history-replay", "0", "--classic-replay-delay", "0s"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_stops_reading_does_not_hold_up_its_neighbours() {
    let server = TestServer::start(LIVE).await;
    let mut shared = server.classic_client().await;
    // Two streams on one connection: one is never read.
    let _stalled = chat_stream(&mut shared).await;
    let mut reading = chat_stream(&mut shared.clone()).await;
    server.wait_for_subscribers(2).await;

    // Far more than the stalled stream's HTTP/2 window and the
    // connection's reply budget.
    let mut sender = server.classic_client().await;
    let text = "x".repeat(4000);
    let sending = tokio::spawn(async move {
        for n in 0..1500 {
            send(&mut sender, "ann", &format!("{n} {text}"))
                .await
                .unwrap();
        }
    });
    let notes = read_notes(&mut reading, 1500).await;
    sending.await.unwrap();
    let numbers: Vec<usize> = notes
        .iter()
        .map(|note| note.message.split_once(' ').unwrap().0.parse().unwrap())
        .collect();
    assert_eq!(numbers, (0..1500).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_event_stream_that_stops_reading_does_not_hold_up_its_neighbours() {
    let server = TestServer::start(&["--max-sends-per-second", "1000000"]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    // Bob's session on ann's connection: his stream is never read.
    let mut bob = NativeUser {
        client: ann.client.clone(),
        ..NativeUser::login(addr, "bob").await
    };
    let mut carl = NativeUser::login(addr, "carl").await;
    for user in [&mut ann, &mut bob, &mut carl] {
        user.join("general").await;
    }
    let _stalled = bob.subscribe(&[]).await;
    let mut reading = ann.subscribe(&[]).await;
    let text = "y".repeat(4000);
    let sending = tokio::spawn(async move {
        for n in 0..1500 {
            carl.send("general", &format!("{n} {text}")).await;
        }
    });
    for n in 0..1500 {
        let message = next_message(&mut reading).await;
        assert_eq!(message.text.split_once(' ').unwrap().0, n.to_string());
    }
    sending.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cancelled_ends_alone() {
    let server = TestServer::start(LIVE).await;
    let mut shared = server.classic_client().await;
    let mut first = chat_stream(&mut shared).await;
    let second = chat_stream(&mut shared.clone()).await;
    let mut third = chat_stream(&mut shared.clone()).await;
    server.wait_for_subscribers(3).await;

    drop(second);
    server.wait_for_subscribers(2).await;
    send(&mut shared, "ann", "still here?").await.unwrap();
    for stream in [&mut first, &mut third] {
        assert_eq!(read_notes(stream, 1).await[0].message, "still here?");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_opening_and_closing_while_messages_flow_take_nothing_from_the_others() {
    let server = TestServer::start(LIVE).await;
    let mut shared = server.classic_client().await;
    let mut steady = chat_stream(&mut shared).await;
    server.wait_for_subscribers(1).await;

    let mut sender = server.classic_client().await;
    let sending = tokio::spawn(async move {
        for n in 0..500 {
            send(&mut sender, "ann", &n.to_string()).await.unwrap();
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    // Streams come and go on the steady one's connection meanwhile, some
    // after reading a note, some at once.
    let mut churn = shared.clone();
    let churning = tokio::spawn(async move {
        for n in 0..100 {
            let mut passing = chat_stream(&mut churn).await;
            if n % 2 == 0 {
                let _ = tokio::time::timeout(Duration::from_millis(20), passing.message()).await;
            }
        }
    });
    let notes = read_notes(&mut steady, 500).await;
    sending.await.unwrap();
    churning.await.unwrap();
    let numbers: Vec<String> = notes.into_iter().map(|note| note.message).collect();
    let expected: Vec<String> = (0..500).map(|n| n.to_string()).collect();
    assert_eq!(numbers, expected);
    server.wait_for_subscribers(1).await;
}
