//! The terminal UI's state and drawing, without a terminal: keys and
//! server events in, actions and a `TestBackend` screen out.

use std::time::{Duration, UNIX_EPOCH};

use chat_client::rooms::Entry;
use chat_client::{
    AccountChange, ChatMessage, ClientError, ClientEvent, Code, Connection, HistoryPage, Member,
    Reaction, Role, RoomAction, RoomInfo, SharedFile,
};
use chat_tui::app::{Action, App};
use chat_tui::command::{Command, MessageAction};
use chat_tui::login::{Field, LoginAction, LoginForm};
use chat_tui::runner::Outcome;
use chat_tui::ui;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Position;
use ratatui::style::{Color, Modifier};
use ratatui::{Frame, Terminal};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn type_line(app: &mut App, text: &str) -> Option<Action> {
    for c in text.chars() {
        assert_eq!(app.on_key(key(KeyCode::Char(c))), None);
    }
    app.on_key(key(KeyCode::Enter))
}

fn message(room: &str, seq: u64, sender: &str, text: &str) -> ChatMessage {
    ChatMessage {
        origin: chat_client::Origin::Native,
        room: room.into(),
        seq,
        sender: sender.into(),
        text: text.into(),
        sent_at: UNIX_EPOCH + Duration::from_secs(1_795_000_000 + seq * 60),
        reply_to: None,
        edited_at: None,
        deleted: false,
        deleted_by: None,
        reactions: Vec::new(),
        mentions: Vec::new(),
        mentions_room: false,
        files: Vec::new(),
    }
}

fn joined(room: &str, members: &[&str], last_seq: u64) -> ClientEvent {
    ClientEvent::RoomJoined {
        room: room.into(),
        members: members
            .iter()
            .map(|name| Member {
                name: (*name).into(),
                online: true,
                ..Member::default()
            })
            .collect(),
        last_seq,
        details: RoomInfo {
            name: room.into(),
            ..RoomInfo::default()
        },
    }
}

/// An app in `general` with Bob, Online, and `n` messages.
fn chatting(n: u64) -> App {
    let mut app = App::new("ann", "127.0.0.1:7070");
    app.apply(ClientEvent::Connection(Connection::Online));
    app.apply(joined("general", &["ann", "bob"], 0));
    for seq in 1..=n {
        let sender = if seq % 2 == 0 { "ann" } else { "bob" };
        app.apply(ClientEvent::Message(message(
            "general",
            seq,
            sender,
            &format!("message {seq}"),
        )));
    }
    app
}

fn texts(app: &App, room: &str) -> Vec<String> {
    app.rooms.logs[room]
        .entries
        .values()
        .map(|entry| match entry {
            Entry::Message(m) => format!("{}: {}", m.sender, m.text),
            Entry::Notice(text) => text.clone(),
        })
        .collect()
}

fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
    drawn(width, height, |frame| {
        ui::draw(frame, app);
    })
    .0
}

/// What `draw` puts on a `width` by `height` terminal: its rows, and
/// where the cursor is.
fn drawn(width: u16, height: u16, draw: impl FnOnce(&mut Frame)) -> (Vec<String>, Position) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(draw).unwrap();
    let cursor = terminal.get_cursor_position().unwrap();
    let buffer = terminal.backend().buffer();
    let rows = (0..height)
        .map(|y| {
            let mut row = String::new();
            let mut x = 0;
            while x < width {
                let cell = &buffer[(x, y)];
                row.push_str(cell.symbol());
                x += 1;
                // A wide character's second column holds nothing of its own.
                if unicode_width::UnicodeWidthStr::width(cell.symbol()) == 2 {
                    x += 1;
                }
            }
            row
        })
        .collect();
    (rows, cursor)
}

#[test]
fn typing_and_enter_send_to_the_current_room() {
    let mut app = chatting(0);
    assert_eq!(
        type_line(&mut app, "안녕 🙂"),
        Some(Action::Send {
            room: "general".into(),
            text: "안녕 🙂".into(),
            reply_to: None,
        })
    );
    assert_eq!(app.input.text, "", "the input clears after sending");
    // Editing: backspace, cursor moves, Ctrl-U.
    for c in "helo".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Left));
    app.on_key(key(KeyCode::Char('l')));
    assert_eq!(app.input.text, "hello");
    app.on_key(key(KeyCode::Backspace));
    assert_eq!(app.input.text, "helo");
    app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    assert_eq!(app.input.text, "");
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        None,
        "an empty line sends nothing"
    );
}

#[test]
fn commands_become_actions_and_bad_ones_a_one_line_error() {
    let mut app = chatting(0);
    assert_eq!(
        type_line(&mut app, "/join 50054"),
        Some(Action::Run(Command::Join("channel-50054".into())))
    );
    assert_eq!(type_line(&mut app, "/who"), Some(Action::Run(Command::Who)));
    assert_eq!(type_line(&mut app, "/frobnicate"), None);
    let status = app.status.clone().unwrap();
    assert!(status.error);
    assert_eq!(
        status.text,
        "unknown command /frobnicate; /help lists the commands"
    );
    app.outcome(Outcome::Quit);
    assert!(app.quit);
}

