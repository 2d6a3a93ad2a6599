use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::Notify;

use crate::committer::Committer;
use crate::directory::Directory;
use crate::members::{Members, RoomEvents};
use crate::subscription::{Start, Subscription};
use crate::{Draft, EngineError, HistoryStore, Limits, Message};

/// One chat room: a total order of messages, a window of the most recent
/// ones for fast fan-out, the subscribers reading it, and its members.
///
/// Subscribing and membership are independent: a protocol may read a room
/// without being a member (classic clients) or be a member that reads
/// through some other door.
pub struct Room {
    name: String,
    limits: Limits,
    window_len: usize,
    store: Arc<dyn HistoryStore>,
    committer: Committer,
    state: RwLock<RoomState>,
    /// Woken on every new message and on close.
    arrivals: Notify,
    subscribers: AtomicUsize,
    members: Members,
    directory: Arc<Directory>,
    /// The user who created the room, if a user did.
    created_by: Option<String>,
}

pub(crate) struct RoomState {
    /// The sequence number the next message gets. Ahead of `published`
    /// while messages are being stored.
    next_seq: u64,
    /// The newest message subscribers may see (stored and published).
    pub(crate) published: u64,
    /// The newest published messages, contiguous, ending at `published`.
    pub(crate) window: VecDeque<Arc<Message>>,
    pub(crate) closed: bool,
    recent_ids: RecentIds,
}

/// The newest messages that carry a client id, by sender and id, so a
/// retried send finds the message its first try posted.
#[derive(Default)]
struct RecentIds {
    by_id: HashMap<(String, String), Arc<Message>>,
    order: VecDeque<(String, String)>,
}

impl RecentIds {
    fn find(&self, draft: &Draft) -> Option<Arc<Message>> {
        let id = draft.client_id.clone()?;
        self.by_id.get(&(draft.sender.clone(), id)).cloned()
    }

    fn remember(&mut self, message: &Arc<Message>, capacity: usize) {
        let Some(id) = &message.client_id else {
            return;
        };
        let key = (message.sender.clone(), id.clone());
        if self.order.len() == capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.by_id.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.by_id.insert(key, Arc::clone(message));
    }
}

impl RoomState {
    /// The oldest sequence number still in the window (`published + 1` if
    /// it is empty).
    pub(crate) fn window_start(&self) -> u64 {
        self.window.front().map_or(self.published + 1, |m| m.seq)
    }
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("name", &self.name)
            .field("last_seq", &self.last_seq())
            .field("subscribers", &self.subscriber_count())
            .finish_non_exhaustive()
    }
}

