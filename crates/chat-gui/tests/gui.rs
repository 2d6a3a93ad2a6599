//! The desktop client headless, with egui_kittest (no display, no GPU),
//! against a real chatd on loopback: logging in, sending on Enter,
//! switching rooms, an unreachable server and a taken name, accounts and
//! TLS.

use std::time::{Duration, Instant};

use chat_client::cli::ConnectArgs;
use chat_client::rooms::Entry;
use chat_gui::ChatGui;
use chat_gui::state::{ChatView, LoginForm, Screen};
use chat_testkit::{PATIENCE, TestServer};
use clap::Parser;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

/// A chatd on a runtime of its own, which the window's own runtime talks to.
struct Server {
    server: Option<TestServer>,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = runtime.block_on(TestServer::start(&[]));
        Server::new(runtime, server)
    }

    /// A chatd serving TLS with a certificate written to `dir`; returns the
    /// certificate's path too.
    fn start_tls(dir: &std::path::Path) -> (Self, std::path::PathBuf) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (server, cert) = runtime.block_on(chat_testkit::tls_server(dir, &[]));
        (Server::new(runtime, server), cert)
    }

    fn new(runtime: tokio::runtime::Runtime, server: TestServer) -> Self {
        Server {
            server: Some(server),
            runtime,
        }
    }

    fn addr(&self) -> String {
        self.server.as_ref().unwrap().addrs.native.to_string()
    }

    /// Posts `note 1` to `note n` to `general` as `bob`.
    fn post_notes(&self, n: usize) {
        for i in 1..=n {
            self.post("general", &format!("note {i}"));
        }
    }

    /// Posts `text` to `room` as `bob`.
    fn post(&self, room: &str, text: &str) {
        // A new room starts its tasks on the server's runtime.
        let _runtime = self.runtime.enter();
        let room = self.server.as_ref().unwrap().engine.room(room);
        let draft = chat_engine::Draft {
            sender: "bob".into(),
            origin: chat_engine::Origin::Native,
            text: text.into(),
            client_id: None,
            reply_to: None,
            attachments: Vec::new(),
        };
        self.runtime.block_on(room.post(draft)).unwrap();
    }

    /// Room `room` as account `name` (password `correct horse`) lists it
    /// from a session of its own.
    fn listed(&self, name: &str, room: &str) -> chat_client::RoomInfo {
        let args = Flags::parse_from(["chat-gui", "--server", &self.addr()]).connect;
        self.runtime.block_on(async {
            let (client, _events) = args
                .log_in(name.into(), "correct horse".into())
                .await
                .unwrap();
            let rooms = client.list_rooms().await.unwrap();
            rooms.into_iter().find(|r| r.name == room).unwrap()
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
        drop(self.server.take());
    }
}

fn window(server: &str, name: &str) -> Harness<'static, ChatGui> {
    let args = Flags::parse_from(["chat-gui", "--server", server]).connect;
    let form = LoginForm::new(&args, name.to_owned());
    Harness::builder()
        .with_size([900.0, 600.0])
        .build_eframe(move |cc| ChatGui::new(&cc.egui_ctx, form))
}

/// Types `text` into the field labelled `label`.
fn fill(harness: &mut Harness<'_, ChatGui>, label: &str, text: &str) {
    harness.get_by_label(label).focus();
    harness.step();
    harness.get_by_label(label).type_text(text);
    harness.step();
}

/// Waits for the first screen to show the error of the attempt just
/// made, and returns it.
fn login_error(harness: &mut Harness<'_, ChatGui>) -> String {
    // Carry out the click or key that started the attempt.
    harness.step();
    run_until(harness, "an error on the first screen", |app| {
        match &app.state.screen {
            Screen::Login(form) => !form.connecting && form.error.is_some(),
            Screen::Chat(_) => panic!("logged in, expecting an error"),
        }
    });
    match &harness.state().state.screen {
        Screen::Login(form) => form.error.clone().unwrap(),
        Screen::Chat(_) => unreachable!(),
    }
}

