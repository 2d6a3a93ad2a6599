//! Who waits for a room's next message, and waking them.
//!
//! A room may have thousands of subscribers, and every message wakes those
//! that wait. With tokio's `Notify`, each would put itself in the room's
//! list under the list's lock, with a copy of its waker, for every message
//! it waited for, and be taken out again to be woken. Here a subscriber
//! takes a place once and keeps it while it lives: waiting is a flag of
//! its own that it raises before it looks for messages, and a message
//! wakes the places whose flag is up, lowering it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

/// The places of a room's subscribers.
#[derive(Default)]
pub(crate) struct Arrivals {
    places: Mutex<Places>,
}

#[derive(Default)]
struct Places {
    taken: Vec<Option<Taken>>,
    free: Vec<usize>,
}

/// A place and the waker its subscriber last gave.
struct Taken {
    flag: Arc<AtomicBool>,
    waker: Waker,
}

/// A subscriber's place among a room's [`Arrivals`]. It must be given
/// back ([`Arrivals::leave`]) when the subscriber goes.
#[derive(Debug)]
pub(crate) struct Place {
    index: usize,
    /// Up while the subscriber waits.
    waiting: Arc<AtomicBool>,
    /// The waker the room holds for this place.
    waker: Waker,
}

impl Arrivals {
    /// Makes sure the subscriber with `place` (none yet: a new one) is
    /// woken through `waker`, and marks it waiting. Called before every
    /// look for messages: a message shown after the mark wakes it, and
    /// one shown before is found by the look. Takes the lock only for a
    /// new place or a changed waker.
    pub(crate) fn wait(&self, place: &mut Option<Place>, waker: &Waker) {
        match place {
            Some(place) if place.waker.will_wake(waker) => {}
            Some(place) => {
                place.waker = waker.clone();
                if let Some(Some(taken)) = lock(&self.places).taken.get_mut(place.index) {
                    taken.waker = waker.clone();
                }
            }
            None => *place = Some(self.take_place(waker)),
        }
        if let Some(place) = place {
            // No stronger order needed: the look that follows takes the
            // room's read lock, and a message is shown under its write
            // lock before `wake_all`, so either the look sees the message
            // or this mark happens before `wake_all` reads it.
            place.waiting.store(true, Ordering::Release);
        }
    }

    fn take_place(&self, waker: &Waker) -> Place {
        let waiting = Arc::new(AtomicBool::new(false));
        let taken = Taken {
            flag: Arc::clone(&waiting),
            waker: waker.clone(),
        };
        let mut places = lock(&self.places);
        let index = match places.free.pop() {
            Some(index) => {
                places.taken[index] = Some(taken);
                index
            }
            None => {
                places.taken.push(Some(taken));
                places.taken.len() - 1
            }
        };
        Place {
            index,
            waiting,
            waker: waker.clone(),
        }
    }

    /// Gives `place` back.
    pub(crate) fn leave(&self, place: Place) {
        let mut places = lock(&self.places);
        if let Some(slot) = places.taken.get_mut(place.index) {
            *slot = None;
            places.free.push(place.index);
        }
    }

    /// Wakes every subscriber that waits.
    pub(crate) fn wake_all(&self) {
        let places = lock(&self.places);
        for taken in places.taken.iter().flatten() {
            if taken.flag.swap(false, Ordering::AcqRel) {
                taken.waker.wake_by_ref();
            }
        }
    }
}

#[cfg(test)]
impl Arrivals {
    /// Places taken and not given back.
    pub(crate) fn taken(&self) -> usize {
        lock(&self.places).taken.iter().flatten().count()
    }
}

impl Place {
    /// The subscriber's look found something (messages, or the room's
    /// end): it does not wait after all.
    pub(crate) fn stop_waiting(&self) {
        self.waiting.store(false, Ordering::Relaxed);
    }
}

fn lock(places: &Mutex<Places>) -> MutexGuard<'_, Places> {
    // Nothing panics while it is held (a waker's wake does not run the
    // task it wakes).
    places.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    #[test]
    fn only_waiting_places_are_woken_once_per_wait() {
        let arrivals = Arrivals::default();
        let ((a, a_waker), (b, b_waker)) = (counter(), counter());
        let (mut a_place, mut b_place) = (None, None);
        arrivals.wait(&mut a_place, &a_waker);
        arrivals.wait(&mut b_place, &b_waker);
        b_place.as_ref().unwrap().stop_waiting();
        arrivals.wake_all();
        arrivals.wake_all();
        assert_eq!(a.0.load(Ordering::SeqCst), 1, "woken once for one wait");
        assert_eq!(b.0.load(Ordering::SeqCst), 0, "b found its messages");

        // A new waker replaces the old; a place given back is taken again.
        let (c, c_waker) = counter();
        arrivals.wait(&mut a_place, &c_waker);
        arrivals.wake_all();
        assert_eq!(
            (a.0.load(Ordering::SeqCst), c.0.load(Ordering::SeqCst)),
            (1, 1)
        );
        arrivals.leave(b_place.take().unwrap());
        let mut d_place = None;
        arrivals.wait(&mut d_place, &b_waker);
        assert_eq!(d_place.as_ref().unwrap().index, 1, "the free place");
    }
}
