//! Prints N random attestations as JSON (`[{fields, boc, hash}]`) from a seed, for the
//! differential test that rebuilds each with @ton/core and compares hashes.
//!
//! `cargo run -p tollgate-sdk --example random_attestations -- 10000 42`

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
#[path = "common/random.rs"]
mod random;

use random::random_attestation;

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(42);
    let mut rng = StdRng::seed_from_u64(seed);
    let vectors: Vec<_> = (0..count)
        .map(|_| {
            let a = random_attestation(&mut rng);
            json!({ "fields": a, "boc": a.to_boc_base64().unwrap(), "hash": hex::encode(a.hash().unwrap()) })
        })
        .collect();
    println!("{}", serde_json::to_string(&vectors).unwrap());
}
