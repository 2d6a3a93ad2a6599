//! The web client, on the native protocol's port: its files for browsers
//! that ask for a page, and the native protocol over gRPC-Web for the
//! calls it makes; and shared files (`/files`, see [`files::http`]), for
//! every client. Plain gRPC on the same port passes through untouched.
//!
//! The page calls the port it was loaded from. In a cluster it may move to
//! another node when its own goes: `/nodes` lists the other live nodes'
//! web addresses, and gRPC-Web calls from their pages are allowed (CORS for
//! those origins only; for a node on its own, none).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::future::{BoxFuture, FutureExt};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use rust_embed::RustEmbed;
use tonic::body::Body;
use tonic_web::{GrpcWebLayer, GrpcWebService};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};
use tower_layer::Layer;
use tower_service::Service;

use crate::files::{self, Files, http::is_file_request};
use crate::transport::StandAloneChunks;

/// The built web client (`web/dist/`, built from `web/src/` by
/// `npm run build` and committed), compiled into the binary.
#[derive(RustEmbed)]
#[folder = "../../web/dist/"]
struct Bundle;

/// What the page may do: load its own scripts and styles, call its own
/// origin (and, in a cluster, the other nodes': see [`content_security`]),
/// and nothing else (no inline script, no framing).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The policy with the other nodes' origins added to what the page may
/// call.
fn content_security(peers: &[String]) -> String {
    if peers.is_empty() {
        return CONTENT_SECURITY_POLICY.to_owned();
    }
    CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'",
        &format!("connect-src 'self' {}", peers.join(" ")),
    )
}

/// The web origins (`scheme://host:port`) of the other nodes of a
/// cluster: the live ones, where this node's pages may move, and every one
/// seen since this node started, whose pages may call it (a page outlives
/// the node that served it: that is when it moves). Empty for a node on
/// its own. A cheap-to-clone handle, kept up to date from the nodes'
/// leases.
#[derive(Debug, Clone, Default)]
pub struct PeerOrigins(Arc<RwLock<Origins>>);

#[derive(Debug, Default)]
struct Origins {
    live: Vec<String>,
    seen: BTreeSet<String>,
}

impl PeerOrigins {
    /// From now on, the other live nodes are at `urls` (their public URLs).
    pub fn set(&self, urls: &[String]) {
        let mut live: Vec<String> = urls.iter().filter_map(|url| origin_of(url)).collect();
        live.sort();
        live.dedup();
        let mut origins = self.0.write().unwrap_or_else(PoisonError::into_inner);
        origins.seen.extend(live.iter().cloned());
        origins.live = live;
    }

    /// The live nodes' origins.
    pub fn list(&self) -> Vec<String> {
        let origins = self.0.read().unwrap_or_else(PoisonError::into_inner);
        origins.live.clone()
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        let origins = self.0.read().unwrap_or_else(PoisonError::into_inner);
        origin
            .to_str()
            .is_ok_and(|origin| origins.seen.contains(origin))
    }
}

/// `scheme://host[:port]` of a URL, as browsers send it in `Origin`.
pub fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str().filter(|s| *s == "http" || *s == "https")?;
    Some(format!("{scheme}://{}", uri.authority()?))
}

/// The web client's files, ready to serve: each with its type, a
/// validator, and a gzipped copy when that is smaller.
#[derive(Debug, Clone)]
pub struct WebFiles {
    files: Arc<HashMap<String, File>>,
}

#[derive(Debug)]
struct File {
    content_type: HeaderValue,
    etag: HeaderValue,
    /// Built files carry a content hash in their name and never change;
    /// `index.html` names them, so it is checked every time.
    immutable: bool,
    plain: Bytes,
    gzipped: Option<Bytes>,
}

impl WebFiles {
    /// The files compiled into the binary.
    pub fn embedded() -> Self {
        let files = Bundle::iter()
            .filter_map(|path| {
                let file = Bundle::get(&path)?;
                let hash = file.metadata.sha256_hash();
                let etag = format!("\"{}\"", hex::encode(&hash[..12]));
                let plain = Bytes::from(file.data.into_owned());
                let prepared = File {
                    content_type: HeaderValue::from_str(file.metadata.mimetype())
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                    etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
                    immutable: path.starts_with("assets/"),
                    gzipped: gzip(&plain),
                    plain,
                };
                Some((path.into_owned(), prepared))
            })
            .collect();
        WebFiles {
            files: Arc::new(files),
        }
    }