/// Runs frames until `done` holds, failing after [`PATIENCE`].
fn run_until(harness: &mut Harness<'_, ChatGui>, what: &str, done: impl Fn(&ChatGui) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.step();
}

fn chat(app: &ChatGui) -> Option<&ChatView> {
    match &app.state.screen {
        Screen::Chat(view) => Some(view),
        Screen::Login(_) => None,
    }
}

fn texts(app: &ChatGui) -> Vec<String> {
    chat(app)
        .and_then(|view| view.rooms.current_log())
        .map(|log| {
            log.entries
                .values()
                .filter_map(|entry| match entry {
                    Entry::Message(m) => Some(format!("{}: {}", m.sender, m.text)),
                    Entry::Notice(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Logs in from the first screen and waits for the chat window.
fn log_in(harness: &mut Harness<'_, ChatGui>) {
    harness.get_by_label("Connect").click();
    run_until(harness, "the chat window", |app| {
        chat(app).is_some_and(|view| view.rooms.current.as_deref() == Some("general"))
    });
}

fn send(harness: &mut Harness<'_, ChatGui>, text: &str) {
    harness.get_by_label("to #general").focus();
    harness.step();
    harness.get_by_label("to #general").type_text(text);
    harness.key_press(egui::Key::Enter);
    harness.step();
}

#[test]
fn logging_in_shows_the_room_and_its_members() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "지민");
    assert!(harness.query_by_label("Server").is_some());
    assert_eq!(
        harness.get_by_label("Name").value().as_deref(),
        Some("지민")
    );
    log_in(&mut harness);
    run_until(&mut harness, "online", |app| {
        chat(app).is_some_and(|view| view.connection == chat_client::Connection::Online)
    });
    harness.get_by_label("Rooms");
    harness.get_by_label("#general");
    harness.get_by_label("Members");
    harness.get_by_label("● online");
    let members = chat(harness.state())
        .unwrap()
        .rooms
        .current_log()
        .unwrap()
        .members
        .clone();
    assert_eq!(members.keys().collect::<Vec<_>>(), ["지민"]);
}

#[test]
fn enter_sends_and_keeps_the_focus_in_the_input() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "ann");
    log_in(&mut harness);
    send(&mut harness, "hello from the window");
    run_until(&mut harness, "the message back from the server", |app| {
        texts(app) == ["ann: hello from the window"]
    });
    harness.get_by_label("hello from the window");
    let field = harness.get_by_label("to #general");
    assert!(field.is_focused(), "the input lost focus after sending");
    assert_eq!(field.value().as_deref(), Some(""));
    // A second line needs no click.
    harness.get_by_label("to #general").type_text("and another");
    harness.key_press(egui::Key::Enter);
    run_until(&mut harness, "the second message", |app| {
        texts(app).len() == 2
    });
}

/// Registers the form's name with a password, and waits for the chat
/// window. (Only accounts create rooms.)
fn register(harness: &mut Harness<'_, ChatGui>) {
    fill(harness, "Password", "correct horse");
    harness.get_by_label("Register").click();
    run_until(harness, "the chat window", |app| {
        chat(app).is_some_and(|view| view.rooms.current.as_deref() == Some("general"))
    });
}

/// Creates room `name` from the side panel, and waits until it is shown.
fn create_room(harness: &mut Harness<'_, ChatGui>, name: &str) {
    harness.get_by_label("Room name").focus();
    harness.step();
    harness.get_by_label("Room name").type_text(name);
    harness.step();
    harness.get_by_label("Create").click();
    run_until(harness, "the new room", |app| {
        chat(app).is_some_and(|view| view.rooms.current.as_deref() == Some(name))
    });
}

#[test]
fn rooms_are_created_joined_and_switched() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "ann");
    register(&mut harness);
    send(&mut harness, "in general");
    run_until(&mut harness, "the message", |app| texts(app).len() == 1);

    create_room(&mut harness, "dev");
    assert!(texts(harness.state()).is_empty());

    harness.get_by_label("#general").click();
    run_until(&mut harness, "back in general", |app| {
        chat(app).is_some_and(|view| view.rooms.current.as_deref() == Some("general"))
    });
    assert_eq!(texts(harness.state()), ["ann: in general"]);

    harness.get_by_label("Leave #general").click();
    run_until(&mut harness, "general left", |app| {
        chat(app).is_some_and(|view| !view.rooms.logs.contains_key("general"))
    });
    assert_eq!(
        chat(harness.state()).unwrap().rooms.current.as_deref(),
        Some("dev")
    );
}

