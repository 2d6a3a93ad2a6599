//! The [`Engine`]: the open rooms and the store behind them. It opens,
//! creates and closes rooms, applies moderation and direct conversations,
//! and (in a cluster) what other nodes did.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::broadcast;

use crate::committer::{Committer, fill_gap_later};
use crate::directory::Directory;
use crate::registry::Names;
use std::num::NonZeroU32;

use crate::access::RoomAccess;
use crate::store::{Grant, RoomUpdate};
use crate::{
    EngineError, EngineMetrics, HistoryStore, Limits, Message, News, NoRelay, Relay, Room,
    RoomAction, SavedRoom, StoreError,
};

/// How many room openings and closings a slow watcher may fall behind.
const ROOM_CHANGE_BACKLOG: usize = 256;

/// A public room opening or closing. (Private rooms open and close
/// unannounced: their members hear of them as members.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomChange {
    Opened(String),
    Closed(String),
}

/// How much the engine holds at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    /// Rooms open.
    pub rooms: usize,
    /// Guests online on this node, on any protocol.
    pub guests_online: usize,
    /// Accounts online on this node.
    pub accounts_online: usize,
}

/// Settings of the engine as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    pub limits: Limits,
    /// How many of each room's newest messages are kept in memory for
    /// fan-out and fast replay; older ones are read from the store.
    pub window_len: usize,
    pub rooms: RoomLimits,
}

/// How many rooms users may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimits {
    /// Rooms open on the server, at most.
    pub max_rooms: usize,
    /// Rooms one user may have created (and not yet closed), at most.
    pub max_created_per_user: usize,
    /// Rooms one user may create in an hour.
    pub created_per_user_per_hour: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            limits: Limits::default(),
            window_len: 4096,
            rooms: RoomLimits {
                max_rooms: 10_000,
                max_created_per_user: 100,
                created_per_user_per_hour: 20,
            },
        }
    }
}

/// Room creations per user and hour.
type CreationRate = governor::DefaultKeyedRateLimiter<String>;

/// A cheap-to-clone handle to the engine's shared state: the open rooms and
/// the history store behind them.
#[derive(Clone, Debug)]
pub struct Engine {
    shared: Arc<Shared>,
}

