//! Evidence case files: everything one oracle node knows about an address — its labels with
//! their sources, its exposure findings with their transfer paths, the node's judgement now and
//! every judgement it signed before (from its audit log) — in one JSON document signed by the
//! node and verifiable offline with its public key (SPEC.md §13).
//!
//! # Signing
//!
//! The signed bytes are [`DOMAIN`] followed by the canonical encoding of the `case` object
//! ([`canonical_json`]: RFC 8785 JSON Canonicalization Scheme, restricted to integers), signed
//! with ed25519 and checked with `verify_strict`. The domain keeps a case-file signature from
//! ever being valid as anything else the node signs (attestation hashes are 32 bytes, audit
//! anchors have their own prefix). Verification canonicalizes the `case` exactly as it stands
//! in the file, unknown fields included, so nothing in it can change unnoticed.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exposure::{ExposureFinding, Untraced};
use crate::{Address, Categories, Error, Result};

/// The format name every case file carries in `case.format`; a new layout gets a new name.
pub const FORMAT: &str = "tollgate-evidence-v1";

/// Prefix of the signed bytes (domain separation).
pub const DOMAIN: &[u8] = b"tollgate/evidence/v1\0";

/// Largest integer a case file may hold as a JSON number (2^53 − 1, the largest every JSON
/// reader keeps exactly); larger values travel as decimal strings.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Who made the case file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// ed25519 public key, 64 hex digits: the key the signature verifies under.
    pub public_key: String,
    /// Index in its signer set.
    pub signer_index: u8,
    /// Signer-set epoch.
    pub epoch: u32,
    /// Node software version.
    pub software: String,
}

/// The policies the judgement was made under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policies {
    /// Scoring policy (e.g. `severity-v1`).
    pub scoring: String,
    /// The label set read (`labels-<count>-<digest>`).
    pub labels: String,
    /// Exposure policies of the findings (e.g. `exposure-v1`); empty without findings.
    pub exposure: Vec<String>,
}

/// The node's judgement of the subject when the case file was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    /// 0–100.
    pub score: u8,
    /// `low`, `medium`, `high` or `severe`.
    pub level: String,
    /// SPEC.md §3 bitmask.
    pub categories: Categories,
    /// Category names.
    pub category_names: Vec<String>,
}

/// One label of the subject, with its source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelEvidence {
    /// The list it comes from (e.g. `ton-labels/scammer/address_poisoning`).
    pub source: String,
    /// SPEC.md §3 bitmask.
    pub categories: Categories,
    /// The name the source gives the address.
    pub name: String,
    /// Unix seconds when the node first ingested it.
    pub first_seen: u64,
    /// Whether it counted (not under an `allow` override).
    pub counted: bool,
}

/// A manual decision about the subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideEvidence {
    /// `allow` or `deny`.
    pub action: String,
    /// SPEC.md §3 bitmask it attests.
    pub categories: Categories,
    /// Why.
    pub reason: String,
    /// Who decided.
    pub author: String,
    /// Unix seconds when decided.
    pub created_at: u64,
    /// Unix seconds after which it lapses; `None` never.
    pub expires_at: Option<u64>,
    /// Whether it applied when the case file was made.
    pub active: bool,
}

/// One judgement the node signed about the subject, from its audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Position in the audit log.
    pub seq: u64,
    /// SHA-256 of the stored audit entry, hex (the audit chain links these).
    pub entry_hash: String,
    /// Unix seconds when recorded.
    pub recorded_at: u64,
    /// `attest` or `cosign`.
    pub kind: String,
    /// The attested risk bound.
    pub risk: u8,
    /// The attested categories bound.
    pub categories: Categories,
    /// The node's own score then.
    pub score: u8,
    /// The node's categories then.
    pub judged_categories: Categories,
    /// Policy and label set then.
    pub policy_version: String,
    /// The verifier the attestation was for.
    pub verifier: Address,
    /// `global_id`.
    pub network: i32,
    /// Unix seconds.
    pub valid_until: u32,
    /// Representation hash of the attestation cell, hex.
    pub attestation_hash: String,
}

