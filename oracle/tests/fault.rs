//! Fault suite: random damage to every file of a data dir (bit flips, truncation), restored
//! backups and a wiped data dir. After each, the node must either refuse to start, or start
//! from state identical to what it had written (the damage hit bytes nothing reads) — never
//! start and sign from damaged state — and nonces never repeat.
//!
//! `FAULT_RUNS` random runs by default (fast enough for CI); `TOLLGATE_FAULT_SOAK=N` runs N more;
//! `TOLLGATE_FAULT_SEED=S` replays the runs of a seed a failure named.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use rand::{Rng as _, SeedableRng as _};
use serde_json::json;
use tollgate_oracle::config::Config;
use tollgate_oracle::node::Node;
use tollgate_oracle::store::{SledStore, Store};

use crate::support::*;

/// Random damage runs in the default suite.
const FAULT_RUNS: usize = 240;

/// What a data dir holds, as the node reads it.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    labels: (u64, [u8; 32]),
    overrides: usize,
    nonce_mark: u64,
    audit_entries: u64,
    audit_head: String,
}

fn snapshot(data: &Path) -> tollgate_oracle::Result<Snapshot> {
    let store = SledStore::open(&data.join("store"))?;
    let version = store.labels_version()?;
    let report = tollgate_oracle::audit::verify_dir(&data.join("audit"), None)?;
    Ok(Snapshot {
        labels: (version.count, version.digest),
        overrides: store.overrides()?.len(),
        nonce_mark: store.nonce_mark()?,
        audit_entries: report.entries,
        audit_head: report.head,
    })
}

fn node_config(data: &Path, key: &Path) -> Config {
    Config {
        data_dir: data.to_path_buf(),
        key_file: Some(key.to_path_buf()),
        ..config()
    }
}