struct Shared {
    config: EngineConfig,
    store: Arc<dyn HistoryStore>,
    committer: Committer,
    rooms: Mutex<BTreeMap<String, Arc<Room>>>,
    room_changes: broadcast::Sender<RoomChange>,
    directory: Arc<Directory>,
    metrics: EngineMetrics,
    creations: CreationRate,
    /// Held while a direct conversation is looked for and made, so two
    /// calls for one pair cannot make two.
    opening_direct: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("rooms", &self.rooms().len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn rooms(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Room>>> {
        // Map updates are single calls, never left half-done by a panic.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Engine {
    /// An engine over `store`, on its own. Starts the task that stores and
    /// publishes messages, so it must be called within a tokio runtime.
    pub fn new(config: EngineConfig, store: Arc<dyn HistoryStore>) -> Self {
        Self::with_relay(config, store, Arc::new(NoRelay))
    }

    /// An engine over a store it shares with other nodes, handing what it
    /// stores to them through `relay` (and shown theirs through
    /// [`deliver_remote`](Self::deliver_remote)).
    pub fn with_relay(
        config: EngineConfig,
        store: Arc<dyn HistoryStore>,
        relay: Arc<dyn Relay>,
    ) -> Self {
        let metrics = EngineMetrics::default();
        Engine {
            shared: Arc::new(Shared {
                config,
                committer: Committer::start(
                    Arc::clone(&store),
                    Arc::clone(&relay),
                    metrics.clone(),
                ),
                metrics,
                store,
                rooms: Mutex::default(),
                room_changes: broadcast::channel(ROOM_CHANGE_BACKLOG).0,
                directory: Arc::new(Directory::new(relay)),
                creations: governor::RateLimiter::keyed(governor::Quota::per_hour(
                    NonZeroU32::new(config.rooms.created_per_user_per_hour)
                        .unwrap_or(NonZeroU32::MIN),
                )),
                opening_direct: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A message another node stored: shown in its room, if the room is
    /// open here, in order. A gap before it is given 100 ms to fill through
    /// the relay, then read from the store (again, while the store is
    /// down: nothing is skipped).
    pub fn deliver_remote(&self, room: &str, message: Arc<Message>) {
        let Some(room) = self.find_room(room) else {
            return;
        };
        if room.deliver(message).is_some() {
            fill_gap_later(Arc::clone(&self.shared.store), room);
        }
    }

    /// Whether the history store answers now.
    pub async fn check_store(&self) -> Result<(), StoreError> {
        self.shared.store.check().await
    }

    /// What the engine counts, for metrics.
    pub fn metrics(&self) -> &EngineMetrics {
        &self.shared.metrics
    }

    /// How much the engine holds now.
    pub fn census(&self) -> Census {
        let (guests_online, accounts_online) = self.shared.directory.lock().online_here();
        Census {
            rooms: self.shared.rooms().len(),
            guests_online,
            accounts_online,
        }
    }

    /// The limits every adapter checks against.
    pub fn limits(&self) -> Limits {
        self.shared.config.limits
    }

    /// The open room called `name`, opened now if it was not.
    /// Rooms opened this way are public and have no owner: the server's
    /// own rooms (`general`, `lobby`, lobby channels).
    pub fn room(&self, name: &str) -> Arc<Room> {
        self.open_room(name, RoomAccess::default())
    }

    fn open_room(&self, name: &str, access: RoomAccess) -> Arc<Room> {
        let mut rooms = self.shared.rooms();
        if let Some(room) = rooms.get(name) {
            return Arc::clone(room);
        }
        let room = Arc::new(Room::open(
            name.to_owned(),
            self.shared.config.limits,
            self.shared.config.window_len,
            Arc::clone(&self.shared.store),
            self.shared.committer.clone(),
            Arc::clone(&self.shared.directory),
            access,
        ));
        rooms.insert(name.to_owned(), Arc::clone(&room));
        // Its members' mention counts are ready by the time they are asked.
        tokio::spawn(Room::load_mentioning(Arc::downgrade(&room)));
        // Under the map's lock, so watchers hear openings and closings in
        // the order they happened. No watcher is fine.
        if !room.is_private() {
            let _ = self
                .shared
                .room_changes
                .send(RoomChange::Opened(name.to_owned()));
        }
        tracing::debug!(room = name, "room opened");
        room
    }

    /// Opens room `name`, public or private, owned by account `owner`,
    /// and saves it, so it is open again after a restart. Refused to a
    /// user without an account, when the server has its most rooms, or the
    /// owner has created its most rooms, in all or this hour.
    pub async fn create_room(
        &self,
        name: &str,
        owner: &str,
        private: bool,
    ) -> Result<Arc<Room>, EngineError> {
        if !self.is_account(owner) {
            return Err(EngineError::NotAllowed(
                "only accounts create rooms (a guest's name, and so its room, \
                 could pass to anyone): register an account first"
                    .into(),
            ));
        }
        // Counted first, refused or not: a taken name is how a private
        // room's name would be found, so finding is held to the same pace.
        self.check_room_allowance(owner)?;
        if self.find_room(name).is_some() {
            return Err(EngineError::RoomNameTaken(name.to_owned()));
        }
        self.save_and_open(SavedRoom {
            name: name.to_owned(),
            owner: Some(owner.to_owned()),
            private,
            ..SavedRoom::default()
        })
        .await
    }

    /// Whether `name` is a registered account's name as registered.
    pub fn is_account(&self, name: &str) -> bool {
        self.shared.directory.lock().registered_as(name) == Some(name)
    }

    /// Refuses a new room when the server has its most rooms, or `creator`
    /// has made its most rooms, in all or this hour.
    fn check_room_allowance(&self, creator: &str) -> Result<(), EngineError> {
        let limits = self.shared.config.rooms;
        let (open, created) = {
            let rooms = self.shared.rooms();
            let created = rooms
                .values()
                .filter(|room| room.access().owner.as_deref() == Some(creator))
                .count();
            (rooms.len(), created)
        };
        if open >= limits.max_rooms {
            return Err(EngineError::TooManyRooms(limits.max_rooms));
        }
        if created >= limits.max_created_per_user {
            return Err(EngineError::TooManyRoomsCreated(
                limits.max_created_per_user,
            ));
        }
        let creations = &self.shared.creations;
        if let Err(not_until) = creations.check_key(&creator.to_owned()) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(creations.clock()));
            return Err(EngineError::CreatingRoomsTooFast {
                per_hour: limits.created_per_user_per_hour,
                wait_secs: wait.as_secs().max(1),
            });
        }
        // Users who have not created a room for an hour are forgotten.
        if creations.len() > 1024 {
            creations.retain_recent();
        }
        Ok(())
    }

    async fn save_and_open(&self, room: SavedRoom) -> Result<Arc<Room>, EngineError> {
        let access = RoomAccess::from_saved(&room);
        let name = room.name.clone();
        self.shared
            .store
            .update_rooms(vec![RoomUpdate::Create(room)])
            .await?;
        let room = self.open_room(&name, access);
        self.shared
            .directory
            .relay()
            .announce(News::RoomSaved(name));
        Ok(room)
    }

    /// The direct conversation of accounts `me` and `peer`, made (under
    /// the name `new_name` gives) if they have none. Returns it and whether
    /// it is new.
    pub async fn open_direct(
        &self,
        me: &str,
        peer: &str,
        new_name: impl FnOnce() -> String,
    ) -> Result<(Arc<Room>, bool), EngineError> {
        if !self.is_account(me) {
            return Err(EngineError::NotAllowed(
                "direct conversations are between accounts: register an account first".into(),
            ));
        }
        let peer = self
            .shared
            .directory
            .lock()
            .registered_as(peer)
            .map(str::to_owned)
            .ok_or_else(|| EngineError::NoSuchUser(peer.to_owned()))?;
        if peer == me {
            return Err(EngineError::InvalidChange(
                "a direct conversation is with someone else".into(),
            ));
        }
        let _one_at_a_time = self.shared.opening_direct.lock().await;
        // Direct conversations are opened rarely; a scan of the rooms is
        // cheaper to keep right than an index.
        let found = self.shared.rooms().values().find_map(|room| {
            let access = room.access();
            let pair = access.direct
                && access.participants.len() == 2
                && access.participants.contains(me)
                && access.participants.contains(&peer);
            pair.then(|| Arc::clone(room))
        });
        if let Some(room) = found {
            return Ok((room, false));
        }
        self.check_room_allowance(me)?;
        let room = self
            .save_and_open(SavedRoom {
                name: new_name(),
                private: true,
                direct: true,
                grants: vec![
                    (Grant::Participant, me.to_owned()),
                    (Grant::Participant, peer.clone()),
                ],
                ..SavedRoom::default()
            })
            .await?;
        Ok((room, true))
    }

    /// Lets `actor` take `action` in room `name` if its role there allows
    /// (see [`RoomAccess::check`]); a deleted room closes. Returns the
    /// action as taken, its target's name in proper form.
    pub async fn moderate(
        &self,
        name: &str,
        actor: &str,
        action: RoomAction,
    ) -> Result<RoomAction, EngineError> {
        let room = self.find_visible_room(name, actor)?;
        let action = room.moderate(actor, action).await?;
        if action == RoomAction::Delete {
            self.close_room(name);
            tracing::info!(room = name, by = actor, "room deleted");
        }
        Ok(action)
    }

    /// Forgets what rooms granted a guest whose session ended, so whoever
    /// takes its name next does not inherit its invitations. (Its bans
    /// and mutes stay with the name.)
    pub fn forget_guest(&self, name: &str) {
        for room in self.shared.rooms().values() {
            room.forget(name, false);
        }
        self.shared.directory.relay().announce(News::Forgotten {
            name: name.to_owned(),
            account: false,
        });
    }

    /// Forgets what rooms granted a deleted account; a room it owned
    /// passes to its first moderator, or has no owner.
    pub async fn forget_account(&self, name: &str) -> Result<(), EngineError> {
        let rooms: Vec<Arc<Room>> = self.shared.rooms().values().cloned().collect();
        let updates: Vec<RoomUpdate> = rooms
            .iter()
            .flat_map(|room| room.forget(name, true))
            .collect();
        if !updates.is_empty() {
            self.shared.store.update_rooms(updates).await?;
        }
        self.shared.directory.relay().announce(News::Forgotten {
            name: name.to_owned(),
            account: true,
        });
        Ok(())
    }

    /// The rooms `name` is invited to and not in, by name.
    pub fn invitations_for(&self, name: &str) -> Vec<String> {
        self.shared
            .rooms()
            .values()
            .filter(|room| room.access().is_invited(name) && !room.is_member(name))
            .map(|room| room.name().to_owned())
            .collect()
    }

    /// The open room called `name`, if user `user` may know of it.
    pub fn find_visible_room(&self, name: &str, user: &str) -> Result<Arc<Room>, EngineError> {
        self.find_room(name)
            .filter(|room| room.is_visible_to(user))
            .ok_or_else(|| EngineError::NoSuchRoom(name.to_owned()))
    }

    /// Opens every room saved by [`create_room`](Self::create_room) as it
    /// was saved.
    pub async fn open_saved_rooms(&self) -> Result<(), StoreError> {
        for saved in self.shared.store.saved_rooms().await? {
            self.open_room(&saved.name, RoomAccess::from_saved(&saved));
        }
        Ok(())
    }

    /// The open room called `name`, if there is one.
    pub fn find_room(&self, name: &str) -> Option<Arc<Room>> {
        self.shared.rooms().get(name).cloned()
    }

    /// Closes the room called `name` and forgets it; its subscribers finish
    /// what was posted and are then told it closed. Its history stays in the
    /// store. Returns whether the room was open.
    pub fn close_room(&self, name: &str) -> bool {
        let room = {
            let mut rooms = self.shared.rooms();
            let Some(room) = rooms.remove(name) else {
                return false;
            };
            if !room.is_private() {
                let _ = self
                    .shared
                    .room_changes
                    .send(RoomChange::Closed(name.to_owned()));
            }
            room
        };
        room.close();
        tracing::debug!(room = name, "room closed");
        true
    }

    /// A feed of rooms opening and closing from now on.
    pub fn watch_rooms(&self) -> broadcast::Receiver<RoomChange> {
        self.shared.room_changes.subscribe()
    }

    /// Up to `limit` of the newest messages of room `name` below sequence
    /// number `before`, oldest first, from history (the room need not be
    /// open).
    pub async fn history_before(
        &self,
        name: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        self.shared.store.read_before(name, before, limit).await
    }

    /// Up to `limit` messages of room `name` after sequence number `after`,
    /// oldest first, from history (the room need not be open).
    pub async fn history_after(
        &self,
        name: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        self.shared.store.read_after(name, after, limit).await
    }

    /// The sequence number of the newest message of room `name` in history,
    /// 0 if none.
    pub fn last_seq(&self, name: &str) -> u64 {
        match self.find_room(name) {
            Some(room) => room.last_seq(),
            None => self.shared.store.last_seq(name),
        }
    }

    /// The name registry: who holds which name, on every protocol.
    pub fn names(&self) -> Names {
        Names::new(
            Arc::clone(&self.shared.directory),
            self.shared.config.limits,
        )
    }

    /// Hands `news` to the other nodes, if any.
    pub fn announce(&self, news: News) {
        self.shared.directory.relay().announce(news);
    }

    /// `name` is online on some other node, or on none any more: the rooms
    /// it is in hear of it, unless it is online here.
    pub fn set_online_elsewhere(&self, name: &str, online: bool) {
        let mut directory = self.shared.directory.lock();
        if !directory.set_remote(name, online) {
            return;
        }
        for room in self.shared.rooms().values() {
            if room.is_member(name) {
                room.member_presence(name, online);
            }
        }
    }

    /// Makes in memory a change another node made (see [`News`]). News of
    /// presence is not the engine's: it is ignored here.
    pub async fn apply_news(&self, news: News) {
        match news {
            News::Joined { room, name } => {
                if let Some(room) = self.open_known_room(&room).await {
                    room.joined_elsewhere(&name);
                }
            }
            News::Left { room, name } => {
                if let Some(room) = self.find_room(&room) {
                    room.remove_member(&name);
                }
            }
            News::Moderated {
                room: name,
                actor,
                action,
            } => {
                if let Some(room) = self.find_room(&name) {
                    room.moderated_elsewhere(&actor, &action).await;
                    if action == RoomAction::Delete {
                        self.close_room(&name);
                    }
                }
            }
            News::RoomSaved(name) => {
                self.open_known_room(&name).await;
            }
            News::Forgotten { name, account } => {
                for room in self.shared.rooms().values() {
                    room.forget(&name, account);
                }
            }
            News::Typing { room, name, typing } => {
                if let Some(room) = self.find_room(&room) {
                    room.typing_elsewhere(&name, typing);
                }
            }
            News::Presence { .. } => {}
        }
    }

    /// The room called `name`, opened as saved if it is not open here (a
    /// room another node created or opened); a room that is not saved is
    /// one of the server's own and opens public. `None` if the store
    /// cannot say.
    async fn open_known_room(&self, name: &str) -> Option<Arc<Room>> {
        if let Some(room) = self.find_room(name) {
            return Some(room);
        }
        match self.shared.store.saved_room(name).await {
            Ok(Some(saved)) => Some(self.open_room(name, RoomAccess::from_saved(&saved))),
            Ok(None) => Some(self.room(name)),
            Err(error) => {
                tracing::warn!(room = name, %error, "cannot open a room another node opened");
                None
            }
        }
    }

    /// The history store (for the engine's own modules).
    pub(crate) fn history_store(&self) -> &dyn HistoryStore {
        &*self.shared.store
    }

    /// Names of the open rooms, sorted.
    pub fn room_names(&self) -> Vec<String> {
        self.shared.rooms().keys().cloned().collect()
    }

    /// Up to `limit` open rooms that `keep` keeps whose names sort after
    /// `after` (all, if it is empty), by name: a page of rooms without
    /// copying the rest.
    pub fn rooms_after(
        &self,
        after: &str,
        limit: usize,
        keep: impl Fn(&Room) -> bool,
    ) -> Vec<Arc<Room>> {
        let rooms = self.shared.rooms();
        let from = if after.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(after)
        };
        rooms
            .range::<str, _>((from, Bound::Unbounded))
            .filter(|(_, room)| keep(room))
            .take(limit)
            .map(|(_, room)| Arc::clone(room))
            .collect()
    }
}
