//! Throughput of the wire format against raw ed25519-dalek.
//!
//! `cargo bench -p tollgate-sdk --bench attestation` (run pinned to one core with
//! `taskset -c 1` for the figures in the issue notes). The ratio that matters is
//! `encode_hash_sign` against `raw_ed25519_sign`: the cell and its hash must cost little next to
//! the signature itself.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::Signer as _;
use tollgate_sdk::{
    Address, Attestation, AttestationProof, Categories, Network, SignatureBundle, SignatureEntry,
    SigningKey,
};

fn sample(nonce: u64) -> Attestation {
    Attestation {
        network: Network::MAINNET,
        verifier: Address::new(0, [0x11; 32]),
        subject: Address::new(0, [0x22; 32]),
        risk: 12,
        categories: Categories::EXCHANGE,
        issued_at: 1_790_000_000,
        valid_until: 1_790_000_600,
        epoch: 1,
        nonce,
    }
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let mut group = c.benchmark_group("attestation");
    group.throughput(Throughput::Elements(1));

    let hash = sample(0).hash().unwrap();
    group.bench_function("raw_ed25519_sign", |b| {
        b.iter(|| key.sign(black_box(&hash)))
    });

    let mut nonce = 0u64;
    group.bench_function("encode_hash_sign", |b| {
        b.iter(|| {
            nonce += 1;
            black_box(sample(nonce).sign(&key).unwrap())
        })
    });
    group.bench_function("encode_hash", |b| {
        b.iter(|| black_box(sample(black_box(3)).hash().unwrap()))
    });

    let boc = sample(1).to_boc().unwrap();
    group.bench_function("decode_boc", |b| {
        b.iter(|| Attestation::from_boc(black_box(&boc)).unwrap())
    });

    let a = sample(1);
    let signature = a.sign(&key).unwrap();
    let public = key.verifying_key();
    group.bench_function("verify_strict", |b| {
        b.iter(|| a.verify(&public, black_box(&signature)).unwrap())
    });

    let keys: Vec<SigningKey> = (1..=3).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
    let publics: Vec<_> = keys.iter().map(SigningKey::verifying_key).collect();
    let entries = keys
        .iter()
        .enumerate()
        .map(|(i, k)| SignatureEntry {
            signer: i as u8,
            signature: a.sign(k).unwrap(),
        })
        .collect();
    let bundle = SignatureBundle::new(entries).unwrap();
    group.bench_function("bundle_verify_k3", |b| {
        b.iter(|| bundle.verify(&a, &publics, 3).unwrap())
    });
    group.finish();

    // 64 proofs of a 2-of-3 quorum: one batch against 64 strict bundle verifications.
    let proofs: Vec<AttestationProof> = (0..64)
        .map(|nonce| {
            let a = sample(nonce);
            let entries = keys[..2]
                .iter()
                .enumerate()
                .map(|(i, k)| SignatureEntry {
                    signer: i as u8,
                    signature: a.sign(k).unwrap(),
                })
                .collect();
            AttestationProof {
                attestation: a,
                bundle: SignatureBundle::new(entries).unwrap(),
            }
        })
        .collect();
    let mut group = c.benchmark_group("verify_64_proofs_2of3");
    group.throughput(Throughput::Elements(64));
    group.bench_function("single_strict", |b| {
        b.iter(|| proofs.iter().for_each(|p| p.verify(&publics, 2).unwrap()))
    });
    group.bench_function("batch", |b| {
        b.iter(|| AttestationProof::verify_batch(&proofs, &publics, 2).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