#[test]
fn an_unreachable_server_is_explained_on_the_first_screen() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut harness = window(&closed.to_string(), "ann");
    harness.get_by_label("Connect").click();
    run_until(&mut harness, "the error", |app| match &app.state.screen {
        Screen::Login(form) => form.error.is_some(),
        Screen::Chat(_) => panic!("connected to a closed port"),
    });
    let error = format!("nothing answers at {closed} (connection refused)");
    assert!(
        harness.query_by_label_contains(&error).is_some(),
        "no error shown"
    );
    // The form is usable again to fix the address.
    assert!(harness.query_by_label("Connect").is_some());
}

#[test]
fn a_taken_name_is_explained_on_the_first_screen() {
    let server = Server::start();
    let mut first = window(&server.addr(), "ann");
    log_in(&mut first);
    let mut second = window(&server.addr(), "ann");
    second.get_by_label("Connect").click();
    run_until(&mut second, "the error", |app| match &app.state.screen {
        Screen::Login(form) => form.error.is_some(),
        Screen::Chat(_) => panic!("logged in under a taken name"),
    });
    second.get_by_label("the name `ann` is in use by a user who is logged in, or was a moment ago (a name is kept about 10 s for its user to come back); choose another, or try again shortly");
}

#[test]
fn thousands_of_messages_are_drawn_a_window_at_a_time() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "ann");
    log_in(&mut harness);
    server.post_notes(3000);
    run_until(&mut harness, "3000 messages", |app| {
        texts(app).len() == 3000
    });
    // Only the newest 200 are laid out each frame.
    assert_eq!(harness.query_all_by_label_contains("note ").count(), 200);
    assert!(harness.query_by_label("note 3000").is_some());
    assert!(harness.query_by_label("note 2800").is_none());
    // Scrolling to the top draws 200 more, once; the button 200 more again.
    harness.get_by_label("Show older messages").scroll_to_me();
    harness.run_steps(3);
    assert_eq!(harness.query_all_by_label_contains("note ").count(), 400);
    assert!(harness.query_by_label("note 2601").is_some());
    harness.get_by_label("Show older messages").click();
    harness.run_steps(3);
    assert_eq!(harness.query_all_by_label_contains("note ").count(), 600);
}

#[test]
fn scrolling_up_loads_older_history_from_the_server() {
    let server = Server::start();
    server.post_notes(120);
    let mut harness = window(&server.addr(), "ann");
    log_in(&mut harness);
    // Joining loads the newest page.
    run_until(&mut harness, "the newest page", |app| {
        texts(app).len() == 50
    });
    assert_eq!(texts(harness.state())[0], "bob: note 71");
    // Scrolling up to the top asks the server for the page before.
    harness.get_by_label("Show older messages").scroll_to_me();
    run_until(&mut harness, "the page before", |app| {
        texts(app).len() == 100
    });
    assert_eq!(texts(harness.state())[0], "bob: note 21");
}

/// `ConnectArgs` as a command line, for building the first screen.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    connect: ConnectArgs,
}

