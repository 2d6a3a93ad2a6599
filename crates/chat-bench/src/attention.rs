//! `chat-bench attention`: what unread and mention counts cost. A reader's
//! `ListRooms` and the `RoomJoined` burst of a new event stream carry the
//! reader's counts for every room it is in; they are timed for readers in
//! 100, 1,000 and 10,000 rooms, on a server whose SQLite history holds a
//! million messages that every reader has left unread, half of them
//! mentioning it (the worst case: each room's list of mentions is full).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, ensure};
use chat_engine::{
    AccountChange, AccountStore, Entry, HistoryStore, Mentions, Message, Origin, ReadMarker,
    RoomUpdate, SavedRoom, SqliteOptions, SqliteStore,
};
use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use chat_proto::chat::v1::{
    ListRoomsRequest, LoginRequest, RegisterRequest, Room, SubscribeRequest, event,
};
use clap::Args;
use futures::StreamExt;
use tonic::transport::Channel;

use crate::fanout::{authorized, connect};
use crate::login::time;
use crate::target::{Target, TargetArgs};

const PASSWORD: &str = "a benchmark's password";

#[derive(Debug, Args)]
pub struct AttentionArgs {
    /// Rooms each reader is in, one reader each, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    rooms_per_reader: Vec<usize>,
    /// Messages of history, spread evenly over `--history-rooms`.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// The rooms that hold the history (the first rooms every reader is
    /// in).
    #[arg(long, default_value_t = 1000)]
    history_rooms: usize,
    /// Calls of each kind per reader, one after another.
    #[arg(long, short = 'n', default_value_t = 20)]
    count: usize,
    #[command(flatten)]
    target: TargetArgs,
}

fn reader(rooms: usize) -> String {
    format!("reader{rooms}")
}

fn room(i: usize) -> String {
    format!("room{i:05}")
}

