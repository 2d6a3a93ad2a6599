//! The server: composition only. It opens the stores, builds the engine
//! and the services, binds every listener, and hands each protocol's
//! listener to that protocol's `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chat_engine::{
    AccountStore, Engine, HistoryStore, MemoryStore, NoRelay, PostgresStore, SqliteStore,
    StoreError,
};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::accounts::{Accounts, NoAccountRelay, Restored};
use crate::address_rate::AddressRate;
use crate::classic::{self, ClassicChat};
use crate::cluster::{Node, WebPeers};
use crate::config::{Config, Storage, to_usize};
use crate::data_dir::DataDirLock;
use crate::files::{FileLinks, Files};
use crate::health::{Check, Health};
use crate::lobby::{self, LobbyAddrs, LobbyIdentity, LobbyListeners, LobbyServices};
use crate::metrics::{self, Limit, Metrics};
use crate::native::{self, NativeChat};
use crate::reload::{Live, Reloader};
use crate::serving::{Binding, Serving, bind, local_addr};
use crate::sessions::Sessions;
use crate::transport::{self, Admission, ConnectionSettings, RESERVED_DESCRIPTORS, Tls};
use crate::web::{PeerOrigins, WebFiles, WebLayer};
use crate::{admin, admin::bind as bind_admin};

/// The name the store keeps the key that signs links to files under.
const FILE_LINKS_SECRET: &str = "file links";

/// Where each protocol listens; `None` for a protocol turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddrs {
    pub native: SocketAddr,
    pub classic: Option<SocketAddr>,
    pub lobby: Option<LobbyAddrs>,
    /// Prometheus metrics, if served.
    pub metrics: Option<SocketAddr>,
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
    /// The accounts' rooms and read markers, for the session service.
    restored: Restored,
    listeners: Listeners,
    reloader: Reloader,
    reloads: watch::Receiver<Config>,
    /// Where shared files are kept (the history store), and what signs
    /// links to them.
    file_store: Arc<dyn HistoryStore>,
    file_links: FileLinks,
    /// Held until `run` returns.
    data_dir_lock: Option<DataDirLock>,
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

