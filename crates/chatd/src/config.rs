//! The settings of `chatd`: command-line flags, each of which can also be
//! set by an environment variable and by a key of the configuration file
//! (`--config chatd.toml`). A flag beats its environment variable, which
//! beats the file, which beats the default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chat_engine::{EngineConfig, Limits, PostgresOptions, RoomLimits, SqliteOptions};
use clap::Parser;

use crate::config_file::Settings;
use crate::files::FileLimits;
use crate::serving::Keepalive;
use crate::sessions::SessionConfig;

/// The chat server: serves the classic, lobby and native protocols over one
/// chat engine, so their users talk to each other.
#[derive(Debug, Clone, Parser)]
// A flag given twice takes its last value, so scripts can append overrides.
#[command(name = "chatd", version, about, args_override_self = true)]
pub struct Config {
    /// A TOML file of settings: each key is a flag's name without `--`
    /// (`max-sends-per-second = 50`). Flags and environment variables
    /// override it. SIGHUP reads it again.
    #[arg(long, env = "CHATD_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub listen: Listen,

    #[command(flatten)]
    pub connections: Connections,

    #[command(flatten)]
    pub users: Users,

    #[command(flatten)]
    pub rooms: Rooms,

    #[command(flatten)]
    pub lobby: Lobby,

    #[command(flatten)]
    pub storage: StorageSettings,

    #[command(flatten)]
    pub files: FileSettings,

    #[command(flatten)]
    pub logging: Logging,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Every setting as given (or defaulted), by key.
    #[arg(skip)]
    pub settings: Settings,
}

/// Where each protocol, the web client, metrics and the admin socket listen.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Where it listens")]
pub struct Listen {
    /// Where the native protocol (`chat.v1.ChatService`) listens.
    #[arg(long, env = "CHATD_NATIVE_ADDR", default_value = "0.0.0.0:7070", value_parser = listen_addr)]
    pub native_addr: SocketAddr,

    /// Serve the web client on the native protocol's port (its page at
    /// `/`, the native protocol over gRPC-Web for it): `on` or `off`.
    #[arg(long, env = "CHATD_WEB", default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
    pub web: bool,

    /// Where the classic protocol (`grpc.ChatServer`) listens; `off` to
    /// not serve it.
    #[arg(long, env = "CHATD_CLASSIC_ADDR", default_value = "0.0.0.0:11912")]
    pub classic_addr: ListenAddr,

    /// Serve Prometheus metrics at `http://ADDR/metrics` (plain HTTP;
    /// keep it off the internet). Off by default.
    #[arg(long, env = "CHATD_METRICS_ADDR", value_parser = listen_addr)]
    pub metrics_addr: Option<SocketAddr>,

    /// Where `chatctl` reaches this chatd: a Unix socket, mode 0600.
    /// Default: `admin.sock` in the data directory (none with
    /// `--in-memory`); `off` for none.
    #[arg(long, env = "CHATD_ADMIN_SOCKET")]
    pub admin_socket: Option<String>,

    /// In a cluster, where browsers reach this node's web client
    /// (`http://host:7070`): the other nodes' pages move here when theirs
    /// goes, and may call it. Default: http (https with TLS) on the
    /// advertised host and the native port.
    #[arg(long, env = "CHATD_PUBLIC_URL", value_parser = public_url)]
    pub public_url: Option<String>,
}

/// What every connection is held to, and TLS.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connections")]
pub struct Connections {
    /// A PEM certificate (chain) to serve every listener over TLS with,
    /// with `--tls-key`. Without both, every listener is plaintext.
    #[arg(long, env = "CHATD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "CHATD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// How often native- and classic-protocol connections are pinged
    /// (HTTP/2 keepalive) to find peers that vanished.
    #[arg(long, env = "CHATD_KEEPALIVE_INTERVAL", default_value = "20s", value_parser = positive_duration)]
    pub keepalive_interval: Duration,

    /// How long such a ping may go unanswered before the connection is
    /// dropped.
    #[arg(long, env = "CHATD_KEEPALIVE_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub keepalive_timeout: Duration,

