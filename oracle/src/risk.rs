//! The risk engine: from labels and overrides to a score, a level, categories and evidence.
//!
//! # Scoring (policy `severity-v1`)
//!
//! Each category has a severity ([`severity`]); an address scores the highest severity among
//! its labels' categories (0 without labels). Levels follow KYT vendors' four bands:
//! `low` < 25 ≤ `medium` < 50 ≤ `high` < 75 ≤ `severe`.
//!
//! An active override wins: `deny` scores 100 (severe) with the labels' categories plus the
//! override's; `allow` scores 0 (low) with only the override's categories. Expired overrides are
//! ignored (and shown in neither score nor evidence).
//!
//! Exposure through transaction hops comes from an [`ExposureSource`]; its findings are merged
//! like labels, with the severity the source reports (already decayed).

use std::sync::Arc;

use serde::Serialize;
use tollgate_sdk::exposure::{Direction, ExposureFinding, Untraced};
use tollgate_sdk::{Address, Categories};

use crate::error::Result;
use crate::store::{LabelsVersion, Override, OverrideAction, Store};

/// The policy version recorded with every judgement (in API answers and the audit log).
pub const POLICY_VERSION: &str = "severity-v1";

/// Severity (0–100) of one category. Entity types (exchange, bridge, DeFi, infrastructure) carry
/// little risk by themselves; named risks carry most.
pub fn severity(category: Categories) -> u8 {
    match category {
        c if c == Categories::SANCTIONS => 100,
        c if c == Categories::TERRORIST_FINANCING => 100,
        c if c == Categories::RANSOMWARE => 95,
        c if c == Categories::DRAINER => 95,
        c if c == Categories::DARKNET_MARKET => 90,
        c if c == Categories::SCAM => 85,
        c if c == Categories::PHISHING => 85,
        c if c == Categories::STOLEN_FUNDS => 80,
        c if c == Categories::MIXER => 75,
        c if c == Categories::IMPERSONATION => 70,
        c if c == Categories::HIGH_RISK_EXCHANGE => 55,
        c if c == Categories::GAMBLING => 40,
        c if c == Categories::BRIDGE => 10,
        c if c == Categories::EXCHANGE => 5,
        c if c == Categories::DEFI => 5,
        c if c == Categories::INFRASTRUCTURE => 0,
        // Reserved bits: unknown meaning, so treat as a medium risk rather than none.
        _ => 50,
    }
}

/// The highest severity of any category in the set (0 for the empty set).
pub fn max_severity(categories: Categories) -> u8 {
    (0..32)
        .filter(|bit| categories.0 & (1 << bit) != 0)
        .map(|bit| severity(Categories(1 << bit)))
        .max()
        .unwrap_or(0)
}

/// KYT-style risk level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Score below 25.
    Low,
    /// Score 25–49.
    Medium,
    /// Score 50–74.
    High,
    /// Score 75 and above.
    Severe,
}

impl Level {
    /// The level of a score.
    pub fn of(score: u8) -> Level {
        match score {
            0..25 => Level::Low,
            25..50 => Level::Medium,
            50..75 => Level::High,
            _ => Level::Severe,
        }
    }
}

/// One piece of evidence behind a judgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    /// `label`, `override` or `exposure`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// Where it comes from (list and file, override author, exposure source).
    pub source: String,
    /// Categories it contributes (names).
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<&'static str>,
    /// Its severity.
    pub severity: u8,
    /// The name the source gives the address, or the override's reason.
    pub name: String,
    /// Unix seconds when first seen (labels) or decided (overrides).
    pub since: u64,
    /// Whether it counted: labels are shown but not counted under an `allow` override.
    pub counted: bool,
}

/// The node's judgement of an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Assessment {
    /// The address, raw form.
    #[schema(value_type = String)]
    pub address: Address,
    /// 0–100.
    pub score: u8,
    /// The score's band.
    pub level: Level,
    /// Category names.
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<&'static str>,
    /// The same categories as the SPEC.md §3 bitmask.
    pub categories_mask: u32,
    /// What the judgement rests on.
    pub evidence: Vec<Evidence>,
    /// The scoring policy used.
    #[schema(value_type = String)]
    pub policy_version: &'static str,
    /// The label set the labels were read from (recorded in the audit log's `policy_version`).
    #[serde(skip)]
    pub labels_version: LabelsVersion,
    /// The exposure policy and transfer data the exposure findings came from (e.g.
    /// `exposure-v2@1234`); absent on a node without transaction data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure_version: Option<String>,
    /// The exposure findings behind the `exposure` evidence, with their transfer paths.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub exposure: Vec<ExposureFinding>,
    /// What the exposure traces could not follow, per direction and asset traced (SPEC.md
    /// §15.2): pruned value and what the node's work budget cut.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub exposure_untraced: Vec<Untraced>,
}