impl Listeners {
    /// Binds every listener `config` turns on; fails naming every address
    /// that could not be had.
    async fn bind(config: &Config) -> std::io::Result<Self> {
        warn_of_legacy_protocols(config);
        let legacy = config.legacy_protocols_allowed();
        let mut binding = Binding::default();
        let native = binding.keep(bind(config.listen.native_addr, "native protocol").await);
        let classic = match config.listen.classic_addr.0.filter(|_| legacy) {
            Some(addr) => binding.keep(bind(addr, "classic protocol").await),
            None => None,
        };
        let lobby = match config.lobby.lobby_addr.0.filter(|_| legacy) {
            Some(addr) => binding.keep(LobbyListeners::bind(&config.lobby, addr).await),
            None => None,
        };
        let metrics = match config.listen.metrics_addr {
            Some(addr) => binding.keep(bind(addr, "metrics").await),
            None => None,
        };
        let admin = match config.admin_socket() {
            Some(path) => binding
                .keep(bind_admin(&path).await)
                .map(|socket| (socket, path)),
            None => None,
        };
        binding.finish()?;
        Ok(Listeners {
            admin,
            native: native.expect("bound, as no binding failed"),
            classic,
            lobby,
            metrics,
        })
    }
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
        let tls = match (&config.connections.tls_cert, &config.connections.tls_key) {
            (Some(cert), Some(key)) => {
                Some(Tls::load(cert, key, config.listen.web).map_err(StartError::Tls)?)
            }
            _ => None,
        };
        let stores = Stores::open(config.storage()).await?;
        let node = match (&config.storage.nats_url, &config.storage.database_url) {
            (Some(url), Some(database)) => Some(
                Node::join(url, database)
                    .await
                    .map_err(StartError::Cluster)?,
            ),
            _ => None,
        };
        let relay = node
            .as_ref()
            .map_or_else(|| Arc::new(NoRelay) as _, Node::relay);
        let file_store = Arc::clone(&stores.history);
        let file_links = FileLinks::new(file_store.secret(FILE_LINKS_SECRET).await?);
        let engine = Engine::with_relay(config.engine(), stores.history, relay);
        engine.open_saved_rooms().await?;
        // Everyone's first room, whether or not the classic protocol is on.
        engine.room(&config.rooms.classic_room);
        let account_relay = node
            .as_ref()
            .map_or_else(|| Arc::new(NoAccountRelay) as _, Node::account_relay);
        let (accounts, restored) = Accounts::load(
            stores.accounts,
            engine.names(),
            account_relay,
            config.users.session_ttl,
        )
        .await?;
        let listeners = Listeners::bind(&config).await?;
        let (reloader, reloads) = Reloader::new(config.clone());
        Ok(Chatd {
            config,
            tls,
            node,
            metrics: Metrics::new(&engine),
            engine,
            accounts,
            restored,
            listeners,
            reloader,
            reloads,
            file_store,
            file_links,
            data_dir_lock: stores.lock,
        })
    }

    /// Where each protocol listens.
    pub fn addrs(&self) -> ListenAddrs {
        let listeners = &self.listeners;
        ListenAddrs {
            native: local_addr(&listeners.native),
            classic: listeners.classic.as_ref().map(local_addr),
            lobby: listeners.lobby.as_ref().map(LobbyListeners::addrs),
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
        let native_addr = self.addrs().native;
        let Chatd {
            config,
            tls,
            node,
            engine,
            metrics,
            accounts,
            restored,
            mut listeners,
            reloader: _,
            reloads,
            file_store,
            file_links,
            data_dir_lock,
        } = self;
        log_transport_security(tls.is_some());
        let serving = Serving {
            connections: connection_settings(&config, tls.clone(), metrics.clone()),
            max_streams: config.connections.max_streams_per_connection,
            max_request: config.max_request_bytes(),
            health: Health::default(),
            shutdown: shutdown.clone(),
        };
        let rates = Rates::new(&config);
        let sessions = Sessions::new(
            engine.clone(),
            accounts,
            config.sessions(),
            shutdown.clone(),
        );
        sessions.restore(restored);
        let file_links =
            file_links.with_base(&config.public_url(tls.is_some(), native_addr.port()));
        let files = Files::new(
            file_store,
            sessions.clone(),
            (file_links, config.file_limits()),
            metrics.clone(),
        );
        let web = WebClient::new(&config, tls.is_some(), native_addr, files.clone());
        let live = Live {
            running: config.settings.clone(),
            admission: serving.connections.admission.clone(),
            legacy_rate: rates.legacy.clone(),
            login_rate: rates.login.clone(),
            sessions: sessions.clone(),
            tls,
        };
        let mut tasks = vec![
            tokio::spawn(sessions.clone().end_idle_sessions_until_shutdown()),
            tokio::spawn(sessions.clone().pass_on_engine_changes_until_shutdown()),
            tokio::spawn(live.follow(reloads, shutdown.clone())),
            tokio::spawn(files.clone().remove_unused_until_shutdown(shutdown.clone())),
            watch_health(&serving, &engine, node.as_ref(), &metrics),
        ];
        tasks.extend(
            listeners
                .metrics
                .take()
                .map(|listener| serve_metrics(listener, &metrics, &shutdown)),
        );
        let indexes = node.as_ref().map(Node::user_indexes);
        let lobby_identity = LobbyIdentity::new(indexes, &config.lobby.advertised_host);
        if let Some(node) = node {
            tracing::info!("a node of a cluster: following the other nodes through NATS");
            let follow = node.follow(
                engine.clone(),
                sessions.clone(),
                web.peers(),
                shutdown.clone(),
            );
            tasks.push(tokio::spawn(follow));
        }
        let services = Services {
            engine,
            sessions,
            files,
            rates,
            web: web.layer,
            lobby_identity,
        };
        let served = serve_protocols(listeners, &config, services, serving).await;
        shutdown.cancel();
        for task in tasks {
            let _ = task.await;
        }
        drop(data_dir_lock);
        served
    }
}

