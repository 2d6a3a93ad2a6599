//! Carrying out commands against the server; shared by the terminal UI and
//! the plain line mode, which only differ in how they show the outcome.

use chat_client::{AccountChange, Client, NotifyLevel, RoomAction, SearchPage};

use chat_client::emoji::expand_shortcodes;

use crate::command::{Command, MessageAction};

/// The room `/all` posts to.
pub const LOBBY: &str = "lobby";

/// What came of a command, for the front end to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Info(String),
    Error(String),
    /// Make this the current room.
    SwitchTo(String),
    /// The current room was left; switch elsewhere.
    Left(String),
    /// What a room tells the user about is now this.
    Notify(String, NotifyLevel),
    /// What a search found.
    Found(String, SearchPage),
    /// The next page of the search shown.
    FoundMore(SearchPage),
    /// Show the commands ([`HELP`](crate::command::HELP)), all at once.
    Help,
    Quit,
}

/// Runs `command` with `current` as the current room.
pub async fn run(client: &Client, command: Command, current: Option<&str>) -> Vec<Outcome> {
    match command {
        Command::All(text) => {
            // The seed console's /all talks to its lobby: so does this one,
            // and says so the first time.
            let mut said = Vec::new();
            if !client.rooms().iter().any(|room| room == LOBBY) {
                if let Err(error) = client.join_room(LOBBY).await {
                    return vec![Outcome::Error(format!("cannot join the lobby: {error}"))];
                }
                said.push(Outcome::Info(format!(
                    "/all talks to #{LOBBY}, the seed console's lobby: you joined it \
                     (/leave {LOBBY} to go)"
                )));
            }
            said.extend(send(client, LOBBY, &text, None).await);
            said
        }
        Command::Create { name, private } => {
            let name = name.unwrap_or_else(|| format!("room-{:04x}", rand::random::<u16>()));
            match client.create_room(&name, private).await {
                Ok(room) => vec![
                    Outcome::Info(format!(
                        "created {}#{}",
                        if private { "private room " } else { "" },
                        room.name
                    )),
                    Outcome::SwitchTo(room.name),
                ],
                Err(error) => vec![Outcome::Error(error.to_string())],
            }
        }
        Command::Moderate(action) => {
            let Some(room) = current else {
                return vec![Outcome::Error("you are in no room; /join one first".into())];
            };
            let delete = matches!(action, RoomAction::Delete(_));
            match client.moderate(room, action).await {
                // The room's log tells of the change, as it does everyone's.
                Ok(_) if delete => vec![Outcome::Left(room.to_owned())],
                Ok(_) => Vec::new(),
                Err(error) => vec![Outcome::Error(error.to_string())],
            }
        }
        Command::Notify(level) => {
            let Some(room) = current else {
                return vec![Outcome::Error("you are in no room; /join one first".into())];
            };
            match client.set_notify(room, level).await {
                Ok(()) => vec![
                    Outcome::Notify(room.to_owned(), level),
                    Outcome::Info(format!(
                        "#{room} tells you of {}",
                        match level {
                            NotifyLevel::Mentions => "mentions of you only",
                            NotifyLevel::None => "nothing",
                            _ => "every message",
                        }
                    )),
                ],
                Err(error) => vec![Outcome::Error(error.to_string())],
            }
        }
        Command::Search(query) => search(client, query, String::new()).await,
        Command::Upload(path) => match current {
            Some(room) => upload(client, room, &path).await,
            None => vec![Outcome::Error("you are in no room; /join one first".into())],
        },
        Command::Bans => {
            let Some(room) = current else {
                return vec![Outcome::Error("you are in no room; /join one first".into())];
            };
            match client.list_bans(room).await {
                Ok(names) if names.is_empty() => {
                    vec![Outcome::Info(format!("nobody is banned from #{room}"))]
                }
                Ok(names) => vec![Outcome::Info(format!(
                    "banned from #{room}: {}",
                    names.join(", ")
                ))],
                Err(error) => vec![Outcome::Error(error.to_string())],
            }
        }
        Command::Direct { name, text } => match client.open_direct(&name).await {
            Ok(room) => {
                let mut outcomes = send(client, &room.name, &text, None).await;
                outcomes.push(Outcome::SwitchTo(room.name));
                outcomes
            }
            Err(error) => vec![Outcome::Error(error.to_string())],
        },
        Command::List => match client.list_rooms().await {
            Ok(rooms) => {
                let list: Vec<String> = rooms
                    .iter()
                    .map(|room| {
                        let mark = if room.private && !room.direct {
                            "🔒"
                        } else {
                            "#"
                        };
                        let name = if room.direct {
                            room.title()
                        } else {
                            format!("{mark}{}", room.name)
                        };
                        format!("{name} ({})", room.member_count)
                    })
                    .collect();
                vec![Outcome::Info(format!("rooms: {}", list.join(", ")))]
            }
            Err(error) => vec![Outcome::Error(error.to_string())],
        },
        Command::Join(room) => {
            if client.rooms().contains(&room) {
                return vec![Outcome::SwitchTo(room)];
            }
            match client.join_room(&room).await {
                Ok(_) => vec![
                    Outcome::Info(format!("joined #{room}")),
                    Outcome::SwitchTo(room),
                ],
                Err(error) => vec![Outcome::Error(error.to_string())],
            }
        }
        Command::Leave(room) => {
            let Some(room) = room.or_else(|| current.map(str::to_owned)) else {
                return vec![Outcome::Error("you are in no room; /join one first".into())];
            };
            match client.leave_room(&room).await {
                Ok(()) => vec![Outcome::Info(format!("left #{room}")), Outcome::Left(room)],
                Err(error) => vec![Outcome::Error(error.to_string())],
            }
        }
        Command::Who => {
            let Some(room) = current else {
                return vec![Outcome::Error("you are in no room; /join one first".into())];
            };
            match client.list_members(room).await {
                Ok(members) => {
                    let names: Vec<String> = members
                        .iter()
                        .map(|m| {
                            let mut shown = format!("{}{}", m.role.mark(), m.name);
                            if m.muted {
                                shown.push_str(" (muted)");
                            }
                            if !m.online {
                                shown.push_str(" (away)");
                            }
                            shown
                        })
                        .collect();
                    vec![Outcome::Info(format!("in #{room}: {}", names.join(", ")))]
                }
                Err(error) => vec![Outcome::Error(error.to_string())],
            }
        }
        Command::Help => vec![Outcome::Help],
        Command::Quit => vec![Outcome::Quit],
        Command::Logout => match client.logout().await {
            Ok(()) => vec![Outcome::Info("logged out".into()), Outcome::Quit],
            Err(error) => vec![Outcome::Error(error.to_string())],
        },
    }
}

