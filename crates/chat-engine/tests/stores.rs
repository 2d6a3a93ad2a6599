//! The store contract's conformance suite: what every store keeps
//! (`HistoryStore` and `AccountStore`), written once and run against the
//! memory, SQLite and PostgreSQL stores alike. A new store operation gets
//! its case here first.
//!
//! Each case gets a fresh store, and "reopens" it as a restart would: the
//! database stores are dropped and opened again on the same data; the
//! memory store is the same store again (it outlives the engine, not the
//! process).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chat_engine::{
    Account, AccountChange, AccountStore, AccountsSnapshot, Attachment, Change, ChangeKind, Entry,
    FileInfo, Grant, HistoryStore, MemoryStore, Mentions, Message, NotifyLevel, Origin,
    PostgresOptions, PostgresStore, Reaction, ReadMarker, RoomUpdate, SECRET_BYTES, SavedRoom,
    SearchQuery, SentKey, SqliteOptions, SqliteStore, StoreError, StoredSession,
};
use chat_testkit::postgres::Postgres;
use tempfile::TempDir;

/// Messages each store keeps per room in these cases.
const RETAIN: u64 = 5;

trait Store: HistoryStore + AccountStore {}
impl<T: HistoryStore + AccountStore> Store for T {}

/// A store under test, and how to open it again on the same data.
enum Subject {
    Memory(Arc<MemoryStore>),
    Sqlite(TempDir),
    Postgres(String),
}

impl Subject {
    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Subject::Memory(store) => Arc::clone(store) as Arc<dyn Store>,
            Subject::Sqlite(dir) => {
                let options = SqliteOptions {
                    retain_messages: RETAIN,
                    retain_age: None,
                    max_bytes: None,
                };
                Arc::new(SqliteStore::open(dir.path(), options).expect("open SQLite"))
            }
            Subject::Postgres(url) => {
                let options = PostgresOptions {
                    retain_messages: RETAIN,
                    retain_age: None,
                };
                let store = PostgresStore::connect(url, options).await;
                Arc::new(store.expect("connect to PostgreSQL"))
            }
        }
    }
}

type Case = fn(Subject) -> Pin<Box<dyn Future<Output = ()>>>;

/// Every case, by name.
const CASES: &[(&str, Case)] = &[
    ("messages_are_read_back_in_order", |s| {
        Box::pin(messages_are_read_back_in_order(s))
    }),
    ("a_send_is_found_by_its_client_id", |s| {
        Box::pin(a_send_is_found_by_its_client_id(s))
    }),
    ("rooms_and_grants_are_saved", |s| {
        Box::pin(rooms_and_grants_are_saved(s))
    }),
    ("a_deleted_room_takes_its_history_grants_and_members", |s| {
        Box::pin(a_deleted_room_takes_its_history_grants_and_members(s))
    }),
    ("accounts_sessions_and_memberships_are_saved", |s| {
        Box::pin(accounts_sessions_and_memberships_are_saved(s))
    }),
    (
        "a_deleted_account_takes_its_sessions_and_memberships",
        |s| Box::pin(a_deleted_account_takes_its_sessions_and_memberships(s)),
    ),
    ("changes_that_contradict_the_accounts_are_refused", |s| {
        Box::pin(changes_that_contradict_the_accounts_are_refused(s))
    }),
    ("a_change_applies_to_its_message_and_takes_a_place", |s| {
        Box::pin(a_change_applies_to_its_message_and_takes_a_place(s))
    }),
    ("search_finds_text_in_the_rooms_given_newest_first", |s| {
        Box::pin(search_finds_text_in_the_rooms_given_newest_first(s))
    }),
    (
        "files_share_their_bytes_and_go_once_no_message_attaches_them",
        |s| Box::pin(files_share_their_bytes_and_go_once_no_message_attaches_them(s)),
    ),
    ("bytes_stored_while_unused_ones_are_removed_stay", |s| {
        Box::pin(bytes_stored_while_unused_ones_are_removed_stay(s))
    }),
    ("a_secret_is_made_once_and_kept", |s| {
        Box::pin(a_secret_is_made_once_and_kept(s))
    }),
    ("file_bytes_are_read_a_piece_at_a_time", |s| {
        Box::pin(file_bytes_are_read_a_piece_at_a_time(s))
    }),
];

async fn run_every_case(mut subject: impl FnMut(&str) -> Pin<Box<dyn Future<Output = Subject>>>) {
    for (name, case) in CASES {
        eprintln!("case {name}");
        case(subject(name).await).await;
    }
}

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    run_every_case(|_| {
        Box::pin(async { Subject::Memory(Arc::new(MemoryStore::new(RETAIN as usize))) })
    })
    .await;
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_contract() {
    run_every_case(|_| Box::pin(async { Subject::Sqlite(TempDir::new().unwrap()) })).await;
}

#[tokio::test]
async fn the_postgres_store_keeps_the_contract() {
    let postgres = Arc::new(Postgres::start().await);
    run_every_case(|name| {
        let postgres = Arc::clone(&postgres);
        let name = name.to_owned();
        Box::pin(async move { Subject::Postgres(postgres.new_database(&name).await) })
    })
    .await;
}

