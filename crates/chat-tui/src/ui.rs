//! Drawing the [`App`]: rooms on the left, the current room's messages in
//! the middle, its members on the right, the input line and a status line
//! below. The messages come first: under 100 columns the members panel
//! goes, under 60 the rooms panel too, and F2 hides both.

use chat_client::{ChatMessage, Connection, SharedFile, markdown};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph};
use unicode_width::UnicodeWidthChar;

use chat_client::rooms::{Entry, RoomLog, Rooms};

use crate::app::{App, SearchResults};
use crate::line_edit::LineEdit;
use crate::login::{Field, LoginForm};

const ROOMS_PANEL: u16 = 16;
const MEMBERS_PANEL: u16 = 18;
/// Width of the `HH:MM ` column that continuation lines are indented by.
const TIME_COLUMN: usize = 6;

/// Draws `app`; returns how far its message view can scroll up, for the
/// next scrolling to stop there.
pub fn draw(frame: &mut Frame, app: &App) -> usize {
    let [main, input, status] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let show_rooms = app.panels && main.width >= 60;
    let show_members = app.panels && main.width >= 100;
    let [rooms, messages, members] = Layout::horizontal([
        Constraint::Length(if show_rooms { ROOMS_PANEL } else { 0 }),
        Constraint::Min(10),
        Constraint::Length(if show_members { MEMBERS_PANEL } else { 0 }),
    ])
    .areas(main);
    if show_rooms {
        draw_rooms(frame, app, rooms);
    }
    let scroll_limit = draw_messages(frame, app, messages);
    if show_members {
        draw_members(frame, app, members);
    }
    if let Some(search) = &app.search {
        draw_search(frame, search, messages);
    }
    draw_input(frame, app, input);
    draw_status(frame, app, status);
    if app.help {
        draw_help(frame, frame.area());
    }
    scroll_limit
}

fn draw_rooms(frame: &mut Frame, app: &App, area: Rect) {
    let rooms = &app.rooms;
    let mut lines: Vec<Line> = Vec::new();
    let mut in_direct = false;
    for name in rooms.ordered() {
        let view = &rooms.logs[name];
        if view.details.direct && !in_direct {
            in_direct = true;
            lines.push(Line::from(" Direct").dark_gray());
        }
        let current = rooms.current.as_deref() == Some(name);
        let marker = if current { "> " } else { "  " };
        let mut spans = vec![Span::raw(marker), Span::raw(room_label(rooms, name))];
        // Mentions say more than the unread count, as in Element: the
        // one badge there is room for.
        if view.mentions > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::raw(format!("@{}", view.mentions)).black().on_yellow());
        } else if view.unread > 0 {
            spans.push(Span::raw(format!(" ({})", view.unread)).fg(Color::Yellow));
        }
        let line = Line::from(spans);
        lines.push(if current { line.bold() } else { line });
    }
    if !rooms.invitations.is_empty() {
        lines.push(Line::from(" Invited").dark_gray());
        for room in rooms.invitations.keys() {
            lines.push(Line::from(format!("  🔒{room}")).fg(Color::Yellow));
        }
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Rooms ")),
        area,
    );
}

/// A room as listed and titled: `#name`, `🔒name` if private, `@peer` for
/// a direct conversation.
fn room_label(rooms: &Rooms, room: &str) -> String {
    match rooms.logs.get(room).map(|log| &log.details) {
        Some(details) if details.direct => details.title(),
        Some(details) if details.private => format!("🔒{room}"),
        _ => format!("#{room}"),
    }
}

fn draw_members(frame: &mut Frame, app: &App, area: Rect) {
    let lines: Vec<Line> = app
        .rooms
        .current_log()
        .map(|view| {
            view.members
                .values()
                .map(|member| {
                    let dot = if member.online {
                        Span::raw("● ").fg(Color::Green)
                    } else {
                        Span::raw("○ ").dark_gray()
                    };
                    let mut spans = vec![
                        dot,
                        Span::raw(member.role.mark()).fg(Color::Yellow),
                        Span::raw(member.name.clone()),
                    ];
                    if member.muted {
                        spans.push(Span::raw(" (muted)").dark_gray());
                    }
                    Line::from(spans)
                })
                .collect()
        })
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Members ")),
        area,
    );
}

