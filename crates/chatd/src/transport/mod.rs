//! How connections are accepted and served, whatever the protocol: limits
//! on connections and their handshake, a budget for unsent replies, and
//! batched writes.

mod admission;
mod batched_writes;
mod calls;
mod connections;
mod frames;
mod incoming;
mod oversized;
mod replies;
mod tls;

pub use admission::{Admission, RESERVED_DESCRIPTORS, address_key, raise_descriptor_limit};
pub use connections::{CallService, Http, serve};
pub use frames::{FramedReplies, StandAloneChunks, hand_off};
pub use incoming::{Caller, Connection, ConnectionInfo, ConnectionSettings, incoming};
pub use replies::{FRAMING, ReplyBudgetLayer, ReplyQuota};
pub use tls::{Tls, self_signed};
