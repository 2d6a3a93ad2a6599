//! Where a client connects, and as whom.

use std::time::Duration;

/// Where to connect and as whom.
#[derive(Clone)]
pub struct ClientConfig {
    /// `host:port`, `http://host:port` or `https://host:port` (TLS) of
    /// chatd's native protocol; or several, comma separated, tried in
    /// order, the next taken when the one in use fails (nodes of a
    /// cluster).
    pub server: String,
    pub name: String,
    /// The account's password; empty to log in as a guest.
    pub password: String,
    /// Create the account (with `password`) instead of logging in to it.
    pub register: bool,
    /// Speak TLS to a `server` given without a scheme.
    pub tls: bool,
    /// PEM certificates to trust besides the system's roots (a server's
    /// self-signed certificate, or its CA).
    pub ca_cert: Option<Vec<u8>>,
    /// A session token from an earlier run, tried before logging in.
    pub token: Option<String>,
    /// Rooms to be in from the start.
    pub rooms: Vec<String>,
    /// First and longest wait between reconnection attempts.
    pub backoff: (Duration, Duration),
}

impl ClientConfig {
    pub fn new(server: impl Into<String>, name: impl Into<String>) -> Self {
        ClientConfig {
            server: server.into(),
            name: name.into(),
            password: String::new(),
            register: false,
            tls: false,
            ca_cert: None,
            token: None,
            rooms: Vec::new(),
            backoff: (Duration::from_millis(200), Duration::from_secs(5)),
        }
    }

    /// The servers to use, in order: `server` may name several, comma
    /// separated (nodes of a cluster).
    pub(crate) fn urls(&self) -> Vec<String> {
        self.server
            .split(',')
            .map(str::trim)
            .filter(|server| !server.is_empty())
            .map(|server| {
                if server.contains("://") {
                    server.to_owned()
                } else if self.tls {
                    format!("https://{server}")
                } else {
                    format!("http://{server}")
                }
            })
            .collect()
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No password or token in logs.
        f.debug_struct("ClientConfig")
            .field("server", &self.server)
            .field("name", &self.name)
            .field("register", &self.register)
            .field("tls", &self.tls)
            .field("rooms", &self.rooms)
            .finish_non_exhaustive()
    }
}
