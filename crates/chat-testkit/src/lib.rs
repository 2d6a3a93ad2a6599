//! Test helpers for every crate that talks to `chatd`: a server on
//! loopback port 0, in this process or as a child process; classic-protocol
//! client helpers; and a proxy that can cut or silence connections.

pub mod hostile;
pub mod metrics;
pub mod nats;
pub mod postgres;
pub mod proxy;

use std::net::SocketAddr;
use std::time::Duration;

use chat_proto::classic::chat_server_client::ChatServerClient;
use chat_proto::classic::{Empty, Note};
use chatd::{Chatd, Config, ListenAddrs, Reloader};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::{Status, Streaming};

/// How long a test waits for something that should happen promptly before
/// it gives up and fails. Not a performance bound.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A loopback port free now, for a server that must be told its port
/// rather than take any (another process may take it first: rare).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// Waits, for at most [`PATIENCE`], until a server takes connections on
/// loopback `port`; whether one did.
pub async fn wait_until_listening(port: u16) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Flags that put every listener of a `chatd` on a free loopback port.
pub const LOOPBACK: &[&str] = &[
    "--native-addr",
    "127.0.0.1:0",
    "--classic-addr",
    "127.0.0.1:0",
    "--agent-addr",
    "127.0.0.1:0",
    "--heartbeat-addr",
    "127.0.0.1:0",
    "--lobby-addr",
    "127.0.0.1:0",
    "--channel-ports",
    "0,0,0,0",
    "--advertised-host",
    "127.0.0.1",
];

/// Test servers take logins and classic and lobby notes as fast as tests
/// make them; tests of those limits set their own.
pub const UNTHROTTLED: &[&str] = &[
    "--max-legacy-sends-per-second",
    "1000000",
    "--max-logins-per-second",
    "1000000",
];

/// `--in-memory`, unless `flags` name a data directory or a database:
/// tests keep history on disk only when they test that.
pub fn in_memory_unless_given_a_data_dir(flags: &[&str]) -> &'static [&'static str] {
    if flags.contains(&"--data-dir") || flags.contains(&"--database-url") {
        &[]
    } else {
        &["--in-memory"]
    }
}

/// Where a test server's protocols listen: it serves them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addrs {
    pub native: SocketAddr,
    pub classic: SocketAddr,
    pub agent: SocketAddr,
    pub heartbeat: SocketAddr,
    pub lobby: SocketAddr,
    pub channels: Vec<SocketAddr>,
    /// Prometheus metrics, with `--metrics-addr`.
    pub metrics: Option<SocketAddr>,
}

impl From<ListenAddrs> for Addrs {
    fn from(addrs: ListenAddrs) -> Self {
        let lobby = addrs.lobby.expect("test servers serve the lobby protocol");
        Addrs {
            native: addrs.native,
            classic: addrs
                .classic
                .expect("test servers serve the classic protocol"),
            agent: lobby.agent,
            heartbeat: lobby.heartbeat,
            lobby: lobby.lobby,
            channels: lobby.channels,
            metrics: addrs.metrics,
        }
    }
}

