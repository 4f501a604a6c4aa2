//! KYT: recorded toncenter pages, the generated graph's ground truth, the node's judgement and
//! audit entries with exposure, the follower against a local server serving recorded pages.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get as route_get;
use axum::Router;
use serde_json::{json, Value};
use tollgate_oracle::config::Config;
use tollgate_oracle::exposure::follower::{Follower, Options};
use tollgate_oracle::exposure::generate::{self, pages, Generated, Shape};
use tollgate_oracle::exposure::ingest::{self, PageKind};
use tollgate_oracle::exposure::{ExposureEngine, Policy, TransferStore};
use tollgate_oracle::store::{Label, Store};
use tollgate_oracle::Error;
use tollgate_sdk::exposure::{Asset, Direction, ExposureFinding};
use tollgate_sdk::{Address, Categories};

use crate::support::{self, admin_get, get, post};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toncenter").join(name)
}

fn tag(t: &str) -> Address {
    use sha2::Digest as _;
    Address::new(0, sha2::Sha256::digest(t.as_bytes()).into())
}

#[test]
fn recorded_pages_move_value_as_tons_rules_say() {
    let store = TransferStore::in_memory();
    let s = ingest::ingest_files(&store, &[fixture("transactions.json")], PageKind::Transactions)
        .unwrap();
    assert_eq!((s.records, s.added), (6, 2), "{s}");
    for skip in ["NoInternalMessage", "Bounced", "BounceReturn", "JettonGas"] {
        assert_eq!(s.skipped.get(skip), Some(&1), "{skip}: {s}");
    }
    let j = ingest::ingest_files(&store, &[fixture("jetton_transfers.json")], PageKind::JettonTransfers)
        .unwrap();
    assert_eq!((j.records, j.added, j.skipped.get("Aborted")), (3, 2, Some(&1)));
    // The same records as JSON lines are the same transfers: nothing new.
    let again = ingest::ingest_files(&store, &[fixture("jetton_transfers.jsonl")], PageKind::JettonTransfers)
        .unwrap();
    assert_eq!((again.added, again.duplicates), (0, 2));

    let g = store.graph();
    let edges: Vec<_> = (0..g.edge_count() as u32).map(|e| *g.edge(e)).collect();
    let find = |from: &str, to: &str| {
        edges
            .iter()
            .find(|e| g.address(e.from) == tag(from) && g.address(e.to) == tag(to))
            .map(|e| (g.asset(e.asset), e.amount))
    };
    // The no_state funding of a fresh wallet is credited; the bounced 40 TON is not.
    assert_eq!(find("alice", "fresh-wallet"), Some((Asset::Ton, 12_000_000_000)));
    assert_eq!(find("alice", "shop"), Some((Asset::Ton, 3_500_000_000)));
    assert_eq!(find("alice", "bob").map(|x| x.0), Some(Asset::Jetton { master: generate::USDT_MASTER.parse().unwrap() }));
    assert_eq!(find("alice", "bob").map(|x| x.1), Some(250_000_000), "not the 40 TON bounce");
    assert_eq!(find("alice", "alice-usdt-wallet"), None, "jetton gas is not a TON payment");
    assert_eq!(find("bob", "shop").map(|x| x.1), Some(100_000_000));
    assert_eq!(edges.len(), 4, "the aborted 9,000 USDT moved nothing");
}

