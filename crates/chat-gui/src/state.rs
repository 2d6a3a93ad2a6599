//! What the window shows, changed only by [`Update`]s from the network and
//! by the view; no drawing and no I/O.

use std::collections::HashMap;
use std::path::PathBuf;

use chat_client::cli::ConnectArgs;
use chat_client::rooms::Rooms;
use chat_client::{ChatMessage, ClientEvent, Connection, NotifyLevel, SearchPage};

use eframe::egui;

use crate::backend::{Login, Request, Update};

/// How many of a room's newest entries are drawn at first, and how many
/// more each step back; drawing stays cheap however long a room is.
pub const SHOWN_STEP: usize = 200;

#[derive(Debug)]
pub enum Screen {
    Login(LoginForm),
    Chat(Box<ChatView>),
}

/// The first screen. An empty password logs in as a guest.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginForm {
    pub server: String,
    pub name: String,
    pub password: String,
    pub room: String,
    /// A PEM certificate file to trust besides the system's; may be empty.
    pub ca_cert: String,
    /// From the command line, not shown: `--tls` and `--token-file`.
    pub tls: bool,
    pub token_file: Option<PathBuf>,
    pub error: Option<String>,
    pub connecting: bool,
    /// The first empty field takes the keyboard when the form is next
    /// drawn.
    pub focus_pending: bool,
}

impl LoginForm {
    /// The form as the command line fills it in, as `name`.
    pub fn new(args: &ConnectArgs, name: String) -> Self {
        LoginForm {
            server: args.server.clone(),
            name,
            password: String::new(),
            room: args.room.clone(),
            ca_cert: args
                .ca_cert
                .as_ref()
                .map(|path| path.display().to_string())
                .unwrap_or_default(),
            tls: args.tls,
            token_file: args.token_file.clone(),
            error: None,
            connecting: false,
            focus_pending: true,
        }
    }

    /// What the form lacks to log in, or with `register` to create an
    /// account, in words for the person filling it in.
    pub fn missing(&self, register: bool) -> Option<&'static str> {
        if self.server.trim().is_empty() {
            Some("Enter the server's address to connect.")
        } else if self.name.trim().is_empty() {
            Some("Enter a name to connect.")
        } else if register && self.password.is_empty() {
            Some("Choose a password to register the name.")
        } else {
            None
        }
    }

    /// Whether the form says enough to log in, or with `register` to
    /// create an account.
    pub fn ready(&self, register: bool) -> bool {
        !self.connecting && self.missing(register).is_none()
    }

    /// Starts logging in, or with `register` creating an account, if the
    /// form is ready.
    pub fn submit(&mut self, register: bool) -> Option<Request> {
        if !self.ready(register) {
            return None;
        }
        self.connecting = true;
        self.error = None;
        let ca_cert = self.ca_cert.trim();
        let args = ConnectArgs {
            server: self.server.trim().to_owned(),
            name: Some(self.name.trim().to_owned()),
            room: self.room.trim().to_owned(),
            tls: self.tls,
            ca_cert: (!ca_cert.is_empty()).then(|| PathBuf::from(ca_cert)),
            password: !self.password.is_empty(),
            register,
            token_file: self.token_file.clone(),
        };
        Some(Request::Connect(Login {
            args,
            password: self.password.clone(),
        }))
    }
}

// By hand, to keep the password out of debug output.
impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("server", &self.server)
            .field("name", &self.name)
            .field("room", &self.room)
            .field("ca_cert", &self.ca_cert)
            .field("tls", &self.tls)
            .field("token_file", &self.token_file)
            .field("error", &self.error)
            .field("connecting", &self.connecting)
            .finish_non_exhaustive()
    }
}

/// The account window's fields: a new password, and deleting.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct AccountForm {
    pub old_password: String,
    pub new_password: String,
    pub again: String,
    /// The password that confirms deleting the account.
    pub delete_password: String,
}

impl AccountForm {
    /// Why the new password cannot be set yet.
    pub fn change_missing(&self) -> Option<&'static str> {
        if self.old_password.is_empty() || self.new_password.is_empty() {
            Some("Enter the current and the new password.")
        } else if self.new_password != self.again {
            Some("The new password and its repetition differ.")
        } else {
            None
        }
    }
}

// By hand: no password in debug output.
impl std::fmt::Debug for AccountForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountForm").finish_non_exhaustive()
    }
}

