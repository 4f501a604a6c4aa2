//! TON Connect `sendTransaction` requests for transfers through a ComplianceGate: what a dApp
//! hands to `tonConnectUI.sendTransaction(...)` (TON Connect 2 protocol, `SendTransactionRequest`).
//!
//! The request is complete: `validUntil` no later than the earliest proof's expiry (a wallet
//! refuses to sign after it, so the user cannot send a transfer the gate would refund as
//! expired), `network` as TON Connect's chain id, one message to the gate's bounceable address
//! (with the testnet flag on testnet) with the amount plus the gate's fees ([`crate::fees`]) and
//! the `gate_transfer` body as a base64 BoC.
//!
//! [`DepositRequest`] is the same for a jetton deposit to a JettonDepositGate (SPEC.md §12): a
//! TEP-74 `transfer` to the depositor's own jetton wallet with the proof at the start of
//! `forward_payload`, the `forward_ton_amount` the gate needs and the TON the wallet needs
//! ([`fees::deposit_forward_ton`], [`fees::jetton_transfer_value`]). TON Connect takes it as a
//! raw message ([`DepositRequest::to_request`]) or as its structured jetton item, which lets the
//! wallet find the jetton wallet itself ([`DepositRequest::to_items_request`]).

use serde::{Deserialize, Serialize};

use crate::compliant::ComplianceAuth;
use crate::error::{Error, Result};
use crate::messages::{GateTransfer, JettonTransfer};
use crate::{boc, fees, Address, AttestationProof, FriendlyFlags, Network};
use tonlib_core::cell::{ArcCell, Cell};

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
    /// Raw messages: exactly one here (empty when `items` is used; TON Connect takes one or the
    /// other).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// Structured items, for wallets that build the message themselves (empty when `messages`
    /// is used).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<StructuredItem>,
}

/// A structured item of TON Connect's `sendTransaction` (`items[]`): the wallet builds the
/// message. Only the jetton item is used here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StructuredItem {
    /// `{type: "jetton", ...}`: a TEP-74 transfer from the sender's wallet of `master`.
    Jetton(JettonItem),
}

/// TON Connect's jetton item: a jetton transfer the wallet builds, with amounts as decimal
/// strings and payloads as base64 BoCs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JettonItem {
    /// The jetton's master (minter), user-friendly.
    pub master: String,
    /// The new owner of the jettons, user-friendly.
    pub destination: String,
    /// Jettons in elementary units.
    pub amount: String,
    /// TON to attach for the wallets' fees and the forward amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_amount: Option<String>,
    /// Who gets the excess TON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_destination: Option<String>,
    /// `custom_payload`, a base64 BoC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_payload: Option<String>,
    /// `forward_ton_amount` in nanotons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_amount: Option<String>,
    /// `forward_payload`, a base64 BoC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_payload: Option<String>,
    /// `query_id`, decimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<String>,
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
            items: Vec::new(),
        })
    }
}

/// A jetton deposit to a JettonDepositGate with the depositor's proof (SPEC.md §12.1).
#[derive(Clone, Debug)]
pub struct DepositRequest<'a> {
    /// The JettonDepositGate's address (the jettons' new owner).
    pub gate: Address,
    /// Jettons to deposit, in elementary units.
    pub amount: u128,
    /// Echoed by the wallets and in `jgate_refund`.
    pub query_id: u64,
    /// The deposit's reference (e.g. [`crate::messages::comment`]), sent on to the treasury.
    pub reference: Option<&'a Cell>,
    /// The depositor's proof; its subject is the depositor, who must send the request.
    pub proof: &'a AttestationProof,
    /// The current unix time: a proof that has expired is refused.
    pub now: u32,
}

/// Amounts a deposit carries, computed from the gate's and the wallet's fees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepositAmounts {
    /// `forward_ton_amount`: what the gate receives with the notification.
    pub forward_ton_amount: u64,
    /// TON attached to the transfer sent to the depositor's jetton wallet (the forward amount
    /// included; the wallet returns what is left to the depositor).
    pub attach: u64,
}