#[test]
fn malformed_pages_are_refused_whole_with_the_file_named() {
    let dir = support::fresh_dir();
    let store = TransferStore::open(&dir.join("t")).unwrap();
    let text = std::fs::read_to_string(fixture("transactions.json")).unwrap();
    let cases = [
        ("bad-json", "{\"transactions\": [".to_string(), "not a toncenter v3 page"),
        ("bad-address", text.replacen("\"account\": \"0:", "\"account\": \"0:ZZ", 2), "invalid address"),
        ("bad-value", text.replacen("\"value\": \"12000000000\"", "\"value\": \"-12\"", 2), "not a toncenter v3 page"),
        ("bad-opcode", text.replacen("\"0x00000000\"", "\"0xZZ\"", 1), "opcode"),
        ("bad-hash", text.replacen("\"hash\": \"", "\"hash\": \"!!", 100), "32-byte hash"),
    ];
    for (name, body, expected) in cases {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, body).unwrap();
        let err = ingest::ingest_files(&store, &[&path], PageKind::Transactions).unwrap_err();
        assert!(matches!(&err, Error::Ingest(m) if m.contains(name) && m.contains(expected)), "{name}: {err}");
    }
    assert_eq!(store.graph().edge_count(), 0, "nothing of a refused file is stored");
}

/// A generated graph with its labels: ingested through its rendered toncenter pages (the
/// parsing and value-moving rules, bounced and aborted noise included) or, faster, as transfers.
fn generated(seed: u64, policy: Policy, via_pages: bool) -> (Generated, ExposureEngine) {
    let g = generate::generate(&Shape::small(seed));
    let store = Arc::new(TransferStore::in_memory());
    if via_pages {
        for page in pages::paged(&pages::transactions(&g), "transactions", 1000) {
            ingest::ingest_text(&store, &page, PageKind::Transactions, &[]).unwrap();
        }
        for page in pages::paged(&pages::jetton_transfers(&g), "jetton_transfers", 1000) {
            ingest::ingest_text(&store, &page, PageKind::JettonTransfers, &[]).unwrap();
        }
    } else {
        store.append(&g.transfers, &[]).unwrap();
    }
    assert_eq!(store.graph().edge_count(), g.transfers.len(), "every transfer, no noise, no gas");
    let engine = ExposureEngine::new(store, Arc::new(g.labels.clone()), policy);
    (g, engine)
}

fn drainer_in(findings: &[ExposureFinding], direction: Direction) -> Option<&ExposureFinding> {
    findings
        .iter()
        .find(|f| f.direction == direction && f.categories.contains(Categories::DRAINER))
}

#[test]
fn the_engine_finds_every_planted_drainer_path_at_its_hop_and_nothing_else() {
    for seed in [1, 2, 3] {
        let (g, engine) = generated(seed, Policy::default(), seed == 1);
        for p in &g.planted {
            for (i, wallet) in p.chain.iter().chain([&p.deposit]).enumerate() {
                let findings = engine.findings(wallet).unwrap();
                let f = drainer_in(&findings, Direction::Incoming)
                    .unwrap_or_else(|| panic!("seed {seed}: hop {} of {:?} not flagged", i + 1, p.chain.len()));
                assert_eq!(f.min_hops as usize, i + 1, "seed {seed}");
                assert_eq!(f.counterparties, vec![p.drainer]);
                assert_eq!(f.asset, p.asset);
                // Everything it got came from the drainer: the share is the decay alone.
                let expected = 0.5f64.powi(i as i32);
                assert!((f.share_ppm as f64 / 1e6 - expected).abs() < 0.01, "seed {seed} hop {}: {}", i + 1, f.share_ppm);
                let path = &f.paths[0];
                assert_eq!(path.hops.len(), i + 1);
                assert_eq!(path.hops[0].to, *wallet, "the first hop touches the judged address");
                assert_eq!(path.hops.last().unwrap().from, p.drainer, "the last touches the drainer");
                assert!(path.hops.iter().all(|h| h.tx_hash.len() == 64 && h.lt > 0 && h.utime > 0));
                if i == 0 {
                    assert!(f.severity >= 75, "direct: full severity");
                }
            }
            // The victims' destination of funds is the drainer, directly, in the share they
            // sent it (reported when at least the policy's minimum share).
            for v in &p.victims {
                let sent = |to: Option<Address>| -> u128 {
                    g.transfers
                        .iter()
                        .filter(|t| t.from == *v && t.asset == p.asset && to.is_none_or(|a| t.to == a))
                        .map(|t| t.amount)
                        .sum()
                };
                let share = sent(Some(p.drainer)) as f64 / sent(None) as f64;
                let findings = engine.findings(v).unwrap();
                let f = findings.iter().find(|f| {
                    f.direction == Direction::Outgoing
                        && f.asset == p.asset
                        && f.counterparties.contains(&p.drainer)
                });
                if share >= 0.001 {
                    let f = f.expect("victim");
                    assert_eq!(f.min_hops, 1);
                    assert!(f.share_ppm as f64 / 1e6 >= share - 1e-6, "{share} {}", f.share_ppm);
                }
            }
            for b in &p.bystanders {
                assert!(engine.findings(b).unwrap().is_empty(), "bounced/aborted moved nothing");
            }
        }
        for hot in &g.hot_wallets {
            let findings = engine.findings(hot).unwrap();
            let worst = findings.iter().map(|f| f.severity).max().unwrap_or(0);
            assert!(worst < 25, "seed {seed}: hot wallet flagged {worst}: {findings:?}");
        }
        // Funds never flow out of a chain except into the exchange: no other address has a
        // drainer source of funds (withdrawals from the hot wallet stop the trace).
        let downstream: std::collections::HashSet<Address> = g
            .planted
            .iter()
            .flat_map(|p| p.chain.iter().copied().chain([p.deposit]))
            .collect();
        for w in g.wallets.iter().step_by(4).chain(&g.withdrawers) {
            if downstream.contains(w) {
                continue;
            }
            let findings = engine.findings(w).unwrap();
            assert!(drainer_in(&findings, Direction::Incoming).is_none(), "seed {seed}: {w} flagged");
        }
    }
}