impl Room {
    pub(crate) fn open(
        name: String,
        limits: Limits,
        window_len: usize,
        store: Arc<dyn HistoryStore>,
        committer: Committer,
        directory: Arc<Directory>,
        created_by: Option<String>,
    ) -> Self {
        let published = store.last_seq(&name);
        Room {
            name,
            limits,
            window_len: window_len.max(1),
            store,
            committer,
            state: RwLock::new(RoomState {
                next_seq: published + 1,
                published,
                window: VecDeque::new(),
                closed: false,
                recent_ids: RecentIds::default(),
            }),
            arrivals: Notify::new(),
            subscribers: AtomicUsize::new(0),
            members: Members::new(),
            directory,
            created_by,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The user who created the room, if a user did.
    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// Checks `draft` against the limits and posts it: it gets the next
    /// place in the room's order, is stored, and reaches every subscriber.
    /// Returns once it is stored. A draft whose sender and client id match
    /// a recent message is not posted again: that message is returned.
    pub async fn post(self: &Arc<Self>, draft: Draft) -> Result<Arc<Message>, EngineError> {
        self.limits.check_name(&draft.sender)?;
        self.limits.check_text(&draft.text)?;
        self.limits.check_client_id(draft.client_id.as_deref())?;
        self.committer.submit(Arc::clone(self), draft).await
    }

    /// The recent message that `draft` retries (same sender and client
    /// id), if it is recent enough to be in memory.
    pub(crate) fn recent_repeat(&self, draft: &Draft) -> Option<Arc<Message>> {
        self.read_state().recent_ids.find(draft)
    }

    /// Gives `draft` the next sequence number (the committer's job).
    pub(crate) fn number(&self, draft: Draft) -> Result<Arc<Message>, EngineError> {
        let mut state = self.write_state();
        if state.closed {
            return Err(EngineError::RoomClosed(self.name.clone()));
        }
        let message = Arc::new(Message::accept(draft, state.next_seq));
        state.next_seq += 1;
        Ok(message)
    }

    /// Takes back sequence numbers from `seq` on, whose messages could not
    /// be stored (the committer's job).
    pub(crate) fn unnumber(&self, seq: u64) {
        let mut state = self.write_state();
        state.next_seq = state.next_seq.min(seq);
    }

    /// Shows a stored message to subscribers (the committer's job, in
    /// sequence order).
    pub(crate) fn publish(&self, message: Arc<Message>) {
        {
            let mut state = self.write_state();
            state.published = message.seq;
            if state.window.len() == self.window_len {
                state.window.pop_front();
            }
            state.recent_ids.remember(&message, self.window_len);
            state.window.push_back(message);
        }
        self.arrivals.notify_waiters();
    }

    /// A subscription that starts at `start` and then follows every new
    /// message.
    pub fn subscribe(self: &Arc<Self>, start: Start) -> Subscription {
        let published = self.read_state().published;
        self.subscribers.fetch_add(1, Ordering::Relaxed);
        Subscription::new(Arc::clone(self), start, published + 1)
    }

    /// The sequence number of the newest message, 0 if there is none.
    pub fn last_seq(&self) -> u64 {
        self.read_state().published
    }

    /// How many subscriptions are open on this room.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    /// Makes `name` a member. Returns whether it was not one already (only
    /// then do watchers hear [`RoomEvent::Joined`](crate::RoomEvent)). From
    /// now on the room hears when a logged-in `name` comes and goes online.
    pub fn join(self: &Arc<Self>, name: &str) -> Result<bool, EngineError> {
        let mut directory = self.directory.lock();
        let online = directory.is_online(name);
        let joined = self.members.join(&self.name, name, online)?;
        if joined {
            directory.entered(name, self);
        }
        Ok(joined)
    }

    /// Removes `name` from the members. Returns whether it was one (only
    /// then do watchers hear [`RoomEvent::Left`](crate::RoomEvent)).
    pub fn leave(&self, name: &str) -> bool {
        let mut directory = self.directory.lock();
        let left = self.members.leave(name);
        if left {
            directory.left(name, self);
        }
        left
    }

    /// Member `name` came online or went offline (the directory's call,
    /// under its lock).
    pub(crate) fn member_presence(&self, name: &str, online: bool) {
        self.members.presence(name, online);
    }

    /// The members' names, sorted.
    pub fn members(&self) -> Vec<String> {
        self.members.names()
    }

    /// Up to `limit` members whose names sort after `after` (from the
    /// first, if it is empty), sorted.
    pub fn members_after(&self, after: &str, limit: usize) -> Vec<String> {
        self.members.names_after(after, limit)
    }

    pub fn is_member(&self, name: &str) -> bool {
        self.members.contains(name)
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// A feed of membership and presence changes from now on.
    pub fn watch_members(self: &Arc<Self>) -> RoomEvents {
        RoomEvents::new(Arc::clone(self))
    }

    pub(crate) fn members_state(&self) -> &Members {
        &self.members
    }

    /// Refuses new messages and members, tells subscribers (once they have
    /// read what was posted before) and member watchers that it closed.
    pub(crate) fn close(&self) {
        self.write_state().closed = true;
        self.arrivals.notify_waiters();
        self.members.close();
    }

    pub(crate) fn store(&self) -> &dyn HistoryStore {
        self.store.as_ref()
    }

    pub(crate) fn arrivals(&self) -> &Notify {
        &self.arrivals
    }

    pub(crate) fn unsubscribed(&self) {
        self.subscribers.fetch_sub(1, Ordering::Relaxed);
    }

    // The state is only ever changed by whole assignments under the lock,
    // so it is consistent even if a holder panicked.
    pub(crate) fn read_state(&self) -> RwLockReadGuard<'_, RoomState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, RoomState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}
