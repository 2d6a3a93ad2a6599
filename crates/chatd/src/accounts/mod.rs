//! Accounts and their login sessions: registered names, Argon2id password
//! hashes, session tokens kept only as hashes, and the throttle on failed
//! logins. Everything is read from the [`AccountStore`] at start and each
//! change is written through before it is acknowledged.

mod error;
mod passwords;
mod throttle;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chat_engine::{
    Account, AccountChange, AccountStore, AccountsSnapshot, Names, NotifyLevel, ReadMarker,
    StoreError, StoredSession, name_key,
};
use sha2::{Digest, Sha256};

pub use error::AccountError;
pub use passwords::{Asker, PASSWORD_BYTES, Passwords};
use throttle::LoginThrottle;

/// How often a session's last use is written back, at most: a session in
/// use is not rewritten on every call.
const TOUCH_EVERY: i64 = 60;

/// Sessions one account may hold at once; opening one more ends the one
/// unused the longest, so a leaked script cannot pile them up.
pub const MOST_SESSIONS_PER_ACCOUNT: usize = 20;

/// What the other nodes of a cluster must hear of accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountNews {
    /// An account or its sessions changed: the others read it again.
    Changed(String),
    /// Sessions ended, by token hash.
    SessionsEnded(Vec<String>),
    /// An account's read marker moved.
    MarkerMoved(ReadMarker),
    /// What a room tells an account about changed.
    NotifySet {
        account: String,
        room: String,
        level: NotifyLevel,
    },
}

/// Hands account news to the other nodes (the cluster's node), or to
/// nobody ([`NoAccountRelay`]).
pub trait AccountRelay: Send + Sync + 'static {
    fn announce(&self, news: AccountNews);
}

/// The account relay of a node on its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAccountRelay;

impl AccountRelay for NoAccountRelay {
    fn announce(&self, _news: AccountNews) {}
}

/// A cheap-to-clone handle to the accounts.
#[derive(Clone)]
pub struct Accounts {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn AccountStore>,
    /// Where account names are registered, so nobody else takes them.
    names: Names,
    relay: Arc<dyn AccountRelay>,
    passwords: Passwords,
    /// A session unused for this long is over.
    session_ttl: Duration,
    state: Mutex<State>,
    throttle: Mutex<LoginThrottle>,
}

#[derive(Default)]
struct State {
    /// By [`name_key`] of the account's name.
    accounts: HashMap<String, Account>,
    /// By token hash.
    sessions: HashMap<String, SessionRecord>,
}

#[derive(Debug, Clone)]
struct SessionRecord {
    stored: StoredSession,
    /// The last use written to the store.
    saved_use: i64,
}

/// What the store kept of the accounts' use of rooms, for the session
/// service to put back at start.
#[derive(Debug, Default)]
pub struct Restored {
    /// `(account, room)`.
    pub memberships: Vec<(String, String)>,
    pub read_markers: Vec<ReadMarker>,
    /// `(account, room, level)`.
    pub notify_levels: Vec<(String, String, NotifyLevel)>,
}

/// An account's session, as `chatctl` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The first 12 hex digits of the token's hash: enough to name it,
    /// useless to log in with.
    pub id: String,
    pub account: String,
    pub created_at: i64,
    pub last_used_at: i64,
}

impl Accounts {
    /// Accounts over `store`, whose names are registered in `engine`.
    /// Returns what the session service puts back: the accounts'
    /// memberships, read markers and notification levels.
    pub async fn load(
        store: Arc<dyn AccountStore>,
        names: Names,
        relay: Arc<dyn AccountRelay>,
        session_ttl: Duration,
    ) -> Result<(Self, Restored), StoreError> {
        let AccountsSnapshot {
            accounts,
            sessions,
            memberships,
            read_markers,
            notify_levels,
        } = store.load_accounts().await?;
        let mut state = State::default();
        for account in accounts {
            if let Err(error) = names.register_stored(&account.name) {
                // Only if the name rules changed since it was registered.
                tracing::warn!(name = account.name, %error, "account name not reserved");
            }
            state.accounts.insert(name_key(&account.name), account);
        }
        for stored in sessions {
            let saved_use = stored.last_used_at;
            state.sessions.insert(
                stored.token_hash.clone(),
                SessionRecord { stored, saved_use },
            );
        }
        let accounts = Accounts {
            shared: Arc::new(Shared {
                store,
                names,
                relay,
                passwords: Passwords::default(),
                session_ttl,
                state: Mutex::new(state),
                throttle: Mutex::default(),
            }),
        };
        accounts.end_expired_sessions().await;
        let restored = Restored {
            memberships,
            read_markers,
            notify_levels,
        };
        Ok((accounts, restored))
    }

