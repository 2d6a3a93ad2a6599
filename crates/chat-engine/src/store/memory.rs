//! History, rooms and accounts in memory: gone when `chatd` stops.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    Account, AccountChange, AccountStore, AccountsSnapshot, Entry, FileInfo, Found, HistoryStore,
    NotifyLevel, ReadMarker, RoomUpdate, SHORT_SCAN, SavedRoom, SearchPlace, SearchQuery, SentKey,
    StoreError, StoredSession, new_secret,
};
use crate::Message;

/// History kept in memory, the newest `retain` entries of each room, and
/// accounts. A message is kept in its state now; a change as the update
/// entry it made, read in the state of its message now.
#[derive(Debug)]
pub struct MemoryStore {
    retain: usize,
    rooms: Mutex<HashMap<String, VecDeque<Arc<Message>>>>,
    saved: Mutex<BTreeMap<String, SavedRoom>>,
    /// The last sequence number of each deleted room whose history went
    /// with it.
    deleted_last_seqs: Mutex<HashMap<String, u64>>,
    /// The kept messages that carry a client id.
    sent: Mutex<HashMap<SentKey, Arc<Message>>>,
    /// Each room's count of messages ever stored (a deleted room's too).
    message_counts: Mutex<HashMap<String, u64>>,
    /// The search place of each kept entry, alongside `rooms`.
    places: Mutex<Places>,
    files: Mutex<Files>,
    accounts: Mutex<Accounts>,
    secrets: Mutex<HashMap<String, Vec<u8>>>,
}

/// Uploaded files, by id, and their bytes, by hash.
#[derive(Debug, Default)]
struct Files {
    files: HashMap<String, FileInfo>,
    bytes: HashMap<String, Bytes>,
}

/// Search places: the store's count of the entries it took, and the place
/// of each room's kept entries, oldest first.
#[derive(Debug, Default)]
struct Places {
    taken: u64,
    rooms: HashMap<String, VecDeque<u64>>,
}

#[derive(Debug, Default)]
struct Accounts {
    accounts: BTreeMap<String, Account>,
    sessions: HashMap<String, StoredSession>,
    memberships: BTreeSet<(String, String)>,
    /// By account and room.
    read_markers: BTreeMap<(String, String), ReadMarker>,
    notify_levels: BTreeMap<(String, String), NotifyLevel>,
}

impl Accounts {
    fn must_have(&self, account: &str) -> Result<(), StoreError> {
        match self.accounts.contains_key(account) {
            true => Ok(()),
            false => Err(StoreError::NoSuchAccount(account.to_owned())),
        }
    }
}

impl MemoryStore {
    /// A store that keeps the newest `retain` messages per room (at least 1,
    /// so a reopened room can always learn its last sequence number).
    pub fn new(retain: usize) -> Self {
        MemoryStore {
            retain: retain.max(1),
            rooms: Mutex::default(),
            saved: Mutex::default(),
            deleted_last_seqs: Mutex::default(),
            sent: Mutex::default(),
            message_counts: Mutex::default(),
            places: Mutex::default(),
            files: Mutex::default(),
            accounts: Mutex::default(),
            secrets: Mutex::default(),
        }
    }

