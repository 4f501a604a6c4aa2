//! Golden vectors of the compliant jetton's payload: `tests/vectors/compliant-jetton.json` at
//! the repository root is written from the cases below and must not drift
//! (`TOLLGATE_REGENERATE=1 cargo test -p tollgate-sdk --test tests compliant` rewrites it). The
//! TypeScript side (contracts/tests/CompliantVectors.spec.ts) parses every cell with @ton/core
//! and checks the root and attestation signatures with @ton/crypto.

use serde_json::{json, Value};
use tollgate_sdk::compliant::{ComplianceAuth, SignedCertificate, SignerCertificate};
use tollgate_sdk::messages::comment;
use tollgate_sdk::ton_connect::CompliantRequest;
use tollgate_sdk::{
    boc, Address, Attestation, AttestationProof, Categories, Network, SignatureBundle,
    SignatureEntry, SignerSet, SigningKey,
};

const FILE: &str = "compliant-jetton.json";
/// The moment every case is checked at: inside every attestation's and certificate's validity.
const NOW: u32 = 1_790_000_100;

fn root() -> SigningKey {
    SigningKey::from_bytes(&[0x5e; 32])
}

fn signer(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[0xc0 + i; 32])
}

fn address(workchain: i8, fill: u8) -> Address {
    let mut hash = [fill; 32];
    hash[0] = 0x3c;
    Address::new(workchain, hash)
}

struct Case {
    name: &'static str,
    network: Network,
    minter: Address,
    keys: u8,
    threshold: u8,
    signers: Vec<u8>,
    forward: bool,
}

fn cases() -> Vec<Case> {
    let minter = address(0, 0x71);
    vec![
        Case {
            name: "1-of-1",
            network: Network::MAINNET,
            minter,
            keys: 1,
            threshold: 1,
            signers: vec![0],
            forward: false,
        },
        Case {
            name: "2-of-3",
            network: Network::MAINNET,
            minter,
            keys: 3,
            threshold: 2,
            signers: vec![0, 2],
            forward: true,
        },
        Case {
            name: "9-of-16 (six key cells)",
            network: Network::MAINNET,
            minter,
            keys: 16,
            threshold: 9,
            signers: vec![0, 1, 3, 5, 7, 9, 11, 13, 15],
            forward: false,
        },
        Case {
            name: "testnet 2-of-3",
            network: Network::TESTNET,
            minter,
            keys: 3,
            threshold: 2,
            signers: vec![1, 2],
            forward: false,
        },
        Case {
            name: "masterchain minter 1-of-2",
            network: Network::MAINNET,
            minter: address(-1, 0x72),
            keys: 2,
            threshold: 1,
            signers: vec![1],
            forward: false,
        },
    ]
}

fn certificate(case: &Case) -> SignerCertificate {
    SignerCertificate {
        network: case.network,
        minter: case.minter,
        valid_until: 1_792_592_000,
        max_risk: 40,
        forbidden: Categories::SANCTIONS,
        max_skew: 120,
        signers: SignerSet::new(
            7,
            case.threshold,
            (0..case.keys).map(|i| signer(i).verifying_key()).collect(),
        )
        .unwrap(),
    }
}

fn owner() -> Address {
    address(0, 0x22)
}

fn proof(c: &SignerCertificate, signers: &[u8]) -> AttestationProof {
    let attestation = Attestation {
        network: c.network,
        verifier: c.minter,
        subject: owner(),
        risk: 12,
        categories: Categories::EXCHANGE,
        issued_at: 1_790_000_000,
        valid_until: 1_790_000_600,
        epoch: c.signers.epoch,
        nonce: 0x0123_4567_89ab_cdef,
    };
    let entries = signers
        .iter()
        .map(|&i| SignatureEntry {
            signer: i,
            signature: attestation.sign(&signer(i)).unwrap(),
        })
        .collect();
    AttestationProof {
        attestation,
        bundle: SignatureBundle::new(entries).unwrap(),
    }
}

fn auth(case: &Case) -> ComplianceAuth {
    let signed = SignedCertificate::issue(certificate(case), &root()).unwrap();
    let proof = proof(&signed.certificate, &case.signers);
    signed.authorize(proof, &owner(), NOW).unwrap()
}

