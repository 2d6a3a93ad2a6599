//! History in an SQLite database (bundled with the binary: nothing to
//! install), durable across restarts and crashes.
//!
//! One writer thread owns the writing connection; each [`append`] from the
//! engine's committer is one transaction, so a whole batch of messages costs
//! one disk sync. Reads go to a fixed pool of reader threads, each with a
//! read-only connection of its own, through one queue; WAL mode lets them
//! read while the writer writes.
//!
//! Schema versions (in `PRAGMA user_version`):
//! - 1: `messages` only;
//! - 2: adds `messages.client_id` and the `rooms` table, which keeps each
//!   room's last sequence number (so numbering never goes back, even when
//!   retention has removed every message of a room) and which rooms to
//!   reopen at start;
//! - 3: adds `messages.origin` (the protocol a message came through), a
//!   unique index on room, sender and client id (a retried send finds its
//!   first try after a restart) and `rooms.created_by`;
//! - 4: adds `accounts`, `sessions` (token hashes only) and `memberships`
//!   (the rooms each account is in);
//! - 5: renames `rooms.created_by` to `owner` (only an account owns a
//!   room: rooms guests made are left without one), adds `rooms.private`,
//!   `direct` and `topic`, and `room_grants` (moderators, mutes, bans,
//!   invitations and a direct conversation's two accounts);
//! - 6: adds `messages.reply_to`, the earlier message a reply answers;
//! - 7: adds `messages.edited_at_ms`, `deleted`, `deleted_by`, `reactions`
//!   (what became of a message) and `target`: a row with one is a change
//!   to that message, under a number of its own;
//! - 8: adds `read_markers` (where each account has read each room to),
//!   `notify_levels` (what each room tells an account about),
//!   `messages.mentions` and `mentions_room` (whom a message mentions),
//!   and `messages.ordinal` with `rooms.messages` (how many messages the
//!   room's order holds up to each entry, so unread counts need no
//!   counting);
//! - 9: adds `messages_fts`, the messages' text indexed by trigrams for
//!   search, kept up by triggers;
//! - 10: adds `files`, `file_contents` (bytes kept as files of the data
//!   folder's `files/`, named by their hash) and `messages.attachments`;
//! - 11: indexes messages for search in batches after they are stored;
//! - 12: adds `secrets` (the key that signs links to files).
//!
//! A deleted message's text is overwritten in its row, and with
//! `secure_delete` the old bytes are zeroed in the file; the WAL, which
//! still holds the page as it was, is checkpointed and truncated after each
//! batch that deletes, so the text is in no file of the data folder.
//!
//! Foreign keys are enforced (as PostgreSQL does), so an account's
//! sessions and memberships go with it; the rows that deleting accounts
//! left behind before they were are removed at open.
//!
//! The statements it shares with PostgreSQL are in [`super::sql`].
//!
//! [`append`]: HistoryStore::append

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params, params_from_iter};
use tokio::sync::oneshot;

use super::sql::{self, Columns, Counters, Statement, Value, to_sql};
use super::{
    Account, AccountChange, AccountStore, AccountsSnapshot, Entry, FileInfo, Found, HistoryStore,
    RoomUpdate, SavedRoom, SearchQuery, SentKey, StoreError, StoredSession, new_secret,
};
use crate::{ChangeKind, Message};

/// The schema this code writes.
const SCHEMA_VERSION: i64 = 12;
/// Read connections, and so reads at once.
const READERS: usize = 4;
/// Messages are indexed for search once this many wait, or once the last
/// batch is this old (a search reads the ones waiting without the index).
const INDEX_BATCH: i64 = 1_000;
const INDEX_EVERY: Duration = Duration::from_secs(1);
/// How often messages older than the age limit are removed.
const AGE_PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Limits on what the database keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The newest this many messages of each room are kept.
    pub retain_messages: u64,
    /// Messages older than this are removed (`None`: kept however old).
    pub retain_age: Option<Duration>,
    /// The database may grow to about this size; past it, sends fail until
    /// retention makes room (`None`: no limit but the disk's).
    pub max_bytes: Option<u64>,
}

/// History in `DIR/chat.db`.
pub struct SqliteStore {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    /// Reads, for the reader threads.
    reads: mpsc::Sender<ReadJob>,
    /// Each room's last sequence number and count of messages, as stored.
    counters: Mutex<HashMap<String, Counters>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

enum Job {
    Append(
        Vec<(String, Entry)>,
        oneshot::Sender<Result<Vec<Arc<Message>>, StoreError>>,
    ),
    Rooms(Vec<RoomUpdate>, oneshot::Sender<Result<(), StoreError>>),
    /// Statements to run in one transaction.
    Run(Vec<Statement>, oneshot::Sender<Result<(), StoreError>>),
    /// Removes unused files, and the unused bytes from the folder given;
    /// hands back how many files went.
    RemoveUnusedFiles(i64, PathBuf, oneshot::Sender<Result<usize, StoreError>>),
    Accounts(AccountChange, oneshot::Sender<Result<(), StoreError>>),
}

impl SqliteStore {
    /// Where the files' bytes are kept: beside the database.
    fn files_dir(&self) -> PathBuf {
        self.path.with_file_name("files")
    }

