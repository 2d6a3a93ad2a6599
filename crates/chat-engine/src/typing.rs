//! Who is typing in a room: a short-lived signal, never stored, that ends
//! by itself [`TYPING_LASTS`] after its last renewal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::Room;

/// How long "typing" holds without being said again.
pub const TYPING_LASTS: Duration = Duration::from_secs(6);

/// Who is typing, each until when.
#[derive(Debug, Default)]
pub(crate) struct Typing {
    until: Mutex<HashMap<String, Instant>>,
}

impl Typing {
    /// `name` is typing (for [`TYPING_LASTS`] more), or stopped. Returns
    /// whether that is news: it started, or it stopped while typing.
    pub(crate) fn set(&self, name: &str, typing: bool) -> bool {
        let mut until = self.until();
        if typing {
            until
                .insert(name.to_owned(), Instant::now() + TYPING_LASTS)
                .is_none()
        } else {
            until.remove(name).is_some()
        }
    }

    /// Whether `name` stopped being typing by now (its time ran out), in
    /// which case it is forgotten.
    pub(crate) fn expire(&self, name: &str) -> bool {
        let mut until = self.until();
        match until.get(name) {
            Some(&end) if end <= Instant::now() => {
                until.remove(name);
                true
            }
            _ => false,
        }
    }

    fn until(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.until.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ends `name`'s typing in `room` once its time runs out, unless it was
/// renewed (a later renewal's own task ends it then).
pub(crate) fn end_later(room: &Arc<Room>, name: &str) {
    let (room, name) = (Arc::downgrade(room), name.to_owned());
    tokio::spawn(async move {
        tokio::time::sleep(TYPING_LASTS).await;
        if let Some(room) = room.upgrade()
            && room.typing_state().expire(&name)
        {
            room.typing_news(&name, false);
        }
    });
}
