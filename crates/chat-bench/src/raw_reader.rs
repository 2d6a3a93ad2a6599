//! An independent classic subscriber: HTTP/2 with the `h2` crate and gRPC
//! frames taken apart by hand, with no tonic or hyper. Its latencies check
//! chat-bench's own (tonic) subscribers on the same run: a benchmark
//! client that adds its own delay shows as a gap between the two.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use bytes::{Buf, Bytes, BytesMut};
use chat_proto::classic::Note;
use prost::Message;
use tokio::net::TcpStream;

/// The gRPC message prefix: a compression flag and a big-endian length.
const PREFIX: usize = 5;

/// A classic `ChatStream`, read frame by frame.
pub struct RawNotes {
    body: h2::RecvStream,
    buffer: BytesMut,
}

impl RawNotes {
    /// Opens `ChatStream` on a connection of its own to `server`.
    pub async fn open(server: SocketAddr) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(server).await?;
        tcp.set_nodelay(true)?;
        let (send, connection) = h2::client::handshake(tcp)
            .await
            .context("HTTP/2 handshake")?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut send = send.ready().await?;
        let request = http::Request::post("http://chatd/grpc.ChatServer/ChatStream")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())?;
        let (response, mut request_body) = send.send_request(request, false)?;
        // An empty `Empty`: the prefix alone.
        request_body.send_data(Bytes::from_static(&[0; PREFIX]), true)?;
        let response = response.await?;
        if response.status() != http::StatusCode::OK {
            bail!("ChatStream answered HTTP {}", response.status());
        }
        Ok(RawNotes {
            body: response.into_body(),
            buffer: BytesMut::new(),
        })
    }

    /// The next note, or `None` once the stream ends.
    pub async fn next(&mut self) -> anyhow::Result<Option<Note>> {
        loop {
            if self.buffer.len() >= PREFIX {
                let length = u32::from_be_bytes(self.buffer[1..PREFIX].try_into()?) as usize;
                if self.buffer.len() >= PREFIX + length {
                    self.buffer.advance(PREFIX);
                    let message = self.buffer.split_to(length);
                    return Ok(Some(Note::decode(message)?));
                }
            }
            match self.body.data().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    let _ = self.body.flow_control().release_capacity(chunk.len());
                    self.buffer.extend_from_slice(&chunk);
                }
                None => return Ok(None),
            }
        }
    }
}
