//! The keys (unique field, id) of rows in requests not answered yet. Requests run in parallel,
//! so a later request can be applied before an earlier one; a row whose key is still in flight
//! waits for that answer, and the last row for a key is always the one the vendor keeps.
//!
//! Keys are held as 64-bit hashes: memory stays flat (at most the rows of the chunks in
//! flight), and a rare collision only makes a row wait when it need not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct InFlight {
    keys: Mutex<HashMap<u64, u32>>,
    released: Condvar,
}

/// A key's hash.
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

impl InFlight {
    /// The keys of a chunk handed on to be sent.
    pub fn hold(&self, keys: &[u64]) {
        if keys.is_empty() {
            return;
        }
        let mut held = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        for &key in keys {
            *held.entry(key).or_insert(0) += 1;
        }
    }

    /// The keys of a chunk whose every row has its answer.
    pub fn release(&self, keys: &[u64]) {
        if keys.is_empty() {
            return;
        }
        let mut held = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if let Some(count) = held.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    held.remove(key);
                }
            }
        }
        drop(held);
        self.released.notify_all();
    }

    pub fn contains(&self, key: u64) -> bool {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&key)
    }

    /// Blocks until no request in flight holds `key`, or `halt` is set.
    pub fn wait_for(&self, key: u64, halt: &AtomicBool) {
        let mut held = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        while held.contains_key(&key) && !halt.load(Ordering::Relaxed) {
            // A timeout as well as the notification, so a halt is seen promptly.
            held = self
                .released
                .wait_timeout(held, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_held_key_is_waited_for_until_every_holder_releases_it() {
        let flight = Arc::new(InFlight::default());
        let key = key_hash(b"SKU-1");
        flight.hold(&[key, key_hash(b"SKU-2")]);
        flight.hold(&[key]);
        assert!(flight.contains(key));
        let waiter = {
            let flight = flight.clone();
            std::thread::spawn(move || flight.wait_for(key, &AtomicBool::new(false)))
        };
        flight.release(&[key, key_hash(b"SKU-2")]);
        std::thread::sleep(Duration::from_millis(100));
        assert!(!waiter.is_finished(), "one holder is left");
        flight.release(&[key]);
        waiter.join().unwrap();
        assert!(!flight.contains(key) && !flight.contains(key_hash(b"SKU-2")));
    }

    #[test]
    fn a_halt_ends_the_wait() {
        let flight = InFlight::default();
        flight.hold(&[7]);
        flight.wait_for(7, &AtomicBool::new(true));
        assert!(flight.contains(7));
    }
}
