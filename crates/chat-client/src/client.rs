use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chat_proto::chat::v1 as wire;
use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use crate::error::is_transient;
use crate::{
    ChatMessage, ClientError, ClientEvent, HistoryPage, Member, RoomAction, RoomInfo, printable,
    session,
};

/// How long a call keeps retrying through a lost connection or session.
const RETRY_FOR: Duration = Duration::from_secs(20);
/// Events the application has not read yet before the client waits for it.
const EVENT_BACKLOG: usize = 1024;

/// Where to connect and as whom.
#[derive(Clone)]
pub struct ClientConfig {
    /// `host:port`, `http://host:port` or `https://host:port` (TLS) of
    /// chatd's native protocol; or several, comma separated, tried in
    /// order, the next taken when the one in use fails (nodes of a
    /// cluster).
    pub server: String,
    pub name: String,
    /// The account's password; empty to log in as a guest.
    pub password: String,
    /// Create the account (with `password`) instead of logging in to it.
    pub register: bool,
    /// Speak TLS to a `server` given without a scheme.
    pub tls: bool,
    /// PEM certificates to trust besides the system's roots (a server's
    /// self-signed certificate, or its CA).
    pub ca_cert: Option<Vec<u8>>,
    /// A session token from an earlier run, tried before logging in.
    pub token: Option<String>,
    /// Rooms to be in from the start.
    pub rooms: Vec<String>,
    /// First and longest wait between reconnection attempts.
    pub backoff: (Duration, Duration),
}

impl ClientConfig {
    pub fn new(server: impl Into<String>, name: impl Into<String>) -> Self {
        ClientConfig {
            server: server.into(),
            name: name.into(),
            password: String::new(),
            register: false,
            tls: false,
            ca_cert: None,
            token: None,
            rooms: Vec::new(),
            backoff: (Duration::from_millis(200), Duration::from_secs(5)),
        }
    }

    /// The servers to use, in order: `server` may name several, comma
    /// separated (nodes of a cluster).
    fn urls(&self) -> Vec<String> {
        self.server
            .split(',')
            .map(str::trim)
            .filter(|server| !server.is_empty())
            .map(|server| {
                if server.contains("://") {
                    server.to_owned()
                } else if self.tls {
                    format!("https://{server}")
                } else {
                    format!("http://{server}")
                }
            })
            .collect()
    }

    fn is_tls(&self) -> bool {
        self.urls()
            .first()
            .is_some_and(|url| url.starts_with("https://"))
    }

    /// What to try when the server cannot be reached because of `reason`.
    fn hint(&self, reason: &str) -> &'static str {
        if reason.contains("certificate") {
            "; the server's certificate is not trusted: if it is self-signed, \
             trust its PEM file as a CA certificate (--ca-cert FILE)"
        } else if self.is_tls() {
            "; if the server does not serve TLS, use http://"
        } else {
            "; if the server serves TLS, use https://HOST:PORT or --tls"
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No password or token in logs.
        f.debug_struct("ClientConfig")
            .field("server", &self.server)
            .field("name", &self.name)
            .field("register", &self.register)
            .field("tls", &self.tls)
            .field("rooms", &self.rooms)
            .finish_non_exhaustive()
    }
}

/// A cheap-to-clone handle to a logged-in client.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// The session as calls see it: the token of the current login, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    pub token: Option<String>,
    /// Logged out: no new login, the session task stops.
    pub closed: bool,
}

pub(crate) struct Shared {
    pub config: ClientConfig,
    /// `config.token`, until it has been tried.
    saved: Mutex<Option<String>>,
    /// The account has been registered (by this client): log in from now.
    registered: AtomicBool,
    /// A client for each of the configured servers, and which is in use.
    servers: Vec<ChatServiceClient<Channel>>,
    current: AtomicUsize,
    pub auth: watch::Sender<Auth>,
    /// The rooms the user means to be in, to rejoin after a new login.
    rooms: Mutex<BTreeSet<String>>,
    /// Per room, the last sequence number delivered to the application.
    cursors: Mutex<HashMap<String, u64>>,
}

