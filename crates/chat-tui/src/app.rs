//! The terminal UI's state and how keys and server events change it. No
//! drawing and no I/O: what needs the network comes out as an [`Action`].
//! The rooms themselves are the client library's [`Rooms`] model.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chat_client::rooms::{Entry, HistoryRequest, Rooms};
use chat_client::{AccountChange, ChatMessage, ClientEvent, Connection, HistoryPage, SearchPage};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::command::{self, AccountCommand, Command, Line, MessageAction};
use crate::complete::Completion;
use crate::history::InputHistory;
use crate::line_edit::LineEdit;
use crate::runner::Outcome;

/// How long a command's outcome stays on the status line; it stays in the
/// room's log.
pub const STATUS_SHOWN: Duration = Duration::from_secs(10);

/// How many messages one history request asks for.
pub const HISTORY_PAGE: u32 = 50;

/// Work for the event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        room: String,
        text: String,
        /// The message of the room this one answers.
        reply_to: Option<u64>,
    },
    Run(Command),
    /// Edit, delete or react to message `seq` of `room` (replies are
    /// sends).
    OnMessage {
        room: String,
        seq: u64,
        action: MessageAction,
    },
    /// Change the account, with the passwords asked for.
    Account(AccountChange),
    /// The user has read `room` up to entry `seq`.
    MarkRead {
        room: String,
        seq: u64,
    },
    /// The next page of the search shown, from `page_token`.
    SearchMore {
        query: String,
        page_token: String,
    },
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

/// What a search found, with the hit picked.
#[derive(Debug)]
pub struct SearchResults {
    pub query: String,
    /// Every page's hits so far, and the last page's token.
    pub page: SearchPage,
    pub selected: usize,
    /// The next page is on its way.
    pub loading: bool,
}

/// The passwords an account command needs, being asked for in the input
/// line (masked, and kept out of the input history).
#[derive(Debug)]
pub struct Asking {
    pub command: AccountCommand,
    answers: Vec<String>,
}

impl Asking {
    /// What is being asked for now.
    pub fn question(&self) -> &'static str {
        self.command.questions()[self.answers.len()]
    }
}

/// The status line's message: the outcome of the last command, until
/// the next one or `STATUS_SHOWN` passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
    pub since: Instant,
}

#[derive(Debug)]
pub struct App {
    pub server: String,
    /// What files' links are shown after (`https://host:port`).
    pub files_base: String,
    pub connection: Connection,
    pub rooms: Rooms,
    /// What is being typed.
    pub input: LineEdit,
    /// Messages typed but not yet taken by the server (room, text), in
    /// the order they go: shown as sending until then.
    pub pending: VecDeque<(String, String)>,
    /// The lines typed before, for Up and Down.
    pub typed: InputHistory,
    /// Passwords being asked for, instead of a line to send.
    pub asking: Option<Asking>,
    /// The message picked with Alt-Up/Down, to answer.
    pub selected: Option<u64>,
    /// The Tab completion under way: Tab again offers its next match.
    completion: Option<Completion>,
    /// The side panels (rooms, members) are shown where they fit; F2
    /// hides them.
    pub panels: bool,
    pub status: Option<Status>,
    /// How many lines the message view is scrolled up from the newest.
    pub scroll: usize,
    /// How far the message view can scroll up, as last drawn (`None`
    /// before the first drawing): scrolling stops there.
    pub scroll_limit: Option<usize>,
    /// The commands are shown over the messages, until a key is pressed.
    pub help: bool,
    /// A search's hits, shown over the messages until one is picked.
    pub search: Option<SearchResults>,
    /// Ring the terminal's bell for what the room's level tells of.
    pub bell: bool,
    /// A message called for the user since the bell last rang.
    rang: bool,
    pub quit: bool,
}

impl App {
    pub fn new(me: impl Into<String>, server: impl Into<String>) -> Self {
        let server = server.into();
        App {
            files_base: match server.contains("://") {
                true => server.trim_end_matches('/').to_owned(),
                false => format!("http://{server}"),
            },
            server,
            connection: Connection::Connecting,
            rooms: Rooms::new(me),
            input: LineEdit::default(),
            pending: VecDeque::new(),
            typed: InputHistory::default(),
            asking: None,
            selected: None,
            completion: None,
            panels: true,
            status: None,
            scroll: 0,
            scroll_limit: None,
            help: false,
            search: None,
            bell: true,
            rang: false,
            quit: false,
        }
    }

