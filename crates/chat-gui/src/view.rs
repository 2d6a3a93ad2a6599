//! Drawing the [`State`] and turning clicks and keys into [`Request`]s.

use chat_client::rooms::{Entry, EntryKey, RoomLog, Rooms};
use chat_client::{
    AccountChange, Connection, Member, NotifyLevel, Role, RoomAction, SharedFile, markdown,
};
use eframe::egui::{self, Color32, Key, RichText, ScrollArea, TextEdit};

use crate::backend::Request;
use crate::state::{
    AccountForm, ChatView, LoginForm, Pick, Picture, Pictures, Screen, SearchPanel, State,
};

/// The emoji a message's menu offers to react with.
const QUICK_REACTIONS: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "🙏"];

const ONLINE: Color32 = Color32::from_rgb(80, 200, 120);
const ERROR: Color32 = Color32::from_rgb(230, 90, 90);
/// Mentions of the user: their badges, and the tint behind them.
const MENTION: Color32 = Color32::from_rgb(230, 170, 40);
const MENTION_TINT: Color32 = Color32::from_rgba_premultiplied(60, 44, 10, 60);
/// The words a search found, and (fainter) the message jumped to from a
/// hit.
const FOUND: Color32 = Color32::from_rgba_premultiplied(110, 90, 0, 110);
const FOCUS_TINT: Color32 = Color32::from_rgba_premultiplied(50, 42, 0, 60);

/// Draws the current screen; returns what it asks of the network.
pub fn show(ui: &mut egui::Ui, state: &mut State) -> Vec<Request> {
    match &mut state.screen {
        Screen::Login(form) => login(ui, form).into_iter().collect(),
        Screen::Chat(view) => chat(ui, view),
    }
}

/// The first screen: where to connect and as whom.
fn login(ui: &mut egui::Ui, form: &mut LoginForm) -> Option<Request> {
    let mut submitted = None;
    egui::CentralPanel::default().show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.add_space(40.0);
            ui.heading("chat");
            ui.add_space(16.0);
        });
        // The form is about 340 points wide: centre it.
        let margin = ((ui.available_width() - 340.0) / 2.0).max(0.0);
        ui.horizontal(|ui| {
            ui.add_space(margin);
            ui.vertical(|ui| submitted = login_fields(ui, form));
        });
    });
    form.submit(submitted?)
}

/// Draws the form; says whether it was submitted to log in (`false`) or to
/// register (`true`).
fn login_fields(ui: &mut egui::Ui, form: &mut LoginForm) -> Option<bool> {
    let mut submitted = None;
    let enabled = !form.connecting;
    // The keyboard goes to the first field to fill in (the name if the
    // server is given).
    let mut focus = std::mem::take(&mut form.focus_pending).then(|| {
        if form.server.trim().is_empty() {
            "Server"
        } else {
            "Name"
        }
    });
    egui::Grid::new("login")
        .num_columns(2)
        .spacing([12.0, 8.0])
        .show(ui, |ui| {
            for (label, value, hint, secret) in [
                (
                    "Server",
                    &mut form.server,
                    "host:port or https://host:port",
                    false,
                ),
                ("Name", &mut form.name, "", false),
                (
                    "Password",
                    &mut form.password,
                    "empty: chat as a guest",
                    true,
                ),
                ("Room", &mut form.room, "", false),
                (
                    "CA certificate",
                    &mut form.ca_cert,
                    "PEM file to trust (optional)",
                    false,
                ),
            ] {
                let label_text = label;
                let label = ui.label(label);
                let field = TextEdit::singleline(value)
                    .hint_text(hint)
                    .password(secret)
                    .desired_width(260.0);
                let field = ui.add_enabled(enabled, field).labelled_by(label.id);
                if focus.is_some_and(|first| first == label_text) {
                    field.request_focus();
                    focus = None;
                }
                if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                    submitted = Some(false);
                }
                ui.end_row();
            }
        });
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        let connect = egui::Button::new("Connect");
        let connect = ui.add_enabled(form.ready(false), connect);
        if connect.clicked() {
            submitted = Some(false);
        }
        if let Some(why) = form.missing(false) {
            connect.on_disabled_hover_text(why);
        }
        let register = ui
            .add_enabled(form.ready(true), egui::Button::new("Register"))
            .on_disabled_hover_text("Choose a password to register the name.");
        if register.clicked() {
            submitted = Some(true);
        }
        if form.connecting {
            ui.spinner();
            ui.label("Connecting…");
        }
    });
    // Why Connect is greyed out, said where it is seen.
    if let Some(why) = form.missing(false).filter(|_| !form.connecting) {
        ui.add_space(4.0);
        ui.weak(why);
    }
    if let Some(error) = &form.error {
        ui.add_space(8.0);
        ui.colored_label(ERROR, error);
    }
    submitted
}

