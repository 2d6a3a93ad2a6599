//! What every protocol's `serve` shares: how connections are accepted and
//! admitted, the gRPC server's settings, health and reflection on every
//! port, and shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use std::convert::Infallible;

use futures::Stream;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::HealthService;
use tower_layer::Layer;

use crate::health::Health;
use crate::metrics::Protocol;
use crate::transport::{
    self, CallService, Connection, ConnectionInfo, ConnectionSettings, FramedReplies, Http,
    ReplyBudgetLayer,
};

/// HTTP/2 keepalive: how often a connection is pinged, and how long a ping
/// may go unanswered.
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

/// A cheap-to-clone handle to what each protocol's listeners are served
/// with.
#[derive(Clone)]
pub struct Serving {
    pub connections: ConnectionSettings,
    /// Calls and streams one connection may have open at once.
    pub max_streams: u32,
    /// The largest request body worth decoding.
    pub max_request: usize,
    pub health: Health,
    pub shutdown: CancellationToken,
}

impl Serving {
    /// The connections `listener` accepts, admitted and counted as
    /// `protocol`'s.
    pub fn incoming(
        &self,
        listener: TcpListener,
        protocol: Protocol,
    ) -> impl Stream<Item = std::io::Result<Connection>> + Send + Unpin + 'static {
        transport::incoming(listener, protocol, self.connections.clone())
    }

    /// `service` with the health service and reflection, so generic gRPC
    /// tools can discover what every port serves; streaming replies go out
    /// as the frames their messages were encoded in (see [`hand_off`]).
    pub fn routes<S>(&self, service: S) -> FramedReplies<Routes>
    where
        S: tower_service::Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        let health = HealthService::from_health_reporter(self.health.reporter().clone());
        let routes = Routes::new(HealthServer::new(health))
            // Both versions: grpcurl and older tools ask v1alpha, newer v1.
            .add_service(
                reflection()
                    .build_v1()
                    .expect("the embedded descriptor sets are valid"),
            )
            .add_service(
                reflection()
                    .build_v1alpha()
                    .expect("the embedded descriptor sets are valid"),
            )
            .add_service(service)
            .prepare();
        FramedReplies::new(routes)
    }

    /// Serves `service` on the connections of `incoming` until shutdown,
    /// its replies metered (see [`ReplyBudgetLayer`]); over HTTP/2, and
    /// HTTP/1.1 too if `http1` (for browsers).
    pub async fn serve<S: CallService>(
        &self,
        service: S,
        incoming: impl Stream<Item = std::io::Result<Connection>>,
        keepalive: Keepalive,
        http1: bool,
    ) {
        let http = Http {
            keepalive_interval: keepalive.interval,
            keepalive_timeout: keepalive.timeout,
            max_streams: self.max_streams,
            http1,
        };
        let service = ReplyBudgetLayer.layer(service);
        transport::serve(service, incoming, http, call_span, self.shutdown.clone()).await;
    }

    /// Reports service `S` to the health service.
    pub async fn reports<S: NamedService>(&self) {
        self.health.serve::<S>().await;
    }

    /// Done when `chatd` shuts down.
    pub fn stopped(&self) -> WaitForCancellationFutureOwned {
        self.shutdown.clone().cancelled_owned()
    }
}

/// The span of a call: every log line about it names the client's
/// protocol and address. (Never a credential: those are in the body and
/// the metadata, which the span leaves out.)
fn call_span(request: &http::Request<Body>) -> tracing::Span {
    match request.extensions().get::<ConnectionInfo>() {
        Some(info) => tracing::info_span!(
            "call",
            protocol = info.protocol.name(),
            client = %info.remote_addr,
            method = request.uri().path(),
        ),
        None => tracing::Span::none(),
    }
}

/// Server reflection over every protocol's descriptors and health's.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(chat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// What to do about an address in use.
const IN_USE_HINT: &str = "another program listens there, most often another chatd: stop it, \
     or give this one other addresses (--native-addr, --classic-addr, --lobby-addr ...)";

/// Binds listeners one after another, keeping every failure, so that one
/// error names every address that could not be had.
#[derive(Default)]
pub struct Binding {
    failures: Vec<std::io::Error>,
}

impl Binding {
    /// `result`'s listener, or `None` with its failure kept.
    pub fn keep<T>(&mut self, result: std::io::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.failures.push(error);
                None
            }
        }
    }

    /// Every failure in one error, with what to do when addresses are in
    /// use (most often, another chatd runs).
    pub fn finish(self) -> std::io::Result<()> {
        let Some(first) = self.failures.first() else {
            return Ok(());
        };
        let kind = first.kind();
        let mut message: Vec<String> = self.failures.iter().map(ToString::to_string).collect();
        let in_use = self
            .failures
            .iter()
            .any(|error| error.kind() == std::io::ErrorKind::AddrInUse);
        // Said once, also when a part (the lobby's) said it already.
        if in_use && !message.iter().any(|part| part.contains(IN_USE_HINT)) {
            message.push(IN_USE_HINT.into());
        }
        Err(std::io::Error::new(kind, message.join("; ")))
    }
}

/// A listener on `addr` for `what`, or an error that names both.
pub async fn bind(addr: SocketAddr, what: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("cannot listen for the {what} on {addr}: {error}"),
        )
    })
}

pub fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("a bound TCP listener has a local address")
}

pub fn log_listening(what: &str, addrs: &[SocketAddr]) {
    for addr in addrs {
        tracing::info!(%addr, "{what} listening");
    }
}
