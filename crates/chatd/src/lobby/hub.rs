//! The lobby protocol's own state: who is logged in (by index), which
//! channel each user is in, and which channel ports are free. Messages and
//! membership live in the engine; this maps the protocol onto it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chat_engine::{Engine, EngineError, NameClaim, Room, RoomEvent, RoomEvents};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::sessions::names::{CHANNEL_PREFIX, LOBBY_ROOM, lobby_user_name};

/// Indexes a login passes over, at most, whose names others hold.
const MOST_INDEXES_SKIPPED: usize = 1000;

/// Where lobby users' indexes come from: a count of this node's own, or in
/// a cluster one that every node shares, so an index (and so a user's
/// name, `user-N`) is given once in the cluster.
#[async_trait::async_trait]
pub trait UserIndexes: Send + Sync + 'static {
    async fn next_index(&self) -> Result<i32, HubError>;
}

/// What makes a node's lobby users and channels its own: where their
/// indexes come from, and how its channel rooms are named (before the
/// port).
pub struct LobbyIdentity {
    indexes: Arc<dyn UserIndexes>,
    channel_prefix: String,
}

impl LobbyIdentity {
    /// A node on its own: indexes counted here, rooms `channel-PORT`.
    pub fn single_node() -> Self {
        LobbyIdentity {
            indexes: Arc::new(LocalIndexes::default()),
            channel_prefix: CHANNEL_PREFIX.into(),
        }
    }

    /// A node of a cluster, advertised as `host`: indexes from `indexes`
    /// (shared by the nodes), rooms `channel-HOST-PORT`, as nodes on
    /// different hosts may give the same ports.
    pub fn in_cluster(indexes: Arc<dyn UserIndexes>, host: &str) -> Self {
        LobbyIdentity {
            indexes,
            channel_prefix: format!("{CHANNEL_PREFIX}{host}-"),
        }
    }

    /// A node of a cluster if the nodes share `cluster_indexes`, else one
    /// on its own.
    pub fn new(cluster_indexes: Option<Arc<dyn UserIndexes>>, host: &str) -> Self {
        match cluster_indexes {
            Some(indexes) => LobbyIdentity::in_cluster(indexes, host),
            None => LobbyIdentity::single_node(),
        }
    }
}

/// Indexes counted on this node, from 1.
#[derive(Debug)]
struct LocalIndexes(AtomicI32);

impl Default for LocalIndexes {
    fn default() -> Self {
        LocalIndexes(AtomicI32::new(1))
    }
}

#[async_trait::async_trait]
impl UserIndexes for LocalIndexes {
    async fn next_index(&self) -> Result<i32, HubError> {
        let index = self.0.fetch_add(1, Ordering::Relaxed);
        if index <= 0 {
            // Wrapped: stays exhausted.
            self.0.store(i32::MIN, Ordering::Relaxed);
            return Err(HubError::IndexesExhausted);
        }
        Ok(index)
    }
}

/// Why a lobby-protocol request cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("no user with index {0} is logged in; log in with Agent.TryLogin first")]
    UnknownUser(i32),
    #[error(
        "user {0} logged in from another address; log in with Agent.TryLogin for an index of your own"
    )]
    NotYours(i32),
    #[error("your address has {0} channels open already; use one of them, or leave one")]
    ChannelsPerAddress(usize),
    #[error("there is no open channel {0}; LIST_CHANNELS shows the open ones")]
    UnknownChannel(i32),
    #[error("user {index} is not in channel {channel}; join it with JOIN_CHANNEL first")]
    NotInChannel { index: i32, channel: i32 },
    #[error("user {0} is not in any channel")]
    NotInAnyChannel(i32),
    #[error("all {0} channel ports are in use; wait for a channel to close")]
    PoolExhausted(usize),
    #[error("no more user indexes can be given out")]
    IndexesExhausted,
    #[error("unknown command {0}; see CommandRequest.Status for the commands")]
    UnknownCommand(i32),
    #[error("JOIN_CHANNEL needs the number of the channel to join")]
    MissingChannel,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A cheap-to-clone handle to the lobby protocol's shared state.
#[derive(Clone)]
pub struct LobbyHub {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    lobby: Arc<Room>,
    indexes: Arc<dyn UserIndexes>,
    /// How this node's channel rooms are named, before the port: the
    /// nodes of a cluster each give their own ports.
    channel_prefix: String,
    pool_size: usize,
    /// How many open channels users from one address may have made.
    max_channels_per_address: usize,
    /// How long a user may go without an open heartbeat stream.
    heartbeat_timeout: Duration,
    /// Cancelled at server shutdown; every user's token is a child of it.
    shutdown: CancellationToken,
    state: Mutex<State>,
}

