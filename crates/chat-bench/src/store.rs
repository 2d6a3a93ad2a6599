//! `chat-bench store`: the engine's send path with each history store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chat_engine::{
    Draft, Engine, EngineConfig, HistoryStore, MemoryStore, SqliteOptions, SqliteStore,
};
use clap::Args;

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Numbers of concurrent senders to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    senders: Vec<usize>,
    /// How long each measurement runs (after a warm-up of a tenth of it).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 100)]
    message_bytes: usize,
    /// Where the SQLite database goes (default: a temporary directory).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

pub async fn run(args: StoreArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    println!(
        "{:<8} {:>8} {:>14} {:>12}",
        "store", "senders", "messages/s", "of memory"
    );
    for &senders in &args.senders {
        let memory = Arc::new(MemoryStore::new(100_000));
        let memory_rate = measure(memory, senders, &args).await;
        println!(
            "{:<8} {senders:>8} {memory_rate:>14.0} {:>12}",
            "memory", "100%"
        );
        let sqlite_dir = dir.join(format!("senders-{senders}"));
        let sqlite = Arc::new(SqliteStore::open(
            &sqlite_dir,
            SqliteOptions {
                retain_messages: 100_000,
                retain_age: None,
                max_bytes: None,
            },
        )?);
        let sqlite_rate = measure(sqlite, senders, &args).await;
        println!(
            "{:<8} {senders:>8} {sqlite_rate:>14.0} {:>11.1}%",
            "sqlite",
            100.0 * sqlite_rate / memory_rate
        );
    }
    Ok(())
}

/// Messages a second posted (and, for a durable store, committed) by
/// `senders` tasks posting back to back to one room.
async fn measure(store: Arc<dyn HistoryStore>, senders: usize, args: &StoreArgs) -> f64 {
    let engine = Engine::new(EngineConfig::default(), store);
    let room = engine.room("bench");
    let text = "x".repeat(args.message_bytes);
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let (room, text) = (Arc::clone(&room), text.clone());
            let (counting, stop, posted) = (
                Arc::clone(&counting),
                Arc::clone(&stop),
                Arc::clone(&posted),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let draft = Draft {
                        sender: format!("sender-{s}"),
                        origin: chat_engine::Origin::Native,
                        text: text.clone(),
                        client_id: None,
                        reply_to: None,
                        attachments: Vec::new(),
                    };
                    room.post(draft).await.expect("post");
                    if counting.load(Ordering::Relaxed) {
                        posted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(args.duration / 10).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(args.duration).await;
    let counted = posted.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    counted as f64 / elapsed.as_secs_f64()
}
