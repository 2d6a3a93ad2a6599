//! History and accounts in PostgreSQL, for nodes that share one database.
//!
//! A pool of connections (`deadpool-postgres`) serves every call; each
//! [`append`] from the engine's committer is one transaction, so a batch
//! of messages costs one commit. The schema is versioned in
//! `chatd_schema`; [`PostgresStore::connect`] brings it up to date under an
//! advisory lock, so nodes starting together migrate it once.
//!
//! A room's messages are keyed by `(room, seq)`, and `rooms.last_seq` is
//! its counter: the committing transaction locks it, numbers the batch's
//! messages of the room after it (moving them up if other nodes stored
//! messages since this one last looked), and moves it on. So nodes
//! sharing the database give one total order per room, with no number
//! given twice and none skipped.
//!
//! A change to a message (an edit, a deletion, a reaction) is applied to
//! its row inside the same transaction, on the state stored (the room's
//! counter lock makes the transactions of one room take turns), so changes
//! made on two nodes at once both count. A deleted message's row is
//! updated in place; the old row version stays in the table's free space
//! (and in the server's WAL) until PostgreSQL reuses it: vacuuming the
//! table, and the server's own WAL recycling, are the operator's (see
//! docs/OPERATING.md).
//!
//! The statements it shares with SQLite are in [`super::sql`].
//!
//! [`append`]: HistoryStore::append

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{NoTls, Row};

use super::sql::{self, Columns, Counters, Statement, Value, from_sql, to_sql};
use super::{
    Account, AccountChange, AccountStore, AccountsSnapshot, Entry, FileInfo, Found, HistoryStore,
    RoomUpdate, SavedRoom, SearchQuery, SentKey, StoreError, StoredSession, new_secret,
};
use crate::{Change, Message};

/// Connections in the pool, and so calls at once.
const POOL_SIZE: usize = 16;
/// How long a call waits for a connection before it fails.
const CONNECTION_WAIT: Duration = Duration::from_secs(5);
/// Taken (for the transaction) by a node migrating the schema.
const MIGRATION_LOCK: i64 = 0x6368_6174_6400;

