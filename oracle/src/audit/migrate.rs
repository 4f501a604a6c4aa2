//! Moving an audit log kept in sled (the node before audit format 1) into the log files.
//!
//! The old log is the sled tree `audit`: key seq (u64 BE), value the entry's JSON, chained by
//! SHA-256 of those JSON bytes. Migration first verifies that chain completely (every link and
//! signature); a broken old log is refused, never converted. It then writes the entries, with
//! their seqs, times, requests, judgements and signatures, as format-1 records (re-chained over
//! the new bytes) to `log.migrating`, fsyncs it, renames it to `log`, writes the anchor, keeps
//! the old entries verbatim in `legacy-sled-audit.jsonl` (fsynced) — the signed JSON as it was —
//! and only then drops the sled tree. A crash at any point leaves either the old tree (and the
//! migration runs again) or the new log with the tree still there (the tree is then dropped).

use std::io::Write as _;
use std::path::Path;

use serde::Deserialize;
use tollgate_sdk::Attestation;

use super::anchor::{write_atomically, Anchor};
use super::format::{
    entry_hash, frame, AuditRecord, Entry, EvidenceRecord, JudgementRecord, Kind, FILE_HEADER,
    GENESIS,
};
use super::log::log_path;
use crate::error::{Error, Result};
use crate::store::SledStore;

/// File that keeps the migrated sled entries verbatim.
pub const LEGACY_EXPORT: &str = "legacy-sled-audit.jsonl";

/// An entry as the sled log stored it.
#[derive(Deserialize)]
struct OldEntry {
    seq: u64,
    prev_hash: String,
    recorded_at: u64,
    kind: String,
    #[serde(default)]
    request: serde_json::Value,
    attestation: Attestation,
    hash: String,
    #[serde(default)]
    judgement: serde_json::Value,
    policy_version: String,
    signer_index: u8,
    public_key: String,
    signature: String,
}

#[derive(Deserialize)]
struct OldEvidence {
    kind: String,
    source: String,
    #[serde(default)]
    categories: Vec<String>,
    severity: u8,
    name: String,
    since: u64,
    counted: bool,
}

/// What a migration did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// Entries moved.
    pub entries: u64,
}

