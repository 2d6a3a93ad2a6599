//! A session's event stream: it merges the messages and membership changes
//! of every room the user is in, rooms opening and closing, and the joins
//! and leaves the session's own calls make.
//!
//! The stream does its work when tonic polls it, which tonic does only
//! while the client reads: a slow client holds up nobody, its rooms'
//! subscriptions fall behind and are caught up from history (or it is told
//! it fell behind), and nothing piles up in memory. No task is spawned per
//! stream; when the client leaves, tonic drops the stream, which closes it
//! in the session.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use chat_engine::{
    Message, Room, RoomChange, RoomEvent, RoomEventsError, Start, SubscriptionError,
};
use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::{
    Event, FellBehind, Invited, MemberJoined, MemberLeft, Presence, RoomChanged, RoomClosed,
    RoomCreated, RoomJoined, RoomLeft,
};
use chat_proto::codec::Encoded;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::StreamMap;
use tonic::Status;

use super::convert;
use crate::files::FileLinks;
use crate::sessions::{
    CONTROL_BACKLOG, Control, STREAMS_PER_SESSION, Session, Sessions, StreamControl, StreamEnd,
};
use crate::status;
use crate::transport::{FRAMING, ReplyQuota};
use crate::wake_gate::{Gated, WakeGate};

/// Messages a room feed takes at a time.
const BATCH: usize = 64;

type EventItem = Result<Encoded<Event>, Status>;

pub type EventStream = Pin<Box<dyn Stream<Item = EventItem> + Send>>;

/// Starts the event stream of `session`, resuming each room in `cursors`
/// after its sequence number.
pub fn open(
    sessions: &Sessions,
    links: FileLinks,
    session: Arc<Session>,
    cursors: HashMap<String, u64>,
    quota: ReplyQuota,
) -> Result<EventStream, Status> {
    let StreamControl {
        generation,
        receiver: control,
        why_ended,
    } = session.open_stream(sessions.shutdown())?;
    let mut events = Events {
        sessions: sessions.clone(),
        links,
        session,
        generation,
        control,
        control_woke: WakeGate::default(),
        why_ended,
        followed: BTreeMap::new(),
        feeds: StreamMap::new(),
        pending: Pending::default(),
        quota,
        ended: false,
    };
    events.follow_joined_rooms(&cursors);
    events.tell_invitations();
    Ok(Box::pin(futures::stream::unfold(
        events,
        |mut events| async move {
            let item = events.next().await?;
            Some((item, events))
        },
    )))
}

struct Events {
    sessions: Sessions,
    /// Links to files in messages are made for this stream's user.
    links: FileLinks,
    session: Arc<Session>,
    /// Which of the session's streams this is.
    generation: u64,
    /// Closes when this stream must end: the session ended, shutdown, or
    /// the server ended it for `why_ended`.
    control: mpsc::Receiver<Control>,
    /// The control channel is looked at only when it woke the stream.
    control_woke: WakeGate,
    why_ended: Arc<OnceLock<StreamEnd>>,
    /// The rooms followed, by name.
    followed: BTreeMap<String, Arc<Room>>,
    feeds: StreamMap<String, RoomFeed>,
    /// Events ready for the client.
    pending: Pending,
    quota: ReplyQuota,
    ended: bool,
}

impl Drop for Events {
    fn drop(&mut self) {
        self.session.close_stream(self.generation);
    }
}

impl Events {
    /// Follows every room the user is in, each after its cursor.
    fn follow_joined_rooms(&mut self, cursors: &HashMap<String, u64>) {
        let engine = self.sessions.engine().clone();
        for name in self.session.rooms() {
            match engine.find_room(&name) {
                Some(room) => {
                    // A cursor past the room's end comes from before the room
                    // was reset (a restart with history kept in memory).
                    let last = room.last_seq();
                    let after = cursors.get(&name).map_or(last, |&cursor| cursor.min(last));
                    self.follow(room, after);
                }
                None => self.sessions.forget_room(&self.session, &name),
            }
        }
    }

    /// Tells of the invitations the user has not taken up.
    fn tell_invitations(&mut self) {
        let me = self.session.name().to_owned();
        for room in self.sessions.engine().invitations_for(&me) {
            self.emit(Kind::Invited(Invited {
                room,
                by: String::new(),
            }));
        }
    }

    /// The next event for the client; `None` once the stream is over.
    async fn next(&mut self) -> Option<EventItem> {
        loop {
            // Waiting (and so watching for shutdown) only when the budget
            // is spent: the shutdown token is shared by every stream.
            let unpaid = std::mem::take(&mut self.pending.unpaid);
            if unpaid > 0 && !self.quota.try_take(unpaid) {
                tokio::select! {
                    () = self.quota.take(unpaid) => {}
                    () = self.sessions.shutdown().cancelled() => return None,
                }
            }
            if let Some(item) = self.pending.items.pop_front() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            std::future::poll_fn(|cx| self.poll_step(cx)).await;
        }
    }