#[test]
fn fewer_hops_configured_means_the_far_end_is_not_reached() {
    let policy = Policy { max_hops: 2, ..Policy::default() };
    let (g, engine) = generated(4, policy, false);
    let long = g.planted.iter().find(|p| p.chain.len() == 4).expect("a 4-hop chain");
    assert!(drainer_in(&engine.findings(&long.chain[1]).unwrap(), Direction::Incoming).is_some());
    assert!(drainer_in(&engine.findings(&long.chain[2]).unwrap(), Direction::Incoming).is_none());
    assert!(drainer_in(&engine.findings(&long.deposit).unwrap(), Direction::Incoming).is_none());
}

#[test]
fn a_new_batch_names_the_addresses_whose_exposure_it_may_change() {
    let (g, engine) = generated(5, Policy::default(), false);
    let p = &g.planted[0];
    let fresh = tag("new-wallet");
    let next = tag("after-new-wallet");
    let t = |from, to, lt: u64, h: u8| tollgate_oracle::exposure::Transfer {
        from,
        to,
        asset: Asset::Ton,
        amount: 1_000_000_000,
        lt: 99_000_000_000_000 + lt,
        utime: 1_800_000_000,
        tx_hash: [h; 32],
    };
    let store = engine.transfers();
    store.append(&[t(fresh, next, 2, 0xb2)], &[]).unwrap();
    let done = store.append(&[t(p.drainer, fresh, 1, 0xb1)], &[]).unwrap();
    let (affected, cut) = engine.affected(done.edges, 1000).unwrap();
    assert!(!cut);
    assert!(affected.contains(&fresh) && affected.contains(&p.drainer));
    // Downstream of the receiver: whom `fresh` funded (a superset: logical time is not
    // checked here, the engine checks it when it judges).
    assert!(affected.contains(&next));
    // The drainer is labelled: the destination-of-funds walk stops at it, so its victims are
    // not named, and nothing else is.
    assert_eq!(affected.len(), 3, "{affected:?}");
    assert!(!affected.contains(&g.hot_wallets[0]));
    assert!(engine.findings(&fresh).unwrap().iter().any(|f| f.categories.contains(Categories::DRAINER)));
}