    /// Bytes of the whole client as a browser fetches it (gzipped where
    /// that is smaller).
    pub fn transfer_size(&self) -> usize {
        self.files
            .values()
            .map(|file| file.gzipped.as_ref().unwrap_or(&file.plain).len())
            .sum()
    }

    /// The reply to a `GET` or `HEAD` of `request`'s path; the page may
    /// also call `peers`.
    fn respond<B>(&self, request: &Request<B>, peers: &[String]) -> Response<Body> {
        let path = request.uri().path().trim_start_matches('/');
        let path = if path.is_empty() { "index.html" } else { path };
        if path == "nodes" {
            return nodes_reply(peers);
        }
        let Some(file) = self.files.get(path) else {
            return plain_reply(
                StatusCode::NOT_FOUND,
                "not found: this server has no such page\n",
            );
        };
        let headers = request.headers();
        let cache = if file.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let reply = Response::builder()
            .header(header::ETAG, file.etag.clone())
            .header(header::CACHE_CONTROL, cache)
            .header(header::VARY, "accept-encoding");
        let reply = with_security_headers(reply, &content_security(peers));
        if headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .any(|tag| tag == file.etag || tag == "*")
        {
            return reply
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .expect("a valid response");
        }
        let (bytes, gzipped) = match &file.gzipped {
            Some(gzipped) if accepts_gzip(headers) => (gzipped.clone(), true),
            _ => (file.plain.clone(), false),
        };
        let mut reply = reply
            .header(header::CONTENT_TYPE, file.content_type.clone())
            .header(header::CONTENT_LENGTH, bytes.len());
        if gzipped {
            reply = reply.header(header::CONTENT_ENCODING, "gzip");
        }
        let body = if request.method() == Method::HEAD {
            Body::new(Empty::<Bytes>::new())
        } else {
            Body::new(Full::new(bytes))
        };
        reply.body(body).expect("a valid response")
    }
}

fn with_security_headers(reply: http::response::Builder, policy: &str) -> http::response::Builder {
    reply
        .header(header::CONTENT_SECURITY_POLICY, policy)
        // `frame-ancestors` says it to browsers that read CSP; this, to
        // the older ones that do not.
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
}

/// `/nodes`: `{"nodes":["http://host:port", ...]}`, the other live nodes.
fn nodes_reply(peers: &[String]) -> Response<Body> {
    let quoted: Vec<String> = peers
        .iter()
        .map(|origin| format!("\"{}\"", origin.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    let json = format!("{{\"nodes\":[{}]}}\n", quoted.join(","));
    with_security_headers(Response::builder(), CONTENT_SECURITY_POLICY)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::new(Full::new(Bytes::from(json))))
        .expect("a valid response")
}

fn plain_reply(status: StatusCode, text: &'static str) -> Response<Body> {
    with_security_headers(Response::builder(), CONTENT_SECURITY_POLICY)
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::new(Full::new(Bytes::from_static(text.as_bytes()))))
        .expect("a valid response")
}

fn accepts_gzip(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next() == Some("gzip") && !parts.any(|param| param.replace(' ', "") == "q=0")
        })
}

/// `bytes` gzipped, if that saves anything.
fn gzip(bytes: &[u8]) -> Option<Bytes> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).ok()?;
    let gzipped = encoder.finish().ok()?;
    (gzipped.len() < bytes.len()).then(|| Bytes::from(gzipped))
}

/// Served over TLS, pages tell browsers to come back over TLS only, for a
/// year: a downgrade to plaintext on the way would show passwords.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Serves the web client in front of a server's gRPC services, or, when
/// built with `None` (`--web off`), passes everything through.
/// Uploads and downloads of shared files go to `shared` in either case.
#[derive(Clone)]
pub struct WebLayer {
    files: Option<WebFiles>,
    peers: PeerOrigins,
    tls: bool,
    shared: Files,
}

impl WebLayer {
    /// `tls`: the port serves TLS.
    pub fn new(files: Option<WebFiles>, peers: PeerOrigins, tls: bool, shared: Files) -> Self {
        WebLayer {
            files,
            peers,
            tls,
            shared,
        }
    }