/// What part of the audit log the history covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCoverage {
    /// Entries of the log read (all of them, from seq 0).
    pub entries: u64,
    /// Entries about the subject among them; `history` holds the latest of these (at most the
    /// node's limit, so a case file stays a file).
    pub matched: u64,
    /// Hash of the last entry read, hex (the chain head then; 64 zeros for an empty log).
    pub head: String,
}

/// The content of a case file (what the signature covers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// [`FORMAT`].
    pub format: String,
    /// The address the case is about.
    pub subject: Address,
    /// Unix seconds when the case file was made.
    pub generated_at: u64,
    /// The node that made and signed it.
    pub node: NodeIdentity,
    /// Policies in force.
    pub policies: Policies,
    /// The judgement when made.
    pub judgement: Judgement,
    /// Labels with their sources.
    pub labels: Vec<LabelEvidence>,
    /// The override, if there is one (active or not).
    pub override_decision: Option<OverrideEvidence>,
    /// Exposure findings with their paths.
    pub exposure: Vec<ExposureFinding>,
    /// What the exposure traces could not follow, per direction and asset traced (SPEC.md
    /// §15.2); absent from files of nodes before `exposure-v2` and of nodes without transfers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposure_untraced: Vec<Untraced>,
    /// Every judgement the node signed about the subject, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The audit log the history was read from.
    pub audit: AuditCoverage,
}

/// A case file: the case and the node's signature over it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFile {
    /// What is signed.
    pub case: Case,
    /// ed25519 signature over [`DOMAIN`] ‖ [`canonical_json`]`(case)`, 128 hex digits.
    pub signature: String,
}

impl CaseFile {
    /// Signs a case with the node's key. The case's `node.public_key` must be that key's.
    pub fn sign(case: Case, key: &SigningKey) -> Result<CaseFile> {
        if case.node.public_key != hex::encode(key.verifying_key().as_bytes()) {
            return Err(Error::MalformedEvidence(
                "node.public_key is not the signing key's".into(),
            ));
        }
        let bytes = signed_bytes(&serde_json::to_value(&case).map_err(json_error)?)?;
        let signature = key.sign(&bytes);
        Ok(CaseFile {
            case,
            signature: hex::encode(signature.to_bytes()),
        })
    }

    /// The file as JSON text.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(json_error)
    }
}

/// Checks a case file's text offline against the node's public key: the file must name that
/// key ([`Error::EvidenceWrongKey`]) and its signature must verify over the `case` as it stands
/// ([`Error::EvidenceSignature`]). Returns the case.
pub fn verify(text: &str, key: &VerifyingKey) -> Result<Case> {
    let file: Value = serde_json::from_str(text)
        .map_err(|err| Error::MalformedEvidence(format!("not JSON: {err}")))?;
    let object = file
        .as_object()
        .ok_or_else(|| Error::MalformedEvidence("not a JSON object".into()))?;
    if let Some(extra) = object.keys().find(|k| *k != "case" && *k != "signature") {
        return Err(Error::MalformedEvidence(format!(
            "unknown top-level field `{}`",
            extra.chars().take(40).collect::<String>()
        )));
    }
    let case = object
        .get("case")
        .ok_or_else(|| Error::MalformedEvidence("no `case`".into()))?;
    let signature = object
        .get("signature")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::MalformedEvidence("no `signature` string".into()))?;
    let signature: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| Error::MalformedEvidence("signature is not 128 hex digits".into()))?;
    let named = case
        .pointer("/node/public_key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expected = hex::encode(key.as_bytes());
    if !named.eq_ignore_ascii_case(&expected) {
        return Err(Error::EvidenceWrongKey {
            named: named.chars().take(64).collect(),
            expected,
        });
    }
    let bytes = signed_bytes(case)?;
    key.verify_strict(&bytes, &Signature::from_bytes(&signature))
        .map_err(|_| Error::EvidenceSignature)?;
    let case: Case = serde_json::from_value(case.clone())
        .map_err(|err| Error::MalformedEvidence(format!("case: {err}")))?;
    if case.format != FORMAT {
        return Err(Error::MalformedEvidence(format!(
            "format `{}` is not {FORMAT}",
            case.format.chars().take(40).collect::<String>()
        )));
    }
    Ok(case)
}

