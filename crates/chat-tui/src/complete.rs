//! Tab completion of the word before the cursor, as irssi and weechat do
//! it: a command's name at the start of the line, otherwise a name from the
//! current room (with or without `@`). Tab again offers the next match.

use crate::line_edit::LineEdit;

#[derive(Debug)]
pub struct Completion {
    /// Where the completed word starts, in characters.
    start: usize,
    matches: Vec<String>,
    /// The match put in last.
    at: usize,
}

impl Completion {
    /// Completes the word before `edit`'s cursor from `commands` (at the
    /// start of the line, after `/`) or `names`, putting in the first
    /// match. `None` if nothing matches.
    pub fn start<'a>(
        edit: &mut LineEdit,
        commands: &[&str],
        names: impl IntoIterator<Item = &'a str>,
    ) -> Option<Self> {
        let before: Vec<char> = edit.text.chars().take(edit.cursor).collect();
        let start = before
            .iter()
            .rposition(|c| c.is_whitespace())
            .map_or(0, |at| at + 1);
        let word: String = before[start..].iter().collect();
        let matches: Vec<String> = match (start, word.strip_prefix('/')) {
            (0, Some(command)) => candidates(commands, command)
                .map(|name| format!("/{name} "))
                .collect(),
            _ => {
                let (at, prefix) = match word.strip_prefix('@') {
                    Some(prefix) => ("@", prefix),
                    None => ("", word.as_str()),
                };
                let suffix = if start == 0 { ": " } else { " " };
                let names: Vec<&str> = names.into_iter().collect();
                candidates(&names, prefix)
                    .map(|name| format!("{at}{name}{suffix}"))
                    .collect()
            }
        };
        if matches.is_empty() {
            return None;
        }
        let completion = Completion {
            start,
            matches,
            at: 0,
        };
        completion.put(edit, word.chars().count());
        Some(completion)
    }

    /// Puts the next match in place of the one put in before.
    pub fn next(&mut self, edit: &mut LineEdit) {
        let replaced = self.matches[self.at].chars().count();
        self.at = (self.at + 1) % self.matches.len();
        self.put(edit, replaced);
    }

    /// Replaces the `replaced` characters at the word's start with the
    /// current match.
    fn put(&self, edit: &mut LineEdit, replaced: usize) {
        let mut chars: Vec<char> = edit.text.chars().collect();
        let end = (self.start + replaced).min(chars.len());
        let put: Vec<char> = self.matches[self.at].chars().collect();
        edit.cursor = self.start + put.len();
        chars.splice(self.start..end, put);
        edit.text = chars.into_iter().collect();
    }
}

/// The words of `words` that start with `prefix`, ignoring case, sorted.
fn candidates<'a>(words: &[&'a str], prefix: &str) -> impl Iterator<Item = &'a str> {
    let prefix = prefix.to_lowercase();
    let mut found: Vec<&str> = (words.iter().copied())
        .filter(|word| word.to_lowercase().starts_with(&prefix))
        .collect();
    found.sort_unstable();
    found.dedup();
    found.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMANDS: &[&str] = &["join", "leave", "list"];

    fn complete(text: &str, names: &[&str]) -> (Option<Completion>, LineEdit) {
        let mut edit = LineEdit::new(text);
        let completion = Completion::start(&mut edit, COMMANDS, names.iter().copied());
        (completion, edit)
    }

    #[test]
    fn names_commands_and_going_round_the_matches() {
        let (completion, edit) = complete("hi b", &["bob", "ann", "Bea"]);
        assert_eq!(edit.text, "hi Bea ");
        let (mut completion, mut edit) = (completion.unwrap(), edit);
        completion.next(&mut edit);
        assert_eq!((edit.text.as_str(), edit.cursor), ("hi bob ", 7));
        completion.next(&mut edit);
        assert_eq!(edit.text, "hi Bea ");

        assert_eq!(complete("an", &["ann"]).1.text, "ann: ");
        assert_eq!(complete("ping @a", &["ann"]).1.text, "ping @ann ");
        assert_eq!(complete("/l", &["lee"]).1.text, "/leave ");
        assert_eq!(
            complete("say /l", &["lee"]).1.text,
            "say /l",
            "not a command"
        );
        assert!(complete("zz", &["ann"]).0.is_none());
    }

    #[test]
    fn completes_before_the_cursor_keeping_what_follows() {
        let mut edit = LineEdit::new("hello a and more");
        edit.cursor = 7;
        Completion::start(&mut edit, COMMANDS, ["ann"]).unwrap();
        assert_eq!(edit.text, "hello ann  and more");
        assert_eq!(edit.cursor, 10);
    }
}
