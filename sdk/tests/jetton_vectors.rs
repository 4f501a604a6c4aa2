//! Golden vectors of jetton transfer bodies: `tests/vectors/jetton-transfers.json` at the
//! repository root is written from the cases below and must not drift
//! (`TOLLGATE_REGENERATE=1 cargo test -p tollgate-sdk --test tests jetton` rewrites it). The
//! TypeScript side (contracts/tests/JettonVectors.spec.ts) parses every body with @ton/core and
//! rebuilds its payloads with the contracts' own wrappers.

use serde_json::{json, Value};
use tollgate_sdk::messages::{comment, deposit_payload, JettonTransfer};
use tollgate_sdk::{
    boc, Address, Attestation, AttestationProof, Categories, Network, SignatureBundle,
    SignatureEntry, SigningKey,
};
use tonlib_core::cell::{Cell, CellBuilder};

fn address(fill: u8) -> Address {
    let mut hash = [fill; 32];
    hash[0] = 0x5a;
    Address::new(0, hash)
}

/// A 2-of-3 proof from fixed seeds, about `subject`, for `verifier`.
fn proof(subject: Address, verifier: Address) -> AttestationProof {
    let attestation = Attestation {
        network: Network::MAINNET,
        verifier,
        subject,
        risk: 10,
        categories: Categories::EXCHANGE,
        issued_at: 1_790_000_000,
        valid_until: 1_790_000_600,
        epoch: 1,
        nonce: 77,
    };
    let entries = [0u8, 2]
        .iter()
        .map(|&i| SignatureEntry {
            signer: i,
            signature: attestation
                .sign(&SigningKey::from_bytes(&[0xa0 + i; 32]))
                .unwrap(),
        })
        .collect();
    AttestationProof {
        attestation,
        bundle: SignatureBundle::new(entries).unwrap(),
    }
}

enum Placement {
    Deposit(Option<Cell>),
    Custom,
}

fn cases() -> Vec<(&'static str, JettonTransfer, Placement)> {
    let depositor = address(0x22);
    let gate = address(0x11);
    let deposit = JettonTransfer {
        query_id: 42,
        amount: 100_000_000,
        destination: gate,
        response_destination: depositor,
        forward_ton_amount: 0, // computed per case (vector())
    };
    let with_ref = {
        let leaf = CellBuilder::new()
            .store_u64(64, 0xdead_beef)
            .unwrap()
            .build()
            .unwrap()
            .to_arc();
        CellBuilder::new()
            .store_u32(32, 0x1234_5678)
            .unwrap()
            .store_reference(&leaf)
            .unwrap()
            .build()
            .unwrap()
    };
    vec![
        (
            "deposit_with_comment",
            deposit,
            Placement::Deposit(Some(comment("invoice 42").unwrap())),
        ),
        (
            "deposit_without_reference",
            deposit,
            Placement::Deposit(None),
        ),
        (
            "deposit_reference_with_a_ref",
            JettonTransfer {
                query_id: u64::MAX,
                amount: u128::from(u64::MAX),
                ..deposit
            },
            Placement::Deposit(Some(with_ref)),
        ),
        (
            "compliant_jetton_transfer",
            JettonTransfer {
                query_id: 0,
                amount: 1,
                destination: address(0x33),
                response_destination: depositor,
                forward_ton_amount: 0,
            },
            Placement::Custom,
        ),
    ]
}

fn vector(name: &str, t: &JettonTransfer, placement: &Placement) -> Value {
    let b64 = |cell: &Cell| boc::to_base64(&cell.clone().to_arc()).unwrap();
    // A deposit carries the forward amount a DepositRequest computes, so the JavaScript
    // package's depositTransaction must rebuild the body exactly.
    let t = &match placement {
        Placement::Deposit(reference) => JettonTransfer {
            forward_ton_amount: u128::from(tollgate_sdk::fees::deposit_forward_ton(
                2,
                reference.as_ref(),
            )),
            ..*t
        },
        Placement::Custom => *t,
    };
    let (body, proof, reference, kind) = match placement {
        Placement::Deposit(reference) => {
            let p = proof(t.response_destination, t.destination);
            let body = t.deposit(&p, reference.as_ref()).unwrap();
            // the payload must also be what deposit_payload builds on its own
            let payload = deposit_payload(&p, reference.as_ref()).unwrap();
            assert_eq!(
                tonlib_core::message::JettonTransferMessage::parse(&body)
                    .unwrap()
                    .forward_payload
                    .cell_hash(),
                payload.cell_hash()
            );
            (body, p, reference.as_ref().map(b64), "deposit")
        }
        Placement::Custom => {
            let p = proof(t.response_destination, t.destination);
            (
                t.with_proof_in_custom_payload(&p, None).unwrap(),
                p,
                None,
                "custom_payload",
            )
        }
    };
    json!({
        "name": name,
        "placement": kind,
        "query_id": t.query_id.to_string(),
        "amount": t.amount.to_string(),
        "destination": t.destination.to_raw(),
        "response_destination": t.response_destination.to_raw(),
        "forward_ton_amount": t.forward_ton_amount.to_string(),
        "attestation": proof.attestation.to_boc_base64().unwrap(),
        "bundle": proof.bundle.to_boc_base64().unwrap(),
        "reference": reference,
        "body": b64(&body),
        "hash": hex::encode(body.cell_hash().as_slice()),
    })
}

use tonlib_core::message::TonMessage as _;

#[test]
fn jetton_vectors_match_the_committed_file() {
    let vectors: Vec<Value> = cases()
        .iter()
        .map(|(name, t, placement)| vector(name, t, placement))
        .collect();
    crate::common::vectors::check_committed("jetton-transfers.json", &vectors);
}