    /// Handles one thing that happened, queueing events or ending the
    /// stream.
    ///
    /// Polled by hand rather than through `select!`, whose branch futures
    /// are made anew for every wait: the control channel and the room feeds
    /// are polled in place, and no lock is taken while nothing happens.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let control = &mut self.control;
        if let Poll::Ready(control) = self.control_woke.poll(cx, |cx| control.poll_recv(cx)) {
            match control {
                Some(control) => self.obey(control),
                // The session dropped this stream's slot.
                None => {
                    if let Some(&why) = self.why_ended.get() {
                        self.pending.push(Err(ended_status(why)));
                    }
                    self.ended = true;
                }
            }
            return Poll::Ready(());
        }
        if let Poll::Ready(Some((room, item))) = self.feeds.poll_next_unpin(cx) {
            self.feed_item(room, item);
            return Poll::Ready(());
        }
        Poll::Pending
    }

    fn obey(&mut self, control: Control) {
        match control {
            Control::Follow { room, after } => self.follow(room, after),
            Control::Unfollow { room, reason } => self.unfollow(room, reason),
            Control::Invited { room, by } => self.emit(Kind::Invited(Invited { room, by })),
            Control::RoomChanged(RoomChange::Opened(room)) => {
                self.emit(Kind::RoomCreated(RoomCreated { room }));
            }
            Control::RoomChanged(RoomChange::Closed(room)) => {
                self.emit(Kind::RoomClosed(RoomClosed { room }));
            }
            Control::ReadMarker { room, seq } => {
                let marker = chat_proto::chat::v1::ReadMarker { room, seq };
                self.emit(Kind::ReadMarker(marker));
            }
            Control::NotifyChanged { room, level } => {
                let level = convert::notify_level(level).into();
                let changed = chat_proto::chat::v1::NotifyChanged { room, level };
                self.emit(Kind::NotifyChanged(changed));
            }
        }
    }

    /// Passes on a presence change that `room` heard, unless another room
    /// the user shares with that member (the first by name) passes it on.
    fn presence_changed(&mut self, room: &str, name: String, online: bool) {
        if name == self.session.name() {
            return;
        }
        let first_shared = self
            .followed
            .iter()
            .find(|(_, followed)| followed.is_member(&name))
            .map(|(first, _)| first.as_str());
        if first_shared.is_none_or(|first| first == room) {
            self.emit(Kind::Presence(Presence { name, online }));
        }
    }

    /// Starts following `room` after sequence number `after`, with a
    /// snapshot of who is in it.
    fn follow(&mut self, room: Arc<Room>, after: u64) {
        if self.feeds.contains_key(room.name()) {
            return;
        }
        // Watch before the snapshot, so no change falls between them.
        let feed = room_feed(Arc::clone(&room), after);
        let snapshot = self.snapshot(&room, after);
        self.feeds.insert(room.name().to_owned(), feed);
        self.followed.insert(room.name().to_owned(), room);
        self.emit(snapshot);
    }

    fn unfollow(&mut self, room: String, reason: String) {
        self.followed.remove(&room);
        if self.feeds.remove(&room).is_some() {
            self.emit(Kind::RoomLeft(RoomLeft { room, reason }));
        }
    }

    /// Who is in `room`; messages after `last_seq` follow on this stream.
    fn snapshot(&self, room: &Room, last_seq: u64) -> Kind {
        Kind::RoomJoined(RoomJoined {
            room: room.name().to_owned(),
            members: convert::members(self.sessions.engine(), room, room.members()),
            last_seq,
            details: Some(self.details(room)),
        })
    }

    /// `room`, one the user is in, with what the user has not read.
    fn details(&self, room: &Room) -> chat_proto::chat::v1::Room {
        let me = self.session.name();
        convert::room_attending(room, me, self.sessions.attention(me, room))
    }

    /// Queues what a room's feed brought.
    fn feed_item(&mut self, room: String, item: FeedItem) {
        let me = self.session.name();
        match item {
            FeedItem::Messages(messages) => {
                // Every subscriber gets the same bytes for a message, encoded
                // by the first; but links to files are each reader's own.
                let reader = convert::Reader {
                    links: &self.links,
                    name: me,
                };
                for message in messages {
                    let encoded = if message.attachments.is_empty() {
                        message.wire_form(|m| Encoded::new(&convert::entry_event(&room, m, reader)))
                    } else {
                        Encoded::new(&convert::entry_event(&room, &message, reader))
                    };
                    self.pending.push(Ok(encoded));
                }
            }
            FeedItem::FellBehind {
                first_missed,
                resumed_at,
            } => self.emit(Kind::FellBehind(FellBehind {
                room,
                first_missed_seq: first_missed,
                resumed_at_seq: resumed_at,
            })),
            FeedItem::Member(RoomEvent::Joined { name, online }) if name != me => {
                let guest = !self.sessions.engine().names().is_registered(&name);
                self.emit(Kind::MemberJoined(MemberJoined {
                    room,
                    name,
                    online,
                    guest,
                }))
            }
            FeedItem::Member(RoomEvent::Presence { name, online }) => {
                self.presence_changed(&room, name, online)
            }
            FeedItem::Member(RoomEvent::Left(name)) if name != me => {
                self.emit(Kind::MemberLeft(MemberLeft { room, name }))
            }
            FeedItem::Member(RoomEvent::Changed { actor, action }) => {
                self.emit(Kind::RoomChanged(RoomChanged {
                    room,
                    actor,
                    action: Some(convert::action_to_wire(&action)),
                }))
            }
            FeedItem::Member(RoomEvent::Typing { name, typing }) if name != me => {
                let typing = chat_proto::chat::v1::Typing { room, name, typing };
                self.emit(Kind::Typing(typing))
            }
            FeedItem::Member(_) => {}
            FeedItem::MembersLagged(room_handle) => {
                let snapshot = self.snapshot(&room_handle, room_handle.last_seq());
                self.emit(snapshot)
            }
            FeedItem::Closed => {
                self.feeds.remove(&room);
                self.followed.remove(&room);
                self.sessions.forget_room(&self.session, &room);
                self.emit(Kind::RoomLeft(RoomLeft {
                    room,
                    reason: String::new(),
                }))
            }
            FeedItem::Failed(status) => {
                self.pending.push(Err(status));
                self.ended = true;
            }
        }
    }

    /// Queues one event for the client.
    fn emit(&mut self, kind: Kind) {
        self.pending.push(Ok(Encoded::new(&event(kind))));
    }
}

