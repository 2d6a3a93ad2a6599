//! The server under test: one started here, or one already running.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, bail};
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Measure a server already running at this address (its classic port
    /// for `--protocol classic`, its native port for `native`) instead of
    /// starting a chatd.
    #[arg(long)]
    server: Option<SocketAddr>,
    /// With `--server`, that server's native port, for benchmarks that use
    /// both protocols (`soak`); default: `--server`.
    #[arg(long, requires = "server")]
    native_server: Option<SocketAddr>,
    /// With `--server`, the server's process id, to report its CPU time
    /// and memory.
    #[arg(long, requires = "server")]
    pid: Option<u32>,
    /// The chatd binary to start (default: the one next to chat-bench).
    #[arg(long)]
    chatd: Option<PathBuf>,
}

impl TargetArgs {
    /// Whether the server is one already running, not started here.
    pub fn is_remote(&self) -> bool {
        self.server.is_some()
    }
}

/// Room for the benchmarks' many streams per connection and connections
/// from one address.
pub const ROOMY: &[&str] = &[
    "--max-streams-per-connection",
    "1000000",
    "--max-connections-per-address",
    "1000000",
];

/// A server to measure, and how to watch it.
pub struct Target {
    pub classic: SocketAddr,
    pub native: SocketAddr,
    pid: Option<u32>,
    _child: Option<Child>,
}

impl Target {
    /// Starts chatd on loopback (history in memory, no replay, no send
    /// limits) with `flags` too, or takes the running server given.
    pub async fn start(args: &TargetArgs, flags: &[&str]) -> anyhow::Result<Self> {
        if let Some(server) = args.server {
            return Ok(Target {
                classic: server,
                native: args.native_server.unwrap_or(server),
                pid: args.pid,
                _child: None,
            });
        }
        let chatd = match &args.chatd {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("chatd"),
        };
        let mut child = Command::new(&chatd)
            .args([
                "--in-memory",
                "--history-replay",
                "0",
                "--max-sends-per-second",
                "4000000000",
                "--max-legacy-sends-per-second",
                "4000000000",
                "--max-logins-per-second",
                "4000000000",
            ])
            .args(flags)
            .args([
                "--native-addr",
                "127.0.0.1:0",
                "--classic-addr",
                "127.0.0.1:0",
            ])
            .args([
                "--agent-addr",
                "127.0.0.1:0",
                "--heartbeat-addr",
                "127.0.0.1:0",
            ])
            .args(["--lobby-addr", "127.0.0.1:0", "--channel-ports", "0"])
            .args(["--log", "warn,chatd=info"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", chatd.display()))?;
        let mut log = BufReader::new(child.stderr.take().expect("piped")).lines();
        let (mut native, mut classic) = (None, None);
        while native.is_none() || classic.is_none() {
            let Some(line) = log.next_line().await? else {
                bail!("chatd exited before listening");
            };
            let addr = || {
                line.split_whitespace()
                    .find_map(|field| field.strip_prefix("addr="))
                    .and_then(|addr| addr.parse().ok())
            };
            if line.contains("native protocol listening") {
                native = addr();
            } else if line.contains("classic protocol listening") {
                classic = addr();
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
        Ok(Target {
            classic: classic.expect("read above"),
            native: native.expect("read above"),
            pid: child.id(),
            _child: Some(child),
        })
    }

    /// The server's CPU time so far, in seconds, if it can be seen.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid?)).ok()?;
        // Fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / clock_ticks_per_second())
    }

    /// Resident memory now and at its peak, in KiB, if it can be seen.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }
}

/// Linux's USER_HZ: 100 on every platform it runs on today.
fn clock_ticks_per_second() -> f64 {
    100.0
}
