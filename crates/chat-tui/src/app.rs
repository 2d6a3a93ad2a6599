//! The terminal UI's state and how keys and server events change it. No
//! drawing and no I/O: what needs the network comes out as an [`Action`].

use std::collections::BTreeMap;

use chat_client::{ChatMessage, ClientEvent, Connection, HistoryPage};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::command::{self, Command, Line};
use crate::runner::Outcome;

/// How many messages one history request asks for.
pub const HISTORY_PAGE: u32 = 50;

/// Work for the event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        room: String,
        text: String,
    },
    Run(Command),
    /// Load the page of `room`'s history before `before` (`None`: newest).
    FetchHistory {
        room: String,
        before: Option<u64>,
    },
}

/// One line of a room's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Message {
        time: String,
        sender: String,
        text: String,
    },
    Notice(String),
}

/// Where an entry sits: messages by sequence number; a notice after the
/// message that preceded it.
type EntryKey = (u64, u32);

#[derive(Debug, Default)]
pub struct RoomView {
    pub entries: BTreeMap<EntryKey, Entry>,
    /// Name to online.
    pub members: BTreeMap<String, bool>,
    /// Older history may exist before the oldest message shown.
    pub has_older: bool,
    /// A history request is on its way.
    pub loading: bool,
    pub unread: usize,
    notices: u32,
}

impl RoomView {
    fn newest_seq(&self) -> u64 {
        self.entries.keys().next_back().map_or(0, |key| key.0)
    }

    fn oldest_seq(&self) -> Option<u64> {
        self.entries.keys().find(|key| key.1 == 0).map(|key| key.0)
    }

    fn add_message(&mut self, message: &ChatMessage) {
        self.entries.insert(
            (message.seq, 0),
            Entry::Message {
                time: crate::clock(message.sent_at),
                sender: message.sender.clone(),
                text: message.text.clone(),
            },
        );
    }

    fn add_notice(&mut self, text: String) {
        self.notices += 1;
        self.entries
            .insert((self.newest_seq(), self.notices), Entry::Notice(text));
    }
}

/// The status line's message: the outcome of the last command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

#[derive(Debug)]
pub struct App {
    pub me: String,
    pub server: String,
    pub connection: Connection,
    pub rooms: BTreeMap<String, RoomView>,
    pub current: Option<String>,
    /// What is being typed, and the cursor as a character index into it.
    pub input: String,
    pub cursor: usize,
    pub status: Option<Status>,
    /// How many lines the message view is scrolled up from the newest.
    pub scroll: usize,
    pub quit: bool,
}

impl App {
    pub fn new(me: impl Into<String>, server: impl Into<String>) -> Self {
        App {
            me: me.into(),
            server: server.into(),
            connection: Connection::Connecting,
            rooms: BTreeMap::new(),
            current: None,
            input: String::new(),
            cursor: 0,
            status: None,
            scroll: 0,
            quit: false,
        }
    }

    pub fn current_room(&self) -> Option<&RoomView> {
        self.current.as_ref().and_then(|room| self.rooms.get(room))
    }

    /// Applies a server event; may ask for history to be loaded.
    pub fn apply(&mut self, event: ClientEvent) -> Option<Action> {
        match event {
            ClientEvent::Connection(connection) => self.connection = connection,
            ClientEvent::Message(message) => {
                let unread = self.current.as_deref() != Some(message.room.as_str())
                    && message.sender != self.me;
                let view = self.rooms.entry(message.room.clone()).or_default();
                view.add_message(&message);
                if unread {
                    view.unread += 1;
                }
            }
            ClientEvent::Presence { name, online } => {
                for view in self.rooms.values_mut() {
                    if let Some(shown) = view.members.get_mut(&name) {
                        *shown = online;
                    }
                }
            }
            ClientEvent::RoomJoined {
                room,
                members,
                last_seq,
            } => {
                let view = self.rooms.entry(room.clone()).or_default();
                view.members = members.into_iter().map(|m| (m.name, m.online)).collect();
                if view.newest_seq() > last_seq {
                    // The server's numbering of this room started over (it
                    // restarted without saved history): start the view over.
                    *view = RoomView {
                        members: std::mem::take(&mut view.members),
                        ..RoomView::default()
                    };
                    view.add_notice("! the server restarted without its history".into());
                }
                if self.current.is_none() {
                    self.current = Some(room.clone());
                }
                if view.oldest_seq().is_none() && last_seq > 0 && !view.loading {
                    view.loading = true;
                    return Some(Action::FetchHistory {
                        room,
                        before: Some(last_seq + 1),
                    });
                }
            }
            ClientEvent::RoomLeft { room } => self.forget(&room),
            ClientEvent::MemberJoined { room, name } => {
                if let Some(view) = self.rooms.get_mut(&room) {
                    view.members.insert(name.clone(), true);
                    view.add_notice(format!("→ {name} joined"));
                }
            }
            ClientEvent::MemberLeft { room, name } => {
                if let Some(view) = self.rooms.get_mut(&room) {
                    view.members.remove(&name);
                    view.add_notice(format!("← {name} left"));
                }
            }
            ClientEvent::RoomCreated { .. } | ClientEvent::RoomClosed { .. } => {}
            ClientEvent::FellBehind {
                room,
                first_missed,
                resumed_at,
            } => {
                if let Some(view) = self.rooms.get_mut(&room) {
                    view.add_notice(format!(
                        "! messages #{first_missed} to #{} were lost while the connection lagged",
                        resumed_at.saturating_sub(1)
                    ));
                }
            }
        }
        None
    }

