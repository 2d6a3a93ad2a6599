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

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use chat_engine::{
    Message, Room, RoomChange, RoomEvent, RoomEventsError, Start, Subscription, SubscriptionError,
};
use chat_proto::chat::v1::event::Event as Kind;
use chat_proto::chat::v1::{
    Event, FellBehind, Invited, MemberJoined, MemberLeft, Presence, RoomChanged, RoomClosed,
    RoomCreated, RoomJoined, RoomLeft,
};
use chat_proto::codec::Encoded;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
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
) -> Result<impl Stream<Item = EventItem> + Send + 'static, Status> {
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
        feeds: Vec::new(),
        next_feed: 0,
        pending: Pending::default(),
        paying: None,
        quota,
        ended: false,
    };
    events.follow_joined_rooms(&cursors);
    events.tell_invitations();
    Ok(events)
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
    /// The rooms followed, sorted by name.
    feeds: Vec<RoomFeed>,
    /// The feed looked at first on the next step, so that a busy room
    /// does not starve the others.
    next_feed: usize,
    /// Events ready for the client.
    pending: Pending,
    /// Waiting for the reply budget to pay for `pending`, or shutdown
    /// (`false`).
    paying: Option<BoxFuture<'static, bool>>,
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
        let count = self.feeds.len();
        for offset in 0..count {
            let index = (self.next_feed + offset) % count;
            let Events {
                feeds,
                pending,
                links,
                session,
                ..
            } = self;
            let reader = convert::Reader {
                links,
                name: session.name(),
            };
            let Poll::Ready(item) = feeds[index].poll(cx, pending, reader) else {
                continue;
            };
            self.next_feed = index + 1;
            if let Some(item) = item {
                let room = self.feeds[index].name().to_owned();
                self.feed_item(room, item);
            }
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Where the feed of `room` is in `feeds`, or would be.
    fn feed_index(&self, room: &str) -> Result<usize, usize> {
        self.feeds.binary_search_by(|feed| feed.name().cmp(room))
    }

    /// Stops following `room`; whether it was followed.
    fn remove_feed(&mut self, room: &str) -> bool {
        let Ok(index) = self.feed_index(room) else {
            return false;
        };
        self.feeds.remove(index);
        true
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
            .feeds
            .iter()
            .find(|feed| feed.room.is_member(&name))
            .map(RoomFeed::name);
        if first_shared.is_none_or(|first| first == room) {
            self.emit(Kind::Presence(Presence { name, online }));
        }
    }

    /// Starts following `room` after sequence number `after`, with a
    /// snapshot of who is in it.
    fn follow(&mut self, room: Arc<Room>, after: u64) {
        let Err(index) = self.feed_index(room.name()) else {
            return;
        };
        // Watch before the snapshot, so no change falls between them.
        let feed = RoomFeed::new(Arc::clone(&room), after);
        let snapshot = self.snapshot(&room, after);
        self.feeds.insert(index, feed);
        self.emit(snapshot);
    }

    fn unfollow(&mut self, room: String, reason: String) {
        if self.remove_feed(&room) {
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
                self.remove_feed(&room);
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

/// The stream does its work when polled: it hands on what is queued once
/// the reply budget has paid for it, and otherwise takes one step.
impl Stream for Events {
    type Item = EventItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EventItem>> {
        let this = self.get_mut();
        loop {
            if let Some(paying) = &mut this.paying {
                let paid = ready!(paying.as_mut().poll(cx));
                this.paying = None;
                if !paid {
                    return Poll::Ready(None);
                }
            }
            // Waiting (and so watching for shutdown) only when the budget
            // is spent: the shutdown token is shared by every stream.
            let unpaid = std::mem::take(&mut this.pending.unpaid);
            if unpaid > 0 && !this.quota.try_take(unpaid) {
                let (quota, shutdown) = (this.quota.clone(), this.sessions.shutdown().clone());
                this.paying = Some(Box::pin(async move {
                    tokio::select! {
                        () = quota.take(unpaid) => true,
                        () = shutdown.cancelled() => false,
                    }
                }));
                continue;
            }
            if let Some(item) = this.pending.items.pop_front() {
                return Poll::Ready(Some(item));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            ready!(this.poll_step(cx));
        }
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

/// `message` of `room` as an event for `reader`: the same bytes for every
/// reader, encoded by the first, unless it has files (their links are each
/// reader's own).
fn message_event(room: &str, message: &Message, reader: convert::Reader) -> EventItem {
    Ok(if message.attachments.is_empty() {
        message.wire_form(|m| Encoded::new(&convert::entry_event(room, m, reader)))
    } else {
        Encoded::new(&convert::entry_event(room, message, reader))
    })
}

/// Queues events for the client, counting their bytes.
struct Queue<'a>(&'a mut Pending);

impl Extend<EventItem> for Queue<'_> {
    fn extend<I: IntoIterator<Item = EventItem>>(&mut self, items: I) {
        for item in items {
            self.0.push(item);
        }
    }
}

/// What one room contributes to an event stream, besides its messages
/// (which its feed queues itself).
enum FeedItem {
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

type MemberFeed = Pin<Box<dyn Stream<Item = FeedItem> + Send>>;

/// One room followed: its messages after a cursor and its membership
/// changes.
///
/// Each side is polled in place and looked at only when it woke the
/// stream: a wait stays registered until what it waits for comes, and a
/// message read goes straight from the room's window into the stream's
/// queue, encoded once for every reader.
struct RoomFeed {
    room: Arc<Room>,
    messages: Subscription,
    messages_woke: WakeGate,
    /// `None` once the room closed (the message side tells of it).
    members: Option<Gated<MemberFeed>>,
    /// The membership side goes first on the next poll (the sides take
    /// turns, so a busy one does not starve the other).
    members_first: bool,
}

impl RoomFeed {
    fn new(room: Arc<Room>, after: u64) -> Self {
        let members = futures::stream::unfold(room.watch_members(), {
            let room = Arc::clone(&room);
            move |mut members| {
                let room = Arc::clone(&room);
                async move {
                    let item = match members.recv().await {
                        // The message side reports the close once it has
                        // drained.
                        Ok(RoomEvent::Closed) => return None,
                        Ok(event) => FeedItem::Member(event),
                        Err(RoomEventsError::Lagged(_)) => FeedItem::MembersLagged(room),
                    };
                    Some((item, members))
                }
            }
        });
        RoomFeed {
            messages: room.subscribe(Start::After(after)),
            room,
            messages_woke: WakeGate::default(),
            members: Some(Gated::new(Box::pin(members))),
            members_first: false,
        }
    }

    fn name(&self) -> &str {
        self.room.name()
    }

    /// Queues the room's next messages in `pending`, as `reader` sees them
    /// (`None`), or gives what else happened in the room.
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        pending: &mut Pending,
        reader: convert::Reader,
    ) -> Poll<Option<FeedItem>> {
        // Polled once per call: first if it is its turn, else last.
        let members_polled = self.members_first;
        if members_polled && let Poll::Ready(item) = self.poll_members(cx) {
            return Poll::Ready(Some(item));
        }
        let RoomFeed {
            room,
            messages,
            messages_woke,
            ..
        } = self;
        let read = messages_woke.poll(cx, |cx| {
            let mut queue = Queue(pending);
            let mut encode =
                |message: &Arc<Message>| Some(message_event(room.name(), message, reader));
            messages.poll_recv_into(cx, BATCH, &mut queue, &mut encode)
        });
        if let Poll::Ready(read) = read {
            self.members_first = true;
            return Poll::Ready(self.after_read(read));
        }
        if !members_polled && let Poll::Ready(item) = self.poll_members(cx) {
            return Poll::Ready(Some(item));
        }
        Poll::Pending
    }

    fn poll_members(&mut self, cx: &mut Context<'_>) -> Poll<FeedItem> {
        self.members_first = false;
        let Some(members) = &mut self.members else {
            return Poll::Pending;
        };
        match members.poll_next_unpin(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(item),
            Poll::Ready(None) => {
                self.members = None;
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// What a read of the messages leaves to tell, if anything.
    fn after_read(&mut self, read: Result<(), SubscriptionError>) -> Option<FeedItem> {
        match read {
            Ok(()) => None,
            Err(SubscriptionError::Lagged {
                first_missing,
                first_available,
            }) => {
                self.messages.skip_to(first_available);
                Some(FeedItem::FellBehind {
                    first_missed: first_missing,
                    resumed_at: first_available,
                })
            }
            Err(SubscriptionError::RoomClosed) => Some(FeedItem::Closed),
            Err(error) => Some(FeedItem::Failed(status::from_subscription(error))),
        }
    }
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