fn vector(case: &Case) -> Value {
    let auth = auth(case);
    let c = &auth.certificate;
    let a = &auth.proof.attestation;
    let forward = case.forward.then(|| comment("invoice 7").unwrap().to_arc());
    let jetton_wallet = address(0, 0x33);
    let request = CompliantRequest {
        jetton_wallet,
        destination: address(0, 0x44),
        amount: 5_000_000,
        query_id: 9,
        forward_ton_amount: if case.forward { 1 } else { 0 },
        forward_payload: forward.as_ref(),
        auth: &auth,
        now: NOW,
    };
    let (body, attach) = request.body().unwrap();
    let auth_cell = auth.to_cell().unwrap();
    json!({
        "name": case.name,
        "root_public_key": hex::encode(root().verifying_key().as_bytes()),
        "root_signature": hex::encode(auth.root_signature.to_bytes()),
        "certificate": {
            "network": c.network.global_id(),
            "minter": c.minter.to_raw(),
            "valid_until": c.valid_until,
            "max_risk": c.max_risk,
            "forbidden": c.forbidden.0,
            "max_skew": c.max_skew,
            "epoch": c.signers.epoch,
            "threshold": c.signers.threshold,
            "keys": c.signers.keys.iter().map(|k| hex::encode(k.as_bytes())).collect::<Vec<_>>(),
        },
        "certificate_boc": c.to_boc_base64().unwrap(),
        "certificate_hash": hex::encode(c.hash().unwrap()),
        "attestation": a,
        "attestation_hash": hex::encode(a.hash().unwrap()),
        "signatures": auth.proof.bundle.entries().iter().map(|e| json!({
            "index": e.signer,
            "signature": hex::encode(e.signature.to_bytes()),
        })).collect::<Vec<_>>(),
        "auth": boc::to_base64(&auth_cell).unwrap(),
        "auth_hash": hex::encode(auth_cell.cell_hash().as_slice()),
        "now": NOW,
        "transfer": {
            "jetton_wallet": jetton_wallet.to_raw(),
            "query_id": request.query_id.to_string(),
            "amount": request.amount.to_string(),
            "destination": request.destination.to_raw(),
            "response_destination": owner().to_raw(),
            "forward_ton_amount": request.forward_ton_amount.to_string(),
            "forward_payload": forward.as_ref().map(|f| boc::to_base64(f).unwrap()),
            "body": boc::to_base64(&body.clone().to_arc()).unwrap(),
            "hash": hex::encode(body.cell_hash().as_slice()),
            "attach": attach.to_string(),
        },
        "ton_connect": request.to_request().unwrap(),
    })
}

#[test]
fn compliant_vectors_match_the_committed_file() {
    let vectors: Vec<Value> = cases().iter().map(vector).collect();
    crate::common::vectors::check_committed(FILE, &vectors);
}

#[test]
fn committed_compliant_vectors_decode_and_verify() {
    let vectors = crate::common::vectors::read(FILE);
    assert_eq!(vectors.len(), cases().len());
    let root = root().verifying_key();
    for v in vectors {
        let auth = ComplianceAuth::from_boc_base64(v["auth"].as_str().unwrap()).unwrap();
        let c = &auth.certificate;
        let minter = Address::from_raw(v["certificate"]["minter"].as_str().unwrap()).unwrap();
        assert_eq!(
            SignerCertificate::from_boc_base64(v["certificate_boc"].as_str().unwrap()).unwrap(),
            *c
        );
        assert_eq!(hex::encode(c.hash().unwrap()), v["certificate_hash"]);
        let fields: Attestation = serde_json::from_value(v["attestation"].clone()).unwrap();
        assert_eq!(auth.proof.attestation, fields);
        auth.verify(&root, &minter, c.network, &owner(), NOW)
            .unwrap();
        // The transfer body carries the same auth in custom_payload.
        let body = boc::from_base64(v["transfer"]["body"].as_str().unwrap()).unwrap();
        use tonlib_core::message::TonMessage as _;
        let parsed = tonlib_core::message::JettonTransferMessage::parse(&body).unwrap();
        assert_eq!(
            ComplianceAuth::from_cell(&parsed.custom_payload.unwrap()).unwrap(),
            auth
        );
    }
}

#[test]
fn ton_connect_request_refuses_an_expired_auth() {
    let case = &cases()[1];
    let auth = auth(case);
    let request = CompliantRequest {
        jetton_wallet: address(0, 0x33),
        destination: address(0, 0x44),
        amount: 1,
        query_id: 0,
        forward_ton_amount: 0,
        forward_payload: None,
        auth: &auth,
        now: 1_790_000_601,
    };
    assert!(matches!(
        request.to_request(),
        Err(tollgate_sdk::Error::ProofExpired { .. })
    ));
    let late = CompliantRequest {
        now: 1_792_592_001,
        ..request
    };
    assert!(matches!(
        late.to_request(),
        Err(tollgate_sdk::Error::CertificateExpired { .. })
    ));
    // The request is valid until the attestation's expiry (earlier than the certificate's).
    let ok = CompliantRequest { now: NOW, ..late };
    let r = ok.to_request().unwrap();
    assert_eq!(r.valid_until, 1_790_000_600);
    assert_eq!(r.from.as_deref(), Some(owner().to_raw().as_str()));
}