/// The search window: what is typed, and what was found (kept while it
/// is closed, there again when it opens).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SearchPanel {
    pub open: bool,
    pub query: String,
    /// Only in the room in view, not in every room.
    pub this_room: bool,
    /// A page is on its way.
    pub searching: bool,
    /// The words and room of the results shown, and the results (hits of
    /// every page so far).
    pub found: Option<(String, Option<String>, SearchPage)>,
    /// The query field takes the keyboard when next drawn.
    pub focus_pending: bool,
}

/// What the user picked to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    Reply(u64),
    /// Edit the message, whose text is this.
    Edit(u64, String),
    Delete(u64),
    React {
        seq: u64,
        emoji: String,
        remove: bool,
    },
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
    /// Whether a room created from the side panel is private.
    pub private: bool,
    /// The account name being typed to open a direct conversation.
    pub direct_field: String,
    /// The topic and the name to invite being typed in the room header.
    pub topic_field: String,
    pub invite_field: String,
    /// The outcome of the last command: text, and whether it is an error.
    pub status: Option<(String, bool)>,
    /// How many of the current room's newest entries are drawn.
    pub shown: usize,
    /// The form that logged in, to go back to when the account is gone.
    pub login: LoginForm,
    /// Logged in to an account (not a guest): it may be changed.
    pub is_account: bool,
    /// The account window, while open.
    pub account: Option<AccountForm>,
    /// The message line takes the keyboard when next drawn.
    pub focus_input: bool,
    /// The message the next one answers, picked from its context menu.
    pub reply_to: Option<u64>,
    /// The user's message whose new text is being typed, instead of a new
    /// message.
    pub editing: Option<u64>,
    /// The message view was scrolled to its top last frame.
    pub at_top: bool,
    /// The message view showed its newest message last frame.
    pub at_bottom: bool,
    /// The window has the keyboard focus (the user is looking at it).
    pub focused: bool,
    /// Messages to tell the user of outside the window, oldest first.
    pub alerts: Vec<Alert>,
    pub search: SearchPanel,
    /// The message jumped to from a search, marked while its room is in
    /// view, and whether the view is still to scroll to it.
    pub focus: Option<(String, u64)>,
    pub scroll_to_focus: bool,
    /// A hit in a room being joined, to show once in it.
    pending_jump: Option<(String, u64)>,
    /// What files' links are shown after (`https://host:port`).
    pub files_base: String,
    pub pictures: Pictures,
}

/// Images' thumbnails, by file id (a file's thumbnail never changes, while
/// its links are given afresh): fetched the first time one is drawn, one
/// texture per image. They are as many as the images of the logs drawn.
#[derive(Default)]
pub struct Pictures {
    by_file: HashMap<String, Picture>,
    /// Files drawn and not fetched yet, with their thumbnails' links.
    wanted: Vec<(String, String)>,
}

/// A thumbnail, as far as it has come.
pub enum Picture {
    Loading,
    /// Its pixels, to make a texture of when next drawn.
    Decoded(egui::ColorImage),
    Shown(egui::TextureHandle),
    Failed(String),
}

impl Pictures {
    /// The thumbnail of file `file`, asked for at `link` if it is new.
    pub fn get(&mut self, file: &str, link: &str) -> &mut Picture {
        if !self.by_file.contains_key(file) {
            self.wanted.push((file.to_owned(), link.to_owned()));
        }
        (self.by_file.entry(file.to_owned())).or_insert(Picture::Loading)
    }

    /// The requests for the pictures drawn since the last call.
    pub fn requests(&mut self) -> Vec<Request> {
        (self.wanted.drain(..))
            .map(|(file, link)| Request::FetchPicture { file, link })
            .collect()
    }

    /// Whether the thumbnail of file `file` is drawn.
    pub fn is_shown(&self, file: &str) -> bool {
        matches!(self.by_file.get(file), Some(Picture::Shown(_)))
    }

    fn arrived(&mut self, file: String, picture: Result<egui::ColorImage, String>) {
        let picture = match picture {
            Ok(image) => Picture::Decoded(image),
            Err(error) => Picture::Failed(error),
        };
        self.by_file.insert(file, picture);
    }
}

impl std::fmt::Debug for Pictures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pictures({} known)", self.by_file.len())
    }
}

/// A message that calls for the user while it looks elsewhere: a desktop
/// notification, and for a mention the window asks for attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `ann in #dev`, or `ann` in a direct conversation.
    pub title: String,
    pub body: String,
    pub mention: bool,
}

