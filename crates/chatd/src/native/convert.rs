//! Rules for names, and engine values in `chat.v1` wire form.

use chat_engine::Room as EngineRoom;
use chat_engine::{Engine, Limits, MAX_TOPIC_CHARS, Message as EngineMessage};
use chat_proto::chat::v1::room_action::Action as WireAction;
use chat_proto::chat::v1::{
    Attachment, Event, Member, Message, MessageUpdated, NotifyLevel, Origin, Reaction, Role, Room,
    RoomAction, event,
};
use prost_types::Timestamp;
use tonic::Status;

use crate::files::{FileLinks, Grant, Part};
use crate::sessions::attention::RoomAttention;
use crate::sessions::names::MAX_ROOM_CHARS;

/// The most bytes a `Room` takes on the wire under `limits`: its name,
/// topic, owner and peer (4 bytes a character at most) and numbers.
pub fn most_room_bytes(limits: &Limits) -> usize {
    4 * (MAX_ROOM_CHARS + MAX_TOPIC_CHARS + 2 * limits.max_name_chars) + 32
}

/// Names of those who put an emoji on a message that a client is shown.
const REACTION_NAMES: usize = 20;

/// Who a message is converted for: the links to its files are theirs.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub links: &'a FileLinks,
    pub name: &'a str,
}

/// `message` of `room` as `reader` sees it (an update entry as the message
/// it changed).
pub fn message(room: &str, message: &EngineMessage, reader: Reader<'_>) -> Message {
    message_naming(room, message, REACTION_NAMES, Some(reader))
}

/// `message` with up to `names` names per reaction, and links to its files
/// for `reader`, if any.
fn message_naming(
    room: &str,
    message: &EngineMessage,
    names: usize,
    reader: Option<Reader<'_>>,
) -> Message {
    Message {
        room: room.to_owned(),
        seq: message.updates.unwrap_or(message.seq),
        sender: message.sender.clone(),
        text: message.text.clone(),
        sent_at: Some(timestamp(message.sent_at_ms)),
        client_message_id: message.client_id.clone().unwrap_or_default(),
        origin: origin(message.origin).into(),
        reply_to: message.reply_to.unwrap_or(0),
        edited_at: message.edited_at_ms.map(timestamp),
        deleted: message.deleted,
        deleted_by: message.deleted_by.clone().unwrap_or_default(),
        reactions: message
            .reactions
            .iter()
            .map(|reaction| Reaction {
                emoji: reaction.emoji.clone(),
                count: u32::try_from(reaction.names.len()).unwrap_or(u32::MAX),
                names: reaction.names.iter().take(names).cloned().collect(),
            })
            .collect(),
        mentions: message.mentions.names.clone(),
        mentions_room: message.mentions.room,
        attachments: (message.attachments.iter())
            .map(|a| attachment(room, a, reader))
            .collect(),
    }
}

