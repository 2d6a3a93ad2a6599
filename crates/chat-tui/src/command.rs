//! What a typed line means: text for the current room, or a command.

use chat_client::{AccountChange, NotifyLevel, RoomAction};

/// A slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/all TEXT`: post to the lobby.
    All(String),
    /// `/make [NAME]` or `/create [NAME]`: a new room (named for you if
    /// no name is given); `/private [NAME]`: a new private room.
    Create { name: Option<String>, private: bool },
    /// `/topic [TEXT]`, `/invite NAME`, `/kick NAME`, `/ban NAME`,
    /// `/unban NAME`, `/mute NAME`, `/unmute NAME`, `/op NAME`,
    /// `/deop NAME`, `/owner NAME`, `/delete`: change the current room.
    Moderate(RoomAction),
    /// `/bans`: who is banned from the current room.
    Bans,
    /// `/msg NAME TEXT`: a direct message to account NAME.
    Direct { name: String, text: String },
    /// `/list`: the open rooms.
    List,
    /// `/join ROOM`: join a room (or switch to it); a number N means the
    /// lobby protocol's channel N, room `channel-N`.
    Join(String),
    /// `/leave [ROOM]`: leave a room, the current one by default.
    Leave(Option<String>),
    /// `/user` or `/who`: the current room's members.
    Who,
    /// `/notify all|mentions|none`: what the current room tells you of.
    Notify(NotifyLevel),
    /// Find messages holding every word, in every room the user may read.
    Search(String),
    /// `/upload PATH`: send the file at PATH to the current room.
    Upload(String),
    /// `/?` or `/help`.
    Help,
    /// `/quit`: leave, keeping an account's session for next time.
    Quit,
    /// `/logout`: end the session (a saved token no longer logs in), and
    /// leave.
    Logout,
}

/// A change to one's account, whose passwords the front end asks for
/// without echo (they never come on the command line, nor go in the
/// input history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountCommand {
    /// `/password`: change the account's password.
    ChangePassword,
    /// `/deleteaccount`: delete the account for good.
    DeleteAccount,
}

impl AccountCommand {
    /// What to ask for, in order.
    pub fn questions(self) -> &'static [&'static str] {
        match self {
            AccountCommand::ChangePassword => {
                &["current password", "new password", "new password again"]
            }
            AccountCommand::DeleteAccount => &["your password, to delete your account for good"],
        }
    }

    /// The change, from the answers to [`questions`](Self::questions).
    pub fn answered(self, mut answers: Vec<String>) -> Result<AccountChange, &'static str> {
        match self {
            AccountCommand::ChangePassword => {
                let again = answers.pop().unwrap_or_default();
                let new = answers.pop().unwrap_or_default();
                if new != again {
                    return Err("the new passwords differ; nothing changed, try /password again");
                }
                let old = answers.pop().unwrap_or_default();
                Ok(AccountChange::Password { old, new })
            }
            AccountCommand::DeleteAccount => Ok(AccountChange::Delete {
                password: answers.pop().unwrap_or_default(),
            }),
        }
    }
}

/// A typed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Text for the current room (`//text` sends `/text`).
    Text(String),
    Command(Command),
    Account(AccountCommand),
    /// `/reply`, `/edit`, `/delete`, `/react` and `/unreact`: an action on
    /// message `seq` (`/edit 12 text`), or else on the selected one, or
    /// else on the one the action goes to by default (see
    /// [`MessageAction`]).
    OnMessage {
        seq: Option<u64>,
        action: MessageAction,
    },
    /// Nothing to do (a blank line).
    Empty,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageAction {
    /// Answer it (by default the newest message of someone else).
    Reply(String),
    /// Replace its text (by default one's newest message).
    Edit(String),
    /// Delete it (by default one's newest message).
    Delete,
    /// Put an emoji on it or take one's away (by default the newest
    /// message of someone else).
    React { emoji: String, remove: bool },
}