    /// Opens (creating if need be) the database in `dir`, bringing an older
    /// schema up to date. Fails with a message a person can act on if the
    /// directory cannot be used, the database is corrupt, or its schema is
    /// newer than this code.
    pub fn open(dir: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = dir.join("chat.db");
        make_private(dir, &path).map_err(|error| {
            StoreError::Unavailable(format!(
                "cannot use the data directory {}: {error}",
                dir.display()
            ))
        })?;
        let fail = |what: &str, error: rusqlite::Error| {
            StoreError::Unavailable(format!("{what} {}: {}", path.display(), describe(&error)))
        };
        let mut writer =
            Connection::open(&path).map_err(|e| fail("cannot open the database", e))?;
        prepare_writer(&writer, &options).map_err(|e| fail("cannot use the database", e))?;
        migrate(&mut writer, &path)?;
        if let Some(age) = options.retain_age {
            prune_by_age(&writer, age).map_err(|e| fail("cannot trim the database", e))?;
        }
        let counters = load_counters(&writer).map_err(|e| fail("cannot read the database", e))?;
        let readers = (0..READERS)
            .map(|_| open_reader(&path))
            .collect::<Result<Vec<_>, rusqlite::Error>>()
            .map_err(|e| fail("cannot open the database for reading", e))?;
        let reads = start_readers(readers).map_err(|e| {
            StoreError::Unavailable(format!("cannot start the database readers: {e}"))
        })?;
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("chat-store-writer".into())
            .spawn(move || write_jobs(writer, queue, options))
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the database writer: {e}"))
            })?;
        Ok(SqliteStore {
            path,
            writer: jobs,
            reads,
            counters: Mutex::new(counters),
        })
    }

    async fn job<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (done, outcome) = oneshot::channel();
        self.writer
            .send(make(done))
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        outcome.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the database writer has stopped".into(),
            ))
        })
    }

    /// Runs `read` on one of the reader threads, once one is free. A
    /// caller that stops waiting holds nothing: the read still runs and its
    /// result is dropped. (Waiting on a semaphore instead would let a
    /// stream that its connection has stopped polling keep a permit
    /// forever, and starve every other read.)
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, outcome) = oneshot::channel();
        let job: ReadJob = Box::new(move |db| {
            let _ = done.send(read(db));
        });
        self.reads
            .send(job)
            .map_err(|_| StoreError::Unavailable("the database readers have stopped".into()))?;
        outcome
            .await
            .map_err(|_| StoreError::Unavailable("a database read failed".into()))?
            .map_err(|e| StoreError::Unavailable(format!("cannot read history: {}", describe(&e))))
    }
}

/// A read for a reader thread to run on its connection.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Starts a reader thread for each connection, taking jobs from one queue.
fn start_readers(readers: Vec<Connection>) -> std::io::Result<mpsc::Sender<ReadJob>> {
    let (jobs, queue) = mpsc::channel::<ReadJob>();
    let queue = Arc::new(Mutex::new(queue));
    for (n, db) in readers.into_iter().enumerate() {
        let queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name(format!("chat-store-read-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held only to take a job.
                    let job = lock(&queue).recv();
                    match job {
                        Ok(job) => job(&db),
                        Err(_) => return,
                    }
                }
            })?;
    }
    Ok(jobs)
}

#[async_trait]
impl HistoryStore for SqliteStore {
    async fn append(&self, batch: &[(&str, Entry)]) -> Result<Vec<Arc<Message>>, StoreError> {
        let owned: Vec<(String, Entry)> = batch
            .iter()
            .map(|(room, entry)| ((*room).to_owned(), entry.clone()))
            .collect();
        let stored = self.job(|done| Job::Append(owned, done)).await?;
        let mut counters = lock(&self.counters);
        for ((room, _), entry) in batch.iter().zip(&stored) {
            let counter = counters.entry((*room).to_owned()).or_default();
            counter.last_seq = entry.seq;
            counter.messages = counter.messages.max(entry.ordinal);
        }
        Ok(stored)
    }

    fn last_seq(&self, room: &str) -> u64 {
        lock(&self.counters).get(room).map_or(0, |c| c.last_seq)
    }

    fn message_count(&self, room: &str) -> u64 {
        lock(&self.counters).get(room).map_or(0, |c| c.messages)
    }

    async fn read_from(
        &self,
        room: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let room = room.to_owned();
        let query = sql::select_entries("c.seq >= $2 ORDER BY c.seq");
        self.read(move |db| select(db, &query, &room, from, limit))
            .await
    }

