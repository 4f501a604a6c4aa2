//! `tollgate verify-evidence`: a signed case file passes; a tampered one or another key fails
//! with the error's code and exit status 1.

use std::process::Command;

use tollgate_sdk::evidence::{
    AuditCoverage, Case, CaseFile, Judgement, LabelEvidence, NodeIdentity, Policies, FORMAT,
};
use tollgate_sdk::{Address, Categories, SigningKey};

fn signed(key: &SigningKey) -> String {
    let case = Case {
        format: FORMAT.into(),
        subject: Address::new(0, [1; 32]),
        generated_at: 1_764_633_600,
        node: NodeIdentity {
            public_key: hex::encode(key.verifying_key().as_bytes()),
            signer_index: 0,
            epoch: 1,
            software: "test".into(),
        },
        policies: Policies {
            scoring: "severity-v1".into(),
            labels: "labels-1-00".into(),
            exposure: vec![],
        },
        judgement: Judgement {
            score: 85,
            level: "severe".into(),
            categories: Categories::SCAM,
            category_names: vec!["scam".into()],
        },
        labels: vec![LabelEvidence {
            source: "ton-labels/scammer/x".into(),
            categories: Categories::SCAM,
            name: "x".into(),
            first_seen: 1,
            counted: true,
        }],
        override_decision: None,
        exposure: vec![],
        exposure_untraced: vec![],
        history: vec![],
        audit: AuditCoverage {
            entries: 0,
            matched: 0,
            head: "00".repeat(32),
        },
    };
    CaseFile::sign(case, key).unwrap().to_json().unwrap()
}

fn run(file: &std::path::Path, key: &SigningKey) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("verify-evidence")
        .arg(file)
        .args(["--key", &hex::encode(key.verifying_key().as_bytes())])
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn verify_evidence_accepts_the_signed_file_and_refuses_tampering_and_other_keys() {
    let key = SigningKey::from_bytes(&[11; 32]);
    let dir = std::env::temp_dir().join(format!("tollgate-evidence-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("case.json");
    let text = signed(&key);
    std::fs::write(&file, &text).unwrap();
    let (ok, output) = run(&file, &key);
    assert!(ok, "{output}");
    assert!(output.contains("\"valid\": true"), "{output}");

    std::fs::write(&file, text.replace("\"score\": 85", "\"score\": 10")).unwrap();
    let (ok, output) = run(&file, &key);
    assert!(!ok && output.contains("evidence_signature"), "{output}");

    std::fs::write(&file, &text).unwrap();
    let (ok, output) = run(&file, &SigningKey::from_bytes(&[12; 32]));
    assert!(!ok && output.contains("evidence_wrong_key"), "{output}");

    std::fs::write(&file, "not json").unwrap();
    let (ok, output) = run(&file, &key);
    assert!(!ok && output.contains("malformed_evidence"), "{output}");
    std::fs::remove_dir_all(&dir).unwrap();
}
