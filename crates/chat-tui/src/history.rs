//! The lines typed before, recalled with Up and Down as in a shell or
//! irssi. What was being typed when Up was first pressed comes back after
//! the newest line.

use std::collections::VecDeque;

/// How many typed lines are remembered.
pub const REMEMBERED: usize = 100;

#[derive(Debug, Default)]
pub struct InputHistory {
    lines: VecDeque<String>,
    /// The line shown, while going through them.
    shown: Option<usize>,
    /// What was typed before going back.
    draft: String,
}

impl InputHistory {
    /// Remembers a line that was entered, unless it repeats the last one.
    pub fn remember(&mut self, line: &str) {
        self.shown = None;
        if line.trim().is_empty() || self.lines.back().is_some_and(|last| last == line) {
            return;
        }
        if self.lines.len() == REMEMBERED {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_owned());
    }

    /// The line before the one shown; `typed` is kept as the draft when
    /// going back starts. `None` at the oldest.
    pub fn older(&mut self, typed: &str) -> Option<&str> {
        let at = match self.shown {
            None => {
                self.draft = typed.to_owned();
                self.lines.len().checked_sub(1)?
            }
            Some(at) => at.checked_sub(1)?,
        };
        self.shown = Some(at);
        Some(&self.lines[at])
    }

    /// The line after the one shown, or the draft after the newest. `None`
    /// when not going through the lines.
    pub fn newer(&mut self) -> Option<String> {
        let at = self.shown? + 1;
        if at < self.lines.len() {
            self.shown = Some(at);
            Some(self.lines[at].clone())
        } else {
            self.shown = None;
            Some(std::mem::take(&mut self.draft))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_back_and_forth_and_returns_to_the_draft() {
        let mut history = InputHistory::default();
        for line in ["one", "two", "two", " ", "three"] {
            history.remember(line);
        }
        assert_eq!(history.older("dra"), Some("three"));
        assert_eq!(history.older("ignored"), Some("two"));
        assert_eq!(history.older(""), Some("one"));
        assert_eq!(history.older(""), None, "one is the oldest");
        assert_eq!(history.newer().as_deref(), Some("two"));
        assert_eq!(history.newer().as_deref(), Some("three"));
        assert_eq!(history.newer().as_deref(), Some("dra"));
        assert_eq!(history.newer(), None);
    }

    #[test]
    fn keeps_a_bounded_number_of_lines() {
        let mut history = InputHistory::default();
        for n in 0..REMEMBERED + 10 {
            history.remember(&n.to_string());
        }
        let mut oldest = String::new();
        while let Some(line) = history.older("") {
            oldest = line.to_owned();
        }
        assert_eq!(oldest, "10");
    }
}