/// Message `seq` of a room of messages only (its ordinal is its number).
fn message(seq: u64, sender: &str, text: &str, client_id: Option<&str>) -> Arc<Message> {
    Arc::new(Message {
        seq,
        ordinal: seq,
        sent_at_ms: 1_700_000_000_000 + seq as i64,
        sender: sender.into(),
        origin: Origin::Classic,
        text: text.into(),
        client_id: client_id.map(Into::into),
        ..Message::default()
    })
}

/// Appends `messages` to `room` as one batch; checks each keeps its number.
async fn append(store: &dyn Store, room: &str, messages: &[Arc<Message>]) {
    let batch: Vec<(&str, Entry)> = messages
        .iter()
        .map(|m| (room, Entry::Message(Arc::clone(m))))
        .collect();
    let stored = store.append(&batch).await.expect("append");
    let numbers: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    let given: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    assert_eq!(
        numbers, given,
        "a store with one writer keeps the numbers given"
    );
}

/// What a person would compare of a message: everything but wire forms.
type Plain = (
    u64,
    i64,
    String,
    String,
    Option<String>,
    Origin,
    Option<u64>,
    Mentions,
);

fn plain(messages: &[Arc<Message>]) -> Vec<Plain> {
    messages
        .iter()
        .map(|m| {
            let m = m.as_ref();
            (
                m.seq,
                m.sent_at_ms,
                m.sender.clone(),
                m.text.clone(),
                m.client_id.clone(),
                m.origin,
                m.reply_to,
                m.mentions.clone(),
            )
        })
        .collect()
}

/// Message `seq`, answering message `reply_to`.
fn reply(seq: u64, reply_to: u64) -> Arc<Message> {
    let mut answer = Message::clone(&message(seq, "bob", &format!("re {reply_to}"), None));
    answer.reply_to = Some(reply_to);
    Arc::new(answer)
}

