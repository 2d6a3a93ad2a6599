//! Native-protocol sessions: who is logged in under which token, which
//! rooms each user is in, and when a session that went away ends.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use chat_engine::{Engine, EngineError, NameClaim, Room, RoomChange};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::convert::{check_room_name, check_user_name};
use crate::status;

/// Settings of the native protocol's sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How long a session lives on without an event stream or a call.
    pub presence_grace: Duration,
    pub max_rooms_per_user: usize,
    pub max_sends_per_second: u32,
}

/// How many control messages (joins, leaves, rooms opened and closed) may
/// wait for a stream that is not being read; past that it ends, told it
/// fell behind, and the client subscribes again.
pub const CONTROL_BACKLOG: usize = 256;

/// What a session's event stream is asked to do by the session's calls,
/// or told by the hub.
#[derive(Debug, Clone)]
pub enum Control {
    /// The user joined `room`: follow it after sequence number `after`.
    Follow { room: Arc<Room>, after: u64 },
    /// The user left `room`.
    Unfollow { room: String },
    /// A room opened or closed.
    RoomChanged(RoomChange),
}

/// The open event stream of a session, as the session's calls see it.
/// Dropping it ends the stream: its control channel closes.
struct StreamSlot {
    generation: u64,
    control: mpsc::Sender<Control>,
    /// Set when the stream ended because its control backlog was full.
    fell_behind: Arc<AtomicBool>,
}

/// What an event stream receives from its session.
pub struct StreamControl {
    pub generation: u64,
    pub receiver: mpsc::Receiver<Control>,
    /// Whether the channel closed because the stream fell behind.
    pub fell_behind: Arc<AtomicBool>,
}

/// A logged-in native user.
pub struct Session {
    token: String,
    name: NameClaim,
    state: Mutex<SessionState>,
}

struct SessionState {
    rooms: BTreeSet<String>,
    stream: Option<StreamSlot>,
    next_generation: u64,
    /// Since when the session has had no stream open, or its last call.
    idle_since: Instant,
    sends: TokenBucket,
    ended: bool,
}

impl Session {
    pub fn name(&self) -> &str {
        self.name.name()
    }

    /// The rooms the user is in, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.state().rooms.iter().cloned().collect()
    }

    /// Takes a send from the user's allowance, or says to slow down.
    pub fn take_send(&self, per_second: u32) -> Result<(), Status> {
        if self.state().sends.take(per_second) {
            Ok(())
        } else {
            Err(Status::resource_exhausted(format!(
                "sending too fast: at most {per_second} messages a second; wait a moment and retry"
            )))
        }
    }

    /// Registers a new event stream, ending the one before it. Returns its
    /// generation and the receiver of its control messages, which closes
    /// when the stream must end.
    pub fn open_stream(&self, shutdown: &CancellationToken) -> Result<StreamControl, Status> {
        let mut state = self.state();
        if state.ended {
            return Err(expired());
        }
        // Checked under the session's lock: shutdown ends the streams it
        // finds registered, and no stream registers after it.
        if shutdown.is_cancelled() {
            return Err(status::from_engine(EngineError::ShuttingDown));
        }
        let generation = state.next_generation;
        state.next_generation += 1;
        let (control, receiver) = mpsc::channel(CONTROL_BACKLOG);
        let fell_behind = Arc::new(AtomicBool::new(false));
        // Replacing the slot ends the stream before it.
        state.stream = Some(StreamSlot {
            generation,
            control,
            fell_behind: Arc::clone(&fell_behind),
        });
        self.name.set_online(true);
        Ok(StreamControl {
            generation,
            receiver,
            fell_behind,
        })
    }

    /// The stream of `generation` ended; if it was the current one the user
    /// is offline and the grace period starts.
    pub fn close_stream(&self, generation: u64) {
        let mut state = self.state();
        if state
            .stream
            .as_ref()
            .is_some_and(|s| s.generation == generation)
        {
            state.stream = None;
            state.idle_since = Instant::now();
            self.name.set_online(false);
        }
    }

    /// Passes `control` to the open stream. One whose backlog is full is
    /// ended (it is told it fell behind); the next stream starts from the
    /// session's rooms, so nothing is lost.
    fn tell_stream(state: &mut SessionState, control: Control) {
        let Some(stream) = &state.stream else {
            return;
        };
        match stream.control.try_send(control) {
            Ok(()) => {}
            // Ending already: the next stream starts afresh.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                stream.fell_behind.store(true, Ordering::Release);
                state.stream = None;
            }
        }
    }

    fn touch(&self) {
        self.state().idle_since = Instant::now();
    }

    fn state(&self) -> MutexGuard<'_, SessionState> {
        // Every change leaves the state consistent before it could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A cheap-to-clone handle to every native session.
