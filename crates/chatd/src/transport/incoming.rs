//! Accepting connections: admission against the connection limits, a
//! deadline for the HTTP/2 handshake, and an accept loop that backs off
//! when the process runs out of file descriptors instead of spinning.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tonic::transport::server::Connected;

use super::admission::{Admission, Admitted, Refusal};
use super::batched_writes::BatchedWrites;
use super::replies::ReplyBudget;
use super::tls::{ServerStream, Tls};
use crate::metrics::{Limit, Metrics, OpenCount, Protocol};

/// The client's connection preface (24 bytes) and the header of its first
/// SETTINGS frame (9): read in time, the handshake counts as done. (An
/// HTTP/1.1 request, on the native port with the web client on, sends as
/// much with its request line; hyper then gives its headers 30 seconds.)
const HANDSHAKE_BYTES: usize = 24 + 9;

/// Longest pause between accept attempts while descriptors are exhausted.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How every accepted connection is treated.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub admission: Admission,
    /// How long a client has to finish the TLS handshake (if any) and
    /// send the HTTP/2 preface.
    pub handshake_timeout: Duration,
    /// Connections are TLS with this, plaintext without.
    pub tls: Option<Tls>,
    /// Reply bytes a connection may hold unsent (see [`ReplyBudget`]).
    pub reply_budget: usize,
    pub metrics: Metrics,
}

/// What a call can learn about the connection it came on, from its
/// request's extensions.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub local_addr: SocketAddr,
    pub remote_addr: SocketAddr,
    /// What the port it came to serves.
    pub protocol: Protocol,
    pub replies: Arc<ReplyBudget>,
    /// The server's.
    pub metrics: Metrics,
}

impl ConnectionInfo {
    pub fn of<T>(request: &tonic::Request<T>) -> Option<&ConnectionInfo> {
        request.extensions().get::<ConnectionInfo>()
    }
}

/// Who made a call, for the log lines of a stream that outlives the call's
/// span. (A stream that held the span kept it in the log registry: some
/// 480 bytes for each open stream.)
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub protocol: Protocol,
    pub client: SocketAddr,
}

impl Caller {
    /// The caller of the call whose request has `extensions`, if it came
    /// on a connection of ours.
    pub fn of(extensions: &http::Extensions) -> Option<Caller> {
        extensions.get::<ConnectionInfo>().map(|info| Caller {
            protocol: info.protocol,
            client: info.remote_addr,
        })
    }
}

/// A served connection: admitted, under a handshake deadline, its writes
/// batched.
pub type Connection = BatchedWrites<AdmittedStream>;

/// The connections `listener` accepts and admits, forever. Refused ones
/// are closed at once.
pub fn incoming(
    listener: TcpListener,
    protocol: Protocol,
    settings: ConnectionSettings,
) -> impl Stream<Item = Result<Connection, io::Error>> + Send + Unpin + 'static {
    Box::pin(futures::stream::unfold(
        (listener, settings),
        move |(listener, settings)| async move {
            let connection = accept(&listener, protocol, &settings).await;
            Some((Ok(connection), (listener, settings)))
        },
    ))
}

async fn accept(
    listener: &TcpListener,
    protocol: Protocol,
    settings: &ConnectionSettings,
) -> Connection {
    let mut backoff = Duration::from_millis(5);
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => match settings.admission.admit(peer.ip()) {
                Ok(admitted) => match AdmittedStream::new(tcp, protocol, admitted, settings) {
                    Ok(stream) => {
                        let replies = Arc::clone(&stream.info.replies);
                        return BatchedWrites::new(stream, Some(replies));
                    }
                    Err(error) => tracing::debug!(%peer, %error, "connection dropped at once"),
                },
                Err(refusal) => {
                    settings.metrics.limit_hit(match refusal {
                        Refusal::ServerFull(_) => Limit::Connections,
                        Refusal::AddressFull(..) => Limit::ConnectionsPerAddress,
                    });
                    tracing::debug!(%peer, %refusal, "connection refused");
                }
            },
            Err(error) if out_of_descriptors(&error) => {
                tracing::warn!(
                    %error,
                    open = settings.admission.open(),
                    "cannot accept: out of file descriptors; waiting for connections to close"
                );
                // Woken early when one of ours closes.
                tokio::select! {
                    () = settings.admission.freed() => {}
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            // The peer gave up before we took it (ECONNABORTED and the like).
            Err(error) => tracing::debug!(%error, "accept failed"),
        }
    }
}

fn out_of_descriptors(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays queued, so
    // retrying at once would spin.
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// A TCP connection (plaintext or TLS) holding its admission, which must
/// send the HTTP/2 preface before its deadline.
pub struct AdmittedStream {
    io: ServerStream,
    info: ConnectionInfo,
    _admitted: Admitted,
    _counted: OpenCount,
    /// Until the handshake bytes arrive.
    deadline: Option<Pin<Box<Sleep>>>,
    /// The deadline passed (counted once).
    timed_out: bool,
    read: usize,
}

impl AdmittedStream {
    fn new(
        tcp: TcpStream,
        protocol: Protocol,
        admitted: Admitted,
        settings: &ConnectionSettings,
    ) -> io::Result<Self> {
        tcp.set_nodelay(true)?;
        let info = ConnectionInfo {
            local_addr: tcp.local_addr()?,
            remote_addr: tcp.peer_addr()?,
            protocol,
            replies: Arc::new(ReplyBudget::new(settings.reply_budget)),
            metrics: settings.metrics.clone(),
        };
        Ok(AdmittedStream {
            io: ServerStream::new(tcp, settings.tls.as_ref()),
            _counted: settings.metrics.connection_opened(protocol),
            info,
            _admitted: admitted,
            deadline: Some(Box::pin(tokio::time::sleep(settings.handshake_timeout))),
            timed_out: false,
            read: 0,
        })
    }
}

impl AdmittedStream {
    /// Fails the connection if its handshake deadline has passed while
    /// `polled` waits. (Checked on writes too: over TLS, the server's first
    /// write waits for the TLS handshake, and reads may not be tried yet.)
    fn past_deadline<T>(&mut self, cx: &mut Context<'_>, polled: &Poll<T>) -> Option<io::Error> {
        let deadline = self.deadline.as_mut()?;
        if polled.is_pending() && deadline.as_mut().poll(cx).is_ready() {
            if !self.timed_out {
                self.timed_out = true;
                self.info.metrics.limit_hit(Limit::Handshake);
            }
            return Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not start HTTP in time",
            ));
        }
        None
    }
}

impl AsyncRead for AdmittedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.deadline.is_some() {
            this.read += buf.filled().len() - before;
            if this.read >= HANDSHAKE_BYTES {
                this.deadline = None;
            } else if let Some(error) = this.past_deadline(cx, &polled) {
                return Poll::Ready(Err(error));
            }
        }
        polled
    }
}

impl AsyncWrite for AdmittedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, data);
        match self.past_deadline(cx, &polled) {
            Some(error) => Poll::Ready(Err(error)),
            None => polled,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, slices);
        match self.past_deadline(cx, &polled) {
            Some(error) => Poll::Ready(Err(error)),
            None => polled,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        match self.past_deadline(cx, &polled) {
            Some(error) => Poll::Ready(Err(error)),
            None => polled,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Connected for AdmittedStream {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        self.info.clone()
    }
}
