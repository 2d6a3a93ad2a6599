//! A message as the engine keeps it: its number in the room, sender, text,
//! origin and client id, what became of it since (edits, deletion,
//! reactions), with its wire forms made once for every reader. A
//! [`Change`] to a message takes a number of its own in the room's order,
//! so readers that resume from a number get the changes they missed too.

use std::any::Any;
use std::fmt;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The protocol a message came through, so readers can tell a native user
/// from someone of another protocol sending under the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Stored before origins were kept.
    #[default]
    Unknown,
    Native,
    Classic,
    Lobby,
}

impl Origin {
    /// The number the store keeps.
    pub fn code(self) -> i64 {
        match self {
            Origin::Unknown => 0,
            Origin::Native => 1,
            Origin::Classic => 2,
            Origin::Lobby => 3,
        }
    }

    pub fn from_code(code: i64) -> Self {
        match code {
            1 => Origin::Native,
            2 => Origin::Classic,
            3 => Origin::Lobby,
            _ => Origin::Unknown,
        }
    }
}

/// A message as a sender hands it to the engine, before it has a place in
/// the room's order.
#[derive(Debug, Clone)]
pub struct Draft {
    pub sender: String,
    pub origin: Origin,
    pub text: String,
    /// Chosen by the sender to make a retried send harmless: a second draft
    /// with the same sender and id gets the first one's message back.
    pub client_id: Option<String>,
    /// The earlier message of the room this one answers.
    pub reply_to: Option<u64>,
    /// Files the sender uploaded, sent with it (at most
    /// [`MAX_ATTACHMENTS`](crate::MAX_ATTACHMENTS)); with one, the text
    /// may be empty.
    pub attachments: Vec<Attachment>,
}

/// A message with its place in the room's total order, as it is now; or,
/// when [`updates`](Self::updates) is set, an entry of the order that
/// changed an earlier message, with that message's state after the change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Position in the room, starting at 1, with no gaps.
    pub seq: u64,
    /// How many messages (not changes) the room's order holds up to this
    /// entry, itself included if it is a message: how far apart two
    /// places are in messages, so unread counts need no counting.
    pub ordinal: u64,
    /// Server time of acceptance, milliseconds since the Unix epoch.
    pub sent_at_ms: i64,
    pub sender: String,
    pub origin: Origin,
    pub text: String,
    pub client_id: Option<String>,
    /// The earlier message of the room this one answers.
    pub reply_to: Option<u64>,
    /// When the text was last edited, milliseconds since the Unix epoch.
    pub edited_at_ms: Option<i64>,
    /// Deleted: the text and reactions are gone, the place in the order
    /// stays.
    pub deleted: bool,
    /// Who deleted it, when that was not its sender (a moderator).
    pub deleted_by: Option<String>,
    /// In the order each emoji was first used.
    pub reactions: Vec<Reaction>,
    /// Who it mentions, as resolved when it was sent.
    pub mentions: Mentions,
    /// The files sent with it, in the order given.
    pub attachments: Vec<Attachment>,
    /// Set on an entry that changed message `updates`: then `seq` is the
    /// change's own number and the rest is that message's state after it.
    pub updates: Option<u64>,
    /// This message as protocols send it, made once and shared.
    pub wire: WireForms,
}

/// A file sent with a message: what a reader is shown of it (the file
/// itself is fetched by its id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    /// An image's size in pixels; 0 for other files.
    pub width: u32,
    pub height: u32,
}

/// Who a message mentions: members of its room by name, and the whole
/// room (`@room`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    pub names: Vec<String>,
    pub room: bool,
}

impl Mentions {
    /// Whether `name` is mentioned (by name, or with everyone).
    pub fn include(&self, name: &str) -> bool {
        self.room || self.names.iter().any(|n| n == name)
    }
}

/// One emoji on a message and who put it there, in the order they did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub emoji: String,
    pub names: Vec<String>,
}

/// A change to an earlier message of a room, as a user asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The message changed.
    pub target: u64,
    /// Who changes it.
    pub actor: String,
    /// Server time of acceptance, milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// New text.
    Edit(String),
    Delete,
    /// Adds the actor's `emoji`, or takes it away.
    React {
        emoji: String,
        remove: bool,
    },
}

