//! A request over the transport's size limit is `RESOURCE_EXHAUSTED`, as
//! grpc-core and grpc-go answer it. tonic refuses such a body before
//! decoding it (which is what we want) but calls it `OUT_OF_RANGE`; this
//! renames the status on its way out.

use http::HeaderValue;

const OUT_OF_RANGE: &str = "11";
const RESOURCE_EXHAUSTED: &str = "8";
/// How tonic's refusal of an oversized body starts.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large: found ";

/// Rewrites tonic's oversized-request refusal (a trailers-only response,
/// so its status is in the headers) in place. Returns whether it was one.
pub fn rename_status<B>(response: &mut http::Response<B>) -> bool {
    let headers = response.headers_mut();
    if headers.get("grpc-status").and_then(|v| v.to_str().ok()) != Some(OUT_OF_RANGE) {
        return false;
    }
    // The message is percent-encoded, as gRPC sends it.
    let Some(sizes) = headers
        .get("grpc-message")
        .map(|v| percent_encoding::percent_decode(v.as_bytes()).decode_utf8_lossy())
        .and_then(|message| message.strip_prefix(TONIC_TOO_LARGE).map(numbers))
    else {
        return false;
    };
    let message = match sizes.as_slice() {
        [found, limit] => format!(
            "the request is {found} bytes; this server takes requests of at most {limit} bytes"
        ),
        _ => "the request is larger than this server takes".to_owned(),
    };
    headers.insert("grpc-status", HeaderValue::from_static(RESOURCE_EXHAUSTED));
    let encoded = percent_encoding::utf8_percent_encode(&message, percent_encoding::CONTROLS)
        .to_string()
        .replace(' ', "%20");
    if let Ok(message) = HeaderValue::from_str(&encoded) {
        headers.insert("grpc-message", message);
    }
    true
}

fn numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: &str, message: &str) -> http::Response<()> {
        http::Response::builder()
            .header("grpc-status", status)
            .header("grpc-message", message)
            .body(())
            .unwrap()
    }

    #[test]
    fn tonics_refusal_becomes_resource_exhausted() {
        let mut refused = response(
            "11",
            "Error,%20decoded%20message%20length%20too%20large:%20found%20100014%20bytes,%20the%20limit%20is:%205380%20bytes",
        );
        assert!(rename_status(&mut refused));
        assert_eq!(refused.headers()["grpc-status"], "8");
        assert_eq!(
            refused.headers()["grpc-message"],
            "the%20request%20is%20100014%20bytes;%20this%20server%20takes%20requests%20of%20at%20most%205380%20bytes"
        );
    }

    #[test]
    fn other_statuses_are_left_alone() {
        let mut ours = response("11", "seq out of range");
        assert!(!rename_status(&mut ours));
        assert_eq!(ours.headers()["grpc-status"], "11");
    }
}
