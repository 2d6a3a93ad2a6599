//! Engine behaviour without any network: order, replay, catch-up, lag,
//! closing, and cleanup.

use std::sync::Arc;
use std::time::Duration;

use chat_engine::{
    Draft, Engine, EngineConfig, EngineError, Entry, MemoryStore, Message, RoomChange, RoomEvent,
    RoomEventsError, Start, SubscriptionError,
};

fn engine(window_len: usize, retain: usize) -> Engine {
    Engine::new(
        EngineConfig {
            window_len,
            ..EngineConfig::default()
        },
        Arc::new(MemoryStore::new(retain)),
    )
}

fn draft(sender: &str, text: &str) -> Draft {
    Draft {
        sender: sender.to_owned(),
        origin: chat_engine::Origin::Native,
        text: text.to_owned(),
        client_id: None,
        reply_to: None,
        attachments: Vec::new(),
    }
}

fn texts(messages: &[Arc<Message>]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

/// Reads exactly `n` messages from the subscription.
async fn take(sub: &mut chat_engine::Subscription, n: usize) -> Vec<Arc<Message>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend(sub.recv(n - out.len()).await.expect("subscription failed"));
    }
    out
}

#[tokio::test]
async fn posts_get_consecutive_sequence_numbers_and_reach_live_subscribers() {
    let engine = engine(16, 100);
    let room = engine.room("general");
    let mut sub = room.subscribe(Start::Live);
    for i in 0..5 {
        let msg = room.post(draft("ann", &format!("m{i}"))).await.unwrap();
        assert_eq!(msg.seq, i + 1);
    }
    let got = take(&mut sub, 5).await;
    assert_eq!(texts(&got), ["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(
        got.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(room.last_seq(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posters_share_one_order_and_keep_their_own() {
    const POSTERS: usize = 8;
    const EACH: usize = 500;
    let engine = engine(64, 100_000);
    let room = engine.room("general");
    let mut subs: Vec<_> = (0..4).map(|_| room.subscribe(Start::Live)).collect();

    let posters: Vec<_> = (0..POSTERS)
        .map(|p| {
            let room = Arc::clone(&room);
            tokio::spawn(async move {
                for i in 0..EACH {
                    room.post(draft(&format!("p{p}"), &i.to_string()))
                        .await
                        .unwrap();
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = subs
        .drain(..)
        .map(|mut sub| tokio::spawn(async move { take(&mut sub, POSTERS * EACH).await }))
        .collect();
    for poster in posters {
        poster.await.unwrap();
    }
    let mut orders = Vec::new();
    for reader in readers {
        orders.push(reader.await.unwrap());
    }
    for order in &orders[1..] {
        assert_eq!(order, &orders[0], "subscribers disagree on the order");
    }
    for p in 0..POSTERS {
        let sender = format!("p{p}");
        let own: Vec<usize> = orders[0]
            .iter()
            .filter(|m| m.sender == sender)
            .map(|m| m.text.parse().unwrap())
            .collect();
        assert_eq!(own, (0..EACH).collect::<Vec<_>>(), "{sender} out of order");
    }
}

#[tokio::test]
async fn a_late_subscriber_gets_the_last_n_then_live() {
    let engine = engine(4, 100);
    let room = engine.room("general");
    for i in 0..10 {
        room.post(draft("ann", &format!("m{i}"))).await.unwrap();
    }
    // 6 of history: 4 come from the window, 2 from the store.
    let mut sub = room.subscribe(Start::Last(6));
    room.post(draft("bob", "live")).await.unwrap();
    let got = take(&mut sub, 7).await;
    assert_eq!(texts(&got), ["m4", "m5", "m6", "m7", "m8", "m9", "live"]);
}

#[tokio::test]
async fn replay_of_more_than_is_kept_starts_at_the_oldest_kept() {
    let engine = engine(2, 5);
    let room = engine.room("general");
    for i in 0..10 {
        room.post(draft("ann", &format!("m{i}"))).await.unwrap();
    }
    let mut sub = room.subscribe(Start::Last(1000));
    let got = take(&mut sub, 5).await;
    assert_eq!(texts(&got), ["m5", "m6", "m7", "m8", "m9"]);
}

#[tokio::test]
async fn a_subscriber_behind_the_window_is_caught_up_from_the_store() {
    let engine = engine(8, 10_000);
    let room = engine.room("general");
    let mut slow = room.subscribe(Start::Live);
    for i in 0..1000 {
        room.post(draft("ann", &i.to_string())).await.unwrap();
    }
    let got = take(&mut slow, 1000).await;
    let seqs: Vec<u64> = got.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_subscriber_behind_history_is_told_what_it_lost_and_can_skip() {
    let engine = engine(4, 10);
    let room = engine.room("general");
    let mut slow = room.subscribe(Start::Live);
    for i in 0..50 {
        room.post(draft("ann", &i.to_string())).await.unwrap();
    }
    let err = slow.recv(10).await.unwrap_err();
    assert_eq!(
        err,
        SubscriptionError::Lagged {
            first_missing: 1,
            first_available: 41
        }
    );
    slow.skip_to(41);
    let got = take(&mut slow, 10).await;
    assert_eq!(got.first().unwrap().seq, 41);
    assert_eq!(got.last().unwrap().seq, 50);
}

#[tokio::test]
async fn resume_after_a_sequence_number() {
    let engine = engine(4, 100);
    let room = engine.room("general");
    for i in 0..20 {
        room.post(draft("ann", &i.to_string())).await.unwrap();
    }
    let mut sub = room.subscribe(Start::After(12));
    let got = take(&mut sub, 8).await;
    assert_eq!(got.first().unwrap().seq, 13);
    assert_eq!(got.last().unwrap().seq, 20);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_subscriber_sleeps_until_a_post() {
    let engine = engine(4, 100);
    let room = engine.room("general");
    let mut sub = room.subscribe(Start::Live);
    let waited = tokio::time::timeout(Duration::from_secs(60), sub.recv(1)).await;
    assert!(waited.is_err(), "recv returned with nothing posted");
    room.post(draft("ann", "hi")).await.unwrap();
    assert_eq!(texts(&sub.recv(1).await.unwrap()), ["hi"]);
}

#[tokio::test]
async fn bad_drafts_are_refused_and_take_no_sequence_number() {
    let engine = engine(4, 100);
    let room = engine.room("general");
    let long_name = "n".repeat(65);
    let long_text = "t".repeat(4097);
    assert_eq!(
        room.post(draft("", "hi")).await.unwrap_err(),
        EngineError::EmptyName { max: 64 }
    );
    assert_eq!(
        room.post(draft(&long_name, "hi")).await.unwrap_err(),
        EngineError::NameTooLong { len: 65, max: 64 }
    );
    assert_eq!(
        room.post(draft("ann", "")).await.unwrap_err(),
        EngineError::EmptyText
    );
    assert_eq!(
        room.post(draft("ann", &long_text)).await.unwrap_err(),
        EngineError::TextTooLong {
            len: 4097,
            max: 4096
        }
    );
    assert_eq!(room.post(draft("ann", "ok")).await.unwrap().seq, 1);
}

#[tokio::test]
async fn closing_a_room_drains_subscribers_then_ends_them() {
    let engine = engine(4, 100);
    let room = engine.room("channel-1");
    let mut sub = room.subscribe(Start::Live);
    room.post(draft("ann", "last words")).await.unwrap();
    assert!(engine.close_room("channel-1"));
    assert!(engine.find_room("channel-1").is_none());
    assert!(matches!(
        room.post(draft("ann", "too late")).await,
        Err(EngineError::RoomClosed(_))
    ));
    assert_eq!(texts(&sub.recv(10).await.unwrap()), ["last words"]);
    assert_eq!(
        sub.recv(10).await.unwrap_err(),
        SubscriptionError::RoomClosed
    );
}

#[tokio::test]
async fn a_reopened_room_carries_on_numbering() {
    let engine = engine(4, 100);
    let room = engine.room("channel-1");
    room.post(draft("ann", "one")).await.unwrap();
    room.post(draft("ann", "two")).await.unwrap();
    engine.close_room("channel-1");
    let reopened = engine.room("channel-1");
    assert_eq!(reopened.post(draft("ann", "three")).await.unwrap().seq, 3);
}

#[tokio::test]
async fn dropped_subscriptions_leave_nothing_behind() {
    let engine = engine(4, 100);
    let room = engine.room("general");
    let subs: Vec<_> = (0..100).map(|_| room.subscribe(Start::Live)).collect();
    assert_eq!(room.subscriber_count(), 100);
    drop(subs);
    assert_eq!(room.subscriber_count(), 0);
    // A weak handle shows the room itself is freed once closed and unused.
    let weak = Arc::downgrade(&room);
    drop(room);
    engine.close_room("general");
    assert!(weak.upgrade().is_none());
    assert!(engine.room_names().is_empty());
}

#[tokio::test]
async fn members_join_and_leave_and_watchers_hear_it_in_order() {
    let engine = engine(4, 100);
    let room = engine.room("channel-1");
    let mut events = room.watch_members();
    assert_eq!(room.join("user-1"), Ok(true));
    assert_eq!(room.join("user-2"), Ok(true));
    assert_eq!(room.join("user-1"), Ok(false), "joining twice is no change");
    assert!(room.leave("user-1"));
    assert!(!room.leave("user-1"), "leaving twice is no change");
    assert_eq!(room.members(), ["user-2"]);
    assert!(room.is_member("user-2"));
    assert_eq!(room.member_count(), 1);
    for expected in [
        RoomEvent::Joined {
            name: "user-1".into(),
            online: false,
        },
        RoomEvent::Joined {
            name: "user-2".into(),
            online: false,
        },
        RoomEvent::Left("user-1".into()),
    ] {
        assert_eq!(events.recv().await, Ok(expected));
    }
}

#[tokio::test]
async fn presence_reaches_the_rooms_a_user_is_in_and_no_others() {
    let engine = engine(4, 100);
    let (shared, elsewhere) = (engine.room("shared"), engine.room("elsewhere"));
    let claim = engine.names().claim("ann").await.unwrap();
    claim.set_online(true);
    shared.join("ann").unwrap();
    let mut in_shared = shared.watch_members();
    let mut in_elsewhere = elsewhere.watch_members();
    claim.set_online(false);
    claim.set_online(false);
    claim.set_online(true);
    for online in [false, true] {
        let expected = RoomEvent::Presence {
            name: "ann".into(),
            online,
        };
        assert_eq!(in_shared.recv().await, Ok(expected));
    }
    shared.leave("ann");
    assert_eq!(in_shared.recv().await, Ok(RoomEvent::Left("ann".into())));
    claim.set_online(false);
    elsewhere.join("bob").unwrap();
    // The first event elsewhere is bob's join: ann's presence never came.
    assert_eq!(
        in_elsewhere.recv().await,
        Ok(RoomEvent::Joined {
            name: "bob".into(),
            online: false
        })
    );
    // A member who joins while online is said to be so.
    let mut later = shared.watch_members();
    claim.set_online(true);
    shared.join("ann").unwrap();
    assert_eq!(
        later.recv().await,
        Ok(RoomEvent::Joined {
            name: "ann".into(),
            online: true
        })
    );
}

#[tokio::test]
async fn a_watcher_that_falls_out_of_the_event_log_is_told_and_goes_on() {
    let engine = engine(4, 100);
    let room = engine.room("busy");
    let mut events = room.watch_members();
    for i in 0..600 {
        room.join(&format!("u{i}")).unwrap();
    }
    assert_eq!(events.recv().await, Err(RoomEventsError::Lagged(88)));
    assert_eq!(
        events.recv().await,
        Ok(RoomEvent::Joined {
            name: "u88".into(),
            online: false
        })
    );
}

#[tokio::test]
async fn closing_a_room_ends_member_watchers_and_refuses_joins() {
    let engine = engine(4, 100);
    let room = engine.room("channel-1");
    let mut before = room.watch_members();
    engine.close_room("channel-1");
    assert_eq!(before.recv().await, Ok(RoomEvent::Closed));
    assert_eq!(before.recv().await, Ok(RoomEvent::Closed));
    let mut after = room.watch_members();
    assert_eq!(after.recv().await, Ok(RoomEvent::Closed));
    assert!(matches!(
        room.join("user-1"),
        Err(EngineError::RoomClosed(_))
    ));
}

#[tokio::test]
async fn a_member_watcher_that_falls_far_behind_is_told() {
    let engine = engine(4, 100);
    let room = engine.room("lobby");
    let mut events = room.watch_members();
    for i in 0..2000 {
        room.join(&format!("user-{i}")).unwrap();
    }
    assert!(matches!(
        events.recv().await,
        Err(RoomEventsError::Lagged(_))
    ));
}

#[tokio::test]
async fn a_retried_draft_with_the_same_client_id_is_not_posted_twice() {
    let engine = engine(16, 100);
    let room = engine.room("general");
    let with_id = |sender: &str, id: &str| Draft {
        client_id: Some(id.to_owned()),
        ..draft(sender, "once")
    };
    let first = room.post(with_id("ann", "m-1")).await.unwrap();
    let retry = room.post(with_id("ann", "m-1")).await.unwrap();
    assert_eq!(retry, first);
    // Another sender may use the same id; a new id is a new message.
    assert_eq!(room.post(with_id("bob", "m-1")).await.unwrap().seq, 2);
    assert_eq!(room.post(with_id("ann", "m-2")).await.unwrap().seq, 3);
    assert_eq!(room.last_seq(), 3);
    let too_long = Draft {
        client_id: Some("x".repeat(129)),
        ..draft("ann", "hi")
    };
    assert_eq!(
        room.post(too_long).await.unwrap_err(),
        EngineError::ClientIdTooLong { len: 129, max: 128 }
    );
}

#[tokio::test]
async fn history_reads_by_page_before_and_after() {
    let engine = engine(4, 100);
    let room = engine.room("general");
    for i in 1..=20 {
        room.post(draft("ann", &i.to_string())).await.unwrap();
    }
    let seqs = |page: Vec<Arc<Message>>| page.iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(engine.history_before("general", 21, 3).await.unwrap()),
        [18, 19, 20]
    );
    assert_eq!(
        seqs(engine.history_before("general", 3, 10).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        seqs(engine.history_after("general", 17, 10).await.unwrap()),
        [18, 19, 20]
    );
    assert_eq!(
        seqs(engine.history_after("general", 0, 2).await.unwrap()),
        [1, 2]
    );
    assert!(
        engine
            .history_before("nowhere", 10, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A closed room's history is still there.
    engine.close_room("general");
    assert_eq!(engine.last_seq("general"), 20);
    assert_eq!(
        seqs(engine.history_before("general", 2, 5).await.unwrap()),
        [1]
    );
}

#[tokio::test]
async fn names_are_unique_while_claimed_and_carry_presence() {
    let engine = engine(4, 100);
    let claim = engine.names().claim("민지").await.unwrap();
    assert_eq!(
        engine.names().claim("민지").await.unwrap_err(),
        EngineError::NameTaken {
            name: "민지".into(),
            holder: "민지".into()
        }
    );
    assert!(!engine.names().is_online("민지"));
    claim.set_online(true);
    assert!(engine.names().is_online("민지"));
    drop(claim);
    assert!(!engine.names().is_online("민지"));
    assert!(engine.names().claim("민지").await.is_ok());
    assert_eq!(
        engine.names().claim("").await.unwrap_err(),
        EngineError::EmptyName { max: 64 }
    );
}

#[tokio::test]
async fn a_name_that_looks_like_a_claimed_one_is_taken() {
    let engine = engine(4, 100);
    let _alice = engine.names().claim("alice").await.unwrap();
    for look_alike in ["ALICE", "\u{0430}lice", "ａｌｉｃｅ"] {
        let error = engine.names().claim(look_alike).await.unwrap_err();
        assert_eq!(
            error,
            EngineError::NameTaken {
                name: look_alike.into(),
                holder: "alice".into()
            }
        );
        assert!(error.to_string().contains("looks like `alice`"), "{error}");
        assert_eq!(engine.names().check_unclaimed(look_alike), Err(error));
    }
    for hidden in [
        "alice\u{200b}",
        "al\u{200d}ice",
        "alice\u{202e}",
        "\u{feff}alice",
    ] {
        assert!(
            matches!(
                engine.names().claim(hidden).await,
                Err(EngineError::NameHasHiddenCharacter(_))
            ),
            "{hidden:?}"
        );
    }
    assert_eq!(
        engine.names().claim(" alice").await.unwrap_err(),
        EngineError::NamePadded
    );
    assert_eq!(engine.names().check_unclaimed("bob"), Ok(()));
}

#[tokio::test]
async fn room_watchers_hear_rooms_open_and_close() {
    let engine = engine(4, 100);
    let mut changes = engine.watch_rooms();
    engine.room("a");
    engine.room("a");
    engine.close_room("a");
    assert_eq!(
        changes.recv().await.unwrap(),
        RoomChange::Opened("a".into())
    );
    assert_eq!(
        changes.recv().await.unwrap(),
        RoomChange::Closed("a".into())
    );
    assert!(
        changes.try_recv().is_err(),
        "opening an open room is no change"
    );
}

#[tokio::test]
async fn users_may_create_only_so_many_rooms() {
    let limited = |max_rooms, max_created_per_user, created_per_user_per_hour| {
        let engine = Engine::new(
            EngineConfig {
                rooms: chat_engine::RoomLimits {
                    max_rooms,
                    max_created_per_user,
                    created_per_user_per_hour,
                },
                ..EngineConfig::default()
            },
            Arc::new(MemoryStore::new(10)),
        );
        for account in ["ann", "bob"] {
            engine.names().register_stored(account).unwrap();
        }
        engine
    };
    let engine = limited(100, 2, 100);
    assert!(
        matches!(
            engine.create_room("a", "guest", false).await,
            Err(EngineError::NotAllowed(_))
        ),
        "only accounts own rooms"
    );
    engine.create_room("a", "ann", false).await.unwrap();
    engine.create_room("b", "ann", true).await.unwrap();
    assert_eq!(
        engine.create_room("c", "ann", false).await.unwrap_err(),
        EngineError::TooManyRoomsCreated(2)
    );
    engine
        .create_room("c", "bob", false)
        .await
        .expect("bob has created none");

    let engine = limited(100, 100, 3);
    for room in ["a", "b", "c"] {
        engine.create_room(room, "ann", false).await.unwrap();
    }
    let error = engine.create_room("d", "ann", false).await.unwrap_err();
    assert!(
        matches!(error, EngineError::CreatingRoomsTooFast { per_hour: 3, wait_secs } if wait_secs > 1000),
        "{error:?}"
    );

    // The server's limit counts every open room, `general` too.
    let engine = limited(2, 100, 100);
    engine.room("general");
    engine.create_room("a", "ann", false).await.unwrap();
    assert_eq!(
        engine.create_room("b", "bob", false).await.unwrap_err(),
        EngineError::TooManyRooms(2)
    );
}

fn stored(seq: u64, text: &str) -> Arc<Message> {
    Arc::new(Message {
        seq,
        sent_at_ms: 0,
        sender: "other-node".into(),
        origin: chat_engine::Origin::Native,
        text: text.into(),
        ..Message::default()
    })
}

#[tokio::test]
async fn messages_from_other_nodes_are_shown_in_order_whatever_order_they_come_in() {
    let engine = engine(16, 100);
    let room = engine.room("general");
    let mut sub = room.subscribe(Start::Live);
    engine.deliver_remote("general", stored(2, "second"));
    engine.deliver_remote("general", stored(3, "third"));
    engine.deliver_remote("general", stored(1, "first"));
    // Again: dropped.
    engine.deliver_remote("general", stored(2, "second"));
    assert_eq!(
        texts(&take(&mut sub, 3).await),
        ["first", "second", "third"]
    );
    // Numbering here goes on after them.
    assert_eq!(room.post(draft("ann", "mine")).await.unwrap().seq, 4);
}

#[tokio::test(start_paused = true)]
async fn a_message_the_relay_lost_is_read_from_the_store() {
    let store = Arc::new(MemoryStore::new(100));
    let engine = Engine::new(EngineConfig::default(), store.clone());
    let room = engine.room("general");
    let mut sub = room.subscribe(Start::Live);
    // Another node stored #1 and #2; only #2 comes through the relay.
    let (first, second) = (stored(1, "lost on the way"), stored(2, "came"));
    let batch = [
        ("general", Entry::Message(first)),
        ("general", Entry::Message(Arc::clone(&second))),
    ];
    chat_engine::HistoryStore::append(store.as_ref(), &batch)
        .await
        .unwrap();
    engine.deliver_remote("general", second);
    let got = tokio::time::timeout(Duration::from_secs(5), take(&mut sub, 2))
        .await
        .expect("the gap was filled from the store");
    assert_eq!(texts(&got), ["lost on the way", "came"]);
}

#[tokio::test(start_paused = true)]
async fn more_messages_behind_a_gap_than_wait_in_memory_are_all_shown_in_order() {
    let store = Arc::new(MemoryStore::new(1000));
    let engine = Engine::new(
        EngineConfig {
            window_len: 4,
            ..EngineConfig::default()
        },
        store.clone(),
    );
    let room = engine.room("general");
    let mut sub = room.subscribe(Start::Live);
    let messages: Vec<_> = (1..=50)
        .map(|seq| stored(seq, &format!("m{seq}")))
        .collect();
    let batch: Vec<_> = messages
        .iter()
        .map(|m| ("general", Entry::Message(Arc::clone(m))))
        .collect();
    chat_engine::HistoryStore::append(store.as_ref(), &batch)
        .await
        .unwrap();
    // #1 never comes through the relay; 49 do, more than a window waits.
    for message in &messages[1..] {
        engine.deliver_remote("general", Arc::clone(message));
    }
    let got = tokio::time::timeout(Duration::from_secs(5), take(&mut sub, 50))
        .await
        .expect("the gap was filled from the store");
    let want: Vec<String> = (1..=50).map(|seq| format!("m{seq}")).collect();
    assert_eq!(texts(&got), want);
}

#[tokio::test]
async fn unread_messages_and_mentions_are_counted_from_a_marker_without_counting_history() {
    // A window of 2: places and mentions older than it come from the store.
    let engine = engine(2, 100);
    let room = engine.room("general");
    for name in ["ann", "bob"] {
        room.join(name).unwrap();
    }
    room.post(draft("ann", "one")).await.unwrap();
    let two = room.post(draft("ann", "hi @BOB")).await.unwrap();
    let ann = chat_engine::Author {
        name: "ann".into(),
        since_ms: 0,
    };
    // A change takes a number, not a place among the messages.
    let edit = room
        .change(
            &ann,
            two.seq,
            chat_engine::ChangeKind::Edit("hi @bob!".into()),
        )
        .await
        .unwrap();
    assert_eq!(edit.seq, two.seq);
    room.post(draft("ann", "@room? no: only moderators"))
        .await
        .unwrap();
    room.post(draft("bob", "@bob talking to myself"))
        .await
        .unwrap();
    assert_eq!((room.last_seq(), room.message_count()), (5, 4));

    assert_eq!(room.place_of(1).await.unwrap(), (1, 1));
    assert_eq!(room.place_of(3).await.unwrap(), (3, 2), "the edit's place");
    // From nothing read: four messages, one mention (bob's own do not).
    assert_eq!(room.unread("bob", 0), (4, 1));
    assert_eq!(room.unread("bob", 2), (2, 0));
    assert_eq!(room.unread("ann", 4), (0, 0));
    // A mention that comes later counts too.
    room.post(draft("ann", "@bob, again")).await.unwrap();
    assert_eq!(room.unread("bob", 2), (3, 1));
}

#[tokio::test]
async fn mentions_are_counted_among_the_newest_that_mention_anyone_only() {
    let engine = engine(16, 10_000);
    let room = engine.room("general");
    for name in ["ann", "bob"] {
        room.join(name).unwrap();
    }
    let more = chat_engine::MOST_MENTIONING + 5;
    for n in 0..more {
        room.post(draft("ann", &format!("@bob {n}"))).await.unwrap();
    }
    // What the room keeps for counting stays bounded however many come.
    let bounded = chat_engine::MOST_MENTIONING as u64;
    assert_eq!(room.unread("bob", 0), (more as u64, bounded));
    assert_eq!(room.unread("bob", more as u64 - 3), (3, 3));
}

#[tokio::test(start_paused = true)]
async fn typing_ends_by_itself_unless_renewed_and_when_the_typist_sends() {
    let engine = engine(16, 100);
    let room = engine.room("general");
    for name in ["ann", "bob"] {
        room.join(name).unwrap();
    }
    let mut events = room.watch_members();
    let typing = |name: &str, typing| chat_engine::RoomEvent::Typing {
        name: name.into(),
        typing,
    };
    room.set_typing("ann", true);
    assert_eq!(events.recv().await.unwrap(), typing("ann", true));
    tokio::time::sleep(Duration::from_secs(4)).await;
    room.set_typing("ann", true); // Renewed: no news.
    tokio::time::sleep(Duration::from_secs(4)).await;
    room.set_typing("bob", true);
    assert_eq!(
        events.recv().await.unwrap(),
        typing("bob", true),
        "ann still types: renewed 4 s ago"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(events.recv().await.unwrap(), typing("ann", false));
    room.post(draft("bob", "done")).await.unwrap();
    assert_eq!(events.recv().await.unwrap(), typing("bob", false));
    // A stranger's typing is nobody's news.
    room.set_typing("mallory", true);
    room.set_typing("ann", false);
    let quiet = tokio::time::timeout(Duration::from_secs(10), events.recv()).await;
    assert!(quiet.is_err(), "{quiet:?}");
}

#[tokio::test]
async fn a_name_is_registered_as_spelt_until_unregistered() {
    let engine = engine(8, 8);
    let names = engine.names();
    names.register_stored("Minji").unwrap();
    assert!(names.is_registered("Minji"));
    // One that only looks like it is not the account's name.
    assert!(!names.is_registered("minji"));
    assert!(!names.is_registered("Mіnji"), "Cyrillic і");
    assert!(names.register_stored("MINJI").is_err());
    // Unregistered by any spelling that looks like it.
    names.unregister("minji");
    assert!(!names.is_registered("Minji"));
    names.register_stored("MINJI").unwrap();
    assert!(names.is_registered("MINJI"));
}
