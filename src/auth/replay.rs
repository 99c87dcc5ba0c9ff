//! `jti` replay protection: a token may be used once within its lifetime.
//!
//! [`ReplayStore`] is the seam. The service uses the feedback store (`src/store/mod.rs`, the
//! `jti_seen` table, SQLite or PostgreSQL), so replicas agree and a restart forgets nothing;
//! [`MemoryReplayStore`] (one process, forgotten on restart) is for embedding and tests.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use futures::future::BoxFuture;

/// The replay store could not answer (the call is then refused: fail closed).
#[derive(Debug, thiserror::Error)]
#[error("replay store: {0}")]
pub struct ReplayError(pub String);

/// Records `(iss, jti)` pairs until they expire.
pub trait ReplayStore: Send + Sync {
    /// Records the pair; `Ok(true)` when it was new, `Ok(false)` when it was seen before and has
    /// not expired (a replay). `expires_at` is the token's `exp` (Unix seconds) plus leeway.
    fn check_and_record<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<bool, ReplayError>>;
}

/// In-memory replay store, bounded: expired entries are purged on insert; when full of
/// unexpired entries, new tokens are refused (fail closed) rather than forgetting old ones.
pub struct MemoryReplayStore {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    seen: HashMap<(String, String), i64>,
    by_expiry: BTreeSet<(i64, String, String)>,
}

impl MemoryReplayStore {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// Synchronous core, with the current time given (tests).
    pub fn check_and_record_at(&self, iss: &str, jti: &str, expires_at: i64, now: i64) -> bool {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Purge what has expired.
        while let Some(first) = inner.by_expiry.first().cloned() {
            if first.0 >= now {
                break;
            }
            inner.by_expiry.remove(&first);
            inner.seen.remove(&(first.1, first.2));
        }
        let key = (iss.to_owned(), jti.to_owned());
        if inner.seen.contains_key(&key) {
            return false;
        }
        if inner.seen.len() >= self.capacity {
            tracing::warn!(
                capacity = self.capacity,
                "jti replay store full of unexpired tokens; refusing new tokens"
            );
            return false;
        }
        inner
            .by_expiry
            .insert((expires_at, key.0.clone(), key.1.clone()));
        inner.seen.insert(key, expires_at);
        true
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.seen.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_record<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<bool, ReplayError>> {
        let now = chrono::Utc::now().timestamp();
        let fresh = self.check_and_record_at(iss, jti, expires_at, now);
        Box::pin(async move { Ok(fresh) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_accepted_once_then_refused_until_it_expires() {
        let s = MemoryReplayStore::new(10);
        assert!(s.check_and_record_at("iss", "a", 100, 0));
        assert!(!s.check_and_record_at("iss", "a", 100, 50));
        // Same jti from another issuer is another token.
        assert!(s.check_and_record_at("other", "a", 100, 50));
        // After expiry the entry is purged (the token itself would fail `exp` by then).
        assert!(s.check_and_record_at("iss", "a", 300, 101));
    }

    #[test]
    fn the_store_is_bounded_and_purges_expired_entries() {
        let s = MemoryReplayStore::new(2);
        assert!(s.check_and_record_at("i", "1", 10, 0));
        assert!(s.check_and_record_at("i", "2", 20, 0));
        assert!(!s.check_and_record_at("i", "3", 30, 5), "full: fail closed");
        assert!(
            s.check_and_record_at("i", "3", 30, 11),
            "1 expired and was purged"
        );
        assert_eq!(s.len(), 2);
    }
}
