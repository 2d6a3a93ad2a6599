//! How many connections `chatd` holds: in all (below the process's file
//! descriptor limit) and per client address, so one client cannot take
//! every connection slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Descriptors kept free for what is not a client connection: listeners,
/// the database and its readers, logs.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft limit on open files to the hard one, and returns it.
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Counts open connections against the limits. A cheap-to-clone handle
/// shared by every listener: descriptors are one pool for the process.
#[derive(Clone, Debug)]
pub struct Admission {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    counts: Mutex<Counts>,
    /// Woken when a connection closes.
    freed: Notify,
}

#[derive(Debug, Default)]
struct Counts {
    max_total: usize,
    max_per_address: usize,
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the server holds its limit of {0} connections")]
    ServerFull(usize),
    #[error("{0} holds its limit of {1} connections")]
    AddressFull(IpAddr, usize),
}

/// An admitted connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Admitted {
    shared: Arc<Shared>,
    address: IpAddr,
}

impl Admission {
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        Admission {
            shared: Arc::new(Shared {
                counts: Mutex::new(Counts {
                    max_total: max_total.max(1),
                    max_per_address: max_per_address.max(1),
                    ..Counts::default()
                }),
                freed: Notify::new(),
            }),
        }
    }

    /// Admits a connection from `peer`, or says which limit it hit.
    pub fn admit(&self, peer: IpAddr) -> Result<Admitted, Refusal> {
        let address = address_key(peer);
        let mut counts = self.shared.counts();
        if counts.total >= counts.max_total {
            return Err(Refusal::ServerFull(counts.max_total));
        }
        let max_per_address = counts.max_per_address;
        let from_address = counts.per_address.entry(address).or_default();
        if *from_address >= max_per_address {
            return Err(Refusal::AddressFull(address, max_per_address));
        }
        *from_address += 1;
        counts.total += 1;
        Ok(Admitted {
            shared: Arc::clone(&self.shared),
            address,
        })
    }

    /// Changes the limit on connections in all. Connections already open
    /// stay, even past it.
    pub fn set_max_total(&self, max_total: usize) {
        self.shared.counts().max_total = max_total.max(1);
    }

    /// Changes the limit on one address's connections. Connections
    /// already open stay, even past it.
    pub fn set_max_per_address(&self, max_per_address: usize) {
        self.shared.counts().max_per_address = max_per_address.max(1);
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.shared.counts().total
    }

    /// Resolves when a connection closes.
    pub async fn freed(&self) {
        self.shared.freed.notified().await;
    }
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        // Counters only: never left half-updated.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        {
            let mut counts = self.shared.counts();
            counts.total -= 1;
            if let Some(from_address) = counts.per_address.get_mut(&self.address) {
                *from_address -= 1;
                if *from_address == 0 {
                    counts.per_address.remove(&self.address);
                }
            }
        }
        self.shared.freed.notify_waiters();
    }
}

/// The address a limit counts against: an IPv6 client usually holds a
/// whole /64, so that is one address here; an IPv4-mapped address is its
/// IPv4 one.
pub fn address_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_per_address_and_in_all() {
        let admission = Admission::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).unwrap_err(), Refusal::AddressFull(a, 2));
        let _third = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).unwrap_err(), Refusal::ServerFull(3));
        drop(first);
        assert_eq!(admission.open(), 2);
        admission
            .admit(a)
            .expect("a closed connection frees its place");
    }

    #[test]
    fn an_ipv6_client_counts_by_its_slash_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(one), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
