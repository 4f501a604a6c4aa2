//! Arbitrary bytes into the attestation and bundle decoders: they must return an error or a
//! value that re-encodes to a cell with the same hash, and never panic.
//!
//! `cd sdk/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode_attestation -- -max_total_time=600`
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_sdk::{boc, Attestation, SignatureBundle};

fuzz_target!(|data: &[u8]| {
    if let Ok(attestation) = Attestation::from_boc(data) {
        let cell = boc::from_bytes(data).expect("decoded once");
        assert_eq!(attestation.hash().unwrap(), <[u8; 32]>::try_from(cell.cell_hash().as_slice()).unwrap());
        assert_eq!(Attestation::from_boc(&attestation.to_boc().unwrap()).unwrap(), attestation);
    }
    if let Ok(bundle) = SignatureBundle::from_boc(data) {
        assert_eq!(SignatureBundle::from_boc(&bundle.to_boc().unwrap()).unwrap(), bundle);
    }
});
