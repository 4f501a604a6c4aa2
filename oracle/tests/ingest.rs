//! Ingest of the real lists in ../shared/data: counts per category match the files, a scammer
//! scores severe and a custodian low, and ingesting twice changes nothing.

use std::collections::BTreeMap;

use indicatif::ProgressBar;
use std::sync::Arc;
use tollgate_oracle::ingest::{self, ofac, ton_assets};
use tollgate_oracle::risk::{Level, RiskEngine};
use tollgate_oracle::store::SledStore;

use crate::support::*;

/// The category each ton-assets file maps to (as documented in `ingest/ton_assets.rs`).
const FILE_CATEGORY: &[(&str, &str)] = &[
    ("bridges", "bridge"),
    ("celebrities", "none"),
    ("custodians", "exchange"),
    ("dapps", "none"),
    ("defi", "defi"),
    ("givers", "infrastructure"),
    ("infrastructure", "infrastructure"),
    ("notcoin", "none"),
    ("scammers", "scam"),
    ("ston", "defi"),
    ("validators", "infrastructure"),
];

/// Entries per category counted straight from the files' text, independently of the parser.
fn expected_ton_assets_counts() -> BTreeMap<String, u64> {
    let mut expected = BTreeMap::new();
    for (file, category) in FILE_CATEGORY {
        let text = std::fs::read_to_string(
            shared_data()
                .join("ton-assets")
                .join(format!("{file}.yaml")),
        )
        .unwrap();
        let entries = text
            .lines()
            .filter(|line| {
                line.trim_start_matches("- ")
                    .trim_start()
                    .starts_with("address:")
            })
            .count();
        *expected.entry(category.to_string()).or_default() += entries as u64;
    }
    expected
}

#[test]
fn ton_assets_counts_per_category_match_the_files() {
    let parsed = ton_assets::parse_dir(&shared_data().join("ton-assets")).unwrap();
    assert!(parsed.refused.is_empty(), "{:?}", parsed.refused);
    let store = SledStore::temporary().unwrap();
    let summary = ingest::apply(&store, parsed, 1, &ProgressBar::hidden()).unwrap();
    assert_eq!(summary.per_category, expected_ton_assets_counts());
    // validators.yaml lists one address twice under two names: the second is a refused duplicate.
    assert!(
        summary
            .refused
            .iter()
            .all(|r| r.reason.starts_with("duplicate of validators.yaml:")),
        "{:?}",
        summary.refused
    );
    let rows: u64 = summary.per_category.values().sum::<u64>() - summary.refused.len() as u64;
    assert_eq!(
        (summary.added, summary.changed, summary.unchanged),
        (rows, 0, 0)
    );

    let again = ingest::apply(
        &store,
        ton_assets::parse_dir(&shared_data().join("ton-assets")).unwrap(),
        2,
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(
        (again.added, again.changed, again.unchanged),
        (0, 0, rows),
        "idempotent"
    );

    let engine = RiskEngine::new(Arc::new(store));
    let scammer = engine.assess(&SCAMMER.parse().unwrap(), 3).unwrap();
    assert_eq!(scammer.level, Level::Severe);
    assert!(scammer.score >= 75);
    let custodian = engine.assess(&CUSTODIAN.parse().unwrap(), 3).unwrap();
    assert_eq!(custodian.level, Level::Low);
    assert_eq!(custodian.categories, vec!["exchange"]);
    // A public figure's real account is not risky.
    let celebrity = engine
        .assess(
            &"EQCR1zBW4DUjLwmq-CQqHVHuqYtqW-u_isDJ5SHQKhpL2wQV"
                .parse()
                .unwrap(),
            3,
        )
        .unwrap();
    assert_eq!(
        (
            celebrity.score,
            celebrity.categories.len(),
            celebrity.evidence.len()
        ),
        (0, 0, 1)
    );
}

#[test]
fn every_ofac_entry_is_accounted_for_and_other_chains_are_refused() {
    let dir = shared_data().join("ofac");
    let parsed = ofac::parse_dir(&dir).unwrap();
    let mut expected = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let Some(asset) = ofac::asset_of(&name) else {
            continue;
        };
        let list: Vec<String> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        expected.insert(format!("not a TON address ({asset})"), list.len());
    }
    let store = SledStore::temporary().unwrap();
    let summary = ingest::apply(&store, parsed, 1, &ProgressBar::hidden()).unwrap();
    let refused: BTreeMap<String, usize> = summary
        .refused_by_reason()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(refused, expected);
    assert!(
        summary.refused.iter().all(|r| r.line >= 2),
        "line numbers point into the files"
    );
    assert_eq!(
        summary.added, 0,
        "no TON addresses in the OFAC lists as of 2024-09-27"
    );
}

#[test]
fn the_bundled_data_is_the_shared_data() {
    for (file, text) in ingest::bundled::TON_ASSETS {
        assert_eq!(
            *text,
            std::fs::read_to_string(shared_data().join("ton-assets").join(file)).unwrap(),
            "{file}"
        );
    }
    for (file, text) in ingest::bundled::OFAC {
        assert_eq!(
            *text,
            std::fs::read_to_string(shared_data().join("ofac").join(file)).unwrap(),
            "{file}"
        );
    }
    let files = std::fs::read_dir(shared_data().join("ton-assets"))
        .unwrap()
        .count();
    assert_eq!(
        files,
        ingest::bundled::TON_ASSETS.len(),
        "a new list upstream is bundled deliberately"
    );
}
