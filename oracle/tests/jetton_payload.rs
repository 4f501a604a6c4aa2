//! The compliant jetton's payload API against real nodes on 127.0.0.1:0: a 2-of-3 signer set
//! whose third node serves the payload and is one of the quorum (listed by its own URL). Each
//! answer is checked as a compliant wallet would check it (sdk `ComplianceAuth::verify`), and
//! each refusal has its status and code.

use std::net::SocketAddr;

use ed25519_dalek::SigningKey;
use serde_json::Value;
use tokio::net::TcpListener;
use tollgate_oracle::config::{Config, JettonPayloadConfig, PeerConfig};
use tollgate_oracle::node::Node;
use tollgate_oracle::server::serve;
use tollgate_oracle::signer::{KeyOrigin, Signer};
use tollgate_oracle::store::SledStore;
use tollgate_sdk::compliant::{ComplianceAuth, SignedCertificate, SignerCertificate};
use tollgate_sdk::{boc, Address, Categories, Network, SignerSet};

use crate::support::*;

const MINTER: &str = "0:7171717171717171717171717171717171717171717171717171717171717171";

fn signer_key(index: u8) -> SigningKey {
    SigningKey::from_bytes(&[150 + index; 32])
}

fn root() -> SigningKey {
    SigningKey::from_bytes(&[0x5e; 32])
}

fn now() -> u32 {
    tollgate_oracle::unix_now() as u32
}

/// A 2-of-3 certificate for MINTER on testnet, signed by the root, written to a file.
fn certificate_file(valid_until: u32) -> std::path::PathBuf {
    let certificate = SignerCertificate {
        network: Network::TESTNET,
        minter: Address::from_raw(MINTER).unwrap(),
        valid_until,
        max_risk: 40,
        forbidden: Categories::SANCTIONS,
        max_skew: 120,
        signers: SignerSet::new(
            1,
            2,
            (0..3).map(|i| signer_key(i).verifying_key()).collect(),
        )
        .unwrap(),
    };
    let signed = SignedCertificate::issue(certificate, &root()).unwrap();
    let path = fresh_dir().join("cert.json");
    std::fs::write(
        &path,
        serde_json::to_string(&signed.to_file().unwrap()).unwrap(),
    )
    .unwrap();
    path
}

fn payload_config(cert: std::path::PathBuf, peers: &[(SocketAddr, u8)]) -> JettonPayloadConfig {
    JettonPayloadConfig {
        certificate: cert,
        root_public_key: hex::encode(root().verifying_key().as_bytes()),
        peers: peers
            .iter()
            .map(|(addr, index)| PeerConfig {
                url: format!("http://{addr}"),
                index: *index,
                key: None,
            })
            .collect(),
        ttl_secs: 600,
        timeout_ms: 2_000,
    }
}