    async fn read_before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let room = room.to_owned();
        let query = sql::select_messages("seq < $2 ORDER BY seq DESC");
        let mut newest_first = self
            .read(move |db| select(db, &query, &room, before, limit))
            .await?;
        newest_first.reverse();
        Ok(newest_first)
    }

    async fn read_mentioning(
        &self,
        room: &str,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let room = room.to_owned();
        let query = sql::select_messages(sql::MENTIONING);
        let mut newest_first = self
            .read(move |db| select(db, &query, &room, i64::MAX as u64, limit))
            .await?;
        newest_first.reverse();
        Ok(newest_first)
    }

    async fn read_after(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let room = room.to_owned();
        let query = sql::select_messages("seq > $2 ORDER BY seq");
        self.read(move |db| select(db, &query, &room, after, limit))
            .await
    }

    async fn find_sent(&self, keys: Vec<SentKey>) -> Result<Vec<Option<Arc<Message>>>, StoreError> {
        self.read(move |db| {
            let mut query = db.prepare_cached(&sqlite(&sql::find_sent()))?;
            keys.iter()
                .map(|key| {
                    query
                        .query_row(params![key.room, key.sender, key.client_id], |row| {
                            sql::message(row)
                        })
                        .optional()
                })
                .collect()
        })
        .await
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Found>, StoreError> {
        let scan = sql::scan_for(query, |room| self.message_count(room));
        // The messages not indexed yet (the newest) are read first, then
        // the index's.
        let plans = match scan {
            sql::Scan::Index => vec![sql::Scan::Unindexed, sql::Scan::Index],
            scan => vec![scan],
        };
        let statements: Vec<(String, Vec<Value>)> = (plans.into_iter())
            .map(|scan| sql::search(query, sql::Dialect::Sqlite, scan))
            .collect();
        let limit = query.limit;
        self.read(move |db| {
            // One snapshot for both reads: an index batch committed between
            // them would move a message from the first's reach to the
            // second's, and it would be found twice.
            let snapshot = db.unchecked_transaction()?;
            let mut found: Vec<Found> = Vec::new();
            for (statement, values) in statements {
                let mut select = db.prepare_cached(&sqlite(&statement))?;
                let rows = select.query_map(params_from_iter(values), |row| sql::found(row))?;
                for row in rows {
                    if found.len() < limit {
                        found.push(row?);
                    }
                }
            }
            snapshot.finish()?;
            Ok(found)
        })
        .await
    }

    async fn put_file(
        &self,
        file: &FileInfo,
        content: Bytes,
        thumbnail: Option<Bytes>,
    ) -> Result<(), StoreError> {
        let dir = self.files_dir();
        let mut kept = vec![(file.content_hash.clone(), content)];
        kept.extend((file.thumbnail_hash.clone()).zip(thumbnail));
        // The hashes are claimed first, by the writer, which also removes
        // unused bytes: from then on no removal takes them, so bytes found
        // already written here stay.
        let claims = (kept.iter())
            .map(|(hash, _)| Statement {
                sql: sql::KEEP_CONTENT_HASH,
                values: vec![Value::Text(hash.clone()), Value::Int(file.uploaded_at_ms)],
            })
            .collect();
        self.job(|done| Job::Run(claims, done)).await?;
        tokio::task::spawn_blocking(move || {
            kept.iter()
                .try_for_each(|(hash, bytes)| write_file(&dir, hash, bytes))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot store the file: {e}")))?
        .map_err(|e| StoreError::Unavailable(format!("cannot store the file: {e}")))?;
        let insert = vec![Statement {
            sql: sql::INSERT_FILE,
            values: sql::file_values(file),
        }];
        self.job(|done| Job::Run(insert, done)).await
    }

    async fn file(&self, id: &str) -> Result<Option<FileInfo>, StoreError> {
        let id = id.to_owned();
        self.read(move |db| {
            db.prepare_cached(&sqlite(&sql::select_file()))?
                .query_row([id], |row| sql::file_info(row))
                .optional()
        })
        .await
    }

    async fn file_bytes(
        &self,
        hash: &str,
        from: u64,
        len: usize,
    ) -> Result<Option<Bytes>, StoreError> {
        // The name is a hash this store made, never a path from outside.
        if !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let path = self.files_dir().join(hash);
        let read = tokio::task::spawn_blocking(move || read_part(&path, from, len)).await;
        match read.map_err(|e| StoreError::Unavailable(format!("cannot read the file: {e}")))? {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::Unavailable(format!(
                "cannot read the file: {error}"
            ))),
        }
    }

    async fn files_size(&self, owner: &str) -> Result<u64, StoreError> {
        let owner = owner.to_owned();
        let size: i64 = self
            .read(move |db| {
                db.prepare_cached(&sqlite(sql::FILES_SIZE))?
                    .query_row([owner], |row| row.get(0))
            })
            .await?;
        Ok(sql::from_sql(size))
    }

    async fn remove_unused_files(&self, uploaded_before_ms: i64) -> Result<usize, StoreError> {
        let dir = self.files_dir();
        self.job(|done| Job::RemoveUnusedFiles(uploaded_before_ms, dir, done))
            .await
    }

    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let keep = vec![Statement {
            sql: sql::KEEP_SECRET,
            values: vec![
                Value::Text(name.to_owned()),
                Value::Text(hex::encode(new_secret())),
            ],
        }];
        self.job(|done| Job::Run(keep, done)).await?;
        let name = name.to_owned();
        let text: String = self
            .read(move |db| {
                db.prepare_cached(&sqlite(sql::SELECT_SECRET))?
                    .query_row([name], |row| row.get(0))
            })
            .await?;
        hex::decode(text)
            .map_err(|e| StoreError::Unavailable(format!("a kept secret is not hex: {e}")))
    }

    async fn update_rooms(&self, updates: Vec<RoomUpdate>) -> Result<(), StoreError> {
        self.job(|done| Job::Rooms(updates, done)).await
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.read(|db| db.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    async fn saved_rooms(&self) -> Result<Vec<SavedRoom>, StoreError> {
        self.read(|db| load_saved_rooms(db, None)).await
    }

    async fn saved_room(&self, name: &str) -> Result<Option<SavedRoom>, StoreError> {
        let name = name.to_owned();
        let mut rooms = self
            .read(move |db| load_saved_rooms(db, Some(name)))
            .await?;
        Ok(rooms.pop())
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn load_accounts(&self) -> Result<AccountsSnapshot, StoreError> {
        self.read(load_accounts).await
    }

    async fn change_accounts(&self, change: AccountChange) -> Result<(), StoreError> {
        self.job(|done| Job::Accounts(change, done)).await
    }

    async fn load_account(
        &self,
        name: &str,
    ) -> Result<Option<(Account, Vec<StoredSession>)>, StoreError> {
        let name = name.to_owned();
        self.read(move |db| load_account(db, &name)).await
    }
}

fn prepare_writer(db: &Connection, options: &SqliteOptions) -> rusqlite::Result<()> {
    db.busy_timeout(Duration::from_secs(5))?;
    // The schema's `REFERENCES ... ON DELETE CASCADE`, as in PostgreSQL.
    db.pragma_update(None, "foreign_keys", true)?;
    // WAL: readers read while the writer writes. FULL: a commit is on disk
    // before it returns, so a send acknowledged is a send kept.
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "FULL")?;
    // Deleted text is zeroed in the file, not left in free space.
    db.pragma_update(None, "secure_delete", true)?;
    if let Some(max_bytes) = options.max_bytes {
        let page_size: i64 = db.pragma_query_value(None, "page_size", |row| row.get(0))?;
        db.pragma_update(
            None,
            "max_page_count",
            (max_bytes as i64 / page_size).max(1),
        )?;
    }
    // Fails early on a file that is not a database.
    db.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
}

/// Brings the schema up to [`SCHEMA_VERSION`], or refuses a newer one.
fn migrate(db: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let fail = |error: rusqlite::Error| {
        StoreError::Unavailable(format!(
            "cannot update the database {}: {}",
            path.display(),
            describe(&error)
        ))
    };
    let version: i64 = db
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(fail)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database {} has schema version {version}, newer than this chatd knows \
             (up to {SCHEMA_VERSION}); run a newer chatd, or point --data-dir elsewhere",
            path.display()
        )));
    }
    let tx = db.transaction().map_err(fail)?;
    if version == 0 {
        tx.execute_batch(SCHEMA_V1).map_err(fail)?;
    }
    let done = usize::try_from(version.max(1) - 1).unwrap_or(0);
    for (from, migration) in (1..).zip(MIGRATIONS).skip(done) {
        if version > 0 {
            tracing::info!(path = %path.display(), "migrating the database from schema {from} to {}", from + 1);
        }
        tx.execute_batch(migration).map_err(fail)?;
    }
    tx.execute_batch(ORPHANS).map_err(fail)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(fail)?;
    tx.commit().map_err(fail)
}