impl Assessment {
    /// The policy versions the audit log records: scoring, label set and, with transaction
    /// data, exposure (`severity-v1;labels-…;exposure-v2@N`).
    pub fn audit_policy_version(&self) -> String {
        let exposure = self.exposure_version.as_deref();
        let mut text = String::with_capacity(
            self.policy_version.len()
                + LabelsVersion::TEXT_MAX
                + exposure.map_or(0, |version| version.len() + 2),
        );
        text.push_str(self.policy_version);
        text.push(';');
        self.labels_version.push_to(&mut text);
        if let Some(exposure) = exposure {
            text.push(';');
            text.push_str(exposure);
        }
        text
    }
}

impl Assessment {
    /// The categories as a set.
    pub fn category_set(&self) -> Categories {
        Categories(self.categories_mask)
    }
}

/// Where exposure findings come from. Without transaction data ([`NoExposure`]) there are none.
///
/// Findings use the sdk's wire type ([`ExposureFinding`]) because they travel as they are into
/// API answers and evidence case files.
pub trait ExposureSource: Send + Sync + 'static {
    /// Exposure findings for an address.
    fn exposure(&self, address: &Address) -> Result<Vec<ExposureFinding>>;

    /// [`ExposureSource::exposure`] with what the traces could not follow, per direction and
    /// asset traced; a source that traces nothing reports nothing untraced.
    fn exposure_with_untraced(
        &self,
        address: &Address,
    ) -> Result<(Vec<ExposureFinding>, Vec<Untraced>)> {
        Ok((self.exposure(address)?, Vec::new()))
    }

    /// The exposure policy and the data it read (e.g. `exposure-v2@1234`, 1234 transfers),
    /// recorded with every judgement; `None` without transaction data.
    fn version(&self) -> Option<String> {
        None
    }
}

/// The exposure source of a node without transaction data.
pub struct NoExposure;

impl ExposureSource for NoExposure {
    fn exposure(&self, _: &Address) -> Result<Vec<ExposureFinding>> {
        Ok(Vec::new())
    }
}

/// Judges addresses from the store's labels and overrides.
#[derive(Clone)]
pub struct RiskEngine {
    store: Arc<dyn Store>,
    exposure: Arc<dyn ExposureSource>,
}

impl RiskEngine {
    /// An engine over a store, without exposure data.
    pub fn new(store: Arc<dyn Store>) -> Self {
        RiskEngine {
            store,
            exposure: Arc::new(NoExposure),
        }
    }

    /// An engine with an exposure source.
    pub fn with_exposure(store: Arc<dyn Store>, exposure: Arc<dyn ExposureSource>) -> Self {
        RiskEngine { store, exposure }
    }

    /// Judges an address at unix time `now` (overrides expire).
    pub fn assess(&self, address: &Address, now: u64) -> Result<Assessment> {
        self.judge(address, now)
    }

    /// [`RiskEngine::assess`], with the exposure findings the judgement used (paths and all),
    /// for evidence case files.
    pub fn assess_with_findings(
        &self,
        address: &Address,
        now: u64,
    ) -> Result<(Assessment, Vec<ExposureFinding>)> {
        let assessment = self.judge(address, now)?;
        let findings = assessment.exposure.clone();
        Ok((assessment, findings))
    }

    /// The judgement itself. On the `/v1/risk` and `/v1/screen` path: one store read for the
    /// labels (one record per address), one for the override, typed values only (no JSON
    /// trees), and no copy of the findings unless a case file asks for them.
    fn judge(&self, address: &Address, now: u64) -> Result<Assessment> {
        let mut evidence = Vec::new();
        let mut categories = Categories::NONE;
        let mut score = 0u8;
        let (labels, labels_version) = self.store.labels_snapshot(address)?;
        for label in labels {
            let severity = max_severity(label.categories);
            score = score.max(severity);
            categories |= label.categories;
            evidence.push(Evidence {
                kind: "label",
                source: label.source,
                categories: label.categories.names(),
                severity,
                name: label.name,
                since: label.first_seen,
                counted: true,
            });
        }
        let exposure_version = self.exposure.version();
        let (exposure, exposure_untraced) = self.exposure.exposure_with_untraced(address)?;
        for finding in exposure.iter().cloned() {
            score = score.max(finding.severity);
            categories |= finding.categories;
            evidence.push(Evidence {
                kind: "exposure",
                name: describe(&finding),
                source: finding.policy,
                categories: finding.categories.names(),
                severity: finding.severity,
                since: now,
                counted: true,
            });
        }
        if let Some(decision) = self
            .store
            .override_for(address)?
            .filter(|o| o.is_active(now))
        {
            (score, categories) = apply_override(&decision, categories, &mut evidence);
        }
        Ok(Assessment {
            address: *address,
            score,
            level: Level::of(score),
            categories: categories.names(),
            categories_mask: categories.0,
            evidence,
            policy_version: POLICY_VERSION,
            labels_version,
            exposure_version,
            exposure,
            exposure_untraced,
        })
    }
}

