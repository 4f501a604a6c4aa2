#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Evidence and freshness costs (`cargo bench -p tollgate-oracle --bench kept_current`):
//! - `evidence/history_scan`: the judgement history of one subject from an audit log of
//!   `TOLLGATE_BENCH_AUDIT` entries (default 1,000,000 with `--bench`), against
//!   `evidence/read_log`, reading every entry of the same log (the least a scan costs);
//! - `webhook/ingest_to_webhook`: from `POST /v1/admin/ingest` of a label that changes an
//!   address's level to the signed webhook arriving at a receiver on loopback, against
//!   `webhook/ingest_only`, the same ingest's answer.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::SigningKey;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use tollgate_oracle::audit::{self, AuditLog, AuditRecord, JudgementRecord, Kind};
use tollgate_oracle::config::Config;
use tollgate_oracle::node::Node;
use tollgate_oracle::signer::{KeyOrigin, Signer};
use tollgate_oracle::store::{SledStore, Store};
use tollgate_sdk::{Address, Attestation, Categories, Network};
use tower::ServiceExt as _;

fn address(i: u64) -> Address {
    let mut hash = [0u8; 32];
    hash[24..].copy_from_slice(&i.to_be_bytes());
    Address::new(0, hash)
}

/// Distinct subjects in the generated log: the one looked up has entries / SUBJECTS entries.
const SUBJECTS: u64 = 1000;

fn history(c: &mut Criterion) {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let count: u64 = std::env::var("TOLLGATE_BENCH_AUDIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 1_000_000 } else { 2_000 });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[5; 32]);
    let log = AuditLog::open(dir.path(), key.clone(), audit::Options::default()).unwrap();
    runtime.block_on(async {
        let mut seq = 0;
        while seq < count {
            let mut batch = tokio::task::JoinSet::new();
            for _ in 0..1000.min(count - seq) {
                let attestation = Attestation {
                    network: Network::MAINNET,
                    verifier: address(u64::MAX),
                    subject: address(seq % SUBJECTS),
                    risk: 10,
                    categories: Categories::NONE,
                    issued_at: 1_800_000_000,
                    valid_until: 1_800_000_600,
                    epoch: 1,
                    nonce: seq,
                };
                let signature = attestation.sign(&key).unwrap().to_bytes();
                let record = AuditRecord {
                    kind: Kind::Attest,
                    ttl_requested: None,
                    attestation,
                    judgement: JudgementRecord {
                        score: 10,
                        categories: 0,
                        evidence: Vec::new(),
                    },
                    policy_version: "severity-v1;labels-0-00".into(),
                    signer_index: 0,
                    public_key: key.verifying_key().to_bytes(),
                    signature,
                };
                let log = log.clone();
                batch.spawn(async move { log.append(record).await.unwrap() });
                seq += 1;
            }
            batch.join_all().await;
        }
    });
    let subject = address(7);
    let mut group = c.benchmark_group("evidence");
    group.sample_size(10);
    group.bench_function(format!("read_log/{count}"), |b| {
        b.iter(|| {
            let mut after = None;
            let mut read = 0;
            loop {
                let page = log.page(after, 1000).unwrap();
                let Some((last, _)) = page.last() else { break };
                after = Some(last.seq);
                read += page.len();
            }
            assert_eq!(read as u64, count);
        })
    });
    group.bench_function(format!("history_scan/{count}"), |b| {
        b.iter(|| {
            let (history, coverage) = tollgate_oracle::evidence::history(&log, &subject).unwrap();
            assert_eq!(coverage.matched, count / SUBJECTS);
            history
        })
    });
    group.finish();
    log.close();
}

fn webhook(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, mut arrivals, _node) = runtime.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        let receiver = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(Instant::now());
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
        let data = tempfile::tempdir().unwrap().keep();
        let hooks = data.join("webhooks.toml");
        std::fs::write(
            &hooks,
            format!("[[subscriber]]\nid = \"bench\"\nurl = \"{url}\"\nsecret = \"bench-secret-0123456789\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = Config {
            admin_token: Some("bench-admin-token-0123456789".into()),
            data_dir: data.join("node"),
            webhooks_file: Some(hooks),
            rescreen_interval_secs: 0,
            ..Config::default()
        };
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let signer = Signer::new(SigningKey::from_bytes(&[6; 32]), 0, 1, KeyOrigin::Environment);
        let node = Node::with_store(config, store, signer).unwrap();
        node.start_background(tollgate_oracle::webhooks::Options::default())
            .unwrap();
        (node.router(), rx, node)
    });
    let next = std::sync::atomic::AtomicU64::new(1_000_000);
    let ingest = |app: &axum::Router| {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = serde_json::json!({
            "format": "csv",
            "content": format!("{},scam,bench,x\n", address(i)),
        });
        let request = Request::post("/v1/admin/ingest")
            .header("content-type", "application/json")
            .header("authorization", "Bearer bench-admin-token-0123456789")
            .body(Body::from(body.to_string()))
            .unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            assert!(response.status().is_success());
        }
    };
    let mut group = c.benchmark_group("webhook");
    group.sample_size(30);
    group.bench_function("ingest_only", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    ingest(&app).await;
                    total += start.elapsed();
                }
                total
            })
        })
    });
    // The webhooks of the ingests above arrive meanwhile; drain them before timing.
    runtime.block_on(async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        while arrivals.try_recv().is_ok() {}
    });
    group.bench_function("ingest_to_webhook", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    ingest(&app).await;
                    let arrived = arrivals.recv().await.unwrap();
                    total += arrived - start;
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, history, webhook);
criterion_main!(benches);