/// How many alerts wait at most (a burst while the window is not drawn
/// tells of its newest).
const MOST_ALERTS: usize = 5;

impl ChatView {
    fn new(login: LoginForm, name: &str, is_account: bool) -> Self {
        ChatView {
            server: login.server.clone(),
            login,
            is_account,
            account: None,
            focus_input: true,
            reply_to: None,
            editing: None,
            connection: Connection::Connecting,
            rooms: Rooms::new(name),
            input: String::new(),
            room_field: String::new(),
            private: false,
            direct_field: String::new(),
            topic_field: String::new(),
            invite_field: String::new(),
            status: None,
            shown: SHOWN_STEP,
            at_top: false,
            at_bottom: true,
            focused: true,
            alerts: Vec::new(),
            search: SearchPanel::default(),
            focus: None,
            scroll_to_focus: false,
            pending_jump: None,
            files_base: String::new(),
            pictures: Pictures::default(),
        }
    }

    /// Opens the search window (with what it found last, if anything),
    /// the query field taking the keyboard.
    pub fn open_search(&mut self) {
        self.search.open = true;
        self.search.focus_pending = true;
    }

    /// Searches for what is typed, or (`more`) the next page of what was
    /// found.
    pub fn search(&mut self, more: bool) -> Option<Request> {
        let current = self.rooms.current.clone();
        let panel = &mut self.search;
        let (query, room, page_token) = match (more, &panel.found) {
            (true, Some((query, room, page))) => {
                (query.clone(), room.clone(), page.next_page_token.clone())
            }
            (true, None) => return None,
            (false, _) => {
                let room = current.filter(|_| panel.this_room);
                (panel.query.trim().to_owned(), room, String::new())
            }
        };
        if query.is_empty() || panel.searching {
            return None;
        }
        panel.searching = true;
        if !more {
            panel.found = Some((query.clone(), room.clone(), SearchPage::default()));
        }
        Some(Request::Search {
            query,
            room,
            page_token,
        })
    }

    /// A page of results came (or the search failed).
    fn found(&mut self, page_token: &str, page: Result<SearchPage, String>) {
        let panel = &mut self.search;
        panel.searching = false;
        let Some((_, _, found)) = panel.found.as_mut() else {
            return;
        };
        match page {
            Ok(page) => {
                if page_token.is_empty() {
                    found.hits.clear();
                }
                found.hits.extend(page.hits);
                found.next_page_token = page.next_page_token;
                found.terms = page.terms;
            }
            Err(error) => self.status = Some((error, true)),
        }
    }

    /// Shows search hit `hit` in its room, marked, loading the history
    /// around it; a room the user is not in is joined first.
    pub fn go_to(&mut self, hit: &ChatMessage) -> Option<Request> {
        if !self.rooms.logs.contains_key(&hit.room) {
            self.pending_jump = Some((hit.room.clone(), hit.seq));
            return Some(Request::Join(hit.room.clone()));
        }
        self.jump_to(&hit.room, hit.seq)
    }

    fn jump_to(&mut self, room: &str, seq: u64) -> Option<Request> {
        self.reply_to = None;
        self.stop_editing();
        let request = self.rooms.jump_to(room, seq);
        self.focus = Some((room.to_owned(), seq));
        self.scroll_to_focus = true;
        self.show_focus();
        request.map(|request| Request::History {
            room: request.room,
            before: request.before,
        })
    }

    /// Draws far enough back to show the message jumped to.
    fn show_focus(&mut self) {
        let Some((room, seq)) = &self.focus else {
            return;
        };
        let Some(log) = self.rooms.logs.get(room) else {
            return;
        };
        let after = log.entries.range((*seq, 0)..).count();
        self.shown = self.shown.max(after + SHOWN_STEP / 2);
    }

    /// Shows `room`, from its newest entries.
    pub fn switch_to(&mut self, room: &str) {
        self.reply_to = None;
        self.stop_editing();
        self.rooms.switch_to(room);
        self.shown = SHOWN_STEP;
        self.focus = None;
    }

    /// Types a new text for message `seq` (the user's), starting from its
    /// text now.
    pub fn edit(&mut self, seq: u64, text: &str) {
        self.reply_to = None;
        self.editing = Some(seq);
        self.input = text.to_owned();
        self.focus_input = true;
    }

    /// Back to typing a new message.
    pub fn stop_editing(&mut self) {
        if self.editing.take().is_some() {
            self.input.clear();
        }
    }

