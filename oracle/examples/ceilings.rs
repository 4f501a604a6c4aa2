//! The HTTP ceilings the node is measured against (`oracle/benches/ceilings.sh`): handlers that
//! do the least each node endpoint must do, behind the node's own stack (its accept loop with
//! connection cap and HTTP/1 settings, `api::harden` and `api::layers::outer`) on the node's
//! runtime. So the ratio node / ceiling is the cost of the node's own work (judging, audit
//! log, JSON of the full answer), not of HTTP.
//!
//! - `GET /fixed`: a fixed JSON body (ceiling a: the stack alone);
//! - `POST /sign` `{subject, verifier, network}`: parse, build, hash and sign one attestation,
//!   answer its BoC, hash and signature, with no audit log (ceiling b: signing with no
//!   durability);
//! - `GET /get/{address}`: one raw sled get in a tree of `LABELS` keys (ceiling e).
//!
//! Usage: `cargo run --release -p tollgate-oracle --example ceilings -- LABELS`; prints
//! `ceilings listening on http://ADDR` when ready.
//!
//! `ceilings raw LABELS SECONDS` prints the in-process baselines instead (raw encode+hash+sign
//! and raw sled get, as `benches/baseline.rs` measures them), and `ceilings fsync DIR SECONDS`
//! the disk's ceiling: it writes one 8 KiB block in
//! place and fdatasyncs it, back to back (what one audit commit asks of the disk), and prints
//! the latency percentiles and the stalls. A durable answer cannot come back sooner than its
//! fdatasync, and every request in flight waits for a stalled one.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use tollgate_oracle::config::Config;
use tollgate_oracle::store::address_key;
use tollgate_sdk::{Address, Attestation, Categories, Network};

/// The node's allocator (main.rs): part of the stack the ceilings share with the node.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct SignRequest {
    subject: String,
    verifier: String,
    network: Network,
}

#[derive(Serialize)]
struct SignResponse {
    boc: String,
    hash: String,
    signature: String,
}

#[derive(Serialize)]
struct GetResponse {
    address: String,
    found: bool,
}

struct Ceiling {
    key: SigningKey,
    tree: sled::Db,
}

fn address(i: u64) -> Address {
    let mut hash = [0u8; 32];
    hash[24..].copy_from_slice(&i.to_be_bytes());
    Address::new(0, hash)
}

async fn fixed() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn sign(
    State(state): State<Arc<Ceiling>>,
    Json(request): Json<SignRequest>,
) -> Result<Json<SignResponse>, String> {
    let parse = |text: &str| text.parse::<Address>().map_err(|err| err.to_string());
    let attestation = Attestation {
        network: request.network,
        verifier: parse(&request.verifier)?,
        subject: parse(&request.subject)?,
        risk: 85,
        categories: Categories::SCAM,
        issued_at: 1_800_000_000,
        valid_until: 1_800_000_600,
        epoch: 1,
        nonce: rand::random(),
    };
    let encoded = attestation.encode().map_err(|err| err.to_string())?;
    let signature = encoded.sign(&state.key);
    Ok(Json(SignResponse {
        boc: encoded.to_boc_base64().map_err(|err| err.to_string())?,
        hash: hex::encode(encoded.hash),
        signature: hex::encode(signature.to_bytes()),
    }))
}

async fn lookup(
    State(state): State<Arc<Ceiling>>,
    Path(text): Path<String>,
) -> Result<Json<GetResponse>, String> {
    let address = text.parse::<Address>().map_err(|err| err.to_string())?;
    let found = state
        .tree
        .get(address_key(&address))
        .map_err(|err| err.to_string())?
        .is_some();
    Ok(Json(GetResponse {
        address: address.to_raw(),
        found,
    }))
}