/// Events ready for the client, and their bytes not yet taken from the
/// reply budget.
#[derive(Default)]
struct Pending {
    items: VecDeque<EventItem>,
    unpaid: usize,
}

impl Pending {
    fn push(&mut self, item: EventItem) {
        if let Ok(encoded) = &item {
            self.unpaid += encoded.bytes().len() + FRAMING;
        }
        self.items.push_back(item);
    }
}

fn event(kind: Kind) -> Event {
    Event { event: Some(kind) }
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
///
/// Each side is a stream of its own, polled in place: a wait stays
/// registered until what it waits for comes, so a message does not make
/// the membership side give up its wait and take it again (two locks and a
/// wake-up list walk per message and subscriber, when both waits were made
/// anew for each `select!`).
fn room_feed(room: Arc<Room>, after: u64) -> RoomFeed {
    let messages = futures::stream::unfold(
        Some(room.subscribe(Start::After(after))),
        |subscription| async move {
            let mut subscription = subscription?;
            Some(match subscription.recv(BATCH).await {
                Ok(messages) => (FeedItem::Messages(messages), Some(subscription)),
                Err(SubscriptionError::Lagged {
                    first_missing,
                    first_available,
                }) => {
                    subscription.skip_to(first_available);
                    let item = FeedItem::FellBehind {
                        first_missed: first_missing,
                        resumed_at: first_available,
                    };
                    (item, Some(subscription))
                }
                Err(SubscriptionError::RoomClosed) => (FeedItem::Closed, None),
                Err(error) => (FeedItem::Failed(status::from_subscription(error)), None),
            })
        },
    );
    let members = futures::stream::unfold(room.watch_members(), move |mut members| {
        let room = Arc::clone(&room);
        async move {
            let item = match members.recv().await {
                // The message side reports the close once it has drained.
                Ok(RoomEvent::Closed) => return None,
                Ok(event) => FeedItem::Member(event),
                Err(RoomEventsError::Lagged(_)) => FeedItem::MembersLagged(room),
            };
            Some((item, members))
        }
    });
    // Each side is looked at only when it woke the stream.
    let (messages, members) = (
        Gated::new(Box::pin(messages)),
        Gated::new(Box::pin(members)),
    );
    Box::pin(futures::stream::select(messages, members))
}

/// What a client is told when the server ended its stream.
fn ended_status(why: StreamEnd) -> Status {
    Status::resource_exhausted(match why {
        StreamEnd::FellBehind => format!(
            "this event stream fell behind: more than {CONTROL_BACKLOG} room changes waited \
             for it. Subscribe again with your cursors to resume"
        ),
        StreamEnd::Superseded => format!(
            "this session has {STREAMS_PER_SESSION} newer streams open (tabs or devices), so \
             its oldest ended. Close a tab, or log in again for a session of its own"
        ),
    })
}