impl Message {
    /// This message under another sequence number (a shared store moved
    /// it), its wire forms made afresh.
    pub(crate) fn renumbered(&self, seq: u64) -> Self {
        Message {
            seq,
            ordinal: self.ordinal,
            sent_at_ms: self.sent_at_ms,
            sender: self.sender.clone(),
            origin: self.origin,
            text: self.text.clone(),
            client_id: self.client_id.clone(),
            reply_to: self.reply_to,
            edited_at_ms: self.edited_at_ms,
            deleted: self.deleted,
            deleted_by: self.deleted_by.clone(),
            reactions: self.reactions.clone(),
            mentions: self.mentions.clone(),
            attachments: self.attachments.clone(),
            updates: self.updates,
            wire: WireForms::default(),
        }
    }

    pub(crate) fn accept(draft: Draft, mentions: Mentions, seq: u64, ordinal: u64) -> Self {
        Message {
            seq,
            ordinal,
            sent_at_ms: now_ms(),
            sender: draft.sender,
            origin: draft.origin,
            text: draft.text,
            client_id: draft.client_id,
            reply_to: draft.reply_to,
            mentions,
            attachments: draft.attachments,
            ..Message::default()
        }
    }

    /// This message as `change` leaves it. Stores call it inside the
    /// transaction that stores the change, on the state they hold, so
    /// changes made at once (on other nodes too) all count. A change that
    /// no longer applies (to a deleted message) changes nothing.
    pub fn changed(&self, change: &Change) -> Message {
        let mut next = self.renumbered(self.seq);
        next.updates = None;
        if next.deleted {
            return next;
        }
        match &change.kind {
            ChangeKind::Edit(text) => {
                next.text.clone_from(text);
                next.edited_at_ms = Some(change.at_ms);
            }
            ChangeKind::Delete => {
                next.deleted = true;
                next.deleted_by = (change.actor != self.sender).then(|| change.actor.clone());
                next.text.clear();
                next.reactions.clear();
                next.attachments.clear();
            }
            ChangeKind::React { emoji, remove } => {
                react(&mut next.reactions, emoji, &change.actor, *remove);
            }
        }
        next
    }

    /// The entry that announces this message's state under number `seq`,
    /// with `ordinal` the room's messages up to it.
    pub fn as_update(&self, seq: u64, ordinal: u64) -> Message {
        let mut entry = self.renumbered(seq);
        entry.ordinal = ordinal;
        entry.updates = Some(self.seq);
        entry
    }

    /// The update entry of a change to message `target`, which is no
    /// longer kept: it reads as a deleted message.
    pub fn update_of_gone(target: u64, seq: u64, ordinal: u64) -> Message {
        Message {
            seq,
            ordinal,
            deleted: true,
            updates: Some(target),
            ..Message::default()
        }
    }

    /// The message an update entry changed, as the entry left it (its
    /// ordinal is the entry's, not the message's: the caller knows where
    /// the message sits).
    pub fn updated_message(&self) -> Option<Message> {
        let target = self.updates?;
        let mut message = self.renumbered(target);
        message.updates = None;
        Some(message)
    }

    /// A message, not a change to one, and not deleted: what protocols
    /// that know only of new messages show.
    pub fn is_shown_as_new(&self) -> bool {
        self.updates.is_none() && !self.deleted
    }

    /// Whether `name` has put `emoji` on this message.
    pub fn has_reaction(&self, emoji: &str, name: &str) -> bool {
        self.reactions
            .iter()
            .any(|r| r.emoji == emoji && r.names.iter().any(|n| n == name))
    }

    /// How many emoji `name` has put on this message.
    pub fn reactions_by(&self, name: &str) -> usize {
        self.reactions
            .iter()
            .filter(|r| r.names.iter().any(|n| n == name))
            .count()
    }

