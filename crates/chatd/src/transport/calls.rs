//! The calls of one connection, run by the connection's task instead of a
//! task each (see [`super::connections`]).
//!
//! hyper hands each call it opens to [`Calls`] (its executor). A call's
//! waker puts the call on the connection's ready list and wakes the
//! connection's task, once however many of its calls woke; the task then
//! polls the ready calls only, all of them, before the connection writes
//! what they queued. (`FuturesUnordered` would do the first part, but it
//! yields the task whenever two of its futures wake themselves while
//! polled, as an HTTP/2 stream does when it is given window, and each
//! yield cost a write to the socket: 25 writes per connection per
//! message where one does.)

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Wake, Waker};

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::task::AtomicWaker;

/// A connection's calls: hyper's executor for them, and what the
/// connection's task polls.
#[derive(Clone, Default)]
pub struct Calls {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Opened by hyper since the task last looked.
    opened: Mutex<Vec<BoxFuture<'static, ()>>>,
    /// Indexes of calls woken since they were last polled.
    ready: Mutex<Vec<usize>>,
    /// The connection's task.
    task: AtomicWaker,
}

impl<F: Future<Output = ()> + Send + 'static> hyper::rt::Executor<F> for Calls {
    fn execute(&self, call: F) {
        lock(&self.shared.opened).push(call.boxed());
        self.shared.task.wake();
    }
}

/// The calls being run, owned by the connection's task.
#[derive(Default)]
pub struct Running {
    calls: Vec<Option<Call>>,
    free: Vec<usize>,
}

struct Call {
    future: BoxFuture<'static, ()>,
    waker: Waker,
    queued: Arc<CallWaker>,
}

/// Puts its call on the ready list, once until the call is polled.
struct CallWaker {
    index: usize,
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for CallWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            lock(&self.shared.ready).push(self.index);
            self.shared.task.wake();
        }
    }
}

impl Calls {
    /// Polls the calls opened or woken since the last time, each once,
    /// with `cx`'s task to be woken for the next.
    pub fn poll_ready(&self, running: &mut Running, cx: &mut Context<'_>) {
        self.shared.task.register(cx.waker());
        for future in std::mem::take(&mut *lock(&self.shared.opened)) {
            running.add(future, &self.shared);
        }
        // Taken out first: a call polled may wake itself, which takes the
        // list's lock.
        let ready = std::mem::take(&mut *lock(&self.shared.ready));
        for index in ready {
            running.poll(index);
        }
    }
}

impl Running {
    fn add(&mut self, future: BoxFuture<'static, ()>, shared: &Arc<Shared>) {
        let index = self.free.pop().unwrap_or(self.calls.len());
        // Queued from the start: a new call is polled in this pass.
        let queued = Arc::new(CallWaker {
            index,
            queued: AtomicBool::new(true),
            shared: Arc::clone(shared),
        });
        lock(&shared.ready).push(index);
        let call = Call {
            future,
            waker: Waker::from(Arc::clone(&queued)),
            queued,
        };
        match self.calls.get_mut(index) {
            Some(slot) => *slot = Some(call),
            None => self.calls.push(Some(call)),
        }
    }

    fn poll(&mut self, index: usize) {
        // A call ended since it was woken, or its place went to another
        // (a stale wake: polling that one costs a poll, nothing more).
        let Some(Some(call)) = self.calls.get_mut(index) else {
            return;
        };
        call.queued.queued.store(false, Ordering::Release);
        let mut cx = Context::from_waker(&call.waker);
        if Pin::new(&mut call.future).poll(&mut cx).is_ready() {
            self.calls[index] = None;
            self.free.push(index);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while these are held.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Poll;

    use hyper::rt::Executor;

    use super::*;

    /// A future that counts its polls and ends on the third.
    fn counted(polls: &Arc<AtomicUsize>) -> impl Future<Output = ()> + Send + 'static {
        let polls = Arc::clone(polls);
        futures::future::poll_fn(move |cx| {
            if polls.fetch_add(1, Ordering::SeqCst) == 2 {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }

    #[test]
    fn only_woken_calls_are_polled_and_ended_ones_leave() {
        let calls = Calls::default();
        let mut running = Running::default();
        let (waking, idle) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        calls.execute(counted(&waking));
        calls.execute({
            let idle = Arc::clone(&idle);
            futures::future::poll_fn(move |_| {
                idle.fetch_add(1, Ordering::SeqCst);
                Poll::<()>::Pending
            })
        });
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..5 {
            calls.poll_ready(&mut running, &mut cx);
        }
        assert_eq!(waking.load(Ordering::SeqCst), 3, "polled until it ended");
        assert_eq!(
            idle.load(Ordering::SeqCst),
            1,
            "never woken after its first poll"
        );
        assert_eq!(running.free, vec![0], "the ended call's place is free");
        calls.poll_ready(&mut running, &mut cx);
        let polls = (waking.load(Ordering::SeqCst), idle.load(Ordering::SeqCst));
        assert_eq!(polls, (3, 1), "nothing left to poll");
    }
}
