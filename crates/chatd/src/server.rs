//! Binding the listeners and serving every protocol until shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chat_engine::{
    AccountStore, Engine, HistoryStore, MemoryStore, PostgresOptions, PostgresStore, SqliteOptions,
    SqliteStore, StoreError,
};
use chat_proto::chat::v1::chat_service_server::ChatServiceServer;
use chat_proto::classic::chat_server_server::ChatServerServer;
use chat_proto::lobby::agent_server::AgentServer;
use chat_proto::lobby::channel_server::ChannelServer;
use chat_proto::lobby::heartbeat_server::HeartbeatServer;
use chat_proto::lobby::lobby_server::LobbyServer;
use futures::stream::select_all;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::transport::server::Router;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

use crate::health::{Check, Health};
use tower_layer::{Identity, Stack};

use crate::Config;
use crate::accounts::Accounts;
use crate::address_rate::AddressRate;
use crate::admin;
use crate::classic::ClassicChat;
use crate::cluster::{Node, WebPeers};
use crate::lobby::{
    AgentService, ChannelService, HeartbeatService, LobbyHub, LobbyIdentity, LobbyService,
};
use crate::metrics::{self, Limit, Metrics, Protocol};
use crate::native::NativeChat;
use crate::reload::{Live, Reloader};
use crate::sessions::{SessionConfig, Sessions};
use crate::transport::{
    self, Admission, ConnectionInfo, ConnectionSettings, RESERVED_DESCRIPTORS, ReplyBudgetLayer,
    Tls,
};
use crate::web::{PeerOrigins, WebFiles, WebLayer};
use tokio::sync::watch;

/// Where each protocol listens; `None` for a protocol turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddrs {
    pub native: SocketAddr,
    pub classic: Option<SocketAddr>,
    pub lobby: Option<LobbyAddrs>,
    /// Prometheus metrics, if served.
    pub metrics: Option<SocketAddr>,
}

/// Where the lobby protocol's services listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LobbyAddrs {
    pub agent: SocketAddr,
    pub heartbeat: SocketAddr,
    pub lobby: SocketAddr,
    /// The channel pool, in the order channels are handed out.
    pub channels: Vec<SocketAddr>,
}

/// A `chatd` whose listeners are bound (so their addresses are known, even
/// when asked for port 0) and which serves once [`run`](Chatd::run).
pub struct Chatd {
    config: Config,
    tls: Option<Tls>,
    /// This node, in a cluster.
    node: Option<Node>,
    engine: Engine,
    metrics: Metrics,
    accounts: Accounts,
    /// `(account, room)`, for the session service to put accounts back in.
    memberships: Vec<(String, String)>,
    listeners: Listeners,
    reloader: Reloader,
    reloads: watch::Receiver<Config>,
}

impl std::fmt::Debug for Chatd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chatd")
            .field("addrs", &self.addrs())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Listeners {
    /// `chatctl`'s, and its path.
    admin: Option<(UnixListener, PathBuf)>,
    native: TcpListener,
    classic: Option<TcpListener>,
    lobby: Option<LobbyListeners>,
    metrics: Option<TcpListener>,
}

#[derive(Debug)]
struct LobbyListeners {
    agent: TcpListener,
    heartbeat: TcpListener,
    lobby: TcpListener,
    channels: Vec<TcpListener>,
}

/// Why `chatd` cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Listen(#[from] std::io::Error),
    #[error(transparent)]
    History(#[from] StoreError),
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Cluster(String),
}

