//! Message bodies that carry attestations, as cells and as the base64 BoC that TON Connect's
//! `sendTransaction` takes as `payload`.
//!
//! A ComplianceGate `gate_transfer` carries one proof per screened party (SPEC.md §10).
//!
//! A jetton transfer (TEP-74) can carry the proof two ways:
//! - in `custom_payload`, for a jetton whose wallets check attestations themselves;
//! - in `forward_payload`, for a deposit gate in front of an existing jetton (USDT on TON cannot
//!   change): the gate reads it from `transfer_notification`. [`deposit_payload`] puts the proof
//!   at the start of the payload and the deposit's reference (an invoice comment, say) after it,
//!   as a JettonDepositGate reads it (SPEC.md §12.1); [`JettonTransfer::deposit`] is the whole
//!   transfer.

use tonlib_core::cell::{ArcCell, Cell, CellBuilder};

use crate::attestation::store_address;
use crate::codes::op;
use crate::error::Result;
use crate::proof::AttestationProof;
use crate::Address;

/// The fields of a TEP-74 jetton `transfer` besides its payloads.
///
/// ```tlb
/// transfer#0f8a7ea5 query_id:uint64 amount:(VarUInteger 16) destination:MsgAddress
///     response_destination:MsgAddress custom_payload:(Maybe ^Cell) forward_ton_amount:(VarUInteger 16)
///     forward_payload:(Either Cell ^Cell) = InternalMsgBody;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JettonTransfer {
    /// Echoed in the notification and the excess.
    pub query_id: u64,
    /// Jettons to move, in the jetton's smallest units.
    pub amount: u128,
    /// The owner who receives the jettons (the deposit gate, for a gated deposit).
    pub destination: Address,
    /// Who gets the excess TON back.
    pub response_destination: Address,
    /// TON attached to the `transfer_notification`, in nanotons. A deposit gate needs it above
    /// zero, or no notification (and no proof) reaches it.
    pub forward_ton_amount: u128,
}

impl JettonTransfer {
    /// The transfer with the proof in `custom_payload` and `forward_payload` as given (or empty).
    pub fn with_proof_in_custom_payload(
        &self,
        proof: &AttestationProof,
        forward_payload: Option<&ArcCell>,
    ) -> Result<Cell> {
        self.build(Some(&proof.to_cell()?), forward_payload)
    }

    /// The transfer with the proof as `forward_payload` (in a ref) and no `custom_payload`.
    pub fn with_proof_in_forward_payload(&self, proof: &AttestationProof) -> Result<Cell> {
        self.build(None, Some(&proof.to_cell()?))
    }

    /// A deposit to a JettonDepositGate: `forward_payload` = [`deposit_payload`] (the
    /// depositor's proof, then `reference`), in a ref so that no reference can overflow the
    /// transfer's root cell. `destination` is the gate, `response_destination` the depositor.
    pub fn deposit(&self, proof: &AttestationProof, reference: Option<&Cell>) -> Result<Cell> {
        self.build(None, Some(&deposit_payload(proof, reference)?.to_arc()))
    }

    /// A transfer of a compliant jetton (SPEC.md §16): the sender's [`ComplianceAuth`] in
    /// `custom_payload`, `forward_payload` as given (or empty). `response_destination` is
    /// usually the sender, the auth's subject.
    ///
    /// [`ComplianceAuth`]: crate::compliant::ComplianceAuth
    pub fn compliant(
        &self,
        auth: &crate::compliant::ComplianceAuth,
        forward_payload: Option<&ArcCell>,
    ) -> Result<Cell> {
        self.build(Some(&auth.to_cell()?), forward_payload)
    }

    fn build(
        &self,
        custom_payload: Option<&ArcCell>,
        forward_payload: Option<&ArcCell>,
    ) -> Result<Cell> {
        let mut builder = CellBuilder::new();
        builder
            .store_u32(32, op::JETTON_TRANSFER)?
            .store_u64(64, self.query_id)?;
        store_coins(&mut builder, self.amount)?;
        store_address(&mut builder, &self.destination)?;
        store_address(&mut builder, &self.response_destination)?;
        builder.store_ref_cell_optional(custom_payload)?;
        store_coins(&mut builder, self.forward_ton_amount)?;
        // forward_payload:(Either Cell ^Cell): an empty inline cell, or the payload in a ref.
        match forward_payload {
            None => builder.store_bit(false)?,
            Some(payload) => builder.store_bit(true)?.store_reference(payload)?,
        };
        Ok(builder.build()?)
    }
}

