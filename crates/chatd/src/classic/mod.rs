//! The classic protocol, `grpc.ChatServer` (seed "Chat 1st"): every client
//! shares one room. `ChatStream` replays recent history and then follows
//! the room; `SendNote` posts to everyone, the sender included.

use std::pin::Pin;
use std::sync::Arc;

use chat_engine::{Draft, Room, Start};
use chat_proto::classic::chat_server_server::{ChatServer, ChatServerServer};
use chat_proto::classic::{Empty, Note};
use chat_proto::codec::Encoded;
use futures::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::status;
use crate::streaming::subscription_stream;
use crate::transport::ReplyQuota;

/// The classic service: a handle to its room and the settings it needs.
#[derive(Debug, Clone)]
pub struct ClassicChat {
    room: Arc<Room>,
    history_replay: usize,
    shutdown: CancellationToken,
}

impl ClassicChat {
    pub fn new(room: Arc<Room>, history_replay: usize, shutdown: CancellationToken) -> Self {
        ClassicChat {
            room,
            history_replay,
            shutdown,
        }
    }

    /// The tonic service, refusing request bodies over `max_request_bytes`
    /// before decoding them.
    pub fn into_service(self, max_request_bytes: usize) -> ChatServerServer<Self> {
        ChatServerServer::new(self).max_decoding_message_size(max_request_bytes)
    }
}

type NoteStream = Pin<Box<dyn Stream<Item = Result<Encoded<Note>, Status>> + Send>>;

#[tonic::async_trait]
impl ChatServer for ClassicChat {
    type ChatStreamStream = NoteStream;

    async fn chat_stream(&self, request: Request<Empty>) -> Result<Response<NoteStream>, Status> {
        let subscription = self.room.subscribe(Start::Last(self.history_replay));
        let quota = ReplyQuota::of(request.extensions());
        let notes = subscription_stream(subscription, self.shutdown.clone(), quota, |message| {
            Some(message.wire_form(|message| {
                Encoded::new(&Note {
                    name: message.sender.clone(),
                    message: message.text.clone(),
                })
            }))
        });
        Ok(Response::new(Box::pin(notes)))
    }

    async fn send_note(&self, request: Request<Note>) -> Result<Response<Empty>, Status> {
        let Note { name, message } = request.into_inner();
        self.room
            .post(Draft {
                sender: name,
                text: message,
                client_id: None,
            })
            .await
            .map_err(status::from_engine)?;
        Ok(Response::new(Empty {}))
    }
}
