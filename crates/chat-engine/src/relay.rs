//! Carrying stored messages between nodes that share a store: each node
//! hands on what it stored, and shows what the others stored in order,
//! reading from the store what the relay lost or has not yet brought.

use std::sync::Arc;

use crate::Message;

/// Hands messages this node stored to the other nodes.
pub trait Relay: Send + Sync + 'static {
    /// Best effort: a node that misses a message finds the gap it leaves
    /// and reads it from the store.
    fn publish(&self, room: &str, message: &Arc<Message>);
}

/// The relay of a node on its own: nobody to hand anything to.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRelay;

impl Relay for NoRelay {
    fn publish(&self, _room: &str, _message: &Arc<Message>) {}
}
