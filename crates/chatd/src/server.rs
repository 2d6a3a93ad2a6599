//! Binding the listeners and serving every protocol until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use chat_engine::{Engine, MemoryStore};
use chat_proto::classic::chat_server_server::ChatServerServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::Config;
use crate::classic::ClassicChat;

/// A `chatd` whose listeners are bound (so their addresses are known, even
/// when asked for port 0) and which serves once [`run`](Chatd::run).
#[derive(Debug)]
pub struct Chatd {
    config: Config,
    engine: Engine,
    classic: TcpListener,
}

impl Chatd {
    /// Opens the engine and binds every listener of `config`.
    pub async fn bind(config: Config) -> std::io::Result<Self> {
        let store = Arc::new(MemoryStore::new(
            usize::try_from(config.retain_messages).unwrap_or(usize::MAX),
        ));
        let engine = Engine::new(config.engine(), store);
        let classic = bind(config.classic_addr, "classic").await?;
        Ok(Chatd {
            config,
            engine,
            classic,
        })
    }

    /// Where the classic protocol listens.
    pub fn classic_addr(&self) -> SocketAddr {
        local_addr(&self.classic)
    }

    /// The engine behind every protocol.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serves until `shutdown` is cancelled, then ends open streams cleanly
    /// and returns once every connection has closed.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), tonic::transport::Error> {
        let Chatd {
            config,
            engine,
            classic,
        } = self;
        let room = engine.room(&config.classic_room);
        let classic_chat = ClassicChat::new(room, config.history_replay, shutdown.clone())
            .into_service(config.max_request_bytes());

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<ChatServerServer<ClassicChat>>().await;
        // Both versions: grpcurl and older tools ask v1alpha, newer ones v1.
        let reflection_v1 = reflection()
            .build_v1()
            .expect("the embedded descriptor sets are valid");
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .expect("the embedded descriptor sets are valid");

        tracing::info!(addr = %local_addr(&classic), room = config.classic_room, "classic protocol listening");
        let incoming = TcpIncoming::from(classic).with_nodelay(Some(true));
        let served = Server::builder()
            .add_service(classic_chat)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned());
        let result = served.await;
        health
            .set_not_serving::<ChatServerServer<ClassicChat>>()
            .await;
        result
    }
}

/// Server reflection over every protocol's descriptors and health's.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(chat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

async fn bind(addr: SocketAddr, protocol: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("cannot listen for the {protocol} protocol on {addr}: {error}"),
        )
    })
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("a bound TCP listener has a local address")
}