/// Why a line is not a valid command, in one line a person can act on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("unknown command /{0}; /help lists the commands")]
    Unknown(String),
    #[error("/{command} needs {what}, e.g. {example}")]
    MissingArgument {
        command: &'static str,
        what: &'static str,
        example: &'static str,
    },
    #[error("/{command} takes no arguments")]
    UnexpectedArgument { command: &'static str },
    #[error("type /{command} alone: the passwords are asked for without showing them")]
    PasswordOnTheLine { command: &'static str },
    #[error("a room name has no spaces: /{command} {example}")]
    Spaces {
        command: &'static str,
        example: String,
    },
}

/// The commands' names, for completion; `parse` knows each.
pub const COMMANDS: &[&str] = &[
    "all",
    "ban",
    "bans",
    "create",
    "delete",
    "deleteaccount",
    "deleteroom",
    "deop",
    "edit",
    "help",
    "invite",
    "join",
    "kick",
    "leave",
    "list",
    "logout",
    "make",
    "msg",
    "mute",
    "notify",
    "op",
    "owner",
    "password",
    "private",
    "quit",
    "react",
    "reply",
    "topic",
    "unban",
    "unmute",
    "unreact",
    "upload",
    "user",
    "who",
];

/// The help text, one command a line.
pub const HELP: &[&str] = &[
    "TEXT              send TEXT to the current room (//TEXT sends /TEXT)",
    "/all TEXT         send TEXT to #lobby, joining it (the seed console's /all)",
    "/make [NAME]      create a room; /private [NAME]: a room for those you /invite",
    "/upload PATH      send the file at PATH to this room (also /attach)",
    "/msg NAME TEXT    send TEXT to account NAME, in your direct conversation",
    "/reply [N] TEXT   answer message N, the one picked with Alt-↑/↓, or the newest",
    "/edit [N] TEXT    change your message N, picked or newest; /delete [N] too",
    "/react [N] 👍     react to N, the picked or the newest; /unreact takes back",
    "/join ROOM        join a room, or go to one you are in (/join N: channel N)",
    "/leave [ROOM]     leave this room (or ROOM); /notify all|mentions|none",
    "/search WORDS     find messages in your rooms; /list: the open rooms; /who",
    "/topic [TEXT]     set (or clear) the room's topic       · owner, moderators",
    "/invite NAME      let NAME join this private room        · owner, moderators",
    "/kick NAME        put NAME out (may come back)           · owner, moderators",
    "/ban NAME         put NAME out for good; /unban NAME     · owner, moderators",
    "/mute NAME        NAME may read, not send; /unmute NAME  · owner, moderators",
    "/bans             who is banned here                     · owner, moderators",
    "/op NAME          make NAME a moderator; /deop NAME      · owner",
    "/owner NAME       hand the room to NAME                  · owner",
    "/deleteroom       delete this room and its history       · owner",
    "/password         change your password; /deleteaccount: delete your account",
    "/quit             leave, staying logged in; /logout: log out for good",
];

pub fn parse(line: &str) -> Result<Line, CommandError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Ok(Line::Empty);
    }
    if let Some(text) = line.strip_prefix("//") {
        return Ok(Line::Text(format!("/{text}")));
    }
    let Some(command) = line.strip_prefix('/') else {
        return Ok(Line::Text(line.to_owned()));
    };
    let (name, rest) = match command.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (command, ""),
    };
    let command = match name.to_lowercase().as_str() {
        "all" => {
            Command::All(required(rest, "all", "a message", "/all hello everyone")?.to_owned())
        }
        "make" | "create" => Command::Create {
            name: room_name(rest, "make")?,
            private: false,
        },
        "private" => Command::Create {
            name: room_name(rest, "private")?,
            private: true,
        },
        "topic" => Command::Moderate(RoomAction::SetTopic(rest.to_owned())),
        "invite" => Command::Moderate(RoomAction::Invite(user(rest, "invite")?)),
        "kick" => Command::Moderate(RoomAction::Kick(user(rest, "kick")?)),
        "ban" => Command::Moderate(RoomAction::Ban(user(rest, "ban")?)),
        "unban" => Command::Moderate(RoomAction::Unban(user(rest, "unban")?)),
        "mute" => Command::Moderate(RoomAction::Mute(user(rest, "mute")?)),
        "unmute" => Command::Moderate(RoomAction::Unmute(user(rest, "unmute")?)),
        "op" => Command::Moderate(RoomAction::Promote(user(rest, "op")?)),
        "deop" => Command::Moderate(RoomAction::Demote(user(rest, "deop")?)),
        "owner" => Command::Moderate(RoomAction::TransferOwnership(user(rest, "owner")?)),
        "deleteroom" => no_arguments(
            rest,
            "deleteroom",
            Command::Moderate(RoomAction::Delete(true)),
        )?,
        "bans" => no_arguments(rest, "bans", Command::Bans)?,
        "msg" => {
            let (name, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let text = text.trim();
            if name.is_empty() || text.is_empty() {
                return Err(CommandError::MissingArgument {
                    command: "msg",
                    what: "a name and a message",
                    example: "/msg ann hello",
                });
            }
            Command::Direct {
                name: name.to_owned(),
                text: text.to_owned(),
            }
        }
        "list" => no_arguments(rest, "list", Command::List)?,
        "join" => {
            let room = room_name(rest, "join")?.ok_or(CommandError::MissingArgument {
                command: "join",
                what: "a room",
                example: "/join general",
            })?;
            Command::Join(room)
        }
        "leave" => Command::Leave(room_name(rest, "leave")?),
        "user" | "users" | "who" => no_arguments(rest, "user", Command::Who)?,
        "search" | "find" if rest.trim().is_empty() => {
            return Err(CommandError::MissingArgument {
                command: "search",
                what: "the words to find",
                example: "/search address minji",
            });
        }
        "search" | "find" => Command::Search(rest.trim().to_owned()),
        "upload" | "attach" => Command::Upload(
            required(rest, "upload", "a file's path", "/upload ~/photos/cat.jpg")?.to_owned(),
        ),
        "notify" => Command::Notify(match rest.to_lowercase().as_str() {
            "all" => NotifyLevel::All,
            "mentions" => NotifyLevel::Mentions,
            "none" => NotifyLevel::None,
            _ => {
                return Err(CommandError::MissingArgument {
                    command: "notify",
                    what: "all, mentions or none",
                    example: "/notify mentions",
                });
            }
        }),
        "?" | "help" => Command::Help,
        "quit" | "exit" => no_arguments(rest, "quit", Command::Quit)?,
        "logout" => no_arguments(rest, "logout", Command::Logout)?,
        "reply" | "edit" | "delete" | "react" | "unreact" => return on_message(name, rest),
        "password" | "passwd" => return account(rest, "password", AccountCommand::ChangePassword),
        "deleteaccount" => return account(rest, "deleteaccount", AccountCommand::DeleteAccount),
        _ => return Err(CommandError::Unknown(name.to_owned())),
    };
    Ok(Line::Command(command))
}