/// The chat window: rooms, messages, members, the input line.
fn chat(ui: &mut egui::Ui, view: &mut ChatView) -> Vec<Request> {
    let mut requests = Vec::new();
    egui::Panel::bottom("input").show(ui, |ui| {
        requests.extend(input_line(ui, view));
        status_line(ui, view);
    });
    egui::Panel::left("rooms")
        .resizable(false)
        .exact_size(170.0)
        .show(ui, |ui| {
            requests.extend(rooms_panel(ui, view));
        });
    egui::Panel::right("members")
        .resizable(false)
        .exact_size(150.0)
        .show(ui, |ui| {
            requests.extend(members_panel(ui, view));
        });
    requests.extend(account_window(ui.ctx(), view));
    if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, Key::F)) {
        view.open_search();
    }
    requests.extend(search_window(ui.ctx(), view));
    egui::CentralPanel::default().show(ui, |ui| {
        requests.extend(room_header(ui, view));
        requests.extend(messages(ui, view));
    });
    requests.extend(dropped_files(ui, view));
    requests
}

/// Files dropped on the window go to the room in view; while they are
/// held over it, it says where they will go.
fn dropped_files(ui: &mut egui::Ui, view: &mut ChatView) -> Vec<Request> {
    let Some(room) = view.rooms.current.clone() else {
        return Vec::new();
    };
    let (hovered, dropped) =
        ui.input(|i| (!i.raw.hovered_files.is_empty(), i.raw.dropped_files.clone()));
    if hovered {
        let screen = ui.ctx().content_rect();
        egui::Area::new(egui::Id::unique("drop"))
            .order(egui::Order::Foreground)
            .fixed_pos(screen.min)
            .show(ui.ctx(), |ui| {
                egui::Frame::new()
                    .fill(Color32::from_black_alpha(180))
                    .show(ui, |ui| {
                        ui.set_min_size(screen.size());
                        ui.centered_and_justified(|ui| {
                            let text =
                                format!("Drop to send to {}", room_label(&view.rooms, &room));
                            ui.label(RichText::new(text).size(22.0).color(Color32::WHITE));
                        });
                    });
            });
    }
    let paths: Vec<_> = (dropped.iter())
        .map(|file| file.path().to_path_buf())
        .filter(|path| !path.as_os_str().is_empty())
        .collect();
    if !paths.is_empty() {
        view.status = Some((format!("Sending {} file(s)…", paths.len()), false));
    }
    (paths.into_iter())
        .map(|path| Request::Upload {
            room: room.clone(),
            path,
        })
        .collect()
}

/// A room as listed: `#name`, `🔒name` if private, `@peer` for a direct
/// conversation.
fn room_label(rooms: &Rooms, room: &str) -> String {
    match rooms.logs.get(room).map(|log| &log.details) {
        Some(details) if details.direct => details.title(),
        Some(details) if details.private => format!("🔒{room}"),
        _ => format!("#{room}"),
    }
}

/// The current room's name and topic; for its owner and moderators, the
/// topic to set, someone to invite, and for its owner, deleting it.
fn room_header(ui: &mut egui::Ui, view: &mut ChatView) -> Option<Request> {
    let room = view.rooms.current.clone()?;
    let log = view.rooms.current_log()?;
    let topic = log.details.topic.clone();
    let heading = if log.details.private && !log.details.direct {
        format!("🔒 {}", log.details.title())
    } else {
        log.details.title()
    };
    let role = view.rooms.my_role(&room);
    let mut request = None;
    let level = log.details.notify;
    let mut notify = None;
    ui.horizontal_wrapped(|ui| {
        ui.heading(heading);
        if !topic.is_empty() {
            ui.label(RichText::new(&topic).weak());
        }
        notify = notify_choice(ui, level);
    });
    if role >= Role::Moderator {
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Topic");
            ui.add(TextEdit::singleline(&mut view.topic_field).desired_width(150.0))
                .labelled_by(label.id);
            if ui.button("Set topic").clicked() {
                let topic = std::mem::take(&mut view.topic_field).trim().to_owned();
                request = Some(RoomAction::SetTopic(topic));
            }
            let label = ui.label("Invite who");
            ui.add(TextEdit::singleline(&mut view.invite_field).desired_width(100.0))
                .labelled_by(label.id);
            let name = view.invite_field.trim().to_owned();
            if ui
                .add_enabled(!name.is_empty(), egui::Button::new("Invite"))
                .clicked()
            {
                view.invite_field.clear();
                request = Some(RoomAction::Invite(name));
            }
            if role == Role::Owner && ui.button("Delete room").clicked() {
                request = Some(RoomAction::Delete(true));
            }
        });
    }
    ui.separator();
    if let Some(level) = notify {
        return Some(view.set_notify(&room, level));
    }
    request.map(|action| Request::Moderate { room, action })
}

