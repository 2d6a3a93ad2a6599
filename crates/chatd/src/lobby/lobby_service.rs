//! `Lobby`: lobby chat, commands and each user's status feed.

use std::net::IpAddr;

use crate::metrics::SendMeter;
use chat_proto::lobby::command_reply::Status as Outcome;
use chat_proto::lobby::command_request::Status as Command;
use chat_proto::lobby::lobby_server::Lobby;
use chat_proto::lobby::status_reply::Status as StatusKind;
use chat_proto::lobby::{Chat, CommandReply, CommandRequest, Empty, StatusReply, UserRequest};
use tonic::{Request, Response, Status};

use super::chat::{ChatStream, StatusEnds, StatusStream, chat_stream, post_chat, status_stream};
use super::hub::{HubError, LobbyHub};
use super::peer_address;
use crate::address_rate::AddressRate;
use crate::files::FileLinks;
use crate::status;

pub struct LobbyService {
    hub: LobbyHub,
    /// The host part of channel addresses handed to clients.
    advertised_host: String,
    rate: AddressRate,
    links: FileLinks,
}

impl LobbyService {
    pub fn new(
        hub: LobbyHub,
        advertised_host: String,
        rate: AddressRate,
        links: FileLinks,
    ) -> Self {
        LobbyService {
            hub,
            advertised_host,
            rate,
            links,
        }
    }

    /// Runs `request` for a user logged in from `from`.
    fn command(&self, request: CommandRequest, from: IpAddr) -> Result<CommandReply, HubError> {
        let command = Command::try_from(request.status)
            .map_err(|_| HubError::UnknownCommand(request.status))?;
        let index = request.index;
        self.hub.user(index, from)?;
        let reply = match command {
            Command::ListChannels => success(None, self.hub.channels()),
            Command::MakeChannel => {
                let port = self.hub.make_channel(index)?;
                success(Some(self.address(port)), vec![port])
            }
            Command::JoinChannel => {
                let port = request.channel.ok_or(HubError::MissingChannel)?;
                self.hub.join_channel(index, port)?;
                success(Some(self.address(port)), vec![port])
            }
            Command::LeaveChannel => success(None, vec![self.hub.leave_channel(index)?]),
            Command::ListUsers => {
                let (users, channels) = self.hub.users(request.channel).into_iter().unzip();
                CommandReply {
                    users,
                    ..success(None, channels)
                }
            }
        };
        Ok(reply)
    }

    fn address(&self, port: i32) -> String {
        format!("{}:{port}", self.advertised_host)
    }
}

fn success(address: Option<String>, channels: Vec<i32>) -> CommandReply {
    CommandReply {
        status: Some(Outcome::Success.into()),
        address,
        channels,
        users: Vec::new(),
    }
}

#[tonic::async_trait]
impl Lobby for LobbyService {
    type TryChatReceiveStream = ChatStream;
    type TryStatusRequestStream = StatusStream;

    /// Posts to the lobby; every other lobby user gets it.
    async fn try_chat_send(&self, request: Request<Chat>) -> Result<Response<Empty>, Status> {
        let meter = SendMeter::start(&request);
        let sent = async {
            self.rate.check(&request)?;
            let from = peer_address(&request)?;
            let Chat { index, text } = request.into_inner();
            self.hub.user(index, from).map_err(status::from_hub)?;
            post_chat(self.hub.lobby(), index, text).await?;
            Ok::<_, Status>(Response::new(Empty {}))
        }
        .await;
        meter.finish(&sent);
        sent
    }

    /// Lobby chat from everyone but the user, live, until the user is gone.
    async fn try_chat_receive(
        &self,
        request: Request<Chat>,
    ) -> Result<Response<ChatStream>, Status> {
        let from = peer_address(&request)?;
        let (_, extensions, chat) = request.into_parts();
        let index = chat.index;
        let gone = self.hub.user(index, from).map_err(status::from_hub)?;
        Ok(Response::new(chat_stream(
            self.hub.lobby(),
            index,
            gone,
            &extensions,
            self.links.clone(),
        )))
    }

    async fn try_user_remove(
        &self,
        request: Request<UserRequest>,
    ) -> Result<Response<Empty>, Status> {
        let from = peer_address(&request)?;
        let index = request.into_inner().index;
        self.hub.user(index, from).map_err(status::from_hub)?;
        self.hub
            .remove_user(index, "removed by Lobby.TryUserRemove");
        Ok(Response::new(Empty {}))
    }

    /// Runs a command; any failure is `FAILURE` in the reply.
    async fn try_command(
        &self,
        request: Request<CommandRequest>,
    ) -> Result<Response<CommandReply>, Status> {
        let from = peer_address(&request)?;
        let request = request.into_inner();
        let reply = self.command(request, from).unwrap_or_else(|error| {
            tracing::debug!(%error, ?request, "command failed");
            CommandReply {
                status: Some(Outcome::Failure.into()),
                ..CommandReply::default()
            }
        });
        Ok(Response::new(reply))
    }

    /// The user exits: `QUIT` if it was logged in (and now is not), `OK` if
    /// it was already gone.
    async fn try_user_exit(
        &self,
        request: Request<UserRequest>,
    ) -> Result<Response<StatusReply>, Status> {
        let from = peer_address(&request)?;
        let index = request.into_inner().index;
        if let Err(refused @ HubError::NotYours(_)) = self.hub.user(index, from) {
            return Err(status::from_hub(refused));
        }
        let kind = if self.hub.remove_user(index, "exited by Lobby.TryUserExit") {
            StatusKind::Quit
        } else {
            StatusKind::Ok
        };
        Ok(Response::new(StatusReply {
            status: kind.into(),
            index,
            channel: None,
        }))
    }

    /// Lobby users logging in and out, then `QUIT` when the user is removed.
    async fn try_status_request(
        &self,
        request: Request<UserRequest>,
    ) -> Result<Response<StatusStream>, Status> {
        let from = peer_address(&request)?;
        let index = request.into_inner().index;
        let events = self.hub.lobby().watch_members();
        let gone = self.hub.user(index, from).map_err(status::from_hub)?;
        let ends = StatusEnds {
            ended: gone.clone(),
            gone,
            shutdown: self.hub.shutdown().clone(),
        };
        Ok(Response::new(status_stream(events, 0, index, None, ends)))
    }
}
