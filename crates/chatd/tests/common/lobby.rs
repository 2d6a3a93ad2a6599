//! A lobby-protocol test client that does what the seed's console client
//! does: log in with Agent, keep a heartbeat, follow lobby chat and status,
//! and dial each channel at the address the Lobby hands out.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use chat_proto::lobby::agent_client::AgentClient;
use chat_proto::lobby::channel_client::ChannelClient;
use chat_proto::lobby::command_reply::Status as Outcome;
use chat_proto::lobby::command_request::Status as Command;
use chat_proto::lobby::heartbeat_client::HeartbeatClient;
use chat_proto::lobby::lobby_client::LobbyClient;
use chat_proto::lobby::status_reply::Status as StatusKind;
use chat_proto::lobby::{
    Chat, CommandReply, CommandRequest, HeartbeatReply, HeartbeatRequest, LoginReply, LoginRequest,
    StatusReply, UserRequest,
};
use tonic::Streaming;
use tonic::transport::Channel;

use super::{PATIENCE, connect_from};

/// Where test clients connect from unless told otherwise.
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A logged-in lobby-protocol user with its streams open.
pub struct LobbyUser {
    pub index: i32,
    /// The address it connects from.
    pub source: IpAddr,
    pub lobby: LobbyClient<Channel>,
    pub heartbeats: Streaming<HeartbeatReply>,
    pub lobby_chat: Streaming<Chat>,
    pub lobby_status: Streaming<StatusReply>,
    pub channel: Option<ChannelSeat>,
}

/// The user's connection to the channel it is in.
pub struct ChannelSeat {
    pub port: i32,
    pub client: ChannelClient<Channel>,
    pub chat: Streaming<Chat>,
    pub status: Streaming<StatusReply>,
}

/// Dials a `host:port` address as the server handed it out.
pub async fn dial(address: &str) -> Channel {
    dial_from(LOCALHOST, address).await
}

/// Dials `address` from the loopback address `source`.
pub async fn dial_from(source: IpAddr, address: &str) -> Channel {
    let addr: SocketAddr = address
        .parse()
        .unwrap_or_else(|_| panic!("the server handed out {address:?}, not host:port"));
    connect_from(source, addr).await
}

impl LobbyUser {
    /// Logs in at `agent` and opens the user's heartbeat, lobby chat and
    /// lobby status streams at the addresses the Agent hands out.
    pub async fn login(agent: SocketAddr) -> Self {
        Self::login_from(LOCALHOST, agent).await
    }

    /// As [`login`](Self::login), every connection from the loopback
    /// address `source`.
    pub async fn login_from(source: IpAddr, agent: SocketAddr) -> Self {
        let reply = agent_login_from(source, agent).await;
        let index = reply.index;
        let heartbeats = HeartbeatClient::new(dial_from(source, &reply.heartbeat_ip).await)
            .try_heartbeat(HeartbeatRequest { index })
            .await
            .expect("TryHeartbeat")
            .into_inner();
        Self::with_heartbeats_from(source, index, &reply.lobby_ip, heartbeats).await
    }

    /// Like [`login`](Self::login) with the heartbeat already opened.
    pub async fn with_heartbeats(
        index: i32,
        lobby_address: &str,
        heartbeats: Streaming<HeartbeatReply>,
    ) -> Self {
        Self::with_heartbeats_from(LOCALHOST, index, lobby_address, heartbeats).await
    }

    async fn with_heartbeats_from(
        source: IpAddr,
        index: i32,
        lobby_address: &str,
        heartbeats: Streaming<HeartbeatReply>,
    ) -> Self {
        let mut lobby = LobbyClient::new(dial_from(source, lobby_address).await);
        let lobby_chat = lobby
            .try_chat_receive(Chat { index, text: None })
            .await
            .expect("lobby TryChatReceive")
            .into_inner();
        let lobby_status = lobby
            .try_status_request(UserRequest { index })
            .await
            .expect("lobby TryStatusRequest")
            .into_inner();
        LobbyUser {
            index,
            source,
            lobby,
            heartbeats,
            lobby_chat,
            lobby_status,
            channel: None,
        }
    }

    pub async fn command(&mut self, command: Command, channel: Option<i32>) -> CommandReply {
        self.lobby
            .try_command(CommandRequest {
                status: command.into(),
                index: self.index,
                channel,
            })
            .await
            .expect("TryCommand")
            .into_inner()
    }