impl Shared {
    /// The server in use.
    pub fn rpc(&self) -> ChatServiceClient<Channel> {
        self.servers[self.current.load(Ordering::Acquire) % self.servers.len()].clone()
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
                    let reason = error_chain(&status);
                    ClientError::Unreachable {
                        address: config.server.clone(),
                        reason: format!("{reason}{}", config.hint(&reason)),
                    }
                }
                _ => ClientError::from_status(status),
            }),
        }
    }
}

type CallFuture<T> = Pin<Box<dyn Future<Output = Result<T, Status>> + Send>>;

impl Client {
    /// Connects, logs in as `config.name`, joins `config.rooms`, and starts
    /// following the session. Fails at once if the server cannot be reached
    /// or the name is taken.
    pub async fn connect(
        config: ClientConfig,
    ) -> Result<(Client, mpsc::Receiver<ClientEvent>), ClientError> {
        let unreachable = |reason: String| ClientError::Unreachable {
            address: config.server.clone(),
            reason,
        };
        let urls = config.urls();
        if urls.is_empty() {
            return Err(unreachable("no server address given".into()));
        }
        // The first server that answers is used; the others are kept to
        // move to when it fails.
        let mut servers = Vec::with_capacity(urls.len());
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
                        let reason = error_chain(&error);
                        failures.push(format!("{url}: {reason}{}", config.hint(&reason)));
                        endpoint.connect_lazy()
                    }
                }
            };
            servers.push(ChatServiceClient::new(channel));
        }
        let Some(current) = current else {
            return Err(unreachable(failures.join("; ")));
        };
        let shared = Arc::new(Shared {
            saved: Mutex::new(config.token.clone()),
            registered: AtomicBool::new(false),
            servers,
            current: AtomicUsize::new(current),
            auth: watch::channel(Auth::default()).0,
            rooms: Mutex::default(),
            cursors: Mutex::default(),
            config,
        });
        let (events, receiver) = mpsc::channel(EVENT_BACKLOG);
        shared.login(&events).await?;
        let client = Client { shared };
        for room in client.shared.config.rooms.clone() {
            client.join_room(&room).await?;
        }
        tokio::spawn(session::run(Arc::clone(&client.shared), events));
        Ok((client, receiver))
    }

    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    /// The current session's token, to save for the next run.
    pub fn session_token(&self) -> Option<String> {
        self.shared.auth.borrow().token.clone()
    }

    /// The rooms the user is in, as far as the client knows.
    pub fn rooms(&self) -> Vec<String> {
        self.shared.rooms().iter().cloned().collect()
    }

    /// Sends `text` to `room`. Retried through a lost connection, and
    /// paced when the server says the user sends too fast, under one id, so
    /// it is posted once however many tries it takes.
    pub async fn send(&self, room: &str, text: &str) -> Result<ChatMessage, ClientError> {
        let message = wire::SendMessageRequest {
            room: room.to_owned(),
            text: text.to_owned(),
            client_message_id: format!("{:032x}", rand::random::<u128>()),
        };
        let sent = self
            .call(Retry::EvenThrottled, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.send_message(request).await?.into_inner()) })
            })
            .await?;
        sent.message
            .map(ChatMessage::from)
            .ok_or_else(|| missing("message"))
    }

    /// Creates `room`, private (seen only by those invited) or not, owned
    /// by the user, and joins it.
    pub async fn create_room(&self, room: &str, private: bool) -> Result<RoomInfo, ClientError> {
        let message = wire::CreateRoomRequest {
            room: room.to_owned(),
            private,
        };
        let reply = self
            .call(Retry::Never, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.create_room(request).await?.into_inner()) })
            })
            .await?;
        self.entered(room, reply.room)
    }

    /// Joins `room`; its messages arrive as events from now on.
    pub async fn join_room(&self, room: &str) -> Result<RoomInfo, ClientError> {
        let message = wire::JoinRoomRequest {
            room: room.to_owned(),
        };
        let reply = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.join_room(request).await?.into_inner()) })
            })
            .await?;
        self.entered(room, reply.room)
    }

    /// Records that the user is in `room`, as the server's `reply` says.
    fn entered(&self, room: &str, reply: Option<wire::Room>) -> Result<RoomInfo, ClientError> {
        self.shared.rooms().insert(room.to_owned());
        reply.map(RoomInfo::from).ok_or_else(|| missing("room"))
    }

    pub async fn leave_room(&self, room: &str) -> Result<(), ClientError> {
        let message = wire::LeaveRoomRequest {
            room: room.to_owned(),
        };
        self.call(Retry::Never, move |mut rpc, token| {
            let request = authorized(message.clone(), &token);
            Box::pin(async move { Ok(rpc.leave_room(request).await?.into_inner()) })
        })
        .await?;
        self.shared.rooms().remove(room);
        self.shared.cursors().remove(room);
        Ok(())
    }

    /// Takes `action` in `room` (as owner or moderator). Returns it as the
    /// server took it, names in the server's spelling.
    pub async fn moderate(
        &self,
        room: &str,
        action: RoomAction,
    ) -> Result<RoomAction, ClientError> {
        let message = wire::ModerateRoomRequest {
            room: room.to_owned(),
            action: Some(wire::RoomAction {
                action: Some(action),
            }),
        };
        let reply = self
            .call(Retry::Never, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.moderate_room(request).await?.into_inner()) })
            })
            .await?;
        reply
            .action
            .and_then(|action| action.action)
            .ok_or_else(|| missing("action"))
    }

    /// The names banned from `room` (for its owner and moderators).
    pub async fn list_bans(&self, room: &str) -> Result<Vec<String>, ClientError> {
        let message = wire::ListBansRequest {
            room: room.to_owned(),
        };
        let reply = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.list_bans(request).await?.into_inner()) })
            })
            .await?;
        Ok(reply
            .names
            .iter()
            .map(|name| printable::line(name))
            .collect())
    }

    /// The direct conversation with account `name`, opened (and joined)
    /// if there was none.
    pub async fn open_direct(&self, name: &str) -> Result<RoomInfo, ClientError> {
        let message = wire::OpenDirectRequest {
            name: name.to_owned(),
        };
        let reply = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.open_direct(request).await?.into_inner()) })
            })
            .await?;
        let room = reply.room.ok_or_else(|| missing("room"))?;
        let name = room.name.clone();
        self.entered(&name, Some(room))
    }

    /// Every open room, by name.
    pub async fn list_rooms(&self) -> Result<Vec<RoomInfo>, ClientError> {
        self.all_pages(|mut rpc, token, page_token| {
            let message = wire::ListRoomsRequest {
                page_size: 0,
                page_token,
            };
            let request = authorized(message, &token);
            Box::pin(async move {
                let page = rpc.list_rooms(request).await?.into_inner();
                let rooms = page.rooms.into_iter().map(RoomInfo::from).collect();
                Ok((rooms, page.next_page_token))
            })
        })
        .await
    }

    /// Every member of `room`, by name.
    pub async fn list_members(&self, room: &str) -> Result<Vec<Member>, ClientError> {
        self.all_pages(|mut rpc, token, page_token| {
            let message = wire::ListMembersRequest {
                room: room.to_owned(),
                page_size: 0,
                page_token,
            };
            let request = authorized(message, &token);
            Box::pin(async move {
                let page = rpc.list_members(request).await?.into_inner();
                let members = page.members.into_iter().map(Member::from).collect();
                Ok((members, page.next_page_token))
            })
        })
        .await
    }

    /// Every item of a paginated listing. `page` fetches the page after a
    /// page token and returns its items and the next token (empty on the
    /// last page).
    async fn all_pages<T, F>(&self, mut page: F) -> Result<Vec<T>, ClientError>
    where
        F: FnMut(ChatServiceClient<Channel>, String, String) -> CallFuture<(Vec<T>, String)>,
    {
        let mut items = Vec::new();
        let mut page_token = String::new();
        loop {
            let after = page_token;
            let (mut found, next) = self
                .call(Retry::Transient, |rpc, token| {
                    page(rpc, token, after.clone())
                })
                .await?;
            items.append(&mut found);
            if next.is_empty() {
                return Ok(items);
            }
            page_token = next;
        }
    }

    /// Up to `limit` messages of `room` before sequence number `before`
    /// (`None`: the newest), oldest first.
    pub async fn history(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<HistoryPage, ClientError> {
        let message = wire::GetHistoryRequest {
            room: room.to_owned(),
            position: before.map(wire::get_history_request::Position::BeforeSeq),
            limit,
        };
        let page = self
            .call(Retry::Transient, move |mut rpc, token| {
                let request = authorized(message.clone(), &token);
                Box::pin(async move { Ok(rpc.get_history(request).await?.into_inner()) })
            })
            .await?;
        Ok(HistoryPage {
            messages: page.messages.into_iter().map(ChatMessage::from).collect(),
            has_more: page.has_more,
        })
    }

    /// Ends the session: the user leaves its rooms and the name is free.
    pub async fn logout(&self) -> Result<(), ClientError> {
        let result = self
            .call(Retry::Never, |mut rpc, token| {
                let request = authorized(wire::LogoutRequest {}, &token);
                Box::pin(async move { Ok(rpc.logout(request).await?.into_inner()) })
            })
            .await;
        // No session now: the session task stops instead of logging in.
        self.shared.auth.send_replace(Auth {
            token: None,
            closed: true,
        });
        self.shared.rooms().clear();
        result.map(drop)
    }

    /// Runs `attempt` with the current session's token, retrying as
    /// `retry` allows for up to [`RETRY_FOR`].
    async fn call<T, F>(&self, retry: Retry, mut attempt: F) -> Result<T, ClientError>
    where
        F: FnMut(ChatServiceClient<Channel>, String) -> CallFuture<T>,
    {
        let deadline = Instant::now() + RETRY_FOR;
        let mut auth = self.shared.auth.subscribe();
        loop {
            let current = auth.borrow_and_update().clone();
            if current.closed {
                return Err(ClientError::Closed);
            }
            let failure = match current.token {
                Some(token) => match attempt(self.shared.rpc(), token).await {
                    Ok(value) => return Ok(value),
                    Err(status) => status,
                },
                None => Status::unauthenticated("reconnecting"),
            };
            let again = match retry {
                Retry::Never => false,
                Retry::Transient => is_transient(&failure),
                Retry::EvenThrottled => {
                    is_transient(&failure) || failure.code() == Code::ResourceExhausted
                }
            };
            if !again || Instant::now() >= deadline {
                return Err(ClientError::from_status(failure));
            }
            if failure.code() == Code::Unauthenticated {
                // The session task logs in again; wait for its new token.
                let _ = tokio::time::timeout_at(deadline, auth.changed()).await;
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Which failures a call tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// None: the request is not safe to repeat.
    Never,
    /// A lost connection or session.
    Transient,
    /// Those, and being told to slow down (sends, which the server limits
    /// per user): the wait between tries paces them.
    EvenThrottled,
}

/// How to reach the server at `url`, with the TLS settings of `config`.
fn endpoint(config: &ClientConfig, url: &str) -> Result<Endpoint, String> {
    let mut endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| e.to_string())?;
    if url.starts_with("https://") {
        let mut tls = ClientTlsConfig::new().with_enabled_roots();
        if let Some(pem) = &config.ca_cert {
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls).map_err(|e| error_chain(&e))?;
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

fn missing(field: &str) -> ClientError {
    ClientError::Refused {
        code: Code::Internal,
        message: format!("the server's reply had no {field}"),
    }
}

/// An error with its causes, which is where connection errors keep the
/// useful part.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
