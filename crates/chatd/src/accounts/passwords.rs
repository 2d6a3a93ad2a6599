//! Password hashing: Argon2id with OWASP's parameters, on blocking threads,
//! a few at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use tonic::Status;

/// Shortest and longest password, in bytes.
pub const PASSWORD_BYTES: (usize, usize) = (8, 1024);
/// Hashes waiting for a thread before more are refused: each running one
/// holds 19 MiB, and a queue without end would let a flood of logins hold
/// the rest of memory.
const MOST_WAITING: usize = 64;

/// OWASP's Argon2id recommendation: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP's parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// 128 random bits, as Argon2 wants its salt.
fn fresh_salt() -> SaltString {
    SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes make a valid salt")
}

/// Hashes and checks passwords, as many at once as there are cores.
#[derive(Clone)]
pub struct Passwords {
    running: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    /// Checked against when the account does not exist, so a login for an
    /// unknown name takes as long as one with a wrong password.
    stand_in: Arc<str>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let stand_in = argon2()
            .hash_password(b"a password nobody has", &fresh_salt())
            .expect("hashing a fixed password works")
            .to_string();
        Passwords {
            running: Arc::new(Semaphore::new(cores)),
            waiting: Arc::default(),
            stand_in: stand_in.into(),
        }
    }
}

impl Passwords {
    /// Refuses a password too short or too long to be taken.
    pub fn check_strength(password: &str) -> Result<(), Status> {
        let (least, most) = PASSWORD_BYTES;
        match password.len() {
            n if n < least => Err(Status::invalid_argument(format!(
                "the password is {n} bytes long; use at least {least}"
            ))),
            n if n > most => Err(Status::invalid_argument(format!(
                "the password is {n} bytes long; the limit is {most}"
            ))),
            _ => Ok(()),
        }
    }

    /// The PHC string of `password`'s hash with a fresh salt.
    pub async fn hash(&self, password: &str) -> Result<String, Status> {
        let password = password.to_owned();
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes(), &fresh_salt())
                .map(|hash| hash.to_string())
                .map_err(|error| Status::internal(format!("hashing the password failed: {error}")))
        })
        .await?
    }

    /// Whether `password` matches `hash`; with no hash (no such account)
    /// it does the same work and says no.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Status> {
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.stand_in.to_string(), str::to_owned);
        let matches = self
            .run(move || {
                PasswordHash::new(&hash).is_ok_and(|parsed| {
                    argon2()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Status> {
        let busy = || {
            Status::resource_exhausted(
                "the server is busy checking passwords; try again in a moment",
            )
        };
        let waiting = Waiting::enter(&self.waiting);
        if waiting.ahead >= MOST_WAITING {
            return Err(busy());
        }
        let permit = self.running.clone().acquire_owned().await;
        drop(waiting);
        let permit = permit.map_err(|_| busy())?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|error| Status::internal(format!("checking the password failed: {error}")))
    }
}

/// One caller waiting for a hashing thread; counted until dropped, also
/// when the caller gives up.
struct Waiting<'a> {
    count: &'a AtomicUsize,
    /// How many were waiting before this one.
    ahead: usize,
}

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        let ahead = count.fetch_add(1, Ordering::AcqRel);
        Waiting { count, ahead }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_the_queue_limit_a_check_is_refused_at_once() {
        let passwords = Passwords::default();
        // Every hashing thread busy.
        let busy = passwords
            .running
            .clone()
            .acquire_many_owned(passwords.running.available_permits() as u32)
            .await
            .unwrap();
        let queued: Vec<_> = (0..MOST_WAITING)
            .map(|_| {
                let passwords = passwords.clone();
                tokio::spawn(async move { passwords.verify("password1", None).await })
            })
            .collect();
        while passwords.waiting.load(Ordering::Acquire) < MOST_WAITING {
            tokio::task::yield_now().await;
        }
        let refused = passwords.verify("password1", None).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("busy"), "{refused:?}");
        // The queued ones go through once threads are free.
        drop(busy);
        for check in queued {
            assert!(!check.await.unwrap().unwrap());
        }
        assert_eq!(passwords.waiting.load(Ordering::Acquire), 0);
    }
}