/// What brings each schema to the next, from schema 1 on.
const MIGRATIONS: [&str; 11] = [
    MIGRATE_V1_TO_V2,
    MIGRATE_V2_TO_V3,
    MIGRATE_V3_TO_V4,
    MIGRATE_V4_TO_V5,
    MIGRATE_V5_TO_V6,
    MIGRATE_V6_TO_V7,
    MIGRATE_V7_TO_V8,
    MIGRATE_V8_TO_V9,
    MIGRATE_V9_TO_V10,
    MIGRATE_V10_TO_V11,
    MIGRATE_V11_TO_V12,
];

/// Schema 12: secrets the store keeps (the key that signs links to files).
const MIGRATE_V11_TO_V12: &str =
    "CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);";

/// Schema 11: messages are indexed for search in batches, after they are
/// stored, not one by one as they are (a trigger's indexing of each
/// message cost five in six of the commit rate with many senders).
/// `search_progress` says how far the index goes; edits and deletions of
/// messages past it leave the index alone (the batch that indexes them
/// reads their state then).
const MIGRATE_V10_TO_V11: &str = "
    DROP TRIGGER messages_fts_insert;
    DROP TRIGGER messages_fts_update;
    DROP TRIGGER messages_fts_delete;
    CREATE TABLE search_progress (indexed INTEGER NOT NULL);
    INSERT INTO search_progress SELECT coalesce(max(rowid), 0) FROM messages;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, deleted ON messages
        WHEN new.target IS NULL AND old.rowid <= (SELECT indexed FROM search_progress)
    BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text)
            SELECT 'delete', old.rowid, old.text WHERE NOT old.deleted;
        INSERT INTO messages_fts (rowid, text)
            SELECT new.rowid, new.text WHERE NOT new.deleted;
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.target IS NULL AND NOT old.deleted
            AND old.rowid <= (SELECT indexed FROM search_progress)
    BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    END;";

