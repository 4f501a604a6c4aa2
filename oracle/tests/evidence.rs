//! Evidence case files: `GET /v1/evidence/{address}` and `tollgate-oracle evidence` give one
//! signed file with labels, exposure paths (from the node's exposure source) and the judgement
//! history from the audit log; it verifies offline, and a tampered file or a wrong key is refused.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use tollgate_oracle::node::Node;
use tollgate_oracle::risk::ExposureSource;
use tollgate_oracle::signer::{KeyOrigin, Signer};
use tollgate_oracle::store::{SledStore, Store};
use tollgate_sdk::evidence;
use tollgate_sdk::exposure::{Asset, Direction, ExposureFinding, ExposurePath, Hop};
use tollgate_sdk::{Address, Categories, SigningKey};

use crate::support::*;

const DRAINER: &str = "0:2222222222222222222222222222222222222222222222222222222222222222";

/// A test fixture of an input: an exposure source with one fixed finding for one address.
struct FixedExposure {
    subject: Address,
    finding: ExposureFinding,
}

impl ExposureSource for FixedExposure {
    fn exposure(&self, address: &Address) -> tollgate_oracle::Result<Vec<ExposureFinding>> {
        Ok(if *address == self.subject {
            vec![self.finding.clone()]
        } else {
            Vec::new()
        })
    }
}

fn finding(subject: Address) -> ExposureFinding {
    let drainer: Address = DRAINER.parse().unwrap();
    let middle = Address::new(0, [3; 32]);
    let hop = |from, to, lt| Hop {
        from,
        to,
        tx_hash: format!("{lt:064x}"),
        lt,
        utime: 1_764_633_000 + lt,
        asset: Asset::Ton,
        amount: "2500000000".into(),
    };
    ExposureFinding {
        direction: Direction::Incoming,
        asset: Asset::Ton,
        categories: Categories::DRAINER,
        counterparties: vec![drainer],
        min_hops: 2,
        share_ppm: 400_000,
        value: "2500000000".into(),
        severity: 38,
        policy: "exposure-v1".into(),
        paths: vec![ExposurePath {
            hops: vec![hop(middle, subject, 2), hop(drainer, middle, 1)],
            share_ppm: 400_000,
        }],
    }
}

fn node_with_exposure(subject: Address) -> Node {
    let config = config();
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    let signer = Signer::new(
        key(),
        config.signer_index,
        config.epoch,
        KeyOrigin::Environment,
    );
    let exposure = Arc::new(FixedExposure {
        subject,
        finding: finding(subject),
    });
    Node::with_exposure(config, store, signer, exposure).unwrap()
}

async fn attest(app: &axum::Router, subject: &str) {
    let reply = post(
        app,
        "/v1/attestations",
        json!({ "subject": subject, "verifier": VERIFIER, "network": "mainnet" }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn the_case_file_holds_labels_exposure_paths_and_history_and_verifies_offline() {
    let subject: Address = SCAMMER.parse().unwrap();
    let node = node_with_exposure(subject);
    let app = node.router();
    attest(&app, SCAMMER).await;
    attest(&app, UNKNOWN).await;
    attest(&app, SCAMMER).await;

    let reply = admin_get(&app, &format!("/v1/evidence/{SCAMMER}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let case = evidence::verify(&reply.text, &key().verifying_key()).unwrap();
    assert_eq!(case.subject, subject);
    assert_eq!(case.format, evidence::FORMAT);
    assert_eq!(
        case.node.public_key,
        hex::encode(key().verifying_key().as_bytes())
    );
    assert_eq!((case.node.signer_index, case.node.epoch), (2, 7));
    assert_eq!(case.judgement.level, "severe");
    assert!(case
        .judgement
        .categories
        .contains(Categories::SCAM | Categories::DRAINER));
    assert!(case
        .labels
        .iter()
        .any(|l| l.source == "ton-assets/scammers" && l.counted));
    assert_eq!(
        case.exposure,
        vec![finding(subject)],
        "paths as the source gave them"
    );
    assert_eq!(case.policies.exposure, vec!["exposure-v1"]);
    assert!(case.policies.labels.starts_with("labels-"));
    // The history: both attestations of the subject, none of the other address.
    assert_eq!((case.audit.entries, case.audit.matched), (3, 2));
    assert_eq!(
        case.history.iter().map(|h| h.seq).collect::<Vec<_>>(),
        vec![0, 2]
    );
    let audit = admin_get(&app, "/v1/audit").await.json;
    for entry in &case.history {
        let logged = &audit["entries"][entry.seq as usize];
        assert_eq!(entry.entry_hash, logged["entry_hash"].as_str().unwrap());
        assert_eq!(entry.attestation_hash, logged["hash"].as_str().unwrap());
        assert_eq!(
            u64::from(entry.score),
            logged["judgement"]["score"].as_u64().unwrap()
        );
    }
    assert_eq!(
        case.audit.head,
        audit["entries"][2]["entry_hash"].as_str().unwrap()
    );

    // Tampered: a lower score, or a path hop removed.
    let tampered = reply
        .text
        .replace("\"level\": \"severe\"", "\"level\": \"low\"");
    assert_ne!(tampered, reply.text);
    assert_eq!(
        evidence::verify(&tampered, &key().verifying_key()),
        Err(tollgate_sdk::Error::EvidenceSignature)
    );
    let mut value: serde_json::Value = serde_json::from_str(&reply.text).unwrap();
    value["case"]["exposure"][0]["paths"][0]["hops"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert_eq!(
        evidence::verify(&value.to_string(), &key().verifying_key()),
        Err(tollgate_sdk::Error::EvidenceSignature)
    );
    // Wrong key.
    let other = SigningKey::from_bytes(&[9; 32]).verifying_key();
    assert!(matches!(
        evidence::verify(&reply.text, &other),
        Err(tollgate_sdk::Error::EvidenceWrongKey { .. })
    ));
}

#[tokio::test]
async fn evidence_needs_the_admin_token_and_a_valid_address() {
    let node = node_with(config());
    let app = node.router();
    let reply = get(&app, &format!("/v1/evidence/{UNKNOWN}")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = admin_get(&app, "/v1/evidence/EQnot-an-address").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    // An address the node knows nothing about still gets a (signed, empty) case file.
    let reply = admin_get(&app, &format!("/v1/evidence/{UNKNOWN}")).await;
    let case = evidence::verify(&reply.text, &key().verifying_key()).unwrap();
    assert_eq!(
        (case.judgement.score, case.labels.len(), case.history.len()),
        (0, 0, 0)
    );
}

#[test]
fn the_cli_prints_the_same_case_file_for_a_stopped_node() {
    let config = config();
    let data_dir = config.data_dir.clone();
    let key_file = data_dir.with_extension("key");
    tollgate_oracle::signer::write_key_file(&key_file, &key(), false).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Arc::new(tollgate_oracle::node::open_store(&config).unwrap());
        let signer = Signer::new(
            key(),
            config.signer_index,
            config.epoch,
            KeyOrigin::Environment,
        );
        let node = Node::with_store(config.clone(), store, signer).unwrap();
        attest(&node.router(), SCAMMER).await;
        node.shutdown().await;
    });
    let out = data_dir.with_extension("case.json");
    let output = std::process::Command::new(binary())
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "evidence",
            SCAMMER,
        ])
        .args([
            "--key-file",
            key_file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let case = evidence::verify(
        &std::fs::read_to_string(&out).unwrap(),
        &key().verifying_key(),
    )
    .unwrap();
    assert_eq!((case.audit.entries, case.history.len()), (1, 1));
    assert_eq!(case.judgement.level, "severe");
}