#[test]
fn joining_a_room_with_history_asks_for_it_and_pages_merge_without_doubles() {
    let mut app = App::new("ann", "server");
    let fetch = app.apply(joined("general", &["ann"], 120));
    assert_eq!(
        fetch,
        Some(Action::FetchHistory {
            room: "general".into(),
            before: Some(121)
        })
    );
    // A live message arrives before the history page does.
    app.apply(ClientEvent::Message(message("general", 121, "bob", "live")));
    let page = HistoryPage {
        messages: (71..=120)
            .map(|seq| message("general", seq, "bob", &format!("old {seq}")))
            .collect(),
        has_more: true,
    };
    app.history_loaded("general", page);
    let shown = texts(&app, "general");
    assert_eq!(shown.len(), 52);
    assert_eq!(shown.first().unwrap(), "bob: old 71");
    // The own join line stands after the history, before what came live.
    assert_eq!(shown[50], "→ you joined #general · nobody else is here");
    assert_eq!(shown.last().unwrap(), "bob: live");
    // The same page again changes nothing.
    let again = HistoryPage {
        messages: vec![message("general", 120, "bob", "old 120")],
        has_more: true,
    };
    app.history_loaded("general", again);
    assert_eq!(texts(&app, "general").len(), 52);
    // Scrolling up to the top asks for the page before the oldest.
    let mut fetch = None;
    for _ in 0..10 {
        fetch = fetch.or(app.on_key(key(KeyCode::PageUp)));
    }
    assert_eq!(
        fetch,
        Some(Action::FetchHistory {
            room: "general".into(),
            before: Some(71)
        })
    );
}

#[test]
fn joins_leaves_presence_and_unread_counts() {
    let mut app = chatting(2);
    app.apply(joined("dev", &["ann"], 0));
    app.apply(ClientEvent::MemberJoined {
        room: "general".into(),
        name: "carol".into(),
        online: true,
        guest: false,
    });
    app.apply(ClientEvent::Presence {
        name: "bob".into(),
        online: false,
    });
    app.apply(ClientEvent::MemberLeft {
        room: "general".into(),
        name: "carol".into(),
    });
    let view = &app.rooms.logs["general"];
    assert_eq!(view.members.get("bob").map(|bob| bob.online), Some(false));
    assert!(!view.members.contains_key("carol"));
    assert_eq!(
        texts(&app, "general")[3..],
        ["→ carol joined", "← carol left"]
    );

    app.apply(ClientEvent::Message(message("dev", 1, "bob", "psst")));
    app.apply(ClientEvent::Message(message("dev", 2, "ann", "mine")));
    assert_eq!(
        app.rooms.logs["dev"].unread, 1,
        "one's own messages are not unread"
    );
    // Rooms go by name: dev, general. Ctrl-N from general wraps round to
    // dev.
    app.on_key(ctrl('n'));
    assert_eq!(
        app.rooms.current.as_deref(),
        Some("dev"),
        "Ctrl-N goes round the rooms"
    );
    assert!(app.due_mark_read().is_some());
    assert_eq!(
        app.rooms.logs["dev"].unread, 0,
        "looking at a room reads it"
    );
    app.on_key(ctrl('p'));
    assert_eq!(app.rooms.current.as_deref(), Some("general"));
    app.on_key(KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT));
    assert_eq!(
        app.rooms.current.as_deref(),
        Some("dev"),
        "Alt-1: the first"
    );
    assert_eq!(app.input.text, "", "Alt-1 typed nothing");
    app.on_key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::ALT));
    assert_eq!(app.rooms.current.as_deref(), Some("general"));

    app.apply(ClientEvent::RoomLeft {
        room: "dev".into(),
        reason: String::new(),
    });
    assert_eq!(app.rooms.current.as_deref(), Some("general"));
}

#[test]
fn a_room_whose_numbering_started_over_is_shown_afresh() {
    let mut app = chatting(5);
    app.apply(joined("general", &["ann", "bob"], 1));
    assert_eq!(
        texts(&app, "general"),
        ["! the server restarted without its history"]
    );
}

#[test]
fn the_screen_at_80_by_24() {
    let mut app = chatting(3);
    app.apply(ClientEvent::Message(message(
        "general",
        4,
        "bob",
        "한국어와 이모지 🎉 가 들어간 아주 긴 메시지는 여러 줄로 나뉘어 보여야 합니다",
    )));
    app.outcome(Outcome::Info("joined #general".into()));
    let screen = screen(&app, 80, 24);
    assert!(screen[0].starts_with("┌ Rooms "), "{}", screen[0]);
    assert!(screen[0].contains("#general"), "{}", screen[0]);
    // At 80 columns the messages get the room the members panel took.
    assert!(!screen[0].contains("Members"), "{}", screen[0]);
    assert!(screen[1].starts_with("│> #general"), "{}", screen[1]);
    // Joining says so, and who is there, as IRC clients do.
    assert!(
        screen[1].contains("→ you joined #general · here: bob"),
        "{}",
        screen[1]
    );
    assert!(screen[2].contains("bob: message 1"), "{}", screen[2]);
    // The long line wraps inside the message panel, indented under the time.
    assert!(
        screen[5].contains("bob: 한국어와 이모지 🎉"),
        "{}",
        screen[5]
    );
    assert!(screen[6].contains("│      "), "{}", screen[6]);
    assert!(screen[20].contains("ann → #general"), "{}", screen[20]);
    assert_eq!(
        screen[23].trim_end(),
        " ● online · 127.0.0.1:7070 · joined #general"
    );
    for row in &screen {
        assert_eq!(
            unicode_width::UnicodeWidthStr::width(row.as_str()),
            80,
            "{row}"
        );
    }
}

#[test]
fn help_shows_every_command_at_once_and_any_key_closes_it() {
    let mut app = chatting(3);
    assert_eq!(
        type_line(&mut app, "/help"),
        Some(Action::Run(Command::Help))
    );
    app.outcome(Outcome::Help);
    let shown = screen(&app, 80, 24).join("\n");
    for line in chat_tui::command::HELP {
        assert!(shown.contains(line), "{line:?} not on\n{shown}");
    }
    app.on_key(key(KeyCode::Esc));
    assert!(!app.help);
    assert!(app.input.text.is_empty(), "Esc only closed the help");
    let shown = screen(&app, 80, 24).join("\n");
    assert!(!shown.contains("Commands ("), "{shown}");
}

