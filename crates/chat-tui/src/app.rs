//! The terminal UI's state and how keys and server events change it. No
//! drawing and no I/O: what needs the network comes out as an [`Action`].
//! The rooms themselves are the client library's [`Rooms`] model.

use chat_client::rooms::{HistoryRequest, Rooms};
use chat_client::{ClientEvent, Connection, HistoryPage};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::command::{self, Command, Line};
use crate::line_edit::LineEdit;
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

impl From<HistoryRequest> for Action {
    fn from(request: HistoryRequest) -> Self {
        Action::FetchHistory {
            room: request.room,
            before: request.before,
        }
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
    pub server: String,
    pub connection: Connection,
    pub rooms: Rooms,
    /// What is being typed.
    pub input: LineEdit,
    pub status: Option<Status>,
    /// How many lines the message view is scrolled up from the newest.
    pub scroll: usize,
    /// How far the message view can scroll up, as last drawn (`None`
    /// before the first drawing): scrolling stops there.
    pub scroll_limit: Option<usize>,
    /// The commands are shown over the messages, until a key is pressed.
    pub help: bool,
    pub quit: bool,
}

impl App {
    pub fn new(me: impl Into<String>, server: impl Into<String>) -> Self {
        App {
            server: server.into(),
            connection: Connection::Connecting,
            rooms: Rooms::new(me),
            input: LineEdit::default(),
            status: None,
            scroll: 0,
            scroll_limit: None,
            help: false,
            quit: false,
        }
    }

    /// Applies a server event; may ask for history to be loaded.
    pub fn apply(&mut self, event: ClientEvent) -> Option<Action> {
        if let ClientEvent::Connection(connection) = &event {
            self.connection = connection.clone();
        }
        let shown = self.rooms.current.clone();
        let request = self.rooms.apply(&event);
        if self.rooms.current != shown {
            self.scroll = 0;
        }
        if let Some(notice) = self.rooms.notice.take() {
            self.outcome(Outcome::Info(notice));
        }
        request.map(Action::from)
    }

    /// A page of `room`'s history arrived.
    pub fn history_loaded(&mut self, room: &str, page: HistoryPage) {
        self.rooms.history_loaded(room, Some(page));
    }

    /// Shows what came of a command.
    pub fn outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Info(text) => self.status = Some(Status { text, error: false }),
            Outcome::Error(text) => self.status = Some(Status { text, error: true }),
            Outcome::SwitchTo(room) => {
                self.rooms.switch_to(&room);
                self.scroll = 0;
            }
            Outcome::Left(room) => {
                self.rooms.forget(&room);
                self.scroll = 0;
            }
            Outcome::Help => self.help = true,
            Outcome::Quit => self.quit = true,
        }
    }

    /// Handles a key; may hand back work for the event loop.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        // Any key closes the help; Esc does nothing else.
        if std::mem::take(&mut self.help) && key.code == KeyCode::Esc {
            return None;
        }
        match key.code {
            KeyCode::Char('c' | 'd') if ctrl => self.quit = true,
            _ if self.input.on_key(&key) => {}
            KeyCode::Tab => self.cycle_room(1),
            KeyCode::BackTab => self.cycle_room(-1),
            KeyCode::PageUp => return self.scroll_up(10),
            KeyCode::Up => return self.scroll_up(1),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Down => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::End => self.scroll = 0,
            KeyCode::Home => return self.scroll_up(usize::MAX / 2),
            KeyCode::Enter => return self.submit(),
            _ => {}
        }
        None
    }

    /// The typed line: text for the current room, or a command.
    fn submit(&mut self) -> Option<Action> {
        let line = self.input.take();
        match command::parse(&line) {
            Ok(Line::Empty) => None,
            Ok(Line::Text(text)) => match &self.rooms.current {
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
        let limit = self.scroll_limit.unwrap_or(usize::MAX / 2);
        self.scroll = (self.scroll + lines).min(limit);
        // Near the top of what is loaded: load older history.
        let loaded = self.rooms.current_log().map_or(0, |log| log.entries.len());
        if self.scroll + 20 >= loaded {
            return self.rooms.request_older().map(Action::from);
        }
        None
    }

    fn cycle_room(&mut self, step: isize) {
        self.rooms.cycle(step);
        self.scroll = 0;
    }
}
