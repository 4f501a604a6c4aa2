//! Replicas on one PostgreSQL database: real node processes with one signing key, under
//! concurrent attestation requests. One replica is killed mid-load; PostgreSQL is restarted
//! under load. Afterwards every acknowledged attestation is in the one audit chain, the chain
//! is linear (dense seqs, every link), no nonce was issued twice, and `audit verify --store`
//! agrees.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pg_cluster::PgCluster;
use crate::support::*;

const WORKERS: usize = 6;

/// How long a test waits for progress it needs (attestations acknowledged, requests refused)
/// before failing: generous, since the machine may be loaded; a healthy run takes a second.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(60);

/// Polls `done` every 20 ms until it holds or [`PROGRESS_DEADLINE`] passes; whether it held.
/// Tests gate their assertions on progress, not on a fixed sleep that a loaded machine outlasts.
async fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < PROGRESS_DEADLINE {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// A node process, killed (SIGKILL) when dropped, so a failing test leaves none behind.
struct Node(Child);

impl Node {
    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts a replica on `url` on a free port and waits for its "listening on" line, with
/// `--trust-head PIN` when given.
fn launch(data: &Path, key: &Path, url: &str, pin: Option<&str>) -> (Node, SocketAddr) {
    std::fs::create_dir_all(data).unwrap();
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("node.log"))
        .unwrap();
    let mut command = serve(data, key, url);
    if let Some(pin) = pin {
        command.args(["--trust-head", pin]);
    }
    let mut child = command
        .env("RUST_LOG", "warn")
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Node(child);
    let addr = listening_addr(stdout, Duration::from_secs(60)).unwrap_or_else(|| {
        let log = std::fs::read_to_string(data.join("node.log")).unwrap_or_default();
        panic!("replica did not start: {log}")
    });
    (child, addr)
}

/// Starts a replica without a pin: the first one on an empty database, or one whose data dir
/// has seen the database before.
fn start_replica(data: &Path, key: &Path, url: &str) -> (Node, SocketAddr) {
    launch(data, key, url, None)
}

/// Adds a replica with a fresh data dir to a database in use, as an operator does: reads the
/// head with `audit head --store` and pins it.
fn join_replica(data: &Path, key: &Path, url: &str) -> (Node, SocketAddr) {
    launch(data, key, url, Some(&read_pin(url, key)))
}

/// `tollgate-oracle audit head --store URL --key-file KEY`.
fn audit_head(url: &str, key: &Path) -> std::process::Output {
    Command::new(binary())
        .args(["audit", "head", "--store", url, "--key-file"])
        .arg(key)
        .output()
        .unwrap()
}

/// `tollgate-oracle audit head --data-dir DATA --key-file KEY`: a sled node's log or a
/// replica's seen head.
fn audit_head_of_dir(data: &Path, key: &Path) -> std::process::Output {
    Command::new(binary())
        .args(["audit", "head", "--data-dir"])
        .arg(data)
        .arg("--key-file")
        .arg(key)
        .env_remove("TOLLGATE_STORE")
        .output()
        .unwrap()
}

/// The head to pin, read with `audit head --store` (which must verify it).
fn read_pin(url: &str, key: &Path) -> String {
    let output = audit_head(url, key);
    assert!(output.status.success(), "audit head: {}", printed(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// What every test here starts from: a throwaway cluster, a database of its own on it, a
/// temporary directory and the replicas' key file in it.
struct Setting {
    cluster: Arc<PgCluster>,
    url: String,
    dir: tempfile::TempDir,
    key: std::path::PathBuf,
}

impl Setting {
    async fn start() -> Setting {
        tokio::task::spawn_blocking(|| {
            let cluster = Arc::new(PgCluster::start());
            let url = cluster.fresh_db();
            let dir = tempfile::tempdir().unwrap();
            let key = key_file(dir.path());
            Setting {
                cluster,
                url,
                dir,
                key,
            }
        })
        .await
        .unwrap()
    }

    /// The data dir of the replica `name`.
    fn data(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// The database's name on the cluster.
    fn db(&self) -> String {
        self.url.rsplit('/').next().unwrap().to_string()
    }

    /// [`start_replica`] with data dir `name`.
    fn replica(&self, name: &str) -> (Node, SocketAddr) {
        start_replica(&self.data(name), &self.key, &self.url)
    }

    /// [`join_replica`] with data dir `name`.
    fn join(&self, name: &str) -> (Node, SocketAddr) {
        join_replica(&self.data(name), &self.key, &self.url)
    }

    /// The first replica, data dir "a", signs `n` attestations and is killed; then the
    /// database is copied as a backup would keep it (`CREATE DATABASE … TEMPLATE`). The
    /// backup's name.
    async fn backup_after(&self, n: usize) -> String {
        let (mut replica, addr) = self.replica("a");
        attest(addr, n).await;
        replica.kill();
        let (cluster, db) = (self.cluster.clone(), self.db());
        let backup = format!("{db}_backup");
        let sql = format!("CREATE DATABASE {backup} TEMPLATE {db}");
        tokio::task::spawn_blocking(move || {
            cluster.client("postgres").batch_execute(&sql).unwrap()
        })
        .await
        .unwrap();
        backup
    }
}

/// What the workers saw.
#[derive(Default)]
struct Seen {
    /// (nonce, hash) of every 200.
    acked: Vec<(String, String)>,
    /// Statuses other than 200, with how long the answer took.
    refused: Vec<(u16, Duration)>,
    /// Requests that got no answer (connection refused or cut: a killed replica).
    unanswered: usize,
}

async fn hammer(addr: SocketAddr, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let body = format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"mainnet"}}"#);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        match http(addr, "POST", "/v1/attestations", Some(&body)).await {
            Ok((200, text)) => {
                let value: Value = serde_json::from_str(&text).expect("a complete JSON body");
                let nonce = value["attestation"]["nonce"].as_str().unwrap().to_string();
                seen.lock()
                    .unwrap()
                    .acked
                    .push((nonce, value["hash"].as_str().unwrap().to_string()));
            }
            Ok((status, _)) => {
                seen.lock()
                    .unwrap()
                    .refused
                    .push((status, started.elapsed()));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => {
                seen.lock().unwrap().unanswered += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

fn verify_with_cli(url: &str, data: &Path) {
    let output = Command::new(binary())
        .args(["audit", "verify", "--data-dir"])
        .arg(data)
        .env("TOLLGATE_STORE", url)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && printed.contains("audit log OK"),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    let key = dir.join("replicas.key");
    tollgate_oracle::signer::write_key_file(
        &key,
        &ed25519_dalek::SigningKey::from_bytes(&[11; 32]),
        false,
    )
    .unwrap();
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_replica_mid_load_loses_nothing_and_keeps_one_chain() {
    let setting = Setting::start().await;
    let (mut a, addr_a) = setting.replica("a");
    let (b, addr_b) = setting.join("b");
    let stop = Arc::new(AtomicBool::new(false));
    let (seen_a, seen_b) = (Arc::default(), Arc::<Mutex<Seen>>::default());
    let mut workers = Vec::new();
    for (addr, seen) in [(addr_a, &seen_a), (addr_b, &seen_b)] {
        for _ in 0..WORKERS {
            workers.push(tokio::spawn(hammer(addr, stop.clone(), Arc::clone(seen))));
        }
    }
    // Both replicas under load: A is killed once it has acknowledged enough to lose some.
    wait_for(|| {
        seen_a.lock().unwrap().acked.len() > 50 && !seen_b.lock().unwrap().acked.is_empty()
    })
    .await;
    a.kill(); // SIGKILL

    let acked_b_at_kill = seen_b.lock().unwrap().acked.len();
    wait_for(|| seen_b.lock().unwrap().acked.len() > acked_b_at_kill + 50).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let (seen_a, seen_b) = (
        std::mem::take(&mut *seen_a.lock().unwrap()),
        std::mem::take(&mut *seen_b.lock().unwrap()),
    );
    assert!(
        seen_a.acked.len() > 50,
        "replica A signed under load: {} acked, refused {:?}, unanswered {}, log {}",
        seen_a.acked.len(),
        &seen_a.refused[..seen_a.refused.len().min(5)],
        seen_a.unanswered,
        std::fs::read_to_string(setting.data("a").join("node.log")).unwrap_or_default()
    );
    assert!(
        seen_b.acked.len() > acked_b_at_kill,
        "replica B kept signing after A died"
    );
    assert!(
        seen_b.refused.is_empty() && seen_b.unanswered == 0,
        "replica B refused {:?}",
        seen_b.refused
    );
    let mut all = seen_a.acked.clone();
    all.extend(seen_b.acked.iter().cloned());
    let logged = check_audit_log(addr_b, &all).await;
    assert!(logged >= all.len());
    // The killed replica comes back on the same chain and signs after B's entries.
    let (a, addr_a) = setting.replica("a");
    let body = format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"mainnet"}}"#);
    let (status, text) = http(addr_a, "POST", "/v1/attestations", Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(check_audit_log(addr_a, &all).await, logged + 1);
    for mut child in [a, b] {
        child.kill(); // SIGKILL
    }
    let (url, data) = (setting.url.clone(), setting.data("a"));
    tokio::task::spawn_blocking(move || verify_with_cli(&url, &data))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_postgres_under_load_fails_fast_and_recovers() {
    let setting = Setting::start().await;
    let cluster = setting.cluster.clone();
    let (a, addr_a) = setting.replica("a");
    let (b, addr_b) = setting.join("b");
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::<Mutex<Seen>>::default();
    let workers: Vec<_> = [addr_a, addr_b]
        .into_iter()
        .flat_map(|addr| {
            let (stop, seen) = (stop.clone(), seen.clone());
            (0..WORKERS / 2).map(move |_| tokio::spawn(hammer(addr, stop.clone(), seen.clone())))
        })
        .collect();
    wait_for(|| seen.lock().unwrap().acked.len() > 20).await;
    let before_outage = seen.lock().unwrap().acked.len();
    let pg = cluster.clone();
    tokio::task::spawn_blocking(move || pg.stop_server("fast"))
        .await
        .unwrap();
    // Every worker has been refused at least once: the outage was seen on both replicas.
    wait_for(|| seen.lock().unwrap().refused.len() >= WORKERS).await;
    let during = {
        let seen = seen.lock().unwrap();
        (seen.acked.len(), seen.refused.clone())
    };
    let pg = cluster.clone();
    tokio::task::spawn_blocking(move || pg.start_server())
        .await
        .unwrap();
    // Recovery without restarting the replicas: both sign again within seconds.
    let recovered = wait_for(|| seen.lock().unwrap().acked.len() > during.0 + 20).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        before_outage > 20,
        "signed before the outage: {before_outage}, refused {:?}",
        &seen.refused[..seen.refused.len().min(5)]
    );
    assert!(
        recovered,
        "the replicas sign again after PostgreSQL is back"
    );
    let (_, refused) = during;
    assert!(
        !refused.is_empty(),
        "requests during the outage were refused"
    );
    for (status, took) in &refused {
        assert_eq!(*status, 503, "an outage is 503");
        assert!(
            *took < Duration::from_secs(3),
            "refused fast, not after a hang: {took:?}"
        );
    }
    assert_eq!(seen.unanswered, 0, "the replicas never stopped answering");
    for addr in [addr_a, addr_b] {
        let started = Instant::now();
        let status = loop {
            let (status, _) = http(addr, "GET", "/v1/ready", None).await.unwrap();
            if status == 200 || started.elapsed() > PROGRESS_DEADLINE {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status, 200, "ready again");
    }
    check_audit_log(addr_a, &seen.acked).await;
    for mut child in [a, b] {
        child.kill(); // SIGKILL
    }
    let (url, data) = (setting.url.clone(), setting.data("a"));
    tokio::task::spawn_blocking(move || verify_with_cli(&url, &data))
        .await
        .unwrap();
}

/// Starts a single node on its sled store (the embedded default).
fn start_sled_node(data: &Path, key: &Path) -> (Node, SocketAddr) {
    std::fs::create_dir_all(data).unwrap();
    let stderr = std::fs::File::create(data.join("node.log")).unwrap();
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--key-file")
        .arg(key)
        .env_remove("TOLLGATE_STORE")
        .env("RUST_LOG", "warn")
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let child = Node(child);
    let addr = lines
        .find_map(|line| {
            line.ok()?
                .strip_prefix("tollgate-oracle listening on http://")
                .map(|a| a.parse::<SocketAddr>().unwrap())
        })
        .expect("the sled node started");
    (child, addr)
}

/// The `--trust-head` value `migrate` printed at the end.
fn migrate_pin(output: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default();
    line.strip_prefix("start each replica on it with: --trust-head ")
        .unwrap_or_else(|| panic!("no pin at the end: {text}"))
        .to_string()
}

fn migrate_cli(data: &Path, key: &Path, url: &str) -> std::process::Output {
    Command::new(binary())
        .args(["migrate", "--to", url, "--data-dir"])
        .arg(data)
        .arg("--key-file")
        .arg(key)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sled_node_migrates_to_postgres_and_its_replicas_continue_the_chain() {
    let setting = Setting::start().await;
    let (url, key) = (setting.url.clone(), setting.key.clone());
    let sled_data = setting.data("sled");
    // A node on sled, with the bundled lists, signs a few attestations.
    let (mut node, addr) = tokio::task::spawn_blocking({
        let (data, key) = (sled_data.clone(), key.clone());
        move || start_sled_node(&data, &key)
    })
    .await
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::<Mutex<Seen>>::default();
    let worker = tokio::spawn(hammer(addr, stop.clone(), seen.clone()));
    wait_for(|| seen.lock().unwrap().acked.len() >= 20).await;
    stop.store(true, Ordering::Relaxed);
    worker.await.unwrap();
    let (_, counts) = http_with(addr, "GET", "/v1/admin/labels", None, &[admin_header()])
        .await
        .unwrap();
    node.kill(); // SIGKILL

    let acked = seen.lock().unwrap().acked.clone();
    assert!(!acked.is_empty());

    let output = tokio::task::spawn_blocking({
        let (data, key, url) = (sled_data.clone(), key.clone(), url.clone());
        move || migrate_cli(&data, &key, &url)
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && printed.contains("records/s"),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains(&format!("{} audit entries", acked.len())),
        "{printed}"
    );
    // The head to pin, printed last: the sled node's head, as `audit head` reads it there.
    let pin = migrate_pin(&output);
    let sled_head = tokio::task::spawn_blocking({
        let (data, key) = (sled_data.clone(), key.clone());
        move || audit_head_of_dir(&data, &key)
    })
    .await
    .unwrap();
    assert!(sled_head.status.success(), "{}", self::printed(&sled_head));
    assert_eq!(String::from_utf8_lossy(&sled_head.stdout).trim(), pin);
    assert!(pin.starts_with(&format!("{}:", acked.len())), "{pin}");
    // A second migration into the same database is refused: nothing is overwritten.
    let again = tokio::task::spawn_blocking({
        let (data, key, url) = (sled_data.clone(), key.clone(), url.clone());
        move || migrate_cli(&data, &key, &url)
    })
    .await
    .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a store"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // No replica has signed the migrated head yet: `audit head --store` cannot vouch for it,
    // and a replica without the pin refuses the database, saying what to run.
    let (data, key2, url2) = (setting.data("r"), key.clone(), url.clone());
    tokio::task::spawn_blocking(move || {
        let output = audit_head(&url2, &key2);
        let text = self::printed(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains("not signed yet"), "{text}");
        let log = failed_start(&data, &key2, &url2);
        assert!(
            log.contains("has not seen this database before") && log.contains("audit head --store"),
            "{log}"
        );
    })
    .await
    .unwrap();
    // A replica on the database, with the pin, serves the same labels and continues the same
    // chain; it signed the head, which `audit head --store` now reads as the pin.
    let (replica, addr) = launch(&setting.data("r"), &key, &url, Some(&pin));
    assert_eq!(read_pin(&url, &key), pin);
    let (_, replica_counts) = http_with(addr, "GET", "/v1/admin/labels", None, &[admin_header()])
        .await
        .unwrap();
    assert_eq!(counts, replica_counts, "the same label set");
    let body = format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"mainnet"}}"#);
    let (status, text) = http(addr, "POST", "/v1/attestations", Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");
    let value: Value = serde_json::from_str(&text).unwrap();
    let next = value["attestation"]["nonce"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let last_sled = acked
        .iter()
        .map(|(n, _)| n.parse::<u64>().unwrap())
        .max()
        .unwrap();
    assert!(
        next >> 32 > last_sled >> 32,
        "nonces continue after the sled node's"
    );
    assert_eq!(check_audit_log(addr, &acked).await, acked.len() + 1);
    let mut replica = replica;
    replica.kill(); // SIGKILL
}

/// GET `path` (with the admin token) as JSON.
async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, text) = http_with(addr, "GET", path, None, &[admin_header()])
        .await
        .unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// What a node says about an address's exposure (the judgement's time left out).
async fn exposure_of(addr: SocketAddr, address: &str) -> Value {
    let judged = get_json(addr, &format!("/v1/risk/{address}")).await;
    serde_json::json!([
        judged["level"],
        judged["score"],
        judged["categories"],
        judged["exposure"],
        judged["exposure_version"]
    ])
}

/// `migrate --to` carries the whole data dir: a replica on the migrated database serves the
/// same change feed and judges the same exposure as the sled node did, webhook delivery
/// states included; a database holding any of these parts already is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_the_change_feed_webhook_states_and_transfer_log() {
    use tollgate_oracle::exposure::generate::{self, pages, Shape};
    let setting = Setting::start().await;
    let (cluster, url, key) = (
        setting.cluster.clone(),
        setting.url.clone(),
        setting.key.clone(),
    );
    let dir = &setting.dir;
    let sled_data = setting.data("sled");
    // A transfer graph with planted drainers, its labels, ingested by the CLI into sled.
    let g = generate::generate(&Shape {
        wallets: 300,
        transfers: 900,
        drainers: 4,
        ..Shape::small(11)
    });
    let transactions = dir.path().join("transactions.json");
    let jettons = dir.path().join("jettons.json");
    let labels = dir.path().join("labels.csv");
    std::fs::write(
        &transactions,
        pages::paged(&pages::transactions(&g), "transactions", usize::MAX).concat(),
    )
    .unwrap();
    std::fs::write(
        &jettons,
        pages::paged(&pages::jetton_transfers(&g), "jetton_transfers", usize::MAX).concat(),
    )
    .unwrap();
    let mut csv = String::new();
    for (address, categories) in &g.labels {
        for name in categories.names() {
            csv.push_str(&format!(
                "{},{name},test/generated,planted\n",
                address.to_raw()
            ));
        }
    }
    std::fs::write(&labels, csv).unwrap();
    tokio::task::spawn_blocking({
        let (data, transactions, jettons, labels) = (
            sled_data.clone(),
            transactions.clone(),
            jettons.clone(),
            labels.clone(),
        );
        move || {
            for args in [
                ["transactions", transactions.to_str().unwrap()],
                ["jetton-transfers", jettons.to_str().unwrap()],
                ["csv", labels.to_str().unwrap()],
            ] {
                let output = ingest_cli(&data, &args, None);
                assert!(output.status.success(), "{}", printed(&output));
            }
            // A webhook subscriber's delivery state, as the dispatcher keeps it.
            let feed = tollgate_oracle::changes::ChangeLog::open(
                &data.join(tollgate_oracle::node::CHANGES_DIR),
            )
            .unwrap();
            feed.put_webhook_state("hook-1", br#"{"delivered":7}"#)
                .unwrap();
        }
    })
    .await
    .unwrap();

    let addresses: Vec<String> = g
        .planted
        .iter()
        .flat_map(|p| [p.deposit, p.drainer])
        .chain(g.hot_wallets.iter().copied())
        .map(|a| a.to_raw())
        .collect();
    let (mut node, addr) = tokio::task::spawn_blocking({
        let (data, key) = (sled_data.clone(), key.clone());
        move || start_sled_node(&data, &key)
    })
    .await
    .unwrap();
    let sled_changes = get_json(addr, "/v1/changes?limit=1000").await;
    let mut sled_exposure = Vec::new();
    for address in &addresses {
        sled_exposure.push(exposure_of(addr, address).await);
    }
    node.kill(); // SIGKILL
    let changes = sled_changes["changes"].as_array().unwrap().len();
    assert!(
        changes >= g.planted.len(),
        "the labels changed levels: {sled_changes}"
    );
    assert!(
        sled_exposure
            .iter()
            .any(|e| e[3].as_array().is_some_and(|f| !f.is_empty())),
        "the sled node finds exposure: {sled_exposure:?}"
    );

    let output = tokio::task::spawn_blocking({
        let (data, key, url) = (sled_data.clone(), key.clone(), url.clone());
        move || migrate_cli(&data, &key, &url)
    })
    .await
    .unwrap();
    let text = printed(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains(&format!("{changes} feed changes"))
            && text.contains("1 webhook states")
            && text.contains(&format!("of {} transfers", g.transfers.len()))
            && text.contains("  transfer frames: 2 in ")
            && text.contains("  change feed, levels and webhook states: "),
        "{text}"
    );

    let (mut replica, addr) = launch(&setting.data("r"), &key, &url, Some(&migrate_pin(&output)));
    assert_eq!(
        get_json(addr, "/v1/changes?limit=1000").await,
        sled_changes,
        "the same change feed"
    );
    for (address, expected) in addresses.iter().zip(&sled_exposure) {
        assert_eq!(&exposure_of(addr, address).await, expected, "{address}");
    }
    replica.kill();
    let state = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            let options = tollgate_oracle::store::postgres::PgOptions::default();
            let pool = tollgate_oracle::store::postgres::PgPool::new(&url, &options).unwrap();
            tollgate_oracle::changes::ChangeLog::over(
                tollgate_oracle::changes::postgres::PgFeed::new(pool),
            )
            .webhook_state("hook-1")
            .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(state.as_deref(), Some(&br#"{"delivered":7}"#[..]));

    // A database that holds only a feed record, a level, a webhook state or a transfer frame
    // already holds a store: refused, as for labels, and nothing is added to it.
    let (cluster2, data, key) = (cluster.clone(), sled_data.clone(), key.clone());
    tokio::task::spawn_blocking(move || {
        for insert in [
            "INSERT INTO change_feed (seq, value) VALUES (1, '\\x00')",
            "INSERT INTO change_levels (key, value) VALUES ('\\x00', '\\x00')",
            "INSERT INTO webhook_states (id, value) VALUES ('x', '\\x00')",
            "INSERT INTO transfer_frames (seq, crc, payload) VALUES (1, 0, '\\x00')",
        ] {
            let url = cluster2.fresh_db();
            let mut client = PgCluster::client_of(&url);
            tollgate_oracle::store::postgres::migrate(&mut client).unwrap();
            client.batch_execute(insert).unwrap();
            let output = migrate_cli(&data, &key, &url);
            assert!(
                !output.status.success() && printed(&output).contains("already holds a store"),
                "{insert}: {}",
                printed(&output)
            );
            let labels: i64 = client
                .query_one("SELECT count(*) FROM labels", &[])
                .unwrap()
                .get(0);
            assert!(
                labels <= 1,
                "{insert}: nothing copied ({labels} label rows)"
            );
        }
    })
    .await
    .unwrap();
    drop(cluster);
}

/// `tollgate-oracle serve` of a replica over `data` with `key`, on the shared store `url`.
fn serve(data: &Path, key: &Path, url: &str) -> Command {
    let mut command = Command::new(binary());
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-default-data",
            "--data-dir",
        ])
        .arg(data)
        .arg("--key-file")
        .arg(key)
        .env("TOLLGATE_STORE", url);
    command
}

/// A replica that cannot start: its exit status and what it logged.
fn failed_start(data: &Path, key: &Path, url: &str) -> String {
    std::fs::create_dir_all(data).unwrap();
    let mut command = serve(data, key, url);
    command.env("RUST_LOG", "error");
    let output = exits_within(command, PROGRESS_DEADLINE)
        .unwrap_or_else(|| panic!("the replica started on {url}: it must refuse"));
    assert!(
        !output.status.success(),
        "a damaged chain must refuse the start"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn verify_fails(url: &str, data: &Path) -> String {
    let output = Command::new(binary())
        .args(["audit", "verify", "--data-dir"])
        .arg(data)
        .env("TOLLGATE_STORE", url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "exit code 2 on damage");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_shortened_chain_in_postgres_refuses_start_and_verify() {
    let setting = Setting::start().await;
    let (url, key, data) = (setting.url.clone(), setting.key.clone(), setting.data("a"));
    let (mut replica, addr) = setting.replica("a");
    let body = format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"mainnet"}}"#);
    for _ in 0..5 {
        let (status, text) = http(addr, "POST", "/v1/attestations", Some(&body))
            .await
            .unwrap();
        assert_eq!(status, 200, "{text}");
    }
    replica.kill(); // SIGKILL

    let (url2, data2, key2) = (url.clone(), data.clone(), key.clone());
    tokio::task::spawn_blocking(move || {
        let (url, data, key) = (url2, data2, key2);
        let mut client = PgCluster::client_of(&url);
        // One flipped byte in an entry: its hash no longer matches, the next link breaks.
        client
            .execute(
                "UPDATE audit_entries SET entry = set_byte(entry, 60, get_byte(entry, 60) # 1) WHERE seq = 4",
                &[],
            )
            .unwrap();
        assert!(verify_fails(&url, &data).contains("BROKEN"));
        let log = failed_start(&data, &key, &url);
        assert!(log.contains("seq 4"), "{log}");
        client
            .execute(
                "UPDATE audit_entries SET entry = set_byte(entry, 60, get_byte(entry, 60) # 1) WHERE seq = 4",
                &[],
            )
            .unwrap();
        verify_with_cli(&url, &data);
        // A lost tail: the head row names an entry that is gone.
        client
            .execute("DELETE FROM audit_entries WHERE seq = 4", &[])
            .unwrap();
        assert!(verify_fails(&url, &data).contains("BROKEN"));
        let log = failed_start(&data, &key, &url);
        assert!(log.contains("entries"), "{log}");
    })
    .await
    .unwrap();
}

/// A head row that is not 32 bytes (the schema's check dropped and the row written outside
/// the node) is the same damage on every path: the running replica's next commit refuses it
/// as a broken chain (not as a head "signed by another key" over a head read as genesis), and
/// so do a start and `audit verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_row_of_the_wrong_length_is_a_broken_chain_on_every_path() {
    let setting = Setting::start().await;
    let (url, key, data) = (setting.url.clone(), setting.key.clone(), setting.data("a"));
    let (mut replica, addr) = setting.replica("a");
    attest(addr, 2).await;
    {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            PgCluster::client_of(&url)
                .batch_execute(
                    "ALTER TABLE audit_head DROP CONSTRAINT audit_head_head_check;
                     UPDATE audit_head SET head = substring(head from 1 for 31) WHERE id = 1",
                )
                .unwrap()
        })
        .await
        .unwrap();
    }
    let body = format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"mainnet"}}"#);
    let (status, _) = http(addr, "POST", "/v1/attestations", Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 503, "no attestation after a damaged head");
    replica.kill();
    let log = std::fs::read_to_string(data.join("node.log")).unwrap();
    let commit = log
        .lines()
        .find(|line| line.contains("audit commit failed"))
        .unwrap_or_else(|| panic!("the commit failed: {log}"));
    assert!(
        commit.contains("audit chain broken") && commit.contains("not 32 bytes"),
        "{commit}"
    );
    tokio::task::spawn_blocking(move || {
        let log = failed_start(&data, &key, &url);
        assert!(log.contains("not 32 bytes"), "{log}");
        let printed = verify_fails(&url, &data);
        assert!(
            printed.contains("BROKEN") && printed.contains("not 32 bytes"),
            "{printed}"
        );
    })
    .await
    .unwrap();
}

/// `tollgate-oracle ingest …` with `--store`, `TOLLGATE_STORE` or `--config` naming the
/// database: a run of the CLI beside the running replicas.
fn ingest_cli(data: &Path, args: &[&str], env_store: Option<&str>) -> std::process::Output {
    let mut command = Command::new(binary());
    command
        .arg("ingest")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("TOLLGATE_STORE");
    if let Some(url) = env_store {
        command.env("TOLLGATE_STORE", url);
    }
    command.output().unwrap()
}

fn printed(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn toncenter_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/toncenter")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// The operator ingests straight into the shared database while two replicas run: the labels
/// are judged by both at once, the level change is one record of the one change feed, the
/// transfers are frames of the one transfer log, and the CLI's data dir holds no store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_ingests_labels_and_transfers_into_the_shared_database() {
    let setting = Setting::start().await;
    let (url, dir) = (setting.url.clone(), &setting.dir);
    let (a, addr_a) = setting.replica("a");
    let (b, addr_b) = setting.join("b");
    for addr in [addr_a, addr_b] {
        let (_, text) = http(addr, "GET", &format!("/v1/risk/{UNKNOWN}"), None)
            .await
            .unwrap();
        assert!(text.contains(r#""level":"low""#), "{text}");
    }
    let cli = dir.path().join("cli");
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, format!("{UNKNOWN},scam,team,Drainer\n")).unwrap();
    let output = tokio::task::spawn_blocking({
        let (cli, csv, url) = (cli.clone(), csv.clone(), url.clone());
        move || ingest_cli(&cli, &["--store", &url, "csv", csv.to_str().unwrap()], None)
    })
    .await
    .unwrap();
    let text = printed(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("added 1")
            && text.contains("level changes recorded: 1")
            && text.contains("the PostgreSQL store 127.0.0.1:"),
        "{text}"
    );
    for addr in [addr_a, addr_b] {
        let (_, text) = http(addr, "GET", &format!("/v1/risk/{UNKNOWN}"), None)
            .await
            .unwrap();
        assert!(
            text.contains(r#""level":"severe""#),
            "every replica judges with it: {text}"
        );
        let (status, text) = http_with(addr, "GET", "/v1/changes", None, &[admin_header()])
            .await
            .unwrap();
        assert_eq!(status, 200, "{text}");
        let feed: Value = serde_json::from_str(&text).unwrap();
        let changes = feed["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 1, "one change in the one feed: {text}");
        assert_eq!(changes[0]["cause"], "ingest");
        assert_eq!(changes[0]["current"]["level"], "severe");
    }
    // Transfers: the flag, the variable and the TOML file name the same database.
    let config = dir.path().join("tollgate.toml");
    std::fs::write(&config, format!("store = \"{url}\"\n")).unwrap();
    let (first, again, jettons) = tokio::task::spawn_blocking({
        let (cli, url, config) = (cli.clone(), url.clone(), config.clone());
        move || {
            let transactions = toncenter_fixture("transactions.json");
            (
                ingest_cli(&cli, &["transactions", &transactions], Some(&url)),
                ingest_cli(
                    &cli,
                    &["--store", &url, "transactions", &transactions],
                    None,
                ),
                ingest_cli(
                    &cli,
                    &[
                        "--config",
                        config.to_str().unwrap(),
                        "jetton-transfers",
                        &toncenter_fixture("jetton_transfers.json"),
                    ],
                    None,
                ),
            )
        }
    })
    .await
    .unwrap();
    for output in [&first, &again, &jettons] {
        assert!(output.status.success(), "{}", printed(output));
    }
    let count = |output: &std::process::Output| -> usize {
        let text = printed(output);
        let line = text
            .lines()
            .find(|l| l.starts_with("transfer store: "))
            .unwrap_or_else(|| panic!("{text}"))
            .to_string();
        assert!(line.contains("the PostgreSQL store"), "{line}");
        line["transfer store: ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (after_first, after_again, after_jettons) = (count(&first), count(&again), count(&jettons));
    assert!(after_first > 0, "{}", printed(&first));
    assert_eq!(
        after_again, after_first,
        "a second run of the same pages adds nothing"
    );
    assert!(after_jettons > after_first, "{}", printed(&jettons));
    // The frames are in the shared log, as a replica applies them.
    let shared = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let options = tollgate_oracle::store::postgres::PgOptions::default();
            let pool = tollgate_oracle::store::postgres::PgPool::new(&url, &options).unwrap();
            let frames = tollgate_oracle::exposure::transfers_pg::PgFrames::new(
                pool,
                Duration::from_secs(30),
            );
            tollgate_oracle::exposure::TransferStore::shared(Box::new(frames))
                .unwrap()
                .graph()
                .edge_count()
        })
        .await
        .unwrap()
    };
    assert_eq!(shared, after_jettons);
    // Nothing went to the CLI's data dir.
    for part in ["store", "changes", "transfers"] {
        assert!(
            !cli.join(part).exists(),
            "{part} was written to the data dir"
        );
    }
    for mut child in [a, b] {
        child.kill();
    }
}

/// A store that is not a PostgreSQL connection string, a malformed one, and a database nobody
/// answers at: each refused with its own message, quickly, and nothing written anywhere.
#[test]
fn the_cli_ingest_refuses_a_bad_or_unreachable_database() {
    let dir = tempfile::tempdir().unwrap();
    let cli = dir.path().join("cli");
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, format!("{UNKNOWN},scam,team,Drainer\n")).unwrap();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // released: nothing listens there now
    let unreachable = format!("postgres://tollgate:s3cret@127.0.0.1:{closed}/oracle");
    let transactions = toncenter_fixture("transactions.json");
    for (store, args, expected) in [
        (
            "/var/lib/tollgate",
            &["csv", csv.to_str().unwrap()][..],
            "store must be a PostgreSQL connection string",
        ),
        (
            "postgres://u@127.0.0.1:notaport/db",
            &["csv", csv.to_str().unwrap()][..],
            "invalid PostgreSQL connection string",
        ),
        (
            &unreachable,
            &["csv", csv.to_str().unwrap()][..],
            "cannot reach the PostgreSQL store 127.0.0.1:",
        ),
        (
            &unreachable,
            &["transactions", &transactions][..],
            "cannot reach the PostgreSQL store 127.0.0.1:",
        ),
    ] {
        let started = Instant::now();
        let mut all = vec!["--store", store];
        all.extend(args);
        let output = ingest_cli(&cli, &all, None);
        let text = printed(&output);
        assert!(!output.status.success(), "{text}");
        assert!(text.contains(expected), "{store}: {text}");
        assert!(
            !text.contains("s3cret"),
            "the password stays out of messages: {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "refused fast: {:?}",
            started.elapsed()
        );
    }
    assert!(!cli.exists(), "nothing written to the data dir");
}

/// Signs `n` attestations through `addr`.
async fn attest(addr: SocketAddr, n: usize) {
    let body = format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"mainnet"}}"#);
    for _ in 0..n {
        let (status, text) = http(addr, "POST", "/v1/attestations", Some(&body))
            .await
            .unwrap();
        assert_eq!(status, 200, "{text}");
    }
}

/// SPEC §11.3: a database restored from a backup (here a copy made with `CREATE DATABASE …
/// TEMPLATE`), rolled back under a running replica, or whose head row was re-signed by
/// another key, refuses readiness and signing with a message saying what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_rolled_back_or_foreign_signed_database_is_refused() {
    let setting = Setting::start().await;
    let (cluster, url, key, db) = (
        setting.cluster.clone(),
        setting.url.clone(),
        setting.key.clone(),
        setting.db(),
    );
    let data = setting.data("a");
    // The backup: a copy of the database with 3 entries.
    let backup = setting.backup_after(3).await;
    let (mut replica, addr) = start_replica(&data, &key, &url);
    attest(addr, 3).await;
    // The file remembers 6 entries, 0600.
    let seen = std::fs::read_to_string(data.join("audit-head-seen")).unwrap();
    assert!(seen.contains("\"entries\":6"), "{seen}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("audit-head-seen"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Rolled back under the running replica: the head row goes back to 3 entries (as the
    // backup has it, signature included); the next commit and readiness refuse.
    {
        let (cluster, db, backup) = (cluster.clone(), db.clone(), backup.clone());
        tokio::task::spawn_blocking(move || {
            let mut c = cluster.client(&db);
            let old = cluster
                .client(&backup)
                .query_one(
                    "SELECT entries, head, signature FROM audit_head WHERE id = 1",
                    &[],
                )
                .unwrap();
            let (entries, head, sig): (i64, Vec<u8>, Vec<u8>) =
                (old.get(0), old.get(1), old.get(2));
            c.execute("DELETE FROM audit_entries WHERE seq >= 3", &[])
                .unwrap();
            c.execute(
                "UPDATE audit_head SET entries = $1, head = $2, signature = $3 WHERE id = 1",
                &[&entries, &head, &sig],
            )
            .unwrap();
        })
        .await
        .unwrap();
    }
    let body = format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"mainnet"}}"#);
    let (status, _) = http(addr, "POST", "/v1/attestations", Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 503, "no attestation on a rolled-back chain");
    let (status, text) = http(addr, "GET", "/v1/ready", None).await.unwrap();
    assert_eq!(status, 503, "{text}");
    tokio::time::sleep(Duration::from_millis(1500)).await; // a probe ran: still refused
    let (status, _) = http(addr, "GET", "/v1/ready", None).await.unwrap();
    assert_eq!(status, 503);
    replica.kill();
    assert!(
        std::fs::read_to_string(data.join("node.log"))
            .unwrap()
            .contains("older than this replica has seen"),
        "the log says why"
    );

    let (cluster2, data2, key2) = (cluster.clone(), data.clone(), key.clone());
    let backup_url = cluster.url_of(&backup);
    tokio::task::spawn_blocking(move || {
        // The restored backup, on the replica that saw more: refused at start.
        let log = failed_start(&data2, &key2, &backup_url);
        assert!(log.contains("older than this replica has seen") && log.contains("Bring back the newest database"), "{log}");
        // A head row whose signature fails (altered, or written by another key): refused
        // by every replica, one that never saw this database too.
        let other = tempfile::tempdir().unwrap();
        let mut c = PgCluster::client_of(&backup_url);
        c.execute(
            "UPDATE audit_head SET signature = set_byte(signature, 5, get_byte(signature, 5) # 1) WHERE id = 1",
            &[],
        )
        .unwrap();
        let fresh = other.path().join("fresh");
        let log = failed_start(&fresh, &key2, &backup_url);
        assert!(log.contains("not signed by this node's key"), "{log}");
        drop(cluster2);
    })
    .await
    .unwrap();
}

/// The head row of the database `url`: `ENTRIES:HASH`, read behind the node's back.
fn head_row(url: &str) -> String {
    let row = PgCluster::client_of(url)
        .query_one("SELECT entries, head FROM audit_head WHERE id = 1", &[])
        .unwrap();
    let (entries, head): (i64, Vec<u8>) = (row.get(0), row.get(1));
    format!("{entries}:{}", hex::encode(head))
}

/// `audit head --store` prints the database's head once its signature verifies under the
/// node's key (from the key file or as `--public-key`); another key, or a signature altered
/// in the database, is exit code 2. A replica's data dir gives the head it has seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_head_prints_the_signed_head_and_refuses_a_bad_signature() {
    let setting = Setting::start().await;
    let (url, key, data) = (setting.url.clone(), setting.key.clone(), setting.data("a"));
    tokio::task::spawn_blocking({
        let (url, key) = (url.clone(), key.clone());
        move || {
            let output = audit_head(&url, &key);
            assert!(!output.status.success());
            assert!(
                printed(&output).contains("no audit chain yet"),
                "{}",
                printed(&output)
            );
        }
    })
    .await
    .unwrap();
    let (mut replica, addr) = setting.replica("a");
    attest(addr, 3).await;
    replica.kill();
    tokio::task::spawn_blocking(move || {
        let pin = read_pin(&url, &key);
        assert!(pin.starts_with("3:"), "{pin}");
        assert_eq!(pin, head_row(&url));
        let public = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[11; 32])
                .verifying_key()
                .as_bytes(),
        );
        let other = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[12; 32])
                .verifying_key()
                .as_bytes(),
        );
        let with_public = |public: &str| {
            Command::new(binary())
                .args(["audit", "head", "--store", &url, "--public-key", public])
                .env_remove("TOLLGATE_KEY_FILE")
                .output()
                .unwrap()
        };
        let output = with_public(&public);
        assert!(output.status.success(), "{}", printed(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), pin);
        // The replica's own record of what it has seen is the same head.
        let output = audit_head_of_dir(&data, &key);
        assert!(output.status.success(), "{}", printed(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), pin);
        // Another key: not this node's head.
        let output = with_public(&other);
        assert_eq!(output.status.code(), Some(2), "{}", printed(&output));
        assert!(
            printed(&output).contains("not signed by this node's key"),
            "{}",
            printed(&output)
        );
        let output = with_public("abcd");
        assert_eq!(output.status.code(), Some(1));
        assert!(printed(&output).contains("64 hex digits"), "{}", printed(&output));
        // A signature altered in the database.
        PgCluster::client_of(&url)
            .execute(
                "UPDATE audit_head SET signature = set_byte(signature, 5, get_byte(signature, 5) # 1) WHERE id = 1",
                &[],
            )
            .unwrap();
        let output = audit_head(&url, &key);
        assert_eq!(output.status.code(), Some(2), "{}", printed(&output));
        assert!(
            printed(&output).contains("audit head NOT TRUSTED")
                && printed(&output).contains("not signed by this node's key"),
            "{}",
            printed(&output)
        );
        assert!(output.stdout.is_empty(), "no head printed");
    })
    .await
    .unwrap();
}

