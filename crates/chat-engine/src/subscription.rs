//! A [`Subscription`]: a cursor into a room's messages and a wake-up. It
//! reads from the room's window, or catches up from the store when it has
//! fallen out of it.

use std::sync::Arc;

use crate::{Message, Room, SubscriptionError};

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
#[derive(Debug)]
pub struct Subscription {
    room: Arc<Room>,
    next_seq: u64,
    /// Set while replaying `Start::Last`: history older than what the store
    /// keeps was never promised, so starting later than asked is no loss.
    accept_later_start: bool,
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
        let max = max.max(1);
        // A handle of our own, so the wait below does not borrow `self`.
        let room = Arc::clone(&self.room);
        loop {
            // Made before looking, so a message posted between the look and
            // the wait still wakes us. (A `Notified` sees every wake-up from
            // when it is made; it only takes the room's lock to wait, so a
            // look that finds messages costs none.)
            let arrival = room.arrivals().notified();
            let window_start = {
                let state = room.read_state();
                let window_start = state.window_start();
                if self.next_seq >= window_start && self.next_seq <= state.published {
                    let skip = (self.next_seq - window_start) as usize;
                    let batch: Vec<_> = state.window.iter().skip(skip).take(max).cloned().collect();
                    self.advance_past(&batch);
                    room.metrics().deliveries.inc_by(batch.len() as u64);
                    return Ok(batch);
                }
                if self.next_seq > state.published {
                    if state.closed {
                        return Err(SubscriptionError::RoomClosed);
                    }
                    None
                } else {
                    Some(window_start)
                }
            };
            match window_start {
                None => arrival.await,
                Some(window_start) => {
                    if let Some(batch) = self.catch_up(window_start, max).await? {
                        return Ok(batch);
                    }
                }
            }
        }
    }

    /// Reads from the store what is older than the window. Returns `None`
    /// when the cursor only had to move forward (see `accept_later_start`).
    async fn catch_up(
        &mut self,
        window_start: u64,
        max: usize,
    ) -> Result<Option<Vec<Arc<Message>>>, SubscriptionError> {
        let wanted = usize::try_from(window_start - self.next_seq).unwrap_or(usize::MAX);
        let limit = max.min(wanted).min(CATCH_UP_BATCH);
        let batch = self
            .room
            .store()
            .read_from(self.room.name(), self.next_seq, limit)
            .await?;
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
        if let Some(last) = batch.last() {
            self.next_seq = last.seq + 1;
            self.accept_later_start = false;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.room.unsubscribed();
    }
}