/// Draws the current room's log; returns how far it can scroll up.
fn draw_messages(frame: &mut Frame, app: &App, area: Rect) -> usize {
    let title = match (&app.rooms.current, app.rooms.current_log()) {
        (Some(room), Some(view)) => {
            let label = room_label(&app.rooms, room);
            if view.loading {
                format!(" {label} · loading history… ")
            } else if app.scroll > 0 {
                format!(" {label} · scrolled back (PgDn to return) ")
            } else if view.details.topic.is_empty() {
                format!(" {label} ")
            } else {
                format!(" {label} · {} ", view.details.topic)
            }
        }
        (Some(room), None) => format!(" #{room} "),
        (None, _) => " no room: /join general ".to_owned(),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    let width = usize::from(inner.width);
    let (mut lines, selected_at) = app
        .rooms
        .current_log()
        .map(|view| log_lines(view, app, width))
        .unwrap_or_default();
    let pending = (app.pending.iter())
        .filter(|(room, _)| app.rooms.current.as_ref() == Some(room))
        .flat_map(|(_, text)| {
            let said = format!("{}: {text} · sending…", app.rooms.me());
            wrap(&said, width, width.saturating_sub(TIME_COLUMN))
        });
    lines.extend(pending.map(|line| Line::from(line).dark_gray().italic()));
    let height = usize::from(inner.height);
    let limit = lines.len().saturating_sub(height);
    let mut scroll = app.scroll.min(limit);
    // The picked message stays in view (one a search went to, too).
    if let Some(at) = selected_at {
        let end = lines.len() - scroll;
        if at < end.saturating_sub(height) || at >= end {
            scroll = lines.len().saturating_sub(at + height / 2).min(limit);
        }
    }
    let end = lines.len() - scroll;
    let start = end.saturating_sub(height);
    let visible: Vec<Line> = lines[start..end].to_vec();
    frame.render_widget(Paragraph::new(visible).block(block), area);
    limit
}

/// The lines of a room's log, with a "new messages" line before the first
/// entry after the read marker the room came into view with; and where the
/// picked message's lines start.
fn log_lines(log: &RoomLog, app: &App, width: usize) -> (Vec<Line<'static>>, Option<usize>) {
    let mut lines = Vec::new();
    let mut selected_at = None;
    let mut divider = log.divider;
    for (key, entry) in &log.entries {
        if divider.is_some_and(|read| key.0 > read) {
            divider = None;
            let rule = format!("{:─^width$}", " new messages ");
            lines.push(Line::from(fit(&rule, width)).yellow());
        }
        if key.1 == 0 && app.selected == Some(key.0) {
            selected_at = Some(lines.len());
        }
        lines.extend(shown_lines(log, entry, app, width));
    }
    (lines, selected_at)
}

/// A search's hits over the messages: room, time, sender and the first
/// line, the words found in bold yellow, the picked one reversed.
fn draw_search(frame: &mut Frame, search: &SearchResults, area: Rect) {
    let width = usize::from(area.width.saturating_sub(2));
    let height = usize::from(area.height.saturating_sub(2)).max(1);
    let hits = &search.page.hits;
    let first = search.selected.saturating_sub(height - 1);
    let lines: Vec<Line> = (hits.iter().enumerate().skip(first).take(height))
        .map(|(at, hit)| {
            let text = hit.text.lines().next().unwrap_or_default();
            let time = crate::clock(hit.sent_at);
            let said = format!("#{} {time} {}: {text}", hit.room, hit.sender_label());
            let spans = highlighted(&fit(&said, width), &search.page.terms).into_iter();
            match at == search.selected {
                true => Line::from(spans.map(Span::reversed).collect::<Vec<_>>()),
                false => Line::from(spans.collect::<Vec<_>>()),
            }
        })
        .collect();
    let more = match (search.page.next_page_token.is_empty(), search.loading) {
        (true, _) => "",
        (false, false) => ", ↓ past the last for more",
        (false, true) => ", loading more…",
    };
    let block = Block::bordered()
        .title(format!(" “{}”: {} found{more} ", search.query, hits.len()))
        .title_bottom(" ↑↓ pick · Enter goes there · any other key closes ")
        .border_style(Style::new().fg(Color::Yellow));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// `text` with every place one of `terms` matches (case aside) in bold
/// yellow.
fn highlighted(text: &str, terms: &[String]) -> Vec<Span<'static>> {
    (chat_client::search::marked(text, terms).into_iter())
        .map(|(part, found)| match found {
            true => Span::raw(part.to_owned()).bold().yellow(),
            false => Span::raw(part.to_owned()),
        })
        .collect()
}

/// An entry's lines as shown: a reply's quote of the message it answers
/// first, and the selected message in reverse.
fn shown_lines(log: &RoomLog, entry: &Entry, app: &App, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let Entry::Message(message) = entry else {
        return entry_lines(entry, app.rooms.me(), width);
    };
    if let Some(target) = message.reply_to {
        let said = format!("{:TIME_COLUMN$}↪ {}", "", log.quote(target));
        lines.push(Line::from(fit(&said, width)).dark_gray());
    }
    let selected = app.selected == Some(message.seq);
    let mut body = entry_lines(entry, app.rooms.me(), width);
    if !message.deleted {
        body.extend(file_lines(&message.files, &app.files_base, width));
    }
    lines.extend(
        body.into_iter()
            .map(|line| if selected { line.reversed() } else { line }),
    );
    lines
}

/// A message's files, each as `[name, size] link` under its text, the
/// link in full (`base` and its path) and wrapped.
fn file_lines(files: &[SharedFile], base: &str, width: usize) -> Vec<Line<'static>> {
    let rest = width.saturating_sub(TIME_COLUMN).max(1);
    let mut lines = Vec::new();
    for file in files {
        let text = format!("{} {base}{}", file.label(), file.url);
        for chunk in wrap(&text, rest, rest) {
            let indent = Span::raw(" ".repeat(TIME_COLUMN));
            lines.push(Line::from(vec![indent, Span::raw(chunk).fg(Color::Blue)]));
        }
    }
    lines
}