#[test]
fn a_name_is_registered_and_then_needs_its_password() {
    let server = Server::start();
    let mut owner = window(&server.addr(), "ann");
    // Registering needs a password; the field does not show it.
    owner.get_by_label("Register").click();
    owner.run_steps(2);
    assert!(
        matches!(&owner.state().state.screen, Screen::Login(form) if !form.connecting),
        "registering without a password"
    );
    fill(&mut owner, "Password", "correct horse");
    let field = owner.get_by_label("Password");
    assert_ne!(field.value().as_deref(), Some("correct horse"));
    owner.get_by_label("Register").click();
    run_until(&mut owner, "the chat window", |app| chat(app).is_some());
    drop(owner);

    // A guest cannot take the registered name.
    let mut guest = window(&server.addr(), "ann");
    guest.get_by_label("Connect").click();
    let error = login_error(&mut guest);
    assert!(error.contains("registered"), "{error}");

    // A wrong password is refused without saying which part was wrong.
    fill(&mut guest, "Password", "wrong horse");
    guest.get_by_label("Connect").click();
    assert_eq!(login_error(&mut guest), "wrong name or password");

    // The right one logs in to the account.
    let mut again = window(&server.addr(), "ann");
    fill(&mut again, "Password", "correct horse");
    again.key_press(egui::Key::Enter);
    run_until(&mut again, "the chat window", |app| chat(app).is_some());
}

#[test]
fn tls_needs_the_certificate_trusted_and_then_connects() {
    let dir = tempfile::tempdir().unwrap();
    let (server, cert) = Server::start_tls(dir.path());
    let port = server.server.as_ref().unwrap().addrs.native.port();
    let url = format!("https://localhost:{port}");

    let mut harness = window(&url, "ann");
    harness.get_by_label("Connect").click();
    let error = login_error(&mut harness);
    assert!(error.contains("certificate is not trusted"), "{error}");

    fill(&mut harness, "CA certificate", cert.to_str().unwrap());
    log_in(&mut harness);
    send(&mut harness, "over TLS");
    run_until(&mut harness, "the message back", |app| {
        texts(app) == ["ann: over TLS"]
    });
}

#[test]
fn an_owner_moderates_from_the_room_header_and_the_member_menu() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "ann");
    register(&mut harness);
    fill(&mut harness, "Room name", "ops");
    harness.get_by_label("private").click();
    harness.step();
    harness.get_by_label("Create").click();
    run_until(&mut harness, "the private room", |app| {
        chat(app).is_some_and(|view| view.rooms.current.as_deref() == Some("ops"))
    });
    harness.get_by_label("🔒ops");
    let engine = server.server.as_ref().unwrap().engine.clone();
    let room = engine.find_room("ops").unwrap();
    assert!(room.is_private());

    // The header: a topic, and an invitation for bob, an account.
    let mut config = chat_client::ClientConfig::new(server.addr(), "bob");
    config.password = "bob's password".into();
    config.register = true;
    let (bob, _bob_events) = server
        .runtime
        .block_on(chat_client::Client::connect(config))
        .unwrap();
    fill(&mut harness, "Topic", "on call this week");
    harness.get_by_label("Set topic").click();
    fill(&mut harness, "Invite who", "bob");
    harness.get_by_label("Invite").click();
    run_until(&mut harness, "the topic and the invitation", |app| {
        chat(app)
            .and_then(|view| view.rooms.current_log())
            .is_some_and(|log| {
                log.details.topic == "on call this week"
                    && log
                        .entries
                        .values()
                        .any(|e| *e == Entry::Notice("* ann invited bob".into()))
            })
    });
    harness.get_by_label("on call this week");
    assert!(room.access().is_invited("bob"));

    // bob joins; his menu mutes him, then kicks him.
    server.runtime.block_on(bob.join_room("ops")).unwrap();
    run_until(&mut harness, "bob in the member list", |app| {
        chat(app)
            .and_then(|view| view.rooms.current_log())
            .is_some_and(|log| log.members.contains_key("bob"))
    });
    harness.get_by_label("bob").click_secondary();
    harness.run_steps(3);
    harness.get_by_label("Mute").click();
    run_until(&mut harness, "bob muted", |_| room.access().is_muted("bob"));
    harness.get_by_label("bob (muted)");
    harness.get_by_label("bob (muted)").click_secondary();
    harness.run_steps(3);
    harness.get_by_label("Kick").click();
    run_until(&mut harness, "bob kicked", |_| !room.is_member("bob"));
    assert!(harness.query_by_label("bob (muted)").is_none());
}

