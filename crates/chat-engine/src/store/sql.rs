//! The SQL the SQLite and PostgreSQL stores share: one text per statement
//! (both read `$n` parameters), one plan of statements per change, and one
//! way to read each kind of row. Each store only runs what is planned here,
//! in its own transaction, and reads its driver's rows through [`Columns`].

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    Account, AccountChange, FileInfo, Found, Grant, NotifyLevel, ReadMarker, RoomUpdate,
    SHORT_SCAN, SHORT_TERM, SavedRoom, SearchPlace, SearchQuery, StoredSession,
};
use crate::{Attachment, Change, Mentions, Message, Origin, Reaction};

/// What a message is read from, in [`message`]'s order. A row with a
/// `target` is a change to that message: its own columns are empty but
/// for `deleted`, set, so a change whose message is no longer kept reads
/// as a deleted message.
pub(super) const MESSAGE_COLUMNS: &str = "seq, sent_at_ms, sender, text, client_id, origin, \
     reply_to, edited_at_ms, deleted, deleted_by, reactions, mentions, mentions_room, ordinal, \
     target, attachments";

/// The messages (not changes) of room `$1` with `$2` a sequence number,
/// `$3` a limit, and `condition` on `seq` (with its order).
pub(super) fn select_messages(condition: &str) -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE room = $1 AND target IS NULL AND {condition} LIMIT $3"
    )
}

/// The condition [`select_messages`] takes for messages that mention
/// anyone, newest first (`$2` unused but bound: below it).
pub(super) const MENTIONING: &str =
    "(mentions IS NOT NULL OR mentions_room) AND seq < $2 ORDER BY seq DESC";

/// The entries of room `$1` (messages, and changes with their message's
/// state) with `$2` a sequence number, `$3` a limit, and `condition` on
/// `c.seq` (with its order).
pub(super) fn select_entries(condition: &str) -> String {
    let state: Vec<String> = MESSAGE_COLUMNS
        .split(", ")
        .map(|column| match column.trim() {
            column @ ("seq" | "ordinal" | "target") => format!("c.{column}"),
            column => format!("COALESCE(t.{column}, c.{column})"),
        })
        .collect();
    format!(
        "SELECT {} FROM messages c
         LEFT JOIN messages t ON t.room = c.room AND t.seq = c.target
         WHERE c.room = $1 AND {condition} LIMIT $3",
        state.join(", ")
    )
}

/// Which database a search is written for: each finds long terms and
/// lists the rooms its own way, and counts the messages it took in its own
/// column (a message's search place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Long terms through the FTS5 (trigram) table `messages_fts`; the
    /// place is the row id.
    Sqlite,
    /// Every term with `ILIKE`, which the `pg_trgm` index serves; the place
    /// is the `position` column.
    Postgres,
}

/// Which messages a search goes through, newest first, until its page is
/// full. Each bounds the work a different query shape needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    /// The text index's matches of the long terms (in PostgreSQL, with
    /// [`Scan::Rooms`], what its planner picks from the index, the rooms
    /// and the order of places).
    Index,
    /// Every message of the rooms searched (there are few).
    Rooms,
    /// The store's newest [`SHORT_SCAN`] messages: short terms have no
    /// index to narrow them.
    Newest,
    /// SQLite: the messages stored since the index's last batch (they
    /// come before [`Scan::Index`]'s).
    Unindexed,
}

/// How far SQLite's search index goes (its batches follow the messages).
const INDEXED: &str = "(SELECT indexed FROM search_progress)";

/// A search whose rooms hold at most this many messages reads them all
/// (about 20 ms at most on the machine `chat-bench search` ran on).
const ROOM_SCAN: u64 = 5_000;

/// How `query` is best run, given how many messages each room holds:
/// through every message of its rooms when they hold few (a word common
/// elsewhere would have the index's matches read far back), else through
/// the index for terms it serves, else through the newest messages.
pub(super) fn scan_for(query: &SearchQuery, messages_in: impl Fn(&str) -> u64) -> Scan {
    let in_rooms: u64 = query.rooms.iter().map(|room| messages_in(room)).sum();
    if in_rooms <= ROOM_SCAN {
        Scan::Rooms
    } else if query.has_indexed_term() {
        Scan::Index
    } else {
        Scan::Newest
    }
}