impl Chatd {
    /// Opens history, accounts and the engine, and binds every listener
    /// of `config`.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                Some(Tls::load(cert, key, config.web).map_err(StartError::Tls)?)
            }
            _ => None,
        };
        let stores = open_store(&config).await?;
        let node = match (&config.nats_url, stores.shared) {
            (Some(url), Some(database)) => Some(
                Node::join(url, database)
                    .await
                    .map_err(StartError::Cluster)?,
            ),
            _ => None,
        };
        let engine = match &node {
            Some(node) => Engine::with_relay(config.engine(), stores.history, node.relay()),
            None => Engine::new(config.engine(), stores.history),
        };
        engine.open_saved_rooms().await?;
        // Everyone's first room, whether or not the classic protocol is on.
        engine.room(&config.classic_room);
        let (accounts, memberships) =
            Accounts::load(stores.accounts, engine.clone(), config.session_ttl).await?;
        warn_of_legacy_protocols(&config);
        let legacy = config.legacy_protocols_allowed();
        let classic = match config.classic_addr.0.filter(|_| legacy) {
            Some(addr) => Some(bind(addr, "classic protocol").await?),
            None => None,
        };
        let lobby = match config.lobby_addr.0.filter(|_| legacy) {
            Some(addr) => Some(bind_lobby(&config, addr).await?),
            None => None,
        };
        let admin = match config.admin_socket() {
            Some(path) => Some((admin::bind(&path).await?, path)),
            None => None,
        };
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(bind(addr, "metrics").await?),
            None => None,
        };
        let listeners = Listeners {
            admin,
            native: bind(config.native_addr, "native protocol").await?,
            classic,
            lobby,
            metrics: metrics_listener,
        };
        let (reloader, reloads) = Reloader::new(config.clone());
        Ok(Chatd {
            config,
            tls,
            node,
            metrics: Metrics::new(&engine),
            engine,
            accounts,
            memberships,
            listeners,
            reloader,
            reloads,
        })
    }

    /// Where each protocol listens.
    pub fn addrs(&self) -> ListenAddrs {
        let listeners = &self.listeners;
        ListenAddrs {
            native: local_addr(&listeners.native),
            classic: listeners.classic.as_ref().map(local_addr),
            lobby: listeners.lobby.as_ref().map(|lobby| LobbyAddrs {
                agent: local_addr(&lobby.agent),
                heartbeat: local_addr(&lobby.heartbeat),
                lobby: local_addr(&lobby.lobby),
                channels: lobby.channels.iter().map(local_addr).collect(),
            }),
            metrics: listeners.metrics.as_ref().map(local_addr),
        }
    }

    /// Where to send new settings (on SIGHUP) once it runs.
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// The engine behind every protocol.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serves until `shutdown` is cancelled, then ends open streams cleanly
    /// and returns once every connection has closed.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), tonic::transport::Error> {
        let addrs = self.addrs();
        let Chatd {
            config,
            tls,
            node,
            engine,
            metrics,
            accounts,
            memberships,
            listeners,
            reloader: _,
            reloads,
        } = self;
        let max_request = config.max_request_bytes();
        let health = Health::default();
        match &tls {
            Some(_) => tracing::info!("serving every listener over TLS"),
            None => tracing::warn!(
                "serving plaintext: anyone on the network path can read and alter the chat; \
                 give --tls-cert and --tls-key to serve TLS"
            ),
        }
        let tls_on = tls.is_some();
        let connections = connection_settings(&config, tls.clone(), metrics.clone());
        let incoming =
            |listener, protocol| transport::incoming(listener, protocol, connections.clone());
        let max_streams = config.max_streams_per_connection;
        let server = |keepalive| server(keepalive, max_streams);
        let stopped = || shutdown.clone().cancelled_owned();
        let native_keepalive = (config.keepalive_interval, config.keepalive_timeout);
        let legacy_rate = AddressRate::new(
            config.max_legacy_sends_per_second,
            Limit::SendsPerAddress,
            "messages",
        );
        let login_rate = AddressRate::new(
            config.max_logins_per_second,
            Limit::LoginsPerAddress,
            "logins",
        );

        let sessions = Sessions::new(
            engine.clone(),
            accounts,
            SessionConfig {
                presence_grace: config.presence_grace,
                max_rooms_per_user: usize::try_from(config.max_rooms_per_user)
                    .unwrap_or(usize::MAX),
                max_sends_per_second: config.max_sends_per_second,
                require_accounts: config.require_accounts,
            },
            shutdown.clone(),
        );
        sessions.restore_memberships(memberships);
        let live = Live {
            running: config.settings.clone(),
            admission: connections.admission.clone(),
            legacy_rate: legacy_rate.clone(),
            login_rate: login_rate.clone(),
            sessions: sessions.clone(),
            tls,
        };
        let admin = listeners.admin.map(|(listener, path)| {
            admin::serve(listener, path, sessions.clone(), shutdown.clone())
        });
        let native = ChatServiceServer::new(NativeChat::new(sessions.clone(), login_rate.clone()))
            .max_decoding_message_size(max_request);
        health.serve::<ChatServiceServer<NativeChat>>().await;
        let mut tasks = vec![
            tokio::spawn(sessions.clone().end_idle_sessions_until_shutdown()),
            tokio::spawn(sessions.clone().pass_on_engine_changes_until_shutdown()),
            tokio::spawn(live.follow(reloads, shutdown.clone())),
        ];
        if let Some(listener) = listeners.metrics {
            let serving = metrics::serve(listener, metrics.clone(), shutdown.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(error) = serving.await {
                    tracing::error!(%error, "serving metrics failed");
                }
            }));
        }
        let mut checks: Vec<(&'static str, Check)> = vec![("store", {
            let engine = engine.clone();
            Box::new(move || {
                let engine = engine.clone();
                Box::pin(async move { engine.check_store().await.map_err(|e| e.to_string()) })
            })
        })];
        if let Some(node) = &node {
            checks.push(("broker", node.connection_check()));
        }
        tasks.push(tokio::spawn(health.clone().watch(
            checks,
            metrics.clone(),
            shutdown.clone(),
        )));
        let lobby_identity = match &node {
            Some(node) => LobbyIdentity::in_cluster(node.user_indexes(), &config.advertised_host),
            None => LobbyIdentity::single_node(),
        };
        let web = config.web.then(WebFiles::embedded);
        let peers = PeerOrigins::default();
        if let Some(node) = node {
            tracing::info!("a node of a cluster: following the other nodes through NATS");
            let public_url = config.public_url.clone().unwrap_or_else(|| {
                let scheme = if tls_on { "https" } else { "http" };
                format!(
                    "{scheme}://{}:{}",
                    config.advertised_host,
                    addrs.native.port()
                )
            });
            tasks.push(tokio::spawn(node.follow(
                engine.clone(),
                sessions.clone(),
                WebPeers {
                    url: web.is_some().then_some(public_url),
                    peers: peers.clone(),
                },
                shutdown.clone(),
            )));
        }
        log_listening("native protocol", &[addrs.native]);
        match &web {
            Some(files) => tracing::info!(
                bytes = files.transfer_size(),
                "web client at {}://{}/",
                if tls_on { "https" } else { "http" },
                browsable(addrs.native)
            ),
            None => tracing::info!("web client off"),
        }
        // Browsers speak gRPC-Web over HTTP/1.1 unless TLS lets them use
        // HTTP/2.
        let native = discoverable(
            server(native_keepalive)
                .accept_http1(web.is_some())
                .layer(WebLayer::new(web, peers, tls_on)),
            health.reporter(),
        )
        .add_service(native)
        .serve_with_incoming_shutdown(incoming(listeners.native, Protocol::Native), stopped());

        let classic = match listeners.classic {
            Some(listener) => {
                let classic = ClassicChat::new(
                    engine.clone(),
                    &config.classic_room,
                    config.history_replay,
                    legacy_rate.clone(),
                    shutdown.clone(),
                )
                .into_service(max_request);
                health.serve::<ChatServerServer<ClassicChat>>().await;
                log_listening("classic protocol", &[local_addr(&listener)]);
                Some(
                    discoverable(server(native_keepalive), health.reporter())
                        .add_service(classic)
                        .serve_with_incoming_shutdown(
                            incoming(listener, Protocol::Classic),
                            stopped(),
                        ),
                )
            }
            None => {
                tracing::info!("classic protocol off");
                None
            }
        };

        let lobby = match (listeners.lobby, addrs.lobby) {
            (Some(listeners), Some(addrs)) => {
                // Lobby-protocol connections are pinged so that a silent
                // peer is dropped (and its user removed) within two
                // heartbeat intervals.
                let keepalive = (config.heartbeat_interval, config.heartbeat_timeout);
                let channel_ports = addrs.channels.iter().map(|addr| i32::from(addr.port()));
                let hub = LobbyHub::new(
                    engine,
                    channel_ports,
                    to_usize(config.max_channels_per_address),
                    config.heartbeat_timeout,
                    lobby_identity,
                    shutdown.clone(),
                );
                let host = &config.advertised_host;
                let agent = AgentServer::new(AgentService::new(
                    hub.clone(),
                    login_rate,
                    format!("{host}:{}", addrs.heartbeat.port()),
                    format!("{host}:{}", addrs.lobby.port()),
                ))
                .max_decoding_message_size(max_request);
                let heartbeat = HeartbeatServer::new(HeartbeatService::new(
                    hub.clone(),
                    config.heartbeat_interval,
                ))
                .max_decoding_message_size(max_request);
                let lobby = LobbyServer::new(LobbyService::new(
                    hub.clone(),
                    host.clone(),
                    legacy_rate.clone(),
                ))
                .max_decoding_message_size(max_request);
                let channel = ChannelServer::new(ChannelService::new(hub.clone(), legacy_rate))
                    .max_decoding_message_size(max_request);
                health.serve::<AgentServer<AgentService>>().await;
                health.serve::<HeartbeatServer<HeartbeatService>>().await;
                health.serve::<LobbyServer<LobbyService>>().await;
                health.serve::<ChannelServer<ChannelService>>().await;
                tasks.push(tokio::spawn(hub.reap_silent_users()));
                log_listening("lobby Agent", &[addrs.agent]);
                log_listening("lobby Heartbeat", &[addrs.heartbeat]);
                log_listening("lobby Lobby", &[addrs.lobby]);
                log_listening("lobby channels", &addrs.channels);
                let served = async move {
                    tokio::try_join!(
                        discoverable(server(keepalive), health.reporter())
                            .add_service(agent)
                            .serve_with_incoming_shutdown(
                                incoming(listeners.agent, Protocol::Lobby),
                                stopped()
                            ),
                        discoverable(server(keepalive), health.reporter())
                            .add_service(heartbeat)
                            .serve_with_incoming_shutdown(
                                incoming(listeners.heartbeat, Protocol::Lobby),
                                stopped()
                            ),
                        discoverable(server(keepalive), health.reporter())
                            .add_service(lobby)
                            .serve_with_incoming_shutdown(
                                incoming(listeners.lobby, Protocol::Lobby),
                                stopped()
                            ),
                        discoverable(server(keepalive), health.reporter())
                            .add_service(channel)
                            .serve_with_incoming_shutdown(
                                select_all(
                                    listeners
                                        .channels
                                        .into_iter()
                                        .map(|listener| incoming(listener, Protocol::Lobby)),
                                ),
                                stopped(),
                            ),
                    )
                };
                Some(served)
            }
            _ => {
                tracing::info!("lobby protocol off");
                None
            }
        };

        let served = tokio::try_join!(
            native,
            served_if_on(classic),
            served_if_on(lobby),
            served_if_on(admin)
        );
        shutdown.cancel();
        for task in tasks {
            let _ = task.await;
        }
        served.map(|_| ())
    }
}

