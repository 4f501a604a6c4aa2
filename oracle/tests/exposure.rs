//! KYT: recorded toncenter pages, the generated graph's ground truth, the node's judgement and
//! audit entries with exposure, the follower against a local server serving recorded pages.

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
use tollgate_oracle::store::Label;
use tollgate_oracle::Error;
use tollgate_sdk::exposure::{Asset, Direction, ExposureFinding, Untraced};
use tollgate_sdk::{Address, Categories};

use crate::support::{self, admin_get, get, post};

/// Address number `i` of the group `tag` (the hand-built graphs' addresses).
fn tagged(tag: u8, i: u32) -> Address {
    let mut hash = [tag; 32];
    hash[..4].copy_from_slice(&i.to_le_bytes());
    Address::new(0, hash)
}

/// A TON transfer of the hand-built graphs.
fn ton_transfer(
    from: Address,
    to: Address,
    amount: u128,
    lt: u64,
    tx_hash: [u8; 32],
) -> tollgate_oracle::exposure::Transfer {
    tollgate_oracle::exposure::Transfer {
        from,
        to,
        asset: Asset::Ton,
        amount,
        lt,
        utime: 1_700_000_000,
        tx_hash,
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/toncenter")
        .join(name)
}

fn tag(t: &str) -> Address {
    use sha2::Digest as _;
    Address::new(0, sha2::Sha256::digest(t.as_bytes()).into())
}

#[test]
fn recorded_pages_move_value_as_tons_rules_say() {
    let store = TransferStore::in_memory();
    let s = ingest::ingest_files(
        &store,
        &[fixture("transactions.json")],
        PageKind::Transactions,
    )
    .unwrap();
    assert_eq!((s.records, s.added), (6, 2), "{s}");
    for skip in ["NoInternalMessage", "Bounced", "BounceReturn", "JettonGas"] {
        assert_eq!(s.skipped.get(skip), Some(&1), "{skip}: {s}");
    }
    let j = ingest::ingest_files(
        &store,
        &[fixture("jetton_transfers.json")],
        PageKind::JettonTransfers,
    )
    .unwrap();
    assert_eq!(
        (j.records, j.added, j.skipped.get("Aborted")),
        (3, 2, Some(&1))
    );
    // The same records as JSON lines are the same transfers: nothing new.
    let again = ingest::ingest_files(
        &store,
        &[fixture("jetton_transfers.jsonl")],
        PageKind::JettonTransfers,
    )
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
    assert_eq!(
        find("alice", "fresh-wallet"),
        Some((Asset::Ton, 12_000_000_000))
    );
    assert_eq!(find("alice", "shop"), Some((Asset::Ton, 3_500_000_000)));
    assert_eq!(
        find("alice", "bob").map(|x| x.0),
        Some(Asset::Jetton {
            master: generate::USDT_MASTER.parse().unwrap()
        })
    );
    assert_eq!(
        find("alice", "bob").map(|x| x.1),
        Some(250_000_000),
        "not the 40 TON bounce"
    );
    assert_eq!(
        find("alice", "alice-usdt-wallet"),
        None,
        "jetton gas is not a TON payment"
    );
    assert_eq!(find("bob", "shop").map(|x| x.1), Some(100_000_000));
    assert_eq!(edges.len(), 4, "the aborted 9,000 USDT moved nothing");
}

#[test]
fn malformed_pages_are_refused_whole_with_the_file_named() {
    let dir = support::fresh_dir();
    let store = TransferStore::open(&dir.join("t")).unwrap();
    let text = std::fs::read_to_string(fixture("transactions.json")).unwrap();
    let cases = [
        (
            "bad-json",
            "{\"transactions\": [".to_string(),
            "not a toncenter v3 page",
        ),
        (
            "bad-address",
            text.replacen("\"account\": \"0:", "\"account\": \"0:ZZ", 2),
            "invalid address",
        ),
        (
            "bad-value",
            text.replacen("\"value\": \"12000000000\"", "\"value\": \"-12\"", 2),
            "not a toncenter v3 page",
        ),
        (
            "bad-opcode",
            text.replacen("\"0x00000000\"", "\"0xZZ\"", 1),
            "opcode",
        ),
        (
            "bad-hash",
            text.replacen("\"hash\": \"", "\"hash\": \"!!", 100),
            "32-byte hash",
        ),
    ];
    for (name, body, expected) in cases {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, body).unwrap();
        let err = ingest::ingest_files(&store, &[&path], PageKind::Transactions).unwrap_err();
        assert!(
            matches!(&err, Error::Ingest(m) if m.contains(name) && m.contains(expected)),
            "{name}: {err}"
        );
    }
    assert_eq!(
        store.graph().edge_count(),
        0,
        "nothing of a refused file is stored"
    );
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
    assert_eq!(
        store.graph().edge_count(),
        g.transfers.len(),
        "every transfer, no noise, no gas"
    );
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
                let f = drainer_in(&findings, Direction::Incoming).unwrap_or_else(|| {
                    panic!(
                        "seed {seed}: hop {} of {:?} not flagged",
                        i + 1,
                        p.chain.len()
                    )
                });
                assert_eq!(f.min_hops as usize, i + 1, "seed {seed}");
                assert_eq!(f.counterparties, vec![p.drainer]);
                assert_eq!(f.asset, p.asset);
                // Everything it got came from the drainer: the share is the decay alone.
                let expected = 0.5f64.powi(i as i32);
                assert!(
                    (f.share_ppm as f64 / 1e6 - expected).abs() < 0.01,
                    "seed {seed} hop {}: {}",
                    i + 1,
                    f.share_ppm
                );
                let path = &f.paths[0];
                assert_eq!(path.hops.len(), i + 1);
                assert_eq!(
                    path.hops[0].to, *wallet,
                    "the first hop touches the judged address"
                );
                assert_eq!(
                    path.hops.last().unwrap().from,
                    p.drainer,
                    "the last touches the drainer"
                );
                assert!(path
                    .hops
                    .iter()
                    .all(|h| h.tx_hash.len() == 64 && h.lt > 0 && h.utime > 0));
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
                        .filter(|t| {
                            t.from == *v && t.asset == p.asset && to.is_none_or(|a| t.to == a)
                        })
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
                    assert!(
                        f.share_ppm as f64 / 1e6 >= share - 1e-6,
                        "{share} {}",
                        f.share_ppm
                    );
                }
            }
            for b in &p.bystanders {
                assert!(
                    engine.findings(b).unwrap().is_empty(),
                    "bounced/aborted moved nothing"
                );
            }
        }
        for hot in &g.hot_wallets {
            let findings = engine.findings(hot).unwrap();
            let worst = findings.iter().map(|f| f.severity).max().unwrap_or(0);
            assert!(
                worst < 25,
                "seed {seed}: hot wallet flagged {worst}: {findings:?}"
            );
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
            assert!(
                drainer_in(&findings, Direction::Incoming).is_none(),
                "seed {seed}: {w} flagged"
            );
        }
    }
}

