//! A verifier's signer set (SPEC.md §4), as the contracts store it.
//!
//! ```tlb
//! signer_set$_ epoch:uint32 threshold:uint8 count:uint8 keys:^SignerKeys = SignerSet;
//! ```
//!
//! Keys are packed three to a cell in index order, each full cell pointing at the next, so a
//! verifier walks them in step with the bundle's increasing signer indexes.

use ed25519_dalek::VerifyingKey;
use tonlib_core::cell::{ArcCell, Cell, CellBuilder, CellParser};

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

    /// Writes the set inline (`epoch threshold count ^keys`), as a certificate or a checker's
    /// storage holds it: 48 bits and one ref.
    pub fn store(&self, builder: &mut CellBuilder) -> Result<()> {
        let cell = self.to_cell()?;
        builder.store_cell(&cell)?;
        Ok(())
    }

    /// Reads an inline set from `parser` (48 bits) and its keys from `keys`, strictly: each
    /// key cell holds exactly `min(3, keys left)` keys, a ref exactly when more keys follow,
    /// then every rule of [`SignerSet::new`]. Errors are [`Error::InvalidSignerSet`] naming what
    /// is wrong (or [`Error::InvalidPublicKey`] for bytes that are no ed25519 point).
    pub fn load(parser: &mut CellParser<'_>, keys: &Cell) -> Result<Self> {
        let epoch = parser.load_u32(32)?;
        let threshold = parser.load_u8(8)?;
        let count = usize::from(parser.load_u8(8)?);
        if count == 0 || count > MAX_SIGNERS {
            return Err(Error::InvalidSignerSet(format!(
                "{count} keys (expected 1..=16)"
            )));
        }
        let mut found = Vec::with_capacity(count);
        let mut cell = keys;
        loop {
            crate::boc::ordinary(cell)?;
            let here = (count - found.len()).min(KEYS_PER_CELL);
            let more = found.len() + here < count;
            let (bits, refs) = (cell.bit_len(), cell.references().len());
            if bits != here * 256 || refs != usize::from(more) {
                return Err(Error::InvalidSignerSet(format!(
                    "key cell {}: {bits} bits and {refs} refs (expected {} bits and {} refs)",
                    found.len() / KEYS_PER_CELL,
                    here * 256,
                    usize::from(more)
                )));
            }
            let mut keys_parser = cell.parser();
            for _ in 0..here {
                let mut bytes = [0u8; 32];
                keys_parser.load_slice(&mut bytes)?;
                let key = VerifyingKey::from_bytes(&bytes).map_err(|_| {
                    Error::InvalidPublicKey(format!(
                        "key {} ({}) is not an ed25519 point",
                        found.len(),
                        hex::encode(bytes)
                    ))
                })?;
                found.push(key);
            }
            if !more {
                break;
            }
            cell = cell.reference(0)?;
        }
        SignerSet::new(epoch, threshold, found)
    }

    /// Decodes a `SignerSet` cell (48 bits and one ref, nothing else) strictly, like
    /// [`SignerSet::load`].
    pub fn from_cell(cell: &Cell) -> Result<Self> {
        crate::boc::ordinary(cell)?;
        if cell.bit_len() != 48 || cell.references().len() != 1 {
            return Err(Error::InvalidSignerSet(format!(
                "{} bits and {} refs (expected 48 bits and one ref)",
                cell.bit_len(),
                cell.references().len()
            )));
        }
        Self::load(&mut cell.parser(), cell.reference(0)?)
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
    fn decodes_what_it_encodes_and_refuses_bad_key_chains() {
        for n in [1u8, 3, 4, 7, 16] {
            let set = SignerSet::new(5, 1, keys(n)).unwrap();
            assert_eq!(SignerSet::from_cell(&set.to_cell().unwrap()).unwrap(), set);
        }
        // A count that says more keys than the chain holds.
        let set = SignerSet::new(5, 1, keys(3)).unwrap();
        let cell = set.to_cell().unwrap();
        let lying = CellBuilder::new()
            .store_u32(32, 5)
            .unwrap()
            .store_u8(8, 1)
            .unwrap()
            .store_u8(8, 4)
            .unwrap()
            .store_reference(cell.reference(0).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let err = SignerSet::from_cell(&lying).unwrap_err();
        assert!(matches!(err, Error::InvalidSignerSet(_)), "{err}");
        // Threshold above count is refused on decode too.
        let over = CellBuilder::new()
            .store_u32(32, 5)
            .unwrap()
            .store_u8(8, 4)
            .unwrap()
            .store_u8(8, 3)
            .unwrap()
            .store_reference(cell.reference(0).unwrap())
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(
            SignerSet::from_cell(&over),
            Err(Error::InvalidSignerSet(_))
        ));
        // Trailing bits after the inline set.
        let extra = CellBuilder::new()
            .store_cell(&cell)
            .unwrap()
            .store_bit(true)
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(
            SignerSet::from_cell(&extra),
            Err(Error::InvalidSignerSet(_))
        ));
    }

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