    /// How many client connections `chatd` holds at once, over every port.
    /// Default: the open-file limit (raised to its hard limit at start)
    /// less 256 descriptors kept for everything else.
    #[arg(long, env = "CHATD_MAX_CONNECTIONS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,

    /// How many connections one client address (an IPv6 /64) may hold at
    /// once; more are closed as they arrive.
    #[arg(long, env = "CHATD_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 128,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_address: u64,

    /// How many calls and streams one connection may have open at once
    /// (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`).
    #[arg(long, env = "CHATD_MAX_STREAMS_PER_CONNECTION", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_connection: u32,

    /// How long a new connection has to start HTTP/2 before it is closed.
    #[arg(long, env = "CHATD_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub handshake_timeout: Duration,

    /// How many bytes of replies one connection may hold that its client
    /// has not taken yet; further replies wait until it takes them.
    #[arg(long, env = "CHATD_MAX_UNSENT_BYTES_PER_CONNECTION", default_value_t = 1 << 20,
          value_parser = clap::value_parser!(u64).range(16 * 1024..))]
    pub max_unsent_bytes_per_connection: u64,

    /// How long shutdown waits for connections to finish before closing
    /// them (e.g. `5s`, `500ms`).
    #[arg(long, env = "CHATD_SHUTDOWN_GRACE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
}

/// Logins, sessions and what one user may do.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Users and sessions")]
pub struct Users {
    /// Guests may not log in to the native protocol: only accounts. The
    /// classic and lobby protocols have no accounts, so they are not
    /// served either, unless `--legacy-guests` lets their guests in.
    #[arg(long, env = "CHATD_REQUIRE_ACCOUNTS")]
    pub require_accounts: bool,

    /// With `--require-accounts`: serve the classic and lobby protocols
    /// anyway, to anyone, under any free name (logged as a warning).
    #[arg(long, env = "CHATD_LEGACY_GUESTS", requires = "require_accounts")]
    pub legacy_guests: bool,

    /// How long an account's session lasts unused (e.g. `30days`, `12h`);
    /// each use starts it afresh.
    #[arg(long, env = "CHATD_SESSION_TTL", default_value = "30days", value_parser = positive_duration)]
    pub session_ttl: Duration,

    /// How long a native user whose event stream closed stays logged in (and
    /// in its rooms) for its client to reconnect and resume.
    #[arg(long, env = "CHATD_PRESENCE_GRACE", default_value = "10s", value_parser = positive_duration)]
    pub presence_grace: Duration,

    /// How many rooms one native user may be in at once.
    #[arg(long, env = "CHATD_MAX_ROOMS_PER_USER", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rooms_per_user: u64,

    /// How many messages a second one native user may send (bursts of as
    /// many are fine).
    #[arg(long, env = "CHATD_MAX_SENDS_PER_SECOND", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sends_per_second: u32,

    /// How many notes and lobby chat lines a second one client address may
    /// send over the classic and lobby protocols, which have no login
    /// (bursts of as many are fine).
    #[arg(long, env = "CHATD_MAX_LEGACY_SENDS_PER_SECOND", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_legacy_sends_per_second: u32,

    /// How many logins a second one client address may make (native
    /// `Login`, lobby `TryLogin`; bursts of as many are fine).
    #[arg(long, env = "CHATD_MAX_LOGINS_PER_SECOND", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_logins_per_second: u32,
}

/// Rooms, messages and names: the engine's limits.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Rooms and messages")]
pub struct Rooms {
    /// The room every classic client shares.
    #[arg(long, env = "CHATD_CLASSIC_ROOM", default_value = "general")]
    pub classic_room: String,

    /// How many rooms may be open on the server; creating more is refused.
    #[arg(long, env = "CHATD_MAX_ROOMS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rooms: u64,

    /// How many rooms one user may have created, in all.
    #[arg(long, env = "CHATD_MAX_ROOMS_CREATED_PER_USER", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rooms_created_per_user: u64,

    /// How many rooms one user may create in an hour.
    #[arg(long, env = "CHATD_ROOMS_CREATED_PER_HOUR", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rooms_created_per_hour: u32,

