//! The keys (unique field, id) of rows in requests not answered yet. Requests run in parallel,
//! so a later request can be applied before an earlier one; a chunk holding a row whose key is
//! in a chunk still unanswered waits for that answer before it is sent, and the last row for a
//! key is always the one the vendor keeps.
//!
//! The reader alone keeps the books, cheaply (a map probed per row cost a third of the
//! client's CPU at a million rows): a row costs a hash and one bit looked up in a 16 KiB
//! filter of the keys in flight, and only a key the filter may hold is looked for in the
//! sorted keys of each chunk in flight. Senders report the chunks they are done with on a
//! channel. Memory is the key hashes of the chunks in flight. A rare hash collision only makes
//! a chunk wait when it need not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// 2^17 bits: with some 10,000 keys in flight, one key in 13 needs a closer look.
const FILTER_WORDS: usize = 2048;

/// A key's hash.
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// The reader's books.
pub struct KeyTracker {
    /// Chunks handed on and not answered yet, with their rows' key hashes, sorted (a few: as
    /// many as are in flight or queued).
    unanswered: Vec<(u64, Vec<u64>)>,
    /// One bit per key hash (modulo its size) of the unanswered chunks; rebuilt when they
    /// change. A clear bit means no chunk in flight holds the key.
    filter: Box<[u64; FILTER_WORDS]>,
    filter_stale: bool,
    /// Key lists of answered chunks, to be reused.
    spare: Vec<Vec<u64>>,
    answered: mpsc::Receiver<u64>,
}

/// Where senders report a chunk whose every row has its answer.
#[derive(Clone)]
pub struct Answered(mpsc::Sender<u64>);

impl Answered {
    pub fn chunk(&self, id: u64) {
        // The reader may be gone (the run stopped): then nobody needs to know.
        let _ = self.0.send(id);
    }
}

/// What a chunk met before it could go.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cleared {
    /// Its rows whose key was in a chunk still unanswered.
    pub duplicates: u64,
    /// The key hashes met, for naming them.
    pub keys: Vec<u64>,
}

impl KeyTracker {
    pub fn new() -> (KeyTracker, Answered) {
        let (sender, receiver) = mpsc::channel();
        let tracker = KeyTracker {
            unanswered: Vec::new(),
            filter: Box::new([0; FILTER_WORDS]),
            filter_stale: false,
            spare: Vec::new(),
            answered: receiver,
        };
        (tracker, Answered(sender))
    }

    /// An empty list for the next chunk's key hashes.
    pub fn new_list(&mut self) -> Vec<u64> {
        self.spare.pop().unwrap_or_default()
    }

    /// Before a chunk with these key hashes (sorted here) goes: waits until no unanswered
    /// chunk holds any of them. None when `halt` came first.
    pub fn clear(&mut self, keys: &mut [u64], halt: &AtomicBool) -> Option<Cleared> {
        keys.sort_unstable();
        self.collect_answers();
        if self.filter_stale {
            self.rebuild_filter();
        }
        let mut cleared = Cleared::default();
        let mut holders: Vec<u64> = Vec::new();
        for &key in keys.iter() {
            if !filter_has(&self.filter, key) {
                continue;
            }
            for (id, held) in &self.unanswered {
                if held.binary_search(&key).is_ok() {
                    cleared.duplicates += 1;
                    if cleared.keys.len() < 8 {
                        cleared.keys.push(key);
                    }
                    if !holders.contains(id) {
                        holders.push(*id);
                    }
                }
            }
        }
        for holder in holders {
            if !self.wait_for(holder, halt) {
                return None;
            }
        }
        Some(cleared)
    }

    fn rebuild_filter(&mut self) {
        self.filter.fill(0);
        for (_, keys) in &self.unanswered {
            for &key in keys {
                let bit = (key as usize) % (FILTER_WORDS * 64);
                self.filter[bit / 64] |= 1 << (bit % 64);
            }
        }
        self.filter_stale = false;
    }

    /// The chunk goes to the senders.
    pub fn handed_off(&mut self, chunk: u64, keys: Vec<u64>) {
        for &key in &keys {
            let bit = (key as usize) % (FILTER_WORDS * 64);
            self.filter[bit / 64] |= 1 << (bit % 64);
        }
        self.unanswered.push((chunk, keys));
    }

    /// Blocks until chunk `chunk` is answered; false when `halt` came first.
    fn wait_for(&mut self, chunk: u64, halt: &AtomicBool) -> bool {
        while self.unanswered.iter().any(|(id, _)| *id == chunk) {
            if halt.load(Ordering::Relaxed) {
                return false;
            }
            match self.answered.recv_timeout(Duration::from_millis(50)) {
                Ok(id) => self.forget(id),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
            }
        }
        true
    }

    fn collect_answers(&mut self) {
        while let Ok(id) = self.answered.try_recv() {
            self.forget(id);
        }
    }

    fn forget(&mut self, chunk: u64) {
        if let Some(at) = self.unanswered.iter().position(|(id, _)| *id == chunk) {
            let (_, mut keys) = self.unanswered.swap_remove(at);
            keys.clear();
            self.spare.push(keys);
            self.filter_stale = true;
        }
    }
}

fn filter_has(filter: &[u64; FILTER_WORDS], key: u64) -> bool {
    let bit = (key as usize) % (FILTER_WORDS * 64);
    filter[bit / 64] & (1 << (bit % 64)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(keys: &[&str]) -> Vec<u64> {
        keys.iter().map(|k| key_hash(k.as_bytes())).collect()
    }

    #[test]
    fn a_chunk_waits_for_the_unanswered_chunks_that_hold_its_keys() {
        let (mut tracker, answered) = KeyTracker::new();
        let halt = AtomicBool::new(false);
        let mut first = hashes(&["A", "B", "C"]);
        assert_eq!(tracker.clear(&mut first, &halt), Some(Cleared::default()));
        tracker.handed_off(1, first);
        let mut other = hashes(&["D", "E"]);
        assert_eq!(tracker.clear(&mut other, &halt), Some(Cleared::default()));
        tracker.handed_off(2, other);
        let waiter = std::thread::spawn(move || {
            let mut second = hashes(&["X", "C", "A", "Y"]);
            let cleared = tracker.clear(&mut second, &AtomicBool::new(false));
            (cleared, tracker)
        });
        std::thread::sleep(Duration::from_millis(120));
        assert!(!waiter.is_finished(), "chunk 1 holds A and C");
        answered.chunk(2);
        std::thread::sleep(Duration::from_millis(120));
        assert!(!waiter.is_finished(), "chunk 2 was not the one");
        answered.chunk(1);
        let (cleared, tracker) = waiter.join().unwrap();
        let cleared = cleared.unwrap();
        assert_eq!(cleared.duplicates, 2);
        assert!(tracker.unanswered.is_empty());
    }

    #[test]
    fn a_halt_ends_the_wait() {
        let (mut tracker, _answered) = KeyTracker::new();
        let mut keys = hashes(&["A"]);
        tracker.clear(&mut keys, &AtomicBool::new(false)).unwrap();
        tracker.handed_off(1, keys);
        let mut again = hashes(&["A"]);
        assert_eq!(tracker.clear(&mut again, &AtomicBool::new(true)), None);
    }
}
