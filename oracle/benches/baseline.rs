#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Baselines the HTTP numbers are compared with (see `benches/ceilings.sh`):
//! - `attestation/encode_hash_sign`: build the cell, hash it, sign it — the least a signing
//!   request costs;
//! - `sled/get`: a raw sled point read in a tree of `TOLLGATE_BENCH_LABELS` labels (default
//!   2,000,000; set lower for a quick run), against `lookup/risk_assess`, the engine's lookup
//!   (the address's one label record plus the override read).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use tollgate_oracle::risk::RiskEngine;
use tollgate_oracle::store::{address_key, Label, SledStore, Store};
use tollgate_sdk::{Address, Attestation, Categories, Network};

fn address(i: u64) -> Address {
    let mut hash = [0u8; 32];
    hash[24..].copy_from_slice(&i.to_be_bytes());
    Address::new(0, hash)
}

fn encode_hash_sign(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut attestation = Attestation {
        network: Network::MAINNET,
        verifier: address(1),
        subject: address(2),
        risk: 85,
        categories: Categories::SCAM,
        issued_at: 1_800_000_000,
        valid_until: 1_800_000_600,
        epoch: 1,
        nonce: 0,
    };
    let mut group = c.benchmark_group("attestation");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_hash_sign", |b| {
        b.iter(|| {
            attestation.nonce += 1;
            attestation.sign(&key).unwrap()
        })
    });
    group.finish();
}

fn lookups(c: &mut Criterion) {
    // `cargo test --all-targets` runs each benchmark once as a smoke test (criterion is then
    // started without `--bench`): a small store keeps that run short.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let count: u64 = std::env::var("TOLLGATE_BENCH_LABELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 2_000_000 } else { 1_000 });
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    for i in 0..count {
        let label = Label {
            address: address(i),
            categories: Categories::SCAM,
            source: "bench".into(),
            name: format!("label {i}"),
            first_seen: 0,
        };
        store.put_label(&label).unwrap();
    }
    store.flush().unwrap();
    let raw = sled::Config::new().temporary(true).open().unwrap();
    for i in 0..count {
        raw.insert(address_key(&address(i)), b"x".as_slice())
            .unwrap();
    }
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    group.bench_function("sled_get", |b| {
        b.iter(|| {
            i = (i + 7919) % count;
            raw.get(address_key(&address(i))).unwrap()
        })
    });
    let engine = RiskEngine::new(Arc::new(store));
    group.bench_function("risk_assess", |b| {
        b.iter(|| {
            i = (i + 7919) % count;
            engine.assess(&address(i), 0).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, encode_hash_sign, lookups);
criterion_main!(benches);
