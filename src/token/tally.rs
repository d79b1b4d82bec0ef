//! Token status per application ("3 active", "2 expired") without scanning the store on every
//! page load: live counts of access tokens by client and expiry second, kept in step with
//! issuance, revocation and purging, and rebuilt from the store's per-client index in the
//! background at start-up and now and then.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::clock::UnixTime;

/// Access token counts by client.
#[derive(Default)]
pub struct Tally {
    by_client: Mutex<HashMap<String, BTreeMap<UnixTime, u64>>>,
    ready: AtomicBool,
}

impl Tally {
    /// Counts a new access token of `client` expiring at `exp`.
    pub fn add(&self, client: &str, exp: UnixTime) {
        if let Ok(mut m) = self.by_client.lock() {
            *m.entry(client.to_string())
                .or_default()
                .entry(exp)
                .or_default() += 1;
        }
    }

    /// Forgets one access token.
    pub fn remove(&self, client: &str, exp: UnixTime) {
        if let Ok(mut m) = self.by_client.lock()
            && let Some(buckets) = m.get_mut(client)
            && let Some(n) = buckets.get_mut(&exp)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                buckets.remove(&exp);
            }
        }
    }

    /// Forgets every token of `client`.
    pub fn clear(&self, client: &str) {
        if let Ok(mut m) = self.by_client.lock() {
            m.remove(client);
        }
    }

    /// Drops tokens that expired before `now` (the store purged them).
    pub fn purged(&self, now: UnixTime) {
        if let Ok(mut m) = self.by_client.lock() {
            for buckets in m.values_mut() {
                *buckets = buckets.split_off(&now);
            }
            m.retain(|_, b| !b.is_empty());
        }
    }

    /// Replaces every count with a fresh census of `(client, expiry)` pairs.
    pub fn rebuild(&self, tokens: impl IntoIterator<Item = (String, UnixTime)>) {
        let mut fresh: HashMap<String, BTreeMap<UnixTime, u64>> = HashMap::new();
        for (client, exp) in tokens {
            *fresh.entry(client).or_default().entry(exp).or_default() += 1;
        }
        if let Ok(mut m) = self.by_client.lock() {
            *m = fresh;
        }
        self.ready.store(true, Ordering::SeqCst);
    }

    /// `(active, expired)` access tokens of `client` at `now`; `None` until the first census.
    pub fn counts(&self, client: &str, now: UnixTime) -> Option<(u64, u64)> {
        if !self.ready.load(Ordering::SeqCst) {
            return None;
        }
        let m = self.by_client.lock().ok()?;
        let Some(buckets) = m.get(client) else {
            return Some((0, 0));
        };
        let active = buckets.range(now + 1..).map(|(_, n)| n).sum();
        let expired = buckets.range(..=now).map(|(_, n)| n).sum();
        Some((active, expired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_issue_revoke_expiry_and_purge() {
        let t = Tally::default();
        assert_eq!(
            t.counts("a", 100),
            None,
            "not ready before the first census"
        );
        t.rebuild([("a".to_string(), 150)]);
        t.add("a", 200);
        t.add("a", 200);
        t.add("b", 50);
        assert_eq!(t.counts("a", 100), Some((3, 0)));
        assert_eq!(t.counts("a", 160), Some((2, 1)));
        t.remove("a", 200);
        assert_eq!(t.counts("a", 160), Some((1, 1)));
        t.purged(160);
        assert_eq!(t.counts("a", 160), Some((1, 0)));
        assert_eq!(t.counts("b", 160), Some((0, 0)));
        t.clear("a");
        assert_eq!(t.counts("a", 10), Some((0, 0)));
    }
}
