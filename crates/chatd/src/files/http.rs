//! Files over HTTP on the native port (gRPC-Web has no client streaming,
//! so browsers upload this way, and the native clients do the same):
//!
//! - `POST /files` with `Authorization: Bearer TOKEN`, the file as the
//!   body, its size in `Content-Length` and its name, percent-encoded, in
//!   `X-File-Name`: `201` and `{"id", "name", "mime_type", "size",
//!   "width", "height", "url", "thumbnail_url"}`;
//! - `GET` or `HEAD` of a link ([`super::links`]): the file, or a range of
//!   it, with `nosniff`, a sandboxing policy, and as a download unless it
//!   is a known image type.
//!
//! Errors are `text/plain` sentences a person can act on.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::header::{self, HeaderMap};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use tonic::body::Body;

use super::{FileError, Files, LinkError, Opened};
use crate::sessions::SessionError;

/// How long an upload's body may take to arrive.
const UPLOAD_DEADLINE: Duration = Duration::from_secs(600);

/// Bytes read from the store and written at a time.
const PIECE: usize = 256 * 1024;

/// What a served file may do if a browser opens it: nothing (no script,
/// no plugin, no form; a sandboxed origin of its own).
const FILE_POLICY: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

/// Whether `request` is for the file service (`/files`, `/files/...`).
pub fn is_file_request<B>(request: &Request<B>) -> bool {
    let path = request.uri().path();
    path == "/files" || path.starts_with("/files/")
}

/// The reply to a request [`is_file_request`] took.
pub async fn respond<B>(files: Files, request: Request<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    let (request, body) = request.into_parts();
    let reply = match (&request.method, request.uri.path()) {
        (&Method::POST, "/files") => upload(&files, &request, body).await,
        (&Method::GET | &Method::HEAD, _) => download(&files, &request).await,
        _ => Ok(text_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "upload with POST /files; fetch a file with GET of its link",
        )),
    };
    reply.unwrap_or_else(|error| error_reply(&error))
}

async fn upload<B>(files: &Files, request: &Parts, body: B) -> Result<Response<Body>, FileError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    let headers = &request.headers;
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let name = headers
        .get("x-file-name")
        .and_then(|value| value.to_str().ok())
        .map(|name| percent_decode_str(name).decode_utf8_lossy().into_owned())
        .unwrap_or_default();
    let admitted = files.admit(bearer(headers).as_deref(), length).await?;
    let len = usize::try_from(length.unwrap_or(0)).unwrap_or(usize::MAX);
    let body = Limited::new(body, len).collect();
    let body = match tokio::time::timeout(UPLOAD_DEADLINE, body).await {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(error)) => return Ok(broken_upload(&error.to_string())),
        Err(_) => return Ok(broken_upload("it took too long")),
    };
    if body.len() != len {
        return Ok(broken_upload(
            "the body was shorter than its Content-Length",
        ));
    }
    let uploaded = files.keep(admitted, &name, body).await?;
    let info = &uploaded.info;
    let json = serde_json::json!({
        "id": info.id,
        "name": info.name,
        "mime_type": info.mime_type,
        "size": info.size,
        "width": info.width,
        "height": info.height,
        "url": uploaded.url,
        "thumbnail_url": uploaded.thumbnail_url.clone().unwrap_or_default(),
    });
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::new(Full::new(Bytes::from(json.to_string()))))
        .expect("a valid response"))
}

fn broken_upload(why: &str) -> Response<Body> {
    text_reply(
        StatusCode::BAD_REQUEST,
        &format!("the upload broke off ({why}); send it again"),
    )
}

async fn download(files: &Files, request: &Parts) -> Result<Response<Body>, FileError> {
    let (uri, headers) = (&request.uri, &request.headers);
    let opened = files
        .open(
            uri.path(),
            uri.query().unwrap_or(""),
            bearer(headers).as_deref(),
        )
        .await?;
    let etag = format!("\"{}\"", &opened.hash[..opened.hash.len().min(32)]);
    let reply = file_headers(&opened, &etag);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag == etag.as_str())
    {
        return Ok(reply
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("a valid response"));
    }
    let (status, from, to) = match byte_range(headers, opened.size) {
        Ok(None) => (StatusCode::OK, 0, opened.size),
        Ok(Some((from, to))) => (StatusCode::PARTIAL_CONTENT, from, to),
        Err(()) => {
            return Ok(reply
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{}", opened.size))
                .body(Body::empty())
                .expect("a valid response"));
        }
    };
    let mut reply = reply
        .status(status)
        .header(header::CONTENT_LENGTH, to - from);
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {from}-{}/{}", to - 1, opened.size);
        reply = reply.header(header::CONTENT_RANGE, range);
    }
    let body = if request.method == Method::HEAD {
        Body::empty()
    } else {
        pieces(files.clone(), opened.hash, from, to)
    };
    Ok(reply.body(body).expect("a valid response"))
}

