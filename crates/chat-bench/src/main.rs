//! `chat-bench`: measures chatd and prints the figures.

mod store;

use clap::{Parser, Subcommand};

/// Benchmarks for chatd. Each prints its figures as a table.
#[derive(Debug, Parser)]
#[command(name = "chat-bench", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// How many messages a second the history store commits, by number of
    /// concurrent senders, against the in-memory store (in-process, no
    /// network).
    Store(store::StoreArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Store(args) => store::run(args).await,
    }
}
