//! Login throttling: failed logins are counted per username and per client address; past the
//! limit, further attempts are refused with 429 and `Retry-After` until the window passes, so the
//! gateway never walks a user into the CRM's lock-out (5 failures) and guessing stays slow.

use std::net::IpAddr;
use std::time::Duration;

use moka::sync::Cache;

/// Failure counters with a time window.
pub struct Throttle {
    users: Cache<String, u32>,
    ips: Cache<IpAddr, u32>,
    per_user: u32,
    per_ip: u32,
    window: Duration,
}

impl Throttle {
    /// Allows `per_user` and `per_ip` failures per `window`.
    pub fn new(per_user: u32, per_ip: u32, window: Duration) -> Self {
        Self {
            users: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(window)
                .build(),
            ips: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(window)
                .build(),
            per_user,
            per_ip,
            window,
        }
    }

    /// `Err(seconds to wait)` when this user or address has failed too often.
    pub fn check(&self, user: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        self.check_name(Some(user))?;
        self.check_ip(ip)
    }

    /// `Err(seconds to wait)` when `name` has failed too often.
    pub fn check_name(&self, name: Option<&str>) -> Result<(), u64> {
        match name
            .filter(|n| !n.is_empty())
            .and_then(|n| self.users.get(n))
        {
            Some(n) if n >= self.per_user => Err(self.window.as_secs().max(1)),
            _ => Ok(()),
        }
    }

    /// `Err(seconds to wait)` when the address has failed too often.
    pub fn check_ip(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        match ip.and_then(|ip| self.ips.get(&ip)) {
            Some(n) if n >= self.per_ip => Err(self.window.as_secs().max(1)),
            _ => Ok(()),
        }
    }

    /// Counts a failure of `user` (when named) from `ip`.
    pub fn failed(&self, user: &str, ip: Option<IpAddr>) {
        if !user.is_empty() {
            let n = self.users.get(user).unwrap_or(0);
            self.users.insert(user.to_string(), n.saturating_add(1));
        }
        if let Some(ip) = ip {
            let n = self.ips.get(&ip).unwrap_or(0);
            self.ips.insert(ip, n.saturating_add(1));
        }
    }

    /// Clears the user's counter after a successful login.
    pub fn succeeded(&self, user: &str) {
        self.users.invalidate(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_the_limit_per_user_and_per_ip() {
        let t = Throttle::new(3, 5, Duration::from_secs(60));
        let ip = Some("127.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(t.check("aldo", ip).is_ok());
            t.failed("aldo", ip);
        }
        assert_eq!(t.check("aldo", ip), Err(60));
        assert!(t.check("bruna", None).is_ok());
        t.failed("bruna", ip);
        t.failed("carla", ip);
        assert!(
            t.check("dora", ip).is_err(),
            "the address is over its limit"
        );
        t.succeeded("aldo");
        assert!(t.check("aldo", None).is_ok());
    }
}
