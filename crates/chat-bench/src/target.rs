//! The server under test: one started here, or one already running.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Args)]
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
    /// Run the server on these CPUs only (`taskset` syntax: `1`, `2-3`),
    /// so that it and the load generator do not share cores.
    #[arg(long)]
    server_cpus: Option<String>,
    /// Run chat-bench itself on these CPUs only.
    #[arg(long)]
    bench_cpus: Option<String>,
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

/// A server to measure, and how to watch it; or the nodes of a cluster.
pub struct Target {
    pub classic: SocketAddr,
    pub native: SocketAddr,
    /// Every node's native address, `native` first.
    pub native_nodes: Vec<SocketAddr>,
    pid: Option<u32>,
    /// Processes whose CPU time is read one by one (a cluster's).
    watched: Vec<Watched>,
    _children: Vec<Child>,
}

/// A process (or process group) whose CPU time is watched, by name.
pub struct Watched {
    pub name: String,
    pub cpu_seconds: Box<dyn Fn() -> f64 + Send + Sync>,
}

/// A `chatd` started here.
pub struct Started {
    pub child: Child,
    pub native: SocketAddr,
    pub classic: SocketAddr,
}

impl Target {
    /// Starts chatd on loopback (history in memory, no replay, no send
    /// limits) with `flags` too, or takes the running server given.
    pub async fn start(args: &TargetArgs, flags: &[&str]) -> anyhow::Result<Self> {
        if let Some(cpus) = &args.bench_cpus {
            pin(std::process::id(), cpus).await?;
        }
        if let Some(server) = args.server {
            if let (Some(cpus), Some(pid)) = (&args.server_cpus, args.pid) {
                pin(pid, cpus).await?;
            }
            let native = args.native_server.unwrap_or(server);
            return Ok(Target {
                classic: server,
                native,
                native_nodes: vec![native],
                pid: args.pid,
                watched: Vec::new(),
                _children: Vec::new(),
            });
        }
        Self::spawned(args, &[&["--in-memory"], flags].concat()).await
    }

    /// Starts chatd on loopback keeping its data in SQLite in `dir`, with
    /// `flags` too (no server already running: the data is made here).
    pub async fn stored(args: &TargetArgs, dir: &Path, flags: &[&str]) -> anyhow::Result<Self> {
        if args.is_remote() {
            bail!("this benchmark fills a data folder and starts chatd on it: leave out --server");
        }
        let dir = dir.to_str().context("a data folder named in UTF-8")?;
        Self::spawned(args, &[&["--data-dir", dir], flags].concat()).await
    }

    async fn spawned(args: &TargetArgs, flags: &[&str]) -> anyhow::Result<Self> {
        let started = args.spawn(flags).await?;
        if let (Some(cpus), Some(pid)) = (&args.server_cpus, started.child.id()) {
            pin(pid, cpus).await?;
        }
        Ok(Target {
            classic: started.classic,
            native: started.native,
            native_nodes: vec![started.native],
            pid: started.child.id(),
            watched: Vec::new(),
            _children: vec![started.child],
        })
    }

