//! The SQLite store under the engine: durable history, retention, schema
//! versions, and failures that lose nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chat_engine::store::SCHEMA_V1;
use chat_engine::{
    Draft, Engine, EngineConfig, EngineError, Entry, HistoryStore, Message, Role, RoomAction,
    SqliteOptions, SqliteStore, Start, StoreError,
};

fn options() -> SqliteOptions {
    SqliteOptions {
        retain_messages: 100_000,
        retain_age: None,
        max_bytes: None,
    }
}

fn engine(dir: &Path, options: SqliteOptions) -> Engine {
    let store = SqliteStore::open(dir, options).expect("open the store");
    Engine::new(EngineConfig::default(), Arc::new(store))
}

fn draft(text: &str) -> Draft {
    Draft {
        sender: "ann".into(),
        origin: chat_engine::Origin::Native,
        text: text.into(),
        client_id: Some(format!("id-{text}")),
        reply_to: None,
        attachments: Vec::new(),
    }
}

fn seqs(messages: &[Arc<Message>]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn history_numbering_and_saved_rooms_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = engine(dir.path(), options());
        engine.names().register_stored("ann").unwrap();
        let room = engine.create_room("dev", "ann", false).await.unwrap();
        for i in 1..=5 {
            assert_eq!(room.post(draft(&i.to_string())).await.unwrap().seq, i);
        }
        engine.room("general").post(draft("g")).await.unwrap();
    }
    let engine = engine(dir.path(), options());
    engine.open_saved_rooms().await.unwrap();
    assert_eq!(
        engine.room_names(),
        ["dev"],
        "only saved rooms reopen by themselves"
    );
    let room = engine.find_room("dev").unwrap();
    assert_eq!(room.last_seq(), 5);
    assert_eq!(
        room.post(draft("6")).await.unwrap().seq,
        6,
        "numbering carries on"
    );
    let history = engine.history_before("dev", 100, 100).await.unwrap();
    assert_eq!(seqs(&history), [1, 2, 3, 4, 5, 6]);
    assert_eq!(history[0].client_id.as_deref(), Some("id-1"));
    assert_eq!(engine.last_seq("general"), 1);
    // A subscriber replays from the store after a restart.
    let mut subscription = room.subscribe(Start::Last(3));
    let mut replayed = Vec::new();
    while replayed.len() < 3 {
        replayed.extend(seqs(&subscription.recv(10).await.unwrap()));
    }
    assert_eq!(replayed, [4, 5, 6]);
}

#[tokio::test]
async fn retention_by_count_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(
        dir.path(),
        SqliteOptions {
            retain_messages: 3,
            ..options()
        },
    );
    let room = engine.room("general");
    for i in 1..=10 {
        room.post(draft(&i.to_string())).await.unwrap();
    }
    assert_eq!(
        seqs(&engine.history_before("general", 100, 100).await.unwrap()),
        [8, 9, 10]
    );
}