/// The display lines of one entry, wrapped to `width` columns.
fn entry_lines(entry: &Entry, me: &str, width: usize) -> Vec<Line<'static>> {
    match entry {
        Entry::Message(message) => message_lines(message, me, width),
        Entry::Notice(text) => wrap(text, width.max(1), width.max(1))
            .into_iter()
            .map(|chunk| Line::from(chunk).dark_gray().italic())
            .collect(),
    }
}

/// A message's lines: time, sender and text (a tombstone's says it was
/// deleted), `(edited)` after an edited one, and its reactions under it.
fn message_lines(message: &ChatMessage, me: &str, width: usize) -> Vec<Line<'static>> {
    let time = crate::clock(message.sent_at);
    let color = if message.is_from(me) {
        Color::Cyan
    } else {
        Color::Magenta
    };
    let sender = message.sender_label();
    let head = format!("{time} {sender}: ");
    let first_width = width.saturating_sub(display_width(&head)).max(1);
    let rest_width = width.saturating_sub(TIME_COLUMN).max(1);
    let mut chunks = if message.deleted {
        let said = match &message.deleted_by {
            Some(by) => format!("message deleted by {by}"),
            None => "message deleted".to_owned(),
        };
        vec![vec![Span::raw(said).dark_gray().italic()]]
    } else {
        styled_chunks(&message.text, first_width, rest_width)
    };
    if message.edited_at.is_some() && !message.deleted {
        let last = chunks.last_mut().filter(|chunk| {
            let used: usize = chunk.iter().map(|span| display_width(&span.content)).sum();
            used + " (edited)".len() <= rest_width
        });
        match last {
            Some(last) => last.push(Span::raw(" (edited)").dark_gray()),
            None => chunks.push(vec![Span::raw("(edited)").dark_gray()]),
        }
    }
    let mut chunks = chunks.into_iter();
    // A message that mentions the user stands out by its time.
    let time = match message.mentions(me) {
        true => Span::raw(time).black().on_yellow(),
        false => Span::raw(time).dark_gray(),
    };
    let mut first = vec![
        time,
        Span::raw(" "),
        Span::styled(sender, Style::new().fg(color).add_modifier(Modifier::BOLD)),
        Span::raw(": "),
    ];
    first.extend(chunks.next().unwrap_or_default());
    let mut lines = vec![Line::from(first)];
    let indent = || Span::raw(" ".repeat(TIME_COLUMN));
    lines.extend(chunks.map(|mut chunk| {
        chunk.insert(0, indent());
        Line::from(chunk)
    }));
    if !message.reactions.is_empty() {
        let mut chips = vec![indent()];
        for reaction in &message.reactions {
            let chip = format!("{} {}", reaction.emoji, reaction.count);
            // One's own reactions stand out.
            chips.push(match reaction.includes(me) {
                true => Span::raw(chip).fg(Color::Cyan).bold(),
                false => Span::raw(chip),
            });
            chips.push(Span::raw("  "));
        }
        chips.pop();
        lines.push(Line::from(chips));
    }
    lines
}

