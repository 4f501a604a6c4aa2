//! Nonces that never repeat — across crashes, and with a wiped or restored data dir too.
//!
//! A verifier may use the nonce for one-shot use, so a node must never issue the same nonce
//! twice with the same key. A nonce is
//!
//! ```text
//! nonce = second:32 ‖ process:12 ‖ counter:20        (bits, most significant first)
//! ```
//!
//! `second` is the unix second it was issued in, `process` 12 bits that the store hands out
//! with the second ([`Store::reserve_nonce_second`]: for the sled store, random bits drawn at
//! start; for a store shared by replicas, a slot of that second that no other replica holds),
//! and `counter` counts within the second (up to 2^20 nonces per second). Uniqueness rests on
//! two rules, each enough alone in its case:
//!
//! 1. **The mark.** Before the first nonce of a second `s` is issued, the store's nonce mark is
//!    raised to `s` and flushed (one flush per second of traffic). A process opening the store
//!    issues only from `mark + 1` on, so nothing of an earlier process using this data dir is
//!    ever issued again, whatever the clock says.
//! 2. **The start second.** With no mark (a wiped data dir), a process issues only from the
//!    second after it started. An earlier process with the same key stopped before this one
//!    started, and never issued a second beyond its own clock, so all its seconds are below.
//!
//! A restored backup carries an old mark, and rule 2 still holds since the restore happens later
//! than any second the old process used. Replicas on one shared store issue in the same
//! seconds at once; their slots differ, so their nonces do. [`NonceAllocator::open`] waits for its first second
//! (at most one second after start, or until the clock passes a mark that is ahead of it; a mark
//! more than [`MAX_CLOCK_BEHIND`] ahead is refused: the clock is wrong). The random bits make a
//! collision between two processes *running at once* with one key (which a node must not do)
//! unlikely, not impossible. Nonces of the node before store format 2 were a counter below 2^40,
//! and every nonce here is above 2^62.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng as _;

use crate::error::{Error, Result};
use crate::store::Store;

/// Bits of the per-second counter.
pub const COUNTER_BITS: u32 = 20;
/// Bits of the per-process random value.
pub const PROCESS_BITS: u32 = 12;
/// How far the clock may be behind the stored mark before the node refuses to start.
pub const MAX_CLOCK_BEHIND: Duration = Duration::from_secs(30);

/// Hands out unique time-prefixed nonces.
pub struct NonceAllocator {
    store: Arc<dyn Store>,
    process: u64,
    state: Mutex<State>,
}

struct State {
    /// The second of the last nonce issued (or the first allowed minus one).
    second: u64,
    /// Nonces issued in `second`.
    counter: u64,
    /// The mark is durable up to this second.
    marked: u64,
    /// The slot reserved for `marked` ([`Store::reserve_nonce_second`]): the nonce's 12
    /// process bits.
    slot: u64,
}

impl NonceAllocator {
    /// An allocator over `store`: reads the mark and waits until the clock reaches the first
    /// second this process may use (see the module docs).
    pub fn open(store: Arc<dyn Store>) -> Result<NonceAllocator> {
        let mark = store.nonce_mark()?;
        let start = crate::unix_now();
        let first = mark.max(start) + 1;
        if first > start + 1 + MAX_CLOCK_BEHIND.as_secs() {
            return Err(Error::Store(format!(
                "the clock ({start}) is {}s behind the nonce mark ({mark}) of this data dir: fix the clock before starting the node",
                mark - start
            )));
        }
        while crate::unix_now() < first {
            // Sleep to just past the boundary of the first usable second.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let until = Duration::from_secs(first).saturating_sub(now);
            std::thread::sleep(until.max(Duration::from_millis(1)));
        }
        Ok(NonceAllocator {
            store,
            process: rand::rngs::OsRng.gen_range(0..1u64 << PROCESS_BITS),
            state: Mutex::new(State {
                second: first - 1,
                counter: 0,
                marked: mark,
                slot: 0,
            }),
        })
    }

    /// The next unique nonce. The first nonce of each second raises the mark durably first.
    pub fn next(&self) -> Result<u64> {
        let now = crate::unix_now();
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::Store("nonce allocator poisoned".into()))?;
        // Never go back, even when the clock does.
        if now > state.second {
            state.second = now;
            state.counter = 0;
        }
        if state.counter >= 1 << COUNTER_BITS {
            return Err(Error::AuditUnavailable(format!(
                "all {} nonces of second {} are used (or the clock went back): retry in a second",
                1u64 << COUNTER_BITS,
                state.second
            )));
        }
        if state.marked < state.second {
            // Held under the lock: no nonce of this second exists anywhere until the mark is.
            let slot = self
                .store
                .reserve_nonce_second(state.second, self.process)?;
            if slot >= 1 << PROCESS_BITS {
                return Err(Error::Store(format!("nonce slot {slot} out of range")));
            }
            state.slot = slot;
            state.marked = state.second;
        }
        let nonce = state.second << 32 | state.slot << COUNTER_BITS | state.counter;
        state.counter += 1;
        Ok(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn second_of(nonce: u64) -> u64 {
        nonce >> 32
    }

    #[test]
    fn nonces_carry_their_second_and_never_repeat_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first: Vec<u64> = {
            let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
            let allocator = NonceAllocator::open(store.clone()).unwrap();
            let issued: Vec<u64> = (0..1000).map(|_| allocator.next().unwrap()).collect();
            assert!(store.nonce_mark().unwrap() >= second_of(*issued.last().unwrap()));
            issued
        };
        let now = crate::unix_now();
        assert!(first.iter().all(|n| second_of(*n) <= now));
        let mut sorted = first.clone();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            first.len(),
            "strictly increasing within a process"
        );
        assert!(first.windows(2).all(|w| w[0] < w[1]));
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let allocator = NonceAllocator::open(store).unwrap();
        let next = allocator.next().unwrap();
        assert!(
            second_of(next) > second_of(*first.last().unwrap()),
            "a reopened store issues from a later second"
        );
    }

    #[test]
    fn a_wiped_store_starts_after_its_start_second() {
        let start = crate::unix_now();
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let allocator = NonceAllocator::open(store).unwrap();
        assert!(second_of(allocator.next().unwrap()) > start);
    }

    #[test]
    fn a_mark_far_ahead_of_the_clock_is_refused() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        store.raise_nonce_mark(crate::unix_now() + 3600).unwrap();
        let err = NonceAllocator::open(store).err().expect("refused");
        assert!(err.to_string().contains("fix the clock"), "{err}");
    }
}
