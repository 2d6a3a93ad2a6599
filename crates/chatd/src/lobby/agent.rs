//! `Agent`: logs users in and tells them where Heartbeat and Lobby are.

use chat_proto::lobby::agent_server::Agent;
use chat_proto::lobby::{LoginReply, LoginRequest};
use tonic::{Request, Response, Status};

use super::hub::LobbyHub;
use super::peer_address;
use crate::address_rate::AddressRate;
use crate::status;

pub struct AgentService {
    hub: LobbyHub,
    logins: AddressRate,
    heartbeat_address: String,
    lobby_address: String,
}

impl AgentService {
    /// `heartbeat_address` and `lobby_address` are `host:port` as clients
    /// should dial them.
    pub fn new(
        hub: LobbyHub,
        logins: AddressRate,
        heartbeat_address: String,
        lobby_address: String,
    ) -> Self {
        AgentService {
            hub,
            logins,
            heartbeat_address,
            lobby_address,
        }
    }
}

#[tonic::async_trait]
impl Agent for AgentService {
    async fn try_login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginReply>, Status> {
        self.logins.check(&request)?;
        let peer = peer_address(&request)?;
        let index = self.hub.login(peer).await.map_err(status::from_hub)?;
        tracing::debug!(index, %peer, ip = request.get_ref().ip, "login");
        Ok(Response::new(LoginReply {
            index,
            heartbeat_ip: self.heartbeat_address.clone(),
            lobby_ip: self.lobby_address.clone(),
        }))
    }
}