/// `query` as one statement and its parameters: the hits'
/// [`MESSAGE_COLUMNS`], then their room and place, newest first.
pub(super) fn search(query: &SearchQuery, dialect: Dialect, scan: Scan) -> (String, Vec<Value>) {
    let (place, like) = match dialect {
        Dialect::Sqlite => ("m.rowid", "LIKE"),
        Dialect::Postgres => ("m.position", "ILIKE"),
    };
    let mut values = vec![match dialect {
        Dialect::Sqlite => Value::Text(serde_json::json!(query.rooms).to_string()),
        // No room's name holds a tab.
        Dialect::Postgres => Value::Text(query.rooms.join("\t")),
    }];
    let mut param = |value: Value| {
        values.push(value);
        format!("${}", values.len())
    };
    let mut conditions = vec![
        match (dialect, scan) {
            // `+` keeps SQLite from going through the rooms' index: the
            // newest messages are those with the greatest row ids.
            (Dialect::Sqlite, Scan::Newest | Scan::Unindexed) => {
                "+m.room IN (SELECT value FROM json_each($1))"
            }
            (Dialect::Sqlite, _) => "m.room IN (SELECT value FROM json_each($1))",
            (Dialect::Postgres, _) => "m.room = ANY(string_to_array($1, E'\\t'))",
        }
        .to_owned(),
        "m.target IS NULL".to_owned(),
        "NOT m.deleted".to_owned(),
    ];
    let mut from = "messages m".to_owned();
    let mut order = place;
    let compared: Vec<&String> = match (dialect, scan) {
        (Dialect::Sqlite, Scan::Index) => {
            let (long, short): (Vec<&String>, Vec<&String>) =
                (query.terms.iter()).partition(|term| term.chars().count() >= SHORT_TERM);
            let phrases: Vec<String> = (long.iter())
                .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
                .collect();
            let phrases = param(Value::Text(phrases.join(" AND ")));
            // The index's matches come newest first, so the page fills
            // from the newest without reading every match.
            from = "messages_fts f JOIN messages m ON m.rowid = f.rowid".to_owned();
            order = "f.rowid";
            conditions.push(format!("messages_fts MATCH {phrases}"));
            conditions.push(format!("f.rowid <= {INDEXED}"));
            short
        }
        _ => query.terms.iter().collect(),
    };
    for term in compared {
        let pattern = param(Value::Text(format!("%{}%", escape_like(term))));
        conditions.push(format!("m.text {like} {pattern} ESCAPE '\\'"));
    }
    if (dialect, scan) == (Dialect::Sqlite, Scan::Unindexed) {
        conditions.push(format!("m.rowid > {INDEXED}"));
    }
    if scan == Scan::Newest {
        let bare = place.trim_start_matches("m.");
        conditions.push(format!(
            "{place} >= coalesce((SELECT {bare} FROM messages ORDER BY {bare} DESC
                 LIMIT 1 OFFSET {}), 0)",
            SHORT_SCAN - 1
        ));
    }
    if let Some(after) = query.after {
        let after = param(Value::Int(to_sql(after.0)));
        conditions.push(format!("{order} < {after}"));
    }
    let limit = param(Value::Int(to_sql(query.limit as u64)));
    let columns: Vec<String> = (MESSAGE_COLUMNS.split(", "))
        .map(|column| format!("m.{}", column.trim()))
        .collect();
    let sql = format!(
        "SELECT {}, m.room, {place} FROM {from} WHERE {}
         ORDER BY {order} DESC LIMIT {limit}",
        columns.join(", "),
        conditions.join(" AND ")
    );
    (sql, values)
}

/// `text` with `LIKE`'s wildcards (and its escape) taken literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A search's hit: its message, then its room and place (the columns after
/// them).
pub(super) fn found<R: Columns>(row: &R) -> Result<Found, R::Error> {
    let room_at = MESSAGE_COLUMNS.split(", ").count();
    Ok(Found {
        room: row.text(room_at)?,
        message: message(row)?,
        place: SearchPlace(from_sql(row.int(room_at + 1)?)),
    })
}

/// Message `$2` of room `$1`, unless it is a change.
pub(super) fn select_message() -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = $1 AND seq = $2 AND target IS NULL"
    )
}

/// The message of room `$1` that sender `$2` sent with client id `$3`.
pub(super) fn find_sent() -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = $1 AND sender = $2 AND client_id = $3"
    )
}