#[test]
fn fewer_hops_configured_means_the_far_end_is_not_reached() {
    let policy = Policy {
        max_hops: 2,
        ..Policy::default()
    };
    let (g, engine) = generated(4, policy, false);
    let long = g
        .planted
        .iter()
        .find(|p| p.chain.len() == 4)
        .expect("a 4-hop chain");
    assert!(drainer_in(
        &engine.findings(&long.chain[1]).unwrap(),
        Direction::Incoming
    )
    .is_some());
    assert!(drainer_in(
        &engine.findings(&long.chain[2]).unwrap(),
        Direction::Incoming
    )
    .is_none());
    assert!(drainer_in(
        &engine.findings(&long.deposit).unwrap(),
        Direction::Incoming
    )
    .is_none());
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
    assert!(engine
        .findings(&fresh)
        .unwrap()
        .iter()
        .any(|f| f.categories.contains(Categories::DRAINER)));
}

/// A toncenter-v3-compatible server over recorded records: `start_lt`, `offset`, `limit`,
/// `sort=asc` as toncenter reads them. Its first answer is a 429, to exercise the backoff.
#[derive(Clone, Default)]
struct Recorded {
    transactions: Arc<Mutex<Vec<Value>>>,
    jettons: Arc<Mutex<Vec<Value>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

#[derive(serde::Deserialize)]
struct PageQuery {
    start_lt: u64,
    offset: usize,
    limit: usize,
    sort: String,
}

fn serve_page(records: &[Value], key: &str, lt_field: &str, q: &PageQuery) -> Value {
    assert_eq!(q.sort, "asc");
    let page: Vec<Value> = records
        .iter()
        .filter(|r| r[lt_field].as_str().unwrap().parse::<u64>().unwrap() >= q.start_lt)
        .skip(q.offset)
        .take(q.limit)
        .cloned()
        .collect();
    json!({ key: page, "address_book": {} })
}

async fn recorded_server(recorded: Recorded) -> String {
    async fn transactions(
        State(r): State<Recorded>,
        Query(q): Query<PageQuery>,
    ) -> axum::response::Response {
        let first = {
            let mut requests = r.requests.lock().unwrap();
            requests.push(format!("transactions {} {}", q.start_lt, q.offset));
            requests.len() == 1
        };
        if first {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                "slow down",
            )
                .into_response();
        }
        let records = r.transactions.lock().unwrap();
        axum::Json(serve_page(&records, "transactions", "lt", &q)).into_response()
    }
    async fn jettons(
        State(r): State<Recorded>,
        Query(q): Query<PageQuery>,
    ) -> axum::response::Response {
        r.requests
            .lock()
            .unwrap()
            .push(format!("jettons {} {}", q.start_lt, q.offset));
        let records = r.jettons.lock().unwrap();
        axum::Json(serve_page(
            &records,
            "jetton_transfers",
            "transaction_lt",
            &q,
        ))
        .into_response()
    }
    let app = Router::new()
        .route("/api/v3/transactions", route_get(transactions))
        .route("/api/v3/jetton/transfers", route_get(jettons))
        .with_state(recorded);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn fast(source: &str) -> Options {
    let mut o = Options::new(source);
    o.page_limit = 300;
    o.min_interval = Duration::ZERO;
    o.poll_interval = Duration::from_millis(5);
    o.backoff_start = Duration::from_millis(5);
    o.backoff_max = Duration::from_millis(50);
    o
}

/// Steps every endpoint until both answer empty pages; returns the transfers added.
async fn follow_until_caught_up(follower: &Follower) -> usize {
    let mut added = 0;
    let mut failures = 0;
    loop {
        let mut caught_up = true;
        for kind in [PageKind::Transactions, PageKind::JettonTransfers] {
            match follower.step(kind).await {
                Ok(step) => {
                    added += step.summary.added;
                    caught_up &= step.caught_up;
                }
                Err(Error::Source(text)) => {
                    assert!(text.contains("429"), "{text}");
                    failures += 1;
                    assert!(failures < 3);
                    caught_up = false;
                }
                Err(other) => panic!("{other}"),
            }
        }
        if caught_up {
            return added;
        }
    }
}

#[tokio::test]
async fn the_follower_resumes_from_its_stored_cursor_and_counts_each_transfer_once() {
    let g = generate::generate(&Shape {
        wallets: 200,
        transfers: 600,
        drainers: 2,
        ..Shape::small(9)
    });
    let recorded = Recorded::default();
    *recorded.transactions.lock().unwrap() = pages::transactions(&g);
    *recorded.jettons.lock().unwrap() = pages::jetton_transfers(&g);
    let source = recorded_server(recorded.clone()).await;
    let dir = support::fresh_dir();
    {
        let store = Arc::new(TransferStore::open(&dir).unwrap());
        let follower = Follower::new(store.clone(), fast(&format!("{source}/api/v3"))).unwrap();
        assert_eq!(follow_until_caught_up(&follower).await, g.transfers.len());
    }
    let requests_before = recorded.requests.lock().unwrap().len();
    let store = Arc::new(TransferStore::open(&dir).unwrap());
    assert_eq!(store.graph().edge_count(), g.transfers.len());
    let follower = Follower::new(store.clone(), fast(&source)).unwrap();
    assert_eq!(
        follow_until_caught_up(&follower).await,
        0,
        "resumed after the last batch"
    );
    let requests = recorded.requests.lock().unwrap().clone();
    let last_lt = g.transfers.iter().map(|t| t.lt).max().unwrap();
    assert!(
        requests[requests_before..].iter().all(|r| r
            .split(' ')
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > last_lt - 100_000),
        "the restart asked only from its cursor on: {:?}",
        &requests[requests_before..]
    );
    assert!(Follower::new(store, Options::new("ftp://x")).is_err());
}

#[tokio::test]
async fn a_followed_node_judges_by_exposure_and_records_the_exposure_policy() {
    let g = generate::generate(&Shape {
        wallets: 300,
        transfers: 900,
        drainers: 4,
        ..Shape::small(11)
    });
    let recorded = Recorded::default();
    *recorded.transactions.lock().unwrap() = pages::transactions(&g);
    *recorded.jettons.lock().unwrap() = pages::jetton_transfers(&g);
    let source = recorded_server(recorded.clone()).await;
    let node = support::node_with(Config {
        load_default_data: false,
        ..support::config()
    });
    for (address, categories) in &g.labels {
        node.state
            .store
            .put_label(&Label {
                address: *address,
                categories: *categories,
                source: "test/generated".into(),
                name: "planted".into(),
                first_seen: 1,
            })
            .unwrap();
    }
    let follower = Follower::new(node.exposure.transfers().clone(), fast(&source)).unwrap();
    follow_until_caught_up(&follower).await;
    let app = node.router();

    let p = &g.planted[0];
    let deposit = p.deposit.to_raw();
    let judged = get(&app, &format!("/v1/risk/{deposit}")).await.json;
    assert_eq!(judged["level"], "severe", "{judged}");
    assert!(judged["exposure_version"]
        .as_str()
        .unwrap()
        .starts_with("exposure-v2@"));
    let evidence = judged["evidence"].as_array().unwrap();
    assert!(evidence
        .iter()
        .any(|e| e["kind"] == "exposure" && e["source"] == "exposure-v2"));
    let finding = &judged["exposure"][0];
    assert_eq!(finding["direction"], "incoming");
    assert_eq!(finding["min_hops"], 2);
    let hops = finding["paths"][0]["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 2);
    assert_eq!(hops[1]["from"], p.drainer.to_raw());
    // Every direction and asset traced says what it could not follow, in the judgement and
    // in the signed case file alike.
    let untraced = judged["exposure_untraced"]
        .as_array()
        .expect("untraced shares");
    assert!(
        untraced.iter().any(|u| u["direction"] == "incoming"
            && u["share_ppm"].as_u64().is_some()
            && u.get("budget_cut").is_none()),
        "{judged}"
    );
    let case = admin_get(&app, &format!("/v1/evidence/{deposit}"))
        .await
        .json;
    assert_eq!(
        case["case"]["exposure_untraced"],
        judged["exposure_untraced"]
    );
    let hot = get(&app, &format!("/v1/risk/{}", g.hot_wallets[0].to_raw()))
        .await
        .json;
    assert_eq!(hot["level"], "low", "{hot}");

    // The attestation's audit entry names the exposure policy and the data it read.
    let reply = post(
        &app,
        "/v1/attestations",
        json!({ "subject": support::UNKNOWN, "verifier": support::VERIFIER, "network": "testnet" }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let audit = admin_get(&app, "/v1/audit").await.json;
    let policy = audit["entries"][0]["policy_version"].as_str().unwrap();
    assert!(
        policy.starts_with("severity-v1;labels-") && policy.contains(";exposure-v2@"),
        "{policy}"
    );

    // A new page: the drainer funds a fresh wallet. Time until its score changes.
    let fresh = tag("funded-later");
    let mut later = generate::Generated {
        transfers: vec![tollgate_oracle::exposure::Transfer {
            from: p.drainer,
            to: fresh,
            asset: Asset::Ton,
            amount: 50_000_000_000,
            lt: 99_000_000_000_000,
            utime: 1_800_000_000,
            tx_hash: [0x5e; 32],
        }],
        noise: vec![],
        ..g
    };
    later.planted.clear();
    let before = get(&app, &format!("/v1/risk/{}", fresh.to_raw()))
        .await
        .json;
    assert_eq!(before["score"], 0);
    let started = Instant::now();
    recorded
        .transactions
        .lock()
        .unwrap()
        .extend(pages::transactions(&later));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        follower
            .run(|_| {}, async {
                let _ = stop_rx.await;
            })
            .await;
    });
    loop {
        let now = get(&app, &format!("/v1/risk/{}", fresh.to_raw()))
            .await
            .json;
        if now["level"] == "severe" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{now}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!("new page to changed score: {:?}", started.elapsed());
    let _ = stop_tx.send(());
    running.await.unwrap();
}

#[test]
fn a_label_added_after_a_query_is_seen_by_the_next_one() {
    // The engine keeps labels per interned address between queries: a change of the label
    // set must empty that, or a fresh drainer label would stay unseen.
    use tollgate_oracle::exposure::StoreLabels;
    use tollgate_oracle::store::{SledStore, Store};
    let g = generate::generate(&Shape::small(3));
    let store = Arc::new(TransferStore::in_memory());
    store.append(&g.transfers, &[]).unwrap();
    let labels: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    let p = &g.planted[0];
    let label = |address: Address, categories: Categories| Label {
        address,
        categories,
        source: "test/generated".into(),
        name: "generated".into(),
        first_seen: 1,
    };
    for (address, categories) in &g.labels {
        if *address != p.drainer {
            labels.put_label(&label(*address, *categories)).unwrap();
        }
    }
    let engine = ExposureEngine::new(
        store,
        Arc::new(StoreLabels::new(labels.clone())),
        Policy::default(),
    );
    let before = engine.findings(&p.deposit).unwrap();
    assert!(
        !before.iter().any(|f| f.counterparties.contains(&p.drainer)),
        "unlabelled, the drainer is traced through, not reached"
    );
    labels
        .put_label(&label(p.drainer, Categories::DRAINER))
        .unwrap();
    let after = engine.findings(&p.deposit).unwrap();
    let found = drainer_in(&after, Direction::Incoming).expect("the new label is seen");
    assert!(found.counterparties.contains(&p.drainer), "{found:?}");
}

#[test]
fn a_hub_with_a_very_large_fan_in_is_answered_exactly_with_little_work() {
    // An unlabelled hub H with 200,000 small inflows and one large one from a drainer D pays
    // the judged address A. The trace through H must find D (hop 2) without reading H's
    // inflows one by one, whether they are in the built index or appended since.
    use std::collections::HashMap;
    use tollgate_oracle::exposure::Transfer;
    let (hub, drainer, judged) = (tagged(1, 0), tagged(2, 0), tagged(3, 0));
    let mut n = 0u32;
    let mut transfer = |from: Address, to: Address, amount: u128, lt: u64| {
        n += 1;
        let mut tx_hash = [9; 32];
        tx_hash[..4].copy_from_slice(&n.to_le_bytes());
        ton_transfer(from, to, amount, lt, tx_hash)
    };
    const FAN_IN: u32 = 200_000;
    let small: Vec<Transfer> = (0..FAN_IN)
        .map(|i| transfer(tagged(4, i), hub, 1_000, 10 + i as u64))
        .collect();
    let large = transfer(drainer, hub, 200_000_000, 100 + FAN_IN as u64);
    let pay = transfer(hub, judged, 5_000, 200 + FAN_IN as u64);
    let labels: HashMap<Address, Categories> = [(drainer, Categories::DRAINER)].into();
    // Built: one batch, indexed as a whole. Mixed: 150,000 built, the rest (the drainer's
    // transfer among them) in the tail.
    let built = TransferStore::in_memory();
    built
        .append(&[small.clone(), vec![large, pay]].concat(), &[])
        .unwrap();
    let mixed = TransferStore::in_memory();
    mixed.append(&small[..150_000], &[]).unwrap();
    mixed
        .append(&[small[150_000..].to_vec(), vec![large, pay]].concat(), &[])
        .unwrap();
    assert!(
        mixed.graph().incoming().tail_len() > 50_000,
        "the tail holds the rest"
    );
    let mut answers = Vec::new();
    for store in [built, mixed] {
        let engine = ExposureEngine::new(
            Arc::new(store),
            Arc::new(labels.clone()),
            Policy {
                max_hops: 3,
                ..Policy::default()
            },
        );
        let (traced, stats) = engine.traced_counted(&judged).unwrap();
        let findings = traced.findings;
        let f = drainer_in(&findings, Direction::Incoming).expect("the drainer is reached");
        // The hub's 200,000 small inflows are pruned, not lost: half of the hub's inflow, one
        // hop further, is reported untraced (and the budget did not cut).
        assert_eq!(
            traced.untraced,
            vec![Untraced {
                direction: Direction::Incoming,
                asset: Asset::Ton,
                share_ppm: 250_000,
                budget_cut: false,
            }],
            "one entry: the judged address only received"
        );
        // 200,000,000 of H's 400,000,000 inflow, one hop further: 0.5 × 0.5.
        assert_eq!((f.min_hops, f.share_ppm), (2, 250_000), "{f:?}");
        assert_eq!(f.paths[0].hops.len(), 2);
        assert!(
            stats.flows_read < 2_000 && stats.blocks_checked < 2_000,
            "{stats:?}: the hub's 200,000 inflows are not read one by one"
        );
        answers.push(findings);
    }
    assert_eq!(answers[0], answers[1], "built or appended, the same answer");
}

/// The share of `categories` in `findings` for one direction (0 without a finding).
fn share_of(findings: &[ExposureFinding], direction: Direction, categories: Categories) -> u32 {
    findings
        .iter()
        .filter(|f| f.direction == direction && f.categories == categories)
        .map(|f| f.share_ppm)
        .sum()
}

/// An engine over `transfers` and `labels` for each work budget: `policy` with 3 hops.
fn budgeted(
    transfers: &[tollgate_oracle::exposure::Transfer],
    labels: &std::collections::HashMap<Address, Categories>,
    policy: Policy,
) -> impl Fn(u64) -> ExposureEngine {
    let store = Arc::new(TransferStore::in_memory());
    store.append(transfers, &[]).unwrap();
    let labels = labels.clone();
    move |max_work| {
        ExposureEngine::new(
            store.clone(),
            Arc::new(labels.clone()),
            Policy {
                max_hops: 3,
                max_work,
                ..policy.clone()
            },
        )
    }
}

#[test]
fn a_work_budget_cuts_the_weakest_traces_and_reports_what_it_cut() {
    // The judged address A was paid by 100 unlabelled wallets W_i (amount 1,000 + i, so each
    // carries about 1 % and W_99 the most); each W_i was funded earlier by a scammer S_i and
    // an unlabelled U_i in equal parts. Unbudgeted, half of A's funds are 2 hops from scammers
    // (share 0.5 × 0.5 = 25 %). A budget of half the work that takes cuts the weakest W_i.
    use std::collections::HashMap;
    let judged = tagged(1, 0);
    let mut transfers = Vec::new();
    let mut labels: HashMap<Address, Categories> = HashMap::new();
    for i in 0..100u32 {
        let (w, s, u) = (tagged(2, i), tagged(3, i), tagged(4, i));
        labels.insert(s, Categories::SCAM);
        for (n, (from, to, amount, lt)) in [
            (s, w, 500u128, 10 + u64::from(i)),
            (u, w, 500, 200 + u64::from(i)),
            (w, judged, 1_000 + u128::from(i), 400 + u64::from(i)),
        ]
        .into_iter()
        .enumerate()
        {
            let mut tx_hash = [7; 32];
            tx_hash[..4].copy_from_slice(&i.to_le_bytes());
            tx_hash[4] = n as u8;
            transfers.push(ton_transfer(from, to, amount, lt, tx_hash));
        }
    }
    let engine = budgeted(&transfers, &labels, Policy::default());
    let (full, full_stats) = engine(u64::MAX).traced_counted(&judged).unwrap();
    assert_eq!(full_stats.cut, 0);
    let full_share = share_of(&full.findings, Direction::Incoming, Categories::SCAM);
    assert!(full_share.abs_diff(250_000) <= 1, "{full_share}");
    assert!(!full.untraced[0].budget_cut);

    let budget = full_stats.work / 2;
    let (cut, stats) = engine(budget).traced_counted(&judged).unwrap();
    // The budget is checked before each trace is opened and before each block a window's
    // scan reads, so it is overrun by at most one block (here a handful of reads).
    assert!(
        stats.work >= budget && stats.work < budget + 16,
        "{stats:?}"
    );
    assert_eq!(stats.cut, 1);
    let untraced = &cut.untraced[0];
    assert_eq!(
        (untraced.direction, untraced.asset, untraced.budget_cut),
        (Direction::Incoming, Asset::Ton, true)
    );
    let cut_share = share_of(&cut.findings, Direction::Incoming, Categories::SCAM);
    assert!(
        cut_share > 50_000 && cut_share < full_share,
        "{cut_share}: part found"
    );
    // What was cut is reported, and it bounds what the finding lost.
    assert!(
        cut_share + untraced.share_ppm + 1 >= full_share,
        "{cut_share} + {untraced:?} covers {full_share}"
    );
    // Strongest first: the wallets that paid A the most were traced, so the strongest path is
    // the unbudgeted run's strongest path.
    let strongest = |t: &tollgate_oracle::exposure::Traced| {
        t.findings
            .iter()
            .find(|f| f.categories == Categories::SCAM)
            .unwrap()
            .paths[0]
            .clone()
    };
    assert_eq!(strongest(&cut), strongest(&full));
    assert_eq!(strongest(&cut).hops[0].from, tagged(2, 99));
    // A count, not a clock: the same data and budget give the same judgement, every time.
    for _ in 0..3 {
        assert_eq!(engine(budget).traced_counted(&judged).unwrap().0, cut);
    }
}

#[test]
fn the_budget_also_bounds_one_hub_window_whose_every_transfer_passes_the_pruning() {
    // The judged address A was paid by one unlabelled hub H, which had received 100,000 equal
    // transfers, every tenth from a scammer. With a policy that prunes nothing, every one of
    // H's inflows is a candidate: unbudgeted the query reads them all and finds 10 % × 0.5;
    // with a budget of 2,000 the scan of H's window stops near 2,000 reads, the cut is
    // reported, and what it did not read is untraced.
    use std::collections::HashMap;
    const FAN_IN: u32 = 100_000;
    let (hub, judged) = (tagged(1, 0), tagged(2, 0));
    let mut labels: HashMap<Address, Categories> = HashMap::new();
    let mut transfers: Vec<_> = (0..FAN_IN)
        .map(|i| {
            let from = tagged(3, i);
            if i % 10 == 0 {
                labels.insert(from, Categories::SCAM);
            }
            let mut tx_hash = [5; 32];
            tx_hash[..4].copy_from_slice(&i.to_le_bytes());
            ton_transfer(from, hub, 1_000, 10 + u64::from(i), tx_hash)
        })
        .collect();
    transfers.push(ton_transfer(
        hub,
        judged,
        7_000,
        10 + u64::from(FAN_IN) + 1,
        [6; 32],
    ));
    let engine = budgeted(
        &transfers,
        &labels,
        Policy {
            min_share: 1e-7,
            ..Policy::default()
        },
    );
    let (full, full_stats) = engine(u64::MAX).traced_counted(&judged).unwrap();
    assert!(full_stats.flows_read >= u64::from(FAN_IN), "{full_stats:?}");
    let full_share = share_of(&full.findings, Direction::Incoming, Categories::SCAM);
    assert!(full_share.abs_diff(50_000) <= 1, "{full_share}");

    const BUDGET: u64 = 2_000;
    let (cut, stats) = engine(BUDGET).traced_counted(&judged).unwrap();
    assert!(
        stats.work >= BUDGET && stats.work <= BUDGET + 64 + 8,
        "{stats:?}: one window's scan stops at the budget (at most one block over)"
    );
    assert_eq!(stats.cut, 1);
    let untraced = &cut.untraced[0];
    assert!(untraced.budget_cut, "{untraced:?}");
    let cut_share = share_of(&cut.findings, Direction::Incoming, Categories::SCAM);
    assert!(
        cut_share > 0 && cut_share < full_share,
        "{cut_share}: part found"
    );
    // What the cut window did not read is untraced, and covers what the finding lost.
    assert!(
        untraced.share_ppm > 450_000 && cut_share + untraced.share_ppm + 1 >= full_share,
        "{cut_share} + {untraced:?} covers {full_share}"
    );
    // Deterministic: a count, not a clock.
    assert_eq!(engine(BUDGET).traced_counted(&judged).unwrap().0, cut);
}

#[test]
fn where_the_budget_does_not_cut_the_findings_equal_the_unbudgeted_run() {
    // The generated graph's planted paths and a sample of its addresses (by degree), under
    // the default budget and without one.
    let (g, budgeted) = generated(4, Policy::default(), false);
    let unbudgeted = ExposureEngine::new(
        budgeted.transfers().clone(),
        Arc::new(g.labels.clone()),
        Policy {
            max_work: u64::MAX,
            ..Policy::default()
        },
    );
    let mut addresses: Vec<Address> = g.planted.iter().map(|p| p.deposit).collect();
    addresses.extend(g.transfers.iter().step_by(97).map(|t| t.to));
    let (mut uncut, mut with_untraced) = (0, 0);
    for a in &addresses {
        let (b, stats) = budgeted.traced_counted(a).unwrap();
        let (u, _) = unbudgeted.traced_counted(a).unwrap();
        if stats.cut == 0 {
            assert_eq!(b, u, "{a}");
            assert!(b.untraced.iter().all(|u| !u.budget_cut));
            uncut += 1;
        }
        with_untraced += usize::from(b.untraced.iter().any(|u| u.share_ppm > 0));
    }
    assert_eq!(
        uncut,
        addresses.len(),
        "the default budget cuts nothing here"
    );
    assert!(with_untraced > 0, "pruned value is reported");
}
