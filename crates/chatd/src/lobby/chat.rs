//! How lobby-protocol users and messages look to the engine, and back.
//!
//! A lobby user with index N is the engine member and sender `user-N`.
//! Messages from anyone else (a classic or native user in the same room)
//! reach lobby clients as `Chat{index: 0, text: "NAME: TEXT"}`, since the
//! protocol can only name senders by index.

use std::pin::Pin;
use std::sync::Arc;

use chat_engine::{Draft, Message, Origin, Room, RoomEvent, RoomEvents, RoomEventsError, Start};
use chat_proto::codec::Encoded;
use chat_proto::lobby::status_reply::Status as StatusKind;
use chat_proto::lobby::{Chat, StatusReply};
use futures::Stream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::files::{self, FileLinks};
use crate::sessions::names::{lobby_user_index, lobby_user_name};
use crate::status;
use crate::streaming::subscription_stream;
use crate::transport::{Caller, ReplyQuota, hand_off};

/// `message` as lobby user `reader` should get it: `None` for its own.
pub fn chat_for(reader: &str, message: &Message, links: &FileLinks, room: &str) -> Option<Chat> {
    if message.sender == reader || !message.is_shown_as_new() {
        return None;
    }
    // Only a lobby user's own messages carry its index: anyone else's name
    // (a classic client may call itself `user-3`) is spelled out.
    let lobby_index = match message.origin {
        Origin::Lobby => lobby_user_index(&message.sender),
        _ => None,
    };
    let text = files::text_with_files(links, room, message);
    Some(match lobby_index {
        Some(index) => Chat {
            index,
            text: Some(text),
        },
        None => Chat {
            index: 0,
            text: Some(format!("{}: {text}", message.sender)),
        },
    })
}

/// Posts lobby user `index`'s chat line to `room`.
pub async fn post_chat(room: &Arc<Room>, index: i32, text: Option<String>) -> Result<(), Status> {
    room.post(Draft {
        sender: lobby_user_name(index),
        origin: Origin::Lobby,
        text: text.unwrap_or_default(),
        client_id: None,
        reply_to: None,
        attachments: Vec::new(),
    })
    .await
    .map(drop)
    .map_err(status::from_engine)
}

pub type ChatStream = Pin<Box<dyn Stream<Item = Result<Encoded<Chat>, Status>> + Send>>;
pub type StatusStream = Pin<Box<dyn Stream<Item = Result<StatusReply, Status>> + Send>>;

/// Streams new messages of `room` to lobby user `index`, all but its own,
/// until `until` fires or the room closes: the replies to the call whose
/// request had `extensions`.
pub fn chat_stream(
    room: &Arc<Room>,
    index: i32,
    until: CancellationToken,
    extensions: &http::Extensions,
    links: FileLinks,
) -> ChatStream {
    let me = lobby_user_name(index);
    let name = room.name().to_owned();
    let subscription = room.subscribe(Start::Live);
    let (quota, caller) = (ReplyQuota::of(extensions), Caller::of(extensions));
    let chats = subscription_stream(subscription, until, quota, caller, move |message| {
        // Each reader's own: it names the reader.
        chat_for(&me, message, &links, &name).map(|chat| Encoded::new(&chat))
    });
    hand_off(extensions, chats)
}

pub fn status_reply(kind: StatusKind, index: i32, channel: i32) -> StatusReply {
    StatusReply {
        status: kind.into(),
        index,
        channel: Some(channel),
    }
}

/// The tokens that end a status stream.
#[derive(Debug, Clone)]
pub struct StatusEnds {
    /// Ends the stream: the user left the room, was removed, or shutdown.
    pub ended: CancellationToken,
    /// Cancelled when the user was removed (or at shutdown).
    pub gone: CancellationToken,
    pub shutdown: CancellationToken,
}

/// Streams `JOIN_USER` and `LEAVE_USER` for lobby users coming to and going
/// from a room (`channel`: its number, 0 for the lobby), starting with
/// `first` if given. Ends when the room closes or `ends.ended` fires; a user
/// removed from the server gets a last `QUIT` first.
pub fn status_stream(
    events: RoomEvents,
    channel: i32,
    index: i32,
    first: Option<StatusReply>,
    ends: StatusEnds,
) -> StatusStream {
    let feed = StatusFeed {
        events,
        channel,
        index,
        first,
        ends,
        done: false,
    };
    Box::pin(futures::stream::unfold(feed, |mut feed| async move {
        let item = feed.next().await?;
        Some((item, feed))
    }))
}

struct StatusFeed {
    events: RoomEvents,
    channel: i32,
    index: i32,
    first: Option<StatusReply>,
    ends: StatusEnds,
    done: bool,
}

impl StatusFeed {
    async fn next(&mut self) -> Option<Result<StatusReply, Status>> {
        if self.done {
            return None;
        }
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        loop {
            let event = tokio::select! {
                biased;
                () = self.ends.ended.cancelled() => {
                    self.done = true;
                    let removed = self.ends.gone.is_cancelled() && !self.ends.shutdown.is_cancelled();
                    return removed.then(|| Ok(status_reply(StatusKind::Quit, self.index, self.channel)));
                }
                event = self.events.recv() => event,
            };
            let (kind, name) = match event {
                Ok(RoomEvent::Joined { name, .. }) => (StatusKind::JoinUser, name),
                Ok(RoomEvent::Left(name)) => (StatusKind::LeaveUser, name),
                // The protocol has no presence (a lobby user is there or
                // not) and no moderation (its rooms have no owner).
                Ok(
                    RoomEvent::Presence { .. }
                    | RoomEvent::Changed { .. }
                    | RoomEvent::Typing { .. },
                ) => continue,
                Ok(RoomEvent::Closed) => return None,
                Err(RoomEventsError::Lagged(missed)) => {
                    self.done = true;
                    return Some(Err(Status::resource_exhausted(format!(
                        "this status stream fell {missed} events behind; open it again"
                    ))));
                }
            };
            if let Some(index) = lobby_user_index(&name) {
                return Some(Ok(status_reply(kind, index, self.channel)));
            }
        }
    }
}