/// What stores `change`, numbered `seq` (after `ordinal` messages) in
/// `room`, given the state it left its message in (`None` if that is no
/// longer kept).
pub(super) fn save_change(
    room: &str,
    (seq, ordinal): (u64, u64),
    change: &Change,
    changed: Option<&Message>,
) -> Vec<Statement> {
    let mut plan = Vec::with_capacity(2);
    if let Some(changed) = changed {
        plan.push(statement(
            "UPDATE messages SET text = $3, edited_at_ms = $4, deleted = $5, deleted_by = $6,
                 reactions = $7, attachments = $8
             WHERE room = $1 AND seq = $2",
            vec![
                text(room),
                Value::Int(to_sql(changed.seq)),
                text(&changed.text),
                Value::MaybeInt(changed.edited_at_ms),
                Value::Flag(changed.deleted),
                Value::MaybeText(changed.deleted_by.clone()),
                Value::MaybeText(encode_reactions(&changed.reactions)),
                Value::MaybeText(encode_attachments(&changed.attachments)),
            ],
        ));
    }
    plan.push(statement(
        "INSERT INTO messages (room, seq, sent_at_ms, sender, text, origin, deleted, target,
                               ordinal)
         VALUES ($1, $2, $3, '', '', 0, TRUE, $4, $5)",
        vec![
            text(room),
            Value::Int(to_sql(seq)),
            Value::Int(change.at_ms),
            Value::Int(to_sql(change.target)),
            Value::Int(to_sql(ordinal)),
        ],
    ));
    plan
}

/// The names a message mentions as a column keeps them: split by tabs
/// (names have none), NULL for none.
pub(super) fn encode_mentions(mentions: &Mentions) -> Option<String> {
    (!mentions.names.is_empty()).then(|| mentions.names.join("\t"))
}

/// Reactions as a column keeps them: a line per emoji, the emoji then its
/// names, split by tabs (neither has tabs or line breaks).
fn encode_reactions(reactions: &[Reaction]) -> Option<String> {
    if reactions.is_empty() {
        return None;
    }
    let lines: Vec<String> = reactions
        .iter()
        .map(|reaction| {
            let mut line = reaction.emoji.clone();
            for name in &reaction.names {
                line.push('\t');
                line.push_str(name);
            }
            line
        })
        .collect();
    Some(lines.join("\n"))
}

fn decode_reactions(column: Option<String>) -> Vec<Reaction> {
    let Some(column) = column else {
        return Vec::new();
    };
    column
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let emoji = fields.next()?.to_owned();
            Some(Reaction {
                emoji,
                names: fields.map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// Attachments as a column keeps them: a JSON array of objects (the
/// removal of unused files reads their ids in SQL), NULL for none.
pub(super) fn encode_attachments(attachments: &[Attachment]) -> Option<String> {
    if attachments.is_empty() {
        return None;
    }
    let list: Vec<serde_json::Value> = (attachments.iter())
        .map(|a| {
            serde_json::json!({
                "id": a.id, "name": a.name, "mime_type": a.mime_type,
                "size": a.size, "width": a.width, "height": a.height,
            })
        })
        .collect();
    Some(serde_json::Value::Array(list).to_string())
}

fn decode_attachments(column: Option<String>) -> Vec<Attachment> {
    let Some(list) = column.and_then(|c| serde_json::from_str::<serde_json::Value>(&c).ok()) else {
        return Vec::new();
    };
    let text = |a: &serde_json::Value, key: &str| a[key].as_str().unwrap_or_default().to_owned();
    let number = |a: &serde_json::Value, key: &str| a[key].as_u64().unwrap_or_default();
    (list.as_array().into_iter().flatten())
        .map(|a| Attachment {
            id: text(a, "id"),
            name: text(a, "name"),
            mime_type: text(a, "mime_type"),
            size: number(a, "size"),
            width: u32::try_from(number(a, "width")).unwrap_or(0),
            height: u32::try_from(number(a, "height")).unwrap_or(0),
        })
        .collect()
}

/// What a file is read from, in [`file_info`]'s order.
const FILE_COLUMNS: &str =
    "id, owner, name, mime_type, size, width, height, uploaded_at_ms, content_hash, thumbnail_hash";

pub(super) fn select_file() -> String {
    format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1")
}

pub(super) const INSERT_FILE: &str = "INSERT INTO files (id, owner, name, mime_type, size, width, \
     height, uploaded_at_ms, content_hash, thumbnail_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// The values of [`INSERT_FILE`].
pub(super) fn file_values(file: &FileInfo) -> Vec<Value> {
    vec![
        text(&file.id),
        text(&file.owner),
        text(&file.name),
        text(&file.mime_type),
        Value::Int(to_sql(file.size)),
        Value::Int(i64::from(file.width)),
        Value::Int(i64::from(file.height)),
        Value::Int(file.uploaded_at_ms),
        text(&file.content_hash),
        Value::MaybeText(file.thumbnail_hash.clone()),
    ]
}

/// Notes that bytes are kept under hash `$1`, as of `$2` (a file about
/// to use them keeps them from removal).
pub(super) const KEEP_CONTENT_HASH: &str = "INSERT INTO file_contents (hash, kept_at_ms)
     VALUES ($1, $2) ON CONFLICT (hash) DO UPDATE SET kept_at_ms = excluded.kept_at_ms";

/// Keeps a secret made now, unless one is kept under its name already.
pub(super) const KEEP_SECRET: &str =
    "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";

pub(super) const SELECT_SECRET: &str = "SELECT value FROM secrets WHERE name = $1";

pub(super) const FILES_SIZE: &str =
    "SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM files WHERE owner = $1";

/// Removes the files uploaded before `$1` that no kept message attaches
/// (deleted messages attach none).
pub(super) fn remove_unused_files(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "DELETE FROM files WHERE uploaded_at_ms < $1 AND id NOT IN (
                 SELECT a.value ->> 'id'
                 FROM messages m, json_each(m.attachments) a
                 WHERE m.attachments IS NOT NULL)"
        }
        Dialect::Postgres => {
            "DELETE FROM files WHERE uploaded_at_ms < $1 AND id NOT IN (
                 SELECT a ->> 'id'
                 FROM messages m, jsonb_array_elements(CAST(m.attachments AS JSONB)) a
                 WHERE m.attachments IS NOT NULL)"
        }
    }
}

