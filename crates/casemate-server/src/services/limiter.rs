//! Failed sign-in throttling, per principal name and per client address, and the budget of
//! requests without a valid credential per address, in fixed windows.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

pub const WINDOW: Duration = Duration::minutes(15);
pub const FAILURES_PER_PRINCIPAL: u32 = 5;
pub const FAILURES_PER_ADDRESS: u32 = 20;
/// Each refused unauthenticated request costs a durable activity record; past this many from one
/// address in a window they are refused with 429 and no longer recorded, so nobody without a
/// credential can make the server write without bound.
pub const UNAUTHENTICATED_PER_ADDRESS: u32 = 60;
/// Each single sign-on begun (browser or device) writes a row before anyone has signed in, and a
/// device sign-in calls the provider: past this many from one address in a window, 429. Generous,
/// as an office behind one address signs in together.
pub const SSO_BEGINS_PER_ADDRESS: u32 = 60;
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: OffsetDateTime,
    failures: u32,
}

#[derive(Debug, Default)]
pub struct SignInLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

/// The throttling keys for one attempt: the principal named and the address it came from.
pub fn keys(principal: &str, address: std::net::IpAddr) -> [(String, u32); 2] {
    [
        (
            format!("principal:{}", principal.to_lowercase()),
            FAILURES_PER_PRINCIPAL,
        ),
        (format!("address:{address}"), FAILURES_PER_ADDRESS),
    ]
}

impl SignInLimiter {
    /// Refuses with 429 while any key has used up its failures in the current window.
    pub fn check(&self, keys: &[(String, u32)], now: OffsetDateTime) -> Result<()> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for (key, limit) in keys {
            if let Some(window) = windows.get(key)
                && now < window.started + WINDOW
                && window.failures >= *limit
            {
                let remaining = (window.started + WINDOW - now).whole_seconds().max(1);
                return Err(Error::Throttled {
                    reason: "too many failed sign-in attempts",
                    retry_after_seconds: u64::try_from(remaining).unwrap_or(1),
                });
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, keys: &[(String, u32)], now: OffsetDateTime) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, window| now < window.started + WINDOW);
        }
        for (key, _) in keys {
            let window = windows.entry(key.clone()).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now >= window.started + WINDOW {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }

    /// Counts one failure against `key` if its budget is not used up: how many remain after it,
    /// or 429 for `reason` (counting nothing) while the window's budget is spent. Check and count
    /// are one step.
    pub fn spend(
        &self,
        key: &(String, u32),
        reason: &'static str,
        now: OffsetDateTime,
    ) -> Result<u32> {
        let (key, limit) = key;
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, window| now < window.started + WINDOW);
        }
        let window = windows.entry(key.clone()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= window.started + WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        if window.failures >= *limit {
            let remaining = (window.started + WINDOW - now).whole_seconds().max(1);
            return Err(Error::Throttled {
                reason,
                retry_after_seconds: u64::try_from(remaining).unwrap_or(1),
            });
        }
        window.failures += 1;
        Ok(limit - window.failures)
    }

    /// A successful sign-in clears the principal's count (not the address's).
    pub fn record_success(&self, principal_key: &str) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(principal_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_the_limit_until_the_window_ends() {
        let limiter = SignInLimiter::default();
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let keys = [("principal:alice".to_string(), 2)];
        limiter.check(&keys, start).unwrap();
        limiter.record_failure(&keys, start);
        limiter.check(&keys, start).unwrap();
        limiter.record_failure(&keys, start);
        let Err(Error::Throttled {
            retry_after_seconds,
            ..
        }) = limiter.check(&keys, start + Duration::minutes(5))
        else {
            panic!("not throttled");
        };
        assert_eq!(retry_after_seconds, 600);
        limiter.check(&keys, start + WINDOW).unwrap();
    }

    #[test]
    fn spending_counts_down_then_refuses_until_the_window_ends() {
        let limiter = SignInLimiter::default();
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let key = ("unauthenticated:192.0.2.7".to_string(), 2);
        assert_eq!(limiter.spend(&key, "too many", start).unwrap(), 1);
        assert_eq!(limiter.spend(&key, "too many", start).unwrap(), 0);
        let Err(Error::Throttled {
            reason,
            retry_after_seconds,
        }) = limiter.spend(&key, "too many", start + Duration::minutes(1))
        else {
            panic!("not throttled");
        };
        assert_eq!((reason, retry_after_seconds), ("too many", 840));
        let other = ("unauthenticated:192.0.2.8".to_string(), 2);
        assert_eq!(limiter.spend(&other, "too many", start).unwrap(), 1);
        assert_eq!(limiter.spend(&key, "too many", start + WINDOW).unwrap(), 1);
    }
}
