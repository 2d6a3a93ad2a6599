//! A client for chatd's native protocol (`chat.v1`), shared by the terminal
//! and desktop clients. No UI code: it logs in, hands out one stream of
//! [`ClientEvent`]s, and offers a call for every command.
//!
//! The connection looks after itself: when it drops, the client reconnects
//! with back-off, logs in again if its session ended, rejoins its rooms and
//! resumes each room after the last message it delivered, so the
//! application sees every message once, in order. Sends carry an id chosen
//! here and are retried with it, so a retried send is never doubled.

#[cfg(feature = "cli")]
pub mod cli;
mod client;
mod config;
mod connection;
pub mod emoji;
mod error;
mod event;
pub mod files;
pub mod markdown;
pub mod printable;
pub mod rooms;
pub mod search;
mod session;
mod unreachable;

pub use chat_proto::chat::v1::NotifyLevel;
pub use client::{AccountChange, Client};
pub use config::ClientConfig;
pub use error::ClientError;
pub use event::{
    ChatMessage, ClientEvent, Connection, HistoryPage, Member, Origin, Reaction, Role, RoomAction,
    RoomInfo, SearchPage, reactions_line,
};
pub use files::{SharedFile, human_size};
pub use tonic::Code;