/// The most data bits a deposit reference may have: a cell's 1023 less the proof's 32-bit tag.
pub const MAX_REFERENCE_BITS: usize = 1023 - 32;
/// The most refs a deposit reference may have: a cell's four less the proof's two.
pub const MAX_REFERENCE_REFS: usize = 2;

/// The `forward_payload` of a deposit to a JettonDepositGate (SPEC.md §12.1):
///
/// ```tlb
/// attestation_proof#5c1324ad attestation:^Attestation signatures:^SignatureEntry = AttestationProof;
/// ```
///
/// then the bits and refs of `reference` (the gate sends them on to the treasury as they are).
/// [`Error::ReferenceTooLarge`](crate::Error::ReferenceTooLarge) when the reference has more than
/// [`MAX_REFERENCE_BITS`] bits or [`MAX_REFERENCE_REFS`] refs.
pub fn deposit_payload(proof: &AttestationProof, reference: Option<&Cell>) -> Result<Cell> {
    let proof_cell = proof.to_cell()?;
    let mut builder = CellBuilder::new();
    builder.store_cell(&proof_cell)?;
    if let Some(reference) = reference {
        let (bits, refs) = (reference.bit_len(), reference.references().len());
        if bits > MAX_REFERENCE_BITS || refs > MAX_REFERENCE_REFS {
            return Err(crate::Error::ReferenceTooLarge { bits, refs });
        }
        builder.store_cell(reference)?;
    }
    Ok(builder.build()?)
}

/// A TEP-74 text comment, `0x00000000` then the UTF-8 text, in one cell: the reference an
/// exchange usually matches a deposit by. Beside a proof it holds at most 119 bytes
/// ([`deposit_payload`] refuses more).
pub fn comment(text: &str) -> Result<Cell> {
    let bytes = text.as_bytes();
    if 32 + 8 * bytes.len() > 1023 {
        return Err(crate::Error::ReferenceTooLarge {
            bits: 32 + 8 * bytes.len(),
            refs: 0,
        });
    }
    let mut builder = CellBuilder::new();
    builder.store_u32(32, 0)?.store_slice(bytes)?;
    Ok(builder.build()?)
}

/// A TON transfer through a ComplianceGate, besides its proofs.
///
/// ```tlb
/// gate_transfer#159f1aa7 query_id:uint64 destination:MsgAddressInt amount:Coins
///     response_destination:MsgAddress forward_payload:(Maybe ^Cell)
///     destination_proof:(Maybe ^AttestationProof) sender_proof:(Maybe ^AttestationProof) = InternalMsgBody;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateTransfer {
    /// Echoed in the forward, the refund and the excess.
    pub query_id: u64,
    /// Who receives the TON.
    pub destination: Address,
    /// Nanotons the destination receives. With a `response_destination` the destination gets
    /// exactly this and the rest comes back as `gate_excess`; without one, the destination gets
    /// the whole value less fees (at least this).
    pub amount: u128,
    /// Who gets the excess back, if anyone.
    pub response_destination: Option<Address>,
    /// Passed to the destination inside `gate_forward`.
    pub forward_payload: Option<ArcCell>,
}

impl GateTransfer {
    /// The `gate_transfer` body with the proofs the gate's policy asks for (the destination's,
    /// the sender's, or both).
    pub fn to_cell(
        &self,
        destination_proof: Option<&AttestationProof>,
        sender_proof: Option<&AttestationProof>,
    ) -> Result<Cell> {
        let mut builder = CellBuilder::new();
        builder
            .store_u32(32, op::GATE_TRANSFER)?
            .store_u64(64, self.query_id)?;
        store_address(&mut builder, &self.destination)?;
        store_coins(&mut builder, self.amount)?;
        match &self.response_destination {
            Some(address) => store_address(&mut builder, address)?,
            None => {
                builder.store_u8(2, 0b00)?; // addr_none
            }
        }
        builder.store_ref_cell_optional(self.forward_payload.as_ref())?;
        let destination_proof = destination_proof
            .map(AttestationProof::to_cell)
            .transpose()?;
        let sender_proof = sender_proof.map(AttestationProof::to_cell).transpose()?;
        builder
            .store_ref_cell_optional(destination_proof.as_ref())?
            .store_ref_cell_optional(sender_proof.as_ref())?;
        Ok(builder.build()?)
    }
}

