//! What a client shows of its rooms, kept up to date from [`ClientEvent`]s:
//! each room's messages (by sequence number, so history pages and live
//! messages merge without doubles), notices of who came and went, members
//! and their presence, and unread counts. No drawing: the terminal and
//! desktop clients both render from this.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    ChatMessage, ClientEvent, HistoryPage, Member, NotifyLevel, Role, RoomAction, RoomInfo,
};

/// One line of a room's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Message(Box<ChatMessage>),
    Notice(String),
}

/// How many messages after one jumped to are loaded with it.
const JUMP_CONTEXT: u64 = 25;

/// How many of its newest entries a room not in view keeps: older ones
/// load again from history when scrolled back to, so a client left
/// running in busy rooms stays small.
pub const MOST_ENTRIES: usize = 1000;

/// Where an entry sits: a message by its sequence number; a notice right
/// after the message that preceded it.
pub type EntryKey = (u64, u32);

#[derive(Debug, Default)]
pub struct RoomLog {
    pub entries: BTreeMap<EntryKey, Entry>,
    /// By name.
    pub members: BTreeMap<String, Member>,
    /// Kind, topic and owner.
    pub details: RoomInfo,
    /// Older history may exist before the oldest message shown.
    pub has_older: bool,
    /// A history request is on its way.
    pub loading: bool,
    /// Messages of others after the read marker, and those of them that
    /// mention the user (the server's counts, kept up as messages come).
    pub unread: usize,
    pub mentions: usize,
    /// The entry the user has read the room to, as the server keeps it
    /// (or was last asked to move it to).
    pub read_seq: u64,
    /// Where the "new messages" line goes: after this entry. Set when the
    /// room comes into view with unread messages, gone when it leaves it.
    pub divider: Option<u64>,
    /// Who is typing there now (the server says when each stops).
    pub typing: BTreeSet<String>,
    notices: u32,
}

/// The line a room's log starts with when the user joins it: the room,
/// its topic and who else is there.
fn joined_notice(room: &RoomInfo, members: &BTreeMap<String, Member>, me: &str) -> String {
    let mut said = if room.direct {
        format!("→ you are in your conversation with {}", room.title())
    } else {
        format!("→ you joined #{}", room.name)
    };
    if !room.topic.is_empty() {
        said.push_str(&format!(" · topic: {}", room.topic));
    }
    let others: Vec<&str> = members
        .keys()
        .map(String::as_str)
        .filter(|name| *name != me)
        .collect();
    match others.len() {
        0 => said.push_str(" · nobody else is here"),
        n if n <= 10 => said.push_str(&format!(" · here: {}", others.join(", "))),
        n => said.push_str(&format!(
            " · here: {} and {} more",
            others[..10].join(", "),
            n - 10
        )),
    }
    said
}

impl RoomLog {
    /// The room is in view now: what was not read is below a line. It
    /// counts as read once the marker moves (a room shown for a moment,
    /// as rooms arrive at login, is not read).
    fn came_into_view(&mut self) {
        if self.unread > 0 {
            self.divider = Some(self.read_seq);
        }
    }

    /// Keeps the newest [`MOST_ENTRIES`]; the rest is history again.
    fn trim(&mut self) {
        while self.entries.len() > MOST_ENTRIES {
            self.entries.pop_first();
            self.has_older = true;
        }
    }

    fn newest_seq(&self) -> u64 {
        self.entries.keys().next_back().map_or(0, |key| key.0)
    }

    /// Message `seq` as a reply quotes it: `ann: its first line`, or its
    /// number if it is not loaded.
    pub fn quote(&self, seq: u64) -> String {
        match self.entries.get(&(seq, 0)) {
            Some(Entry::Message(message)) if message.deleted => {
                format!("{}: message deleted", message.sender_label())
            }
            Some(Entry::Message(message)) => {
                let first = message.text.lines().next().unwrap_or_default();
                format!("{}: {first}", message.sender_label())
            }
            _ => format!("message {seq}"),
        }
    }

