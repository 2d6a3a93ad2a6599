//! Who a message mentions: each `@name` that is a member of its room, by
//! the names' comparison rules (`@ALICE` and `@аlice` mention `alice`),
//! and `@room`, everyone in it, when a moderator or the owner says it.

use crate::Mentions;

/// `@` tokens looked at per message, at most: a flood of them costs no
/// more than this.
const MOST_TOKENS: usize = 50;

/// The mentions in `text`: members (by `find`, which maps a spelling's
/// [`name_key`](crate::name_key) to the member's name) in the order first
/// mentioned, each once; and `@room` if `may_mention_room`.
pub(crate) fn resolve(
    text: &str,
    may_mention_room: bool,
    find: impl Fn(&str) -> Option<String>,
) -> Mentions {
    let mut mentions = Mentions::default();
    for token in tokens(text).take(MOST_TOKENS) {
        if token.eq_ignore_ascii_case("room") {
            mentions.room |= may_mention_room;
            continue;
        }
        if let Some(name) = find(&crate::name_key(token))
            && !mentions.names.contains(&name)
        {
            mentions.names.push(name);
        }
    }
    mentions
}

/// The words after an `@` that starts a word (not `ann@example.com`):
/// letters, digits, `_`, `-` and `.`, without a sentence's final dots.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('@').filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        let rest = &text[at + 1..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches('.');
        (!token.is_empty()).then_some(token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(key: &str) -> Option<String> {
        ["alice", "bob", "민지", "dot.ted"]
            .into_iter()
            .find(|name| crate::name_key(name) == key)
            .map(str::to_owned)
    }

    #[test]
    fn members_are_mentioned_by_any_spelling_that_looks_the_same() {
        let found = resolve(
            "@ALICE, @аlice and @bob. cc @민지 @dot.ted. not@alice, @carol",
            false,
            members,
        );
        assert_eq!(found.names, ["alice", "bob", "민지", "dot.ted"]);
        assert!(!found.room);
    }

    #[test]
    fn room_is_everyone_when_the_sender_may_say_it() {
        assert!(resolve("@room lunch!", true, members).room);
        assert!(!resolve("@room lunch!", false, members).room);
        assert!(resolve("hi @alice", true, members).names == ["alice"]);
    }
}
