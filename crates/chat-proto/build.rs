//! Compiles the protocol files with `protox` (pure Rust, no system `protoc`)
//! and generates prost messages and tonic stubs from the result.

use std::path::PathBuf;

use protox::prost::Message;

/// Every protocol `chatd` speaks, relative to the workspace's `proto/` folder.
const PROTOS: &[&str] = &[
    "classic/classic_chat.proto",
    "lobby/lobby_chat.proto",
    "chat/v1/chat.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let files: Vec<PathBuf> = PROTOS.iter().map(|p| proto_root.join(p)).collect();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&proto_root])?;

    // Reflection serves this set, so generic gRPC tools can discover every service.
    std::fs::write(out_dir.join("descriptors.bin"), descriptors.encode_to_vec())?;

    tonic_prost_build::configure()
        .codec_path("crate::codec::ChatCodec")
        .compile_fds(descriptors)?;
    Ok(())
}
