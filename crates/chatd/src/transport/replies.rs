//! A budget for the reply bytes each connection may hold unsent.
//!
//! hyper hands a whole reply body chunk to its HTTP/2 layer as soon as the
//! stream has any send window, and that layer keeps what the client's flow
//! control does not let out yet. A client that asks and never reads could
//! so make the server hold every reply it asked for. Here each connection
//! has a [`ReplyBudget`]: a call takes its reply's bytes from it before it
//! makes the reply (waiting while the budget is spent), and gets them back
//! as the reply body is handed to hyper in pieces of at most [`PIECE`]
//! bytes, each only once the last has found send window. And no body hands
//! on more while [`UNWRITTEN`] bytes handed on are not yet written to the
//! socket (the client stopped reading it): HTTP/2 would queue them whatever
//! the windows say. So a connection holds at most its budget, that much
//! unwritten, and two pieces per open stream, whatever the client does.
//! (HTTP/2 drops what it held for a stream the client resets; such bytes
//! are never written, so a connection whose socket is drained and that has
//! written nothing for [`IDLE_RECHECK`] starts counting afresh.)

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use tokio::time::{Instant, Sleep};

use super::{ConnectionInfo, StandAloneChunks, oversized};
use crate::metrics::{Limit, OpenCount};

/// The most of a body handed to hyper at once (an HTTP/2 frame's default
/// largest payload is 16 KiB).
pub const PIECE: usize = 8 * 1024;

/// Bytes handed to hyper and not yet written to the socket, at most.
pub const UNWRITTEN: usize = 256 * 1024;

/// How long a body waits for writes before it looks whether the
/// connection is idle with nothing to write.
pub const IDLE_RECHECK: Duration = Duration::from_secs(1);

/// Bytes gRPC adds to each message in a reply body: its length prefix.
/// (What a stream takes for an item is what its body gives back for it.)
pub const FRAMING: usize = 5;

/// One connection's allowance of reply bytes not yet handed to hyper.
#[derive(Debug)]
pub struct ReplyBudget {
    limit: usize,
    used: AtomicUsize,
    waiting: AtomicUsize,
    freed: Notify,
    /// Bytes handed to hyper and not yet written: counted up by the bodies,
    /// down by the connection's writer.
    unwritten: AtomicUsize,
    written: Arc<Notify>,
    /// The last write did not finish: the client is not reading.
    socket_blocked: AtomicBool,
    /// When the writer last wrote anything.
    last_write: Mutex<Instant>,
}

impl ReplyBudget {
    pub fn new(limit: usize) -> Self {
        ReplyBudget {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            freed: Notify::new(),
            unwritten: AtomicUsize::new(0),
            written: Arc::new(Notify::new()),
            socket_blocked: AtomicBool::new(false),
            last_write: Mutex::new(Instant::now()),
        }
    }

    /// Takes `bytes`, waiting while the budget is spent. More than the
    /// whole budget takes all of it (so one large reply still goes out).
    async fn take(&self, bytes: usize) -> usize {
        let bytes = bytes.min(self.limit);
        if self.try_take(bytes) {
            return bytes;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        loop {
            let freed = self.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            if self.try_take(bytes) {
                break;
            }
            freed.await;
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        bytes
    }

    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + bytes <= self.limit).then_some(used + bytes)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.freed.notify_waiters();
        }
    }

    /// The connection's writer wrote `bytes` to the socket.
    pub fn written(&self, bytes: usize) {
        *lock(&self.last_write) = Instant::now();
        let before = self
            .unwritten
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(bytes))
            })
            .unwrap_or(0);
        if before >= UNWRITTEN && before.saturating_sub(bytes) < UNWRITTEN {
            self.written.notify_waiters();
        }
    }

    /// The connection's writer found the socket full, or wrote all it had.
    pub fn socket_blocked(&self, blocked: bool) {
        self.socket_blocked.store(blocked, Ordering::Release);
    }

    /// Counts afresh if the connection is idle: its socket drained and
    /// nothing written for [`IDLE_RECHECK`] while bodies wait. HTTP/2
    /// would be writing if it held anything it may send, so what is
    /// counted was dropped with reset streams.
    fn recount_if_idle(&self) {
        let idle = !self.socket_blocked.load(Ordering::Acquire)
            && lock(&self.last_write).elapsed() >= IDLE_RECHECK;
        if idle && self.unwritten.swap(0, Ordering::AcqRel) > 0 {
            self.written.notify_waiters();
        }
    }

    /// Ready while less than [`UNWRITTEN`] is unwritten; `wait` keeps the
    /// registration between polls.
    fn poll_room_to_hand_on(&self, wait: &mut Option<WriteWait>, cx: &mut Context<'_>) -> Poll<()> {
        while self.unwritten.load(Ordering::Acquire) >= UNWRITTEN {
            let waiting = wait.get_or_insert_with(|| WriteWait {
                written: Box::pin(Arc::clone(&self.written).notified_owned()),
                recheck: Box::pin(tokio::time::sleep(IDLE_RECHECK)),
            });
            // Registered before looking again, so a write in between wakes us.
            waiting.written.as_mut().enable();
            if self.unwritten.load(Ordering::Acquire) < UNWRITTEN {
                break;
            }
            if waiting.recheck.as_mut().poll(cx).is_ready() {
                self.recount_if_idle();
            } else {
                ready!(waiting.written.as_mut().poll(cx));
            }
            *wait = None;
        }
        *wait = None;
        Poll::Ready(())
    }

    /// Bytes taken and not yet given back.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// A body's wait for the writer to catch up.
