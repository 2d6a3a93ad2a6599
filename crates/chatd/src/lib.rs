//! `chatd`: one chat engine served over gRPC.
//!
//! Each protocol lives in a module of its own and is a thin adapter between
//! its wire types and [`chat_engine`]:
//! - [`classic`]: `grpc.ChatServer`, the single room of the seed "Chat 1st";
//! - [`lobby`]: `Agent`, `Heartbeat`, `Lobby` and `Channel`, the seed
//!   "Chat 2nd";
//! - [`native`]: `chat.v1.ChatService`, our own protocol;
//! - [`web`]: the browser client, served with the native protocol over
//!   gRPC-Web on the native port.
//!
//! Under them, the services: [`sessions`] (who is signed in, and what
//! joining, leaving and moderating do to users) and [`accounts`].
//!
//! [`Chatd`] binds the listeners and serves them until shutdown.

pub mod accounts;
mod address_rate;
mod admin;
pub mod classic;
mod cluster;
pub mod config;
pub mod config_file;
mod data_dir;
pub mod files;
mod health;
pub mod lobby;
pub mod metrics;
pub mod native;
mod reload;
mod server;
mod serving;
pub mod sessions;
mod status;
mod streaming;
pub mod transport;
mod wake_gate;
pub mod web;

pub use config::Config;
pub use lobby::LobbyAddrs;
pub use reload::Reloader;
pub use server::{Chatd, ListenAddrs, StartError};
