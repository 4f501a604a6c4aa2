//! Random attestations for the differential examples (`random_attestations`, `random_payloads`):
//! one distribution, so every cross-language check sees the same kinds of edge cases.

use rand::rngs::StdRng;
use rand::Rng;
use tollgate_sdk::attestation::MAX_LIFETIME_SECS;
use tollgate_sdk::{Address, Attestation, Categories, Network};

/// An address, the zero address and the masterchain often.
pub fn random_address(rng: &mut StdRng) -> Address {
    match rng.gen_range(0..10) {
        0 => Address::ZERO,
        1 => Address::new(-1, rng.gen()),
        _ => Address::new(rng.gen(), rng.gen()),
    }
}

/// An attestation the strict decoder accepts: any issue time, a lifetime up to the protocol's
/// maximum (SPEC.md §1) with its edges often, mainnet, testnet or any network.
pub fn random_attestation(rng: &mut StdRng) -> Attestation {
    let issued_at: u32 = rng.gen_range(0..=u32::MAX - MAX_LIFETIME_SECS);
    let lifetime = match rng.gen_range(0..10) {
        0 => 0,
        1 => MAX_LIFETIME_SECS,
        _ => rng.gen_range(0..=MAX_LIFETIME_SECS),
    };
    Attestation {
        network: match rng.gen_range(0..3) {
            0 => Network::MAINNET,
            1 => Network::TESTNET,
            _ => Network(rng.gen()),
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
