//! The `tollgate-oracle` binary: keygen, key permissions, ingest, audit verify, refusing a
//! damaged store, --help.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use axum::http::StatusCode;
use serde_json::json;
use tollgate_oracle::config::Config;
use tollgate_oracle::node::Node;
use tollgate_oracle::store::{SledStore, Store};

use crate::support::*;

fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env_remove("TOLLGATE_SIGNING_KEY")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn keygen_writes_a_0600_key_and_the_node_refuses_a_readable_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("node.key");
    let output = run(&["keygen", "--out", key.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("public key: "));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !run(&["keygen", "--out", key.to_str().unwrap()])
            .status
            .success(),
        "no overwrite without --force"
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data = dir.path().join("data");
    let output = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let printed = text(&output);
    assert!(
        printed.contains("chmod 600") && !printed.contains("panicked"),
        "{printed}"
    );
}

#[test]
fn ingest_commands_print_a_summary_with_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let output = run(&[
        "ingest",
        "--data-dir",
        data,
        "ton-assets",
        shared_data().join("ton-assets").to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("scam: 1"), "{}", text(&output));
    let output = run(&[
        "ingest",
        "--data-dir",
        data,
        "ofac",
        shared_data().join("ofac").to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("refused (not a TON address (ETH)):"),
        "{}",
        text(&output)
    );
    let csv = dir.path().join("labels.csv");
    std::fs::write(
        &csv,
        format!("{UNKNOWN},mixer,team,Mixer\nbad,scam,team,x\n"),
    )
    .unwrap();
    let output = run(&["ingest", "--data-dir", data, "csv", csv.to_str().unwrap()]);
    assert!(
        text(&output).contains("added 1") && text(&output).contains("labels.csv:2:"),
        "{}",
        text(&output)
    );
}

#[test]
fn ingest_issuer_locks_takes_the_latest_status_across_files_and_an_unlock_removes_the_label() {
    use tollgate_oracle::exposure::generate::{pages, USDT_MASTER};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let data = data.to_str().unwrap();
    let minter = USDT_MASTER.parse().unwrap();
    let admin = tollgate_sdk::Address::new(0, [0xad; 32]);
    let write = |name: &str, status: u8, lt: u64| {
        let change = pages::StatusChange {
            owner: UNKNOWN.parse().unwrap(),
            status,
            lt,
            success: true,
        };
        let page = pages::paged(
            &pages::issuer_status(&minter, &admin, &[change]),
            "transactions",
            10,
        );
        let path = dir.path().join(name);
        std::fs::write(&path, &page[0]).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (lock, unlock) = (write("lock.json", 1, 100), write("unlock.json", 0, 200));
    let labels = |data: &str| {
        let store = SledStore::open(&Path::new(data).join("store")).unwrap();
        store.labels_for(&UNKNOWN.parse().unwrap()).unwrap()
    };
    // The newer unlock given first still wins over the older lock: nothing is labelled.
    let output = run(&["ingest", "--data-dir", data, "issuer-locks", &unlock, &lock]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("added 0, changed 0, unchanged 0, removed 0"),
        "{}",
        text(&output)
    );
    assert!(labels(data).is_empty());
    let output = run(&["ingest", "--data-dir", data, "issuer-locks", &lock]);
    assert!(text(&output).contains("added 1"), "{}", text(&output));
    assert_eq!(labels(data)[0].source, "chain/usdt-issuer-lock");
    let output = run(&["ingest", "--data-dir", data, "issuer-locks", &unlock]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("removed 1"), "{}", text(&output));
    assert!(
        text(&output).contains("level changes recorded: 1"),
        "{}",
        text(&output)
    );
    assert!(labels(data).is_empty());
}

/// Makes `count` attestations through a node over `data`, then shuts it down.
async fn attest_in(data: &Path, count: usize) {
    let node = Node::open(Config {
        data_dir: data.to_path_buf(),
        ..config()
    })
    .unwrap();
    let app = node.router();
    for _ in 0..count {
        let body = json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": "mainnet" });
        assert_eq!(
            post(&app, "/v1/attestations", body).await.status,
            StatusCode::OK
        );
    }
    drop(app);
    node.shutdown().await;
}

#[tokio::test]
async fn audit_verify_reports_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    attest_in(dir.path(), 3).await;
    let data = dir.path().to_str().unwrap();
    let output = run(&["audit", "verify", "--data-dir", data]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("OK: 3 entries"), "{}", text(&output));
    {
        // Lower entry 1's risk and re-frame it with a valid checksum: only the signature shows it.
        use tollgate_oracle::audit::{format, log};
        let path = log::log_path(&dir.path().join("audit"));
        let mut entries = Vec::new();
        log::scan(&path, None, |entry, _| {
            entries.push(entry.clone());
            Ok(())
        })
        .unwrap();
        entries[1].record.attestation.risk = 5;
        let mut bytes = format::FILE_HEADER.to_vec();
        for entry in &entries {
            let mut payload = Vec::new();
            entry.encode(&mut payload);
            format::frame(&payload, &mut bytes);
        }
        std::fs::write(&path, bytes).unwrap();
    }
    let output = run(&["audit", "verify", "--data-dir", data]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("BROKEN at seq 1"),
        "{}",
        text(&output)
    );
}

#[test]
fn the_node_refuses_a_store_that_lost_its_data_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    {
        let store = SledStore::open(&store_path).unwrap();
        store.raise_nonce_mark(10).unwrap();
    }
    // Overwrite the store's files with garbage: sled would open it as empty.
    for entry in std::fs::read_dir(&store_path).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::write(&path, vec![0x5a; 4096]).unwrap();
        }
    }
    let output = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let printed = text(&output);
    assert!(
        !printed.contains("panicked") && printed.contains("error:"),
        "{printed}"
    );
    assert!(!printed.contains("listening"), "{printed}");
}