    /// How many of the newest messages a new stream receives before live
    /// ones (0 for none).
    #[arg(long, env = "CHATD_HISTORY_REPLAY", default_value_t = 1000)]
    pub history_replay: usize,

    /// How long a new classic-protocol stream waits before its replay
    /// (`0s`: none). The seed's own Tk client starts reading before it
    /// has made the widget it shows notes in, and crashes on a replay that
    /// comes at once.
    #[arg(long, env = "CHATD_CLASSIC_REPLAY_DELAY", default_value = "300ms", value_parser = humantime::parse_duration)]
    pub classic_replay_delay: Duration,

    /// How many of each room's newest messages stay in memory for fast
    /// fan-out; a subscriber further behind is caught up from history.
    #[arg(long, env = "CHATD_RECENT_WINDOW", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub recent_window: u64,

    /// Longest message text, in UTF-8 bytes.
    #[arg(long, env = "CHATD_MAX_MESSAGE_BYTES", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_message_bytes: u64,

    /// Longest user name, in characters.
    #[arg(long, env = "CHATD_MAX_NAME_CHARS", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_name_chars: u64,

    /// Different emoji on one message, at most.
    #[arg(long, env = "CHATD_MAX_REACTIONS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=100))]
    pub max_reactions: u64,

    /// Emoji one user may put on one message, at most.
    #[arg(long, env = "CHATD_MAX_REACTIONS_PER_USER", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=100))]
    pub max_reactions_per_user: u64,
}

/// Where the lobby protocol's services listen, and its heartbeat.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Lobby protocol")]
pub struct Lobby {
    /// Where the lobby protocol's Agent (login) listens.
    #[arg(long, env = "CHATD_AGENT_ADDR", default_value = "0.0.0.0:50050", value_parser = listen_addr)]
    pub agent_addr: SocketAddr,

    /// Where the lobby protocol's Heartbeat listens.
    #[arg(long, env = "CHATD_HEARTBEAT_ADDR", default_value = "0.0.0.0:50051", value_parser = listen_addr)]
    pub heartbeat_addr: SocketAddr,

    /// Where the lobby protocol's Lobby listens. Channels listen on the same
    /// host. `off` to not serve the lobby protocol at all (Agent,
    /// Heartbeat, Lobby and channels).
    #[arg(long, env = "CHATD_LOBBY_ADDR", default_value = "0.0.0.0:50052")]
    pub lobby_addr: ListenAddr,

    /// The ports channels are served on, one channel per port: a range
    /// (`50054-50057`), a list (`50054,50060`) or both; `0` takes any free
    /// port.
    #[arg(long, env = "CHATD_CHANNEL_PORTS", default_value = "50054-50057")]
    pub channel_ports: ChannelPorts,

    /// The host clients are told to dial for Heartbeat, Lobby and channels.
    #[arg(long, env = "CHATD_ADVERTISED_HOST", default_value = "localhost")]
    pub advertised_host: String,

    /// How many open channels the lobby users of one client address may
    /// have made; more `MAKE_CHANNEL`s get `FAILURE`.
    #[arg(long, env = "CHATD_MAX_CHANNELS_PER_ADDRESS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_channels_per_address: u64,

    /// How often Heartbeat sends the time, and how often lobby-protocol
    /// connections are pinged (HTTP/2 keepalive).
    #[arg(long, env = "CHATD_HEARTBEAT_INTERVAL", default_value = "5s", value_parser = positive_duration)]
    pub heartbeat_interval: Duration,

    /// How long a keepalive ping may go unanswered before the connection
    /// counts as dead (its user is removed), and how long a logged-in user
    /// may go without an open heartbeat stream.
    #[arg(long, env = "CHATD_HEARTBEAT_TIMEOUT", default_value = "5s", value_parser = positive_duration)]
    pub heartbeat_timeout: Duration,
}

/// Where history, rooms and accounts are kept, and for how long.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Storage")]
pub struct StorageSettings {
    /// Where history is kept (an SQLite database, `chat.db`, is created
    /// there).
    #[arg(long, env = "CHATD_DATA_DIR", default_value = "chatd-data")]
    pub data_dir: PathBuf,