/// `raw LABELS SECONDS`: the in-process baselines, measured the way `benches/baseline.rs`
/// measures them with criterion (encode+hash+sign of one attestation; one sled get in a tree
/// of `LABELS` keys, addresses spread over the tree), for SECONDS each. `ceilings.sh` runs this
/// in every round, next to the HTTP runs it is compared with, so a ratio never mixes two
/// moments of a shared machine.
fn raw_probe(labels: u64, seconds: f64) -> anyhow::Result<()> {
    let tree = sled_tree(labels)?;
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
    let rate = |mut work: Box<dyn FnMut() -> anyhow::Result<()> + '_>| -> anyhow::Result<f64> {
        let started = std::time::Instant::now();
        let (mut done, mut elapsed) = (0u64, 0.0);
        while elapsed < seconds {
            for _ in 0..256 {
                work()?;
            }
            done += 256;
            elapsed = started.elapsed().as_secs_f64();
        }
        Ok(done as f64 / elapsed)
    };
    let sign = rate(Box::new(|| {
        attestation.nonce += 1;
        std::hint::black_box(attestation.sign(&key)?);
        Ok(())
    }))?;
    let mut i = 0u64;
    let get = rate(Box::new(|| {
        i = (i + 7919) % labels.max(1);
        std::hint::black_box(tree.get(address_key(&address(i)))?);
        Ok(())
    }))?;
    println!("raw_sign_per_s {sign:.1} raw_sled_get_per_s {get:.1}");
    Ok(())
}

/// A temporary sled tree holding the keys of addresses `0..labels`.
fn sled_tree(labels: u64) -> anyhow::Result<sled::Db> {
    let tree = sled::Config::new().temporary(true).open()?;
    for i in 0..labels {
        tree.insert(address_key(&address(i)), b"x".as_slice())?;
    }
    Ok(tree)
}

/// `fsync DIR SECONDS`: the flush latency of the disk under `DIR`.
fn fsync_probe(dir: &std::path::Path, seconds: f64) -> anyhow::Result<()> {
    use std::os::unix::fs::FileExt as _;
    const AREA: u64 = 4 << 20;
    let path = dir.join("ceilings-fsync.dat");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    // Written and flushed first, as the audit log's zeros ahead are: the probe then rewrites
    // blocks inside the file, so its size never changes.
    file.write_all_at(&vec![0; AREA as usize], 0)?;
    file.sync_all()?;
    let block = [0x5a_u8; 8192];
    let (mut latencies, mut offset) = (Vec::new(), 0u64);
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    while std::time::Instant::now() < end {
        let started = std::time::Instant::now();
        file.write_all_at(&block, offset)?;
        file.sync_data()?;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        offset = (offset + block.len() as u64) % AREA;
    }
    std::fs::remove_file(&path)?;
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "fdatasyncs {} p50_ms {:.3} p99_ms {:.3} p999_ms {:.3} max_ms {:.1} over_10ms {}",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        latencies[latencies.len() - 1],
        latencies.iter().filter(|&&ms| ms > 10.0).count()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("fsync") {
        let (Some(dir), Some(seconds)) = (args.get(2), args.get(3)) else {
            anyhow::bail!("usage: ceilings fsync DIR SECONDS");
        };
        return fsync_probe(std::path::Path::new(dir), seconds.parse()?);
    }
    if args.get(1).map(String::as_str) == Some("raw") {
        let (Some(labels), Some(seconds)) = (args.get(2), args.get(3)) else {
            anyhow::bail!("usage: ceilings raw LABELS SECONDS");
        };
        return raw_probe(labels.parse()?, seconds.parse()?);
    }
    let labels: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tree = sled_tree(labels)?;
    let state = Arc::new(Ceiling {
        key: SigningKey::from_bytes(&[3; 32]),
        tree,
    });
    let config = Config {
        max_concurrency: 4096,
        ..Config::default()
    };
    // The node's runtime (serve in main.rs): multi-threaded, one worker per core it may use.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let routes = Router::new()
            .route("/fixed", get(fixed))
            .route("/sign", post(sign))
            .route("/get/{*address}", get(lookup))
            .with_state(state);
        let app = tollgate_oracle::api::layers::outer(
            tollgate_oracle::api::harden(routes, &config),
            &config,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("ceilings listening on http://{}", listener.local_addr()?);
        tollgate_oracle::server::serve(
            listener,
            app,
            &config,
            tollgate_oracle::server::shutdown_signal(),
        )
        .await;
        Ok(())
    })
}
