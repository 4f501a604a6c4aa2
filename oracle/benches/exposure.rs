//! KYT benchmarks (a bench binary, not criterion: one run builds a graph of millions of
//! transfers once and measures everything on it). Sizes from the environment:
//! `KYT_WALLETS` (default 2,000,000), `KYT_TRANSFERS` (default 10,000,000 background transfers;
//! exchange flows add about 15 %), `KYT_PAGE_TRANSFERS` (transfers rendered as toncenter pages
//! for the page-ingest figure, default 200,000), `KYT_SLED` (records for the raw sled
//! baseline, default 1,000,000), `KYT_QUERIES` (default 10,000), `KYT_BUDGETS` (work budgets
//! compared besides the node's default, default `5000,10000,20000,80000`), `KYT_MAX_WORK`
//! (the budget of the node measured over HTTP, default the node's default), `KYT_LABEL_PPM`
//! (wallets labelled `scam` at random besides the generator's labels, per million, default 0:
//! denser labels give the budget comparison findings to change).
//!
//! `cargo bench -p tollgate-oracle --bench exposure`
//!
//! Prints: ingest transfers/s from pages and from decoded transfers, against raw sled inserts of
//! the same 70-byte records; bytes per transfer on disk; 3-hop exposure query p50/p99 in process
//! without a work budget (the exact answer) and under each budget, with how many queries'
//! findings each budget changed and the largest share difference; over HTTP (the node's
//! `GET /v1/risk`, loopback, one client, default budget); time from a new page to the changed
//! score; peak RSS of this process, and the node's own memory: the real `tollgate-oracle serve`
//! in its own process over the same transfer log and labels, its RSS after start and after the
//! queries (with their HTTP p50/p99 against it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use tollgate_oracle::config::Config;
use tollgate_oracle::exposure::engine::{QueryStats, Traced};
use tollgate_oracle::exposure::generate::{self, pages, Shape};
use tollgate_oracle::exposure::ingest::{self, PageKind};
use tollgate_oracle::exposure::{ExposureEngine, Policy, TransferStore};
use tollgate_oracle::node::Node;
use tollgate_oracle::risk::Level;
use tollgate_oracle::signer::{KeyOrigin, Signer};
use tollgate_oracle::store::{Label, SledStore, Store};
use tollgate_sdk::exposure::ExposureFinding;

/// A size from the environment, else `default` under `cargo bench` (which passes `--bench`),
/// else `smoke`: `cargo test --all-targets` runs this binary too, and there it only has to show
/// that every step still works, in seconds.
fn env(name: &str, default: usize, smoke: usize) -> usize {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { default } else { smoke })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A `VmRSS:`/`VmHWM:`-style field of `/proc/<pid>/status` (`pid` may be `self`), in MiB;
/// `None` when the file or the field cannot be read.
fn status_mib(pid: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map(|kib| kib / 1024)
}

fn rss_peak_mib() -> u64 {
    status_mib("self", "VmHWM:").unwrap_or(0)
}