#[derive(Clone)]
pub struct NativeHub {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    config: SessionConfig,
    shutdown: CancellationToken,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl NativeHub {
    pub fn new(engine: Engine, config: SessionConfig, shutdown: CancellationToken) -> Self {
        NativeHub {
            shared: Arc::new(Shared {
                engine,
                config,
                shutdown,
                sessions: Mutex::default(),
            }),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.shared.shutdown
    }

    /// Starts a session for `name`.
    pub fn login(&self, name: &str) -> Result<(String, Arc<Session>), Status> {
        check_user_name(name)?;
        let claim = self
            .shared
            .engine
            .claim_name(name)
            .map_err(status::from_engine)?;
        let token = new_token();
        let session = Arc::new(Session {
            token: token.clone(),
            name: claim,
            state: Mutex::new(SessionState {
                rooms: BTreeSet::new(),
                stream: None,
                next_generation: 0,
                idle_since: Instant::now(),
                sends: TokenBucket::full(self.shared.config.max_sends_per_second),
                ended: false,
            }),
        });
        self.sessions().insert(token.clone(), Arc::clone(&session));
        tracing::info!(name, "native user logged in");
        Ok((token, session))
    }

    /// The session whose token `metadata` carries.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<Arc<Session>, Status> {
        let token = metadata
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated(
                    "this call needs a session: log in with Login and send its token \
                     as the metadata `authorization: Bearer TOKEN`",
                )
            })?;
        let session = self
            .sessions()
            .get(token.trim())
            .cloned()
            .ok_or_else(expired)?;
        session.touch();
        Ok(session)
    }

    /// Ends a session: the user leaves its rooms (the others are told), its
    /// stream ends and its name is free.
    pub fn end(&self, session: &Session, reason: &str) {
        self.sessions().remove(&session.token);
        let rooms = {
            let mut state = session.state();
            if state.ended {
                return;
            }
            state.ended = true;
            state.stream = None;
            std::mem::take(&mut state.rooms)
        };
        for room in rooms {
            self.vacate(&room, session.name());
        }
        session.name.set_online(false);
        tracing::info!(name = session.name(), reason, "native session ended");
    }

    /// Creates room `name`, saved so it outlives restarts, with the user
    /// in it.
    pub async fn create_room(&self, session: &Session, name: &str) -> Result<Arc<Room>, Status> {
        check_room_name(name)?;
        if self.shared.engine.find_room(name).is_some() {
            return Err(Status::already_exists(format!(
                "room `{name}` already exists; join it with JoinRoom"
            )));
        }
        let room = self
            .shared
            .engine
            .create_room(name, session.name())
            .await
            .map_err(status::from_engine)?;
        self.join(session, &room)
    }

    /// Puts the user in open room `name`.
    pub fn join_room(&self, session: &Session, name: &str) -> Result<Arc<Room>, Status> {
        let room = self
            .shared
            .engine
            .find_room(name)
            .ok_or_else(|| room_not_found(name))?;
        self.join(session, &room)
    }

    fn join(&self, session: &Session, room: &Arc<Room>) -> Result<Arc<Room>, Status> {
        let mut state = session.state();
        if state.rooms.contains(room.name()) {
            return Ok(Arc::clone(room));
        }
        let max = self.shared.config.max_rooms_per_user;
        if state.rooms.len() >= max {
            return Err(Status::resource_exhausted(format!(
                "already in {max} rooms, the most one user may be in; leave one first"
            )));
        }
        // Read first, so a message posted as the user joins is not missed.
        let after = room.last_seq();
        room.join(session.name()).map_err(status::from_engine)?;
        state.rooms.insert(room.name().to_owned());
        Session::tell_stream(
            &mut state,
            Control::Follow {
                room: Arc::clone(room),
                after,
            },
        );
        Ok(Arc::clone(room))
    }

    /// Takes the user out of room `name`.
    pub fn leave_room(&self, session: &Session, name: &str) -> Result<(), Status> {
        let mut state = session.state();
        if !state.rooms.remove(name) {
            return Err(Status::failed_precondition(format!(
                "you are not in room `{name}`"
            )));
        }
        Session::tell_stream(
            &mut state,
            Control::Unfollow {
                room: name.to_owned(),
            },
        );
        drop(state);
        self.vacate(name, session.name());
        Ok(())
    }

    /// The room the user is in called `name`, to send to.
    pub fn room_of(&self, session: &Session, name: &str) -> Result<Arc<Room>, Status> {
        if !session.state().rooms.contains(name) {
            return Err(Status::failed_precondition(format!(
                "you are not in room `{name}`; join it with JoinRoom first"
            )));
        }
        self.shared
            .engine
            .find_room(name)
            .ok_or_else(|| room_not_found(name))
    }

    /// The user left room `name` (or the room went away under it).
    pub fn forget_room(&self, session: &Session, name: &str) {
        session.state().rooms.remove(name);
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
        let grace = self.shared.config.presence_grace;
        let now = Instant::now();
        let idle: Vec<Arc<Session>> = self
            .sessions()
            .values()
            .filter(|session| {
                let state = session.state();
                state.stream.is_none() && now.duration_since(state.idle_since) > grace
            })
            .cloned()
            .collect();
        for session in idle {
            self.end(&session, "went away");
        }
    }

    /// Runs [`end_idle_sessions`](Self::end_idle_sessions) a few times per
    /// grace period until shutdown.
    pub async fn end_idle_sessions_until_shutdown(self) {
        let period = (self.shared.config.presence_grace / 4).max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shared.shutdown.cancelled() => return,
                _ = ticker.tick() => self.end_idle_sessions(),
            }
        }
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
            for session in self.all_sessions() {
                Session::tell_stream(&mut session.state(), control.clone());
            }
        }
        for session in self.all_sessions() {
            session.state().stream = None;
        }
    }

    fn all_sessions(&self) -> Vec<Arc<Session>> {
        self.sessions().values().cloned().collect()
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        // Single inserts and removes: never left half-done.
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

pub fn room_not_found(name: &str) -> Status {
    Status::not_found(format!(
        "there is no open room `{name}`; ListRooms shows them, CreateRoom makes one"
    ))
}

fn expired() -> Status {
    Status::unauthenticated("the session token is unknown or its session ended; log in again")
}

/// 128 random bits, in hex.
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
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
