//! A session's event stream: one task per stream merges the messages and
//! membership changes of every room the user is in, rooms opening and
//! closing, and the joins and leaves the session's own calls make.
//!
//! The task writes into a small bounded channel that tonic drains as the
//! client reads. A slow client only stalls its own task: its rooms'
//! subscriptions fall behind and are caught up from history (or it is told
//! it fell behind); nothing piles up in memory.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use chat_engine::{
    Message, PresenceChange, Room, RoomChange, RoomEvent, RoomEventsError, Start, SubscriptionError,
};
use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::{
    Event, FellBehind, MemberJoined, MemberLeft, Presence, RoomClosed, RoomCreated, RoomJoined,
    RoomLeft,
};
use futures::{Stream, StreamExt};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::StreamMap;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::convert;
use super::sessions::{Control, NativeHub, Session};
use crate::status;

/// Batches waiting for a slow client, per stream (up to `BATCH` events
/// each).
const BUFFER: usize = 16;
/// Messages a room feed takes at a time.
const BATCH: usize = 64;

pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Status>> + Send>>;

/// Events handed to the stream together: one channel item per batch of a
/// room's messages, not one per message.
type Batch = Vec<Result<Event, Status>>;

/// Starts the event stream of `session`, resuming each room in `cursors`
/// after its sequence number.
pub fn open(
    hub: &NativeHub,
    session: Arc<Session>,
    cursors: HashMap<String, u64>,
) -> Result<EventStream, Status> {
    let (generation, control, cancel) = session.open_stream(hub.shutdown())?;
    let (out, events) = mpsc::channel(BUFFER);
    let task = EventTask {
        hub: hub.clone(),
        session,
        out,
        cancel,
        feeds: StreamMap::new(),
        room_changes: hub.engine().watch_rooms(),
        presence: hub.engine().watch_presence(),
    };
    tokio::spawn(task.run(generation, control, cursors));
    Ok(Box::pin(
        ReceiverStream::new(events).flat_map(futures::stream::iter),
    ))
}

struct EventTask {
    hub: NativeHub,
    session: Arc<Session>,
    out: mpsc::Sender<Batch>,
    cancel: CancellationToken,
    feeds: StreamMap<String, RoomFeed>,
    room_changes: broadcast::Receiver<RoomChange>,
    presence: broadcast::Receiver<PresenceChange>,
}

impl EventTask {
    async fn run(
        mut self,
        generation: u64,
        mut control: mpsc::UnboundedReceiver<Control>,
        cursors: HashMap<String, u64>,
    ) {
        let engine = self.hub.engine().clone();
        for name in self.session.rooms() {
            match engine.find_room(&name) {
                Some(room) => {
                    // A cursor past the room's end comes from before the room
                    // was reset (a restart with history kept in memory).
                    let last = room.last_seq();
                    let after = cursors.get(&name).map_or(last, |&cursor| cursor.min(last));
                    if !self.follow(room, after).await {
                        break;
                    }
                }
                None => self.hub.forget_room(&self.session, &name),
            }
        }
        while self.step(&mut control).await {}
        self.session.close_stream(generation);
    }