/// Runs `command` to its end, or kills it after `limit` (a node that started serving): its
/// output, or `None` when it had to be killed.
fn exits_within(mut command: Command, limit: Duration) -> Option<std::process::Output> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
}

/// Labels in the database `url`.
fn label_rows(url: &str) -> i64 {
    PgCluster::client_of(url)
        .query_one("SELECT count(*) FROM labels", &[])
        .unwrap()
        .get(0)
}

/// A replica with the fresh data dir `data` that must refuse `url` (flags `extra`, pin
/// `env_pin` in TOLLGATE_TRUST_HEAD), with the bundled lists on so that a write would show:
/// checks that nothing was written (no seen-file, head row and labels as before); what it said.
fn refused_start(
    data: &Path,
    key: &Path,
    url: &str,
    extra: &[&str],
    env_pin: Option<&str>,
) -> String {
    std::fs::create_dir_all(data).unwrap();
    let (head, labels) = (head_row(url), label_rows(url));
    let mut command = Command::new(binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--key-file")
        .arg(key)
        .args(extra)
        .env("TOLLGATE_STORE", url)
        .env("RUST_LOG", "error");
    if let Some(pin) = env_pin {
        command.env("TOLLGATE_TRUST_HEAD", pin);
    }
    let output = exits_within(command, PROGRESS_DEADLINE)
        .unwrap_or_else(|| panic!("the replica started on {url}: it must refuse"));
    assert!(!output.status.success(), "{}", printed(&output));
    assert!(
        !data.join("audit-head-seen").exists(),
        "nothing recorded in the data dir"
    );
    assert_eq!(head_row(url), head, "the head row is untouched");
    assert_eq!(label_rows(url), labels, "nothing written to the database");
    printed(&output)
}

/// A start that must be refused: the database, the flags, TOLLGATE_TRUST_HEAD, and what the
/// message must say.
type RefusalCase<'a> = (&'a str, &'a [&'a str], Option<&'a str>, &'a [&'a str]);

/// Issue 13: a fresh data dir has seen nothing. On an empty database (the first replica) it
/// starts; on a non-empty one it refuses unless given the head to trust (`--trust-head`,
/// TOLLGATE_TRUST_HEAD), and then refuses a database older than the pin or on another branch,
/// writing nothing. Once it has served, its seen-file takes over from the pin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_dir_trusts_only_an_empty_database_or_the_head_it_is_given() {
    let setting = Setting::start().await;
    let (url, key) = (setting.url.clone(), setting.key.clone());
    let dir = setting.dir.path().to_path_buf();
    // The first replica ever (an empty database, no pin needed) signs 3; a backup at 3
    // entries; then 3 more on the live database.
    let backup_url = setting.cluster.url_of(&setting.backup_after(3).await);
    let old_pin = tokio::task::spawn_blocking({
        let (url, key) = (url.clone(), key.clone());
        move || read_pin(&url, &key)
    })
    .await
    .unwrap();
    let (mut replica, addr) = setting.replica("a");
    attest(addr, 3).await;
    replica.kill();
    let pin = tokio::task::spawn_blocking({
        let (url, key, backup_url, dir, old_pin) = (
            url.clone(),
            key.clone(),
            backup_url.clone(),
            dir.clone(),
            old_pin.clone(),
        );
        move || {
            let pin = read_pin(&url, &key);
            assert!(
                pin.starts_with("6:") && old_pin.starts_with("3:"),
                "{old_pin} {pin}"
            );
            let flag = ["--trust-head", pin.as_str()];
            let cases: [RefusalCase; 5] = [
                // No pin, no seen-file, a non-empty database: refused, naming the command.
                (
                    &url,
                    &[],
                    None,
                    &[
                        "has not seen this database before",
                        "tollgate-oracle audit head --store",
                        "--trust-head ENTRIES:HASH",
                    ],
                ),
                // The restored backup (3 entries) under the pin of the newest head (6): older;
                // by flag and by variable.
                (
                    &backup_url,
                    &flag,
                    None,
                    &["older than the pinned head", &pin],
                ),
                (
                    &backup_url,
                    &[],
                    Some(&pin),
                    &["older than the pinned head"],
                ),
                // Malformed pins, by flag and by variable: configuration errors.
                (
                    &url,
                    &["--trust-head", "6"],
                    None,
                    &["trust_head `6`", "no `:`"],
                ),
                (&url, &[], Some("6:nothex"), &["not hex"]),
            ];
            for (n, (url, flags, env_pin, expected)) in cases.into_iter().enumerate() {
                let data = dir.join(format!("fresh{n}"));
                let log = refused_start(&data, &key, url, flags, env_pin);
                for text in expected {
                    assert!(log.contains(text), "case {n}: {text}: {log}");
                }
            }
            pin
        }
    })
    .await
    .unwrap();
    // The backup grown again on another branch (a replica pinned to its own head signs 4):
    // 7 entries, more than the pin's 6, but entry 5 is not the newest chain's.
    let (mut grower, addr) = launch(&setting.data("grower"), &key, &backup_url, Some(&old_pin));
    attest(addr, 4).await;
    grower.kill();
    tokio::task::spawn_blocking({
        let (key, backup_url, dir, pin) =
            (key.clone(), backup_url.clone(), dir.clone(), pin.clone());
        move || {
            assert!(head_row(&backup_url).starts_with("7:"));
            let flag = ["--trust-head", pin.as_str()];
            let log = refused_start(&dir.join("fresh6"), &key, &backup_url, &flag, None);
            assert!(
                log.contains("another branch") && log.contains("entry 5"),
                "{log}"
            );
        }
    })
    .await
    .unwrap();
    // The right pin: serves; a pin older than the database but on its chain is fine too.
    let (mut b, addr_b) = launch(&setting.data("b"), &key, &url, Some(&pin));
    attest(addr_b, 1).await;
    b.kill();
    let (mut c, _) = launch(&setting.data("c"), &key, &url, Some(&old_pin));
    c.kill();
    // Once served, the seen-file takes over: a restart without the pin starts, and the
    // backup is refused without a pin too.
    let seen = std::fs::read_to_string(setting.data("b").join("audit-head-seen")).unwrap();
    assert!(seen.contains("\"entries\":7"), "{seen}");
    let (mut b, addr_b) = setting.replica("b");
    attest(addr_b, 1).await;
    b.kill();
    let data_b = setting.data("b");
    tokio::task::spawn_blocking(move || {
        let log = failed_start(&data_b, &key, &backup_url);
        assert!(log.contains("older than this replica has seen"), "{log}");
        // With the seen-file, a pin still applies: one the database does not reach refuses.
        let mut command = serve(&data_b, &key, &url);
        command.args(["--trust-head", &format!("99:{}", "ab".repeat(32))]);
        let output = exits_within(command, PROGRESS_DEADLINE).expect("refused");
        assert!(!output.status.success());
        assert!(
            printed(&output).contains("older than the pinned head"),
            "{}",
            printed(&output)
        );
    })
    .await
    .unwrap();
}
