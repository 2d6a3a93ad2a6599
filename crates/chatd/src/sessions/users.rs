//! Signed-in users and their sessions.
//!
//! A user is a guest (a free name, one session, gone with it) or an
//! account (a registered name, any number of sessions at once: a laptop
//! and a phone). The rooms a user is in, its presence and its send
//! allowance are the user's; each session may have a few event streams
//! open (browser tabs share one session), and every open stream of a user
//! gets the user's events. A user is online while any of its sessions has a
//! stream open.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use chat_engine::{Author, EngineError, NameClaim, NotifyLevel, Room, RoomChange};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::SessionError;
use crate::accounts;

/// How many control messages (joins, leaves, rooms opened and closed) may
/// wait for a stream that is not being read; past that it ends, told it
/// fell behind, and the client subscribes again.
pub const CONTROL_BACKLOG: usize = 256;

/// How many event streams one session may have open at once: tabs of one
/// browser share their session. A further stream ends the session's
/// oldest, which also bounds the streams of a client that reconnects
/// before the server notices its old connection is gone.
pub const STREAMS_PER_SESSION: usize = 8;

/// Why the server ended an event stream, when the client did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Its control backlog was full.
    FellBehind,
    /// Its session opened more than `STREAMS_PER_SESSION` newer ones.
    Superseded,
}

/// What an event stream is asked to do by its user's calls, or told by
/// the hub.
#[derive(Debug, Clone)]
pub enum Control {
    /// The user joined `room`: follow it after sequence number `after`.
    Follow { room: Arc<Room>, after: u64 },
    /// The user left `room`, or was made to (`reason` says how).
    Unfollow { room: String, reason: String },
    /// The user was invited to `room` by `by`.
    Invited { room: String, by: String },
    /// A room opened or closed.
    RoomChanged(RoomChange),
    /// The user has read `room` up to entry `seq` (in one of its sessions).
    ReadMarker { room: String, seq: u64 },
    /// What `room` tells the user about is now `level`.
    NotifyChanged { room: String, level: NotifyLevel },
}

/// How many searches a user may make a second (a search reads the index
/// of every room it may read).
pub const SEARCHES_PER_SECOND: u32 = 2;

/// How often a user's typing calls in a room are heard, at most.
const TYPING_PACE: std::time::Duration = std::time::Duration::from_millis(500);

/// An open event stream, as its user's calls see it. Dropping it ends the
/// stream: its control channel closes.
struct StreamSlot {
    control: mpsc::Sender<Control>,
    why_ended: Arc<OnceLock<StreamEnd>>,
}

impl StreamSlot {
    /// Ends the stream for `why`; dropping the slot closes its channel.
    fn end(self, why: StreamEnd) {
        let _ = self.why_ended.set(why);
    }
}

/// A stream's key: its session's id, then its generation in the session.
type StreamKey = (u64, u64);

/// The keys of every stream `session` may have.
fn streams_of(session: u64) -> std::ops::RangeInclusive<StreamKey> {
    (session, 0)..=(session, u64::MAX)
}

/// What an event stream receives from its session.
pub struct StreamControl {
    pub generation: u64,
    pub receiver: mpsc::Receiver<Control>,
    /// Set when the server ended the stream, before its channel closes.
    pub why_ended: Arc<OnceLock<StreamEnd>>,
}

/// A logged-in native user: a guest or an account.
pub struct User {
    name: NameClaim,
    is_account: bool,
    /// Messages sent under the name from then on are the user's (see
    /// [`Author`]).
    owns_since_ms: i64,
    state: Mutex<UserState>,
}

struct UserState {
    rooms: BTreeSet<String>,
    /// When the user last said it was typing, by room.
    typed: HashMap<String, Instant>,
    /// The open event streams of the user's sessions.
    streams: BTreeMap<StreamKey, StreamSlot>,
    sends: TokenBucket,
    searches: TokenBucket,
    /// A guest whose session ended.
    ended: bool,
}

impl User {
    pub fn new(
        name: NameClaim,
        is_account: bool,
        owns_since_ms: i64,
        sends_per_second: u32,
    ) -> Self {
        User {
            name,
            is_account,
            owns_since_ms,
            state: Mutex::new(UserState {
                rooms: BTreeSet::new(),
                typed: HashMap::new(),
                streams: BTreeMap::new(),
                sends: TokenBucket::full(sends_per_second),
                searches: TokenBucket::full(SEARCHES_PER_SECOND),
                ended: false,
            }),
        }
    }

    pub fn name(&self) -> &str {
        self.name.name()
    }

    pub fn is_account(&self) -> bool {
        self.is_account
    }

    /// Whether a typing call for `room` now is heard: at most one per
    /// [`TYPING_PACE`] per room.
    pub fn take_typing(&self, room: &str) -> bool {
        let now = Instant::now();
        let mut state = self.state();
        match state.typed.get(room) {
            Some(&last) if now.duration_since(last) < TYPING_PACE => false,
            _ => {
                state.typed.insert(room.to_owned(), now);
                true
            }
        }
    }

