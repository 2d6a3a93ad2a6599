//! How fast one client address may do something when there is no user to
//! count it against: send over the protocols without login (classic and
//! lobby), or log in.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, PoisonError, RwLock};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::{Request, Status};

use crate::metrics::Limit;
use crate::transport::{ConnectionInfo, address_key};

/// Addresses remembered before the ones that went quiet are forgotten.
const REMEMBERED: usize = 4096;

/// Calls a second per client address, in bursts of as many. A cheap-clone
/// handle shared by the services it limits; the rate can change live.
#[derive(Clone, Debug)]
pub struct AddressRate {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    rate: RwLock<Rate>,
    /// Which limit this is, for metrics.
    limit: Limit,
    /// What is limited, for the status: "messages", "logins".
    what: &'static str,
}

#[derive(Debug)]
struct Rate {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    per_second: u32,
}

impl Rate {
    fn new(per_second: u32) -> Self {
        let per_second = per_second.max(1);
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN));
        Rate {
            limiter: RateLimiter::keyed(quota),
            per_second,
        }
    }
}

impl AddressRate {
    pub fn new(per_second: u32, limit: Limit, what: &'static str) -> Self {
        AddressRate {
            shared: Arc::new(Shared {
                rate: RwLock::new(Rate::new(per_second)),
                limit,
                what,
            }),
        }
    }

    /// Changes the rate; every address starts afresh with a full burst.
    pub fn set_per_second(&self, per_second: u32) {
        let mut rate = self
            .shared
            .rate
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if rate.per_second != per_second.max(1) {
            *rate = Rate::new(per_second);
        }
    }

    /// Takes one call from the allowance of the address `request` came
    /// from, or says to slow down.
    pub fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(info) = ConnectionInfo::of(request) else {
            return Ok(());
        };
        let rate = self
            .shared
            .rate
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if rate.limiter.len() > REMEMBERED {
            rate.limiter.retain_recent();
        }
        rate.limiter
            .check_key(&address_key(info.remote_addr.ip()))
            .map_err(|_| {
                info.metrics.limit_hit(self.shared.limit);
                Status::resource_exhausted(format!(
                    "too fast: at most {} {} a second from one address; \
                     wait a moment and retry",
                    rate.per_second, self.shared.what
                ))
            })
    }
}
