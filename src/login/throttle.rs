//! Throttling of failed logins and client authentications: failures are counted per name
//! (username or client id) and per client address in the deployment's [`Ephemeral`] store, so
//! every gateway node counts towards one limit; past it, further attempts are refused with 429 and
//! `Retry-After` until the window passes, so the gateway never walks a user into the CRM's
//! lock-out (5 failures) and guessing stays slow.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::store::StoreError;
use crate::store::ephemeral::{Ephemeral, Kind, count_of};

/// Why an attempt may not go ahead.
#[derive(Debug)]
pub enum Refused {
    /// Too many failures: wait this many seconds.
    Wait(u64),
    /// The counters cannot be read (the attempt is refused: 503).
    Unavailable(StoreError),
}

/// The key spaces of one throttle: names and addresses.
#[derive(Debug, Clone, Copy)]
pub struct Kinds {
    /// Counters per username or client id.
    pub names: Kind,
    /// Counters per address.
    pub addresses: Kind,
}

/// The login page's (and admin API's) failed logins.
pub const LOGINS: Kinds = Kinds {
    names: Kind::UserFailures,
    addresses: Kind::AddressFailures,
};

/// Failed client authentications at the token endpoints.
pub const CLIENTS: Kinds = Kinds {
    names: Kind::ClientFailures,
    addresses: Kind::ClientAddressFailures,
};

/// Failure counters with a time window (counted from the last failure).
pub struct Throttle {
    store: Arc<dyn Ephemeral>,
    kinds: Kinds,
    per_name: u32,
    per_ip: u32,
    window: Duration,
}

fn address_key(ip: &IpAddr) -> Vec<u8> {
    ip.to_string().into_bytes()
}

impl Throttle {
    /// Allows `per_name` and `per_ip` failures per `window`, counted in `store` under `kinds`.
    pub fn new(
        store: Arc<dyn Ephemeral>,
        kinds: Kinds,
        per_name: u32,
        per_ip: u32,
        window: Duration,
    ) -> Self {
        Self {
            store,
            kinds,
            per_name,
            per_ip,
            window,
        }
    }

    /// Refused when this name or address has failed too often.
    pub async fn check(&self, name: &str, ip: Option<IpAddr>) -> Result<(), Refused> {
        self.check_name(Some(name)).await?;
        self.check_ip(ip).await
    }

    async fn over(&self, kind: Kind, key: &[u8], limit: u32) -> Result<(), Refused> {
        match self.store.get(kind, key).await {
            Ok(Some(raw)) if count_of(&raw) >= u64::from(limit) => {
                Err(Refused::Wait(self.window.as_secs().max(1)))
            }
            Ok(_) => Ok(()),
            Err(e) => Err(Refused::Unavailable(e)),
        }
    }

    /// Refused when `name` has failed too often.
    pub async fn check_name(&self, name: Option<&str>) -> Result<(), Refused> {
        match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                self.over(self.kinds.names, n.as_bytes(), self.per_name)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Refused when the address has failed too often.
    pub async fn check_ip(&self, ip: Option<IpAddr>) -> Result<(), Refused> {
        match ip {
            Some(ip) => {
                let key = address_key(&ip);
                self.over(self.kinds.addresses, &key, self.per_ip).await
            }
            None => Ok(()),
        }
    }

    /// Counts a failure of `name` (when named) from `ip`.
    pub async fn failed(&self, name: &str, ip: Option<IpAddr>) {
        let mut result = Ok(0);
        if !name.is_empty() {
            result = self
                .store
                .bump(self.kinds.names, name.as_bytes(), self.window)
                .await;
        }
        if let Some(ip) = ip {
            let key = address_key(&ip);
            let counted = self
                .store
                .bump(self.kinds.addresses, &key, self.window)
                .await;
            result = result.and(counted);
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, "a failed attempt could not be counted");
        }
    }

    /// Clears the name's counter after a success.
    pub async fn succeeded(&self, name: &str) {
        if let Err(e) = self.store.delete(self.kinds.names, name.as_bytes()).await {
            tracing::warn!(error = %e, "a throttle counter could not be cleared");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ephemeral::MemoryEphemeral;

    #[tokio::test]
    async fn throttles_after_the_limit_per_name_and_per_ip() {
        let store = Arc::new(MemoryEphemeral::new(1000));
        let t = Throttle::new(store, LOGINS, 3, 5, Duration::from_secs(60));
        let ip = Some("127.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(t.check("aldo", ip).await.is_ok());
            t.failed("aldo", ip).await;
        }
        assert!(matches!(t.check("aldo", ip).await, Err(Refused::Wait(60))));
        assert!(t.check("bruna", None).await.is_ok());
        t.failed("bruna", ip).await;
        t.failed("carla", ip).await;
        assert!(
            t.check("dora", ip).await.is_err(),
            "the address is over its limit"
        );
        t.succeeded("aldo").await;
        assert!(t.check("aldo", None).await.is_ok());
    }
}
