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

fn main() -> anyhow::Result<()> {
    let labels: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tree = sled::Config::new().temporary(true).open()?;
    for i in 0..labels {
        tree.insert(address_key(&address(i)), b"x".as_slice())?;
    }
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