/// Removes the bytes no file uses (a content or thumbnail gone with its
/// last file) that were last kept before `$1`, and returns their hashes.
/// The time is checked on the row itself, so bytes claimed for a new file
/// while this runs are not taken from under it.
pub(super) const REMOVE_UNUSED_BYTES: &str =
    "DELETE FROM file_contents WHERE kept_at_ms < $1 AND hash NOT IN (
         SELECT content_hash FROM files
         UNION SELECT thumbnail_hash FROM files WHERE thumbnail_hash IS NOT NULL)
     RETURNING hash";

/// A file from [`FILE_COLUMNS`].
pub(super) fn file_info<R: Columns>(row: &R) -> Result<FileInfo, R::Error> {
    Ok(FileInfo {
        id: row.text(0)?,
        owner: row.text(1)?,
        name: row.text(2)?,
        mime_type: row.text(3)?,
        size: from_sql(row.int(4)?),
        width: u32::try_from(row.int(5)?).unwrap_or(0),
        height: u32::try_from(row.int(6)?).unwrap_or(0),
        uploaded_at_ms: row.int(7)?,
        content_hash: row.text(8)?,
        thumbnail_hash: row.maybe_text(9)?,
    })
}

/// Keeps room `$1`'s newest messages: removes those numbered `$2` or less.
pub(super) const TRIM_ROOM: &str = "DELETE FROM messages WHERE room = $1 AND seq <= $2";

pub(super) const SELECT_ROOM_COUNTERS: &str = "SELECT name, last_seq, messages FROM rooms";

/// The saved rooms, or only room `$1` if it is not NULL.
pub(super) const SELECT_SAVED_ROOMS: &str = "SELECT name, owner, private, direct, topic
     FROM rooms WHERE saved AND (CAST($1 AS TEXT) IS NULL OR name = $1)";

/// The grants of every room, or only of room `$1` if it is not NULL.
pub(super) const SELECT_GRANTS: &str =
    "SELECT room, kind, name FROM room_grants WHERE CAST($1 AS TEXT) IS NULL OR room = $1";

pub(super) const SELECT_ACCOUNTS: &str =
    "SELECT name, password_hash, created_at, locked FROM accounts";
pub(super) const SELECT_ACCOUNT: &str =
    "SELECT name, password_hash, created_at, locked FROM accounts WHERE name = $1";
pub(super) const SELECT_SESSIONS: &str =
    "SELECT token_hash, account, created_at, last_used_at FROM sessions";