/// A file of a message in `room`, with links for `reader`: to it, and to
/// its thumbnail if it is an image.
fn attachment(
    room: &str,
    file: &chat_engine::Attachment,
    reader: Option<Reader<'_>>,
) -> Attachment {
    let link = |part| {
        reader.map_or_else(String::new, |reader| {
            let grant = Grant {
                id: file.id.clone(),
                part,
                room: room.to_owned(),
                reader: reader.name.to_owned(),
            };
            reader.links.link(&grant, now_secs())
        })
    };
    Attachment {
        id: file.id.clone(),
        name: file.name.clone(),
        mime_type: file.mime_type.clone(),
        size: file.size,
        width: file.width,
        height: file.height,
        url: link(Part::File),
        thumbnail_url: if file.width > 0 {
            link(Part::Thumbnail)
        } else {
            String::new()
        },
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An entry of a room's order as an event: a new message, or the change
/// of one.
pub fn entry_event(room: &str, entry: &EngineMessage, reader: Reader<'_>) -> Event {
    Event {
        event: Some(entry_as(entry, message(room, entry, reader))),
    }
}

fn entry_as(entry: &EngineMessage, message: Message) -> event::Event {
    match entry.updates {
        None => event::Event::Message(message),
        Some(_) => event::Event::MessageUpdated(MessageUpdated {
            message: Some(message),
            seq: entry.seq,
        }),
    }
}

/// An entry as one node hands it to the others: every name kept.
pub fn entry_to_node(room: &str, entry: &EngineMessage) -> Event {
    let message = message_naming(room, entry, usize::MAX, None);
    Event {
        event: Some(entry_as(entry, message)),
    }
}

/// An entry another node handed on, back as the engine's, with its room.
pub fn entry_from_node(event: Event) -> Option<(String, EngineMessage)> {
    let (message, updates) = match event.event? {
        event::Event::Message(message) => (message, None),
        event::Event::MessageUpdated(MessageUpdated { message, seq }) => {
            let message = message?;
            let target = message.seq;
            (Message { seq, ..message }, Some(target))
        }
        _ => return None,
    };
    let origin = match Origin::try_from(message.origin) {
        Ok(Origin::Native) => chat_engine::Origin::Native,
        Ok(Origin::Classic) => chat_engine::Origin::Classic,
        Ok(Origin::Lobby) => chat_engine::Origin::Lobby,
        _ => chat_engine::Origin::Unknown,
    };
    // The ordinal is the cluster's to set: it is not on the wire.
    let engine = EngineMessage {
        seq: message.seq,
        ordinal: 0,
        sent_at_ms: message.sent_at.map_or(0, millis),
        sender: message.sender,
        origin,
        text: message.text,
        client_id: Some(message.client_message_id).filter(|id| !id.is_empty()),
        reply_to: Some(message.reply_to).filter(|&seq| seq != 0),
        edited_at_ms: message.edited_at.map(millis),
        deleted: message.deleted,
        deleted_by: Some(message.deleted_by).filter(|name| !name.is_empty()),
        reactions: message
            .reactions
            .into_iter()
            .map(|reaction| chat_engine::Reaction {
                emoji: reaction.emoji,
                names: reaction.names,
            })
            .collect(),
        mentions: chat_engine::Mentions {
            names: message.mentions,
            room: message.mentions_room,
        },
        attachments: (message.attachments.into_iter())
            .map(|a| chat_engine::Attachment {
                id: a.id,
                name: a.name,
                mime_type: a.mime_type,
                size: a.size,
                width: a.width,
                height: a.height,
            })
            .collect(),
        updates,
        wire: Default::default(),
    };
    Some((message.room, engine))
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

fn millis(at: Timestamp) -> i64 {
    at.seconds * 1000 + i64::from(at.nanos) / 1_000_000
}

fn origin(origin: chat_engine::Origin) -> Origin {
    match origin {
        chat_engine::Origin::Unknown => Origin::Unspecified,
        chat_engine::Origin::Native => Origin::Native,
        chat_engine::Origin::Classic => Origin::Classic,
        chat_engine::Origin::Lobby => Origin::Lobby,
    }
}

/// `room` with what `viewer`, one of its members, has not read.
pub fn room_attending(room: &EngineRoom, viewer: &str, attention: RoomAttention) -> Room {
    Room {
        read_seq: attention.read_seq,
        unread_count: u32::try_from(attention.unread).unwrap_or(u32::MAX),
        mention_count: u32::try_from(attention.mentions).unwrap_or(u32::MAX),
        notify: notify_level(attention.notify).into(),
        ..self::room(room, viewer)
    }
}

pub fn notify_level(level: chat_engine::NotifyLevel) -> NotifyLevel {
    match level {
        chat_engine::NotifyLevel::All => NotifyLevel::All,
        chat_engine::NotifyLevel::Mentions => NotifyLevel::Mentions,
        chat_engine::NotifyLevel::Nothing => NotifyLevel::None,
    }
}

/// A notification level from the wire.
pub fn notify_level_from_wire(level: i32) -> Result<chat_engine::NotifyLevel, Status> {
    match NotifyLevel::try_from(level) {
        Ok(NotifyLevel::All) => Ok(chat_engine::NotifyLevel::All),
        Ok(NotifyLevel::Mentions) => Ok(chat_engine::NotifyLevel::Mentions),
        Ok(NotifyLevel::None) => Ok(chat_engine::NotifyLevel::Nothing),
        _ => Err(Status::invalid_argument(
            "say which level: NOTIFY_LEVEL_ALL, NOTIFY_LEVEL_MENTIONS or NOTIFY_LEVEL_NONE",
        )),
    }
}

/// `room` as user `viewer` sees it.
pub fn room(room: &EngineRoom, viewer: &str) -> Room {
    let access = room.access();
    Room {
        name: room.name().to_owned(),
        member_count: u32::try_from(room.member_count()).unwrap_or(u32::MAX),
        last_seq: room.last_seq(),
        private: access.private,
        direct: access.direct,
        topic: access.topic.clone(),
        owner: access.owner.clone().unwrap_or_default(),
        peer: access
            .participants
            .iter()
            .find(|name| *name != viewer)
            .cloned()
            .unwrap_or_default(),
        ..Room::default()
    }
}

/// `names`, members of `room`, with whether each is online, its role and
/// whether it is muted.
pub fn members(engine: &Engine, room: &EngineRoom, names: Vec<String>) -> Vec<Member> {
    let access = room.access();
    names
        .into_iter()
        .map(|name| Member {
            online: engine.names().is_online(&name),
            role: role(access.role_of(&name)).into(),
            muted: access.is_muted(&name),
            guest: !engine.names().is_registered(&name),
            name,
        })
        .collect()
}

fn role(role: chat_engine::Role) -> Role {
    match role {
        chat_engine::Role::Member => Role::Member,
        chat_engine::Role::Moderator => Role::Moderator,
        chat_engine::Role::Owner => Role::Owner,
    }
}

/// A room action from the wire.
pub fn action_from_wire(action: Option<RoomAction>) -> Result<chat_engine::RoomAction, Status> {
    use chat_engine::RoomAction as A;
    let action = action.and_then(|action| action.action).ok_or_else(|| {
        Status::invalid_argument(
            "say what to do: set one field of `action` (set_topic, invite, ...)",
        )
    })?;
    Ok(match action {
        WireAction::SetTopic(topic) => A::SetTopic(topic),
        WireAction::Invite(name) => A::Invite(name),
        WireAction::Kick(name) => A::Kick(name),
        WireAction::Ban(name) => A::Ban(name),
        WireAction::Unban(name) => A::Unban(name),
        WireAction::Mute(name) => A::Mute(name),
        WireAction::Unmute(name) => A::Unmute(name),
        WireAction::Promote(name) => A::Promote(name),
        WireAction::Demote(name) => A::Demote(name),
        WireAction::TransferOwnership(name) => A::TransferOwnership(name),
        WireAction::Delete(true) => A::Delete,
        WireAction::Delete(false) => {
            return Err(Status::invalid_argument(
                "`delete` must be true to delete the room",
            ));
        }
    })
}

/// A room action in wire form.
pub fn action_to_wire(action: &chat_engine::RoomAction) -> RoomAction {
    use chat_engine::RoomAction as A;
    let action = match action.clone() {
        A::SetTopic(topic) => WireAction::SetTopic(topic),
        A::Invite(name) => WireAction::Invite(name),
        A::Kick(name) => WireAction::Kick(name),
        A::Ban(name) => WireAction::Ban(name),
        A::Unban(name) => WireAction::Unban(name),
        A::Mute(name) => WireAction::Mute(name),
        A::Unmute(name) => WireAction::Unmute(name),
        A::Promote(name) => WireAction::Promote(name),
        A::Demote(name) => WireAction::Demote(name),
        A::TransferOwnership(name) => WireAction::TransferOwnership(name),
        A::Delete => WireAction::Delete(true),
    };
    RoomAction {
        action: Some(action),
    }
}

/// Default and largest page of a listing.
const PAGE_SIZE: (u32, u32) = (100, 1000);

/// How many items a page of a listing has, for a requested `page_size`
/// (0 for the default).
pub fn page_size(page_size: u32) -> usize {
    let size = match page_size {
        0 => PAGE_SIZE.0,
        n => n.min(PAGE_SIZE.1),
    };
    size as usize
}

/// A page of `items` (sorted by `key`, read one past the page's `size` to
/// see whether more follow). Returns the page and the next page's token,
/// empty on the last page.
pub fn page<T>(mut items: Vec<T>, size: usize, key: impl Fn(&T) -> &str) -> (Vec<T>, String) {
    let more = items.len() > size;
    items.truncate(size);
    let next = match items.last() {
        Some(last) if more => key(last).to_owned(),
        _ => String::new(),
    };
    (items, next)
}

/// The page token after search hit `place`.
pub fn search_page_token(place: chat_engine::SearchPlace) -> String {
    place.0.to_string()
}

/// The place a search's page token names; none for the first page.
pub fn search_place(token: &str) -> Result<Option<chat_engine::SearchPlace>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    match token.parse() {
        Ok(place) => Ok(Some(chat_engine::SearchPlace(place))),
        Err(_) => Err(Status::invalid_argument(
            "the page token is not one this server gave; search again from the first page",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_read_one_past_its_size_has_a_next_token() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (page_of_two, token) = page(names(&["a", "b", "c"]), 2, String::as_str);
        assert_eq!((page_of_two, token.as_str()), (names(&["a", "b"]), "b"));
        let (last, token) = page(names(&["c"]), 2, String::as_str);
        assert_eq!((last, token.as_str()), (names(&["c"]), ""));
        assert_eq!(page_size(0), 100);
        assert_eq!(page_size(5000), 1000);
    }

    #[test]
    fn timestamps_split_milliseconds() {
        let msg = EngineMessage {
            seq: 1,
            sent_at_ms: 1_700_000_000_123,
            sender: "a".into(),
            text: "t".into(),
            origin: chat_engine::Origin::Classic,
            ..EngineMessage::default()
        };
        let sent_at = message_naming("r", &msg, 1, None).sent_at.unwrap();
        assert_eq!(
            (sent_at.seconds, sent_at.nanos),
            (1_700_000_000, 123_000_000)
        );
    }
}