#[test]
fn scrolling_stops_at_the_top_and_end_and_home_jump() {
    let mut app = chatting(100);
    let mut limit = 0;
    drawn(80, 24, |frame| limit = ui::draw(frame, &app));
    app.scroll_limit = Some(limit);
    for _ in 0..20 {
        app.on_key(key(KeyCode::PageUp));
    }
    let top = screen(&app, 80, 24);
    assert!(top.join("\n").contains("message 1 "), "{top:#?}");
    // Back down at once: no overshoot to scroll off first.
    for _ in 0..4 {
        app.on_key(key(KeyCode::PageDown));
    }
    assert_ne!(screen(&app, 80, 24), top, "PageDown did nothing");
    app.on_key(key(KeyCode::End));
    let newest = screen(&app, 80, 24).join("\n");
    assert!(newest.contains("message 100"), "{newest}");
    app.on_key(key(KeyCode::Home));
    assert_eq!(screen(&app, 80, 24), top);
    // With something typed, Home and End move in the line instead.
    type_line_without_enter(&mut app, "draft");
    app.on_key(key(KeyCode::End));
    assert_eq!(screen(&app, 80, 24)[1..20], top[1..20]);
}

fn type_line_without_enter(app: &mut App, text: &str) {
    for c in text.chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
}

#[test]
fn the_screen_keeps_the_newest_messages_in_view_and_scrolls_back() {
    let mut app = chatting(100);
    let bottom = screen(&app, 120, 40);
    let text = bottom.join("\n");
    assert!(text.contains("message 100"));
    assert!(!text.contains("message 50 "));
    for _ in 0..5 {
        app.on_key(key(KeyCode::PageUp));
    }
    let back = screen(&app, 120, 40).join("\n");
    assert!(back.contains("scrolled back"));
    assert!(back.contains("message 50"));
    assert!(!back.contains("message 100"));
}

#[test]
fn a_narrow_screen_drops_the_side_panels() {
    let app = chatting(1);
    let screen = screen(&app, 40, 12);
    assert!(!screen[0].contains("Rooms"));
    assert!(screen[0].contains("#general"));
    assert!(screen[1].contains("→ you joined #general"));
    assert!(screen[2].contains("bob: message 1"));
}

#[test]
fn the_status_line_shows_the_connection() {
    let mut app = chatting(0);
    app.apply(ClientEvent::Connection(Connection::Offline {
        reason: "connection reset".into(),
        retry_in: Duration::from_secs(2),
    }));
    let screen = screen(&app, 80, 24);
    assert!(
        screen[23].contains("○ offline, retrying in 2s"),
        "{}",
        screen[23]
    );
}

fn login_screen(form: &LoginForm) -> (String, Position) {
    let (rows, cursor) = drawn(80, 24, |frame| ui::draw_login(frame, form));
    (rows.join("\n"), cursor)
}

/// Whether the cursor is in the field titled `title`: on the row below it.
fn cursor_in(screen: &str, cursor: Position, title: &str) -> bool {
    let row = screen.lines().position(|line| line.contains(title));
    row.is_some_and(|row| usize::from(cursor.y) == row + 1)
}

#[test]
fn the_login_screen_hides_the_password_and_submits_the_form() {
    let mut form = LoginForm::new("127.0.0.1:7070", "ann", false);
    let (screen, cursor) = login_screen(&form);
    assert!(screen.contains("chat · log in"), "{screen}");
    assert!(screen.contains("127.0.0.1:7070") && screen.contains("ann"));
    // The name is known: the cursor waits in the password field.
    assert_eq!(form.focus, Field::Password);
    assert!(
        cursor_in(&screen, cursor, "Password"),
        "{cursor:?}\n{screen}"
    );
    for c in "hunter22".chars() {
        assert_eq!(form.on_key(key(KeyCode::Char(c))), None);
    }
    let (screen, _) = login_screen(&form);
    assert!(
        !screen.contains("hunter22"),
        "the password shows:\n{screen}"
    );
    assert!(screen.contains("••••••••"), "{screen}");
    assert!(!format!("{form:?}").contains("hunter22"));

    assert_eq!(form.on_key(key(KeyCode::Enter)), Some(LoginAction::Submit));
    assert!(form.connecting);
    assert_eq!(form.password.text, "hunter22");
    assert!(login_screen(&form).0.contains("connecting…"));
    // While connecting only quitting is heard.
    assert_eq!(form.on_key(key(KeyCode::Char('x'))), None);
    assert_eq!(form.password.text, "hunter22");
    assert_eq!(form.on_key(key(KeyCode::Esc)), Some(LoginAction::Quit));
}

#[test]
fn the_login_screen_moves_between_fields_and_switches_to_registering() {
    let mut form = LoginForm::new("127.0.0.1:7070", "", false);
    assert_eq!(form.focus, Field::Name, "the missing name is asked first");
    for c in "지민".chars() {
        form.on_key(key(KeyCode::Char(c)));
    }
    form.on_key(key(KeyCode::Tab));
    assert_eq!(form.focus, Field::Password);
    form.on_key(key(KeyCode::Tab));
    assert_eq!(form.focus, Field::Server);
    let (screen, cursor) = login_screen(&form);
    assert!(cursor_in(&screen, cursor, "Server"), "{cursor:?}\n{screen}");
    form.on_key(key(KeyCode::BackTab));
    assert_eq!(form.focus, Field::Password);
    assert_eq!(form.name.text, "지민");

    form.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert!(form.register);
    let (screen, _) = login_screen(&form);
    assert!(screen.contains("chat · create an account"), "{screen}");
    assert!(screen.contains("[x] create an account"), "{screen}");
    // An account needs a password.
    assert_eq!(form.on_key(key(KeyCode::Enter)), None);
    assert!(!form.connecting);
    assert!(login_screen(&form).0.contains("choose a password"));
    form.on_key(key(KeyCode::Char('p')));
    // ... typed twice, masked: a typo would lock its owner out.
    assert!(login_screen(&form).0.contains("Password again"));
    assert_eq!(form.on_key(key(KeyCode::Enter)), None);
    assert_eq!(form.focus, Field::Again);
    assert!(login_screen(&form).0.contains("the two passwords differ"));
    form.on_key(key(KeyCode::Char('p')));
    assert_eq!(form.on_key(key(KeyCode::Enter)), Some(LoginAction::Submit));
    // Logging in again, the repetition goes.
    let mut form = LoginForm::new("127.0.0.1:7070", "ann", true);
    form.focus = Field::Again;
    form.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert_eq!(form.focus, Field::Password);
    assert!(!login_screen(&form).0.contains("Password again"));
}