/// Migrates the sled-held log of `store` into `dir`, if there is one; `None` when there was
/// nothing to migrate. Refuses when the old chain does not verify, or when `dir` already holds
/// a log with entries that the old tree would not be the source of.
pub fn from_sled(
    store: &SledStore,
    dir: &Path,
    key: &ed25519_dalek::SigningKey,
) -> Result<Option<Migrated>> {
    let old = store.legacy_audit()?;
    if old.is_empty() {
        return Ok(None);
    }
    std::fs::create_dir_all(dir)?;
    let path = log_path(dir);
    if path.exists() {
        // A migration that finished writing but crashed before dropping the tree: the log must
        // hold exactly the old entries.
        let scan = super::log::scan(&path, None, |_, _| Ok(()))?;
        if scan.entries == old.len() as u64 {
            store.drop_legacy_audit()?;
            return Ok(Some(Migrated {
                entries: scan.entries,
            }));
        }
        return Err(Error::AuditBroken {
            seq: 0,
            reason: format!(
                "the store holds an old (sled) audit log of {} entries and {} holds another log of {} entries: move one of them away and start again",
                old.len(),
                path.display(),
                scan.entries
            ),
        });
    }
    let mut bytes = FILE_HEADER.to_vec();
    let mut export = Vec::new();
    let (mut old_prev, mut new_prev) = (GENESIS, GENESIS);
    let mut payload = Vec::new();
    for (n, (seq, json)) in old.iter().enumerate() {
        let broken = |reason: String| Error::AuditBroken {
            seq: *seq,
            reason: format!("old (sled) log: {reason}; not migrated"),
        };
        if *seq != n as u64 {
            return Err(broken(format!("missing entry {n}")));
        }
        let entry: OldEntry =
            serde_json::from_slice(json).map_err(|err| broken(format!("unreadable: {err}")))?;
        if entry.seq != *seq || entry.prev_hash != hex::encode(old_prev) {
            return Err(broken("broken link".into()));
        }
        let record = convert(&entry).map_err(broken)?;
        if hex::encode(record.attestation.hash()?) != entry.hash {
            return Err(broken(
                "recorded hash does not match the attestation".into(),
            ));
        }
        super::check_signature(&record).map_err(broken)?;
        old_prev = entry_hash(json);
        payload.clear();
        Entry {
            seq: *seq,
            prev_hash: new_prev,
            recorded_at: entry.recorded_at,
            record,
        }
        .encode(&mut payload);
        new_prev = entry_hash(&payload);
        frame(&payload, &mut bytes);
        export.extend_from_slice(json);
        export.push(b'\n');
    }
    let io = |err: std::io::Error| Error::AuditUnavailable(format!("migration: {err}"));
    write_atomically(dir, super::log::LOG_FILE, &bytes).map_err(io)?;
    Anchor::write(dir, old.len() as u64, &new_prev, key)?;
    {
        let mut file = std::fs::File::create(dir.join(LEGACY_EXPORT)).map_err(io)?;
        file.write_all(&export).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    store.drop_legacy_audit()?;
    tracing::warn!(
        entries = old.len(),
        "migrated the audit log from sled into {} (old entries kept in {LEGACY_EXPORT})",
        path.display()
    );
    Ok(Some(Migrated {
        entries: old.len() as u64,
    }))
}

fn convert(old: &OldEntry) -> std::result::Result<AuditRecord, String> {
    let kind = match old.kind.as_str() {
        "attest" => Kind::Attest,
        "cosign" => Kind::Cosign,
        other => return Err(format!("unknown kind {other}")),
    };
    let ttl_requested = match kind {
        Kind::Attest => old
            .request
            .get("ttl_secs")
            .and_then(|v| v.as_u64())
            .and_then(|v| u32::try_from(v).ok()),
        Kind::Cosign => None,
    };
    let evidence: Vec<OldEvidence> = match old.judgement.get("evidence") {
        Some(value) => {
            serde_json::from_value(value.clone()).map_err(|err| format!("evidence: {err}"))?
        }
        None => Vec::new(),
    };
    let judgement = JudgementRecord {
        score: old
            .judgement
            .get("score")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u8,
        categories: old
            .judgement
            .get("categories_mask")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32,
        evidence: evidence
            .into_iter()
            .map(|e| EvidenceRecord {
                kind: e.kind,
                source: e.source,
                categories: e
                    .categories
                    .iter()
                    .filter_map(|name| tollgate_sdk::Categories::from_name(name))
                    .fold(0, |mask, c| mask | c.0),
                severity: e.severity,
                name: e.name,
                since: e.since,
                counted: e.counted,
            })
            .collect(),
    };
    let public_key = hex::decode(&old.public_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or("public key is not 32 bytes of hex")?;
    let signature = hex::decode(&old.signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or("signature is not 64 bytes of hex")?;
    Ok(AuditRecord {
        kind,
        ttl_requested,
        attestation: old.attestation,
        judgement,
        policy_version: old.policy_version.clone(),
        signer_index: old.signer_index,
        public_key,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::format::tests::record;
    use serde_json::json;

    /// Entries as the node before format 1 wrote them into sled.
    fn legacy_entries(n: u64) -> Vec<Vec<u8>> {
        let mut prev = GENESIS;
        (0..n)
            .map(|seq| {
                let r = record(seq);
                let bytes = serde_json::to_vec(&json!({
                    "seq": seq,
                    "prev_hash": hex::encode(prev),
                    "recorded_at": 1000 + seq,
                    "kind": "attest",
                    "request": { "subject": "x", "verifier": "y", "network": "testnet", "ttl_secs": 600 },
                    "attestation": r.attestation,
                    "boc": r.attestation.to_boc_base64().unwrap(),
                    "hash": hex::encode(r.attestation.hash().unwrap()),
                    "judgement": { "score": 10, "categories_mask": 1u32 << 13, "evidence": [
                        { "kind": "label", "source": "ton-assets/custodians", "categories": ["exchange"],
                          "severity": 5, "name": "X", "since": 77, "counted": true } ] },
                    "policy_version": "severity-v1;labels-3",
                    "signer_index": 0,
                    "public_key": hex::encode(r.public_key),
                    "signature": hex::encode(r.signature),
                }))
                .unwrap();
                prev = entry_hash(&bytes);
                bytes
            })
            .collect()
    }

    fn legacy_store(path: &Path, entries: &[Vec<u8>]) {
        let db = sled::open(path).unwrap();
        let tree = db.open_tree("audit").unwrap();
        for (seq, bytes) in entries.iter().enumerate() {
            tree.insert((seq as u64).to_be_bytes(), bytes.as_slice())
                .unwrap();
        }
        db.flush().unwrap();
    }

    /// Opens the store, retrying: an open right after the raw sled handle above dropped failed
    /// once under a loaded machine (sled's background flusher may still hold the files).
    fn open_store(path: &Path) -> SledStore {
        for _ in 0..100 {
            if let Ok(store) = SledStore::open(path) {
                return store;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        SledStore::open(path).unwrap()
    }

    #[test]
    fn a_sled_log_moves_into_the_files_with_its_signatures_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store_path, audit_dir) = (dir.path().join("store"), dir.path().join("audit"));
        let entries = legacy_entries(5);
        legacy_store(&store_path, &entries);
        let key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
        let store = open_store(&store_path);
        assert_eq!(
            from_sled(&store, &audit_dir, &key).unwrap(),
            Some(Migrated { entries: 5 })
        );
        assert!(store.legacy_audit().unwrap().is_empty());
        assert_eq!(from_sled(&store, &audit_dir, &key).unwrap(), None, "once");
        let report =
            crate::audit::verify_dir(&audit_dir, Some(key.verifying_key().to_bytes())).unwrap();
        assert_eq!((report.entries, report.anchored), (5, 5));
        let mut migrated = Vec::new();
        crate::audit::log::scan(&log_path(&audit_dir), None, |e, _| {
            migrated.push(e.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(migrated[4].recorded_at, 1004);
        assert_eq!(migrated[4].record.ttl_requested, Some(600));
        assert_eq!(
            migrated[4].record.judgement.evidence[0].categories,
            tollgate_sdk::Categories::EXCHANGE.0
        );
        assert_eq!(migrated[4].record.policy_version, "severity-v1;labels-3");
        // The old JSON is kept verbatim.
        let export = std::fs::read(audit_dir.join(LEGACY_EXPORT)).unwrap();
        assert_eq!(
            export.split(|b| *b == b'\n').next().unwrap(),
            entries[0].as_slice()
        );
    }

    #[test]
    fn a_broken_sled_log_is_refused_not_converted() {
        let dir = tempfile::tempdir().unwrap();
        let (store_path, audit_dir) = (dir.path().join("store"), dir.path().join("audit"));
        let mut entries = legacy_entries(4);
        entries[2] = String::from_utf8(entries[2].clone())
            .unwrap()
            .replace("\"risk\":10", "\"risk\":0")
            .into_bytes();
        legacy_store(&store_path, &entries);
        let store = open_store(&store_path);
        let key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
        let err = from_sled(&store, &audit_dir, &key).unwrap_err();
        assert!(matches!(err, Error::AuditBroken { seq: 2, .. }), "{err}");
        assert!(!log_path(&audit_dir).exists());
        assert_eq!(
            store.legacy_audit().unwrap().len(),
            4,
            "the old log is kept"
        );
    }
}
