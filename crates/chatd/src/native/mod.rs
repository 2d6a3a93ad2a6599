//! The native protocol, `chat.v1.ChatService` (`proto/chat/v1/chat.proto`):
//! named users with session tokens, named rooms, history pages, presence,
//! and an event stream that resumes where a client left off.

pub(crate) mod convert;
mod events;
mod service;

use chat_proto::chat::v1::chat_service_server::ChatServiceServer;
use tokio::net::TcpListener;
use tower_layer::Layer;

pub use service::NativeChat;

use crate::metrics::Protocol;
use crate::serving::{Keepalive, Serving, local_addr, log_listening};
use crate::web::WebLayer;

/// Serves `chat` on `listener` until shutdown, with the web client in
/// front of it if `web` has its files.
pub async fn serve(
    listener: TcpListener,
    chat: NativeChat,
    web: WebLayer,
    keepalive: Keepalive,
    serving: Serving,
) {
    let service = ChatServiceServer::new(chat).max_decoding_message_size(serving.max_request);
    serving.reports::<ChatServiceServer<NativeChat>>().await;
    log_listening("native protocol", &[local_addr(&listener)]);
    // Browsers speak gRPC-Web over HTTP/1.1 unless TLS lets them use
    // HTTP/2.
    let http1 = web.serves_files();
    let service = web.layer(serving.routes(service));
    let incoming = serving.incoming(listener, Protocol::Native);
    serving.serve(service, incoming, keepalive, http1).await;
}
