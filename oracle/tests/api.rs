//! Handlers exercised with `oneshot`, every error path included.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{json, Value};
use tollgate_oracle::config::Config;
use tollgate_oracle::store::{SledStore, Store};
use tollgate_sdk::{Address, Attestation, Categories, Network};

use crate::support::*;

fn attest_body(subject: &str) -> Value {
    json!({ "subject": subject, "verifier": VERIFIER, "network": "testnet" })
}

fn error_code(reply: &Reply) -> &str {
    reply.json["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON error: {}", reply.text))
}

#[tokio::test]
async fn risk_of_a_listed_scammer_is_severe_and_a_custodian_low() {
    let app = node_with(config()).router();
    let scam = get(&app, &format!("/v1/risk/{SCAMMER}")).await;
    assert_eq!(scam.status, StatusCode::OK);
    assert_eq!(scam.json["level"], "severe");
    assert_eq!(scam.json["categories"], json!(["scam"]));
    assert_eq!(scam.json["evidence"][0]["source"], "ton-assets/scammers");
    let custodian = get(&app, &format!("/v1/risk/{CUSTODIAN}")).await;
    assert_eq!(custodian.json["level"], "low");
    assert_eq!(custodian.json["categories"], json!(["exchange"]));
    assert_eq!(custodian.json["evidence"][0]["name"], "OKX 1");
    let unknown = get(&app, &format!("/v1/risk/{UNKNOWN}")).await;
    assert_eq!(
        (
            unknown.json["score"].as_u64(),
            unknown.json["level"].as_str()
        ),
        (Some(0), Some("low"))
    );
}

