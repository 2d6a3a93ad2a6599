//! Emoji as the server knows them: GitHub's `:shortcode:`s (the list the
//! server takes in reactions), expanded in what the user types.

/// `text` with each `:shortcode:` the list knows replaced by its emoji;
/// unknown ones, and any inside `code`, stay as typed.
pub fn expand_shortcodes(text: &str) -> String {
    let mut expanded = String::with_capacity(text.len());
    let mut in_code = false;
    let mut rest = text;
    while let Some(at) = rest.find([':', '`']) {
        expanded.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('`') {
            in_code = !in_code;
            expanded.push('`');
            rest = &rest[1..];
            continue;
        }
        let found = (!in_code)
            .then(|| shortcode_at(rest))
            .flatten()
            .and_then(|code| Some((code.len() + 2, emojis::get_by_shortcode(code)?)));
        match found {
            Some((len, emoji)) => {
                expanded.push_str(emoji.as_str());
                rest = &rest[len..];
            }
            None => {
                expanded.push(':');
                rest = &rest[1..];
            }
        }
    }
    expanded.push_str(rest);
    expanded
}

/// The name of the shortcode `text` starts with (`:name:`), if it does.
fn shortcode_at(text: &str) -> Option<&str> {
    let inner = &text[1..];
    let end = inner.find(':')?;
    let name = &inner[..end];
    let fits = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-'));
    fits.then_some(name)
}

/// `emoji` (one emoji or a `:shortcode:`) in the form the server keeps
/// reactions in, if it is one.
pub fn reaction_form(emoji: &str) -> Option<&'static str> {
    let found = match emoji.strip_prefix(':').and_then(|e| e.strip_suffix(':')) {
        Some(shortcode) => emojis::get_by_shortcode(shortcode),
        None => emojis::get(emoji),
    };
    found.map(|emoji| emoji.as_str())
}

/// Up to `limit` shortcodes that start with `prefix`, with their emoji,
/// shortest first: what completing `:pre` offers.
pub fn shortcodes_starting(prefix: &str, limit: usize) -> Vec<(&'static str, &'static str)> {
    let mut found: Vec<(&'static str, &'static str)> = emojis::iter()
        .flat_map(|emoji| emoji.shortcodes().map(move |code| (code, emoji.as_str())))
        .filter(|(code, _)| code.starts_with(prefix))
        .collect();
    found.sort_by_key(|(code, _)| (code.len(), *code));
    found.truncate(limit);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcodes_become_emoji_outside_code() {
        assert_eq!(expand_shortcodes("ok :+1: :tada:!"), "ok 👍 🎉!");
        assert_eq!(
            expand_shortcodes("at 10:30:45 :nope:"),
            "at 10:30:45 :nope:"
        );
        assert_eq!(expand_shortcodes("`:smile:` :smile:"), "`:smile:` 😄");
        assert_eq!(expand_shortcodes("::smile:: :"), ":😄: :");
        assert_eq!(expand_shortcodes("한국어 :heart:"), "한국어 ❤️");
    }

    #[test]
    fn a_reaction_is_one_emoji_in_the_server_s_form() {
        assert_eq!(reaction_form(":thumbsup:"), Some("👍"));
        assert_eq!(reaction_form("\u{2764}"), Some("❤️"));
        assert_eq!(reaction_form("x"), None);
    }

    #[test]
    fn completion_offers_the_shortest_first() {
        let offered = shortcodes_starting("tad", 3);
        assert_eq!(offered.first(), Some(&("tada", "🎉")));
        assert!(shortcodes_starting("zzzz", 3).is_empty());
    }
}