/// What the room tells the user about: a choice in its header.
fn notify_choice(ui: &mut egui::Ui, level: NotifyLevel) -> Option<NotifyLevel> {
    const LEVELS: [(NotifyLevel, &str); 3] = [
        (NotifyLevel::All, "every message"),
        (NotifyLevel::Mentions, "mentions"),
        (NotifyLevel::None, "nothing"),
    ];
    let shown = LEVELS.iter().find(|(l, _)| *l == level).map_or("", |l| l.1);
    let mut chosen = level;
    let label = ui.label("Notify");
    egui::ComboBox::from_id_salt("notify")
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for (option, text) in LEVELS {
                ui.selectable_value(&mut chosen, option, text);
            }
        })
        .response
        .labelled_by(label.id)
        .on_hover_text("What this room tells you about while you look elsewhere");
    (chosen != level).then_some(chosen)
}

fn input_line(ui: &mut egui::Ui, view: &mut ChatView) -> Option<Request> {
    let room = view.rooms.current.clone()?;
    let mut request = None;
    ui.add_space(4.0);
    if let (Some(seq), Some(log)) = (view.reply_to, view.rooms.current_log()) {
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("↪ replying to {}", log.quote(seq))).weak());
            if ui.small_button("×").on_hover_text("Not a reply").clicked() {
                view.reply_to = None;
            }
        });
    }
    if view.editing.is_some() {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Editing your message · Enter saves").weak());
            if ui
                .small_button("×")
                .on_hover_text("Keep it as it was")
                .clicked()
            {
                view.stop_editing();
            }
        });
    }
    ui.horizontal(|ui| {
        if ui
            .button("Attach…")
            .on_hover_text("Send a file (or drop one on the window)")
            .clicked()
        {
            // Said first: a desktop without a file chooser shows none.
            view.status = Some((
                "Pick a file to send, or drop one on the window.".into(),
                false,
            ));
            request = Some(Request::PickFile { room: room.clone() });
        }
        let label = ui.label(format!("to {}", room_label(&view.rooms, &room)));
        let field = ui
            .add(
                TextEdit::singleline(&mut view.input)
                    .hint_text("Message")
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
        if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
            let text = std::mem::take(&mut view.input);
            if let Some(seq) = view.editing.take() {
                request = Some(Request::Edit { room, seq, text });
            } else if !text.trim().is_empty() {
                let reply_to = view.reply_to.take();
                request = Some(Request::Send {
                    room,
                    text,
                    reply_to,
                });
            }
            // Keep typing without reaching for the mouse.
            field.request_focus();
        }
        if std::mem::take(&mut view.focus_input) {
            field.request_focus();
        }
    });
    request
}

/// The account window: a new password, or deleting the account.
fn account_window(ctx: &egui::Context, view: &mut ChatView) -> Option<Request> {
    let form = view.account.as_mut()?;
    let mut request = None;
    let mut open = true;
    egui::Window::new("Your account")
        .anchor(egui::Align2::CENTER_TOP, [0.0, 40.0])
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            ui.strong("Change the password");
            for (label, value) in [
                ("Current password", &mut form.old_password),
                ("New password", &mut form.new_password),
                ("New password again", &mut form.again),
            ] {
                let label = ui.label(label);
                ui.add(TextEdit::singleline(value).password(true))
                    .labelled_by(label.id);
            }
            let change = ui.add_enabled(
                form.change_missing().is_none(),
                egui::Button::new("Change password"),
            );
            if let Some(why) = form.change_missing() {
                ui.weak(why);
            }
            if change.clicked() {
                request = Some(Request::Account(AccountChange::Password {
                    old: form.old_password.clone(),
                    new: form.new_password.clone(),
                }));
            }
            ui.separator();
            ui.strong("Delete the account");
            ui.label("Its name becomes free; its messages stay in the rooms' history.");
            let label = ui.label("Password, to delete it for good");
            ui.add(TextEdit::singleline(&mut form.delete_password).password(true))
                .labelled_by(label.id);
            let delete = egui::Button::new(RichText::new("Delete account").color(ERROR));
            if ui
                .add_enabled(!form.delete_password.is_empty(), delete)
                .clicked()
            {
                request = Some(Request::Account(AccountChange::Delete {
                    password: form.delete_password.clone(),
                }));
            }
        });
    if !open {
        view.account = None;
    }
    request
}