#[test]
fn a_failed_login_is_shown_with_the_cursor_on_what_to_fix() {
    let mut form = LoginForm::new("127.0.0.1:7070", "ann", false);
    "wrong horse".chars().for_each(|c| {
        form.on_key(key(KeyCode::Char(c)));
    });
    form.on_key(key(KeyCode::Enter));
    form.failed(&ClientError::Refused {
        code: Code::Unauthenticated,
        message: "wrong name or password".into(),
    });
    assert!(!form.connecting);
    assert_eq!(form.focus, Field::Password);
    assert_eq!(form.password.text, "", "a refused password is cleared");
    assert!(login_screen(&form).0.contains("wrong name or password"));

    form.failed(&ClientError::NameTaken {
        name: "ann".into(),
        message: "the name `ann` is registered; log in with its password".into(),
    });
    assert_eq!(form.focus, Field::Password);
    form.failed(&ClientError::NameTaken {
        name: "ann".into(),
        message: "the name `ann` is in use by a user who is logged in".into(),
    });
    assert_eq!(form.focus, Field::Name);
    form.failed(&ClientError::Unreachable {
        address: "127.0.0.1:7070".into(),
        reason: "nothing answers at 127.0.0.1:7070 (connection refused)".into(),
    });
    assert_eq!(form.focus, Field::Server);
    let (screen, _) = login_screen(&form);
    assert!(screen.contains("nothing answers at"), "{screen}");
}

#[test]
fn roles_topics_private_rooms_and_direct_conversations_are_shown() {
    let mut app = chatting(1);
    let members = |names: &[(&str, Role)]| {
        names
            .iter()
            .map(|&(name, role)| Member {
                name: name.into(),
                online: true,
                role,
                ..Member::default()
            })
            .collect()
    };
    app.apply(ClientEvent::RoomJoined {
        room: "ops".into(),
        members: members(&[("ann", Role::Owner), ("bob", Role::Member)]),
        last_seq: 0,
        details: RoomInfo {
            name: "ops".into(),
            private: true,
            ..RoomInfo::default()
        },
    });
    app.apply(ClientEvent::RoomJoined {
        room: "@dm-1".into(),
        members: members(&[("ann", Role::Member), ("carl", Role::Member)]),
        last_seq: 0,
        details: RoomInfo {
            name: "@dm-1".into(),
            private: true,
            direct: true,
            peer: "carl".into(),
            ..RoomInfo::default()
        },
    });
    app.rooms.switch_to("ops");
    for action in [
        RoomAction::SetTopic("on call".into()),
        RoomAction::Promote("bob".into()),
        RoomAction::Mute("bob".into()),
    ] {
        app.apply(ClientEvent::RoomChanged {
            room: "ops".into(),
            actor: "ann".into(),
            action,
        });
    }
    // Wide enough for the members panel.
    let shown = screen(&app, 120, 24);
    // Rooms, then direct conversations by the other's name.
    assert!(shown[1].contains("  #general"), "{}", shown[1]);
    assert!(shown[2].contains("> 🔒ops"), "{}", shown[2]);
    assert!(shown[3].contains(" Direct"), "{}", shown[3]);
    assert!(shown[4].contains("  @carl"), "{}", shown[4]);
    assert!(shown[0].contains("🔒ops · on call"), "{}", shown[0]);
    assert!(shown[1].contains("~ann"), "{}", shown[1]);
    assert!(shown[2].contains("@bob (muted)"), "{}", shown[2]);
    assert_eq!(
        texts(&app, "ops"),
        [
            "→ you joined #ops · here: bob",
            "* ann set the topic: on call",
            "* ann made bob a moderator",
            "* ann muted bob"
        ]
    );

    // Removed from a room: the status line says by whom.
    app.apply(ClientEvent::RoomLeft {
        room: "ops".into(),
        reason: "kicked by bob".into(),
    });
    assert_eq!(
        app.status.as_ref().map(|status| status.text.as_str()),
        Some("you left ops: kicked by bob")
    );
    app.apply(ClientEvent::Invited {
        room: "ops".into(),
        by: "bob".into(),
    });
    app.apply(ClientEvent::RoomChanged {
        room: "general".into(),
        actor: "bob".into(),
        action: RoomAction::Delete(true),
    });
    assert_eq!(
        app.status.as_ref().map(|status| status.text.as_str()),
        Some("bob deleted general")
    );
    let after = screen(&app, 80, 24);
    assert!(after.iter().any(|row| row.contains(" Invited")));
    assert!(after.iter().any(|row| row.contains("🔒ops")));
}

