//! The codec every generated service and client uses, and [`Encoded`]
//! messages for fan-out.
//!
//! It encodes like tonic's `ProstCodec`, but reports a request body that is
//! not valid protobuf as `INVALID_ARGUMENT` (the caller sent bad input)
//! rather than tonic's default `INTERNAL` (which reads as a server fault).

use std::fmt;
use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};
use prost::{DecodeError, Message};
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

/// A `T` already encoded, sent as is: a chat message fanned out to many
/// streams is encoded once. Kept as a whole gRPC frame (the 5-byte prefix,
/// then the message), so that a server writing frames itself sends the
/// same bytes on every stream; tonic's encoder copies the message part.
/// Cloning shares them.
pub struct Encoded<T> {
    frame: Bytes,
    message: PhantomData<fn() -> T>,
}

/// A gRPC frame's prefix: a compression flag and the message's length.
const PREFIX: usize = 5;

impl<T: Message> Encoded<T> {
    pub fn new(message: &T) -> Self {
        let len = message.encoded_len();
        let mut frame = Vec::with_capacity(PREFIX + len);
        frame.push(0);
        let len32 = u32::try_from(len).expect("a chat message is far under 4 GiB");
        frame.extend_from_slice(&len32.to_be_bytes());
        message
            .encode(&mut frame)
            .expect("a Vec grows to take the message");
        Encoded {
            frame: frame.into(),
            message: PhantomData,
        }
    }
}

impl<T> Encoded<T> {
    /// The protobuf encoding of the message.
    pub fn bytes(&self) -> &[u8] {
        &self.frame[PREFIX..]
    }

    /// The message as one uncompressed gRPC frame.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// The frame, without a count taken and dropped on its shared bytes.
    pub fn into_frame(self) -> Bytes {
        self.frame
    }
}

impl<T> Clone for Encoded<T> {
    fn clone(&self) -> Self {
        Encoded {
            frame: self.frame.clone(),
            message: PhantomData,
        }
    }
}

impl<T> Default for Encoded<T> {
    /// The encoding of a message with every field at its default: no bytes.
    fn default() -> Self {
        Encoded {
            frame: Bytes::from_static(&[0; PREFIX]),
            message: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Encoded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Encoded<{}>({} bytes)",
            std::any::type_name::<T>(),
            self.bytes().len()
        )
    }
}

impl<T: Message + Default> Message for Encoded<T> {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(self.bytes());
    }

    /// Only servers send `Encoded` messages, but decoding one works too:
    /// through a `T`, slowly.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let mut message = T::decode(self.bytes())?;
        message.merge_field(tag, wire_type, buf, ctx)?;
        *self = Encoded::new(&message);
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.bytes().len()
    }

    fn clear(&mut self) {
        *self = Encoded::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classic::Note;

    fn note() -> Note {
        Note {
            name: "민지".into(),
            message: "hello".into(),
        }
    }

    #[test]
    fn an_encoded_message_encodes_to_the_same_bytes() {
        let encoded = Encoded::new(&note());
        assert_eq!(encoded.encode_to_vec(), note().encode_to_vec());
        assert_eq!(encoded.encoded_len(), note().encoded_len());
        assert_eq!(Note::decode(encoded.bytes()).unwrap(), note());
    }

    #[test]
    fn an_encoded_message_is_a_whole_grpc_frame() {
        let encoded = Encoded::new(&note());
        let frame = encoded.frame();
        let len = note().encoded_len();
        assert_eq!(frame[0], 0, "not compressed");
        assert_eq!(&frame[1..5], &u32::try_from(len).unwrap().to_be_bytes());
        assert_eq!(&frame[5..], &note().encode_to_vec()[..]);
        assert_eq!(Encoded::<Note>::default().frame().as_ref(), &[0; 5]);
    }

    #[test]
    fn an_encoded_message_decodes_from_its_bytes() {
        let decoded = Encoded::<Note>::decode(&note().encode_to_vec()[..]).unwrap();
        assert_eq!(decoded.bytes(), &note().encode_to_vec()[..]);
    }
}
