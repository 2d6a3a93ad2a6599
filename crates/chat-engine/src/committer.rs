//! The one place messages get their sequence numbers: a task that takes
//! posts in arrival order, numbers a batch of them, stores the batch in one
//! go (one transaction, one disk sync for a durable store), and only then
//! publishes the messages to their rooms and acknowledges the senders.
//!
//! So a subscriber never sees a message that was not stored, a sender hears
//! "sent" only once its message is stored, and a batch that fails to store
//! gives its numbers back: no number is ever used twice.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::room::Numbered;
use crate::{Draft, EngineError, HistoryStore, Message, Room};

/// Posts stored together at most.
const MAX_BATCH: usize = 512;

struct Submission {
    room: Arc<Room>,
    draft: Draft,
    done: oneshot::Sender<Result<Arc<Message>, EngineError>>,
}

/// A handle for submitting posts to the committer task.
#[derive(Clone)]
pub(crate) struct Committer {
    submissions: mpsc::UnboundedSender<Submission>,
}

impl Committer {
    /// Starts the committer task on the current tokio runtime.
    pub(crate) fn start(store: Arc<dyn HistoryStore>) -> Self {
        let (submissions, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(store, queue));
        Committer { submissions }
    }

    /// Posts `draft` to `room`; resolves once it is stored and published.
    pub(crate) async fn submit(
        &self,
        room: Arc<Room>,
        draft: Draft,
    ) -> Result<Arc<Message>, EngineError> {
        let (done, outcome) = oneshot::channel();
        let submission = Submission { room, draft, done };
        if self.submissions.send(submission).is_err() {
            return Err(EngineError::ShuttingDown);
        }
        outcome.await.unwrap_or(Err(EngineError::ShuttingDown))
    }
}

async fn run(store: Arc<dyn HistoryStore>, mut queue: mpsc::UnboundedReceiver<Submission>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        commit(store.as_ref(), waiting.drain(..)).await;
    }
}

/// Numbers, stores and publishes one batch.
async fn commit(store: &dyn HistoryStore, batch: impl Iterator<Item = Submission>) {
    let mut numbered = Vec::new();
    for Submission { room, draft, done } in batch {
        match room.number(draft) {
            Ok(Numbered::New(message)) => numbered.push((room, message, done)),
            // A retry of a stored message: nothing more to store.
            Ok(Numbered::Repeat(message)) => drop(done.send(Ok(message))),
            Err(error) => drop(done.send(Err(error))),
        }
    }
    if numbered.is_empty() {
        return;
    }
    let records: Vec<(&str, &Arc<Message>)> = numbered
        .iter()
        .map(|(room, message, _)| (room.name(), message))
        .collect();
    match store.append(&records).await {
        Ok(()) => {
            for (room, message, done) in numbered {
                room.publish(Arc::clone(&message));
                let _ = done.send(Ok(message));
            }
        }
        Err(error) => {
            tracing::error!(%error, messages = numbered.len(), "storing messages failed");
            // Give the numbers back, newest first, so each room resumes at
            // its first unstored number.
            for (room, message, _) in numbered.iter().rev() {
                room.unnumber(message.seq);
            }
            for (_, _, done) in numbered {
                let _ = done.send(Err(EngineError::Store(error.clone())));
            }
        }
    }
}
