//! What a client hands the application: [`ClientEvent`]s, and the types in
//! them (messages, rooms, members, history pages), made from the wire's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chat_proto::chat::v1 as wire;

use crate::{SharedFile, printable};

/// The state of the connection to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Online,
    /// Lost; trying again after `retry_in`.
    Offline {
        reason: String,
        retry_in: Duration,
    },
}

/// Something that happened, for the application to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    Connection(Connection),
    Message(ChatMessage),
    /// A message was edited, deleted or reacted to: this is it now.
    MessageUpdated(ChatMessage),
    /// `name` started or stopped typing in `room`.
    Typing {
        room: String,
        name: String,
        typing: bool,
    },
    /// The user has read `room` up to entry `seq` (here, or on another of
    /// its devices).
    ReadMarker {
        room: String,
        seq: u64,
    },
    /// What `room` tells the user about changed (here, or on another of
    /// its devices).
    NotifyChanged {
        room: String,
        level: wire::NotifyLevel,
    },
    /// The user is in `room` (joined now, or again after a reconnect).
    RoomJoined {
        room: String,
        members: Vec<Member>,
        last_seq: u64,
        details: RoomInfo,
    },
    /// The user is out of `room`; `reason` says who made it leave ("kicked
    /// by ann"), if someone did.
    RoomLeft {
        room: String,
        reason: String,
    },
    /// `actor`, an owner or moderator, changed `room`.
    RoomChanged {
        room: String,
        actor: String,
        action: RoomAction,
    },
    /// The user may join private room `room` (`by` is empty when the
    /// invitation is an old one, told again on connecting).
    Invited {
        room: String,
        by: String,
    },
    MemberJoined {
        room: String,
        name: String,
        online: bool,
        /// Has no account.
        guest: bool,
    },
    MemberLeft {
        room: String,
        name: String,
    },
    /// A member of one of the user's rooms came online or went offline.
    Presence {
        name: String,
        online: bool,
    },
    RoomCreated {
        room: String,
    },
    RoomClosed {
        room: String,
    },
    /// Messages `first_missed..resumed_at` of `room` were lost to history
    /// while the connection could not keep up.
    FellBehind {
        room: String,
        first_missed: u64,
        resumed_at: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub room: String,
    pub seq: u64,
    pub sender: String,
    pub origin: Origin,
    pub text: String,
    pub sent_at: SystemTime,
    /// The earlier message of the room this one answers.
    pub reply_to: Option<u64>,
    /// When the text was last edited.
    pub edited_at: Option<SystemTime>,
    /// A tombstone: no text, no reactions.
    pub deleted: bool,
    /// Who deleted it, when not its sender (a moderator).
    pub deleted_by: Option<String>,
    pub reactions: Vec<Reaction>,
    /// The members its `@name`s mean (the server's reading).
    pub mentions: Vec<String>,
    /// `@room` from a moderator: everyone.
    pub mentions_room: bool,
    /// The files sent with it.
    pub files: Vec<SharedFile>,
}

/// An emoji on a message: how many put it there, and the first of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub emoji: String,
    pub count: u32,
    pub names: Vec<String>,
}

/// Reactions as a line under their message: `👍 2  ❤️ 1`; `None` if
/// there are none.
pub fn reactions_line(reactions: &[Reaction]) -> Option<String> {
    let chips: Vec<String> = reactions
        .iter()
        .map(|r| format!("{} {}", r.emoji, r.count))
        .collect();
    (!chips.is_empty()).then(|| chips.join("  "))
}

impl Reaction {
    /// Whether `name` is among those who put it there (as far as the
    /// names the server sends tell).
    pub fn includes(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}

/// The protocol a sender used. Only a native sender's name is its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    #[default]
    Native,
    Classic,
    Lobby,
}

impl ChatMessage {
    /// Whether the native user `name` sent this (not someone of another
    /// protocol who used the name while it was free).
    pub fn is_from(&self, name: &str) -> bool {
        self.origin == Origin::Native && self.sender == name
    }

    /// Whether it calls for `name`'s attention: it mentions `name` (or
    /// the room), and someone else sent it.
    pub fn mentions(&self, name: &str) -> bool {
        !self.is_from(name) && (self.mentions_room || self.mentions.iter().any(|n| n == name))
    }

    /// The sender as shown: its name, marked if it came through a protocol
    /// without login (`ann (classic)`), so nobody passes for a native user.
    pub fn sender_label(&self) -> String {
        match self.origin {
            Origin::Native => self.sender.clone(),
            Origin::Classic => format!("{} (classic)", self.sender),
            Origin::Lobby => format!("{} (lobby)", self.sender),
        }
    }
}