/// `GET /v1/risk` of each address in turn, one client on a current-thread runtime; the sorted
/// times.
fn risk_times(url: &str, sample: &[tollgate_sdk::Address]) -> Vec<Duration> {
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let client = reqwest::Client::new();
        let mut times = Vec::with_capacity(sample.len());
        for a in sample {
            let t = Instant::now();
            let r = client
                .get(format!("{url}/v1/risk/{}", a.to_raw()))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            let _ = r.bytes().await.unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        times
    })
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; nothing to list here
    }
    let wallets = env("KYT_WALLETS", 2_000_000, 2_000);
    let transfers = env("KYT_TRANSFERS", 10_000_000, 10_000);
    let shape = Shape {
        wallets,
        transfers,
        exchanges: 20,
        drainers: 200,
        jetton_share: 0.6,
        seed: 7,
    };
    println!("load average at start: {}", load());
    let t = Instant::now();
    let mut g = generate::generate(&shape);
    println!(
        "generated {} transfers, {} wallets, {} planted drainers in {:.1?}",
        g.transfers.len(),
        wallets,
        g.planted.len(),
        t.elapsed()
    );

    // Denser labels than the planted ones, for the budget comparison: with few labelled
    // addresses within 3 hops a budget rarely has a finding to change.
    let density = env("KYT_LABEL_PPM", 0, 0);
    if density > 0 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let before = g.labels.len();
        for wallet in &g.wallets {
            if rng.gen_range(0..1_000_000) < density {
                g.labels
                    .entry(*wallet)
                    .or_insert(tollgate_sdk::Categories::SCAM);
            }
        }
        println!(
            "labels: {before} from the generator, {} with {density} ppm of the wallets labelled scam (KYT_LABEL_PPM)",
            g.labels.len()
        );
    }

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();

    // 1a. Pages: toncenter JSON parsed, value rules applied, appended (one fsync per page).
    let page_n = env("KYT_PAGE_TRANSFERS", 200_000, 2_000).min(g.transfers.len());
    let sub = generate::Generated {
        transfers: g.transfers[..page_n].to_vec(),
        noise: Vec::new(),
        labels: Default::default(),
        wallets: Vec::new(),
        hot_wallets: Vec::new(),
        withdrawers: Vec::new(),
        planted: Vec::new(),
        jetton: g.jetton,
    };
    let tx_pages = pages::paged(&pages::transactions(&sub), "transactions", 1000);
    let jt_pages = pages::paged(&pages::jetton_transfers(&sub), "jetton_transfers", 1000);
    let page_bytes: usize = tx_pages.iter().chain(&jt_pages).map(String::len).sum();
    {
        let store = TransferStore::open(&dir.path().join("pages")).unwrap();
        let t = Instant::now();
        let mut added = 0;
        for p in &tx_pages {
            added += ingest::ingest_text(&store, p, PageKind::Transactions, &[])
                .unwrap()
                .added;
        }
        for p in &jt_pages {
            added += ingest::ingest_text(&store, p, PageKind::JettonTransfers, &[])
                .unwrap()
                .added;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "ingest from toncenter pages: {added} transfers ({:.0} MB of JSON, 1000 records a page) in {secs:.2} s = {:.0} transfers/s",
            page_bytes as f64 / 1e6,
            added as f64 / secs
        );
    }

    // 1b. Decoded transfers appended in batches of 10,000 (one frame and one fsync each).
    let store = Arc::new(TransferStore::open(&dir.path().join("all")).unwrap());
    let t = Instant::now();
    for chunk in g.transfers.chunks(10_000) {
        store.append(chunk, &[]).unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let n = store.graph().edge_count();
    println!(
        "ingest into the transfer store: {n} transfers in {secs:.2} s = {:.0} transfers/s (batches of 10,000, fdatasync each)",
        n as f64 / secs
    );
    let bytes = std::fs::metadata(store.path().unwrap()).unwrap().len();
    println!(
        "on disk: {bytes} bytes for {n} transfers and {} addresses = {:.1} bytes per transfer",
        store.graph().address_count(),
        bytes as f64 / n as f64
    );

    {
        let graph = store.graph();
        println!(
            "adjacency tail after ingest (transfers appended since the last index build): {} of {n}",
            graph.incoming().tail_len()
        );
    }

    // 1c. Baseline: raw sled inserts of the same 70-byte records (key: the tx hash), flushed
    // per 10,000 like the store's batches.
    let sled_n = env("KYT_SLED", 1_000_000, 2_000).min(g.transfers.len());
    {
        let db = sled::Config::new()
            .path(dir.path().join("sled"))
            .open()
            .unwrap();
        let tree = db.open_tree("transfers").unwrap();
        let t = Instant::now();
        for chunk in g.transfers[..sled_n].chunks(10_000) {
            for tr in chunk {
                let mut v = [0u8; 70];
                v[..16].copy_from_slice(&tr.amount.to_le_bytes());
                v[16..24].copy_from_slice(&tr.lt.to_le_bytes());
                v[24..57].copy_from_slice(
                    &[tr.from.workchain as u8]
                        .iter()
                        .chain(&tr.from.hash)
                        .copied()
                        .collect::<Vec<_>>(),
                );
                tree.insert(tr.tx_hash, &v[..]).unwrap();
            }
            db.flush().unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        let size = db.size_on_disk().unwrap_or(0);
        println!(
            "baseline raw sled inserts: {sled_n} records in {secs:.2} s = {:.0} records/s; {:.1} bytes per record on disk",
            sled_n as f64 / secs,
            size as f64 / sled_n as f64
        );
    }
    println!("peak RSS after ingest: {} MiB", rss_peak_mib());

    // 2. Queries, 3 hops, over addresses sampled from transfer ends (so by degree) and the
    // planted deposits; the node's default work budget (Policy::default().max_work).
    let policy = Policy {
        max_hops: 3,
        max_work: {
            let default = Policy::default().max_work as usize;
            env("KYT_MAX_WORK", default, default) as u64
        },
        ..Policy::default()
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let queries = env("KYT_QUERIES", 10_000, 100);
    let sample: Vec<_> = (0..queries)
        .map(|i| {
            if i % 10 == 0 {
                g.planted[i / 10 % g.planted.len()].deposit
            } else {
                let t = &g.transfers[rng.gen_range(0..g.transfers.len())];
                if rng.gen_bool(0.5) {
                    t.from
                } else {
                    t.to
                }
            }
        })
        .collect();
    // Where the time of the slowest queries goes: their work counters against the median's.
    let mean = |part: &[(Duration, QueryStats)]| {
        let mut sum = QueryStats::default();
        for (_, s) in part {
            sum += *s;
        }
        let n = part.len().max(1) as u64;
        format!(
            "trails {}, blocks checked {}, flows read {}, candidates {}, label lookups {}, work {}",
            sum.trails / n,
            sum.blocks_checked / n,
            sum.flows_read / n,
            sum.candidates / n,
            sum.label_lookups / n,
            sum.work / n
        )
    };
    // The exact answer first (no budget: every trace that passes the pruning is expanded, as
    // exposure-v1 did), then the node's default budget and the others of KYT_BUDGETS. Each
    // budgeted run is compared with the exact one: queries whose findings differ at all, whose
    // highest severity differs, and the largest share difference of one finding.
    let budgets: Vec<u64> = std::env::var("KYT_BUDGETS")
        .ok()
        .map(|v| v.split(',').filter_map(|b| b.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![5_000, 10_000, 20_000, 80_000]);
    let mut runs = vec![u64::MAX, policy.max_work];
    runs.extend(budgets.into_iter().filter(|b| *b != policy.max_work));
    let mut exact: Vec<Traced> = Vec::new();
    for max_work in runs {
        let engine = ExposureEngine::new(
            store.clone(),
            Arc::new(g.labels.clone()),
            Policy {
                max_work,
                ..policy.clone()
            },
        );
        let name = if max_work == u64::MAX {
            "no budget (exact)".to_string()
        } else {
            format!("budget {max_work}")
        };
        let mut timed = Vec::with_capacity(queries);
        let mut answers = Vec::with_capacity(queries);
        for a in &sample {
            let t = Instant::now();
            let (traced, stats) = engine.traced_counted(a).unwrap();
            timed.push((t.elapsed(), stats));
            answers.push(traced);
        }
        let found = answers.iter().filter(|t| !t.findings.is_empty()).count();
        let cut = timed.iter().filter(|(_, s)| s.cut > 0).count();
        let untraced_max = answers
            .iter()
            .flat_map(|t| &t.untraced)
            .map(|u| u.share_ppm)
            .max()
            .unwrap_or(0);
        timed.sort_by_key(|(t, _)| *t);
        let slow = &timed[timed.len() - (timed.len() / 100).max(1)..];
        let mid = timed.len() / 2;
        println!(
            "[{name}] work per query: slowest 1 % (mean) {}; median query {}",
            mean(slow),
            mean(&timed[mid..=mid])
        );
        let times: Vec<Duration> = timed.iter().map(|(t, _)| *t).collect();
        println!(
            "[{name}] exposure query, 3 hops, in process: {queries} queries, p50 {:?}, p99 {:?}, max {:?} ({found} with findings, {cut} cut by the budget, largest untraced share {:.2} %)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().unwrap(),
            untraced_max as f64 / 1e4
        );
        if exact.is_empty() {
            exact = answers;
            continue;
        }
        let mut differ = 0;
        let mut severity_differs = 0;
        let mut level_differs = 0;
        let mut largest_severity = 0u8;
        let mut largest = 0u32;
        for (budgeted, exact) in answers.iter().zip(&exact) {
            if budgeted.findings == exact.findings {
                continue;
            }
            differ += 1;
            let top = |t: &Traced| t.findings.iter().map(|f| f.severity).max().unwrap_or(0);
            severity_differs += usize::from(top(budgeted) != top(exact));
            // What a gate acts on: the level the exposure alone gives (labels aside).
            level_differs += usize::from(Level::of(top(budgeted)) != Level::of(top(exact)));
            largest_severity = largest_severity.max(top(budgeted).abs_diff(top(exact)));
            let key = |f: &ExposureFinding| (f.direction, f.asset, f.categories.0);
            let shares = |t: &Traced| {
                t.findings
                    .iter()
                    .map(|f| (key(f), f.share_ppm))
                    .collect::<HashMap<_, _>>()
            };
            let (b, e) = (shares(budgeted), shares(exact));
            for k in b.keys().chain(e.keys()) {
                let d = b
                    .get(k)
                    .copied()
                    .unwrap_or(0)
                    .abs_diff(e.get(k).copied().unwrap_or(0));
                largest = largest.max(d);
            }
        }
        println!(
            "[{name}] findings against the exact run: {differ} of {queries} queries differ ({severity_differs} in their highest severity, by at most {largest_severity}; {level_differs} in the level it gives); largest share difference {:.3} % ({largest} ppm)",
            largest as f64 / 1e4
        );
    }

    // 3. Over HTTP: the node's GET /v1/risk over the same transfer store, loopback.
    let node_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    drop(exact);
    let log = store.path().unwrap().to_path_buf();
    drop(store);
    std::fs::create_dir_all(node_dir.path().join("transfers")).unwrap();
    std::fs::rename(
        &log,
        node_dir.path().join("transfers").join("transfers.log"),
    )
    .unwrap();
    // The node's own memory: the generated input is dropped and the peak reset (clear_refs
    // "5"), so the next peak is the replay of the log into the graph plus the node itself.
    let g = generate::Generated {
        transfers: Vec::new(),
        noise: Vec::new(),
        wallets: Vec::new(),
        ..g
    };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before_node = rss_peak_mib();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (url, node) = runtime.block_on(async {
        let sled_store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        for (address, categories) in &g.labels {
            sled_store
                .put_label(&Label {
                    address: *address,
                    categories: *categories,
                    source: "bench".into(),
                    name: "x".into(),
                    first_seen: 1,
                })
                .unwrap();
        }
        let config = Config {
            data_dir: node_dir.path().to_path_buf(),
            load_default_data: false,
            exposure: policy.clone(),
            ..Config::default()
        };
        let signer = Signer::new(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
            0,
            1,
            KeyOrigin::Environment,
        );
        let t = Instant::now();
        let node = Node::with_store(config, sled_store, signer).unwrap();
        println!(
            "node start (replaying the transfer log): {:.1?}",
            t.elapsed()
        );
        {
        let graph = node.exposure.transfers().graph();
        println!(
            "node peak RSS after replaying {} transfers: {} MiB (bench's own data before: {} MiB); graph heap by part (MiB): {}",
            graph.edge_count(),
            rss_peak_mib(),
            rss_before_node,
            graph
                .heap_bytes()
                .iter()
                .map(|(part, b)| format!("{part} {}", b >> 20))
                .collect::<Vec<_>>()
                .join(", ")
        );
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = node.router();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (url, node)
    });
    let times = risk_times(&url, &sample);
    println!(
        "exposure query, 3 hops, over HTTP (GET /v1/risk, loopback, one client): p50 {:?}, p99 {:?}, max {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().unwrap()
    );

    // 4. A new page to the changed score: ingest a one-transfer page from a drainer to a fresh
    // address, then judge the addresses it affected.
    let p = &g.planted[0];
    let fresh = tollgate_sdk::Address::new(0, [0xfe; 32]);
    let page = generate::Generated {
        transfers: vec![tollgate_oracle::exposure::Transfer {
            from: p.drainer,
            to: fresh,
            asset: tollgate_sdk::exposure::Asset::Ton,
            amount: 10_000_000_000,
            lt: u64::MAX / 2,
            utime: 1_900_000_000,
            tx_hash: [0xfe; 32],
        }],
        ..sub
    };
    let text = pages::paged(&pages::transactions(&page), "transactions", 1000).remove(0);
    let t = Instant::now();
    let done = ingest::ingest_text(
        node.exposure.transfers(),
        &text,
        PageKind::Transactions,
        &[],
    )
    .unwrap();
    let (affected, _) = node.exposure.affected(done.edges, 100_000).unwrap();
    let score = node.state.engine.assess(&fresh, 0).unwrap().score;
    println!(
        "new page to changed score: {:.2?} (ingest with fdatasync, {} affected addresses, score now {score})",
        t.elapsed(),
        affected.len()
    );
    println!("peak RSS: {} MiB", rss_peak_mib());

    // 5. The node's own memory, alone: the real binary in its own process over the same
    // transfer log and labels (this process's peak above includes the generated input, which
    // the allocator need not give back). `serve` replays the log before it listens.
    drop(node);
    runtime.shutdown_timeout(Duration::from_secs(5));
    let alone = alone(node_dir.path(), &g.labels, &sample, policy.max_work);
    println!(
        "the node alone (tollgate-oracle serve, own process): start (replaying the log) {:.1?}; RSS after start {} MiB (peak {} MiB); after {} queries over HTTP (p50 {:?}, p99 {:?}) RSS {} MiB, peak {} MiB",
        alone.start,
        alone.started.0,
        alone.started.1,
        sample.len(),
        alone.p50,
        alone.p99,
        alone.queried.0,
        alone.queried.1
    );
    println!("load average at end: {}", load());
}

/// What [`alone`] measured: (RSS, peak RSS) in MiB, read from `/proc/PID/status`.
struct Alone {
    start: Duration,
    started: (u64, u64),
    p50: Duration,
    p99: Duration,
    queried: (u64, u64),
}

/// Runs `tollgate-oracle serve` on a fresh data dir holding the transfer log of `node_dir`
/// and the labels (ingested with `ingest csv`, as an operator would), sends `sample` to its
/// `GET /v1/risk` and reads its memory.
fn alone(
    node_dir: &std::path::Path,
    labels: &HashMap<tollgate_sdk::Address, tollgate_sdk::Categories>,
    sample: &[tollgate_sdk::Address],
    max_work: u64,
) -> Alone {
    use std::io::{BufRead, Write};
    let bin = env!("CARGO_BIN_EXE_tollgate-oracle");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    // Private, as the node wants its data dir (it would otherwise warn and chmod it).
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(data.join("transfers"))
        .unwrap();
    std::fs::rename(
        node_dir.join("transfers").join("transfers.log"),
        data.join("transfers").join("transfers.log"),
    )
    .unwrap();
    let csv = dir.path().join("labels.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
        for (address, categories) in labels {
            for name in categories.names() {
                writeln!(out, "{},{name},bench,x", address.to_raw()).unwrap();
            }
        }
    }
    let status = std::process::Command::new(bin)
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", "csv"])
        .arg(&csv)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "ingest csv failed");
    let t = Instant::now();
    let mut child = std::process::Command::new(bin)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--exposure-max-work"])
        .arg(max_work.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(url) = line.strip_prefix("tollgate-oracle listening on ") {
            break url.to_string();
        }
    };
    let start = t.elapsed();
    // Keep reading, so a line the node prints later cannot fill the pipe and block it.
    std::thread::spawn(move || lines.for_each(drop));
    let pid = child.id().to_string();
    let memory = || {
        let field = |name| status_mib(&pid, name).expect("the node's /proc status");
        (field("VmRSS:"), field("VmHWM:"))
    };
    let started = memory();
    let times = risk_times(&url, sample);
    let queried = memory();
    let _ = child.kill();
    let _ = child.wait();
    Alone {
        start,
        started,
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        queried,
    }
}
