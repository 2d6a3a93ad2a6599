//! Polling a source only when it woke its task.
//!
//! A stream's task is polled when anything it waits on wakes it, and a
//! plain `select` then polls every source again. Each such look reads the
//! source's shared state (a channel's block list, a broadcast's tail, a
//! cancellation token's lock), which with thousands of streams is out of
//! cache: for the native event stream, that was more than a tenth of the
//! CPU of a fan-out. A [`WakeGate`] hands the source a waker of its own
//! and skips the look unless that waker fired.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures::Stream;

/// Lets a source be polled only when it woke its task since it was last
/// polled, or when its last poll gave something (it must be asked again
/// to register for more).
pub struct WakeGate {
    woken: Arc<Woken>,
    /// Given to the source: raises the flag, then wakes the task.
    waker: Waker,
    /// The task's waker last handed to `woken`: handing it again (a lock
    /// on a line of its own) is skipped while it stays the same.
    task: Option<Waker>,
    /// The source's last poll was pending.
    idle: bool,
}

#[derive(Default)]
struct Woken {
    flag: AtomicBool,
    /// Kept after a wake (unlike an `AtomicWaker`'s), so that it is set
    /// only when the task's waker changes.
    task: Mutex<Option<Waker>>,
}

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.flag.store(true, Ordering::Release);
        if let Some(task) = &*lock(&self.task) {
            task.wake_by_ref();
        }
    }
}

impl Default for WakeGate {
    fn default() -> Self {
        let woken = Arc::<Woken>::default();
        WakeGate {
            waker: Waker::from(Arc::clone(&woken)),
            woken,
            task: None,
            idle: false,
        }
    }
}

impl WakeGate {
    /// `poll`s the source if it may have something, with the gate's waker;
    /// pending otherwise. `cx`'s task is woken when the source wakes.
    pub fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        if !self
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()))
        {
            *lock(&self.woken.task) = Some(cx.waker().clone());
            self.task = Some(cx.waker().clone());
        }
        // Read before it is cleared: a plain read costs no locked
        // instruction, and most looks find it down.
        let woke = self.woken.flag.load(Ordering::Acquire)
            && self.woken.flag.swap(false, Ordering::AcqRel);
        if self.idle && !woke {
            return Poll::Pending;
        }
        let polled = poll(&mut Context::from_waker(&self.waker));
        self.idle = polled.is_pending();
        polled
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while it is held.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A stream or future behind a [`WakeGate`].
pub struct Gated<T> {
    inner: T,
    gate: WakeGate,
}

impl<T> Gated<T> {
    pub fn new(inner: T) -> Self {
        Gated {
            inner,
            gate: WakeGate::default(),
        }
    }
}

impl<S: Stream + Unpin> Stream for Gated<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let Gated { inner, gate } = &mut *self;
        gate.poll(cx, |cx| Pin::new(inner).poll_next(cx))
    }
}

impl<F: Future + Unpin> Future for Gated<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Gated { inner, gate } = &mut *self;
        gate.poll(cx, |cx| Pin::new(inner).poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[derive(Default)]
    struct WakeCount(AtomicUsize);

    impl Wake for WakeCount {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_source_is_polled_again_only_once_it_woke() {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let looks = Arc::new(AtomicUsize::new(0));
        let counted = {
            let looks = Arc::clone(&looks);
            futures::stream::poll_fn(move |cx| {
                looks.fetch_add(1, Ordering::SeqCst);
                receiver.poll_recv(cx)
            })
        };
        let mut gated = Gated::new(Box::pin(counted));
        let wakes = Arc::new(WakeCount::default());
        let task = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&task);
        assert!(Pin::new(&mut gated).poll_next(&mut cx).is_pending());
        for _ in 0..10 {
            assert!(Pin::new(&mut gated).poll_next(&mut cx).is_pending());
        }
        assert_eq!(looks.load(Ordering::SeqCst), 1, "not woken: not looked at");
        for n in 0..3 {
            sender.send(n).unwrap();
            assert_eq!(
                wakes.0.load(Ordering::SeqCst),
                n as usize + 1,
                "each send wakes the task"
            );
            assert_eq!(
                Pin::new(&mut gated).poll_next(&mut cx),
                Poll::Ready(Some(n))
            );
            // Having given something, it is asked again (and registers).
            assert!(Pin::new(&mut gated).poll_next(&mut cx).is_pending());
        }
        drop(sender);
        assert_eq!(Pin::new(&mut gated).poll_next(&mut cx), Poll::Ready(None));
    }
}
