//! Which names the protocols reserve, and the rules a new user's or room's
//! name must keep: one place for every adapter and the admin socket.

use std::sync::LazyLock;

use chat_engine::name_key;

/// How lobby-protocol users are named in the engine: `user-N`.
const LOBBY_USER_PREFIX: &str = "user-";

/// The engine room every lobby-protocol user is a member of.
pub const LOBBY_ROOM: &str = "lobby";

/// How the rooms of lobby channels are named.
pub const CHANNEL_PREFIX: &str = "channel-";

/// How the names of direct conversations start.
pub const DIRECT_PREFIX: &str = "@";

/// Longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 64;

/// Why a name cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name has control characters; use printable ones")]
    ControlCharacters,
    #[error("names like `{0}` belong to lobby-protocol users; choose another")]
    LobbyUserName(String),
    #[error("a room name has 1 to {MAX_ROOM_CHARS} characters; `{name}` has {chars}")]
    RoomNameLength { name: String, chars: usize },
    #[error(
        "the room name `{0}` has spaces or control characters; use letters, digits, `-` or `_`"
    )]
    RoomNameSpaces(String),
    #[error("`{0}`: `lobby` and names starting `channel-` belong to the lobby protocol")]
    LobbyRoomName(String),
    #[error("`{0}`: names starting `{DIRECT_PREFIX}` belong to direct conversations")]
    DirectRoomName(String),
}

/// The engine name of lobby user `index`.
pub fn lobby_user_name(index: i32) -> String {
    format!("{LOBBY_USER_PREFIX}{index}")
}

/// The lobby index behind an engine name, if it is a lobby user's.
pub fn lobby_user_index(name: &str) -> Option<i32> {
    name.strip_prefix(LOBBY_USER_PREFIX)?
        .parse()
        .ok()
        .filter(|&index| index > 0)
}

/// Whether `name` has the form lobby-protocol users' names have, or looks
/// like it as names are compared ([`name_key`]: `User-4`, `user-５`), so
/// nobody else can hold a name a lobby login will be given.
pub fn is_lobby_user_name(name: &str) -> bool {
    static FORMS: LazyLock<(String, Vec<String>)> = LazyLock::new(|| {
        let digits = ('0'..='9').map(|digit| name_key(&digit.to_string()));
        (name_key(LOBBY_USER_PREFIX), digits.collect())
    });
    let (prefix, digits) = &*FORMS;
    let key = name_key(name);
    let Some(mut rest) = key.strip_prefix(prefix.as_str()) else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        match digits
            .iter()
            .find_map(|digit| rest.strip_prefix(digit.as_str()))
        {
            Some(after) => rest = after,
            None => return false,
        }
    }
    true
}

/// Refuses a name only lobby users may hold.
pub fn check_not_lobby_user_name(name: &str) -> Result<(), NameError> {
    match is_lobby_user_name(name) {
        true => Err(NameError::LobbyUserName(name.to_owned())),
        false => Ok(()),
    }
}

/// Whether room `name` is (or would be) a lobby channel's.
pub fn is_channel_room(name: &str) -> bool {
    name.starts_with(CHANNEL_PREFIX)
}

/// A display name a user may log in or register with. (Length and
/// emptiness are the engine's limits, checked when the name is claimed.)
pub fn check_user_name(name: &str) -> Result<(), NameError> {
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    check_not_lobby_user_name(name)
}

/// A name a user may give a new room.
pub fn check_room_name(name: &str) -> Result<(), NameError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_ROOM_CHARS {
        return Err(NameError::RoomNameLength {
            name: name.to_owned(),
            chars,
        });
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(NameError::RoomNameSpaces(name.to_owned()));
    }
    if is_channel_room(name) || name == LOBBY_ROOM {
        return Err(NameError::LobbyRoomName(name.to_owned()));
    }
    if name.starts_with(DIRECT_PREFIX) {
        return Err(NameError::DirectRoomName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_and_user_names_follow_the_rules() {
        assert!(check_room_name("dev-team_2").is_ok());
        assert!(check_room_name("개발팀").is_ok());
        assert!(check_room_name("").is_err());
        assert!(check_room_name("two words").is_err());
        assert!(check_room_name("channel-50054").is_err());
        assert!(check_room_name("lobby").is_err());
        assert!(check_room_name("@dm-1").is_err());
        assert!(check_room_name(&"r".repeat(65)).is_err());
        assert!(check_user_name("민지").is_ok());
        assert!(check_user_name("user-7").is_err());
        assert!(check_user_name("user-seven").is_ok());
        assert!(check_user_name("bell\u{7}").is_err());
    }

    #[test]
    fn lobby_names_are_known_in_every_spelling_that_looks_like_one() {
        for lobby in [
            "user-4", "User-4", "USER-6", "uSer-7", "user-５", "user-１", "user-007",
        ] {
            assert!(is_lobby_user_name(lobby), "{lobby}");
        }
        for other in [
            "user-",
            "user",
            "user-4a",
            "username",
            "ann",
            "user-four",
            "user 4",
        ] {
            assert!(!is_lobby_user_name(other), "{other}");
        }
    }
}
