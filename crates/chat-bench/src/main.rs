//! `chat-bench`: measures chatd and prints the figures.

mod attention;
mod bare_h2;
mod changes;
mod cluster;
mod fanout;
mod files;
mod idle;
mod login;
mod raw_reader;
mod rooms;
mod search;
mod soak;
mod store;
mod target;

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
    /// Fan-out: deliveries per second and send-to-receive latency.
    Fanout(fanout::FanoutArgs),
    /// A bare HTTP/2 relay of the classic protocol on the `h2` crate
    /// alone, which `fanout --protocol bare-h2` starts: the floor under
    /// chatd's figures.
    BareH2(bare_h2::BareH2Args),
    /// Idle subscribers held, and the server's memory per subscriber.
    Idle(idle::IdleArgs),
    /// The classic fan-out load, calm and while hostile clients attack the
    /// same server: what the attack costs the well-behaved clients.
    Soak(soak::SoakArgs),
    /// The cost of a login: a guest's, and an account's (an Argon2id
    /// check), one at a time and several at once.
    Login(login::LoginArgs),
    /// The cost of a new connection, plaintext and with a TLS handshake.
    Handshake(login::HandshakeArgs),
    /// The cost of private rooms and moderation on a server full of rooms:
    /// moderating, listing, subscribing, opening a direct conversation.
    Rooms(rooms::RoomsArgs),
    /// The native fan-out load against a cluster of nodes on PostgreSQL
    /// and NATS, all started here: rates, latency within and across
    /// nodes, and each process's CPU.
    Cluster(cluster::ClusterArgs),
    /// What an edit, a reaction and a deletion cost next to a send.
    Changes(changes::ChangesArgs),
    /// What unread and mention counts cost: readers in many rooms of a
    /// large history list their rooms and open event streams.
    Attention(attention::AttentionArgs),
    /// What a search costs over a large history, on SQLite or PostgreSQL,
    /// for queries from rare to common.
    Search(search::SearchArgs),
    /// What sharing files costs: uploads of files and photos, and fetches
    /// by link.
    Files(files::FilesArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Store(args) => store::run(args).await,
        Command::Fanout(args) => fanout::run(args).await,
        Command::BareH2(args) => bare_h2::run(args).await,
        Command::Changes(args) => changes::run(args).await,
        Command::Attention(args) => attention::run(args).await,
        Command::Search(args) => search::run(args).await,
        Command::Files(args) => files::run(args).await,
        Command::Cluster(args) => cluster::run(args).await,
        Command::Idle(args) => idle::run(args).await,
        Command::Soak(args) => soak::run(args).await,
        Command::Login(args) => login::run_login(args).await,
        Command::Handshake(args) => login::run_handshake(args).await,
        Command::Rooms(args) => rooms::run(args).await,
    }
}
