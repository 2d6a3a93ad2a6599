//! What the window shows, changed only by [`Update`]s from the network and
//! by the view; no drawing and no I/O.

use chat_client::rooms::Rooms;
use chat_client::{ClientEvent, Connection};

use crate::backend::{Request, Update};

/// How many of a room's newest entries are drawn at first, and how many
/// more each step back; drawing stays cheap however long a room is.
pub const SHOWN_STEP: usize = 200;

#[derive(Debug)]
pub enum Screen {
    Login(LoginForm),
    Chat(ChatView),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    pub server: String,
    pub name: String,
    pub room: String,
    pub error: Option<String>,
    pub connecting: bool,
}

#[derive(Debug)]
pub struct ChatView {
    pub server: String,
    pub connection: Connection,
    pub rooms: Rooms,
    /// The message being typed.
    pub input: String,
    /// The room name being typed in the side panel.
    pub room_field: String,
    /// The outcome of the last command: text, and whether it is an error.
    pub status: Option<(String, bool)>,
    /// How many of the current room's newest entries are drawn.
    pub shown: usize,
    /// The message view was scrolled to its top last frame.
    pub at_top: bool,
}

impl ChatView {
    fn new(server: String, name: &str) -> Self {
        ChatView {
            server,
            connection: Connection::Connecting,
            rooms: Rooms::new(name),
            input: String::new(),
            room_field: String::new(),
            status: None,
            shown: SHOWN_STEP,
            at_top: false,
        }
    }

    /// Shows `room`, from its newest entries.
    pub fn switch_to(&mut self, room: &str) {
        self.rooms.switch_to(room);
        self.shown = SHOWN_STEP;
    }

    /// Draws further back; asks for older history once all loaded entries
    /// are drawn.
    pub fn show_older(&mut self) -> Option<Request> {
        let loaded = self.rooms.current_log().map_or(0, |log| log.entries.len());
        if self.shown < loaded {
            self.shown += SHOWN_STEP;
            return None;
        }
        let request = self.rooms.request_older()?;
        self.shown += SHOWN_STEP;
        Some(Request::History {
            room: request.room,
            before: request.before,
        })
    }
}

#[derive(Debug)]
pub struct State {
    pub screen: Screen,
}

impl State {
    pub fn new(server: String, name: String, room: String) -> Self {
        State {
            screen: Screen::Login(LoginForm {
                server,
                name,
                room,
                error: None,
                connecting: false,
            }),
        }
    }

    /// Applies an update from the network; may need more of it.
    pub fn apply(&mut self, update: Update) -> Option<Request> {
        match (&mut self.screen, update) {
            (Screen::Login(form), Update::Connected { name }) => {
                let server = form.server.clone();
                self.screen = Screen::Chat(ChatView::new(server, &name));
                None
            }
            (Screen::Login(form), Update::ConnectFailed(error)) => {
                form.connecting = false;
                form.error = Some(error);
                None
            }
            (Screen::Chat(view), Update::Event(event)) => {
                if let ClientEvent::Connection(connection) = &event {
                    view.connection = connection.clone();
                }
                let request = view.rooms.apply(&event)?;
                Some(Request::History {
                    room: request.room,
                    before: request.before,
                })
            }
            (Screen::Chat(view), Update::History { room, page }) => {
                let loaded = page.map_err(|error| view.status = Some((error, true))).ok();
                view.rooms.history_loaded(&room, loaded);
                None
            }
            (Screen::Chat(view), Update::Done { room }) => {
                match room {
                    Some(room) => view.switch_to(&room),
                    None => view.shown = SHOWN_STEP,
                }
                view.status = None;
                None
            }
            (Screen::Chat(view), Update::Failed(error)) => {
                view.status = Some((error, true));
                None
            }
            // Updates for the other screen: nothing to show.
            _ => None,
        }
    }
}
