use std::time::{SystemTime, UNIX_EPOCH};

/// A message as a sender hands it to the engine, before it has a place in
/// the room's order.
#[derive(Debug, Clone)]
pub struct Draft {
    pub sender: String,
    pub text: String,
    /// Chosen by the sender to make a retried send harmless: a second draft
    /// with the same sender and id gets the first one's message back.
    pub client_id: Option<String>,
}

/// A message with its place in the room's total order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Position in the room, starting at 1, with no gaps.
    pub seq: u64,
    /// Server time of acceptance, milliseconds since the Unix epoch.
    pub sent_at_ms: i64,
    pub sender: String,
    pub text: String,
    pub client_id: Option<String>,
}

impl Message {
    pub(crate) fn accept(draft: Draft, seq: u64) -> Self {
        Message {
            seq,
            sent_at_ms: now_ms(),
            sender: draft.sender,
            text: draft.text,
            client_id: draft.client_id,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