/// The search window: the words, every room or the one in view, and the
/// hits newest first with the words found marked; a hit goes to its
/// message.
fn search_window(ctx: &egui::Context, view: &mut ChatView) -> Option<Request> {
    let current = view.rooms.current.clone();
    let panel = &mut view.search;
    if !panel.open {
        return None;
    }
    let mut open = true;
    let (mut submit, mut more, mut picked) = (false, false, None);
    egui::Window::new("Search messages")
        .anchor(egui::Align2::RIGHT_TOP, [-20.0, 40.0])
        .open(&mut open)
        .collapsible(false)
        .default_width(420.0)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label("Find");
                let field = ui
                    .add(
                        TextEdit::singleline(&mut panel.query)
                            .hint_text("words, or parts of words")
                            .desired_width(240.0),
                    )
                    .labelled_by(label.id);
                // Until it has it: a window's first frame only sizes it.
                if panel.focus_pending {
                    field.request_focus();
                    panel.focus_pending = !field.has_focus();
                }
                submit = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                let ready = !panel.query.trim().is_empty() && !panel.searching;
                submit |= ui.add_enabled(ready, egui::Button::new("Search")).clicked();
            });
            if let Some(room) = &current {
                ui.checkbox(&mut panel.this_room, format!("Only in #{room}"));
            }
            ui.separator();
            (more, picked) = search_hits(ui, panel);
        });
    if !open {
        view.search.open = false;
        return None;
    }
    if let Some(hit) = picked {
        view.search.open = false;
        return view.go_to(&hit);
    }
    if submit || more {
        return view.search(more);
    }
    None
}

/// The hits found so far, and "More results"; whether that was clicked,
/// and the hit clicked.
fn search_hits(ui: &mut egui::Ui, panel: &SearchPanel) -> (bool, Option<chat_client::ChatMessage>) {
    let Some((query, _, page)) = &panel.found else {
        return (false, None);
    };
    if panel.searching && page.hits.is_empty() {
        ui.spinner();
        return (false, None);
    }
    if page.hits.is_empty() {
        ui.weak(format!("Nothing found for “{query}”."));
        return (false, None);
    }
    let mut picked = None;
    let mut more = false;
    ScrollArea::vertical().max_height(420.0).show(ui, |ui| {
        for hit in &page.hits {
            let local: chrono::DateTime<chrono::Local> = hit.sent_at.into();
            let place = format!(
                "#{} · {} · {}",
                hit.room,
                hit.sender_label(),
                local.format("%Y-%m-%d %H:%M")
            );
            let row = ui.add(
                egui::Button::new(found_text(ui, &place, &hit.text, &page.terms))
                    .frame(false)
                    .wrap(),
            );
            if row.clicked() {
                picked = Some(hit.clone());
            }
            ui.separator();
        }
        if !page.next_page_token.is_empty() {
            more = ui
                .add_enabled(!panel.searching, egui::Button::new("More results"))
                .clicked();
        }
    });
    (more, picked)
}

/// A hit as the search window shows it: where and when, weak, then its
/// first lines with the words found marked.
fn found_text(ui: &egui::Ui, place: &str, text: &str, terms: &[String]) -> egui::text::LayoutJob {
    let visuals = ui.visuals();
    let body = egui::TextStyle::Body.resolve(ui.style());
    let small = egui::TextStyle::Small.resolve(ui.style());
    let mut job = egui::text::LayoutJob::default();
    job.append(
        &format!("{place}\n"),
        0.0,
        egui::TextFormat::simple(small, visuals.weak_text_color()),
    );
    let excerpt: String = text.lines().take(3).collect::<Vec<_>>().join(" ");
    for (part, found) in chat_client::search::marked(&excerpt, terms) {
        let mut format = egui::TextFormat::simple(body.clone(), visuals.text_color());
        if found {
            format.background = FOUND;
            format.color = visuals.strong_text_color();
        }
        job.append(part, 0.0, format);
    }
    job
}

