//! TON Connect `sendTransaction` requests for transfers through a ComplianceGate: what a dApp
//! hands to `tonConnectUI.sendTransaction(...)` (TON Connect 2 protocol, `SendTransactionRequest`).
//!
//! The request is complete: `validUntil` no later than the earliest proof's expiry (a wallet
//! refuses to sign after it, so the user cannot send a transfer the gate would refund as
//! expired), `network` as TON Connect's chain id, one message to the gate's bounceable address
//! (with the testnet flag on testnet) with the amount plus the gate's fees ([`crate::fees`]) and
//! the `gate_transfer` body as a base64 BoC.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::messages::GateTransfer;
use crate::{boc, fees, Address, AttestationProof, FriendlyFlags, Network};

/// `SendTransactionRequest` of TON Connect, in its JSON field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendTransactionRequest {
    /// Unix time after which the wallet must not send it.
    pub valid_until: u32,
    /// The chain: `"-239"` (mainnet) or `"-3"` (testnet).
    pub network: String,
    /// The sender the wallet must be, raw form (set when the gate screens the sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The messages, here exactly one.
    pub messages: Vec<Message>,
}

/// One message of a [`SendTransactionRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The receiver, user-friendly (bounceable for a contract).
    pub address: String,
    /// Nanotons to attach, as a decimal string.
    pub amount: String,
    /// The body, a base64 BoC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// A transfer through a gate with the proofs its policy asks for.
#[derive(Clone, Debug)]
pub struct GateRequest<'a> {
    /// The ComplianceGate's address.
    pub gate: Address,
    /// The transfer (destination, amount, …).
    pub transfer: &'a GateTransfer,
    /// The destination's proof, when the gate screens the destination.
    pub destination_proof: Option<&'a AttestationProof>,
    /// The sender's proof, when the gate screens the sender; its subject becomes `from`, so the
    /// wallet refuses to send from another account.
    pub sender_proof: Option<&'a AttestationProof>,
    /// The current unix time: a proof that has expired is refused.
    pub now: u32,
}

/// TON Connect's chain id for a network, or [`Error::UnsupportedNetwork`] for one TON Connect
/// does not name.
pub fn chain_id(network: Network) -> Result<String> {
    match network {
        Network::MAINNET | Network::TESTNET => Ok(network.global_id().to_string()),
        other => Err(Error::UnsupportedNetwork(other.global_id())),
    }
}

impl GateRequest<'_> {
    /// Checks that each proof fits the transfer, then builds the request.
    ///
    /// Refused with [`Error::ProofMismatch`]: a destination proof about another subject, a proof
    /// for another verifier than the gate, proofs for different networks. With
    /// [`Error::MissingProof`]: no proof at all. With [`Error::ProofExpired`]: a proof whose
    /// `valid_until` has passed.
    pub fn to_request(&self) -> Result<SendTransactionRequest> {
        let proofs: Vec<(&'static str, &AttestationProof)> = [
            ("destination", self.destination_proof),
            ("sender", self.sender_proof),
        ]
        .into_iter()
        .filter_map(|(party, proof)| proof.map(|p| (party, p)))
        .collect();
        let network = proofs
            .first()
            .ok_or(Error::MissingProof)?
            .1
            .attestation
            .network;
        for (party, proof) in &proofs {
            let a = &proof.attestation;
            if a.verifier != self.gate {
                return Err(mismatch(party, "verifier", self.gate, a.verifier));
            }
            if a.network != network {
                return Err(Error::ProofMismatch {
                    party,
                    field: "network",
                    expected: network.to_string(),
                    found: a.network.to_string(),
                });
            }
            if a.valid_until < self.now {
                return Err(Error::ProofExpired {
                    valid_until: a.valid_until,
                    now: self.now,
                });
            }
        }
        if let Some(proof) = self.destination_proof {
            let subject = proof.attestation.subject;
            if subject != self.transfer.destination {
                return Err(mismatch(
                    "destination",
                    "subject",
                    self.transfer.destination,
                    subject,
                ));
            }
        }
        let chain = chain_id(network)?;
        let valid_until = proofs
            .iter()
            .map(|(_, p)| p.attestation.valid_until)
            .min()
            .unwrap_or(self.now);
        let signatures = proofs
            .iter()
            .map(|(_, p)| p.bundle.len())
            .max()
            .unwrap_or(1) as u64;
        let fee = fees::gate_fee(
            self.transfer.destination.workchain,
            proofs.len() as u64,
            signatures,
            self.transfer.forward_payload.as_deref(),
        );
        let body = self
            .transfer
            .to_cell(self.destination_proof, self.sender_proof)?
            .to_arc();
        let amount = self
            .transfer
            .amount
            .checked_add(u128::from(fee))
            .ok_or_else(|| Error::Cell("amount plus fees overflows".into()))?;
        Ok(SendTransactionRequest {
            valid_until,
            network: chain,
            from: self.sender_proof.map(|p| p.attestation.subject.to_raw()),
            messages: vec![Message {
                address: self.gate.to_friendly(FriendlyFlags {
                    bounceable: true,
                    testnet: network == Network::TESTNET,
                }),
                amount: amount.to_string(),
                payload: Some(boc::to_base64(&body)?),
            }],
        })
    }
}