/// Serves `serving` if the protocol is on.
async fn served_if_on<T>(
    serving: Option<impl Future<Output = Result<T, tonic::transport::Error>>>,
) -> Result<(), tonic::transport::Error> {
    match serving {
        Some(serving) => serving.await.map(drop),
        None => Ok(()),
    }
}

/// Where history and accounts are kept.
struct Stores {
    history: Arc<dyn HistoryStore>,
    accounts: Arc<dyn AccountStore>,
    /// The database other nodes may share, if it is one.
    shared: Option<Arc<PostgresStore>>,
}

impl Stores {
    fn one<S: HistoryStore + AccountStore>(store: Arc<S>) -> Self {
        Stores {
            history: store.clone(),
            accounts: store,
            shared: None,
        }
    }
}

/// History and accounts: in PostgreSQL, in memory, or in the SQLite
/// database under `--data-dir`.
async fn open_store(config: &Config) -> Result<Stores, StoreError> {
    if let Some(url) = &config.database_url {
        let options = PostgresOptions {
            retain_messages: config.retain_messages,
            retain_age: config.retain_age.0,
        };
        let store = Arc::new(PostgresStore::connect(url, options).await?);
        tracing::info!("history and accounts kept in PostgreSQL");
        return Ok(Stores {
            shared: Some(Arc::clone(&store)),
            ..Stores::one(store)
        });
    }
    if config.in_memory {
        return Ok(Stores::one(Arc::new(MemoryStore::new(
            usize::try_from(config.retain_messages).unwrap_or(usize::MAX),
        ))));
    }
    let options = SqliteOptions {
        retain_messages: config.retain_messages,
        retain_age: config.retain_age.0,
        max_bytes: config.max_db_bytes,
    };
    let dir = config.data_dir.clone();
    // Opening may migrate and trim the database: not on an async worker.
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir, options))
        .await
        .map_err(|error| {
            StoreError::Unavailable(format!("opening the database failed: {error}"))
        })??;
    tracing::info!(path = %config.data_dir.join("chat.db").display(), "history and accounts kept in");
    Ok(Stores::one(Arc::new(store)))
}

