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
use std::pin::Pin;

use chat_engine::{Message, Subscription, SubscriptionError};
use futures::Stream;
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
) -> impl Stream<Item = Result<T, Status>> + Send + 'static
where
    T: prost::Message + Send + 'static,
    F: FnMut(&Message) -> Option<T> + Send + 'static,
{
    let state = StreamState {
        subscription,
        ready: VecDeque::new(),
        shutdown: stop_signal(&shutdown),
        quota,
        convert,
        ended: false,
        caller,
    };
    futures::stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        Some((item, state))
    })
}

struct StreamState<T, F> {
    subscription: Subscription,
    /// Converted and paid for.
    ready: VecDeque<T>,
    shutdown: StopSignal,
    quota: ReplyQuota,
    convert: F,
    ended: bool,
    /// Who opened the stream: it is polled outside the call's span.
    caller: Option<Caller>,
}

impl<T: prost::Message, F: FnMut(&Message) -> Option<T>> StreamState<T, F> {
    async fn next(&mut self) -> Option<Result<T, Status>> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            let received = tokio::select! {
                biased;
                () = &mut self.shutdown => return None,
                received = self.subscription.recv(BATCH) => received,
            };
            match received {
                Ok(batch) => {
                    let convert = &mut self.convert;
                    let items: Vec<T> = batch.iter().filter_map(|m| convert(m)).collect();
                    let bytes = items.iter().map(|item| item.encoded_len() + FRAMING).sum();
                    tokio::select! {
                        biased;
                        () = &mut self.shutdown => return None,
                        () = self.quota.take(bytes) => {}
                    }
                    self.ready.extend(items);
                }
                Err(SubscriptionError::RoomClosed) => return None,
                Err(error) => {
                    self.ended = true;
                    tracing::info!(
                        protocol = self.caller.map(|caller| caller.protocol.name()),
                        client = self.caller.map(|caller| tracing::field::display(caller.client)),
                        room = self.subscription.room().name(),
                        %error,
                        "stream ended"
                    );
                    return Some(Err(status::from_subscription(error)));
                }
            }
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
