//! The sdk's quorum client against three real nodes on 127.0.0.1:0: the node API and the sdk's
//! view of it (`tollgate_sdk::api`) agree, and k-of-n co-signing works end to end.

use std::net::SocketAddr;

use axum::http::Method;
use ed25519_dalek::SigningKey;
use serde_json::json;
use tokio::net::TcpListener;
use tollgate_oracle::config::Config;
use tollgate_oracle::node::Node;
use tollgate_oracle::server::serve;
use tollgate_oracle::signer::{KeyOrigin, Signer};
use tollgate_oracle::store::SledStore;
use tollgate_sdk::client::{Client, ClientConfig, Node as NodeRef};
use tollgate_sdk::{Categories, Network};

use crate::support::*;

/// Starts node `index` (its own store and key) and returns its address and the node.
async fn start(index: u8) -> (SocketAddr, Node, tokio::sync::oneshot::Sender<()>) {
    let config = Config {
        signer_index: index,
        epoch: 1,
        ..config()
    };
    let key = SigningKey::from_bytes(&[100 + index; 32]);
    let node = Node::with_store(
        config.clone(),
        std::sync::Arc::new(SledStore::temporary().unwrap()),
        Signer::new(key, index, 1, KeyOrigin::Environment),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = node.router();
    tokio::spawn(async move {
        serve(listener, app, &config, async {
            let _ = stopped.await;
        })
        .await
    });
    (addr, node, stop)
}

fn reference(addr: SocketAddr, index: u8) -> NodeRef {
    NodeRef {
        url: format!("http://{addr}"),
        index,
        public_key: SigningKey::from_bytes(&[100 + index; 32]).verifying_key(),
    }
}

#[tokio::test]
async fn the_sdk_client_gets_a_two_of_three_attestation_from_real_nodes() {
    let mut nodes = Vec::new();
    for index in 0..3 {
        nodes.push(start(index).await);
    }
    // Node 2 knows more about the subject than the others: the proposal must cover it.
    let deny = json!({ "address": CUSTODIAN, "action": "deny", "categories": ["stolen_funds"], "reason": "hack", "author": "ops" });
    let app = nodes[2].1.router();
    assert!(call(
        &app,
        Method::POST,
        "/v1/admin/overrides",
        Some(deny),
        Some(ADMIN)
    )
    .await
    .status
    .is_success());

    let references: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, (addr, _, _))| reference(*addr, i as u8))
        .collect();
    let keys: Vec<_> = references.iter().map(|n| n.public_key).collect();
    let client = Client::new(ClientConfig::new(references, 2, 1)).unwrap();

    let proof = client
        .attest(
            SCAMMER.parse().unwrap(),
            VERIFIER.parse().unwrap(),
            Network::MAINNET,
        )
        .await
        .unwrap();
    assert_eq!(
        (proof.attestation.risk, proof.attestation.categories),
        (85, Categories::SCAM)
    );
    proof.bundle.verify(&proof.attestation, &keys, 2).unwrap();

    let proof = client
        .attest(
            CUSTODIAN.parse().unwrap(),
            VERIFIER.parse().unwrap(),
            Network::MAINNET,
        )
        .await
        .unwrap();
    assert_eq!(
        proof.attestation.risk, 100,
        "the highest judgement bounds the proposal"
    );
    assert!(proof
        .attestation
        .categories
        .contains(Categories::STOLEN_FUNDS | Categories::EXCHANGE));
    proof.bundle.verify(&proof.attestation, &keys, 2).unwrap();

    // One node down: two of three still make the quorum.
    let (_, node, stop) = nodes.remove(0);
    stop.send(()).unwrap();
    drop(node);
    let proof = client
        .attest(
            UNKNOWN.parse().unwrap(),
            VERIFIER.parse().unwrap(),
            Network::TESTNET,
        )
        .await
        .unwrap();
    proof.bundle.verify(&proof.attestation, &keys, 2).unwrap();
    assert!(proof.bundle.entries().iter().all(|e| e.signer != 0));
}

#[tokio::test]
async fn the_sdk_client_attests_many_subjects_with_the_batch_endpoints() {
    let mut nodes = Vec::new();
    for index in 0..3 {
        nodes.push(start(index).await);
    }
    let references: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, (addr, _, _))| reference(*addr, i as u8))
        .collect();
    let keys: Vec<_> = references.iter().map(|n| n.public_key).collect();
    let client = Client::new(ClientConfig::new(references.clone(), 2, 1)).unwrap();
    // More than one batch: 300 fresh subjects, the scammer among them.
    let mut subjects: Vec<tollgate_sdk::Address> = (0..300u32)
        .map(|i| format!("0:{i:064x}").parse().unwrap())
        .collect();
    subjects[257] = SCAMMER.parse().unwrap();
    let results = client
        .attest_many(&subjects, VERIFIER.parse().unwrap(), Network::MAINNET)
        .await
        .unwrap();
    assert_eq!(results.len(), 300);
    for (subject, result) in subjects.iter().zip(&results) {
        let proof = result.as_ref().unwrap();
        assert_eq!(proof.attestation.subject, *subject);
        proof.bundle.verify(&proof.attestation, &keys, 2).unwrap();
    }
    assert_eq!(results[257].as_ref().unwrap().attestation.risk, 85);
    assert_eq!(results[0].as_ref().unwrap().attestation.risk, 0);

    // A client that asks for more than the nodes will sign (a wrong epoch) gets each subject's
    // refusal from every node, per subject.
    let wrong = Client::new(ClientConfig::new(references, 2, 9)).unwrap();
    let results = wrong
        .attest_many(&subjects[..2], VERIFIER.parse().unwrap(), Network::MAINNET)
        .await
        .unwrap();
    for result in results {
        match result {
            Err(tollgate_sdk::Error::QuorumNotReached {
                signed, failures, ..
            }) => {
                assert_eq!((signed, failures.len()), (0, 3));
                assert!(
                    failures[0].reason.contains("422 (policy_refused, epoch)"),
                    "{failures:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
