//! `Channel`: one chat room per port. A single service serves every port of
//! the pool and tells channels apart by the port a call arrived on.

use crate::metrics::SendMeter;
use chat_proto::lobby::channel_server::Channel;
use chat_proto::lobby::status_reply::Status as StatusKind;
use chat_proto::lobby::{Chat, Empty, UserRequest};
use tonic::{Request, Response, Status};

use super::chat::{
    ChatStream, StatusEnds, StatusStream, chat_stream, post_chat, status_reply, status_stream,
};
use super::hub::LobbyHub;
use super::peer_address;
use crate::address_rate::AddressRate;
use crate::files::FileLinks;
use crate::status;
use crate::transport::ConnectionInfo;

pub struct ChannelService {
    hub: LobbyHub,
    rate: AddressRate,
    links: FileLinks,
}

impl ChannelService {
    pub fn new(hub: LobbyHub, rate: AddressRate, links: FileLinks) -> Self {
        ChannelService { hub, rate, links }
    }
}

/// The channel a call is for: the port it arrived on.
fn channel_of<T>(request: &Request<T>) -> Result<i32, Status> {
    ConnectionInfo::of(request)
        .map(|info| i32::from(info.local_addr.port()))
        .ok_or_else(|| Status::internal("cannot tell which port the call arrived on"))
}

#[tonic::async_trait]
impl Channel for ChannelService {
    type TryChatReceiveStream = ChatStream;
    type TryStatusRequestStream = StatusStream;

    /// Posts to the channel; every other member gets it.
    async fn try_chat_send(&self, request: Request<Chat>) -> Result<Response<Empty>, Status> {
        let meter = SendMeter::start(&request);
        let sent = async {
            self.rate.check(&request)?;
            let channel = channel_of(&request)?;
            let from = peer_address(&request)?;
            let Chat { index, text } = request.into_inner();
            self.hub.user(index, from).map_err(status::from_hub)?;
            let (room, _) = self.hub.seat_in(index, channel).map_err(status::from_hub)?;
            post_chat(&room, index, text).await?;
            Ok::<_, Status>(Response::new(Empty {}))
        }
        .await;
        meter.finish(&sent);
        sent
    }

    /// Channel chat from the other members, live, until the user leaves.
    async fn try_chat_receive(
        &self,
        request: Request<Chat>,
    ) -> Result<Response<ChatStream>, Status> {
        let channel = channel_of(&request)?;
        let from = peer_address(&request)?;
        let (_, extensions, chat) = request.into_parts();
        let index = chat.index;
        self.hub.user(index, from).map_err(status::from_hub)?;
        let (room, left) = self.hub.seat_in(index, channel).map_err(status::from_hub)?;
        Ok(Response::new(chat_stream(
            &room,
            index,
            left,
            &extensions,
            self.links.clone(),
        )))
    }

    /// Takes the user out of this channel; the rest get `LEAVE_USER`.
    async fn try_user_remove(
        &self,
        request: Request<UserRequest>,
    ) -> Result<Response<Empty>, Status> {
        let channel = channel_of(&request)?;
        let from = peer_address(&request)?;
        let index = request.into_inner().index;
        self.hub.user(index, from).map_err(status::from_hub)?;
        self.hub
            .remove_from_channel(index, channel)
            .map_err(status::from_hub)?;
        Ok(Response::new(Empty {}))
    }

    /// Joins the user to this channel and streams members coming and going,
    /// starting with the user's own `JOIN_USER`, until it leaves.
    async fn try_status_request(
        &self,
        request: Request<UserRequest>,
    ) -> Result<Response<StatusStream>, Status> {
        let channel = channel_of(&request)?;
        let from = peer_address(&request)?;
        let index = request.into_inner().index;
        let gone = self.hub.user(index, from).map_err(status::from_hub)?;
        let room = self.hub.channel(channel).map_err(status::from_hub)?;
        // Watch first, so a join made now is seen on this stream.
        let events = room.watch_members();
        let newly_joined = self
            .hub
            .join_channel(index, channel)
            .map_err(status::from_hub)?;
        let (_, left) = self.hub.seat_in(index, channel).map_err(status::from_hub)?;
        // Already seated (by MAKE_CHANNEL or JOIN_CHANNEL): the others heard
        // the join then; the user hears its own now.
        let first = (!newly_joined).then(|| status_reply(StatusKind::JoinUser, index, channel));
        let ends = StatusEnds {
            ended: left,
            gone,
            shutdown: self.hub.shutdown().clone(),
        };
        Ok(Response::new(status_stream(
            events, channel, index, first, ends,
        )))
    }
}
