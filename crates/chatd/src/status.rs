//! How the engine's and the services' errors reach gRPC clients: each
//! adapter makes its statuses here, at its edge.

use chat_engine::{EngineError, StoreError, SubscriptionError};
use tonic::Status;

use crate::accounts::AccountError;
use crate::files::FileError;
use crate::sessions::SessionError;
use crate::sessions::names::NameError;

use crate::lobby::HubError;

pub fn from_engine(error: EngineError) -> Status {
    let message = error.to_string();
    match error {
        EngineError::EmptyName { .. }
        | EngineError::NameTooLong { .. }
        | EngineError::NamePadded
        | EngineError::NameHasHiddenCharacter(_)
        | EngineError::TextHasControlCharacter(_)
        | EngineError::EmptyText
        | EngineError::TooManyAttachments(_)
        | EngineError::EmptySearch
        | EngineError::SearchTooLong { .. }
        | EngineError::TooManySearchTerms(_)
        | EngineError::TextTooLong { .. }
        | EngineError::ClientIdTooLong { .. }
        | EngineError::NoSuchMessage { .. }
        | EngineError::NotAnEmoji(_) => Status::invalid_argument(message),
        EngineError::MessageDeleted { .. }
        | EngineError::TooManyReactions(_)
        | EngineError::TooManyOwnReactions(_) => Status::failed_precondition(message),
        EngineError::NameTaken { .. }
        | EngineError::NameRegistered { .. }
        | EngineError::RoomNameTaken(_) => Status::already_exists(message),
        EngineError::TooManyRooms(_)
        | EngineError::TooManyRoomsCreated(_)
        | EngineError::CreatingRoomsTooFast { .. } => Status::resource_exhausted(message),
        EngineError::RoomClosed(_) | EngineError::NoSuchUser(_) => Status::not_found(message),
        EngineError::NoSuchRoom(room) => room_not_found(&room),
        EngineError::NotAllowed(_) | EngineError::Banned(_) | EngineError::Muted(_) => {
            Status::permission_denied(message)
        }
        EngineError::InvalidChange(_) => Status::failed_precondition(message),
        EngineError::TopicTooLong { .. } => Status::invalid_argument(message),
        EngineError::TooManyGrants(_) => Status::resource_exhausted(message),
        EngineError::ShuttingDown => Status::unavailable(message),
        EngineError::Store(error) => from_store(error),
    }
}

pub fn from_account(error: AccountError) -> Status {
    let message = error.to_string();
    match error {
        AccountError::WrongNameOrPassword => Status::unauthenticated(message),
        AccountError::Locked(_) => Status::permission_denied(message),
        AccountError::PasswordTooShort { .. } | AccountError::PasswordTooLong { .. } => {
            Status::invalid_argument(message)
        }
        AccountError::TooManyFailures { .. }
        | AccountError::TooManyRegistrations { .. }
        | AccountError::Busy
        | AccountError::ChecksUnderWay(_) => Status::resource_exhausted(message),
        AccountError::Internal(_) => Status::internal(message),
        AccountError::Engine(error) => from_engine(error),
        AccountError::Store(error) => from_store(error),
    }
}

pub fn from_session(error: SessionError) -> Status {
    let message = error.to_string();
    match error {
        SessionError::AccountsOnly => Status::permission_denied(message),
        SessionError::Expired => Status::unauthenticated(message),
        SessionError::NotInRoom(_) | SessionError::JoinFirst(_) => {
            Status::failed_precondition(message)
        }
        SessionError::NoSuchRoom(room) => room_not_found(&room),
        SessionError::SendingTooFast(_)
        | SessionError::SearchingTooFast(_)
        | SessionError::TooManyRooms(_) => Status::resource_exhausted(message),
        SessionError::Name(_) => Status::invalid_argument(message),
        SessionError::Engine(error) => from_engine(error),
        SessionError::Account(error) => from_account(error),
    }
}

impl From<SessionError> for Status {
    fn from(error: SessionError) -> Status {
        from_session(error)
    }
}

impl From<NameError> for Status {
    fn from(error: NameError) -> Status {
        Status::invalid_argument(error.to_string())
    }
}

impl From<AccountError> for Status {
    fn from(error: AccountError) -> Status {
        from_account(error)
    }
}

/// Why files could not be attached to a message.
pub fn from_file(error: FileError) -> Status {
    let message = error.to_string();
    match error {
        FileError::Session(error) => from_session(error),
        FileError::NoSuchFile(_) => Status::not_found(message),
        FileError::NotYours(_) => Status::permission_denied(message),
        FileError::TooManyAttachments(_) => Status::invalid_argument(message),
        FileError::Store(_) | FileError::ShuttingDown => Status::unavailable(message),
        _ => Status::failed_precondition(message),
    }
}

pub fn from_subscription(error: SubscriptionError) -> Status {
    match error {
        SubscriptionError::Lagged { .. } => Status::resource_exhausted(format!(
            "this stream {error}; it read too slowly to keep up. \
             Open a new stream to continue from recent history"
        )),
        SubscriptionError::RoomClosed => Status::not_found("the room was closed"),
        SubscriptionError::Store(error) => from_store(error),
    }
}

pub fn from_hub(error: HubError) -> Status {
    let message = error.to_string();
    match error {
        HubError::UnknownUser(_) | HubError::UnknownChannel(_) => Status::not_found(message),
        HubError::NotYours(_) => Status::permission_denied(message),
        HubError::NotInChannel { .. } | HubError::NotInAnyChannel(_) => {
            Status::failed_precondition(message)
        }
        HubError::PoolExhausted(_)
        | HubError::IndexesExhausted
        | HubError::ChannelsPerAddress(_) => Status::resource_exhausted(message),
        HubError::UnknownCommand(_) | HubError::MissingChannel => Status::invalid_argument(message),
        HubError::Engine(error) => from_engine(error),
    }
}

/// A room that is not there, or not for the asker to know of: the two
/// read the same.
pub fn room_not_found(name: &str) -> Status {
    Status::not_found(format!(
        "there is no open room `{name}`; see the list of rooms, or create it"
    ))
}

fn from_store(error: StoreError) -> Status {
    match error {
        StoreError::Unavailable(_) => Status::unavailable(format!("{error}; try again shortly")),
        StoreError::NoSuchAccount(_) => Status::not_found(error.to_string()),
        StoreError::AccountExists(_) => Status::already_exists(error.to_string()),
    }
}