fn seqs(messages: &[Arc<Message>]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

async fn messages_are_read_back_in_order(subject: Subject) {
    let store = subject.open().await;
    let first: Vec<_> = (1..=3)
        .map(|n| message(n, "ann", &format!("a{n}"), None))
        .collect();
    append(&*store, "a", &first).await;
    append(&*store, "b", &[message(1, "bob", "b1", Some("x"))]).await;
    let mut second: Vec<_> = (4..=7)
        .map(|n| message(n, "ann", &format!("a{n}"), None))
        .collect();
    // A reply keeps the message it answers; a message whom it mentions.
    second[1] = reply(5, 4);
    let mut mentioning = Message::clone(&second[2]);
    mentioning.mentions = Mentions {
        names: vec!["ann".into(), "민지".into()],
        room: true,
    };
    second[2] = Arc::new(mentioning);
    append(&*store, "a", &second).await;
    let kept = store.read_from("a", 0, 100).await.unwrap();
    assert_eq!(plain(&kept[1..]), plain(&second), "read back as written");
    assert_eq!(
        seqs(&kept),
        [3, 4, 5, 6, 7],
        "the newest {RETAIN} of a room are kept"
    );
    let b = store.read_from("b", 1, 10).await.unwrap();
    assert_eq!(plain(&b), plain(&[message(1, "bob", "b1", Some("x"))]));
    for _reopen in 0..2 {
        assert_eq!(store.last_seq("a"), 7);
        assert_eq!(store.last_seq("b"), 1);
        assert_eq!(store.last_seq("nowhere"), 0);
        assert_eq!(seqs(&store.read_from("a", 5, 2).await.unwrap()), [5, 6]);
        assert_eq!(seqs(&store.read_from("a", 1, 2).await.unwrap()), [3, 4]);
        assert_eq!(seqs(&store.read_before("a", 7, 2).await.unwrap()), [5, 6]);
        assert_eq!(
            seqs(&store.read_before("a", 99, 99).await.unwrap()),
            [3, 4, 5, 6, 7]
        );
        assert!(store.read_before("a", 3, 10).await.unwrap().is_empty());
        assert!(store.read_from("a", 8, 10).await.unwrap().is_empty());
        assert!(store.read_from("nowhere", 0, 10).await.unwrap().is_empty());
        let mentioning = store.read_mentioning("a", 10).await.unwrap();
        assert_eq!(
            plain(&mentioning),
            plain(&second[2..3]),
            "only those that mention"
        );
        assert!(store.read_mentioning("b", 10).await.unwrap().is_empty());
        assert_eq!(
            plain(&store.read_from("a", 0, 100).await.unwrap()),
            plain(&kept)
        );
        store.check().await.expect("the store answers");
    }
    drop(store);
    let store = subject.open().await;
    assert_eq!(
        store.last_seq("a"),
        7,
        "numbering carries on after a reopen"
    );
    assert_eq!(
        plain(&store.read_from("a", 0, 100).await.unwrap()),
        plain(&kept)
    );
}

/// Change number `seq` (after `ordinal` messages) of `kind` to message
/// `target`, by `actor`.
fn change_of((seq, ordinal): (u64, u64), target: u64, actor: &str, kind: ChangeKind) -> Entry {
    Entry::Change {
        seq,
        ordinal,
        change: Arc::new(Change {
            target,
            actor: actor.into(),
            at_ms: 1_800_000_000_000 + seq as i64,
            kind,
        }),
    }
}

fn thumbs_up(remove: bool) -> ChangeKind {
    ChangeKind::React {
        emoji: "👍".into(),
        remove,
    }
}

async fn a_change_applies_to_its_message_and_takes_a_place(subject: Subject) {
    let mut store = subject.open().await;
    let hello = message(1, "ann", "hello", None);
    let world = message(2, "bob", "world", Some("w"));
    append(&*store, "r", &[hello.clone(), world.clone()]).await;
    let changes = [
        change_of((3, 2), 1, "ann", ChangeKind::Edit("hello, edited".into())),
        change_of((4, 2), 1, "bob", thumbs_up(false)),
        change_of((5, 2), 2, "mod", ChangeKind::Delete),
    ];
    // Kept under the room's numbers: none moves, none is left out.
    let batch: Vec<(&str, Entry)> = changes.iter().map(|c| ("r", c.clone())).collect();
    let stored = store.append(&batch).await.expect("append changes");

    let mut edited = Message::clone(&hello);
    edited.text = "hello, edited".into();
    edited.edited_at_ms = Some(1_800_000_000_003);
    let mut thumb = edited.clone();
    thumb.reactions = vec![Reaction {
        emoji: "👍".into(),
        names: vec!["bob".into()],
    }];
    let mut tombstone = Message::clone(&world);
    tombstone.text.clear();
    tombstone.deleted = true;
    tombstone.deleted_by = Some("mod".into());
    let updates = [
        edited.as_update(3, 2),
        thumb.as_update(4, 2),
        tombstone.as_update(5, 2),
    ];
    let updates: Vec<Arc<Message>> = updates.into_iter().map(Arc::new).collect();
    assert_eq!(
        stored, updates,
        "each change comes back with the state it left"
    );

    for _reopen in 0..2 {
        let now = [Arc::new(thumb.clone()), Arc::new(tombstone.clone())];
        assert_eq!(store.last_seq("r"), 5);
        assert_eq!(store.message_count("r"), 2, "changes are no messages");
        assert_eq!(
            store.read_before("r", 99, 10).await.unwrap(),
            now,
            "history is messages as they are now"
        );
        assert_eq!(store.read_before("r", 99, 1).await.unwrap(), now[1..]);
        assert_eq!(store.read_after("r", 0, 10).await.unwrap(), now);
        assert_eq!(store.read_after("r", 1, 10).await.unwrap(), now[1..]);
        let entries = store.read_from("r", 2, 10).await.unwrap();
        // Changes are read with their message's state now.
        let expected = [
            tombstone.clone(),
            thumb.as_update(3, 2),
            thumb.as_update(4, 2),
            tombstone.as_update(5, 2),
        ];
        assert_eq!(entries, expected.map(Arc::new));
        let found = store.find_sent(vec![sent("r", "bob", "w")]).await.unwrap();
        assert_eq!(found, [Some(Arc::new(tombstone.clone()))]);
        drop(store);
        store = subject.open().await;
    }

    // Reactions add up, and one taken back goes.
    append(&*store, "s", std::slice::from_ref(&hello)).await;
    let reactions = [
        change_of((2, 1), 1, "bob", thumbs_up(false)),
        change_of((3, 1), 1, "cy", thumbs_up(false)),
        change_of((4, 1), 1, "cy", thumbs_up(true)),
    ];
    for (reaction, names) in reactions.into_iter().zip([1, 2, 1]) {
        let stored = store.append(&[("s", reaction)]).await.unwrap();
        assert_eq!(stored[0].reactions[0].names.len(), names);
    }
    let mut bobs = Message::clone(&hello);
    bobs.reactions = thumb.reactions.clone();
    assert_eq!(
        store.read_before("s", 99, 10).await.unwrap(),
        [Arc::new(bobs)]
    );

    // A change to a message retention took still takes its place, and
    // reads as a deletion.
    let later: Vec<_> = (5..=9)
        .map(|n| {
            let mut later = Message::clone(&message(n, "cy", "later", None));
            later.ordinal = n - 3;
            Arc::new(later)
        })
        .collect();
    append(&*store, "s", &later).await;
    let late = store
        .append(&[("s", change_of((10, 6), 1, "ann", thumbs_up(false)))])
        .await
        .unwrap();
    for entry in [&late[0], &store.read_from("s", 10, 1).await.unwrap()[0]] {
        let place = (entry.seq, entry.ordinal, entry.updates, entry.deleted);
        assert_eq!(place, (10, 6, Some(1), true));
        assert!(entry.text.is_empty() && entry.reactions.is_empty());
    }
    assert_eq!(store.last_seq("s"), 10);
    assert_eq!(store.message_count("s"), 6);
    drop(store);
    let store = subject.open().await;
    assert_eq!(store.message_count("s"), 6, "after a reopen");
}

fn sent(room: &str, sender: &str, client_id: &str) -> SentKey {
    SentKey {
        room: room.into(),
        sender: sender.into(),
        client_id: client_id.into(),
    }
}

async fn a_send_is_found_by_its_client_id(subject: Subject) {
    let store = subject.open().await;
    let first = message(1, "ann", "hello", Some("id-1"));
    let second = message(2, "bob", "hi", Some("id-1"));
    append(&*store, "r", &[first.clone(), second.clone()]).await;
    let keys = vec![
        sent("r", "ann", "id-1"),
        sent("r", "bob", "id-1"),
        sent("r", "ann", "id-2"),
        sent("other", "ann", "id-1"),
    ];
    let found = |found: Vec<Option<Arc<Message>>>| -> Vec<Option<u64>> {
        found.iter().map(|m| m.as_ref().map(|m| m.seq)).collect()
    };
    let expected = [Some(1), Some(2), None, None];
    assert_eq!(
        found(store.find_sent(keys.clone()).await.unwrap()),
        expected
    );
    drop(store);
    let store = subject.open().await;
    let again = store.find_sent(keys.clone()).await.unwrap();
    assert_eq!(found(again.clone()), expected, "after a reopen");
    assert_eq!(
        plain(&again[0].clone().into_iter().collect::<Vec<_>>()),
        plain(&[first])
    );
    // Once retention removes a message, its id finds nothing.
    let later: Vec<_> = (3..=6).map(|n| message(n, "cy", "later", None)).collect();
    append(&*store, "r", &later).await;
    assert_eq!(
        found(store.find_sent(keys).await.unwrap()),
        [None, Some(2), None, None]
    );
}

fn room(name: &str) -> SavedRoom {
    SavedRoom {
        name: name.into(),
        ..SavedRoom::default()
    }
}

/// The saved rooms, each one's grants in one order.
async fn saved(store: &dyn Store) -> Vec<SavedRoom> {
    let mut rooms = store.saved_rooms().await.unwrap();
    for room in &mut rooms {
        room.grants.sort();
    }
    rooms
}

async fn rooms_and_grants_are_saved(subject: Subject) {
    let store = subject.open().await;
    let lobby = SavedRoom {
        grants: vec![(Grant::Moderator, "bob".into())],
        ..room("lobby")
    };
    let den = SavedRoom {
        owner: Some("ann".into()),
        private: true,
        grants: vec![(Grant::Invited, "cy".into())],
        ..room("den")
    };
    let talk = SavedRoom {
        direct: true,
        grants: vec![
            (Grant::Participant, "ann".into()),
            (Grant::Participant, "bob".into()),
        ],
        ..room("@ann+bob")
    };
    let creates = [&lobby, &den, &talk].map(|r| RoomUpdate::Create(r.clone()));
    store.update_rooms(creates.to_vec()).await.unwrap();
    let grant = |grant, name: &str| RoomUpdate::Grant {
        room: "lobby".into(),
        grant,
        name: name.into(),
    };
    store
        .update_rooms(vec![
            RoomUpdate::SetTopic {
                room: "lobby".into(),
                topic: "welcome".into(),
            },
            RoomUpdate::SetOwner {
                room: "lobby".into(),
                owner: Some("cy".into()),
            },
            grant(Grant::Muted, "dee"),
            grant(Grant::Muted, "dee"),
            grant(Grant::Banned, "eve"),
            RoomUpdate::Revoke {
                room: "lobby".into(),
                grant: Grant::Moderator,
                name: "bob".into(),
            },
            RoomUpdate::SetOwner {
                room: "den".into(),
                owner: None,
            },
        ])
        .await
        .unwrap();
    let lobby = SavedRoom {
        owner: Some("cy".into()),
        topic: "welcome".into(),
        grants: vec![(Grant::Muted, "dee".into()), (Grant::Banned, "eve".into())],
        ..lobby
    };
    let den = SavedRoom { owner: None, ..den };
    let expected = vec![talk, den.clone(), lobby];
    assert_eq!(saved(&*store).await, expected, "by name, as changed");
    drop(store);
    let store = subject.open().await;
    assert_eq!(saved(&*store).await, expected, "after a reopen");
    assert_eq!(store.saved_room("den").await.unwrap(), Some(den));
    assert_eq!(store.saved_room("nowhere").await.unwrap(), None);
}

fn account(name: &str) -> Account {
    Account {
        name: name.into(),
        password_hash: format!("$argon2id$hash-of-{name}"),
        created_at: 1_700_000_000,
        locked: false,
    }
}

fn session(token_hash: &str, account: &str, at: i64) -> StoredSession {
    StoredSession {
        token_hash: token_hash.into(),
        account: account.into(),
        created_at: at,
        last_used_at: at,
    }
}

async fn change(store: &dyn Store, changes: Vec<AccountChange>) {
    for change in changes {
        let what = format!("{change:?}");
        store.change_accounts(change).await.expect(&what);
    }
}

fn join(account: &str, room: &str) -> AccountChange {
    AccountChange::Join {
        account: account.into(),
        room: room.into(),
    }
}

/// Everything about accounts, in one order.
async fn accounts(store: &dyn Store) -> AccountsSnapshot {
    let mut snapshot = store.load_accounts().await.unwrap();
    snapshot.accounts.sort_by(|a, b| a.name.cmp(&b.name));
    snapshot
        .sessions
        .sort_by(|a, b| a.token_hash.cmp(&b.token_hash));
    snapshot.memberships.sort();
    snapshot.read_markers.sort();
    snapshot.notify_levels.sort();
    snapshot
}

/// A marker at `seq`, whose ordinal is `seq * 10` (to tell them apart).
fn marker(account: &str, room: &str, seq: u64) -> ReadMarker {
    ReadMarker {
        account: account.into(),
        room: room.into(),
        seq,
        ordinal: seq * 10,
    }
}

fn mark_read(account: &str, room: &str, seq: u64) -> AccountChange {
    AccountChange::MarkRead(marker(account, room, seq))
}

fn set_notify(account: &str, room: &str, level: NotifyLevel) -> AccountChange {
    AccountChange::SetNotify {
        account: account.into(),
        room: room.into(),
        level,
    }
}

async fn a_deleted_room_takes_its_history_grants_and_members(subject: Subject) {
    let store = subject.open().await;
    change(&*store, vec![AccountChange::CreateAccount(account("ann"))]).await;
    let doomed = SavedRoom {
        grants: vec![(Grant::Moderator, "ann".into())],
        ..room("doomed")
    };
    let updates = vec![RoomUpdate::Create(doomed), RoomUpdate::Create(room("kept"))];
    store.update_rooms(updates).await.unwrap();
    let history: Vec<_> = (1..=3)
        .map(|n| message(n, "ann", "x", Some(&n.to_string())))
        .collect();
    append(&*store, "doomed", &history).await;
    let marks = vec![
        join("ann", "doomed"),
        join("ann", "kept"),
        mark_read("ann", "doomed", 2),
        mark_read("ann", "kept", 1),
        set_notify("ann", "doomed", NotifyLevel::Nothing),
    ];
    change(&*store, marks).await;
    store
        .update_rooms(vec![RoomUpdate::Delete("doomed".into())])
        .await
        .unwrap();
    for _reopen in 0..2 {
        assert_eq!(saved(&*store).await, [room("kept")]);
        assert_eq!(store.saved_room("doomed").await.unwrap(), None);
        assert!(store.read_from("doomed", 0, 10).await.unwrap().is_empty());
        let retried = store.find_sent(vec![sent("doomed", "ann", "1")]).await;
        assert_eq!(retried.unwrap(), [None]);
        let kept = accounts(&*store).await;
        assert_eq!(kept.memberships, [("ann".to_owned(), "kept".to_owned())]);
        assert_eq!(kept.read_markers, [marker("ann", "kept", 1)]);
        assert!(kept.notify_levels.is_empty());
        assert_eq!(store.last_seq("doomed"), 3, "the room's numbering is kept");
    }
    drop(store);
    let store = subject.open().await;
    assert_eq!(store.last_seq("doomed"), 3, "after a reopen too");
    store
        .update_rooms(vec![RoomUpdate::Create(room("doomed"))])
        .await
        .unwrap();
    append(&*store, "doomed", &[message(4, "ann", "anew", None)]).await;
    assert_eq!(seqs(&store.read_from("doomed", 0, 10).await.unwrap()), [4]);
    assert!(
        saved(&*store).await[0].grants.is_empty(),
        "no grant comes back"
    );
}

async fn accounts_sessions_and_memberships_are_saved(subject: Subject) {
    let store = subject.open().await;
    let changes = vec![
        AccountChange::CreateAccount(account("ann")),
        AccountChange::CreateAccount(account("bob")),
        AccountChange::SetPassword {
            account: "ann".into(),
            password_hash: "$argon2id$new".into(),
        },
        AccountChange::SetLocked {
            account: "bob".into(),
            locked: true,
        },
        AccountChange::SaveSession(session("s1", "ann", 10)),
        AccountChange::SaveSession(session("s2", "ann", 20)),
        AccountChange::SaveSession(session("s3", "bob", 30)),
        // Saving a session again records its use; it was made when it was.
        AccountChange::SaveSession(session("s2", "ann", 25)),
        AccountChange::TouchSessions(vec![("s1".into(), 15), ("gone".into(), 1)]),
        AccountChange::DeleteSessions(vec!["s3".into(), "gone".into()]),
        join("ann", "lobby"),
        join("ann", "den"),
        join("ann", "lobby"),
        join("bob", "lobby"),
        // Leaving takes the marker and the level with the membership.
        mark_read("ann", "den", 4),
        set_notify("ann", "den", NotifyLevel::All),
        AccountChange::Leave {
            account: "ann".into(),
            room: "den".into(),
        },
        // A marker moves forward only, whatever order moves come in.
        mark_read("ann", "lobby", 5),
        mark_read("ann", "lobby", 3),
        mark_read("ann", "lobby", 9),
        mark_read("bob", "lobby", 2),
        set_notify("ann", "lobby", NotifyLevel::Mentions),
        set_notify("ann", "lobby", NotifyLevel::Nothing),
        set_notify("bob", "den", NotifyLevel::All),
    ];
    change(&*store, changes).await;
    let ann = Account {
        password_hash: "$argon2id$new".into(),
        ..account("ann")
    };
    let bob = Account {
        locked: true,
        ..account("bob")
    };
    let s1 = StoredSession {
        last_used_at: 15,
        ..session("s1", "ann", 10)
    };
    let s2 = StoredSession {
        last_used_at: 25,
        ..session("s2", "ann", 20)
    };
    let expected = AccountsSnapshot {
        accounts: vec![ann.clone(), bob],
        sessions: vec![s1.clone(), s2.clone()],
        memberships: vec![
            ("ann".into(), "lobby".into()),
            ("bob".into(), "lobby".into()),
        ],
        read_markers: vec![marker("ann", "lobby", 9), marker("bob", "lobby", 2)],
        notify_levels: vec![
            ("ann".into(), "lobby".into(), NotifyLevel::Nothing),
            ("bob".into(), "den".into(), NotifyLevel::All),
        ],
    };
    assert_eq!(accounts(&*store).await, expected);
    drop(store);
    let store = subject.open().await;
    assert_eq!(accounts(&*store).await, expected, "after a reopen");
    let (account, mut sessions) = store.load_account("ann").await.unwrap().expect("ann");
    sessions.sort_by(|a, b| a.token_hash.cmp(&b.token_hash));
    assert_eq!((account, sessions), (ann, vec![s1, s2]));
    assert_eq!(store.load_account("nobody").await.unwrap(), None);
}

async fn a_deleted_account_takes_its_sessions_and_memberships(subject: Subject) {
    let store = subject.open().await;
    let changes = vec![
        AccountChange::CreateAccount(account("ann")),
        AccountChange::CreateAccount(account("bob")),
        AccountChange::SaveSession(session("s1", "ann", 1)),
        AccountChange::SaveSession(session("s2", "bob", 2)),
        join("ann", "lobby"),
        join("bob", "lobby"),
        mark_read("ann", "lobby", 4),
        mark_read("bob", "lobby", 3),
        set_notify("ann", "lobby", NotifyLevel::Mentions),
        AccountChange::DeleteAccount("ann".into()),
    ];
    change(&*store, changes).await;
    let expected = AccountsSnapshot {
        accounts: vec![account("bob")],
        sessions: vec![session("s2", "bob", 2)],
        memberships: vec![("bob".into(), "lobby".into())],
        read_markers: vec![marker("bob", "lobby", 3)],
        notify_levels: Vec::new(),
    };
    assert_eq!(accounts(&*store).await, expected);
    assert_eq!(store.load_account("ann").await.unwrap(), None);
    drop(store);
    let store = subject.open().await;
    assert_eq!(accounts(&*store).await, expected, "after a reopen");
    // The name is free again, with nothing of before.
    change(&*store, vec![AccountChange::CreateAccount(account("ann"))]).await;
    let (_, sessions) = store.load_account("ann").await.unwrap().expect("ann anew");
    assert!(sessions.is_empty());
}

async fn changes_that_contradict_the_accounts_are_refused(subject: Subject) {
    let store = subject.open().await;
    change(&*store, vec![AccountChange::CreateAccount(account("ann"))]).await;
    let before = accounts(&*store).await;
    let twice = AccountChange::CreateAccount(Account {
        password_hash: "$argon2id$other".into(),
        ..account("ann")
    });
    assert_eq!(
        store.change_accounts(twice).await,
        Err(StoreError::AccountExists("ann".into()))
    );
    let ghost = StoreError::NoSuchAccount("ghost".into());
    let session = AccountChange::SaveSession(session("s1", "ghost", 1));
    assert_eq!(store.change_accounts(session).await, Err(ghost.clone()));
    for refused in [
        join("ghost", "lobby"),
        mark_read("ghost", "lobby", 1),
        set_notify("ghost", "lobby", NotifyLevel::All),
    ] {
        assert_eq!(store.change_accounts(refused).await, Err(ghost.clone()));
    }
    assert_eq!(
        accounts(&*store).await,
        before,
        "nothing of the refused changes is kept"
    );
    drop(store);
    let store = subject.open().await;
    assert_eq!(accounts(&*store).await, before, "after a reopen");
}

/// Message `seq` of a room, sent at `at` (so rooms interleave in time).
fn said_at(seq: u64, at: i64, text: &str) -> Arc<Message> {
    Arc::new(Message {
        sent_at_ms: 1_700_000_000_000 + at,
        ..(*message(seq, "ann", text, None)).clone()
    })
}

/// A room of this many messages that no search finds, taken before the
/// others: a store may search differently when the rooms hold many.
const FILLER: u64 = 6_000;

/// Appends a thousand messages to room "filler" from number `first` on.
async fn append_filler(store: &dyn Store, first: u64) {
    let filler: Vec<_> = (first..first + 1_000)
        .map(|seq| said_at(seq, 0, &format!("filler {seq}")))
        .collect();
    append(store, "filler", &filler).await;
}

/// What `terms` finds in `rooms`: `room/seq` of each hit, newest first,
/// page by page of `limit`; the same with the room "filler" searched too.
async fn found(store: &dyn Store, terms: &[&str], rooms: &[&str], limit: usize) -> Vec<String> {
    let hits = found_in(store, terms, rooms, limit).await;
    let with_filler = [rooms, &["filler"]].concat();
    assert_eq!(
        found_in(store, terms, &with_filler, limit).await,
        hits,
        "{terms:?} with a room of many messages searched too"
    );
    hits
}

async fn found_in(store: &dyn Store, terms: &[&str], rooms: &[&str], limit: usize) -> Vec<String> {
    let mut query = SearchQuery {
        terms: terms.iter().map(|t| (*t).to_owned()).collect(),
        rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
        after: None,
        limit,
    };
    let mut hits = Vec::new();
    loop {
        let page = store.search(&query).await.expect("search");
        assert!(page.len() <= limit);
        hits.extend(page.iter().map(|f| format!("{}/{}", f.room, f.message.seq)));
        match page.last() {
            Some(last) if page.len() == limit => query.after = Some(last.place),
            _ => return hits,
        }
    }
}

async fn search_finds_text_in_the_rooms_given_newest_first(subject: Subject) {
    let store = subject.open().await;
    let rooms = ["a", "b", "c", "filler"].map(|name| RoomUpdate::Create(room(name)));
    store.update_rooms(rooms.into()).await.unwrap();
    for first in (1..=FILLER).step_by(1_000) {
        append_filler(&*store, first).await;
    }
    let a = [
        said_at(1, 10, "안녕하세요 여러분"),
        said_at(2, 20, "the address is 12 Main St"),
        said_at(3, 30, "Hello WORLD, 100% sure"),
    ];
    append(&*store, "a", &a).await;
    append(
        &*store,
        "b",
        &[
            said_at(1, 15, "안녕 친구"),
            said_at(2, 25, "address unknown"),
        ],
    )
    .await;
    append(
        &*store,
        "c",
        &[said_at(1, 26, "an address nobody searches")],
    )
    .await;
    // A message deleted at once, before anything else comes.
    append(&*store, "c", &[said_at(2, 27, "the secret plan")]).await;
    let delete = change_of((3, 2), 2, "ann", ChangeKind::Delete);
    store.append(&[("c", delete)]).await.unwrap();
    let ab = ["a", "b"];
    for more_since in [false, true] {
        if more_since {
            // A store may index what it took some time later: it finds
            // the same after more messages came.
            append_filler(&*store, FILLER + 1).await;
        }
        assert!(found(&*store, &["secret"], &["c"], 10).await.is_empty());
        // No spaces needed between words; two characters are a short
        // term, looked for without the index.
        assert_eq!(found(&*store, &["안녕"], &ab, 10).await, ["b/1", "a/1"]);
        assert_eq!(found(&*store, &["녕하세"], &ab, 10).await, ["a/1"]);
        // Only the rooms given; every term; case aside; pages.
        assert_eq!(found(&*store, &["address"], &ab, 1).await, ["b/2", "a/2"]);
        assert_eq!(found(&*store, &["ADDRESS", "main"], &ab, 10).await, ["a/2"]);
        assert_eq!(found(&*store, &["world"], &ab, 10).await, ["a/3"]);
        // LIKE's wildcards are text.
        assert_eq!(found(&*store, &["0%"], &ab, 10).await, ["a/3"]);
        assert_eq!(found(&*store, &["_"], &ab, 10).await, Vec::<String>::new());
    }

    // An edit is found by its new text, a deleted message not at all.
    let changes = [
        change_of((4, 3), 2, "ann", ChangeKind::Edit("moved away".into())),
        change_of((5, 3), 3, "ann", ChangeKind::Delete),
    ];
    let batch: Vec<(&str, Entry)> = changes.iter().map(|c| ("a", c.clone())).collect();
    store.append(&batch).await.expect("append changes");
    assert_eq!(found(&*store, &["address"], &ab, 10).await, ["b/2"]);
    assert_eq!(found(&*store, &["moved"], &ab, 10).await, ["a/2"]);
    assert!(found(&*store, &["world"], &ab, 10).await.is_empty());
    // A deleted room takes its messages out of search.
    store
        .update_rooms(vec![RoomUpdate::Delete("b".into())])
        .await
        .unwrap();
    assert_eq!(found(&*store, &["안녕"], &ab, 10).await, ["a/1"]);
    drop(store);
    let store = subject.open().await;
    assert_eq!(found(&*store, &["away"], &["a", "c"], 10).await, ["a/2"]);
}

/// File `id` of `owner`, uploaded at `at`, with bytes under `hash` (and a
/// thumbnail's under `thumbnail`).
fn file(id: &str, owner: &str, at: i64, hash: &str, thumbnail: Option<&str>) -> FileInfo {
    FileInfo {
        id: id.into(),
        owner: owner.into(),
        name: format!("{id}.png"),
        mime_type: "image/png".into(),
        size: 100 + id.len() as u64,
        width: 640,
        height: 480,
        uploaded_at_ms: at,
        content_hash: hash.into(),
        thumbnail_hash: thumbnail.map(Into::into),
    }
}

fn attachment(file: &FileInfo) -> Attachment {
    Attachment {
        id: file.id.clone(),
        name: file.name.clone(),
        mime_type: file.mime_type.clone(),
        size: file.size,
        width: file.width,
        height: file.height,
    }
}

async fn bytes_of(store: &dyn Store, hash: &str) -> Option<Vec<u8>> {
    store
        .file_bytes(hash, 0, 1 << 20)
        .await
        .unwrap()
        .map(|b| b.to_vec())
}

async fn files_share_their_bytes_and_go_once_no_message_attaches_them(subject: Subject) {
    let store = subject.open().await;
    store
        .update_rooms(vec![RoomUpdate::Create(room("r"))])
        .await
        .unwrap();
    let a = file("a", "ann", 1_000, "aa01", None);
    let same_bytes = file("b", "ann", 1_000, "aa01", None);
    let image = file("c", "bob", 1_000, "cc03", Some("dd04"));
    let recent = file("d", "ann", 5_000, "ee05", None);
    for (info, bytes) in [
        (&a, "hello"),
        (&same_bytes, "hello"),
        (&image, "png"),
        (&recent, "new"),
    ] {
        let thumbnail = info.thumbnail_hash.as_ref().map(|_| "small".into());
        store.put_file(info, bytes.into(), thumbnail).await.unwrap();
    }
    assert_eq!(store.file("a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.file("nothing").await.unwrap(), None);
    assert_eq!(
        bytes_of(&*store, "aa01").await.as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(
        bytes_of(&*store, "dd04").await.as_deref(),
        Some(&b"small"[..])
    );
    assert_eq!(bytes_of(&*store, "0000").await, None);
    assert_eq!(
        store.files_size("ann").await.unwrap(),
        a.size + same_bytes.size + recent.size
    );
    assert_eq!(store.files_size("cleo").await.unwrap(), 0);

    // A message attaches two; an edit keeps them.
    let sent = Arc::new(Message {
        attachments: vec![attachment(&a), attachment(&image)],
        ..(*message(1, "ann", "look", None)).clone()
    });
    append(&*store, "r", &[Arc::clone(&sent)]).await;
    let edit = change_of((2, 1), 1, "ann", ChangeKind::Edit("look at these".into()));
    store.append(&[("r", edit)]).await.unwrap();
    let kept = store.read_before("r", 10, 10).await.unwrap();
    assert_eq!(kept[0].attachments, sent.attachments);

    // The one never attached goes once it is old enough; its bytes stay
    // while another file has them.
    assert_eq!(store.remove_unused_files(2_000).await.unwrap(), 1);
    assert_eq!(store.file("b").await.unwrap(), None);
    assert!(store.file("a").await.unwrap().is_some());
    assert!(bytes_of(&*store, "aa01").await.is_some());

    // Deleted, the message attaches nothing, and its files go.
    let delete = change_of((3, 1), 1, "ann", ChangeKind::Delete);
    store.append(&[("r", delete)]).await.unwrap();
    assert!(
        store.read_before("r", 10, 10).await.unwrap()[0]
            .attachments
            .is_empty()
    );
    assert_eq!(store.remove_unused_files(2_000).await.unwrap(), 2);
    for gone in ["aa01", "cc03", "dd04"] {
        assert_eq!(bytes_of(&*store, gone).await, None, "{gone}");
    }
    drop(store);
    let store = subject.open().await;
    assert_eq!(store.file("d").await.unwrap(), Some(recent));
    assert_eq!(
        bytes_of(&*store, "ee05").await.as_deref(),
        Some(&b"new"[..])
    );
    assert_eq!(store.remove_unused_files(2_000).await.unwrap(), 0);
}

/// A file stored with the same bytes as an old unused one, while unused
/// files are being removed, keeps its bytes (the removal must not take
/// them from under it).
async fn bytes_stored_while_unused_ones_are_removed_stay(subject: Subject) {
    let store = subject.open().await;
    for round in 0..20 {
        let old = file(&format!("old{round}"), "ann", 0, "ab12", None);
        store.put_file(&old, "same".into(), None).await.unwrap();
        let new = file(&format!("new{round}"), "ann", 5_000, "ab12", None);
        let (removed, stored) = tokio::join!(
            store.remove_unused_files(1_000),
            store.put_file(&new, "same".into(), None),
        );
        removed.unwrap();
        stored.unwrap();
        assert!(store.file(&new.id).await.unwrap().is_some());
        assert_eq!(
            bytes_of(&*store, "ab12").await.as_deref(),
            Some(&b"same"[..]),
            "round {round}"
        );
        // The new file goes too, for the next round.
        store.remove_unused_files(10_000).await.unwrap();
    }
}

async fn a_secret_is_made_once_and_kept(subject: Subject) {
    let store = subject.open().await;
    let links = store.secret("links").await.unwrap();
    assert_eq!(links.len(), SECRET_BYTES);
    assert!(links.iter().any(|&byte| byte != 0), "{links:?}");
    let other = store.secret("other").await.unwrap();
    assert_ne!(links, other, "each name has its own");
    // Asked at once (two nodes starting together), both get the one kept.
    let (first, second) = tokio::join!(store.secret("race"), store.secret("race"));
    assert_eq!(first.unwrap(), second.unwrap());
    drop(store);
    let reopened = subject.open().await;
    assert_eq!(reopened.secret("links").await.unwrap(), links);
}

async fn file_bytes_are_read_a_piece_at_a_time(subject: Subject) {
    let store = subject.open().await;
    let info = file("f", "ann", 0, "cd34", None);
    store
        .put_file(&info, "0123456789".into(), None)
        .await
        .unwrap();
    let piece = |from, len| {
        let store = Arc::clone(&store);
        async move { store.file_bytes("cd34", from, len).await.unwrap() }
    };
    assert_eq!(piece(0, 4).await.as_deref(), Some(&b"0123"[..]));
    assert_eq!(piece(4, 4).await.as_deref(), Some(&b"4567"[..]));
    assert_eq!(piece(8, 4).await.as_deref(), Some(&b"89"[..]));
    assert_eq!(piece(10, 4).await.as_deref(), Some(&b""[..]));
    assert_eq!(piece(99, 4).await.as_deref(), Some(&b""[..]));
    assert_eq!(store.file_bytes("ef56", 0, 4).await.unwrap(), None);
}
