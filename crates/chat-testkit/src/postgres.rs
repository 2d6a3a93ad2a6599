//! A PostgreSQL server of a test's own, from Debian's `postgresql`
//! package: a fresh cluster in a temporary directory, on a free loopback
//! port, trusting local connections, stopped (and removed) when dropped.
//! As root, the server runs as the `postgres` user (it refuses root).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{PATIENCE, free_port};

pub struct Postgres {
    server: Option<Child>,
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    /// Makes a cluster and starts its server; waits until it takes
    /// connections.
    pub async fn start() -> Self {
        let bin = binaries();
        let dir = tempfile::Builder::new()
            .prefix("chat-pg-")
            .tempdir()
            .expect("a temporary directory");
        // The server's own user must reach into it.
        set_mode(dir.path(), 0o777);
        let data = dir.path().join("data");
        let status = as_server_user(&bin.join("initdb"))
            .args([
                "--auth=trust",
                "--username=postgres",
                "--no-sync",
                "--encoding=UTF8",
            ])
            .arg("--pgdata")
            .arg(&data)
            .stdout(Stdio::null())
            .status()
            .expect("initdb runs (is Debian's postgresql installed?)");
        assert!(status.success(), "initdb failed");
        let mut postgres = Postgres {
            server: None,
            dir,
            bin,
            port: free_port(),
        };
        postgres.start_server().await;
        postgres
    }

    /// A connection string for `database`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={database}",
            self.port
        )
    }

    /// Creates a database of its own for a test; returns its URL.
    pub async fn new_database(&self, name: &str) -> String {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect to postgres");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create a database");
        self.url(name)
    }

    /// The process the server and its backends descend from, to watch
    /// their CPU time.
    pub fn process(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// Stops the server abruptly (SIGKILL to it and its backends), as a
    /// crash would.
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            // The server leads a process group of its own (with `runuser`
            // in front of it, as root): the whole group goes.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", server.id())])
                .status();
            let _ = server.wait();
        }
    }

    /// Starts the server again after [`kill`](Self::kill), on the same
    /// port and data.
    pub async fn restart(&mut self) {
        self.kill();
        self.start_server().await;
    }

    async fn start_server(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // After a kill, the old server's backends may hold its shared
            // memory for a moment: the new one then exits, and is started
            // again.
            let exited = self
                .server
                .as_mut()
                .is_none_or(|server| server.try_wait().is_ok_and(|status| status.is_some()));
            if exited {
                self.server = Some(self.spawn_server());
            }
            match tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls).await {
                Ok(_) => return,
                Err(error) if Instant::now() > deadline => {
                    panic!("postgres did not start: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn spawn_server(&self) -> Child {
        use std::os::unix::process::CommandExt;
        as_server_user(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "max_connections=200", "-c", "fsync=on"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("postgres starts")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where Debian keeps the server's programs (`/usr/lib/postgresql/N/bin`),
/// or `CHAT_TEST_PG_BIN`.
fn binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("CHAT_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Debian's postgresql package is installed (or CHAT_TEST_PG_BIN is set)")
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL server under /usr/lib/postgresql")
}

/// `program`, run as the `postgres` user when this process is root.
fn as_server_user(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"));
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .expect("set the directory's mode");
}
