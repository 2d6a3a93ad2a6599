//! What the clients show of a search: the words found in a hit's text.

/// `text` cut into parts, each with whether it is one of `terms` (case
/// aside): the words found, to mark.
pub fn marked<'a>(text: &'a str, terms: &[String]) -> Vec<(&'a str, bool)> {
    let mut parts = Vec::new();
    let (mut plain, mut at) = (0, 0);
    while at < text.len() {
        let found = terms.iter().find_map(|term| matched_len(&text[at..], term));
        match found {
            Some(len) if len > 0 => {
                if plain < at {
                    parts.push((&text[plain..at], false));
                }
                parts.push((&text[at..at + len], true));
                at += len;
                plain = at;
            }
            _ => at += text[at..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if plain < text.len() {
        parts.push((&text[plain..], false));
    }
    parts
}

/// How many bytes at the start of `text` match `term`, case aside.
fn matched_len(text: &str, term: &str) -> Option<usize> {
    let mut len = 0;
    let mut chars = text.chars();
    for wanted in term.chars() {
        let c = chars.next()?;
        if !c.to_lowercase().eq(wanted.to_lowercase()) {
            return None;
        }
        len += c.len_utf8();
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_found_are_marked_case_aside_inside_words_too() {
        let terms = ["ADDRESS".to_owned(), "서울".to_owned()];
        assert_eq!(
            marked("my address: 서울역, Address", &terms),
            [
                ("my ", false),
                ("address", true),
                (": ", false),
                ("서울", true),
                ("역, ", false),
                ("Address", true),
            ]
        );
        assert_eq!(marked("nothing", &terms), [("nothing", false)]);
        assert!(marked("", &terms).is_empty());
    }
}