    /// The account registered under `name` or a name that looks like it.
    pub fn find(&self, name: &str) -> Option<Account> {
        self.state().accounts.get(&name_key(name)).cloned()
    }

    /// Every account, by name.
    pub fn list(&self) -> Vec<Account> {
        let mut accounts: Vec<Account> = self.state().accounts.values().cloned().collect();
        accounts.sort_by(|a, b| a.name.cmp(&b.name));
        accounts
    }

    /// Creates an account for `name`, for a client at `address` (which is
    /// held to a pace of registrations), or for the operator (`None`). The
    /// caller has checked the name against its protocol's rules.
    pub async fn register(
        &self,
        name: &str,
        password: &str,
        address: Option<&str>,
    ) -> Result<Account, AccountError> {
        Passwords::check_strength(password)?;
        if let Some(address) = address {
            self.throttle()
                .check_registration(address)
                .map_err(|held| AccountError::TooManyRegistrations {
                    whom: held.whom,
                    seconds: held.wait.as_secs().max(1),
                })?;
        }
        // Reserved first, so two registrations of one name cannot both
        // hash; released again if anything after fails.
        self.shared.names.register(name).await?;
        let asker = address.map_or(Asker::Trusted, |address| Asker::Client {
            address: address.to_owned(),
            known: false,
        });
        let created = async {
            let account = Account {
                name: name.to_owned(),
                password_hash: self.shared.passwords.hash(password, asker).await?,
                created_at: now(),
                locked: false,
            };
            self.change(AccountChange::CreateAccount(account.clone()))
                .await?;
            self.state()
                .accounts
                .insert(name_key(name), account.clone());
            Ok::<_, AccountError>(account)
        }
        .await;
        if created.is_err() {
            self.shared.names.unregister(name);
        }
        let account = created?;
        if let Some(address) = address {
            self.throttle().registered(address);
        }
        tracing::info!(name, "account registered");
        Ok(account)
    }

