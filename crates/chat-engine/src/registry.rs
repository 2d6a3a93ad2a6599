//! The name registry, as a handle of its own: who holds which name (a
//! guest's claim, an account's registration) on every protocol and node,
//! and who is online. The rules a name must keep are checked here.

use std::sync::Arc;

use crate::directory::{Directory, UserHere};
use crate::{EngineError, Limits, NameClaim};

/// A cheap-to-clone handle to the names held, from [`Engine::names`].
///
/// [`Engine::names`]: crate::Engine::names
#[derive(Clone)]
pub struct Names {
    directory: Arc<Directory>,
    limits: Limits,
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Names").finish_non_exhaustive()
    }
}

impl Names {
    pub(crate) fn new(directory: Arc<Directory>, limits: Limits) -> Self {
        Names { directory, limits }
    }

    /// Claims `name` for a guest logging in, on every node; it is free
    /// again when the claim is dropped. Fails if the name breaks the rules,
    /// or it or a name that looks like it is registered or held by another
    /// logged-in user.
    pub async fn claim(&self, name: &str) -> Result<NameClaim, EngineError> {
        self.limits.check_name(name)?;
        self.directory.claim(name)?.hold_across_nodes().await
    }

    /// Claims `name` for a user on this node only: the lobby's users,
    /// whose names come from its own indexes.
    pub fn claim_here(&self, name: &str) -> Result<NameClaim, EngineError> {
        self.limits.check_name(name)?;
        self.directory.claim(name)
    }

    /// Claims registered `name` for its account's user.
    pub fn claim_registered(&self, name: &str) -> Result<NameClaim, EngineError> {
        self.directory.claim_registered(name)
    }

    /// Registers `name` for an account: nobody else may use it, or a name
    /// that looks like it, from now on. Fails if the name breaks the rules,
    /// or it (or one like it) is registered or held by a logged-in user.
    pub async fn register(&self, name: &str) -> Result<(), EngineError> {
        self.limits.check_name(name)?;
        self.directory.register(name)?;
        // A guest of another node may hold it; once the account is stored,
        // the store keeps the name, so it is let go again at once.
        let held = self.directory.relay().hold_name(name).await;
        if held.is_ok() {
            self.directory.relay().release_name(name);
        } else {
            self.directory.unregister(name);
        }
        held
    }

    /// Registers the name of an account that is stored already (at start,
    /// or registered on another node).
    pub fn register_stored(&self, name: &str) -> Result<(), EngineError> {
        self.limits.check_name(name)?;
        self.directory.register(name)
    }

    /// Frees a name [registered](Self::register) before.
    pub fn unregister(&self, name: &str) {
        self.directory.unregister(name);
    }

    /// Checks a name that a user of a protocol without login (classic)
    /// sends under: it follows the rules, is not registered, and no
    /// logged-in user holds it or a name that looks like it.
    pub fn check_unclaimed(&self, name: &str) -> Result<(), EngineError> {
        self.limits.check_name(name)?;
        self.directory.lock().check_free(name)
    }

    /// Whether a user called `name` is logged in and connected, here or
    /// on another node.
    pub fn is_online(&self, name: &str) -> bool {
        self.directory.is_online(name)
    }

    /// Whether `name` is an account's, as registered (not a name that only
    /// looks like one).
    pub fn is_registered(&self, name: &str) -> bool {
        self.directory.lock().is_registered(name)
    }

    /// The users logged in on this node.
    pub fn users_here(&self) -> Vec<UserHere> {
        self.directory.lock().users_here()
    }
}
