//! A client's connection: the servers it may use, the session token of
//! its login, and the rooms and cursors it rejoins with after a new login.
//! Both the calls (`client`) and the session task (`session`) use it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chat_proto::chat::v1 as wire;
use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use tokio::sync::{mpsc, watch};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request};

use crate::{ClientConfig, ClientError, ClientEvent, unreachable};

/// The session as calls see it: the token of the current login, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    pub token: Option<String>,
    /// Logged out: no new login, the session task stops.
    pub closed: bool,
}

/// A client's connection to its servers, its login and what it rejoins
/// after a new one: what calls and the session task share.
pub(crate) struct Shared {
    pub config: ClientConfig,
    /// `config.token`, until it has been tried.
    saved: Mutex<Option<String>>,
    /// The account has been registered (by this client): log in from now.
    registered: AtomicBool,
    /// A client for each of the configured servers, and which is in use.
    servers: Vec<ChatServiceClient<Channel>>,
    /// Their connections, for files.
    channels: Vec<Channel>,
    current: AtomicUsize,
    pub auth: watch::Sender<Auth>,
    /// The rooms the user means to be in, to rejoin after a new login.
    rooms: Mutex<BTreeSet<String>>,
    /// Per room, the last sequence number delivered to the application.
    cursors: Mutex<HashMap<String, u64>>,
}

impl Shared {
    /// The server in use.
    /// The address of the server in use, as a URL.
    pub fn current_url(&self) -> String {
        let urls = self.config.urls();
        let at = self.current.load(Ordering::Acquire) % urls.len().max(1);
        urls.get(at).cloned().unwrap_or_default()
    }

    pub fn rpc(&self) -> ChatServiceClient<Channel> {
        self.servers[self.current.load(Ordering::Acquire) % self.servers.len()].clone()
    }

    /// The connection to the server in use.
    pub fn channel(&self) -> Channel {
        self.channels[self.current.load(Ordering::Acquire) % self.channels.len()].clone()
    }