/// A command on one message: `/NAME [N] REST`, N a message's number.
fn on_message(name: &str, rest: &str) -> Result<Line, CommandError> {
    let (first, after) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(first, after)| (first, after.trim()));
    // A number is one only with something after it (`/reply 12` says
    // "12"), but for /delete, which takes nothing else.
    let (seq, rest) = match message_number(first) {
        Some(seq) if !after.is_empty() || name.eq_ignore_ascii_case("delete") => (Some(seq), after),
        _ => (None, rest),
    };
    let action = match name.to_lowercase().as_str() {
        "reply" => MessageAction::Reply(
            required(rest, "reply", "a message", "/reply sounds good")?.to_owned(),
        ),
        "edit" => MessageAction::Edit(
            required(rest, "edit", "the new text", "/edit 12 the fixed text")?.to_owned(),
        ),
        "delete" if rest.is_empty() => MessageAction::Delete,
        "delete" => {
            return Err(CommandError::MissingArgument {
                command: "delete",
                what: "a message number or nothing (the picked message, or your newest)",
                example: "/delete 12",
            });
        }
        remove => MessageAction::React {
            emoji: required(rest, "react", "an emoji", "/react 👍 or /react 12 :tada:")?.to_owned(),
            remove: remove == "unreact",
        },
    };
    Ok(Line::OnMessage { seq, action })
}

