//! The native protocol, `chat.v1.ChatService` (`proto/chat/v1/chat.proto`):
//! named users with session tokens, named rooms, history pages, presence,
//! and an event stream that resumes where a client left off.

pub(crate) mod convert;
mod events;
mod service;
mod sessions;
mod users;

pub use convert::check_user_name;
pub use service::NativeChat;
pub use sessions::{NativeHub, SessionConfig};
