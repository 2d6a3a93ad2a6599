//! The classic protocol, `grpc.ChatServer` (seed "Chat 1st"): every client
//! shares one room. `ChatStream` replays recent history and then follows
//! the room; `SendNote` posts to everyone, the sender included.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::SendMeter;
use chat_engine::{Draft, Engine, Origin, Room, Start};
use chat_proto::classic::chat_server_server::{ChatServer, ChatServerServer};
use chat_proto::classic::{Empty, Note};
use chat_proto::codec::Encoded;
use futures::Stream;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::address_rate::AddressRate;
use crate::files::{self, FileLinks};
use crate::metrics::Protocol;
use crate::serving::{Keepalive, Serving, local_addr, log_listening};
use crate::sessions::names::check_not_lobby_user_name;
use crate::status;
use crate::streaming::subscription_stream;
use crate::transport::{Caller, ReplyQuota, hand_off};

/// The classic service: handles to its room and the engine, and the
/// settings it needs.
#[derive(Debug, Clone)]
pub struct ClassicChat {
    engine: Engine,
    room: Arc<Room>,
    history_replay: usize,
    /// How long a new stream waits before its replay.
    replay_delay: Duration,
    rate: AddressRate,
    /// Files in messages are shown as links in the text.
    links: FileLinks,
    shutdown: CancellationToken,
}

impl ClassicChat {
    pub fn new(
        engine: Engine,
        room_name: &str,
        (history_replay, replay_delay): (usize, Duration),
        (rate, links): (AddressRate, FileLinks),
        shutdown: CancellationToken,
    ) -> Self {
        ClassicChat {
            room: engine.room(room_name),
            engine,
            history_replay,
            replay_delay,
            rate,
            links,
            shutdown,
        }
    }

    /// The tonic service, refusing request bodies over `max_request_bytes`
    /// before decoding them.
    pub fn into_service(self, max_request_bytes: usize) -> ChatServerServer<Self> {
        ChatServerServer::new(self).max_decoding_message_size(max_request_bytes)
    }
}

/// Serves `chat` on `listener` until shutdown.
pub async fn serve(
    listener: TcpListener,
    chat: ClassicChat,
    keepalive: Keepalive,
    serving: Serving,
) {
    let service = chat.into_service(serving.max_request);
    serving.reports::<ChatServerServer<ClassicChat>>().await;
    log_listening("classic protocol", &[local_addr(&listener)]);
    let incoming = serving.incoming(listener, Protocol::Classic);
    serving
        .serve(serving.routes(service), incoming, keepalive, false)
        .await;
}

type NoteStream = Pin<Box<dyn Stream<Item = Result<Encoded<Note>, Status>> + Send>>;

#[tonic::async_trait]
impl ChatServer for ClassicChat {
    type ChatStreamStream = NoteStream;

    async fn chat_stream(&self, request: Request<Empty>) -> Result<Response<NoteStream>, Status> {
        let subscription = self.room.subscribe(Start::Last(self.history_replay));
        let quota = ReplyQuota::of(request.extensions());
        let caller = Caller::of(request.extensions());
        let (links, room) = (self.links.clone(), self.room.name().to_owned());
        let notes = subscription_stream(
            subscription,
            self.shutdown.clone(),
            quota,
            caller,
            move |message| {
                // Edits, deletions and reactions are news this protocol
                // cannot tell: it shows messages as they are when read.
                message.is_shown_as_new().then(|| {
                    message.wire_form(|message| {
                        Encoded::new(&Note {
                            name: message.sender.clone(),
                            message: files::text_with_files(&links, &room, message),
                        })
                    })
                })
            },
        );
        // Taken now (nothing is missed), sent after the wait.
        let notes = notes.held_for(self.replay_delay);
        Ok(Response::new(hand_off(request.extensions(), notes)))
    }

    async fn send_note(&self, request: Request<Note>) -> Result<Response<Empty>, Status> {
        let meter = SendMeter::start(&request);
        let sent = async {
            self.rate.check(&request)?;
            let Note { name, message } = request.into_inner();
            // Anyone may send under any free name, but not under (or looking
            // like) a logged-in user's, nor a lobby user's `user-N`.
            self.engine
                .names()
                .check_unclaimed(&name)
                .map_err(status::from_engine)?;
            check_not_lobby_user_name(&name)?;
            self.room
                .post(Draft {
                    sender: name,
                    origin: Origin::Classic,
                    text: message,
                    client_id: None,
                    reply_to: None,
                    attachments: Vec::new(),
                })
                .await
                .map_err(status::from_engine)?;
            Ok::<_, Status>(Response::new(Empty {}))
        }
        .await;
        meter.finish(&sent);
        sent
    }
}