    /// `/all TEXT`: chat in the lobby.
    pub async fn all(&mut self, text: &str) {
        self.lobby
            .try_chat_send(chat(self.index, text))
            .await
            .expect("lobby TryChatSend");
    }

    /// `/make`: opens a channel and enters it. Returns its number.
    pub async fn make(&mut self) -> i32 {
        let reply = self.command(Command::MakeChannel, None).await;
        assert_success(&reply);
        let port = reply.channels[0];
        self.enter(port, reply.address.as_deref().expect("an address"))
            .await;
        port
    }

    /// `/join N`: enters channel `port`.
    pub async fn join(&mut self, port: i32) {
        let reply = self.command(Command::JoinChannel, Some(port)).await;
        assert_success(&reply);
        assert_eq!(reply.channels, [port]);
        self.enter(port, reply.address.as_deref().expect("an address"))
            .await;
    }

    /// Opens the channel's streams the way the console client does.
    async fn enter(&mut self, port: i32, address: &str) {
        assert!(
            address.ends_with(&format!(":{port}")),
            "{address} is not channel {port}"
        );
        let mut client = ChannelClient::new(dial_from(self.source, address).await);
        let index = self.index;
        let status = client
            .try_status_request(UserRequest { index })
            .await
            .expect("channel TryStatusRequest")
            .into_inner();
        let chat = client
            .try_chat_receive(Chat { index, text: None })
            .await
            .expect("channel TryChatReceive")
            .into_inner();
        self.channel = Some(ChannelSeat {
            port,
            client,
            chat,
            status,
        });
    }

    /// `/leave`: leaves the channel. Returns its streams, to watch them end.
    pub async fn leave(&mut self) -> ChannelSeat {
        let reply = self.command(Command::LeaveChannel, None).await;
        assert_success(&reply);
        let seat = self.channel.take().expect("in a channel");
        assert_eq!(reply.channels, [seat.port]);
        seat
    }

    /// Chats in the channel the user is in.
    pub async fn say(&mut self, text: &str) {
        let index = self.index;
        let seat = self.channel.as_mut().expect("in a channel");
        seat.client
            .try_chat_send(chat(index, text))
            .await
            .expect("channel TryChatSend");
    }

    pub fn seat(&mut self) -> &mut ChannelSeat {
        self.channel.as_mut().expect("in a channel")
    }
}

/// Logs a user in at `agent`, and nothing more.
pub async fn agent_login(agent: SocketAddr) -> LoginReply {
    agent_login_from(LOCALHOST, agent).await
}

/// Logs a user in at `agent` from the loopback address `source`.
pub async fn agent_login_from(source: IpAddr, agent: SocketAddr) -> LoginReply {
    AgentClient::new(connect_from(source, agent).await)
        .try_login(LoginRequest {
            ip: "127.0.0.1".into(),
        })
        .await
        .expect("TryLogin")
        .into_inner()
}

pub fn chat(index: i32, text: &str) -> Chat {
    Chat {
        index,
        text: Some(text.to_owned()),
    }
}

pub fn status(kind: StatusKind, index: i32, channel: i32) -> StatusReply {
    StatusReply {
        status: kind.into(),
        index,
        channel: Some(channel),
    }
}

pub fn assert_success(reply: &CommandReply) {
    assert_eq!(reply.status, Some(Outcome::Success.into()), "{reply:?}");
}

pub fn assert_failure(reply: &CommandReply) {
    assert_eq!(reply.status, Some(Outcome::Failure.into()), "{reply:?}");
}

/// The next item of a stream, failing the test if it ends, fails or is late.
pub async fn next<T>(stream: &mut Streaming<T>) -> T {
    match tokio::time::timeout(PATIENCE, stream.message()).await {
        Ok(Ok(Some(item))) => item,
        Ok(Ok(None)) => panic!("the stream ended"),
        Ok(Err(status)) => panic!("the stream failed: {status}"),
        Err(_) => panic!("nothing arrived within {PATIENCE:?}"),
    }
}

/// Waits for a stream to end, failing the test unless it ends cleanly.
pub async fn ends_cleanly<T>(stream: &mut Streaming<T>) {
    loop {
        match tokio::time::timeout(PATIENCE, stream.message())
            .await
            .expect("the stream did not end")
        {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(status) => panic!("the stream ended with {status}"),
        }
    }
}
