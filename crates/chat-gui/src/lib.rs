//! `chat-gui`, the desktop client for chatd's native protocol, on egui.
//!
//! State is kept apart from drawing: [`state`] holds what the window shows
//! and changes only through requests and updates; [`view`] draws it and
//! turns clicks and keys into requests; [`backend`] runs the network work
//! on a runtime of its own, off the UI thread, and wakes the UI when
//! something arrives.

pub mod app;
pub mod backend;
pub mod fonts;
pub mod state;
pub mod view;

pub use app::ChatGui;
