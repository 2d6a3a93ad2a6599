//! Password hashing: Argon2id with OWASP's parameters, on blocking threads,
//! a few at a time, each in a 19 MiB working memory kept for the next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use super::AccountError;

/// Shortest and longest password, in bytes.
pub const PASSWORD_BYTES: (usize, usize) = (8, 1024);
/// Hashes waiting for a thread before more are refused: each running one
/// holds 19 MiB, and a queue without end would let a flood of logins hold
/// the rest of memory.
const MOST_WAITING: usize = 64;
/// Of those places, the ones only a login from an address its account
/// has logged in from before may take, so a flood from elsewhere cannot
/// keep the owner out.
const KEPT_FOR_KNOWN: usize = 16;
/// Checks one client address may have waiting or running at once: a
/// few addresses cannot fill the queue.
const MOST_PER_ADDRESS: usize = 4;

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

/// Who a check is for, which decides whether it may queue.
#[derive(Debug, Clone)]
pub enum Asker {
    /// The operator, or a user already logged in.
    Trusted,
    /// A client at this address (an [`address_key`](crate::transport::address_key)),
    /// and whether the account has logged in from it before.
    Client { address: String, known: bool },
}

/// Hashes and checks passwords, as many at once as there are cores.
#[derive(Clone)]
pub struct Passwords {
    running: Arc<Semaphore>,
    queue: Arc<Mutex<Queue>>,
    memory: Arc<WorkingMemory>,
    /// Checked against when the account does not exist, so a login for an
    /// unknown name takes as long as one with a wrong password.
    stand_in: Arc<str>,
}

/// The checks waiting for a thread, and each client address's checks
/// waiting or running.
#[derive(Debug, Default)]
struct Queue {
    waiting: usize,
    per_address: HashMap<String, usize>,
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
            queue: Arc::default(),
            memory: Arc::default(),
            stand_in: stand_in.into(),
        }
    }
}

impl Passwords {
    /// Refuses a password too short or too long to be taken.
    pub fn check_strength(password: &str) -> Result<(), AccountError> {
        let (least, most) = PASSWORD_BYTES;
        match password.len() {
            bytes if bytes < least => Err(AccountError::PasswordTooShort { bytes, least }),
            bytes if bytes > most => Err(AccountError::PasswordTooLong { bytes, most }),
            _ => Ok(()),
        }
    }

    /// The PHC string of `password`'s hash with a fresh salt.
    pub async fn hash(&self, password: &str, asker: Asker) -> Result<String, AccountError> {
        let password = password.to_owned();
        let memory = Arc::clone(&self.memory);
        self.run(asker, move || {
            memory
                .with(argon2().params().block_count(), |memory| {
                    hash_in(memory, password.as_bytes())
                })
                .map_err(|error| {
                    AccountError::Internal(format!("hashing the password failed: {error}"))
                })
        })
        .await?
    }