/// Warns of what `--require-accounts` does to the classic and lobby
/// protocols, if either is on.
fn warn_of_legacy_protocols(config: &Config) {
    let on = config.classic_addr.0.is_some() || config.lobby_addr.0.is_some();
    if config.require_accounts && on {
        if config.legacy_guests {
            tracing::warn!(
                "--legacy-guests: the classic and lobby protocols have no accounts, so anyone \
                 may chat over them under any free name, --require-accounts notwithstanding"
            );
        } else {
            tracing::warn!(
                "classic and lobby protocols off: they have no accounts, and \
                 --require-accounts admits accounts only; --legacy-guests serves them anyway"
            );
        }
    }
}

/// Binds the lobby protocol's listeners: its services on their
/// addresses, channels on the Lobby's host.
async fn bind_lobby(config: &Config, lobby: SocketAddr) -> std::io::Result<LobbyListeners> {
    let mut channels = Vec::with_capacity(config.channel_ports.0.len());
    for &port in &config.channel_ports.0 {
        channels.push(bind(SocketAddr::new(lobby.ip(), port), "lobby channel").await?);
    }
    Ok(LobbyListeners {
        agent: bind(config.agent_addr, "lobby Agent").await?,
        heartbeat: bind(config.heartbeat_addr, "lobby Heartbeat").await?,
        lobby: bind(lobby, "lobby Lobby").await?,
        channels,
    })
}

