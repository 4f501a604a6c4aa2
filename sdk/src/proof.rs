//! An attestation with its signature bundle: what a message carries.
//!
//! ```tlb
//! attestation_proof#5c1324ad attestation:^Attestation signatures:^SignatureEntry = AttestationProof;
//! ```

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

    /// The proof as a base64 BoC.
    pub fn to_boc_base64(&self) -> Result<String> {
        boc::to_base64(&self.to_cell()?)
    }

    /// Decodes a base64 BoC holding one proof.
    pub fn from_boc_base64(text: &str) -> Result<Self> {
        Self::from_cell(&*boc::from_base64(text)?)
    }
}
