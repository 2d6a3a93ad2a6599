//! Why the accounts refused: typed, so each protocol adapter words the
//! status it answers with at its own edge.

use chat_engine::{EngineError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The reply never says which of the two was wrong.
    #[error("wrong name or password")]
    WrongNameOrPassword,
    #[error("the account `{0}` is locked; ask the server's operator")]
    Locked(String),
    #[error("too many failed logins for {whom}; try again in {seconds} s")]
    TooManyFailures { whom: &'static str, seconds: u64 },
    #[error("too many accounts registered from {whom}; try again in {seconds} s")]
    TooManyRegistrations { whom: &'static str, seconds: u64 },
    #[error("the password is {bytes} bytes long; use at least {least}")]
    PasswordTooShort { bytes: usize, least: usize },
    #[error("the password is {bytes} bytes long; the limit is {most}")]
    PasswordTooLong { bytes: usize, most: usize },
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
    #[error("{0} password checks from your address are under way; wait for their answers")]
    ChecksUnderWay(usize),
    /// Hashing or checking a password failed in the server.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
