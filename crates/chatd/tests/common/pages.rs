//! Plain HTTP/1.1 requests, as a browser makes them, over TCP or TLS.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Makes one HTTP/1.1 request on a connection of its own.
pub async fn fetch(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> hyper::Result<Response<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    fetch_over(tcp, request).await
}

/// Makes one HTTP/1.1 request over TLS to `localhost` at `addr`,
/// trusting the certificate `ca`.
pub async fn fetch_tls(
    addr: SocketAddr,
    ca: &Path,
    request: Request<Full<Bytes>>,
) -> hyper::Result<Response<Bytes>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake");
    fetch_over(tls, request).await
}

async fn fetch_over(
    io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    request: Request<Full<Bytes>>,
) -> hyper::Result<Response<Bytes>> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, body))
}

pub fn get(path: &str) -> http::request::Builder {
    Request::get(path).header(header::HOST, "localhost")
}

pub fn header_of(response: &Response<Bytes>, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}