#[tokio::test]
async fn risk_takes_raw_friendly_and_percent_encoded_forms() {
    let app = node_with(config()).router();
    let address: Address = SCAMMER.parse().unwrap();
    let standard = address
        .to_friendly(tollgate_sdk::FriendlyFlags {
            bounceable: true,
            testnet: false,
        })
        .replace('-', "+")
        .replace('_', "/");
    for form in [
        address.to_string(),
        standard.clone(),
        standard.replace('/', "%2F").replace('+', "%2B"),
    ] {
        let reply = get(&app, &format!("/v1/risk/{form}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{form}: {}", reply.text);
        assert_eq!(reply.json["address"], address.to_string());
    }
}

#[tokio::test]
async fn a_bad_address_is_a_400_json_error() {
    let app = node_with(config()).router();
    for bad in [
        "nope",
        "0:zz",
        "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDt",
    ] {
        let reply = get(&app, &format!("/v1/risk/{bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(&reply), "invalid_address");
    }
}

#[tokio::test]
async fn screen_answers_in_order_and_refuses_bad_batches() {
    let app = node_with(config()).router();
    let reply = post(
        &app,
        "/v1/screen",
        json!({ "addresses": [SCAMMER, CUSTODIAN, UNKNOWN] }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let levels: Vec<_> = reply.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["level"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(levels, ["severe", "low", "low"]);

    let many: Vec<String> = (0..1000).map(|_| UNKNOWN.to_string()).collect();
    assert_eq!(
        post(&app, "/v1/screen", json!({ "addresses": many }))
            .await
            .status,
        StatusCode::OK,
        "1000 is allowed"
    );
    let too_many: Vec<String> = (0..1001).map(|_| UNKNOWN.to_string()).collect();
    let reply = post(&app, "/v1/screen", json!({ "addresses": too_many })).await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );

    let reply = post(
        &app,
        "/v1/screen",
        json!({ "addresses": [SCAMMER, "garbage"] }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("addresses[1]"));
}

#[tokio::test]
async fn malformed_json_is_a_400_json_error() {
    let app = node_with(config()).router();
    for body in [
        "{",
        "[]",
        "{\"addresses\": 5}",
        "{\"addresses\": [], \"extra\": 1}",
    ] {
        let request = Request::post("/v1/screen")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let reply = raw_call(&app, request).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(error_code(&reply), "malformed_body");
    }
    let request = Request::post("/v1/screen").body(Body::from("{}")).unwrap();
    let reply = raw_call(&app, request).await;
    assert_eq!(
        reply.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "missing content type"
    );
    assert_eq!(error_code(&reply), "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = node_with(Config {
        max_body_bytes: 1024,
        ..config()
    })
    .router();
    let big: Vec<String> = (0..100).map(|_| UNKNOWN.to_string()).collect();
    let reply = post(&app, "/v1/screen", json!({ "addresses": big })).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&reply), "payload_too_large");
}

#[tokio::test]
async fn an_attestation_is_signed_recorded_and_verifiable() {
    let node = node_with(config());
    let app = node.router();
    let reply = post(
        &app,
        "/v1/attestations",
        json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": -3, "ttl_secs": 60 }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = &reply.json;
    let attestation = Attestation::from_boc_base64(body["boc"].as_str().unwrap()).unwrap();
    assert_eq!(attestation.subject, SCAMMER.parse().unwrap());
    assert_eq!(attestation.network, Network::TESTNET);
    assert_eq!(attestation.risk, 85);
    assert_eq!(attestation.categories, Categories::SCAM);
    assert_eq!(attestation.epoch, 7);
    assert_eq!(attestation.valid_until - attestation.issued_at, 60);
    assert_eq!(hex::encode(attestation.hash().unwrap()), body["hash"]);
    assert_eq!(
        serde_json::to_value(attestation).unwrap(),
        body["attestation"]
    );

    let info = get(&app, "/v1/oracle").await.json;
    assert_eq!(
        (info["signer_index"].as_u64(), info["epoch"].as_u64()),
        (Some(2), Some(7))
    );
    assert_eq!(info["public_key"], body["public_key"]);
    let key: [u8; 32] = hex::decode(info["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let signature: [u8; 64] = hex::decode(body["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    attestation
        .verify(
            &VerifyingKey::from_bytes(&key).unwrap(),
            &Signature::from_bytes(&signature),
        )
        .unwrap();

    let audit = admin_get(&app, "/v1/audit").await.json;
    let entry = &audit["entries"][0];
    assert_eq!(entry["seq"], 0);
    assert_eq!(entry["hash"], body["hash"]);
    assert_eq!(entry["signature"], body["signature"]);
    assert_eq!(
        entry["judgement"]["evidence"][0]["source"],
        "ton-assets/scammers"
    );
    assert!(entry["policy_version"]
        .as_str()
        .unwrap()
        .starts_with("severity-v1"));
    assert_eq!(entry["prev_hash"], "0".repeat(64));
}

#[tokio::test]
async fn nonces_are_unique_and_the_audit_log_pages_in_order() {
    let app = node_with(config()).router();
    let mut nonces = Vec::new();
    for _ in 0..25 {
        let reply = post(&app, "/v1/attestations", attest_body(UNKNOWN)).await;
        nonces.push(
            reply.json["attestation"]["nonce"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut unique = nonces.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 25);

    let mut seen = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let uri = match after {
            Some(seq) => format!("/v1/audit?after={seq}&limit=10"),
            None => "/v1/audit?limit=10".to_string(),
        };
        let page = admin_get(&app, &uri).await.json;
        for entry in page["entries"].as_array().unwrap() {
            if let Some(previous) = seen.last() {
                let previous: &Value = previous;
                assert_eq!(entry["prev_hash"], previous["entry_hash"], "chain link");
            }
            seen.push(entry.clone());
        }
        match page["next_after"].as_u64() {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.iter().enumerate().all(|(i, e)| e["seq"] == i as u64));
    for bad in [
        "/v1/audit?limit=0",
        "/v1/audit?limit=5000",
        "/v1/audit?after=x",
        "/v1/audit?bogus=1",
    ] {
        let reply = admin_get(&app, bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(
            get(&app, bad).await.status,
            StatusCode::UNAUTHORIZED,
            "the audit log is not public"
        );
    }
}

#[tokio::test]
async fn attestation_requests_outside_policy_are_refused_with_the_reason() {
    let config = Config {
        verifiers: vec![VERIFIER.into()],
        networks: vec![-3],
        max_ttl_secs: 600,
        ..config()
    };
    let app = node_with(config).router();
    let cases = [
        (
            json!({ "subject": "bad", "verifier": VERIFIER, "network": "testnet" }),
            StatusCode::BAD_REQUEST,
            "invalid_address",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": "bad", "network": "testnet" }),
            StatusCode::BAD_REQUEST,
            "invalid_address",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": "moonnet" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_network",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": "mainnet" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_network",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": -239 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_network",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": UNKNOWN, "network": "testnet" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy_refused",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": "testnet", "ttl_secs": 601 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy_refused",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": "testnet", "ttl_secs": 0 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": true }),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": 2_147_483_648_u64 }),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER, "network": -5 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_network",
        ),
        (
            json!({ "subject": SCAMMER, "verifier": VERIFIER }),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
    ];
    for (body, status, code) in cases {
        let reply = post(&app, "/v1/attestations", body.clone()).await;
        assert_eq!((reply.status, error_code(&reply)), (status, code), "{body}");
    }
    assert_eq!(
        post(&app, "/v1/attestations", attest_body(SCAMMER))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        admin_get(&app, "/v1/audit").await.json["entries"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "refusals sign nothing"
    );
}

/// A proposal for `subject` with the given bounds, valid now.
fn proposal(
    subject: &str,
    risk: u8,
    categories: Categories,
    network: Network,
    epoch: u32,
    ttl: u32,
) -> String {
    let now = tollgate_oracle::unix_now() as u32;
    Attestation {
        network,
        verifier: VERIFIER.parse().unwrap(),
        subject: subject.parse().unwrap(),
        risk,
        categories,
        issued_at: now,
        valid_until: now + ttl,
        epoch,
        nonce: 77,
    }
    .to_boc_base64()
    .unwrap()
}

#[tokio::test]
async fn cosign_signs_only_when_every_bound_holds() {
    let app = node_with(Config {
        max_ttl_secs: 600,
        networks: vec![-3],
        ..config()
    })
    .router();
    let t = Network::TESTNET;
    let ok = post(
        &app,
        "/v1/attestations/cosign",
        json!({ "boc": proposal(SCAMMER, 90, Categories::SCAM | Categories::MIXER, t, 7, 300) }),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let proposed = Attestation::from_boc_base64(ok.json["boc"].as_str().unwrap()).unwrap();
    assert_eq!(
        (proposed.risk, proposed.nonce),
        (90, 77),
        "the node signs the proposal as is"
    );
    assert_eq!(
        admin_get(&app, "/v1/audit").await.json["entries"][0]["kind"],
        "cosign"
    );

    let now = tollgate_oracle::unix_now() as u32;
    let expired = Attestation {
        network: t,
        verifier: VERIFIER.parse().unwrap(),
        subject: SCAMMER.parse().unwrap(),
        risk: 100,
        categories: Categories(u32::MAX),
        issued_at: now - 500,
        valid_until: now - 100,
        epoch: 7,
        nonce: 1,
    }
    .to_boc_base64()
    .unwrap();
    let cases = [
        (
            proposal(SCAMMER, 84, Categories::SCAM, t, 7, 300),
            StatusCode::CONFLICT,
            "risk",
        ),
        (
            proposal(SCAMMER, 100, Categories::EXCHANGE, t, 7, 300),
            StatusCode::CONFLICT,
            "categories",
        ),
        (
            proposal(SCAMMER, 100, Categories::SCAM, Network::MAINNET, 7, 300),
            StatusCode::UNPROCESSABLE_ENTITY,
            "network",
        ),
        (
            proposal(SCAMMER, 100, Categories::SCAM, t, 6, 300),
            StatusCode::UNPROCESSABLE_ENTITY,
            "epoch",
        ),
        (
            proposal(SCAMMER, 100, Categories::SCAM, t, 7, 601),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ttl",
        ),
        (expired, StatusCode::UNPROCESSABLE_ENTITY, "validity"),
    ];
    for (boc, status, bound) in cases {
        let reply = post(&app, "/v1/attestations/cosign", json!({ "boc": boc })).await;
        assert_eq!(reply.status, status, "{bound}: {}", reply.text);
        assert_eq!(reply.json["error"]["bound"], bound, "{}", reply.text);
    }
    for bad in ["", "not base64!", "te6cckEBAQEAAgAAAEysuc0="] {
        let reply = post(&app, "/v1/attestations/cosign", json!({ "boc": bad })).await;
        assert_eq!(
            (reply.status, error_code(&reply)),
            (StatusCode::BAD_REQUEST, "invalid_boc"),
            "{bad:?}"
        );
    }
    assert_eq!(
        admin_get(&app, "/v1/audit").await.json["entries"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "refusals sign nothing"
    );
}

#[tokio::test]
async fn the_admin_api_needs_the_token() {
    let app = node_with(config()).router();
    for token in [None, Some("wrong-token-wrong-token")] {
        let reply = call(&app, Method::GET, "/v1/admin/overrides", None, token).await;
        assert_eq!(
            (reply.status, error_code(&reply)),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );
        let reply = call(
            &app,
            Method::POST,
            "/v1/admin/ingest",
            Some(json!({"format": "csv", "content": ""})),
            token,
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "checked before the body"
        );
    }
    let disabled = node_with(Config {
        admin_token: None,
        ..config()
    })
    .router();
    assert_eq!(
        call(
            &disabled,
            Method::GET,
            "/v1/admin/overrides",
            None,
            Some(ADMIN)
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admin_ingest_reports_added_changed_and_refused_lines() {
    let app = node_with(config()).router();
    // The bundled lists (ton-labels has drainers and scammers) are there before.
    let bundled = call(&app, Method::GET, "/v1/admin/labels", None, Some(ADMIN))
        .await
        .json;
    let content = format!("address,category,source,name\n{UNKNOWN},drainer,team,Drainer kit\n0:zz,scam,team,x\n{UNKNOWN},nonsense,team,x\n");
    let body = json!({ "format": "csv", "file": "team.csv", "content": content });
    let first = call(
        &app,
        Method::POST,
        "/v1/admin/ingest",
        Some(body.clone()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(
        (first.json["added"].as_u64(), first.json["changed"].as_u64()),
        (Some(1), Some(0))
    );
    let lines: Vec<_> = first.json["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4]);
    let again = call(
        &app,
        Method::POST,
        "/v1/admin/ingest",
        Some(body),
        Some(ADMIN),
    )
    .await;
    assert_eq!(
        (
            again.json["added"].as_u64(),
            again.json["unchanged"].as_u64()
        ),
        (Some(0), Some(1)),
        "idempotent"
    );
    let renamed =
        json!({ "format": "csv", "content": format!("{UNKNOWN},drainer,team,Renamed\n") });
    let changed = call(
        &app,
        Method::POST,
        "/v1/admin/ingest",
        Some(renamed),
        Some(ADMIN),
    )
    .await;
    assert_eq!(changed.json["changed"].as_u64(), Some(1));
    let judged = get(&app, &format!("/v1/risk/{UNKNOWN}")).await.json;
    assert_eq!(
        (judged["level"].as_str(), judged["score"].as_u64()),
        (Some("severe"), Some(95))
    );

    let no_file = json!({ "format": "ton-assets", "content": "[]" });
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/v1/admin/ingest",
            Some(no_file),
            Some(ADMIN)
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let bad_format = json!({ "format": "xml", "content": "" });
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/v1/admin/ingest",
            Some(bad_format),
            Some(ADMIN)
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let counts = call(&app, Method::GET, "/v1/admin/labels", None, Some(ADMIN))
        .await
        .json;
    assert_eq!(
        counts["drainer"].as_u64(),
        Some(bundled["drainer"].as_u64().unwrap_or(0) + 1)
    );
    assert_eq!(counts["scam"], bundled["scam"]);
}

#[tokio::test]
async fn overrides_win_over_labels_are_recorded_and_expire() {
    let app = node_with(config()).router();
    let deny = json!({ "address": CUSTODIAN, "action": "deny", "categories": ["stolen_funds"], "reason": "hacked hot wallet", "author": "alice" });
    let reply = call(
        &app,
        Method::POST,
        "/v1/admin/overrides",
        Some(deny),
        Some(ADMIN),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let judged = get(&app, &format!("/v1/risk/{CUSTODIAN}")).await.json;
    assert_eq!(
        (judged["score"].as_u64(), judged["level"].as_str()),
        (Some(100), Some("severe"))
    );
    assert_eq!(judged["categories"], json!(["stolen_funds", "exchange"]));
    let evidence = judged["evidence"].as_array().unwrap();
    assert!(evidence.iter().any(|e| e["kind"] == "override"
        && e["name"] == "hacked hot wallet"
        && e["source"] == "override by alice"));

    let later = tollgate_oracle::unix_now() + 3600;
    let allow = json!({ "address": SCAMMER, "action": "allow", "reason": "reviewed", "author": "bob", "expires_at": later });
    call(
        &app,
        Method::POST,
        "/v1/admin/overrides",
        Some(allow),
        Some(ADMIN),
    )
    .await;
    let judged = get(&app, &format!("/v1/risk/{SCAMMER}")).await.json;
    assert_eq!(
        (judged["score"].as_u64(), judged["categories"].clone()),
        (Some(0), json!([]))
    );
    let attested = post(&app, "/v1/attestations", attest_body(SCAMMER))
        .await
        .json;
    assert_eq!(attested["attestation"]["risk"], 0);

    let list = call(&app, Method::GET, "/v1/admin/overrides", None, Some(ADMIN))
        .await
        .json;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let removed = call(
        &app,
        Method::DELETE,
        &format!("/v1/admin/overrides/{SCAMMER}?author=bob"),
        None,
        Some(ADMIN),
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(
        get(&app, &format!("/v1/risk/{SCAMMER}")).await.json["score"],
        85
    );
    let again = call(
        &app,
        Method::DELETE,
        &format!("/v1/admin/overrides/{SCAMMER}?author=bob"),
        None,
        Some(ADMIN),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let invalid = [
        json!({ "address": "bad", "action": "deny", "reason": "r", "author": "a" }),
        json!({ "address": SCAMMER, "action": "maybe", "reason": "r", "author": "a" }),
        json!({ "address": SCAMMER, "action": "deny", "reason": "", "author": "a" }),
        json!({ "address": SCAMMER, "action": "deny", "reason": "r", "author": "a", "categories": ["nope"] }),
        json!({ "address": SCAMMER, "action": "deny", "reason": "r", "author": "a", "expires_at": 1 }),
    ];
    for body in invalid {
        let reply = call(
            &app,
            Method::POST,
            "/v1/admin/overrides",
            Some(body.clone()),
            Some(ADMIN),
        )
        .await;
        assert!(reply.status.is_client_error(), "{body}: {}", reply.status);
    }
}

#[tokio::test]
async fn health_ready_metrics_openapi_and_unknown_routes() {
    let app = node_with(config()).router();
    assert_eq!(get(&app, "/v1/health").await.status, StatusCode::OK);
    assert_eq!(get(&app, "/v1/ready").await.json["ready"], true);
    // The recorder is the process's: other tests sign too, so the count only has to rise.
    let signatures = |text: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(r#"tollgate_signatures_total{kind="attest"} "#))
            .map_or(0, |count| count.parse().unwrap())
    };
    let before = signatures(&get(&app, "/metrics").await.text);
    let signed = post(&app, "/v1/attestations", attest_body(UNKNOWN)).await;
    assert_eq!(signed.status, StatusCode::OK);
    let metrics = get(&app, "/metrics").await;
    assert!(signatures(&metrics.text) > before, "{}", metrics.text);
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.text.contains("tollgate_http_requests_total"),
        "{}",
        metrics.text
    );
    let missing = get(&app, "/v2/nothing").await;
    assert_eq!(
        (missing.status, error_code(&missing)),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let spec = get(&app, "/v1/openapi.json").await.json;
    assert_eq!(spec["openapi"], "3.1.0");
}

/// The routes the router declares: every `.route("PATH", …)` in the API's source, with axum's
/// catch-all `{*name}` written as OpenAPI's `{name}`. Reading the source (the router cannot
/// list its routes) means a route added anywhere under `src/api/` is seen here.
fn declared_routes() -> std::collections::BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    let mut routes = std::collections::BTreeSet::new();
    for file in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for piece in text.split(".route(").skip(1) {
            // rustfmt may break the line after `(`.
            let Some(rest) = piece.trim_start().strip_prefix('"') else {
                continue;
            };
            let path = &rest[..rest.find('"').unwrap()];
            routes.insert(path.replace("{*", "{"));
        }
    }
    routes
}

#[tokio::test]
async fn openapi_documents_every_route_and_every_documented_operation_exists() {
    let app = node_with(config()).router();
    let spec = get(&app, "/v1/openapi.json").await.json;
    let paths = spec["paths"].as_object().unwrap();
    let declared = declared_routes();
    assert!(declared.len() >= 14, "{declared:?}");
    for route in &declared {
        assert!(
            paths.contains_key(route),
            "{route} is routed but not in the OpenAPI document: add its handler to ApiDoc"
        );
    }
    // The other way: each documented operation answers something other than "no such route"
    // (404 not_found from the fallback, or 405 for a wrong method).
    for (path, item) in paths {
        assert!(
            declared.contains(path),
            "{path} is documented but not routed"
        );
        for method in item.as_object().unwrap().keys() {
            let uri = path.replace("{address}", UNKNOWN)
                + if path.contains("overrides/") {
                    "?author=t"
                } else {
                    ""
                };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == Method::POST).then(|| json!({}));
            let reply = call(&app, method.clone(), &uri, body, Some(ADMIN)).await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            // Removing an override that does not exist is a 404 of its own.
            if method != Method::DELETE {
                assert_ne!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}");
            }
        }
    }
}

#[tokio::test]
async fn a_damaged_audit_log_refuses_to_start() {
    let config = config();
    let dir = config.data_dir.join("audit");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("log"), b"{not an audit log").unwrap();
    let signer = tollgate_oracle::signer::Signer::new(
        key(),
        0,
        1,
        tollgate_oracle::signer::KeyOrigin::Environment,
    );
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    let result = tollgate_oracle::node::Node::with_store(config, store, signer);
    assert!(matches!(
        result,
        Err(tollgate_oracle::Error::AuditBroken { seq: 0, .. })
    ));
}

#[tokio::test]
async fn a_batch_signs_every_valid_item_in_one_commit_and_reports_each_refusal() {
    let app = node_with(config()).router();
    let item = |subject: &str, network: &str| json!({ "subject": subject, "verifier": VERIFIER, "network": network });
    let reply = post(
        &app,
        "/v1/attestations/batch",
        json!({ "items": [
            item(UNKNOWN, "testnet"),
            item("not an address", "testnet"),
            item(SCAMMER, "testnet"),
            item(UNKNOWN, "nonet"),
        ] }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let results = reply.json["results"].as_array().unwrap();
    let statuses: Vec<_> = results.iter().map(|r| r["status"].as_u64()).collect();
    assert_eq!(statuses, [Some(200), Some(400), Some(200), Some(422)]);
    assert_eq!(results[1]["error"]["code"], "invalid_address");
    assert_eq!(results[3]["error"]["code"], "unknown_network");
    // The signed items are consecutive audit entries, and each signature verifies.
    let key = VerifyingKey::from(&key());
    let mut seqs = Vec::new();
    for result in [&results[0], &results[2]] {
        let signed: tollgate_sdk::api::SignedAttestation =
            serde_json::from_value(result["signed"].clone()).unwrap();
        let attestation = Attestation::from_boc_base64(&signed.boc).unwrap();
        let signature: [u8; 64] = hex::decode(&signed.signature).unwrap().try_into().unwrap();
        attestation
            .verify(&key, &Signature::from_bytes(&signature))
            .unwrap();
        seqs.push(result["signed"]["audit_seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, [0, 1]);
    assert_eq!(results[2]["signed"]["judgement"]["level"], "severe");
    let audit = admin_get(&app, "/v1/audit").await.json;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_cosign_batch_signs_the_proposals_within_bounds_only() {
    let app = node_with(Config {
        networks: vec![-3],
        ..config()
    })
    .router();
    let t = Network::TESTNET;
    let reply = post(
        &app,
        "/v1/attestations/cosign/batch",
        json!({ "bocs": [
            proposal(SCAMMER, 90, Categories::SCAM, t, 7, 300),
            proposal(SCAMMER, 10, Categories::SCAM, t, 7, 300),
            "not base64!",
            proposal(UNKNOWN, 0, Categories::NONE, t, 6, 300),
        ] }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let results = reply.json["results"].as_array().unwrap();
    let outcome = |r: &Value| {
        (
            r["status"].as_u64().unwrap(),
            r["error"]["bound"].as_str().map(String::from),
        )
    };
    assert_eq!(
        results.iter().map(outcome).collect::<Vec<_>>(),
        [
            (200, None),
            (409, Some("risk".into())),
            (400, None),
            (422, Some("epoch".into()))
        ]
    );
    assert_eq!(results[0]["signed"]["audit_seq"], 0);
    assert_eq!(results[0]["signed"]["attestation"]["risk"], 90);
}

#[tokio::test]
async fn batches_that_are_empty_too_large_or_malformed_are_refused_whole() {
    let app = node_with(Config {
        max_body_bytes: 1024 * 1024,
        ..config()
    })
    .router();
    let item = json!({ "subject": UNKNOWN, "verifier": VERIFIER, "network": "testnet" });
    let too_many = vec![item.clone(); tollgate_sdk::api::MAX_BATCH + 1];
    let cases = [
        (
            "/v1/attestations/batch",
            json!({ "items": too_many }),
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
        ),
        (
            "/v1/attestations/cosign/batch",
            json!({ "bocs": vec!["x"; tollgate_sdk::api::MAX_BATCH + 1] }),
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
        ),
        (
            "/v1/attestations/batch",
            json!({ "items": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/v1/attestations/cosign/batch",
            json!({ "bocs": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/v1/attestations/batch",
            json!({ "items": [item, { "subject": 5 }] }),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
    ];
    for (uri, body, status, code) in cases {
        let reply = post(&app, uri, body).await;
        assert_eq!((reply.status, error_code(&reply)), (status, code), "{uri}");
    }
    // Nothing was signed.
    let audit = admin_get(&app, "/v1/audit").await.json;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_full_batch_gets_consecutive_audit_entries() {
    let app = node_with(config()).router();
    let items: Vec<_> = (0..tollgate_sdk::api::MAX_BATCH)
        .map(|i| json!({ "subject": format!("0:{i:064x}"), "verifier": VERIFIER, "network": "testnet" }))
        .collect();
    let reply = post(&app, "/v1/attestations/batch", json!({ "items": items })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let seqs: Vec<_> = reply.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signed"]["audit_seq"].as_u64().unwrap())
        .collect();
    // Consecutive seqs: one submission (the audit tests show it is one write, one fdatasync).
    assert_eq!(seqs, (0..256).collect::<Vec<_>>());
}
