//! Audit entries as JSON, for `GET /v1/audit`: the same fields the log held as JSON before
//! format 1, with the BoC, hash, level and category names recomputed from the record.

use serde_json::{json, Value};
use tollgate_sdk::Categories;

use super::format::Entry;
use crate::error::Result;
use crate::risk::Level;

/// One entry as JSON, with its `entry_hash` (SHA-256 of its stored payload).
pub fn entry_json(entry: &Entry, hash: &[u8; 32]) -> Result<Value> {
    let r = &entry.record;
    let a = &r.attestation;
    let encoded = a.encode()?;
    let boc = encoded.to_boc_base64()?;
    let request = match r.kind {
        super::Kind::Attest => {
            let mut request = json!({
                "subject": a.subject.to_string(),
                "verifier": a.verifier.to_string(),
                "network": a.network.0,
            });
            if let Some(ttl) = r.ttl_requested {
                request["ttl_secs"] = json!(ttl);
            }
            request
        }
        super::Kind::Cosign => json!({ "boc": boc }),
    };
    let evidence: Vec<Value> = r
        .judgement
        .evidence
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind,
                "source": e.source,
                "categories": Categories(e.categories).names(),
                "severity": e.severity,
                "name": e.name,
                "since": e.since,
                "counted": e.counted,
            })
        })
        .collect();
    let policy = r.policy_version.split(';').next().unwrap_or_default();
    Ok(json!({
        "seq": entry.seq,
        "prev_hash": hex::encode(entry.prev_hash),
        "recorded_at": entry.recorded_at,
        "kind": r.kind.name(),
        "request": request,
        "attestation": a,
        "boc": boc,
        "hash": hex::encode(encoded.hash),
        "judgement": {
            "address": a.subject.to_string(),
            "score": r.judgement.score,
            "level": Level::of(r.judgement.score),
            "categories": Categories(r.judgement.categories).names(),
            "categories_mask": r.judgement.categories,
            "evidence": evidence,
            "policy_version": policy,
        },
        "policy_version": r.policy_version,
        "signer_index": r.signer_index,
        "public_key": hex::encode(r.public_key),
        "signature": hex::encode(r.signature),
        "entry_hash": hex::encode(hash),
    }))
}
