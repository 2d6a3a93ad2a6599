//! Files over HTTP on the native port: uploads by accounts, attached to
//! messages by their owners, fetched through signed links only while the
//! reader may read the room; the limits; images cleaned; unsent files
//! removed.

mod common;

use std::io::Cursor;
use std::net::SocketAddr;

use chat_proto::chat::v1::room_action::Action;
use chat_proto::chat::v1::{Attachment, Message};
use chat_testkit::metrics::Scrape;
use common::files::*;
use common::native::*;
use common::pages::{fetch, get, header_of};
use common::*;
use http::{StatusCode, header};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

/// The one file of the next message `user`'s stream brings.
async fn next_attachment(
    stream: &mut tonic::Streaming<chat_proto::chat::v1::Event>,
) -> (Message, Attachment) {
    let message = next_message(stream).await;
    let attachment = message.attachments.first().expect("a file").clone();
    (message, attachment)
}

#[tokio::test]
async fn a_file_is_sent_and_fetched_by_those_who_may_read_its_room() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    let mut bob = NativeUser::account(addr, "bob").await;
    let mut eve = NativeUser::account(addr, "eve").await;
    ann.try_create("ops", true).await.unwrap();
    ann.moderate("ops", Action::Invite("bob".into()))
        .await
        .unwrap();
    bob.join("ops").await;
    let mut bob_events = bob.subscribe(&[]).await;

    let notes = "the address is 12 Main St.\n".repeat(100);
    let file = uploaded(addr, &ann, "notes%20(1).txt", notes.as_bytes()).await;
    assert_eq!(file["name"], "notes (1).txt");
    assert_eq!(file["mime_type"], "text/plain");
    assert_eq!(file["size"], notes.len());
    let id = file["id"].as_str().unwrap();
    // Sent with no text: the file is the message.
    let sent = ann.try_send_files("ops", "", &[id]).await.unwrap();
    assert_eq!(sent.attachments[0].name, "notes (1).txt");
    let (message, attachment) = next_attachment(&mut bob_events).await;
    assert_eq!(message.seq, sent.seq);
    assert!(attachment.thumbnail_url.is_empty(), "not an image");

    // Bob fetches it, whole and in part; it is a download, never sniffed.
    let whole = get_link(addr, &attachment.url, None).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.body(), notes.as_bytes());
    assert_eq!(header_of(&whole, header::CONTENT_TYPE), "text/plain");
    assert_eq!(header_of(&whole, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(header_of(&whole, header::CONTENT_SECURITY_POLICY).contains("sandbox"));
    assert_eq!(
        header_of(&whole, header::CONTENT_DISPOSITION),
        "attachment; filename*=UTF-8''notes%20%281%29%2Etxt"
    );
    let part = fetch(
        addr,
        get(&attachment.url)
            .header(header::RANGE, "bytes=4-10")
            .body(Full::default())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body().as_ref(), &notes.as_bytes()[4..=10]);
    assert_eq!(
        header_of(&part, header::CONTENT_RANGE),
        format!("bytes 4-10/{}", notes.len())
    );

    // History gives bob a link too; eve, an outsider, gets nothing with
    // bob's link and her own token, nor with a link made over to her.
    let page = bob.history("ops", None, 10).await;
    assert!(!page.messages[0].attachments[0].url.is_empty());
    let eves = get_link(addr, &attachment.url, Some(&eve.token)).await;
    assert_eq!(eves.status(), StatusCode::FORBIDDEN, "{}", body_text(&eves));
    assert!(
        body_text(&eves).contains("may not read"),
        "{}",
        body_text(&eves)
    );
    let forged = attachment.url.replace("for=bob", "for=eve");
    let forged = get_link(addr, &forged, None).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        body_text(&forged).contains("altered"),
        "{}",
        body_text(&forged)
    );

    // Only its owner sends a file; an unknown id is not found.
    eve.join("general").await;
    let stolen = eve.try_send_files("general", "mine now", &[id]).await;
    assert_eq!(stolen.unwrap_err().code(), Code::PermissionDenied);
    let unknown = ann
        .try_send_files("ops", "", &["0123456789abcdef0123456789abcdef"])
        .await;
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);

    // The owner's link from the upload is the owner's alone.
    let own = file["url"].as_str().unwrap();
    assert_eq!(get_link(addr, own, None).await.status(), StatusCode::OK);
    let not_bobs = get_link(addr, own, Some(&bob.token)).await;
    assert_eq!(not_bobs.status(), StatusCode::FORBIDDEN);

    // Kicked out of the private room, bob's link stops working.
    ann.moderate("ops", Action::Kick("bob".into()))
        .await
        .unwrap();
    let kicked = get_link(addr, &attachment.url, None).await;
    assert_eq!(
        kicked.status(),
        StatusCode::FORBIDDEN,
        "{}",
        body_text(&kicked)
    );
}