pub(super) const SELECT_ACCOUNT_SESSIONS: &str =
    "SELECT token_hash, account, created_at, last_used_at FROM sessions WHERE account = $1";
pub(super) const SELECT_MEMBERSHIPS: &str = "SELECT account, room FROM memberships";
pub(super) const SELECT_READ_MARKERS: &str = "SELECT account, room, seq, ordinal FROM read_markers";
pub(super) const SELECT_NOTIFY_LEVELS: &str = "SELECT account, room, level FROM notify_levels";

const GRANT: &str =
    "INSERT INTO room_grants (room, kind, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

/// A parameter of a statement, in a type both databases bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
    MaybeInt(Option<i64>),
    Flag(bool),
}

/// One statement to run, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Statement {
    pub sql: &'static str,
    pub values: Vec<Value>,
}

fn statement(sql: &'static str, values: Vec<Value>) -> Statement {
    Statement { sql, values }
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

/// What saves `update`, in order.
pub(super) fn room_update(update: RoomUpdate) -> Vec<Statement> {
    match update {
        RoomUpdate::Create(room) => {
            let mut plan = vec![
                statement(
                    "INSERT INTO rooms (name, saved, owner, private, direct, topic)
                     VALUES ($1, TRUE, $2, $3, $4, $5)
                     ON CONFLICT (name) DO UPDATE SET saved = TRUE, owner = $2, private = $3,
                         direct = $4, topic = $5",
                    vec![
                        text(&room.name),
                        Value::MaybeText(room.owner),
                        Value::Flag(room.private),
                        Value::Flag(room.direct),
                        text(room.topic),
                    ],
                ),
                statement(
                    "DELETE FROM room_grants WHERE room = $1",
                    vec![text(&room.name)],
                ),
            ];
            plan.extend(room.grants.into_iter().map(|(grant, name)| {
                statement(
                    GRANT,
                    vec![text(&room.name), text(grant.as_str()), text(name)],
                )
            }));
            plan
        }
        RoomUpdate::SetTopic { room, topic } => vec![statement(
            "UPDATE rooms SET topic = $2 WHERE name = $1",
            vec![text(room), text(topic)],
        )],
        RoomUpdate::SetOwner { room, owner } => vec![statement(
            "UPDATE rooms SET owner = $2 WHERE name = $1",
            vec![text(room), Value::MaybeText(owner)],
        )],
        RoomUpdate::Grant { room, grant, name } => vec![statement(
            GRANT,
            vec![text(room), text(grant.as_str()), text(name)],
        )],
        RoomUpdate::Revoke { room, grant, name } => vec![statement(
            "DELETE FROM room_grants WHERE room = $1 AND kind = $2 AND name = $3",
            vec![text(room), text(grant.as_str()), text(name)],
        )],
        // The room's row stays, with its last sequence number.
        RoomUpdate::Delete(room) => [
            "DELETE FROM messages WHERE room = $1",
            "DELETE FROM room_grants WHERE room = $1",
            "DELETE FROM memberships WHERE room = $1",
            "DELETE FROM read_markers WHERE room = $1",
            "DELETE FROM notify_levels WHERE room = $1",
            "UPDATE rooms SET saved = FALSE, owner = NULL, private = FALSE, direct = FALSE,
                 topic = '' WHERE name = $1",
        ]
        .into_iter()
        .map(|sql| statement(sql, vec![text(&room)]))
        .collect(),
    }
}

/// What stores `change`, in order. An account's sessions and memberships
/// go with it by the schema's `ON DELETE CASCADE`, and the schema refuses
/// those of an account that does not exist.
pub(super) fn account_change(change: AccountChange) -> Vec<Statement> {
    match change {
        AccountChange::CreateAccount(account) => vec![statement(
            "INSERT INTO accounts (name, password_hash, created_at, locked)
             VALUES ($1, $2, $3, $4)",
            vec![
                text(account.name),
                text(account.password_hash),
                Value::Int(account.created_at),
                Value::Flag(account.locked),
            ],
        )],
        AccountChange::SetPassword {
            account,
            password_hash,
        } => vec![statement(
            "UPDATE accounts SET password_hash = $2 WHERE name = $1",
            vec![text(account), text(password_hash)],
        )],
        AccountChange::SetLocked { account, locked } => vec![statement(
            "UPDATE accounts SET locked = $2 WHERE name = $1",
            vec![text(account), Value::Flag(locked)],
        )],
        AccountChange::DeleteAccount(name) => vec![statement(
            "DELETE FROM accounts WHERE name = $1",
            vec![text(name)],
        )],
        AccountChange::SaveSession(session) => vec![statement(
            "INSERT INTO sessions (token_hash, account, created_at, last_used_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (token_hash) DO UPDATE SET last_used_at = excluded.last_used_at",
            vec![
                text(session.token_hash),
                text(session.account),
                Value::Int(session.created_at),
                Value::Int(session.last_used_at),
            ],
        )],
        AccountChange::TouchSessions(uses) => uses
            .into_iter()
            .map(|(token_hash, used_at)| {
                statement(
                    "UPDATE sessions SET last_used_at = $2 WHERE token_hash = $1",
                    vec![text(token_hash), Value::Int(used_at)],
                )
            })
            .collect(),
        AccountChange::DeleteSessions(token_hashes) => token_hashes
            .into_iter()
            .map(|token_hash| {
                statement(
                    "DELETE FROM sessions WHERE token_hash = $1",
                    vec![text(token_hash)],
                )
            })
            .collect(),
        AccountChange::Join { account, room } => vec![statement(
            "INSERT INTO memberships (account, room) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            vec![text(account), text(room)],
        )],
        // What the room told and what was read of it go with the membership.
        AccountChange::Leave { account, room } => [
            "DELETE FROM memberships WHERE account = $1 AND room = $2",
            "DELETE FROM read_markers WHERE account = $1 AND room = $2",
            "DELETE FROM notify_levels WHERE account = $1 AND room = $2",
        ]
        .into_iter()
        .map(|sql| statement(sql, vec![text(&account), text(&room)]))
        .collect(),
        // Forward only, whatever order the changes come in.
        AccountChange::MarkRead(marker) => vec![statement(
            "INSERT INTO read_markers (account, room, seq, ordinal) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, room) DO UPDATE
                 SET seq = excluded.seq, ordinal = excluded.ordinal
                 WHERE read_markers.seq < excluded.seq",
            vec![
                text(marker.account),
                text(marker.room),
                Value::Int(to_sql(marker.seq)),
                Value::Int(to_sql(marker.ordinal)),
            ],
        )],
        AccountChange::SetNotify {
            account,
            room,
            level,
        } => vec![statement(
            "INSERT INTO notify_levels (account, room, level) VALUES ($1, $2, $3)
             ON CONFLICT (account, room) DO UPDATE SET level = excluded.level",
            vec![text(account), text(room), text(level.as_str())],
        )],
    }
}

/// The account a failed `change` was about, to name in its error.
pub(super) fn account_of(change: &AccountChange) -> &str {
    match change {
        AccountChange::CreateAccount(Account { name, .. })
        | AccountChange::SetPassword { account: name, .. }
        | AccountChange::SetLocked { account: name, .. }
        | AccountChange::DeleteAccount(name)
        | AccountChange::SaveSession(StoredSession { account: name, .. })
        | AccountChange::Join { account: name, .. }
        | AccountChange::Leave { account: name, .. }
        | AccountChange::MarkRead(ReadMarker { account: name, .. })
        | AccountChange::SetNotify { account: name, .. } => name,
        AccountChange::TouchSessions(_) | AccountChange::DeleteSessions(_) => "",
    }
}

/// A row of a driver, read by column number.
pub(super) trait Columns {
    type Error;
    /// An integer column of any width.
    fn int(&self, at: usize) -> Result<i64, Self::Error>;
    fn text(&self, at: usize) -> Result<String, Self::Error>;
    fn maybe_text(&self, at: usize) -> Result<Option<String>, Self::Error>;
    fn maybe_int(&self, at: usize) -> Result<Option<i64>, Self::Error>;
    fn flag(&self, at: usize) -> Result<bool, Self::Error>;
}

/// A message or update entry from [`MESSAGE_COLUMNS`].
pub(super) fn message<R: Columns>(row: &R) -> Result<Arc<Message>, R::Error> {
    Ok(Arc::new(Message {
        seq: from_sql(row.int(0)?),
        sent_at_ms: row.int(1)?,
        sender: row.text(2)?,
        text: row.text(3)?,
        client_id: row.maybe_text(4)?,
        origin: Origin::from_code(row.int(5)?),
        reply_to: row.maybe_int(6)?.map(from_sql),
        edited_at_ms: row.maybe_int(7)?,
        deleted: row.flag(8)?,
        deleted_by: row.maybe_text(9)?,
        reactions: decode_reactions(row.maybe_text(10)?),
        mentions: Mentions {
            names: (row.maybe_text(11)?)
                .map(|names| names.split('\t').map(str::to_owned).collect())
                .unwrap_or_default(),
            room: row.flag(12)?,
        },
        ordinal: from_sql(row.maybe_int(13)?.unwrap_or(0)),
        updates: row.maybe_int(14)?.map(from_sql),
        attachments: decode_attachments(row.maybe_text(15)?),
        ..Message::default()
    }))
}

/// An account from [`SELECT_ACCOUNTS`].
pub(super) fn account<R: Columns>(row: &R) -> Result<Account, R::Error> {
    Ok(Account {
        name: row.text(0)?,
        password_hash: row.text(1)?,
        created_at: row.int(2)?,
        locked: row.flag(3)?,
    })
}

/// A session from [`SELECT_SESSIONS`].
pub(super) fn session<R: Columns>(row: &R) -> Result<StoredSession, R::Error> {
    Ok(StoredSession {
        token_hash: row.text(0)?,
        account: row.text(1)?,
        created_at: row.int(2)?,
        last_used_at: row.int(3)?,
    })
}

/// `(account, room)` from [`SELECT_MEMBERSHIPS`].
/// A read marker from [`SELECT_READ_MARKERS`].
pub(super) fn read_marker<R: Columns>(row: &R) -> Result<ReadMarker, R::Error> {
    Ok(ReadMarker {
        account: row.text(0)?,
        room: row.text(1)?,
        seq: from_sql(row.int(2)?),
        ordinal: from_sql(row.int(3)?),
    })
}

/// A notification level from [`SELECT_NOTIFY_LEVELS`]; one this code
/// does not know reads as the default (all).
pub(super) fn notify_level<R: Columns>(row: &R) -> Result<(String, String, NotifyLevel), R::Error> {
    let level = NotifyLevel::parse(&row.text(2)?).unwrap_or(NotifyLevel::All);
    Ok((row.text(0)?, row.text(1)?, level))
}

pub(super) fn membership<R: Columns>(row: &R) -> Result<(String, String), R::Error> {
    Ok((row.text(0)?, row.text(1)?))
}

/// A room's newest sequence number and its count of messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counters {
    pub last_seq: u64,
    pub messages: u64,
}

