//! The session service: who is logged in under which token, guest and
//! account logins, rooms joined and left, moderation's effects on users,
//! and when a session that went away ends. The native adapter, the admin
//! socket, reload and the cluster call it; it answers with
//! [`SessionError`], which each adapter turns into its own statuses.

pub mod attention;
mod error;
pub mod names;
mod users;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use attention::{Attention, RoomAttention};
use chat_engine::{Engine, Message, NotifyLevel, ReadMarker, Room, RoomAction};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use error::SessionError;
use names::{DIRECT_PREFIX, check_room_name, check_user_name};
pub use users::{
    CONTROL_BACKLOG, Control, STREAMS_PER_SESSION, Session, StreamControl, StreamEnd, User,
};

use crate::accounts::{self, Accounts, Restored};

/// Settings of the sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How long a session lives on without an event stream or a call
    /// (a guest's then ends; an account's is only put out of memory).
    pub presence_grace: Duration,
    pub max_rooms_per_user: usize,
    pub max_sends_per_second: u32,
    /// Guests may not log in.
    pub require_accounts: bool,
}

/// A cheap-to-clone handle to every signed-in user and session.
#[derive(Clone)]
pub struct Sessions {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    accounts: Accounts,
    /// See [`SessionConfig`]; the limits can change live.
    presence_grace: Duration,
    require_accounts: bool,
    max_rooms_per_user: AtomicUsize,
    max_sends_per_second: AtomicU32,
    shutdown: CancellationToken,
    /// The sessions in memory, by token. An account's session not in
    /// memory (after a restart, or idle) is brought back on its next use.
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// Every user, by name: the guests logged in, and the accounts that
    /// are in rooms or have logged in since the start.
    users: Mutex<HashMap<String, Arc<User>>>,
    next_session_id: AtomicU64,
    attention: Attention,
}