/// `VarUInteger 16`: a 4-bit byte length, then the value in that many bytes.
pub(crate) fn store_coins(builder: &mut CellBuilder, amount: u128) -> Result<()> {
    let bytes = amount.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    // VarUInteger 16 holds at most 15 bytes (120 bits).
    let len = bytes.len() - skip;
    if len > 15 {
        return Err(crate::Error::Cell(format!(
            "{amount} does not fit VarUInteger 16"
        )));
    }
    builder
        .store_u8(4, len as u8)?
        .store_slice(&bytes[skip..])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attestation, Categories, Network, SignatureBundle, SignatureEntry, SigningKey};
    use tonlib_core::message::{JettonTransferMessage, TonMessage};
    use tonlib_core::TonAddress;

    fn proof() -> AttestationProof {
        let attestation = Attestation {
            network: Network::MAINNET,
            verifier: Address::new(0, [3; 32]),
            subject: Address::new(0, [4; 32]),
            risk: 5,
            categories: Categories::NONE,
            issued_at: 1,
            valid_until: 601,
            epoch: 1,
            nonce: 9,
        };
        let signature = attestation.sign(&SigningKey::from_bytes(&[1; 32])).unwrap();
        let bundle = SignatureBundle::new(vec![SignatureEntry {
            signer: 0,
            signature,
        }])
        .unwrap();
        AttestationProof {
            attestation,
            bundle,
        }
    }

    fn transfer() -> JettonTransfer {
        JettonTransfer {
            query_id: 77,
            amount: 1_500_000,
            destination: Address::new(0, [5; 32]),
            response_destination: Address::new(0, [6; 32]),
            forward_ton_amount: 10_000_000,
        }
    }

    fn ton(address: &Address) -> TonAddress {
        TonAddress::new(
            i32::from(address.workchain),
            tonlib_core::TonHash::from(address.hash),
        )
    }

    /// The same transfer built by tonlib-core's own TEP-74 message type.
    fn reference(custom: Option<ArcCell>, forward: ArcCell) -> Cell {
        let t = transfer();
        let mut message = JettonTransferMessage::new(&ton(&t.destination), &t.amount.into());
        message.query_id = t.query_id;
        message.with_response_destination(&ton(&t.response_destination));
        if let Some(custom) = custom {
            message.with_custom_payload(custom);
        }
        message.forward_ton_amount = t.forward_ton_amount.into();
        message.forward_payload = forward;
        message.forward_payload_layout = tonlib_core::cell::EitherCellLayout::ToRef;
        message.build().unwrap()
    }

    #[test]
    fn forward_payload_transfer_matches_tonlib_core() {
        let p = proof();
        let ours = transfer().with_proof_in_forward_payload(&p).unwrap();
        assert_eq!(
            ours.cell_hash(),
            reference(None, p.to_cell().unwrap()).cell_hash()
        );
        let parsed = JettonTransferMessage::parse(&ours).unwrap();
        assert_eq!(
            AttestationProof::from_cell(&parsed.forward_payload).unwrap(),
            p
        );
    }

    #[test]
    fn custom_payload_transfer_matches_tonlib_core() {
        let p = proof();
        let forward = CellBuilder::new()
            .store_u32(32, 0)
            .unwrap()
            .build()
            .unwrap()
            .to_arc();
        let ours = transfer()
            .with_proof_in_custom_payload(&p, Some(&forward))
            .unwrap();
        assert_eq!(
            ours.cell_hash(),
            reference(Some(p.to_cell().unwrap()), forward).cell_hash()
        );
        let parsed = JettonTransferMessage::parse(&ours).unwrap();
        assert_eq!(
            AttestationProof::from_cell(&parsed.custom_payload.unwrap()).unwrap(),
            p
        );
    }

    #[test]
    fn deposit_puts_the_proof_first_and_the_reference_after_it() {
        let p = proof();
        let invoice = comment("invoice 42").unwrap();
        let body = transfer().deposit(&p, Some(&invoice)).unwrap();
        let parsed = JettonTransferMessage::parse(&body).unwrap();
        assert!(parsed.custom_payload.is_none());
        let payload = parsed.forward_payload;
        // The proof's tag and two refs, then the comment's 32 + 80 bits.
        assert_eq!(payload.bit_len(), 32 + 32 + 80);
        assert_eq!(payload.references().len(), 2);
        let mut parser = payload.parser();
        assert_eq!(
            parser.load_u32(32).unwrap(),
            crate::codes::tag::ATTESTATION_PROOF
        );
        assert_eq!(parser.load_u32(32).unwrap(), 0);
        assert_eq!(parser.load_utf8(10).unwrap(), "invoice 42");
        assert_eq!(
            payload.reference(0).unwrap().cell_hash(),
            p.attestation.to_cell().unwrap().cell_hash()
        );
        // Without a reference the payload is the proof cell itself.
        let bare = deposit_payload(&p, None).unwrap();
        assert_eq!(bare.cell_hash(), p.to_cell().unwrap().cell_hash());
    }

    #[test]
    fn deposit_refuses_a_reference_that_does_not_fit_beside_the_proof() {
        let p = proof();
        let longest = comment(&"x".repeat(119)).unwrap();
        assert!(deposit_payload(&p, Some(&longest)).is_ok());
        let too_long = comment(&"x".repeat(120)).unwrap();
        let err = deposit_payload(&p, Some(&too_long)).unwrap_err();
        assert_eq!(err, crate::Error::ReferenceTooLarge { bits: 992, refs: 0 });
        assert_eq!(err.code(), "reference_too_large");
        let leaf = CellBuilder::new().build().unwrap().to_arc();
        let three_refs = CellBuilder::new()
            .store_references(&[leaf.clone(), leaf.clone(), leaf])
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(
            transfer().deposit(&p, Some(&three_refs)),
            Err(crate::Error::ReferenceTooLarge { refs: 3, .. })
        ));
        assert!(matches!(
            comment(&"x".repeat(125)),
            Err(crate::Error::ReferenceTooLarge { .. })
        ));
    }

    #[test]
    fn proof_round_trips_and_refuses_other_tags() {
        let p = proof();
        assert_eq!(
            AttestationProof::from_boc_base64(&p.to_boc_base64().unwrap()).unwrap(),
            p
        );
        let cell = p.attestation.to_cell().unwrap();
        assert!(matches!(
            AttestationProof::from_cell(&cell),
            Err(crate::Error::UnknownTag { .. })
        ));
    }

    #[test]
    fn gate_transfer_has_the_schema_layout() {
        let p = proof();
        let t = GateTransfer {
            query_id: 3,
            destination: Address::new(0, [8; 32]),
            amount: 1_000_000_000,
            response_destination: None,
            forward_payload: None,
        };
        let cell = t.to_cell(Some(&p), None).unwrap();
        // op 32 + query_id 64 + address 267 + coins (4 + 32) + addr_none 2 + three Maybe bits.
        assert_eq!(cell.bit_len(), 32 + 64 + 267 + 36 + 2 + 3);
        assert_eq!(cell.references().len(), 1);
        assert_eq!(
            AttestationProof::from_cell(cell.reference(0).unwrap()).unwrap(),
            p
        );
        let mut parser = cell.parser();
        assert_eq!(parser.load_u32(32).unwrap(), op::GATE_TRANSFER);
        let with_response = GateTransfer {
            response_destination: Some(Address::new(0, [9; 32])),
            ..t
        };
        let both = with_response.to_cell(Some(&p), Some(&p)).unwrap();
        assert_eq!(both.bit_len(), 32 + 64 + 267 + 36 + 267 + 3);
        assert_eq!(both.references().len(), 2);
    }

    #[test]
    fn coins_use_the_shortest_length() {
        for (amount, bits) in [
            (0u128, 4),
            (1, 12),
            (255, 12),
            (256, 20),
            (u128::from(u64::MAX), 68),
        ] {
            let mut b = CellBuilder::new();
            store_coins(&mut b, amount).unwrap();
            assert_eq!(b.build().unwrap().bit_len(), bits, "{amount}");
        }
        assert!(store_coins(&mut CellBuilder::new(), u128::MAX).is_err());
    }
}
