//! The rate limits' arithmetic: GCRA (the generic cell rate algorithm, as in governor), with
//! its state (one "theoretical arrival time" per bucket) in memory or in a small file that
//! every catops process using one profile shares. A reservation is made under the file's lock
//! and then waited out, so processes queue for the vendor's rate instead of each taking it all.
//! Across machines nothing is shared: the vendor's 429s still govern there.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One bucket's part of a reservation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Seconds one unit costs (1 / rate).
    interval: f64,
    /// Units this reservation takes.
    units: f64,
    /// Units the bucket holds when full.
    burst: f64,
}

impl Bucket {
    pub fn new(per_second: f64, units: u32, burst: u32) -> Bucket {
        Bucket {
            interval: 1.0 / per_second,
            units: f64::from(units),
            burst: f64::from(burst.max(units).max(1)),
        }
    }
}

/// Theoretical arrival times (seconds since the epoch) of the requests and items buckets.
type State = [f64; 2];

/// Reserves one request's place in `buckets` at `now`: returns when it may go and the new
/// state. It goes when every bucket allows it; each bucket's time moves on by its cost.
fn reserve(state: State, buckets: &[Option<Bucket>; 2], now: f64) -> (f64, State) {
    let mut start = now;
    for (tat, bucket) in state.iter().zip(buckets) {
        if let Some(b) = bucket {
            // Conforming once the bucket, after taking these units, holds no more than its burst.
            start = start.max(tat + (b.units - b.burst) * b.interval);
        }
    }
    let mut next = state;
    for (tat, bucket) in next.iter_mut().zip(buckets) {
        if let Some(b) = bucket {
            *tat = tat.max(start) + b.units * b.interval;
        }
    }
    (start, next)
}

/// Where the buckets' state lives.
pub enum Store {
    Memory(Mutex<State>),
    /// Shared through a file; the mutex orders this process's tasks, the file lock the
    /// processes.
    File(Mutex<File>),
}

impl Store {
    pub fn memory() -> Store {
        Store::Memory(Mutex::new([0.0; 2]))
    }

    /// The state in `path`, shared with other processes; in memory when the file cannot be
    /// opened (a read-only home, say): the run goes on, limited on its own.
    pub fn shared(path: &Path) -> Store {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path);
        match file {
            Ok(file) => Store::File(Mutex::new(file)),
            Err(_) => Store::memory(),
        }
    }

    /// Reserves a place and returns how long to wait for it.
    pub fn reserve(&self, buckets: [Option<Bucket>; 2]) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let start = match self {
            Store::Memory(state) => {
                let mut state = lock(state);
                let (start, next) = reserve(*state, &buckets, now);
                *state = next;
                start
            }
            Store::File(file) => {
                let file = lock(file);
                // The shared state is a courtesy between processes: if it cannot be read or
                // written, this request goes as if the state were fresh, and the vendor's 429
                // handling stays the safety net.
                match reserve_in_file(&file, &buckets, now) {
                    Ok(start) => start,
                    Err(_) => reserve([0.0; 2], &buckets, now).0,
                }
            }
        };
        Duration::from_secs_f64((start - now).max(0.0))
    }
}

fn reserve_in_file(
    mut file: &File,
    buckets: &[Option<Bucket>; 2],
    now: f64,
) -> std::io::Result<f64> {
    file.lock()?;
    let result = (|| {
        let mut text = String::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_string(&mut text)?;
        let mut state = [0.0; 2];
        for (slot, word) in state.iter_mut().zip(text.split_whitespace()) {
            *slot = word.parse().unwrap_or(0.0);
        }
        let (start, next) = reserve(state, buckets, now);
        let line = format!("{:.6} {:.6}\n", next[0], next[1]);
        file.seek(SeekFrom::Start(0))?;
        file.set_len(0)?;
        file.write_all(line.as_bytes())?;
        Ok(start)
    })();
    file.unlock()?;
    result
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(rate: f64) -> [Option<Bucket>; 2] {
        [Some(Bucket::new(rate, 1, 1)), None]
    }

    #[test]
    fn requests_are_spaced_by_the_interval() {
        let mut state = [0.0; 2];
        let mut starts = Vec::new();
        for _ in 0..4 {
            let (start, next) = reserve(state, &requests(5.0), 100.0);
            state = next;
            starts.push(start);
        }
        let expected = [100.0, 100.2, 100.4, 100.6];
        for (got, want) in starts.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{starts:?}");
        }
    }

    #[test]
    fn a_full_chunk_of_items_goes_at_once_then_waits_for_its_cost() {
        // 1000 items/s, chunks of 500, burst 500: the first chunk at once, the next 0.5 s on.
        let items = [None, Some(Bucket::new(1000.0, 500, 500))];
        let (first, state) = reserve([0.0; 2], &items, 10.0);
        let (second, _) = reserve(state, &items, 10.0);
        assert_eq!(first, 10.0);
        assert!((second - 10.5).abs() < 1e-9, "{second}");
    }

    #[test]
    fn the_slower_bucket_sets_the_start_and_both_move_on() {
        let both = [
            Some(Bucket::new(10.0, 1, 1)),
            Some(Bucket::new(100.0, 100, 100)),
        ];
        let (_, state) = reserve([0.0; 2], &both, 0.0);
        let (second, state) = reserve(state, &both, 0.0);
        // Items allow the second chunk at 1.0 s, requests at 0.1 s: items win.
        assert!((second - 1.0).abs() < 1e-9, "{second}");
        assert!((state[0] - 1.1).abs() < 1e-9, "{state:?}");
    }

    #[test]
    fn two_stores_on_one_file_share_the_rate() {
        let dir = std::env::temp_dir().join(format!("catops-gcra-{}", std::process::id()));
        let path = dir.join("rates");
        let _ = std::fs::remove_file(&path);
        let (one, two) = (Store::shared(&path), Store::shared(&path));
        assert!(matches!(one, Store::File(_)));
        // Four requests at 2/s between two "processes": the fourth waits about 1.5 s.
        let waits: Vec<Duration> = [&one, &two, &one, &two]
            .iter()
            .map(|store| store.reserve(requests(2.0)))
            .collect();
        assert!(waits[0] < Duration::from_millis(100), "{waits:?}");
        assert!(waits[3] > Duration::from_millis(1300), "{waits:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