/// Carries out a change to the user's account.
pub async fn account(client: &Client, change: AccountChange) -> Vec<Outcome> {
    let deleting = matches!(change, AccountChange::Delete { .. });
    match (client.change_account(change).await, deleting) {
        (Ok(()), false) => vec![Outcome::Info(
            "password changed; your other sessions have ended".into(),
        )],
        (Ok(()), true) => vec![Outcome::Info("account deleted".into()), Outcome::Quit],
        (Err(error), false) => vec![Outcome::Error(format!("password not changed: {error}"))],
        (Err(error), true) => vec![Outcome::Error(format!("account not deleted: {error}"))],
    }
}

/// Sends `text` to `room`; only a failure has anything to show (the message
/// itself comes back as an event).
pub async fn send(client: &Client, room: &str, text: &str, reply_to: Option<u64>) -> Vec<Outcome> {
    match client.reply(room, &expand_shortcodes(text), reply_to).await {
        Ok(_) => Vec::new(),
        Err(error) => vec![Outcome::Error(format!("not sent: {error}"))],
    }
}

/// Does `action` to message `seq` of `room`. What changed shows when the
/// server tells everyone in the room.
pub async fn on_message(
    client: &Client,
    room: &str,
    seq: u64,
    action: MessageAction,
) -> Vec<Outcome> {
    let done = match action {
        MessageAction::Reply(text) => return send(client, room, &text, Some(seq)).await,
        MessageAction::Edit(text) => client
            .edit(room, seq, &expand_shortcodes(&text))
            .await
            .map(drop),
        MessageAction::Delete => client.delete(room, seq).await,
        MessageAction::React { emoji, remove } => {
            client.react(room, seq, &emoji, remove).await.map(drop)
        }
    };
    match done {
        Ok(()) => Vec::new(),
        Err(error) => vec![Outcome::Error(error.to_string())],
    }
}

/// A page of the messages holding every word of `query`: the first, or the
/// one `page_token` names.
pub async fn search(client: &Client, query: String, page_token: String) -> Vec<Outcome> {
    match client.search(&query, None, &page_token).await {
        Ok(page) if !page_token.is_empty() => vec![Outcome::FoundMore(page)],
        Ok(page) if page.hits.is_empty() => {
            vec![Outcome::Info(format!("nothing holds \"{query}\""))]
        }
        Ok(page) => vec![Outcome::Found(query, page)],
        Err(error) => vec![Outcome::Error(error.to_string())],
    }
}

/// Uploads the file at `path` (`~/` is the home folder) and sends it to
/// `room`; the message shows it once the server has it.
pub async fn upload(client: &Client, room: &str, path: &str) -> Vec<Outcome> {
    let path = match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => std::path::PathBuf::from(path),
    };
    let name = path.file_name().map_or_else(
        || "file".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return vec![Outcome::Error(format!(
                "cannot read {}: {error}",
                path.display()
            ))];
        }
    };
    let size = chat_client::human_size(bytes.len() as u64);
    let file = match client.upload(&name, bytes).await {
        Ok(file) => file,
        Err(error) => return vec![Outcome::Error(format!("{name} was not sent: {error}"))],
    };
    match client.send_files(room, "", None, vec![file.id]).await {
        Ok(_) => vec![Outcome::Info(format!("sent {name} ({size}) to #{room}"))],
        Err(error) => vec![Outcome::Error(format!("{name} was not sent: {error}"))],
    }
}
