//! What names and text may hold, and when two names are the same to a
//! reader.
//!
//! Names are compared by [`name_key`]: Unicode NFKC, case folding, and the
//! confusable skeleton of Unicode TS #39, so `ALICE`, `alice` and `аlice`
//! (with a Cyrillic а) are one name. Characters a reader cannot see or that
//! change how text around them is shown are refused outright.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::EngineError;

/// The form in which two names that look alike are equal.
pub fn name_key(name: &str) -> String {
    let folded = caseless::default_case_fold_str(&name.nfkc().collect::<String>());
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    // Runs of spaces look like one.
    skeleton.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks that `name` holds only characters a reader sees, and no space at
/// either end.
pub fn check_name_characters(name: &str) -> Result<(), EngineError> {
    if let Some(hidden) = name.chars().find(|&c| is_hidden_in_names(c)) {
        return Err(EngineError::NameHasHiddenCharacter(u32::from(hidden)));
    }
    if name.trim() != name {
        return Err(EngineError::NamePadded);
    }
    Ok(())
}

/// Checks that message text holds no control characters but newline and
/// tab, and nothing that reorders the text around it.
pub fn check_text_characters(text: &str) -> Result<(), EngineError> {
    match text.chars().find(|&c| is_forbidden_in_text(c)) {
        Some(c) => Err(EngineError::TextHasControlCharacter(u32::from(c))),
        None => Ok(()),
    }
}

/// Bidirectional embeddings, overrides and isolates: they reorder what
/// follows them, so text can pretend to say something else.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_forbidden_in_text(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// Controls, format characters (zero-width spaces and joiners, bidi
/// controls, byte order marks), separators other than the space,
/// unassigned and private-use code points, and the invisible letters and
/// selectors that are used to fake names.
fn is_hidden_in_names(c: char) -> bool {
    use GeneralCategory::*;
    matches!(
        c.general_category(),
        Control | Format | LineSeparator | ParagraphSeparator | PrivateUse | Surrogate | Unassigned
    ) || (c.general_category() == SpaceSeparator && c != ' ')
        || matches!(
            c,
            // Combining grapheme joiner, Mongolian selectors, variation
            // selectors, Hangul fillers, braille blank.
            '\u{034F}'
                | '\u{180B}'..='\u{180F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{2800}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_look_alike_have_one_key() {
        let alice = name_key("alice");
        for look_alike in ["ALICE", "Alice", "\u{0430}lice", "ａｌｉｃｅ"] {
            assert_eq!(name_key(look_alike), alice, "{look_alike:?}");
        }
        assert_eq!(name_key("rn"), name_key("m"));
        assert_eq!(name_key("ann  lee"), name_key("ann lee"));
        assert_ne!(name_key("alice"), name_key("alicia"));
        assert_eq!(name_key("민지"), name_key("민지"));
    }

    #[test]
    fn names_with_what_a_reader_cannot_see_are_refused() {
        for hidden in [
            "alice\u{200B}",
            "al\u{200D}ice",
            "alice\u{202E}",
            "\u{FEFF}alice",
            "ali\u{00AD}ce",
            "a\u{3164}",
            "bell\u{7}",
            "esc\u{1b}[2J",
            "tab\there",
            "nbsp\u{A0}here",
        ] {
            assert!(
                matches!(
                    check_name_characters(hidden),
                    Err(EngineError::NameHasHiddenCharacter(_))
                ),
                "{hidden:?}"
            );
        }
        assert_eq!(
            check_name_characters(" alice"),
            Err(EngineError::NamePadded)
        );
        assert_eq!(
            check_name_characters("alice "),
            Err(EngineError::NamePadded)
        );
        for fine in ["alice", "Ann Lee", "민지", "josé", "O'Brien", "🙂"] {
            assert_eq!(check_name_characters(fine), Ok(()), "{fine:?}");
        }
    }

    #[test]
    fn text_may_have_newlines_and_tabs_but_no_other_controls() {
        assert_eq!(check_text_characters("two\nlines\tand a tab 👋"), Ok(()));
        for bad in [
            "\u{1b}[2J",
            "\u{1b}]0;x\u{7}",
            "fake\r[09:00] admin: hi",
            "\u{7f}",
            "\u{85}",
            "\u{202E}txt",
        ] {
            assert!(check_text_characters(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_text_characters("a\u{1b}b"),
            Err(EngineError::TextHasControlCharacter(0x1b))
        );
    }
}