    /// Whether it serves the web client (else it only passes calls on).
    pub fn serves_files(&self) -> bool {
        self.files.is_some()
    }
}

/// Lets pages of the nodes in `peers` make gRPC-Web calls.
fn cors(peers: PeerOrigins) -> CorsLayer {
    use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            peers.allows(origin)
        }))
        .allow_methods([Method::POST])
        .allow_headers([
            CONTENT_TYPE,
            AUTHORIZATION,
            HeaderName::from_static("x-grpc-web"),
            HeaderName::from_static("x-user-agent"),
            HeaderName::from_static("grpc-timeout"),
        ])
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(600))
}

impl<S: Clone> Layer<S> for WebLayer {
    type Service = WebService<S>;

    fn layer(&self, grpc: S) -> WebService<S> {
        WebService {
            web: self.files.clone().map(|files| Web {
                files,
                grpc_web: cors(self.peers.clone()).layer(GrpcWebLayer::new().layer(grpc.clone())),
                peers: self.peers.clone(),
                tls: self.tls,
            }),
            grpc,
            shared: self.shared.clone(),
        }
    }
}

/// See [`WebLayer`].
#[derive(Clone)]
pub struct WebService<S> {
    grpc: S,
    web: Option<Web<S>>,
    shared: Files,
}

#[derive(Debug, Clone)]
struct Web<S> {
    files: WebFiles,
    grpc_web: Cors<GrpcWebService<S>>,
    peers: PeerOrigins,
    tls: bool,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for WebService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<tonic::codegen::StdError> + std::fmt::Display,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tonic::codegen::StdError> + std::fmt::Display,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.grpc.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The service polled ready is the one that takes the call; a fresh
        // clone is left in its place (tower's rule for cloned services).
        let fresh = self.grpc.clone();
        let mut grpc = std::mem::replace(&mut self.grpc, fresh);
        if is_file_request(&request) && !content_type(&request).starts_with("application/grpc") {
            return files::http::respond(self.shared.clone(), request)
                .map(Ok)
                .boxed();
        }
        if let Some(Web {
            files,
            grpc_web,
            peers,
            tls,
        }) = &self.web
        {
            if is_grpc_web(&request) || is_preflight(&request) {
                let mut grpc_web = grpc_web.clone();
                return async move {
                    // Ready as `grpc`, which it wraps, was polled ready.
                    std::future::poll_fn(|cx| {
                        Service::<Request<ReqBody>>::poll_ready(&mut grpc_web, cx)
                    })
                    .await?;
                    let mut reply = grpc_web.call(request).await?;
                    // Its chunks are gRPC-Web's, no longer the frames.
                    reply.extensions_mut().remove::<StandAloneChunks>();
                    Ok(reply)
                }
                .boxed();
            }
            if is_page_request(&request) {
                let mut reply = files.respond(&request, &peers.list());
                if *tls {
                    reply.headers_mut().insert(
                        header::STRICT_TRANSPORT_SECURITY,
                        HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
                    );
                }
                return async move { Ok(reply) }.boxed();
            }
        }
        let reply = grpc.call(request.map(Body::new));
        async move { Ok(reply.await?.map(Body::new)) }.boxed()
    }
}

fn content_type<B>(request: &Request<B>) -> &str {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

fn is_grpc_web<B>(request: &Request<B>) -> bool {
    content_type(request).starts_with("application/grpc-web")
}

/// A browser asking whether a page of another origin may call.
fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// A browser asking for a page or file, not a gRPC call.
fn is_page_request<B>(request: &Request<B>) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD)
        && !content_type(request).starts_with("application/grpc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_refused() {
        let accepts = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
            accepts_gzip(&headers)
        };
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, gzip;q=0.8"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts_gzip(&http::HeaderMap::new()));
    }

    #[test]
    fn the_embedded_client_has_its_page_and_is_small() {
        let files = WebFiles::embedded();
        assert!(files.files.contains_key("index.html"));
        assert!(
            files.files.keys().any(|path| path.ends_with(".js")),
            "no script in {:?}",
            files.files.keys().collect::<Vec<_>>()
        );
        // The README promises a client under 150 KB gzipped.
        assert!(
            files.transfer_size() < 150 * 1024,
            "{}",
            files.transfer_size()
        );
    }
}
