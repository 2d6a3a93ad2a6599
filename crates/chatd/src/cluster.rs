//! A node of a cluster: the messages it stores go to the other nodes
//! through NATS, and theirs come to its engine, which shows them in order
//! and reads from the shared database whatever the broker lost.

use std::sync::Arc;
use std::time::Duration;

use chat_engine::{Engine, Message, Relay};
use futures::StreamExt;
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::native::convert;

/// Where nodes publish the messages they stored (a `chat.v1.Message` each).
const MESSAGES: &str = "chatd.messages";

/// Stored messages waiting to be published, at most: past it (the broker
/// is down or slow) they are dropped, and the other nodes read them from
/// the database when the next one shows the gap.
const PUBLISH_BACKLOG: usize = 16 * 1024;

/// The broker connection of a node.
#[derive(Clone)]
pub struct Broker {
    client: async_nats::Client,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").finish_non_exhaustive()
    }
}

impl Broker {
    /// Connects to NATS at `url` (`nats://host:4222`, or several, comma
    /// separated). The node does not hear its own publications.
    pub async fn connect(url: &str) -> Result<Self, String> {
        let client = async_nats::ConnectOptions::new()
            .no_echo()
            .connection_timeout(Duration::from_secs(5))
            .name("chatd")
            .connect(url)
            .await
            .map_err(|error| format!("cannot reach NATS at {url}: {error}"))?;
        Ok(Broker { client })
    }

    /// The relay the engine hands its stored messages to: they are
    /// published in the order stored, by one task.
    pub fn relay(&self) -> Arc<dyn Relay> {
        let (queue, mut outgoing) = mpsc::channel::<bytes::Bytes>(PUBLISH_BACKLOG);
        let client = self.client.clone();
        tokio::spawn(async move {
            while let Some(payload) = outgoing.recv().await {
                if let Err(error) = client.publish(MESSAGES, payload).await {
                    // The others read it from the database when they see
                    // the gap it leaves.
                    tracing::warn!(%error, "cannot publish a message to NATS");
                }
            }
        });
        Arc::new(NatsRelay { queue })
    }

    /// Shows the other nodes' messages on this node until `shutdown`.
    pub async fn follow(self, engine: Engine, shutdown: CancellationToken) {
        let mut messages = match self.client.subscribe(MESSAGES).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::error!(%error, "cannot follow the other nodes' messages");
                return;
            }
        };
        loop {
            let next = tokio::select! {
                next = messages.next() => next,
                () = shutdown.cancelled() => return,
            };
            let Some(next) = next else { return };
            match chat_proto::chat::v1::Message::decode(next.payload) {
                Ok(wire) => {
                    let (room, message) = convert::from_wire(wire);
                    engine.deliver_remote(&room, Arc::new(message));
                }
                Err(error) => tracing::warn!(%error, "ignoring an undecodable message from NATS"),
            }
        }
    }
}

struct NatsRelay {
    queue: mpsc::Sender<bytes::Bytes>,
}

impl Relay for NatsRelay {
    fn publish(&self, room: &str, message: &Arc<Message>) {
        let payload = convert::message(room, message).encode_to_vec();
        if self.queue.try_send(payload.into()).is_err() {
            tracing::debug!(
                room,
                seq = message.seq,
                "broker backlog full: not published"
            );
        }
    }
}