fn status_line(ui: &mut egui::Ui, view: &mut ChatView) {
    ui.horizontal(|ui| {
        if ui
            .button("🔍 Search")
            .on_hover_text("Search messages (Ctrl+F)")
            .clicked()
        {
            view.open_search();
        }
        if view.is_account && ui.button("Account…").clicked() {
            view.account = match view.account {
                Some(_) => None,
                None => Some(AccountForm::default()),
            };
        }
        match &view.connection {
            Connection::Online => ui.colored_label(ONLINE, "● online"),
            Connection::Connecting => ui.label("◌ connecting"),
            Connection::Offline { retry_in, .. } => ui.colored_label(
                ERROR,
                format!("○ offline, retrying in {}s", retry_in.as_secs().max(1)),
            ),
        };
        ui.label(format!("· {} as {}", view.server, view.rooms.me()));
        if let Some((text, error)) = &view.status {
            ui.separator();
            if *error {
                ui.colored_label(ERROR, text);
            } else {
                ui.label(text);
            }
        }
    });
}

fn rooms_panel(ui: &mut egui::Ui, view: &mut ChatView) -> Option<Request> {
    ui.heading("Rooms");
    let mut switch = None;
    let mut in_direct = false;
    for name in view.rooms.ordered() {
        let log = &view.rooms.logs[name];
        if log.details.direct && !in_direct {
            in_direct = true;
            ui.add_space(6.0);
            ui.label(RichText::new("Direct").strong());
        }
        let current = view.rooms.current.as_deref() == Some(name);
        let mut text = room_label(&view.rooms, name);
        if log.unread > 0 {
            text.push_str(&format!(" ({})", log.unread));
        }
        if log.mentions > 0 {
            text.push_str(&format!(" @{}", log.mentions));
        }
        let text = match (log.mentions, log.unread) {
            (0, 0) => RichText::new(text),
            (0, _) => RichText::new(text).strong(),
            _ => RichText::new(text).strong().color(MENTION),
        };
        if ui.selectable_label(current, text).clicked() {
            switch = Some(name.to_owned());
        }
    }
    if let Some(room) = switch {
        view.switch_to(&room);
    }
    let mut request = None;
    if !view.rooms.invitations.is_empty() {
        ui.add_space(6.0);
        ui.label(RichText::new("Invited").strong());
        for room in view.rooms.invitations.keys() {
            ui.horizontal(|ui| {
                ui.label(format!("🔒{room}"));
                if ui.small_button("Join").clicked() {
                    request = Some(Request::Join(room.clone()));
                }
            });
        }
    }
    ui.separator();
    let label = ui.label("Room name");
    ui.add(TextEdit::singleline(&mut view.room_field).desired_width(f32::INFINITY))
        .labelled_by(label.id);
    let name = view.room_field.trim().to_owned();
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!name.is_empty(), egui::Button::new("Join"))
            .clicked()
        {
            request = Some(Request::Join(name.clone()));
        }
        if ui
            .add_enabled(!name.is_empty(), egui::Button::new("Create"))
            .clicked()
        {
            request = Some(Request::Create {
                room: name.clone(),
                private: view.private,
            });
        }
    });
    ui.checkbox(&mut view.private, "private")
        .on_hover_text("Create it private: only those you invite see it.");
    if matches!(request, Some(Request::Join(_) | Request::Create { .. })) {
        view.room_field.clear();
    }
    if let Some(current) = view.rooms.current.clone()
        && ui
            .button(format!("Leave {}", room_label(&view.rooms, &current)))
            .clicked()
    {
        request = Some(Request::Leave(current));
    }
    ui.separator();
    let label = ui.label("Message an account");
    ui.add(TextEdit::singleline(&mut view.direct_field).desired_width(f32::INFINITY))
        .labelled_by(label.id);
    let name = view.direct_field.trim().to_owned();
    if ui
        .add_enabled(!name.is_empty(), egui::Button::new("Open"))
        .clicked()
    {
        view.direct_field.clear();
        request = Some(Request::Direct(name));
    }
    request
}

