//! A [`Room`]: one total order of messages, a window of the newest for
//! fan-out, its members and who may do what in it. Posts go through the
//! committer to the store before subscribers see them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::access::{AccessChange, RoomAccess, Target};
use crate::arrivals::Arrivals;
use crate::changes::{self, Author};
use crate::committer::{Committer, Post};
use crate::directory::Directory;
use crate::members::{Members, RoomEvents};
use crate::mentions;
use crate::message::now_ms;
use crate::relay::News;
use crate::store::{Entry, Grant, RoomUpdate, StoreError};
use crate::subscription::{Start, Subscription};
use crate::typing::{self, Typing};
use crate::{
    Change, ChangeKind, Draft, EngineError, EngineMetrics, HistoryStore, Limits, Message, Role,
    RoomAction,
};

/// Messages that mention anyone a room keeps in memory to count its
/// members' unread mentions: a member further behind sees this many.
pub const MOST_MENTIONING: usize = 1000;

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
    arrivals: Arrivals,
    subscribers: AtomicUsize,
    /// A task is reading a gap in the numbers from the store.
    filling: AtomicBool,
    members: Members,
    /// Also tells the other nodes of changes to members and access.
    directory: Arc<Directory>,
    /// Who may do what. Taken before the directory's and the members'
    /// locks, never while holding them.
    access: RwLock<RoomAccess>,
    /// Held while a change to `access` is checked and stored, so changes
    /// are made one at a time, each against the one before.
    changing: tokio::sync::Mutex<()>,
    typing: Typing,
}

/// Of a message that mentions someone, what counting mentions needs (not
/// its text: a room holds up to [`MOST_MENTIONING`] of them).
struct Mentioned {
    ordinal: u64,
    sender: String,
    mentions: crate::Mentions,
}

impl Mentioned {
    fn of(message: &Message) -> Self {
        Mentioned {
            ordinal: message.ordinal,
            sender: message.sender.clone(),
            mentions: message.mentions.clone(),
        }
    }
}