    /// Applies a server event; may ask for history to be loaded.
    pub fn apply(&mut self, event: ClientEvent) -> Option<Action> {
        match &event {
            ClientEvent::Connection(connection) => self.connection = connection.clone(),
            ClientEvent::Message(message) => {
                let looking = self.rooms.current.as_ref() == Some(&message.room);
                self.rang |= self.bell && self.rooms.notifies(message, looking);
            }
            _ => {}
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

    /// Whether the bell is to ring (once for what came since it last did).
    pub fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.rang)
    }

    /// Tells the server how far the user has read the room in view (the
    /// newest message, when the view is at the bottom), once it moved:
    /// called every second, so reading a busy room costs a call a second.
    pub fn due_mark_read(&mut self) -> Option<Action> {
        if self.scroll > 0 {
            return None;
        }
        let (room, seq) = self.rooms.due_mark_read()?;
        Some(Action::MarkRead { room, seq })
    }

    /// The oldest pending message was taken by the server, or refused.
    pub fn sent(&mut self) {
        self.pending.pop_front();
    }

    /// A page of `room`'s history arrived.
    pub fn history_loaded(&mut self, room: &str, page: HistoryPage) {
        self.rooms.history_loaded(room, Some(page));
    }

    /// Shows what came of a command: on the status line for a while, and
    /// in the current room's log for good.
    pub fn outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Info(text) => self.say(text, false),
            Outcome::Error(text) => self.say(text, true),
            Outcome::SwitchTo(room) => {
                self.rooms.switch_to(&room);
                self.scroll = 0;
            }
            Outcome::Left(room) => {
                self.rooms.forget(&room);
                self.scroll = 0;
            }
            Outcome::Notify(room, level) => self.rooms.set_notify(&room, level),
            Outcome::Found(query, page) => {
                self.search = Some(SearchResults {
                    query,
                    page,
                    selected: 0,
                    loading: false,
                });
            }
            Outcome::FoundMore(page) => {
                if let Some(search) = &mut self.search {
                    search.loading = false;
                    search.page.hits.extend(page.hits);
                    search.page.next_page_token = page.next_page_token;
                }
            }
            Outcome::Help => self.help = true,
            Outcome::Quit => self.quit = true,
        }
    }

    fn say(&mut self, text: String, error: bool) {
        let mark = if error { "!" } else { "·" };
        self.rooms.note(format!("{mark} {text}"));
        self.status = Some(Status {
            text,
            error,
            since: Instant::now(),
        });
    }

    /// Time passed: a status shown long enough goes.
    pub fn tick(&mut self, now: Instant) {
        if (self.status.as_ref())
            .is_some_and(|status| now.duration_since(status.since) >= STATUS_SHOWN)
        {
            self.status = None;
        }
    }

    /// Handles a key; may hand back work for the event loop.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shifted = ctrl || key.modifiers.contains(KeyModifiers::SHIFT);
        // Any key closes the help; Esc does nothing else.
        if std::mem::take(&mut self.help) && key.code == KeyCode::Esc {
            return None;
        }
        if self.asking.is_some() {
            return self.answer(key);
        }
        if self.search.is_some() {
            return self.on_search_key(key);
        }
        let completion = self.completion.take();
        match key.code {
            KeyCode::Char('c' | 'd') if ctrl => self.quit = true,
            KeyCode::Char('n') if ctrl => self.cycle_room(1),
            KeyCode::Char('p') if ctrl => self.cycle_room(-1),
            KeyCode::Char(digit @ '0'..='9') if alt => self.room_number(digit),
            KeyCode::Up if alt => self.select(-1),
            KeyCode::Down if alt => self.select(1),
            KeyCode::Esc => self.selected = None,
            KeyCode::Right if alt => self.cycle_room(1),
            KeyCode::Left if alt => self.cycle_room(-1),
            KeyCode::Tab => self.complete(completion),
            _ if self.input.on_key(&key) => {}
            KeyCode::F(2) => self.panels = !self.panels,
            KeyCode::Up if shifted => return self.scroll_up(1),
            KeyCode::Down if shifted => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Up => self.recall(|typed, input| typed.older(input).map(str::to_owned)),
            KeyCode::Down => self.recall(|typed, _| typed.newer()),
            KeyCode::PageUp => return self.scroll_up(10),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::End => self.scroll = 0,
            KeyCode::Home => return self.scroll_up(usize::MAX / 2),
            KeyCode::Enter => return self.submit(),
            _ => {}
        }
        None
    }

    /// A key while passwords are asked for: Enter gives the answer, Esc
    /// gives up.
    fn answer(&mut self, key: KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c' | 'd') if ctrl => self.quit = true,
            KeyCode::Esc => {
                self.asking = None;
                self.input.clear();
                self.say("cancelled: nothing changed".into(), false);
            }
            KeyCode::Enter => {
                let asking = self.asking.as_mut()?;
                asking.answers.push(self.input.take());
                if asking.answers.len() == asking.command.questions().len() {
                    let Asking { command, answers } = self.asking.take()?;
                    match command.answered(answers) {
                        Ok(change) => return Some(Action::Account(change)),
                        Err(error) => self.say(error.into(), true),
                    }
                }
            }
            _ => {
                self.input.on_key(&key);
            }
        }
        None
    }

    /// Tab: the next match of the completion under way, or a new one.
    fn complete(&mut self, under_way: Option<Completion>) {
        self.completion = match under_way {
            Some(mut completion) => {
                completion.next(&mut self.input);
                Some(completion)
            }
            None => {
                let me = self.rooms.me().to_owned();
                let names = (self.rooms.current_log().into_iter())
                    .flat_map(|log| log.members.keys())
                    .map(String::as_str)
                    .filter(|name| *name != me);
                Completion::start(&mut self.input, command::COMMANDS, names)
            }
        };
    }

    /// Puts a line typed before (or the draft) in the input.
    fn recall(&mut self, pick: impl FnOnce(&mut InputHistory, &str) -> Option<String>) {
        if let Some(line) = pick(&mut self.typed, &self.input.text) {
            self.input = LineEdit::new(line);
        }
    }

    /// Alt-1 to Alt-9 go to the rooms in the order listed, Alt-0 to the
    /// tenth.
    fn room_number(&mut self, digit: char) {
        let index = digit.to_digit(10).map_or(0, |n| (n as usize + 9) % 10);
        if let Some(room) = self
            .rooms
            .ordered()
            .get(index)
            .map(|room| (*room).to_owned())
        {
            self.rooms.switch_to(&room);
            self.scroll = 0;
        }
    }

    /// The typed line: text for the current room, or a command.
    fn submit(&mut self) -> Option<Action> {
        let line = self.input.take();
        self.typed.remember(&line);
        match command::parse(&line) {
            Ok(Line::Empty) => None,
            Ok(Line::Text(text)) => {
                let reply_to = self.selected.take();
                self.send(text, reply_to)
            }
            Ok(Line::OnMessage { seq, action }) => self.on_message(seq, action),
            Ok(Line::Command(command)) => Some(Action::Run(command)),
            Ok(Line::Account(command)) => {
                self.asking = Some(Asking {
                    command,
                    answers: Vec::new(),
                });
                None
            }
            Err(error) => {
                self.outcome(Outcome::Error(error.to_string()));
                None
            }
        }
    }

    /// `action` on message `seq`, or else the picked one, or else the one
    /// the action goes to by default. Reacting with an emoji one has put
    /// there already takes it back, as clicking a reaction does.
    fn on_message(&mut self, seq: Option<u64>, action: MessageAction) -> Option<Action> {
        let target = seq
            .or_else(|| self.selected.take())
            .or_else(|| match action {
                MessageAction::Reply(_) | MessageAction::React { .. } => self.newest_of_others(),
                MessageAction::Edit(_) | MessageAction::Delete => self.newest_of_mine(),
            });
        let Some(seq) = target else {
            self.outcome(Outcome::Error(
                "there is no message here for that; pick one with Alt-↑".into(),
            ));
            return None;
        };
        let action = match action {
            MessageAction::Reply(text) => return self.send(text, Some(seq)),
            MessageAction::React { emoji, remove } => {
                let me = self.rooms.me();
                let has = |message: &ChatMessage| {
                    let form = chat_client::emoji::reaction_form(&emoji);
                    (message.reactions.iter())
                        .any(|r| Some(r.emoji.as_str()) == form && r.includes(me))
                };
                let remove = remove || self.shown_message(seq).is_some_and(has);
                MessageAction::React { emoji, remove }
            }
            action => action,
        };
        let room = self.rooms.current.clone()?;
        Some(Action::OnMessage { room, seq, action })
    }

    /// `text` for the current room, shown as pending until it is taken.
    fn send(&mut self, text: String, reply_to: Option<u64>) -> Option<Action> {
        let Some(room) = self.rooms.current.clone() else {
            self.outcome(Outcome::Error("you are in no room; /join one first".into()));
            return None;
        };
        self.scroll = 0;
        self.pending.push_back((room.clone(), text.clone()));
        Some(Action::Send {
            room,
            text,
            reply_to,
        })
    }

    /// The messages of the room in view, oldest first.
    pub fn shown_messages(&self) -> Vec<&ChatMessage> {
        (self.rooms.current_log().into_iter())
            .flat_map(|log| log.entries.values())
            .filter_map(|entry| match entry {
                Entry::Message(message) => Some(&**message),
                Entry::Notice(_) => None,
            })
            .collect()
    }

    /// Message `seq` of the room in view, if it is loaded.
    fn shown_message(&self, seq: u64) -> Option<&ChatMessage> {
        match self.rooms.current_log()?.entries.get(&(seq, 0))? {
            Entry::Message(message) => Some(message),
            Entry::Notice(_) => None,
        }
    }

    /// The newest message in view that someone else sent.
    fn newest_of_others(&self) -> Option<u64> {
        let me = self.rooms.me();
        let shown = self.shown_messages();
        (shown.iter().rev())
            .find(|m| !m.is_from(me) && !m.deleted)
            .map(|m| m.seq)
    }

    /// The newest message in view that the user sent.
    fn newest_of_mine(&self) -> Option<u64> {
        let me = self.rooms.me();
        let shown = self.shown_messages();
        (shown.iter().rev())
            .find(|m| m.is_from(me) && !m.deleted)
            .map(|m| m.seq)
    }

    /// Alt-Up (`-1`) selects the message before the selected one (the
    /// newest at first), Alt-Down the one after, and past the newest none.
    /// Deleted messages are passed over: there is nothing to do with them.
    fn select(&mut self, step: isize) {
        let seqs: Vec<u64> = (self.shown_messages().iter())
            .filter(|m| !m.deleted)
            .map(|m| m.seq)
            .collect();
        let at = self
            .selected
            .and_then(|seq| seqs.iter().position(|&s| s == seq));
        self.selected = match (at, step < 0) {
            (None, true) => seqs.last().copied(),
            (None, false) => None,
            (Some(at), true) => seqs.get(at.saturating_sub(1)).copied(),
            (Some(at), false) => seqs.get(at + 1).copied(),
        };
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

    /// A key while a search's hits are shown: ↑↓ pick one (↓ past the
    /// last loads the next page), Enter goes there, anything else closes
    /// them.
    fn on_search_key(&mut self, key: KeyEvent) -> Option<Action> {
        let search = self.search.as_mut()?;
        let last = search.page.hits.len().saturating_sub(1);
        match key.code {
            KeyCode::Up => search.selected = search.selected.saturating_sub(1),
            KeyCode::Down if search.selected == last => {
                let token = &search.page.next_page_token;
                if token.is_empty() || search.loading {
                    return None;
                }
                search.loading = true;
                return Some(Action::SearchMore {
                    query: search.query.clone(),
                    page_token: token.clone(),
                });
            }
            KeyCode::Down => search.selected = (search.selected + 1).min(last),
            KeyCode::Enter => {
                let SearchResults { page, selected, .. } = self.search.take()?;
                let hit = page.hits.into_iter().nth(selected)?;
                return self.go_to(hit);
            }
            _ => self.search = None,
        }
        None
    }

    /// Shows message `hit` in its room, picked, loading the history up to
    /// it if it is not loaded.
    fn go_to(&mut self, hit: ChatMessage) -> Option<Action> {
        if !self.rooms.logs.contains_key(&hit.room) {
            let room = &hit.room;
            self.outcome(Outcome::Info(format!(
                "/join {room} to see it in #{room} (you are not in it)"
            )));
            return None;
        }
        let request = self.rooms.jump_to(&hit.room, hit.seq);
        self.scroll = 0;
        self.selected = Some(hit.seq);
        request.map(|request| Action::FetchHistory {
            room: request.room,
            before: request.before,
        })
    }

    fn cycle_room(&mut self, step: isize) {
        self.rooms.cycle(step);
        self.scroll = 0;
    }
}
