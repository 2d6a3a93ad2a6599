//! Prometheus metrics: what `chatd` counts, and `/metrics` over plain HTTP
//! on `--metrics-addr`.
//!
//! Each server has a registry of its own (no global recorder), so many
//! servers can run in one process, as the tests do. A call reaches the
//! metrics through its connection's [`ConnectionInfo`], which knows the
//! protocol too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_engine::{Engine, latency_histogram};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Status};

use crate::transport::ConnectionInfo;

/// The protocol a connection speaks, by the port it came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `chat.v1`, and the web client's gRPC-Web.
    Native,
    Classic,
    /// Agent, Heartbeat, Lobby and channels.
    Lobby,
}

impl Protocol {
    const ALL: [Protocol; 3] = [Protocol::Native, Protocol::Classic, Protocol::Lobby];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Native => "native",
            Protocol::Classic => "classic",
            Protocol::Lobby => "lobby",
        }
    }
}

/// A limit on what one client may do, hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `--max-connections`.
    Connections,
    /// `--max-connections-per-address`.
    ConnectionsPerAddress,
    /// `--handshake-timeout`.
    Handshake,
    /// A request larger than the largest valid one.
    RequestSize,
    /// `--max-sends-per-second` (a native user's).
    SendsPerUser,
    /// `--max-legacy-sends-per-second` (a classic or lobby address's).
    SendsPerAddress,
    /// `--max-logins-per-second`.
    LoginsPerAddress,
}

impl Limit {
    const ALL: [Limit; 7] = [
        Limit::Connections,
        Limit::ConnectionsPerAddress,
        Limit::Handshake,
        Limit::RequestSize,
        Limit::SendsPerUser,
        Limit::SendsPerAddress,
        Limit::LoginsPerAddress,
    ];

    fn name(self) -> &'static str {
        match self {
            Limit::Connections => "connections",
            Limit::ConnectionsPerAddress => "connections_per_address",
            Limit::Handshake => "handshake_timeout",
            Limit::RequestSize => "request_size",
            Limit::SendsPerUser => "sends_per_user",
            Limit::SendsPerAddress => "sends_per_address",
            Limit::LoginsPerAddress => "logins_per_address",
        }
    }
}

type Labels<const N: usize> = [(&'static str, &'static str); N];
type Histograms<const N: usize> = Family<Labels<N>, Histogram, fn() -> Histogram>;

/// Every measure of one server. A cheap-to-clone handle.
#[derive(Clone, Debug)]
pub struct Metrics {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    registry: Registry,
    /// By `Protocol as usize`: the busy measures, without a label lookup.
    protocols: Vec<ProtocolMeasures>,
    messages_refused: Family<Labels<2>, Counter>,
    limits_hit: Family<Labels<1>, Counter>,
    login_failures: Family<Labels<1>, Counter>,
    checks: Histograms<1>,
    check_failures: Family<Labels<1>, Counter>,
    files: FileMeasures,
}

/// What sharing files moves.
#[derive(Debug, Default)]
struct FileMeasures {
    uploaded: Counter,
    uploaded_bytes: Counter,
    served_bytes: Counter,
    removed: Counter,
}

/// One protocol's busy measures.
#[derive(Debug)]
struct ProtocolMeasures {
    connections_open: Gauge,
    connections_accepted: Counter,
    streams_open: Gauge,
    messages_accepted: Counter,
    sends: Histogram,
}

