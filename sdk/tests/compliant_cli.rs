//! `tollgate cert issue`, `cert show` and `payload compliant --proof`: the root key only from a
//! 0600 file, the certificate file verified on every read, and a sender's proof the policy
//! refuses never wrapped into an auth. Errors come with their code and exit status 1.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tollgate_sdk::compliant::{ComplianceAuth, SignerCertificate};
use tollgate_sdk::{
    Address, Attestation, AttestationProof, Categories, Network, ProofJson, SignatureBundle,
    SignatureEntry, SigningKey,
};

fn tollgate(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn signer(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[0x90 + i; 32])
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_mode(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

const MINTER: &str = "0:7171717171717171717171717171717171717171717171717171717171717171";
const SENDER: &str = "0:2222222222222222222222222222222222222222222222222222222222222222";

fn proof_file(dir: &Path, risk: u8, now: u32) -> PathBuf {
    let attestation = Attestation {
        network: Network::TESTNET,
        verifier: Address::from_raw(MINTER).unwrap(),
        subject: Address::from_raw(SENDER).unwrap(),
        risk,
        categories: Categories::NONE,
        issued_at: now - 10,
        valid_until: now + 590,
        epoch: 3,
        nonce: 1,
    };
    let entries = [0u8, 1]
        .iter()
        .map(|&i| SignatureEntry {
            signer: i,
            signature: attestation.sign(&signer(i)).unwrap(),
        })
        .collect();
    let proof = AttestationProof {
        attestation,
        bundle: SignatureBundle::new(entries).unwrap(),
    };
    let path = dir.join(format!("proof-{risk}.json"));
    std::fs::write(
        &path,
        serde_json::to_string(&ProofJson::new(&proof).unwrap()).unwrap(),
    )
    .unwrap();
    path
}

#[test]
fn cert_issue_show_and_payload_compliant() {
    let dir = scratch();
    let key = dir.join("root.key");
    let root = SigningKey::from_bytes(&[0x77; 32]);
    let seed = hex::encode(root.to_bytes()) + "\n";
    let signers: Vec<String> = (0..3)
        .map(|i| hex::encode(signer(i).verifying_key().as_bytes()))
        .collect();
    let key_arg = key.to_str().unwrap();
    let mut issue = vec![
        "cert",
        "issue",
        "--root-key",
        key_arg,
        "--minter",
        MINTER,
        "--network",
        "testnet",
        "--valid-days",
        "30",
        "--max-risk",
        "40",
        "--forbidden",
        "sanctions,mixer",
        "--threshold",
        "2",
        "--epoch",
        "3",
    ];
    for s in &signers {
        issue.extend(["--signer", s.as_str()]);
    }

    // A key file others can read is refused.
    write_mode(&key, &seed, 0o644);
    let (ok, _, err) = tollgate(&issue);
    assert!(!ok && err.contains("key_file_mode"), "{err}");
    write_mode(&key, "not hex", 0o600);
    let (ok, _, err) = tollgate(&issue);
    assert!(!ok && err.contains("invalid_encoding"), "{err}");

    write_mode(&key, &seed, 0o600);
    let (ok, out, err) = tollgate(&issue);
    assert!(ok, "{err}");
    let file: Value = serde_json::from_str(&out).unwrap();
    let certificate =
        SignerCertificate::from_boc_base64(file["certificate"].as_str().unwrap()).unwrap();
    assert_eq!(certificate.network, Network::TESTNET);
    assert_eq!(certificate.signers.threshold, 2);
    assert_eq!(
        certificate.forbidden,
        Categories::SANCTIONS.union(Categories::MIXER)
    );
    let cert = dir.join("cert.json");
    std::fs::write(&cert, &out).unwrap();
    let cert_arg = cert.to_str().unwrap();

    // Bad policy values are refused before anything is signed.
    let with = |flag: &str, value: &'static str| {
        let mut args = issue.clone();
        let at = args.iter().position(|a| *a == flag).unwrap();
        args[at + 1] = value;
        args
    };
    let bad = with("--max-risk", "101");
    let (ok, _, err) = tollgate(&bad);
    assert!(!ok && err.contains("risk_out_of_range"), "{err}");
    let bad = with("--threshold", "4");
    let (ok, _, err) = tollgate(&bad);
    assert!(!ok && err.contains("invalid_signer_set"), "{err}");

    let (ok, out, err) = tollgate(&["cert", "show", cert_arg]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["minter"], MINTER);
    assert_eq!(shown["expired"], false);
    assert_eq!(
        shown["forbidden"],
        serde_json::json!(["sanctions", "mixer"])
    );
    assert_eq!(
        shown["root_public_key"],
        hex::encode(root.verifying_key().as_bytes())
    );
    let other = hex::encode(SigningKey::from_bytes(&[1; 32]).verifying_key().as_bytes());
    let (ok, _, err) = tollgate(&["cert", "show", cert_arg, "--root", &other]);
    assert!(!ok && err.contains("certificate_signature"), "{err}");
    // A certificate edited after signing (other max_skew, hash recomputed or not) is refused.
    let mut edited: Value = serde_json::from_str(&std::fs::read_to_string(&cert).unwrap()).unwrap();
    let mut c = certificate.clone();
    c.max_risk = 90;
    edited["certificate"] = c.to_boc_base64().unwrap().into();
    edited["hash"] = hex::encode(c.hash().unwrap()).into();
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, edited.to_string()).unwrap();
    let (ok, _, err) = tollgate(&["cert", "show", tampered.to_str().unwrap()]);
    assert!(!ok && err.contains("certificate_signature"), "{err}");

    // payload compliant: the auth in custom_payload, and TON Connect to the jetton wallet.
    let now = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let good = proof_file(&dir, 12, now);
    let base = [
        "payload",
        "compliant",
        "--cert",
        cert_arg,
        "--sender",
        SENDER,
        "--destination",
        MINTER,
        "--amount",
        "1000",
    ];
    let mut args = base.to_vec();
    args.extend(["--proof", good.to_str().unwrap()]);
    let (ok, out, err) = tollgate(&args);
    assert!(ok, "{err}");
    let body: Value = serde_json::from_str(&out).unwrap();
    let auth = ComplianceAuth::from_boc_base64(body["custom_payload"].as_str().unwrap()).unwrap();
    auth.verify(
        &root.verifying_key(),
        &Address::from_raw(MINTER).unwrap(),
        Network::TESTNET,
        &Address::from_raw(SENDER).unwrap(),
        now,
    )
    .unwrap();
    let wallet = "0:3333333333333333333333333333333333333333333333333333333333333333";
    args.extend(["--jetton-wallet", wallet]);
    let (ok, out, err) = tollgate(&args);
    assert!(ok, "{err}");
    let request: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(request["network"], "-3");
    assert_eq!(request["from"], SENDER);
    assert_eq!(
        request["messages"][0]["address"],
        Address::from_raw(wallet)
            .unwrap()
            .to_friendly(tollgate_sdk::FriendlyFlags {
                bounceable: true,
                testnet: true
            })
    );

    // A sender over the policy gets no auth.
    let risky = proof_file(&dir, 41, now);
    let mut args = base.to_vec();
    args.extend(["--proof", risky.to_str().unwrap()]);
    let (ok, _, err) = tollgate(&args);
    assert!(!ok && err.contains("over_policy"), "{err}");
    // A proof about someone else is refused.
    let mut args = base.to_vec();
    args[5] = MINTER; // --sender
    args.extend(["--proof", good.to_str().unwrap()]);
    let (ok, _, err) = tollgate(&args);
    assert!(!ok && err.contains("proof_mismatch"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
