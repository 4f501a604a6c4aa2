//! Shared helpers: nodes over temporary stores, oneshot requests, a raw HTTP/1.1 client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_oracle::config::Config;
use tollgate_oracle::node::Node;
use tollgate_oracle::signer::{KeyOrigin, Signer};
use tollgate_oracle::store::{SledStore, Store};
use tower::ServiceExt;

/// The admin token of test nodes.
pub const ADMIN: &str = "test-admin-token-0123456789";
/// The one scammer of ton-assets `scammers.yaml`.
pub const SCAMMER: &str = "UQAjY9I3UKBqxUTM1sB4YSKpqI0kRagNKOBCMFJfkFwygHBI";
/// OKX 1 from ton-assets `custodians.yaml`.
pub const CUSTODIAN: &str = "EQBfAN7LfaUYgXZNw5Wc7GBgkEX2yhuJ5ka95J1JJwXXf4a8";
/// An address on no list.
pub const UNKNOWN: &str = "0:1111111111111111111111111111111111111111111111111111111111111111";
/// A verifier contract.
pub const VERIFIER: &str = "0:00000000000000000000000000000000000000000000000000000000000000aa";

/// A test configuration: bundled data, admin token, a fixed epoch, and a data dir of its own
/// (the audit log's files live there) under cargo's temporary directory for tests.
pub fn config() -> Config {
    Config {
        admin_token: Some(ADMIN.into()),
        epoch: 7,
        signer_index: 2,
        data_dir: fresh_dir(),
        ..Config::default()
    }
}

/// A new empty directory under `CARGO_TARGET_TMPDIR` (kept: cargo's place for test files).
pub fn fresh_dir() -> PathBuf {
    tempfile::Builder::new()
        .prefix("node-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

/// The fixed test key.
pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// A node over a temporary store.
pub fn node_with(config: Config) -> Node {
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    node_over(config, store)
}

/// A node over a given store.
pub fn node_over(config: Config, store: Arc<dyn Store>) -> Node {
    let signer = Signer::new(
        key(),
        config.signer_index,
        config.epoch,
        KeyOrigin::Environment,
    );
    Node::with_store(config, store, signer).unwrap()
}

/// A response: status, JSON body (Null when not JSON), raw text.
pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
    pub text: String,
}

/// Sends one request through the router.
pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(value) => {
            request = request.header("content-type", "application/json");
            Body::from(serde_json::to_vec(&value).unwrap())
        }
        None => Body::empty(),
    };
    raw_call(app, request.body(body).unwrap()).await
}

/// Sends a prepared request through the router.
pub async fn raw_call(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Reply {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    call(app, Method::GET, uri, None, None).await
}

/// A GET with the admin token.
pub async fn admin_get(app: &Router, uri: &str) -> Reply {
    call(app, Method::GET, uri, None, Some(ADMIN)).await
}

pub async fn post(app: &Router, uri: &str, body: Value) -> Reply {
    call(app, Method::POST, uri, Some(body), None).await
}

/// A minimal HTTP/1.1 client over a fresh connection (`Connection: close`), so tests control
/// the bytes on the wire. Returns status and body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    http_with(addr, method, path, body, &[]).await
}

/// The admin token as a header for [`http_with`].
pub fn admin_header() -> (&'static str, String) {
    ("Authorization", format!("Bearer {ADMIN}"))
}

/// [`http`] with extra headers.
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, String)],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let body = body.unwrap_or("");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    parse_response(&response)
}

fn parse_response(bytes: &[u8]) -> std::io::Result<(u16, String)> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "incomplete HTTP response");
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let lower = head.to_ascii_lowercase();
    if lower.contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        loop {
            let (size, after) = rest.split_once("\r\n").ok_or_else(bad)?;
            let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad())?;
            if size == 0 {
                break;
            }
            out.push_str(after.get(..size).ok_or_else(bad)?);
            rest = after.get(size + 2..).ok_or_else(bad)?;
        }
        return Ok((status, out));
    }
    if let Some(length) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|l| l.trim().parse::<usize>().ok())
    {
        if body.len() < length {
            return Err(bad());
        }
    }
    Ok((status, body.to_string()))
}

/// The shared data directory (`../shared/data` beside the repository), or the bundled copy in
/// `oracle/data` when the shared one is not there.
pub fn shared_data() -> PathBuf {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if shared.join("ton-assets").is_dir() {
        shared
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
    }
}

/// The oracle binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_tollgate-oracle")
}

/// Reads a node's whole audit log over `/v1/audit` and checks it against what clients were
/// told: dense seqs, one linear chain (every link), unique nonces, and every acknowledged
/// `(nonce, hash)` present. Returns the number of entries. The crash and replica tests share it.
pub async fn check_audit_log(addr: SocketAddr, acked: &[(String, String)]) -> usize {
    let mut by_nonce: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut previous_hash = "0".repeat(64);
    let mut expected_seq = 0u64;
    let mut after: Option<u64> = None;
    loop {
        let path = match after {
            Some(seq) => format!("/v1/audit?limit=1000&after={seq}"),
            None => "/v1/audit?limit=1000".into(),
        };
        let (status, body) = http_with(addr, "GET", &path, None, &[admin_header()])
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        for entry in page["entries"].as_array().unwrap() {
            assert_eq!(entry["seq"], expected_seq, "seqs are contiguous");
            assert_eq!(
                entry["prev_hash"],
                previous_hash.as_str(),
                "chain link at seq {expected_seq}"
            );
            previous_hash = entry["entry_hash"].as_str().unwrap().to_string();
            let nonce = entry["attestation"]["nonce"].as_str().unwrap().to_string();
            let hash = entry["hash"].as_str().unwrap().to_string();
            assert!(
                by_nonce.insert(nonce.clone(), hash).is_none(),
                "nonce {nonce} issued twice"
            );
            expected_seq += 1;
        }
        match page["next_after"].as_u64() {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    for (nonce, hash) in acked {
        assert_eq!(
            by_nonce.get(nonce),
            Some(hash),
            "acknowledged attestation with nonce {nonce} is missing from the audit log"
        );
    }
    by_nonce.len()
}

/// The address a node process announces on stdout (`tollgate-oracle listening on http://…`,
/// the line `serve` prints once bound), or `None` after `timeout`. A thread keeps reading
/// stdout after that, so the node never blocks on a full pipe.
pub fn listening_addr(
    stdout: std::process::ChildStdout,
    timeout: std::time::Duration,
) -> Option<SocketAddr> {
    use std::io::BufRead as _;
    let (found, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("tollgate-oracle listening on http://") {
                let _ = found.send(addr.parse::<SocketAddr>().unwrap());
            }
        }
    });
    wait.recv_timeout(timeout).ok()
}
