//! TLS on every listener, with rustls (no OpenSSL).
//!
//! The handshake runs inside the connection, on its first read or write,
//! rather than in the accept loop: one slow client holds up nobody, and
//! the connection's handshake deadline (see `incoming`) covers the TLS
//! handshake and the HTTP/2 preface after it as one.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::{Accept, TlsAcceptor, server::TlsStream};

/// The server's certificate and key, ready to accept with. A cheap-clone
/// handle: a certificate loaded again serves every listener's next
/// connections.
#[derive(Clone)]
pub struct Tls {
    acceptor: Arc<RwLock<TlsAcceptor>>,
    http1: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads a PEM certificate chain and private key. The message of an
    /// error names the file and what is wrong with it. Clients are offered
    /// HTTP/2, and HTTP/1.1 too if `http1` (browsers behind proxies that
    /// speak only that, for the web client).
    pub fn load(cert: &Path, key: &Path, http1: bool) -> Result<Self, String> {
        Ok(Tls {
            acceptor: Arc::new(RwLock::new(acceptor(cert, key, http1)?)),
            http1,
        })
    }

    /// Loads the certificate and key again (renewed, say): connections
    /// from now on get the new ones. On an error, the old ones stay.
    pub fn reload(&self, cert: &Path, key: &Path) -> Result<(), String> {
        let acceptor = acceptor(cert, key, self.http1)?;
        *self
            .acceptor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = acceptor;
        Ok(())
    }

    fn acceptor(&self) -> TlsAcceptor {
        self.acceptor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// An acceptor with the certificate chain and key in these PEM files.
fn acceptor(cert: &Path, key: &Path, http1: bool) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("cannot read the certificate {}: {error}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("cannot read the private key {}: {error}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|error| format!("the certificate and key cannot be used: {error}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    if http1 {
        config.alpn_protocols.push(b"http/1.1".to_vec());
    }
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A server connection, in plaintext or TLS.
pub enum ServerStream {
    Plain(TcpStream),
    Handshaking(Box<Accept<TcpStream>>),
    Secure(Box<TlsStream<TcpStream>>),
    /// The handshake failed; the connection is over.
    Failed,
}

impl ServerStream {
    pub fn new(tcp: TcpStream, tls: Option<&Tls>) -> Self {
        match tls {
            Some(tls) => ServerStream::Handshaking(Box::new(tls.acceptor().accept(tcp))),
            None => ServerStream::Plain(tcp),
        }
    }

    /// Drives the handshake, if one is under way, to its end.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let ServerStream::Handshaking(accept) = self {
            match ready!(Pin::new(accept.as_mut()).poll(cx)) {
                Ok(stream) => *self = ServerStream::Secure(Box::new(stream)),
                Err(error) => {
                    *self = ServerStream::Failed;
                    // Most often a plaintext client on a TLS port.
                    tracing::debug!(%error, "TLS handshake failed");
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("TLS handshake failed: {error}"),
                    )));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    fn failed() -> io::Error {
        io::Error::new(io::ErrorKind::NotConnected, "the TLS handshake failed")
    }
}

impl AsyncRead for ServerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_ready(cx))?;
        match &mut *self {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            ServerStream::Secure(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            ServerStream::Handshaking(_) | ServerStream::Failed => Poll::Ready(Err(Self::failed())),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_ready(cx))?;
        match &mut *self {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, data),
            ServerStream::Secure(tls) => Pin::new(tls.as_mut()).poll_write(cx, data),
            ServerStream::Handshaking(_) | ServerStream::Failed => Poll::Ready(Err(Self::failed())),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_ready(cx))?;
        match &mut *self {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, slices),
            ServerStream::Secure(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, slices),
            ServerStream::Handshaking(_) | ServerStream::Failed => Poll::Ready(Err(Self::failed())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ServerStream::Plain(tcp) => tcp.is_write_vectored(),
            ServerStream::Secure(tls) => tls.is_write_vectored(),
            ServerStream::Handshaking(_) | ServerStream::Failed => false,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_ready(cx))?;
        match &mut *self {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            ServerStream::Secure(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            ServerStream::Handshaking(_) | ServerStream::Failed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            ServerStream::Secure(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            ServerStream::Handshaking(_) | ServerStream::Failed => Poll::Ready(Ok(())),
        }
    }
}

/// A self-signed certificate for `hosts` (names or IP addresses), for
/// trying TLS out: `(certificate PEM, private key PEM)`.
pub fn self_signed(hosts: &[String]) -> Result<(String, String), String> {
    let certified = rcgen::generate_simple_self_signed(hosts.to_vec())
        .map_err(|error| format!("cannot make a certificate: {error}"))?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}