    /// Handles one thing that happened; false once the stream is over.
    async fn step(&mut self, control: &mut mpsc::UnboundedReceiver<Control>) -> bool {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => false,
            () = self.out.closed() => false,
            Some(control) = control.recv() => match control {
                Control::Follow { room, after } => self.follow(room, after).await,
                Control::Unfollow { room } => self.unfollow(&room).await,
            },
            Some((room, item)) = self.feeds.next() => self.feed_item(room, item).await,
            change = self.room_changes.recv() => match change {
                Ok(RoomChange::Opened(room)) => self.emit(Kind::RoomCreated(RoomCreated { room })).await,
                Ok(RoomChange::Closed(room)) => self.emit(Kind::RoomClosed(RoomClosed { room })).await,
                // Room openings are advisory; ListRooms has the truth.
                Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => false,
            },
            change = self.presence.recv() => match change {
                Ok(change) => self.presence_changed(change).await,
                // Presence is advisory; ListMembers has the truth.
                Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => false,
            },
        }
    }

    /// Passes on a presence change of someone in one of the user's rooms.
    async fn presence_changed(&mut self, change: PresenceChange) -> bool {
        let engine = self.hub.engine();
        let shares_a_room = change.name != self.session.name()
            && self.feeds.keys().any(|room| {
                engine
                    .find_room(room)
                    .is_some_and(|room| room.is_member(&change.name))
            });
        if !shares_a_room {
            return true;
        }
        self.emit(Kind::Presence(Presence {
            name: change.name,
            online: change.online,
        }))
        .await
    }

    /// Starts following `room` after sequence number `after`, with a
    /// snapshot of who is in it.
    async fn follow(&mut self, room: Arc<Room>, after: u64) -> bool {
        if self.feeds.contains_key(room.name()) {
            return true;
        }
        // Watch before the snapshot, so no change falls between them.
        let feed = room_feed(Arc::clone(&room), after);
        let snapshot = self.snapshot(&room, after);
        self.feeds.insert(room.name().to_owned(), feed);
        self.emit(snapshot).await
    }

    async fn unfollow(&mut self, room: &str) -> bool {
        if self.feeds.remove(room).is_none() {
            return true;
        }
        self.emit(Kind::RoomLeft(RoomLeft {
            room: room.to_owned(),
        }))
        .await
    }

    /// Who is in `room`; messages after `last_seq` follow on this stream.
    fn snapshot(&self, room: &Room, last_seq: u64) -> Kind {
        Kind::RoomJoined(RoomJoined {
            room: room.name().to_owned(),
            members: convert::members(self.hub.engine(), room),
            last_seq,
        })
    }

    async fn feed_item(&mut self, room: String, item: FeedItem) -> bool {
        let me = self.session.name();
        match item {
            FeedItem::Messages(messages) => {
                let batch = messages
                    .iter()
                    .map(|message| event(Kind::Message(convert::message(&room, message))))
                    .collect();
                self.send(batch).await
            }
            FeedItem::FellBehind {
                first_missed,
                resumed_at,
            } => {
                self.emit(Kind::FellBehind(FellBehind {
                    room,
                    first_missed_seq: first_missed,
                    resumed_at_seq: resumed_at,
                }))
                .await
            }
            FeedItem::Member(RoomEvent::Joined(name)) if name != me => {
                self.emit(Kind::MemberJoined(MemberJoined { room, name }))
                    .await
            }
            FeedItem::Member(RoomEvent::Left(name)) if name != me => {
                self.emit(Kind::MemberLeft(MemberLeft { room, name })).await
            }
            FeedItem::Member(_) => true,
            FeedItem::MembersLagged(room_handle) => {
                let snapshot = self.snapshot(&room_handle, room_handle.last_seq());
                self.emit(snapshot).await
            }
            FeedItem::Closed => {
                self.feeds.remove(&room);
                self.hub.forget_room(&self.session, &room);
                self.emit(Kind::RoomLeft(RoomLeft { room })).await
            }
            FeedItem::Failed(status) => {
                let _ = self.out.send(vec![Err(status)]).await;
                false
            }
        }
    }

    /// Sends one event, waiting while the client is slow; false if the
    /// stream is over.
    async fn emit(&mut self, kind: Kind) -> bool {
        self.send(vec![event(kind)]).await
    }

    /// Sends a batch of events, waiting while the client is slow; false if
    /// the stream is over.
    async fn send(&mut self, batch: Batch) -> bool {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => false,
            sent = self.out.send(batch) => sent.is_ok(),
        }
    }
}

fn event(kind: Kind) -> Result<Event, Status> {
    Ok(Event { event: Some(kind) })
}

/// What one room contributes to an event stream.
enum FeedItem {
    Messages(Vec<Arc<Message>>),
    FellBehind {
        first_missed: u64,
        resumed_at: u64,
    },
    Member(RoomEvent),
    /// Membership changes were missed: a fresh snapshot of this room is due.
    MembersLagged(Arc<Room>),
    Closed,
    Failed(Status),
}

type RoomFeed = Pin<Box<dyn Stream<Item = FeedItem> + Send>>;

/// A room's messages after `after` and its membership changes, merged.
fn room_feed(room: Arc<Room>, after: u64) -> RoomFeed {
    let state = FeedState {
        subscription: room.subscribe(Start::After(after)),
        members: Some(room.watch_members()),
        room,
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        Some((item, state))
    }))
}

struct FeedState {
    room: Arc<Room>,
    subscription: chat_engine::Subscription,
    /// `None` once the room's membership feed has said it closed.
    members: Option<chat_engine::RoomEvents>,
    done: bool,
}

/// What a room feed's wait turned up.
enum Arrival {
    Messages(Result<Vec<Arc<Message>>, SubscriptionError>),
    Member(Result<RoomEvent, RoomEventsError>),
}

impl FeedState {
    async fn next(&mut self) -> Option<FeedItem> {
        loop {
            if self.done {
                return None;
            }
            let arrival = {
                let members = &mut self.members;
                let member_change = async move {
                    match members {
                        Some(members) => members.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    received = self.subscription.recv(BATCH) => Arrival::Messages(received),
                    change = member_change => Arrival::Member(change),
                }
            };
            return Some(match arrival {
                Arrival::Messages(Ok(messages)) => FeedItem::Messages(messages),
                Arrival::Messages(Err(SubscriptionError::Lagged {
                    first_missing,
                    first_available,
                })) => {
                    self.subscription.skip_to(first_available);
                    FeedItem::FellBehind {
                        first_missed: first_missing,
                        resumed_at: first_available,
                    }
                }
                Arrival::Messages(Err(SubscriptionError::RoomClosed)) => {
                    self.done = true;
                    FeedItem::Closed
                }
                Arrival::Messages(Err(error)) => {
                    self.done = true;
                    FeedItem::Failed(status::from_subscription(error))
                }
                // The message side reports the close once it has drained.
                Arrival::Member(Ok(RoomEvent::Closed)) => {
                    self.members = None;
                    continue;
                }
                Arrival::Member(Ok(event)) => FeedItem::Member(event),
                Arrival::Member(Err(RoomEventsError::Lagged(_))) => {
                    FeedItem::MembersLagged(Arc::clone(&self.room))
                }
            });
        }
    }
}
