//! The lobby and classic protocols have no tokens: a lobby index is tied
//! to the address that logged in, `user-N` names belong to lobby users in
//! every spelling, and one address takes only so many channels.

use chat_proto::lobby::command_reply::Status as Outcome;
use chat_proto::lobby::command_request::Status as Command;
use chat_proto::lobby::heartbeat_client::HeartbeatClient;
use chat_proto::lobby::user_lives_reply::Status as Liveness;
use chat_proto::lobby::{Chat, CommandRequest, HeartbeatRequest, UserRequest};
use tonic::Code;

use crate::common::lobby::{LobbyUser, agent_login, assert_failure, chat, dial_from, next};
use crate::common::native::{NativeUser, PASSWORD};
use crate::common::*;
use chat_proto::lobby::channel_client::ChannelClient;
use chat_proto::lobby::lobby_client::LobbyClient;
use chat_testkit::hostile::attacker_ip;

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    result.map(drop).unwrap_err().code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lobby_index_is_used_only_from_the_address_that_logged_in() {
    let server = TestServer::start(&[]).await;
    let addrs = &server.addrs;
    let mut victim = LobbyUser::login(addrs.agent).await;
    let port = victim.make().await;
    let index = victim.index;
    let from = attacker_ip(40);
    let lobby_address = addrs.lobby.to_string();
    let mut lobby = LobbyClient::new(dial_from(from, &lobby_address).await);
    let channel_address = format!("127.0.0.1:{port}");
    let mut channel = ChannelClient::new(dial_from(from, &channel_address).await);
    let mut heartbeat = HeartbeatClient::new(dial_from(from, &addrs.heartbeat.to_string()).await);
    let denied = Code::PermissionDenied;

    // Speaking, listening and acting as the victim, on every service.
    assert_eq!(
        code(lobby.try_chat_send(chat(index, "I am the victim")).await),
        denied
    );
    assert_eq!(
        code(lobby.try_chat_receive(Chat { index, text: None }).await),
        denied
    );
    assert_eq!(
        code(lobby.try_status_request(UserRequest { index }).await),
        denied
    );
    assert_eq!(
        code(channel.try_chat_send(chat(index, "me too")).await),
        denied
    );
    assert_eq!(
        code(channel.try_chat_receive(Chat { index, text: None }).await),
        denied
    );
    assert_eq!(
        code(channel.try_status_request(UserRequest { index }).await),
        denied
    );
    assert_eq!(
        code(channel.try_user_remove(UserRequest { index }).await),
        denied
    );
    assert_eq!(
        code(heartbeat.try_heartbeat(HeartbeatRequest { index }).await),
        denied
    );
    let lives = heartbeat
        .try_user_lives(UserRequest { index })
        .await
        .unwrap();
    assert_eq!(lives.into_inner().status(), Liveness::Unknown);
    for command in [
        Command::MakeChannel,
        Command::LeaveChannel,
        Command::ListChannels,
    ] {
        let reply = lobby
            .try_command(CommandRequest {
                status: command.into(),
                index,
                channel: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.status, Some(Outcome::Failure.into()), "{command:?}");
    }
    assert_eq!(
        code(lobby.try_user_remove(UserRequest { index }).await),
        denied
    );
    assert_eq!(
        code(lobby.try_user_exit(UserRequest { index }).await),
        denied
    );

    // The victim is still in, in its channel, and nobody spoke for it.
    let mut own =
        HeartbeatClient::new(dial_from(victim.source, &addrs.heartbeat.to_string()).await);
    let lives = own.try_user_lives(UserRequest { index }).await.unwrap();
    assert_eq!(lives.into_inner().status(), Liveness::Live);
    assert_eq!(
        victim.command(Command::ListUsers, Some(port)).await.users,
        [index]
    );
    let mut listener = LobbyUser::login(addrs.agent).await;
    victim.all("still me").await;
    assert_eq!(
        next(&mut listener.lobby_chat).await,
        chat(index, "still me")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_look_like_a_lobby_users_are_refused_on_every_protocol() {
    let server = TestServer::start(&[]).await;
    let native = server.addrs.native;
    for guest in ["User-4", "user-５", "USER-6"] {
        let refused = NativeUser::try_login(native, guest).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{guest}");
        assert!(refused.message().contains("lobby"), "{refused:?}");
    }
    let registered = NativeUser::try_register(native, "uSer-7", PASSWORD).await;
    assert_eq!(code(registered), Code::InvalidArgument);
    let mut classic = server.classic_client().await;
    for sender in ["User-1", "user-１"] {
        assert_eq!(
            code(send(&mut classic, sender, "hi").await),
            Code::InvalidArgument
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lobby_login_passes_over_an_index_whose_name_is_held() {
    let server = TestServer::start(&[]).await;
    // Held from before names were compared so: an account loaded from the
    // store, and a guest logged in.
    server.engine.names().register_stored("uSer-2").unwrap();
    let _guest = server.engine.names().claim_here("USER-3").unwrap();
    let first = agent_login(server.addrs.agent).await.index;
    let second = agent_login(server.addrs.agent).await.index;
    assert_eq!((first, second), (1, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_makes_only_so_many_channels() {
    // Two each, by default.
    let server = TestServer::start(&[]).await;
    let agent = server.addrs.agent;
    let from = attacker_ip(41);
    let mut makers = Vec::new();
    for _ in 0..3 {
        makers.push(LobbyUser::login_from(from, agent).await);
    }
    makers[0].make().await;
    makers[1].make().await;
    let third = makers[2].command(Command::MakeChannel, None).await;
    assert_failure(&third);
    // The pool (4 ports) still has room for everyone else.
    let mut other = LobbyUser::login(agent).await;
    other.make().await;
    // A channel closed is one more the address may make.
    drop(makers[1].leave().await);
    makers[2].make().await;
}
