//! An attestation with its signature bundle: what a message carries.
//!
//! ```tlb
//! attestation_proof#5c1324ad attestation:^Attestation signatures:^SignatureEntry = AttestationProof;
//! ```

use ed25519_dalek::VerifyingKey;
use tonlib_core::cell::{ArcCell, Cell, CellBuilder};

use crate::codes::tag;
use crate::error::{Error, Result};
use crate::{boc, Attestation, SignatureBundle};

/// An attestation and k signatures over it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationProof {
    /// The attestation.
    pub attestation: Attestation,
    /// Its signatures, by increasing signer index.
    pub bundle: SignatureBundle,
}

impl AttestationProof {
    /// The `AttestationProof` cell: tag and two refs.
    pub fn to_cell(&self) -> Result<ArcCell> {
        let mut builder = CellBuilder::new();
        builder
            .store_u32(32, tag::ATTESTATION_PROOF)?
            .store_reference(&self.attestation.to_cell()?.to_arc())?
            .store_reference(&self.bundle.to_cell()?)?;
        Ok(builder.build()?.to_arc())
    }

    /// Decodes an `AttestationProof` cell strictly (tag, no extra bits, exactly two refs).
    pub fn from_cell(cell: &Cell) -> Result<Self> {
        boc::ordinary(cell)?;
        if cell.bit_len() >= 32 {
            let found = cell.parser().load_u32(32)?;
            if found != tag::ATTESTATION_PROOF {
                return Err(Error::UnknownTag {
                    found,
                    expected: tag::ATTESTATION_PROOF,
                });
            }
        }
        if cell.bit_len() != 32 || cell.references().len() != 2 {
            return Err(Error::MalformedProof {
                bits: cell.bit_len(),
                refs: cell.references().len(),
            });
        }
        Ok(AttestationProof {
            attestation: Attestation::from_cell(cell.reference(0)?)?,
            bundle: SignatureBundle::from_cell(cell.reference(1)?)?,
        })
    }

    /// Checks the proof like [`SignatureBundle::verify`]: every signature strictly, at least
    /// `threshold` of them.
    pub fn verify(&self, keys: &[VerifyingKey], threshold: usize) -> Result<()> {
        self.bundle.verify(&self.attestation, keys, threshold)
    }

    /// Checks many proofs at once with ed25519 batch verification, for a backend that receives
    /// proofs in bulk. Each proof must have at least `threshold` signatures by known signers.
    ///
    /// Batch verification checks the cofactored equation, so it accepts a signature whose `R`
    /// carries an added small-order component that strict verification refuses (a different
    /// encoding of a signature the key's owner did make; it cannot forge one). Keys are refused
    /// when weak (small order) before the batch runs. When the batch fails, each proof is checked
    /// strictly to name the first bad one: the error is the one [`Self::verify`] gives for it.
    pub fn verify_batch(
        proofs: &[AttestationProof],
        keys: &[VerifyingKey],
        threshold: usize,
    ) -> Result<()> {
        if let Some(weak) = keys.iter().find(|key| key.is_weak()) {
            return Err(Error::InvalidPublicKey(format!(
                "{} is a small-order point",
                hex::encode(weak.as_bytes())
            )));
        }
        let mut hashes = Vec::with_capacity(proofs.len());
        for proof in proofs {
            let found = proof.bundle.len();
            if found < threshold {
                return Err(Error::TooFewSignatures { found, threshold });
            }
            hashes.push(proof.attestation.hash()?);
        }
        let mut messages: Vec<&[u8]> = Vec::new();
        let mut signatures = Vec::new();
        let mut signers = Vec::new();
        for (proof, hash) in proofs.iter().zip(&hashes) {
            for entry in proof.bundle.entries() {
                let key = keys
                    .get(usize::from(entry.signer))
                    .ok_or(Error::UnknownSigner(entry.signer))?;
                messages.push(hash);
                signatures.push(entry.signature);
                signers.push(*key);
            }
        }
        if ed25519_dalek::verify_batch(&messages, &signatures, &signers).is_ok() {
            return Ok(());
        }
        for (position, proof) in proofs.iter().enumerate() {
            proof
                .verify(keys, threshold)
                .map_err(|error| Error::InBatch {
                    position,
                    error: Box::new(error),
                })?;
        }
        // The batch refused what strict checks accept: cannot happen for valid signatures.
        Err(Error::BadSignature { index: 0 })
    }

