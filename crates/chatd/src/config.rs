//! Command-line flags of `chatd`; each can also be set by an environment
//! variable.

use std::net::SocketAddr;
use std::time::Duration;

use chat_engine::{EngineConfig, Limits};
use clap::Parser;

/// The chat server: serves the classic protocol (and, as they arrive, the
/// lobby and native protocols) over one chat engine.
#[derive(Debug, Clone, Parser)]
#[command(name = "chatd", version, about)]
pub struct Config {
    /// Where the classic protocol (`grpc.ChatServer`) listens.
    #[arg(long, env = "CHATD_CLASSIC_ADDR", default_value = "0.0.0.0:11912")]
    pub classic_addr: SocketAddr,

    /// The room every classic client shares.
    #[arg(long, env = "CHATD_CLASSIC_ROOM", default_value = "general")]
    pub classic_room: String,

    /// How many of the newest messages a new stream receives before live
    /// ones (0 for none).
    #[arg(long, env = "CHATD_HISTORY_REPLAY", default_value_t = 1000)]
    pub history_replay: usize,

    /// How many messages of history each room keeps.
    #[arg(long, env = "CHATD_RETAIN_MESSAGES", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub retain_messages: u64,

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

    /// How long shutdown waits for connections to finish before closing
    /// them (e.g. `5s`, `500ms`).
    #[arg(long, env = "CHATD_SHUTDOWN_GRACE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Log filter, in `tracing` syntax (e.g. `info`, `chatd=debug`).
    #[arg(long, env = "CHATD_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    pub fn limits(&self) -> Limits {
        Limits {
            max_text_bytes: to_usize(self.max_message_bytes),
            max_name_chars: to_usize(self.max_name_chars),
        }
    }

    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            limits: self.limits(),
            window_len: to_usize(self.recent_window),
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

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