/// The measures kept per protocol, registered in `registry`, in the
/// order of [`Protocol::ALL`].
fn per_protocol(registry: &mut Registry) -> Vec<ProtocolMeasures> {
    let histograms: fn() -> Histogram = latency_histogram;
    let connections_open = Family::<Labels<1>, Gauge>::default();
    let connections_accepted = Family::<Labels<1>, Counter>::default();
    let streams_open = Family::<Labels<1>, Gauge>::default();
    let messages_accepted = Family::<Labels<1>, Counter>::default();
    let sends: Histograms<1> = Family::new_with_constructor(histograms);
    let protocols = Protocol::ALL
        .iter()
        .map(|protocol| {
            let label = [("protocol", protocol.name())];
            ProtocolMeasures {
                connections_open: connections_open.get_or_create_owned(&label),
                connections_accepted: connections_accepted.get_or_create_owned(&label),
                streams_open: streams_open.get_or_create_owned(&label),
                messages_accepted: messages_accepted.get_or_create_owned(&label),
                sends: sends.get_or_create_owned(&label),
            }
        })
        .collect();
    registry.register(
        "chatd_connections_open",
        "Client connections open now, by the protocol of the port they came to",
        connections_open,
    );
    registry.register(
        "chatd_connections_accepted",
        "Client connections admitted",
        connections_accepted,
    );
    registry.register(
        "chatd_streams_open",
        "Calls in progress now (HTTP/2 streams), most of them event and message streams",
        streams_open,
    );
    registry.register(
        "chatd_messages_accepted",
        "Messages stored and published",
        messages_accepted,
    );
    registry.register_with_unit(
        "chatd_send",
        "Time from a send's arrival to its acknowledgement (stored and published)",
        Unit::Seconds,
        sends,
    );
    protocols
}

impl Shared {
    /// Registers the measures that are not per protocol.
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "chatd_messages_refused",
            "Messages refused, by the gRPC status code of the refusal",
            self.messages_refused.clone(),
        );
        registry.register(
            "chatd_limits_hit",
            "Requests and connections refused or cut by a limit on one client",
            self.limits_hit.clone(),
        );
        registry.register(
            "chatd_login_failures",
            "Native logins refused, by the gRPC status code of the refusal",
            self.login_failures.clone(),
        );
        registry.register_with_unit(
            "chatd_health_check",
            "Round trip of a health check: `SELECT 1` against the history store (in a \
             cluster, the database), a flush to the broker",
            Unit::Seconds,
            self.checks.clone(),
        );
        registry.register(
            "chatd_health_check_failures",
            "Health checks that failed or took too long",
            self.check_failures.clone(),
        );
        let files = &self.files;
        registry.register("chatd_files_uploaded", "Files kept", files.uploaded.clone());
        registry.register_with_unit(
            "chatd_files_uploaded",
            "Bytes of the files kept (images as cleaned)",
            Unit::Bytes,
            files.uploaded_bytes.clone(),
        );
        registry.register_with_unit(
            "chatd_files_served",
            "Bytes of files and thumbnails served by their links",
            Unit::Bytes,
            files.served_bytes.clone(),
        );
        registry.register(
            "chatd_files_removed",
            "Files removed as no message sends them",
            files.removed.clone(),
        );
    }
}

impl Metrics {
    /// A registry with every measure of a server over `engine`.
    pub fn new(engine: &Engine) -> Self {
        let mut registry = Registry::default();
        let histograms: fn() -> Histogram = latency_histogram;
        let shared = Shared {
            protocols: per_protocol(&mut registry),
            messages_refused: Family::default(),
            limits_hit: Family::default(),
            login_failures: Family::default(),
            checks: Family::new_with_constructor(histograms),
            check_failures: Family::default(),
            files: FileMeasures::default(),
            registry: Registry::default(),
        };
        // Zeros from the start, so a dashboard sees every series at once.
        for limit in Limit::ALL {
            let _ = shared
                .limits_hit
                .get_or_create_owned(&[("limit", limit.name())]);
        }
        for code in [Code::Unauthenticated, Code::ResourceExhausted] {
            let _ = shared
                .login_failures
                .get_or_create_owned(&[("code", code_name(code))]);
        }
        shared.register(&mut registry);
        engine.metrics().register(&mut registry);
        registry.register_collector(Box::new(EngineCensus(engine.clone())));
        Metrics {
            shared: Arc::new(Shared { registry, ..shared }),
        }
    }

    /// The metrics of the server `request` came to, if it came over a
    /// connection of ours.
    pub fn of<T>(request: &Request<T>) -> Option<(&Metrics, Protocol)> {
        ConnectionInfo::of(request).map(|info| (&info.metrics, info.protocol))
    }

    /// A file of `bytes` was kept.
    pub fn file_uploaded(&self, bytes: u64) {
        self.shared.files.uploaded.inc();
        self.shared.files.uploaded_bytes.inc_by(bytes);
    }

    /// `bytes` of a file went to a client.
    pub fn file_bytes_served(&self, bytes: u64) {
        self.shared.files.served_bytes.inc_by(bytes);
    }

