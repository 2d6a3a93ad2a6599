//! The one place messages, and changes to them, get their sequence
//! numbers: a task that takes posts in arrival order, numbers a batch of them, stores the batch in one
//! go (one transaction, one disk sync for a durable store), and only then
//! publishes the messages to their rooms (and, through the relay, to other
//! nodes sharing the store) and acknowledges the senders. A shared store
//! may move a room's numbers up, after messages other nodes stored: those
//! are read back and shown first.
//!
//! So a subscriber never sees a message that was not stored, a sender hears
//! "sent" only once its message is stored, and a batch that fails to store
//! gives its numbers back: no number is ever used twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::Entry;
use crate::{
    Change, Draft, EngineError, EngineMetrics, HistoryStore, Mentions, Message, Relay, Room,
    SentKey,
};

/// How long a gap in a room's numbers (a message from another node not
/// yet come, or lost) is waited for before it is read from the store.
pub(crate) const GAP_WAIT: Duration = Duration::from_millis(100);

/// Posts stored together at most.
const MAX_BATCH: usize = 512;

type Done = oneshot::Sender<Result<Arc<Message>, EngineError>>;

/// What a room's order takes: a new message (with whom it mentions), or
/// a change to one.
pub(crate) enum Post {
    Draft(Draft, Mentions),
    Change(Change),
}

struct Submission {
    room: Arc<Room>,
    post: Post,
    done: Done,
}

impl Submission {
    /// What makes the draft unique, if it has a client id.
    fn key(&self) -> Option<SentKey> {
        let Post::Draft(draft, _) = &self.post else {
            return None;
        };
        Some(SentKey {
            room: self.room.name().to_owned(),
            sender: draft.sender.clone(),
            client_id: draft.client_id.clone()?,
        })
    }
}

/// A handle for submitting posts to the committer task.
#[derive(Clone)]
pub(crate) struct Committer {
    submissions: mpsc::UnboundedSender<Submission>,
    metrics: EngineMetrics,
}

impl Committer {
    /// Starts the committer task on the current tokio runtime; what it
    /// stores, it also hands to `relay` for the other nodes.
    pub(crate) fn start(
        store: Arc<dyn HistoryStore>,
        relay: Arc<dyn Relay>,
        metrics: EngineMetrics,
    ) -> Self {
        let (submissions, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(store, relay, metrics.clone(), queue));
        Committer {
            submissions,
            metrics,
        }
    }

    /// What the engine counts.
    pub(crate) fn metrics(&self) -> &EngineMetrics {
        &self.metrics
    }

    /// Posts `post` to `room`; resolves once it is stored and published,
    /// with its entry as stored.
    pub(crate) async fn submit(
        &self,
        room: Arc<Room>,
        post: Post,
    ) -> Result<Arc<Message>, EngineError> {
        let (done, outcome) = oneshot::channel();
        let submission = Submission { room, post, done };
        if self.submissions.send(submission).is_err() {
            return Err(EngineError::ShuttingDown);
        }
        outcome.await.unwrap_or(Err(EngineError::ShuttingDown))
    }
}

async fn run(
    store: Arc<dyn HistoryStore>,
    relay: Arc<dyn Relay>,
    metrics: EngineMetrics,
    mut queue: mpsc::UnboundedReceiver<Submission>,
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        commit(&store, relay.as_ref(), &metrics, waiting.drain(..)).await;
    }
}

/// Numbers, stores and publishes one batch. A retry of a stored message
/// (same room, sender and client id) gets that message back, whether it is
/// recent (in memory) or older (in the store, e.g. from before a restart);
/// retries within the batch share one new message.
async fn commit(
    store: &Arc<dyn HistoryStore>,
    relay: &dyn Relay,
    metrics: &EngineMetrics,
    batch: impl Iterator<Item = Submission>,
) {
    let mut fresh = Vec::new();
    for submission in batch {
        let earlier = match &submission.post {
            Post::Draft(draft, _) => submission.room.recent_repeat(draft),
            Post::Change(_) => None,
        };
        match earlier {
            Some(earlier) => drop(submission.done.send(Ok(earlier))),
            None => fresh.push(submission),
        }
    }
    let fresh = without_stored_repeats(store.as_ref(), fresh).await;

    // Posts to store, each with everyone waiting for it.
    let mut posts: Vec<(Arc<Room>, Post, Vec<Done>)> = Vec::new();
    let mut by_key: HashMap<SentKey, usize> = HashMap::new();
    for submission in fresh {
        let key = submission.key();
        if let Some(&first) = key.as_ref().and_then(|key| by_key.get(key)) {
            posts[first].2.push(submission.done);
            continue;
        }
        if let Some(key) = key {
            by_key.insert(key, posts.len());
        }
        posts.push((submission.room, submission.post, vec![submission.done]));
    }
    if posts.is_empty() {
        return;
    }
    store_batch(store, relay, metrics, posts).await;
}