/// One line for an exposure finding, e.g. "incoming 25.00% within 2 hops: drainer".
fn describe(finding: &ExposureFinding) -> String {
    let direction = match finding.direction {
        Direction::Incoming => "incoming",
        Direction::Outgoing => "outgoing",
    };
    format!(
        "{direction} {}.{:02}% within {} hop{}: {}",
        finding.share_ppm / 10_000,
        finding.share_ppm % 10_000 / 100,
        finding.min_hops,
        if finding.min_hops == 1 { "" } else { "s" },
        finding.categories.names().join(", ")
    )
}

fn apply_override(
    decision: &Override,
    labelled: Categories,
    evidence: &mut Vec<Evidence>,
) -> (u8, Categories) {
    let (score, categories) = match decision.action {
        OverrideAction::Deny => (100, labelled | decision.categories),
        OverrideAction::Allow => {
            for item in evidence.iter_mut() {
                item.counted = false;
            }
            (0, decision.categories)
        }
    };
    evidence.push(Evidence {
        kind: "override",
        source: format!("override by {}", decision.author),
        categories: decision.categories.names(),
        severity: score,
        name: decision.reason.clone(),
        since: decision.created_at,
        counted: true,
    });
    (score, categories)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Label, SledStore};

    fn engine_with(labels: &[(Categories, &str)]) -> (RiskEngine, Arc<dyn Store>, Address) {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let address = Address::new(0, [1; 32]);
        for (categories, source) in labels {
            store
                .put_label(&Label {
                    address,
                    categories: *categories,
                    source: source.to_string(),
                    name: "x".into(),
                    first_seen: 1,
                })
                .unwrap();
        }
        (RiskEngine::new(store.clone()), store, address)
    }

    #[test]
    fn the_audit_policy_version_names_scoring_labels_and_exposure() {
        let (engine, _, address) = engine_with(&[(Categories::SCAM, "ton-assets/scammers")]);
        let mut assessment = engine.assess(&address, 10).unwrap();
        let version = assessment.labels_version;
        assert_eq!(version.count, 1);
        let labels = format!("labels-1-{}", hex::encode(version.digest));
        assert_eq!(version.to_string(), labels);
        assert_eq!(
            assessment.audit_policy_version(),
            format!("severity-v1;{labels}")
        );
        assessment.exposure_version = Some("exposure-v2@7".into());
        assert_eq!(
            assessment.audit_policy_version(),
            format!("severity-v1;{labels};exposure-v2@7")
        );
        let widest = LabelsVersion {
            writes: u64::MAX,
            count: u64::MAX,
            digest: [0xff; 32],
        };
        assert_eq!(widest.to_string().len(), LabelsVersion::TEXT_MAX);
    }

    #[test]
    fn levels_follow_the_documented_thresholds() {
        assert_eq!(Level::of(0), Level::Low);
        assert_eq!(Level::of(24), Level::Low);
        assert_eq!(Level::of(25), Level::Medium);
        assert_eq!(Level::of(49), Level::Medium);
        assert_eq!(Level::of(50), Level::High);
        assert_eq!(Level::of(74), Level::High);
        assert_eq!(Level::of(75), Level::Severe);
        assert_eq!(Level::of(100), Level::Severe);
    }

    #[test]
    fn the_worst_label_sets_the_score_and_categories_accumulate() {
        let (engine, _, address) =
            engine_with(&[(Categories::EXCHANGE, "a"), (Categories::SCAM, "b")]);
        let judged = engine.assess(&address, 0).unwrap();
        assert_eq!(judged.score, 85);
        assert_eq!(judged.level, Level::Severe);
        assert_eq!(judged.categories, vec!["scam", "exchange"]);
        assert_eq!(judged.evidence.len(), 2);
    }

    #[test]
    fn unlabelled_addresses_are_low() {
        let (engine, _, _) = engine_with(&[]);
        let judged = engine.assess(&Address::new(0, [9; 32]), 0).unwrap();
        assert_eq!(
            (judged.score, judged.level, judged.categories_mask),
            (0, Level::Low, 0)
        );
    }

    #[test]
    fn overrides_win_until_they_expire() {
        let (engine, store, address) = engine_with(&[(Categories::SCAM, "a")]);
        let allow = Override {
            address,
            action: OverrideAction::Allow,
            categories: Categories::NONE,
            reason: "false positive".into(),
            author: "ops".into(),
            created_at: 5,
            expires_at: Some(100),
        };
        store.put_override(&allow).unwrap();
        let judged = engine.assess(&address, 50).unwrap();
        assert_eq!((judged.score, judged.level), (0, Level::Low));
        assert!(judged
            .evidence
            .iter()
            .any(|e| e.kind == "label" && !e.counted));
        assert_eq!(
            engine.assess(&address, 101).unwrap().score,
            85,
            "expired override is ignored"
        );

        let deny = Override {
            action: OverrideAction::Deny,
            categories: Categories::MIXER,
            expires_at: None,
            ..allow
        };
        store.put_override(&deny).unwrap();
        let judged = engine.assess(&address, 101).unwrap();
        assert_eq!(judged.score, 100);
        assert_eq!(judged.categories, vec!["scam", "mixer"]);
    }
}
