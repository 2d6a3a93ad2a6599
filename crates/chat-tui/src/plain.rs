//! The plain line mode, for scripts and pipes: each line read from
//! standard input is sent to the current room or run as a command; events
//! are printed to standard output, one a line, and connection changes and
//! errors to standard error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chat_client::{AccountChange, Client, ClientEvent, Connection};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::command::{self, AccountCommand, Line, MessageAction};
use crate::runner::{self, Outcome};

/// Runs until standard input ends, `/quit` or `/logout`; then a guest is
/// logged out and an account's session kept (see [`Client::quit`]).
pub async fn run(
    client: Client,
    events: mpsc::Receiver<ClientEvent>,
    room: String,
) -> anyhow::Result<()> {
    let current = Arc::new(Mutex::new(Some(room)));
    let printer = tokio::spawn(print_events(events, client.full_url("")));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let here = current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let outcomes = match command::parse(&line) {
            Ok(Line::Empty) => continue,
            Ok(Line::Text(text)) => match &here {
                Some(room) => runner::send(&client, room, &text, None).await,
                None => vec![Outcome::Error("you are in no room; /join one first".into())],
            },
            Ok(Line::Command(command)) => runner::run(&client, command, here.as_deref()).await,
            Ok(Line::OnMessage { seq, action }) => match &here {
                Some(room) => on_message(&client, room, seq, action).await,
                None => vec![Outcome::Error("you are in no room; /join one first".into())],
            },
            Ok(Line::Account(command)) => match ask(command).await {
                Ok(change) => runner::account(&client, change).await,
                Err(error) => vec![Outcome::Error(error)],
            },
            Err(error) => vec![Outcome::Error(error.to_string())],
        };
        let mut quit = false;
        for outcome in outcomes {
            match outcome {
                Outcome::Info(text) => println!("* {text}"),
                Outcome::Error(text) => eprintln!("! {text}"),
                Outcome::SwitchTo(room) => {
                    println!("* now in #{room}");
                    *current.lock().unwrap_or_else(PoisonError::into_inner) = Some(room);
                }
                Outcome::Left(room) => {
                    let mut current = current.lock().unwrap_or_else(PoisonError::into_inner);
                    if current.as_deref() == Some(room.as_str()) {
                        *current = client.rooms().into_iter().next();
                    }
                }
                // The plain client rings no bell: nothing to keep.
                Outcome::Notify(..) => {}
                Outcome::Found(_, page) | Outcome::FoundMore(page) => {
                    for hit in page.hits {
                        println!("* #{} {}: {}", hit.room, hit.sender_label(), hit.text);
                    }
                }
                Outcome::Help => {
                    for line in crate::command::HELP {
                        println!("* {line}");
                    }
                }
                Outcome::Quit => quit = true,
            }
        }
        if quit {
            break;
        }
    }
    // Quiet first: the session ending is no disconnection to report.
    printer.abort();
    client.quit().await;
    Ok(())
}

async fn print_events(mut events: mpsc::Receiver<ClientEvent>, files_base: String) {
    let mut labels = DirectLabels::default();
    while let Some(event) = events.recv().await {
        labels.apply(&event);
        if let Some(line) = describe(&event, |room| labels.label(room), &files_base) {
            println!("{line}");
        }
        if let ClientEvent::Connection(connection) = event {
            match connection {
                Connection::Online => eprintln!("* connected"),
                Connection::Connecting => {}
                Connection::Offline { reason, retry_in } => {
                    eprintln!(
                        "! disconnected ({reason}); retrying in {}s",
                        retry_in.as_secs_f32()
                    );
                }
            }
        }
    }
}

/// How the direct conversations the user is in are shown: `@peer`, not
/// their internal names. Holds only the rooms the user is in (the server
/// caps those, `--max-rooms-per-user`): a room left is forgotten.
#[derive(Debug, Default)]
struct DirectLabels(HashMap<String, String>);

impl DirectLabels {
    fn apply(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::RoomJoined { room, details, .. } if details.direct => {
                self.0.insert(room.clone(), details.title());
            }
            ClientEvent::RoomLeft { room, .. } => {
                self.0.remove(room);
            }
            _ => {}
        }
    }

    /// `@peer` for a direct conversation, `#name` for any other room.
    fn label(&self, room: &str) -> String {
        self.0
            .get(room)
            .cloned()
            .unwrap_or_else(|| format!("#{room}"))
    }
}