struct State {
    users: HashMap<i32, User>,
    /// Open channels by port (the channel number).
    channels: BTreeMap<i32, OpenChannel>,
    free_ports: BTreeSet<i32>,
}

impl State {
    /// Puts user `index` in open channel `port`, out of its old channel.
    /// Returns whether it was not already there.
    fn seat(&mut self, engine: &Engine, index: i32, port: i32) -> Result<bool, HubError> {
        let user = self.users.get(&index).ok_or(HubError::UnknownUser(index))?;
        if user.seat.as_ref().is_some_and(|seat| seat.port == port) {
            return Ok(false);
        }
        let room = Arc::clone(
            &self
                .channels
                .get(&port)
                .ok_or(HubError::UnknownChannel(port))?
                .room,
        );
        self.vacate_seat(engine, index);
        room.join(&lobby_user_name(index))?;
        if let Some(user) = self.users.get_mut(&index) {
            user.seat = Some(Seat {
                port,
                left: user.gone.child_token(),
            });
        }
        Ok(true)
    }

    /// Takes user `index` out of its channel, if any, telling the rest and
    /// closing the channel when it is left empty. Returns the channel left.
    fn vacate_seat(&mut self, engine: &Engine, index: i32) -> Option<i32> {
        let seat = self.users.get_mut(&index)?.seat.take()?;
        seat.left.cancel();
        if let Some(channel) = self.channels.get(&seat.port) {
            channel.room.leave(&lobby_user_name(index));
            if channel.room.member_count() == 0 {
                self.close_channel(engine, seat.port);
            }
        }
        Some(seat.port)
    }

    /// Closes channel `port` and frees its port.
    fn close_channel(&mut self, engine: &Engine, port: i32) {
        if let Some(channel) = self.channels.remove(&port) {
            self.free_ports.insert(port);
            engine.close_room(channel.room.name());
            tracing::info!(channel = port, "empty channel closed");
        }
    }
}

/// A channel, and the address of the user who made it.
struct OpenChannel {
    room: Arc<Room>,
    maker: IpAddr,
}

struct User {
    /// Holds `user-N` in the engine's directory, online while logged in.
    _name: NameClaim,
    /// The address it logged in from: the protocol has no token, so only
    /// calls from there may speak or act for it.
    address: IpAddr,
    seat: Option<Seat>,
    heartbeats: usize,
    /// Since when the user has had no heartbeat stream open.
    unwatched_since: Instant,
    /// Cancelled when the user is removed (or the server shuts down): ends
    /// every stream of the user.
    gone: CancellationToken,
}

/// A user's place in a channel.
struct Seat {
    port: i32,
    /// Cancelled when the user leaves the channel: ends its channel streams.
    left: CancellationToken,
}

/// Keeps a user's heartbeat counted as open; dropping it closes it, and the
/// last one closing removes the user at once.
pub struct HeartbeatGuard {
    hub: LobbyHub,
    index: i32,
}

impl Drop for HeartbeatGuard {
    fn drop(&mut self) {
        self.hub.heartbeat_closed(self.index);
    }
}

impl LobbyHub {
    /// The lobby protocol's state over `engine`, with channels on `ports`,
    /// of which users from one address may make `max_channels_per_address`.
    pub fn new(
        engine: Engine,
        ports: impl IntoIterator<Item = i32>,
        max_channels_per_address: usize,
        heartbeat_timeout: Duration,
        identity: LobbyIdentity,
        shutdown: CancellationToken,
    ) -> Self {
        let free_ports: BTreeSet<i32> = ports.into_iter().collect();
        let lobby = engine.room(LOBBY_ROOM);
        LobbyHub {
            shared: Arc::new(Shared {
                engine,
                lobby,
                indexes: identity.indexes,
                channel_prefix: identity.channel_prefix,
                pool_size: free_ports.len(),
                max_channels_per_address,
                heartbeat_timeout,
                shutdown,
                state: Mutex::new(State {
                    users: HashMap::new(),
                    channels: BTreeMap::new(),
                    free_ports,
                }),
            }),
        }
    }

    pub fn lobby(&self) -> &Arc<Room> {
        &self.shared.lobby
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.shared.shutdown
    }