#[test]
fn sigterm_stops_the_node_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.contains("listening on"), "{line}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The store was closed cleanly: another process can open it.
    SledStore::open(&dir.path().join("store")).unwrap();
}

#[test]
fn help_documents_every_setting_and_its_environment_variable() {
    let help = text(&run(&["serve", "--help"]));
    for flag in [
        "--listen",
        "--data-dir",
        "--key-file",
        "--config",
        "--signer-index",
        "--epoch",
        "--max-ttl-secs",
        "--networks",
        "--verifiers",
        "--admin-token",
        "--admin-token-file",
        "--cors-allowed-origins",
        "--max-body-bytes",
        "--request-timeout-ms",
        "--header-read-timeout-ms",
        "--max-concurrency",
        "--max-connections",
        "--max-header-bytes",
        "--max-headers",
        "--body-read-timeout-ms",
        "--log-format",
        "--max-clock-skew-secs",
        "--shutdown-grace-ms",
        "--audit-batch-max",
        "--default-ttl-secs",
        "--no-default-data",
    ] {
        assert!(help.contains(flag), "{flag} missing from serve --help");
        let env = format!(
            "TOLLGATE_{}",
            flag.trim_start_matches("--")
                .replace('-', "_")
                .to_uppercase()
        );
        assert!(help.contains(&env), "{env} missing from serve --help");
    }
    for command in ["serve", "keygen", "ingest", "audit"] {
        assert!(text(&run(&["--help"])).contains(command));
    }
}

#[test]
fn read_only_commands_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("tollgate-dta");
    for command in [&["audit", "verify"][..], &["audit", "show", "--limit", "5"]] {
        let mut args = command.to_vec();
        args.extend(["--data-dir", typo.to_str().unwrap()]);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", text(&output));
        assert!(
            text(&output).contains("no store at") && text(&output).contains("never creates"),
            "{}",
            text(&output)
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
}

#[tokio::test]
async fn global_flags_may_follow_the_subcommand_and_audit_show_prints_entries() {
    let dir = tempfile::tempdir().unwrap();
    attest_in(dir.path(), 2).await;
    let data = dir.path().to_str().unwrap();
    let output = run(&["audit", "show", "--data-dir", data, "--after", "0"]);
    assert!(output.status.success(), "{}", text(&output));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["seq"], 1);
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, format!("{UNKNOWN},mixer,team,Mixer\n")).unwrap();
    let output = run(&["ingest", "csv", csv.to_str().unwrap(), "--data-dir", data]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("added 1"), "{}", text(&output));
    let output = run(&["--data-dir", data, "audit", "verify"]);
    assert!(text(&output).contains("OK: 2 entries"), "{}", text(&output));
}

