//! Helpers shared by chatd's integration tests: the workspace's test kit,
//! plus protocol test clients and Python interop.

#![allow(dead_code, unused_imports)] // each test file uses its own subset

pub mod files;
pub mod lobby;
pub mod native;
pub mod pages;
pub mod python;

pub use chat_testkit::*;

use std::net::SocketAddr;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A `chatd` binary running as a child process, killed when dropped.
pub struct ChatdProcess {
    pub child: Child,
    pub classic: SocketAddr,
    pub native: SocketAddr,
    agent: SocketAddr,
    /// Its log lines, from the first.
    log: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl ChatdProcess {
    /// Starts the `chatd` binary on loopback ports with `flags` and `envs`,
    /// and learns the classic protocol's address from its log.
    pub async fn spawn(flags: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::spawn_with(flags, envs, ChildSetup::default()).await
    }

    /// As [`spawn`](Self::spawn), in the process settings of `setup`.
    pub async fn spawn_with(flags: &[&str], envs: &[(&str, &str)], setup: ChildSetup) -> Self {
        // The hostile tests hold hundreds of sockets on this side, two tests
        // at a time: room for them, whatever the machine's soft limit.
        let _ = rlimit::increase_nofile_limit(u64::MAX);
        let mut command = Command::new(env!("CARGO_BIN_EXE_chatd"));
        // SAFETY: setrlimit and umask are async-signal-safe; nothing else
        // runs between fork and exec.
        unsafe {
            command.pre_exec(move || setup.apply());
        }
        let mut child = command
            .args(LOOPBACK)
            .args(UNTHROTTLED)
            .args(in_memory_unless_given_a_data_dir(flags))
            .args(flags)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn chatd");
        let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
        let (lines, log_lines) = tokio::sync::mpsc::unbounded_channel();
        let (native, classic, agent) = tokio::time::timeout(PATIENCE, async {
            let (mut native, mut classic) = (None, None);
            while let Some(line) = log.next_line().await.expect("read chatd log") {
                let _ = lines.send(line.clone());
                if line.contains("native protocol listening") {
                    native = Some(listen_addr(&line));
                }
                if line.contains("classic protocol listening") {
                    classic = Some(listen_addr(&line));
                }
                if line.contains("lobby Agent listening") {
                    let first = "native and classic listen first";
                    return (
                        native.expect(first),
                        classic.expect(first),
                        listen_addr(&line),
                    );
                }
            }
            panic!("chatd exited before listening");
        })
        .await
        .expect("chatd did not start listening");
        // Keep draining the log so chatd never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = log.next_line().await {
                let _ = lines.send(line);
            }
        });
        ChatdProcess {
            child,
            classic,
            native,
            agent,
            log: log_lines,
        }
    }

    /// Waits for a log line containing `needle` and returns it; fails the
    /// test if chatd exits or says nothing of the kind within [`PATIENCE`].
    pub async fn wait_for_log(&mut self, needle: &str) -> String {
        tokio::time::timeout(PATIENCE, async {
            while let Some(line) = self.log.recv().await {
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("chatd's log ended without {needle:?}");
        })
        .await
        .unwrap_or_else(|_| panic!("chatd did not log {needle:?}"))
    }

    /// The log lines written so far that were not waited for.
    pub fn log_so_far(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.log.try_recv().ok()).collect()
    }

    /// Where the lobby protocol's Agent listens.
    pub fn agent(&self) -> SocketAddr {
        self.agent
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("chatd is running")
    }

    /// Resident memory of the process, from /proc, in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Peak resident memory of the process, from /proc, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// File descriptors the process holds open.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |entries| entries.count())
    }

    /// CPU time (user and system) the process has used, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        // USER_HZ is 100 on Linux.
        ticks / 100.0
    }
}

/// Process settings a spawned `chatd` starts with.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChildSetup {
    /// The open-file limit, soft and hard.
    pub open_files: Option<u64>,
    /// The file mode creation mask.
    pub umask: Option<u32>,
}

impl ChildSetup {
    fn apply(self) -> std::io::Result<()> {
        if let Some(limit) = self.open_files {
            rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit)?;
        }
        if let Some(mask) = self.umask {
            // SAFETY: umask cannot fail and touches nothing but the mask.
            unsafe { libc::umask(mask) };
        }
        Ok(())
    }
}

fn listen_addr(line: &str) -> SocketAddr {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("addr="))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in log line {line:?}"))
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
