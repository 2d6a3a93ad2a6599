//! `chat` full screen on a real pseudo-terminal, against a real chatd: the
//! terminal is given back (the alternate screen left) on every way out,
//! the signals a terminal's end sends included.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_client::{Client, ClientConfig};
use chat_testkit::{PATIENCE, TestServer, wait_until};
use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

/// `chat` running on a pseudo-terminal of 80x24, its output collected.
struct FullScreen {
    child: Box<dyn Child + Send + Sync>,
    output: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    // Kept open: the terminal's end goes with it.
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl FullScreen {
    fn start(server: &TestServer, name: &str) -> Self {
        Self::start_with(server, name, &[])
    }

    fn start_with(server: &TestServer, name: &str, flags: &[&str]) -> Self {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_chat"));
        let server = server.addrs.native.to_string();
        command.args(["--server", &server, "--name", name]);
        command.args(flags);
        command.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(command).expect("chat starts");
        drop(pty.slave);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let collected = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buffer) {
                collected.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        let writer = pty.master.take_writer().unwrap();
        FullScreen {
            child,
            output,
            writer,
            master: pty.master,
        }
    }

    /// Waits for `prompt`, and for the terminal to stop echoing: typed
    /// before that, a password would show.
    async fn wait_for_secret(&self, prompt: &str) {
        self.wait_for(prompt).await;
        wait_until(
            || {
                let termios = self.master.get_termios();
                termios
                    .is_some_and(|t| !t.local_flags.contains(nix::sys::termios::LocalFlags::ECHO))
            },
            || format!("the terminal still echoes after {prompt:?}"),
        )
        .await;
    }

    /// Types `text` at the terminal.
    fn type_in(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    async fn wait_for(&self, wanted: &str) {
        wait_until(
            || self.output().contains(wanted),
            || format!("{wanted:?} never shown: {:?}", self.output()),
        )
        .await;
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.process_id().expect("a process id");
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for `chat` to exit; its success, and everything it wrote.
    async fn finish(mut self) -> (bool, String) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(tokio::time::Instant::now() < deadline, "chat did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // What was written last may still be on its way through the pty.
        tokio::time::sleep(Duration::from_millis(200)).await;
        (status.success(), self.output())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sighup_give_the_terminal_back_and_free_a_guests_name() {
    let server = TestServer::start(&["--presence-grace", "30s"]).await;
    for signal in ["TERM", "HUP"] {
        let chat = FullScreen::start(&server, "ann");
        chat.wait_for("online").await;
        chat.signal(signal);
        let (success, output) = chat.finish().await;
        assert!(success, "SIG{signal}: chat failed: {output:?}");
        let entered = output
            .rfind("\x1b[?1049h")
            .expect("the alternate screen was entered");
        assert!(
            output[entered..].contains("\x1b[?1049l"),
            "SIG{signal} left the terminal in the alternate screen"
        );
        // Leaving logged the guest out: the name is free at once, not
        // after the 30 s grace.
        let (client, _events) =
            Client::connect(ClientConfig::new(server.addrs.native.to_string(), "ann"))
                .await
                .unwrap_or_else(|error| panic!("after SIG{signal}: {error}"));
        client.quit().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_asks_the_password_twice_and_refuses_two_that_differ() {
    let server = TestServer::start(&[]).await;
    let mut chat = FullScreen::start_with(&server, "dana", &["--plain", "--register"]);
    chat.wait_for_secret("password for dana: ").await;
    chat.type_in("correct horse\r");
    chat.wait_for_secret("the same password again: ").await;
    chat.type_in("correct hoarse\r");
    let (success, output) = chat.finish().await;
    assert!(!success, "{output}");
    assert!(
        output.contains("chat: the two passwords differ; nothing was registered, try again"),
        "{output}"
    );

    let mut chat = FullScreen::start_with(&server, "dana", &["--plain", "--register"]);
    chat.wait_for_secret("password for dana: ").await;
    chat.type_in("correct horse\r");
    chat.wait_for_secret("the same password again: ").await;
    chat.type_in("correct horse\r");
    chat.wait_for("* in #general").await;
    chat.type_in("/quit\r");
    let (success, output) = chat.finish().await;
    assert!(success, "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_changes_its_password_and_deletes_itself() {
    let server = TestServer::start(&[]).await;
    let addr = server.addrs.native.to_string();
    let login = |password: &str| {
        let config = ClientConfig {
            password: password.into(),
            ..ClientConfig::new(addr.clone(), "erin")
        };
        async move { Client::connect(config).await.map(|(client, _)| client) }
    };
    let mut chat = FullScreen::start_with(&server, "erin", &["--plain", "--register"]);
    chat.wait_for_secret("password for erin: ").await;
    chat.type_in("first password\r");
    chat.wait_for_secret("again: ").await;
    chat.type_in("first password\r");
    chat.wait_for("* in #general").await;

    chat.type_in("/password\r");
    chat.wait_for_secret("current password: ").await;
    chat.type_in("first password\r");
    chat.wait_for_secret("new password: ").await;
    chat.type_in("second password\r");
    chat.wait_for_secret("new password again: ").await;
    chat.type_in("second password\r");
    chat.wait_for("* password changed").await;
    assert!(
        login("first password").await.is_err(),
        "the old one is refused"
    );
    login("second password")
        .await
        .expect("the new one logs in")
        .quit()
        .await;

    chat.type_in("/deleteaccount\r");
    chat.wait_for_secret("delete your account for good: ").await;
    chat.type_in("second password\r");
    let (success, output) = chat.finish().await;
    assert!(success, "{output}");
    assert!(output.contains("* account deleted"), "{output}");
    assert!(
        !output.contains("second password"),
        "never echoed: {output}"
    );
    // The name is free: a guest may take it.
    login("").await.expect("erin is free").quit().await;
}
