//! Scraping a `chatd`'s Prometheus metrics over HTTP, as Prometheus does.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every series of a `/metrics` scrape: `name{labels}` to its value.
pub struct Scrape(pub HashMap<String, f64>);

impl Scrape {
    pub async fn of(addr: SocketAddr) -> Self {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: chatd\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        tcp.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/openmetrics-text"),
            "{head}"
        );
        let series = body
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("series and value");
                (series.to_owned(), value.parse().expect("a number"))
            })
            .collect();
        Scrape(series)
    }

    /// The value of `series`, 0 if the scrape has none (a labelled counter
    /// not yet counted).
    pub fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    pub fn has(&self, series: &str) -> bool {
        self.0.contains_key(series)
    }
}
