//! Turns an engine subscription into a gRPC response stream.
//!
//! The stream pulls from the subscription only when tonic asks for the next
//! item, and takes the bytes of what it pulled from its connection's reply
//! budget first. So a client that stops reading costs a bounded amount of
//! memory and holds up nobody; when it reads again the subscription catches
//! it up from history or ends the stream with a status saying what it lost.
//! No task is spawned per stream: when the client leaves, tonic drops the
//! stream and the subscription with it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use chat_engine::{Message, Subscription, SubscriptionError};
use futures::Stream;
use futures::future::BoxFuture;
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::Status;

use crate::status;
use crate::transport::{Caller, FRAMING, ReplyQuota};
use crate::wake_gate::Gated;

/// How many messages a stream takes from its room at a time.
const BATCH: usize = 64;

/// Streams every message of `subscription` that `convert` maps to an item,
/// until the client leaves, the room closes (the stream ends) or `shutdown`
/// fires (the stream ends cleanly, so shutdown can drain connections).
/// Items are paid for from `quota` before they are handed on. The stream's
/// end is logged with its `caller`.
pub fn subscription_stream<T, F>(
    subscription: Subscription,
    shutdown: CancellationToken,
    quota: ReplyQuota,
    caller: Option<Caller>,
    convert: F,
) -> SubscriptionStream<T, F>
where
    T: prost::Message + Send + 'static,
    F: FnMut(&Message) -> Option<T> + Send + 'static,
{
    SubscriptionStream {
        subscription,
        ready: VecDeque::new(),
        held: None,
        paying: None,
        shutdown: stop_signal(&shutdown),
        quota,
        convert,
        ended: false,
        caller,
    }
}

/// See [`subscription_stream`]. Polled in place: its waits stay registered
/// between polls, and nothing of it moves per message.
pub struct SubscriptionStream<T, F> {
    subscription: Subscription,
    /// Converted; paid for unless `paying`.
    ready: VecDeque<T>,
    /// Nothing is read until this wait is over.
    held: Option<Pin<Box<Sleep>>>,
    /// Waiting for the reply budget to pay for `ready`.
    paying: Option<BoxFuture<'static, ()>>,
    shutdown: StopSignal,
    quota: ReplyQuota,
    convert: F,
    ended: bool,
    /// Who opened the stream: it is polled outside the call's span.
    caller: Option<Caller>,
}

impl<T, F> Stream for SubscriptionStream<T, F>
where
    T: prost::Message + Unpin,
    F: FnMut(&Message) -> Option<T> + Unpin,
{
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        loop {
            if this.paying.is_none()
                && let Some(item) = this.ready.pop_front()
            {
                return Poll::Ready(Some(Ok(item)));
            }
            if Pin::new(&mut this.shutdown).poll(cx).is_ready() {
                this.ended = true;
                return Poll::Ready(None);
            }
            if let Some(held) = &mut this.held {
                ready!(held.as_mut().poll(cx));
                this.held = None;
            }
            if let Some(paying) = &mut this.paying {
                ready!(paying.as_mut().poll(cx));
                this.paying = None;
                continue;
            }
            // Read straight into `ready` (which is empty): the items are
            // paid for before any is handed on.
            let convert = &mut this.convert;
            let received = this
                .subscription
                .poll_recv_into(cx, BATCH, &mut this.ready, &mut |m| convert(m));
            match ready!(received) {
                Ok(()) => this.pay_for_ready(),
                Err(SubscriptionError::RoomClosed) => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Err(error) => {
                    this.ended = true;
                    tracing::info!(
                        protocol = this.caller.map(|caller| caller.protocol.name()),
                        client = this.caller.map(|caller| tracing::field::display(caller.client)),
                        room = this.subscription.room().name(),
                        %error,
                        "stream ended"
                    );
                    return Poll::Ready(Some(Err(status::from_subscription(error))));
                }
            }
        }
    }
}

impl<T: prost::Message, F> SubscriptionStream<T, F> {
    /// Reads nothing until `delay` has passed (the subscription's start
    /// is fixed already, so nothing is missed meanwhile).
    pub fn held_for(mut self, delay: Duration) -> Self {
        self.held = (!delay.is_zero()).then(|| Box::pin(tokio::time::sleep(delay)));
        self
    }

    /// Takes the bytes of `ready` from the reply budget, now if it has
    /// them, or in `paying` once it has.
    fn pay_for_ready(&mut self) {
        let bytes = self
            .ready
            .iter()
            .map(|item| item.encoded_len() + FRAMING)
            .sum();
        if !self.quota.try_take(bytes) {
            let quota = self.quota.clone();
            self.paying = Some(Box::pin(async move { quota.take(bytes).await }));
        }
    }
}

/// Fires when a stream must stop. Made once per stream, it stays registered
/// between waits; a child token gives each stream its own wake-up list, so
/// thousands of streams waiting for messages do not contend for one lock;
/// and it asks its token only when the token woke it (a look takes the
/// token's lock, and a stream is polled for every message).
type StopSignal = Gated<Pin<Box<WaitForCancellationFutureOwned>>>;

fn stop_signal(token: &CancellationToken) -> StopSignal {
    Gated::new(Box::pin(token.child_token().cancelled_owned()))
}