#[test]
fn the_first_empty_field_has_the_keyboard_and_connect_says_why_it_waits() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "");
    harness.run_steps(2);
    assert!(harness.get_by_label("Name").is_focused(), "the name field");
    harness.get_by_label("Enter a name to connect.");
    harness.get_by_label("Name").type_text("ann");
    harness.run_steps(2);
    assert!(harness.query_by_label("Enter a name to connect.").is_none());
    log_in(&mut harness);
    harness.run_steps(2);
    assert!(
        harness.get_by_label("to #general").is_focused(),
        "the message line has the keyboard after logging in"
    );
}

#[test]
fn an_account_changes_its_password_and_deletes_itself_from_its_window() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "dora");
    fill(&mut harness, "Password", "first password");
    harness.get_by_label("Register").click();
    run_until(&mut harness, "the chat window", |app| chat(app).is_some());
    open_account(&mut harness, "Current password");
    fill(&mut harness, "Current password", "first password");
    fill(&mut harness, "New password", "second password");
    fill(&mut harness, "New password again", "second pasword");
    harness.get_by_label("The new password and its repetition differ.");
    harness.get_by_label("New password again").focus();
    harness.step();
    for _ in 0.."second pasword".len() {
        harness.key_press(egui::Key::Backspace);
    }
    harness.step();
    harness
        .get_by_label("New password again")
        .type_text("second password");
    harness.run_steps(2);
    harness.get_by_label("Change password").click();
    run_until(&mut harness, "the password changed", |app| {
        chat(app).is_some_and(|view| {
            view.status
                .as_ref()
                .is_some_and(|(text, _)| text.starts_with("Password changed"))
        })
    });

    harness.get_by_label("Account…").click();
    harness.run_steps(2);
    fill(
        &mut harness,
        "Password, to delete it for good",
        "second password",
    );
    harness.get_by_label("Delete account").click();
    run_until(&mut harness, "the first screen again", |app| {
        matches!(&app.state.screen, Screen::Login(form)
            if form.error.as_deref() == Some("The account dora is deleted."))
    });
    // The name is free: a guest takes it.
    harness.get_by_label("Connect").click();
    run_until(&mut harness, "the guest's chat window", |app| {
        chat(app).is_some()
    });
}

/// Opens the account window and waits until its field `label` is drawn
/// (a new window takes a frame to size itself).
fn open_account(harness: &mut Harness<'_, ChatGui>, label: &str) {
    let deadline = Instant::now() + PATIENCE;
    while harness.query_by_label(label).is_none() {
        assert!(
            Instant::now() < deadline,
            "no {label:?} in the account window"
        );
        // A click in the frame where the status line changes can miss
        // the button: click again until the window is open.
        if chat(harness.state()).is_some_and(|view| view.account.is_none()) {
            harness.get_by_label("Account…").click();
        }
        harness.run_steps(2);
    }
}

#[test]
fn a_message_is_answered_from_its_context_menu_and_the_reply_quotes_it() {
    let server = Server::start();
    server.post_notes(1);
    let mut harness = window(&server.addr(), "ann");
    log_in(&mut harness);
    run_until(&mut harness, "bob's note", |app| {
        texts(app) == ["bob: note 1"]
    });
    harness.get_by_label("note 1").click_secondary();
    harness.run_steps(2);
    harness.get_by_label("Reply").click();
    harness.run_steps(2);
    harness.get_by_label("↪ replying to bob: note 1");
    harness.get_by_label("to #general").type_text("agreed");
    harness.key_press(egui::Key::Enter);
    run_until(&mut harness, "the reply back", |app| texts(app).len() == 2);
    let reply = chat(harness.state())
        .and_then(|view| view.rooms.current_log())
        .and_then(|log| {
            log.entries.values().rev().find_map(|entry| match entry {
                Entry::Message(message) => Some(message.reply_to),
                Entry::Notice(_) => None,
            })
        });
    assert_eq!(reply, Some(Some(1)), "sent as a reply to note 1");
    harness.get_by_label("    ↪ bob: note 1");
    assert!(
        harness
            .query_by_label("↪ replying to bob: note 1")
            .is_none(),
        "one reply per pick"
    );
}

