//! Prints N random attestations as JSON (`[{fields, boc, hash}]`) from a seed, for the
//! differential test that rebuilds each with @ton/core and compares hashes.
//!
//! `cargo run -p tollgate-sdk --example random_attestations -- 10000 42`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tollgate_sdk::attestation::MAX_LIFETIME_SECS;
use tollgate_sdk::{Address, Attestation, Categories, Network};

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

fn random_address(rng: &mut StdRng) -> Address {
    // Edge cases often: the zero address and the masterchain.
    match rng.gen_range(0..10) {
        0 => Address::ZERO,
        1 => Address::new(-1, rng.gen()),
        _ => Address::new(rng.gen(), rng.gen()),
    }
}

fn random_attestation(rng: &mut StdRng) -> Attestation {
    // Any issue time, and a lifetime up to the protocol's maximum, its edges often.
    let issued_at: u32 = rng.gen_range(0..=u32::MAX - MAX_LIFETIME_SECS);
    let lifetime = match rng.gen_range(0..10) {
        0 => 0,
        1 => MAX_LIFETIME_SECS,
        _ => rng.gen_range(0..=MAX_LIFETIME_SECS),
    };
    Attestation {
        network: if rng.gen_bool(0.5) {
            Network(rng.gen())
        } else {
            Network::MAINNET
        },
        verifier: random_address(rng),
        subject: random_address(rng),
        risk: rng.gen_range(0..=100),
        categories: Categories(rng.gen()),
        issued_at,
        valid_until: issued_at + lifetime,
        epoch: rng.gen(),
        nonce: rng.gen(),
    }
}