impl From<wire::Message> for ChatMessage {
    fn from(message: wire::Message) -> Self {
        let sent_at = message.sent_at.map_or(UNIX_EPOCH, system_time);
        let origin = match message.origin() {
            wire::Origin::Classic => Origin::Classic,
            wire::Origin::Lobby => Origin::Lobby,
            // Older messages carry none; they were native or classic.
            wire::Origin::Native | wire::Origin::Unspecified => Origin::Native,
        };
        ChatMessage {
            room: printable::line(&message.room),
            seq: message.seq,
            sender: printable::line(&message.sender),
            origin,
            text: printable::text(&message.text),
            sent_at,
            reply_to: Some(message.reply_to).filter(|&seq| seq != 0),
            edited_at: message.edited_at.map(system_time),
            deleted: message.deleted,
            deleted_by: Some(printable::line(&message.deleted_by)).filter(|name| !name.is_empty()),
            reactions: message
                .reactions
                .into_iter()
                .map(|reaction| Reaction {
                    emoji: printable::line(&reaction.emoji),
                    count: reaction.count,
                    names: reaction.names.iter().map(|n| printable::line(n)).collect(),
                })
                .collect(),
            mentions: message
                .mentions
                .iter()
                .map(|n| printable::line(n))
                .collect(),
            mentions_room: message.mentions_room,
            files: message
                .attachments
                .into_iter()
                .map(SharedFile::from)
                .collect(),
        }
    }
}

fn system_time(at: prost_types::Timestamp) -> SystemTime {
    UNIX_EPOCH
        + Duration::from_secs(u64::try_from(at.seconds).unwrap_or(0))
        + Duration::from_nanos(u64::try_from(at.nanos).unwrap_or(0))
}

/// A change an owner or moderator makes to a room (the protocol's own
/// type: `SetTopic(text)`, `Kick(name)`, ..., `Delete(true)`).
pub use wire::room_action::Action as RoomAction;

/// A member's standing in a room, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub enum Role {
    #[default]
    Member,
    Moderator,
    Owner,
}

impl Role {
    /// A mark to show before a member's name: `~` owner, `@` moderator.
    pub fn mark(self) -> &'static str {
        match self {
            Role::Owner => "~",
            Role::Moderator => "@",
            Role::Member => "",
        }
    }
}

impl From<wire::Role> for Role {
    fn from(role: wire::Role) -> Self {
        match role {
            wire::Role::Member => Role::Member,
            wire::Role::Moderator => Role::Moderator,
            wire::Role::Owner => Role::Owner,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Member {
    pub name: String,
    pub online: bool,
    pub role: Role,
    /// May read, not send.
    pub muted: bool,
    /// Has no account: cannot be messaged directly, promoted or given the
    /// room.
    pub guest: bool,
}

impl From<wire::Member> for Member {
    fn from(member: wire::Member) -> Self {
        Member {
            name: printable::line(&member.name),
            online: member.online,
            role: member.role().into(),
            muted: member.muted,
            guest: member.guest,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomInfo {
    pub name: String,
    pub member_count: u32,
    pub last_seq: u64,
    /// Seen only by members and those invited.
    pub private: bool,
    /// A direct conversation with `peer`.
    pub direct: bool,
    pub topic: String,
    /// Empty for the server's own rooms and direct conversations.
    pub owner: String,
    /// The other account of a direct conversation.
    pub peer: String,
    /// The user's own, in a room it is in: where its read marker is, the
    /// messages after it, and those of them that mention the user.
    pub read_seq: u64,
    pub unread_count: u32,
    pub mention_count: u32,
    /// What the room tells the user about (unspecified where it is not in).
    pub notify: wire::NotifyLevel,
}

impl RoomInfo {
    /// How to show the room: `@peer` for a direct conversation, its name
    /// otherwise.
    pub fn title(&self) -> String {
        if self.direct {
            format!("@{}", self.peer)
        } else {
            self.name.clone()
        }
    }
}

impl From<wire::Room> for RoomInfo {
    fn from(room: wire::Room) -> Self {
        RoomInfo {
            name: printable::line(&room.name),
            member_count: room.member_count,
            last_seq: room.last_seq,
            private: room.private,
            direct: room.direct,
            topic: printable::line(&room.topic),
            owner: printable::line(&room.owner),
            peer: printable::line(&room.peer),
            read_seq: room.read_seq,
            unread_count: room.unread_count,
            mention_count: room.mention_count,
            notify: room.notify(),
        }
    }
}

/// A page of search hits, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchPage {
    pub hits: Vec<ChatMessage>,
    /// For the next page; empty on the last.
    pub next_page_token: String,
    /// The words looked for, as the server read them (to highlight).
    pub terms: Vec<String>,
}

/// Messages of one history page, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub messages: Vec<ChatMessage>,
    /// Whether older messages remain.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(sender: &str, origin: wire::Origin) -> ChatMessage {
        ChatMessage::from(wire::Message {
            sender: sender.into(),
            origin: origin.into(),
            text: "hi\u{1b}[2J".into(),
            ..wire::Message::default()
        })
    }

    #[test]
    fn only_a_native_sender_is_who_its_name_says() {
        let native = from("ann", wire::Origin::Native);
        assert!(native.is_from("ann"));
        assert_eq!(native.sender_label(), "ann");
        let classic = from("ann", wire::Origin::Classic);
        assert!(
            !classic.is_from("ann"),
            "a classic `ann` passed for the user"
        );
        assert_eq!(classic.sender_label(), "ann (classic)");
        assert_eq!(
            from("user-3", wire::Origin::Lobby).sender_label(),
            "user-3 (lobby)"
        );
        assert_eq!(
            classic.text, "hi\u{FFFD}[2J",
            "a control character reached the screen"
        );
    }
}