    /// Keep history in memory only: nothing is written to disk, and a
    /// restart forgets it.
    #[arg(long, env = "CHATD_IN_MEMORY", conflicts_with = "database_url")]
    pub in_memory: bool,

    /// Keep history, rooms and accounts in this PostgreSQL database
    /// (`postgres://user:password@host:5432/chat`, or `host=... dbname=...`)
    /// instead of SQLite under `--data-dir`. Its schema is created or
    /// brought up to date at start.
    #[arg(long, env = "CHATD_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Run as a node of a cluster: hand the messages this node stores to
    /// the others, and take theirs, through NATS at this URL
    /// (`nats://host:4222`). Needs `--database-url`, shared by every node.
    #[arg(long, env = "CHATD_NATS_URL", requires = "database_url")]
    pub nats_url: Option<String>,

    /// How many messages of history each room keeps.
    #[arg(long, env = "CHATD_RETAIN_MESSAGES", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub retain_messages: u64,

    /// How old a message may get before it is removed from history (e.g.
    /// `90days`, `12h`; `forever` to keep all).
    #[arg(long, env = "CHATD_RETAIN_AGE", default_value = "365days", value_parser = retain_age)]
    pub retain_age: RetainAge,

    /// The largest the history database may grow, in bytes; past it, sends
    /// fail until retention makes room. No limit but the disk's by default.
    #[arg(long, env = "CHATD_MAX_DB_BYTES")]
    pub max_db_bytes: Option<u64>,
}

/// Files people share (`POST /files` on the native port).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Files")]
pub struct FileSettings {
    /// The largest file one may upload, in bytes.
    #[arg(long, env = "CHATD_MAX_FILE_BYTES", default_value_t = 25 << 20,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_file_bytes: u64,

    /// What one account's files may take in all, in bytes.
    #[arg(long, env = "CHATD_FILE_QUOTA_BYTES", default_value_t = 1 << 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub file_quota_bytes: u64,

    /// Let guests upload files too (by default only accounts do).
    #[arg(long, env = "CHATD_GUEST_UPLOADS")]
    pub guest_uploads: bool,

    /// How long an uploaded file waits to be sent in a message before it
    /// is removed; a file whose messages were all deleted goes as soon.
    #[arg(long, env = "CHATD_UNSENT_FILE_GRACE", default_value = "1h", value_parser = positive_duration)]
    pub unsent_file_grace: Duration,
}

/// What is logged, and how.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Logging")]
pub struct Logging {
    /// Log filter, in `tracing` syntax (e.g. `info`, `chatd=debug`).
    #[arg(long, env = "CHATD_LOG", default_value = "info", value_parser = log_filter)]
    pub log: String,

    /// `text` for people, `json` (one object a line) for log shippers.
    #[arg(long, env = "CHATD_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// What `chatd` does instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Prints the settings `chatd` would run with (flags, environment,
    /// `--config` file and defaults), as a configuration file.
    Config,
    /// Makes a self-signed certificate and key for trying TLS out
    /// (`cert.pem` and `key.pem`); clients must be told to trust it
    /// (`chat --ca-cert cert.pem`).
    GenCert {
        /// A host name or IP address clients will dial; give as many as
        /// needed.
        #[arg(long, required = true)]
        host: Vec<String>,
        /// Where to write `cert.pem` and `key.pem`.
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
    },
}

/// Where history, rooms and accounts are kept: chosen once, from
/// `--in-memory`, `--database-url` and `--data-dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    Memory {
        retain_messages: usize,
    },
    Sqlite {
        dir: PathBuf,
        options: SqliteOptions,
    },
    Postgres {
        url: String,
        options: PostgresOptions,
    },
}

/// Every setting derived from others is made here, once.
impl Config {
    pub fn storage(&self) -> Storage {
        let storage = &self.storage;
        if let Some(url) = &storage.database_url {
            return Storage::Postgres {
                url: url.clone(),
                options: PostgresOptions {
                    retain_messages: storage.retain_messages,
                    retain_age: storage.retain_age.0,
                },
            };
        }
        if storage.in_memory {
            return Storage::Memory {
                retain_messages: to_usize(storage.retain_messages),
            };
        }
        Storage::Sqlite {
            dir: storage.data_dir.clone(),
            options: SqliteOptions {
                retain_messages: storage.retain_messages,
                retain_age: storage.retain_age.0,
                max_bytes: storage.max_db_bytes,
            },
        }
    }