    /// Whether `password` matches `hash`; with no hash (no such account)
    /// it does the same work and says no.
    pub async fn verify(
        &self,
        password: &str,
        hash: Option<&str>,
        asker: Asker,
    ) -> Result<bool, AccountError> {
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.stand_in.to_string(), str::to_owned);
        let memory = Arc::clone(&self.memory);
        let matches = self
            .run(asker, move || {
                verify_in(&memory, password.as_bytes(), &hash)
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        asker: Asker,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountError> {
        let place = Place::take(&self.queue, asker)?;
        let permit = self.running.clone().acquire_owned().await;
        let in_flight = place.run();
        let permit = permit.map_err(|_| AccountError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _in_flight = in_flight;
            work()
        })
        .await
        .map_err(|error| AccountError::Internal(format!("checking the password failed: {error}")))
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // Counts moved together under the lock: never left half-done.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A check's place: counted as waiting until it runs, and against its
/// address until it is done, also when the caller gives up.
struct Place {
    queue: Arc<Mutex<Queue>>,
    address: Option<String>,
    waiting: bool,
}

impl Place {
    /// A place in `queue` for `asker`'s check, or why there is none.
    fn take(queue: &Arc<Mutex<Queue>>, asker: Asker) -> Result<Self, AccountError> {
        let mut counts = lock(queue);
        let (address, limit) = match asker {
            Asker::Trusted => (None, MOST_WAITING),
            Asker::Client { address, known } => {
                let limit = if known {
                    MOST_WAITING
                } else {
                    MOST_WAITING - KEPT_FOR_KNOWN
                };
                (Some(address), limit)
            }
        };
        if counts.waiting >= limit {
            return Err(AccountError::Busy);
        }
        if let Some(address) = &address {
            let mine = counts.per_address.entry(address.clone()).or_default();
            if *mine >= MOST_PER_ADDRESS {
                return Err(AccountError::ChecksUnderWay(MOST_PER_ADDRESS));
            }
            *mine += 1;
        }
        counts.waiting += 1;
        Ok(Place {
            queue: Arc::clone(queue),
            address,
            waiting: true,
        })
    }

    /// The check runs now: no longer waiting, still its address's.
    fn run(mut self) -> Self {
        lock(&self.queue).waiting -= 1;
        self.waiting = false;
        self
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = lock(&self.queue);
        if self.waiting {
            counts.waiting -= 1;
        }
        if let Some(address) = &self.address
            && let Some(mine) = counts.per_address.get_mut(address)
        {
            *mine -= 1;
            if *mine == 0 {
                counts.per_address.remove(address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[tokio::test]
    async fn hashes_match_the_argon2_crates_own_both_ways_in_reused_memory() {
        let passwords = Passwords::default();
        let ours = passwords
            .hash("correct horse", Asker::Trusted)
            .await
            .unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"wrong horse", &parsed).is_err());
        let salt = SaltString::encode_b64(b"sixteen bytes!!!").unwrap();
        let theirs = argon2().hash_password(b"battery staple", &salt).unwrap();
        let theirs = theirs.to_string();
        assert!(
            passwords
                .verify("battery staple", Some(&theirs), Asker::Trusted)
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("battery stapler", Some(&theirs), Asker::Trusted)
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("battery staple", Some("not a hash"), Asker::Trusted)
                .await
                .unwrap()
        );
        // Many checks, one or two buffers.
        for _ in 0..4 {
            passwords
                .verify("correct horse", Some(&ours), Asker::Trusted)
                .await
                .unwrap();
        }
        let kept = passwords.memory.free().len();
        assert!((1..=2).contains(&kept), "{kept} buffers kept");
    }

    /// Takes every hashing thread of `passwords`, until dropped.
    async fn all_threads_busy(passwords: &Passwords) -> tokio::sync::OwnedSemaphorePermit {
        let threads = passwords.running.available_permits() as u32;
        passwords
            .running
            .clone()
            .acquire_many_owned(threads)
            .await
            .unwrap()
    }

    fn client(address: &str, known: bool) -> Asker {
        Asker::Client {
            address: address.to_owned(),
            known,
        }
    }

    /// Queues a check for `asker` and waits until it is waiting.
    async fn queue(
        passwords: &Passwords,
        asker: Asker,
    ) -> tokio::task::JoinHandle<Result<bool, AccountError>> {
        let before = lock(&passwords.queue).waiting;
        let check = {
            let passwords = passwords.clone();
            tokio::spawn(async move { passwords.verify("password1", None, asker).await })
        };
        while lock(&passwords.queue).waiting == before {
            tokio::task::yield_now().await;
        }
        check
    }

    #[tokio::test]
    async fn past_the_queue_limit_a_check_is_refused_at_once() {
        let passwords = Passwords::default();
        let busy = all_threads_busy(&passwords).await;
        let mut queued = Vec::new();
        for _ in 0..MOST_WAITING {
            queued.push(queue(&passwords, Asker::Trusted).await);
        }
        let refused = passwords
            .verify("password1", None, Asker::Trusted)
            .await
            .unwrap_err();
        let refused = crate::status::from_account(refused);
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("busy"), "{refused:?}");
        // The queued ones go through once threads are free.
        drop(busy);
        for check in queued {
            assert!(!check.await.unwrap().unwrap());
        }
        let counts = lock(&passwords.queue);
        assert_eq!(counts.waiting, 0);
        assert!(counts.per_address.is_empty());
    }

    #[tokio::test]
    async fn strangers_leave_places_for_known_addresses_and_each_has_only_a_few() {
        let passwords = Passwords::default();
        let _busy = all_threads_busy(&passwords).await;
        // One address: a few at once.
        for _ in 0..MOST_PER_ADDRESS {
            queue(&passwords, client("10.0.0.1", false)).await;
        }
        let more = passwords.verify("password1", None, client("10.0.0.1", false));
        let more = more.await.unwrap_err();
        assert!(more.to_string().contains("from your address"), "{more:?}");
        // Strangers fill all but the kept places ...
        for n in MOST_PER_ADDRESS..MOST_WAITING - KEPT_FOR_KNOWN {
            queue(&passwords, client(&format!("10.0.1.{n}"), false)).await;
        }
        let refused = passwords.verify("password1", None, client("10.0.2.1", false));
        assert!(refused.await.unwrap_err().to_string().contains("busy"));
        // ... which an address known to the account still gets.
        for _ in 0..MOST_PER_ADDRESS {
            queue(&passwords, client("192.168.1.1", true)).await;
        }
        assert_eq!(
            lock(&passwords.queue).waiting,
            MOST_WAITING - KEPT_FOR_KNOWN + MOST_PER_ADDRESS
        );
    }
}