fn mismatch(party: &'static str, field: &'static str, expected: Address, found: Address) -> Error {
    Error::ProofMismatch {
        party,
        field,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attestation, Categories, SignatureBundle, SignatureEntry, SigningKey};

    fn proof(subject: Address, verifier: Address, network: Network) -> AttestationProof {
        let attestation = Attestation {
            network,
            verifier,
            subject,
            risk: 5,
            categories: Categories::NONE,
            issued_at: 1_000,
            valid_until: 1_600,
            epoch: 1,
            nonce: 9,
        };
        let signature = attestation.sign(&SigningKey::from_bytes(&[1; 32])).unwrap();
        AttestationProof {
            attestation,
            bundle: SignatureBundle::new(vec![SignatureEntry {
                signer: 0,
                signature,
            }])
            .unwrap(),
        }
    }

    const GATE: Address = Address::new(0, [7; 32]);
    const BOB: Address = Address::new(0, [8; 32]);

    fn transfer() -> GateTransfer {
        GateTransfer {
            query_id: 1,
            destination: BOB,
            amount: 1_000_000_000,
            response_destination: None,
            forward_payload: None,
        }
    }

    #[test]
    fn builds_a_complete_request_for_the_gate() {
        let t = transfer();
        let p = proof(BOB, GATE, Network::TESTNET);
        let request = GateRequest {
            gate: GATE,
            transfer: &t,
            destination_proof: Some(&p),
            sender_proof: None,
            now: 1_100,
        }
        .to_request()
        .unwrap();
        assert_eq!(request.valid_until, 1_600);
        assert_eq!(request.network, "-3");
        assert_eq!(request.from, None);
        let message = &request.messages[0];
        let (address, flags) = Address::from_friendly(&message.address).unwrap();
        assert_eq!(address, GATE);
        assert!(flags.bounceable && flags.testnet);
        let fee = fees::gate_fee(0, 1, 1, None);
        assert_eq!(
            message.amount,
            (1_000_000_000 + u128::from(fee)).to_string()
        );
        let body = boc::from_base64(message.payload.as_ref().unwrap()).unwrap();
        assert_eq!(
            body.cell_hash(),
            t.to_cell(Some(&p), None).unwrap().cell_hash()
        );
        let json = serde_json::to_value(&request).unwrap();
        assert!(json.get("validUntil").is_some() && json.get("from").is_none());
    }

    #[test]
    fn refuses_proofs_that_do_not_fit_the_transfer() {
        let t = transfer();
        let request = |p: &AttestationProof, now| {
            GateRequest {
                gate: GATE,
                transfer: &t,
                destination_proof: Some(p),
                sender_proof: None,
                now,
            }
            .to_request()
        };
        let other = Address::new(0, [9; 32]);
        let err = request(&proof(other, GATE, Network::MAINNET), 1_100).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ProofMismatch {
                    party: "destination",
                    field: "subject",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.code(), "proof_mismatch");
        let err = request(&proof(BOB, other, Network::MAINNET), 1_100).unwrap_err();
        assert!(matches!(
            err,
            Error::ProofMismatch {
                field: "verifier",
                ..
            }
        ));
        assert_eq!(
            request(&proof(BOB, GATE, Network::MAINNET), 1_601).unwrap_err(),
            Error::ProofExpired {
                valid_until: 1_600,
                now: 1_601
            }
        );
        assert_eq!(
            request(&proof(BOB, GATE, Network(7)), 1_100).unwrap_err(),
            Error::UnsupportedNetwork(7)
        );
        let none = GateRequest {
            gate: GATE,
            transfer: &t,
            destination_proof: None,
            sender_proof: None,
            now: 0,
        };
        assert_eq!(none.to_request().unwrap_err(), Error::MissingProof);
    }

    #[test]
    fn a_sender_proof_names_the_sender_and_both_must_agree_on_the_network() {
        let t = transfer();
        let alice = Address::new(0, [10; 32]);
        let d = proof(BOB, GATE, Network::MAINNET);
        let s = proof(alice, GATE, Network::MAINNET);
        let request = GateRequest {
            gate: GATE,
            transfer: &t,
            destination_proof: Some(&d),
            sender_proof: Some(&s),
            now: 1_100,
        };
        let built = request.to_request().unwrap();
        assert_eq!(built.from, Some(alice.to_raw()));
        assert_eq!(built.network, "-239");
        let (_, flags) = Address::from_friendly(&built.messages[0].address).unwrap();
        assert!(flags.bounceable && !flags.testnet);
        let s = proof(alice, GATE, Network::TESTNET);
        let err = GateRequest {
            sender_proof: Some(&s),
            ..request
        }
        .to_request()
        .unwrap_err();
        assert!(matches!(
            err,
            Error::ProofMismatch {
                party: "sender",
                field: "network",
                ..
            }
        ));
    }
}
