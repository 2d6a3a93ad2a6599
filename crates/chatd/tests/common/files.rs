//! Files over HTTP, as a browser uploads and fetches them.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;

use super::native::NativeUser;
use super::pages::{fetch, get};

/// Uploads `bytes` as `name` with `token`, as a browser does.
pub async fn upload(
    addr: SocketAddr,
    token: Option<&str>,
    name: &str,
    bytes: &[u8],
) -> Response<Bytes> {
    let mut request = Request::post("/files")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_LENGTH, bytes.len())
        .header("x-file-name", name);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(bytes)))
        .unwrap();
    fetch(addr, request).await.expect("an answer")
}

/// The JSON of a `201` upload.
pub async fn uploaded(
    addr: SocketAddr,
    user: &NativeUser,
    name: &str,
    bytes: &[u8],
) -> serde_json::Value {
    let reply = upload(addr, Some(&user.token), name, bytes).await;
    assert_eq!(reply.status(), StatusCode::CREATED, "{:?}", reply.body());
    serde_json::from_slice(reply.body()).unwrap()
}

pub async fn get_link(addr: SocketAddr, link: &str, token: Option<&str>) -> Response<Bytes> {
    let mut request = get(link);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    fetch(addr, request.body(Full::default()).unwrap())
        .await
        .expect("an answer")
}

pub fn body_text(reply: &Response<Bytes>) -> String {
    String::from_utf8_lossy(reply.body()).into_owned()
}
