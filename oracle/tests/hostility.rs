//! Hostile clients at scale against a real node process on loopback (issue 9, Measure): 1,000
//! slowloris sockets, 1,000 fat-header sockets, a padded-field flood and a method flood. For
//! each attack the node's RSS (`VmRSS`, and the peak `VmHWM`, from /proc/PID/status) and the p99
//! of honest requests made during it are measured against the goals: RSS ≤ 256 MiB, p99 ≤ 50 ms.
//!
//! Bounded for CI: each attack runs [`ATTACK`] (a few seconds) against the debug binary on a
//! shared machine, so the p99 bound asserted there is [`CI_P99`]; the goal itself
//! ([`GOAL_P99`], during the slowloris attack as the issue states it) is asserted by the
//! measurement run:
//!
//! ```text
//! TOLLGATE_HOSTILITY_SOAK=60 TOLLGATE_HOSTILITY_NODE=target/release/tollgate-oracle \
//!   cargo test -p tollgate-oracle --test tests hostility -- --nocapture
//! ```
//!
//! (`TOLLGATE_HOSTILITY_SOAK=SECS` runs each attack that long; `TOLLGATE_HOSTILITY_NODE` picks
//! the node binary.) The RSS goal is asserted in both. Figures are printed with `--nocapture`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Sockets per socket attack.
const SOCKETS: usize = 1000;
/// How long each attack runs in CI.
const ATTACK: Duration = Duration::from_secs(4);
/// RSS goal.
const MAX_RSS_KIB: u64 = 256 * 1024;
/// Honest p99 goal during the slowloris attack.
const GOAL_P99: Duration = Duration::from_millis(50);
/// Honest p99 bound during every attack in the short CI run (debug build, shared machine).
const CI_P99: Duration = Duration::from_millis(400);

fn soak() -> bool {
    std::env::var_os("TOLLGATE_HOSTILITY_SOAK").is_some()
}

fn attack_time() -> Duration {
    std::env::var("TOLLGATE_HOSTILITY_SOAK")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(ATTACK)
}