/// The current room's members with presence and role; a member's menu
/// (right click) holds what the user's role allows to do to them.
fn members_panel(ui: &mut egui::Ui, view: &ChatView) -> Option<Request> {
    ui.heading("Members");
    let room = view.rooms.current.clone()?;
    let log = view.rooms.current_log()?;
    let role = view.rooms.my_role(&room);
    let mut choice = None;
    for member in log.members.values() {
        let dot = if member.online {
            RichText::new("●").color(ONLINE)
        } else {
            RichText::new("○").weak()
        };
        ui.horizontal(|ui| {
            ui.label(dot);
            let mut name = format!("{}{}", member.role.mark(), member.name);
            if member.muted {
                name.push_str(" (muted)");
            }
            let label = ui.add(egui::Label::new(name).sense(egui::Sense::click()));
            if member.name != view.rooms.me() {
                label.context_menu(|ui| {
                    for (text, chosen) in member_actions(role, member) {
                        if ui.button(text).clicked() {
                            choice = Some(chosen);
                            ui.close();
                        }
                    }
                });
            }
        });
    }
    match choice? {
        MemberChoice::Message(name) => Some(Request::Direct(name)),
        MemberChoice::Act(action) => Some(Request::Moderate { room, action }),
    }
}

/// An entry of a member's menu.
enum MemberChoice {
    /// Open the direct conversation with the member.
    Message(String),
    Act(RoomAction),
}

/// What a user of role `role` may do to `member`, as menu entries.
/// A guest is not messaged directly, promoted or given the room.
fn member_actions(role: Role, member: &Member) -> Vec<(&'static str, MemberChoice)> {
    let name = member.name.clone();
    let mut actions = Vec::new();
    if !member.guest {
        actions.push(("Message", MemberChoice::Message(name.clone())));
    }
    let mut act = |text, action| actions.push((text, MemberChoice::Act(action)));
    if role > member.role && role >= Role::Moderator {
        act("Kick", RoomAction::Kick(name.clone()));
        act("Ban", RoomAction::Ban(name.clone()));
        if member.muted {
            act("Unmute", RoomAction::Unmute(name.clone()));
        } else {
            act("Mute", RoomAction::Mute(name.clone()));
        }
    }
    if role == Role::Owner && !member.guest {
        if member.role == Role::Moderator {
            act("Remove moderator", RoomAction::Demote(name.clone()));
        } else {
            act("Make moderator", RoomAction::Promote(name.clone()));
        }
        act("Make owner", RoomAction::TransferOwnership(name));
    }
    actions
}

/// The current room's newest entries; scrolling to the top, or the button
/// there, draws older ones and loads history when they run out.
fn messages(ui: &mut egui::Ui, view: &mut ChatView) -> Vec<Request> {
    let Some(log) = view.rooms.current_log() else {
        ui.label("Join a room to start chatting.");
        return Vec::new();
    };
    let entries: Vec<(&EntryKey, &Entry)> = log.entries.iter().collect();
    let first = entries.len().saturating_sub(view.shown);
    let older = first > 0 || log.has_older;
    let loading = log.loading;
    let me = view.rooms.me().to_owned();
    let moderates = view
        .rooms
        .current
        .as_deref()
        .is_some_and(|room| view.rooms.my_role(room) >= Role::Moderator);
    let mut wants_older = false;
    let mut picked = None;
    // The message jumped to, and whether to scroll to it (once it is drawn).
    let focus = (view.focus.as_ref())
        .filter(|(room, _)| view.rooms.current.as_ref() == Some(room))
        .map(|(_, seq)| (*seq, 0));
    let mut scroll_to_focus = view.scroll_to_focus;
    let scrolled = ScrollArea::vertical()
        .stick_to_bottom(true)
        .auto_shrink(false)
        .show(ui, |ui| {
            if loading {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Loading history…");
                });
            } else if older {
                wants_older = ui.button("Show older messages").clicked();
            }
            let mut divider = log.divider;
            for (key, entry) in &entries[first..] {
                if divider.is_some_and(|read| key.0 > read) {
                    divider = None;
                    new_messages_line(ui);
                }
                let focused = focus == Some(**key);
                let row = EntryRow {
                    me: &me,
                    moderates,
                    focused,
                    scroll: focused && std::mem::take(&mut scroll_to_focus),
                    files_base: &view.files_base,
                    pictures: &mut view.pictures,
                };
                if let Some(pick) = entry_row(ui, log, entry, row) {
                    picked = Some(pick);
                }
            }
            if !log.typing.is_empty() {
                ui.label(RichText::new(typing_line(&log.typing)).italics().weak());
            }
        });
    view.scroll_to_focus = scroll_to_focus;
    let mut requests = view.pictures.requests();
    if let Some(pick) = picked {
        requests.extend(view.pick(pick));
        return requests;
    }
    let offset = scrolled.state.clamped_offset().y;
    let overflow = scrolled.content_size.y - scrolled.inner_rect.height();
    let at_top = offset <= 0.0 && overflow > 0.0;
    view.at_bottom = offset >= overflow - 1.0;
    // Only on arriving at the top: staying there must not draw ever more.
    let arrived = at_top && !view.at_top;
    view.at_top = at_top;
    if (wants_older || arrived) && older && !loading {
        requests.extend(view.show_older());
    }
    requests
}