/// Indexes the messages stored since the last batch, if there are
/// [`INDEX_BATCH`] of them or the last batch is [`INDEX_EVERY`] old.
fn index_for_search(db: &mut Connection, last: &mut Instant) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    let indexed: i64 = tx.query_row("SELECT indexed FROM search_progress", [], |r| r.get(0))?;
    let newest: i64 = tx.query_row("SELECT coalesce(max(rowid), 0) FROM messages", [], |r| {
        r.get(0)
    })?;
    if newest < indexed {
        // The newest messages went (their room was deleted): their row ids
        // may come again, and must not count as indexed.
        tx.execute("UPDATE search_progress SET indexed = ?1", [newest])?;
        return tx.commit();
    }
    if newest == indexed || (newest - indexed < INDEX_BATCH && last.elapsed() < INDEX_EVERY) {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO messages_fts (rowid, text) SELECT rowid, text FROM messages
         WHERE rowid > ?1 AND rowid <= ?2 AND target IS NULL AND NOT deleted",
        [indexed, newest],
    )?;
    tx.execute("UPDATE search_progress SET indexed = ?1", [newest])?;
    tx.commit()?;
    *last = Instant::now();
    Ok(())
}

/// Schema 10: files, and the messages that attach them (the bytes are
/// files of their own in the data directory, named by hash; a row of
/// `file_contents` for each).
const MIGRATE_V9_TO_V10: &str = "
    ALTER TABLE messages ADD COLUMN attachments TEXT;
    CREATE INDEX messages_attaching ON messages (room) WHERE attachments IS NOT NULL;
    CREATE TABLE files (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        mime_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        uploaded_at_ms INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        thumbnail_hash TEXT
    );
    CREATE INDEX files_by_owner ON files (owner);
    CREATE TABLE file_contents (hash TEXT PRIMARY KEY, kept_at_ms INTEGER NOT NULL);";

/// Schema 9: the messages' text indexed for search, by trigrams (so text
/// without spaces between words is found by any part of three characters
/// or more), kept up by triggers: a message's text in, an edit's new text
/// instead, a deleted or removed message's out. Changes are not indexed.
/// `secure-delete` removes a deleted text's trigrams from the index's own
/// pages too, not only marks them gone.
const MIGRATE_V8_TO_V9: &str = "
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content = 'messages', content_rowid = 'rowid', tokenize = 'trigram');
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);
    INSERT INTO messages_fts (rowid, text)
        SELECT rowid, text FROM messages WHERE target IS NULL AND NOT deleted;
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
        WHEN new.target IS NULL AND NOT new.deleted
    BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, deleted ON messages
        WHEN new.target IS NULL
    BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text)
            SELECT 'delete', old.rowid, old.text WHERE NOT old.deleted;
        INSERT INTO messages_fts (rowid, text)
            SELECT new.rowid, new.text WHERE NOT new.deleted;
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.target IS NULL AND NOT old.deleted
    BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    END;";

/// Schema 8: read markers and notification levels, per account and room;
/// whom each message mentions; and each entry's ordinal (the messages up
/// to it), counted for the history there is.
const MIGRATE_V7_TO_V8: &str = "
    ALTER TABLE messages ADD COLUMN mentions TEXT;
    ALTER TABLE messages ADD COLUMN mentions_room INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_mentioning ON messages (room, seq)
        WHERE mentions IS NOT NULL OR mentions_room;
    ALTER TABLE messages ADD COLUMN ordinal INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET ordinal = counted.ordinal FROM (
        SELECT room, seq,
               count(*) FILTER (WHERE target IS NULL) OVER (PARTITION BY room ORDER BY seq)
                   AS ordinal
        FROM messages) AS counted
    WHERE messages.room = counted.room AND messages.seq = counted.seq;
    UPDATE rooms SET messages = coalesce(
        (SELECT max(ordinal) FROM messages WHERE messages.room = rooms.name), 0);
    CREATE TABLE read_markers (
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ordinal INTEGER NOT NULL,
        PRIMARY KEY (account, room)
    );
    CREATE TABLE notify_levels (
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        room TEXT NOT NULL,
        level TEXT NOT NULL,
        PRIMARY KEY (account, room)
    );";

/// Schema 6: a reply names the earlier message it answers.
const MIGRATE_V5_TO_V6: &str = "ALTER TABLE messages ADD COLUMN reply_to INTEGER;";

/// Schema 7: edits, deletions and reactions, each a change row of its own.
const MIGRATE_V6_TO_V7: &str = "
    ALTER TABLE messages ADD COLUMN edited_at_ms INTEGER;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN deleted_by TEXT;
    ALTER TABLE messages ADD COLUMN reactions TEXT;
    ALTER TABLE messages ADD COLUMN target INTEGER;";