    /// The user sent to `room`, which ended its typing there: its next
    /// typing call there is heard whenever it comes.
    pub fn typing_sent(&self, room: &str) {
        self.state().typed.remove(room);
    }

    /// The user as the author of changes to messages.
    pub fn author(&self) -> Author {
        Author {
            name: self.name().to_owned(),
            since_ms: self.owns_since_ms,
        }
    }

    /// Whether any session of the user has a stream open.
    pub fn is_online(&self) -> bool {
        !self.state().streams.is_empty()
    }

    /// The rooms the user is in, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.state().rooms.iter().cloned().collect()
    }

    pub fn is_in(&self, room: &str) -> bool {
        self.state().rooms.contains(room)
    }

    /// Takes a send from the user's allowance, or says to slow down.
    pub fn take_send(&self, per_second: u32) -> Result<(), SessionError> {
        if self.state().sends.take(per_second) {
            Ok(())
        } else {
            Err(SessionError::SendingTooFast(per_second))
        }
    }

    /// Takes a search from the user's allowance ([`SEARCHES_PER_SECOND`]),
    /// or says to slow down.
    pub fn take_search(&self) -> Result<(), SessionError> {
        if self.state().searches.take(SEARCHES_PER_SECOND) {
            Ok(())
        } else {
            Err(SessionError::SearchingTooFast(SEARCHES_PER_SECOND))
        }
    }

    /// Puts the user in `room` and tells its streams to follow it. Refused
    /// past `max_rooms`. Returns whether the user was not in it already.
    pub fn join(&self, room: &Arc<Room>, max_rooms: usize) -> Result<bool, SessionError> {
        let mut state = self.state();
        if state.rooms.contains(room.name()) {
            return Ok(false);
        }
        if state.rooms.len() >= max_rooms {
            return Err(SessionError::TooManyRooms(max_rooms));
        }
        // Read first, so a message posted as the user joins is not missed.
        let after = room.last_seq();
        room.join(self.name())?;
        state.rooms.insert(room.name().to_owned());
        state.tell_streams(
            &self.name,
            &Control::Follow {
                room: Arc::clone(room),
                after,
            },
        );
        Ok(true)
    }

    /// Takes the user out of room `name`; false if it was not in it.
    /// `reason` says who made it leave, if someone else did.
    pub fn leave(&self, name: &str, reason: &str) -> bool {
        let mut state = self.state();
        if !state.rooms.remove(name) {
            return false;
        }
        state.typed.remove(name);
        state.tell_streams(
            &self.name,
            &Control::Unfollow {
                room: name.to_owned(),
                reason: reason.to_owned(),
            },
        );
        true
    }

    /// The user is no longer in room `name` (it went away under it).
    pub fn forget_room(&self, name: &str) {
        let mut state = self.state();
        state.rooms.remove(name);
        state.typed.remove(name);
    }

    /// Passes `control` to every open stream of the user.
    pub fn tell(&self, control: &Control) {
        self.state().tell_streams(&self.name, control);
    }

    /// Ends every stream of the user (at shutdown).
    pub fn end_streams(&self) {
        self.state().streams.clear();
    }

    /// A guest's session ended: no stream may open any more, and the
    /// rooms it was in are returned for it to leave.
    pub fn end(&self) -> BTreeSet<String> {
        let mut state = self.state();
        state.ended = true;
        state.streams.clear();
        self.name.set_online(false);
        std::mem::take(&mut state.rooms)
    }

    fn state(&self) -> MutexGuard<'_, UserState> {
        // Every change leaves the state consistent before it could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl UserState {
    fn has_stream_of(&self, session: u64) -> bool {
        self.streams.range(streams_of(session)).next().is_some()
    }

    /// Passes `control` to each open stream. One whose backlog is full is
    /// ended (it is told it fell behind); its next stream starts from the
    /// user's rooms, so nothing is lost.
    fn tell_streams(&mut self, name: &NameClaim, control: &Control) {
        let before = self.streams.len();
        let full: Vec<StreamKey> = (self.streams.iter())
            .filter(|(_, stream)| {
                // A closed one is ending already: nothing to tell it.
                matches!(
                    stream.control.try_send(control.clone()),
                    Err(mpsc::error::TrySendError::Full(_))
                )
            })
            .map(|(&key, _)| key)
            .collect();
        for key in full {
            if let Some(stream) = self.streams.remove(&key) {
                stream.end(StreamEnd::FellBehind);
            }
        }
        if before > 0 && self.streams.is_empty() {
            name.set_online(false);
        }
    }
}

/// One login of a user, named by its token.
pub struct Session {
    id: u64,
    token: String,
    /// An account session's token hash, by which the accounts know it;
    /// kept so a call does not hash the token again.
    token_hash: Option<String>,
    user: Arc<User>,
    state: Mutex<SessionState>,
}

