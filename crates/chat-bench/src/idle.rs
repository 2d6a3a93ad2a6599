//! `chat-bench idle`: how many idle subscribers a server holds, and what
//! each costs it in memory.

use std::time::{Duration, Instant};

use chat_proto::classic::Empty;
use chat_proto::classic::chat_server_client::ChatServerClient;
use clap::Args;

use crate::fanout::connect;
use crate::target::{ROOMY, Target, TargetArgs};

#[derive(Debug, Args)]
pub struct IdleArgs {
    /// Idle classic subscribers to open.
    #[arg(long, short = 's', default_value_t = 10_000)]
    subscribers: usize,
    /// Connections they share.
    #[arg(long, short = 'c', default_value_t = 100)]
    connections: usize,
    /// How long to hold them once open, before measuring.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    hold: Duration,
    #[command(flatten)]
    target: TargetArgs,
}

pub async fn run(args: IdleArgs) -> anyhow::Result<()> {
    let target = Target::start(&args.target, ROOMY).await?;
    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        channels.push(connect(target.classic).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = target.memory_kib();
    let started = Instant::now();
    let mut streams = Vec::with_capacity(args.subscribers);
    for i in 0..args.subscribers {
        let mut client = ChatServerClient::new(channels[i % channels.len()].clone());
        streams.push(client.chat_stream(Empty {}).await?.into_inner());
        if (i + 1) % 10_000 == 0 {
            eprintln!("  {} subscribers open", i + 1);
        }
    }
    let opened_in = started.elapsed();
    tokio::time::sleep(args.hold).await;
    let after = target.memory_kib();
    println!(
        "{} idle classic subscribers over {} connections, opened in {:.1} s",
        streams.len(),
        channels.len(),
        opened_in.as_secs_f64()
    );
    match before.zip(after) {
        Some(((before, _), (after, peak))) => {
            let per = (after.saturating_sub(before) as f64 * 1024.0) / streams.len() as f64;
            println!(
                "  chatd memory  {:.1} MiB before, {:.1} MiB with them (peak {:.1} MiB): {per:.0} bytes per subscriber",
                before as f64 / 1024.0,
                after as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
        None => println!("  chatd memory  not visible: give --pid"),
    }
    Ok(())
}