#[test]
fn up_and_down_recall_typed_lines_and_shift_scrolls() {
    let mut app = chatting(100);
    type_line(&mut app, "first");
    type_line(&mut app, "/who");
    type_line_without_enter(&mut app, "dra");
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.input.text, "/who");
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.input.text, "first");
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.input.text, "dra", "what was being typed comes back");
    assert_eq!(app.scroll, 0, "Up and Down did not scroll");
    app.on_key(KeyEvent::new(KeyCode::Up, KeyModifiers::SHIFT));
    app.on_key(KeyEvent::new(KeyCode::Up, KeyModifiers::CONTROL));
    assert_eq!(app.scroll, 2, "Shift-Up and Ctrl-Up scroll a line each");
}

#[test]
fn tab_completes_names_and_commands_and_goes_round_the_matches() {
    let mut app = chatting(0);
    for name in ["bea", "carl"] {
        app.apply(ClientEvent::MemberJoined {
            room: "general".into(),
            name: name.into(),
            online: true,
            guest: false,
        });
    }
    type_line_without_enter(&mut app, "b");
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.input.text, "bea: ", "a name at the start is addressed");
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.input.text, "bob: ", "Tab again: the next match");
    type_line_without_enter(&mut app, "ask @c");
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.input.text, "bob: ask @carl ");
    assert_eq!(app.rooms.current.as_deref(), Some("general"), "Tab stays");

    app.input.clear();
    type_line_without_enter(&mut app, "/le");
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.input.text, "/leave ");
    app.input.clear();
    type_line_without_enter(&mut app, "an");
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.input.text, "an", "one's own name is not offered");
}

#[test]
fn the_side_panels_give_way_to_the_messages_and_f2_hides_them() {
    let mut app = chatting(1);
    let wide = screen(&app, 120, 24);
    assert!(wide[0].starts_with("┌ Rooms "), "{}", wide[0]);
    assert!(wide[0].contains("Members"), "{}", wide[0]);
    let eighty = screen(&app, 80, 24);
    assert!(eighty[0].starts_with("┌ Rooms "), "{}", eighty[0]);
    assert!(!eighty[0].contains("Members"), "{}", eighty[0]);
    // The messages get at least 60 of 80 columns.
    let title_width = eighty[0]
        .find("┌ #general")
        .map(|at| eighty[0][at..].chars().count());
    assert!(
        title_width.is_some_and(|width| width >= 60),
        "{}",
        eighty[0]
    );

    app.on_key(key(KeyCode::F(2)));
    let hidden = screen(&app, 120, 24);
    assert!(hidden[0].starts_with("┌ #general"), "{}", hidden[0]);
    assert!(!hidden[0].contains("Members"), "{}", hidden[0]);
    app.on_key(key(KeyCode::F(2)));
    assert_eq!(screen(&app, 120, 24), wide);
}

#[test]
fn a_status_goes_after_a_while_and_stays_in_the_log_whole() {
    let mut app = chatting(0);
    let long = format!(
        "rooms: {}",
        (1..=40)
            .map(|n| format!("room-{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    app.outcome(Outcome::Info(long.clone()));
    let shown = screen(&app, 80, 24);
    assert!(shown[23].ends_with('…'), "cut with a mark: {}", shown[23]);
    assert!(
        texts(&app, "general").contains(&format!("· {long}")),
        "the whole of it is in the log"
    );
    let since = app.status.as_ref().unwrap().since;
    app.tick(since + Duration::from_secs(3));
    assert!(app.status.is_some(), "still shown after 3 s");
    app.tick(since + chat_tui::app::STATUS_SHOWN);
    assert!(app.status.is_none(), "gone after a while");
    assert!(screen(&app, 80, 24)[23].contains("/help"));

    // A newer outcome replaces an older one at once.
    app.outcome(Outcome::Info("created #ops".into()));
    app.outcome(Outcome::Error("no such room".into()));
    let status = app.status.as_ref().unwrap();
    assert_eq!((status.text.as_str(), status.error), ("no such room", true));
    assert!(texts(&app, "general").contains(&"! no such room".to_owned()));
}

#[test]
fn a_message_shows_as_sending_until_the_server_takes_it() {
    let mut app = chatting(1);
    app.apply(ClientEvent::Connection(Connection::Offline {
        reason: "connection refused".into(),
        retry_in: Duration::from_secs(2),
    }));
    type_line(&mut app, "typed while offline");
    let shown = screen(&app, 80, 24).join("\n");
    assert!(
        shown.contains("ann: typed while offline · sending…"),
        "{shown}"
    );
    app.sent();
    app.apply(ClientEvent::Message(message(
        "general",
        2,
        "ann",
        "typed while offline",
    )));
    let shown = screen(&app, 80, 24).join("\n");
    assert!(!shown.contains("sending…"), "{shown}");
    assert!(shown.contains("ann: typed while offline"), "{shown}");
}

#[test]
fn passwords_are_asked_for_masked_and_kept_out_of_the_history() {
    let mut app = chatting(0);
    assert_eq!(type_line(&mut app, "/password"), None);
    type_line_without_enter(&mut app, "old secret");
    let shown = screen(&app, 80, 24).join("\n");
    assert!(shown.contains("current password"), "{shown}");
    assert!(shown.contains("••••••••••"), "{shown}");
    assert!(!shown.contains("old secret"), "{shown}");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(type_line(&mut app, "new secret"), None);
    assert_eq!(
        type_line(&mut app, "new secret"),
        Some(Action::Account(AccountChange::Password {
            old: "old secret".into(),
            new: "new secret".into(),
        }))
    );
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.input.text, "/password", "no password in the history");

    // Two new passwords that differ change nothing; Esc gives up.
    app.input.clear();
    type_line(&mut app, "/password");
    for answer in ["old", "one", "two"] {
        assert_eq!(type_line(&mut app, answer), None);
    }
    assert!(app.status.as_ref().unwrap().text.contains("differ"));
    type_line(&mut app, "/deleteaccount");
    assert!(
        screen(&app, 80, 24)
            .join("\n")
            .contains("delete your account")
    );
    app.on_key(key(KeyCode::Esc));
    assert!(app.asking.is_none());
    assert_eq!(type_line(&mut app, "/password hunter2"), None, "refused");
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("type /password alone")
    );
}

#[test]
fn a_selected_message_is_answered_and_a_reply_quotes_what_it_answers() {
    let mut app = chatting(3);
    // Alt-Up picks the newest message, then the one before.
    let alt = |code| KeyEvent::new(code, KeyModifiers::ALT);
    app.on_key(alt(KeyCode::Up));
    app.on_key(alt(KeyCode::Up));
    assert_eq!(app.selected, Some(2));
    let shown = screen(&app, 80, 24).join("\n");
    assert!(
        shown.contains("↪ #2 ann: message 2"),
        "the input says so: {shown}"
    );
    assert_eq!(
        type_line(&mut app, "agreed"),
        Some(Action::Send {
            room: "general".into(),
            text: "agreed".into(),
            reply_to: Some(2),
        })
    );
    assert_eq!(app.selected, None, "one reply per selection");

    // The reply, back from the server, quotes the start of what it answers.
    let mut answer = message("general", 4, "bob", "agreed");
    answer.reply_to = Some(2);
    app.apply(ClientEvent::Message(answer));
    let shown = screen(&app, 80, 24);
    let quote = shown
        .iter()
        .position(|row| row.contains("↪ ann: message 2"));
    let reply = shown.iter().position(|row| row.contains("bob: agreed"));
    assert!(
        quote.is_some() && quote.map(|q| q + 1) == reply,
        "{shown:#?}"
    );

    // /reply with nothing selected answers the newest message of another.
    assert_eq!(
        type_line(&mut app, "/reply me too"),
        Some(Action::Send {
            room: "general".into(),
            text: "me too".into(),
            reply_to: Some(4),
        })
    );
    app.on_key(alt(KeyCode::Up));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.selected, None, "Esc: not a reply after all");
}