/// `12` or `#12`: a message's number.
fn message_number(word: &str) -> Option<u64> {
    let digits = word.strip_prefix('#').unwrap_or(word);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An account command, which takes no arguments: a password typed after it
/// would show on the screen and stay in the history.
fn account(
    rest: &str,
    command: &'static str,
    parsed: AccountCommand,
) -> Result<Line, CommandError> {
    if rest.is_empty() {
        Ok(Line::Account(parsed))
    } else {
        Err(CommandError::PasswordOnTheLine { command })
    }
}

fn required<'a>(
    rest: &'a str,
    command: &'static str,
    what: &'static str,
    example: &'static str,
) -> Result<&'a str, CommandError> {
    if rest.is_empty() {
        Err(CommandError::MissingArgument {
            command,
            what,
            example,
        })
    } else {
        Ok(rest)
    }
}

/// The user a command names: the rest of the line.
fn user(rest: &str, command: &'static str) -> Result<String, CommandError> {
    required(rest, command, "a name", "/kick ann").map(str::to_owned)
}

fn no_arguments(
    rest: &str,
    command: &'static str,
    parsed: Command,
) -> Result<Command, CommandError> {
    if rest.is_empty() {
        Ok(parsed)
    } else {
        Err(CommandError::UnexpectedArgument { command })
    }
}

