//! The lobby protocol over real loopback TCP: the seed console's session,
//! liveness, bad input, and bridging to the other protocols.

mod common;

use chat_proto::lobby::channel_client::ChannelClient;
use chat_proto::lobby::command_request::Status as Command;
use chat_proto::lobby::heartbeat_client::HeartbeatClient;
use chat_proto::lobby::lobby_client::LobbyClient;
use chat_proto::lobby::status_reply::Status as StatusKind;
use chat_proto::lobby::user_lives_reply::Status as Liveness;
use chat_proto::lobby::{Chat, CommandRequest, HeartbeatRequest, StatusReply, UserRequest};
use common::lobby::*;
use common::proxy::Proxy;
use common::*;
use tonic::Code;

fn join_user(index: i32, channel: i32) -> StatusReply {
    status(StatusKind::JoinUser, index, channel)
}

fn leave_user(index: i32, channel: i32) -> StatusReply {
    status(StatusKind::LeaveUser, index, channel)
}

fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    result.map(|_| ()).unwrap_err().code()
}

async fn is_live(server: &TestServer, index: i32) -> bool {
    let reply = HeartbeatClient::new(connect(server.addrs.heartbeat).await)
        .try_user_lives(UserRequest { index })
        .await
        .unwrap()
        .into_inner();
    reply.status() == Liveness::Live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_console_session_works_end_to_end() {
    let server = TestServer::start(&[]).await;
    let mut ann = LobbyUser::login(server.addrs.agent).await;
    let mut bob = LobbyUser::login(server.addrs.agent).await;
    assert_eq!((ann.index, bob.index), (1, 2));
    // Ann hears Bob arrive in the lobby.
    assert_eq!(next(&mut ann.lobby_status).await, join_user(2, 0));

    // /make: Ann opens a channel on a pool port and is in it.
    let port = ann.make().await;
    let pool: Vec<i32> = server
        .addrs
        .channels
        .iter()
        .map(|a| i32::from(a.port()))
        .collect();
    assert!(pool.contains(&port), "{port} is not from the pool {pool:?}");
    assert_eq!(next(&mut ann.seat().status).await, join_user(1, port));

    // /list
    let list = bob.command(Command::ListChannels, None).await;
    assert_success(&list);
    assert_eq!(list.channels, [port]);

    // /join N: both hear Bob join, Bob included.
    bob.join(port).await;
    assert_eq!(next(&mut ann.seat().status).await, join_user(2, port));
    assert_eq!(next(&mut bob.seat().status).await, join_user(2, port));

    // Chat in the channel reaches the other member, not the sender.
    ann.say("안녕 Bob! 🎉").await;
    assert_eq!(next(&mut bob.seat().chat).await, chat(1, "안녕 Bob! 🎉"));
    bob.say("hi Ann").await;
    assert_eq!(next(&mut ann.seat().chat).await, chat(2, "hi Ann"));

    // /all: lobby chat reaches the others, not the sender.
    let mut cat = LobbyUser::login(server.addrs.agent).await;
    ann.all("hello lobby").await;
    assert_eq!(next(&mut bob.lobby_chat).await, chat(1, "hello lobby"));
    assert_eq!(next(&mut cat.lobby_chat).await, chat(1, "hello lobby"));
    cat.all("hi from the lobby").await;
    // Ann's next lobby chat is Cat's: her own was not echoed.
    assert_eq!(
        next(&mut ann.lobby_chat).await,
        chat(3, "hi from the lobby")
    );

    // /user: a channel's members, or everyone with their channel.
    let members = ann.command(Command::ListUsers, Some(port)).await;
    assert_success(&members);
    assert_eq!(
        (members.users, members.channels),
        (vec![1, 2], vec![port, port])
    );
    let everyone = ann.command(Command::ListUsers, None).await;
    assert_eq!(
        (everyone.users, everyone.channels),
        (vec![1, 2, 3], vec![port, port, 0])
    );

    // /leave: Ann hears Bob go; Bob's channel streams end.
    let mut bob_seat = bob.leave().await;
    assert_eq!(next(&mut ann.seat().status).await, leave_user(2, port));
    ends_cleanly(&mut bob_seat.chat).await;
    ends_cleanly(&mut bob_seat.status).await;

    // The last one out closes the channel, and its port goes back to the pool.
    let mut ann_seat = ann.leave().await;
    ends_cleanly(&mut ann_seat.status).await;
    ends_cleanly(&mut ann_seat.chat).await;
    assert!(
        bob.command(Command::ListChannels, None)
            .await
            .channels
            .is_empty()
    );
    assert_eq!(server.engine.room_names(), ["general", "lobby"]);
    assert_eq!(bob.make().await, port, "the freed port is used again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_that_vanishes_is_removed_at_once_and_its_channel_told() {
    let server = TestServer::start(&[]).await;
    let mut ann = LobbyUser::login(server.addrs.agent).await;
    let port = ann.make().await;
    next(&mut ann.seat().status).await;

    // Bob runs on a runtime of his own, which is dropped: every one of his
    // connections closes with no goodbye.
    let agent = server.addrs.agent;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (runtime, bob) = std::thread::spawn(move || {
        let bob = runtime.block_on(async {
            let mut bob = LobbyUser::login(agent).await;
            bob.join(port).await;
            next(&mut bob.seat().status).await;
            bob
        });
        (runtime, bob)
    })
    .join()
    .unwrap();
    let bob_index = bob.index;
    assert_eq!(next(&mut ann.lobby_status).await, join_user(bob_index, 0));
    assert_eq!(
        next(&mut ann.seat().status).await,
        join_user(bob_index, port)
    );
    assert!(is_live(&server, bob_index).await);

    std::thread::spawn(move || {
        runtime.shutdown_background();
        drop(bob);
    })
    .join()
    .unwrap();
    assert_eq!(
        next(&mut ann.seat().status).await,
        leave_user(bob_index, port)
    );
    assert_eq!(next(&mut ann.lobby_status).await, leave_user(bob_index, 0));
    assert!(!is_live(&server, bob_index).await);
    let everyone = ann.command(Command::ListUsers, None).await;
    assert_eq!(everyone.users, [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_connection_goes_silent_is_removed() {
    // A ping unanswered for 1 s drops the connection; Ann's own connection
    // answers in time even on a loaded machine.
    let server =
        TestServer::start(&["--heartbeat-interval", "200ms", "--heartbeat-timeout", "1s"]).await;
    let mut ann = LobbyUser::login(server.addrs.agent).await;
    let port = ann.make().await;
    next(&mut ann.seat().status).await;

    // Bob's heartbeat runs through a proxy that will go silent.
    let proxy = Proxy::start(server.addrs.heartbeat).await;
    let login = agent_login(server.addrs.agent).await;
    let heartbeats = HeartbeatClient::new(connect(proxy.addr).await)
        .try_heartbeat(HeartbeatRequest { index: login.index })
        .await
        .unwrap()
        .into_inner();
    let mut bob = LobbyUser::with_heartbeats(login.index, &login.lobby_ip, heartbeats).await;
    bob.join(port).await;
    assert_eq!(
        next(&mut ann.seat().status).await,
        join_user(bob.index, port)
    );
    next(&mut bob.heartbeats).await;

    proxy.go_silent();
    // The server's keepalive pings go unanswered; it drops the connection
    // and with it Bob, whose other streams end.
    assert_eq!(
        next(&mut ann.seat().status).await,
        leave_user(bob.index, port)
    );
    assert!(!is_live(&server, bob.index).await);
    ends_cleanly(&mut bob.seat().status).await;
    ends_cleanly(&mut bob.lobby_chat).await;
}

#[tokio::test]
async fn a_user_that_never_sends_a_heartbeat_is_removed() {
    let server = TestServer::start(&[
        "--heartbeat-interval",
        "100ms",
        "--heartbeat-timeout",
        "100ms",
    ])
    .await;
    let login = agent_login(server.addrs.agent).await;
    assert!(is_live(&server, login.index).await);
    let mut lobby = LobbyClient::new(dial(&login.lobby_ip).await);
    let mut lobby_status = lobby
        .try_status_request(UserRequest { index: login.index })
        .await
        .unwrap()
        .into_inner();
    // Removed without a heartbeat: its status stream says QUIT and ends.
    assert_eq!(
        next(&mut lobby_status).await,
        status(StatusKind::Quit, login.index, 0)
    );
    ends_cleanly(&mut lobby_status).await;
    assert!(!is_live(&server, login.index).await);
}

#[tokio::test]
async fn heartbeats_come_at_once_and_then_every_interval() {
    let server = TestServer::start(&["--heartbeat-interval", "50ms"]).await;
    let mut ann = LobbyUser::login(server.addrs.agent).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let first = next(&mut ann.heartbeats).await.time;
    assert!((first - now).abs() <= 2, "server time {first}, ours {now}");
    for _ in 0..3 {
        assert!(next(&mut ann.heartbeats).await.time >= first);
    }
}

#[tokio::test]
async fn bad_commands_get_failure_and_the_server_goes_on() {
    let server = TestServer::start(&[]).await;
    let mut ann = LobbyUser::login(server.addrs.agent).await;
    let mut lobby = ann.lobby.clone();
    let raw = |status, index, channel| CommandRequest {
        status,
        index,
        channel,
    };
    // An unknown user index, and an unknown command value.
    let reply = lobby
        .try_command(raw(Command::ListChannels.into(), 99, None))
        .await
        .unwrap()
        .into_inner();
    assert_failure(&reply);
    let reply = lobby
        .try_command(raw(42, ann.index, None))
        .await
        .unwrap()
        .into_inner();
    assert_failure(&reply);
    // A channel that does not exist, or no channel at all.
    assert_failure(&ann.command(Command::JoinChannel, Some(4242)).await);
    assert_failure(&ann.command(Command::JoinChannel, None).await);
    // Leaving when in no channel.
    assert_failure(&ann.command(Command::LeaveChannel, None).await);

    // A make when every port of the pool (4 here) is taken, by users from
    // addresses of their own.
    let mut makers = Vec::new();
    for n in 0..4 {
        let source = std::net::Ipv4Addr::new(127, 0, 3, n + 1).into();
        let mut user = LobbyUser::login_from(source, server.addrs.agent).await;
        user.make().await;
        makers.push(user);
    }
    let reply = ann.command(Command::MakeChannel, None).await;
    assert_failure(&reply);
    assert!(reply.address.is_none() && reply.channels.is_empty());

    // Still serving.
    assert_eq!(
        ann.command(Command::ListChannels, None)
            .await
            .channels
            .len(),
        4
    );
}

#[tokio::test]
async fn bad_calls_without_a_status_field_get_a_grpc_status() {
    let server = TestServer::start(&[]).await;
    let mut ann = LobbyUser::login(server.addrs.agent).await;
    let mut lobby = ann.lobby.clone();

    assert_eq!(
        code(lobby.try_chat_send(chat(99, "hi")).await),
        Code::NotFound
    );
    assert_eq!(
        code(
            lobby
                .try_chat_send(Chat {
                    index: ann.index,
                    text: None
                })
                .await
        ),
        Code::InvalidArgument
    );
    assert_eq!(
        code(
            lobby
                .try_chat_send(chat(ann.index, &"x".repeat(4097)))
                .await
        ),
        Code::InvalidArgument
    );
    assert_eq!(
        code(lobby.try_chat_receive(chat(99, "")).await),
        Code::NotFound
    );
    assert_eq!(
        code(lobby.try_status_request(UserRequest { index: 99 }).await),
        Code::NotFound
    );
    assert_eq!(
        code(lobby.try_user_remove(UserRequest { index: 99 }).await),
        Code::NotFound
    );
    let mut heartbeat = HeartbeatClient::new(connect(server.addrs.heartbeat).await);
    assert_eq!(
        code(
            heartbeat
                .try_heartbeat(HeartbeatRequest { index: 99 })
                .await
        ),
        Code::NotFound
    );

    // A channel port with no channel open on it.
    let mut idle_port = ChannelClient::new(connect(server.addrs.channels[3]).await);
    let status = idle_port
        .try_chat_send(chat(ann.index, "hi"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains("no open channel"),
        "{}",
        status.message()
    );

    // Sending to a channel one is not in.
    let mut bob = LobbyUser::login(server.addrs.agent).await;
    let port = bob.make().await;
    let mut bobs_channel = bob.seat().client.clone();
    let status = bobs_channel
        .try_chat_send(chat(ann.index, "let me in"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains(&format!("not in channel {port}")),
        "{}",
        status.message()
    );

    // Still serving.
    ann.all("still here").await;
    assert_eq!(
        next(&mut bob.lobby_chat).await,
        chat(ann.index, "still here")
    );
}

#[tokio::test]
async fn user_exit_and_remove_take_users_out() {
    let server = TestServer::start(&[]).await;
    let mut ann = LobbyUser::login(server.addrs.agent).await;
    let mut bob = LobbyUser::login(server.addrs.agent).await;
    assert_eq!(next(&mut ann.lobby_status).await, join_user(bob.index, 0));
    let port = ann.make().await;
    next(&mut ann.seat().status).await;
    bob.join(port).await;
    assert_eq!(
        next(&mut ann.seat().status).await,
        join_user(bob.index, port)
    );

    // Channel.TryUserRemove: out of the channel, still logged in.
    let mut channel = ann.seat().client.clone();
    channel
        .try_user_remove(UserRequest { index: bob.index })
        .await
        .unwrap();
    assert_eq!(
        next(&mut ann.seat().status).await,
        leave_user(bob.index, port)
    );
    assert!(is_live(&server, bob.index).await);

    // TryUserExit: QUIT for a user that was there, OK for one that was not.
    let mut lobby = ann.lobby.clone();
    let exit = lobby
        .try_user_exit(UserRequest { index: bob.index })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exit.status(), StatusKind::Quit);
    assert_eq!(
        next(&mut bob.lobby_status).await,
        status(StatusKind::Quit, bob.index, 0)
    );
    ends_cleanly(&mut bob.heartbeats).await;
    assert_eq!(next(&mut ann.lobby_status).await, leave_user(bob.index, 0));
    let again = lobby
        .try_user_exit(UserRequest { index: bob.index })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.status(), StatusKind::Ok);

    // Lobby.TryUserRemove takes a user out of the server.
    let cat = LobbyUser::login(server.addrs.agent).await;
    assert_eq!(next(&mut ann.lobby_status).await, join_user(cat.index, 0));
    lobby
        .try_user_remove(UserRequest { index: cat.index })
        .await
        .unwrap();
    assert_eq!(next(&mut ann.lobby_status).await, leave_user(cat.index, 0));
    assert!(!is_live(&server, cat.index).await);
}

#[tokio::test]
async fn the_lobby_is_a_room_that_classic_clients_can_share() {
    let server = TestServer::start(&["--classic-room", "lobby"]).await;
    let mut ann = LobbyUser::login(server.addrs.agent).await;
    let mut classic = server.classic_client().await;
    let mut notes = chat_stream(&mut classic).await;
    server.engine.room("lobby");
    wait_until(
        || server.engine.room("lobby").subscriber_count() == 2,
        || "subscribers".into(),
    )
    .await;

    send(&mut classic, "지민", "hello lobby users")
        .await
        .unwrap();
    assert_eq!(
        next(&mut ann.lobby_chat).await,
        chat(0, "지민: hello lobby users")
    );
    ann.all("hello classic").await;
    let got = read_notes(&mut notes, 2).await;
    assert_eq!(
        got,
        [
            note("지민", "hello lobby users"),
            note("user-1", "hello classic")
        ]
    );
}