#[test]
fn markdown_shows_as_terminal_styles_without_its_marks() {
    let mut app = chatting(0);
    app.apply(ClientEvent::Message(message(
        "general",
        1,
        "bob",
        "**ship it** with `cargo test`\n> quoted\n- one",
    )));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| {
            ui::draw(frame, &app);
        })
        .unwrap();
    let buffer = terminal.backend().buffer().clone();
    let rows: Vec<String> = (0..24)
        .map(|y| {
            (0..80)
                .map(|x| buffer[(x, y)].symbol().to_owned())
                .collect()
        })
        .collect();
    let at = |needle: &str| {
        rows.iter().enumerate().find_map(|(y, row)| {
            row.find(needle)
                .map(|x| (row[..x].chars().count() as u16, y as u16))
        })
    };
    let (x, y) = at("ship it").expect("the text without its stars");
    assert!(!rows[y as usize].contains("**"), "{}", rows[y as usize]);
    assert!(buffer[(x, y)].modifier.contains(Modifier::BOLD));
    let (x, y) = at("cargo test").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Yellow, "code stands out");
    assert!(at("│ quoted").is_some(), "{rows:#?}");
    assert!(at("• one").is_some(), "{rows:#?}");
}

#[test]
fn a_room_not_in_view_keeps_only_its_newest_entries() {
    let most = chat_client::rooms::MOST_ENTRIES as u64;
    let mut app = chatting(0);
    app.apply(joined("busy", &["ann", "bob"], 0));
    app.rooms.switch_to("general");
    for seq in 1..=most + 500 {
        app.apply(ClientEvent::Message(message("busy", seq, "bob", "x")));
    }
    let busy = &app.rooms.logs["busy"];
    assert_eq!(busy.entries.len(), most as usize);
    assert_eq!(busy.oldest_seq(), Some(501));
    assert!(busy.has_older, "the rest loads again from history");
    // The room in view keeps what it shows, until it is left.
    for seq in 1..=most + 10 {
        app.apply(ClientEvent::Message(message("general", seq, "bob", "y")));
    }
    assert!(app.rooms.logs["general"].entries.len() > most as usize);
    app.rooms.switch_to("busy");
    assert_eq!(app.rooms.logs["general"].entries.len(), most as usize);
}

#[test]
fn messages_are_edited_deleted_and_reacted_to_and_show_it() {
    let mut app = chatting(4);
    let on = |seq, action| {
        Some(Action::OnMessage {
            room: "general".into(),
            seq,
            action,
        })
    };
    // By default: one's own newest for edits and deletions, the newest of
    // someone else for reactions; or the number given, or the one picked.
    assert_eq!(
        type_line(&mut app, "/edit fixed :tada:"),
        on(4, MessageAction::Edit("fixed :tada:".into()))
    );
    assert_eq!(
        type_line(&mut app, "/react 👍"),
        on(
            3,
            MessageAction::React {
                emoji: "👍".into(),
                remove: false
            }
        )
    );
    assert_eq!(
        type_line(&mut app, "/delete 2"),
        on(2, MessageAction::Delete)
    );
    app.on_key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT));
    app.on_key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT));
    assert_eq!(type_line(&mut app, "/delete"), on(3, MessageAction::Delete));

    // What the server tells of the changes.
    let mut edited = message("general", 4, "ann", "fixed 🎉");
    edited.edited_at = Some(edited.sent_at);
    app.apply(ClientEvent::MessageUpdated(edited));
    let mut reacted = message("general", 3, "bob", "message 3");
    reacted.reactions = vec![
        Reaction {
            emoji: "👍".into(),
            count: 2,
            names: vec!["bob".into(), "ann".into()],
        },
        Reaction {
            emoji: "❤️".into(),
            count: 1,
            names: vec!["bob".into()],
        },
    ];
    app.apply(ClientEvent::MessageUpdated(reacted));
    let mut deleted = message("general", 1, "bob", "");
    deleted.deleted = true;
    deleted.deleted_by = Some("mod".into());
    app.apply(ClientEvent::MessageUpdated(deleted));
    let shown = screen(&app, 80, 24);
    let row = |needle: &str| shown.iter().position(|row| row.contains(needle));
    assert!(row("bob: message deleted by mod").is_some(), "{shown:#?}");
    assert!(row("ann: fixed 🎉 (edited)").is_some(), "{shown:#?}");
    let chips = row("👍 2  ❤️ 1");
    assert!(
        chips.is_some() && chips == row("bob: message 3").map(|r| r + 1),
        "reactions under their message: {shown:#?}"
    );
    // Reacting again with an emoji one has there takes it back.
    assert_eq!(
        type_line(&mut app, "/react 3 :+1:"),
        on(
            3,
            MessageAction::React {
                emoji: ":+1:".into(),
                remove: true
            }
        )
    );
}