impl DepositRequest<'_> {
    /// The transfer's fields: to the gate, excess to the depositor, the forward amount the gate
    /// needs for this proof and reference.
    pub fn transfer(&self) -> JettonTransfer {
        JettonTransfer {
            query_id: self.query_id,
            amount: self.amount,
            destination: self.gate,
            response_destination: self.proof.attestation.subject,
            forward_ton_amount: u128::from(fees::deposit_forward_ton(
                self.proof.bundle.len() as u64,
                self.reference,
            )),
        }
    }

    /// The transfer body and the amounts, after checking the proof fits the deposit.
    ///
    /// Refused with [`Error::ProofMismatch`] (party `depositor`): a proof for another verifier
    /// than the gate. With [`Error::ProofExpired`]: a proof whose `valid_until` has passed.
    /// With [`Error::UnsupportedNetwork`]: a network TON Connect does not name.
    /// With [`Error::ReferenceTooLarge`]: a reference that does not fit beside the proof.
    pub fn body(&self) -> Result<(Cell, DepositAmounts)> {
        let a = &self.proof.attestation;
        if a.verifier != self.gate {
            return Err(mismatch("depositor", "verifier", self.gate, a.verifier));
        }
        if a.valid_until < self.now {
            return Err(Error::ProofExpired {
                valid_until: a.valid_until,
                now: self.now,
            });
        }
        chain_id(a.network)?;
        let transfer = self.transfer();
        let body = transfer.deposit(self.proof, self.reference)?;
        let forward_ton_amount = transfer.forward_ton_amount as u64;
        let attach = fees::jetton_transfer_value(&body, forward_ton_amount);
        Ok((
            body,
            DepositAmounts {
                forward_ton_amount,
                attach,
            },
        ))
    }

    /// The request as one raw message to `jetton_wallet`, the depositor's own jetton wallet
    /// (the jetton master's `get_wallet_address` of the depositor), bounceable; `from` the
    /// depositor (the proof's subject: the gate screens the notification's sender, so a transfer
    /// from another account would be refused).
    pub fn to_request(&self, jetton_wallet: Address) -> Result<SendTransactionRequest> {
        let (body, amounts) = self.body()?;
        let network = self.proof.attestation.network;
        Ok(SendTransactionRequest {
            valid_until: self.proof.attestation.valid_until,
            network: chain_id(network)?,
            from: Some(self.proof.attestation.subject.to_raw()),
            messages: vec![Message {
                address: jetton_wallet.to_friendly(friendly(network)),
                amount: amounts.attach.to_string(),
                payload: Some(boc::to_base64(&body.to_arc())?),
            }],
            items: Vec::new(),
        })
    }

    /// The request as TON Connect's structured jetton item of `master`: the same transfer
    /// fields, for wallets that build jetton transfers themselves (they find the jetton wallet).
    pub fn to_items_request(&self, master: Address) -> Result<SendTransactionRequest> {
        let (_, amounts) = self.body()?;
        let network = self.proof.attestation.network;
        let payload = crate::messages::deposit_payload(self.proof, self.reference)?;
        let flags = friendly(network);
        Ok(SendTransactionRequest {
            valid_until: self.proof.attestation.valid_until,
            network: chain_id(network)?,
            from: Some(self.proof.attestation.subject.to_raw()),
            messages: Vec::new(),
            items: vec![StructuredItem::Jetton(JettonItem {
                master: master.to_friendly(flags),
                destination: self.gate.to_friendly(flags),
                amount: self.amount.to_string(),
                attach_amount: Some(amounts.attach.to_string()),
                response_destination: Some(self.proof.attestation.subject.to_friendly(
                    FriendlyFlags {
                        bounceable: false,
                        testnet: network == Network::TESTNET,
                    },
                )),
                custom_payload: None,
                forward_amount: Some(amounts.forward_ton_amount.to_string()),
                forward_payload: Some(boc::to_base64(&payload.to_arc())?),
                query_id: Some(self.query_id.to_string()),
            })],
        })
    }
}

