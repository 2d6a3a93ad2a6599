//! Failed logins, counted per account name and per client address, so
//! passwords cannot be guessed at speed; and registrations, counted per
//! address, so one client cannot fill the server with accounts.
//!
//! A few failures are free; after them each further attempt must wait a
//! delay that doubles with every failure, up to a ceiling. The ceiling per
//! name is short (a minute), so an attacker cannot keep the owner out for
//! long, and an address the account has logged in from before is not held
//! by the name's count at all, only by its own. Counts are forgotten after
//! a quiet spell.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// How one kind of key is throttled.
#[derive(Debug, Clone, Copy)]
struct Rule {
    /// Failures before any wait.
    free: u32,
    /// The longest wait.
    ceiling: Duration,
    /// A key without a failure for this long starts afresh.
    forget_after: Duration,
    /// Who is held, for the message.
    whom: &'static str,
}

const BY_NAME: Rule = Rule {
    free: 5,
    ceiling: Duration::from_secs(60),
    forget_after: Duration::from_secs(15 * 60),
    whom: "this name",
};

const BY_ADDRESS: Rule = Rule {
    free: 10,
    ceiling: Duration::from_secs(15 * 60),
    forget_after: Duration::from_secs(60 * 60),
    whom: "your address",
};

/// Accounts made from one address: a few at once, then fewer and fewer,
/// down to one an hour.
const REGISTERING: Rule = Rule {
    free: 2,
    ceiling: Duration::from_secs(60 * 60),
    forget_after: Duration::from_secs(24 * 60 * 60),
    whom: "your address",
};

/// Keys remembered per kind before the quiet ones are forgotten, and the
/// most ever kept.
const PURGE_ABOVE: usize = 10_000;
const MOST_KEPT: usize = 100_000;
/// Addresses remembered per account as ones it logged in from.
const KNOWN_PER_ACCOUNT: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// A login refused for now: which key is held and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub whom: &'static str,
    pub wait: Duration,
}

/// The counts of one kind of key.
#[derive(Debug)]
struct Counts {
    rule: Rule,
    map: HashMap<String, Failures>,
    /// The size at which the quiet keys are next cleared out; it grows
    /// with what is left, so clearing out costs little per count.
    purge_at: usize,
}

impl Counts {
    fn new(rule: Rule) -> Self {
        Counts {
            rule,
            map: HashMap::new(),
            purge_at: PURGE_ABOVE,
        }
    }

    fn held(&self, key: &str, now: Instant) -> Result<(), Held> {
        let Some(failures) = self.map.get(key) else {
            return Ok(());
        };
        let until = failures.last + wait_after(&self.rule, failures.count);
        if now < until {
            return Err(Held {
                whom: self.rule.whom,
                wait: until - now,
            });
        }
        Ok(())
    }

    fn count(&mut self, key: &str, now: Instant) {
        if self.map.len() >= self.purge_at && !self.map.contains_key(key) {
            self.purge(now);
        }
        let failures = self.map.entry(key.to_owned()).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(failures.last) >= self.rule.forget_after {
            failures.count = 0;
        }
        failures.count += 1;
        failures.last = now;
    }

    /// Forgets the quiet keys; past [`MOST_KEPT`], a spread-out attack's
    /// older half too.
    fn purge(&mut self, now: Instant) {
        let forget_after = self.rule.forget_after;
        self.map
            .retain(|_, f| now.duration_since(f.last) < forget_after);
        if self.map.len() >= MOST_KEPT {
            let mut lasts: Vec<Instant> = self.map.values().map(|f| f.last).collect();
            let middle = lasts.len() / 2;
            let (_, &mut median, _) = lasts.select_nth_unstable(middle);
            self.map.retain(|_, f| f.last > median);
        }
        self.purge_at = (self.map.len() * 2).clamp(PURGE_ABOVE, MOST_KEPT);
    }

    fn remove(&mut self, key: &str) {
        self.map.remove(key);
    }

    /// Takes back one count of `key`: an attempt that turned out not to
    /// be a guess.
    fn give_back(&mut self, key: &str) {
        if let Some(failures) = self.map.get_mut(key) {
            failures.count = failures.count.saturating_sub(1);
            if failures.count == 0 {
                self.map.remove(key);
            }
        }
    }
}

/// A login attempt counted as failed before its password is checked, so
/// attempts made at once cannot all pass the throttle; given back if the
/// password was right (or was never checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    name: String,
    address: String,
    /// The account has logged in from this address before: the name's
    /// count does not hold it.
    pub known: bool,
}

#[derive(Debug)]
pub struct LoginThrottle {
    names: Counts,
    addresses: Counts,
    /// Per account name key, the addresses it logged in from lately.
    known: HashMap<String, Vec<String>>,
    registrations: Counts,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            names: Counts::new(BY_NAME),
            addresses: Counts::new(BY_ADDRESS),
            known: HashMap::new(),
            registrations: Counts::new(REGISTERING),
        }
    }
}

