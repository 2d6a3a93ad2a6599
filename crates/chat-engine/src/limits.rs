//! Size limits on names, texts and client ids, the same on every protocol.

use crate::EngineError;
use crate::names::{check_name_characters, check_text_characters};

/// Longest client-chosen message id, in bytes: room for any UUID or hash.
const MAX_CLIENT_ID_BYTES: usize = 128;

/// Files one message may carry, at most.
pub const MAX_ATTACHMENTS: usize = 10;

/// Size limits on what users send. Every adapter checks through these so all
/// protocols enforce the same rules with the same messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest message text, in UTF-8 bytes.
    pub max_text_bytes: usize,
    /// Longest sender name, in characters.
    pub max_name_chars: usize,
    /// Different emoji on one message, at most.
    pub max_reactions: usize,
    /// Emoji one user puts on one message, at most.
    pub max_reactions_per_user: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text_bytes: 4096,
            max_name_chars: 64,
            max_reactions: 20,
            max_reactions_per_user: 10,
        }
    }
}

impl Limits {
    pub fn check_name(&self, name: &str) -> Result<(), EngineError> {
        let max = self.max_name_chars;
        if name.trim().is_empty() {
            return Err(EngineError::EmptyName { max });
        }
        let len = name.chars().count();
        if len > max {
            return Err(EngineError::NameTooLong { len, max });
        }
        check_name_characters(name)
    }

    pub fn check_client_id(&self, client_id: Option<&str>) -> Result<(), EngineError> {
        match client_id {
            Some(id) if id.len() > MAX_CLIENT_ID_BYTES => Err(EngineError::ClientIdTooLong {
                len: id.len(),
                max: MAX_CLIENT_ID_BYTES,
            }),
            _ => Ok(()),
        }
    }

    /// A message's text and files: the text may be empty only with a file.
    pub fn check_message(&self, text: &str, attachments: usize) -> Result<(), EngineError> {
        if attachments > MAX_ATTACHMENTS {
            return Err(EngineError::TooManyAttachments(MAX_ATTACHMENTS));
        }
        if attachments > 0 && text.is_empty() {
            return Ok(());
        }
        self.check_text(text)
    }

    pub fn check_text(&self, text: &str) -> Result<(), EngineError> {
        if text.trim().is_empty() {
            return Err(EngineError::EmptyText);
        }
        let (len, max) = (text.len(), self.max_text_bytes);
        if len > max {
            return Err(EngineError::TextTooLong { len, max });
        }
        check_text_characters(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_counted_in_characters() {
        let limits = Limits {
            max_name_chars: 3,
            ..Limits::default()
        };
        assert_eq!(limits.check_name("한국어"), Ok(()));
        assert_eq!(
            limits.check_name("한국어!"),
            Err(EngineError::NameTooLong { len: 4, max: 3 })
        );
        assert_eq!(
            limits.check_name("  "),
            Err(EngineError::EmptyName { max: 3 })
        );
    }

    #[test]
    fn text_is_counted_in_bytes() {
        let limits = Limits {
            max_text_bytes: 4,
            ..Limits::default()
        };
        assert_eq!(limits.check_text("🎉"), Ok(()));
        assert_eq!(
            limits.check_text("🎉a"),
            Err(EngineError::TextTooLong { len: 5, max: 4 })
        );
        assert_eq!(limits.check_text(""), Err(EngineError::EmptyText));
        assert_eq!(limits.check_text(" \n"), Err(EngineError::EmptyText));
    }
}