/// Numbers, stores and publishes `posts` in one batch. A shared store may
/// have moved a room's entries up, after ones other nodes stored: those
/// are shown first (read back from the store), then the batch's.
async fn store_batch(
    store: &Arc<dyn HistoryStore>,
    relay: &dyn Relay,
    metrics: &EngineMetrics,
    posts: Vec<(Arc<Room>, Post, Vec<Done>)>,
) {
    let mut numbered: Vec<(Arc<Room>, Entry, Vec<Done>)> = Vec::new();
    for (room, post, waiting) in posts {
        match room.number(post) {
            Ok(entry) => numbered.push((room, entry, waiting)),
            // Only a closed room refuses a number.
            Err(_) => {
                for done in waiting {
                    let _ = done.send(Err(EngineError::RoomClosed(room.name().to_owned())));
                }
            }
        }
    }
    if numbered.is_empty() {
        return;
    }
    let records: Vec<(&str, Entry)> = numbered
        .iter()
        .map(|(room, entry, _)| (room.name(), entry.clone()))
        .collect();
    let started = std::time::Instant::now();
    let appended = store.append(&records).await;
    metrics
        .store_commits
        .observe(started.elapsed().as_secs_f64());
    let stored = match appended {
        Ok(stored) => {
            metrics.stored.inc_by(stored.len() as u64);
            stored
        }
        Err(error) => {
            tracing::error!(%error, messages = numbered.len(), "storing messages failed");
            // Give the numbers back, newest first, so each room resumes at
            // its first unstored number.
            for (room, entry, _) in numbered.iter().rev() {
                room.unnumber(entry);
            }
            for done in numbered.into_iter().flat_map(|(_, _, waiting)| waiting) {
                let _ = done.send(Err(EngineError::Store(error.clone())));
            }
            return;
        }
    };
    for ((room, entry, waiting), message) in numbered.into_iter().zip(stored) {
        if message.seq != entry.seq() {
            catch_up(store.as_ref(), &room, message.seq - 1).await;
        }
        relay.publish(room.name(), &message);
        if room.deliver(Arc::clone(&message)).is_some() {
            // What other nodes stored before it could not be read yet.
            fill_gap_later(Arc::clone(store), Arc::clone(&room));
        }
        for done in waiting {
            let _ = done.send(Ok(Arc::clone(&message)));
        }
    }
}

/// Shows the messages other nodes stored in `room` up to `stored` that
/// this node has not shown yet, reading them from the store.
pub(crate) async fn catch_up(store: &dyn HistoryStore, room: &Room, stored: u64) {
    const PAGE: usize = 512;
    while room.last_seq() < stored {
        let from = room.last_seq() + 1;
        match store.read_from(room.name(), from, PAGE).await {
            Ok(page) if !page.is_empty() => {
                for message in page.into_iter().take_while(|m| m.seq <= stored) {
                    room.deliver(message);
                    room.metrics().gap_messages.inc();
                }
            }
            // Removed by retention meanwhile: go on from there.
            Ok(_) => room.skip_to(stored),
            // Tried again later (see `fill_gap_later`): nothing is skipped
            // for a store that is down for a while.
            Err(error) => {
                tracing::warn!(%error, room = room.name(), "cannot read what other nodes stored");
                return;
            }
        }
    }
}

/// Unless a task is at it already, fills `room`'s gap: waits [`GAP_WAIT`]
/// for what is missing to come through the relay, then reads it from the
/// store, again until nothing waits.
pub(crate) fn fill_gap_later(store: Arc<dyn HistoryStore>, room: Arc<Room>) {
    if !room.start_filling() {
        return;
    }
    tokio::spawn(async move {
        loop {
            while room.behind_to().is_some() {
                tokio::time::sleep(GAP_WAIT).await;
                if let Some(stored) = room.behind_to() {
                    catch_up(store.as_ref(), &room, stored).await;
                }
            }
            room.stop_filling();
            // A gap that opened as this one closed has no filler yet.
            if room.behind_to().is_none() || !room.start_filling() {
                break;
            }
        }
    });
}

/// Answers the submissions whose client id the store already has with the
/// stored message; returns the rest.
async fn without_stored_repeats(
    store: &dyn HistoryStore,
    submissions: Vec<Submission>,
) -> Vec<Submission> {
    let keys: Vec<SentKey> = submissions.iter().filter_map(Submission::key).collect();
    if keys.is_empty() {
        return submissions;
    }
    let found = match store.find_sent(keys).await {
        Ok(found) => found,
        Err(error) => {
            // Unsure whether they were stored: refuse those with an id.
            let mut rest = Vec::new();
            for submission in submissions {
                if submission.key().is_some() {
                    let _ = submission.done.send(Err(EngineError::Store(error.clone())));
                } else {
                    rest.push(submission);
                }
            }
            return rest;
        }
    };
    let mut found = found.into_iter();
    let mut rest = Vec::new();
    for submission in submissions {
        let stored = match submission.key() {
            Some(_) => found.next().flatten(),
            None => None,
        };
        match stored {
            Some(message) => drop(submission.done.send(Ok(message))),
            None => rest.push(submission),
        }
    }
    rest
}