/// Each schema version's changes, in order: version N is the first N.
const MIGRATIONS: &[&str] = &[
    // 1: rooms (with their last sequence number, kept so numbering never
    // goes back), messages, grants, accounts, sessions, memberships.
    "CREATE TABLE rooms (
        name TEXT PRIMARY KEY,
        last_seq BIGINT NOT NULL DEFAULT 0,
        saved BOOLEAN NOT NULL DEFAULT FALSE,
        owner TEXT,
        private BOOLEAN NOT NULL DEFAULT FALSE,
        direct BOOLEAN NOT NULL DEFAULT FALSE,
        topic TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE messages (
        room TEXT NOT NULL,
        seq BIGINT NOT NULL,
        sent_at_ms BIGINT NOT NULL,
        sender TEXT NOT NULL,
        text TEXT NOT NULL,
        client_id TEXT,
        origin SMALLINT NOT NULL DEFAULT 0,
        PRIMARY KEY (room, seq)
    );
    CREATE UNIQUE INDEX messages_by_client_id ON messages (room, sender, client_id)
        WHERE client_id IS NOT NULL;
    CREATE INDEX messages_by_age ON messages (sent_at_ms);
    CREATE TABLE room_grants (
        room TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (room, kind, name)
    );
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        locked BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL
    );
    CREATE INDEX sessions_by_account ON sessions (account);
    CREATE TABLE memberships (
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        room TEXT NOT NULL,
        PRIMARY KEY (account, room)
    );",
    // 2: the tables of chatd's cluster ledger (`chatd::cluster::ledger`,
    // which alone reads and writes them): the nodes of a cluster, each
    // with a lease it renews, and the names their guests hold: a name is
    // free again once its node's lease ends. `hold` tells one holding of a
    // name from the next. `url`: where browsers reach the node's web
    // client. Lobby users' indexes, one sequence for every node.
    "CREATE TABLE nodes (
        id BIGINT PRIMARY KEY,
        lease_until TIMESTAMPTZ NOT NULL,
        url TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE guest_names (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        node BIGINT NOT NULL,
        hold BIGINT NOT NULL
    );
    CREATE SEQUENCE lobby_user_index AS INTEGER;",
    // 3: a reply names the earlier message it answers.
    "ALTER TABLE messages ADD COLUMN reply_to BIGINT;",
    // 4: edits, deletions and reactions, each a change row of its own
    // (`target` names the message it changed).
    "ALTER TABLE messages ADD COLUMN edited_at_ms BIGINT,
         ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT FALSE,
         ADD COLUMN deleted_by TEXT,
         ADD COLUMN reactions TEXT,
         ADD COLUMN target BIGINT;",
    // 5: read markers and notification levels, per account and room; whom
    // each message mentions; and each entry's ordinal (the messages up to
    // it), with each room's count.
    "ALTER TABLE messages ADD COLUMN mentions TEXT,
         ADD COLUMN mentions_room BOOLEAN NOT NULL DEFAULT FALSE,
         ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN messages BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX messages_mentioning ON messages (room, seq)
        WHERE mentions IS NOT NULL OR mentions_room;
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
        seq BIGINT NOT NULL,
        ordinal BIGINT NOT NULL,
        PRIMARY KEY (account, room)
    );
    CREATE TABLE notify_levels (
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        room TEXT NOT NULL,
        level TEXT NOT NULL,
        PRIMARY KEY (account, room)
    );",
    // 6: the messages' text indexed by trigrams for search (`ILIKE`
    // finds any part of three characters or more through it). `pg_trgm`
    // is a trusted extension: the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX messages_text_trgm ON messages USING gin (text gin_trgm_ops)
        WHERE target IS NULL AND NOT deleted;",
    // 7: each entry's place in the order the database took them (search
    // results come newest first by it, and page on from one).
    "ALTER TABLE messages ADD COLUMN position BIGSERIAL;
    CREATE INDEX messages_by_position ON messages (position);",
    // 8: files, their bytes (by hash, so any node serves any file), and
    // the messages that attach them.
    "ALTER TABLE messages ADD COLUMN attachments TEXT;
    CREATE INDEX messages_attaching ON messages (room) WHERE attachments IS NOT NULL;
    CREATE TABLE files (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        mime_type TEXT NOT NULL,
        size BIGINT NOT NULL,
        width BIGINT NOT NULL,
        height BIGINT NOT NULL,
        uploaded_at_ms BIGINT NOT NULL,
        content_hash TEXT NOT NULL,
        thumbnail_hash TEXT
    );
    CREATE INDEX files_by_owner ON files (owner);
    CREATE TABLE file_contents (
        hash TEXT PRIMARY KEY,
        bytes BYTEA NOT NULL,
        kept_at_ms BIGINT NOT NULL
    );",
    // 9: secrets the nodes share (the key that signs links to files).
    "CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
];

/// Limits on what the database keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The newest this many messages of each room are kept.
    pub retain_messages: u64,
    /// Messages older than this are removed at start (`None`: kept however
    /// old).
    pub retain_age: Option<Duration>,
}

