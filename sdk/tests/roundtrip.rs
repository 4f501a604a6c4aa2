//! Property tests: decode(encode(x)) == x for every attestation and bundle, and the decoder
//! never panics on arbitrary bytes.

use proptest::prelude::*;
use tollgate_sdk::attestation::MAX_LIFETIME_SECS;
use tollgate_sdk::{
    Address, Attestation, Categories, Network, Signature, SignatureBundle, SignatureEntry,
};

fn address() -> impl Strategy<Value = Address> {
    (any::<i8>(), any::<[u8; 32]>()).prop_map(|(workchain, hash)| Address::new(workchain, hash))
}

fn attestation() -> impl Strategy<Value = Attestation> {
    (
        any::<i32>(),
        address(),
        address(),
        0u8..=100,
        any::<u32>(),
        0..=u32::MAX - MAX_LIFETIME_SECS,
        0..=MAX_LIFETIME_SECS,
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(
            |(network, verifier, subject, risk, categories, issued_at, lifetime, epoch, nonce)| {
                Attestation {
                    network: Network(network),
                    verifier,
                    subject,
                    risk,
                    categories: Categories(categories),
                    issued_at,
                    valid_until: issued_at + lifetime,
                    epoch,
                    nonce,
                }
            },
        )
}

proptest! {
    #[test]
    fn attestation_round_trips(a in attestation()) {
        let boc = a.to_boc().unwrap();
        prop_assert_eq!(Attestation::from_boc(&boc).unwrap(), a);
        prop_assert_eq!(Attestation::from_boc_base64(&a.to_boc_base64().unwrap()).unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<Attestation>(&json).unwrap(), a);
    }

    #[test]
    fn address_text_round_trips(a in address(), bounceable in any::<bool>(), testnet in any::<bool>()) {
        let flags = tollgate_sdk::FriendlyFlags { bounceable, testnet };
        prop_assert_eq!(Address::from_friendly(&a.to_friendly(flags)).unwrap(), (a, flags));
        prop_assert_eq!(a.to_raw().parse::<Address>().unwrap(), a);
    }

    #[test]
    fn bundle_round_trips(signers in proptest::collection::btree_set(any::<u8>(), 1..=16), sig in any::<[u8; 32]>()) {
        let entries: Vec<SignatureEntry> = signers.iter().map(|&signer| {
            let mut bytes = [0u8; 64];
            bytes[..32].copy_from_slice(&sig);
            bytes[32] = signer;
            SignatureEntry { signer, signature: Signature::from_bytes(&bytes) }
        }).collect();
        let bundle = SignatureBundle::new(entries).unwrap();
        prop_assert_eq!(SignatureBundle::from_boc(&bundle.to_boc().unwrap()).unwrap(), bundle);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Attestation::from_boc(&bytes);
        let _ = SignatureBundle::from_boc(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_mutated_bocs(a in attestation(), flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let mut boc = a.to_boc().unwrap();
        for (index, bit) in flips {
            let i = index.index(boc.len());
            boc[i] ^= 1 << bit;
        }
        if let Ok(decoded) = Attestation::from_boc(&boc) {
            // A mutation that still decodes must re-encode to a cell the decoder accepts.
            prop_assert_eq!(Attestation::from_boc(&decoded.to_boc().unwrap()).unwrap(), decoded);
        }
    }
}
