//! Counting attempts per key (a username, a client address) in fixed
//! windows, for the sign-in limits. Ended windows are pruned and the table
//! never holds more than its capacity, so a flood of made-up usernames
//! cannot grow it without bound.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most `limit` attempts per key in each window of `window`.
pub struct Limiter {
    limit: u32,
    window: Duration,
    capacity: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    windows: HashMap<String, Window>,
    pruned_at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

impl Limiter {
    /// `capacity` keys at most (at least one).
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Self {
        Self {
            limit: limit.max(1),
            window,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                windows: HashMap::new(),
                pruned_at: Instant::now(),
            }),
        }
    }

    /// Counts an attempt for `key` at `now`; over the limit, answers how
    /// long until the key's window ends (and does not count it).
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let full = inner.windows.len() >= self.capacity && !inner.windows.contains_key(key);
        if full || now.saturating_duration_since(inner.pruned_at) >= self.window {
            let window = self.window;
            inner
                .windows
                .retain(|_, w| now.saturating_duration_since(w.start) < window);
            inner.pruned_at = now;
        }
        if let Some(w) = inner.windows.get_mut(key) {
            let age = now.saturating_duration_since(w.start);
            if age >= self.window {
                *w = Window {
                    start: now,
                    count: 0,
                };
            } else if w.count >= self.limit {
                return Err(self.window - age);
            }
            w.count += 1;
            return Ok(());
        }
        if inner.windows.len() >= self.capacity {
            // Every window is current: the least used (the oldest of those)
            // gives way, so keys under attack keep their counts while a
            // flood of one-off keys replaces itself.
            let evicted = inner
                .windows
                .iter()
                .min_by_key(|(_, w)| (w.count, w.start))
                .map(|(k, _)| k.clone());
            if let Some(evicted) = evicted {
                inner.windows.remove(&evicted);
            }
        }
        inner.windows.insert(
            key.to_owned(),
            Window {
                start: now,
                count: 1,
            },
        );
        Ok(())
    }

    /// How many keys are tracked now.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .windows
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_key_is_refused_past_its_limit_until_its_window_ends() {
        let limiter = Limiter::new(3, MINUTE, 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("ann", t0), Ok(()));
        }
        let later = t0 + Duration::from_secs(20);
        assert_eq!(
            limiter.check("ann", later),
            Err(Duration::from_secs(40)),
            "the wait is what is left of the window"
        );
        assert_eq!(limiter.check("bob", later), Ok(()), "other keys are apart");
        assert_eq!(limiter.check("ann", t0 + MINUTE), Ok(()), "a new window");
    }

    #[test]
    fn ended_windows_are_pruned() {
        let limiter = Limiter::new(3, MINUTE, 100);
        let t0 = Instant::now();
        for i in 0..50 {
            limiter.check(&format!("user{i}"), t0).unwrap();
        }
        assert_eq!(limiter.len(), 50);
        limiter.check("late", t0 + MINUTE).unwrap();
        assert_eq!(limiter.len(), 1, "only the new key is left");
    }

    #[test]
    fn the_table_never_outgrows_its_capacity_and_keeps_hot_keys() {
        let limiter = Limiter::new(3, MINUTE, 10);
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.check("target", t0).unwrap();
        }
        for i in 0..1_000 {
            limiter.check(&format!("made-up-{i}"), t0).unwrap();
            assert!(limiter.len() <= 10, "{} keys", limiter.len());
        }
        assert!(
            limiter.check("target", t0).is_err(),
            "a flood of one-off keys does not reset a limited one"
        );
    }
}
