//! Why the engine refused ([`EngineError`]) or a subscription ended
//! ([`SubscriptionError`]).

use crate::store::StoreError;

/// Why the engine refused a request. Each variant names the rule that was
/// broken so an adapter can turn it into a status a person can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("the name is empty; give a name of 1 to {max} characters")]
    EmptyName { max: usize },
    #[error("the name is {len} characters long; the limit is {max}")]
    NameTooLong { len: usize, max: usize },
    #[error("the name starts or ends with a space; remove it")]
    NamePadded,
    #[error(
        "the name has U+{0:04X}, a character readers cannot see (a control, \
         zero-width or direction character); use visible characters only"
    )]
    NameHasHiddenCharacter(u32),
    #[error(
        "the message has U+{0:04X}, a control or direction character; only \
         newlines and tabs are allowed"
    )]
    TextHasControlCharacter(u32),
    #[error("the message is empty; send at least one character")]
    EmptyText,
    #[error("a message carries at most {0} files; send the rest in another")]
    TooManyAttachments(usize),
    #[error("the search is empty; give at least one word")]
    EmptySearch,
    #[error("the search is {len} characters long; the limit is {max}")]
    SearchTooLong { len: usize, max: usize },
    #[error("the search has more than {0} words; use fewer")]
    TooManySearchTerms(usize),
    #[error("the message is {len} bytes long; the limit is {max} bytes")]
    TextTooLong { len: usize, max: usize },
    #[error("the client message id is {len} bytes long; the limit is {max} bytes")]
    ClientIdTooLong { len: usize, max: usize },
    #[error("{}", name_taken(name, holder))]
    NameTaken { name: String, holder: String },
    #[error("{}", name_registered(name, account))]
    NameRegistered { name: String, account: String },
    #[error("the server has its limit of {0} rooms; leave or wait for rooms to close")]
    TooManyRooms(usize),
    #[error("you have created {0} rooms, the most one user may")]
    TooManyRoomsCreated(usize),
    #[error("creating rooms too fast: at most {per_hour} an hour; try again in {wait_secs} s")]
    CreatingRoomsTooFast { per_hour: u32, wait_secs: u64 },
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("room `{0}` is closed")]
    RoomClosed(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    InvalidChange(String),
    #[error("there is no user `{0}`: no account has that name, and nobody logged in holds it")]
    NoSuchUser(String),
    /// No open room by that name that the asker may know of.
    #[error("there is no open room `{0}`")]
    NoSuchRoom(String),
    #[error("you are banned from room `{0}`")]
    Banned(String),
    /// The same for a public room and a private one, which is not to be
    /// told apart from a room that is not there.
    #[error("the room name `{0}` is taken; choose another")]
    RoomNameTaken(String),
    #[error("there is no message {seq} in room `{room}`")]
    NoSuchMessage { room: String, seq: u64 },
    #[error("message {seq} in room `{room}` was deleted")]
    MessageDeleted { room: String, seq: u64 },
    #[error("`{0}` is not an emoji: react with one emoji, or a shortcode such as :thumbsup:")]
    NotAnEmoji(String),
    #[error("the message has {0} different reactions, the most it may; add to one of them")]
    TooManyReactions(usize),
    #[error("you have put {0} reactions on this message, the most one user may")]
    TooManyOwnReactions(usize),
    #[error("you are muted in room `{0}`: you may read it, but not send to it")]
    Muted(String),
    #[error("the topic is {len} characters long; the limit is {max}")]
    TopicTooLong { len: usize, max: usize },
    #[error(
        "the room has granted or refused {0} names, the most it may; unban or remove some first"
    )]
    TooManyGrants(usize),
    #[error("history store failed: {0}")]
    Store(#[from] StoreError),
}

/// Why a subscription cannot deliver its next message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubscriptionError {
    /// The subscriber fell so far behind that the messages it still needs
    /// are gone from history. It can [skip ahead](crate::Subscription::skip_to)
    /// to `first_available`, or give up.
    #[error(
        "fell behind: messages from #{first_missing} are no longer in history \
         (the oldest kept is #{first_available})"
    )]
    Lagged {
        first_missing: u64,
        first_available: u64,
    },
    #[error("the room is closed")]
    RoomClosed,
    #[error("history store failed: {0}")]
    Store(#[from] StoreError),
}

fn name_taken(name: &str, holder: &str) -> String {
    if name == holder {
        // A user whose client just went away keeps its name for the
        // presence grace, so restarting at once meets its own name.
        format!(
            "the name `{name}` is in use by a user who is logged in, or was a moment ago (a \
             name is kept about 10 s for its user to come back); choose another, or try again \
             shortly"
        )
    } else {
        format!("the name `{name}` looks like `{holder}`, a user who is logged in; choose another")
    }
}

fn name_registered(name: &str, account: &str) -> String {
    if name == account {
        format!("the name `{name}` is registered; log in with its password, or choose another name")
    } else {
        format!("the name `{name}` looks like `{account}`, a registered name; choose another name")
    }
}