    /// A page of `room`'s history arrived.
    pub fn history_loaded(&mut self, room: &str, page: HistoryPage) {
        if let Some(view) = self.rooms.get_mut(room) {
            for message in &page.messages {
                view.add_message(message);
            }
            view.has_older = page.has_more;
            view.loading = false;
        }
    }

    /// Shows what came of a command.
    pub fn outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Info(text) => self.status = Some(Status { text, error: false }),
            Outcome::Error(text) => self.status = Some(Status { text, error: true }),
            Outcome::SwitchTo(room) => {
                self.rooms.entry(room.clone()).or_default();
                self.switch_to(room);
            }
            Outcome::Left(room) => self.forget(&room),
            Outcome::Quit => self.quit = true,
        }
    }

    /// Handles a key; may hand back work for the event loop.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c' | 'd') if ctrl => {
                self.quit = true;
                None
            }
            KeyCode::Char('u') if ctrl => {
                self.input.clear();
                self.cursor = 0;
                None
            }
            KeyCode::Char(c) => {
                let at = self.byte_index(self.cursor);
                self.input.insert(at, c);
                self.cursor += 1;
                None
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_index(self.cursor);
                self.input.remove(at);
                None
            }
            KeyCode::Delete if self.cursor < self.input.chars().count() => {
                let at = self.byte_index(self.cursor);
                self.input.remove(at);
                None
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                None
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.input.chars().count());
                None
            }
            KeyCode::Home => {
                self.cursor = 0;
                None
            }
            KeyCode::End => {
                self.cursor = self.input.chars().count();
                None
            }
            KeyCode::Tab => self.cycle_room(1),
            KeyCode::BackTab => self.cycle_room(-1),
            KeyCode::PageUp => self.scroll_up(10),
            KeyCode::Up => self.scroll_up(1),
            KeyCode::PageDown => {
                self.scroll = self.scroll.saturating_sub(10);
                None
            }
            KeyCode::Down => {
                self.scroll = self.scroll.saturating_sub(1);
                None
            }
            KeyCode::Enter => self.submit(),
            _ => None,
        }
    }

    /// The typed line: text for the current room, or a command.
    fn submit(&mut self) -> Option<Action> {
        let line = std::mem::take(&mut self.input);
        self.cursor = 0;
        match command::parse(&line) {
            Ok(Line::Empty) => None,
            Ok(Line::Text(text)) => match &self.current {
                Some(room) => {
                    self.scroll = 0;
                    Some(Action::Send {
                        room: room.clone(),
                        text,
                    })
                }
                None => {
                    self.outcome(Outcome::Error("you are in no room; /join one first".into()));
                    None
                }
            },
            Ok(Line::Command(command)) => Some(Action::Run(command)),
            Err(error) => {
                self.outcome(Outcome::Error(error.to_string()));
                None
            }
        }
    }

    fn scroll_up(&mut self, lines: usize) -> Option<Action> {
        self.scroll += lines;
        // Near the top of what is loaded: load older history.
        let room = self.current.clone()?;
        let view = self.rooms.get_mut(&room)?;
        if view.has_older && !view.loading && self.scroll + 20 >= view.entries.len() {
            view.loading = true;
            return Some(Action::FetchHistory {
                before: view.oldest_seq(),
                room,
            });
        }
        None
    }

    fn cycle_room(&mut self, step: isize) -> Option<Action> {
        let names: Vec<&String> = self.rooms.keys().collect();
        if names.is_empty() {
            return None;
        }
        let at = self
            .current
            .as_ref()
            .and_then(|current| names.iter().position(|name| *name == current))
            .unwrap_or(0);
        let next = (at as isize + step).rem_euclid(names.len() as isize) as usize;
        let room = names[next].clone();
        self.switch_to(room);
        None
    }

    fn switch_to(&mut self, room: String) {
        if let Some(view) = self.rooms.get_mut(&room) {
            view.unread = 0;
        }
        self.current = Some(room);
        self.scroll = 0;
    }

    fn forget(&mut self, room: &str) {
        self.rooms.remove(room);
        if self.current.as_deref() == Some(room) {
            self.current = self.rooms.keys().next().cloned();
            self.scroll = 0;
        }
    }

    fn byte_index(&self, chars: usize) -> usize {
        self.input
            .char_indices()
            .nth(chars)
            .map_or(self.input.len(), |(at, _)| at)
    }
}