/// [`DOMAIN`] ‖ canonical JSON of `case`.
fn signed_bytes(case: &Value) -> Result<Vec<u8>> {
    let mut bytes = DOMAIN.to_vec();
    canonical_json(case, &mut bytes)?;
    Ok(bytes)
}

/// Writes `value` in the canonical form of RFC 8785 (JCS) for documents whose numbers are
/// integers in `-(2^53 − 1) ..= 2^53 − 1`: object members sorted by key (by UTF-16 code
/// units, as JCS says; for the ASCII keys of case files that is byte order), no whitespace,
/// strings escaped as ECMAScript's `JSON.stringify` does (which is serde_json's escaping:
/// `\"`, `\\`, `\b \f \n \r \t`, other control characters as `\u00xx`, everything else as
/// UTF-8). Fractions and larger integers are refused ([`Error::MalformedEvidence`]): their JCS
/// form needs ECMAScript number formatting, which no case file needs.
pub fn canonical_json(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => {
            serde_json::to_writer(&mut *out, value).map_err(json_error)?;
        }
        Value::Number(number) => {
            let safe = number.as_u64().is_some_and(|n| n <= MAX_SAFE_INTEGER)
                || number
                    .as_i64()
                    .is_some_and(|n| n.unsigned_abs() <= MAX_SAFE_INTEGER);
            if !safe {
                return Err(Error::MalformedEvidence(format!(
                    "number {number} is not an integer of at most 2^53 - 1"
                )));
            }
            out.extend_from_slice(number.to_string().as_bytes());
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).map_err(json_error)?;
                out.push(b':');
                canonical_json(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn json_error(err: serde_json::Error) -> Error {
    Error::MalformedEvidence(format!("JSON: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposure::{Asset, Direction, ExposurePath, Hop, Untraced};

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn case(key: &SigningKey) -> Case {
        let subject = Address::new(0, [1; 32]);
        let drainer = Address::new(0, [2; 32]);
        Case {
            format: FORMAT.into(),
            subject,
            generated_at: 1_764_633_600,
            node: NodeIdentity {
                public_key: hex::encode(key.verifying_key().as_bytes()),
                signer_index: 0,
                epoch: 1,
                software: "0.1.0".into(),
            },
            policies: Policies {
                scoring: "severity-v1".into(),
                labels: "labels-1-00".into(),
                exposure: vec!["exposure-v1".into()],
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
                name: "x — \"quoted\"\n\u{1}ünïcode".into(),
                first_seen: 1,
                counted: true,
            }],
            override_decision: None,
            exposure: vec![ExposureFinding {
                direction: Direction::Incoming,
                asset: Asset::Ton,
                categories: Categories::DRAINER,
                counterparties: vec![drainer],
                min_hops: 1,
                share_ppm: 500_000,
                value: "1000000000".into(),
                severity: 47,
                policy: "exposure-v1".into(),
                paths: vec![ExposurePath {
                    hops: vec![Hop {
                        from: drainer,
                        to: subject,
                        tx_hash: "ab".repeat(32),
                        lt: 47_000_000_000_001,
                        utime: 1_764_633_000,
                        asset: Asset::Ton,
                        amount: "1000000000".into(),
                    }],
                    share_ppm: 500_000,
                }],
            }],
            exposure_untraced: vec![Untraced {
                direction: Direction::Incoming,
                asset: Asset::Ton,
                share_ppm: 1_250,
                budget_cut: true,
            }],
            history: vec![],
            audit: AuditCoverage {
                entries: 0,
                matched: 0,
                head: "00".repeat(32),
            },
        }
    }

    #[test]
    fn a_signed_case_file_verifies_and_round_trips() {
        let file = CaseFile::sign(case(&key()), &key()).unwrap();
        let text = file.to_json().unwrap();
        assert_eq!(verify(&text, &key().verifying_key()).unwrap(), file.case);
        // Whitespace and member order are not part of what is signed.
        let compact =
            serde_json::to_string(&serde_json::from_str::<Value>(&text).unwrap()).unwrap();
        verify(&compact, &key().verifying_key()).unwrap();
    }

    #[test]
    fn a_case_file_without_untraced_shares_still_verifies() {
        // Nodes before exposure-v2 wrote no `exposure_untraced`: their signed files stay valid.
        let mut old = case(&key());
        old.exposure_untraced.clear();
        let text = CaseFile::sign(old.clone(), &key())
            .unwrap()
            .to_json()
            .unwrap();
        assert!(!text.contains("exposure_untraced"), "{text}");
        assert_eq!(verify(&text, &key().verifying_key()).unwrap(), old);
        // And the untraced share is covered by the signature like the rest.
        let text = CaseFile::sign(case(&key()), &key())
            .unwrap()
            .to_json()
            .unwrap();
        let tampered = text.replace("\"share_ppm\": 1250", "\"share_ppm\": 0");
        assert_ne!(tampered, text);
        assert_eq!(
            verify(&tampered, &key().verifying_key()),
            Err(Error::EvidenceSignature)
        );
    }

    #[test]
    fn a_tampered_case_file_is_refused() {
        let text = CaseFile::sign(case(&key()), &key())
            .unwrap()
            .to_json()
            .unwrap();
        let tampered = text.replace("\"score\": 85", "\"score\": 5");
        assert_ne!(tampered, text);
        assert_eq!(
            verify(&tampered, &key().verifying_key()),
            Err(Error::EvidenceSignature)
        );
        // A field added to the case is covered too.
        let mut value: Value = serde_json::from_str(&text).unwrap();
        value["case"]["note"] = "added".into();
        assert_eq!(
            verify(&value.to_string(), &key().verifying_key()),
            Err(Error::EvidenceSignature)
        );
    }

    #[test]
    fn a_case_file_checked_under_another_key_is_refused() {
        let text = CaseFile::sign(case(&key()), &key())
            .unwrap()
            .to_json()
            .unwrap();
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(matches!(
            verify(&text, &other),
            Err(Error::EvidenceWrongKey { .. })
        ));
        // Renaming the key in the file to the other one does not help: the signature fails.
        let renamed = text.replace(
            &hex::encode(key().verifying_key().as_bytes()),
            &hex::encode(other.as_bytes()),
        );
        assert_eq!(verify(&renamed, &other), Err(Error::EvidenceSignature));
    }

    #[test]
    fn malformed_files_get_a_typed_error() {
        let k = key().verifying_key();
        for text in [
            "",
            "[]",
            r#"{"case": {}}"#,
            r#"{"case": {}, "signature": "zz"}"#,
        ] {
            assert!(
                matches!(verify(text, &k), Err(Error::MalformedEvidence(_))),
                "{text}"
            );
        }
        let text = CaseFile::sign(case(&key()), &key())
            .unwrap()
            .to_json()
            .unwrap();
        let mut value: Value = serde_json::from_str(&text).unwrap();
        value["extra"] = 1.into();
        assert!(matches!(
            verify(&value.to_string(), &k),
            Err(Error::MalformedEvidence(_))
        ));
    }

    #[test]
    fn canonical_json_sorts_keys_escapes_like_jcs_and_refuses_unsafe_numbers() {
        let value: Value = serde_json::from_str(
            r#"{"b": [1, -2, "\u0001\n\"é"], "a": {"y": null, "x": true}, "": 0}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        canonical_json(&value, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"\":0,\"a\":{\"x\":true,\"y\":null},\"b\":[1,-2,\"\\u0001\\n\\\"é\"]}"
        );
        for unsafe_number in ["1.5", "9007199254740992", "-9007199254740992"] {
            let value: Value = serde_json::from_str(unsafe_number).unwrap();
            assert!(
                canonical_json(&value, &mut Vec::new()).is_err(),
                "{unsafe_number}"
            );
        }
    }
}
