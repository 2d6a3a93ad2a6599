//! The web client's pages may not be framed by another site, and over TLS
//! tell browsers never to come back in plaintext.

use bytes::Bytes;
use http::header;
use http_body_util::Full;

use crate::common::pages::{fetch, fetch_tls, get, header_of};
use crate::common::*;

#[tokio::test]
async fn pages_refuse_frames_and_over_tls_ask_for_tls_only() {
    let plain = TestServer::start(&[]).await;
    let page = fetch(
        plain.addrs.native,
        get("/").body(Full::<Bytes>::default()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(header_of(&page, header::X_FRAME_OPTIONS), "DENY");
    // Over plaintext it would mean nothing, and could lock a site out.
    assert!(
        page.headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none()
    );

    let dir = tempfile::tempdir().unwrap();
    let (tls, ca) = tls_server(dir.path(), &[]).await;
    for path in ["/", "/no-such-page"] {
        let page = fetch_tls(
            tls.addrs.native,
            &ca,
            get(path).body(Full::default()).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(header_of(&page, header::X_FRAME_OPTIONS), "DENY", "{path}");
        assert_eq!(
            header_of(&page, header::STRICT_TRANSPORT_SECURITY),
            "max-age=31536000",
            "{path}"
        );
    }
}
