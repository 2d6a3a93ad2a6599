//! `chat-bench soak`: the classic fan-out load, measured once calm and once
//! while hostile clients attack the same server, to show what the attack
//! costs the well-behaved clients.
//!
//! The attackers come from loopback addresses of their own (127.0.0.2 and
//! up), as strangers would, so the server's per-address limits apply to
//! them and not to the load. They ask for history replies and classic
//! streams and never read them, and hold connections that never speak
//! HTTP/2. Everything is bounded: a fixed number of calls and connections,
//! dropped when the run ends.

use std::collections::VecDeque;
use std::time::Duration;

use chat_proto::chat::v1 as native;
use chat_proto::classic::chat_server_client::ChatServerClient;
use chat_proto::classic::{Empty, Note};
use chat_testkit::hostile::{self, H2Attacker, Reading, attacker_ip};
use clap::Args;
use tokio::net::TcpStream;

use crate::fanout::{self, FanoutArgs, Figures};
use crate::target::Target;

#[derive(Debug, Args)]
pub struct SoakArgs {
    #[command(flatten)]
    load: FanoutArgs,
    /// Attacker connections of each kind (unread history replies, unread
    /// classic streams), each with as many calls as the server allows.
    #[arg(long, default_value_t = 8)]
    attack_connections: usize,
    /// Calls each attacker connection opens and never reads.
    #[arg(long, default_value_t = 200)]
    attack_calls: usize,
    /// Connections held open that never start HTTP/2, renewed as they go.
    #[arg(long, default_value_t = 1000)]
    idle_connections: usize,
    /// Notes of 4 KB put in history first, for the attackers to ask for.
    #[arg(long, default_value_t = 1000)]
    history: usize,
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    args.load.check()?;
    let target = Target::start(args.load.target(), &[]).await?;
    eprintln!("filling history with {} notes of 4 KB…", args.history);
    fill_history(&target, args.history).await?;

    eprintln!("calm run…");
    let calm = fanout::measure(&args.load, &target, "calm-").await?;
    let before = target.memory_kib();

    eprintln!("starting the attack…");
    let attack = Attack::start(&target, &args).await?;
    eprintln!(
        "attacking: {} unread calls on {} connections, {} idle connections",
        attack.calls, attack.connections, attack.idle
    );
    let attacked = fanout::measure(&args.load, &target, "attacked-").await?;
    let during = target.memory_kib();
    drop(attack);

    println!("{}", args.load.describe());
    println!("calm:");
    calm.print();
    println!(
        "under attack ({} connections x {} unread history replies and classic streams, {} idle connections):",
        args.attack_connections, args.attack_calls, args.idle_connections
    );
    attacked.print();
    print_cost(&calm, &attacked, before, during);
    Ok(())
}

fn print_cost(
    calm: &Figures,
    attacked: &Figures,
    before: Option<(u64, u64)>,
    during: Option<(u64, u64)>,
) {
    println!(
        "  cost          deliveries {:+.0}%, p99 {:.3} -> {:.3} ms",
        100.0 * (attacked.delivered / calm.delivered - 1.0),
        calm.p99,
        attacked.p99
    );
    if let (Some((rss_before, _)), Some((rss_during, _))) = (before, during) {
        println!(
            "  chatd memory  {:.1} MiB before the attack, {:.1} MiB during it",
            rss_before as f64 / 1024.0,
            rss_during as f64 / 1024.0
        );
    }
}

/// Sends `notes` notes of about 4 KB to the classic room.
async fn fill_history(target: &Target, notes: usize) -> anyhow::Result<()> {
    let mut client = ChatServerClient::new(fanout::connect(target.classic).await?);
    let body = "h".repeat(4000);
    for i in 0..notes {
        client
            .send_note(Note {
                name: "soak-history".into(),
                message: format!("{i} {body}"),
            })
            .await?;
    }
    Ok(())
}

/// Hostile clients at work until dropped.
struct Attack {
    _unread: Vec<H2Attacker>,
    idle_renewal: tokio::task::JoinHandle<()>,
    calls: usize,
    connections: usize,
    idle: usize,
}

impl Attack {
    async fn start(target: &Target, args: &SoakArgs) -> anyhow::Result<Self> {
        let mut login = native::chat_service_client::ChatServiceClient::new(
            fanout::connect(target.native).await?,
        );
        let token = login
            .login(native::LoginRequest {
                name: "soak-attacker".into(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .session_token;
        let history = native::GetHistoryRequest {
            room: "general".into(),
            position: None,
            limit: 500,
        };
        let mut unread = Vec::new();
        let mut calls = 0;
        for c in 0..args.attack_connections {
            let mut replies =
                H2Attacker::connect(attacker_ip(0), target.native, Reading::NoSocket).await?;
            let mut streams =
                H2Attacker::connect(attacker_ip(1), target.classic, Reading::NoSocket).await?;
            // As many as the server lets a connection open.
            let most = args.attack_calls.min(replies.max_streams().await);
            for _ in 0..most {
                replies
                    .call("/chat.v1.ChatService/GetHistory", &history, Some(&token))
                    .await?;
                streams
                    .call("/grpc.ChatServer/ChatStream", &Empty {}, None)
                    .await?;
                calls += 2;
            }
            eprintln!("  attacker connection pair {c}: {most} calls each");
            unread.push(replies);
            unread.push(streams);
        }
        let idle_renewal = tokio::spawn(hold_idle(target.native, args.idle_connections));
        Ok(Attack {
            _unread: unread,
            idle_renewal,
            calls,
            connections: 2 * args.attack_connections,
            idle: args.idle_connections,
        })
    }
}

impl Drop for Attack {
    fn drop(&mut self) {
        self.idle_renewal.abort();
    }
}

/// Keeps about `count` connections open that never start HTTP/2, from
/// several addresses, opening new ones as the oldest are dropped.
async fn hold_idle(server: std::net::SocketAddr, count: usize) {
    const ADDRESSES: u8 = 16;
    let mut held: VecDeque<TcpStream> = VecDeque::with_capacity(count);
    let mut next = 0u8;
    loop {
        for _ in 0..count / 10 {
            if let Ok(tcp) = hostile::connect_from(attacker_ip(2 + next % ADDRESSES), server).await
            {
                held.push_back(tcp);
            }
            next = next.wrapping_add(1);
            while held.len() > count {
                held.pop_front();
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
