use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::broadcast;

use crate::EngineError;

/// How many membership events a slow watcher may fall behind before it is
/// told it lagged. Joins and leaves are rare next to messages.
const EVENT_BACKLOG: usize = 1024;

/// A change in who is in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    Joined(String),
    Left(String),
    /// The room closed; no events follow.
    Closed,
}

/// Why a [`RoomEvents`] feed cannot go on.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum RoomEventsError {
    #[error("fell behind by {0} membership events")]
    Lagged(u64),
}

/// Who is in a room, and a feed of who comes and goes. Changes and their
/// events happen under one lock, so every watcher sees them in the order
/// the membership changed.
pub(crate) struct Members {
    state: Mutex<MembersState>,
    events: broadcast::Sender<RoomEvent>,
}

struct MembersState {
    names: BTreeSet<String>,
    closed: bool,
}

impl Members {
    pub(crate) fn new() -> Self {
        Members {
            state: Mutex::new(MembersState {
                names: BTreeSet::new(),
                closed: false,
            }),
            events: broadcast::channel(EVENT_BACKLOG).0,
        }
    }

    /// Adds `name`; returns whether it was not a member before.
    pub(crate) fn join(&self, room: &str, name: &str) -> Result<bool, EngineError> {
        let mut state = self.state();
        if state.closed {
            return Err(EngineError::RoomClosed(room.to_owned()));
        }
        let joined = state.names.insert(name.to_owned());
        if joined {
            // No watcher is fine: sending only fails when nobody listens.
            let _ = self.events.send(RoomEvent::Joined(name.to_owned()));
        }
        Ok(joined)
    }

    /// Removes `name`; returns whether it was a member.
    pub(crate) fn leave(&self, name: &str) -> bool {
        let mut state = self.state();
        let left = state.names.remove(name);
        if left {
            let _ = self.events.send(RoomEvent::Left(name.to_owned()));
        }
        left
    }

    pub(crate) fn close(&self) {
        let mut state = self.state();
        if !state.closed {
            state.closed = true;
            let _ = self.events.send(RoomEvent::Closed);
        }
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.state().names.iter().cloned().collect()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.state().names.contains(name)
    }

    pub(crate) fn len(&self) -> usize {
        self.state().names.len()
    }

    pub(crate) fn watch(&self) -> RoomEvents {
        let state = self.state();
        RoomEvents {
            receiver: self.events.subscribe(),
            closed: state.closed,
        }
    }

    fn state(&self) -> MutexGuard<'_, MembersState> {
        // Every change is a single insert or remove: never left half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A feed of one room's membership changes from the moment it was made.
#[derive(Debug)]
pub struct RoomEvents {
    receiver: broadcast::Receiver<RoomEvent>,
    /// The room was already closed when the feed was made.
    closed: bool,
}

impl RoomEvents {
    /// The next change; [`RoomEvent::Closed`] (then again on every call)
    /// once the room has closed.
    pub async fn recv(&mut self) -> Result<RoomEvent, RoomEventsError> {
        if self.closed {
            return Ok(RoomEvent::Closed);
        }
        let event = match self.receiver.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                return Err(RoomEventsError::Lagged(missed));
            }
            // The room owns the sender, and we hold no room: treat its end
            // as a close.
            Err(broadcast::error::RecvError::Closed) => RoomEvent::Closed,
        };
        self.closed = event == RoomEvent::Closed;
        Ok(event)
    }
}
