//! `chat-bench cluster`: the native fan-out load against N chatd nodes on
//! one PostgreSQL and one NATS, all started here on loopback (Debian's
//! `postgresql` and `nats-server`). Subscribers and publishers are spread
//! over the nodes; prints deliveries/s, committed messages/s, latency (all
//! deliveries, and those crossing nodes), and each process's CPU.

use anyhow::bail;
use chat_testkit::nats::Nats;
use chat_testkit::postgres::Postgres;
use clap::Args;

use crate::fanout::{FanoutArgs, Protocol, measure};
use crate::target::{ROOMY, Target, Watched, process_cpu_seconds, tree_cpu_seconds};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Nodes to start.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    #[command(flatten)]
    load: FanoutArgs,
}

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    args.load.check()?;
    if args.load.protocol() != Protocol::Native {
        bail!("a cluster is measured with --protocol native");
    }
    if args.load.target().is_remote() || !(1..=99).contains(&args.nodes) {
        bail!("chat-bench cluster starts its own 1 to 99 nodes: no --server");
    }
    eprintln!("starting PostgreSQL, NATS and {} nodes…", args.nodes);
    let postgres = Postgres::start().await;
    let database = postgres.new_database("bench").await;
    let nats = Nats::start().await;
    let broker = nats.url();
    let flags = [
        ROOMY,
        &[
            "--database-url",
            &database,
            "--nats-url",
            &broker,
            "--admin-socket",
            "off",
        ],
    ]
    .concat();
    let mut nodes = Vec::new();
    for _ in 0..args.nodes {
        nodes.push(args.load.target().spawn(&flags).await?);
    }
    let mut services = Vec::new();
    if let Some(server) = postgres.process() {
        services.push(Watched {
            name: "PostgreSQL".into(),
            cpu_seconds: Box::new(move || tree_cpu_seconds(server)),
        });
    }
    if let Some(pid) = nats.pid() {
        services.push(Watched {
            name: "NATS".into(),
            cpu_seconds: Box::new(move || process_cpu_seconds(pid).unwrap_or(0.0)),
        });
    }
    let target = Target::cluster(nodes, services);
    let figures = measure(&args.load, &target, "").await?;
    println!("{} nodes; {}", args.nodes, args.load.describe());
    figures.print();
    println!(
        "  committed     {:>12.0} messages/s (acknowledged sends: each in a PostgreSQL commit, then published on NATS)",
        figures.sent
    );
    Ok(())
}
