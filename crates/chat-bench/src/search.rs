//! `chat-bench search`: what a search costs over a large history. It fills
//! a store (SQLite here, or the PostgreSQL database given) with messages of
//! words drawn from a mixed English and Korean vocabulary, then times the
//! store's search, the call `SearchMessages` makes, for queries from rare
//! to common, in every room, in ten and in one.

use std::sync::Arc;
use std::time::Instant;

use chat_engine::{
    Entry, HistoryStore, Message, Origin, PostgresOptions, PostgresStore, SearchQuery,
    SqliteOptions, SqliteStore,
};
use clap::Args;
use hdrhistogram::Histogram;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Messages to fill the store with, spread over `--rooms`.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// Searches of each kind, one after another.
    #[arg(long, short = 'n', default_value_t = 200)]
    count: usize,
    /// A PostgreSQL database to fill and search instead of SQLite: empty,
    /// or filled by an earlier run with the same `--messages` and
    /// `--rooms` (searched again as it is).
    #[arg(long)]
    database_url: Option<String>,
    /// Fill SQLite in this folder, and keep it (to look at its size, or
    /// its index with `sqlite3`), rather than in a temporary one.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

/// Words messages are made of: English words of several frequencies and
/// Korean ones, which have no spaces inside to split on.
const WORDS: &[&str] = &[
    "the",
    "a",
    "is",
    "to",
    "and",
    "of",
    "in",
    "it",
    "you",
    "that",
    "meeting",
    "lunch",
    "deploy",
    "build",
    "review",
    "address",
    "tomorrow",
    "station",
    "coffee",
    "server",
    "release",
    "ticket",
    "안녕하세요",
    "감사합니다",
    "회의",
    "점심",
    "서울역",
    "내일",
    "주소",
    "배포",
    "커피",
    "여러분",
];

/// A small deterministic generator (the same history every run).
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// Message `n` (of room number `room`): 4 to 15 words; common words
    /// come up more often (the square of a uniform pick favours the start
    /// of the list), and one message in 10,000 has the rare word.
    fn message(&mut self, n: usize, room: usize) -> String {
        let count = 4 + self.next() % 12;
        let mut words: Vec<String> = (0..count)
            .map(|_| {
                let pick = (self.next() % 1000) as f64 / 1000.0;
                WORDS[(pick * pick * WORDS.len() as f64) as usize].to_owned()
            })
            .collect();
        if n % 10_000 == 7 {
            words.push("zanzibar".into());
        }
        // Common, but never in the first ten rooms: a search there must
        // look past every one of its matches.
        if n % 10 == 3 && room >= 10 {
            words.push("elsewhere".into());
        }
        words.join(" ")
    }
}

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = args.data_dir.as_deref().unwrap_or(temporary.path());
    let (store, kind): (Arc<dyn HistoryStore>, &str) = match &args.database_url {
        Some(url) => {
            let options = PostgresOptions {
                retain_messages: args.messages as u64,
                retain_age: None,
            };
            (
                Arc::new(PostgresStore::connect(url, options).await?),
                "PostgreSQL",
            )
        }
        None => {
            let options = SqliteOptions {
                retain_messages: args.messages as u64,
                retain_age: None,
                max_bytes: None,
            };
            (Arc::new(SqliteStore::open(dir, options)?), "SQLite")
        }
    };
    let filled = Instant::now();
    // A database an earlier run filled to the same sizes is searched as it
    // is (filling PostgreSQL takes minutes).
    let per_room = (args.messages / args.rooms) as u64;
    let reused = store.last_seq(&room(args.rooms - 1)) == per_room;
    if !reused {
        fill(&*store, &args).await?;
    }
    let fill_secs = filled.elapsed().as_secs_f64();
    let how = match reused {
        true => "as an earlier run filled them".to_owned(),
        false => format!(
            "filled at {:.0} messages/s",
            args.messages as f64 / fill_secs
        ),
    };
    println!(
        "{} messages in {} rooms ({kind}), {how}; {} searches of each kind",
        args.messages, args.rooms, args.count
    );
    if args.database_url.is_none() {
        let bytes: u64 = std::fs::read_dir(dir)?
            .filter_map(|file| file.ok()?.metadata().ok())
            .map(|meta| meta.len())
            .sum();
        println!("  data folder: {} MiB", bytes / (1 << 20));
    }
    let all: Vec<String> = (0..args.rooms).map(room).collect();
    let ten: Vec<String> = all.iter().take(10).cloned().collect();
    let one: Vec<String> = all.iter().take(1).cloned().collect();
    let kinds: [(&str, &[&str]); 7] = [
        ("rare word (1 in 10,000 messages)", &["zanzibar"]),
        ("common word", &["meeting"]),
        ("two words", &["deploy", "tomorrow"]),
        ("Korean, inside words", &["서울"]),
        ("Korean, 3 characters", &["안녕하"]),
        ("very common short word", &["the"]),
        ("a common word the rooms lack", &["elsewhere"]),
    ];
    for (rooms, within) in [
        (&all, "every room"),
        (&ten, "ten rooms"),
        (&one, "one room"),
    ] {
        println!("  in {within}:");
        for (what, terms) in kinds {
            time(&*store, what, terms, rooms, args.count).await?;
        }
    }
    Ok(())
}

fn room(i: usize) -> String {
    format!("room{i:04}")
}

/// Appends the history, a batch of a thousand at a time, round the rooms.
async fn fill(store: &dyn HistoryStore, args: &SearchArgs) -> anyhow::Result<()> {
    let mut words = Words(7);
    let per_room = args.messages / args.rooms;
    let start = 1_790_000_000_000_i64;
    for seq in 1..=per_room as u64 {
        let names: Vec<String> = (0..args.rooms).map(room).collect();
        let messages: Vec<(String, Entry)> = names
            .into_iter()
            .enumerate()
            .map(|(r, name)| {
                let n = (seq as usize - 1) * args.rooms + r;
                let message = Message {
                    seq,
                    ordinal: seq,
                    sent_at_ms: start + n as i64,
                    sender: "writer".into(),
                    origin: Origin::Native,
                    text: words.message(n, r),
                    ..Message::default()
                };
                (name, Entry::Message(Arc::new(message)))
            })
            .collect();
        for chunk in messages.chunks(1000) {
            let batch: Vec<(&str, Entry)> = chunk
                .iter()
                .map(|(room, entry)| (room.as_str(), entry.clone()))
                .collect();
            store.append(&batch).await?;
        }
    }
    Ok(())
}

/// Times `count` searches of `terms` in `rooms` (a first page of 20).
async fn time(
    store: &dyn HistoryStore,
    what: &str,
    terms: &[&str],
    rooms: &[String],
    count: usize,
) -> anyhow::Result<()> {
    let query = SearchQuery {
        terms: terms.iter().map(|t| (*t).to_owned()).collect(),
        rooms: rooms.to_vec(),
        after: None,
        limit: 20,
    };
    let mut latency = Histogram::<u64>::new(3)?;
    let mut hits = 0;
    for _ in 0..count {
        let began = Instant::now();
        hits = store.search(&query).await?.len();
        latency.record(began.elapsed().as_micros() as u64)?;
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1e3;
    println!(
        "    {what:<34} p50 {:>7.2} ms  p99 {:>7.2} ms  ({hits} hits on the first page)",
        ms(0.5),
        ms(0.99)
    );
    Ok(())
}
