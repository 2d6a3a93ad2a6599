//! Why the session service refused: typed, so each adapter words the
//! status it answers with at its own edge.

use chat_engine::EngineError;

use super::names::NameError;
use crate::accounts::AccountError;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("this server admits accounts only: log in with a password, or register first")]
    AccountsOnly,
    #[error("the session token is unknown or its session ended; log in again")]
    Expired,
    /// Leaving a room the user is not in.
    #[error("you are not in room `{0}`")]
    NotInRoom(String),
    /// Sending to a room the user is not in.
    #[error("you are not in room `{0}`; join it first")]
    JoinFirst(String),
    /// A room that is not open, or not for the asker to know of.
    #[error("there is no open room `{0}`")]
    NoSuchRoom(String),
    #[error("sending too fast: at most {0} messages a second; wait a moment and retry")]
    SendingTooFast(u32),
    #[error("searching too fast: at most {0} searches a second; wait a moment and retry")]
    SearchingTooFast(u32),
    #[error("already in {0} rooms, the most one user may be in; leave one first")]
    TooManyRooms(usize),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Account(#[from] AccountError),
}