/// History and accounts in the PostgreSQL database at a URL.
pub struct PostgresStore {
    pool: Pool,
    retain_messages: i64,
    /// Each room's last sequence number, as stored.
    /// Each room's last sequence number and count of messages, as stored.
    counters: Mutex<HashMap<String, Counters>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host/db`
    /// or key=value form), bringing its schema up to date. Fails with a
    /// message a person can act on if the database cannot be reached or
    /// used, or its schema is newer than this code.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let pool = pool(url, POOL_SIZE)?;
        let store = PostgresStore {
            pool,
            retain_messages: to_sql(options.retain_messages),
            counters: Mutex::new(HashMap::new()),
        };
        store.migrate().await?;
        if let Some(age) = options.retain_age {
            let client = store.client().await?;
            client
                .execute(
                    "DELETE FROM messages WHERE sent_at_ms < $1",
                    &[&(now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX))],
                )
                .await
                .map_err(|e| unavailable("cannot trim the database", &e))?;
        }
        let counters = store
            .client()
            .await?
            .query(sql::SELECT_ROOM_COUNTERS, &[])
            .await
            .and_then(|rows| rows.iter().map(sql::room_counter).collect())
            .map_err(|e| unavailable("cannot read the rooms", &e))?;
        *lock(&store.counters) = counters;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        connection(&self.pool).await
    }

    /// Brings the schema up to the newest version, or refuses a newer one.
    async fn migrate(&self) -> Result<(), StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot migrate the database", &e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(fail)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(fail)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS chatd_schema (version INTEGER NOT NULL)")
            .await
            .map_err(fail)?;
        let version: i32 = tx
            .query_opt("SELECT version FROM chatd_schema", &[])
            .await
            .map_err(fail)?
            .map_or(0, |row| row.get(0));
        let newest = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
        if version > newest {
            return Err(StoreError::Unavailable(format!(
                "the database has schema version {version}, newer than this chatd's \
                 {newest}: run a newer chatd"
            )));
        }
        for (at, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tracing::info!(version = at + 1, "migrating the database");
            tx.batch_execute(migration).await.map_err(fail)?;
        }
        tx.execute("DELETE FROM chatd_schema", &[])
            .await
            .map_err(fail)?;
        tx.execute("INSERT INTO chatd_schema (version) VALUES ($1)", &[&newest])
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)
    }
}

#[async_trait]
impl HistoryStore for PostgresStore {
    async fn append(&self, batch: &[(&str, Entry)]) -> Result<Vec<Arc<Message>>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot store messages", &e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(fail)?;
        let shifts = lock_counters(&tx, batch).await.map_err(fail)?;
        // Each entry's number and ordinal as stored.
        let places: Vec<(i64, i64)> = batch
            .iter()
            .map(|(room, entry)| {
                let (seq_shift, ordinal_shift) = shifts[room];
                let ordinal = match entry {
                    Entry::Message(message) => message.ordinal,
                    Entry::Change { ordinal, .. } => *ordinal,
                };
                (
                    to_sql(entry.seq()) + seq_shift,
                    to_sql(ordinal) + ordinal_shift,
                )
            })
            .collect();
        insert_messages(&tx, batch, &places).await.map_err(fail)?;
        let mut stored = Vec::with_capacity(batch.len());
        let mut newest: HashMap<&str, (i64, i64)> = HashMap::new();
        for ((room, entry), &(seq, ordinal)) in batch.iter().zip(&places) {
            let (seq, ordinal) = (from_sql(seq), from_sql(ordinal));
            stored.push(match entry {
                Entry::Message(message) if message.seq == seq => Arc::clone(message),
                Entry::Message(message) => {
                    let mut moved = message.renumbered(seq);
                    moved.ordinal = ordinal;
                    Arc::new(moved)
                }
                Entry::Change { change, .. } => Arc::new(
                    save_change(&tx, room, (seq, ordinal), change)
                        .await
                        .map_err(fail)?,
                ),
            });
            newest.insert(room, (to_sql(seq), to_sql(ordinal)));
        }
        for (&room, &(last_seq, messages)) in &newest {
            tx.execute(
                "UPDATE rooms SET last_seq = $2, messages = $3 WHERE name = $1",
                &[&room, &last_seq, &messages],
            )
            .await
            .map_err(fail)?;
            if last_seq > self.retain_messages {
                tx.execute(sql::TRIM_ROOM, &[&room, &(last_seq - self.retain_messages)])
                    .await
                    .map_err(fail)?;
            }
        }
        tx.commit().await.map_err(fail)?;
        let mut counters = lock(&self.counters);
        for (room, (last_seq, messages)) in newest {
            let counter = Counters {
                last_seq: from_sql(last_seq),
                messages: from_sql(messages),
            };
            counters.insert(room.to_owned(), counter);
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
        let query = sql::select_entries("c.seq >= $2 ORDER BY c.seq");
        self.select(&query, room, from, limit).await
    }

    async fn read_before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let query = sql::select_messages("seq < $2 ORDER BY seq DESC");
        let mut newest_first = self.select(&query, room, before, limit).await?;
        newest_first.reverse();
        Ok(newest_first)
    }

    async fn read_mentioning(
        &self,
        room: &str,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let query = sql::select_messages(sql::MENTIONING);
        let mut newest_first = self.select(&query, room, i64::MAX as u64, limit).await?;
        newest_first.reverse();
        Ok(newest_first)
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Found>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot search history", &e);
        let scan = sql::scan_for(query, |room| self.message_count(room));
        let (statement, values) = sql::search(query, sql::Dialect::Postgres, scan);
        let client = self.client().await?;
        // Not a cached statement: after a few runs PostgreSQL would plan it
        // once for any words, and the plan good for a rare word reads and
        // sorts every match of a common one. Unnamed, each is planned for
        // its own words.
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        client
            .query(&statement, &params)
            .await
            .and_then(|rows| rows.iter().map(sql::found).collect())
            .map_err(fail)
    }

    async fn read_after(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let query = sql::select_messages("seq > $2 ORDER BY seq");
        self.select(&query, room, after, limit).await
    }

    async fn find_sent(&self, keys: Vec<SentKey>) -> Result<Vec<Option<Arc<Message>>>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read history", &e);
        let client = self.client().await?;
        let query = client
            .prepare_cached(&sql::find_sent())
            .await
            .map_err(fail)?;
        let mut found = Vec::with_capacity(keys.len());
        for key in &keys {
            let row = client
                .query_opt(&query, &[&key.room, &key.sender, &key.client_id])
                .await
                .map_err(fail)?;
            found.push(row.as_ref().map(sql::message).transpose().map_err(fail)?);
        }
        Ok(found)
    }

    async fn put_file(
        &self,
        file: &FileInfo,
        content: Bytes,
        thumbnail: Option<Bytes>,
    ) -> Result<(), StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot store the file", &e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(fail)?;
        let mut kept = vec![(&file.content_hash, content)];
        kept.extend(file.thumbnail_hash.as_ref().zip(thumbnail));
        for (hash, bytes) in kept {
            // Claiming the row waits for a removal of it under way, and
            // keeps a removal that comes after from taking it.
            tx.execute(
                "INSERT INTO file_contents (hash, bytes, kept_at_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (hash) DO UPDATE SET kept_at_ms = excluded.kept_at_ms",
                &[hash, &bytes.as_ref(), &file.uploaded_at_ms],
            )
            .await
            .map_err(fail)?;
        }
        let values = sql::file_values(file);
        let values: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        tx.execute(sql::INSERT_FILE, &values).await.map_err(fail)?;
        tx.commit().await.map_err(fail)
    }

    async fn file(&self, id: &str) -> Result<Option<FileInfo>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read the file", &e);
        let client = self.client().await?;
        let row = client
            .query_opt(&sql::select_file(), &[&id])
            .await
            .map_err(fail)?;
        row.map(|row| sql::file_info(&row))
            .transpose()
            .map_err(fail)
    }

    async fn file_bytes(
        &self,
        hash: &str,
        from: u64,
        len: usize,
    ) -> Result<Option<Bytes>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read the file", &e);
        let client = self.client().await?;
        // `substring` counts from 1; a file is far under 2 GiB.
        let from = i32::try_from(from.saturating_add(1)).unwrap_or(i32::MAX);
        let len = i32::try_from(len).unwrap_or(i32::MAX);
        let row = client
            .query_opt(
                "SELECT substring(bytes FROM $2 FOR $3) FROM file_contents WHERE hash = $1",
                &[&hash, &from, &len],
            )
            .await
            .map_err(fail)?;
        Ok(row.map(|row| Bytes::from(row.get::<_, Vec<u8>>(0))))
    }

    async fn files_size(&self, owner: &str) -> Result<u64, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read the files", &e);
        let client = self.client().await?;
        let row = client
            .query_one(sql::FILES_SIZE, &[&owner])
            .await
            .map_err(fail)?;
        Ok(from_sql(row.get(0)))
    }

    async fn remove_unused_files(&self, uploaded_before_ms: i64) -> Result<usize, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot remove files", &e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(fail)?;
        let unused_files = sql::remove_unused_files(sql::Dialect::Postgres);
        let removed = tx
            .execute(unused_files, &[&uploaded_before_ms])
            .await
            .map_err(fail)?;
        tx.execute(sql::REMOVE_UNUSED_BYTES, &[&uploaded_before_ms])
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read a secret", &e);
        let client = self.client().await?;
        let made = hex::encode(new_secret());
        client
            .execute(sql::KEEP_SECRET, &[&name, &made])
            .await
            .map_err(fail)?;
        let row = client
            .query_one(sql::SELECT_SECRET, &[&name])
            .await
            .map_err(fail)?;
        hex::decode(row.get::<_, String>(0))
            .map_err(|e| StoreError::Unavailable(format!("a kept secret is not hex: {e}")))
    }

    async fn update_rooms(&self, updates: Vec<RoomUpdate>) -> Result<(), StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot save rooms", &e);
        let mut client = self.client().await?;
        let plan = updates.into_iter().flat_map(sql::room_update).collect();
        run(&mut client, plan).await.map_err(fail)
    }

    async fn saved_rooms(&self) -> Result<Vec<SavedRoom>, StoreError> {
        self.load_saved_rooms(None).await
    }

    async fn check(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| unavailable("the database does not answer", &e))?;
        Ok(())
    }

    async fn saved_room(&self, name: &str) -> Result<Option<SavedRoom>, StoreError> {
        Ok(self.load_saved_rooms(Some(name)).await?.pop())
    }
}

impl PostgresStore {
    /// The saved rooms, or the one called `only`, with their grants.
    async fn load_saved_rooms(&self, only: Option<&str>) -> Result<Vec<SavedRoom>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read the rooms", &e);
        let client = self.client().await?;
        let rooms = client
            .query(sql::SELECT_SAVED_ROOMS, &[&only])
            .await
            .and_then(|rows| rows.iter().map(sql::saved_room).collect())
            .map_err(fail)?;
        let grants = client
            .query(sql::SELECT_GRANTS, &[&only])
            .await
            .and_then(|rows| rows.iter().map(sql::grant).collect())
            .map_err(fail)?;
        Ok(sql::with_grants(rooms, grants))
    }
}

impl PostgresStore {
    /// Up to `limit` rows of `room` that `query` selects (`$2` is a
    /// sequence number), in the order it gives.
    async fn select(
        &self,
        query: &str,
        room: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read history", &e);
        let client = self.client().await?;
        let query = client.prepare_cached(query).await.map_err(fail)?;
        client
            .query(&query, &[&room, &to_sql(seq), &to_sql(limit as u64)])
            .await
            .and_then(|rows| rows.iter().map(sql::message).collect())
            .map_err(fail)
    }
}

/// Locks the counters of the batch's rooms until the commit (writers take
/// turns, and a batch numbered from an older count moves up after it), in
/// name order, so writers of the same rooms never wait on each other in a
/// circle. Returns how far each room's entries move: their numbers, and
/// their ordinals.
async fn lock_counters<'a>(
    tx: &tokio_postgres::Transaction<'_>,
    batch: &[(&'a str, Entry)],
) -> Result<HashMap<&'a str, (i64, i64)>, tokio_postgres::Error> {
    let mut names: Vec<&str> = batch.iter().map(|&(room, _)| room).collect();
    names.sort_unstable();
    names.dedup();
    tx.execute(
        "INSERT INTO rooms (name) SELECT * FROM UNNEST($1::TEXT[]) ON CONFLICT DO NOTHING",
        &[&names],
    )
    .await?;
    let stored: HashMap<String, (i64, i64)> = tx
        .query(
            "SELECT name, last_seq, messages FROM rooms WHERE name = ANY($1)
             ORDER BY name FOR UPDATE",
            &[&names],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    let mut shifts: HashMap<&str, (i64, i64)> = HashMap::new();
    for (room, entry) in batch {
        shifts.entry(room).or_insert_with(|| {
            let (last_seq, messages) = stored.get(*room).copied().unwrap_or((0, 0));
            (
                last_seq + 1 - to_sql(entry.seq()),
                messages - to_sql(entry.messages_before()),
            )
        });
    }
    Ok(shifts)
}

/// Inserts the batch's messages, at `places` (number, ordinal), in one
/// statement.
async fn insert_messages(
    tx: &tokio_postgres::Transaction<'_>,
    batch: &[(&str, Entry)],
    places: &[(i64, i64)],
) -> Result<(), tokio_postgres::Error> {
    let messages: Vec<(&str, &Arc<Message>, (i64, i64))> = batch
        .iter()
        .zip(places)
        .filter_map(|((room, entry), &place)| match entry {
            Entry::Message(message) => Some((*room, message, place)),
            Entry::Change { .. } => None,
        })
        .collect();
    if messages.is_empty() {
        return Ok(());
    }
    let rooms: Vec<&str> = messages.iter().map(|m| m.0).collect();
    let seqs: Vec<i64> = messages.iter().map(|m| m.2.0).collect();
    let ordinals: Vec<i64> = messages.iter().map(|m| m.2.1).collect();
    let times: Vec<i64> = messages.iter().map(|m| m.1.sent_at_ms).collect();
    let senders: Vec<&str> = messages.iter().map(|m| m.1.sender.as_str()).collect();
    let texts: Vec<&str> = messages.iter().map(|m| m.1.text.as_str()).collect();
    let client_ids: Vec<Option<&str>> = messages.iter().map(|m| m.1.client_id.as_deref()).collect();
    let origins: Vec<i16> = messages
        .iter()
        .map(|m| i16::try_from(m.1.origin.code()).unwrap_or(0))
        .collect();
    let replies: Vec<Option<i64>> = messages.iter().map(|m| m.1.reply_to.map(to_sql)).collect();
    let mentions: Vec<Option<String>> = messages
        .iter()
        .map(|m| sql::encode_mentions(&m.1.mentions))
        .collect();
    let everyone: Vec<bool> = messages.iter().map(|m| m.1.mentions.room).collect();
    let attachments: Vec<Option<String>> = (messages.iter())
        .map(|m| sql::encode_attachments(&m.1.attachments))
        .collect();
    tx.execute(
        "INSERT INTO messages (room, seq, sent_at_ms, sender, text, client_id, origin,
                               reply_to, mentions, mentions_room, ordinal, attachments)
         SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[],
                              $5::TEXT[], $6::TEXT[], $7::SMALLINT[], $8::BIGINT[],
                              $9::TEXT[], $10::BOOLEAN[], $11::BIGINT[], $12::TEXT[])",
        &[
            &rooms,
            &seqs,
            &times,
            &senders,
            &texts,
            &client_ids,
            &origins,
            &replies,
            &mentions,
            &everyone,
            &ordinals,
            &attachments,
        ],
    )
    .await?;
    Ok(())
}

/// Applies `change`, at `(seq, ordinal)`, to the state stored of its
/// message, and keeps it. Returns its update entry.
async fn save_change(
    tx: &tokio_postgres::Transaction<'_>,
    room: &str,
    (seq, ordinal): (u64, u64),
    change: &Change,
) -> Result<Message, tokio_postgres::Error> {
    let target = tx
        .query_opt(&sql::select_message(), &[&room, &to_sql(change.target)])
        .await?
        .map(|row| sql::message(&row))
        .transpose()?;
    let changed = target.map(|target| target.changed(change));
    for step in sql::save_change(room, (seq, ordinal), change, changed.as_ref()) {
        let values: Vec<&(dyn ToSql + Sync)> = step.values.iter().map(|v| v as _).collect();
        tx.execute(step.sql, &values).await?;
    }
    Ok(match changed {
        Some(changed) => changed.as_update(seq, ordinal),
        None => Message::update_of_gone(change.target, seq, ordinal),
    })
}

/// Runs `plan` in one transaction.
async fn run(
    client: &mut deadpool_postgres::Object,
    plan: Vec<Statement>,
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    for step in &plan {
        let values: Vec<&(dyn ToSql + Sync)> = step.values.iter().map(|v| v as _).collect();
        tx.execute(step.sql, &values).await?;
    }
    tx.commit().await
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn load_accounts(&self) -> Result<AccountsSnapshot, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read the accounts", &e);
        let client = self.client().await?;
        let read = async {
            Ok(AccountsSnapshot {
                accounts: rows(&client, sql::SELECT_ACCOUNTS, &[], sql::account).await?,
                sessions: rows(&client, sql::SELECT_SESSIONS, &[], sql::session).await?,
                memberships: rows(&client, sql::SELECT_MEMBERSHIPS, &[], sql::membership).await?,
                read_markers: rows(&client, sql::SELECT_READ_MARKERS, &[], sql::read_marker)
                    .await?,
                notify_levels: rows(&client, sql::SELECT_NOTIFY_LEVELS, &[], sql::notify_level)
                    .await?,
            })
        };
        read.await.map_err(fail)
    }

    async fn change_accounts(&self, change: AccountChange) -> Result<(), StoreError> {
        let account = sql::account_of(&change).to_owned();
        let mut client = self.client().await?;
        run(&mut client, sql::account_change(change))
            .await
            .map_err(|error| match error.code() {
                Some(&SqlState::FOREIGN_KEY_VIOLATION) => StoreError::NoSuchAccount(account),
                Some(&SqlState::UNIQUE_VIOLATION) => StoreError::AccountExists(account),
                _ => unavailable("cannot save the accounts", &error),
            })
    }

    async fn load_account(
        &self,
        name: &str,
    ) -> Result<Option<(Account, Vec<StoredSession>)>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot read the account", &e);
        let client = self.client().await?;
        let read = async {
            let Some(account) = rows(&client, sql::SELECT_ACCOUNT, &[&name], sql::account)
                .await?
                .pop()
            else {
                return Ok(None);
            };
            let sessions = rows(
                &client,
                sql::SELECT_ACCOUNT_SESSIONS,
                &[&name],
                sql::session,
            )
            .await?;
            Ok(Some((account, sessions)))
        };
        read.await.map_err(fail)
    }
}

/// Every row `query` gives, each read with `read`.
async fn rows<T>(
    client: &deadpool_postgres::Object,
    query: &str,
    values: &[&(dyn ToSql + Sync)],
    read: fn(&Row) -> Result<T, tokio_postgres::Error>,
) -> Result<Vec<T>, tokio_postgres::Error> {
    client
        .query(query, values)
        .await?
        .iter()
        .map(read)
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A pool of up to `size` connections to the database at `url`
/// (`postgres://user:password@host/db` or key=value form). (The cluster's
/// ledger, in the same database, keeps a pool of its own.)
pub fn pool(url: &str, size: usize) -> Result<Pool, StoreError> {
    let config: tokio_postgres::Config = url.parse().map_err(|error| {
        StoreError::Unavailable(format!("the database URL cannot be used: {error}"))
    })?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(CONNECTION_WAIT))
        .create_timeout(Some(CONNECTION_WAIT))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|error| StoreError::Unavailable(format!("cannot pool connections: {error}")))
}

