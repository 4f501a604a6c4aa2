//! Prints gate transfers with proofs as JSON, for the JavaScript package's differential test
//! (sdk/wasm/test): each golden vector of `tests/vectors/attestations.json` and N random proofs
//! (1–5 signers, random transfers), with the `gate_transfer` payload, its hash and the TON
//! Connect request Rust builds for them.
//!
//! `cargo run -p tollgate-sdk --example random_payloads -- 1000 7 > payloads.json`

#[path = "common/random.rs"]
mod random;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use random::random_address;
use serde_json::{json, Value};
use tollgate_sdk::messages::GateTransfer;
use tollgate_sdk::ton_connect::GateRequest;
use tollgate_sdk::{boc, AttestationProof, ProofJson, SignatureBundle, SignatureEntry, SigningKey};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let mut rng = StdRng::seed_from_u64(seed);

    let vectors_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/attestations.json"
    );
    let vectors: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(vectors_path).expect("golden vectors"))
            .expect("golden vectors are JSON");
    let golden: Vec<Value> = vectors
        .iter()
        .map(|v| {
            let proof = ProofJson::from_bocs(
                v["boc"].as_str().expect("boc"),
                v["bundle"].as_str().expect("bundle"),
            )
            .expect("golden proof decodes");
            let transfer = GateTransfer {
                query_id: 1,
                destination: proof.attestation.subject,
                amount: 1_000_000_000,
                response_destination: None,
                forward_payload: None,
            };
            let mut case = case(&proof, &transfer, None);
            case["name"] = v["name"].clone();
            case
        })
        .collect();
    let random: Vec<Value> = (0..count)
        .map(|_| {
            let (proof, keys) = random_proof(&mut rng);
            let transfer = GateTransfer {
                query_id: rng.gen(),
                destination: proof.attestation.subject,
                amount: rng.gen_range(0..=u128::from(u64::MAX)),
                response_destination: rng.gen_bool(0.5).then(|| random_address(&mut rng)),
                forward_payload: None,
            };
            case(&proof, &transfer, Some(keys))
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string(&json!({ "golden": golden, "random": random })).unwrap()
    );
}

/// One case: the proof, the transfer, the payload and (mainnet and testnet only) the request.
fn case(proof: &AttestationProof, transfer: &GateTransfer, keys: Option<Vec<String>>) -> Value {
    let cell = transfer.to_cell(Some(proof), None).unwrap().to_arc();
    let request = GateRequest {
        gate: proof.attestation.verifier,
        transfer,
        destination_proof: Some(proof),
        sender_proof: None,
        now: proof.attestation.issued_at,
    }
    .to_request()
    .ok();
    json!({
        "proof": ProofJson::new(proof).unwrap(),
        "public_keys": keys,
        "transfer": {
            "queryId": transfer.query_id.to_string(),
            "destination": transfer.destination.to_raw(),
            "amount": transfer.amount.to_string(),
            "responseDestination": transfer.response_destination.map(|a| a.to_raw()),
        },
        "payload": boc::to_base64(&cell).unwrap(),
        "payload_hash": hex::encode(cell.cell_hash().as_slice()),
        "request": request,
    })
}

fn random_proof(rng: &mut StdRng) -> (AttestationProof, Vec<String>) {
    let attestation = random::random_attestation(rng);
    let n = rng.gen_range(1..=5u8);
    let keys: Vec<SigningKey> = (0..n).map(|_| SigningKey::from_bytes(&rng.gen())).collect();
    let k = rng.gen_range(1..=n);
    let entries = (0..k)
        .map(|i| SignatureEntry {
            signer: i,
            signature: attestation.sign(&keys[usize::from(i)]).unwrap(),
        })
        .collect();
    let proof = AttestationProof {
        attestation,
        bundle: SignatureBundle::new(entries).unwrap(),
    };
    let public = keys
        .iter()
        .map(|k| hex::encode(k.verifying_key().as_bytes()))
        .collect();
    (proof, public)
}
