//! What a node shares with the other nodes of a cluster, beyond the store
//! they share: each node hands on the messages it stored and news of what
//! it changed in memory (members, presence, rooms, accounts), and holds the
//! names of its guests against the others'. A node on its own shares
//! nothing ([`NoRelay`]).

use std::sync::Arc;

use async_trait::async_trait;

use crate::{EngineError, Message, RoomAction};

/// A change one node made that the others make in what they hold in
/// memory. Whatever of it is stored, the store has before the news goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    Joined {
        room: String,
        name: String,
    },
    Left {
        room: String,
        name: String,
    },
    /// A user of this node came online or went offline here.
    Presence {
        name: String,
        online: bool,
    },
    /// An owner or moderator changed a room (its access, or removed a
    /// member, or deleted it).
    Moderated {
        room: String,
        actor: String,
        action: RoomAction,
    },
    /// A room was created and saved: the others read it from the store.
    RoomSaved(String),
    /// A guest's session ended or an account was deleted: rooms forget
    /// what they granted it.
    Forgotten {
        name: String,
        account: bool,
    },
    /// A member started or stopped typing (its node ends it in time).
    Typing {
        room: String,
        name: String,
        typing: bool,
    },
}

/// Hands what this node did to the other nodes, and holds guests' names
/// across them.
#[async_trait]
pub trait Relay: Send + Sync + 'static {
    /// Hands on a stored message. Best effort: a node that misses one
    /// finds the gap it leaves and reads it from the store.
    fn publish(&self, room: &str, message: &Arc<Message>);

    /// Hands on news, in the order announced. Best effort: a node that
    /// misses news is out of date about presence or members until the
    /// next change.
    fn announce(&self, news: News);

    /// Holds `name` (a guest's, or one being registered) for this node:
    /// refused if a user of another live node holds it or a name that
    /// looks like it.
    async fn hold_name(&self, name: &str) -> Result<(), EngineError>;

    /// Lets go of a name [held](Self::hold_name) before.
    fn release_name(&self, name: &str);
}

/// The relay of a node on its own: nobody to hand anything to.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRelay;

#[async_trait]
impl Relay for NoRelay {
    fn publish(&self, _room: &str, _message: &Arc<Message>) {}

    fn announce(&self, _news: News) {}

    async fn hold_name(&self, _name: &str) -> Result<(), EngineError> {
        Ok(())
    }

    fn release_name(&self, _name: &str) {}
}
