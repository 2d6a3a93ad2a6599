//! What the engine counts as it works, for `chatd`'s Prometheus metrics.
//! The counters are shared handles: the engine updates them, and whoever
//! serves metrics registers them (see [`EngineMetrics::register`]).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The engine's own measures. Cheap to clone: every clone updates the same
/// values.
#[derive(Clone, Debug)]
pub struct EngineMetrics {
    /// Messages handed to subscribers (one per message per subscriber).
    pub(crate) deliveries: Counter,
    /// Times a subscriber had fallen out of a room's in-memory window and
    /// was caught up from the store.
    pub(crate) catch_ups: Counter,
    /// Subscriptions that fell so far behind that history no longer had
    /// what they missed.
    pub(crate) lagged: Counter,
    /// How long storing a batch of messages took.
    pub(crate) store_commits: Histogram,
    /// Messages stored in all.
    pub(crate) stored: Counter,
    /// Messages read from the store to fill a gap in a room's order
    /// (another node's message that did not come through the relay).
    pub(crate) gap_messages: Counter,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics {
            deliveries: Counter::default(),
            catch_ups: Counter::default(),
            lagged: Counter::default(),
            store_commits: latency_histogram(),
            stored: Counter::default(),
            gap_messages: Counter::default(),
        }
    }
}

/// Buckets from 50 µs to about 13 s, each twice the last: wide enough for
/// an in-memory store and a distant database alike.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 19))
}

impl EngineMetrics {
    /// Adds the engine's measures to `registry`, named `chatd_...`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "chatd_deliveries",
            "Messages handed to subscriber streams, one per message per subscriber",
            self.deliveries.clone(),
        );
        registry.register(
            "chatd_subscriber_catch_ups",
            "Times a subscriber had fallen behind a room's in-memory window and was caught up \
             from the store",
            self.catch_ups.clone(),
        );
        registry.register(
            "chatd_subscribers_lagged",
            "Streams ended because history no longer had the messages they had fallen behind on",
            self.lagged.clone(),
        );
        registry.register_with_unit(
            "chatd_store_commit",
            "Time to store one batch of messages (one transaction)",
            Unit::Seconds,
            self.store_commits.clone(),
        );
        registry.register(
            "chatd_messages_stored",
            "Messages stored in history by this node",
            self.stored.clone(),
        );
        registry.register(
            "chatd_gap_messages_filled",
            "Messages of other nodes read from the database because they had not come through \
             the broker in time",
            self.gap_messages.clone(),
        );
    }
}
