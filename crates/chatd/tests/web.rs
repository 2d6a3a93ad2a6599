//! The web client on the native port, seen over plain HTTP/1.1 as a
//! browser sees it: its files, and the native protocol over gRPC-Web.
//! (The browser tests in `web/tests/browser/` drive a real Chromium.)

mod common;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use chat_proto::chat::v1::{LoginRequest, LoginResponse};
use common::native::NativeUser;
use common::pages::{fetch, get, header_of};
use common::*;
use http::{Request, StatusCode, header};
use http_body_util::Full;
use prost::Message;

#[tokio::test]
async fn the_page_and_its_files_are_served_on_the_native_port() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;

    let page = fetch(addr, get("/").body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header_of(&page, header::CONTENT_TYPE), "text/html");
    assert!(header_of(&page, header::CONTENT_SECURITY_POLICY).contains("default-src 'self'"));
    assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-cache");
    // No cross-origin calls are allowed: the page calls its own origin.
    assert!(page.headers().get("access-control-allow-origin").is_none());
    let html = String::from_utf8(page.body().to_vec()).unwrap();
    assert!(html.contains(r#"<div id="app">"#), "{html}");

    // The script the page names, gzipped for a browser that takes it.
    let script = html
        .split('"')
        .find(|part| part.starts_with("/assets/") && part.ends_with(".js"))
        .unwrap_or_else(|| panic!("no script in {html}"));
    let gzipped = fetch(
        addr,
        get(script)
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
            .body(Full::default())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(gzipped.status(), StatusCode::OK);
    assert_eq!(header_of(&gzipped, header::CONTENT_ENCODING), "gzip");
    assert_eq!(header_of(&gzipped, header::CONTENT_TYPE), "text/javascript");
    assert!(header_of(&gzipped, header::CACHE_CONTROL).contains("immutable"));
    let plain = fetch(addr, get(script).body(Full::default()).unwrap())
        .await
        .unwrap();
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert!(plain.body().len() > gzipped.body().len());

    // A browser that has it already is told so.
    let etag = header_of(&page, header::ETAG).to_owned();
    let again = fetch(
        addr,
        get("/")
            .header(header::IF_NONE_MATCH, &etag)
            .body(Full::default())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.body().is_empty());

    let missing = fetch(addr, get("/no/such/page").body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// `message` as a gRPC-Web request body: one length-prefixed frame.
fn grpc_web_body(message: &impl Message) -> Full<Bytes> {
    let encoded = message.encode_to_vec();
    let mut body = BytesMut::new();
    body.put_u8(0);
    body.put_u32(u32::try_from(encoded.len()).unwrap());
    body.put_slice(&encoded);
    Full::new(body.freeze())
}

/// A gRPC-Web reply body's frames: messages, then the trailers.
fn grpc_web_frames(mut body: Bytes) -> (Vec<Bytes>, String) {
    let mut messages = Vec::new();
    let mut trailers = String::new();
    while body.has_remaining() {
        let flags = body.get_u8();
        let len = body.get_u32() as usize;
        let frame = body.split_to(len);
        if flags & 0x80 == 0 {
            messages.push(frame);
        } else {
            trailers = String::from_utf8(frame.to_vec()).unwrap();
        }
    }
    (messages, trailers)
}

#[tokio::test]
async fn native_calls_work_over_grpc_web_next_to_plain_grpc() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let login = |name: &str| {
        Request::post("/chat.v1.ChatService/Login")
            .header(header::HOST, "localhost")
            .header(header::CONTENT_TYPE, "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(grpc_web_body(&LoginRequest {
                name: name.into(),
                password: String::new(),
            }))
            .unwrap()
    };

    let reply = fetch(addr, login("웹 사용자")).await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(
        header_of(&reply, header::CONTENT_TYPE),
        "application/grpc-web+proto"
    );
    let (messages, trailers) = grpc_web_frames(reply.into_body());
    assert!(trailers.contains("grpc-status:0"), "{trailers:?}");
    let logged_in = LoginResponse::decode(messages[0].clone()).unwrap();
    assert_eq!(logged_in.name, "웹 사용자");

    // A refusal comes as a status, as over gRPC.
    let taken = fetch(addr, login("웹 사용자")).await.unwrap();
    let status = header_of(&taken, "grpc-status".parse().unwrap()).to_owned();
    let (_, trailers) = grpc_web_frames(taken.into_body());
    assert!(
        status == "6" || trailers.contains("grpc-status:6"),
        "not ALREADY_EXISTS: {status:?} {trailers:?}"
    );

    // Plain gRPC on the same port is untouched.
    let native = NativeUser::login(addr, "grpc user").await;
    assert_eq!(native.name, "grpc user");
}

#[tokio::test]
async fn with_the_web_client_off_the_port_speaks_only_grpc() {
    let server = TestServer::start(&["--web", "off"]).await;
    let addr = server.addrs.native;
    let page = fetch(addr, get("/").body(Full::default()).unwrap()).await;
    assert!(
        page.is_err(),
        "an HTTP/1.1 request was answered: {:?}",
        page.map(|response| response.status())
    );
    let native = NativeUser::login(addr, "grpc user").await;
    assert_eq!(native.name, "grpc user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_pages_may_move_to_the_other_nodes_and_call_them() {
    let postgres = chat_testkit::postgres::Postgres::start().await;
    let database = postgres.new_database("web_nodes").await;
    let nats = chat_testkit::nats::Nats::start().await;
    let broker = nats.url();
    let node = |url: &'static str| {
        let flags = [
            "--database-url",
            database.as_str(),
            "--nats-url",
            broker.as_str(),
            "--admin-socket",
            "off",
            "--public-url",
            url,
        ]
        .map(String::from);
        async move { TestServer::start(&flags.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };
    let a = node("http://a.example:7070").await;
    let _b = node("https://b.example").await;

    // a lists b (not itself) once b's lease is seen, and lets its pages
    // call b.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let nodes = loop {
        assert!(tokio::time::Instant::now() < deadline, "a never lists b");
        let reply = fetch(a.addrs.native, get("/nodes").body(Full::default()).unwrap())
            .await
            .unwrap();
        assert_eq!(header_of(&reply, header::CONTENT_TYPE), "application/json");
        let body = String::from_utf8(reply.body().to_vec()).unwrap();
        if body.contains("b.example") {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(nodes.trim(), r#"{"nodes":["https://b.example"]}"#);
    let page = fetch(a.addrs.native, get("/").body(Full::default()).unwrap())
        .await
        .unwrap();
    assert!(
        header_of(&page, header::CONTENT_SECURITY_POLICY)
            .contains("connect-src 'self' https://b.example;"),
        "{page:?}"
    );

    // A page of b may call a; a page of anywhere else may not.
    let preflight = |origin: &str| {
        Request::options("/chat.v1.ChatService/Login")
            .header(header::HOST, "a.example:7070")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type,x-grpc-web,authorization",
            )
            .body(Full::default())
            .unwrap()
    };
    let allowed = fetch(a.addrs.native, preflight("https://b.example"))
        .await
        .unwrap();
    assert_eq!(
        header_of(&allowed, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "https://b.example"
    );
    assert!(header_of(&allowed, header::ACCESS_CONTROL_ALLOW_HEADERS).contains("authorization"));
    let refused = fetch(a.addrs.native, preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(
        refused
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );

    let login = Request::post("/chat.v1.ChatService/Login")
        .header(header::HOST, "a.example:7070")
        .header(header::ORIGIN, "https://b.example")
        .header(header::CONTENT_TYPE, "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(grpc_web_body(&LoginRequest {
            name: "moved".into(),
            password: String::new(),
        }))
        .unwrap();
    let reply = fetch(a.addrs.native, login).await.unwrap();
    assert_eq!(
        header_of(&reply, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "https://b.example"
    );
    assert!(header_of(&reply, header::ACCESS_CONTROL_EXPOSE_HEADERS).contains("grpc-status"));
    let (messages, _) = grpc_web_frames(reply.into_body());
    assert_eq!(
        LoginResponse::decode(messages[0].clone()).unwrap().name,
        "moved"
    );
}