#[derive(Debug)]
pub struct WriteWait {
    written: Pin<Box<OwnedNotified>>,
    recheck: Pin<Box<Sleep>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // An instant: never left half-written.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One call's share of its connection's [`ReplyBudget`]: what the call took
/// for its reply and has not yet handed to hyper. What is left when the
/// last handle drops (the reply was sent, or the client cancelled it) goes
/// back to the connection. A call served outside a metered connection has
/// no budget and never waits.
#[derive(Debug, Clone, Default)]
pub struct ReplyQuota {
    shared: Option<Arc<Held>>,
}

#[derive(Debug)]
struct Held {
    budget: Arc<ReplyBudget>,
    bytes: AtomicUsize,
}

impl ReplyQuota {
    fn new(budget: Arc<ReplyBudget>) -> Self {
        ReplyQuota {
            shared: Some(Arc::new(Held {
                budget,
                bytes: AtomicUsize::new(0),
            })),
        }
    }

    /// The quota of a call, from its request's extensions.
    pub fn of(extensions: &http::Extensions) -> ReplyQuota {
        extensions.get::<ReplyQuota>().cloned().unwrap_or_default()
    }

    /// Takes `bytes` for the reply if the connection's budget has them now.
    pub fn try_take(&self, bytes: usize) -> bool {
        let Some(held) = &self.shared else {
            return true;
        };
        let bytes = bytes.min(held.budget.limit);
        let taken = held.budget.try_take(bytes);
        if taken {
            held.bytes.fetch_add(bytes, Ordering::AcqRel);
        }
        taken
    }

    /// Takes `bytes` for the reply, waiting while the connection's budget
    /// is spent (the client is not reading what it asked for).
    pub async fn take(&self, bytes: usize) {
        if let Some(held) = &self.shared {
            let taken = held.budget.take(bytes).await;
            held.bytes.fetch_add(taken, Ordering::AcqRel);
        }
    }

    /// Ready while the connection's writer keeps up with what is handed on.
    fn poll_room_to_hand_on(&self, wait: &mut Option<WriteWait>, cx: &mut Context<'_>) -> Poll<()> {
        match &self.shared {
            Some(held) => held.budget.poll_room_to_hand_on(wait, cx),
            None => Poll::Ready(()),
        }
    }

    /// Gives back up to `bytes` of what this call holds, which are being
    /// handed on to hyper.
    fn hand_on(&self, bytes: usize) {
        self.give_back(bytes);
        if let Some(held) = &self.shared {
            held.budget.unwritten.fetch_add(bytes, Ordering::AcqRel);
        }
    }

