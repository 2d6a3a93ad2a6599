//! Serving accepted connections: HTTP/2 (and HTTP/1.1 where the port
//! serves browsers) by hyper, in one task per connection that also runs
//! every call made on it.
//!
//! hyper alone gives every HTTP/2 stream a task of its own, so a message
//! to 1,000 subscribers on 10 connections wakes 1,000 tasks, and the wake,
//! the poll and the cache misses of each were where fan-out's time went.
//! Here hyper hands each stream to the connection's [`Calls`], which the
//! connection's task runs: a message wakes 10 tasks, and each polls only
//! the streams the message woke, then writes what they queued in one go.
//! (A stream that cannot send waits on its own flow-control window, as
//! before; the others on its connection go on.)

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::body::Body;
use tonic::transport::server::Connected;
use tower_service::Service;
use tracing::Instrument;

use super::calls::{Calls, Running};
use super::incoming::{Connection, ConnectionInfo};

/// How connections speak HTTP.
#[derive(Debug, Clone, Copy)]
pub struct Http {
    /// How often a connection is pinged, and how long a ping may go
    /// unanswered.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// Calls and streams one connection may have open at once.
    pub max_streams: u32,
    /// HTTP/1.1 too (gRPC-Web and pages for browsers), not HTTP/2 alone.
    pub http1: bool,
}

/// A service that answers every call on a connection.
pub trait CallService:
    Service<
        Request<Body>,
        Response = Response<Self::ReplyBody>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    type ReplyBody: http_body::Body<Data = Bytes, Error: Into<tonic::codegen::StdError>>
        + Send
        + 'static;
}

impl<S, B> CallService for S
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + 'static,
    B: http_body::Body<Data = Bytes, Error: Into<tonic::codegen::StdError>> + Send + 'static,
{
    type ReplyBody = B;
}

/// Serves every connection of `incoming` with `service` until `shutdown`;
/// then stops accepting (the listener closes), lets open calls finish
/// (their streams end at shutdown) and returns once every connection has
/// closed.
pub async fn serve<S>(
    service: S,
    incoming: impl Stream<Item = io::Result<Connection>>,
    http: Http,
    span: fn(&Request<Body>) -> tracing::Span,
    shutdown: CancellationToken,
) where
    S: CallService,
{
    let connections = TaskTracker::new();
    {
        let mut incoming = pin!(incoming);
        loop {
            let connection = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                next = incoming.next() => match next {
                    Some(Ok(connection)) => connection,
                    Some(Err(error)) => {
                        tracing::debug!(%error, "accept failed");
                        continue;
                    }
                    None => break,
                },
            };
            let service = OnConnection {
                inner: service.clone(),
                info: connection.connect_info(),
                span,
            };
            connections.spawn(serve_connection(
                connection,
                service,
                http,
                shutdown.clone(),
            ));
        }
    }
    connections.close();
    connections.wait().await;
}

async fn serve_connection<S>(
    connection: Connection,
    service: OnConnection<S>,
    http: Http,
    shutdown: CancellationToken,
) where
    S: CallService,
{
    let calls = Calls::default();
    let builder = builder(calls.clone(), http);
    let mut connection =
        pin!(builder.serve_connection(TokioIo::new(connection), TowerToHyperService::new(service)));
    let mut stopping = pin!(shutdown.cancelled_owned());
    let mut stopped = false;
    let mut running = Running::default();
    let ended = std::future::poll_fn(|cx| {
        if !stopped && stopping.as_mut().poll(cx).is_ready() {
            // New calls are refused (GOAWAY); open ones finish, and
            // streams end at shutdown.
            stopped = true;
            connection.as_mut().graceful_shutdown();
        }
        // The calls woken since the last pass queue what they send, then
        // the connection writes it all, reads what came and may open
        // calls. (Calls it wakes or opens wake this task again.)
        calls.poll_ready(&mut running, cx);
        connection.as_mut().poll(cx)
    })
    .await;
    if let Err(error) = ended {
        tracing::debug!(%error, "connection ended");
    }
}

fn builder(calls: Calls, http: Http) -> auto::Builder<Calls> {
    let mut builder = auto::Builder::new(calls);
    if !http.http1 {
        builder = builder.http2_only();
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(http.keepalive_interval)
        .keep_alive_timeout(http.keepalive_timeout)
        .max_concurrent_streams(http.max_streams);
    // hyper gives HTTP/1.1 request heads 30 seconds only with a timer.
    builder.http1().timer(TokioTimer::new());
    builder
}

/// The service a connection's calls go to: `inner`, with what the calls
/// learn of their connection, in the call's span.
#[derive(Clone)]
struct OnConnection<S> {
    inner: S,
    info: ConnectionInfo,
    span: fn(&Request<Body>) -> tracing::Span,
}

impl<S> Service<Request<Incoming>> for OnConnection<S>
where
    S: Service<Request<Body>, Error = Infallible>,
{
    type Response = S::Response;
    type Error = Infallible;
    type Future = tracing::instrument::Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(self.info.clone());
        let span = (self.span)(&request);
        self.inner.call(request).instrument(span)
    }
}