/// The soft limit of open files raised to the hard one: the test holds 2,000+ sockets, and
/// the node (a child) inherits the limit.
fn raise_open_files() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum {
        limit.current = Some(hard);
        let _ = setrlimit(Resource::Nofile, limit);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

struct NodeProcess {
    child: Child,
    addr: SocketAddr,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(data: &Path) -> NodeProcess {
    let key = data.join("node.key");
    tollgate_oracle::signer::write_key_file(
        &key,
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        false,
    )
    .unwrap();
    let binary = std::env::var("TOLLGATE_HOSTILITY_NODE").unwrap_or_else(|_| binary().into());
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.join("data"))
        .arg("--key-file")
        .arg(&key)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let addr = listening_addr(stdout, Duration::from_secs(60)).expect("node did not start");
    NodeProcess { child, addr }
}

/// `VmRSS` and `VmHWM` of a process, KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// What one attack did to the node.
#[derive(Debug)]
struct Outcome {
    name: &'static str,
    honest: usize,
    honest_failed: usize,
    p50: Duration,
    p99: Duration,
    rss_kib: u64,
    peak_kib: u64,
    attack_requests: usize,
}

/// Runs `attack` (which must stop when told) for the attack time while an honest client makes
/// sequential `GET /v1/risk` requests over fresh connections; samples RSS throughout.
async fn under_attack<F, Fut>(node: &NodeProcess, name: &'static str, attack: F) -> Outcome
where
    F: FnOnce(SocketAddr, Arc<AtomicBool>, Arc<AtomicUsize>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let attacker = tokio::spawn(attack(node.addr, stop.clone(), count.clone()));
    // Let the attack build up before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = node.child.id();
    let (mut latencies, mut failed, mut rss) = (Vec::new(), 0, 0);
    let started = Instant::now();
    while started.elapsed() < attack_time() {
        let sent = Instant::now();
        let path = format!("/v1/risk/{UNKNOWN}");
        match tokio::time::timeout(Duration::from_secs(5), http(node.addr, "GET", &path, None))
            .await
        {
            Ok(Ok((200, _))) => latencies.push(sent.elapsed()),
            _ => failed += 1,
        }
        rss = rss.max(rss_kib(pid).0);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Release);
    let _ = tokio::time::timeout(Duration::from_secs(10), attacker).await;
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(Duration::MAX)
    };
    let outcome = Outcome {
        name,
        honest: latencies.len(),
        honest_failed: failed,
        p50: at(0.50),
        p99: at(0.99),
        rss_kib: rss,
        peak_kib: rss_kib(pid).1,
        attack_requests: count.load(Ordering::Acquire),
    };
    println!(
        "hostility {:<14} honest {:>4} ok {:>3} failed  p50 {:>7.2} ms  p99 {:>7.2} ms  RSS {:>6} KiB (peak {:>6} KiB)  attack units {}",
        outcome.name,
        outcome.honest,
        outcome.honest_failed,
        outcome.p50.as_secs_f64() * 1e3,
        outcome.p99.as_secs_f64() * 1e3,
        outcome.rss_kib,
        outcome.peak_kib,
        outcome.attack_requests
    );
    outcome
}

/// Holds `SOCKETS` connections that send their request head one byte at a time and never
/// finish it; each one the node drops (header-read timeout) is reopened.
async fn slowloris(addr: SocketAddr, stop: Arc<AtomicBool>, count: Arc<AtomicUsize>) {
    let mut tasks = Vec::new();
    for _ in 0..SOCKETS {
        let (stop, count) = (stop.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Acquire) {
                let Ok(mut stream) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                count.fetch_add(1, Ordering::AcqRel);
                let head = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
                for byte in head.iter().chain(std::iter::repeat(&b'a')) {
                    if stop.load(Ordering::Acquire)
                        || stream.write_all(std::slice::from_ref(byte)).await.is_err()
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// Holds `SOCKETS` connections that each send ≈ the node's whole header allowance (16 KiB in
/// 63 headers of 250 bytes) at once and then stall before the blank line.
async fn fat_headers(addr: SocketAddr, stop: Arc<AtomicBool>, count: Arc<AtomicUsize>) {
    let mut head = String::from("GET /v1/health HTTP/1.1\r\nHost: x\r\n");
    for i in 0..60 {
        head.push_str(&format!("X-Fat-{i:02}: {}\r\n", "f".repeat(250)));
    }
    let head = Arc::new(head);
    let mut tasks = Vec::new();
    for _ in 0..SOCKETS {
        let (stop, count, head) = (stop.clone(), count.clone(), head.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Acquire) {
                let Ok(mut stream) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                count.fetch_add(1, Ordering::AcqRel);
                if stream.write_all(head.as_bytes()).await.is_err() {
                    continue;
                }
                // Stall until the node times the head out (or the attack ends).
                let mut buf = [0u8; 512];
                let _ = tokio::time::timeout(Duration::from_secs(30), async {
                    while !stop.load(Ordering::Acquire) {
                        match tokio::time::timeout(
                            Duration::from_millis(200),
                            stream.read(&mut buf),
                        )
                        .await
                        {
                            Ok(Ok(0)) | Ok(Err(_)) => break,
                            _ => {}
                        }
                    }
                })
                .await;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// `workers` clients sending `request()` back to back over fresh connections.
async fn flood(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
    workers: usize,
    request: fn(usize) -> (String, String, Option<String>),
) {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (stop, count) = (stop.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = w;
            while !stop.load(Ordering::Acquire) {
                let (method, path, body) = request(n);
                let _ = http(addr, &method, &path, body.as_deref()).await;
                count.fetch_add(1, Ordering::AcqRel);
                n += workers;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// An attestation request whose subject is padded with 2 × 100 KiB of spaces (under the
/// 256 KiB body limit): the audit log must keep the normalised subject only.
fn padded(_: usize) -> (String, String, Option<String>) {
    let pad = " ".repeat(100 * 1024);
    let body = format!(
        r#"{{"subject":"{pad}{UNKNOWN}{pad}","verifier":"{VERIFIER}","network":"mainnet"}}"#
    );
    ("POST".into(), "/v1/attestations".into(), Some(body))
}

/// A request with a new made-up method each time: metric labels must stay bounded.
fn odd_method(n: usize) -> (String, String, Option<String>) {
    (format!("M{n:08}"), format!("/v1/x{n}"), None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_or_fat_sockets_and_floods_leave_rss_and_honest_latency_within_goals() {
    let limit = raise_open_files();
    assert!(
        limit >= (2 * SOCKETS + 256) as u64,
        "open-file limit {limit} is too low for {SOCKETS} sockets per attack (raise `ulimit -Hn`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let (base_rss, _) = rss_kib(node.child.id());
    println!("hostility baseline RSS {base_rss} KiB; open-file limit {limit}");

    let outcomes = vec![
        under_attack(&node, "slowloris", slowloris).await,
        under_attack(&node, "fat headers", fat_headers).await,
        under_attack(&node, "padded fields", |addr, stop, count| {
            flood(addr, stop, count, 4, padded)
        })
        .await,
        under_attack(&node, "method flood", |addr, stop, count| {
            flood(addr, stop, count, 8, odd_method)
        })
        .await,
    ];

    // The padded requests were signed, and the log holds their normalised form only: its size
    // per entry is that of an ordinary entry, not of a 400 KiB subject.
    // The records' bytes, not the file's size: a running node writes zeros ahead of them.
    let log =
        tollgate_oracle::audit::log::scan(&dir.path().join("data/audit/log"), None, |_, _| Ok(()))
            .unwrap()
            .valid_len;
    let padded = outcomes[2].attack_requests.max(1) as u64;
    assert!(
        log / padded < 4096,
        "{log} bytes of audit log for {padded} padded requests"
    );
    // Made-up methods share one metric label.
    let (_, metrics) = http(node.addr, "GET", "/metrics", None).await.unwrap();
    assert!(
        !metrics.contains("M0000"),
        "a made-up method became a label"
    );

    for outcome in &outcomes {
        assert!(
            outcome.peak_kib <= MAX_RSS_KIB,
            "{}: peak RSS {} KiB above {MAX_RSS_KIB} KiB",
            outcome.name,
            outcome.peak_kib
        );
        assert!(
            outcome.honest > 0 && outcome.honest_failed == 0,
            "{}: honest requests failed: {outcome:?}",
            outcome.name
        );
        // The padded flood is signing work the node does for real (each request judged,
        // signed and made durable): honest requests queue behind it by design, so only their
        // success is asserted there.
        let bound = match outcome.name {
            "slowloris" if soak() => GOAL_P99,
            "padded fields" => Duration::MAX,
            _ => CI_P99,
        };
        assert!(
            outcome.p99 <= bound,
            "{}: honest p99 {:?} above {bound:?}: {outcome:?}",
            outcome.name,
            outcome.p99
        );
        assert!(
            outcome.attack_requests > 0,
            "{}: the attack did not run",
            outcome.name
        );
    }
}