    /// Logs a new user in from `address`: the next index whose name
    /// `user-N` nobody else holds (a user of another protocol may have
    /// taken one that looks like it), a member of the lobby.
    pub async fn login(&self, address: IpAddr) -> Result<i32, HubError> {
        for _ in 0..MOST_INDEXES_SKIPPED {
            let index = self.shared.indexes.next_index().await?;
            let name = match self
                .shared
                .engine
                .names()
                .claim_here(&lobby_user_name(index))
            {
                Ok(name) => name,
                Err(EngineError::NameTaken { .. } | EngineError::NameRegistered { .. }) => {
                    tracing::info!(index, "lobby index passed over: its name is taken");
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let mut state = self.state();
            name.set_online(true);
            self.shared.lobby.join(&lobby_user_name(index))?;
            state.users.insert(
                index,
                User {
                    _name: name,
                    address,
                    seat: None,
                    heartbeats: 0,
                    unwatched_since: Instant::now(),
                    gone: self.shared.shutdown.child_token(),
                },
            );
            tracing::info!(index, "lobby user logged in");
            return Ok(index);
        }
        Err(HubError::IndexesExhausted)
    }

    /// Checks that user `index` is logged in, from `from`: only its own
    /// address may act for it. Returns a token cancelled when it is
    /// removed (or the server shuts down), to end its streams.
    pub fn user(&self, index: i32, from: IpAddr) -> Result<CancellationToken, HubError> {
        let state = self.state();
        let user = state
            .users
            .get(&index)
            .ok_or(HubError::UnknownUser(index))?;
        if user.address != from {
            return Err(HubError::NotYours(index));
        }
        Ok(user.gone.clone())
    }

    /// Removes a user: out of its channel (telling the rest), out of the
    /// lobby, and every stream of it ends. Returns whether it was there.
    pub fn remove_user(&self, index: i32, reason: &str) -> bool {
        let mut state = self.state();
        state.vacate_seat(&self.shared.engine, index);
        let Some(user) = state.users.remove(&index) else {
            return false;
        };
        self.shared.lobby.leave(&lobby_user_name(index));
        user.gone.cancel();
        tracing::info!(index, reason, "lobby user removed");
        true
    }

    /// Counts a heartbeat stream of `index` as open.
    pub fn heartbeat_opened(&self, index: i32) -> Result<HeartbeatGuard, HubError> {
        let mut state = self.state();
        let user = state
            .users
            .get_mut(&index)
            .ok_or(HubError::UnknownUser(index))?;
        user.heartbeats += 1;
        Ok(HeartbeatGuard {
            hub: self.clone(),
            index,
        })
    }

    fn heartbeat_closed(&self, index: i32) {
        let last = {
            let mut state = self.state();
            let Some(user) = state.users.get_mut(&index) else {
                return;
            };
            user.heartbeats -= 1;
            user.unwatched_since = Instant::now();
            user.heartbeats == 0
        };
        if last && !self.shared.shutdown.is_cancelled() {
            self.remove_user(index, "heartbeat stream closed");
        }
    }

    /// Removes every user that has had no heartbeat stream open for longer
    /// than the heartbeat timeout (e.g. logged in and never sent one).
    pub fn remove_silent_users(&self) {
        let now = Instant::now();
        let silent: Vec<i32> = self
            .state()
            .users
            .iter()
            .filter(|(_, user)| {
                user.heartbeats == 0
                    && now.duration_since(user.unwatched_since) > self.shared.heartbeat_timeout
            })
            .map(|(&index, _)| index)
            .collect();
        for index in silent {
            self.remove_user(index, "no heartbeat within the timeout");
        }
    }

    /// Runs [`remove_silent_users`](Self::remove_silent_users) a few times
    /// per timeout until shutdown.
    pub async fn reap_silent_users(self) {
        let period = (self.shared.heartbeat_timeout / 4).max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shared.shutdown.cancelled() => return,
                _ = ticker.tick() => self.remove_silent_users(),
            }
        }
    }

    /// Closes channel `port` when users of another protocol leave it empty
    /// (lobby users' leaves close it at once, in `vacate_seat`).
    async fn close_when_emptied(self, port: i32, mut members: RoomEvents) {
        loop {
            match members.recv().await {
                Ok(RoomEvent::Left(_)) | Err(_) => {
                    let mut state = self.state();
                    let empty = state
                        .channels
                        .get(&port)
                        .is_some_and(|channel| channel.room.member_count() == 0);
                    if empty {
                        state.close_channel(&self.shared.engine, port);
                        return;
                    }
                }
                Ok(
                    RoomEvent::Joined { .. }
                    | RoomEvent::Presence { .. }
                    | RoomEvent::Changed { .. }
                    | RoomEvent::Typing { .. },
                ) => {}
                Ok(RoomEvent::Closed) => return,
            }
        }
    }