#[test]
fn a_mention_rings_once_and_stands_out_typing_shows_and_reading_is_told() {
    let mut app = chatting(2);
    assert!(!app.take_bell());
    let mut mention = message("general", 3, "bob", "@ann look");
    mention.mentions = vec!["ann".into()];
    app.apply(ClientEvent::Message(mention));
    assert!(app.take_bell(), "a mention rings");
    assert!(!app.take_bell(), "once");
    app.bell = false;
    let mut again = message("general", 4, "bob", "@ann again");
    again.mentions_room = true;
    app.apply(ClientEvent::Message(again));
    assert!(!app.take_bell(), "--no-bell");

    app.apply(ClientEvent::Typing {
        room: "general".into(),
        name: "bob".into(),
        typing: true,
    });
    let shown = screen(&app, 80, 24);
    assert!(shown[23].contains("bob is typing…"), "{}", shown[23]);
    // The mention's time is marked (black on yellow).
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| {
            ui::draw(frame, &app);
        })
        .unwrap();
    let row = shown.iter().position(|r| r.contains("@ann look")).unwrap();
    let time_cell = &terminal.backend().buffer()[(17, row as u16)];
    assert_eq!(time_cell.bg, ratatui::style::Color::Yellow, "{shown:#?}");

    // Reading the room is told once a tick, as far as it goes.
    assert_eq!(
        app.due_mark_read(),
        Some(Action::MarkRead {
            room: "general".into(),
            seq: 4
        })
    );
    assert_eq!(app.due_mark_read(), None, "nothing new");
}

#[test]
fn the_servers_counts_are_badges_the_marker_a_line_and_the_bell_follows_the_level() {
    use chat_client::NotifyLevel;
    let mut app = chatting(2);
    // dev, joined elsewhere: read to 5 of 8, one of the three mentions ann.
    let mut dev = joined("dev", &["ann", "bob"], 8);
    if let ClientEvent::RoomJoined { details, .. } = &mut dev {
        (
            details.read_seq,
            details.unread_count,
            details.mention_count,
        ) = (5, 3, 1);
        details.notify = NotifyLevel::All;
    }
    app.apply(dev);
    let shown = screen(&app, 80, 24);
    assert!(shown.iter().any(|r| r.contains("#dev @1")), "{shown:#?}");
    let page = (4..=8).map(|seq| message("dev", seq, "bob", &format!("dev {seq}")));
    app.history_loaded(
        "dev",
        HistoryPage {
            messages: page.collect(),
            has_more: true,
        },
    );

    // In view: the line is where reading stopped; once the marker moves,
    // the badge goes.
    app.outcome(Outcome::SwitchTo("dev".into()));
    let shown = screen(&app, 80, 24);
    let line = shown.iter().position(|r| r.contains("─ new messages ─"));
    let line = line.unwrap_or_else(|| panic!("{shown:#?}"));
    assert!(shown[line - 1].contains("dev 5") && shown[line + 1].contains("dev 6"));
    assert_eq!(
        app.due_mark_read(),
        Some(Action::MarkRead {
            room: "dev".into(),
            seq: 8
        })
    );
    let shown = screen(&app, 80, 24);
    assert!(!shown.iter().any(|r| r.contains("@1")), "{shown:#?}");
    // Elsewhere, the line goes with the view.
    app.outcome(Outcome::SwitchTo("general".into()));
    assert_eq!(app.rooms.logs["dev"].divider, None);

    // Level All: any message of a room out of view rings; in view, only a
    // mention. NONE: not even a mention.
    app.apply(ClientEvent::Message(message("dev", 9, "bob", "plain")));
    assert!(app.take_bell(), "every message of an ALL room out of view");
    app.apply(ClientEvent::Message(message("general", 3, "bob", "plain")));
    assert!(!app.take_bell(), "a plain message in view");
    app.outcome(Outcome::Notify("dev".into(), NotifyLevel::Mentions));
    app.apply(ClientEvent::Message(message("dev", 10, "bob", "plain")));
    assert!(!app.take_bell(), "MENTIONS: a plain message is quiet");
    // Set on another device.
    app.apply(ClientEvent::NotifyChanged {
        room: "dev".into(),
        level: NotifyLevel::None,
    });
    let mut mention = message("dev", 11, "bob", "@ann");
    mention.mentions = vec!["ann".into()];
    app.apply(ClientEvent::Message(mention));
    assert!(!app.take_bell(), "NONE: not even a mention");
    assert_eq!(
        (app.rooms.logs["dev"].unread, app.rooms.logs["dev"].mentions),
        (3, 1),
        "but it counts"
    );

    // Read on another device up to 10: only 11 is left, the mention.
    app.apply(ClientEvent::ReadMarker {
        room: "dev".into(),
        seq: 10,
    });
    let log = &app.rooms.logs["dev"];
    assert_eq!((log.unread, log.mentions), (1, 1));
    app.apply(ClientEvent::ReadMarker {
        room: "dev".into(),
        seq: 11,
    });
    let shown = screen(&app, 80, 24);
    assert!(shown.iter().any(|r| r.contains("#dev ")), "{shown:#?}");
    assert!(!shown.iter().any(|r| r.contains("@1")), "{shown:#?}");
}

