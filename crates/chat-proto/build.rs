//! Compiles the protocol files with `protox` (pure Rust, no system `protoc`)
//! and generates prost messages and tonic stubs from the result.

use std::path::PathBuf;

use prost_build::{Service, ServiceGenerator};
use protox::prost::Message;

/// Every protocol `chatd` speaks, relative to the workspace's `proto/` folder.
const PROTOS: &[&str] = &[
    "classic/classic_chat.proto",
    "lobby/lobby_chat.proto",
    "chat/v1/chat.proto",
];
/// The admin protocol, served only on a Unix socket, and what the nodes of
/// a cluster tell each other: generated, but kept out of what reflection
/// on the TCP ports describes.
const PRIVATE: &[&str] = &["admin/v1/admin.proto", "cluster/v1/cluster.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let public: Vec<PathBuf> = PROTOS.iter().map(|p| proto_root.join(p)).collect();
    let mut files = public.clone();
    files.extend(PRIVATE.iter().map(|p| proto_root.join(p)));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    // Reflection serves this set, so generic gRPC tools can discover every service.
    let served = protox::compile(&public, [&proto_root])?;
    std::fs::write(out_dir.join("descriptors.bin"), served.encode_to_vec())?;

    let descriptors = protox::compile(&files, [&proto_root])?;
    let stubs = |clients: bool| {
        tonic_prost_build::configure()
            .codec_path("crate::codec::ChatCodec")
            .build_client(clients)
            .build_server(!clients)
            .service_generator()
    };
    prost_build::Config::new()
        .service_generator(Box::new(SharedEncodingServers {
            clients: stubs(true),
            servers: stubs(false),
        }))
        .compile_fds(descriptors)?;
    Ok(())
}

/// Server-streaming methods that fan one message out to many subscribers.
/// Their servers stream `Encoded<T>`, a `T` encoded once and shared by every
/// stream that sends it (the lobby's chat, which names its reader, once per
/// reader), and hand the encodings to the connection as they are, instead
/// of tonic encoding a `T` per subscriber; their clients still receive
/// plain `T`s. (The lobby protocol has no package.)
const SHARED_ENCODING: &[&str] = &[
    "grpc.ChatServer.ChatStream",
    "chat.v1.ChatService.Subscribe",
    "Lobby.TryChatReceive",
    "Channel.TryChatReceive",
];

/// Generates tonic clients as they are and servers with the output types of
/// [`SHARED_ENCODING`] methods wrapped in `Encoded`.
struct SharedEncodingServers {
    clients: Box<dyn ServiceGenerator>,
    servers: Box<dyn ServiceGenerator>,
}

impl ServiceGenerator for SharedEncodingServers {
    fn generate(&mut self, service: Service, buf: &mut String) {
        self.clients.generate(service.clone(), buf);
        let mut service = service;
        for method in &mut service.methods {
            let name = [&service.package, &service.proto_name, &method.proto_name]
                .into_iter()
                .filter(|part| !part.is_empty())
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(".");
            if SHARED_ENCODING.contains(&name.as_str()) {
                method.output_type =
                    format!("crate::codec::Encoded<super::{}>", method.output_type);
            }
        }
        self.servers.generate(service, buf);
    }

    fn finalize(&mut self, buf: &mut String) {
        self.clients.finalize(buf);
        self.servers.finalize(buf);
    }

    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        self.clients.finalize_package(package, buf);
        self.servers.finalize_package(package, buf);
    }
}
