//! A bare HTTP/2 relay of the classic protocol, for `fanout --protocol
//! bare-h2`: the floor under chatd's classic figures.
//!
//! It speaks `ChatStream` and `SendNote` on the `h2` crate alone: no
//! hyper, no tonic, no engine, no store, no limits and no flow-control
//! bookkeeping. One task per connection holds its `ChatStream`s, and a
//! note sent wakes each connection's task once, which hands the note's
//! bytes (the `SendNote` body as it came: the same gRPC frame) to each of
//! its streams. What a delivery costs here is what HTTP/2 itself costs
//! with the `h2` crate, and what chatd costs above it is its own.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use clap::Args;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use h2::RecvStream;
use h2::server::SendResponse;
use http::{HeaderMap, HeaderValue, Request, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

#[derive(Debug, Clone, Args)]
pub struct BareH2Args {
    /// Where to listen; the address taken is printed on the first line.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

/// Notes waiting for a connection that fell this far behind are dropped
/// for it (the load generator reports deliveries, so a loss shows).
const BACKLOG: usize = 4096;

/// Notes a connection takes from the others' sends at a time.
const BATCH: usize = 64;

/// An empty `Empty` message: the gRPC prefix alone.
const EMPTY_REPLY: &[u8] = &[0; 5];

pub async fn run(args: BareH2Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen).await?;
    println!("{}", listener.local_addr()?);
    let notes = broadcast::Sender::new(BACKLOG);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(serve(tcp, notes.clone()));
    }
}

/// Serves one connection until it closes.
async fn serve(tcp: TcpStream, notes: broadcast::Sender<Bytes>) -> anyhow::Result<()> {
    let mut connection = h2::server::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(1 << 20)
        .max_concurrent_streams(u32::MAX)
        .handshake::<_, Bytes>(tcp)
        .await?;
    let mut arrivals = notes.subscribe();
    // A stream's request body is kept while it lives: the call is open.
    let mut streams: Vec<(h2::SendStream<Bytes>, RecvStream)> = Vec::new();
    let mut sends = FuturesUnordered::new();
    loop {
        tokio::select! {
            request = connection.accept() => {
                let Some((request, respond)) = request.transpose()? else {
                    return Ok(());
                };
                match request.uri().path() {
                    "/grpc.ChatServer/ChatStream" => {
                        let stream = respond_grpc(respond)?;
                        streams.push((stream, request.into_body()));
                    }
                    "/grpc.ChatServer/SendNote" => {
                        sends.push(send_note(request, respond, notes.clone()));
                    }
                    _ => refuse(respond)?,
                }
            }
            note = arrivals.recv() => {
                let note = match note {
                    Ok(note) => note,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                };
                let notes = with_those_waiting(note, &mut arrivals);
                // A stream the client closed fails to send: it goes.
                streams.retain_mut(|(stream, _)| stream.send_data(notes.clone(), false).is_ok());
            }
            Some(sent) = sends.next() => {
                if let Err(error) = sent {
                    eprintln!("SendNote failed: {error:#}");
                }
            }
        }
    }
}

/// `note` and the notes that came after it, up to a batch, in one piece
/// that every stream sends in one frame (as chatd hands on its batches).
fn with_those_waiting(note: Bytes, arrivals: &mut broadcast::Receiver<Bytes>) -> Bytes {
    let Ok(next) = arrivals.try_recv() else {
        return note;
    };
    let mut batch = BytesMut::from(note);
    batch.extend_from_slice(&next);
    for _ in 2..BATCH {
        let Ok(next) = arrivals.try_recv() else {
            break;
        };
        batch.extend_from_slice(&next);
    }
    batch.freeze()
}

/// Answers a call with gRPC's headers; its replies follow on the stream.
fn respond_grpc(mut respond: SendResponse<Bytes>) -> anyhow::Result<h2::SendStream<Bytes>> {
    let response = Response::builder()
        .header("content-type", "application/grpc")
        .body(())?;
    Ok(respond.send_response(response, false)?)
}

/// Answers a call to any other method `UNIMPLEMENTED`.
fn refuse(mut respond: SendResponse<Bytes>) -> anyhow::Result<()> {
    let response = Response::builder()
        .header("content-type", "application/grpc")
        .header("grpc-status", "12")
        .body(())?;
    respond.send_response(response, true)?;
    Ok(())
}

/// `SendNote`: relays the request's frame to every connection's streams
/// and answers `Empty`.
async fn send_note(
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    notes: broadcast::Sender<Bytes>,
) -> anyhow::Result<()> {
    let mut body = request.into_body();
    let mut frame = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.context("reading a note")?;
        let _ = body.flow_control().release_capacity(chunk.len());
        frame.extend_from_slice(&chunk);
    }
    let _ = notes.send(frame.freeze());
    let mut stream = respond_grpc(respond)?;
    stream.send_data(Bytes::from_static(EMPTY_REPLY), false)?;
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    stream.send_trailers(trailers)?;
    Ok(())
}
