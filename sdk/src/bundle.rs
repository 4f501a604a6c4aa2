//! The signature bundle (SPEC.md §2): k signatures over one attestation hash.
//!
//! ```tlb
//! signature_entry$_ signer:uint8 signature:bits512 next:(Maybe ^SignatureEntry) = SignatureEntry;
//! ```
//!
//! One entry per cell (two 512-bit signatures never fit 1,023 bits), chained through `next`;
//! signer indexes strictly increase along the chain.

use ed25519_dalek::{Signature, VerifyingKey};
use tonlib_core::cell::{ArcCell, Cell, CellBuilder};

use crate::attestation::{verify_hash, Attestation};
use crate::boc;
use crate::error::{Error, Result};

/// Most signatures a bundle can carry: the largest signer set a verifier stores.
pub const MAX_SIGNERS: usize = 16;

/// Data bits of one entry: signer index, signature and the `next` presence bit.
pub const ENTRY_BITS: usize = 8 + 512 + 1;

/// One signer's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureEntry {
    /// The signer's index in the verifier's signer set.
    pub signer: u8,
    /// ed25519 signature over the attestation's representation hash.
    pub signature: Signature,
}

/// Signatures of distinct signers over one attestation, in strictly increasing signer order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureBundle {
    entries: Vec<SignatureEntry>,
}

impl SignatureBundle {
    /// A bundle from entries in any order; sorts them and refuses duplicates, an empty list and
    /// more than [`MAX_SIGNERS`].
    pub fn new(mut entries: Vec<SignatureEntry>) -> Result<Self> {
        entries.sort_by_key(|entry| entry.signer);
        Self::from_sorted(entries)
    }

    fn from_sorted(entries: Vec<SignatureEntry>) -> Result<Self> {
        if entries.is_empty() || entries.len() > MAX_SIGNERS {
            return Err(Error::BundleSize(entries.len()));
        }
        for pair in entries.windows(2) {
            if pair[1].signer <= pair[0].signer {
                return Err(Error::SignerOrder {
                    previous: pair[0].signer,
                    index: pair[1].signer,
                });
            }
        }
        Ok(SignatureBundle { entries })
    }

    /// The entries, by increasing signer index.
    pub fn entries(&self) -> &[SignatureEntry] {
        &self.entries
    }

    /// Number of signatures (k).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a bundle holds at least one signature.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Builds the chain of entry cells; the root is the first entry.
    pub fn to_cell(&self) -> Result<ArcCell> {
        let mut next: Option<ArcCell> = None;
        for entry in self.entries.iter().rev() {
            let mut builder = CellBuilder::new();
            builder
                .store_u8(8, entry.signer)?
                .store_slice(&entry.signature.to_bytes())?;
            builder.store_ref_cell_optional(next.as_ref())?;
            next = Some(builder.build()?.to_arc());
        }
        next.ok_or(Error::BundleSize(0))
    }

    /// Decodes a chain of entry cells strictly: each exactly 521 bits, a ref exactly when `next`
    /// says so, 1..=16 entries, strictly increasing indexes.
    pub fn from_cell(root: &Cell) -> Result<Self> {
        let mut entries = Vec::new();
        let mut cell = root;
        loop {
            let position = entries.len();
            if position == MAX_SIGNERS {
                return Err(Error::BundleSize(MAX_SIGNERS + 1));
            }
            let malformed = |reason: String| Error::MalformedSignatureEntry { position, reason };
            boc::ordinary(cell).map_err(|_| malformed("exotic cell".into()))?;
            let (bits, refs) = (cell.bit_len(), cell.references().len());
            if bits != ENTRY_BITS || refs > 1 {
                return Err(malformed(format!(
                    "{bits} bits and {refs} refs (expected {ENTRY_BITS} bits and at most one ref)"
                )));
            }
            let mut parser = cell.parser();
            let signer = parser.load_u8(8)?;
            let mut bytes = [0u8; 64];
            parser.load_slice(&mut bytes)?;
            let has_next = parser.load_bit()?;
            if has_next != (refs == 1) {
                return Err(malformed("the next bit does not match the refs".into()));
            }
            entries.push(SignatureEntry {
                signer,
                signature: Signature::from_bytes(&bytes),
            });
            match cell.references().first() {
                Some(next) => cell = next,
                None => break,
            }
        }
        Self::from_sorted(entries)
    }

    /// Decodes a BoC whose root is the first entry.
    pub fn from_boc(bytes: &[u8]) -> Result<Self> {
        Self::from_cell(&*boc::from_bytes(bytes)?)
    }

    /// Decodes a base64 BoC whose root is the first entry.
    pub fn from_boc_base64(text: &str) -> Result<Self> {
        Self::from_cell(&*boc::from_base64(text)?)
    }

    /// The bundle as a BoC.
    pub fn to_boc(&self) -> Result<Vec<u8>> {
        boc::to_bytes(&self.to_cell()?)
    }

    /// The bundle as a base64 BoC.
    pub fn to_boc_base64(&self) -> Result<String> {
        boc::to_base64(&self.to_cell()?)
    }

    /// Checks every signature strictly against `keys` (indexed by signer) over the
    /// attestation's hash, and that there are at least `threshold` of them — the check a
    /// verifier contract makes, done off-chain before a message is sent.
    pub fn verify(
        &self,
        attestation: &Attestation,
        keys: &[VerifyingKey],
        threshold: usize,
    ) -> Result<()> {
        self.verify_hash(&attestation.hash()?, keys, threshold)
    }

    /// [`Self::verify`] for a hash already computed.
    pub fn verify_hash(
        &self,
        hash: &[u8; 32],
        keys: &[VerifyingKey],
        threshold: usize,
    ) -> Result<()> {
        self.verify_with(hash, |index| keys.get(usize::from(index)), threshold)
    }