impl Sessions {
    pub fn new(
        engine: Engine,
        accounts: Accounts,
        config: SessionConfig,
        shutdown: CancellationToken,
    ) -> Self {
        Sessions {
            shared: Arc::new(Shared {
                engine,
                accounts,
                presence_grace: config.presence_grace,
                require_accounts: config.require_accounts,
                max_rooms_per_user: AtomicUsize::new(config.max_rooms_per_user),
                max_sends_per_second: AtomicU32::new(config.max_sends_per_second),
                shutdown,
                sessions: Mutex::default(),
                users: Mutex::default(),
                next_session_id: AtomicU64::new(0),
                attention: Attention::default(),
            }),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    pub fn accounts(&self) -> &Accounts {
        &self.shared.accounts
    }

    /// How many messages a second one user may send, now.
    pub fn max_sends_per_second(&self) -> u32 {
        self.shared.max_sends_per_second.load(Ordering::Relaxed)
    }

    /// Changes the limits that can change live; users already logged in
    /// keep the allowance they have until it refills.
    pub fn set_limits(&self, max_rooms_per_user: usize, max_sends_per_second: u32) {
        let shared = &self.shared;
        shared
            .max_rooms_per_user
            .store(max_rooms_per_user, Ordering::Relaxed);
        shared
            .max_sends_per_second
            .store(max_sends_per_second, Ordering::Relaxed);
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.shared.shutdown
    }

    /// Puts each account back in the rooms it was in, where it had read
    /// them to, as stored; the accounts are offline until they connect.
    pub fn restore(&self, restored: Restored) {
        let Restored {
            memberships,
            read_markers,
            notify_levels,
        } = restored;
        self.shared.attention.restore(read_markers, notify_levels);
        for (account, room) in memberships {
            let Some(open) = self.shared.engine.find_room(&room) else {
                tracing::debug!(account, room, "a stored membership's room is not open");
                continue;
            };
            let joined = self
                .account_user(&account)
                .and_then(|user| user.join(&open, usize::MAX));
            if let Err(error) = joined {
                tracing::warn!(account, room, %error, "cannot put an account back in its room");
            }
        }
    }

    /// Whether guests may log in, or accounts only.
    pub fn admits_guests(&self) -> bool {
        !self.shared.require_accounts
    }

    /// Starts a guest's session under `name`, which no account holds.
    pub async fn guest_login(&self, name: &str) -> Result<Arc<Session>, SessionError> {
        if self.shared.require_accounts {
            return Err(SessionError::AccountsOnly);
        }
        check_user_name(name)?;
        let claim = self.shared.engine.names().claim(name).await?;
        // From the moment of login: what the name sent before was someone
        // else's.
        let since_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let user = Arc::new(User::new(
            claim,
            false,
            since_ms,
            self.max_sends_per_second(),
        ));
        self.users().insert(name.to_owned(), Arc::clone(&user));
        let session = self.add_session(accounts::new_token(), user);
        tracing::info!(name, "guest logged in");
        Ok(session)
    }

    /// Creates an account for a client at `address` and starts a session
    /// of it.
    pub async fn register(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<Arc<Session>, SessionError> {
        check_user_name(name)?;
        let accounts = &self.shared.accounts;
        let account = accounts.register(name, password, Some(address)).await?;
        self.account_session(&account.name).await
    }

    /// Starts a session of the account `name` names, if `password` is its.
    pub async fn account_login(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<Arc<Session>, SessionError> {
        let account = self
            .shared
            .accounts
            .check_password(name, password, address)
            .await?;
        let session = self.account_session(&account.name).await?;
        tracing::info!(name = account.name, "account logged in");
        Ok(session)
    }

    async fn account_session(&self, account: &str) -> Result<Arc<Session>, SessionError> {
        let user = self.account_user(account)?;
        let token = self.shared.accounts.open_session(account).await?;
        Ok(self.add_session(token, user))
    }

    /// The user of account `name`, made if it has none yet.
    fn account_user(&self, name: &str) -> Result<Arc<User>, SessionError> {
        let mut users = self.users();
        if let Some(user) = users.get(name) {
            return Ok(Arc::clone(user));
        }
        let claim = self.shared.engine.names().claim_registered(name)?;
        let created_ms = self
            .shared
            .accounts
            .find(name)
            .map_or(0, |account| account.created_at * 1000);
        let user = Arc::new(User::new(
            claim,
            true,
            created_ms,
            self.max_sends_per_second(),
        ));
        // In a cluster, the rooms it joined on other nodes (as their news
        // told this one) are its rooms here too.
        let rooms = self
            .shared
            .engine
            .rooms_after("", usize::MAX, |room| room.is_member(name));
        for room in rooms {
            if let Err(error) = user.join(&room, usize::MAX) {
                tracing::warn!(name, room = room.name(), %error, "cannot put an account in its room");
            }
        }
        users.insert(name.to_owned(), Arc::clone(&user));
        Ok(user)
    }

    fn add_session(&self, token: String, user: Arc<User>) -> Arc<Session> {
        let id = self.shared.next_session_id.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(Session::new(id, token.clone(), user));
        self.sessions().insert(token, Arc::clone(&session));
        session
    }

    /// The live session of `token`.
    pub fn authenticate(&self, token: &str) -> Result<Arc<Session>, SessionError> {
        let found = self.sessions().get(token).cloned();
        if let Some(session) = found {
            // An account's session may have expired or been revoked since.
            if let Some(hash) = session.token_hash()
                && self.shared.accounts.session_account(hash).is_none()
            {
                self.end(&session, "expired");
                return Err(SessionError::Expired);
            }
            session.touch();
            return Ok(session);
        }
        let account = self
            .shared
            .accounts
            .session_account(&accounts::token_hash(token))
            .ok_or(SessionError::Expired)?;
        let user = self.account_user(&account)?;
        Ok(self.add_session(token.to_owned(), user))
    }

    /// Ends a session in memory: its stream ends. A guest leaves its rooms
    /// (the others are told) and its name is free; an account stays in
    /// them, and is offline once none of its sessions has a stream.
    pub fn end(&self, session: &Session, reason: &str) {
        self.sessions().remove(session.token());
        if !session.end() {
            return;
        }
        let user = session.user();
        if !user.is_account() {
            self.users().remove(user.name());
            for room in user.end() {
                self.vacate(&room, user.name());
            }
            self.shared.engine.forget_guest(user.name());
            self.shared.attention.forget(user.name());
        }
        tracing::info!(name = session.name(), reason, "native session ended");
    }

    /// Logs the session out: an account's token is revoked for good.
    pub async fn logout(&self, session: &Session) -> Result<(), SessionError> {
        if session.user().is_account() {
            self.shared.accounts.revoke(session.token()).await?;
        }
        self.end(session, "logged out");
        Ok(())
    }

    /// Ends the in-memory sessions of account `name` whose tokens are no
    /// longer live (revoked, or the account deleted or locked).
    pub fn end_revoked_sessions(&self, name: &str) {
        let revoked: Vec<Arc<Session>> = self
            .sessions()
            .values()
            .filter(|s| s.name() == name)
            .filter(|s| {
                s.token_hash()
                    .is_some_and(|hash| !self.shared.accounts.is_live(hash))
            })
            .cloned()
            .collect();
        for session in revoked {
            self.end(&session, "revoked");
        }
    }

    /// Reads account `name` again, as another node changed it, and ends
    /// the sessions here that it ended.
    pub async fn account_changed_elsewhere(&self, name: &str) {
        if let Err(error) = self.shared.accounts.reload(name).await {
            tracing::warn!(name, %error, "cannot read an account another node changed");
        }
        self.end_revoked_sessions(name);
    }

    /// Ends the sessions here that another node ended, by token hash.
    pub fn sessions_ended_elsewhere(&self, hashes: &[String]) {
        for account in self.shared.accounts.sessions_ended(hashes) {
            self.end_revoked_sessions(&account);
        }
    }

    /// Removes account `name`'s user: its sessions end, it leaves its
    /// rooms, and rooms forget its roles and invitations. (The account
    /// itself is removed by [`Accounts::delete`].)
    pub async fn remove_account_user(&self, name: &str) -> Result<(), SessionError> {
        let sessions: Vec<Arc<Session>> = self
            .sessions()
            .values()
            .filter(|s| s.name() == name && s.user().is_account())
            .cloned()
            .collect();
        for session in sessions {
            self.end(&session, "account deleted");
        }
        let user = self.users().remove(name);
        if let Some(user) = user {
            for room in user.end() {
                self.vacate(&room, name);
            }
        }
        Ok(self.shared.engine.forget_account(name).await?)
    }

    /// Whether native user `name` has a stream open.
    pub fn is_online(&self, name: &str) -> bool {
        self.users().get(name).is_some_and(|user| user.is_online())
    }

    /// The users online now (with a stream open), by name, and whether
    /// each is an account.
    pub fn online_users(&self) -> Vec<(String, bool)> {
        let mut online: Vec<(String, bool)> = self
            .users()
            .values()
            .filter(|user| user.is_online())
            .map(|user| (user.name().to_owned(), user.is_account()))
            .collect();
        online.sort();
        online
    }

    /// Creates room `name` (private or not), owned by the user, saved so
    /// it outlives restarts, with the user in it.
    pub async fn create_room(
        &self,
        session: &Session,
        name: &str,
        private: bool,
    ) -> Result<Arc<Room>, SessionError> {
        check_room_name(name)?;
        let room = self
            .shared
            .engine
            .create_room(name, session.name(), private)
            .await?;
        self.join(session.user(), &room).await
    }

    /// Puts the user in open room `name`, if it may join it.
    pub async fn join_room(
        &self,
        session: &Session,
        name: &str,
    ) -> Result<Arc<Room>, SessionError> {
        let room = self.shared.engine.find_visible_room(name, session.name())?;
        self.join(session.user(), &room).await
    }

    async fn join(&self, user: &User, room: &Arc<Room>) -> Result<Arc<Room>, SessionError> {
        if user.is_in(room.name()) {
            return Ok(Arc::clone(room));
        }
        // An account's rooms are stored first: a join acknowledged is
        // kept.
        if user.is_account() {
            self.shared.accounts.join(user.name(), room.name()).await?;
        }
        user.join(room, self.shared.max_rooms_per_user.load(Ordering::Relaxed))?;
        // What was said before joining is not unread.
        self.shared.attention.of(user.name(), room);
        Ok(Arc::clone(room))
    }

    /// The user has read room `name` up to entry `seq`: its marker moves
    /// there (never back), for good if it is an account, and every session
    /// of the user hears of it.
    pub async fn mark_read(
        &self,
        session: &Session,
        name: &str,
        seq: u64,
    ) -> Result<(), SessionError> {
        let room = self.room_of(session, name).await?;
        if seq > room.last_seq() {
            return Err(chat_engine::EngineError::NoSuchMessage {
                room: name.to_owned(),
                seq,
            }
            .into());
        }
        let place = room.place_of(seq).await?;
        self.moved(session.user(), name, place).await
    }

    /// The user sent `message` to room `name`: it has read up to there.
    pub async fn sent(&self, session: &Session, name: &str, message: &Message) {
        // Sending ended typing: starting again is heard at once.
        session.user().typing_sent(name);
        let place = (message.seq, message.ordinal);
        if let Err(error) = self.moved(session.user(), name, place).await {
            tracing::warn!(room = name, %error, "cannot move the sender's read marker");
        }
    }

    async fn moved(&self, user: &User, room: &str, place: (u64, u64)) -> Result<(), SessionError> {
        if !self.shared.attention.mark(user.name(), room, place) {
            return Ok(());
        }
        if user.is_account() {
            let marker = ReadMarker {
                account: user.name().to_owned(),
                room: room.to_owned(),
                seq: place.0,
                ordinal: place.1,
            };
            self.shared.accounts.mark_read(marker).await?;
        }
        user.tell(&Control::ReadMarker {
            room: room.to_owned(),
            seq: place.0,
        });
        Ok(())
    }

    /// An account's marker moved on another node: here too, and its
    /// sessions here hear of it.
    pub fn marker_moved_elsewhere(&self, marker: ReadMarker) {
        let place = (marker.seq, marker.ordinal);
        if !self
            .shared
            .attention
            .mark(&marker.account, &marker.room, place)
        {
            return;
        }
        let user = self.users().get(&marker.account).cloned();
        if let Some(user) = user {
            user.tell(&Control::ReadMarker {
                room: marker.room,
                seq: marker.seq,
            });
        }
    }

    /// What room `name` tells the user about, from now on.
    pub async fn set_notify(
        &self,
        session: &Session,
        name: &str,
        level: NotifyLevel,
    ) -> Result<(), SessionError> {
        self.room_of(session, name).await?;
        let user = session.user();
        if user.is_account() {
            self.shared
                .accounts
                .set_notify(user.name(), name, level)
                .await?;
        }
        self.shared.attention.set_level(user.name(), name, level);
        user.tell(&Control::NotifyChanged {
            room: name.to_owned(),
            level,
        });
        Ok(())
    }

    /// What room `room` tells account `account` about was set on another
    /// node.
    pub fn notify_set_elsewhere(&self, account: &str, room: &str, level: NotifyLevel) {
        self.shared.attention.set_level(account, room, level);
        let user = self.users().get(account).cloned();
        if let Some(user) = user {
            user.tell(&Control::NotifyChanged {
                room: room.to_owned(),
                level,
            });
        }
    }

    /// The user is typing in room `name` (one it is in), or stopped. Heard
    /// at most twice a second (a client renews "typing" every few seconds),
    /// so that a client flipping it cannot flood the room; after a send
    /// (which ends typing), at once.
    pub async fn set_typing(
        &self,
        session: &Session,
        name: &str,
        typing: bool,
    ) -> Result<(), SessionError> {
        let room = self.room_of(session, name).await?;
        if session.user().take_typing(name) {
            room.set_typing(session.name(), typing);
        }
        Ok(())
    }

    /// What `user` has not read in `room` (one it is in), and what the
    /// room tells it of.
    pub fn attention(&self, user: &str, room: &Room) -> RoomAttention {
        self.shared.attention.of(user, room)
    }

    /// Takes the user out of room `name`.
    pub async fn leave_room(&self, session: &Session, name: &str) -> Result<(), SessionError> {
        let user = session.user();
        if !user.is_in(name) {
            return Err(SessionError::NotInRoom(name.to_owned()));
        }
        if user.is_account() {
            self.shared.accounts.leave(user.name(), name).await?;
        }
        if user.leave(name, "") {
            self.vacate(name, user.name());
        }
        self.shared.attention.leave(user.name(), name);
        Ok(())
    }

    /// The room the user is in called `name`, to send to. In a direct
    /// conversation the other account is brought back if it left, so no
    /// message goes unseen.
    pub async fn room_of(&self, session: &Session, name: &str) -> Result<Arc<Room>, SessionError> {
        if !session.user().is_in(name) {
            return Err(SessionError::JoinFirst(name.to_owned()));
        }
        let room = self
            .shared
            .engine
            .find_room(name)
            .ok_or_else(|| SessionError::NoSuchRoom(name.to_owned()))?;
        let peer = {
            let access = room.access();
            let peer = access.participants.iter().find(|p| *p != session.name());
            peer.filter(|peer| access.direct && !room.is_member(peer))
                .cloned()
        };
        if let Some(peer) = peer {
            let peer = self.account_user(&peer)?;
            self.join(&peer, &room).await?;
        }
        Ok(room)
    }

    /// Open room `name`, whose members and history the user may read.
    pub fn readable_room(&self, session: &Session, name: &str) -> Result<Arc<Room>, SessionError> {
        self.room_readable_by(session.name(), name)
    }

    /// Open room `name`, if user `user` may read it now: a public room it
    /// is not banned from, or a private one it is in. (An empty `user` may
    /// read public rooms only.)
    pub fn room_readable_by(&self, user: &str, name: &str) -> Result<Arc<Room>, SessionError> {
        let room = self.shared.engine.find_visible_room(name, user)?;
        room.check_readable(user)?;
        Ok(room)
    }

    /// Lets the user take `action` in room `name`, if its role there
    /// allows; then a kicked or banned user leaves, an invited one is told,
    /// and a deleted room leaves everyone. Returns the action as taken.
    pub async fn moderate(
        &self,
        session: &Session,
        name: &str,
        action: RoomAction,
    ) -> Result<RoomAction, SessionError> {
        let actor = session.name();
        let action = self.shared.engine.moderate(name, actor, action).await?;
        match &action {
            RoomAction::Kick(target) => {
                self.removed(name, target, &format!("kicked by {actor}"))
                    .await
            }
            RoomAction::Ban(target) => {
                self.removed(name, target, &format!("banned by {actor}"))
                    .await
            }
            RoomAction::Invite(target) => {
                let invitee = self.users().get(target).cloned();
                if let Some(invitee) = invitee {
                    invitee.tell(&Control::Invited {
                        room: name.to_owned(),
                        by: actor.to_owned(),
                    });
                }
            }
            RoomAction::Delete => {
                let reason = format!("deleted by {actor}");
                for user in self.all_users() {
                    user.leave(name, &reason);
                }
                self.shared.attention.drop_room(name);
            }
            _ => {}
        }
        Ok(action)
    }

    /// User `name` was made to leave room `room` (the room has let it go):
    /// its streams are told why, and an account's membership is forgotten.
    async fn removed(&self, room: &str, name: &str, reason: &str) {
        let user = self.users().get(name).cloned();
        let Some(user) = user else {
            return;
        };
        user.leave(room, reason);
        self.shared.attention.leave(name, room);
        if user.is_account()
            && let Err(error) = self.shared.accounts.leave(name, room).await
        {
            // The room holds the truth: a banned member is refused again
            // when memberships are restored.
            tracing::warn!(room, name, %error, "cannot forget a removed member's membership");
        }
    }

    /// The direct conversation of the user and account `peer`, made if
    /// there is none, with both in it. Returns it and whether it is new.
    pub async fn open_direct(
        &self,
        session: &Session,
        peer: &str,
    ) -> Result<(Arc<Room>, bool), SessionError> {
        let new_name = || format!("{DIRECT_PREFIX}dm-{}", &accounts::new_token()[..16]);
        let (room, created) = self
            .shared
            .engine
            .open_direct(session.name(), peer, new_name)
            .await?;
        let participants: Vec<String> = room.access().participants.iter().cloned().collect();
        for name in participants {
            let user = self.account_user(&name)?;
            self.join(&user, &room).await?;
        }
        Ok((room, created))
    }

    /// The user left room `name` (or the room went away under it).
    pub fn forget_room(&self, session: &Session, name: &str) {
        session.user().forget_room(name);
        self.shared.attention.leave(session.name(), name);
    }

    /// User `name` left room `room` on another node: what it had read
    /// there goes, as it does there.
    pub fn left_elsewhere(&self, room: &str, name: &str) {
        self.shared.attention.leave(name, room);
    }

    /// Takes `user` out of room `name`. Rooms stay open when empty (lobby
    /// channels are closed by the lobby, which owns their ports).
    fn vacate(&self, name: &str, user: &str) {
        if let Some(room) = self.shared.engine.find_room(name) {
            room.leave(user);
        }
    }

    /// Ends every session that has been without an event stream and
    /// without a call for longer than the grace period.
    pub fn end_idle_sessions(&self) {
        let grace = self.shared.presence_grace;
        let now = Instant::now();
        let idle: Vec<Arc<Session>> = self
            .sessions()
            .values()
            .filter(|session| session.idle_longer_than(grace, now))
            .cloned()
            .collect();
        for session in idle {
            self.end(&session, "went away");
        }
    }

    /// Runs [`end_idle_sessions`](Self::end_idle_sessions) a few times per
    /// grace period, and ends expired account sessions each minute, until
    /// shutdown.
    pub async fn end_idle_sessions_until_shutdown(self) {
        let period = (self.shared.presence_grace / 4).max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut expiry = tokio::time::interval(Duration::from_secs(60));
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shared.shutdown.cancelled() => break,
                _ = ticker.tick() => self.end_idle_sessions(),
                _ = expiry.tick() => self.shared.accounts.end_expired_sessions().await,
            }
        }
        // Last uses since the last write are kept.
        self.shared.accounts.end_expired_sessions().await;
    }

    /// Passes every room opening and closing on to each open event stream
    /// until shutdown, then ends the streams. (Presence reaches streams
    /// through the rooms they follow.)
    ///
    /// One receiver here rather than one per stream: a stream waiting for
    /// messages then polls only its own channel, not an engine-wide
    /// broadcast queue and a shutdown token behind locks.
    pub async fn pass_on_engine_changes_until_shutdown(self) {
        let mut rooms = self.engine().watch_rooms();
        loop {
            let change = tokio::select! {
                () = self.shared.shutdown.cancelled() => break,
                change = rooms.recv() => change,
            };
            let control = match change {
                Ok(change) => Control::RoomChanged(change),
                // Advisory: ListRooms has the truth.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            for user in self.all_users() {
                user.tell(&control);
            }
        }
        for user in self.all_users() {
            user.end_streams();
        }
    }

    fn all_users(&self) -> Vec<Arc<User>> {
        self.users().values().cloned().collect()
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        // Single inserts and removes: never left half-done.
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn users(&self) -> MutexGuard<'_, HashMap<String, Arc<User>>> {
        self.shared
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
