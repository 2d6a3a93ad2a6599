//! Failed logins, counted per account name and per client address, so
//! passwords cannot be guessed at speed.
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

#[derive(Debug, Default)]
pub struct LoginThrottle {
    names: HashMap<String, Failures>,
    addresses: HashMap<String, Failures>,
    /// Per account name key, the addresses it logged in from lately.
    known: HashMap<String, Vec<String>>,
}

impl LoginThrottle {
    /// Whether a login for `name` from `address` may be tried now.
    pub fn check(&self, name: &str, address: &str) -> Result<(), Held> {
        let now = Instant::now();
        held(&BY_ADDRESS, self.addresses.get(address), now)?;
        if !self.is_known(name, address) {
            held(&BY_NAME, self.names.get(name), now)?;
        }
        Ok(())
    }

    pub fn failed(&mut self, name: &str, address: &str) {
        let now = Instant::now();
        count(&BY_ADDRESS, &mut self.addresses, address, now);
        if !self.is_known(name, address) {
            count(&BY_NAME, &mut self.names, name, now);
        }
    }

    /// A login succeeded: the name's count starts afresh and `address`
    /// is one the account is known to log in from.
    pub fn succeeded(&mut self, name: &str, address: &str) {
        self.names.remove(name);
        let known = self.known.entry(name.to_owned()).or_default();
        known.retain(|a| a != address);
        if known.len() == KNOWN_PER_ACCOUNT {
            known.remove(0);
        }
        known.push(address.to_owned());
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

fn held(rule: &Rule, failures: Option<&Failures>, now: Instant) -> Result<(), Held> {
    let Some(failures) = failures else {
        return Ok(());
    };
    let until = failures.last + wait_after(rule, failures.count);
    if now < until {
        return Err(Held {
            whom: rule.whom,
            wait: until - now,
        });
    }
    Ok(())
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

fn count(rule: &Rule, map: &mut HashMap<String, Failures>, key: &str, now: Instant) {
    if map.len() >= PURGE_ABOVE && !map.contains_key(key) {
        map.retain(|_, f| now.duration_since(f.last) < rule.forget_after);
        // Past this many, keys from a spread-out attack replace others.
        if map.len() >= MOST_KEPT
            && let Some(evicted) = map.keys().next().cloned()
        {
            map.remove(&evicted);
        }
    }
    let failures = map.entry(key.to_owned()).or_insert(Failures {
        count: 0,
        last: now,
    });
    if now.duration_since(failures.last) >= rule.forget_after {
        failures.count = 0;
    }
    failures.count += 1;
    failures.last = now;
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
        throttle.succeeded("ann", "10.0.0.1");
        for n in 0..7 {
            throttle.failed("ann", &format!("10.9.9.{n}"));
        }
        assert!(throttle.check("ann", "10.0.0.2").is_err());
        assert_eq!(throttle.check("ann", "10.0.0.1"), Ok(()));
        tokio::time::advance(BY_NAME.ceiling).await;
        assert_eq!(throttle.check("ann", "10.0.0.2"), Ok(()));
    }
}