#[tokio::test]
async fn retention_by_age_drops_old_messages_but_never_reuses_numbers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path(), options()).unwrap();
        let old = Arc::new(Message {
            seq: 1,
            sent_at_ms: 1_000,
            sender: "ann".into(),
            text: "from 1970".into(),
            origin: chat_engine::Origin::Native,
            ..Message::default()
        });
        let new = Arc::new(Message {
            seq: 2,
            sent_at_ms: i64::MAX / 2,
            ..(*old).clone()
        });
        store
            .append(&[
                ("general", Entry::Message(old.clone())),
                ("general", Entry::Message(new)),
            ])
            .await
            .unwrap();
        let ancient = Arc::new(Message {
            seq: 7,
            ..(*old).clone()
        });
        store
            .append(&[("attic", Entry::Message(ancient))])
            .await
            .unwrap();
    }
    let engine = engine(
        dir.path(),
        SqliteOptions {
            retain_age: Some(Duration::from_secs(365 * 86_400)),
            ..options()
        },
    );
    assert_eq!(
        seqs(&engine.history_before("general", 100, 100).await.unwrap()),
        [2]
    );
    assert!(
        engine
            .history_before("attic", 100, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // Every message of `attic` is gone, yet it goes on from 8.
    assert_eq!(engine.room("attic").post(draft("x")).await.unwrap().seq, 8);
}

#[tokio::test]
async fn a_schema_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = rusqlite::Connection::open(dir.path().join("chat.db")).unwrap();
        db.execute_batch(SCHEMA_V1).unwrap();
        db.execute_batch(
            "INSERT INTO messages VALUES ('general', 1, 1795000000000, 'ann', 'old one');
             INSERT INTO messages VALUES ('general', 2, 1795000000001, 'bob', 'old two');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let engine = engine(dir.path(), options());
    let history = engine.history_before("general", 100, 100).await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["old one", "old two"]
    );
    // The migration counted the history there was.
    let ordinals: Vec<u64> = history.iter().map(|m| m.ordinal).collect();
    assert_eq!(ordinals, [1, 2]);
    let new = engine.room("general").post(draft("new")).await.unwrap();
    assert_eq!((new.seq, new.ordinal), (3, 3));
    let db = rusqlite::Connection::open(dir.path().join("chat.db")).unwrap();
    let version: i64 = db
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 12);
    // The migration indexed the history there was for search.
    let query = chat_engine::SearchQuery {
        terms: vec!["old".into()],
        rooms: vec!["general".into()],
        after: None,
        limit: 10,
    };
    let store = SqliteStore::open(dir.path(), options()).unwrap();
    let hits = chat_engine::HistoryStore::search(&store, &query)
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
}

#[tokio::test]
async fn a_schema_2_database_keeps_the_first_of_ids_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    {
        // What an earlier chatd left: one client id stored twice (a retry
        // after a restart), schema 2.
        let db = rusqlite::Connection::open(dir.path().join("chat.db")).unwrap();
        db.execute_batch(SCHEMA_V1).unwrap();
        db.execute_batch(
            "ALTER TABLE messages ADD COLUMN client_id TEXT;
             CREATE TABLE rooms (name TEXT PRIMARY KEY,
                 last_seq INTEGER NOT NULL DEFAULT 0, saved INTEGER NOT NULL DEFAULT 0);
             INSERT INTO messages VALUES ('general', 1, 1795000000000, 'ann', 'hi', 'ONCE-1');
             INSERT INTO messages VALUES ('general', 2, 1795000000001, 'ann', 'hi', 'ONCE-1');
             INSERT INTO rooms (name, last_seq) VALUES ('general', 2);
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let engine = engine(dir.path(), options());
    let retry = Draft {
        client_id: Some("ONCE-1".into()),
        ..draft("hi")
    };
    assert_eq!(engine.room("general").post(retry).await.unwrap().seq, 1);
}

#[tokio::test]
async fn a_send_retried_after_a_restart_gets_its_first_message_back() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let engine = engine(dir.path(), options());
        engine.room("general").post(draft("once")).await.unwrap()
    };
    let engine = engine(dir.path(), options());
    let room = engine.room("general");
    let again = room.post(draft("once")).await.unwrap();
    assert_eq!((again.seq, again.sent_at_ms), (first.seq, first.sent_at_ms));
    // Concurrent retries of a new id are posted once.
    let tries = futures::future::join_all((0..5).map(|_| room.post(draft("twice")))).await;
    let seqs: Vec<u64> = tries.into_iter().map(|m| m.unwrap().seq).collect();
    assert_eq!(seqs, [2; 5]);
    assert_eq!(room.post(draft("next")).await.unwrap().seq, 3);
}

fn open_error(dir: &Path) -> String {
    match SqliteStore::open(dir, options()) {
        Ok(_) => panic!("opened"),
        Err(StoreError::Unavailable(message)) => message,
        Err(other) => panic!("not an error of opening: {other}"),
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("chat.db")).unwrap();
    db.execute_batch("PRAGMA user_version = 13;").unwrap();
    drop(db);
    let error = open_error(dir.path());
    assert!(
        error.contains("schema version 13, newer than this chatd knows (up to 12)"),
        "{error}"
    );
}

