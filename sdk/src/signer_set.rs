//! A verifier's signer set (SPEC.md §4), as the contracts store it.
//!
//! ```tlb
//! signer_set$_ epoch:uint32 threshold:uint8 count:uint8 keys:^SignerKeys = SignerSet;
//! ```
//!
//! Keys are packed three to a cell in index order, each full cell pointing at the next, so a
//! verifier walks them in step with the bundle's increasing signer indexes.

use ed25519_dalek::VerifyingKey;
use tonlib_core::cell::{ArcCell, CellBuilder};

use crate::bundle::MAX_SIGNERS;
use crate::error::{Error, Result};

/// Public keys per `SignerKeys` cell (3 × 256 = 768 of 1,023 bits).
pub const KEYS_PER_CELL: usize = 3;

/// The keys that may sign for one epoch, and how many signatures a verifier requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerSet {
    /// Epoch number attestations name.
    pub epoch: u32,
    /// Signatures required (k).
    pub threshold: u8,
    /// Public keys by signer index (n ≤ 16).
    pub keys: Vec<VerifyingKey>,
}

impl SignerSet {
    /// A signer set, refusing 0 or more than 16 keys, a threshold outside `1..=n`, a key given
    /// twice (its holder would count as two signers) and a small-order (weak) key, under which
    /// anyone can make a signature that verifies (SPEC.md §4; contracts refuse the same sets).
    pub fn new(epoch: u32, threshold: u8, keys: Vec<VerifyingKey>) -> Result<Self> {
        for (i, key) in keys.iter().enumerate() {
            if key.is_weak() {
                return Err(Error::InvalidSignerSet(format!("key {i} has small order")));
            }
            if let Some(j) = keys[..i].iter().position(|k| k == key) {
                return Err(Error::InvalidSignerSet(format!("key {i} is key {j} again")));
            }
        }
        if keys.is_empty() || keys.len() > MAX_SIGNERS {
            return Err(Error::InvalidSignerSet(format!(
                "{} keys (expected 1..=16)",
                keys.len()
            )));
        }
        if threshold == 0 || usize::from(threshold) > keys.len() {
            return Err(Error::InvalidSignerSet(format!(
                "threshold {threshold} of {} keys",
                keys.len()
            )));
        }
        Ok(SignerSet {
            epoch,
            threshold,
            keys,
        })
    }

    /// Builds the `SignerSet` cell.
    pub fn to_cell(&self) -> Result<ArcCell> {
        let mut next: Option<ArcCell> = None;
        for chunk in self.keys.chunks(KEYS_PER_CELL).rev() {
            let mut builder = CellBuilder::new();
            for key in chunk {
                builder.store_slice(key.as_bytes())?;
            }
            if let Some(next) = &next {
                builder.store_reference(next)?;
            }
            next = Some(builder.build()?.to_arc());
        }
        let keys = next.ok_or_else(|| Error::InvalidSignerSet("no keys".into()))?;
        let mut builder = CellBuilder::new();
        builder
            .store_u32(32, self.epoch)?
            .store_u8(8, self.threshold)?
            .store_u8(8, self.keys.len() as u8)?
            .store_reference(&keys)?;
        Ok(builder.build()?.to_arc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn keys(n: u8) -> Vec<VerifyingKey> {
        (0..n)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]).verifying_key())
            .collect()
    }

    #[test]
    fn packs_three_keys_a_cell_in_index_order() {
        let set = SignerSet::new(9, 4, keys(7)).unwrap();
        let root = set.to_cell().unwrap();
        assert_eq!(root.bit_len(), 48);
        let mut cell = root.reference(0).unwrap().clone();
        let mut seen = Vec::new();
        loop {
            let mut parser = cell.parser();
            while parser.remaining_bits() >= 256 {
                seen.push(parser.load_bytes(32).unwrap());
            }
            match cell.references().first() {
                Some(next) => cell = next.clone(),
                None => break,
            }
        }
        let expected: Vec<Vec<u8>> = set.keys.iter().map(|k| k.as_bytes().to_vec()).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn refuses_empty_oversized_and_bad_thresholds() {
        assert!(SignerSet::new(0, 1, vec![]).is_err());
        assert!(SignerSet::new(0, 1, keys(17)).is_err());
        assert!(SignerSet::new(0, 0, keys(3)).is_err());
        assert!(SignerSet::new(0, 4, keys(3)).is_err());
        assert!(SignerSet::new(0, 16, keys(16)).is_ok());
    }

    /// The encodings of the eight small-order points and their non-canonical twins (libsodium's
    /// blocklist; the contracts refuse the same list), each also with the sign bit set.
    pub(crate) const SMALL_ORDER: [&str; 7] = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];

    #[test]
    fn refuses_a_key_given_twice() {
        let mut k = keys(4);
        k[3] = k[1];
        let err = SignerSet::new(0, 2, k).unwrap_err();
        assert!(err.to_string().contains("key 3 is key 1 again"), "{err}");
    }

    #[test]
    fn refuses_every_small_order_key_it_can_decode() {
        let mut decoded = 0;
        for hex_key in SMALL_ORDER {
            for sign in [0u8, 0x80] {
                let mut bytes: [u8; 32] = hex::decode(hex_key).unwrap().try_into().unwrap();
                bytes[31] |= sign;
                // A key that does not decode cannot enter a set at all.
                let Ok(weak) = VerifyingKey::from_bytes(&bytes) else {
                    continue;
                };
                decoded += 1;
                let mut k = keys(3);
                k[2] = weak;
                let err = SignerSet::new(0, 1, k).unwrap_err();
                assert!(
                    err.to_string().contains("key 2 has small order"),
                    "{hex_key}: {err}"
                );
            }
        }
        // The canonical small-order points, at least, decode.
        assert!(decoded >= 7, "{decoded}");
    }
}
