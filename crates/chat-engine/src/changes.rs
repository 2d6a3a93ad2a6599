//! Changes to sent messages: who may make which, and what a reaction may
//! be. The room applies them ([`Room::change`](crate::Room::change)).

use crate::{ChangeKind, EngineError, Limits, Message, Role};

/// Who asks for a change to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    /// Messages sent under the name from this time on (milliseconds since
    /// the Unix epoch) are the author's own: a guest's from the start of
    /// its session (the name may have been someone else's before), an
    /// account's from its creation.
    pub since_ms: i64,
}

impl Author {
    /// Whether the author sent `message`.
    pub fn wrote(&self, message: &Message) -> bool {
        message.sender == self.name && message.sent_at_ms >= self.since_ms
    }
}

/// `emoji` in the one form reactions keep: an emoji fully qualified, or
/// the emoji a `:shortcode:` (GitHub's, as the clients offer) names.
pub fn reaction_emoji(emoji: &str) -> Result<String, EngineError> {
    let found = match emoji.strip_prefix(':').and_then(|e| e.strip_suffix(':')) {
        Some(shortcode) => emojis::get_by_shortcode(shortcode),
        None => emojis::get(emoji),
    };
    found
        .map(|emoji| emoji.as_str().to_owned())
        .ok_or_else(|| EngineError::NotAnEmoji(emoji.chars().take(32).collect()))
}

/// Whether `author`, with `role` in room `room`, may make a change of
/// `kind` to `message`: `Ok(false)` when it would change nothing (an edit
/// to the same text, a reaction already there or not there to remove, a
/// second deletion).
pub(crate) fn check(
    room: &str,
    message: &Message,
    author: &Author,
    role: Role,
    kind: &ChangeKind,
    limits: &Limits,
) -> Result<bool, EngineError> {
    let gone = || EngineError::MessageDeleted {
        room: room.to_owned(),
        seq: message.seq,
    };
    match kind {
        ChangeKind::Edit(text) => {
            if !author.wrote(message) {
                return Err(EngineError::NotAllowed(
                    "only its sender may edit a message".into(),
                ));
            }
            if message.deleted {
                return Err(gone());
            }
            Ok(*text != message.text)
        }
        ChangeKind::Delete => {
            if !author.wrote(message) && role == Role::Member {
                return Err(EngineError::NotAllowed(format!(
                    "only its sender, or a moderator of `{room}`, may delete a message"
                )));
            }
            Ok(!message.deleted)
        }
        ChangeKind::React { emoji, remove } => {
            if message.deleted {
                return Err(gone());
            }
            let has = message.has_reaction(emoji, &author.name);
            if *remove || has {
                return Ok(*remove && has);
            }
            let is_new = !message.reactions.iter().any(|r| r.emoji == *emoji);
            if is_new && message.reactions.len() >= limits.max_reactions {
                return Err(EngineError::TooManyReactions(limits.max_reactions));
            }
            if message.reactions_by(&author.name) >= limits.max_reactions_per_user {
                return Err(EngineError::TooManyOwnReactions(
                    limits.max_reactions_per_user,
                ));
            }
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emoji_or_its_shortcode_is_one_reaction() {
        assert_eq!(reaction_emoji("👍").unwrap(), "👍");
        assert_eq!(reaction_emoji(":thumbsup:").unwrap(), "👍");
        assert_eq!(reaction_emoji(":+1:").unwrap(), "👍");
        // Minimally qualified comes back fully qualified.
        assert_eq!(reaction_emoji("\u{2764}").unwrap(), "\u{2764}\u{fe0f}");
        assert_eq!(reaction_emoji("👍🏽").unwrap(), "👍🏽");
        for not_one in ["", "a", "👍👍", ":nope:", "👍 ", "thumbsup", "<b>"] {
            assert!(
                matches!(reaction_emoji(not_one), Err(EngineError::NotAnEmoji(_))),
                "{not_one:?}"
            );
        }
    }
}
