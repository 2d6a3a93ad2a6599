//! Binding and serving the lobby protocol's ports: Agent, Heartbeat,
//! Lobby, and one port per channel.

use crate::files::FileLinks;
use std::net::SocketAddr;

use chat_engine::Engine;
use chat_proto::lobby::agent_server::AgentServer;
use chat_proto::lobby::channel_server::ChannelServer;
use chat_proto::lobby::heartbeat_server::HeartbeatServer;
use chat_proto::lobby::lobby_server::LobbyServer;
use futures::StreamExt;
use futures::stream::select_all;
use tokio::net::TcpListener;

use super::{
    AgentService, ChannelService, HeartbeatService, LobbyHub, LobbyIdentity, LobbyService,
};
use crate::address_rate::AddressRate;
use crate::config::Lobby as LobbySettings;
use crate::metrics::Protocol;
use crate::serving::{Binding, Keepalive, Serving, bind, local_addr, log_listening};

/// Where the lobby protocol's services listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LobbyAddrs {
    pub agent: SocketAddr,
    pub heartbeat: SocketAddr,
    pub lobby: SocketAddr,
    /// The channel pool, in the order channels are handed out.
    pub channels: Vec<SocketAddr>,
}

/// The lobby protocol's bound listeners.
#[derive(Debug)]
pub struct LobbyListeners {
    agent: TcpListener,
    heartbeat: TcpListener,
    lobby: TcpListener,
    channels: Vec<TcpListener>,
}

impl LobbyListeners {
    /// Binds the services on their addresses, Lobby on `lobby`, and
    /// channels on the Lobby's host.
    /// Fails naming every address that could not be had.
    pub async fn bind(settings: &LobbySettings, lobby: SocketAddr) -> std::io::Result<Self> {
        let mut binding = Binding::default();
        let agent = binding.keep(bind(settings.agent_addr, "lobby Agent").await);
        let heartbeat = binding.keep(bind(settings.heartbeat_addr, "lobby Heartbeat").await);
        let lobby_listener = binding.keep(bind(lobby, "lobby Lobby").await);
        let mut channels = Vec::with_capacity(settings.channel_ports.0.len());
        for &port in &settings.channel_ports.0 {
            let addr = SocketAddr::new(lobby.ip(), port);
            channels.extend(binding.keep(bind(addr, "lobby channel").await));
        }
        binding.finish()?;
        let bound = "bound, as no binding failed";
        Ok(LobbyListeners {
            agent: agent.expect(bound),
            heartbeat: heartbeat.expect(bound),
            lobby: lobby_listener.expect(bound),
            channels,
        })
    }

    pub fn addrs(&self) -> LobbyAddrs {
        LobbyAddrs {
            agent: local_addr(&self.agent),
            heartbeat: local_addr(&self.heartbeat),
            lobby: local_addr(&self.lobby),
            channels: self.channels.iter().map(local_addr).collect(),
        }
    }
}

/// How the lobby protocol's users reach the engine, and at what pace.
pub struct LobbyServices {
    pub engine: Engine,
    pub identity: LobbyIdentity,
    pub login_rate: AddressRate,
    pub legacy_rate: AddressRate,
    /// Files in messages are shown as links in the text.
    pub links: FileLinks,
}

/// Serves the lobby protocol on `listeners` until shutdown. The lobby
/// room opens at once, before anything is served.
pub fn serve(
    listeners: LobbyListeners,
    settings: LobbySettings,
    services: LobbyServices,
    serving: Serving,
) -> impl Future<Output = ()> {
    let addrs = listeners.addrs();
    let channel_ports = addrs.channels.iter().map(|addr| i32::from(addr.port()));
    let hub = LobbyHub::new(
        services.engine,
        channel_ports,
        usize::try_from(settings.max_channels_per_address).unwrap_or(usize::MAX),
        settings.heartbeat_timeout,
        services.identity,
        serving.shutdown.clone(),
    );
    let host = &settings.advertised_host;
    let max_request = serving.max_request;
    let agent = AgentServer::new(AgentService::new(
        hub.clone(),
        services.login_rate,
        format!("{host}:{}", addrs.heartbeat.port()),
        format!("{host}:{}", addrs.lobby.port()),
    ))
    .max_decoding_message_size(max_request);
    let heartbeat = HeartbeatServer::new(HeartbeatService::new(
        hub.clone(),
        settings.heartbeat_interval,
    ))
    .max_decoding_message_size(max_request);
    let lobby = LobbyServer::new(LobbyService::new(
        hub.clone(),
        host.clone(),
        services.legacy_rate.clone(),
        services.links.clone(),
    ))
    .max_decoding_message_size(max_request);
    let channel = ChannelServer::new(ChannelService::new(
        hub.clone(),
        services.legacy_rate,
        services.links,
    ))
    .max_decoding_message_size(max_request);
    let servers = LobbyServers {
        agent,
        heartbeat,
        lobby,
        channel,
    };
    run(listeners, addrs, settings, hub, servers, serving)
}

/// The lobby protocol's four services.
struct LobbyServers {
    agent: AgentServer<AgentService>,
    heartbeat: HeartbeatServer<HeartbeatService>,
    lobby: LobbyServer<LobbyService>,
    channel: ChannelServer<ChannelService>,
}

async fn run(
    listeners: LobbyListeners,
    addrs: LobbyAddrs,
    settings: LobbySettings,
    hub: LobbyHub,
    servers: LobbyServers,
    serving: Serving,
) {
    let LobbyServers {
        agent,
        heartbeat,
        lobby,
        channel,
    } = servers;
    serving.reports::<AgentServer<AgentService>>().await;
    serving.reports::<HeartbeatServer<HeartbeatService>>().await;
    serving.reports::<LobbyServer<LobbyService>>().await;
    serving.reports::<ChannelServer<ChannelService>>().await;
    log_listening("lobby Agent", &[addrs.agent]);
    log_listening("lobby Heartbeat", &[addrs.heartbeat]);
    log_listening("lobby Lobby", &[addrs.lobby]);
    log_listening("lobby channels", &addrs.channels);
    // Lobby-protocol connections are pinged so that a silent peer is
    // dropped (and its user removed) within two heartbeat intervals.
    let keepalive = Keepalive {
        interval: settings.heartbeat_interval,
        timeout: settings.heartbeat_timeout,
    };
    let incoming = |listener| serving.incoming(listener, Protocol::Lobby).boxed();
    let channels = select_all(listeners.channels.into_iter().map(incoming)).boxed();
    let serve = |service, incoming| serving.serve(service, incoming, keepalive, false);
    tokio::join!(
        serve(serving.routes(agent), incoming(listeners.agent)),
        serve(serving.routes(heartbeat), incoming(listeners.heartbeat)),
        serve(serving.routes(lobby), incoming(listeners.lobby)),
        serve(serving.routes(channel), channels),
        hub.reap_silent_users(),
    );
}