    /// A `redis-server` (the program `program`) started on loopback,
    /// without persistence, for the same load over Redis PUB/SUB; or the
    /// running one given with `--server`.
    pub async fn redis(args: &TargetArgs, program: &Path) -> anyhow::Result<Self> {
        if args.server.is_some() {
            return Self::start(args, &[]).await;
        }
        if let Some(cpus) = &args.bench_cpus {
            pin(std::process::id(), cpus).await?;
        }
        // Redis cannot be told to take any free port.
        let port = chat_testkit::free_port();
        let child = Command::new(program)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (Debian: apt-get install redis-server)",
                    program.display()
                )
            })?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if !chat_testkit::wait_until_listening(port).await {
            bail!("{} did not listen on {addr}", program.display());
        }
        Self::other_server(args, child, addr).await
    }

    /// A bare HTTP/2 relay of the classic protocol (`chat-bench bare-h2`)
    /// started on loopback.
    pub async fn bare_h2(args: &TargetArgs) -> anyhow::Result<Self> {
        if args.is_remote() {
            bail!("the bare HTTP/2 relay is started here: leave out --server");
        }
        if let Some(cpus) = &args.bench_cpus {
            pin(std::process::id(), cpus).await?;
        }
        let mut child = Command::new(std::env::current_exe()?)
            .arg("bare-h2")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start chat-bench bare-h2")?;
        let mut said = BufReader::new(child.stdout.take().expect("piped")).lines();
        let addr = said
            .next_line()
            .await?
            .context("chat-bench bare-h2 exited before listening")?
            .parse()
            .context("chat-bench bare-h2's address")?;
        Self::other_server(args, child, addr).await
    }

    /// `child`, a server other than chatd listening at `addr`, on the
    /// CPUs asked for.
    async fn other_server(
        args: &TargetArgs,
        child: Child,
        addr: SocketAddr,
    ) -> anyhow::Result<Self> {
        if let (Some(cpus), Some(pid)) = (&args.server_cpus, child.id()) {
            pin(pid, cpus).await?;
        }
        Ok(Target {
            classic: addr,
            native: addr,
            native_nodes: vec![addr],
            pid: child.id(),
            watched: Vec::new(),
            _children: vec![child],
        })
    }

    /// The nodes of a cluster, started here, each watched, and `others`
    /// (the services they share).
    pub fn cluster(nodes: Vec<Started>, others: Vec<Watched>) -> Self {
        let mut watched: Vec<Watched> = nodes
            .iter()
            .enumerate()
            .filter_map(|(n, node)| {
                let pid = node.child.id()?;
                Some(Watched {
                    name: format!("node {n}"),
                    cpu_seconds: Box::new(move || process_cpu_seconds(pid).unwrap_or(0.0)),
                })
            })
            .collect();
        watched.extend(others);
        Target {
            classic: nodes[0].classic,
            native: nodes[0].native,
            native_nodes: nodes.iter().map(|node| node.native).collect(),
            pid: None,
            watched,
            _children: nodes.into_iter().map(|node| node.child).collect(),
        }
    }

    /// The CPU time so far of each watched process, by name.
    pub fn watched_cpu_seconds(&self) -> Vec<(String, f64)> {
        self.watched
            .iter()
            .map(|watched| (watched.name.clone(), (watched.cpu_seconds)()))
            .collect()
    }

    /// The server's CPU time so far, in seconds, if it can be seen.
    pub fn cpu_seconds(&self) -> Option<f64> {
        process_cpu_seconds(self.pid?)
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

impl TargetArgs {
    /// Starts chatd on loopback (no replay, no send limits) with `flags`
    /// too.
    pub async fn spawn(&self, flags: &[&str]) -> anyhow::Result<Started> {
        let chatd = match &self.chatd {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("chatd"),
        };
        let mut child = Command::new(&chatd)
            .args([
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
        Ok(Started {
            child,
            native: native.expect("read above"),
            classic: classic.expect("read above"),
        })
    }
}

/// Fields of `/proc/PID/stat` after the command name (which is in
/// parentheses and may hold spaces): the state is field 0.
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

/// User and system time in seconds from stat fields.
fn cpu_of(fields: &[String]) -> Option<f64> {
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks_per_second())
}

/// A process's CPU time so far, in seconds.
/// Keeps every thread of process `pid` on `cpus` (with `taskset`).
async fn pin(pid: u32, cpus: &str) -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args(["--all-tasks", "--pid", "--cpu-list", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .await
        .context("cannot run taskset (util-linux)")?;
    if !status.success() {
        bail!("taskset could not pin process {pid} to CPUs {cpus}");
    }
    Ok(())
}

pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    cpu_of(&stat_fields(&pid.to_string())?)
}

/// The CPU time so far of process `root` and its live descendants (a
/// server and the workers it forked, which may be in sessions of their
/// own), in seconds.
pub fn tree_cpu_seconds(root: u32) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    // (pid, parent, cpu) of every process.
    let processes: Vec<(u32, u32, f64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let fields = stat_fields(&pid.to_string())?;
            Some((pid, fields.get(1)?.parse().ok()?, cpu_of(&fields)?))
        })
        .collect();
    let mut tree = vec![root];
    let mut total = 0.0;
    while let Some(pid) = tree.pop() {
        for &(child, parent, cpu) in &processes {
            if child == pid {
                total += cpu;
            }
            if parent == pid {
                tree.push(child);
            }
        }
    }
    total
}

/// Linux's USER_HZ: 100 on every platform it runs on today.
fn clock_ticks_per_second() -> f64 {
    100.0
}