#[test]
fn a_corrupt_database_and_an_unusable_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chat.db"), vec![0x42; 8192]).unwrap();
    let error = open_error(dir.path());
    assert!(error.contains("not a usable database"), "{error}");
    assert!(error.contains("move it aside"), "{error}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let error = open_error(&file);
    assert!(
        error.starts_with("cannot use the data directory"),
        "{error}"
    );
}

#[tokio::test]
async fn a_full_database_fails_sends_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let acknowledged;
    {
        let engine = engine(
            dir.path(),
            SqliteOptions {
                max_bytes: Some(256 * 1024),
                ..options()
            },
        );
        let room = engine.room("general");
        let mut subscription = room.subscribe(Start::Live);
        let text = "x".repeat(4000);
        let mut sent = 0;
        let error = loop {
            let big = Draft {
                client_id: None,
                ..draft(&format!("{sent} {text}"))
            };
            match room.post(big).await {
                Ok(message) => {
                    sent += 1;
                    assert_eq!(message.seq, sent);
                }
                Err(error) => break error,
            }
            assert!(sent < 1000, "a 256 KiB database took 4 MB");
        };
        assert!(
            matches!(&error, EngineError::Store(StoreError::Unavailable(m)) if m.contains("full")),
            "{error}"
        );
        acknowledged = sent;
        // Subscribers saw exactly what was stored, and the room did not move on.
        let mut seen = Vec::new();
        while seen.len() < acknowledged as usize {
            seen.extend(seqs(&subscription.recv(100).await.unwrap()));
        }
        assert_eq!(seen, (1..=acknowledged).collect::<Vec<_>>());
        assert_eq!(room.last_seq(), acknowledged);
    }
    let engine = engine(dir.path(), options());
    let history = engine
        .history_before("general", u64::MAX, 10_000)
        .await
        .unwrap();
    assert_eq!(seqs(&history), (1..=acknowledged).collect::<Vec<_>>());
    assert_eq!(
        engine
            .room("general")
            .post(draft("after"))
            .await
            .unwrap()
            .seq,
        acknowledged + 1
    );
}

#[tokio::test]
async fn roles_bans_mutes_invitations_and_topics_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let open = || async {
        let engine = engine(dir.path(), options());
        for account in ["ann", "bob", "eve"] {
            engine.names().register_stored(account).unwrap();
        }
        engine.open_saved_rooms().await.unwrap();
        engine
    };
    {
        let engine = open().await;
        let room = engine.create_room("ops", "ann", true).await.unwrap();
        room.join("ann").unwrap();
        for action in [
            RoomAction::SetTopic("on call".into()),
            RoomAction::Invite("bob".into()),
            RoomAction::Ban("eve".into()),
            RoomAction::Ban("mallory".into()),
        ] {
            engine.moderate("ops", "ann", action).await.unwrap();
        }
        room.join("bob").unwrap();
        for action in [
            RoomAction::Promote("bob".into()),
            RoomAction::Unban("mallory".into()),
        ] {
            engine.moderate("ops", "ann", action).await.unwrap();
        }
        engine
            .moderate("ops", "ann", RoomAction::TransferOwnership("bob".into()))
            .await
            .unwrap();
        let (direct, created) = engine
            .open_direct("ann", "eve", || "@dm-1".into())
            .await
            .unwrap();
        assert!(created && direct.access().direct);
        engine.create_room("doomed", "ann", false).await.unwrap();
        engine
            .moderate("doomed", "ann", RoomAction::Delete)
            .await
            .unwrap();
    }
    let engine = open().await;
    assert_eq!(
        engine.room_names(),
        ["@dm-1", "ops"],
        "a deleted room stays gone"
    );
    let room = engine.find_room("ops").unwrap();
    let access = room.access().clone();
    assert!(access.private);
    assert_eq!(access.topic, "on call");
    assert_eq!(access.owner.as_deref(), Some("bob"));
    assert_eq!(access.role_of("ann"), Role::Moderator);
    assert!(access.is_banned("EVE") && !access.is_banned("mallory"));
    assert!(access.may_join("bob") && !access.may_join("eve") && !access.may_join("carl"));
    let (direct, created) = engine
        .open_direct("eve", "ann", || "@dm-2".into())
        .await
        .unwrap();
    assert_eq!((direct.name(), created), ("@dm-1", false));
}