/// The headers every served file has.
fn file_headers(opened: &Opened, etag: &str) -> http::response::Builder {
    let disposition = if opened.inline {
        "inline"
    } else {
        "attachment"
    };
    let name = utf8_percent_encode(&opened.name, NON_ALPHANUMERIC);
    Response::builder()
        .header(header::CONTENT_TYPE, &opened.mime_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("{disposition}; filename*=UTF-8''{name}"),
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, FILE_POLICY)
        .header("cross-origin-resource-policy", "same-origin")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, etag)
        // A link is for one reader: no shared cache keeps it.
        .header(header::CACHE_CONTROL, "private, max-age=3600")
}

/// Bytes `from..to` under `hash`, read from the store a piece at a time
/// as the client takes them.
fn pieces(files: Files, hash: String, from: u64, to: u64) -> Body {
    let stream = futures::stream::unfold(from, move |at| {
        let (files, hash) = (files.clone(), hash.clone());
        async move {
            if at >= to {
                return None;
            }
            let len = usize::try_from(to - at).unwrap_or(PIECE).min(PIECE);
            match files.read(&hash, at, len).await {
                Ok(piece) if !piece.is_empty() => {
                    files.served(piece.len());
                    let next = at + piece.len() as u64;
                    Some((Ok(Frame::data(piece)), next))
                }
                Ok(_) => Some((Err(FileError::NoSuchFile(hash)), to)),
                Err(error) => Some((Err(error), to)),
            }
        }
    });
    Body::new(StreamBody::new(stream.boxed()))
}

/// The one range `Range` asks for, as `from..to`, if it asks for one this
/// server serves (several ranges, or another unit, get the whole file);
/// `Err` if it is outside the file.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = (headers.get(header::RANGE))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("bytes="))
        .filter(|spec| !spec.contains(','))
    else {
        return Ok(None);
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (from, to) = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => (first, (last + 1).min(size)),
        (Ok(first), Err(_)) if last.is_empty() => (first, size),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => {
            (size.saturating_sub(suffix), size)
        }
        _ => return Ok(None),
    };
    if from >= size {
        return Err(());
    }
    Ok(Some((from, to)))
}

/// The token of `Authorization: Bearer TOKEN`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim().to_owned())
}

fn error_reply(error: &FileError) -> Response<Body> {
    text_reply(http_status(error), &error.to_string())
}

fn http_status(error: &FileError) -> StatusCode {
    match error {
        FileError::NoToken | FileError::Session(SessionError::Expired) => StatusCode::UNAUTHORIZED,
        FileError::Session(SessionError::SendingTooFast(_)) | FileError::TooManyUploads(_) => {
            StatusCode::TOO_MANY_REQUESTS
        }
        FileError::Session(_)
        | FileError::GuestsMayNotUpload
        | FileError::NotYours(_)
        | FileError::MayNotRead(_)
        | FileError::Link(LinkError::Expired | LinkError::BadSignature) => StatusCode::FORBIDDEN,
        FileError::LengthRequired => StatusCode::LENGTH_REQUIRED,
        FileError::TooLarge { .. } | FileError::OverQuota { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        FileError::Empty | FileError::BadImage(_) | FileError::TooManyAttachments(_) => {
            StatusCode::BAD_REQUEST
        }
        FileError::NoSuchFile(_) | FileError::Link(LinkError::NotALink) => StatusCode::NOT_FOUND,
        FileError::Store(_) | FileError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn text_reply(status: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::new(Full::new(Bytes::from(format!("{text}\n")))))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        byte_range(&headers, size)
    }

    #[test]
    fn ranges_are_read_as_browsers_and_players_send_them() {
        assert_eq!(range("bytes=0-99", 1000), Ok(Some((0, 100))));
        assert_eq!(range("bytes=900-", 1000), Ok(Some((900, 1000))));
        assert_eq!(range("bytes=-100", 1000), Ok(Some((900, 1000))));
        assert_eq!(range("bytes=990-2000", 1000), Ok(Some((990, 1000))));
        assert_eq!(range("bytes=1000-", 1000), Err(()));
        assert_eq!(range("bytes=0-1,5-9", 1000), Ok(None));
        assert_eq!(range("items=0-1", 1000), Ok(None));
        assert_eq!(range("bytes=9-1", 1000), Ok(None));
        assert_eq!(byte_range(&HeaderMap::new(), 1000), Ok(None));
    }
}
