//! Clients that misbehave on purpose, for the hostile-client tests and the
//! soak benchmark: they ask and never read, hold connections without
//! speaking HTTP/2, and come from loopback addresses of their own
//! (127.0.0.2 and up), so per-address limits tell them from the
//! well-behaved clients on 127.0.0.1.
//!
//! Every attack here is bounded: the caller says how many requests or
//! connections, and dropping the attacker ends it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// The largest HTTP/2 window there is: the client says it will take
/// everything the server sends.
pub const HUGE_WINDOW: u32 = (1 << 31) - 1;

/// A loopback address for attacker number `n` (127.0.0.2 and up).
pub fn attacker_ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + n))
}

/// A TCP connection to `server` from `source` (any port).
pub async fn connect_from(source: IpAddr, server: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(server).await
}

/// How an attacker treats what the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Its HTTP/2 layer reads the socket but never hands the server more
    /// window (the replies are never consumed).
    NoWindow,
    /// It offers the largest windows, then stops reading the socket.
    NoSocket,
}

/// An HTTP/2 client that sends gRPC calls and never reads their replies.
pub struct H2Attacker {
    send: h2::client::SendRequest<Bytes>,
    stall: Arc<AtomicBool>,
    /// Kept so the server sees the streams as wanted (dropping would reset
    /// them).
    calls: Vec<(h2::client::ResponseFuture, h2::SendStream<Bytes>)>,
    driver: JoinHandle<()>,
}

impl H2Attacker {
    /// Connects from `source` and finishes the HTTP/2 handshake.
    pub async fn connect(source: IpAddr, server: SocketAddr, reading: Reading) -> io::Result<Self> {
        let tcp = connect_from(source, server).await?;
        let stall = Arc::new(AtomicBool::new(false));
        let io = Stallable {
            tcp,
            stall: Arc::clone(&stall),
        };
        let mut builder = h2::client::Builder::new();
        if reading == Reading::NoSocket {
            builder
                .initial_window_size(HUGE_WINDOW)
                .initial_connection_window_size(HUGE_WINDOW);
        }
        let (send, connection) = builder.handshake(io).await.map_err(io::Error::other)?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let send = send.ready().await.map_err(io::Error::other)?;
        if reading == Reading::NoSocket {
            stall.store(true, Ordering::SeqCst);
        }
        Ok(H2Attacker {
            send,
            stall,
            calls: Vec::new(),
            driver,
        })
    }

    /// Sends a unary or server-streaming call to `path` (e.g.
    /// `/grpc.ChatServer/ChatStream`) with `message` as its body and
    /// `authorization` metadata if given, and keeps it open unread. Waits
    /// while the server's stream limit is reached; returns how many calls
    /// are open.
    pub async fn call(
        &mut self,
        path: &str,
        message: &impl prost::Message,
        token: Option<&str>,
    ) -> io::Result<usize> {
        let mut request = http::Request::post(format!("http://chatd{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(()).map_err(io::Error::other)?;
        self.send = self.send.clone().ready().await.map_err(io::Error::other)?;
        let (reply, mut body) = self
            .send
            .send_request(request, false)
            .map_err(io::Error::other)?;
        body.send_data(grpc_frame(message), true)
            .map_err(io::Error::other)?;
        self.calls.push((reply, body));
        Ok(self.calls.len())
    }

    /// How many streams the server lets this connection open at once, once
    /// its settings have arrived.
    pub async fn max_streams(&self) -> usize {
        // h2 assumes no limit until the server's SETTINGS frame says one.
        for _ in 0..1000 {
            let max = self.send.current_max_send_streams();
            if max != usize::MAX {
                return max;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        usize::MAX
    }

    /// Whether the connection is still up as far as the attacker knows.
    pub fn is_open(&self) -> bool {
        !self.driver.is_finished()
    }
}

impl Drop for H2Attacker {
    fn drop(&mut self) {
        self.stall.store(false, Ordering::SeqCst);
        self.driver.abort();
    }
}

/// `message` with gRPC's 5-byte length prefix.
pub fn grpc_frame(message: &impl prost::Message) -> Bytes {
    let mut frame = BytesMut::with_capacity(5 + message.encoded_len());
    frame.put_u8(0);
    frame.put_u32(message.encoded_len() as u32);
    message.encode(&mut frame).expect("a BytesMut grows");
    frame.freeze()
}

/// A TCP stream whose reads can be stopped: once `stall` is set, reading
/// waits forever, as for a client that stopped reading its socket.
struct Stallable {
    tcp: TcpStream,
    stall: Arc<AtomicBool>,
}

impl AsyncRead for Stallable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.stall.load(Ordering::SeqCst) {
            return Poll::Pending;
        }
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stallable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Opens up to `count` TCP connections from `source` that never send a
/// byte. Stops early at the first failure (e.g. this process ran out of
/// descriptors) and returns what it opened.
pub async fn idle_connections(source: IpAddr, server: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        match connect_from(source, server).await {
            Ok(tcp) => held.push(tcp),
            Err(_) => break,
        }
    }
    held
}

/// Waits until the server closes `tcp`, reading (and dropping) whatever it
/// sends first, such as its HTTP/2 settings. Returns the bytes it sent.
pub async fn wait_closed_by_server(tcp: &mut TcpStream) -> usize {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    let mut received = 0;
    while let Ok(n @ 1..) = tcp.read(&mut buffer).await {
        received += n;
    }
    received
}
