//! A NATS server of a test's own, from Debian's `nats-server` package, on
//! a free loopback port; stopped when dropped.

use std::process::{Child, Command, Stdio};

use crate::{free_port, wait_until_listening};

pub struct Nats {
    server: Option<Child>,
    port: u16,
}

impl Nats {
    /// Starts the server; waits until it takes connections.
    pub async fn start() -> Self {
        let mut nats = Nats {
            server: None,
            port: free_port(),
        };
        nats.start_server().await;
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's process id, to watch its CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// Stops the server abruptly (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }

    /// Starts it again after [`kill`](Self::kill), on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.start_server().await;
    }

    async fn start_server(&mut self) {
        let program =
            std::env::var("CHAT_TEST_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let server = Command::new(program)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts (is Debian's nats-server installed?)");
        self.server = Some(server);
        assert!(
            wait_until_listening(self.port).await,
            "nats-server did not start"
        );
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}
