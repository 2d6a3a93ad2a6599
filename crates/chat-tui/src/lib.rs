//! `chat`, the terminal client for chatd's native protocol: a full-screen
//! UI ([`tui`]) and a plain line mode for scripts and pipes ([`plain`]),
//! both on the shared client library.

pub mod app;
pub mod command;
pub mod complete;
pub mod history;
pub mod line_edit;
pub mod login;
pub mod plain;
pub mod runner;
pub mod tui;
pub mod ui;

use std::time::SystemTime;

use chrono::{DateTime, Local};

/// A message time as the clients show it: local `HH:MM`.
pub fn clock(time: SystemTime) -> String {
    let local: DateTime<Local> = time.into();
    local.format("%H:%M").to_string()
}
