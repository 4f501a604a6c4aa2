//! Native counterpart of the JavaScript package's in-page measurement (sdk/wasm/demo/bench.js):
//! decodes and strictly verifies the golden vector with the most signatures, one proof after
//! another and in batches of 64, each for one second after a warm-up; prints JSON.
//!
//! `cargo run --release -p tollgate-sdk --example verify_rate`

use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate_sdk::{AttestationProof, ProofJson, VerifyingKey};

fn rate(mut run: impl FnMut(), per_run: usize) -> f64 {
    for _ in 0..20 {
        run();
    }
    let started = Instant::now();
    let mut count = 0;
    while started.elapsed() < Duration::from_secs(1) {
        run();
        count += per_run;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/attestations.json"
    );
    let vectors: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vector = vectors
        .iter()
        .max_by_key(|v| v["signatures"].as_array().unwrap().len())
        .unwrap();
    let (boc, bundle) = (
        vector["boc"].as_str().unwrap(),
        vector["bundle"].as_str().unwrap(),
    );
    let keys: Vec<VerifyingKey> = vector["public_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let bytes: [u8; 32] = hex::decode(k.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            VerifyingKey::from_bytes(&bytes).unwrap()
        })
        .collect();
    let k = vector["signatures"].as_array().unwrap().len();
    // As the package does per call: decode both BoCs, then verify.
    let proofs = rate(
        || {
            let proof = ProofJson::from_bocs(boc, bundle).unwrap();
            proof.verify(&keys, k).unwrap();
        },
        1,
    );
    let batch: Vec<AttestationProof> = (0..64)
        .map(|_| ProofJson::from_bocs(boc, bundle).unwrap())
        .collect();
    let batched = rate(
        || AttestationProof::verify_batch(&batch, &keys, k).unwrap(),
        batch.len(),
    );
    println!(
        "{}",
        serde_json::json!({
            "signatures_per_proof": k,
            "proofs_per_second": proofs.round(),
            "signatures_per_second": (proofs * k as f64).round(),
            "batch_proofs_per_second": batched.round(),
        })
    );
}
