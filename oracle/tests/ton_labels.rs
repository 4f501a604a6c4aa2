//! The ton-labels importer over the real dataset (`../shared/data/ton-labels`, or the bundled
//! copy): every address accounted for, categories as `ingest/ton_labels.rs` documents, scammers
//! severe, exchanges low and services, games neither gambling nor risky.

use std::collections::BTreeMap;
use std::sync::Arc;

use indicatif::ProgressBar;
use tollgate_oracle::ingest::{self, ton_labels};
use tollgate_oracle::risk::{Level, RiskEngine};
use tollgate_oracle::store::{SledStore, Store};
use tollgate_sdk::Categories;

use crate::support::*;

/// Our category name for a ton-labels category, restated from the module's table (so a change
/// of the mapping in code without its documentation fails here).
fn documented(category: &str, subcategory: &str) -> &'static str {
    match category {
        "scammer" if subcategory == "drainer" => "drainer",
        "scammer" => "scam",
        "CEX" => "exchange",
        "DEX" | "lending" | "liquid-staking" | "defi" | "tradingbot" => "defi",
        "bridge" => "bridge",
        "validator" | "infrastructure" => "infrastructure",
        "wallet" | "gaming" | "merchant" | "ads" | "fund" | "person" | "scripted-activity"
        | "other" => "none",
        other => panic!("category {other} is not documented"),
    }
}

fn dataset() -> std::path::PathBuf {
    shared_data().join("ton-labels")
}

/// Addresses per our category, read from the files with serde_json, independently of the parser.
fn expected_counts() -> BTreeMap<String, u64> {
    let mut expected = BTreeMap::new();
    for dir in std::fs::read_dir(dataset().join("assets")).unwrap() {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(file.unwrap().path()).unwrap())
                    .unwrap();
            let meta = &json["metadata"];
            let ours = documented(
                meta["category"].as_str().unwrap(),
                meta["subcategory"].as_str().unwrap_or(""),
            );
            let n = json["addresses"].as_array().unwrap().len() as u64;
            *expected.entry(ours.to_string()).or_default() += n;
        }
    }
    expected
}

#[test]
fn every_address_of_the_dataset_is_ingested_with_its_documented_category() {
    let parsed = ton_labels::parse_dir(&dataset()).unwrap();
    assert!(
        parsed.refused.is_empty(),
        "{:?}",
        &parsed.refused[..3.min(parsed.refused.len())]
    );
    let rows = parsed.rows.len() as u64;
    assert!(rows > 3_400, "about 3,500 addresses, got {rows}");
    let store = SledStore::temporary().unwrap();
    let summary = ingest::apply(&store, parsed, 1, &ProgressBar::hidden()).unwrap();
    assert_eq!(summary.per_category, expected_counts());
    assert_eq!((summary.added, summary.changed), (rows, 0));
    let again = ingest::apply(
        &store,
        ton_labels::parse_dir(&dataset()).unwrap(),
        2,
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!((again.added, again.unchanged), (0, rows), "idempotent");
}

#[test]
fn scammers_are_severe_exchanges_are_low_services_and_games_are_not_gambling() {
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    ingest::apply(
        store.as_ref(),
        ingest::bundled::parse_ton_labels(),
        1,
        &ProgressBar::hidden(),
    )
    .unwrap();
    let engine = RiskEngine::new(store.clone());
    // From assets/scammer/address_poisoning.json.
    let poisoner = "EQDigSXCS4OI_BnSe3WHhbmx5e6yB17krSgYdkwg9etO4ZMM"
        .parse()
        .unwrap();
    let judged = engine.assess(&poisoner, 2).unwrap();
    assert_eq!(
        (judged.level, judged.categories.clone()),
        (Level::Severe, vec!["scam"])
    );
    assert!(judged.evidence[0].source.starts_with("ton-labels/scammer/"));
    assert!(!ton_labels::address_is_service(
        &store.labels_for(&poisoner).unwrap()
    ));

    let first_address = |dir: &str| -> tollgate_sdk::Address {
        let (_, text) = ingest::bundled::ton_labels_files()
            .into_iter()
            .find(|(file, _)| file.starts_with(&format!("assets/{dir}/")))
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        json["addresses"][0]["address"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let exchange = first_address("cex");
    let judged = engine.assess(&exchange, 2).unwrap();
    assert_eq!(judged.level, Level::Low);
    assert!(judged.category_set().contains(Categories::EXCHANGE));
    assert!(ton_labels::address_is_service(
        &store.labels_for(&exchange).unwrap()
    ));

    let game = first_address("gaming");
    let judged = engine.assess(&game, 2).unwrap();
    assert!(
        !judged.category_set().contains(Categories::GAMBLING),
        "games are not gambling"
    );
    assert_eq!(judged.level, Level::Low);
    assert!(ton_labels::address_is_service(
        &store.labels_for(&game).unwrap()
    ));
}

#[test]
fn the_bundled_ton_labels_are_the_shared_dataset() {
    let bundled = ingest::bundled::ton_labels_files();
    let mut on_disk = 0;
    for dir in std::fs::read_dir(dataset().join("assets")).unwrap() {
        on_disk += std::fs::read_dir(dir.unwrap().path()).unwrap().count();
    }
    assert_eq!(bundled.len(), on_disk, "every file is bundled");
    for (file, text) in &bundled {
        assert_eq!(
            *text,
            std::fs::read_to_string(dataset().join(file)).unwrap(),
            "{file}"
        );
    }
}