/// What the protocols serve: the engine and the services over it.
struct Services {
    engine: Engine,
    sessions: Sessions,
    files: Files,
    rates: Rates,
    web: WebLayer,
    lobby_identity: LobbyIdentity,
}

/// Serves each protocol on its listeners until shutdown.
async fn serve_protocols(
    listeners: Listeners,
    config: &Config,
    services: Services,
    serving: Serving,
) -> Result<(), tonic::transport::Error> {
    let Services {
        engine,
        sessions,
        files,
        rates,
        web,
        lobby_identity,
    } = services;
    let keepalive = config.native_keepalive();
    let chat = NativeChat::new(sessions.clone(), files.clone(), rates.login.clone());
    let native = native::serve(listeners.native, chat, web, keepalive, serving.clone());
    let classic = listeners.classic.map(|listener| {
        let chat = ClassicChat::new(
            engine.clone(),
            &config.rooms.classic_room,
            (
                config.rooms.history_replay,
                config.rooms.classic_replay_delay,
            ),
            (rates.legacy.clone(), files.links().clone()),
            serving.shutdown.clone(),
        );
        classic::serve(listener, chat, keepalive, serving.clone())
    });
    let lobby = listeners.lobby.map(|listeners| {
        let services = LobbyServices {
            engine,
            identity: lobby_identity,
            login_rate: rates.login,
            legacy_rate: rates.legacy,
            links: files.links().clone(),
        };
        lobby::serve(listeners, config.lobby.clone(), services, serving.clone())
    });
    let admin = listeners
        .admin
        .map(|(listener, path)| admin::serve(listener, path, sessions, serving.shutdown.clone()));
    log_off("classic protocol", classic.is_none());
    log_off("lobby protocol", lobby.is_none());
    let (_, _, _, admin) =
        tokio::join!(native, served_if_on(classic), served_if_on(lobby), async {
            match admin {
                Some(admin) => admin.await,
                None => Ok(()),
            }
        });
    admin
}

/// The paces the protocols without accounts are held to, per address;
/// they change live.
struct Rates {
    /// Classic notes and lobby chat lines.
    legacy: AddressRate,
    /// Native and lobby logins.
    login: AddressRate,
}

impl Rates {
    fn new(config: &Config) -> Self {
        let users = &config.users;
        Rates {
            legacy: AddressRate::new(
                users.max_legacy_sends_per_second,
                Limit::SendsPerAddress,
                "messages",
            ),
            login: AddressRate::new(
                users.max_logins_per_second,
                Limit::LoginsPerAddress,
                "logins",
            ),
        }
    }
}

/// The web client on the native port (or, off, a layer that passes
/// every call on), and where this node serves it.
struct WebClient {
    layer: WebLayer,
    peers: PeerOrigins,
    url: Option<String>,
}

impl WebClient {
    fn new(config: &Config, tls_on: bool, native: SocketAddr, shared: Files) -> Self {
        let files = config.listen.web.then(WebFiles::embedded);
        let scheme = if tls_on { "https" } else { "http" };
        match &files {
            Some(files) => tracing::info!(
                bytes = files.transfer_size(),
                "web client at {scheme}://{}/",
                browsable(native)
            ),
            None => tracing::info!("web client off"),
        }
        let url = files
            .is_some()
            .then(|| config.public_url(tls_on, native.port()));
        let peers = PeerOrigins::default();
        WebClient {
            layer: WebLayer::new(files, peers.clone(), tls_on, shared),
            peers,
            url,
        }
    }

    /// What the cluster tells the other nodes of it, and learns of theirs.
    fn peers(&self) -> WebPeers {
        WebPeers {
            url: self.url.clone(),
            peers: self.peers.clone(),
        }
    }
}

