//! One line of editable text with a cursor: the message input and the
//! fields of the login screen.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineEdit {
    pub text: String,
    /// The cursor, as a character index into `text`.
    pub cursor: usize,
}

impl LineEdit {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let cursor = text.chars().count();
        LineEdit { text, cursor }
    }

    /// Applies an editing key; says whether it was one.
    pub fn on_key(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('u') if ctrl => self.clear(),
            KeyCode::Char(_) if ctrl || alt => return false,
            // With nothing typed, or with Ctrl, they move the view instead.
            KeyCode::Home | KeyCode::End if ctrl || self.text.is_empty() => return false,
            KeyCode::Char(c) => {
                let at = self.byte_index(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_index(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let at = self.byte_index(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }

    /// Empties the line, handing back what it held.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    pub fn clear(&mut self) {
        self.take();
    }

    fn byte_index(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(at, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(edit: &mut LineEdit, code: KeyCode) -> bool {
        edit.on_key(&KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn edits_at_the_cursor_in_characters_not_bytes() {
        let mut edit = LineEdit::new("한국");
        assert_eq!(edit.cursor, 2);
        press(&mut edit, KeyCode::Left);
        press(&mut edit, KeyCode::Char('x'));
        assert_eq!(edit.text, "한x국");
        press(&mut edit, KeyCode::Delete);
        assert_eq!(edit.text, "한x");
        press(&mut edit, KeyCode::Home);
        assert!(
            press(&mut edit, KeyCode::Backspace),
            "an edge is still a key"
        );
        assert_eq!(edit.text, "한x");
        assert!(!press(&mut edit, KeyCode::Enter));
        assert!(!edit.on_key(&KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)));
        assert_eq!(edit.take(), "한x");
        assert_eq!((edit.text.as_str(), edit.cursor), ("", 0));
    }
}
