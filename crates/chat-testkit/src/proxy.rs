//! A TCP proxy on loopback between a client and a server, which can fail
//! the way networks fail: cut every connection at once (the client sees
//! its connection drop and can reconnect through the proxy), or go silent
//! (connections stay open and pass nothing, as a dead path does).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    state: watch::Sender<ProxyState>,
}

#[derive(Debug, Clone, Copy, Default)]
struct ProxyState {
    silent: bool,
    /// How many times connections were cut; each connection ends when this
    /// moves past the value it started with.
    cuts: u64,
}

impl Proxy {
    /// Forwards every connection made to `addr` on to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (state, watch) = watch::channel(ProxyState::default());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                tokio::spawn(pipe(in_read, out_write, watch.clone()));
                tokio::spawn(pipe(out_read, in_write, watch.clone()));
            }
        });
        Proxy { addr, state }
    }

    /// From now on nothing passes, and no connection is closed.
    pub fn go_silent(&self) {
        self.state.send_modify(|state| state.silent = true);
    }

    /// Lets new connections pass again after [`go_silent`](Self::go_silent)
    /// (silent ones stay silent until cut).
    pub fn heal(&self) {
        self.state.send_modify(|state| state.silent = false);
    }

    /// Closes every connection open now; new ones pass as before.
    pub fn cut(&self) {
        self.state.send_modify(|state| state.cuts += 1);
    }
}

async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<ProxyState>,
) {
    let born = state.borrow().cuts;
    let mut buf = vec![0; 16 * 1024];
    loop {
        let read = tokio::select! {
            // The state first: bytes ready to read must not slip through a
            // proxy that has just gone silent.
            biased;
            changed = state.wait_for(|s| s.silent || s.cuts != born) => {
                if changed.map(|s| s.cuts != born).unwrap_or(true) {
                    return;
                }
                break;
            }
            read = from.read(&mut buf) => read,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
    // Silent: hold both halves open and pass nothing, until a cut.
    let _ = state.wait_for(|s| s.cuts != born).await;
    drop((from, to));
}