fn log_transport_security(tls_on: bool) {
    if tls_on {
        tracing::info!("serving every listener over TLS");
    } else {
        tracing::warn!(
            "serving plaintext: anyone on the network path can read and alter the chat; \
             give --tls-cert and --tls-key to serve TLS"
        );
    }
}

fn log_off(what: &str, off: bool) {
    if off {
        tracing::info!("{what} off");
    }
}

/// Checks the store (and the broker, in a cluster) every second and
/// reports health until shutdown.
fn watch_health(
    serving: &Serving,
    engine: &Engine,
    node: Option<&Node>,
    metrics: &Metrics,
) -> JoinHandle<()> {
    let store: Check = {
        let engine = engine.clone();
        Box::new(move || {
            let engine = engine.clone();
            Box::pin(async move { engine.check_store().await.map_err(|e| e.to_string()) })
        })
    };
    let mut checks = vec![("store", store)];
    checks.extend(node.map(|node| ("broker", node.connection_check())));
    let health = serving.health.clone();
    tokio::spawn(health.watch(checks, metrics.clone(), serving.shutdown.clone()))
}

fn serve_metrics(
    listener: TcpListener,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> JoinHandle<()> {
    let serving = metrics::serve(listener, metrics.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(error) = serving.await {
            tracing::error!(%error, "serving metrics failed");
        }
    })
}

/// Serves `serving` if the protocol is on.
async fn served_if_on(serving: Option<impl Future<Output = ()>>) {
    if let Some(serving) = serving {
        serving.await;
    }
}

/// Where history and accounts are kept.
struct Stores {
    history: Arc<dyn HistoryStore>,
    accounts: Arc<dyn AccountStore>,
    /// The data directory's, for an SQLite store.
    lock: Option<DataDirLock>,
}

impl Stores {
    fn one<S: HistoryStore + AccountStore>(store: Arc<S>) -> Self {
        Stores {
            history: store.clone(),
            accounts: store,
            lock: None,
        }
    }
}

impl Stores {
    /// Opens the store `storage` chose.
    async fn open(storage: Storage) -> Result<Self, StoreError> {
        match storage {
            Storage::Memory { retain_messages } => {
                Ok(Stores::one(Arc::new(MemoryStore::new(retain_messages))))
            }
            Storage::Sqlite { dir, options } => {
                let lock = DataDirLock::take(&dir).map_err(StoreError::Unavailable)?;
                let path = dir.join("chat.db");
                // Opening may migrate and trim the database: not on an
                // async worker.
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir, options))
                    .await
                    .map_err(|error| {
                        StoreError::Unavailable(format!("opening the database failed: {error}"))
                    })??;
                tracing::info!(path = %path.display(), "history and accounts kept in");
                Ok(Stores {
                    lock: Some(lock),
                    ..Stores::one(Arc::new(store))
                })
            }
            Storage::Postgres { url, options } => {
                let store = PostgresStore::connect(&url, options).await?;
                tracing::info!("history and accounts kept in PostgreSQL");
                Ok(Stores::one(Arc::new(store)))
            }
        }
    }
}

/// Warns of what `--require-accounts` does to the classic and lobby
/// protocols, if either is on.
fn warn_of_legacy_protocols(config: &Config) {
    let on = config.listen.classic_addr.0.is_some() || config.lobby.lobby_addr.0.is_some();
    if config.users.require_accounts && on {
        if config.users.legacy_guests {
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

/// How connections are admitted and served, on every port alike: the
/// descriptor limit is one for the whole process.
fn connection_settings(config: &Config, tls: Option<Tls>, metrics: Metrics) -> ConnectionSettings {
    let descriptors = transport::raise_descriptor_limit().unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot raise the open-file limit");
        rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
    });
    let most = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(1);
    let max_connections = match config.connections.max_connections {
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
            config.max_connections_per_address(),
        ),
        handshake_timeout: config.connections.handshake_timeout,
        tls,
        reply_budget: to_usize(config.connections.max_unsent_bytes_per_connection),
        metrics,
    }
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
