//! A room's members and their presence, and the log of joins, leaves and
//! changes that member watchers read at their own pace.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::{EngineError, Room, RoomAction};

/// How many membership events a room keeps for watchers that have not read
/// them yet; one further behind is told it lagged (and reads a fresh member
/// list instead). Joins, leaves and presence are rare next to messages.
const EVENT_LOG: usize = 512;

/// A change in who is in a room, or in whether a member is online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    Joined {
        name: String,
        online: bool,
    },
    Left(String),
    Presence {
        name: String,
        online: bool,
    },
    /// An owner or moderator changed the room (before any member it
    /// removes leaves).
    Changed {
        actor: String,
        action: RoomAction,
    },
    /// A member started or stopped typing.
    Typing {
        name: String,
        typing: bool,
    },
    /// The room closed; no events follow.
    Closed,
}

/// Why a [`RoomEvents`] feed cannot go on.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum RoomEventsError {
    #[error("fell behind by {0} membership events")]
    Lagged(u64),
}

/// Who is in a room, and the newest events about them. Changes and their
/// events happen under one lock, so every watcher sees them in the order
/// the membership changed.
///
/// Watching is pull-based, as for messages: a watcher is a cursor into the
/// event log, so an idle room holds no buffer and a watcher costs a number.
pub(crate) struct Members {
    state: Mutex<MembersState>,
    /// Woken on every event.
    changed: Notify,
}

#[derive(Default)]
struct MembersState {
    names: BTreeSet<String>,
    /// Each member's [`name_key`](crate::name_key), for finding the member
    /// a spelling means (`@ALICE` is alice).
    by_key: HashMap<String, String>,
    closed: bool,
    /// The newest events; the first is number `first_event`.
    log: VecDeque<RoomEvent>,
    first_event: u64,
}

impl MembersState {
    fn end(&self) -> u64 {
        self.first_event + self.log.len() as u64
    }

    fn record(&mut self, event: RoomEvent) {
        if self.log.len() == EVENT_LOG {
            self.log.pop_front();
            self.first_event += 1;
        }
        self.log.push_back(event);
    }
}

impl Members {
    pub(crate) fn new() -> Self {
        Members {
            state: Mutex::default(),
            changed: Notify::new(),
        }
    }

    /// Adds `name`, online or not; returns whether it was not a member
    /// before.
    pub(crate) fn join(&self, room: &str, name: &str, online: bool) -> Result<bool, EngineError> {
        let mut state = self.state();
        if state.closed {
            return Err(EngineError::RoomClosed(room.to_owned()));
        }
        let joined = state.names.insert(name.to_owned());
        if joined {
            state.by_key.insert(crate::name_key(name), name.to_owned());
        }
        if joined {
            self.record(
                &mut state,
                RoomEvent::Joined {
                    name: name.to_owned(),
                    online,
                },
            );
        }
        Ok(joined)
    }

    /// Removes `name`; returns whether it was a member.
    pub(crate) fn leave(&self, name: &str) -> bool {
        let mut state = self.state();
        let left = state.names.remove(name);
        if left {
            state.by_key.remove(&crate::name_key(name));
        }
        if left {
            self.record(&mut state, RoomEvent::Left(name.to_owned()));
        }
        left
    }

    /// Tells watchers that member `name` came online or went offline.
    pub(crate) fn presence(&self, name: &str, online: bool) {
        let mut state = self.state();
        if state.names.contains(name) {
            self.record(
                &mut state,
                RoomEvent::Presence {
                    name: name.to_owned(),
                    online,
                },
            );
        }
    }

    /// Tells watchers of a change to the room.
    pub(crate) fn announce(&self, actor: &str, action: RoomAction) {
        let mut state = self.state();
        self.record(
            &mut state,
            RoomEvent::Changed {
                actor: actor.to_owned(),
                action,
            },
        );
    }

    pub(crate) fn typing(&self, name: &str, typing: bool) {
        let mut state = self.state();
        let name = name.to_owned();
        self.record(&mut state, RoomEvent::Typing { name, typing });
    }

    pub(crate) fn close(&self) {
        let mut state = self.state();
        if !state.closed {
            state.closed = true;
            self.record(&mut state, RoomEvent::Closed);
        }
    }

    fn record(&self, state: &mut MembersState, event: RoomEvent) {
        state.record(event);
        self.changed.notify_waiters();
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.state().names.iter().cloned().collect()
    }

    pub(crate) fn names_after(&self, after: &str, limit: usize) -> Vec<String> {
        let state = self.state();
        let from = if after.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(after)
        };
        state
            .names
            .range::<str, _>((from, Bound::Unbounded))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The member whose name has key `key`, if one has.
    pub(crate) fn by_key(&self, key: &str) -> Option<String> {
        self.state().by_key.get(key).cloned()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.state().names.contains(name)
    }

    pub(crate) fn len(&self) -> usize {
        self.state().names.len()
    }

    /// The number the next event will have.
    fn next_event(&self) -> u64 {
        self.state().end()
    }

    fn state(&self) -> MutexGuard<'_, MembersState> {
        // Every change is a single insert, remove or push: never left
        // half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A feed of one room's membership and presence changes from the moment it
/// was made.
#[derive(Debug)]
pub struct RoomEvents {
    room: Arc<Room>,
    next: u64,
}

impl RoomEvents {
    pub(crate) fn new(room: Arc<Room>) -> Self {
        let next = room.members_state().next_event();
        RoomEvents { room, next }
    }

    /// The next change; [`RoomEvent::Closed`] (then again on every call)
    /// once the room has closed. A feed that fell out of the room's event
    /// log is told how far, and goes on from the oldest event kept.
    pub async fn recv(&mut self) -> Result<RoomEvent, RoomEventsError> {
        let members = self.room.members_state();
        loop {
            // Registered before looking, so an event recorded between the
            // look and the wait still wakes us.
            let changed = members.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            {
                let state = members.state();
                if self.next < state.first_event {
                    let missed = state.first_event - self.next;
                    self.next = state.first_event;
                    return Err(RoomEventsError::Lagged(missed));
                }
                if let Some(event) = state.log.get((self.next - state.first_event) as usize) {
                    if *event != RoomEvent::Closed {
                        self.next += 1;
                    }
                    return Ok(event.clone());
                }
                if state.closed {
                    return Ok(RoomEvent::Closed);
                }
            }
            changed.await;
        }
    }
}