/// A transfer of a compliant jetton (SPEC.md §16) with the sender's `ComplianceAuth` in
/// `custom_payload`: one raw message to the sender's own jetton wallet.
#[derive(Clone, Debug)]
pub struct CompliantRequest<'a> {
    /// The sender's jetton wallet of the compliant minter (its `get_wallet_address` of the
    /// sender): the message's receiver.
    pub jetton_wallet: Address,
    /// The new owner of the jettons.
    pub destination: Address,
    /// Jettons in elementary units.
    pub amount: u128,
    /// Echoed by the wallets.
    pub query_id: u64,
    /// TON forwarded to `destination` with the notification (0: none).
    pub forward_ton_amount: u64,
    /// `forward_payload`, if any (in a ref).
    pub forward_payload: Option<&'a ArcCell>,
    /// The sender's auth; its attestation's subject is the sender, who must send the request.
    pub auth: &'a ComplianceAuth,
    /// The current unix time: an expired attestation or certificate is refused.
    pub now: u32,
}

impl CompliantRequest<'_> {
    /// The transfer body and the TON to attach ([`fees::compliant_transfer_value`]), after
    /// checking the auth is current ([`Error::ProofExpired`], [`Error::CertificateExpired`]),
    /// for its own certificate's minter, network and epoch ([`Error::ProofMismatch`]) and on a
    /// network TON Connect names ([`Error::UnsupportedNetwork`]).
    pub fn body(&self) -> Result<(Cell, u64)> {
        let a = &self.auth.proof.attestation;
        self.auth.certificate.check_current(self.now)?;
        self.auth
            .certificate
            .admits(&self.auth.proof, &a.subject, self.now)?;
        chain_id(a.network)?;
        let transfer = JettonTransfer {
            query_id: self.query_id,
            amount: self.amount,
            destination: self.destination,
            response_destination: a.subject,
            forward_ton_amount: u128::from(self.forward_ton_amount),
        };
        let body = transfer.compliant(self.auth, self.forward_payload)?;
        let attach = fees::compliant_transfer_value(
            &body,
            self.forward_ton_amount,
            self.auth.proof.bundle.len() as u64,
        );
        Ok((body, attach))
    }

    /// The `sendTransaction` request: valid until the earlier of the attestation's and the
    /// certificate's expiry, `from` the sender, one bounceable message to the jetton wallet.
    pub fn to_request(&self) -> Result<SendTransactionRequest> {
        let (body, attach) = self.body()?;
        let a = &self.auth.proof.attestation;
        Ok(SendTransactionRequest {
            valid_until: a.valid_until.min(self.auth.certificate.valid_until),
            network: chain_id(a.network)?,
            from: Some(a.subject.to_raw()),
            messages: vec![Message {
                address: self.jetton_wallet.to_friendly(friendly(a.network)),
                amount: attach.to_string(),
                payload: Some(boc::to_base64(&body.to_arc())?),
            }],
            items: Vec::new(),
        })
    }
}