    /// This message in a protocol's wire form `F`: made by `make` for the
    /// first subscriber that asks, shared with the others. A message fanned
    /// out to a thousand subscribers is encoded once per protocol, not a
    /// thousand times.
    pub fn wire_form<F>(&self, make: impl FnOnce(&Message) -> F) -> F
    where
        F: Any + Clone + Send + Sync,
    {
        let mut make = Some(make);
        for slot in &self.wire.slots {
            let form = slot.get_or_init(|| {
                let make = make.take().expect("only one slot is filled per call");
                Box::new(make(self))
            });
            if let Some(form) = form.downcast_ref::<F>() {
                return form.clone();
            }
        }
        // More forms asked for than there are slots: made, not kept.
        let make = make.expect("a form made by this call is found in its slot");
        make(self)
    }
}

/// Adds `name`'s `emoji` to `reactions` (once), or takes it away (an
/// emoji nobody uses any more goes).
fn react(reactions: &mut Vec<Reaction>, emoji: &str, name: &str, remove: bool) {
    let at = reactions.iter().position(|r| r.emoji == emoji);
    match (at, remove) {
        (Some(at), true) => {
            reactions[at].names.retain(|n| n != name);
            if reactions[at].names.is_empty() {
                reactions.remove(at);
            }
        }
        (Some(at), false) => {
            if !reactions[at].names.iter().any(|n| n == name) {
                reactions[at].names.push(name.to_owned());
            }
        }
        (None, false) => reactions.push(Reaction {
            emoji: emoji.to_owned(),
            names: vec![name.to_owned()],
        }),
        (None, true) => {}
    }
}

/// The wire forms made of one message, one per protocol that sent it; the
/// engine never looks inside. A cache: messages are equal by their content
/// whatever it holds, and a clone starts empty.
#[derive(Default)]
pub struct WireForms {
    slots: [OnceLock<Box<dyn Any + Send + Sync>>; WireForms::SLOTS],
}

impl WireForms {
    /// One per protocol `chatd` speaks.
    const SLOTS: usize = 3;
}

impl Clone for WireForms {
    fn clone(&self) -> Self {
        WireForms::default()
    }
}

impl PartialEq for WireForms {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for WireForms {}

impl fmt::Debug for WireForms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let made = self
            .slots
            .iter()
            .filter(|slot| slot.get().is_some())
            .count();
        write!(f, "WireForms({made} made)")
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn message() -> Message {
        Message::accept(
            Draft {
                sender: "ann".into(),
                origin: Origin::Native,
                text: "hi".into(),
                client_id: None,
                reply_to: None,
                attachments: Vec::new(),
            },
            Mentions::default(),
            1,
            1,
        )
    }

    #[test]
    fn a_wire_form_is_made_once_per_type() {
        let message = message();
        let made = Cell::new(0);
        let shout = |m: &Message| {
            made.set(made.get() + 1);
            m.text.to_uppercase()
        };
        assert_eq!(message.wire_form(shout), "HI");
        assert_eq!(message.wire_form(shout), "HI");
        assert_eq!(made.get(), 1);
        assert_eq!(message.wire_form(|m| m.seq), 1);
        assert_eq!(message.wire_form(|m| m.text.len() as u32), 2);
        assert_eq!(message.wire_form(shout), "HI");
        assert_eq!(made.get(), 1, "other forms do not displace the first");
    }

    #[test]
    fn forms_beyond_the_slots_are_made_every_time() {
        let message = message();
        message.wire_form(|_| 1u8);
        message.wire_form(|_| 2u16);
        message.wire_form(|_| 3u32);
        let made = Cell::new(0);
        for _ in 0..2 {
            let form = message.wire_form(|_| {
                made.set(made.get() + 1);
                4u64
            });
            assert_eq!(form, 4);
        }
        assert_eq!(made.get(), 2);
    }

    #[test]
    fn clones_and_equality_ignore_wire_forms() {
        let original = message();
        original.wire_form(|m| m.text.clone());
        let copy = original.clone();
        assert_eq!(copy, original);
        assert_eq!(format!("{:?}", copy.wire), "WireForms(0 made)");
        assert_eq!(format!("{:?}", original.wire), "WireForms(1 made)");
    }
}
