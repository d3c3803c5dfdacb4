//! Counted slots per key: how many connections one address holds open, how many event streams
//! one session or address holds. A slot is a guard; dropping it (the connection or stream ends)
//! frees it, so the counts cannot leak on an error path.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// Open slots per key, each key allowed at most `max`.
#[derive(Debug)]
pub struct Slots<K: Hash + Eq + Clone> {
    max: usize,
    open: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq + Clone> Slots<K> {
    /// At most `max` slots per key.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for `key`, or `None` when `key` already holds `max`.
    pub fn try_take(&self, key: K) -> Option<Slot<K>> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            key,
            open: self.open.clone(),
        })
    }

    /// Slots `key` holds now.
    #[must_use]
    pub fn count(&self, key: &K) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(key).copied().unwrap_or(0)
    }
}

/// One held slot; freed on drop.
#[derive(Debug)]
pub struct Slot<K: Hash + Eq + Clone> {
    key: K,
    open: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn slots_are_capped_per_key_and_freed_on_drop() {
        let s = Slots::new(2);
        let a1 = s.try_take("a").unwrap();
        let _a2 = s.try_take("a").unwrap();
        assert!(s.try_take("a").is_none());
        let _b = s.try_take("b").unwrap();
        drop(a1);
        assert_eq!(s.count(&"a"), 1);
        assert!(s.try_take("a").is_some());
    }
}