    /// The oldest message's sequence number, if any message is shown.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.entries.keys().find(|key| key.1 == 0).map(|key| key.0)
    }

    /// Counts the messages after the read marker again, from those loaded
    /// (when they reach back to it).
    fn recount(&mut self, me: &str) {
        if self
            .oldest_seq()
            .is_none_or(|oldest| oldest > self.read_seq + 1)
        {
            return;
        }
        let unread = self
            .entries
            .range((self.read_seq + 1, 0)..)
            .filter_map(|(_, entry)| match entry {
                Entry::Message(message) if !message.is_from(me) => Some(message),
                _ => None,
            });
        let (mut count, mut mentions) = (0, 0);
        for message in unread {
            count += 1;
            mentions += usize::from(message.mentions(me));
        }
        (self.unread, self.mentions) = (count, mentions);
    }

    /// Everything in the room is read: what is shown, to the newest.
    fn read_all(&mut self) {
        self.unread = 0;
        self.mentions = 0;
    }

    fn add_message(&mut self, message: &ChatMessage) {
        self.entries
            .insert((message.seq, 0), Entry::Message(Box::new(message.clone())));
    }

    fn add_notice(&mut self, text: String) {
        self.add_notice_after(self.newest_seq(), text);
    }

    /// A notice placed right after message `seq` (history loaded later
    /// goes before it).
    fn add_notice_after(&mut self, seq: u64, text: String) {
        self.notices += 1;
        self.entries
            .insert((seq, self.notices), Entry::Notice(text));
    }

    /// `actor` changed the room: roles, mutes and topic follow, and the
    /// log says what happened.
    fn changed(&mut self, actor: &str, action: &RoomAction) {
        let mut set_role = |name: &str, role: Role| {
            if let Some(member) = self.members.get_mut(name) {
                member.role = role;
            }
        };
        match action {
            RoomAction::SetTopic(topic) => self.details.topic.clone_from(topic),
            RoomAction::Promote(name) => set_role(name, Role::Moderator),
            RoomAction::Demote(name) => set_role(name, Role::Member),
            RoomAction::TransferOwnership(name) => {
                set_role(actor, Role::Moderator);
                set_role(name, Role::Owner);
                self.details.owner.clone_from(name);
            }
            RoomAction::Mute(name) | RoomAction::Unmute(name) => {
                if let Some(member) = self.members.get_mut(name) {
                    member.muted = matches!(action, RoomAction::Mute(_));
                }
            }
            _ => {}
        }
        self.add_notice(format!("* {}", describe(actor, action)));
    }
}

/// What `actor` did, in words: `ann kicked bob`.
pub fn describe(actor: &str, action: &RoomAction) -> String {
    match action {
        RoomAction::SetTopic(topic) if topic.is_empty() => format!("{actor} cleared the topic"),
        RoomAction::SetTopic(topic) => format!("{actor} set the topic: {topic}"),
        RoomAction::Invite(name) => format!("{actor} invited {name}"),
        RoomAction::Kick(name) => format!("{actor} kicked {name}"),
        RoomAction::Ban(name) => format!("{actor} banned {name}"),
        RoomAction::Unban(name) => format!("{actor} unbanned {name}"),
        RoomAction::Mute(name) => format!("{actor} muted {name}"),
        RoomAction::Unmute(name) => format!("{actor} unmuted {name}"),
        RoomAction::Promote(name) => format!("{actor} made {name} a moderator"),
        RoomAction::Demote(name) => format!("{actor} took {name}'s moderator rights"),
        RoomAction::TransferOwnership(name) => format!("{actor} handed the room to {name}"),
        RoomAction::Delete(_) => format!("{actor} deleted the room"),
    }
}

/// A page of history to load: messages of `room` before `before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRequest {
    pub room: String,
    pub before: Option<u64>,
}

/// The rooms a user is in, and which one is in view.
#[derive(Debug)]
pub struct Rooms {
    me: String,
    pub logs: BTreeMap<String, RoomLog>,
    pub current: Option<String>,
    /// Private rooms the user is invited to and not in, to who invited
    /// (empty if not known).
    pub invitations: BTreeMap<String, String>,
    /// The latest thing to tell the user that belongs to no room in view
    /// (removed from a room, invited to one).
    pub notice: Option<String>,
}

impl Rooms {
    pub fn new(me: impl Into<String>) -> Self {
        Rooms {
            me: me.into(),
            logs: BTreeMap::new(),
            current: None,
            invitations: BTreeMap::new(),
            notice: None,
        }
    }

    /// The user's role in `room`.
    pub fn my_role(&self, room: &str) -> Role {
        self.logs
            .get(room)
            .and_then(|log| log.members.get(&self.me))
            .map_or(Role::Member, |member| member.role)
    }

    /// The rooms in the order shown: rooms by name, then direct
    /// conversations by the other's name.
    pub fn ordered(&self) -> Vec<&str> {
        let mut names: Vec<(bool, String, &str)> = self
            .logs
            .iter()
            .map(|(name, log)| (log.details.direct, log.details.title(), name.as_str()))
            .collect();
        names.sort();
        names.into_iter().map(|(_, _, name)| name).collect()
    }