#[test]
fn markdown_is_shown_without_its_marks() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "ann");
    log_in(&mut harness);
    send(&mut harness, "**ship it** with `cargo test`");
    run_until(&mut harness, "the message back", |app| {
        texts(app).len() == 1
    });
    harness.get_by_label("ship it with cargo test");
    assert!(harness.query_by_label_contains("**").is_none());
}

/// The one message of the current room, as the window holds it.
fn only_message(app: &ChatGui) -> Option<chat_client::ChatMessage> {
    chat(app)?
        .rooms
        .current_log()?
        .entries
        .values()
        .find_map(|entry| match entry {
            Entry::Message(message) => Some((**message).clone()),
            Entry::Notice(_) => None,
        })
}

#[test]
fn a_message_is_edited_reacted_to_and_deleted_from_its_menu() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "ann");
    log_in(&mut harness);
    send(&mut harness, "helo");
    run_until(&mut harness, "the message back", |app| {
        texts(app) == ["ann: helo"]
    });

    harness.get_by_label("helo").click_secondary();
    harness.run_steps(2);
    harness.get_by_label("Edit").click();
    harness.run_steps(2);
    harness.get_by_label("Editing your message · Enter saves");
    harness
        .get_by_label("to #general")
        .type_text(", world :tada:");
    harness.key_press(egui::Key::Enter);
    run_until(&mut harness, "the edit back", |app| {
        texts(app) == ["ann: helo, world 🎉"]
    });
    assert!(only_message(harness.state()).unwrap().edited_at.is_some());
    harness.get_by_label("(edited)");

    harness.get_by_label("helo, world 🎉").click_secondary();
    harness.run_steps(2);
    harness.get_by_label("React").click();
    harness.run_steps(2);
    harness.get_by_label("👀").click();
    run_until(&mut harness, "the reaction back", |app| {
        only_message(app).is_some_and(|m| m.reactions.len() == 1)
    });
    // Clicking one's own reaction takes it back.
    harness.get_by_label("👀 1").click();
    run_until(&mut harness, "the reaction gone", |app| {
        only_message(app).is_some_and(|m| m.reactions.is_empty())
    });

    harness.get_by_label("helo, world 🎉").click_secondary();
    harness.run_steps(2);
    harness.get_by_label("Delete…").click();
    harness.run_steps(2);
    harness.get_by_label("Delete for everyone").click();
    run_until(&mut harness, "the tombstone", |app| {
        only_message(app).is_some_and(|m| m.deleted)
    });
    harness.get_by_label("message deleted");
}

#[test]
fn badges_a_line_at_the_marker_and_the_rooms_level_from_its_header() {
    let server = Server::start();
    let mut harness = window(&server.addr(), "ann");
    register(&mut harness);
    create_room(&mut harness, "dev");
    harness.get_by_label("#general").click();
    harness.step();
    server.post("dev", "anyone there?");
    server.post("dev", "@ann the build is red");
    run_until(&mut harness, "the badges", |app| {
        chat(app).is_some_and(|view| {
            let log = &view.rooms.logs["dev"];
            (log.unread, log.mentions) == (2, 1)
        })
    });

    harness.get_by_label("#dev (2) @1").click();
    run_until(&mut harness, "dev in view", |app| {
        chat(app).is_some_and(|view| view.rooms.current.as_deref() == Some("dev"))
    });
    harness.get_by_label("new messages");
    harness.get_by_label("#dev");
    // Read in the window, so read on the server.
    run_until(&mut harness, "the marker told", |app| {
        chat(app).is_some_and(|view| view.rooms.logs["dev"].read_seq == 2)
    });
    let listed = server.listed("ann", "dev");
    assert_eq!((listed.read_seq, listed.unread_count), (2, 0));

    assert_eq!(
        harness.get_by_label("Notify").value().as_deref(),
        Some("every message")
    );
    harness.get_by_label("Notify").click();
    harness.run_steps(2);
    harness.get_by_label("nothing").click();
    run_until(&mut harness, "the level set", |app| {
        chat(app).is_some_and(|view| {
            view.rooms.logs["dev"].details.notify == chat_client::NotifyLevel::None
        })
    });
    let deadline = Instant::now() + PATIENCE;
    while server.listed("ann", "dev").notify != chat_client::NotifyLevel::None {
        assert!(Instant::now() < deadline, "the server never heard of it");
        harness.step();
    }
}