    /// Gives back up to `bytes` of what this call holds.
    fn give_back(&self, bytes: usize) {
        if let Some(held) = &self.shared {
            // Most often nothing is held: a plain read, no locked update.
            if held.bytes.load(Ordering::Acquire) == 0 {
                return;
            }
            let given = held
                .bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| {
                    Some(h.saturating_sub(bytes))
                })
                .map_or(0, |before| before.min(bytes));
            held.budget.give_back(given);
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give_back(*self.bytes.get_mut());
    }
}

/// Gives each call on a metered connection a [`ReplyQuota`] and meters its
/// reply body; on the way out, also names an oversized request's refusal
/// (see [`oversized`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplyBudgetLayer;

impl<S> tower_layer::Layer<S> for ReplyBudgetLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Metered<S> {
        Metered { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Metered<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for Metered<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let info = request.extensions().get::<ConnectionInfo>();
        let quota = info
            .map(|info| ReplyQuota::new(Arc::clone(&info.replies)))
            .unwrap_or_default();
        let metrics = info.map(|info| (info.metrics.clone(), info.protocol));
        let open = metrics
            .as_ref()
            .map(|(metrics, protocol)| metrics.stream_opened(*protocol));
        request.extensions_mut().insert(quota.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            if oversized::rename_status(&mut response)
                && let Some((metrics, _)) = metrics
            {
                metrics.limit_hit(Limit::RequestSize);
            }
            let stand_alone = response.extensions().get::<StandAloneChunks>().is_some();
            Ok(response.map(|body| MeteredBody {
                inner: body,
                _open: open,
                quota,
                rest: Bytes::new(),
                stand_alone,
                write_wait: None,
            }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A reply body handed on in pieces of at most [`PIECE`] bytes, each
    /// giving its bytes back to the call's quota.
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        // Counts the call open while its reply is.
        _open: Option<OpenCount>,
        quota: ReplyQuota,
        // What is left of the chunk being handed on.
        rest: Bytes,
        // The chunks stand alone (see `StandAloneChunks`): handed on
        // without a copy.
        stand_alone: bool,
        write_wait: Option<WriteWait>,
    }
}

impl<B> Body for MeteredBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        ready!(this.quota.poll_room_to_hand_on(this.write_wait, cx));
        if this.rest.is_empty() {
            let Poll::Ready(frame) = this.inner.poll_frame(cx) else {
                // Everything the call paid for has been handed on (a stream
                // pays only for what it yields at once): it holds nothing,
                // whatever rounding left.
                this.quota.give_back(usize::MAX);
                return Poll::Pending;
            };
            match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => *this.rest = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
        let len = this.rest.len().min(PIECE);
        let piece = if *this.stand_alone {
            this.rest.split_to(len)
        } else {
            // A copy: a piece split off would keep the whole encode buffer
            // (a long reply's, or a busy stream's) alive while HTTP/2 holds
            // it.
            let piece = Bytes::copy_from_slice(&this.rest[..len]);
            this.rest.advance(len);
            piece
        };
        if this.rest.is_empty() {
            *this.rest = Bytes::new();
        }
        this.quota.hand_on(piece.len());
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        hint.set_lower(hint.lower() + rest);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    #[tokio::test]
    async fn a_spent_budget_waits_until_replies_go_out() {
        let budget = Arc::new(ReplyBudget::new(100));
        let first = ReplyQuota::new(Arc::clone(&budget));
        first.take(80).await;
        let second = ReplyQuota::new(Arc::clone(&budget));
        assert!(
            second.take(30).now_or_never().is_none(),
            "took more than the budget"
        );
        first.give_back(10);
        second.take(30).await;
        assert_eq!(budget.used(), 100);
        drop(first);
        assert_eq!(budget.used(), 30, "a dropped call gives back what it held");
        drop(second);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn more_than_the_budget_takes_all_of_it() {
        let budget = Arc::new(ReplyBudget::new(100));
        let quota = ReplyQuota::new(Arc::clone(&budget));
        quota.take(1000).await;
        assert_eq!(budget.used(), 100);
    }

    #[tokio::test]
    async fn a_body_goes_out_in_pieces_giving_back_as_it_goes() {
        use http_body_util::BodyExt;

        let budget = Arc::new(ReplyBudget::new(1 << 20));
        let quota = ReplyQuota::new(Arc::clone(&budget));
        quota.take(3 * PIECE).await;
        let chunk = Bytes::from(vec![1u8; 2 * PIECE + 10]);
        let mut body = MeteredBody {
            _open: None,
            inner: http_body_util::Full::new(chunk),
            quota: quota.clone(),
            rest: Bytes::new(),
            stand_alone: false,
            write_wait: None,
        };
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.unwrap().into_data().unwrap().len());
            assert_eq!(
                budget.used(),
                3 * PIECE - sizes.iter().sum::<usize>(),
                "each piece gives back its bytes"
            );
        }
        assert_eq!(sizes, [PIECE, PIECE, 10]);
    }

    #[tokio::test]
    async fn nothing_more_is_handed_on_while_the_writer_is_behind() {
        use http_body_util::BodyExt;

        let budget = Arc::new(ReplyBudget::new(1 << 20));
        let mut body = MeteredBody {
            _open: None,
            inner: http_body_util::Full::new(Bytes::from(vec![0u8; UNWRITTEN + 1])),
            quota: ReplyQuota::new(Arc::clone(&budget)),
            rest: Bytes::new(),
            stand_alone: false,
            write_wait: None,
        };
        let mut handed = 0;
        while let Some(frame) = body.frame().now_or_never() {
            handed += frame.unwrap().unwrap().into_data().unwrap().len();
        }
        assert_eq!(handed, UNWRITTEN, "handed on past the unwritten limit");
        budget.written(PIECE);
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap().len(), 1);
        assert!(body.frame().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_counts_unwritten_bytes_afresh() {
        use http_body_util::BodyExt;

        // What was handed on is never written (its stream was reset), and
        // the socket is drained: the next body goes on after a recheck.
        let budget = Arc::new(ReplyBudget::new(1 << 20));
        budget.unwritten.store(UNWRITTEN, Ordering::Release);
        let mut body = MeteredBody {
            _open: None,
            inner: http_body_util::Full::new(Bytes::from_static(b"next")),
            quota: ReplyQuota::new(Arc::clone(&budget)),
            rest: Bytes::new(),
            stand_alone: false,
            write_wait: None,
        };
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "next");

        // But not while the socket is full: the client is not reading.
        budget.unwritten.store(UNWRITTEN, Ordering::Release);
        budget.socket_blocked(true);
        let mut blocked = MeteredBody {
            _open: None,
            inner: http_body_util::Full::new(Bytes::from_static(b"held")),
            quota: ReplyQuota::new(Arc::clone(&budget)),
            rest: Bytes::new(),
            stand_alone: false,
            write_wait: None,
        };
        let waited = tokio::time::timeout(10 * IDLE_RECHECK, blocked.frame()).await;
        assert!(waited.is_err(), "handed on while the socket was full");
    }
}