    /// How to show room `room`: `@peer` for a direct conversation.
    pub fn title(&self, room: &str) -> String {
        self.logs
            .get(room)
            .map_or_else(|| room.to_owned(), |log| log.details.title())
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    pub fn current_log(&self) -> Option<&RoomLog> {
        self.current.as_ref().and_then(|room| self.logs.get(room))
    }

    /// Applies a server event; may ask for history to be loaded.
    pub fn apply(&mut self, event: &ClientEvent) -> Option<HistoryRequest> {
        match event {
            ClientEvent::Message(message) => {
                let in_view = self.current.as_deref() == Some(message.room.as_str());
                let log = self.logs.entry(message.room.clone()).or_default();
                let new = !log.entries.contains_key(&(message.seq, 0));
                log.add_message(message);
                if new && !in_view && !message.is_from(&self.me) {
                    log.unread += 1;
                    log.mentions += usize::from(message.mentions(&self.me));
                }
                if !in_view {
                    log.trim();
                }
            }
            ClientEvent::Typing { room, name, typing } => {
                if let Some(log) = self.logs.get_mut(room) {
                    match typing {
                        true => log.typing.insert(name.clone()),
                        false => log.typing.remove(name),
                    };
                }
            }
            ClientEvent::ReadMarker { room, seq } => {
                // Read here or on another device.
                if let Some(log) = self.logs.get_mut(room)
                    && *seq > log.read_seq
                {
                    log.read_seq = *seq;
                    if *seq >= log.newest_seq() {
                        log.read_all();
                    } else {
                        log.recount(&self.me);
                    }
                }
            }
            ClientEvent::NotifyChanged { room, level } => self.set_notify(room, *level),
            ClientEvent::MessageUpdated(message) => {
                // One not loaded is read as it is now when it is.
                let log = self.logs.get_mut(&message.room);
                if let Some(Entry::Message(shown)) =
                    log.and_then(|log| log.entries.get_mut(&(message.seq, 0)))
                {
                    **shown = message.clone();
                }
            }
            ClientEvent::RoomJoined {
                room,
                members,
                last_seq,
                details,
            } => {
                self.invitations.remove(room);
                let first = !self.logs.contains_key(room);
                let log = self.logs.entry(room.clone()).or_default();
                log.members = members
                    .iter()
                    .map(|m| (m.name.clone(), m.clone()))
                    .collect();
                log.details = details.clone();
                log.read_seq = details.read_seq;
                log.unread = details.unread_count as usize;
                log.mentions = details.mention_count as usize;
                if log.newest_seq() > *last_seq {
                    // The server's numbering of this room started over (it
                    // restarted without saved history): start the log over.
                    *log = RoomLog {
                        members: std::mem::take(&mut log.members),
                        ..RoomLog::default()
                    };
                    log.add_notice("! the server restarted without its history".into());
                }
                // As IRC clients do; not again when a reconnection resumes.
                if first {
                    let said = joined_notice(&log.details, &log.members, &self.me);
                    log.add_notice_after(*last_seq, said);
                }
                if self.current.is_none() {
                    self.current = Some(room.clone());
                }
                let log = self.logs.get_mut(room).expect("just added");
                if self.current.as_deref() == Some(room.as_str()) {
                    log.came_into_view();
                }
                if log.oldest_seq().is_none() && *last_seq > 0 && !log.loading {
                    log.loading = true;
                    return Some(HistoryRequest {
                        room: room.clone(),
                        before: Some(last_seq + 1),
                    });
                }
            }
            ClientEvent::RoomLeft { room, reason } => {
                if !reason.is_empty() {
                    self.notice = Some(format!("you left {}: {reason}", self.title(room)));
                }
                self.forget(room);
            }
            ClientEvent::RoomChanged {
                room,
                actor,
                action,
            } => {
                // The room goes next: say so where the user will look.
                if matches!(action, RoomAction::Delete(_)) {
                    self.notice = Some(format!("{actor} deleted {}", self.title(room)));
                }
                if let Some(log) = self.logs.get_mut(room) {
                    log.changed(actor, action);
                }
            }
            ClientEvent::Invited { room, by } => {
                if !self.logs.contains_key(room) {
                    self.invitations.insert(room.clone(), by.clone());
                    if !by.is_empty() {
                        self.notice = Some(format!("{by} invited you to {room}: /join {room}"));
                    }
                }
            }
            ClientEvent::MemberJoined {
                room,
                name,
                online,
                guest,
            } => {
                if let Some(log) = self.logs.get_mut(room) {
                    let member = Member {
                        name: name.clone(),
                        online: *online,
                        guest: *guest,
                        ..Member::default()
                    };
                    log.members.insert(name.clone(), member);
                    log.add_notice(format!("→ {name} joined"));
                }
            }
            ClientEvent::MemberLeft { room, name } => {
                if let Some(log) = self.logs.get_mut(room) {
                    log.members.remove(name);
                    log.add_notice(format!("← {name} left"));
                }
            }
            ClientEvent::Presence { name, online } => {
                for log in self.logs.values_mut() {
                    if let Some(shown) = log.members.get_mut(name) {
                        shown.online = *online;
                    }
                }
            }
            ClientEvent::FellBehind {
                room,
                first_missed,
                resumed_at,
            } => {
                if let Some(log) = self.logs.get_mut(room) {
                    log.add_notice(format!(
                        "! messages #{first_missed} to #{} were lost while the connection lagged",
                        resumed_at.saturating_sub(1)
                    ));
                }
            }
            ClientEvent::Connection(_)
            | ClientEvent::RoomCreated { .. }
            | ClientEvent::RoomClosed { .. } => {}
        }
        None
    }

    /// A page of `room`'s history arrived (or failed: `None`).
    pub fn history_loaded(&mut self, room: &str, page: Option<HistoryPage>) {
        if let Some(log) = self.logs.get_mut(room) {
            log.loading = false;
            if let Some(page) = page {
                for message in &page.messages {
                    log.add_message(message);
                }
                log.has_older = page.has_more;
            }
        }
    }

    /// The page before the oldest message of the current room, if there may
    /// be one and none is on its way.
    pub fn request_older(&mut self) -> Option<HistoryRequest> {
        let room = self.current.clone()?;
        let log = self.logs.get_mut(&room)?;
        if !log.has_older || log.loading {
            return None;
        }
        log.loading = true;
        Some(HistoryRequest {
            before: log.oldest_seq(),
            room,
        })
    }

    /// Shows `room`, which the user is in, at message `seq`: the page of
    /// history that holds it and some messages after it, if it is not
    /// loaded. (What lies between that page and the messages loaded
    /// already is not loaded.)
    pub fn jump_to(&mut self, room: &str, seq: u64) -> Option<HistoryRequest> {
        if !self.logs.contains_key(room) {
            return None;
        }
        self.switch_to(room);
        let log = self.logs.get_mut(room)?;
        if log.entries.contains_key(&(seq, 0)) {
            return None;
        }
        log.loading = true;
        Some(HistoryRequest {
            room: room.to_owned(),
            before: Some(seq + JUMP_CONTEXT),
        })
    }

    /// Shows `room` (adding it if new), with a line where the unread
    /// messages begin.
    pub fn switch_to(&mut self, room: &str) {
        let left = self.current.replace(room.to_owned());
        if let Some(log) = left
            .filter(|left| left != room)
            .and_then(|left| self.logs.get_mut(&left))
        {
            log.trim();
            log.divider = None;
        }
        let log = self.logs.entry(room.to_owned()).or_default();
        log.came_into_view();
        self.current = Some(room.to_owned());
    }

    /// The newest message of the room in view, if the server has not yet
    /// been told the user read it; from then on it is taken as told. Asked
    /// while the user looks at the newest messages.
    pub fn due_mark_read(&mut self) -> Option<(String, u64)> {
        let room = self.current.clone()?;
        let log = self.logs.get_mut(&room)?;
        let newest = log.entries.keys().rev().find(|key| key.1 == 0)?.0;
        if newest <= log.read_seq {
            return None;
        }
        log.read_seq = newest;
        log.read_all();
        Some((room, newest))
    }

    /// Whether `message`, just come, is one to tell the user of (a bell,
    /// a notification), by its room's level: every message of others, or
    /// only those that mention the user, or none. `looking` says the user
    /// has the room in view: then only a mention calls.
    pub fn notifies(&self, message: &ChatMessage, looking: bool) -> bool {
        if message.is_from(&self.me) {
            return false;
        }
        let level = self
            .logs
            .get(&message.room)
            .map_or(NotifyLevel::Unspecified, |log| log.details.notify);
        match level {
            NotifyLevel::None => false,
            NotifyLevel::All if !looking => true,
            _ => message.mentions(&self.me),
        }
    }

    /// What room `room` tells the user about, as the user just set it.
    pub fn set_notify(&mut self, room: &str, level: NotifyLevel) {
        if let Some(log) = self.logs.get_mut(room) {
            log.details.notify = level;
        }
    }

    /// Shows the room `step` places after the current one, going round.
    pub fn cycle(&mut self, step: isize) {
        let names: Vec<String> = self.ordered().into_iter().map(str::to_owned).collect();
        if names.is_empty() {
            return;
        }
        let at = self
            .current
            .as_ref()
            .and_then(|current| names.iter().position(|name| name == current))
            .unwrap_or(0);
        let next = (at as isize + step).rem_euclid(names.len() as isize) as usize;
        self.switch_to(&names[next]);
    }

    /// The user is out of `room`: drop it, and show another if it was shown.
    /// A line of the client's own (what came of a command) in the log of
    /// the room in view, if there is one.
    pub fn note(&mut self, text: String) {
        if let Some(log) = (self.current.as_ref()).and_then(|room| self.logs.get_mut(room)) {
            log.add_notice(text);
        }
    }

    pub fn forget(&mut self, room: &str) {
        self.logs.remove(room);
        if self.current.as_deref() == Some(room) {
            self.current = self.ordered().first().map(|name| (*name).to_owned());
        }
    }
}