#[tokio::test]
async fn a_schema_4_room_made_by_a_guest_has_no_owner_after_migrating() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Made by this chatd, then taken back to schema 4 as an older
        // chatd would have left it.
        drop(SqliteStore::open(dir.path(), options()).unwrap());
        let db = rusqlite::Connection::open(dir.path().join("chat.db")).unwrap();
        db.execute_batch(
            "DROP TABLE secrets;
             DROP INDEX messages_attaching;
             ALTER TABLE messages DROP COLUMN attachments;
             DROP TABLE files;
             DROP TABLE file_contents;
             DROP TABLE search_progress;
             DROP TRIGGER messages_fts_update;
             DROP TRIGGER messages_fts_delete;
             DROP TABLE messages_fts;
             ALTER TABLE messages DROP COLUMN reply_to;
             ALTER TABLE messages DROP COLUMN edited_at_ms;
             ALTER TABLE messages DROP COLUMN deleted;
             ALTER TABLE messages DROP COLUMN deleted_by;
             ALTER TABLE messages DROP COLUMN reactions;
             ALTER TABLE messages DROP COLUMN target;
             DROP INDEX messages_mentioning;
             ALTER TABLE messages DROP COLUMN mentions;
             ALTER TABLE messages DROP COLUMN mentions_room;
             ALTER TABLE messages DROP COLUMN ordinal;
             ALTER TABLE rooms DROP COLUMN messages;
             DROP TABLE read_markers;
             DROP TABLE notify_levels;
             ALTER TABLE rooms RENAME COLUMN owner TO created_by;
             ALTER TABLE rooms DROP COLUMN private;
             ALTER TABLE rooms DROP COLUMN direct;
             ALTER TABLE rooms DROP COLUMN topic;
             DROP TABLE room_grants;
             INSERT INTO accounts VALUES ('ann', 'hash', 0, 0);
             INSERT INTO rooms (name, saved, created_by) VALUES ('annex', 1, 'ann');
             INSERT INTO rooms (name, saved, created_by) VALUES ('guesthouse', 1, 'guest');
             PRAGMA user_version = 4;",
        )
        .unwrap();
    }
    let engine = engine(dir.path(), options());
    engine.open_saved_rooms().await.unwrap();
    let owner = |room: &str| engine.find_room(room).unwrap().access().owner.clone();
    assert_eq!(owner("annex").as_deref(), Some("ann"));
    assert_eq!(owner("guesthouse"), None, "a guest owns no room");
    assert!(!engine.find_room("guesthouse").unwrap().is_private());
}

/// Whether any file in `dir` holds `needle`.
fn any_file_holds(dir: &Path, needle: &[u8]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|file| {
            let path = file.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            bytes
                .windows(needle.len())
                .any(|w| w == needle)
                .then(|| path.display().to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_deleted_message_leaves_no_trace_of_its_text_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "the vault code is 7413-2291";
    {
        let engine = engine(dir.path(), options());
        let room = engine.room("general");
        let sent = room
            .post(Draft {
                client_id: None,
                ..draft(secret)
            })
            .await
            .unwrap();
        for n in 0..20 {
            room.post(draft(&format!("filler {n}"))).await.unwrap();
        }
        assert!(
            !any_file_holds(dir.path(), secret.as_bytes()).is_empty(),
            "the text was stored"
        );
        let ann = chat_engine::Author {
            name: "ann".into(),
            since_ms: 0,
        };
        room.change(&ann, sent.seq, chat_engine::ChangeKind::Delete)
            .await
            .unwrap();
        assert_eq!(
            any_file_holds(dir.path(), secret.as_bytes()),
            Vec::<String>::new(),
            "no file holds the text once it is deleted"
        );
    }
    // And after a restart, the tombstone is all there is.
    let engine = engine(dir.path(), options());
    let history = engine
        .history_before("general", u64::MAX, 100)
        .await
        .unwrap();
    assert!(history[0].deleted && history[0].text.is_empty());
    assert_eq!(
        any_file_holds(dir.path(), secret.as_bytes()),
        Vec::<String>::new()
    );
}