/// The line where the messages the user has not read begin.
fn new_messages_line(ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("new messages").small().color(MENTION));
        ui.add(egui::Separator::default().horizontal().grow(0.0));
    });
}

/// `ann is typing…`, `ann and bob are typing…`, `several people are
/// typing…`.
fn typing_line(typing: &std::collections::BTreeSet<String>) -> String {
    let names: Vec<&str> = typing.iter().map(String::as_str).collect();
    match names[..] {
        [one] => format!("{one} is typing…"),
        [one, two] => format!("{one} and {two} are typing…"),
        _ => "several people are typing…".to_owned(),
    }
}

/// How an entry is drawn: for whom, and whether it is the message jumped
/// to (marked), to be scrolled to now.
struct EntryRow<'a> {
    me: &'a str,
    moderates: bool,
    focused: bool,
    scroll: bool,
    files_base: &'a str,
    pictures: &'a mut Pictures,
}

/// Draws one entry; what is picked from a message (its context menu, or
/// its reactions) is handed back.
fn entry_row(ui: &mut egui::Ui, log: &RoomLog, entry: &Entry, row: EntryRow) -> Option<Pick> {
    let EntryRow {
        me,
        moderates,
        files_base,
        pictures,
        ..
    } = row;
    let message = match entry {
        Entry::Message(message) => message,
        Entry::Notice(text) => {
            ui.label(RichText::new(text).italics().weak());
            return None;
        }
    };
    let mut picked = None;
    if let Some(target) = message.reply_to {
        ui.label(
            RichText::new(format!("    ↪ {}", log.quote(target)))
                .weak()
                .small(),
        );
    }
    let local: chrono::DateTime<chrono::Local> = message.sent_at.into();
    let sender = RichText::new(message.sender_label()).strong();
    let sender = if message.is_from(me) {
        sender.color(Color32::from_rgb(90, 170, 230))
    } else {
        sender.color(Color32::from_rgb(200, 120, 220))
    };
    let tint = if row.focused {
        FOCUS_TINT
    } else if message.mentions(me) {
        MENTION_TINT
    } else {
        Color32::TRANSPARENT
    };
    let framed = egui::Frame::new().fill(tint).show(ui, |ui| {
        ui.set_min_width(ui.available_width());
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(local.format("%H:%M").to_string()).weak());
            ui.label(sender);
            if message.deleted {
                let said = match &message.deleted_by {
                    Some(by) => format!("message deleted by {by}"),
                    None => "message deleted".to_owned(),
                };
                ui.label(RichText::new(said).italics().weak());
                return;
            }
            let text = ui.label(styled_text(ui, &message.text));
            text.context_menu(|ui| picked = message_menu(ui, message, me, moderates));
            if let Some(edited) = message.edited_at {
                let at: chrono::DateTime<chrono::Local> = edited.into();
                ui.label(RichText::new("(edited)").weak().small())
                    .on_hover_text(format!("edited at {}", at.format("%H:%M:%S")));
            }
        });
    });
    if row.scroll {
        framed.response.scroll_to_me(Some(egui::Align::Center));
    }
    if !message.deleted {
        for file in &message.files {
            file_row(ui, file, files_base, pictures);
        }
    }
    if !message.reactions.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.add_space(40.0);
            for reaction in &message.reactions {
                let mine = reaction.includes(me);
                let chip = format!("{} {}", reaction.emoji, reaction.count);
                let chip = ui
                    .selectable_label(mine, RichText::new(chip).size(15.0))
                    .on_hover_text(reaction.names.join(", "));
                if chip.clicked() {
                    picked = Some(Pick::React {
                        seq: message.seq,
                        emoji: reaction.emoji.clone(),
                        remove: mine,
                    });
                }
            }
        });
    }
    picked
}