#[test]
fn a_window_not_looked_at_tells_of_mentions_and_of_what_the_level_says() {
    use chat_gui::backend::Update;
    use chat_gui::state::{Alert, State};
    let args = Flags::parse_from(["chat-gui", "--server", "127.0.0.1:1"]).connect;
    let mut state = State::new(LoginForm::new(&args, "ann".into()));
    state.apply(Update::Connected {
        name: "ann".into(),
        is_account: true,
        files_base: "http://127.0.0.1:1".into(),
    });
    let joined = |room: &str, direct: bool, notify| {
        Update::Event(chat_client::ClientEvent::RoomJoined {
            room: room.into(),
            members: Vec::new(),
            last_seq: 0,
            details: chat_client::RoomInfo {
                name: room.into(),
                direct,
                peer: "bob".into(),
                notify,
                ..Default::default()
            },
        })
    };
    use chat_client::NotifyLevel::{All, Mentions, None as Nothing};
    state.apply(joined("general", false, Mentions));
    state.apply(joined("quiet", false, Nothing));
    state.apply(joined("dm", true, All));
    let said = |room: &str, seq, text: &str, mentions: &[&str]| {
        Update::Event(chat_client::ClientEvent::Message(
            chat_client::ChatMessage {
                origin: chat_client::Origin::Native,
                room: room.into(),
                seq,
                sender: "bob".into(),
                text: text.into(),
                sent_at: std::time::UNIX_EPOCH,
                reply_to: None,
                edited_at: None,
                deleted: false,
                deleted_by: None,
                reactions: Vec::new(),
                mentions: mentions.iter().map(|n| (*n).to_owned()).collect(),
                mentions_room: false,
                files: Vec::new(),
            },
        ))
    };
    let Screen::Chat(view) = &mut state.screen else {
        panic!("not chatting");
    };
    view.focused = false;
    state.apply(said("general", 1, "lunch?", &[]));
    state.apply(said("general", 2, "@ann lunch?", &["ann"]));
    state.apply(said("quiet", 1, "@ann here too", &["ann"]));
    state.apply(said("dm", 1, "hi", &[]));
    let Screen::Chat(view) = &mut state.screen else {
        panic!("not chatting");
    };
    let alerts = std::mem::take(&mut view.alerts);
    let expected = [
        Alert {
            title: "bob in #general".into(),
            body: "@ann lunch?".into(),
            mention: true,
        },
        Alert {
            title: "bob".into(),
            body: "hi".into(),
            mention: false,
        },
    ];
    assert_eq!(alerts, expected);
    // A burst while the window is not drawn keeps its newest few.
    for n in 0..8 {
        state.apply(said("dm", 10 + n, &format!("burst {n}"), &[]));
    }
    let Screen::Chat(view) = &mut state.screen else {
        panic!("not chatting");
    };
    let burst = std::mem::take(&mut view.alerts);
    assert_eq!(burst.len(), 5, "{burst:?}");
    assert_eq!(burst[4].body, "burst 7");
    // Looked at, the window tells of nothing.
    view.focused = true;
    state.apply(said("dm", 2, "still there?", &[]));
    let Screen::Chat(view) = &state.screen else {
        panic!("not chatting");
    };
    assert!(view.alerts.is_empty());
}

/// The search window's results, once a page has come.
fn hits(app: &ChatGui) -> Option<Vec<String>> {
    let panel = &chat(app)?.search;
    let (_, _, page) = panel.found.as_ref().filter(|_| !panel.searching)?;
    Some(
        page.hits
            .iter()
            .map(|h| format!("{}/{}", h.room, h.seq))
            .collect(),
    )
}