/// An event as one line of output, each room shown as `label` says;
/// `None` for connection changes.
pub fn describe(
    event: &ClientEvent,
    label: impl Fn(&str) -> String,
    files_base: &str,
) -> Option<String> {
    Some(match event {
        // Lines after a message's first are indented, so a message cannot
        // pass for an event line of its own.
        ClientEvent::Message(m) => format!(
            "[{}] {} {}: {}{}",
            crate::clock(m.sent_at),
            label(&m.room),
            m.sender_label(),
            m.text.replace('\n', "\n    "),
            (m.files.iter())
                .map(|file| format!("\n    {} {files_base}{}", file.label(), file.url))
                .collect::<String>()
        ),
        ClientEvent::MessageUpdated(m) if m.deleted => {
            format!(
                "* {}: a message of {} was deleted",
                label(&m.room),
                m.sender_label()
            )
        }
        ClientEvent::MessageUpdated(m) => format!(
            "[{}] {} {} (changed): {}{}",
            crate::clock(m.sent_at),
            label(&m.room),
            m.sender_label(),
            m.text.replace('\n', "\n    "),
            chat_client::reactions_line(&m.reactions)
                .map(|line| format!("\n    {line}"))
                .unwrap_or_default()
        ),
        ClientEvent::RoomJoined { room, members, .. } => {
            format!("* in #{room} with {} member(s)", members.len())
        }
        ClientEvent::RoomLeft { room, reason } if reason.is_empty() => format!("* out of #{room}"),
        ClientEvent::RoomLeft { room, reason } => format!("* out of #{room}: {reason}"),
        ClientEvent::RoomChanged {
            room,
            actor,
            action,
        } => {
            format!("* #{room}: {}", chat_client::rooms::describe(actor, action))
        }
        ClientEvent::Invited { room, by } if by.is_empty() => {
            format!("* you are invited to #{room}: /join {room}")
        }
        ClientEvent::Invited { room, by } => {
            format!("* {by} invited you to #{room}: /join {room}")
        }
        ClientEvent::MemberJoined { room, name, .. } => format!("* {name} joined #{room}"),
        ClientEvent::MemberLeft { room, name } => format!("* {name} left #{room}"),
        ClientEvent::Presence { name, online } => {
            format!("* {name} is {}", if *online { "online" } else { "away" })
        }
        ClientEvent::RoomCreated { room } => format!("* room #{room} opened"),
        ClientEvent::RoomClosed { room } => format!("* room #{room} closed"),
        ClientEvent::FellBehind {
            room,
            first_missed,
            resumed_at,
        } => format!(
            "! #{room}: messages #{first_missed} to #{} were lost while the connection lagged",
            resumed_at.saturating_sub(1)
        ),
        ClientEvent::Connection(_)
        | ClientEvent::ReadMarker { .. }
        | ClientEvent::NotifyChanged { .. }
        | ClientEvent::Typing { .. } => return None,
    })
}

/// Does `action` on message `seq` of `room`, or else on the one it goes
/// to by default (plain mode shows no selection): for a reply or a
/// reaction the newest message from someone else, for an edit or a
/// deletion the user's newest.
async fn on_message(
    client: &Client,
    room: &str,
    seq: Option<u64>,
    action: MessageAction,
) -> Vec<Outcome> {
    let seq = match seq {
        Some(seq) => Some(seq),
        None => match client.history(room, None, 50).await {
            Ok(page) => {
                let mine = matches!(action, MessageAction::Edit(_) | MessageAction::Delete);
                (page.messages.iter().rev())
                    .find(|m| m.is_from(client.name()) == mine && !m.deleted)
                    .map(|m| m.seq)
            }
            Err(error) => return vec![Outcome::Error(error.to_string())],
        },
    };
    match seq {
        Some(seq) => runner::on_message(client, room, seq, action).await,
        None => vec![Outcome::Error(
            "there is no message here for that; give its number".into(),
        )],
    }
}

/// Asks at the terminal, without echo, for the passwords `command` needs.
async fn ask(command: AccountCommand) -> Result<AccountChange, String> {
    let answers = tokio::task::spawn_blocking(move || {
        (command.questions().iter())
            .map(|question| rpassword::prompt_password(format!("{question}: ")))
            .collect::<std::io::Result<Vec<String>>>()
    })
    .await
    .map_err(|error| error.to_string())?
    .map_err(|error| {
        format!("cannot ask for a password here ({error}); use the full-screen client")
    })?;
    command.answered(answers).map_err(str::to_owned)
}

#[cfg(test)]
mod tests {
    use chat_client::RoomInfo;

    use super::*;

    #[test]
    fn a_direct_conversation_is_labelled_by_its_peer_until_left() {
        let mut labels = DirectLabels::default();
        let joined = |room: &str, direct: bool| ClientEvent::RoomJoined {
            room: room.into(),
            members: Vec::new(),
            last_seq: 0,
            details: RoomInfo {
                name: room.into(),
                direct,
                peer: "carl".into(),
                ..RoomInfo::default()
            },
        };
        labels.apply(&joined("@dm-1", true));
        labels.apply(&joined("dev", false));
        assert_eq!(labels.label("@dm-1"), "@carl");
        assert_eq!(labels.label("dev"), "#dev");
        labels.apply(&ClientEvent::RoomLeft {
            room: "@dm-1".into(),
            reason: String::new(),
        });
        assert!(labels.0.is_empty(), "a room left is forgotten");
    }
}