/// `(room, counters)` from [`SELECT_ROOM_COUNTERS`].
pub(super) fn room_counter<R: Columns>(row: &R) -> Result<(String, Counters), R::Error> {
    let counters = Counters {
        last_seq: from_sql(row.int(1)?),
        messages: from_sql(row.int(2)?),
    };
    Ok((row.text(0)?, counters))
}

/// A saved room, without its grants yet, from [`SELECT_SAVED_ROOMS`].
pub(super) fn saved_room<R: Columns>(row: &R) -> Result<SavedRoom, R::Error> {
    Ok(SavedRoom {
        name: row.text(0)?,
        owner: row.maybe_text(1)?,
        private: row.flag(2)?,
        direct: row.flag(3)?,
        topic: row.text(4)?,
        grants: Vec::new(),
    })
}

/// `(room, kind, name)` from [`SELECT_GRANTS`].
pub(super) fn grant<R: Columns>(row: &R) -> Result<(String, String, String), R::Error> {
    Ok((row.text(0)?, row.text(1)?, row.text(2)?))
}

/// The saved rooms with their grants, by name. A grant of a room not
/// saved, or of a kind this code does not know, is left out.
pub(super) fn with_grants(
    rooms: Vec<SavedRoom>,
    grants: Vec<(String, String, String)>,
) -> Vec<SavedRoom> {
    let mut rooms: BTreeMap<String, SavedRoom> = rooms
        .into_iter()
        .map(|room| (room.name.clone(), room))
        .collect();
    for (room, kind, name) in grants {
        match (rooms.get_mut(&room), Grant::parse(&kind)) {
            (Some(room), Some(grant)) => room.grants.push((grant, name)),
            (None, _) => {}
            (Some(_), None) => tracing::warn!(room, kind, name, "ignoring a grant of unknown kind"),
        }
    }
    rooms.into_values().collect()
}

/// Database integers are signed; sequence numbers stay far below
/// `i64::MAX`.
pub(super) fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
