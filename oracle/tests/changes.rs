//! Kept current: ingests and overrides re-judge the addresses they touch and the subjects of
//! valid attestations; level changes go to `GET /v1/changes` and to webhooks (HMAC-signed,
//! retried with backoff after a 500, no retry storm, delivery state durable across restarts).

use std::os::unix::fs::PermissionsExt as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post as route_post;
use axum::Router;
use serde_json::{json, Value};
use tollgate_oracle::config::Config;
use tollgate_oracle::node::Node;
use tollgate_oracle::webhooks::{self, Options};

use crate::support::*;

const SECRET: &str = "receiver-secret-0123456789";

/// What the receiver saw: arrival time, headers, body.
type Seen = Arc<Mutex<Vec<(Instant, HeaderMap, String)>>>;

/// A webhook receiver on 127.0.0.1:0 that answers 500 to the first `fail_first` requests.
async fn receiver(fail_first: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/hook",
        route_post(move |headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let mut log = log.lock().unwrap();
                log.push((Instant::now(), headers, body));
                if log.len() <= fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn config_with_hook(url: &str) -> Config {
    let mut config = config();
    config.rescreen_interval_secs = 0;
    let file = config.data_dir.with_extension("webhooks.toml");
    std::fs::write(
        &file,
        format!("[[subscriber]]\nid = \"test\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    config.webhooks_file = Some(file);
    config
}

fn fast() -> Options {
    Options {
        base_backoff: Duration::from_millis(300),
        max_backoff: Duration::from_secs(2),
        ..Options::default()
    }
}

async fn wait_for(seen: &Seen, count: usize) {
    let start = Instant::now();
    while seen.lock().unwrap().len() < count {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited for {count} webhooks"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn check_signature(headers: &HeaderMap, body: &str) {
    let timestamp: u64 = headers[webhooks::TIMESTAMP_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(timestamp.abs_diff(tollgate_oracle::unix_now()) < 60);
    // Recomputed here with the hmac crate, as a receiver would.
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        headers[webhooks::SIGNATURE_HEADER].to_str().unwrap(),
        expected
    );
}

/// `POST /v1/admin/ingest` of `body`, which must succeed; the summary.
async fn admin_ingest(app: &Router, body: Value) -> Value {
    let reply = call(
        app,
        axum::http::Method::POST,
        "/v1/admin/ingest",
        Some(body),
        Some(ADMIN),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json
}

async fn ingest_scam(app: &Router, address: &str) -> Value {
    let content = format!("{address},scam,test-list,bad actor\n");
    admin_ingest(app, json!({ "format": "csv", "content": content })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_that_changes_a_level_reaches_the_feed_and_a_signed_retried_webhook() {
    let (url, seen) = receiver(1).await;
    let config = config_with_hook(&url);
    let node = node_with(config.clone());
    node.start_background(fast()).unwrap();
    let app = node.router();

    ingest_scam(&app, UNKNOWN).await;
    let feed = admin_get(&app, "/v1/changes").await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    let changes = feed.json["changes"].as_array().unwrap().clone();
    assert_eq!(changes.len(), 1, "{}", feed.text);
    assert_eq!(changes[0]["seq"], 1);
    assert_eq!(changes[0]["cause"], "ingest");
    assert_eq!(changes[0]["previous"]["level"], "low");
    assert_eq!(changes[0]["current"]["level"], "severe");
    assert_eq!(feed.json["next_since"], 1);
    assert!(admin_get(&app, "/v1/changes?since=1").await.json["changes"]
        .as_array()
        .unwrap()
        .is_empty());
    // The same list again changes no level.
    ingest_scam(&app, UNKNOWN).await;
    assert_eq!(
        admin_get(&app, "/v1/changes").await.json["changes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // First delivery answered 500, the retry 200: two requests, both signed, one delivery id.
    wait_for(&seen, 2).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let log = seen.lock().unwrap().clone();
    assert_eq!(
        log.len(),
        2,
        "no further request after the 200 (no retry storm)"
    );
    let gap = log[1].0 - log[0].0;
    assert!(
        gap >= Duration::from_millis(300),
        "retried after the backoff, not at once: {gap:?}"
    );
    for (_, headers, body) in &log {
        check_signature(headers, body);
        assert_eq!(headers[webhooks::DELIVERY_HEADER], "test:1");
        let change: Value = serde_json::from_str(body).unwrap();
        assert_eq!(change, changes[0]);
    }

    // Restart on the same data dir: the delivery state says seq 1 was delivered.
    drop(app);
    node.shutdown().await;
    let node = node_with(config);
    node.start_background(fast()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "nothing delivered twice after a restart"
    );
    node.shutdown().await;
}

/// A page of the USDT minter's transactions in which the admin sets `status` on `owner`'s
/// wallet at logical time `lt`, as `POST /v1/admin/ingest` takes it.
async fn ingest_status(app: &Router, owner: &str, status: u8, lt: u64) -> Value {
    use tollgate_oracle::exposure::generate::{pages, USDT_MASTER};
    let minter = USDT_MASTER.parse().unwrap();
    let change = pages::StatusChange {
        owner: owner.parse().unwrap(),
        status,
        lt,
        success: true,
    };
    let admin = tollgate_sdk::Address::new(0, [0xad; 32]);
    let records = pages::issuer_status(&minter, &admin, &[change]);
    let page = pages::paged(&records, "transactions", 10).remove(0);
    let body = json!({ "format": "issuer-locks", "file": "minter.json", "content": page });
    admin_ingest(app, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_unlock_retracts_the_lock_label_and_the_change_reaches_feed_and_webhook() {
    let (url, seen) = receiver(0).await;
    let node = node_with(config_with_hook(&url));
    node.start_background(fast()).unwrap();
    let app = node.router();
    // Another list's label of the same owner is not the issuer's to retract.
    let content = format!("{UNKNOWN},exchange,test-list,an exchange\n");
    admin_ingest(&app, json!({ "format": "csv", "content": content })).await;

    let locked = ingest_status(&app, UNKNOWN, 3, 1_000).await;
    assert_eq!(
        (locked["added"].as_u64(), locked["removed"].as_u64()),
        (Some(1), Some(0))
    );
    let risk = get(&app, &format!("/v1/risk/{UNKNOWN}")).await.json;
    assert_eq!(risk["level"], "severe", "{risk}");

    let unlocked = ingest_status(&app, UNKNOWN, 0, 2_000).await;
    assert_eq!(
        (unlocked["added"].as_u64(), unlocked["removed"].as_u64()),
        (Some(0), Some(1)),
        "{unlocked}"
    );
    let risk = get(&app, &format!("/v1/risk/{UNKNOWN}")).await.json;
    assert_eq!(risk["level"], "low", "{risk}");
    let sources: Vec<&str> = risk["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["test-list"], "{risk}");
    // Unlocking again removes nothing and changes no level.
    let again = ingest_status(&app, UNKNOWN, 0, 2_000).await;
    assert_eq!(again["removed"].as_u64(), Some(0));

    let feed = admin_get(&app, "/v1/changes").await.json;
    let changes = feed["changes"].as_array().unwrap().clone();
    let levels: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["previous"]["level"].as_str().unwrap(),
                c["current"]["level"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(levels, [("low", "severe"), ("severe", "low")], "{feed}");
    wait_for(&seen, 2).await;
    let log = seen.lock().unwrap().clone();
    let (_, headers, body) = &log[1];
    check_signature(headers, body);
    assert_eq!(serde_json::from_str::<Value>(body).unwrap(), changes[1]);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_with_growing_waits_and_resumed_after_a_restart() {
    let (url, seen) = receiver(usize::MAX).await;
    let config = config_with_hook(&url);
    let node = node_with(config.clone());
    node.start_background(fast()).unwrap();
    let app = node.router();
    ingest_scam(&app, UNKNOWN).await;
    // Attempts at 0, +0.3 s, +0.6 s, +1.2 s: four within ~2.1 s, not dozens.
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let times: Vec<Instant> = seen.lock().unwrap().iter().map(|(t, ..)| *t).collect();
    assert!((3..=5).contains(&times.len()), "{} attempts", times.len());
    for pair in times.windows(3) {
        assert!(pair[2] - pair[1] > pair[1] - pair[0], "waits grow");
    }
    drop(app);
    node.shutdown().await;
    let before_restart = seen.lock().unwrap().len();
    let state = {
        let log =
            tollgate_oracle::changes::ChangeLog::open(&config.data_dir.join("changes")).unwrap();
        webhooks::state_of(&log, "test").unwrap()
    };
    assert_eq!(
        (state.delivered, state.attempts as usize),
        (0, before_restart)
    );
    // After the restart the change is still pending and tried again (with its backoff).
    let node = node_with(config);
    node.start_background(fast()).unwrap();
    wait_for(&seen, before_restart + 1).await;
    let last = seen.lock().unwrap().last().unwrap().1.clone();
    assert_eq!(last[webhooks::DELIVERY_HEADER], "test:1");
    node.shutdown().await;
}

#[tokio::test]
async fn overrides_and_lapsed_overrides_of_attested_subjects_are_recorded() {
    let mut config = config();
    config.rescreen_interval_secs = 0;
    let node = node_with(config);
    let app = node.router();
    let attested = post(
        &app,
        "/v1/attestations",
        json!({ "subject": UNKNOWN, "verifier": VERIFIER, "network": "mainnet" }),
    )
    .await;
    assert_eq!(attested.status, StatusCode::OK);
    let expires = tollgate_oracle::unix_now() + 2;
    let reply = call(
        &app,
        axum::http::Method::POST,
        "/v1/admin/overrides",
        Some(json!({ "address": UNKNOWN, "action": "deny", "reason": "court order", "author": "ops", "expires_at": expires })),
        Some(ADMIN),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let feed = admin_get(&app, "/v1/changes").await.json;
    assert_eq!(feed["changes"][0]["cause"], "override");
    assert_eq!(feed["changes"][0]["current"]["level"], "severe");
    // The override lapses; the periodic re-judgement of attested subjects records it.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let changes = tollgate_oracle::changes::rescreen_attested(
        &node.state,
        "rescreen",
        tollgate_oracle::unix_now(),
    )
    .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (
            changes[0].previous.level.as_str(),
            changes[0].current.level.as_str()
        ),
        ("severe", "low")
    );
    let feed = admin_get(&app, "/v1/changes?since=1&limit=10").await.json;
    assert_eq!(feed["changes"][0]["cause"], "rescreen");
    assert_eq!(
        admin_get(&app, "/v1/changes?limit=0").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        get(&app, "/v1/changes").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn a_subscribers_file_others_can_read_is_refused() {
    let mut config = config();
    let file = config.data_dir.with_extension("open-webhooks.toml");
    std::fs::write(&file, "").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    config.webhooks_file = Some(file);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let opened = runtime.block_on(async {
        let store: Arc<dyn tollgate_oracle::store::Store> =
            Arc::new(tollgate_oracle::store::SledStore::temporary().unwrap());
        let signer = tollgate_oracle::signer::Signer::new(
            key(),
            0,
            1,
            tollgate_oracle::signer::KeyOrigin::Environment,
        );
        Node::with_store(config, store, signer).map(|_| ())
    });
    assert!(
        matches!(opened, Err(tollgate_oracle::Error::Config(_))),
        "{opened:?}"
    );
}
