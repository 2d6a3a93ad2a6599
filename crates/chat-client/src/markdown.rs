//! Message text as the clients show it: the safe subset of Markdown the
//! web client renders (emphasis, strong, strikethrough, code, code blocks,
//! quotes, lists, links), as lines of styled runs for a terminal or a
//! window to draw. Raw HTML stays text; images show as their text.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// How a run of text is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub strong: bool,
    pub emphasis: bool,
    pub struck: bool,
    pub code: bool,
    pub link: bool,
    /// In a quote.
    pub quoted: bool,
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub style: Style,
}

/// One shown line: its runs, in order.
pub type StyledLine = Vec<Run>;

/// `text` as lines of styled runs. A line break in the text is one in
/// the result, as chat writers mean it.
pub fn lines(text: &str) -> Vec<StyledLine> {
    let mut out = Lines::default();
    for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH) {
        out.take(event);
    }
    let mut lines = out.lines;
    if !out.line.is_empty() || lines.is_empty() {
        lines.push(out.line);
    }
    lines
}

/// The lines being built, and the style in force.
#[derive(Default)]
struct Lines {
    lines: Vec<StyledLine>,
    line: StyledLine,
    style: Style,
    /// Quote and list nesting, whose marks start each line.
    quotes: usize,
    items: usize,
    /// The open link's address and where its text began in the line.
    link: Option<(String, usize)>,
}

impl Lines {
    fn take(&mut self, event: Event) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => {
                let style = Style {
                    code: true,
                    ..self.style
                };
                self.push(&code, style);
            }
            // Raw HTML is shown as written.
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html),
            Event::SoftBreak | Event::HardBreak => self.break_line(),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Emphasis => self.style.emphasis = true,
            Tag::Strong => self.style.strong = true,
            Tag::Strikethrough => self.style.struck = true,
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.style.link = true;
                self.link = Some((dest_url.into_string(), plain(&self.line).len()));
            }
            Tag::CodeBlock(_) => self.style.code = true,
            Tag::BlockQuote(_) => {
                self.quotes += 1;
                self.style.quoted = true;
            }
            Tag::Item => {
                self.items += 1;
                let mark = format!("{}• ", "  ".repeat(self.items - 1));
                self.push(&mark, Style::default());
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Emphasis => self.style.emphasis = false,
            TagEnd::Strong => self.style.strong = false,
            TagEnd::Strikethrough => self.style.struck = false,
            TagEnd::Link | TagEnd::Image => {
                self.style.link = false;
                // Where a link goes is shown, unless its text says it.
                if let Some((url, from)) = self.link.take() {
                    let shown = plain(&self.line);
                    if shown.get(from..) != Some(url.as_str()) {
                        self.push(&format!(" <{url}>"), Style::default());
                    }
                }
            }
            TagEnd::CodeBlock => self.style.code = false,
            TagEnd::BlockQuote(_) => {
                self.quotes -= 1;
                self.style.quoted = self.quotes > 0;
            }
            TagEnd::Item => {
                self.items -= 1;
                self.break_line();
            }
            TagEnd::Paragraph => self.break_line(),
            _ => {}
        }
    }

    /// Text, whose own line breaks (in code blocks) start new lines.
    fn text(&mut self, text: &str) {
        for (at, piece) in text.split('\n').enumerate() {
            if at > 0 {
                self.break_line();
            }
            self.push(piece, self.style);
        }
    }

    fn push(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        if self.line.is_empty() && self.quotes > 0 {
            let bar = Style {
                quoted: true,
                ..Style::default()
            };
            self.line.push(Run {
                text: "│ ".repeat(self.quotes),
                style: bar,
            });
        }
        match self.line.last_mut() {
            Some(last) if last.style == style => last.text.push_str(text),
            _ => self.line.push(Run {
                text: text.to_owned(),
                style,
            }),
        }
    }

    fn break_line(&mut self) {
        if !self.line.is_empty() {
            self.lines.push(std::mem::take(&mut self.line));
        }
    }
}

/// A line's text without its styles.
pub fn plain(line: &StyledLine) -> String {
    line.iter().map(|run| run.text.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> Vec<String> {
        lines(text).iter().map(plain).collect()
    }

    #[test]
    fn styles_are_runs_and_markers_go() {
        let line = &lines("**bold** and *it*, ~~no~~ `x<y`")[0];
        let styled: Vec<(&str, Style)> = line.iter().map(|r| (r.text.as_str(), r.style)).collect();
        assert_eq!(
            styled[0],
            (
                "bold",
                Style {
                    strong: true,
                    ..Style::default()
                }
            )
        );
        assert_eq!(styled[1].0, " and ");
        assert_eq!(
            styled[2],
            (
                "it",
                Style {
                    emphasis: true,
                    ..Style::default()
                }
            )
        );
        assert_eq!(
            styled[4],
            (
                "no",
                Style {
                    struck: true,
                    ..Style::default()
                }
            )
        );
        assert_eq!(
            styled[6],
            (
                "x<y",
                Style {
                    code: true,
                    ..Style::default()
                }
            )
        );
    }

    #[test]
    fn blocks_become_lines_with_marks() {
        assert_eq!(shown("two\nlines"), ["two", "lines"]);
        assert_eq!(shown("> said\n\n- a\n- b"), ["│ said", "• a", "• b"]);
        assert_eq!(shown("```\nfn main() {}\nok\n```"), ["fn main() {}", "ok"]);
        assert_eq!(
            shown("<b>raw</b> [link](https://x.org) <https://y.org>"),
            ["<b>raw</b> link <https://x.org> https://y.org"]
        );
        assert_eq!(shown(""), [""]);
    }
}
