//! The native protocol over real loopback TCP: login rules, tokens, sending
//! and order, history pages, resume, idempotent send, presence, limits, and
//! talking across protocols.

mod common;

use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::get_history_request::Position;
use chat_proto::chat::v1::*;
use common::lobby::{LobbyUser, chat, next};
use common::native::*;
use common::proxy::Proxy;
use common::*;
use tonic::Code;

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    result.map(|_| ()).unwrap_err().code()
}

#[tokio::test]
async fn login_names_are_checked_and_unique_while_held() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut minji = NativeUser::login(addr, "민지").await;
    assert_eq!(minji.name, "민지");
    assert_eq!(minji.token.len(), 64);

    let taken = NativeUser::try_login(addr, "민지").await.err().unwrap();
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert!(taken.message().contains("in use"), "{}", taken.message());
    assert_eq!(
        code(NativeUser::try_login(addr, "").await),
        Code::InvalidArgument
    );
    assert_eq!(
        code(NativeUser::try_login(addr, &"n".repeat(65)).await),
        Code::InvalidArgument
    );
    assert_eq!(
        code(NativeUser::try_login(addr, "user-3").await),
        Code::InvalidArgument
    );
    assert_eq!(
        code(NativeUser::try_login(addr, "tab\there").await),
        Code::InvalidArgument
    );

    // Logging out frees the name.
    let request = minji.req(LogoutRequest {});
    minji.client.logout(request).await.unwrap();
    NativeUser::login(addr, "민지").await;
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let server = TestServer::start(&[]).await;
    let mut user = NativeUser::login(server.addrs.native, "ann").await;
    let bare = user
        .client
        .list_rooms(ListRoomsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(bare.code(), Code::Unauthenticated);
    assert!(bare.message().contains("Bearer"), "{}", bare.message());
    user.token = "0".repeat(32);
    let request = user.req(ListRoomsRequest::default());
    assert_eq!(
        code(user.client.list_rooms(request).await),
        Code::Unauthenticated
    );
    let request = user.req(SubscribeRequest::default());
    assert_eq!(
        code(user.client.subscribe(request).await),
        Code::Unauthenticated
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_reach_every_member_in_one_order_with_the_sender_set_by_the_server() {
    let server = TestServer::start(&["--max-sends-per-second", "1000"]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    let mut bob = NativeUser::login(addr, "bob").await;
    let mut ann_events = ann.subscribe(&[]).await;
    let mut bob_events = bob.subscribe(&[]).await;
    ann.create("dev").await;
    let joined = next_matching(&mut ann_events, |k| match k {
        Kind::RoomJoined(joined) => Some(joined),
        _ => None,
    })
    .await;
    assert_eq!((joined.room.as_str(), joined.last_seq), ("dev", 0));
    bob.join("dev").await;
    let seen = next_matching(&mut ann_events, |k| match k {
        Kind::MemberJoined(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!((seen.room.as_str(), seen.name.as_str()), ("dev", "bob"));

    let (ann_posts, bob_posts) = tokio::join!(
        async {
            for i in 0..50 {
                ann.send("dev", &format!("ann {i}")).await;
            }
        },
        async {
            for i in 0..50 {
                bob.send("dev", &format!("bob {i} 🎉")).await;
            }
        }
    );
    let _ = (ann_posts, bob_posts);
    let mut orders = Vec::new();
    for events in [&mut ann_events, &mut bob_events] {
        let mut got = Vec::new();
        while got.len() < 100 {
            got.push(next_message(events).await);
        }
        orders.push(got);
    }
    assert_eq!(orders[0], orders[1], "members saw different orders");
    let seqs: Vec<u64> = orders[0].iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    for message in &orders[0] {
        assert!(message.text.starts_with(&message.sender), "{message:?}");
        assert!(message.sent_at.is_some());
    }
}

#[tokio::test]
async fn history_reads_by_page_in_both_directions() {
    let server = TestServer::start(&["--max-sends-per-second", "1000"]).await;
    let mut ann = NativeUser::login(server.addrs.native, "ann").await;
    ann.join("general").await;
    for i in 1..=30 {
        ann.send("general", &i.to_string()).await;
    }
    let seqs = |page: &GetHistoryResponse| page.messages.iter().map(|m| m.seq).collect::<Vec<_>>();
    let newest = ann.history("general", None, 10).await;
    assert_eq!(
        (seqs(&newest), newest.has_more),
        ((21..=30).collect(), true)
    );
    let older = ann
        .history("general", Some(Position::BeforeSeq(21)), 10)
        .await;
    assert_eq!((seqs(&older), older.has_more), ((11..=20).collect(), true));
    let oldest = ann
        .history("general", Some(Position::BeforeSeq(11)), 10)
        .await;
    assert_eq!(
        (seqs(&oldest), oldest.has_more),
        ((1..=10).collect(), false)
    );
    let after = ann
        .history("general", Some(Position::AfterSeq(25)), 10)
        .await;
    assert_eq!((seqs(&after), after.has_more), ((26..=30).collect(), false));
    let request = ann.req(GetHistoryRequest {
        room: "nowhere".into(),
        ..Default::default()
    });
    assert_eq!(code(ann.client.get_history(request).await), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_client_resumes_with_nothing_lost_or_doubled() {
    let server = TestServer::start(&["--presence-grace", "30s"]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    let mut bob = NativeUser::login(addr, "bob").await;
    ann.join("general").await;
    bob.join("general").await;
    let mut events = ann.subscribe(&[]).await;
    for i in 1..=3 {
        bob.send("general", &i.to_string()).await;
    }
    let mut last_seq = 0;
    for _ in 0..3 {
        last_seq = next_message(&mut events).await.seq;
    }

    // Ann's connection drops; Bob goes on talking.
    drop(events);
    ann.client =
        chat_proto::chat::v1::chat_service_client::ChatServiceClient::new(connect(addr).await);
    for i in 4..=8 {
        bob.send("general", &i.to_string()).await;
    }
    let mut events = ann.subscribe(&[("general", last_seq)]).await;
    let joined = next_event(&mut events).await;
    assert!(
        matches!(joined, Kind::RoomJoined(ref r) if r.room == "general"),
        "{joined:?}"
    );
    bob.send("general", "9").await;
    let mut texts = Vec::new();
    for _ in 4..=9 {
        texts.push(next_message(&mut events).await.text);
    }
    assert_eq!(texts, ["4", "5", "6", "7", "8", "9"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_of_one_session_both_stay_connected_and_see_everything() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut first_tab = NativeUser::account(addr, "ann").await;
    let mut second_tab = NativeUser::with_token(addr, "ann", &first_tab.token.clone()).await;
    first_tab.join("general").await;
    let mut first_events = first_tab.subscribe(&[]).await;
    let mut second_events = second_tab.subscribe(&[]).await;

    first_tab.send("general", "from the first tab").await;
    second_tab.send("general", "from the second tab").await;
    for events in [&mut first_events, &mut second_events] {
        let texts = [
            next_message(events).await.text,
            next_message(events).await.text,
        ];
        assert_eq!(texts, ["from the first tab", "from the second tab"]);
    }
    // Still both open: the second did not end the first.
    first_tab.send("general", "both still here").await;
    assert_eq!(
        next_message(&mut first_events).await.text,
        "both still here"
    );
    assert_eq!(
        next_message(&mut second_events).await.text,
        "both still here"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_its_stream_limit_ends_its_oldest_stream_saying_why() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    ann.join("general").await;
    let mut oldest = ann.subscribe(&[]).await;
    let mut others = Vec::new();
    for _ in 0..chatd::sessions::STREAMS_PER_SESSION {
        others.push(ann.subscribe(&[]).await);
    }
    let status = loop {
        match tokio::time::timeout(PATIENCE, oldest.message()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => panic!("the oldest stream ended without saying why"),
            Ok(Err(status)) => break status,
            Err(_) => panic!("the oldest stream is still open"),
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("newer streams"), "{status}");
    ann.send("general", "to the newest").await;
    for events in &mut others {
        assert_eq!(next_message(events).await.text, "to the newest");
    }
}

#[tokio::test]
async fn a_retried_send_with_the_same_id_is_not_doubled() {
    let server = TestServer::start(&[]).await;
    let mut ann = NativeUser::login(server.addrs.native, "ann").await;
    ann.join("general").await;
    let first = ann.try_send("general", "once", "retry-1").await.unwrap();
    let again = ann.try_send("general", "once", "retry-1").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.client_message_id, "retry-1");
    let history = ann.history("general", None, 10).await;
    assert_eq!(history.messages.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_online_while_streaming_then_gone_after_the_grace() {
    let server = TestServer::start(&["--presence-grace", "300ms"]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    let mut bob = NativeUser::login(addr, "bob").await;
    ann.join("general").await;
    bob.join("general").await;
    let mut ann_events = ann.subscribe(&[]).await;
    let bob_events = bob.subscribe(&[]).await;
    wait_until(
        || server.engine.names().is_online("bob"),
        || "bob online".into(),
    )
    .await;
    let members = ann.members("general").await;
    assert!(
        members.iter().any(|m| m.name == "bob" && m.online),
        "{members:?}"
    );

    drop(bob_events);
    let left = next_matching(&mut ann_events, |k| match k {
        Kind::MemberLeft(left) => Some(left),
        _ => None,
    })
    .await;
    assert_eq!((left.room.as_str(), left.name.as_str()), ("general", "bob"));
    assert!(!ann.members("general").await.iter().any(|m| m.name == "bob"));
    // Bob's session is over: his token no longer works.
    let request = bob.req(ListRoomsRequest::default());
    assert_eq!(
        code(bob.client.list_rooms(request).await),
        Code::Unauthenticated
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_finds_a_peer_whose_connection_went_silent() {
    let server = TestServer::start(&[
        "--keepalive-interval",
        "200ms",
        "--keepalive-timeout",
        "1s",
        "--presence-grace",
        "200ms",
    ])
    .await;
    let mut ann = NativeUser::login(server.addrs.native, "ann").await;
    ann.join("general").await;
    let mut ann_events = ann.subscribe(&[]).await;

    let proxy = Proxy::start(server.addrs.native).await;
    let mut bob = NativeUser::login(proxy.addr, "bob").await;
    bob.join("general").await;
    let _bob_events = bob.subscribe(&[]).await;
    wait_until(
        || server.engine.names().is_online("bob"),
        || "bob online".into(),
    )
    .await;
    proxy.go_silent();
    let left = next_matching(&mut ann_events, |k| match k {
        Kind::MemberLeft(left) => Some(left.name),
        _ => None,
    })
    .await;
    assert_eq!(left, "bob");
}

#[tokio::test]
async fn rooms_created_and_closed_are_announced() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    let mut bob = NativeUser::account(addr, "bob").await;
    let mut events = ann.subscribe(&[]).await;
    bob.create("개발").await;
    assert_eq!(
        next_event(&mut events).await,
        Kind::RoomCreated(RoomCreated {
            room: "개발".into()
        })
    );
    // A room stays open when its last member leaves.
    bob.leave("개발").await;
    let rooms = ann.rooms().await;
    let names: Vec<_> = rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["general", "lobby", "개발"]);
    // A lobby channel opens and closes with its port.
    let mut carol = LobbyUser::login(server.addrs.agent).await;
    let port = carol.make().await;
    let channel = format!("channel-{port}");
    assert_eq!(
        next_event(&mut events).await,
        Kind::RoomCreated(RoomCreated {
            room: channel.clone()
        })
    );
    carol.leave().await;
    assert_eq!(
        next_event(&mut events).await,
        Kind::RoomClosed(RoomClosed { room: channel })
    );
}

#[tokio::test]
async fn limits_and_bad_requests_get_clear_statuses() {
    let server =
        TestServer::start(&["--max-rooms-per-user", "2", "--max-sends-per-second", "5"]).await;
    let mut ann = NativeUser::account(server.addrs.native, "ann").await;
    ann.join("general").await;

    let long = ann
        .try_send("general", &"x".repeat(4097), "")
        .await
        .unwrap_err();
    assert_eq!(long.code(), Code::InvalidArgument);
    assert!(
        long.message().contains("limit is 4096 bytes"),
        "{}",
        long.message()
    );
    assert_eq!(
        code(ann.try_send("general", "  ", "").await),
        Code::InvalidArgument
    );
    assert_eq!(
        code(ann.try_send("lobby", "not a member", "").await),
        Code::FailedPrecondition
    );

    let request = ann.req(JoinRoomRequest {
        room: "nowhere".into(),
    });
    let missing = ann.client.join_room(request).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    // In words a person reads in any client: no RPC names.
    assert_eq!(
        missing.message(),
        "there is no open room `nowhere`; see the list of rooms, or create it"
    );
    for bad in ["", "two words", "channel-9", "lobby", "@dm-1"] {
        assert_eq!(
            code(ann.try_create(bad, false).await),
            Code::InvalidArgument,
            "{bad:?}"
        );
    }
    assert_eq!(
        code(ann.try_create("general", false).await),
        Code::AlreadyExists
    );

    ann.join("lobby").await;
    let full = ann.try_create("third", false).await.unwrap_err();
    assert_eq!(full.code(), Code::ResourceExhausted);
    assert!(full.message().contains("2 rooms"), "{}", full.message());

    let mut limited = None;
    for i in 0..20 {
        if let Err(status) = ann.try_send("general", &i.to_string(), "").await {
            limited = Some(status);
            break;
        }
    }
    let limited = limited.expect("twenty sends at once were all accepted");
    assert_eq!(limited.code(), Code::ResourceExhausted);
    assert!(
        limited.message().contains("5 messages a second"),
        "{}",
        limited.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_user_and_a_classic_client_see_each_other_in_general() {
    let server = TestServer::start(&[]).await;
    let mut ann = NativeUser::login(server.addrs.native, "ann").await;
    ann.join("general").await;
    let mut events = ann.subscribe(&[]).await;
    let mut classic = server.classic_client().await;
    let mut notes = chat_stream(&mut classic).await;
    // Ann's event stream and the classic stream.
    wait_until(
        || server.classic_subscribers() == 2,
        || "two subscribers".into(),
    )
    .await;

    send(&mut classic, "지민", "hello from classic")
        .await
        .unwrap();
    let message = next_message(&mut events).await;
    assert_eq!(
        (message.sender.as_str(), message.text.as_str()),
        ("지민", "hello from classic")
    );
    ann.send("general", "hello from native").await;
    assert_eq!(
        read_notes(&mut notes, 2).await,
        [
            note("지민", "hello from classic"),
            note("ann", "hello from native")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_user_and_a_lobby_user_see_each_other_in_the_lobby_and_a_channel() {
    let server = TestServer::start(&[]).await;
    let mut ann = NativeUser::login(server.addrs.native, "ann").await;
    ann.join("lobby").await;
    let mut events = ann.subscribe(&[]).await;
    let mut bob = LobbyUser::login(server.addrs.agent).await;

    let joined = next_matching(&mut events, |k| match k {
        Kind::MemberJoined(m) => Some(m.name),
        _ => None,
    })
    .await;
    assert_eq!(joined, "user-1");
    bob.all("hi native").await;
    let message = next_message(&mut events).await;
    assert_eq!(
        (message.sender.as_str(), message.text.as_str()),
        ("user-1", "hi native")
    );
    ann.send("lobby", "hi lobby").await;
    assert_eq!(next(&mut bob.lobby_chat).await, chat(0, "ann: hi lobby"));

    // Channels are rooms: the native user joins Bob's channel and chats.
    let port = bob.make().await;
    let room = format!("channel-{port}");
    ann.join(&room).await;
    bob.say("in the channel").await;
    let message = next_matching(&mut events, |k| match k {
        Kind::Message(m) if m.room == room => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(message.text, "in the channel");
    ann.send(&room, "me too").await;
    assert_eq!(next(&mut bob.seat().chat).await, chat(0, "ann: me too"));

    // Bob leaves; the channel stays open for Ann until she leaves too, and
    // then its port goes back to the pool.
    bob.leave().await;
    assert_eq!(server.engine.room(&room).members(), ["ann"]);
    ann.leave(&room).await;
    wait_until(
        || server.engine.find_room(&room).is_none(),
        || "channel closed".into(),
    )
    .await;
    assert_eq!(bob.make().await, port);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_falls_behind_history_is_told_and_goes_on() {
    let server = TestServer::start(&["--retain-messages", "100", "--recent-window", "50"]).await;
    let mut ann = NativeUser::login(server.addrs.native, "ann").await;
    ann.join("general").await;
    let mut events = ann.subscribe(&[]).await;
    assert!(matches!(next_event(&mut events).await, Kind::RoomJoined(_)));

    // Ann does not read while 3,000 notes of 4 KB pass through `general`.
    let mut classic = server.classic_client().await;
    let body = "x".repeat(4000);
    for i in 1..=3000 {
        send(&mut classic, "c", &format!("{i} {body}"))
            .await
            .unwrap();
    }
    let mut expected = 1;
    let mut told = None;
    while expected <= 3000 {
        match next_event(&mut events).await {
            Kind::Message(m) => {
                assert_eq!(m.seq, expected, "a message was skipped without notice");
                expected += 1;
            }
            Kind::FellBehind(notice) => {
                assert_eq!(notice.first_missed_seq, expected);
                assert!(notice.resumed_at_seq > expected);
                expected = notice.resumed_at_seq;
                told = Some(notice);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        told.is_some(),
        "the stream never fell behind; the test did not test"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_say_who_is_a_guest_and_the_server_whether_it_admits_guests() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    ann.join("general").await;
    let mut events = ann.subscribe(&[]).await;
    let mut bob = NativeUser::login(addr, "bob").await;
    bob.join("general").await;
    let joined = next_matching(&mut events, |kind| match kind {
        Kind::MemberJoined(joined) => Some(joined),
        _ => None,
    })
    .await;
    assert_eq!((joined.name.as_str(), joined.guest), ("bob", true));
    let guests: Vec<(String, bool)> = (ann.members("general").await.into_iter())
        .map(|member| (member.name, member.guest))
        .collect();
    assert_eq!(guests, [("ann".into(), false), ("bob".into(), true)]);

    let info = ann.client.get_server_info(GetServerInfoRequest {}).await;
    assert!(info.unwrap().into_inner().guests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_names_the_message_it_answers_and_only_one_that_was_sent() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::login(addr, "ann").await;
    let mut bob = NativeUser::login(addr, "bob").await;
    ann.join("general").await;
    bob.join("general").await;
    let mut events = ann.subscribe(&[]).await;
    let question = ann.send("general", "lunch?").await;
    let answer = bob.try_reply("general", "yes", question.seq).await.unwrap();
    assert_eq!(answer.reply_to, question.seq);
    assert_eq!(next_message(&mut events).await.reply_to, 0, "not a reply");
    assert_eq!(next_message(&mut events).await.reply_to, question.seq);
    let page = ann.history("general", None, 10).await;
    let replies: Vec<u64> = page.messages.iter().map(|m| m.reply_to).collect();
    assert_eq!(replies, [0, question.seq], "history keeps it");

    let refused = bob
        .try_reply("general", "to nothing", 99)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        refused.message(),
        "there is no message 99 in room `general`"
    );
}
