//! Golden vectors: `tests/vectors/attestations.json` at the repository root is written from the
//! cases below and must not drift. `TOLLGATE_REGENERATE=1 cargo test -p tollgate-sdk --test tests
//! golden` rewrites it. The TypeScript side (contracts/tests/GoldenVectors.spec.ts) checks every
//! entry with @ton/core, @ton/crypto and the FunC verifier in the sandbox.

use serde_json::{json, Value};
use tollgate_sdk::{
    Address, Attestation, Categories, Network, SignatureBundle, SignatureEntry, SigningKey,
};

/// Signer keys from fixed seeds, so the file is reproducible byte for byte.
fn signer_keys() -> Vec<SigningKey> {
    (0u8..5)
        .map(|i| SigningKey::from_bytes(&[0xa0 + i; 32]))
        .collect()
}

fn address(workchain: i8, fill: u8) -> Address {
    let mut hash = [fill; 32];
    hash[0] = 0x5a; // not a repeated byte throughout, so a byte-order slip shows
    Address::new(workchain, hash)
}

fn base() -> Attestation {
    Attestation {
        network: Network::MAINNET,
        verifier: address(0, 0x11),
        subject: address(0, 0x22),
        risk: 10,
        categories: Categories::EXCHANGE,
        issued_at: 1_790_000_000,
        valid_until: 1_790_000_600,
        epoch: 1,
        nonce: 1,
    }
}

/// Every case: name, attestation, signer indexes.
fn cases() -> Vec<(&'static str, Attestation, Vec<u8>)> {
    let b = base();
    vec![
        ("basechain_k1", b, vec![0]),
        (
            "zero_addresses",
            Attestation {
                verifier: Address::ZERO,
                subject: Address::ZERO,
                nonce: 2,
                ..b
            },
            vec![1],
        ),
        (
            "masterchain_verifier_and_subject",
            Attestation {
                verifier: address(-1, 0x33),
                subject: address(-1, 0x44),
                nonce: 3,
                ..b
            },
            vec![2],
        ),
        (
            "zero_subject_masterchain_verifier",
            Attestation {
                verifier: address(-1, 0x55),
                subject: Address::ZERO,
                nonce: 4,
                ..b
            },
            vec![0],
        ),
        (
            "max_values",
            Attestation {
                verifier: Address::new(0, [0xff; 32]),
                subject: Address::new(-1, [0xff; 32]),
                risk: 100,
                categories: Categories(u32::MAX),
                issued_at: u32::MAX,
                valid_until: u32::MAX,
                epoch: u32::MAX,
                nonce: u64::MAX,
                ..b
            },
            vec![4],
        ),
        (
            "min_values",
            Attestation {
                risk: 0,
                categories: Categories::NONE,
                issued_at: 0,
                valid_until: 0,
                epoch: 0,
                nonce: 0,
                ..b
            },
            vec![3],
        ),
        (
            "extreme_subject_workchains",
            Attestation {
                subject: address(-128, 0x66),
                nonce: 5,
                ..b
            },
            vec![0],
        ),
        (
            "workchain_127_subject",
            Attestation {
                subject: address(127, 0x77),
                nonce: 6,
                ..b
            },
            vec![0],
        ),
        (
            "testnet",
            Attestation {
                network: Network::TESTNET,
                nonce: 7,
                ..b
            },
            vec![0],
        ),
        (
            "risky_subject_k2",
            Attestation {
                risk: 90,
                categories: Categories::SCAM | Categories::DRAINER,
                nonce: 8,
                ..b
            },
            vec![0, 3],
        ),
        ("k3", Attestation { nonce: 9, ..b }, vec![1, 2, 4]),
        ("k4", Attestation { nonce: 10, ..b }, vec![0, 1, 2, 4]),
        ("k5", Attestation { nonce: 11, ..b }, vec![0, 1, 2, 3, 4]),
    ]
}

fn vector(name: &str, attestation: &Attestation, signers: &[u8], keys: &[SigningKey]) -> Value {
    let entries: Vec<SignatureEntry> = signers
        .iter()
        .map(|&i| SignatureEntry {
            signer: i,
            signature: attestation.sign(&keys[usize::from(i)]).unwrap(),
        })
        .collect();
    let bundle = SignatureBundle::new(entries).unwrap();
    let public: Vec<_> = keys.iter().map(SigningKey::verifying_key).collect();
    bundle.verify(attestation, &public, signers.len()).unwrap();
    json!({
        "name": name,
        "fields": attestation,
        "boc": attestation.to_boc_base64().unwrap(),
        "hash": hex::encode(attestation.hash().unwrap()),
        "public_keys": public.iter().map(|k| hex::encode(k.as_bytes())).collect::<Vec<_>>(),
        "signatures": bundle.entries().iter().map(|e| json!({
            "index": e.signer,
            "signature": hex::encode(e.signature.to_bytes()),
        })).collect::<Vec<_>>(),
        "bundle": bundle.to_boc_base64().unwrap(),
    })
}

const FILE: &str = "attestations.json";

#[test]
fn golden_vectors_match_the_committed_file() {
    let keys = signer_keys();
    let vectors: Vec<Value> = cases()
        .iter()
        .map(|(name, a, signers)| vector(name, a, signers, &keys))
        .collect();
    crate::common::vectors::check_committed(FILE, &vectors);
}

#[test]
fn committed_vectors_decode_to_their_fields() {
    let vectors = crate::common::vectors::read(FILE);
    assert_eq!(vectors.len(), cases().len());
    for v in vectors {
        let fields: Attestation = serde_json::from_value(v["fields"].clone()).unwrap();
        let decoded = Attestation::from_boc_base64(v["boc"].as_str().unwrap()).unwrap();
        assert_eq!(decoded, fields, "{}", v["name"]);
        assert_eq!(
            hex::encode(decoded.hash().unwrap()),
            v["hash"].as_str().unwrap()
        );
        let bundle = SignatureBundle::from_boc_base64(v["bundle"].as_str().unwrap()).unwrap();
        let keys: Vec<_> = v["public_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let bytes: [u8; 32] = hex::decode(k.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap();
                tollgate_sdk::VerifyingKey::from_bytes(&bytes).unwrap()
            })
            .collect();
        bundle.verify(&decoded, &keys, bundle.len()).unwrap();
    }
}