#[test]
fn a_searchs_hits_show_over_the_messages_and_enter_goes_to_one() {
    let mut app = chatting(40);
    app.apply(joined("dev", &["ann", "bob"], 9));
    assert_eq!(
        type_line(&mut app, "/search plan friday"),
        Some(Action::Run(Command::Search("plan friday".into())))
    );
    let hits = vec![
        message("dev", 7, "bob", "the PLAN for friday"),
        message("general", 3, "bob", "message 3, plan b"),
        message("elsewhere", 2, "bob", "a plan elsewhere"),
    ];
    let page = chat_client::SearchPage {
        hits,
        next_page_token: String::new(),
        terms: vec!["plan".into()],
    };
    app.outcome(Outcome::Found("plan".into(), page));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| {
            ui::draw(frame, &app);
        })
        .unwrap();
    let shown = screen(&app, 80, 24);
    assert!(
        shown.iter().any(|r| r.contains("“plan”: 3 found")),
        "{shown:#?}"
    );
    let row = shown
        .iter()
        .position(|r| r.contains("bob: the PLAN for friday"));
    let row = row.unwrap_or_else(|| panic!("{shown:#?}"));
    let byte = shown[row].find("PLAN").unwrap();
    let column = shown[row][..byte].chars().count();
    let cell = &terminal.backend().buffer()[(column as u16, row as u16)];
    assert_eq!(cell.fg, Color::Yellow, "the word found stands out");

    // ↓ then ↑ pick; Enter goes there, loading the history around it.
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Up));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Some(Action::FetchHistory {
            room: "dev".into(),
            before: Some(7 + 25)
        })
    );
    assert!(app.search.is_none());
    assert_eq!(
        (app.rooms.current.as_deref(), app.selected),
        (Some("dev"), Some(7))
    );

    // A hit already loaded, far up the log: it is picked and in view.
    app.outcome(Outcome::Found(
        "message 1".into(),
        chat_client::SearchPage {
            hits: vec![message("general", 1, "bob", "message 1")],
            ..Default::default()
        },
    ));
    assert_eq!(app.on_key(key(KeyCode::Enter)), None, "loaded already");
    let shown = screen(&app, 80, 24);
    assert!(
        shown.iter().any(|r| r.contains("bob: message 1 ")),
        "{shown:#?}"
    );

    // A room the user is not in: said so.
    app.outcome(Outcome::Found(
        "plan".into(),
        chat_client::SearchPage {
            hits: vec![message("elsewhere", 2, "bob", "a plan elsewhere")],
            ..Default::default()
        },
    ));
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    let shown = screen(&app, 80, 24);
    assert!(shown[23].contains("/join elsewhere"), "{}", shown[23]);
}

#[test]
fn down_past_a_searchs_last_hit_loads_the_next_page_once() {
    let mut app = chatting(3);
    let page = chat_client::SearchPage {
        hits: vec![message("general", 3, "bob", "plan c")],
        next_page_token: "41".into(),
        terms: vec!["plan".into()],
    };
    app.outcome(Outcome::Found("plan".into(), page));
    assert!(
        screen(&app, 80, 24)
            .iter()
            .any(|r| r.contains("↓ past the last for more"))
    );
    let more = Some(Action::SearchMore {
        query: "plan".into(),
        page_token: "41".into(),
    });
    assert_eq!(app.on_key(key(KeyCode::Down)), more);
    assert_eq!(app.on_key(key(KeyCode::Down)), None, "asked already");
    assert!(
        screen(&app, 80, 24)
            .iter()
            .any(|r| r.contains("loading more"))
    );
    app.outcome(Outcome::FoundMore(chat_client::SearchPage {
        hits: vec![message("general", 1, "bob", "plan a")],
        next_page_token: String::new(),
        terms: vec!["plan".into()],
    }));
    app.on_key(key(KeyCode::Down));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        None,
        "the second page's hit, loaded already"
    );
    assert_eq!(app.selected, Some(1));
}

#[test]
fn a_file_shows_as_its_name_size_and_full_link_under_its_message() {
    let mut app = chatting(1);
    assert_eq!(
        type_line(&mut app, "/upload ~/notes (final).txt"),
        Some(Action::Run(Command::Upload("~/notes (final).txt".into())))
    );
    assert_eq!(type_line(&mut app, "/upload"), None);
    assert!(app.status.clone().unwrap().text.contains("/upload ~/"));
    let link = "/files/0123456789abcdef0123456789abcdef?room=general&for=ann&until=1&sig=ab";
    let mut sent = message("general", 2, "bob", "");
    sent.files = vec![SharedFile {
        id: "0123456789abcdef0123456789abcdef".into(),
        name: "plan.pdf".into(),
        mime_type: "application/pdf".into(),
        size: 123_456,
        width: 0,
        height: 0,
        url: link.into(),
        thumbnail_url: String::new(),
    }];
    app.apply(ClientEvent::Message(sent));
    let rows = screen(&app, 80, 24).join("\n");
    // The link, wrapped in the message column, is whole when joined.
    let shown: String = rows
        .lines()
        .filter_map(|row| row.split('│').nth(3))
        .map(str::trim)
        .collect();
    assert!(
        shown.contains(&format!("[plan.pdf, 123.5 kB] http://127.0.0.1:7070{link}")),
        "{rows}"
    );
}
