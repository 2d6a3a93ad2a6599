//! A [`Subscription`]: a cursor into a room's messages and a wake-up. It
//! reads from the room's window, or catches up from the store when it has
//! fallen out of it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use crate::arrivals::Place;
use crate::store::StoreError;
use crate::{Message, Room, SubscriptionError};

/// A read from the store under way: its messages, and where the window
/// started when it was asked for.
type CatchUp = Pin<Box<dyn Future<Output = Result<(Vec<Arc<Message>>, u64), StoreError>> + Send>>;

/// Messages read from the store at a time while catching up: each is a
/// copy of its own (unlike the window's, shared by every subscriber), and
/// a stream whose client reads slowly holds them until it can send.
const CATCH_UP_BATCH: usize = 4;

/// Where a new subscription starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Only messages posted from now on.
    Live,
    /// The last `n` messages of history (as many as are kept), then live.
    Last(usize),
    /// Every message after sequence number `seq`, then live.
    After(u64),
}

/// A cursor over one room's messages: it yields every message from its
/// start onwards, in the room's order, exactly once.
///
/// Reading is pulled by the subscriber, so a slow one never holds up the
/// room or other subscribers; if it falls out of the room's in-memory window
/// it is caught up from the store. Dropping it unsubscribes.
pub struct Subscription {
    room: Arc<Room>,
    next_seq: u64,
    /// Set while replaying `Start::Last`: history older than what the store
    /// keeps was never promised, so starting later than asked is no loss.
    accept_later_start: bool,
    /// Its place among those the room wakes, taken at its first wait.
    place: Option<Place>,
    catching_up: Option<CatchUp>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("room", &self.room.name())
            .field("next_seq", &self.next_seq)
            .field("catching_up", &self.catching_up.is_some())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(room: Arc<Room>, start: Start, room_next_seq: u64) -> Self {
        let (next_seq, accept_later_start) = match start {
            Start::Live => (room_next_seq, false),
            Start::Last(n) => (room_next_seq.saturating_sub(n as u64).max(1), true),
            Start::After(seq) => (seq.saturating_add(1).min(room_next_seq), false),
        };
        Subscription {
            room,
            next_seq,
            accept_later_start,
            place: None,
            catching_up: None,
        }
    }

    pub fn room(&self) -> &Arc<Room> {
        &self.room
    }

    /// Moves the cursor to `seq`, for a subscriber that accepts the loss
    /// after [`SubscriptionError::Lagged`].
    pub fn skip_to(&mut self, seq: u64) {
        self.next_seq = seq;
    }

    /// Waits for the next messages and returns up to `max` of them (at least
    /// one), oldest first. After the room closes, returns what was posted
    /// before the close, then [`SubscriptionError::RoomClosed`].
    pub async fn recv(&mut self, max: usize) -> Result<Vec<Arc<Message>>, SubscriptionError> {
        let mut batch = Vec::new();
        let mut clone = |message: &Arc<Message>| Some(Arc::clone(message));
        std::future::poll_fn(|cx| self.poll_recv_into(cx, max, &mut batch, &mut clone)).await?;
        Ok(batch)
    }

    /// Reads up to `max` messages if there are any, handing each to
    /// `convert` where it lies and appending what it makes to `out`;
    /// otherwise waits (`cx` is woken when there are). A subscriber that
    /// needs only a message's wire form takes no handle to the message:
    /// with a thousand subscribers, taking and dropping a thousand handles
    /// to one message, each an atomic count on one line, cost more than
    /// the rest of the read. Messages `convert` skips count as read, so a
    /// ready poll may append nothing.
    ///
    /// Polled in place, it keeps its place among those the room wakes: a
    /// stream built on it neither moves its state nor registers anew for
    /// every message.
    pub fn poll_recv_into<T>(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
        out: &mut impl Extend<T>,
        convert: &mut impl FnMut(&Arc<Message>) -> Option<T>,
    ) -> Poll<Result<(), SubscriptionError>> {
        let max = max.max(1);
        loop {
            if let Some(reading) = &mut self.catching_up {
                let read = ready!(reading.as_mut().poll(cx));
                self.catching_up = None;
                match self.caught_up(read?) {
                    Ok(Some(batch)) => {
                        out.extend(batch.iter().filter_map(&mut *convert));
                        return Poll::Ready(Ok(()));
                    }
                    Ok(None) => continue,
                    Err(error) => return Poll::Ready(Err(error)),
                }
            }
            // Marked waiting before looking, so a message shown after the
            // look still wakes us.
            let room = &self.room;
            room.arrivals().wait(&mut self.place, cx.waker());
            let state = room.read_state();
            let window_start = state.window_start();
            let published = self.next_seq <= state.published;
            if (published || state.closed)
                && let Some(place) = &self.place
            {
                place.stop_waiting();
            }
            if published && self.next_seq >= window_start {
                let skip = (self.next_seq - window_start) as usize;
                let mut last = None;
                let mut count = 0;
                out.extend(
                    state
                        .window
                        .iter()
                        .skip(skip)
                        .take(max)
                        .filter_map(|message| {
                            last = Some(message.seq);
                            count += 1;
                            convert(message)
                        }),
                );
                drop(state);
                self.advance_to(last);
                self.room.metrics().deliveries.inc_by(count);
                return Poll::Ready(Ok(()));
            }
            if published {
                // Fallen out of the window: read from the store.
                drop(state);
                self.start_catch_up(window_start, max);
                continue;
            }
            if state.closed {
                return Poll::Ready(Err(SubscriptionError::RoomClosed));
            }
            return Poll::Pending;
        }
    }

    /// Starts reading from the store what is older than the window.
    fn start_catch_up(&mut self, window_start: u64, max: usize) {
        let wanted = usize::try_from(window_start - self.next_seq).unwrap_or(usize::MAX);
        let limit = max.min(wanted).min(CATCH_UP_BATCH);
        let (room, from) = (Arc::clone(&self.room), self.next_seq);
        self.catching_up = Some(Box::pin(async move {
            let batch = room.store().read_from(room.name(), from, limit).await?;
            Ok((batch, window_start))
        }));
    }

    /// Takes what the store gave. Returns `None` when the cursor only had
    /// to move forward (see `accept_later_start`).
    fn caught_up(
        &mut self,
        (batch, window_start): (Vec<Arc<Message>>, u64),
    ) -> Result<Option<Vec<Arc<Message>>>, SubscriptionError> {
        let first_available = batch.first().map_or(window_start, |m| m.seq);
        if first_available == self.next_seq {
            self.advance_past(&batch);
            let metrics = self.room.metrics();
            metrics.catch_ups.inc();
            metrics.deliveries.inc_by(batch.len() as u64);
            return Ok(Some(batch));
        }
        if self.accept_later_start {
            self.accept_later_start = false;
            self.next_seq = first_available;
            return Ok(None);
        }
        self.room.metrics().lagged.inc();
        Err(SubscriptionError::Lagged {
            first_missing: self.next_seq,
            first_available,
        })
    }

    fn advance_past(&mut self, batch: &[Arc<Message>]) {
        self.advance_to(batch.last().map(|last| last.seq));
    }

    /// Moves the cursor past `last`, the last message read, if any.
    fn advance_to(&mut self, last: Option<u64>) {
        if let Some(last) = last {
            self.next_seq = last + 1;
            self.accept_later_start = false;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(place) = self.place.take() {
            self.room.arrivals().leave(place);
        }
        self.room.unsubscribed();
    }
}