pub(crate) struct RoomState {
    /// The sequence number the next message gets. Ahead of `published`
    /// while messages are being stored.
    next_seq: u64,
    /// The messages numbered (the ordinal of the newest).
    messages: u64,
    /// The messages published (the ordinal of the newest shown).
    shown_messages: u64,
    /// The newest messages that mention anyone, oldest first, at most
    /// [`MOST_MENTIONING`]; `None` until read from the store.
    mentioning: Option<VecDeque<Mentioned>>,
    /// The newest message subscribers may see (stored and published).
    pub(crate) published: u64,
    /// The newest published messages, contiguous, ending at `published`.
    pub(crate) window: VecDeque<Arc<Message>>,
    pub(crate) closed: bool,
    recent_ids: RecentIds,
    /// Stored messages that wait for one before them (other nodes' may
    /// come out of order, or one may be lost on the way), by number; at
    /// most `window_len`.
    waiting: BTreeMap<u64, Arc<Message>>,
    /// The newest number known to be stored (`published` or beyond).
    heard_of: u64,
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

/// Invitations of a guest are not stored: it is gone after a restart
/// anyway, and its name is free for someone else. (Its mutes are kept by
/// name, as bans are.)
fn is_guest_only(change: &AccessChange) -> bool {
    matches!(
        change,
        AccessChange::Grant(Grant::Invited, _) | AccessChange::Revoke(Grant::Invited, _)
    )
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
        access: RoomAccess,
    ) -> Self {
        let published = store.last_seq(&name);
        let messages = store.message_count(&name);
        Room {
            name,
            limits,
            window_len: window_len.max(1),
            store,
            committer,
            state: RwLock::new(RoomState {
                next_seq: published + 1,
                messages,
                shown_messages: messages,
                mentioning: None,
                published,
                window: VecDeque::new(),
                closed: false,
                recent_ids: RecentIds::default(),
                waiting: BTreeMap::new(),
                heard_of: published,
            }),
            arrivals: Arrivals::default(),
            subscribers: AtomicUsize::new(0),
            filling: AtomicBool::new(false),
            members: Members::new(),
            directory,
            access: RwLock::new(access),
            changing: tokio::sync::Mutex::new(()),
            typing: Typing::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who may do what in the room. Hold it briefly: changes wait for it.
    pub fn access(&self) -> RwLockReadGuard<'_, RoomAccess> {
        self.access.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_access(&self) -> RwLockWriteGuard<'_, RoomAccess> {
        // Changed by whole assignments and single inserts: never half-done.
        self.access.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn is_private(&self) -> bool {
        self.access().private
    }

    /// Whether `name` may read the room's members and history: not
    /// banned, and for a private room, a member.
    pub fn check_readable(&self, name: &str) -> Result<(), EngineError> {
        let access = self.access();
        if access.is_banned(name) {
            return Err(EngineError::Banned(self.name.clone()));
        }
        if access.private && !self.is_member(name) {
            return Err(EngineError::NotAllowed(format!(
                "`{}` is a private room: join it to read it",
                self.name
            )));
        }
        Ok(())
    }

    /// Whether user `name` may learn that the room exists.
    pub fn is_visible_to(&self, name: &str) -> bool {
        let access = self.access();
        access.is_visible_to(name, self.is_member(name))
    }

    /// Lets `actor` take `action`, if its role allows: the change is
    /// stored, made, and announced to the room's watchers. Kicked and
    /// banned members leave. Returns the action with its target's name in
    /// proper form.
    pub(crate) async fn moderate(
        &self,
        actor: &str,
        action: RoomAction,
    ) -> Result<RoomAction, EngineError> {
        let _one_at_a_time = self.changing.lock().await;
        let target = action.target().and_then(|name| self.resolve(name, &action));
        let action = match &target {
            Some(target) => action.with_target(target.name.clone()),
            None => action,
        };
        let changes = {
            let access = self.access();
            access.check(&self.name, actor, &action, target.as_ref(), &self.limits)?;
            access.changes(actor, &action)
        };
        let is_account = target.as_ref().is_some_and(|target| target.is_account);
        let mut stored: Vec<RoomUpdate> = changes
            .iter()
            .filter(|change| is_account || !is_guest_only(change))
            .map(|change| change.stored(&self.name))
            .collect();
        if action == RoomAction::Delete {
            stored.push(RoomUpdate::Delete(self.name.clone()));
        }
        if !stored.is_empty() {
            self.store.update_rooms(stored).await?;
        }
        self.make_change(actor, changes, &action);
        self.directory.relay().announce(News::Moderated {
            room: self.name.clone(),
            actor: actor.to_owned(),
            action: action.clone(),
        });
        Ok(action)
    }

    /// Makes the change that `actor` made on another node, as it made it
    /// (checked and stored there).
    pub(crate) async fn moderated_elsewhere(&self, actor: &str, action: &RoomAction) {
        let _one_at_a_time = self.changing.lock().await;
        let changes = self.access().changes(actor, action);
        self.make_change(actor, changes, action);
    }

    /// Applies `changes`, tells the watchers, and removes a kicked or
    /// banned member.
    fn make_change(&self, actor: &str, changes: Vec<AccessChange>, action: &RoomAction) {
        {
            let mut access = self.write_access();
            for change in changes {
                access.apply(change);
            }
        }
        self.members.announce(actor, action.clone());
        if let RoomAction::Kick(name) | RoomAction::Ban(name) = action {
            self.remove_member(name);
        }
    }

    /// The user `name` names for `action`: an account or a logged-in user
    /// by any spelling. A ban may name anyone; an unban, a banned name; an
    /// unmute, a muted one.
    fn resolve(&self, name: &str, action: &RoomAction) -> Option<Target> {
        let known = {
            let directory = self.directory.lock();
            directory
                .registered_as(name)
                .map(|account| (account.to_owned(), true))
                .or_else(|| {
                    directory
                        .holder_of(name)
                        .map(|held| (held.to_owned(), false))
                })
        };
        let (name, is_account) = match (known, action) {
            (Some(known), _) => known,
            (None, RoomAction::Ban(_)) if self.limits.check_name(name).is_ok() => {
                (name.to_owned(), false)
            }
            (None, RoomAction::Unban(_)) => {
                let banned = self.access().banned.get(&crate::name_key(name)).cloned()?;
                (banned, false)
            }
            (None, RoomAction::Unmute(_)) => {
                let muted = self.access().muted.get(&crate::name_key(name)).cloned()?;
                (muted, false)
            }
            (None, _) => return None,
        };
        Some(Target {
            is_member: self.is_member(&name),
            name,
            is_account,
        })
    }

    /// Forgets what the room granted user `name`, who is gone (a guest
    /// whose session ended, or a deleted account), so nobody who takes
    /// the name later inherits it (a guest's bans and mutes hold the
    /// name). A room it owned passes to its first moderator, if it has
    /// one. Returns the changes to store.
    pub(crate) fn forget(&self, name: &str, is_account: bool) -> Vec<RoomUpdate> {
        let mut access = self.write_access();
        let mut changes = Vec::new();
        // A guest's bans and mutes stay: they hold the name, whoever takes
        // it, so logging in again lifts neither.
        let held: &[Grant] = if is_account {
            &[
                Grant::Invited,
                Grant::Muted,
                Grant::Moderator,
                Grant::Participant,
            ]
        } else {
            &[Grant::Invited]
        };
        for &grant in held {
            if let Some(held) = access.revoke(grant, name) {
                changes.push(AccessChange::Revoke(grant, held));
            }
        }
        if is_account && access.owner.as_deref() == Some(name) {
            let heir = access.moderators.pop_first();
            if let Some(heir) = &heir {
                changes.push(AccessChange::Revoke(Grant::Moderator, heir.clone()));
            }
            access.owner.clone_from(&heir);
            changes.push(AccessChange::Owner(heir));
        }
        changes
            .iter()
            .filter(|change| is_account || !is_guest_only(change))
            .map(|change| change.stored(&self.name))
            .collect()
    }

    /// What the engine counts.
    pub(crate) fn metrics(&self) -> &EngineMetrics {
        self.committer.metrics()
    }

    /// Checks `draft` against the limits and posts it: it gets the next
    /// place in the room's order, is stored, and reaches every subscriber.
    /// Returns once it is stored. A draft whose sender and client id match
    /// a recent message is not posted again: that message is returned.
    pub async fn post(self: &Arc<Self>, draft: Draft) -> Result<Arc<Message>, EngineError> {
        let may_mention_room = {
            let access = self.access();
            if access.is_muted(&draft.sender) {
                return Err(EngineError::Muted(self.name.clone()));
            }
            access.role_of(&draft.sender) >= Role::Moderator
        };
        self.limits.check_name(&draft.sender)?;
        (self.limits).check_message(&draft.text, draft.attachments.len())?;
        self.limits.check_client_id(draft.client_id.as_deref())?;
        if let Some(target) = draft.reply_to {
            self.message(target).await?;
        }
        let mentions = mentions::resolve(&draft.text, may_mention_room, |key| {
            self.members.by_key(key)
        });
        let sender = draft.sender.clone();
        let sent = self
            .committer
            .submit(Arc::clone(self), Post::Draft(draft, mentions))
            .await?;
        // Whoever sent has stopped typing.
        if self.typing.set(&sender, false) {
            self.typing_news(&sender, false);
        }
        Ok(sent)
    }

    /// Makes `author`'s change of `kind` to message `target`, if the rules
    /// allow (see [`changes`]): the change takes the next number in the
    /// room's order, is stored, and reaches every subscriber as an update
    /// entry. Returns the message as it is after it (as it was, if the
    /// change would change nothing).
    pub async fn change(
        self: &Arc<Self>,
        author: &Author,
        target: u64,
        kind: ChangeKind,
    ) -> Result<Arc<Message>, EngineError> {
        let kind = match kind {
            ChangeKind::Edit(text) => {
                self.limits.check_text(&text)?;
                ChangeKind::Edit(text)
            }
            ChangeKind::React { emoji, remove } => ChangeKind::React {
                emoji: changes::reaction_emoji(&emoji)?,
                remove,
            },
            ChangeKind::Delete => ChangeKind::Delete,
        };
        let message = self.message(target).await?;
        let role = {
            let access = self.access();
            if access.is_muted(&author.name) && kind != ChangeKind::Delete {
                return Err(EngineError::Muted(self.name.clone()));
            }
            access.role_of(&author.name)
        };
        if !changes::check(&self.name, &message, author, role, &kind, &self.limits)? {
            return Ok(message);
        }
        let change = Change {
            target,
            actor: author.name.clone(),
            at_ms: now_ms(),
            kind,
        };
        let entry = self
            .committer
            .submit(Arc::clone(self), Post::Change(change))
            .await?;
        Ok(entry.updated_message().map_or(entry, Arc::new))
    }

    /// Message `seq` in its state now: from the window, or the store.
    /// Refused if there is none (or the number is a change's).
    pub async fn message(&self, seq: u64) -> Result<Arc<Message>, EngineError> {
        let found = match (1..=self.last_seq()).contains(&seq) {
            true => self.entry_from(seq).await?,
            false => None,
        };
        found
            .filter(|message| message.seq == seq && message.updates.is_none())
            .ok_or_else(|| EngineError::NoSuchMessage {
                room: self.name.clone(),
                seq,
            })
    }

    /// The entry numbered `seq`, or else the first kept after it: from
    /// the window, or the store.
    async fn entry_from(&self, seq: u64) -> Result<Option<Arc<Message>>, StoreError> {
        let in_window = {
            let state = self.read_state();
            let start = state.window_start();
            (seq >= start && seq <= state.published)
                .then(|| Arc::clone(&state.window[(seq - start) as usize]))
        };
        match in_window {
            Some(entry) => Ok(Some(entry)),
            None => Ok(self.store.read_from(&self.name, seq, 1).await?.pop()),
        }
    }

    /// The recent message that `draft` retries (same sender and client
    /// id), if it is recent enough to be in memory.
    pub(crate) fn recent_repeat(&self, draft: &Draft) -> Option<Arc<Message>> {
        self.read_state().recent_ids.find(draft)
    }

    /// Gives `post` the next sequence number (the committer's job).
    pub(crate) fn number(&self, post: Post) -> Result<Entry, EngineError> {
        let mut state = self.write_state();
        if state.closed {
            return Err(EngineError::RoomClosed(self.name.clone()));
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        Ok(match post {
            Post::Draft(draft, mentions) => {
                state.messages += 1;
                let message = Message::accept(draft, mentions, seq, state.messages);
                Entry::Message(Arc::new(message))
            }
            Post::Change(change) => Entry::Change {
                seq,
                ordinal: state.messages,
                change: Arc::new(change),
            },
        })
    }

    /// Takes back the numbers from `entry`'s on, whose entries could not
    /// be stored (the committer's job).
    pub(crate) fn unnumber(&self, entry: &Entry) {
        let mut state = self.write_state();
        state.next_seq = state.next_seq.min(entry.seq());
        state.messages = state.messages.min(entry.messages_before());
    }

    /// Shows a stored message to subscribers once every message before it
    /// is shown; numbering goes on after it. Messages may come in any order
    /// (other nodes' through the broker); one already shown is dropped.
    /// At most a window's worth wait behind a gap: the rest are read from
    /// the store with what is missing. Returns the first missing number
    /// while there is a gap.
    pub(crate) fn deliver(&self, message: Arc<Message>) -> Option<u64> {
        let (shown, gap) = {
            let mut state = self.write_state();
            state.heard_of = state.heard_of.max(message.seq);
            // The next one is shown at once (the usual case, with no map).
            let mut shown = false;
            if message.seq == state.published + 1 {
                self.show(&mut state, message);
                shown = true;
            } else if message.seq > state.published && state.waiting.len() < self.window_len {
                state.waiting.insert(message.seq, message);
            }
            shown |= self.show_waiting(&mut state);
            let gap = (state.heard_of > state.published).then_some(state.published + 1);
            (shown, gap)
        };
        if shown {
            self.arrivals.wake_all();
        }
        gap
    }

    /// Publishes the waiting messages that follow the newest published, in
    /// order; whether any were.
    fn show_waiting(&self, state: &mut RoomState) -> bool {
        let mut shown = false;
        while let Some(next) = state.waiting.remove(&(state.published + 1)) {
            self.show(state, next);
            shown = true;
        }
        shown
    }

    /// Publishes `message`, which follows the newest published. An update
    /// entry also leaves its message, and the earlier updates of it, in the
    /// window as it made them, so those who read them from now on read the
    /// message as it is (as they would from the store): a deleted text is
    /// not read again, nor an edit's.
    fn show(&self, state: &mut RoomState, message: Arc<Message>) {
        state.next_seq = state.next_seq.max(message.seq + 1);
        state.messages = state.messages.max(message.ordinal);
        state.shown_messages = state.shown_messages.max(message.ordinal);
        let mentions = &message.mentions;
        if let Some(list) = &mut state.mentioning
            && message.updates.is_none()
            && (mentions.room || !mentions.names.is_empty())
        {
            if list.len() == MOST_MENTIONING {
                list.pop_front();
            }
            list.push_back(Mentioned::of(&message));
        }
        match message.updated_message() {
            Some(updated) => Self::show_state(state, &updated),
            None => state.recent_ids.remember(&message, self.window_len),
        }
        state.published = message.seq;
        if state.window.len() == self.window_len {
            state.window.pop_front();
        }
        state.window.push_back(message);
    }

    /// Puts `updated`'s state in the window: the message, and each update
    /// entry of it.
    fn show_state(state: &mut RoomState, updated: &Message) {
        // Nothing before the message can be of it.
        let from = updated.seq.saturating_sub(state.window_start());
        for kept in state.window.iter_mut().skip(from as usize) {
            if kept.seq == updated.seq {
                let mut now = updated.clone();
                now.ordinal = kept.ordinal;
                *kept = Arc::new(now);
            } else if kept.updates == Some(updated.seq) {
                *kept = Arc::new(updated.as_update(kept.seq, kept.ordinal));
            }
        }
    }

    /// Takes the job of filling the gap, unless a task has it.
    pub(crate) fn start_filling(&self) -> bool {
        !self.filling.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn stop_filling(&self) {
        self.filling.store(false, Ordering::Release);
    }

    /// The newest number known to be stored, while the messages up to it
    /// are not all shown.
    pub(crate) fn behind_to(&self) -> Option<u64> {
        let state = self.read_state();
        (state.heard_of > state.published).then_some(state.heard_of)
    }

    /// Goes on after `seq`: messages up to it are gone from the store
    /// (retention removed them before this node could show them).
    pub(crate) fn skip_to(&self, seq: u64) {
        {
            let mut state = self.write_state();
            if seq <= state.published {
                return;
            }
            state.window.clear();
            state.published = seq;
            state.heard_of = state.heard_of.max(seq);
            state.next_seq = state.next_seq.max(seq + 1);
            state.waiting = state.waiting.split_off(&(seq + 1));
            // What waited right after the skipped numbers can be shown now.
            self.show_waiting(&mut state);
        }
        self.arrivals.wake_all();
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

    /// How many messages the room's order holds, published or being
    /// stored: the ordinal of its newest.
    pub fn message_count(&self) -> u64 {
        self.read_state().messages
    }

    /// What user `name`, who has read the room up to the place after
    /// `read` messages, has not read: messages (its own are read, as
    /// sending moves its marker), and those of them that mention it. No
    /// history is counted: the first is a subtraction; the second looks
    /// through the room's newest mentions only (at most
    /// [`MOST_MENTIONING`] are counted; none until they are read from the
    /// store, which starts when the room opens).
    pub fn unread(&self, name: &str, read: u64) -> (u64, u64) {
        let state = self.read_state();
        let unread = state.shown_messages.saturating_sub(read);
        let mentions = (state.mentioning.iter().flatten().rev())
            .take_while(|message| message.ordinal > read)
            .filter(|message| message.sender != name && message.mentions.include(name))
            .count();
        (unread, mentions as u64)
    }

    /// Reads the room's newest messages that mention anyone from the
    /// store, for [`unread`](Self::unread) (the engine's job, when the room
    /// opens; nothing if it is gone by then).
    pub(crate) async fn load_mentioning(room: std::sync::Weak<Self>) {
        let Some(room) = room.upgrade() else {
            return;
        };
        room.read_mentioning().await;
    }

    async fn read_mentioning(&self) {
        let stored = match self
            .store
            .read_mentioning(&self.name, MOST_MENTIONING)
            .await
        {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(room = self.name, %error, "cannot read the room's mentions");
                Vec::new()
            }
        };
        let mut state = self.write_state();
        // With what was shown while the store was read.
        let newest = stored.last().map_or(0, |m| m.seq);
        let shown: Vec<Mentioned> = (state.window.iter())
            .filter(|m| m.seq > newest && m.updates.is_none())
            .filter(|m| m.mentions.room || !m.mentions.names.is_empty())
            .map(|m| Mentioned::of(m))
            .collect();
        let mut list: VecDeque<Mentioned> = stored.iter().map(|m| Mentioned::of(m)).collect();
        list.extend(shown);
        state.mentioning = Some(list);
    }

    /// The place after entry `seq`: `(seq, messages up to it)`, for a read
    /// marker. A number retention removed is placed at the oldest kept.
    pub async fn place_of(&self, seq: u64) -> Result<(u64, u64), EngineError> {
        Ok(match self.entry_from(seq).await? {
            Some(entry) if entry.seq == seq || entry.updates.is_some() => (seq, entry.ordinal),
            Some(entry) => (seq, entry.ordinal.saturating_sub(1)),
            None => (seq, self.read_state().shown_messages),
        })
    }

    /// How many subscriptions are open on this room.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    /// Makes `name` a member. Returns whether it was not one already (only
    /// then do watchers hear [`RoomEvent::Joined`](crate::RoomEvent)). From
    /// now on the room hears when a logged-in `name` comes and goes online.
    /// Refused to a banned user, and for a private room to one not invited
    /// (as if the room were not there).
    pub fn join(self: &Arc<Self>, name: &str) -> Result<bool, EngineError> {
        // Held through the join, so a ban cannot fall between the check
        // and the join.
        let access = self.access();
        if !access.may_join(name) && !self.is_member(name) {
            return Err(if access.is_banned(name) && !access.private {
                EngineError::Banned(self.name.clone())
            } else {
                EngineError::NoSuchRoom(self.name.clone())
            });
        }
        let joined = self.add_member(name)?;
        drop(access);
        if joined {
            self.directory.relay().announce(News::Joined {
                room: self.name.clone(),
                name: name.to_owned(),
            });
        }
        Ok(joined)
    }

    /// Makes `name` a member as it is on another node (which checked).
    pub(crate) fn joined_elsewhere(self: &Arc<Self>, name: &str) {
        if let Err(error) = self.add_member(name) {
            tracing::debug!(room = self.name, name, %error, "not joined as elsewhere");
        }
    }

    fn add_member(self: &Arc<Self>, name: &str) -> Result<bool, EngineError> {
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
        let left = self.remove_member(name);
        if left {
            self.directory.relay().announce(News::Left {
                room: self.name.clone(),
                name: name.to_owned(),
            });
        }
        left
    }

    /// Removes `name` from the members, as it was on another node, or
    /// by a change to the room that every node makes.
    pub(crate) fn remove_member(&self, name: &str) -> bool {
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

    /// Member `name` is typing, or stopped: the room's watchers hear it
    /// when it starts and when it stops, which it does by itself
    /// [`TYPING_LASTS`](crate::TYPING_LASTS) after it was last said.
    pub fn set_typing(self: &Arc<Self>, name: &str, typing: bool) {
        if !self.is_member(name) {
            return;
        }
        if self.typing.set(name, typing) {
            self.typing_news(name, typing);
        }
        if typing {
            typing::end_later(self, name);
        }
    }

    /// Tells the room's watchers, here and on the other nodes, that
    /// `name` started or stopped typing.
    pub(crate) fn typing_news(&self, name: &str, typing: bool) {
        self.members.typing(name, typing);
        self.directory.relay().announce(News::Typing {
            room: self.name.clone(),
            name: name.to_owned(),
            typing,
        });
    }

    /// `name` started or stopped typing on another node (which ends it).
    pub(crate) fn typing_elsewhere(&self, name: &str, typing: bool) {
        if self.is_member(name) {
            self.members.typing(name, typing);
        }
    }

    pub(crate) fn typing_state(&self) -> &Typing {
        &self.typing
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
        self.arrivals.wake_all();
        self.members.close();
    }

    pub(crate) fn store(&self) -> &dyn HistoryStore {
        self.store.as_ref()
    }

    pub(crate) fn arrivals(&self) -> &Arrivals {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, EngineConfig, MemoryStore, Origin};

    #[tokio::test]
    async fn at_most_a_window_of_messages_waits_behind_a_gap() {
        let engine = Engine::new(
            EngineConfig {
                window_len: 8,
                ..EngineConfig::default()
            },
            Arc::new(MemoryStore::new(100)),
        );
        let room = engine.room("general");
        for seq in 2..=100 {
            let message = Arc::new(Message {
                seq,
                sent_at_ms: 0,
                sender: "other-node".into(),
                origin: Origin::Native,
                text: format!("m{seq}"),
                ..Message::default()
            });
            assert_eq!(room.deliver(message), Some(1));
        }
        assert_eq!(room.read_state().waiting.len(), 8);
        assert_eq!(room.behind_to(), Some(100));
    }

    #[tokio::test]
    async fn subscribers_that_go_give_their_place_back() {
        let engine = Engine::new(EngineConfig::default(), Arc::new(MemoryStore::new(100)));
        let room = engine.room("general");
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut clone = |message: &Arc<Message>| Some(Arc::clone(message));
        for _ in 0..100 {
            let mut subscription = room.subscribe(Start::Live);
            let mut read = Vec::new();
            let polled = subscription.poll_recv_into(&mut cx, 1, &mut read, &mut clone);
            assert!(polled.is_pending(), "nothing to read: it waits");
        }
        assert_eq!(room.arrivals().taken(), 0, "every place given back");
        let _waiting: Vec<_> = (0..3)
            .map(|_| {
                let mut subscription = room.subscribe(Start::Live);
                let _ = subscription.poll_recv_into(&mut cx, 1, &mut Vec::new(), &mut clone);
                subscription
            })
            .collect();
        assert_eq!(room.arrivals().taken(), 3);
    }
}