/// A message's text as Markdown in terminal styles, wrapped as [`wrap`]
/// does: the first line to `first` columns, the others to `rest`.
fn styled_chunks(text: &str, first: usize, rest: usize) -> Vec<Vec<Span<'static>>> {
    let mut chunks = Vec::new();
    for line in markdown::lines(text) {
        // Each character's style, to give back to the wrapped pieces.
        let styles: Vec<Style> = (line.iter())
            .flat_map(|run| run.text.chars().map(|_| terminal_style(run.style)))
            .collect();
        let plain = markdown::plain(&line);
        let width = if chunks.is_empty() { first } else { rest };
        let mut from = 0;
        for piece in wrap(&plain, width, rest) {
            let at = plain[from..]
                .find(&piece)
                .map_or(from, |found| from + found);
            let start = plain[..at].chars().count();
            chunks.push(spans(&piece, &styles[start..]));
            from = at + piece.len();
        }
    }
    chunks
}

/// `text` in runs of equal style, the `n`th character in `styles[n]`.
fn spans(text: &str, styles: &[Style]) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    for (c, style) in text
        .chars()
        .zip(styles.iter().chain(std::iter::repeat(&Style::new())))
    {
        match spans.last_mut() {
            Some(last) if last.style == *style => last.content.to_mut().push(c),
            _ => spans.push(Span::styled(c.to_string(), *style)),
        }
    }
    spans
}

/// A Markdown style as the terminal shows it.
fn terminal_style(style: markdown::Style) -> Style {
    let modifiers = [
        (style.strong, Modifier::BOLD),
        (style.emphasis, Modifier::ITALIC),
        (style.struck, Modifier::CROSSED_OUT),
        (style.link, Modifier::UNDERLINED),
        (style.quoted, Modifier::DIM),
    ];
    let shown = (modifiers.into_iter())
        .filter(|(on, _)| *on)
        .fold(Style::new(), |shown, (_, modifier)| {
            shown.add_modifier(modifier)
        });
    if style.code {
        shown.fg(Color::Yellow)
    } else {
        shown
    }
}

/// Splits `text` into lines of at most `first` display columns, then
/// `rest` columns, counting wide characters (Hangul, emoji) as two. Lines
/// break where Unicode allows (between words, and between CJK
/// characters), never inside a word that fits on a line of its own, and
/// start with no space; a word longer than a line is split. A line break
/// in the text starts a new line.
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let (first, rest) = (first.max(1), rest.max(1));
    // textwrap takes one width: the narrower lines are indented, and the
    // indent taken off again.
    let width = first.max(rest);
    let (first_indent, rest_indent) = (" ".repeat(width - first), " ".repeat(width - rest));
    let options = textwrap::Options::new(width)
        .initial_indent(&first_indent)
        .subsequent_indent(&rest_indent);
    textwrap::wrap(text, options)
        .into_iter()
        .enumerate()
        .map(|(at, line)| {
            let indent = if at == 0 { &first_indent } else { &rest_indent };
            line.strip_prefix(indent.as_str())
                .unwrap_or(&line)
                .to_owned()
        })
        .collect()
}