    pub fn sessions(&self) -> SessionConfig {
        SessionConfig {
            presence_grace: self.users.presence_grace,
            max_rooms_per_user: to_usize(self.users.max_rooms_per_user),
            max_sends_per_second: self.users.max_sends_per_second,
            require_accounts: self.users.require_accounts,
        }
    }

    pub fn file_limits(&self) -> FileLimits {
        FileLimits {
            max_file_bytes: self.files.max_file_bytes,
            quota_bytes: self.files.file_quota_bytes,
            guests_upload: self.files.guest_uploads,
            unsent_grace: self.files.unsent_file_grace,
        }
    }

    /// The keepalive of native- and classic-protocol connections.
    pub fn native_keepalive(&self) -> Keepalive {
        Keepalive {
            interval: self.connections.keepalive_interval,
            timeout: self.connections.keepalive_timeout,
        }
    }

    pub fn max_connections_per_address(&self) -> usize {
        to_usize(self.connections.max_connections_per_address)
    }

    /// Where browsers reach this node's web client: `--public-url`, or
    /// http (https with TLS) on the advertised host and the native port.
    pub fn public_url(&self, tls_on: bool, native_port: u16) -> String {
        self.listen.public_url.clone().unwrap_or_else(|| {
            let scheme = if tls_on { "https" } else { "http" };
            format!("{scheme}://{}:{native_port}", self.lobby.advertised_host)
        })
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_text_bytes: to_usize(self.rooms.max_message_bytes),
            max_name_chars: to_usize(self.rooms.max_name_chars),
            max_reactions: to_usize(self.rooms.max_reactions),
            max_reactions_per_user: to_usize(self.rooms.max_reactions_per_user),
        }
    }

    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            limits: self.limits(),
            window_len: to_usize(self.rooms.recent_window),
            rooms: RoomLimits {
                max_rooms: to_usize(self.rooms.max_rooms),
                max_created_per_user: to_usize(self.rooms.max_rooms_created_per_user),
                created_per_user_per_hour: self.rooms.rooms_created_per_hour,
            },
        }
    }

    /// Whether the classic and lobby protocols, which have no accounts,
    /// may be served: not under `--require-accounts` unless
    /// `--legacy-guests` says so.
    pub fn legacy_protocols_allowed(&self) -> bool {
        !self.users.require_accounts || self.users.legacy_guests
    }

    /// Where the admin socket is, if there is one.
    pub fn admin_socket(&self) -> Option<PathBuf> {
        match self.listen.admin_socket.as_deref() {
            Some("off") => None,
            Some(path) => Some(PathBuf::from(path)),
            None if self.storage.in_memory => None,
            None => Some(self.storage.data_dir.join("admin.sock")),
        }
    }

    /// The largest request body worth decoding: the largest valid note plus
    /// room for protobuf framing. Anything bigger is refused before decoding.
    pub fn max_request_bytes(&self) -> usize {
        let limits = self.limits();
        // A character is at most 4 bytes of UTF-8.
        limits.max_text_bytes + 4 * limits.max_name_chars + 1024
    }
}

/// Where a protocol listens, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub Option<SocketAddr>);

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "off" {
            return Ok(ListenAddr(None));
        }
        listen_addr(text)
            .map(|addr| ListenAddr(Some(addr)))
            .map_err(|why| format!("{why}, nor `off`"))
    }
}

/// An address to listen on: `IP:PORT`, or `HOST:PORT` with a host name,
/// looked up at start (its first IPv4 address, else its first).
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let not = |why: String| {
        format!(
            "{text:?} is not an address to listen on (HOST:PORT, e.g. 0.0.0.0:7070 or localhost:7070): {why}"
        )
    };
    let found: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|error| not(error.to_string()))?
        .collect();
    found
        .iter()
        .find(|addr| addr.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| not("the name has no address".into()))
}