/// Schema 1, the first: history only.
pub const SCHEMA_V1: &str = "
    CREATE TABLE messages (
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        sender TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (room, seq)
    );";

const MIGRATE_V1_TO_V2: &str = "
    ALTER TABLE messages ADD COLUMN client_id TEXT;
    CREATE INDEX messages_by_age ON messages (sent_at_ms);
    CREATE TABLE rooms (
        name TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL DEFAULT 0,
        saved INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO rooms (name, last_seq) SELECT room, max(seq) FROM messages GROUP BY room;";

/// Schema 3: origins, client ids unique per room and sender (of any that
/// an earlier chatd stored twice, the first keeps its id), room creators.
const MIGRATE_V2_TO_V3: &str = "
    ALTER TABLE messages ADD COLUMN origin INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET client_id = NULL
        WHERE client_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM messages AS first
            WHERE first.room = messages.room AND first.sender = messages.sender
              AND first.client_id = messages.client_id AND first.seq < messages.seq);
    CREATE UNIQUE INDEX messages_by_client_id ON messages (room, sender, client_id)
        WHERE client_id IS NOT NULL;
    ALTER TABLE rooms ADD COLUMN created_by TEXT;";

/// Schema 4: accounts, their sessions (by token hash) and the rooms they
/// are in.
const MIGRATE_V3_TO_V4: &str = "
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        locked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_account ON sessions (account);
    CREATE TABLE memberships (
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        room TEXT NOT NULL,
        PRIMARY KEY (account, room)
    );";

/// Schema 5: owners, private and direct rooms, topics, and what rooms
/// grant whom. Only accounts own rooms: one a guest made has no owner.
const MIGRATE_V4_TO_V5: &str = "
    ALTER TABLE rooms RENAME COLUMN created_by TO owner;
    UPDATE rooms SET owner = NULL
        WHERE owner IS NOT NULL AND owner NOT IN (SELECT name FROM accounts);
    ALTER TABLE rooms ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN direct INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';
    CREATE TABLE room_grants (
        room TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (room, kind, name)
    );";

/// What deleting accounts left behind before foreign keys were enforced.
const ORPHANS: &str = "
    DELETE FROM sessions WHERE account NOT IN (SELECT name FROM accounts);
    DELETE FROM memberships WHERE account NOT IN (SELECT name FROM accounts);";

fn load_counters(db: &Connection) -> rusqlite::Result<HashMap<String, Counters>> {
    db.prepare(sql::SELECT_ROOM_COUNTERS)?
        .query_map([], |row| sql::room_counter(row))?
        .collect()
}

/// The saved rooms with their grants, or only the one called `only`.
fn load_saved_rooms(db: &Connection, only: Option<String>) -> rusqlite::Result<Vec<SavedRoom>> {
    let rooms = db
        .prepare(&sqlite(sql::SELECT_SAVED_ROOMS))?
        .query_map([&only], |row| sql::saved_room(row))?
        .collect::<rusqlite::Result<_>>()?;
    let grants = db
        .prepare(&sqlite(sql::SELECT_GRANTS))?
        .query_map([&only], |row| sql::grant(row))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(sql::with_grants(rooms, grants))
}

/// Runs `plan` in one transaction.
fn run(db: &mut Connection, plan: Vec<Statement>) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    for step in plan {
        tx.prepare_cached(&sqlite(step.sql))?
            .execute(params_from_iter(step.values))?;
    }
    tx.commit()
}

/// The writer thread: runs jobs until the store is dropped.
fn write_jobs(mut db: Connection, queue: mpsc::Receiver<Job>, options: SqliteOptions) {
    let mut pruned_by_age = Instant::now();
    let mut indexed = Instant::now();
    for job in queue {
        match job {
            Job::Append(batch, done) => {
                let result = append(&mut db, &batch, options.retain_messages);
                let _ = done.send(result.map_err(|e| unavailable("cannot store messages", &e)));
            }
            Job::Accounts(change, done) => {
                let _ = done.send(change_accounts(&mut db, change));
            }
            Job::Rooms(updates, done) => {
                let plan = updates.into_iter().flat_map(sql::room_update).collect();
                let result = run(&mut db, plan);
                let _ = done.send(result.map_err(|e| unavailable("cannot save the room", &e)));
            }
            Job::Run(plan, done) => {
                let result = run(&mut db, plan);
                let _ = done.send(result.map_err(|e| unavailable("cannot store it", &e)));
            }
            Job::RemoveUnusedFiles(before, dir, done) => {
                let result = remove_unused_files(&mut db, before, &dir);
                let _ = done.send(result.map_err(|e| unavailable("cannot remove files", &e)));
            }
        }
        if let Err(error) = index_for_search(&mut db, &mut indexed) {
            tracing::warn!(error = %describe(&error), "indexing messages for search failed");
        }
        if let Some(age) = options.retain_age
            && pruned_by_age.elapsed() >= AGE_PRUNE_EVERY
        {
            pruned_by_age = Instant::now();
            if let Err(error) = prune_by_age(&db, age) {
                tracing::warn!(error = %describe(&error), "removing old messages failed");
            }
        }
    }
}

