//! How engine errors reach gRPC clients.

use chat_engine::{EngineError, StoreError, SubscriptionError};
use tonic::Status;

pub fn from_engine(error: EngineError) -> Status {
    let message = error.to_string();
    match error {
        EngineError::EmptyName { .. }
        | EngineError::NameTooLong { .. }
        | EngineError::EmptyText
        | EngineError::TextTooLong { .. } => Status::invalid_argument(message),
        EngineError::RoomClosed(_) => Status::not_found(message),
        EngineError::Store(error) => from_store(error),
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

fn from_store(error: StoreError) -> Status {
    Status::unavailable(format!("{error}; try again shortly"))
}
