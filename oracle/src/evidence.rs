//! Evidence case files (SPEC.md §13): the node's labels, override, exposure findings and
//! signed-judgement history of one address, signed by the node's key. The types and their
//! verification are the sdk's ([`tollgate_sdk::evidence`]); this module gathers the facts.
//!
//! # The history
//!
//! The judgement history comes from a scan of the whole audit log, filtering by subject: the
//! log has no index by subject, and a scan reads every entry once through the log's sparse
//! offset index, a page at a time (`oracle/benches/evidence.rs` measures it). The case keeps the
//! latest [`MAX_HISTORY`] entries and says how many matched.

use std::collections::VecDeque;

use tollgate_sdk::evidence::{
    AuditCoverage, Case, CaseFile, HistoryEntry, Judgement, LabelEvidence, NodeIdentity,
    OverrideEvidence, Policies, FORMAT,
};
use tollgate_sdk::{Address, Categories};

use crate::audit::{AuditLog, Entry, GENESIS};
use crate::error::{Error, Result};
use crate::risk::{Level, RiskEngine, POLICY_VERSION};
use crate::signer::Signer;
use crate::store::{OverrideAction, Store};

/// Most history entries in one case file (the latest are kept).
pub const MAX_HISTORY: usize = 1000;

/// Audit entries read per page while scanning.
const SCAN_PAGE: usize = 1000;

/// What a case file is built from: the node's parts.
pub struct Sources<'a> {
    /// Labels and overrides.
    pub store: &'a dyn Store,
    /// The judgement and its exposure findings.
    pub engine: &'a RiskEngine,
    /// The node's identity and key.
    pub signer: &'a Signer,
    /// The audit log.
    pub audit: &'a AuditLog,
}

/// Builds and signs the case file of `address` at unix time `now`. Blocking (store and file
/// reads).
pub fn case_file(sources: &Sources<'_>, address: &Address, now: u64) -> Result<CaseFile> {
    let (assessment, findings) = sources.engine.assess_with_findings(address, now)?;
    let allowed = sources
        .store
        .override_for(address)?
        .filter(|o| o.is_active(now) && o.action == OverrideAction::Allow)
        .is_some();
    let (labels, _) = sources.store.labels_snapshot(address)?;
    let labels = labels
        .into_iter()
        .map(|label| LabelEvidence {
            source: label.source,
            categories: label.categories,
            name: label.name,
            first_seen: label.first_seen,
            counted: !allowed,
        })
        .collect();
    let override_decision = sources
        .store
        .override_for(address)?
        .map(|o| OverrideEvidence {
            action: match o.action {
                OverrideAction::Allow => "allow".into(),
                OverrideAction::Deny => "deny".into(),
            },
            categories: o.categories,
            reason: o.reason.clone(),
            author: o.author.clone(),
            created_at: o.created_at,
            expires_at: o.expires_at,
            active: o.is_active(now),
        });
    let mut exposure_policies: Vec<String> = findings.iter().map(|f| f.policy.clone()).collect();
    exposure_policies.sort();
    exposure_policies.dedup();
    let (history, audit) = history(sources.audit, address)?;
    let exposure_untraced = assessment.exposure_untraced.clone();
    let case = Case {
        format: FORMAT.into(),
        subject: *address,
        generated_at: now,
        node: NodeIdentity {
            public_key: sources.signer.public_key_hex(),
            signer_index: sources.signer.index,
            epoch: sources.signer.epoch,
            software: env!("CARGO_PKG_VERSION").into(),
        },
        policies: Policies {
            scoring: POLICY_VERSION.into(),
            labels: assessment.labels_version.to_string(),
            exposure: exposure_policies,
        },
        judgement: Judgement {
            score: assessment.score,
            level: level_name(assessment.level).into(),
            categories: Categories(assessment.categories_mask),
            category_names: assessment
                .categories
                .iter()
                .map(|c| c.to_string())
                .collect(),
        },
        labels,
        override_decision,
        exposure: findings,
        exposure_untraced,
        history,
        audit,
    };
    // The anchor key is the node's signing key; the case file's domain prefix keeps this
    // signature apart from attestations and anchors (SPEC.md §13).
    Ok(CaseFile::sign(case, &sources.signer.anchor_key())?)
}

/// The level's name as the API writes it.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
        Level::Severe => "severe",
    }
}

/// Every audit entry about `subject` (the latest [`MAX_HISTORY`]), by a scan of the whole log.
pub fn history(audit: &AuditLog, subject: &Address) -> Result<(Vec<HistoryEntry>, AuditCoverage)> {
    let mut kept = VecDeque::new();
    let (mut entries, mut matched, mut head) = (0u64, 0u64, GENESIS);
    let mut after = None;
    loop {
        let page = audit.page(after, SCAN_PAGE)?;
        let Some((last, last_hash)) = page.last() else {
            break;
        };
        after = Some(last.seq);
        head = *last_hash;
        entries = last.seq + 1;
        for (entry, hash) in &page {
            if entry.record.attestation.subject == *subject {
                matched += 1;
                if kept.len() == MAX_HISTORY {
                    kept.pop_front();
                }
                kept.push_back(history_entry(entry, hash)?);
            }
        }
        if page.len() < SCAN_PAGE {
            break;
        }
    }
    Ok((
        kept.into(),
        AuditCoverage {
            entries,
            matched,
            head: hex::encode(head),
        },
    ))
}

fn history_entry(entry: &Entry, hash: &[u8; 32]) -> Result<HistoryEntry> {
    let r = &entry.record;
    let a = &r.attestation;
    let encoded = a
        .encode()
        .map_err(|err| Error::Store(format!("audit entry {}: {err}", entry.seq)))?;
    Ok(HistoryEntry {
        seq: entry.seq,
        entry_hash: hex::encode(hash),
        recorded_at: entry.recorded_at,
        kind: r.kind.name().into(),
        risk: a.risk,
        categories: a.categories,
        score: r.judgement.score,
        judged_categories: Categories(r.judgement.categories),
        policy_version: r.policy_version.clone(),
        verifier: a.verifier,
        network: a.network.0,
        valid_until: a.valid_until,
        attestation_hash: hex::encode(encoded.hash),
    })
}