/// An optional room name; a bare number means that lobby channel.
fn room_name(rest: &str, command: &'static str) -> Result<Option<String>, CommandError> {
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.contains(char::is_whitespace) {
        return Err(CommandError::Spaces {
            command,
            example: rest.split_whitespace().collect::<Vec<_>>().join("-"),
        });
    }
    if rest.chars().all(|c| c.is_ascii_digit()) {
        return Ok(Some(format!("channel-{rest}")));
    }
    Ok(Some(rest.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_completed_command_is_known() {
        for name in COMMANDS {
            let parsed = parse(&format!("/{name}"));
            assert!(
                !matches!(parsed, Err(CommandError::Unknown(_))),
                "/{name}: {parsed:?}"
            );
        }
    }

    fn command(line: &str) -> Command {
        match parse(line) {
            Ok(Line::Command(command)) => command,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(
            command("/all hello there"),
            Command::All("hello there".into())
        );
        let create = |name: Option<&str>, private| Command::Create {
            name: name.map(str::to_owned),
            private,
        };
        assert_eq!(command("/make"), create(None, false));
        assert_eq!(command("/make dev"), create(Some("dev"), false));
        assert_eq!(command("/create 개발"), create(Some("개발"), false));
        assert_eq!(command("/private ops"), create(Some("ops"), true));
        let moderate = |action| Command::Moderate(action);
        assert_eq!(
            command("/topic Rust and more"),
            moderate(RoomAction::SetTopic("Rust and more".into()))
        );
        assert_eq!(command("/topic"), moderate(RoomAction::SetTopic("".into())));
        assert_eq!(
            command("/invite bob"),
            moderate(RoomAction::Invite("bob".into()))
        );
        assert_eq!(
            command("/kick bob"),
            moderate(RoomAction::Kick("bob".into()))
        );
        assert_eq!(
            command("/ban Mallory M"),
            moderate(RoomAction::Ban("Mallory M".into()))
        );
        assert_eq!(
            command("/unban bob"),
            moderate(RoomAction::Unban("bob".into()))
        );
        assert_eq!(
            command("/mute bob"),
            moderate(RoomAction::Mute("bob".into()))
        );
        assert_eq!(
            command("/unmute bob"),
            moderate(RoomAction::Unmute("bob".into()))
        );
        assert_eq!(
            command("/op bob"),
            moderate(RoomAction::Promote("bob".into()))
        );
        assert_eq!(
            command("/deop bob"),
            moderate(RoomAction::Demote("bob".into()))
        );
        assert_eq!(
            command("/owner bob"),
            moderate(RoomAction::TransferOwnership("bob".into()))
        );
        assert_eq!(command("/deleteroom"), moderate(RoomAction::Delete(true)));
        assert_eq!(command("/bans"), Command::Bans);
        assert_eq!(
            command("/msg bob hi there"),
            Command::Direct {
                name: "bob".into(),
                text: "hi there".into()
            }
        );
        assert_eq!(command("/list"), Command::List);
        assert_eq!(command("/join general"), Command::Join("general".into()));
        assert_eq!(
            command("/join 50054"),
            Command::Join("channel-50054".into())
        );
        assert_eq!(command("/leave"), Command::Leave(None));
        assert_eq!(command("/leave dev"), Command::Leave(Some("dev".into())));
        assert_eq!(command("/user"), Command::Who);
        assert_eq!(
            command("/notify mentions"),
            Command::Notify(NotifyLevel::Mentions)
        );
        assert_eq!(command("/notify NONE"), Command::Notify(NotifyLevel::None));
        assert_eq!(command("/who"), Command::Who);
        assert_eq!(command("/?"), Command::Help);
        assert_eq!(command("/help"), Command::Help);
        assert_eq!(command("/quit"), Command::Quit);
        assert_eq!(command("/logout"), Command::Logout);
        assert_eq!(command("/JOIN general"), Command::Join("general".into()));
    }

    #[test]
    fn message_commands_take_an_optional_number() {
        let on = |seq: Option<u64>, action| Ok(Line::OnMessage { seq, action });
        let reply = |text: &str| MessageAction::Reply(text.into());
        assert_eq!(parse("/reply sure"), on(None, reply("sure")));
        assert_eq!(parse("/reply 12 sure"), on(Some(12), reply("sure")));
        assert_eq!(parse("/reply #12 sure"), on(Some(12), reply("sure")));
        assert_eq!(parse("/reply 12"), on(None, reply("12")));
        assert_eq!(
            parse("/edit fixed it"),
            on(None, MessageAction::Edit("fixed it".into()))
        );
        assert_eq!(parse("/delete"), on(None, MessageAction::Delete));
        assert_eq!(parse("/delete 7"), on(Some(7), MessageAction::Delete));
        let react = |emoji: &str, remove| MessageAction::React {
            emoji: emoji.into(),
            remove,
        };
        assert_eq!(parse("/react 👍"), on(None, react("👍", false)));
        assert_eq!(
            parse("/react 3 :tada:"),
            on(Some(3), react(":tada:", false))
        );
        assert_eq!(parse("/unreact 3 👍"), on(Some(3), react("👍", true)));
    }

    #[test]
    fn text_blank_lines_and_escaped_slashes() {
        assert_eq!(
            parse("안녕하세요 🙂"),
            Ok(Line::Text("안녕하세요 🙂".into()))
        );
        assert_eq!(parse("  indented"), Ok(Line::Text("  indented".into())));
        assert_eq!(parse("//shrug"), Ok(Line::Text("/shrug".into())));
        assert_eq!(parse("   "), Ok(Line::Empty));
        assert_eq!(parse("hi\r\n"), Ok(Line::Text("hi".into())));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        let error = |line: &str| parse(line).unwrap_err().to_string();
        assert_eq!(
            error("/dance"),
            "unknown command /dance; /help lists the commands"
        );
        assert_eq!(
            error("/all"),
            "/all needs a message, e.g. /all hello everyone"
        );
        assert_eq!(error("/join"), "/join needs a room, e.g. /join general");
        assert_eq!(error("/kick"), "/kick needs a name, e.g. /kick ann");
        assert_eq!(
            error("/msg bob"),
            "/msg needs a name and a message, e.g. /msg ann hello"
        );
        assert_eq!(error("/deleteroom dev"), "/deleteroom takes no arguments");
        assert_eq!(
            error("/delete dev"),
            "/delete needs a message number or nothing (the picked message, or your newest), \
             e.g. /delete 12"
        );
        assert_eq!(
            error("/edit"),
            "/edit needs the new text, e.g. /edit 12 the fixed text"
        );
        assert_eq!(
            error("/react"),
            "/react needs an emoji, e.g. /react 👍 or /react 12 :tada:"
        );
        assert_eq!(error("/list rooms"), "/list takes no arguments");
        assert_eq!(error("/quit now"), "/quit takes no arguments");
        assert_eq!(
            error("/join my room"),
            "a room name has no spaces: /join my-room"
        );
        assert_eq!(error("/"), "unknown command /; /help lists the commands");
    }
}