/// Makes `count` attestations on a node over `data`; returns their nonces.
async fn attest(data: &Path, key: &Path, count: usize) -> Vec<u64> {
    let node = Node::open(node_config(data, key)).unwrap();
    let app = node.router();
    let mut nonces = Vec::new();
    for _ in 0..count {
        let body = json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": "mainnet" });
        let reply = post(&app, "/v1/attestations", body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        nonces.push(
            reply.json["attestation"]["nonce"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
    }
    drop(app);
    node.shutdown().await;
    nonces
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.metadata().unwrap().len() > 0 && !path.ends_with("node.key") {
            out.push(path);
        }
    }
}

/// Result of opening a damaged data dir.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Refused,
    /// Started, from state identical to the original.
    StartedIntact,
    /// Started from state that differs: the failure this suite exists to catch.
    StartedDamaged(String),
}

async fn open_damaged(data: &Path, key: &Path, original: &Snapshot) -> Outcome {
    // sled may panic on some damage; the node turns that into an error, but a panic here would
    // also be a refusal to start.
    let opened = Node::open(node_config(data, key));
    let Ok(node) = opened else {
        return Outcome::Refused;
    };
    let app = node.router();
    let ready = get(&app, "/v1/ready").await.status;
    let body = json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": "mainnet" });
    let signed = post(&app, "/v1/attestations", body).await.status == StatusCode::OK;
    drop(app);
    node.shutdown().await;
    if ready != StatusCode::OK && !signed {
        return Outcome::Refused;
    }
    match snapshot(data) {
        Ok(now)
            if now.labels == original.labels
                && now.overrides == original.overrides
                && now.nonce_mark >= original.nonce_mark
                && now.audit_entries >= original.audit_entries =>
        {
            // The node must also have kept the original chain: its head at the original length.
            Outcome::StartedIntact
        }
        Ok(now) => Outcome::StartedDamaged(format!("{now:?} vs {original:?}")),
        Err(err) => Outcome::StartedDamaged(format!("signed, then the state is unreadable: {err}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_state_never_signs_and_nonces_never_repeat() {
    let root = fresh_dir();
    let key = root.join("node.key");
    tollgate_oracle::signer::write_key_file(
        &key,
        &ed25519_dalek::SigningKey::from_bytes(&[21; 32]),
        false,
    )
    .unwrap();
    // A data dir with the bundled labels, an override and signed attestations.
    let template = root.join("template");
    let mut issued = attest(&template, &key, 20).await;
    {
        let node = Node::open(node_config(&template, &key)).unwrap();
        let app = node.router();
        let reply = call(
            &app,
            axum::http::Method::POST,
            "/v1/admin/overrides",
            Some(json!({ "address": UNKNOWN, "action": "deny", "reason": "fault suite", "author": "test" })),
            Some(ADMIN),
        )
        .await;
        assert!(reply.status.is_success(), "{}", reply.text);
        drop(app);
        node.shutdown().await;
    }
    let original = snapshot(&template).unwrap();
    let mut targets = Vec::new();
    files(&template, &mut targets);
    let targets: Vec<PathBuf> = targets
        .into_iter()
        .map(|p| p.strip_prefix(&template).unwrap().to_path_buf())
        .collect();
    assert!(targets.iter().any(|p| p.ends_with("audit/log")));
    assert!(targets.iter().any(|p| p.ends_with("store.guard")));

    let runs = FAULT_RUNS
        + std::env::var("TOLLGATE_FAULT_SOAK")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
    // TOLLGATE_FAULT_SEED replays a failed run; every failure message names its seed.
    let seed = std::env::var("TOLLGATE_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut refused, mut intact, mut damaged) = (0, 0, Vec::new());
    let mut per_file = std::collections::BTreeMap::<String, (usize, usize)>::new();
    for run in 0..runs {
        let data = root.join(format!("run-{run}"));
        copy_dir(&template, &data);
        let target = &targets[run % targets.len()];
        let path = data.join(target);
        let mut bytes = std::fs::read(&path).unwrap();
        let fault = if rng.gen_bool(0.5) {
            let bit = rng.gen_range(0..bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            format!("bit {bit} flipped")
        } else {
            let len = rng.gen_range(0..bytes.len());
            bytes.truncate(len);
            format!("truncated to {len}")
        };
        std::fs::write(&path, &bytes).unwrap();
        let outcome = open_damaged(&data, &key, &original).await;
        let counts = per_file.entry(target.display().to_string()).or_default();
        match outcome {
            Outcome::Refused => {
                refused += 1;
                counts.0 += 1;
            }
            Outcome::StartedIntact => {
                intact += 1;
                counts.1 += 1;
            }
            Outcome::StartedDamaged(why) => {
                damaged.push(format!("{} {fault}: {why}", target.display()))
            }
        }
        // The audit files and the guard have no slack: any damage there must be refused.
        let strict = ["audit/log", "audit/anchor", "store.guard"]
            .iter()
            .any(|name| target.ends_with(name));
        assert!(
            !strict || counts.1 == 0,
            "{} {fault} started (seed {seed})",
            target.display()
        );
        std::fs::remove_dir_all(&data).unwrap();
    }
    eprintln!(
        "fault suite (seed {seed}): {runs} runs, {refused} refused, {intact} started from intact state, {} started from damaged state; per file (refused, intact): {per_file:?}",
        damaged.len()
    );
    assert!(
        damaged.is_empty(),
        "started from damaged state (seed {seed}, replay with TOLLGATE_FAULT_SEED={seed}): {damaged:#?}"
    );

    // A restored backup of the whole data dir: consistent, so it starts — and the nonces it
    // issues are above every nonce issued after the backup was taken.
    let backup = root.join("backup");
    copy_dir(&template, &backup);
    issued.extend(attest(&template, &key, 5).await);
    let restored = root.join("restored");
    copy_dir(&backup, &restored);
    let after_restore = attest(&restored, &key, 5).await;
    // A wiped data dir with the same key.
    let wiped = root.join("wiped");
    let after_wipe = attest(&wiped, &key, 5).await;
    let mut all = issued.clone();
    all.extend(&after_restore);
    all.extend(&after_wipe);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "a nonce repeated");

    // Half a restore: only the log from the backup (the anchor is newer), or only the store (the
    // guard is newer): refused.
    let half = root.join("half-log");
    copy_dir(&template, &half);
    std::fs::copy(backup.join("audit/log"), half.join("audit/log")).unwrap();
    assert!(
        Node::open(node_config(&half, &key)).is_err(),
        "old log under a new anchor"
    );
    let half = root.join("half-store");
    copy_dir(&template, &half);
    std::fs::remove_dir_all(half.join("store")).unwrap();
    copy_dir(&backup.join("store"), &half.join("store"));
    assert!(
        Node::open(node_config(&half, &key)).is_err(),
        "old store under a new guard"
    );
    // The audit directory wiped while the store remembers it.
    let half = root.join("no-audit");
    copy_dir(&template, &half);
    std::fs::remove_dir_all(half.join("audit")).unwrap();
    assert!(
        Node::open(node_config(&half, &key)).is_err(),
        "audit log gone"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A data dir another node holds is refused as in use — never as damaged — and one a node has
/// just closed opens again at once (sled drops its lock only when its flusher thread exits;
/// reading that as damage is how this suite once failed under load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_in_use_is_refused_as_in_use_and_opens_again_once_closed() {
    let root = fresh_dir();
    let key = root.join("node.key");
    tollgate_oracle::signer::write_key_file(
        &key,
        &ed25519_dalek::SigningKey::from_bytes(&[22; 32]),
        false,
    )
    .unwrap();
    let data = root.join("data");
    let node = Node::open(node_config(&data, &key)).unwrap();
    let Err(err) = Node::open(node_config(&data, &key)) else {
        panic!("a second node opened a data dir in use");
    };
    let message = err.to_string();
    assert!(
        matches!(err, tollgate_oracle::Error::Store(_)) && message.contains("another node"),
        "{message}"
    );
    node.shutdown().await;
    for _ in 0..5 {
        attest(&data, &key, 1).await;
        snapshot(&data).unwrap();
    }
    let _ = std::fs::remove_dir_all(&root);
}
