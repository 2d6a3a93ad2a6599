//! The codec every generated service and client uses.
//!
//! It encodes like tonic's `ProstCodec`, but reports a request body that is
//! not valid protobuf as `INVALID_ARGUMENT` (the caller sent bad input)
//! rather than tonic's default `INTERNAL` (which reads as a server fault).

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

/// Each call's encode buffer starts at 1 KiB instead of tonic's 8 KiB and
/// grows as needed: a server holding many idle streams pays for what they
/// send, not for room they never use.
fn encode_buffer() -> BufferSettings {
    BufferSettings::new(1024, 32 * 1024)
}

/// Protobuf codec with caller-facing decode errors.
#[derive(Debug, Clone)]
pub struct ChatCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ChatCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for ChatCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ChatDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(encode_buffer())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ChatDecoder(PhantomData)
    }
}

/// Decodes `U`, turning a malformed body into `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct ChatDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for ChatDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|error| {
            Status::invalid_argument(format!(
                "the request body is not a valid protobuf `{}` message ({error}); \
                 check that the client was generated from the same .proto file",
                std::any::type_name::<U>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("?"),
            ))
        })
    }
}
