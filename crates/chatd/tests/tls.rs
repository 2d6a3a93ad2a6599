//! TLS over real loopback TCP, with a certificate made in the test: the
//! native and classic protocols over TLS (from Rust and from Python
//! grpcio), a certificate the client does not trust, and plaintext and TLS
//! mixed up in both directions failing at once instead of hanging.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use chat_proto::chat::v1::chat_service_client::ChatServiceClient;
use chat_proto::chat::v1::*;
use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

fn tls_endpoint(addr: SocketAddr, ca: Option<&Path>) -> Endpoint {
    let mut tls = ClientTlsConfig::new().domain_name("localhost");
    if let Some(ca) = ca {
        tls = tls.ca_certificate(Certificate::from_pem(std::fs::read(ca).unwrap()));
    }
    Endpoint::from_shared(format!("https://localhost:{}", addr.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
}

async fn tls_channel(addr: SocketAddr, ca: &Path) -> Channel {
    tls_endpoint(addr, Some(ca))
        .connect()
        .await
        .expect("TLS connect")
}

/// The error of `connecting`, with its sources, in one line; fails the
/// test if it does not come within [`PATIENCE`].
async fn connect_error(
    connecting: impl Future<Output = Result<Channel, tonic::transport::Error>>,
) -> String {
    let error = tokio::time::timeout(PATIENCE, connecting)
        .await
        .expect("hung instead of failing")
        .expect_err("connected");
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn native_and_classic_clients_chat_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ca) = tls_server(dir.path(), &[]).await;

    let mut native = ChatServiceClient::new(tls_channel(server.addrs.native, &ca).await);
    let login = native
        .login(LoginRequest {
            name: "ann".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(login.name, "ann");

    let mut classic = chat_proto::classic::chat_server_client::ChatServerClient::new(
        tls_channel(server.classic, &ca).await,
    );
    let mut notes = chat_stream(&mut classic).await;
    send(&mut classic, "bob", "over TLS").await.unwrap();
    assert_eq!(read_notes(&mut notes, 1).await, [note("bob", "over TLS")]);
}

#[tokio::test]
async fn a_certificate_the_client_does_not_trust_is_refused_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _ca) = tls_server(dir.path(), &[]).await;
    let error = connect_error(tls_endpoint(server.addrs.native, None).connect()).await;
    assert!(error.contains("certificate"), "{error}");
}

#[tokio::test]
async fn plaintext_to_a_tls_port_and_tls_to_a_plaintext_port_fail_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, ca) = tls_server(dir.path(), &[]).await;
    let mut plain_client = ChatServiceClient::new(
        Endpoint::from_shared(format!("http://{}", tls.addrs.native))
            .unwrap()
            .connect_lazy(),
    );
    let refused = tokio::time::timeout(
        PATIENCE,
        plain_client.login(LoginRequest {
            name: "ann".into(),
            ..Default::default()
        }),
    )
    .await
    .expect("a plaintext call to a TLS port hung")
    .unwrap_err();
    // tonic calls a connection closed under it "unknown"; grpcio (below)
    // calls it UNAVAILABLE.
    assert!(
        matches!(refused.code(), Code::Unavailable | Code::Unknown),
        "{refused:?}"
    );

    let plain = TestServer::start(&[]).await;
    let error = connect_error(tls_endpoint(plain.addrs.native, Some(&ca)).connect()).await;
    assert!(!error.is_empty());
    // And the TLS server still serves properly configured clients.
    tls_channel(tls.addrs.native, &ca).await;
}

#[tokio::test]
async fn a_tls_port_whose_client_never_finishes_the_handshake_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _ca) = tls_server(dir.path(), &["--handshake-timeout", "300ms"]).await;
    let mut silent = tokio::net::TcpStream::connect(server.addrs.native)
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut byte))
        .await
        .expect("the server never closed a silent connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_grpcio_client_registers_and_logs_in_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ca) = tls_server(dir.path(), &[]).await;
    let stubs = python::generate("chat/v1/chat.proto");
    let mut client = python::spawn(
        "native_tls_client.py",
        stubs.path(),
        &[
            format!("localhost:{}", server.addrs.native.port()),
            ca.display().to_string(),
        ],
    );
    let mut stdout = BufReader::new(client.stdout.take().unwrap()).lines();
    let last = tokio::time::timeout(PATIENCE, stdout.next_line())
        .await
        .expect("the Python client took too long");
    let mut stderr = String::new();
    if let Some(mut err) = client.stderr.take() {
        let _ = err.read_to_string(&mut stderr).await;
    }
    assert_eq!(last.unwrap().as_deref(), Some("OK"), "{stderr}");
}