/// A server whose replies are metered (see [`ReplyBudgetLayer`]).
/// `keepalive` is the HTTP/2 ping interval and timeout.
fn server(
    keepalive: (Duration, Duration),
    max_streams: u32,
) -> Server<Stack<ReplyBudgetLayer, Identity>> {
    let (interval, timeout) = keepalive;
    Server::builder()
        .trace_fn(call_span)
        .http2_keepalive_interval(Some(interval))
        .http2_keepalive_timeout(Some(timeout))
        .max_concurrent_streams(max_streams)
        .layer(ReplyBudgetLayer)
}

/// The span of a call: every log line about it names the client's
/// protocol and address. (Never a credential: those are in the body and
/// the metadata, which the span leaves out.)
fn call_span(request: &http::Request<()>) -> tracing::Span {
    match request.extensions().get::<ConnectionInfo>() {
        Some(info) => tracing::info_span!(
            "call",
            protocol = info.protocol.name(),
            client = %info.remote_addr,
            method = request.uri().path(),
        ),
        None => tracing::Span::none(),
    }
}

/// `server` with the health service and reflection, so generic gRPC tools
/// can discover what every port serves.
fn discoverable<L: Clone>(mut server: Server<L>, health: &HealthReporter) -> Router<L> {
    server
        .add_service(HealthServer::new(HealthService::from_health_reporter(
            health.clone(),
        )))
        // Both versions: grpcurl and older tools ask v1alpha, newer ones v1.
        .add_service(
            reflection()
                .build_v1()
                .expect("the embedded descriptor sets are valid"),
        )
        .add_service(
            reflection()
                .build_v1alpha()
                .expect("the embedded descriptor sets are valid"),
        )
}

/// Server reflection over every protocol's descriptors and health's.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(chat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// How connections are admitted and served, on every port alike: the
/// descriptor limit is one for the whole process.
fn connection_settings(config: &Config, tls: Option<Tls>, metrics: Metrics) -> ConnectionSettings {
    let descriptors = transport::raise_descriptor_limit().unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot raise the open-file limit");
        rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
    });
    let most = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(1);
    let max_connections = match config.max_connections {
        Some(asked) => {
            if asked > most {
                tracing::warn!(
                    asked,
                    descriptors,
                    "--max-connections is above what the open-file limit allows; \
                     accepting will pause when descriptors run out"
                );
            }
            asked
        }
        None => most,
    };
    tracing::info!(max_connections, descriptors, "connection limit");
    ConnectionSettings {
        admission: Admission::new(
            to_usize(max_connections),
            to_usize(config.max_connections_per_address),
        ),
        handshake_timeout: config.handshake_timeout,
        tls,
        reply_budget: to_usize(config.max_unsent_bytes_per_connection),
        metrics,
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `addr` as a browser on this machine can open it: an unspecified
/// address (listening on all) is reached as `localhost`.
fn browsable(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

fn log_listening(what: &str, addrs: &[SocketAddr]) {
    for addr in addrs {
        tracing::info!(%addr, "{what} listening");
    }
}

async fn bind(addr: SocketAddr, what: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("cannot listen for the {what} on {addr}: {error}"),
        )
    })
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("a bound TCP listener has a local address")
}