/// The largest a thumbnail is drawn, in points.
const THUMBNAIL_POINTS: f32 = 240.0;

/// A file under its message: an image's thumbnail, or its name and size;
/// either opens the file in the browser.
fn file_row(ui: &mut egui::Ui, file: &SharedFile, base: &str, pictures: &mut Pictures) {
    let url = format!("{base}{}", file.url);
    ui.horizontal(|ui| {
        ui.add_space(40.0);
        if !file.is_image() {
            ui.hyperlink_to(file.label(), &url).on_hover_text(&url);
            return;
        }
        let picture = pictures.get(&file.id, &file.thumbnail_url);
        if let Picture::Decoded(image) = picture {
            let image = std::mem::take(image);
            let texture = ui.ctx().load_texture(&file.id, image, Default::default());
            *picture = Picture::Shown(texture);
        }
        match picture {
            Picture::Shown(texture) => {
                let size = texture.size_vec2();
                let scale = (THUMBNAIL_POINTS / size.x.max(size.y)).min(1.0);
                let shown =
                    egui::Image::new((texture.id(), size * scale)).sense(egui::Sense::click());
                let response = ui
                    .add(shown)
                    .on_hover_text(format!("{} · click to open", file.label()));
                if response.clicked() {
                    ui.ctx().open_url(egui::OpenUrl::new_tab(&url));
                }
            }
            Picture::Failed(error) => {
                ui.hyperlink_to(file.label(), &url)
                    .on_hover_text(format!("no preview: {error}"));
            }
            _ => {
                ui.spinner();
                ui.label(RichText::new(file.label()).weak());
            }
        }
    });
}

/// A message's context menu: reply, react, and for one's own (or any, as
/// a moderator) edit and delete, the deletion asked again.
fn message_menu(
    ui: &mut egui::Ui,
    message: &chat_client::ChatMessage,
    me: &str,
    moderates: bool,
) -> Option<Pick> {
    let seq = message.seq;
    let mut picked = None;
    if ui.button("Reply").clicked() {
        picked = Some(Pick::Reply(seq));
    }
    ui.menu_button("React", |ui| {
        ui.horizontal(|ui| {
            for emoji in QUICK_REACTIONS {
                if ui.button(RichText::new(emoji).size(18.0)).clicked() {
                    let remove =
                        (message.reactions.iter()).any(|r| r.emoji == emoji && r.includes(me));
                    picked = Some(Pick::React {
                        seq,
                        emoji: emoji.to_owned(),
                        remove,
                    });
                }
            }
        });
    });
    let own = message.is_from(me);
    if own && ui.button("Edit").clicked() {
        picked = Some(Pick::Edit(seq, message.text.clone()));
    }
    if own || moderates {
        ui.menu_button("Delete…", |ui| {
            if ui.button("Delete for everyone").clicked() {
                picked = Some(Pick::Delete(seq));
            }
        });
    }
    if picked.is_some() {
        ui.close();
    }
    picked
}

/// A message's text as Markdown (the subset the other clients show):
/// strong in the strong colour, emphasis in italics, struck through,
/// code in monospace on a faint background, links underlined.
fn styled_text(ui: &egui::Ui, text: &str) -> egui::text::LayoutJob {
    let visuals = ui.visuals();
    let body = egui::TextStyle::Body.resolve(ui.style());
    let mono = egui::TextStyle::Monospace.resolve(ui.style());
    let mut job = egui::text::LayoutJob::default();
    for (at, line) in markdown::lines(text).into_iter().enumerate() {
        if at > 0 {
            job.append(
                "\n",
                0.0,
                egui::TextFormat::simple(body.clone(), visuals.text_color()),
            );
        }
        for run in line {
            let style = run.style;
            let mut format = egui::TextFormat::simple(
                if style.code {
                    mono.clone()
                } else {
                    body.clone()
                },
                if style.strong {
                    visuals.strong_text_color()
                } else if style.quoted {
                    visuals.weak_text_color()
                } else {
                    visuals.text_color()
                },
            );
            format.italics = style.emphasis;
            if style.code {
                format.background = visuals.code_bg_color;
            }
            if style.struck {
                format.strikethrough = egui::Stroke::new(1.0, visuals.text_color());
            }
            if style.link {
                format.underline = egui::Stroke::new(1.0, visuals.hyperlink_color);
                format.color = visuals.hyperlink_color;
            }
            job.append(&run.text, 0.0, format);
        }
    }
    job
}
