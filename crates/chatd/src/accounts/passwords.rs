//! Password hashing: Argon2id with OWASP's parameters, on blocking threads,
//! a few at a time, each in a 19 MiB working memory kept for the next.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Argon2's working memory: a buffer per check running, kept for the next
/// one. A buffer allocated and freed for every check left the allocator
/// holding freed ones: 0.5 GB of resident memory after 200 logins, with
/// two checks at a time.
#[derive(Default)]
struct WorkingMemory {
    free: Mutex<Vec<Vec<Block>>>,
}

impl WorkingMemory {
    /// Runs `work` in a buffer of `blocks` blocks. At most one buffer per
    /// check running at once is kept, of the size our own hashes use.
    fn with<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        let kept = self.free().pop();
        let mut buffer = kept
            .filter(|buffer| buffer.len() == blocks)
            .unwrap_or_else(|| vec![Block::default(); blocks]);
        let result = work(&mut buffer);
        if blocks == argon2().params().block_count() {
            self.free().push(buffer);
        }
        result
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        // A push or a pop: never left half-done.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The PHC string of `password`'s Argon2id hash with a fresh salt,
/// computed in `memory`.
fn hash_in(memory: &mut [Block], password: &[u8]) -> Result<String, String> {
    let salt = rand::random::<[u8; 16]>();
    let encoded_salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    let argon2 = argon2();
    let mut output = vec![
        0u8;
        argon2
            .params()
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN)
    ];
    argon2
        .hash_password_into_with_memory(password, &salt, &mut output, memory)
        .map_err(|e| e.to_string())?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2.params().try_into().map_err(|e| format!("{e}"))?,
        salt: Some(encoded_salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|e| e.to_string())?),
    };
    Ok(hash.to_string())
}

/// Whether `password` is the one `hash` (a PHC string) was made from; a
/// hash that cannot be read matches nothing.
fn verify_in(memory: &WorkingMemory, password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.hash,
        parsed.salt,
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .unwrap_or(Version::V0x13);
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = vec![0u8; expected.len()];
    memory.with(blocks, |memory| {
        argon2
            .hash_password_into_with_memory(password, salt, &mut output, memory)
            .is_ok()
    }) && Output::new(&output).is_ok_and(|output| output == expected)
}

/// Hashes and checks passwords, as many at once as there are cores.
#[derive(Clone)]
pub struct Passwords {
    running: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    memory: Arc<WorkingMemory>,
    /// Checked against when the account does not exist, so a login for an
    /// unknown name takes as long as one with a wrong password.
    stand_in: Arc<str>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        // In memory of its own: a server nobody logs in to keeps none.
        let mut memory = vec![Block::default(); argon2().params().block_count()];
        let stand_in =
            hash_in(&mut memory, b"a password nobody has").expect("hashing a fixed password works");
        Passwords {
            running: Arc::new(Semaphore::new(cores)),
            waiting: Arc::default(),
            memory: Arc::default(),
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
        let memory = Arc::clone(&self.memory);
        self.run(move || {
            memory
                .with(argon2().params().block_count(), |memory| {
                    hash_in(memory, password.as_bytes())
                })
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
        let memory = Arc::clone(&self.memory);
        let matches = self
            .run(move || verify_in(&memory, password.as_bytes(), &hash))
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
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[tokio::test]
    async fn hashes_match_the_argon2_crates_own_both_ways_in_reused_memory() {
        let passwords = Passwords::default();
        let ours = passwords.hash("correct horse").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"wrong horse", &parsed).is_err());
        let salt = SaltString::encode_b64(b"sixteen bytes!!!").unwrap();
        let theirs = argon2().hash_password(b"battery staple", &salt).unwrap();
        let theirs = theirs.to_string();
        assert!(
            passwords
                .verify("battery staple", Some(&theirs))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("battery stapler", Some(&theirs))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("battery staple", Some("not a hash"))
                .await
                .unwrap()
        );
        // Many checks, one or two buffers.
        for _ in 0..4 {
            passwords
                .verify("correct horse", Some(&ours))
                .await
                .unwrap();
        }
        let kept = passwords.memory.free().len();
        assert!((1..=2).contains(&kept), "{kept} buffers kept");
    }

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
