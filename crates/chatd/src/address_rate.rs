//! How fast one client address may do something when there is no user to
//! count it against: send over the protocols without login (classic and
//! lobby), or log in.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::{Request, Status};

use crate::transport::{ConnectionInfo, address_key};

/// Addresses remembered before the ones that went quiet are forgotten.
const REMEMBERED: usize = 4096;

/// Calls a second per client address, in bursts of as many. A cheap-clone
/// handle shared by the services it limits.
#[derive(Clone, Debug)]
pub struct AddressRate {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    per_second: u32,
    /// What is limited, for the status: "messages", "logins".
    what: &'static str,
}

impl AddressRate {
    pub fn new(per_second: u32, what: &'static str) -> Self {
        let per_second = per_second.max(1);
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN));
        AddressRate {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            per_second,
            what,
        }
    }

    /// Takes one call from the allowance of the address `request` came
    /// from, or says to slow down.
    pub fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(info) = ConnectionInfo::of(request) else {
            return Ok(());
        };
        if self.limiter.len() > REMEMBERED {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&address_key(info.remote_addr.ip()))
            .map_err(|_| {
                Status::resource_exhausted(format!(
                    "too fast: at most {} {} a second from one address; \
                     wait a moment and retry",
                    self.per_second, self.what
                ))
            })
    }
}
