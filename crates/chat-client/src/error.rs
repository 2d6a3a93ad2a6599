//! Why a call failed ([`ClientError`]), and which failures a retry may get
//! past.

use tonic::{Code, Status};

/// Why a call failed, in terms an application can show a person.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    /// `reason` says what happened and what to try, naming the server.
    #[error("{reason}")]
    Unreachable { address: String, reason: String },
    /// The name is held by someone logged in, or registered; `message`
    /// is the server's.
    #[error("{message}")]
    NameTaken { name: String, message: String },
    /// The server refused the request; `message` says why.
    #[error("{message}")]
    Refused { code: Code, message: String },
    #[error("the client has shut down")]
    Closed,
    /// A file the flags name could not be read or written (the CA
    /// certificate, the token file); `0` says which and why.
    #[error("{0}")]
    Setup(String),
}

impl ClientError {
    pub(crate) fn from_status(status: Status) -> Self {
        ClientError::Refused {
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

/// Whether a failed call may succeed if tried again unchanged: the
/// connection or the session was the problem, not the request.
pub(crate) fn is_transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Unauthenticated
            | Code::Internal
    )
}