/// A `chatd` served from this process on loopback port 0.
pub struct TestServer {
    pub classic: SocketAddr,
    pub addrs: Addrs,
    pub engine: chat_engine::Engine,
    reloader: Reloader,
    shutdown: CancellationToken,
    serving: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl TestServer {
    /// Starts a server with default settings plus `flags`.
    pub async fn start(flags: &[&str]) -> Self {
        let server = Chatd::bind(Self::config(flags)).await.expect("bind");
        let addrs = Addrs::from(server.addrs());
        let classic = addrs.classic;
        let engine = server.engine().clone();
        let reloader = server.reloader();
        let shutdown = CancellationToken::new();
        let serving = tokio::spawn(server.run(shutdown.clone()));
        TestServer {
            classic,
            addrs,
            engine,
            reloader,
            shutdown,
            serving: Some(serving),
        }
    }

    /// The settings of a test server with `flags`.
    fn config(flags: &[&str]) -> Config {
        let mut args = vec!["chatd"];
        args.extend_from_slice(LOOPBACK);
        args.extend_from_slice(UNTHROTTLED);
        args.extend_from_slice(in_memory_unless_given_a_data_dir(flags));
        args.extend_from_slice(flags);
        chatd::config_file::load(args).expect("valid test settings")
    }

    /// Hands the running server the settings of `flags`, as SIGHUP does.
    pub fn reload(&self, flags: &[&str]) {
        self.reloader.reload(Self::config(flags));
    }

    /// A classic client on a connection of its own.
    pub async fn classic_client(&self) -> ChatServerClient<Channel> {
        classic_client(self.classic).await
    }

    /// Subscribers currently open on the classic room.
    pub fn classic_subscribers(&self) -> usize {
        self.engine
            .find_room("general")
            .map_or(0, |room| room.subscriber_count())
    }

    /// Waits until the classic room has exactly `n` subscribers.
    pub async fn wait_for_subscribers(&self, n: usize) {
        wait_until(
            || self.classic_subscribers() == n,
            || {
                format!(
                    "{} subscribers, waiting for {n}",
                    self.classic_subscribers()
                )
            },
        )
        .await;
    }

    /// Shuts down and waits for the server to finish.
    pub async fn stop(mut self) -> Result<(), tonic::transport::Error> {
        self.shutdown.cancel();
        self.serving
            .take()
            .unwrap()
            .await
            .expect("server task panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1 and its key,
/// written to `dir` as `cert.pem` and `key.pem`.
pub fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) =
        chatd::transport::self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    (cert_path, key_path)
}

/// A `chatd` serving TLS with a [`certificate`] written to `dir`; returns
/// the certificate's path too.
pub async fn tls_server(dir: &std::path::Path, flags: &[&str]) -> (TestServer, std::path::PathBuf) {
    let (cert, key) = certificate(dir);
    let mut args = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    (TestServer::start(&args).await, cert)
}

/// Polls `done` until it holds, failing the test after [`PATIENCE`].
pub async fn wait_until(mut done: impl FnMut() -> bool, what: impl Fn() -> String) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up: {}",
            what()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn connect(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

/// A connection to `addr` made from the loopback address `source` (e.g.
/// 127.0.0.2), which per-address limits count apart from 127.0.0.1.
pub async fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .local_address(Some(source))
        .connect()
        .await
        .expect("connect")
}

pub async fn classic_client(addr: SocketAddr) -> ChatServerClient<Channel> {
    ChatServerClient::new(connect(addr).await)
}

pub fn note(name: &str, message: &str) -> Note {
    Note {
        name: name.to_owned(),
        message: message.to_owned(),
    }
}

/// Opens a classic `ChatStream`.
pub async fn chat_stream(client: &mut ChatServerClient<Channel>) -> Streaming<Note> {
    client
        .chat_stream(Empty {})
        .await
        .expect("ChatStream")
        .into_inner()
}

/// Reads exactly `n` notes from `stream`, failing on an error or early end.
pub async fn read_notes(stream: &mut Streaming<Note>, n: usize) -> Vec<Note> {
    let mut notes = Vec::with_capacity(n);
    while notes.len() < n {
        match tokio::time::timeout(PATIENCE, stream.message()).await {
            Ok(Ok(Some(note))) => notes.push(note),
            Ok(Ok(None)) => panic!("stream ended after {} of {n} notes", notes.len()),
            Ok(Err(status)) => panic!("stream failed after {} of {n} notes: {status}", notes.len()),
            Err(_) => panic!("no note within {PATIENCE:?} after {} of {n}", notes.len()),
        }
    }
    notes
}

/// Sends a note and returns the server's answer.
pub async fn send(
    client: &mut ChatServerClient<Channel>,
    name: &str,
    message: &str,
) -> Result<(), Status> {
    client.send_note(note(name, message)).await.map(|_| ())
}