    /// The account `name` names if `password` is its password. Failed
    /// attempts are throttled per name and per `address`; the reply never
    /// says which of name or password was wrong.
    pub async fn check_password(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<Account, AccountError> {
        let key = name_key(name);
        // Counted before the check, so guesses made at once cannot all
        // pass the throttle.
        let attempt = self.throttle().reserve(&key, address).map_err(|held| {
            AccountError::TooManyFailures {
                whom: held.whom,
                seconds: held.wait.as_secs().max(1),
            }
        })?;
        let account = self.state().accounts.get(&key).cloned();
        let hash = account.as_ref().map(|a| a.password_hash.as_str());
        let asker = Asker::Client {
            address: address.to_owned(),
            known: attempt.known,
        };
        let matches = match self.shared.passwords.verify(password, hash, asker).await {
            Ok(matches) => matches,
            Err(unchecked) => {
                self.throttle().give_back(&attempt);
                return Err(unchecked);
            }
        };
        match account {
            Some(account) if matches => {
                self.throttle().succeeded(&attempt);
                if account.locked {
                    return Err(AccountError::Locked(account.name));
                }
                Ok(account)
            }
            _ => {
                tracing::info!(name, address, "failed login");
                Err(AccountError::WrongNameOrPassword)
            }
        }
    }

    /// Sets `account`'s password, unchecked (the caller checked the old
    /// one, or is the operator).
    pub async fn set_password(&self, account: &str, password: &str) -> Result<(), AccountError> {
        Passwords::check_strength(password)?;
        let password_hash = self.shared.passwords.hash(password, Asker::Trusted).await?;
        self.change(AccountChange::SetPassword {
            account: account.to_owned(),
            password_hash: password_hash.clone(),
        })
        .await?;
        if let Some(stored) = self.state().accounts.get_mut(&name_key(account)) {
            stored.password_hash = password_hash;
        }
        Ok(())
    }

    pub async fn set_locked(&self, account: &str, locked: bool) -> Result<(), AccountError> {
        self.change(AccountChange::SetLocked {
            account: account.to_owned(),
            locked,
        })
        .await?;
        if let Some(stored) = self.state().accounts.get_mut(&name_key(account)) {
            stored.locked = locked;
        }
        Ok(())
    }

    /// Removes `account` with its sessions and memberships; its name is
    /// free again.
    pub async fn delete(&self, account: &str) -> Result<(), AccountError> {
        self.change(AccountChange::DeleteAccount(account.to_owned()))
            .await?;
        let key = name_key(account);
        {
            let mut state = self.state();
            state.accounts.remove(&key);
            state.sessions.retain(|_, s| s.stored.account != account);
        }
        self.throttle().forget(&key);
        self.shared.names.unregister(account);
        tracing::info!(name = account, "account deleted");
        Ok(())
    }

    /// Starts a session of `account`; returns its token, which is stored
    /// only as a hash. Ends the account's least recently used sessions
    /// past [`MOST_SESSIONS_PER_ACCOUNT`].
    pub async fn open_session(&self, account: &str) -> Result<String, AccountError> {
        let mut held: Vec<(i64, String)> = self
            .state()
            .sessions
            .values()
            .filter(|s| s.stored.account == account)
            .map(|s| (s.stored.last_used_at, s.stored.token_hash.clone()))
            .collect();
        if held.len() >= MOST_SESSIONS_PER_ACCOUNT {
            held.sort();
            let oldest = held.len() + 1 - MOST_SESSIONS_PER_ACCOUNT;
            let ended = held.drain(..oldest).map(|(_, hash)| hash).collect();
            self.revoke_hashes(ended).await?;
        }
        let token = new_token();
        let now = now();
        let stored = StoredSession {
            token_hash: token_hash(&token),
            account: account.to_owned(),
            created_at: now,
            last_used_at: now,
        };
        self.change(AccountChange::SaveSession(stored.clone()))
            .await?;
        self.state().sessions.insert(
            stored.token_hash.clone(),
            SessionRecord {
                stored,
                saved_use: now,
            },
        );
        Ok(token)
    }

    /// The account whose live session has the token of [`token_hash`]
    /// `hash`, noting the use. A session past its time to live is ended
    /// here.
    pub fn session_account(&self, hash: &str) -> Option<String> {
        let now = now();
        let ttl = self.ttl_secs();
        let mut state = self.state();
        let record = state.sessions.get_mut(hash)?;
        if now - record.stored.last_used_at > ttl {
            state.sessions.remove(hash);
            drop(state);
            self.forget_stored(vec![hash.to_owned()]);
            return None;
        }
        record.stored.last_used_at = now;
        Some(record.stored.account.clone())
    }

    /// Ends the session of `token`.
    pub async fn revoke(&self, token: &str) -> Result<(), AccountError> {
        self.revoke_hashes(vec![token_hash(token)]).await
    }

    /// Ends `account`'s sessions whose ids (see [`SessionInfo::id`])
    /// start with `id_prefix`, all of them if it is empty, except the one
    /// of token `keep`. Returns how many ended.
    pub async fn revoke_sessions(
        &self,
        account: &str,
        id_prefix: &str,
        keep: Option<&str>,
    ) -> Result<usize, AccountError> {
        let keep = keep.map(token_hash);
        let hashes: Vec<String> = self
            .state()
            .sessions
            .values()
            .filter(|s| s.stored.account == account)
            .map(|s| s.stored.token_hash.clone())
            .filter(|hash| hash.starts_with(id_prefix) && Some(hash) != keep.as_ref())
            .collect();
        let ended = hashes.len();
        self.revoke_hashes(hashes).await?;
        Ok(ended)
    }

    async fn revoke_hashes(&self, hashes: Vec<String>) -> Result<(), AccountError> {
        if hashes.is_empty() {
            return Ok(());
        }
        self.change(AccountChange::DeleteSessions(hashes.clone()))
            .await?;
        let mut state = self.state();
        for hash in hashes {
            state.sessions.remove(&hash);
        }
        Ok(())
    }

    /// The live sessions of `account` (every account's, if `None`).
    pub fn sessions(&self, account: Option<&str>) -> Vec<SessionInfo> {
        let mut sessions: Vec<SessionInfo> = self
            .state()
            .sessions
            .values()
            .filter(|s| account.is_none_or(|a| s.stored.account == a))
            .map(|s| SessionInfo {
                id: s.stored.token_hash[..12].to_owned(),
                account: s.stored.account.clone(),
                created_at: s.stored.created_at,
                last_used_at: s.stored.last_used_at,
            })
            .collect();
        sessions.sort_by(|a, b| (&a.account, a.created_at).cmp(&(&b.account, b.created_at)));
        sessions
    }

    /// Whether the session of token hash `hash` is still live (not
    /// revoked).
    pub fn is_live(&self, hash: &str) -> bool {
        self.state().sessions.contains_key(hash)
    }

    pub async fn join(&self, account: &str, room: &str) -> Result<(), AccountError> {
        self.change(AccountChange::Join {
            account: account.to_owned(),
            room: room.to_owned(),
        })
        .await
    }

    /// Keeps where `account` has read a room to (forward only).
    pub async fn mark_read(&self, marker: ReadMarker) -> Result<(), AccountError> {
        self.change(AccountChange::MarkRead(marker)).await
    }

    pub async fn set_notify(
        &self,
        account: &str,
        room: &str,
        level: NotifyLevel,
    ) -> Result<(), AccountError> {
        self.change(AccountChange::SetNotify {
            account: account.to_owned(),
            room: room.to_owned(),
            level,
        })
        .await
    }

    pub async fn leave(&self, account: &str, room: &str) -> Result<(), AccountError> {
        self.change(AccountChange::Leave {
            account: account.to_owned(),
            room: room.to_owned(),
        })
        .await
    }

    /// Ends sessions past their time to live and writes back the last use
    /// of the ones used since it was last written.
    pub async fn end_expired_sessions(&self) {
        let now = now();
        let ttl = self.ttl_secs();
        let (expired, used) = {
            let mut state = self.state();
            let mut expired = Vec::new();
            let mut used = Vec::new();
            state.sessions.retain(|hash, record| {
                if now - record.stored.last_used_at > ttl {
                    expired.push(hash.clone());
                    return false;
                }
                if record.stored.last_used_at - record.saved_use >= TOUCH_EVERY {
                    record.saved_use = record.stored.last_used_at;
                    used.push((hash.clone(), record.saved_use));
                }
                true
            });
            (expired, used)
        };
        if !used.is_empty()
            && let Err(error) = self.change(AccountChange::TouchSessions(used)).await
        {
            tracing::warn!(%error, "cannot record when sessions were last used");
        }
        if !expired.is_empty() {
            tracing::info!(count = expired.len(), "sessions expired");
            self.forget_stored(expired);
        }
    }

    /// Removes ended sessions from the store in the background: they are
    /// gone from memory already, and a restart ends them again by age.
    fn forget_stored(&self, hashes: Vec<String>) {
        let store = Arc::clone(&self.shared.store);
        tokio::spawn(async move {
            if let Err(error) = store
                .change_accounts(AccountChange::DeleteSessions(hashes))
                .await
            {
                tracing::warn!(%error, "cannot remove ended sessions from the store");
            }
        });
    }

    /// Stores `change`, and tells the other nodes (if any).
    async fn change(&self, change: AccountChange) -> Result<(), AccountError> {
        let news = match &change {
            AccountChange::CreateAccount(Account { name, .. })
            | AccountChange::SetPassword { account: name, .. }
            | AccountChange::SetLocked { account: name, .. }
            | AccountChange::DeleteAccount(name)
            | AccountChange::SaveSession(StoredSession { account: name, .. }) => {
                Some(AccountNews::Changed(name.clone()))
            }
            AccountChange::DeleteSessions(hashes) => {
                Some(AccountNews::SessionsEnded(hashes.clone()))
            }
            AccountChange::MarkRead(marker) => Some(AccountNews::MarkerMoved(marker.clone())),
            AccountChange::SetNotify {
                account,
                room,
                level,
            } => Some(AccountNews::NotifySet {
                account: account.clone(),
                room: room.clone(),
                level: *level,
            }),
            // Only when a session was last used, and the rooms an account
            // is in (whose news the rooms give).
            AccountChange::TouchSessions(_)
            | AccountChange::Join { .. }
            | AccountChange::Leave { .. } => None,
        };
        self.shared.store.change_accounts(change).await?;
        if let Some(news) = news {
            self.shared.relay.announce(news);
        }
        Ok(())
    }

    /// Reads account `name` again, as another node changed it: its
    /// password, lock and sessions, or that it is gone.
    pub async fn reload(&self, name: &str) -> Result<(), StoreError> {
        let loaded = self.shared.store.load_account(name).await?;
        let key = name_key(name);
        let mut state = self.state();
        state.sessions.retain(|_, s| s.stored.account != name);
        match loaded {
            Some((account, sessions)) => {
                if !state.accounts.contains_key(&key)
                    && let Err(error) = self.shared.names.register_stored(name)
                {
                    tracing::warn!(name, %error, "account of another node not reserved");
                }
                state.accounts.insert(key, account);
                for stored in sessions {
                    let saved_use = stored.last_used_at;
                    state.sessions.insert(
                        stored.token_hash.clone(),
                        SessionRecord { stored, saved_use },
                    );
                }
            }
            None => {
                if state.accounts.remove(&key).is_some() {
                    self.shared.names.unregister(name);
                }
            }
        }
        Ok(())
    }

    /// Forgets sessions another node ended, by token hash. Returns the
    /// accounts they were of.
    pub fn sessions_ended(&self, hashes: &[String]) -> Vec<String> {
        let mut state = self.state();
        let mut accounts: Vec<String> = hashes
            .iter()
            .filter_map(|hash| state.sessions.remove(hash))
            .map(|record| record.stored.account)
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        accounts
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.shared.session_ttl.as_secs()).unwrap_or(i64::MAX)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Single inserts and removes: never left half-done.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn throttle(&self) -> MutexGuard<'_, LoginThrottle> {
        self.shared
            .throttle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// 256 random bits, in hex.
pub fn new_token() -> String {
    let bits: [u8; 32] = rand::random();
    hex(&bits)
}

/// What a session is known by in the store: its token's SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