pub async fn run(args: AttentionArgs) -> anyhow::Result<()> {
    let rooms = args.rooms_per_reader.iter().copied().max().unwrap_or(0);
    ensure!(
        args.history_rooms > 0 && args.history_rooms <= rooms,
        "--history-rooms must be between 1 and the most rooms a reader is in"
    );
    let data = tempfile::tempdir()?;
    let most = (rooms + 10).to_string();
    let flags = [
        "--max-rooms",
        most.as_str(),
        "--max-rooms-per-user",
        most.as_str(),
        "--retain-age",
        "forever",
    ];
    // The readers' accounts, registered by chatd (with their password
    // hashes); the rest is written straight into the database.
    {
        let target = Target::stored(&args.target, data.path(), &flags).await?;
        let mut client = ChatServiceClient::new(connect(target.native).await?);
        for &n in &args.rooms_per_reader {
            let name = reader(n);
            let password = PASSWORD.into();
            client.register(RegisterRequest { name, password }).await?;
        }
    }
    let filled = Instant::now();
    fill(&args, data.path(), rooms).await?;
    eprintln!("filled in {:.1} s", filled.elapsed().as_secs_f64());

    let started = Instant::now();
    let target = Target::stored(&args.target, data.path(), &flags).await?;
    println!(
        "{} messages in {} rooms (SQLite), all unread, half of them mentioning the reader; \
         {} calls of each kind one after another",
        args.messages, args.history_rooms, args.count
    );
    println!(
        "  chatd started on it in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let channel = connect(target.native).await?;
    for &n in &args.rooms_per_reader {
        measure(&target, &channel, n, args.count).await?;
    }
    if let Some((now, peak)) = target.memory_kib() {
        println!(
            "  chatd memory: {} MiB now, {} MiB at peak",
            now / 1024,
            peak / 1024
        );
    }
    Ok(())
}

/// Writes the rooms, the history, and each reader's memberships and read
/// markers (at the start of every room) into the database in `dir`.
async fn fill(args: &AttentionArgs, dir: &std::path::Path, rooms: usize) -> anyhow::Result<()> {
    let options = SqliteOptions {
        retain_messages: args.messages as u64,
        retain_age: None,
        max_bytes: None,
    };
    let store = Arc::new(SqliteStore::open(dir, options)?);
    let saved = (0..rooms)
        .map(|i| {
            RoomUpdate::Create(SavedRoom {
                name: room(i),
                owner: None,
                private: false,
                direct: false,
                topic: String::new(),
                grants: Vec::new(),
            })
        })
        .collect();
    store.update_rooms(saved).await?;
    let readers: Vec<String> = args.rooms_per_reader.iter().map(|&n| reader(n)).collect();
    let per_room = args.messages / args.history_rooms;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    for i in 0..args.history_rooms {
        let name = room(i);
        let messages: Vec<Arc<Message>> = (1..=per_room as u64)
            .map(|seq| {
                // Every message mentions someone; every other one the
                // readers.
                let names = match seq % 2 {
                    0 => readers.clone(),
                    _ => vec!["someone".to_owned()],
                };
                Arc::new(Message {
                    seq,
                    ordinal: seq,
                    sent_at_ms: now - (per_room as i64 - seq as i64),
                    sender: "writer".into(),
                    origin: Origin::Native,
                    text: format!("message {seq} of {name}"),
                    mentions: Mentions { names, room: false },
                    ..Message::default()
                })
            })
            .collect();
        let batch: Vec<(&str, Entry)> = (messages.iter())
            .map(|m| (name.as_str(), Entry::Message(Arc::clone(m))))
            .collect();
        store.append(&batch).await?;
    }
    for &n in &args.rooms_per_reader {
        for i in 0..n {
            let (account, room) = (reader(n), room(i));
            let join = AccountChange::Join {
                account: account.clone(),
                room: room.clone(),
            };
            store.change_accounts(join).await?;
            let marker = ReadMarker {
                account,
                room,
                seq: 0,
                ordinal: 0,
            };
            store
                .change_accounts(AccountChange::MarkRead(marker))
                .await?;
        }
    }
    Ok(())
}

/// Times the reader in `rooms` rooms: `ListRooms` (every page) and a new
/// event stream up to its last `RoomJoined`.
async fn measure(
    target: &Target,
    channel: &Channel,
    rooms: usize,
    count: usize,
) -> anyhow::Result<()> {
    let mut client = ChatServiceClient::new(channel.clone());
    let login = LoginRequest {
        name: reader(rooms),
        password: PASSWORD.into(),
    };
    let token = client.login(login).await?.into_inner().session_token;
    let first = list_rooms(client.clone(), &token).await?;
    let counted = first.iter().find(|r| r.name == room(0)).context("room 0")?;
    println!(
        "reader in {rooms} rooms (of {} listed): room 0 shows {} unread, {} mentions",
        first.len(),
        counted.unread_count,
        counted.mention_count
    );
    let listed = time(target, count, 1, {
        let (client, token) = (client.clone(), token.clone());
        move |_| {
            let (client, token) = (client.clone(), token.clone());
            async move { list_rooms(client, &token).await.map(drop) }
        }
    })
    .await?;
    listed.print("ListRooms, every page");
    let subscribed = time(target, count, 1, move |_| {
        let (mut client, token) = (client.clone(), token.clone());
        async move {
            let request = authorized(SubscribeRequest::default(), &token);
            let mut events = client.subscribe(request).await?.into_inner();
            let mut joined = 0;
            while joined < rooms {
                let event = events.next().await.context("the stream ended")??;
                if let Some(event::Event::RoomJoined(_)) = event.event {
                    joined += 1;
                }
            }
            Ok(())
        }
    })
    .await?;
    subscribed.print("Subscribe, to the last RoomJoined");
    Ok(())
}

/// Every room listed, page by page.
async fn list_rooms(
    mut client: ChatServiceClient<Channel>,
    token: &str,
) -> anyhow::Result<Vec<Room>> {
    let mut rooms = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListRoomsRequest {
            page_size: 0,
            page_token,
        };
        let page = client
            .list_rooms(authorized(request, token))
            .await?
            .into_inner();
        rooms.extend(page.rooms);
        if page.next_page_token.is_empty() {
            return Ok(rooms);
        }
        page_token = page.next_page_token;
    }
}
