//! Streaming replies sent as the frames their messages were encoded in.
//!
//! A message fanned out to 1,000 streams is encoded once, as a whole gRPC
//! frame ([`Encoded::frame`]). Handed to tonic, each stream's encoder would
//! copy it into a frame of the stream's own, through a chain of five
//! response bodies, per message and per stream. Instead, a streaming call
//! hands its replies to [`FramedReplies`] ([`hand_off`]), whose body gives
//! hyper the shared frames themselves, and the status as trailers.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use chat_proto::codec::Encoded;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use http::{HeaderMap, Request, Response};
use http_body::Frame;
use tonic::Status;
use tonic::body::Body;
use tower_service::Service;

/// A streaming call's replies, as whole gRPC frames.
type Frames = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send>>;

/// Frames ready at once are sent together up to this size, as one piece
/// (tonic's encoder gathers as much).
const GATHER: usize = 32 * 1024;

/// Marks a response whose body's chunks each stand alone: an encoded
/// message's frame, or frames gathered into a piece of their own. Handed on
/// whole, such a chunk keeps no larger buffer alive (what a chunk split
/// off an encoder's buffer would), so it need not be copied first.
#[derive(Debug, Clone, Copy)]
pub struct StandAloneChunks;

/// Where a call's handler leaves its replies for [`FramedReplies`].
#[derive(Clone, Default)]
struct FrameSlot(Arc<Mutex<Option<Frames>>>);

impl FrameSlot {
    fn take(&self) -> Option<Frames> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// What a streaming call returns to tonic: on a connection that takes
/// frames (a request through [`FramedReplies`]), nothing, its `replies`
/// left to go out as frames; elsewhere, `replies` themselves.
pub fn hand_off<T: Send + 'static>(
    extensions: &http::Extensions,
    replies: impl Stream<Item = Result<Encoded<T>, Status>> + Send + 'static,
) -> Pin<Box<dyn Stream<Item = Result<Encoded<T>, Status>> + Send>> {
    match extensions.get::<FrameSlot>() {
        Some(slot) => {
            let frames = replies.map(|reply| reply.map(Encoded::into_frame));
            *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::pin(frames));
            Box::pin(futures::stream::empty())
        }
        None => Box::pin(replies),
    }
}

/// Serves calls with `inner`, sending the replies a call handed off (see
/// [`hand_off`]) as their frames.
#[derive(Debug, Clone)]
pub struct FramedReplies<S> {
    inner: S,
}

impl<S> FramedReplies<S> {
    pub fn new(inner: S) -> Self {
        FramedReplies { inner }
    }
}

impl<S, B> Service<Request<B>> for FramedReplies<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let slot = FrameSlot::default();
        request.extensions_mut().insert(slot.clone());
        let response = self.inner.call(request);
        async move {
            let response = response.await?;
            Ok(match slot.take() {
                // tonic's body holds no reply, only its `OK` trailers.
                Some(frames) => {
                    let mut response = response.map(|_| Body::new(FrameBody::new(frames)));
                    response.extensions_mut().insert(StandAloneChunks);
                    response
                }
                None => response,
            })
        }
        .boxed()
    }
}

/// Sends a call's frames as they come, then its status as trailers.
struct FrameBody {
    frames: Frames,
    /// The trailers, once the frames are over.
    ended: Option<HeaderMap>,
    done: bool,
}

impl FrameBody {
    fn new(frames: Frames) -> Self {
        FrameBody {
            frames,
            ended: None,
            done: false,
        }
    }

    /// Marks the frames over with `status`.
    fn end(&mut self, status: &Status) {
        let mut trailers = HeaderMap::new();
        if let Err(unencodable) = status.add_header(&mut trailers) {
            trailers = HeaderMap::new();
            let _ = Status::internal(unencodable.message().to_owned()).add_header(&mut trailers);
        }
        self.ended = Some(trailers);
    }
}

impl http_body::Body for FrameBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if let Some(trailers) = this.ended.take() {
            this.done = true;
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        if this.done {
            return Poll::Ready(None);
        }
        let mut data = Gathered::default();
        while data.len() < GATHER {
            match this.frames.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(frame))) => data.push(frame),
                Poll::Ready(Some(Err(status))) => {
                    this.end(&status);
                    break;
                }
                Poll::Ready(None) => {
                    this.end(&Status::ok(""));
                    break;
                }
                Poll::Pending if data.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        match data.into_bytes() {
            Some(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            None => {
                this.done = true;
                Poll::Ready(
                    this.ended
                        .take()
                        .map(|trailers| Ok(Frame::trailers(trailers))),
                )
            }
        }
    }
}

/// Frames ready at once: one is sent as it is (shared with every stream
/// that sends it), several are copied into one piece.
#[derive(Default)]
struct Gathered {
    first: Option<Bytes>,
    more: Option<BytesMut>,
}

impl Gathered {
    fn push(&mut self, frame: Bytes) {
        match (&self.first, &mut self.more) {
            (None, _) => self.first = Some(frame),
            (Some(first), None) => {
                let mut more = BytesMut::with_capacity(first.len() + frame.len());
                more.extend_from_slice(first);
                more.extend_from_slice(&frame);
                self.more = Some(more);
            }
            (Some(_), Some(more)) => more.extend_from_slice(&frame),
        }
    }

    fn len(&self) -> usize {
        match (&self.first, &self.more) {
            (_, Some(more)) => more.len(),
            (Some(first), None) => first.len(),
            (None, None) => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn into_bytes(self) -> Option<Bytes> {
        match self.more {
            Some(more) => Some(more.freeze()),
            None => self.first,
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    fn frames(items: Vec<Result<Bytes, Status>>) -> Frames {
        Box::pin(futures::stream::iter(items))
    }

    async fn next_frame(body: &mut FrameBody) -> Frame<Bytes> {
        body.frame().await.expect("a frame").expect("no error")
    }

    #[tokio::test]
    async fn frames_ready_at_once_go_as_one_piece_then_the_status_as_trailers() {
        let (one, two) = (
            Bytes::from_static(b"\0\0\0\0\x01a"),
            Bytes::from_static(b"\0\0\0\0\x01b"),
        );
        let mut body = FrameBody::new(frames(vec![Ok(one.clone()), Ok(two.clone())]));
        let data = next_frame(&mut body).await.into_data().unwrap();
        assert_eq!(data, [one, two].concat());
        let trailers = next_frame(&mut body).await.into_trailers().unwrap();
        assert_eq!(trailers["grpc-status"], "0");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_lone_frame_is_sent_as_it_is_and_an_error_ends_the_call() {
        let one = Bytes::from(b"\0\0\0\0\x01a".to_vec());
        let mut body = FrameBody::new(frames(vec![
            Ok(one.clone()),
            Err(Status::resource_exhausted("fell behind")),
        ]));
        let data = next_frame(&mut body).await.into_data().unwrap();
        assert_eq!(data.as_ptr(), one.as_ptr(), "the shared bytes, not a copy");
        let trailers = next_frame(&mut body).await.into_trailers().unwrap();
        assert_eq!(trailers["grpc-status"], "8");
        assert_eq!(trailers["grpc-message"], "fell%20behind");
        assert!(body.frame().await.is_none());
    }
}
