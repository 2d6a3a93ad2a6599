//! The lobby protocol of the seed "Chat 2nd" (`spec/lobby_chat.proto`, no
//! package): `Agent` logs users in, `Heartbeat` keeps them alive, `Lobby`
//! runs commands and lobby chat, and `Channel` serves each channel on a
//! port of its own.
//!
//! The lobby is the engine room `lobby` and channel P the room
//! `channel-P`, so users of the other protocols share their messages. Lobby
//! chat and channel chat are not echoed to the sender.

use std::net::IpAddr;

use tonic::{Request, Status};

use crate::transport::ConnectionInfo;

mod agent;
mod channel;
mod chat;
mod heartbeat;
mod hub;
mod lobby_service;
mod serve;

pub use agent::AgentService;
pub use channel::ChannelService;
pub use heartbeat::HeartbeatService;
pub use hub::{HubError, LobbyHub, LobbyIdentity, UserIndexes};
pub use lobby_service::LobbyService;
pub use serve::{LobbyAddrs, LobbyListeners, LobbyServices, serve};

/// The address a call came from, which a lobby user's index is tied to
/// (an IPv4-mapped IPv6 address as IPv4, so it is one address whichever
/// way it arrived).
fn peer_address<T>(request: &Request<T>) -> Result<IpAddr, Status> {
    ConnectionInfo::of(request)
        .map(|info| info.remote_addr.ip().to_canonical())
        .ok_or_else(|| Status::internal("cannot tell where the call came from"))
}