#[test]
fn a_search_hit_opens_its_room_at_the_message_even_far_back_or_not_joined() {
    let server = Server::start();
    server.post("general", "the meeting point is 서울역 exit 2");
    server.post_notes(120);
    server.post("dev", "서울 build is green");
    let mut harness = window(&server.addr(), "ann");
    log_in(&mut harness);
    run_until(&mut harness, "the newest page", |app| {
        texts(app).len() == 50
    });

    // Ctrl+F opens the window with the keyboard in its field; two
    // characters inside a Korean word are found, in both rooms.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    harness.run_steps(2);
    harness.get_by_label("Find").type_text("서울");
    harness.key_press(egui::Key::Enter);
    run_until(&mut harness, "the hits", |app| hits(app).is_some());
    assert_eq!(
        hits(harness.state()).unwrap(),
        ["dev/1", "general/1"],
        "newest first"
    );
    let row = harness.get_by_label_contains("#general · bob");
    assert!(
        (row.accesskit_node().label())
            .is_some_and(|l| l.contains("the meeting point is 서울역 exit 2")),
        "{:?}",
        row.accesskit_node().label()
    );

    // The hit far back: its page is loaded, the message drawn and marked.
    row.click();
    run_until(&mut harness, "the message far back", |app| {
        texts(app).contains(&"bob: the meeting point is 서울역 exit 2".to_owned())
    });
    harness.run_steps(2);
    let view = chat(harness.state()).unwrap();
    assert!(!view.search.open);
    assert_eq!(view.focus, Some(("general".to_owned(), 1)));
    assert!(!view.scroll_to_focus, "scrolled to it");
    assert!(
        harness
            .query_by_label_contains("the meeting point")
            .is_some()
    );

    // Opened again, it shows what it found; a hit in a room the user is
    // not in joins it, then shows the message.
    harness.get_by_label("🔍 Search").click();
    harness.run_steps(2);
    assert_eq!(
        harness.get_by_label("Find").value().as_deref(),
        Some("서울")
    );
    harness.get_by_label_contains("#dev · bob").click();
    run_until(&mut harness, "the room joined, at the message", |app| {
        chat(app).is_some_and(|view| {
            view.rooms.current.as_deref() == Some("dev")
                && view.focus == Some(("dev".to_owned(), 1))
        })
    });
}

/// A file dropped on the window, as the system hands it over.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn files_dropped_on_the_window_are_sent_and_images_shown_as_thumbnails() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("sunset.png");
    image::RgbImage::from_pixel(640, 320, image::Rgb([240, 120, 40]))
        .save(&photo)
        .unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "bring the map").unwrap();
    let mut harness = window(&server.addr(), "ann");
    register(&mut harness);

    for path in [&photo, &notes] {
        let dropped: egui::DroppedFileHandle = std::sync::Arc::new(Dropped(path.clone()));
        harness.input_mut().dropped_files.push(dropped);
        harness.step();
        // One at a time, so they come in order.
        let sent = texts(harness.state()).len() + 1;
        run_until(&mut harness, "the file's message", |app| {
            texts(app).len() == sent
        });
    }
    let files: Vec<_> = chat(harness.state())
        .unwrap()
        .rooms
        .current_log()
        .unwrap()
        .entries
        .values()
        .filter_map(|entry| match entry {
            Entry::Message(m) => m.files.first().cloned(),
            Entry::Notice(_) => None,
        })
        .collect();
    assert!(files[0].label().starts_with("[sunset.png, "), "{files:?}");
    assert_eq!((files[0].width, files[0].height), (640, 320));
    assert_eq!(files[1].label(), "[notes.txt, 13 B]");
    // The image's thumbnail is fetched and drawn; the text file is a link.
    run_until(&mut harness, "the thumbnail", |app| {
        let view = chat(app).unwrap();
        view.pictures.is_shown(&files[0].id)
    });
    harness.get_by_label("[notes.txt, 13 B]");
    harness.get_by_label("Attach…");
}
