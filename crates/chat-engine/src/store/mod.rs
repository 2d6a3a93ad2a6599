//! Where a room's history lives. The engine talks to history only through
//! [`HistoryStore`], so the in-memory store and a durable one are
//! interchangeable.

mod memory;

use std::sync::Arc;

use async_trait::async_trait;

pub use memory::MemoryStore;

use crate::Message;

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("history is unavailable: {0}")]
    Unavailable(String),
}

/// Keeps every room's messages in sequence order.
#[async_trait]
pub trait HistoryStore: Send + Sync + 'static {
    /// Records `message` as the newest of `room`. The engine calls this with
    /// the room's lock held, in sequence order, so it must not block.
    fn append(&self, room: &str, message: &Arc<Message>) -> Result<(), StoreError>;

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
}