    /// Applies one change to the saved rooms.
    fn update_room(&self, update: RoomUpdate) {
        let mut saved = lock(&self.saved);
        match update {
            RoomUpdate::Create(room) => {
                saved.insert(room.name.clone(), room);
            }
            RoomUpdate::Delete(room) => {
                saved.remove(&room);
                // Numbering carries on from the last message removed.
                let removed = self.rooms().remove(&room);
                lock(&self.places).rooms.remove(&room);
                if let Some(newest) = removed.and_then(|mut history| history.pop_back()) {
                    lock(&self.deleted_last_seqs).insert(room.clone(), newest.seq);
                }
                lock(&self.sent).retain(|key, _| key.room != room);
                let accounts = &mut *lock(&self.accounts);
                accounts.memberships.retain(|(_, joined)| *joined != room);
                accounts.read_markers.retain(|(_, read), _| *read != room);
                accounts.notify_levels.retain(|(_, set), _| *set != room);
            }
            RoomUpdate::SetTopic { room, topic } => {
                if let Some(room) = saved.get_mut(&room) {
                    room.topic = topic;
                }
            }
            RoomUpdate::SetOwner { room, owner } => {
                if let Some(room) = saved.get_mut(&room) {
                    room.owner = owner;
                }
            }
            RoomUpdate::Grant { room, grant, name } => {
                if let Some(room) = saved.get_mut(&room)
                    && !room.grants.contains(&(grant, name.clone()))
                {
                    room.grants.push((grant, name));
                }
            }
            RoomUpdate::Revoke { room, grant, name } => {
                if let Some(room) = saved.get_mut(&room) {
                    room.grants.retain(|held| *held != (grant, name.clone()));
                }
            }
        }
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Arc<Message>>>> {
        // A panic elsewhere cannot leave a deque half-modified, so the data
        // is still good after poisoning.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl HistoryStore for MemoryStore {
    async fn append(&self, batch: &[(&str, Entry)]) -> Result<Vec<Arc<Message>>, StoreError> {
        let mut rooms = self.rooms();
        let mut sent = lock(&self.sent);
        let mut counts = lock(&self.message_counts);
        let mut places = lock(&self.places);
        let mut stored = Vec::with_capacity(batch.len());
        for (room, entry) in batch {
            let history = match rooms.get_mut(*room) {
                Some(history) => history,
                None => rooms.entry((*room).to_owned()).or_default(),
            };
            let entry = match entry {
                Entry::Message(message) => Arc::clone(message),
                Entry::Change {
                    seq,
                    ordinal,
                    change,
                } => {
                    let at = position(history, change.target);
                    match history.get(at).filter(|m| m.seq == change.target) {
                        Some(target) => {
                            let changed = Arc::new(target.changed(change));
                            if let Some(key) = sent_key(room, &changed) {
                                sent.insert(key, Arc::clone(&changed));
                            }
                            history[at] = Arc::clone(&changed);
                            Arc::new(changed.as_update(*seq, *ordinal))
                        }
                        None => Arc::new(Message::update_of_gone(change.target, *seq, *ordinal)),
                    }
                }
            };
            places.taken += 1;
            let place = places.taken;
            let room_places = match places.rooms.get_mut(*room) {
                Some(room_places) => room_places,
                None => places.rooms.entry((*room).to_owned()).or_default(),
            };
            if history.len() == self.retain
                && let Some(oldest) = history.pop_front()
            {
                room_places.pop_front();
                if let Some(key) = sent_key(room, &oldest) {
                    sent.remove(&key);
                }
            }
            room_places.push_back(place);
            if let Some(key) = sent_key(room, &entry) {
                sent.insert(key, Arc::clone(&entry));
            }
            let count = counts.entry((*room).to_owned()).or_default();
            *count = (*count).max(entry.ordinal);
            history.push_back(Arc::clone(&entry));
            stored.push(entry);
        }
        Ok(stored)
    }

    async fn find_sent(&self, keys: Vec<SentKey>) -> Result<Vec<Option<Arc<Message>>>, StoreError> {
        let sent = lock(&self.sent);
        Ok(keys.iter().map(|key| sent.get(key).cloned()).collect())
    }

    async fn put_file(
        &self,
        file: &FileInfo,
        content: Bytes,
        thumbnail: Option<Bytes>,
    ) -> Result<(), StoreError> {
        let mut files = lock(&self.files);
        files.bytes.insert(file.content_hash.clone(), content);
        if let (Some(hash), Some(thumbnail)) = (&file.thumbnail_hash, thumbnail) {
            files.bytes.insert(hash.clone(), thumbnail);
        }
        files.files.insert(file.id.clone(), file.clone());
        Ok(())
    }

    async fn file(&self, id: &str) -> Result<Option<FileInfo>, StoreError> {
        Ok(lock(&self.files).files.get(id).cloned())
    }

    async fn file_bytes(
        &self,
        hash: &str,
        from: u64,
        len: usize,
    ) -> Result<Option<Bytes>, StoreError> {
        let files = lock(&self.files);
        Ok(files.bytes.get(hash).map(|bytes| {
            let start = usize::try_from(from).map_or(bytes.len(), |at| at.min(bytes.len()));
            bytes.slice(start..bytes.len().min(start.saturating_add(len)))
        }))
    }

    async fn files_size(&self, owner: &str) -> Result<u64, StoreError> {
        let files = lock(&self.files);
        let owned = files.files.values().filter(|file| file.owner == owner);
        Ok(owned.map(|file| file.size).sum())
    }

    async fn remove_unused_files(&self, uploaded_before_ms: i64) -> Result<usize, StoreError> {
        let attached: HashSet<String> = (self.rooms().values().flatten())
            .filter(|message| message.updates.is_none())
            .flat_map(|message| message.attachments.iter().map(|a| a.id.clone()))
            .collect();
        let mut files = lock(&self.files);
        let before = files.files.len();
        (files.files)
            .retain(|id, file| file.uploaded_at_ms >= uploaded_before_ms || attached.contains(id));
        let removed = before - files.files.len();
        let used: HashSet<String> = (files.files.values())
            .flat_map(|file| [Some(file.content_hash.clone()), file.thumbnail_hash.clone()])
            .flatten()
            .collect();
        files.bytes.retain(|hash, _| used.contains(hash));
        Ok(removed)
    }

    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let mut secrets = lock(&self.secrets);
        Ok(secrets
            .entry(name.to_owned())
            .or_insert_with(new_secret)
            .clone())
    }

    async fn update_rooms(&self, updates: Vec<RoomUpdate>) -> Result<(), StoreError> {
        for update in updates {
            self.update_room(update);
        }
        Ok(())
    }

    async fn saved_rooms(&self) -> Result<Vec<SavedRoom>, StoreError> {
        Ok(lock(&self.saved).values().cloned().collect())
    }

    fn message_count(&self, room: &str) -> u64 {
        lock(&self.message_counts).get(room).copied().unwrap_or(0)
    }

    fn last_seq(&self, room: &str) -> u64 {
        let newest = self
            .rooms()
            .get(room)
            .and_then(|history| history.back())
            .map(|message| message.seq);
        newest.unwrap_or_else(|| {
            let deleted = lock(&self.deleted_last_seqs);
            deleted.get(room).copied().unwrap_or(0)
        })
    }

    async fn read_from(
        &self,
        room: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let rooms = self.rooms();
        let Some(history) = rooms.get(room) else {
            return Ok(Vec::new());
        };
        let start = position(history, from);
        let now = |entry: &Arc<Message>| match entry.updates {
            None => Arc::clone(entry),
            Some(target) => {
                let message = history.get(position(history, target));
                match message.filter(|m| m.seq == target) {
                    Some(message) => Arc::new(message.as_update(entry.seq, entry.ordinal)),
                    None => Arc::new(Message::update_of_gone(target, entry.seq, entry.ordinal)),
                }
            }
        };
        Ok(history.range(start..).take(limit).map(now).collect())
    }

    async fn read_before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let rooms = self.rooms();
        let Some(history) = rooms.get(room) else {
            return Ok(Vec::new());
        };
        let end = position(history, before);
        let mut page: Vec<_> = history
            .range(..end)
            .rev()
            .filter(|entry| entry.updates.is_none())
            .take(limit)
            .cloned()
            .collect();
        page.reverse();
        Ok(page)
    }

