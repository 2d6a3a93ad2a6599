//! Generated code for the protocols `chatd` speaks.
//!
//! The `.proto` files under the workspace's `proto/` folder are the wire
//! contracts; everything here is generated from them at build time.

pub mod codec;

/// The single-room protocol of the seed "Chat 1st" (`package grpc`).
pub mod classic {
    tonic::include_proto!("grpc");
}

/// The multi-service protocol of the seed "Chat 2nd". Its file has no
/// package, so prost writes it to `_.rs`.
pub mod lobby {
    include!(concat!(env!("OUT_DIR"), "/_.rs"));
}

/// Our own protocol, `chat.v1` (`proto/chat/v1/chat.proto`).
pub mod chat {
    pub mod v1 {
        tonic::include_proto!("chat.v1");
    }

    /// Between the nodes of a cluster (it refers to `chat.v1`, so it lives
    /// beside it).
    pub mod cluster {
        pub mod v1 {
            tonic::include_proto!("chat.cluster.v1");
        }
    }
}

/// Administering a running `chatd` over its Unix socket, for `chatctl`
/// (`proto/admin/v1/admin.proto`).
pub mod admin {
    pub mod v1 {
        tonic::include_proto!("chat.admin.v1");
    }
}

/// Encoded `FileDescriptorSet` of every protocol, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