/// Serves node `index` on `listener`; the node's config may carry `[jetton_payload]`.
fn start(
    listener: TcpListener,
    index: u8,
    jetton_payload: Option<JettonPayloadConfig>,
) -> tokio::sync::oneshot::Sender<()> {
    let config = Config {
        signer_index: index,
        epoch: 1,
        jetton_payload,
        ..config()
    };
    let node = Node::with_store(
        config.clone(),
        std::sync::Arc::new(SledStore::temporary().unwrap()),
        Signer::new(signer_key(index), index, 1, KeyOrigin::Environment),
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = node.router();
    tokio::spawn(async move {
        serve(listener, app, &config, async {
            let _ = stopped.await;
        })
        .await
    });
    stop
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

async fn fetch(url: String) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn verify(auth: &ComplianceAuth, owner: &str) {
    auth.verify(
        &root().verifying_key(),
        &Address::from_raw(MINTER).unwrap(),
        Network::TESTNET,
        &Address::from_raw(owner).unwrap(),
        now(),
    )
    .unwrap();
}

#[tokio::test]
async fn the_payload_api_hands_out_what_a_wallet_accepts_and_refuses_with_typed_errors() {
    let (l0, a0) = bind().await;
    let (l1, a1) = bind().await;
    let (l2, a2) = bind().await;
    let stop0 = start(l0, 0, None);
    let stop1 = start(l1, 1, None);
    let cert = certificate_file(now() + 30 * 86_400);
    let _stop2 = start(
        l2,
        2,
        Some(payload_config(cert, &[(a0, 0), (a1, 1), (a2, 2)])),
    );
    let base = format!("http://{a2}");

    // tonapi's shape: hex BoC, verified as the wallet would.
    let (status, body) = fetch(format!(
        "{base}/v2/jettons/{MINTER}/transfer/{UNKNOWN}/payload"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("state_init").is_none(), "{body}");
    let cell = boc::from_hex(body["custom_payload"].as_str().unwrap()).unwrap();
    let auth = ComplianceAuth::from_cell(&cell).unwrap();
    verify(&auth, UNKNOWN);
    assert!(auth.proof.bundle.len() >= 2);
    assert_eq!(body["valid_until"], auth.proof.attestation.valid_until);

    // TEP-176's shape: base64 BoC, owner echoed raw.
    let (status, body) = fetch(format!("{base}/v1/jettons/{MINTER}/wallet/{UNKNOWN}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["owner"], UNKNOWN);
    verify(
        &ComplianceAuth::from_boc_base64(body["custom_payload"].as_str().unwrap()).unwrap(),
        UNKNOWN,
    );

    // A jetton this node does not serve: 404.
    let other = "0:7272727272727272727272727272727272727272727272727272727272727272";
    let (status, body) = fetch(format!(
        "{base}/v2/jettons/{other}/transfer/{UNKNOWN}/payload"
    ))
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_jetton"))
    );
    // A bad account address: 400.
    let (status, body) = fetch(format!(
        "{base}/v2/jettons/{MINTER}/transfer/nonsense/payload"
    ))
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_address"))
    );
    // The known scammer is over the certificate's policy: 403 with the reason, no payload.
    let (status, body) = fetch(format!("{base}/v1/jettons/{MINTER}/wallet/{SCAMMER}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("over_policy")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("above the maximum 40"),
        "{body}"
    );
    assert!(body.get("custom_payload").is_none());

    // Metrics count the outcomes and expose the certificate's expiry.
    let (_, ready) = fetch(format!("{base}/v1/ready")).await;
    assert_eq!(ready["jetton_certificate"], true, "{ready}");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tollgate_jetton_payloads_total{outcome=\"issued\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("outcome=\"over_policy\""), "{metrics}");
    assert!(
        metrics.contains("tollgate_jetton_certificate_expiry_timestamp_seconds"),
        "{metrics}"
    );

    // With two of three signers gone the quorum cannot form: 503, the failed signers named by index.
    let _ = stop0.send(());
    let _ = stop1.send(());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, body) = fetch(format!(
        "{base}/v2/jettons/{MINTER}/transfer/{UNKNOWN}/payload"
    ))
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("quorum_not_reached")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("of 2 signatures")
            && message.contains("signer 0")
            && message.contains("signer 1"),
        "{message}"
    );
    assert!(
        !message.contains("127.0.0.1"),
        "peer URLs stay private: {message}"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_a_503_and_readiness_says_so() {
    let (l0, a0) = bind().await;
    let (l1, a1) = bind().await;
    let _stop0 = start(l0, 0, None);
    let cert = certificate_file(now() - 1);
    let _stop1 = start(l1, 1, Some(payload_config(cert, &[(a0, 0), (a1, 1)])));
    let base = format!("http://{a1}");
    let (status, body) = fetch(format!("{base}/v1/jettons/{MINTER}/wallet/{UNKNOWN}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("certificate_expired")),
        "{body}"
    );
    let (status, ready) = fetch(format!("{base}/v1/ready")).await;
    // Attestations still work, so the node stays ready; the payload API's part says false.
    assert_eq!(
        (status, ready["jetton_certificate"].as_bool()),
        (200, Some(false))
    );
}

#[test]
fn a_payload_config_that_does_not_fit_the_certificate_is_refused_at_start() {
    let cert = certificate_file(now() + 86_400);
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let build = |payload: JettonPayloadConfig| {
        Node::with_store(
            Config {
                jetton_payload: Some(payload),
                ..config()
            },
            std::sync::Arc::new(SledStore::temporary().unwrap()),
            Signer::new(signer_key(0), 0, 1, KeyOrigin::Environment),
        )
        .err()
        .map(|err| err.to_string())
        .unwrap_or_default()
    };
    let mut wrong_root = payload_config(cert.clone(), &[(addr, 0), (addr, 1)]);
    wrong_root.root_public_key = hex::encode(signer_key(0).verifying_key().as_bytes());
    assert!(build(wrong_root).contains("not the configured one"));
    let mut wrong_key = payload_config(cert.clone(), &[(addr, 0), (addr, 1)]);
    wrong_key.peers[1].key = Some(hex::encode(signer_key(2).verifying_key().as_bytes()));
    assert!(build(wrong_key).contains("not the certificate's key at index 1"));
    let out_of_set = payload_config(cert.clone(), &[(addr, 0), (addr, 5)]);
    assert!(build(out_of_set).contains("index 5 is not in the certificate's 3 keys"));
    let too_few = payload_config(cert.clone(), &[(addr, 0)]);
    assert!(build(too_few).contains("jetton_payload: peers"));
    let missing = payload_config(cert.with_file_name("nope.json"), &[(addr, 0), (addr, 1)]);
    assert!(build(missing).contains("cannot read"));
}