    async fn read_mentioning(
        &self,
        room: &str,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let rooms = self.rooms();
        let Some(history) = rooms.get(room) else {
            return Ok(Vec::new());
        };
        let mentioning = |entry: &&Arc<Message>| {
            entry.updates.is_none() && (entry.mentions.room || !entry.mentions.names.is_empty())
        };
        let mut page: Vec<_> = history
            .iter()
            .rev()
            .filter(mentioning)
            .take(limit)
            .cloned()
            .collect();
        page.reverse();
        Ok(page)
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Found>, StoreError> {
        let terms: Vec<String> = query.terms.iter().map(|t| t.to_lowercase()).collect();
        // Each kept message by its place and its room's index in the query:
        // nothing but a count is copied while the locks are held.
        let rooms = self.rooms();
        let places = lock(&self.places);
        let mut kept: Vec<(u64, usize, Arc<Message>)> = (query.rooms.iter().enumerate())
            .filter_map(|(at, room)| Some((at, rooms.get(room)?, places.rooms.get(room)?)))
            .flat_map(|(at, history, places)| {
                (history.iter().zip(places))
                    .filter(|(m, _)| m.updates.is_none() && !m.deleted)
                    .map(move |(message, place)| (*place, at, Arc::clone(message)))
            })
            .collect();
        drop((rooms, places));
        kept.sort_unstable_by_key(|(place, ..)| std::cmp::Reverse(*place));
        if !query.has_indexed_term() {
            kept.truncate(SHORT_SCAN);
        }
        let holds_every_term = |message: &Message| {
            let text = message.text.to_lowercase();
            terms.iter().all(|term| text.contains(term.as_str()))
        };
        Ok(kept
            .into_iter()
            .filter(|(place, ..)| query.after.is_none_or(|after| SearchPlace(*place) < after))
            .filter(|(_, _, message)| holds_every_term(message))
            .take(query.limit)
            .map(|(place, at, message)| Found {
                room: query.rooms[at].clone(),
                message,
                place: SearchPlace(place),
            })
            .collect())
    }

    async fn read_after(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let rooms = self.rooms();
        let Some(history) = rooms.get(room) else {
            return Ok(Vec::new());
        };
        let start = position(history, after.saturating_add(1));
        Ok(history
            .range(start..)
            .filter(|entry| entry.updates.is_none())
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn load_accounts(&self) -> Result<AccountsSnapshot, StoreError> {
        let stored = lock(&self.accounts);
        Ok(AccountsSnapshot {
            accounts: stored.accounts.values().cloned().collect(),
            sessions: stored.sessions.values().cloned().collect(),
            memberships: stored.memberships.iter().cloned().collect(),
            read_markers: stored.read_markers.values().cloned().collect(),
            notify_levels: (stored.notify_levels.iter())
                .map(|((account, room), level)| (account.clone(), room.clone(), *level))
                .collect(),
        })
    }

    async fn change_accounts(&self, change: AccountChange) -> Result<(), StoreError> {
        let stored = &mut *lock(&self.accounts);
        match change {
            AccountChange::CreateAccount(account) => {
                if stored.accounts.contains_key(&account.name) {
                    return Err(StoreError::AccountExists(account.name));
                }
                stored.accounts.insert(account.name.clone(), account);
            }
            AccountChange::SetPassword {
                account,
                password_hash,
            } => {
                if let Some(account) = stored.accounts.get_mut(&account) {
                    account.password_hash = password_hash;
                }
            }
            AccountChange::SetLocked { account, locked } => {
                if let Some(account) = stored.accounts.get_mut(&account) {
                    account.locked = locked;
                }
            }
            AccountChange::DeleteAccount(name) => {
                stored.accounts.remove(&name);
                stored.sessions.retain(|_, session| session.account != name);
                stored.memberships.retain(|(account, _)| *account != name);
                stored
                    .read_markers
                    .retain(|(account, _), _| *account != name);
                stored
                    .notify_levels
                    .retain(|(account, _), _| *account != name);
            }
            AccountChange::SaveSession(session) => {
                stored.must_have(&session.account)?;
                // A session saved again records its use only.
                stored
                    .sessions
                    .entry(session.token_hash.clone())
                    .and_modify(|kept| kept.last_used_at = session.last_used_at)
                    .or_insert(session);
            }
            AccountChange::TouchSessions(uses) => {
                for (token_hash, used_at) in uses {
                    if let Some(session) = stored.sessions.get_mut(&token_hash) {
                        session.last_used_at = used_at;
                    }
                }
            }
            AccountChange::DeleteSessions(token_hashes) => {
                for token_hash in token_hashes {
                    stored.sessions.remove(&token_hash);
                }
            }
            AccountChange::Join { account, room } => {
                stored.must_have(&account)?;
                stored.memberships.insert((account, room));
            }
            AccountChange::Leave { account, room } => {
                let key = (account, room);
                stored.read_markers.remove(&key);
                stored.notify_levels.remove(&key);
                stored.memberships.remove(&key);
            }
            AccountChange::MarkRead(marker) => {
                stored.must_have(&marker.account)?;
                let key = (marker.account.clone(), marker.room.clone());
                match stored.read_markers.get(&key) {
                    Some(kept) if kept.seq >= marker.seq => {}
                    _ => drop(stored.read_markers.insert(key, marker)),
                }
            }
            AccountChange::SetNotify {
                account,
                room,
                level,
            } => {
                stored.must_have(&account)?;
                stored.notify_levels.insert((account, room), level);
            }
        }
        Ok(())
    }
}

/// Where sequence number `seq` sits, or would sit, in `history`: the index
/// of the first kept message numbered `seq` or more.
fn position(history: &VecDeque<Arc<Message>>, seq: u64) -> usize {
    // Sequence numbers are contiguous within what is kept.
    let oldest = history.front().map_or(0, |m| m.seq);
    usize::try_from(seq.saturating_sub(oldest))
        .unwrap_or(usize::MAX)
        .min(history.len())
}

/// What finds `message` again when its send is retried (update entries
/// are not sends).
fn sent_key(room: &str, message: &Message) -> Option<SentKey> {
    if message.updates.is_some() {
        return None;
    }
    Some(SentKey {
        room: room.to_owned(),
        sender: message.sender.clone(),
        client_id: message.client_id.clone()?,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Single inserts and removes: never left half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