    /// Moves to the next configured server, if there are several (the one
    /// in use failed).
    pub fn next_server(&self) {
        if self.servers.len() > 1 {
            self.current.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn rooms(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn cursors(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.cursors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves `room`'s cursor to `seq`, an entry of its order (a message or
    /// a change); `false` if the cursor is there already (an entry
    /// delivered before, again after a reconnect).
    pub fn move_cursor(&self, room: &str, seq: u64) -> bool {
        let mut cursors = self.cursors();
        let cursor = cursors.entry(room.to_owned()).or_insert(0);
        if seq <= *cursor {
            return false;
        }
        *cursor = seq;
        true
    }

    /// Logs in and rejoins the rooms the user means to be in. Rooms that
    /// are gone are dropped, with a `RoomLeft` for the application.
    pub async fn login(&self, events: &mpsc::Sender<ClientEvent>) -> Result<(), ClientError> {
        let token = match self.saved_token().await {
            Some(token) => token,
            None => self.new_session().await?,
        };
        let rooms: Vec<String> = self.rooms().iter().cloned().collect();
        for room in rooms {
            let joined = self
                .rpc()
                .join_room(authorized(
                    wire::JoinRoomRequest { room: room.clone() },
                    &token,
                ))
                .await;
            if let Err(status) = joined {
                // Gone, or banned from it, while the session was away.
                if !matches!(status.code(), Code::NotFound | Code::PermissionDenied) {
                    return Err(ClientError::from_status(status));
                }
                self.rooms().remove(&room);
                self.cursors().remove(&room);
                let reason = status.message().to_owned();
                let _ = events.send(ClientEvent::RoomLeft { room, reason }).await;
            }
        }
        self.auth.send_replace(Auth {
            token: Some(token),
            closed: false,
        });
        Ok(())
    }
}

impl Shared {
    /// The token given in the config, once, if the server still knows it.
    async fn saved_token(&self) -> Option<String> {
        let token = self
            .saved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        let check = authorized(wire::WhoAmIRequest {}, &token);
        self.rpc().who_am_i(check).await.ok().map(|_| token)
    }

    /// Registers, or logs in, for a new session token.
    async fn new_session(&self) -> Result<String, ClientError> {
        let config = &self.config;
        let registering = config.register && !self.registered.load(Ordering::Acquire);
        let reply = if registering {
            let request = wire::RegisterRequest {
                name: config.name.clone(),
                password: config.password.clone(),
            };
            self.rpc()
                .register(request)
                .await
                .map(|reply| reply.into_inner().session_token)
        } else {
            let request = wire::LoginRequest {
                name: config.name.clone(),
                password: config.password.clone(),
            };
            self.rpc()
                .login(request)
                .await
                .map(|reply| reply.into_inner().session_token)
        };
        match reply {
            Ok(token) => {
                self.registered.store(true, Ordering::Release);
                Ok(token)
            }
            Err(status) => Err(match status.code() {
                Code::AlreadyExists if !registering => ClientError::NameTaken {
                    name: config.name.clone(),
                    message: status.message().to_owned(),
                },
                // The connection failed under the call; the status's
                // sources say why (a refused certificate, say).
                Code::Unknown | Code::Unavailable | Code::Cancelled | Code::Internal => {
                    ClientError::Unreachable {
                        address: config.server.clone(),
                        reason: unreachable::explain(&self.current_url(), &status),
                    }
                }
                // Another gRPC service answered: a port of another protocol.
                Code::Unimplemented => ClientError::Unreachable {
                    address: config.server.clone(),
                    reason: format!(
                        "the server at {} does not speak chat's protocol: it may be one of \
                         chatd's other ports (classic, lobby); its native port is 7070 unless \
                         set",
                        config.server
                    ),
                },
                _ => ClientError::from_status(status),
            }),
        }
    }
}

impl Shared {
    /// Connects to the first of `config`'s servers that answers; the
    /// others are kept to move to when it fails. Not logged in yet.
    pub async fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        let unreachable = |reason: String| ClientError::Unreachable {
            address: config.server.clone(),
            reason,
        };
        let urls = config.urls();
        if urls.is_empty() {
            return Err(unreachable(
                "no server address given; name one with --server HOST:PORT".into(),
            ));
        }
        // The first server that answers is used; the others are kept to
        // move to when it fails.
        let mut servers = Vec::with_capacity(urls.len());
        let mut channels = Vec::with_capacity(urls.len());
        let mut current = None;
        let mut failures = Vec::new();
        for url in &urls {
            let endpoint = endpoint(&config, url).map_err(&unreachable)?;
            let channel = if current.is_some() {
                endpoint.connect_lazy()
            } else {
                match endpoint.connect().await {
                    Ok(channel) => {
                        current = Some(servers.len());
                        channel
                    }
                    Err(error) => {
                        failures.push(unreachable::explain(url, &error));
                        endpoint.connect_lazy()
                    }
                }
            };
            servers.push(ChatServiceClient::new(channel.clone()));
            channels.push(channel);
        }
        let Some(current) = current else {
            return Err(unreachable(failures.join("; ")));
        };
        Ok(Shared {
            saved: Mutex::new(config.token.clone()),
            registered: AtomicBool::new(false),
            servers,
            channels,
            current: AtomicUsize::new(current),
            auth: watch::channel(Auth::default()).0,
            rooms: Mutex::default(),
            cursors: Mutex::default(),
            config,
        })
    }
}

/// How to reach the server at `url`, with the TLS settings of `config`.
fn endpoint(config: &ClientConfig, url: &str) -> Result<Endpoint, String> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| format!("`{url}` is not a server address; give HOST:PORT"))?;
    if url.starts_with("https://") {
        let mut tls = ClientTlsConfig::new().with_enabled_roots();
        if let Some(pem) = &config.ca_cert {
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true))
}

/// `message` with the session `token` attached.
pub(crate) fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}
