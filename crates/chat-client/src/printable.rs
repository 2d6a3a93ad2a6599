//! What comes from the network, made safe to show: a control character
//! could move a terminal's cursor, clear its screen or retitle its window,
//! and a direction override could make text read as something else. Both
//! clients draw only what passes through here (the client does it as it
//! turns wire values into its own), whatever the server let through.

/// Shown in place of a character that must not reach the screen.
const REPLACEMENT: char = '\u{FFFD}';

/// `name` on one line: every control and format character replaced.
pub fn line(name: &str) -> String {
    clean(name, |c| {
        if is_unsafe(c) || c == '\n' || c == '\t' {
            Some(REPLACEMENT)
        } else {
            None
        }
    })
}

/// Message `text`: newlines kept, tabs as spaces, every other control and
/// format character replaced.
pub fn text(text: &str) -> String {
    clean(text, |c| match c {
        '\n' => None,
        '\t' => Some(' '),
        c if is_unsafe(c) => Some(REPLACEMENT),
        _ => None,
    })
}

fn clean(raw: &str, replace: impl Fn(char) -> Option<char>) -> String {
    if raw.chars().all(|c| replace(c).is_none()) {
        return raw.to_owned();
    }
    raw.chars().map(|c| replace(c).unwrap_or(c)).collect()
}

/// Controls (C0, DEL, C1) and the invisible characters that reorder or
/// hide text: bidi controls and marks, zero-width spaces and joiners, byte
/// order marks.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_never_pass() {
        assert_eq!(line("evil\u{1b}[2J"), "evil\u{FFFD}[2J");
        assert_eq!(line("a\nb\tc"), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(text("\u{1b}]0;x\u{7}title"), "\u{FFFD}]0;x\u{FFFD}title");
        assert_eq!(
            text("fake\r[09:00] admin: hi"),
            "fake\u{FFFD}[09:00] admin: hi"
        );
        assert_eq!(text("two\nlines\tand\u{202E}"), "two\nlines and\u{FFFD}");
        assert_eq!(text("안녕 👋"), "안녕 👋");
    }
}