/// The pool of channel ports, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPorts(pub Vec<u16>);

impl FromStr for ChannelPorts {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let mut ports = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (first, last) = match part.split_once('-') {
                Some((first, last)) => (parse_port(first)?, parse_port(last)?),
                None => (parse_port(part)?, parse_port(part)?),
            };
            if first > last {
                return Err(format!("the range {part} runs backwards"));
            }
            ports.extend(first..=last);
        }
        if ports.is_empty() {
            return Err("give at least one port, e.g. 50054-50057".into());
        }
        if ports.len() > MAX_CHANNEL_PORTS {
            return Err(format!("at most {MAX_CHANNEL_PORTS} channel ports"));
        }
        let mut fixed: Vec<u16> = ports.iter().copied().filter(|&p| p != 0).collect();
        fixed.sort_unstable();
        if let Some(pair) = fixed.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(format!("port {} is given twice", pair[0]));
        }
        Ok(ChannelPorts(ports))
    }
}

/// Each channel port is a listening socket, so keep the pool modest.
const MAX_CHANNEL_PORTS: usize = 1024;

fn parse_port(text: &str) -> Result<u16, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a port number (0-65535)"))
}

fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{text:?} is neither `on` nor `off`")),
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, `message`
    /// and the event's fields.
    Json,
}

/// A URL browsers can open: `http://` or `https://` and a host.
fn public_url(text: &str) -> Result<String, String> {
    crate::web::origin_of(text)
        .map(|_| text.trim_end_matches('/').to_owned())
        .ok_or_else(|| format!("`{text}` is not an http:// or https:// URL with a host"))
}

fn log_filter(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(text)
        .map(|_| text.to_owned())
        .map_err(|error| error.to_string())
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than zero".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(error.to_string()),
    }
}

/// A message age limit, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetainAge(pub Option<Duration>);

fn retain_age(text: &str) -> Result<RetainAge, String> {
    if text == "forever" {
        return Ok(RetainAge(None));
    }
    positive_duration(text).map(|age| RetainAge(Some(age)))
}

pub(crate) fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ports_take_ranges_lists_and_free_ports() {
        assert_eq!(
            "50054-50057".parse(),
            Ok(ChannelPorts(vec![50054, 50055, 50056, 50057]))
        );
        assert_eq!("1, 5-6".parse(), Ok(ChannelPorts(vec![1, 5, 6])));
        assert_eq!("0,0".parse(), Ok(ChannelPorts(vec![0, 0])));
    }

    #[test]
    fn bad_channel_ports_say_what_is_wrong() {
        let error = |spec: &str| spec.parse::<ChannelPorts>().unwrap_err();
        assert_eq!(error("9-3"), "the range 9-3 runs backwards");
        assert_eq!(error("1,2,1"), "port 1 is given twice");
        assert_eq!(error("70000"), "\"70000\" is not a port number (0-65535)");
        assert_eq!(error(""), "give at least one port, e.g. 50054-50057");
        assert_eq!(error("1-2000"), "at most 1024 channel ports");
    }

    #[test]
    fn a_protocol_listens_on_an_address_or_is_off() {
        assert_eq!("off".parse(), Ok(ListenAddr(None)));
        assert_eq!(
            "127.0.0.1:80".parse(),
            Ok(ListenAddr(Some(SocketAddr::from(([127, 0, 0, 1], 80)))))
        );
        let error = "nowhere".parse::<ListenAddr>().unwrap_err();
        assert!(error.contains("`off`"), "{error}");
        assert!(error.contains("HOST:PORT"), "{error}");
    }

    #[test]
    fn an_address_may_name_its_host() {
        assert_eq!(
            listen_addr("localhost:7070"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 7070)))
        );
        assert_eq!(
            "localhost:11912".parse(),
            Ok(ListenAddr(Some(SocketAddr::from(([127, 0, 0, 1], 11912)))))
        );
        assert!(listen_addr("localhost").is_err());
    }

    #[test]
    fn heartbeat_durations_must_be_positive() {
        assert!(positive_duration("0s").is_err());
        assert_eq!(positive_duration("250ms"), Ok(Duration::from_millis(250)));
    }
}
