//! Where a room's history lives. The engine talks to history only through
//! [`HistoryStore`], so the in-memory store and a durable one are
//! interchangeable.

mod memory;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use memory::MemoryStore;
pub use sqlite::{SCHEMA_V1, SqliteOptions, SqliteStore};

use crate::Message;

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("history is unavailable: {0}")]
    Unavailable(String),
}

/// Keeps every room's messages in sequence order, and the rooms to reopen
/// after a restart.
#[async_trait]
pub trait HistoryStore: Send + Sync + 'static {
    /// Stores a batch of `(room, message)`, each room's messages in sequence
    /// order. Returns only once all of it is stored, or none of it.
    async fn append(&self, batch: &[(&str, &Arc<Message>)]) -> Result<(), StoreError>;

    /// The sequence number of the newest stored message of `room`, 0 if none,
    /// so a reopened room carries on numbering without reusing a number.
    fn last_seq(&self, room: &str) -> u64;

    /// Up to `limit` messages of `room`, oldest first, starting at the
    /// oldest kept message whose sequence number is `from` or more.
    async fn read_from(
        &self,
        room: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError>;

    /// Up to `limit` of the newest kept messages of `room` whose sequence
    /// number is below `before`, oldest first.
    async fn read_before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError>;

    /// Remembers that room `room` exists, so it reopens after a restart.
    async fn save_room(&self, room: &str) -> Result<(), StoreError>;

    /// The rooms saved with [`save_room`](Self::save_room).
    fn saved_rooms(&self) -> Vec<String>;
}
