//! A connection wrapper that gathers the writes of many streams into one.
//!
//! When a message fans out, hundreds of response streams on one HTTP/2
//! connection each hand it a small DATA frame, and hyper's connection task,
//! woken by the first of them, would flush after each handful: one `writev`
//! and one TCP segment per few deliveries. On loopback each segment also
//! pays for the receiver's TCP processing, so segment count, not bytes,
//! is what fan-out costs (profiles showed half of `chatd`'s CPU in
//! `writev`).
//!
//! [`BatchedWrites`] takes every write into a buffer and, on the first
//! flush after new data, yields once to the scheduler before writing: the
//! streams already woken by the same message run first and add their
//! frames, so the connection then writes them all in one call. A lone reply
//! waits for one trip through the run queue, microseconds.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

use super::replies::ReplyBudget;

/// Buffered bytes at which a write goes out without waiting for a flush,
/// and above which writes wait for the socket: it bounds the memory a
/// connection to a slow reader can hold.
const HIGH_WATER: usize = 256 * 1024;

/// An I/O stream whose writes are gathered and sent once per flush, after
/// one yield.
#[derive(Debug)]
pub struct BatchedWrites<S> {
    inner: S,
    buffer: Vec<u8>,
    /// How much of `buffer` the socket has taken: a partial write resumes
    /// there without moving the rest.
    sent: usize,
    /// Already yielded once for the data in `buffer`: the next flush writes.
    yielded: bool,
    /// How many bytes the last write-out sent: the next batch's buffer
    /// starts that big, so a busy connection allocates once per batch
    /// instead of growing through every power of two.
    last_batch: usize,
    /// Told what is written and whether the socket is full, so replies
    /// wait instead of queueing in HTTP/2 while the client is not reading.
    replies: Option<Arc<ReplyBudget>>,
}

impl<S> BatchedWrites<S> {
    pub fn new(inner: S, replies: Option<Arc<ReplyBudget>>) -> Self {
        BatchedWrites {
            inner,
            buffer: Vec::new(),
            sent: 0,
            yielded: false,
            last_batch: 0,
            replies,
        }
    }
}

impl<S: AsyncWrite + Unpin> BatchedWrites<S> {
    /// Writes the whole buffer to the socket.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buffer.len() {
            let unsent = &self.buffer[self.sent..];
            let written = Pin::new(&mut self.inner).poll_write(cx, unsent);
            if written.is_pending()
                && let Some(replies) = &self.replies
            {
                replies.socket_blocked(true);
            }
            match ready!(written)? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => {
                    self.sent += n;
                    if let Some(replies) = &self.replies {
                        replies.written(n);
                    }
                }
            }
        }
        if let Some(replies) = &self.replies {
            replies.socket_blocked(false);
        }
        // Freed rather than kept: an idle connection holds no buffer.
        self.last_batch = self.buffer.len();
        self.buffer = Vec::new();
        self.sent = 0;
        self.yielded = false;
        Poll::Ready(Ok(()))
    }

    /// Makes room for `more` bytes: a full buffer goes out first.
    fn poll_room(&mut self, cx: &mut Context<'_>, more: usize) -> Poll<io::Result<()>> {
        if self.buffer.len() >= HIGH_WATER {
            ready!(self.poll_write_out(cx))?;
        }
        if self.buffer.capacity() == 0 {
            self.buffer
                .reserve(self.last_batch.clamp(more, HIGH_WATER.max(more)));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for BatchedWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for BatchedWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_room(cx, data.len()))?;
        self.buffer.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = slices.iter().map(|slice| slice.len()).sum();
        ready!(self.poll_room(cx, total))?;
        let mut taken = 0;
        for slice in slices {
            self.buffer.extend_from_slice(slice);
            taken += slice.len();
        }
        Poll::Ready(Ok(taken))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.buffer.is_empty() {
            if !self.yielded {
                // Waking ourselves puts this task at the back of the run
                // queue, behind the streams woken with it.
                self.yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            ready!(self.poll_write_out(cx))?;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: Connected> Connected for BatchedWrites<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn writes_arrive_in_order_after_a_flush() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut batched = BatchedWrites::new(near, None);
        batched.write_all(b"hello ").await.unwrap();
        let taken = batched
            .write_vectored(&[IoSlice::new(b"wide "), IoSlice::new(b"world")])
            .await
            .unwrap();
        assert_eq!(taken, 10, "a vectored write is taken whole");
        batched.flush().await.unwrap();
        let mut received = vec![0; 16];
        far.read_exact(&mut received).await.unwrap();
        assert_eq!(received, b"hello wide world");
    }

    #[tokio::test]
    async fn a_full_buffer_waits_for_the_reader() {
        use futures::FutureExt;

        // Nobody reads the far end of a 1 KiB pipe: writes are taken until
        // the high-water mark, then wait.
        let (near, mut far) = tokio::io::duplex(1024);
        let mut batched = BatchedWrites::new(near, None);
        let chunk = vec![7u8; 16 * 1024];
        let mut accepted = 0;
        while let Some(written) = batched.write(&chunk).now_or_never() {
            accepted += written.unwrap();
            assert!(
                accepted <= HIGH_WATER + chunk.len(),
                "took {accepted} bytes"
            );
        }
        assert!(accepted >= HIGH_WATER);

        // Once the far end reads, everything taken arrives.
        let writer = tokio::spawn(async move {
            batched.shutdown().await.unwrap();
        });
        let mut received = Vec::new();
        far.read_to_end(&mut received).await.unwrap();
        writer.await.unwrap();
        assert_eq!(received.len(), accepted);
        assert!(received.iter().all(|&byte| byte == 7));
    }
}
