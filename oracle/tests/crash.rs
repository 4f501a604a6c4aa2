//! Crash test: a real node process under concurrent attestation requests is killed with SIGKILL
//! at random moments. After every restart, every attestation that got a 200 is in the audit
//! log with the same hash, the chain links, and no nonce was issued twice.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng as _;
use serde_json::Value;

use crate::support::*;

const ROUNDS: usize = 20;
const WORKERS: usize = 8;

/// Starts the node binary on a free port and waits for its "listening on" line.
fn start_node(data: &Path, key: &Path) -> (Child, SocketAddr) {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("node.log"))
        .unwrap();
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--key-file")
        .arg(key)
        .env("RUST_LOG", "warn")
        // The audit log is read back over HTTP, which needs the admin token.
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let addr = listening_addr(stdout, Duration::from_secs(60)).unwrap_or_else(|| {
        let log = std::fs::read_to_string(data.join("node.log")).unwrap_or_default();
        panic!("node did not start: {log}")
    });
    (child, addr)
}

/// Sends attestation requests until told to stop; returns (nonce, hash) of every 200.
async fn hammer(addr: SocketAddr, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<(String, String)>>>) {
    let body = format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"mainnet"}}"#);
    while !stop.load(Ordering::Relaxed) {
        match http(addr, "POST", "/v1/attestations", Some(&body)).await {
            Ok((200, text)) => {
                let value: Value =
                    serde_json::from_str(&text).expect("a 200 carries a complete JSON body");
                let nonce = value["attestation"]["nonce"].as_str().unwrap().to_string();
                acked
                    .lock()
                    .unwrap()
                    .push((nonce, value["hash"].as_str().unwrap().to_string()));
            }
            Ok((status, text)) => panic!("unexpected {status}: {text}"),
            // The node was killed mid-request: this one was never acknowledged.
            Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_attestations_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("node.key");
    tollgate_oracle::signer::write_key_file(&key, &key_for_crash(), false).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut rng = rand::thread_rng();
    let mut kills_with_traffic = 0;
    for round in 0..ROUNDS {
        let (mut child, addr) = start_node(&data, &key);
        let snapshot = acked.lock().unwrap().clone();
        let logged = check_audit_log(addr, &snapshot).await;
        assert!(logged >= snapshot.len(), "round {round}");
        let stop = Arc::new(AtomicBool::new(false));
        let before = snapshot.len();
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| tokio::spawn(hammer(addr, stop.clone(), acked.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..300))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker.await.unwrap();
        }
        if acked.lock().unwrap().len() > before {
            kills_with_traffic += 1;
        }
    }
    let (mut child, addr) = start_node(&data, &key);
    let all = acked.lock().unwrap().clone();
    check_audit_log(addr, &all).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        kills_with_traffic >= ROUNDS / 2,
        "most rounds were killed under load ({kills_with_traffic}/{ROUNDS})"
    );
    assert!(!all.is_empty());

    let output = Command::new(binary())
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && printed.contains("OK"),
        "{printed}"
    );
}

fn key_for_crash() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[9; 32])
}
