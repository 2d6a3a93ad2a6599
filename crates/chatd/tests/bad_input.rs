//! Bad input over the wire gets a clear status, and the server carries on.

mod common;

use bytes::{Buf, BufMut};
use chat_proto::classic::{Empty, Note};
use common::*;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

/// Sends a body as raw bytes, whatever they are.
#[derive(Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Empty;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Empty;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Empty>, Status> {
        let empty = Empty::decode(src.copy_to_bytes(src.remaining()))
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Some(empty))
    }
}

async fn send_raw(server: &TestServer, body: Vec<u8>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(connect(server.classic).await);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.ChatServer/SendNote");
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .map(|_| ())
}

/// Asserts the server still takes and delivers notes.
async fn assert_still_serving(server: &TestServer) {
    let history = server.engine.room("general").last_seq() as usize;
    let mut client = server.classic_client().await;
    let mut stream = chat_stream(&mut client).await;
    read_notes(&mut stream, history).await;
    send(&mut client, "check", "still serving").await.unwrap();
    let notes = read_notes(&mut stream, 1).await;
    assert_eq!(notes, [note("check", "still serving")]);
}

fn assert_status(result: Result<(), Status>, code: Code, mentions: &str) {
    let status = result.expect_err("bad input was accepted");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(mentions),
        "{:?} does not mention {mentions:?}",
        status.message()
    );
}

#[tokio::test]
async fn an_oversized_note_is_refused_with_the_limit() {
    let server = TestServer::start(&[]).await;
    let mut client = server.classic_client().await;
    let result = send(&mut client, "ann", &"가".repeat(1366)).await; // 4098 bytes
    assert_status(
        result,
        Code::InvalidArgument,
        "4098 bytes long; the limit is 4096",
    );
    send(&mut client, "ann", &"a".repeat(4096))
        .await
        .expect("a note at the limit is fine");
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn the_size_limit_is_a_flag() {
    let server = TestServer::start(&["--max-message-bytes", "10"]).await;
    let mut client = server.classic_client().await;
    assert_status(
        send(&mut client, "ann", "eleven char").await,
        Code::InvalidArgument,
        "the limit is 10 bytes",
    );
}

#[tokio::test]
async fn empty_names_and_messages_are_refused() {
    let server = TestServer::start(&[]).await;
    let mut client = server.classic_client().await;
    assert_status(
        send(&mut client, "", "hi").await,
        Code::InvalidArgument,
        "name is empty",
    );
    assert_status(
        send(&mut client, "   ", "hi").await,
        Code::InvalidArgument,
        "name is empty",
    );
    assert_status(
        send(&mut client, "ann", "").await,
        Code::InvalidArgument,
        "message is empty",
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn a_long_name_is_refused_and_names_count_characters() {
    let server = TestServer::start(&[]).await;
    let mut client = server.classic_client().await;
    assert_status(
        send(&mut client, &"n".repeat(65), "hi").await,
        Code::InvalidArgument,
        "65 characters long; the limit is 64",
    );
    // 64 Korean characters are 192 bytes but within the limit.
    send(&mut client, &"이".repeat(64), "hi").await.unwrap();
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn a_body_that_is_not_protobuf_is_refused() {
    let server = TestServer::start(&[]).await;
    // Field 1 claims 127 bytes of name, but the body ends.
    assert_status(
        send_raw(&server, vec![0x0a, 0x7f, b'a']).await,
        Code::InvalidArgument,
        "not a valid protobuf",
    );
    // A name that is not UTF-8.
    assert_status(
        send_raw(&server, vec![0x0a, 0x02, 0xc3, 0x28]).await,
        Code::InvalidArgument,
        "not a valid protobuf",
    );
    // A body far over any valid note is refused before it is decoded, as
    // gRPC refuses what is over its size limit.
    let huge = Note::encode_to_vec(&note("ann", &"a".repeat(5 << 20)));
    assert_status(
        send_raw(&server, huge).await,
        Code::ResourceExhausted,
        "this server takes requests of at most",
    );
    assert_still_serving(&server).await;
}