fn display_width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// The commands, over `area` (the whole screen: at 80x24 they just fit).
fn draw_help(frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = crate::command::HELP
        .iter()
        .map(|line| Line::raw(*line))
        .collect();
    let block = Block::bordered()
        .title(" Commands (/help, /?) · any key closes ")
        .title_bottom(" ↑↓ typed lines · Tab completes · Ctrl-N/P, Alt-1…9 rooms · F2 panels ");
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_input(frame: &mut Frame, app: &App, area: Rect) {
    if let Some(asking) = &app.asking {
        let block = Block::bordered()
            .title(format!(" {} · Esc cancels ", asking.question()))
            .border_style(Style::new().fg(Color::Yellow));
        draw_line(frame, &app.input, block, area, Some('•'));
        return;
    }
    let mut title = match &app.rooms.current {
        Some(room) => format!(" {} → {} ", app.rooms.me(), room_label(&app.rooms, room)),
        None => format!(" {} ", app.rooms.me()),
    };
    if let (Some(seq), Some(log)) = (app.selected, app.rooms.current_log()) {
        let replying = format!("↪ #{seq} {} · Esc ", log.quote(seq));
        let room = usize::from(area.width).saturating_sub(display_width(&title) + 4);
        title.push_str(&fit(&replying, room));
    }
    draw_line(
        frame,
        &app.input,
        Block::bordered().title(title),
        area,
        None,
    );
}

/// Draws `edit` in `block`, scrolled to keep the cursor in view, with the
/// terminal's cursor on it; `mask` stands in for every character.
fn draw_line(frame: &mut Frame, edit: &LineEdit, block: Block, area: Rect, mask: Option<char>) {
    let inner = block.inner(area);
    let text: String = match mask {
        Some(mask) => edit.text.chars().map(|_| mask).collect(),
        None => edit.text.clone(),
    };
    let before_cursor: String = text.chars().take(edit.cursor).collect();
    let cursor_column = display_width(&before_cursor);
    let room = usize::from(inner.width.saturating_sub(1));
    let skip_columns = cursor_column.saturating_sub(room);
    let mut skipped = 0;
    let shown: String = text
        .chars()
        .skip_while(|c| {
            let skip = skipped < skip_columns;
            skipped += c.width().unwrap_or(0);
            skip
        })
        .collect();
    frame.render_widget(Paragraph::new(shown).block(block), area);
    let x = inner.x + u16::try_from(cursor_column - skip_columns.min(cursor_column)).unwrap_or(0);
    frame.set_cursor_position(Position::new(
        x.min(inner.right().saturating_sub(1)),
        inner.y,
    ));
}

/// The login screen: a box in the middle with the three fields, the
/// register switch, the last error and the keys.
pub fn draw_login(frame: &mut Frame, form: &LoginForm) {
    let area = frame.area();
    let width = area.width.min(64);
    let again_rows = if form.register { 3 } else { 0 };
    let height = area.height.min(16 + again_rows);
    let [_, column, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(width),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, area, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height),
        Constraint::Fill(1),
    ])
    .areas(column);
    let title = if form.register {
        " chat · create an account "
    } else {
        " chat · log in "
    };
    let outer = Block::bordered().title(title.bold());
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [server, name, password, again, register, message, keys] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Length(again_rows),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let mut fields = [
        (Field::Server, server, " Server ", None),
        (Field::Name, name, " Name ", None),
        (
            Field::Password,
            password,
            if form.register {
                " Password "
            } else {
                " Password (empty: a guest) "
            },
            Some('•'),
        ),
        (Field::Again, again, " Password again ", Some('•')),
    ];
    // The terminal has one cursor: the focused field, drawn last, keeps it.
    fields.sort_by_key(|(field, ..)| *field == form.focus);
    for (field, area, title, mask) in fields {
        if !form.fields().contains(&field) {
            continue;
        }
        let mut block = Block::bordered().title(title);
        if form.focus == field {
            block = block.border_style(Style::new().fg(Color::Cyan));
        }
        draw_line(frame, form.field(field), block, area, mask);
    }

    let check = if form.register { "[x]" } else { "[ ]" };
    frame.render_widget(
        Paragraph::new(format!(
            " {check} create an account under this name (Ctrl-R)"
        )),
        register,
    );
    if let Some(error) = &form.error {
        let error = Paragraph::new(error.as_str())
            .block(Block::new().padding(Padding::horizontal(1)))
            .fg(Color::Red)
            .wrap(ratatui::widgets::Wrap { trim: true });
        frame.render_widget(error, message);
    }
    let hint = if form.connecting {
        Span::raw(" connecting…").fg(Color::Yellow)
    } else {
        Span::raw(" Enter: go · Tab: next field · Esc: quit").dark_gray()
    };
    frame.render_widget(Paragraph::new(Line::from(hint)), keys);
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect) {
    let connection = match &app.connection {
        Connection::Online => Span::raw("● online").fg(Color::Green),
        Connection::Connecting => Span::raw("◌ connecting").fg(Color::Yellow),
        Connection::Offline { retry_in, .. } => Span::raw(format!(
            "○ offline, retrying in {}s",
            retry_in.as_secs().max(1)
        ))
        .fg(Color::Red),
    };
    let mut spans = vec![
        Span::raw(" "),
        connection,
        Span::raw(format!(" · {} · ", app.server)),
    ];
    let room = usize::from(area.width).saturating_sub(spans.iter().map(Span::width).sum());
    let typing = (app.rooms.current_log().into_iter())
        .flat_map(|log| &log.typing)
        .map(String::as_str)
        .collect::<Vec<_>>();
    spans.push(match &app.status {
        Some(status) if status.error => Span::raw(fit(&status.text, room)).fg(Color::Red),
        Some(status) => Span::raw(fit(&status.text, room)),
        None if !typing.is_empty() => {
            let who = match typing.as_slice() {
                [one] => format!("{one} is typing…"),
                [one, two] => format!("{one} and {two} are typing…"),
                [one, ..] => format!("{one} and {} others are typing…", typing.len() - 1),
                [] => String::new(),
            };
            Span::raw(fit(&who, room)).italic()
        }
        None => Span::raw(fit(
            "/help: commands · Ctrl-N/P: rooms · Tab: complete",
            room,
        ))
        .dark_gray(),
    });
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `text` cut to `width` columns, ending in `…` if it was cut (all of
/// it is in the room's log).
fn fit(text: &str, width: usize) -> String {
    if display_width(text) <= width {
        return text.to_owned();
    }
    let mut fitted = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        fitted.push(c);
    }
    fitted.push('…');
    fitted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_counts_wide_characters_twice() {
        assert_eq!(wrap("abcdef", 4, 4), ["abcd", "ef"]);
        assert_eq!(wrap("한국어입니다", 4, 6), ["한국", "어입니", "다"]);
        assert_eq!(wrap("one\ntwo", 10, 10), ["one", "two"]);
        assert_eq!(wrap("", 5, 5), [""]);
        assert_eq!(wrap("🎉🎉🎉", 5, 2), ["🎉🎉", "🎉"]);
    }

    #[test]
    fn wrapping_breaks_between_words_and_no_line_starts_with_a_space() {
        assert_eq!(
            wrap("the quick brown fox, jumps while", 10, 12),
            ["the quick", "brown fox,", "jumps while"]
        );
        for line in wrap("a b c d e f g h i j k l m n o p", 3, 5) {
            assert!(!line.starts_with(' '), "{line:?}");
        }
        assert_eq!(wrap("안녕하세요 여러분", 10, 10), ["안녕하세요", "여러분"]);
    }
}