impl LoginThrottle {
    /// Counts a login for `name` from `address` as failed, under the one
    /// lock, if it may be tried now; [`succeeded`](Self::succeeded) or
    /// [`give_back`](Self::give_back) takes the count back.
    pub fn reserve(&mut self, name: &str, address: &str) -> Result<Attempt, Held> {
        let now = Instant::now();
        self.addresses.held(address, now)?;
        let known = self.is_known(name, address);
        if !known {
            self.names.held(name, now)?;
            self.names.count(name, now);
        }
        self.addresses.count(address, now);
        Ok(Attempt {
            name: name.to_owned(),
            address: address.to_owned(),
            known,
        })
    }

    /// The attempt was no guess (its password was never checked).
    pub fn give_back(&mut self, attempt: &Attempt) {
        self.addresses.give_back(&attempt.address);
        if !attempt.known {
            self.names.give_back(&attempt.name);
        }
    }

    /// The attempt's password was right: its count is given back, the
    /// name's count starts afresh, and the address is one the account is
    /// known to log in from.
    pub fn succeeded(&mut self, attempt: &Attempt) {
        self.addresses.give_back(&attempt.address);
        self.names.remove(&attempt.name);
        let known = self.known.entry(attempt.name.clone()).or_default();
        known.retain(|a| *a != attempt.address);
        if known.len() == KNOWN_PER_ACCOUNT {
            known.remove(0);
        }
        known.push(attempt.address.clone());
    }

    /// Whether an account may be registered from `address` now.
    pub fn check_registration(&self, address: &str) -> Result<(), Held> {
        self.registrations.held(address, Instant::now())
    }

    pub fn registered(&mut self, address: &str) {
        self.registrations.count(address, Instant::now());
    }

    /// The account is gone: forget what was known of it.
    pub fn forget(&mut self, name: &str) {
        self.names.remove(name);
        self.known.remove(name);
    }

    fn is_known(&self, name: &str, address: &str) -> bool {
        self.known
            .get(name)
            .is_some_and(|known| known.iter().any(|a| a == address))
    }
}

/// The wait after `count` failures: none for the free ones, then 1 s,
/// 2 s, 4 s, ... up to the ceiling.
fn wait_after(rule: &Rule, count: u32) -> Duration {
    let over = count.saturating_sub(rule.free);
    if over == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs(1u64 << (over - 1).min(20)).min(rule.ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_failure_past_the_free_ones_up_to_the_ceiling() {
        assert_eq!(wait_after(&BY_NAME, 5), Duration::ZERO);
        assert_eq!(wait_after(&BY_NAME, 6), Duration::from_secs(1));
        assert_eq!(wait_after(&BY_NAME, 8), Duration::from_secs(4));
        assert_eq!(wait_after(&BY_NAME, 40), BY_NAME.ceiling);
    }

    #[tokio::test(start_paused = true)]
    async fn a_known_address_is_not_held_by_the_names_count() {
        let mut throttle = LoginThrottle::default();
        let owner = throttle.reserve("ann", "10.0.0.1").unwrap();
        throttle.succeeded(&owner);
        for n in 0..7 {
            let _ = throttle.reserve("ann", &format!("10.9.9.{n}"));
        }
        assert!(throttle.reserve("ann", "10.0.0.2").is_err());
        let again = throttle.reserve("ann", "10.0.0.1").unwrap();
        assert!(again.known);
        tokio::time::advance(BY_NAME.ceiling).await;
        assert!(throttle.reserve("ann", "10.0.0.2").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_at_once_are_counted_before_they_are_checked() {
        let mut throttle = LoginThrottle::default();
        // Reserved, none finished yet: the free ones pass, then the name
        // is held.
        let passed = (0..60)
            .filter(|n| {
                throttle
                    .reserve("ann", &format!("10.0.0.{}", n % 6))
                    .is_ok()
            })
            .count();
        assert_eq!(passed, BY_NAME.free as usize + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_given_back_leaves_no_count() {
        let mut throttle = LoginThrottle::default();
        for _ in 0..BY_ADDRESS.free * 3 {
            let attempt = throttle.reserve("ann", "10.0.0.1").unwrap();
            throttle.give_back(&attempt);
        }
        assert!(throttle.addresses.map.is_empty());
        assert!(throttle.names.map.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_spread_out_attack_is_remembered_within_a_bound() {
        let mut throttle = LoginThrottle::default();
        for n in 0..MOST_KEPT * 2 {
            throttle.addresses.count(
                &format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255),
                Instant::now(),
            );
            // Time moves on, so there is an older half to forget.
            if n % 1000 == 0 {
                tokio::time::advance(Duration::from_millis(10)).await;
            }
        }
        assert!(throttle.addresses.map.len() <= MOST_KEPT);
        // The newest are still held.
        let newest = MOST_KEPT * 2 - 1;
        let newest = format!(
            "10.{}.{}.{}",
            newest >> 16,
            (newest >> 8) & 255,
            newest & 255
        );
        assert!(throttle.addresses.map.contains_key(&newest));
        // Once they have gone quiet, the next new address clears them out.
        tokio::time::advance(BY_ADDRESS.forget_after).await;
        for n in 0..=throttle.addresses.purge_at {
            throttle
                .addresses
                .count(&format!("192.168.{}.{}", n >> 8, n & 255), Instant::now());
        }
        assert!(
            throttle.addresses.map.len() <= PURGE_ABOVE,
            "{}",
            throttle.addresses.map.len()
        );
    }
}