/// A connection from `pool`, or why there is none.
pub async fn connection(pool: &Pool) -> Result<deadpool_postgres::Object, StoreError> {
    pool.get()
        .await
        .map_err(|error| StoreError::Unavailable(format!("cannot reach the database: {error}")))
}

/// A database error in words a person can act on: what could not be
/// done, and why. (The cluster's ledger, in the same database, words its
/// errors so too.)
pub fn unavailable(what: &str, error: &tokio_postgres::Error) -> StoreError {
    let why = match error.as_db_error() {
        // Class 57 (the server shutting down or crashed) and 08 (the
        // connection): the database itself is away, not the request.
        Some(db)
            if ["57", "08"]
                .iter()
                .any(|class| db.code().code().starts_with(class)) =>
        {
            format!(
                "the database is down or restarting ({}: {})",
                db.code().code(),
                db.message()
            )
        }
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None if error.is_closed() => "the connection to the database closed".to_owned(),
        None => format!("cannot reach the database ({error})"),
    };
    StoreError::Unavailable(format!("{what}: {why}"))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is a single insert or swap: never left half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Columns for Row {
    type Error = tokio_postgres::Error;

    fn int(&self, at: usize) -> Result<i64, Self::Error> {
        match *self.columns()[at].type_() {
            Type::INT2 => self.try_get::<_, i16>(at).map(i64::from),
            Type::INT4 => self.try_get::<_, i32>(at).map(i64::from),
            _ => self.try_get(at),
        }
    }

    fn text(&self, at: usize) -> Result<String, Self::Error> {
        self.try_get(at)
    }

    fn maybe_text(&self, at: usize) -> Result<Option<String>, Self::Error> {
        self.try_get(at)
    }

    fn maybe_int(&self, at: usize) -> Result<Option<i64>, Self::Error> {
        self.try_get(at)
    }

    fn flag(&self, at: usize) -> Result<bool, Self::Error> {
        self.try_get(at)
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Text(text) => text.to_sql(ty, out),
            Value::MaybeText(text) => text.to_sql(ty, out),
            // An integer column of any width.
            Value::Int(n) if *ty == Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
            Value::Int(n) if *ty == Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
            Value::Int(n) => n.to_sql(ty, out),
            Value::MaybeInt(n) => n.to_sql(ty, out),
            Value::Flag(flag) => flag.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <String as ToSql>::accepts(ty)
            || [Type::INT2, Type::INT4, Type::INT8, Type::BOOL].contains(ty)
    }

    to_sql_checked!();
}