    /// [`Self::verify_hash`] with the keys looked up by signer index, for callers that know
    /// only some keys of a set.
    pub fn verify_with<'k>(
        &self,
        hash: &[u8; 32],
        key_of: impl Fn(u8) -> Option<&'k VerifyingKey>,
        threshold: usize,
    ) -> Result<()> {
        for entry in &self.entries {
            let key = key_of(entry.signer).ok_or(Error::UnknownSigner(entry.signer))?;
            verify_hash(hash, key, &entry.signature, entry.signer)?;
        }
        if self.entries.len() < threshold {
            return Err(Error::TooFewSignatures {
                found: self.entries.len(),
                threshold,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::test_cell;
    use crate::{Address, Categories, Network};
    use ed25519_dalek::SigningKey;

    fn keys(n: u8) -> Vec<SigningKey> {
        (0..n)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect()
    }

    fn attestation() -> Attestation {
        Attestation {
            network: Network::TESTNET,
            verifier: Address::new(0, [1; 32]),
            subject: Address::new(0, [2; 32]),
            risk: 0,
            categories: Categories::NONE,
            issued_at: 100,
            valid_until: 200,
            epoch: 1,
            nonce: 5,
        }
    }

    fn signed(attestation: &Attestation, keys: &[SigningKey], signers: &[u8]) -> SignatureBundle {
        let entries = signers
            .iter()
            .map(|&i| SignatureEntry {
                signer: i,
                signature: attestation.sign(&keys[usize::from(i)]).unwrap(),
            })
            .collect();
        SignatureBundle::new(entries).unwrap()
    }

    fn public(keys: &[SigningKey]) -> Vec<VerifyingKey> {
        keys.iter().map(SigningKey::verifying_key).collect()
    }

    #[test]
    fn chains_one_entry_per_cell_and_round_trips() {
        let keys = keys(5);
        let a = attestation();
        let bundle = signed(&a, &keys, &[4, 0, 2]);
        assert_eq!(
            bundle
                .entries()
                .iter()
                .map(|e| e.signer)
                .collect::<Vec<_>>(),
            [0, 2, 4]
        );
        let root = bundle.to_cell().unwrap();
        assert_eq!((root.bit_len(), root.references().len()), (ENTRY_BITS, 1));
        let last = root.reference(0).unwrap().reference(0).unwrap();
        assert_eq!((last.bit_len(), last.references().len()), (ENTRY_BITS, 0));
        assert_eq!(
            SignatureBundle::from_boc(&bundle.to_boc().unwrap()).unwrap(),
            bundle
        );
        bundle.verify(&a, &public(&keys), 3).unwrap();
    }

    #[test]
    fn verification_names_the_failing_signer_and_counts_the_threshold() {
        let keys = keys(3);
        let a = attestation();
        let bundle = signed(&a, &keys, &[0, 1]);
        assert_eq!(
            bundle.verify(&a, &public(&keys), 3),
            Err(Error::TooFewSignatures {
                found: 2,
                threshold: 3
            })
        );
        let other = Attestation { risk: 1, ..a };
        assert_eq!(
            bundle.verify(&other, &public(&keys), 1),
            Err(Error::BadSignature { index: 0 })
        );
        assert_eq!(
            bundle.verify(&a, &public(&keys[..1]), 1),
            Err(Error::UnknownSigner(1))
        );
    }

    #[test]
    fn refuses_duplicates_empty_and_oversized_bundles() {
        let keys = keys(1);
        let signature = attestation().sign(&keys[0]).unwrap();
        let entry = |signer| SignatureEntry { signer, signature };
        assert_eq!(
            SignatureBundle::new(vec![entry(3), entry(3)]),
            Err(Error::SignerOrder {
                previous: 3,
                index: 3
            })
        );
        assert_eq!(SignatureBundle::new(vec![]), Err(Error::BundleSize(0)));
        assert_eq!(
            SignatureBundle::new((0..17).map(entry).collect()),
            Err(Error::BundleSize(17))
        );
    }

    /// Builds an entry chain by hand, `signers` in the given (possibly bad) order.
    fn raw_chain(signers: &[u8]) -> ArcCell {
        let mut next: Option<ArcCell> = None;
        for &signer in signers.iter().rev() {
            let tail = next.clone();
            next = Some(test_cell(|b| {
                b.store_u8(8, signer)?
                    .store_slice(&[0; 64])?
                    .store_ref_cell_optional(tail.as_ref())?;
                Ok(())
            }));
        }
        next.unwrap()
    }

    #[test]
    fn decoder_refuses_out_of_order_and_overlong_chains() {
        assert_eq!(
            SignatureBundle::from_cell(&raw_chain(&[2, 1])),
            Err(Error::SignerOrder {
                previous: 2,
                index: 1
            })
        );
        let long: Vec<u8> = (0..17).collect();
        assert_eq!(
            SignatureBundle::from_cell(&raw_chain(&long)),
            Err(Error::BundleSize(17))
        );
    }

    #[test]
    fn decoder_refuses_malformed_entries() {
        let short = test_cell(|b| {
            b.store_u8(8, 0)?.store_slice(&[0; 64])?;
            Ok(())
        });
        assert!(matches!(
            SignatureBundle::from_cell(&short),
            Err(Error::MalformedSignatureEntry { position: 0, .. })
        ));
        let lying = test_cell(|b| {
            b.store_u8(8, 0)?.store_slice(&[0; 64])?.store_bit(true)?;
            Ok(())
        });
        let err = SignatureBundle::from_cell(&lying).unwrap_err();
        assert_eq!(
            err,
            Error::MalformedSignatureEntry {
                position: 0,
                reason: "the next bit does not match the refs".into()
            }
        );
    }
}
