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
                return Err(Error::SignerOrder { previous: pair[0].signer, index: pair[1].signer });
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
            builder.store_u8(8, entry.signer)?.store_slice(&entry.signature.to_bytes())?;
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
                return Err(malformed(format!("{bits} bits and {refs} refs (expected {ENTRY_BITS} bits and at most one ref)")));
            }
            let mut parser = cell.parser();
            let signer = parser.load_u8(8)?;
            let mut bytes = [0u8; 64];
            parser.load_slice(&mut bytes)?;
            let has_next = parser.load_bit()?;
            if has_next != (refs == 1) {
                return Err(malformed("the next bit does not match the refs".into()));
            }
            entries.push(SignatureEntry { signer, signature: Signature::from_bytes(&bytes) });
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
    pub fn verify(&self, attestation: &Attestation, keys: &[VerifyingKey], threshold: usize) -> Result<()> {
        self.verify_hash(&attestation.hash()?, keys, threshold)
    }

    /// [`Self::verify`] for a hash already computed.
    pub fn verify_hash(&self, hash: &[u8; 32], keys: &[VerifyingKey], threshold: usize) -> Result<()> {
        for entry in &self.entries {
            let key = keys.get(usize::from(entry.signer)).ok_or(Error::UnknownSigner(entry.signer))?;
            verify_hash(hash, key, &entry.signature, entry.signer)?;
        }
        if self.entries.len() < threshold {
            return Err(Error::TooFewSignatures { found: self.entries.len(), threshold });
        }
        Ok(())
    }
}