struct SessionState {
    next_generation: u64,
    /// Since when the session has had no stream open, or its last call.
    idle_since: Instant,
    ended: bool,
}

impl Session {
    pub fn new(id: u64, token: String, user: Arc<User>) -> Self {
        let token_hash = user.is_account().then(|| accounts::token_hash(&token));
        Session {
            id,
            token,
            token_hash,
            user,
            state: Mutex::new(SessionState {
                next_generation: 0,
                idle_since: Instant::now(),
                ended: false,
            }),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token's hash, for an account's session.
    pub fn token_hash(&self) -> Option<&str> {
        self.token_hash.as_deref()
    }

    pub fn user(&self) -> &Arc<User> {
        &self.user
    }

    pub fn name(&self) -> &str {
        self.user.name()
    }

    /// The rooms the user is in, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.user.rooms()
    }

    /// Registers a new event stream of this session, ending its oldest if
    /// it had `STREAMS_PER_SESSION` open. Returns its generation and the
    /// receiver of its control messages, which closes when the stream must
    /// end.
    pub fn open_stream(&self, shutdown: &CancellationToken) -> Result<StreamControl, SessionError> {
        let mut session = self.state();
        let mut user = self.user.state();
        if session.ended || user.ended {
            return Err(SessionError::Expired);
        }
        // Checked under the user's lock: shutdown ends the streams it
        // finds registered, and no stream registers after it.
        if shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown.into());
        }
        let generation = session.next_generation;
        session.next_generation += 1;
        let (control, receiver) = mpsc::channel(CONTROL_BACKLOG);
        let why_ended = Arc::new(OnceLock::new());
        let slot = StreamSlot {
            control,
            why_ended: Arc::clone(&why_ended),
        };
        user.streams.insert((self.id, generation), slot);
        if user.streams.range(streams_of(self.id)).count() > STREAMS_PER_SESSION {
            let oldest = user.streams.range(streams_of(self.id)).next();
            let oldest = *oldest.expect("more than the limit").0;
            if let Some(stream) = user.streams.remove(&oldest) {
                stream.end(StreamEnd::Superseded);
            }
        }
        self.user.name.set_online(true);
        Ok(StreamControl {
            generation,
            receiver,
            why_ended,
        })
    }

    /// The stream of `generation` ended. If it was the user's last, the
    /// user is offline; if the session's last, the session is idle from
    /// now.
    pub fn close_stream(&self, generation: u64) {
        let mut session = self.state();
        let mut user = self.user.state();
        if user.streams.remove(&(self.id, generation)).is_some() && user.streams.is_empty() {
            self.user.name.set_online(false);
        }
        if !user.has_stream_of(self.id) {
            session.idle_since = Instant::now();
        }
    }

    /// Whether the session has had no stream and no call for longer than
    /// `grace`.
    pub fn idle_longer_than(&self, grace: std::time::Duration, now: Instant) -> bool {
        let session = self.state();
        !self.user.state().has_stream_of(self.id) && now.duration_since(session.idle_since) > grace
    }

    pub fn touch(&self) {
        self.state().idle_since = Instant::now();
    }

    /// Ends the session: its streams end and no new one opens. Returns
    /// false if it had ended already.
    pub fn end(&self) -> bool {
        let mut session = self.state();
        if std::mem::replace(&mut session.ended, true) {
            return false;
        }
        let mut user = self.user.state();
        let had_streams = user.has_stream_of(self.id);
        user.streams.retain(|&(session, _), _| session != self.id);
        if had_streams && user.streams.is_empty() {
            self.user.name.set_online(false);
        }
        true
    }

    fn state(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Allows `per_second` sends a second, in bursts of up to `per_second`.
struct TokenBucket {
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    fn full(per_second: u32) -> Self {
        TokenBucket {
            tokens: f64::from(per_second),
            refilled: Instant::now(),
        }
    }

    fn take(&mut self, per_second: u32) -> bool {
        let now = Instant::now();
        let rate = f64::from(per_second);
        let earned = now.duration_since(self.refilled).as_secs_f64() * rate;
        self.tokens = (self.tokens + earned).min(rate);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chat_engine::{Engine, EngineConfig, MemoryStore};

    use super::User;

    #[tokio::test(start_paused = true)]
    async fn typing_is_heard_twice_a_second_at_most_and_at_once_after_a_send() {
        let engine = Engine::new(EngineConfig::default(), Arc::new(MemoryStore::new(10)));
        let name = engine.names().claim_here("ann").unwrap();
        let user = User::new(name, false, 0, 10);
        // Flipping it back to back: the first call is heard, then none
        // until the pace has passed.
        let heard: Vec<bool> = (0..10).map(|_| user.take_typing("dev")).collect();
        assert_eq!(heard.iter().filter(|h| **h).count(), 1);
        assert!(user.take_typing("elsewhere"), "each room has its own");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(user.take_typing("dev"));
        assert!(!user.take_typing("dev"));
        user.typing_sent("dev");
        assert!(user.take_typing("dev"), "typing again after a send");
    }
}
