//! Files people share: uploaded with `POST /files` on the server's port
//! and fetched by their links, over the connection the calls use (HTTP/2,
//! TLS and all).

use bytes::Bytes;
use chat_proto::chat::v1 as wire;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tonic::Code;
use tonic::transport::Channel;
use tower_service::Service;

use crate::{ClientError, printable};

/// The most of a reply to a file request read (a file is at most the
/// server's limit, 25 MiB by default).
const MOST_FETCHED: usize = 64 << 20;

/// A file sent with a message, or just uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    /// An image's size in pixels; 0 for other files.
    pub width: u32,
    pub height: u32,
    /// Its link on the server (a path), for this user; fetch it with
    /// [`Client::fetch`](crate::Client::fetch).
    pub url: String,
    /// An image's thumbnail's link; empty for other files.
    pub thumbnail_url: String,
}

impl SharedFile {
    pub fn is_image(&self) -> bool {
        self.width > 0 && !self.thumbnail_url.is_empty()
    }

    /// `[name, size]`, as text shows a file.
    pub fn label(&self) -> String {
        format!("[{}, {}]", self.name, human_size(self.size))
    }
}

/// `bytes` as people read a size: `512 B`, `12.3 kB`, `4.5 MB`.
pub fn human_size(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}

impl From<wire::Attachment> for SharedFile {
    fn from(file: wire::Attachment) -> Self {
        SharedFile {
            id: file.id,
            name: printable::line(&file.name),
            mime_type: file.mime_type,
            size: file.size,
            width: file.width,
            height: file.height,
            url: file.url,
            thumbnail_url: file.thumbnail_url,
        }
    }
}

/// Uploads `bytes` named `name` with session `token` over `channel`.
pub(crate) async fn upload(
    channel: Channel,
    token: &str,
    name: &str,
    bytes: Bytes,
) -> Result<SharedFile, ClientError> {
    let encoded: String =
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/files")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_LENGTH, bytes.len())
        .header("x-file-name", encoded)
        .body(tonic::body::Body::new(Full::new(bytes)))
        .map_err(|e| refused(Code::InvalidArgument, e.to_string()))?;
    let (status, body) = send(channel, request).await?;
    if status != StatusCode::CREATED {
        return Err(from_http(status, &body));
    }
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        refused(
            Code::Internal,
            format!("the server's answer is not JSON: {e}"),
        )
    })?;
    let text = |key: &str| json[key].as_str().unwrap_or_default().to_owned();
    let number = |key: &str| json[key].as_u64().unwrap_or(0);
    Ok(SharedFile {
        id: text("id"),
        name: printable::line(&text("name")),
        mime_type: text("mime_type"),
        size: number("size"),
        width: u32::try_from(number("width")).unwrap_or(0),
        height: u32::try_from(number("height")).unwrap_or(0),
        url: text("url"),
        thumbnail_url: text("thumbnail_url"),
    })
}

/// The bytes at `link` (a path on the server) over `channel`.
pub(crate) async fn fetch(channel: Channel, link: &str) -> Result<Bytes, ClientError> {
    let request = Request::builder()
        .method(Method::GET)
        .uri(link)
        .body(tonic::body::Body::empty())
        .map_err(|e| {
            refused(
                Code::InvalidArgument,
                format!("`{link}` is not a link: {e}"),
            )
        })?;
    let (status, body) = send(channel, request).await?;
    if status != StatusCode::OK {
        return Err(from_http(status, &body));
    }
    Ok(body)
}

async fn send(
    mut channel: Channel,
    request: Request<tonic::body::Body>,
) -> Result<(StatusCode, Bytes), ClientError> {
    let unavailable = |e: &dyn std::fmt::Display| refused(Code::Unavailable, e.to_string());
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|e| unavailable(&e))?;
    let reply = channel.call(request).await.map_err(|e| unavailable(&e))?;
    let status = reply.status();
    let body = http_body_util::Limited::new(reply.into_body(), MOST_FETCHED)
        .collect()
        .await
        .map_err(|e| unavailable(&e))?;
    Ok((status, body.to_bytes()))
}

/// The server's refusal, with its words.
fn from_http(status: StatusCode, body: &[u8]) -> ClientError {
    let code = match status {
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        _ => Code::InvalidArgument,
    };
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        format!("the server answered {status}")
    } else {
        printable::line(text)
    };
    refused(code, message)
}

fn refused(code: Code, message: String) -> ClientError {
    ClientError::Refused { code, message }
}