/// Removes the files no message attaches (uploaded before `before`), and
/// the bytes no file uses (their rows, then their files in `dir`): here,
/// on the writer, so no claim of those bytes comes in between.
/// Up to `len` bytes of the file at `path`, from byte `from` on.
fn read_part(path: &Path, from: u64, len: usize) -> std::io::Result<Bytes> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::with_capacity(len.min(1 << 20));
    file.take(u64::try_from(len).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)?;
    Ok(Bytes::from(bytes))
}

fn remove_unused_files(db: &mut Connection, before: i64, dir: &Path) -> rusqlite::Result<usize> {
    let tx = db.transaction()?;
    let removed = tx
        .prepare_cached(&sqlite(sql::remove_unused_files(sql::Dialect::Sqlite)))?
        .execute([before])?;
    let unused: Vec<String> = rows(&tx, sql::REMOVE_UNUSED_BYTES, [before], |row| row.get(0))?;
    tx.commit()?;
    for hash in unused {
        if let Err(error) = std::fs::remove_file(dir.join(&hash))
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%hash, %error, "cannot remove an unused file's bytes");
        }
    }
    Ok(removed)
}

fn change_accounts(db: &mut Connection, change: AccountChange) -> Result<(), StoreError> {
    let account = sql::account_of(&change).to_owned();
    run(db, sql::account_change(change)).map_err(|error| match error.sqlite_extended_error_code() {
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => StoreError::NoSuchAccount(account),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => StoreError::AccountExists(account),
        _ => unavailable("cannot store the change", &error),
    })
}

fn load_accounts(db: &Connection) -> rusqlite::Result<AccountsSnapshot> {
    Ok(AccountsSnapshot {
        accounts: rows(db, sql::SELECT_ACCOUNTS, [], |row| sql::account(row))?,
        sessions: rows(db, sql::SELECT_SESSIONS, [], |row| sql::session(row))?,
        memberships: rows(db, sql::SELECT_MEMBERSHIPS, [], |row| sql::membership(row))?,
        read_markers: rows(db, sql::SELECT_READ_MARKERS, [], |row| {
            sql::read_marker(row)
        })?,
        notify_levels: rows(db, sql::SELECT_NOTIFY_LEVELS, [], |row| {
            sql::notify_level(row)
        })?,
    })
}

fn load_account(
    db: &Connection,
    name: &str,
) -> rusqlite::Result<Option<(Account, Vec<StoredSession>)>> {
    let Some(account) = rows(db, sql::SELECT_ACCOUNT, [name], |row| sql::account(row))?.pop()
    else {
        return Ok(None);
    };
    let sessions = rows(db, sql::SELECT_ACCOUNT_SESSIONS, [name], |row| {
        sql::session(row)
    })?;
    Ok(Some((account, sessions)))
}

/// Every row `query` gives, each read with `read`.
fn rows<T>(
    db: &Connection,
    query: &str,
    values: impl rusqlite::Params,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    db.prepare_cached(&sqlite(query))?
        .query_map(values, |row| read(row))?
        .collect()
}

/// Stores a batch in one transaction, keeping each room's newest
/// `retain` entries. Returns the entries as stored. After a deletion, the
/// WAL is emptied into the database (see the module's notes).
fn append(
    db: &mut Connection,
    batch: &[(String, Entry)],
    retain: u64,
) -> rusqlite::Result<Vec<Arc<Message>>> {
    let tx = db.transaction()?;
    let mut newest: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut stored = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO messages (room, seq, sent_at_ms, sender, text, client_id, origin,
                                   reply_to, mentions, mentions_room, ordinal, attachments)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for (room, entry) in batch {
            match entry {
                Entry::Message(message) => {
                    insert.execute(params![
                        room,
                        to_sql(message.seq),
                        message.sent_at_ms,
                        message.sender,
                        message.text,
                        message.client_id,
                        message.origin.code(),
                        message.reply_to.map(to_sql),
                        sql::encode_mentions(&message.mentions),
                        message.mentions.room,
                        to_sql(message.ordinal),
                        sql::encode_attachments(&message.attachments),
                    ])?;
                    stored.push(Arc::clone(message));
                }
                Entry::Change {
                    seq,
                    ordinal,
                    change,
                } => {
                    let target = tx
                        .prepare_cached(&sqlite(&sql::select_message()))?
                        .query_row(params![room, to_sql(change.target)], |row| {
                            sql::message(row)
                        })
                        .optional()?;
                    let changed = target.map(|target| target.changed(change));
                    let place = (*seq, *ordinal);
                    for step in sql::save_change(room, place, change, changed.as_ref()) {
                        tx.prepare_cached(&sqlite(step.sql))?
                            .execute(params_from_iter(step.values))?;
                    }
                    stored.push(Arc::new(match changed {
                        Some(changed) => changed.as_update(*seq, *ordinal),
                        None => Message::update_of_gone(change.target, *seq, *ordinal),
                    }));
                }
            }
            newest.insert(room, (entry.seq(), stored.last().map_or(0, |e| e.ordinal)));
        }
        let mut record = tx.prepare_cached(
            "INSERT INTO rooms (name, last_seq, messages) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq,
                 messages = excluded.messages",
        )?;
        let mut trim = tx.prepare_cached(&sqlite(sql::TRIM_ROOM))?;
        for (room, (last_seq, messages)) in newest {
            record.execute(params![room, to_sql(last_seq), to_sql(messages)])?;
            if last_seq > retain {
                trim.execute(params![room, to_sql(last_seq - retain)])?;
            }
        }
    }
    tx.commit()?;
    if batch.iter().any(|(_, entry)| deletes(entry)) {
        checkpoint(db);
    }
    Ok(stored)
}