/// Bounceable (a contract), with the testnet flag on testnet.
fn friendly(network: Network) -> FriendlyFlags {
    FriendlyFlags {
        bounceable: true,
        testnet: network == Network::TESTNET,
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

    const WALLET: Address = Address::new(0, [11; 32]);
    const MASTER: Address = Address::new(0, [12; 32]);

    #[test]
    fn builds_a_deposit_to_the_depositors_jetton_wallet() {
        let alice = Address::new(0, [10; 32]);
        let p = proof(alice, GATE, Network::MAINNET);
        let invoice = crate::messages::comment("invoice 42").unwrap();
        let deposit = DepositRequest {
            gate: GATE,
            amount: 100_000_000,
            query_id: 5,
            reference: Some(&invoice),
            proof: &p,
            now: 1_100,
        };
        let request = deposit.to_request(WALLET).unwrap();
        assert_eq!(request.valid_until, 1_600);
        assert_eq!(request.network, "-239");
        assert_eq!(request.from, Some(alice.to_raw()));
        assert!(request.items.is_empty());
        let message = &request.messages[0];
        let (address, flags) = Address::from_friendly(&message.address).unwrap();
        assert_eq!(address, WALLET);
        assert!(flags.bounceable && !flags.testnet);
        let body = boc::from_base64(message.payload.as_ref().unwrap()).unwrap();
        let (expected, amounts) = deposit.body().unwrap();
        assert_eq!(body.cell_hash(), expected.cell_hash());
        assert_eq!(message.amount, amounts.attach.to_string());
        assert_eq!(
            amounts.forward_ton_amount,
            fees::deposit_forward_ton(1, Some(&invoice))
        );
        assert!(amounts.attach > amounts.forward_ton_amount);
        let parsed = <tonlib_core::message::JettonTransferMessage as tonlib_core::message::TonMessage>::parse(&body).unwrap();
        assert_eq!(parsed.query_id, 5);
        assert_eq!(
            parsed.forward_payload.cell_hash(),
            crate::messages::deposit_payload(&p, Some(&invoice))
                .unwrap()
                .cell_hash()
        );
        let json = serde_json::to_value(&request).unwrap();
        assert!(json.get("items").is_none() && json.get("messages").is_some());
    }

    #[test]
    fn builds_the_structured_jetton_item_with_the_same_fields() {
        let alice = Address::new(0, [10; 32]);
        let p = proof(alice, GATE, Network::TESTNET);
        let deposit = DepositRequest {
            gate: GATE,
            amount: 7,
            query_id: 0,
            reference: None,
            proof: &p,
            now: 1_100,
        };
        let request = deposit.to_items_request(MASTER).unwrap();
        assert!(request.messages.is_empty());
        let json = serde_json::to_value(&request).unwrap();
        assert!(json.get("messages").is_none());
        let item = &json["items"][0];
        assert_eq!(item["type"], "jetton");
        assert_eq!(item["amount"], "7");
        assert_eq!(item["queryId"], "0");
        let (_, amounts) = deposit.body().unwrap();
        assert_eq!(item["attachAmount"], amounts.attach.to_string());
        assert_eq!(
            item["forwardAmount"],
            amounts.forward_ton_amount.to_string()
        );
        let (master, flags) = Address::from_friendly(item["master"].as_str().unwrap()).unwrap();
        assert_eq!(master, MASTER);
        assert!(flags.testnet);
        let (destination, _) =
            Address::from_friendly(item["destination"].as_str().unwrap()).unwrap();
        assert_eq!(destination, GATE);
        let (response, flags) =
            Address::from_friendly(item["responseDestination"].as_str().unwrap()).unwrap();
        assert_eq!(response, alice);
        assert!(!flags.bounceable);
        let payload = boc::from_base64(item["forwardPayload"].as_str().unwrap()).unwrap();
        assert_eq!(payload.cell_hash(), p.to_cell().unwrap().cell_hash());
        assert_eq!(
            serde_json::from_value::<SendTransactionRequest>(json).unwrap(),
            request
        );
    }

    #[test]
    fn refuses_a_deposit_the_gate_would_refuse() {
        let alice = Address::new(0, [10; 32]);
        let deposit = |p: &AttestationProof, now| {
            DepositRequest {
                gate: GATE,
                amount: 1,
                query_id: 0,
                reference: None,
                proof: p,
                now,
            }
            .to_request(WALLET)
        };
        let err = deposit(&proof(alice, BOB, Network::MAINNET), 1_100).unwrap_err();
        assert!(matches!(
            err,
            Error::ProofMismatch {
                party: "depositor",
                field: "verifier",
                ..
            }
        ));
        assert!(matches!(
            deposit(&proof(alice, GATE, Network::MAINNET), 1_601).unwrap_err(),
            Error::ProofExpired { .. }
        ));
        assert_eq!(
            deposit(&proof(alice, GATE, Network(7)), 1_100).unwrap_err(),
            Error::UnsupportedNetwork(7)
        );
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
