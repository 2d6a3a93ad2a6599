//! Why a server could not be reached, said once and in words a person can
//! act on: what happened, from the causes a connection error carries
//! (without their repeats and the libraries' debug forms), and what to try.

use std::error::Error;

/// What went wrong connecting to `url` (`http://` or `https://`), and what
/// to do about it, from `error` and its causes.
pub(crate) fn explain(url: &str, error: &(dyn Error + 'static)) -> String {
    let tls = url.starts_with("https://");
    let address = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = host_of(address);
    let causes = causes(error);
    let all = causes.join(": ");
    let has = |words: &[&str]| words.iter().any(|word| all.contains(word));
    if has(&["Connection refused"]) {
        format!(
            "nothing answers at {address} (connection refused): is chatd running there, and \
             is that its native port (7070 unless set)?"
        )
    } else if has(&["dns error", "failed to lookup address"]) {
        format!("there is no host named `{host}` (it could not be looked up); check the address")
    } else if has(&["timed out", "deadline has elapsed"]) {
        format!("no answer from {address} in time; check the address, and that you can reach it")
    } else if has(&["not valid for name"]) {
        let valid_for = (causes.iter())
            .find_map(|cause| cause.split_once("only valid for ").map(|(_, names)| names))
            .map_or(String::new(), |names| {
                format!(" (it is for {})", readable(names))
            });
        format!(
            "the server's certificate is not for `{host}`{valid_for}: connect with a name \
             it is for, or make one for this name (`chatd gen-cert --host {host}`)"
        )
    } else if has(&[
        "UnknownIssuer",
        "unknown issuer",
        "self-signed",
        "SelfSigned",
    ]) {
        "the server's certificate is not trusted: no authority this computer knows signed it. \
         If the server uses a certificate of its own (`chatd gen-cert`), trust that as a CA \
         certificate (--ca-cert CERT.pem)"
            .to_owned()
    } else if has(&["certificate", "Certificate"]) {
        format!(
            "the server's certificate was refused: {}",
            causes.last().map_or("", String::as_str)
        )
    } else if tls && has(&["InvalidContentType", "corrupt message"]) {
        format!("the server at {address} does not speak TLS: use http://{address}")
    } else if !tls && has(&["broken pipe", "reset", "GoAway", "closed", "frame"]) {
        format!(
            "the server at {address} closed the connection at once: if it serves TLS, use \
             https://{address} (or --tls)"
        )
    } else {
        format!("cannot reach {address}: {all}")
    }
}

/// The messages of `error` and its causes, each once, without the
/// wrappers that add nothing ("transport error") or repeat a cause.
fn causes(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut said: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(error) = next {
        // A status's Display is a debug dump of its parts: its message is
        // what it says.
        let text = match error.downcast_ref::<tonic::Status>() {
            Some(status) => status.message().to_owned(),
            None => error.to_string(),
        };
        let filler = matches!(text.as_str(), "" | "transport error" | "connection error");
        if !filler && !said.iter().any(|earlier| earlier.contains(&text)) {
            // A later cause that contains an earlier one's words replaces it.
            said.retain(|earlier| !text.contains(earlier.as_str()));
            said.push(text);
        }
        next = error.source();
    }
    said
}

/// The host of `host:port` (or `[v6]:port`).
fn host_of(address: &str) -> &str {
    let authority = address.split('/').next().unwrap_or(address);
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
            host.trim_start_matches('[').trim_end_matches(']')
        }
        _ => authority,
    }
}

/// rustls's list of names (`DnsName("localhost"), IpAddress(..)`) as a
/// person writes them.
fn readable(names: &str) -> String {
    names
        .replace("DnsName(", "")
        .replace("IpAddress(", "")
        .replace(['(', ')', '"'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1
                .as_deref()
                .map(|layer| layer as &(dyn Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> Layer {
        let mut layer = None;
        for text in texts.iter().rev() {
            layer = Some(Layer(text, layer.map(Box::new)));
        }
        layer.unwrap()
    }

    #[test]
    fn each_cause_is_said_once_without_wrappers() {
        let error = chain(&[
            "transport error",
            "tcp connect error",
            "tcp connect error",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            causes(&error),
            ["tcp connect error", "Connection refused (os error 111)"]
        );
        let said = explain("http://127.0.0.1:7199", &error);
        assert!(
            said.starts_with("nothing answers at 127.0.0.1:7199"),
            "{said}"
        );
        assert!(!said.contains("os error"), "{said}");
    }

    #[test]
    fn certificates_are_told_apart() {
        let name = chain(&[
            "invalid peer certificate: certificate not valid for name \"127.0.0.1\"; \
             certificate is only valid for DnsName(\"localhost\")",
        ]);
        let said = explain("https://127.0.0.1:7171", &name);
        assert!(
            said.contains("not for `127.0.0.1` (it is for localhost)"),
            "{said}"
        );
        assert!(!said.contains("self-signed"), "{said}");
        let issuer = chain(&["invalid peer certificate: UnknownIssuer"]);
        assert!(explain("https://localhost:7171", &issuer).contains("--ca-cert"));
    }

    #[test]
    fn hosts_are_found_in_addresses() {
        assert_eq!(host_of("example.org:7070"), "example.org");
        assert_eq!(host_of("[::1]:7070"), "::1");
        assert_eq!(host_of("example.org"), "example.org");
    }
}