    /// The proof as a base64 BoC.
    pub fn to_boc_base64(&self) -> Result<String> {
        boc::to_base64(&self.to_cell()?)
    }

    /// Decodes a base64 BoC holding one proof.
    pub fn from_boc_base64(text: &str) -> Result<Self> {
        Self::from_cell(&*boc::from_base64(text)?)
    }
}

/// A proof as JSON: what `tollgate attest` prints and the JavaScript package passes around.
///
/// `boc` and `bundle` are authoritative; `attestation`, `hash` and `signatures` repeat them for
/// people and for code that reads fields. [`ProofJson::to_proof`] reads only the two BoCs, so a
/// file edited by hand cannot make the fields say something the signatures do not.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProofJson {
    /// The attestation's fields.
    pub attestation: Attestation,
    /// The attestation cell, base64 BoC.
    pub boc: String,
    /// Its representation hash, hex.
    pub hash: String,
    /// The signature bundle, base64 BoC.
    pub bundle: String,
    /// The bundle's entries, by increasing signer index.
    pub signatures: Vec<SignatureJson>,
}

/// One entry of [`ProofJson::signatures`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignatureJson {
    /// Signer index.
    pub index: u8,
    /// ed25519 signature, hex.
    pub signature: String,
}

impl ProofJson {
    /// The JSON form of a proof.
    pub fn new(proof: &AttestationProof) -> Result<Self> {
        let encoded = proof.attestation.encode()?;
        Ok(ProofJson {
            attestation: proof.attestation,
            boc: encoded.to_boc_base64()?,
            hash: hex::encode(encoded.hash),
            bundle: proof.bundle.to_boc_base64()?,
            signatures: proof
                .bundle
                .entries()
                .iter()
                .map(|e| SignatureJson {
                    index: e.signer,
                    signature: hex::encode(e.signature.to_bytes()),
                })
                .collect(),
        })
    }

    /// Decodes the proof from its two BoCs, strictly.
    pub fn to_proof(&self) -> Result<AttestationProof> {
        Self::from_bocs(&self.boc, &self.bundle)
    }

    /// Decodes a proof from the attestation's and the bundle's base64 BoCs, strictly.
    pub fn from_bocs(boc: &str, bundle: &str) -> Result<AttestationProof> {
        Ok(AttestationProof {
            attestation: Attestation::from_boc_base64(boc)?,
            bundle: SignatureBundle::from_boc_base64(bundle)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Categories, Network, SignatureEntry, SigningKey};

    fn proofs(n: u64, keys: &[SigningKey]) -> Vec<AttestationProof> {
        (0..n)
            .map(|nonce| {
                let attestation = Attestation {
                    network: Network::MAINNET,
                    verifier: Address::new(0, [1; 32]),
                    subject: Address::new(0, [nonce as u8; 32]),
                    risk: 3,
                    categories: Categories::NONE,
                    issued_at: 10,
                    valid_until: 20,
                    epoch: 1,
                    nonce,
                };
                let entries = keys
                    .iter()
                    .enumerate()
                    .map(|(i, key)| SignatureEntry {
                        signer: i as u8,
                        signature: attestation.sign(key).unwrap(),
                    })
                    .collect();
                AttestationProof {
                    attestation,
                    bundle: SignatureBundle::new(entries).unwrap(),
                }
            })
            .collect()
    }

    #[test]
    fn batch_accepts_valid_proofs_and_names_the_forged_one() {
        let keys: Vec<SigningKey> = (1..=2).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let public: Vec<_> = keys.iter().map(SigningKey::verifying_key).collect();
        let mut all = proofs(8, &keys);
        AttestationProof::verify_batch(&all, &public, 2).unwrap();
        all[5].attestation.risk = 99;
        assert_eq!(
            AttestationProof::verify_batch(&all, &public, 2),
            Err(Error::InBatch {
                position: 5,
                error: Box::new(Error::BadSignature { index: 0 })
            })
        );
        assert_eq!(
            AttestationProof::verify_batch(&all[..1], &public, 3),
            Err(Error::TooFewSignatures {
                found: 2,
                threshold: 3
            })
        );
    }
}