    /// Opens a channel on a free port with `index` in it (leaving its old
    /// channel), unless its address has made its most. Returns the port.
    pub fn make_channel(&self, index: i32) -> Result<i32, HubError> {
        let mut state = self.state();
        let maker = state
            .users
            .get(&index)
            .ok_or(HubError::UnknownUser(index))?
            .address;
        let most = self.shared.max_channels_per_address;
        if state.channels.values().filter(|c| c.maker == maker).count() >= most {
            return Err(HubError::ChannelsPerAddress(most));
        }
        let port = state
            .free_ports
            .pop_first()
            .ok_or(HubError::PoolExhausted(self.shared.pool_size))?;
        let room = self
            .shared
            .engine
            .room(&format!("{}{port}", self.shared.channel_prefix));
        tokio::spawn(self.clone().close_when_emptied(port, room.watch_members()));
        state.channels.insert(port, OpenChannel { room, maker });
        tracing::info!(channel = port, maker = index, "channel opened");
        state.seat(&self.shared.engine, index, port)?;
        Ok(port)
    }

    /// Puts `index` in the open channel `port` (leaving its old channel).
    /// Returns whether it was not already there.
    pub fn join_channel(&self, index: i32, port: i32) -> Result<bool, HubError> {
        let mut state = self.state();
        if !state.users.contains_key(&index) {
            return Err(HubError::UnknownUser(index));
        }
        state.seat(&self.shared.engine, index, port)
    }

    /// Takes `index` out of its channel. Returns the channel it left.
    pub fn leave_channel(&self, index: i32) -> Result<i32, HubError> {
        let mut state = self.state();
        if !state.users.contains_key(&index) {
            return Err(HubError::UnknownUser(index));
        }
        state
            .vacate_seat(&self.shared.engine, index)
            .ok_or(HubError::NotInAnyChannel(index))
    }

    /// Takes `index` out of channel `port` specifically.
    pub fn remove_from_channel(&self, index: i32, port: i32) -> Result<(), HubError> {
        let mut state = self.state();
        let user = state
            .users
            .get(&index)
            .ok_or(HubError::UnknownUser(index))?;
        if user.seat.as_ref().is_none_or(|seat| seat.port != port) {
            return Err(HubError::NotInChannel {
                index,
                channel: port,
            });
        }
        state.vacate_seat(&self.shared.engine, index);
        Ok(())
    }

    /// The room of open channel `port`, if `index` is in it, with a token
    /// cancelled when it leaves.
    pub fn seat_in(
        &self,
        index: i32,
        port: i32,
    ) -> Result<(Arc<Room>, CancellationToken), HubError> {
        let state = self.state();
        let user = state
            .users
            .get(&index)
            .ok_or(HubError::UnknownUser(index))?;
        let channel = state
            .channels
            .get(&port)
            .ok_or(HubError::UnknownChannel(port))?;
        match &user.seat {
            Some(seat) if seat.port == port => Ok((Arc::clone(&channel.room), seat.left.clone())),
            _ => Err(HubError::NotInChannel {
                index,
                channel: port,
            }),
        }
    }

    /// The room of open channel `port`.
    pub fn channel(&self, port: i32) -> Result<Arc<Room>, HubError> {
        self.state()
            .channels
            .get(&port)
            .map(|channel| Arc::clone(&channel.room))
            .ok_or(HubError::UnknownChannel(port))
    }

    /// The open channels' numbers, ascending.
    pub fn channels(&self) -> Vec<i32> {
        self.state().channels.keys().copied().collect()
    }

    /// `(index, channel)` of the users in `channel` if it is open, else of
    /// every user; channel 0 is the lobby. Sorted by index.
    pub fn users(&self, channel: Option<i32>) -> Vec<(i32, i32)> {
        let state = self.state();
        let filter = channel.filter(|port| state.channels.contains_key(port));
        let mut users: Vec<(i32, i32)> = state
            .users
            .iter()
            .map(|(&index, user)| (index, user.seat.as_ref().map_or(0, |seat| seat.port)))
            .filter(|&(_, seat)| filter.is_none_or(|port| port == seat))
            .collect();
        users.sort_unstable();
        users
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Each operation leaves the maps consistent before it can panic.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