#[test]
fn boolean_variables_take_the_usual_spellings() {
    let dir = tempfile::tempdir().unwrap();
    // The settings are valid for clap but refused by the node's own check, so the command
    // stops right after parsing: clap's verdict on the variable is what the output shows.
    let attempt = |value: &str| {
        let output = Command::new(binary())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--default-ttl-secs",
                "0",
            ])
            .arg("--data-dir")
            .arg(dir.path())
            .env("TOLLGATE_NO_DEFAULT_DATA", value)
            .output()
            .unwrap();
        text(&output)
    };
    for value in ["1", "0", "yes", "no", "on", "off", "true", "false", "TRUE"] {
        let printed = attempt(value);
        assert!(printed.contains("default_ttl_secs"), "{value}: {printed}");
    }
    let printed = attempt("maybe");
    assert!(printed.contains("invalid value"), "{printed}");
}

/// A store as the node before audit format 1 left it: labels as plain JSON, the audit log as
/// JSON entries in the sled tree `audit`, signed with `key`.
fn old_store(data: &Path, key: &ed25519_dalek::SigningKey, entries: u64) {
    use tollgate_sdk::{Address, Attestation, Categories, Network};
    let db = sled::open(data.join("store")).unwrap();
    let audit = db.open_tree("audit").unwrap();
    let mut prev = [0u8; 32];
    for seq in 0..entries {
        let attestation = Attestation {
            network: Network::MAINNET,
            verifier: Address::new(0, [0xaa; 32]),
            subject: Address::new(0, [seq as u8; 32]),
            risk: 85,
            categories: Categories::SCAM,
            issued_at: 1_700_000_000,
            valid_until: 1_700_000_600,
            epoch: 7,
            nonce: seq,
        };
        let signature = attestation.sign(key).unwrap();
        let bytes = serde_json::to_vec(&json!({
            "seq": seq, "prev_hash": hex::encode(prev), "recorded_at": 1_700_000_000u64 + seq,
            "kind": "attest",
            "request": { "subject": "x", "verifier": "y", "network": "mainnet" },
            "attestation": attestation, "boc": attestation.to_boc_base64().unwrap(),
            "hash": hex::encode(attestation.hash().unwrap()),
            "judgement": { "score": 85, "categories_mask": Categories::SCAM.0, "evidence": [] },
            "policy_version": "severity-v1;labels-1", "signer_index": 2,
            "public_key": hex::encode(key.verifying_key().as_bytes()),
            "signature": hex::encode(signature.to_bytes()),
        }))
        .unwrap();
        prev = tollgate_oracle::audit::entry_hash(&bytes);
        audit.insert(seq.to_be_bytes(), bytes).unwrap();
    }
    let meta = db.open_tree("meta").unwrap();
    meta.insert("initialized", &b"1"[..]).unwrap();
    meta.insert("nonce_hwm", &4096u64.to_be_bytes()[..])
        .unwrap();
    db.flush().unwrap();
}

#[tokio::test]
async fn an_old_store_migrates_by_command_and_on_first_start() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[31; 32]);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("node.key");
    tollgate_oracle::signer::write_key_file(&key_file, &key, false).unwrap();
    // By command.
    let by_command = dir.path().join("a");
    old_store(&by_command, &key, 4);
    let args = |command: &[&str]| {
        let mut all = command.to_vec();
        all.extend([
            "--data-dir",
            by_command.to_str().unwrap(),
            "--key-file",
            key_file.to_str().unwrap(),
        ]);
        run(&all)
    };
    let output = args(&["migrate-audit"]);
    assert!(
        text(&output).contains("migrated 4 audit entries"),
        "{}",
        text(&output)
    );
    let output = args(&["audit", "verify"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("OK: 4 entries"), "{}", text(&output));
    assert!(text(&output).contains("nothing") || !text(&output).contains("old (sled)"));
    // On first start: the node migrates, serves the old entries and goes on after them.
    let on_start = dir.path().join("b");
    old_store(&on_start, &key, 3);
    let node = Node::open(Config {
        data_dir: on_start.clone(),
        key_file: Some(key_file.clone()),
        ..config()
    })
    .unwrap();
    let app = node.router();
    let body = json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": "mainnet" });
    let reply = post(&app, "/v1/attestations", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["audit_seq"], 3);
    let page = admin_get(&app, "/v1/audit").await.json;
    assert_eq!(page["entries"][1]["recorded_at"], 1_700_000_001u64);
    assert_eq!(
        page["entries"][3]["prev_hash"],
        page["entries"][2]["entry_hash"]
    );
    assert!(
        reply.json["attestation"]["nonce"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1 << 62,
        "time-prefixed nonces are above every old counter nonce"
    );
    drop(app);
    node.shutdown().await;
    let output = run(&["audit", "verify", "--data-dir", on_start.to_str().unwrap()]);
    assert!(text(&output).contains("OK: 4 entries"), "{}", text(&output));
}
