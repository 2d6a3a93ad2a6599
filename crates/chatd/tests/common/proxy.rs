//! A TCP proxy on loopback that can go silent: it then keeps both
//! connections open but passes nothing either way, as a dead network path
//! does.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct SilenceableProxy {
    pub addr: SocketAddr,
    silent: watch::Sender<bool>,
}

impl SilenceableProxy {
    /// Forwards every connection made to `addr` on to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (silent, watch) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let outbound = TcpStream::connect(target).await.unwrap();
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                tokio::spawn(pipe(in_read, out_write, watch.clone()));
                tokio::spawn(pipe(out_read, in_write, watch.clone()));
            }
        });
        SilenceableProxy { addr, silent }
    }

    /// From now on nothing passes, and no connection is closed.
    pub fn go_silent(&self) {
        self.silent.send_replace(true);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut silent: watch::Receiver<bool>,
) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let read = tokio::select! {
            _ = silent.wait_for(|&s| s) => break,
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
    // Silent: hold both halves open and pass nothing, until the test ends.
    std::future::pending::<()>().await;
    drop((from, to));
}