fn deletes(entry: &Entry) -> bool {
    matches!(entry, Entry::Change { change, .. } if change.kind == ChangeKind::Delete)
}

/// Moves what the WAL holds into the database and empties the WAL file.
/// Best effort: a reader in the middle of a read keeps it from finishing,
/// and the next deletion, or closing the database, tries again.
fn checkpoint(db: &Connection) {
    let done = db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
        row.get::<_, i64>(0)
    });
    match done {
        Ok(0) => {}
        Ok(_) => tracing::debug!("the WAL checkpoint waits for readers"),
        Err(error) => tracing::warn!(error = %describe(&error), "the WAL checkpoint failed"),
    }
}

fn prune_by_age(db: &Connection, age: Duration) -> rusqlite::Result<usize> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let cutoff = i64::try_from(now_ms.saturating_sub(age.as_millis())).unwrap_or(i64::MAX);
    db.execute(
        "DELETE FROM messages WHERE sent_at_ms < ?1",
        params![cutoff],
    )
}

/// Up to `limit` rows of `room` that `query` selects (`$2` is a sequence
/// number), in the order it gives.
fn select(
    db: &Connection,
    query: &str,
    room: &str,
    seq: u64,
    limit: usize,
) -> rusqlite::Result<Vec<Arc<Message>>> {
    let mut query = db.prepare_cached(&sqlite(query))?;
    let rows = query.query_map(params![room, to_sql(seq), to_sql(limit as u64)], |row| {
        sql::message(row)
    })?;
    rows.collect()
}

/// Makes `dir` (created if need be) its owner's alone, mode 0700, and
/// every file in it 0600, whatever the umask: they hold direct messages
/// and password hashes. A looser mode found is tightened, and logged. The
/// database `db` is created empty at 0600 if missing; SQLite gives its
/// `-wal` and `-shm` files the database's mode.
/// Writes `bytes` as file `hash` of `dir` (0600, in a 0700 directory),
/// unless it is there: written whole under another name, then renamed, so
/// a file of that name is always whole.
fn write_file(dir: &Path, hash: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = dir.join(hash);
    if path.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let partial = dir.join(format!("{hash}.partial"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&partial)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    std::fs::rename(partial, path)
}

fn make_private(dir: &Path, db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    tighten(dir, 0o700)?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(db)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            tighten(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

/// Sets `path`'s mode to `mode` if others may read or write it.
fn tighten(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let was = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if was & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        tracing::warn!(
            path = %path.display(),
            "others could read this; its mode was {was:o}, now {mode:o}"
        );
    }
    Ok(())
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let reader = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    reader.busy_timeout(Duration::from_secs(5))?;
    Ok(reader)
}

/// A shared statement with SQLite's numbered parameters (`?n`): SQLite
/// reads `$n` as a name, numbered by first appearance, not by `n`.
fn sqlite(statement: &str) -> String {
    statement.replace('$', "?")
}

fn unavailable(what: &str, error: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("{what}: {}", describe(error)))
}

/// An SQLite error in words a person can act on.
fn describe(error: &rusqlite::Error) -> String {
    match error.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => "the disk (or the database's size limit) is full".into(),
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
            format!("the file is not a usable database ({error}); move it aside to start afresh")
        }
        Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::PermissionDenied)
        | Some(ErrorCode::CannotOpen) => {
            format!("{error}; check the data directory's permissions")
        }
        _ => error.to_string(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is a single insert or swap: never left half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn int(&self, at: usize) -> rusqlite::Result<i64> {
        self.get(at)
    }

    fn text(&self, at: usize) -> rusqlite::Result<String> {
        self.get(at)
    }

    fn maybe_text(&self, at: usize) -> rusqlite::Result<Option<String>> {
        self.get(at)
    }

    fn maybe_int(&self, at: usize) -> rusqlite::Result<Option<i64>> {
        self.get(at)
    }

    fn flag(&self, at: usize) -> rusqlite::Result<bool> {
        self.get(at)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Value::Text(text) => text.to_sql(),
            Value::MaybeText(text) => text.to_sql(),
            Value::Int(n) => n.to_sql(),
            Value::MaybeInt(n) => n.to_sql(),
            Value::Flag(flag) => flag.to_sql(),
        }
    }
}