/// A connection that has sent an upload's head, saying `length` bytes
/// will follow, and nothing of its body.
async fn upload_head(addr: SocketAddr, token: &str, length: usize) -> tokio::net::TcpStream {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /files HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\n\
         content-length: {length}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp
}

#[tokio::test]
async fn uploads_are_refused_without_an_account_and_over_the_limits() {
    let server =
        TestServer::start(&["--max-file-bytes", "5000", "--file-quota-bytes", "8000"]).await;
    let addr = server.addrs.native;
    let ann = NativeUser::account(addr, "ann").await;
    let bob = NativeUser::account(addr, "bob").await;
    let guest = NativeUser::login(addr, "gus").await;

    let anonymous = upload(addr, None, "a.txt", b"hello").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(body_text(&anonymous).contains("Authorization: Bearer"));
    let guests = upload(addr, Some(&guest.token), "a.txt", b"hello").await;
    assert_eq!(guests.status(), StatusCode::FORBIDDEN);
    assert!(
        body_text(&guests).contains("register"),
        "{}",
        body_text(&guests)
    );
    let empty = upload(addr, Some(&ann.token), "a.txt", b"").await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);

    let large = upload(addr, Some(&ann.token), "a.bin", &[7; 6000]).await;
    assert_eq!(large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body_text(&large).contains("5000"), "{}", body_text(&large));

    // Said before the body comes: the server answers a head alone.
    let mut tcp = upload_head(addr, &ann.token, 100_000_000).await;
    let mut answer = vec![0; 12];
    tokio::time::timeout(PATIENCE, tcp.read_exact(&mut answer))
        .await
        .expect("an answer before the body")
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 413");

    // The quota counts what is kept.
    uploaded(addr, &ann, "one.bin", &[1; 4000]).await;
    let over = upload(addr, Some(&ann.token), "two.bin", &[2; 4500]).await;
    assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body_text(&over).contains("your files take 4000 of your 8000 bytes"),
        "{}",
        body_text(&over)
    );
    uploaded(addr, &ann, "three.bin", &[3; 4000]).await;

    // Four uploads under way at once, each waiting for its body; a fifth
    // is told to wait, and may go once one of them breaks off.
    let mut waiting = Vec::new();
    for _ in 0..4 {
        waiting.push(upload_head(addr, &bob.token, 1000).await);
    }
    let fifth = loop {
        let reply = upload(addr, Some(&bob.token), "fifth.txt", b"fifth").await;
        // The four heads may still be on their way in.
        if reply.status() != StatusCode::CREATED {
            break reply;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        body_text(&fifth).contains("uploading 4 files already"),
        "{}",
        body_text(&fifth)
    );
    drop(waiting.pop());
    tokio::time::timeout(PATIENCE, async {
        while upload(addr, Some(&bob.token), "sixth.txt", b"sixth")
            .await
            .status()
            != StatusCode::CREATED
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("an upload taken once one under way broke off");
    drop(waiting);
}

/// A JPEG of `width` by `height` with an EXIF block that says where it
/// was taken.
fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut jpeg = Cursor::new(Vec::new());
    image.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let jpeg = jpeg.into_inner();
    // APP1: "Exif", a big-endian TIFF header with an empty directory, and
    // the secret.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0\0\0\0\0".to_vec();
    exif.extend_from_slice(b"GPS 37.5665N 126.9780E");
    let mut app1 = vec![0xff, 0xe1];
    app1.extend_from_slice(&u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    app1.extend_from_slice(&exif);
    [&jpeg[..2], &app1, &jpeg[2..]].concat()
}

#[tokio::test]
async fn images_are_cleaned_and_get_thumbnails_and_nothing_is_served_as_html() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native;
    let ann = NativeUser::account(addr, "ann").await;

    let photo = jpeg_with_exif(800, 400);
    assert!(photo.windows(4).any(|w| w == b"Exif"));
    let file = uploaded(addr, &ann, "photo.jpg", &photo).await;
    assert_eq!(file["mime_type"], "image/jpeg");
    assert_eq!(
        (file["width"].as_u64(), file["height"].as_u64()),
        (Some(800), Some(400))
    );
    let served = get_link(addr, file["url"].as_str().unwrap(), None).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(header_of(&served, header::CONTENT_TYPE), "image/jpeg");
    assert!(header_of(&served, header::CONTENT_DISPOSITION).starts_with("inline"));
    assert!(
        !served
            .body()
            .windows(4)
            .any(|w| w == b"Exif" || w == b"GPS ")
    );
    let shown = image::load_from_memory(served.body()).unwrap();
    assert_eq!((shown.width(), shown.height()), (800, 400));
    let thumbnail = get_link(addr, file["thumbnail_url"].as_str().unwrap(), None).await;
    let thumbnail = image::load_from_memory(thumbnail.body()).unwrap();
    assert_eq!((thumbnail.width(), thumbnail.height()), (320, 160));

    // A PNG with a page after it: re-encoded, the page is gone, and it is
    // an image, not sniffed into HTML.
    let mut png = Cursor::new(Vec::new());
    image::RgbaImage::new(4, 4)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let mut polyglot = png.into_inner();
    polyglot.extend_from_slice(b"<html><script>alert(document.domain)</script></html>");
    let file = uploaded(addr, &ann, "cat.png", &polyglot).await;
    let served = get_link(addr, file["url"].as_str().unwrap(), None).await;
    assert_eq!(header_of(&served, header::CONTENT_TYPE), "image/png");
    assert_eq!(
        header_of(&served, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    assert!(!body_text(&served).contains("<script"));

    // A page uploaded as such is text, to download.
    let page = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
    let file = uploaded(addr, &ann, "page.html", page).await;
    let served = get_link(addr, file["url"].as_str().unwrap(), None).await;
    assert_ne!(header_of(&served, header::CONTENT_TYPE), "text/html");
    assert!(header_of(&served, header::CONTENT_DISPOSITION).starts_with("attachment"));

    // Something that says it is a JPEG and is not: refused, with why.
    let mut broken = jpeg_with_exif(8, 8);
    broken.truncate(200);
    let refused = upload(addr, Some(&ann.token), "broken.jpg", &broken).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(
        body_text(&refused).contains("cannot be read"),
        "{}",
        body_text(&refused)
    );
}

#[tokio::test]
async fn files_never_sent_or_no_longer_in_a_message_are_removed() {
    let server =
        TestServer::start(&["--unsent-file-grace", "1s", "--metrics-addr", "127.0.0.1:0"]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    ann.join("general").await;
    let unsent = uploaded(addr, &ann, "unsent.txt", b"never sent").await;
    let sent = uploaded(addr, &ann, "sent.txt", b"sent").await;
    let message = ann
        .try_send_files("general", "here", &[sent["id"].as_str().unwrap()])
        .await
        .unwrap();
    let link = |file: &serde_json::Value| file["url"].as_str().unwrap().to_owned();
    let gone = |link: String| async move {
        loop {
            let status = get_link(addr, &link, None).await.status();
            if status == StatusCode::NOT_FOUND {
                return;
            }
            assert_eq!(status, StatusCode::OK);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(PATIENCE, gone(link(&unsent)))
        .await
        .expect("the unsent file removed");
    assert_eq!(
        get_link(addr, &link(&sent), None).await.status(),
        StatusCode::OK
    );

    ann.try_delete("general", message.seq).await.unwrap();
    tokio::time::timeout(PATIENCE, gone(link(&sent)))
        .await
        .expect("the file of a deleted message removed");

    // What moved shows in the metrics.
    let scrape = Scrape::of(server.addrs.metrics.expect("metrics served")).await;
    let value = |series: &str| scrape.0.get(series).copied().unwrap_or_default();
    assert_eq!(value("chatd_files_uploaded_total"), 2.0);
    assert_eq!(value("chatd_files_uploaded_bytes_total"), 14.0);
    assert_eq!(value("chatd_files_removed_total"), 2.0);
    assert!(
        value("chatd_files_served_bytes_total") >= 14.0,
        "{:?}",
        scrape.0
    );
}

#[tokio::test]
async fn the_classic_protocol_sees_a_file_as_its_name_size_and_link() {
    let server = TestServer::start(&["--classic-replay-delay", "0s"]).await;
    let addr = server.addrs.native;
    let mut ann = NativeUser::account(addr, "ann").await;
    ann.join("general").await;
    let mut classic = server.classic_client().await;
    let mut notes = chat_stream(&mut classic).await;
    server.wait_for_subscribers(1).await;

    let file = uploaded(addr, &ann, "plan.txt", b"the plan, in full").await;
    ann.try_send_files("general", "see the plan", &[file["id"].as_str().unwrap()])
        .await
        .unwrap();
    let note = read_notes(&mut notes, 1).await.remove(0);
    let (text, link) = note.message.split_once("\n[plan.txt, 17 B] ").unwrap();
    assert_eq!(text, "see the plan");
    assert!(link.starts_with("http://"), "{link}");
    let path = &link[link.find("/files/").unwrap()..];
    let fetched = get_link(addr, path, None).await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.body().as_ref(), b"the plan, in full");
}