    /// `count` files no message sends were removed.
    pub fn files_removed(&self, count: u64) {
        self.shared.files.removed.inc_by(count);
    }

    /// Counts a connection open until the returned guard is dropped.
    pub fn connection_opened(&self, protocol: Protocol) -> OpenCount {
        let measures = self.of_protocol(protocol);
        measures.connections_accepted.inc();
        OpenCount::new(measures.connections_open.clone())
    }

    /// Counts a call open until the returned guard is dropped.
    pub fn stream_opened(&self, protocol: Protocol) -> OpenCount {
        OpenCount::new(self.of_protocol(protocol).streams_open.clone())
    }

    fn of_protocol(&self, protocol: Protocol) -> &ProtocolMeasures {
        &self.shared.protocols[protocol as usize]
    }

    pub fn limit_hit(&self, limit: Limit) {
        self.shared
            .limits_hit
            .get_or_create(&[("limit", limit.name())])
            .inc();
    }

    /// Counts a native login's failure, if it failed.
    pub fn login<T>(&self, outcome: &Result<T, Status>) {
        if let Err(status) = outcome {
            self.shared
                .login_failures
                .get_or_create(&[("code", code_name(status.code()))])
                .inc();
        }
    }

    /// Starts the series of health check `check` at zero.
    pub fn watching(&self, check: &'static str) {
        let _ = self
            .shared
            .check_failures
            .get_or_create_owned(&[("check", check)]);
    }

    /// Records how long a health check took, and whether it failed.
    pub fn checked(&self, check: &'static str, took: Duration, ok: bool) {
        let label = [("check", check)];
        self.shared
            .checks
            .get_or_create(&label)
            .observe(took.as_secs_f64());
        if !ok {
            self.shared.check_failures.get_or_create(&label).inc();
        }
    }

    /// Everything, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.shared.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// Times a send from its arrival, and counts how it ended.
pub struct SendMeter {
    metrics: Option<(Metrics, Protocol)>,
    started: Instant,
}

impl SendMeter {
    pub fn start<T>(request: &Request<T>) -> Self {
        SendMeter {
            metrics: Metrics::of(request).map(|(metrics, protocol)| (metrics.clone(), protocol)),
            started: Instant::now(),
        }
    }

    /// Counts a limit the send hit.
    pub fn limit_hit(&self, limit: Limit) {
        if let Some((metrics, _)) = &self.metrics {
            metrics.limit_hit(limit);
        }
    }

    pub fn finish<T>(self, outcome: &Result<T, Status>) {
        let Some((metrics, protocol)) = self.metrics else {
            return;
        };
        match outcome {
            Ok(_) => {
                let measures = metrics.of_protocol(protocol);
                measures.messages_accepted.inc();
                measures.sends.observe(self.started.elapsed().as_secs_f64());
            }
            Err(status) => {
                let labels = [
                    ("protocol", protocol.name()),
                    ("code", code_name(status.code())),
                ];
                metrics.shared.messages_refused.get_or_create(&labels).inc();
            }
        }
    }
}

/// One more of something open, until dropped.
#[derive(Debug)]
pub struct OpenCount(Gauge);

impl OpenCount {
    fn new(gauge: Gauge) -> Self {
        gauge.inc();
        OpenCount(gauge)
    }
}

impl Drop for OpenCount {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Rooms and users online, read from the engine at each scrape.
#[derive(Debug)]
struct EngineCensus(Engine);

impl Collector for EngineCensus {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let census = self.0.census();
        let rooms = ConstGauge::new(census.rooms as i64);
        rooms.encode(encoder.encode_descriptor(
            "chatd_rooms_open",
            "Rooms open",
            None,
            rooms.metric_type(),
        )?)?;
        let mut users = encoder.encode_descriptor(
            "chatd_users_online",
            "Users online on this node, on every protocol",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (kind, count) in [
            ("guest", census.guests_online),
            ("account", census.accounts_online),
        ] {
            ConstGauge::new(count as i64).encode(users.encode_family(&[("kind", kind)])?)?;
        }
        Ok(())
    }
}

/// A status code as a label value: `resource_exhausted`.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::get;

    let addr: Option<SocketAddr> = listener.local_addr().ok();
    if let Some(addr) = addr {
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
    }
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let text = metrics.encode();
            async move {
                (
                    [(
                        CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