    /// What picking `pick` from a message does: a reply or an edit starts
    /// in the message line; the rest go to the server.
    pub fn pick(&mut self, pick: Pick) -> Option<Request> {
        let room = self.rooms.current.clone()?;
        match pick {
            Pick::Reply(seq) => {
                self.stop_editing();
                self.reply_to = Some(seq);
                self.focus_input = true;
                None
            }
            Pick::Edit(seq, text) => {
                self.edit(seq, &text);
                None
            }
            Pick::Delete(seq) => Some(Request::Delete { room, seq }),
            Pick::React { seq, emoji, remove } => Some(Request::React {
                room,
                seq,
                emoji,
                remove,
            }),
        }
    }

    /// A message came: tell of it outside the window if the user is not
    /// looking and its room's level says so.
    fn alert(&mut self, message: &ChatMessage) {
        if self.focused || !self.rooms.notifies(message, false) {
            return;
        }
        let title = match self.rooms.logs.get(&message.room) {
            Some(log) if log.details.direct => message.sender_label(),
            _ => format!("{} in #{}", message.sender_label(), message.room),
        };
        if self.alerts.len() == MOST_ALERTS {
            self.alerts.remove(0);
        }
        self.alerts.push(Alert {
            title,
            body: message.text.clone(),
            mention: message.mentions(self.rooms.me()),
        });
    }

    /// Tells the server how far the user has read the room in view, when
    /// it looks at the newest message.
    pub fn due_mark_read(&mut self) -> Option<Request> {
        if !self.focused || !self.at_bottom {
            return None;
        }
        let (room, seq) = self.rooms.due_mark_read()?;
        Some(Request::MarkRead { room, seq })
    }

    /// What room `room` tells the user about, from now on.
    pub fn set_notify(&mut self, room: &str, level: NotifyLevel) -> Request {
        self.rooms.set_notify(room, level);
        Request::SetNotify {
            room: room.to_owned(),
            level,
        }
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
    pub fn new(form: LoginForm) -> Self {
        State {
            screen: Screen::Login(form),
        }
    }

    /// Applies an update from the network; may need more of it.
    pub fn apply(&mut self, update: Update) -> Option<Request> {
        match (&mut self.screen, update) {
            (
                Screen::Login(form),
                Update::Connected {
                    name,
                    is_account,
                    files_base,
                },
            ) => {
                let mut login = form.clone();
                login.password.clear();
                login.connecting = false;
                let mut view = ChatView::new(login, &name, is_account);
                view.files_base = files_base;
                self.screen = Screen::Chat(Box::new(view));
                None
            }
            (Screen::Chat(view), Update::Picture { file, picture }) => {
                view.pictures.arrived(file, picture);
                None
            }
            (Screen::Chat(view), Update::AccountDeleted) => {
                let mut login = view.login.clone();
                login.error = Some(format!("The account {} is deleted.", view.rooms.me()));
                login.focus_pending = true;
                self.screen = Screen::Login(login);
                None
            }
            (Screen::Chat(view), Update::Said(text)) => {
                view.account = None;
                view.status = Some((text, false));
                None
            }
            (Screen::Login(form), Update::ConnectFailed(error)) => {
                form.connecting = false;
                form.error = Some(error);
                None
            }
            (Screen::Chat(view), Update::Event(event)) => {
                match &event {
                    ClientEvent::Connection(connection) => view.connection = connection.clone(),
                    ClientEvent::Message(message) => view.alert(message),
                    _ => {}
                }
                let request = view.rooms.apply(&event);
                if let Some(notice) = view.rooms.notice.take() {
                    view.status = Some((notice, false));
                }
                let request = request?;
                Some(Request::History {
                    room: request.room,
                    before: request.before,
                })
            }
            (Screen::Chat(view), Update::History { room, page }) => {
                let loaded = page.map_err(|error| view.status = Some((error, true))).ok();
                view.rooms.history_loaded(&room, loaded);
                view.show_focus();
                None
            }
            (Screen::Chat(view), Update::Found { page_token, page }) => {
                view.found(&page_token, page);
                None
            }
            (Screen::Chat(view), Update::Done { room }) => {
                view.status = None;
                match room {
                    Some(room) => {
                        view.switch_to(&room);
                        let jump = view.pending_jump.take();
                        let (room, seq) = jump.filter(|(jumping, _)| *jumping == room)?;
                        view.jump_to(&room, seq)
                    }
                    None => {
                        view.shown = SHOWN_STEP;
                        None
                    }
                }
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
