//! Nonces that never repeat, not even across crashes.
//!
//! A verifier may use the nonce for one-shot use, so a node must never issue the same nonce
//! twice. Persisting every nonce before use would put a flush on every request; instead the
//! allocator reserves a *block* durably — it raises the high-water mark in the store and flushes
//! it ([`Store::reserve_nonces`]) — and then hands nonces out of that block from memory. After a
//! crash the node starts at the stored mark: the unused rest of the last block is skipped (a gap,
//! harmless), but nothing below the mark is ever issued again. One flush per
//! [`NonceAllocator::BLOCK`] attestations.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::store::Store;

/// Hands out unique nonces from durably reserved blocks.
pub struct NonceAllocator {
    store: Arc<dyn Store>,
    block: u64,
    range: Mutex<Range<u64>>,
}

impl NonceAllocator {
    /// Nonces reserved per flush.
    pub const BLOCK: u64 = 4096;

    /// An allocator that reserves its first block on first use.
    pub fn new(store: Arc<dyn Store>) -> Self {
        NonceAllocator {
            store,
            block: Self::BLOCK,
            range: Mutex::new(0..0),
        }
    }

    /// The next unique nonce. Reserving a new block blocks the caller for one flush.
    pub fn next(&self) -> Result<u64> {
        let mut range = self
            .range
            .lock()
            .map_err(|_| Error::Store("nonce allocator poisoned".into()))?;
        if range.is_empty() {
            // Held under the lock: no nonce of the new block exists anywhere until it is durable.
            *range = self.store.reserve_nonces(self.block)?;
        }
        let nonce = range.start;
        range.start += 1;
        Ok(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn a_restarted_allocator_skips_the_rest_of_the_block() {
        let dir = tempfile::tempdir().unwrap();
        let issued: Vec<u64> = {
            let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
            let allocator = NonceAllocator::new(store);
            (0..3).map(|_| allocator.next().unwrap()).collect()
        };
        assert_eq!(issued, vec![0, 1, 2]);
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let allocator = NonceAllocator::new(store);
        assert_eq!(allocator.next().unwrap(), NonceAllocator::BLOCK);
    }
}
