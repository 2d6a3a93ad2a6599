//! The native protocol, `chat.v1.ChatService` (`proto/chat/v1/chat.proto`):
//! named users with session tokens, named rooms, history pages, presence,
//! and an event stream that resumes where a client left off.

pub(crate) mod convert;
mod events;
mod service;

pub use service::NativeChat;
