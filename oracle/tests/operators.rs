//! What operators and client developers expect of a service, through the router: one JSON
//! error shape for every status, normalised and bounded stored values, address forms, bounded
//! metric labels, CORS, a private audit log and data directory.

use std::os::unix::fs::PermissionsExt as _;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use tollgate_oracle::config::Config;
use tollgate_oracle::node::Node;
use tollgate_sdk::{Address, FriendlyFlags};

use crate::support::*;

fn code(reply: &Reply) -> &str {
    reply.json["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON error: {} {}", reply.status, reply.text))
}

/// `address` as a user-friendly string with the given flags.
fn friendly(address: &str, bounceable: bool, testnet: bool) -> String {
    let address: Address = address.parse().unwrap();
    address.to_friendly(FriendlyFlags {
        bounceable,
        testnet,
    })
}

#[tokio::test]
async fn every_error_the_framework_answers_has_the_json_shape() {
    let app = node_with(config()).router();
    // 405: a known route with another method keeps its Allow header.
    let reply = call(&app, Method::DELETE, "/v1/health", None, None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(code(&reply), "method_not_allowed");
    let reply = app
        .clone()
        .oneshot_raw(Request::delete("/v1/screen").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        reply.headers().get("allow").map(|v| v.to_str().unwrap()),
        Some("POST")
    );
    // 404 for any path, with or without the /v1 prefix.
    for path in ["/v2/nothing", "/v1/nothing", "/"] {
        let reply = get(&app, path).await;
        assert_eq!(
            (reply.status, code(&reply)),
            (StatusCode::NOT_FOUND, "not_found")
        );
    }
    // 415: a body not declared as JSON.
    let request = Request::post("/v1/attestations")
        .header("content-type", "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let reply = raw_call(&app, request).await;
    assert_eq!(
        (reply.status, code(&reply)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    // 413: declared larger than the limit, refused before the body is read.
    let request = Request::post("/v1/screen")
        .header("content-type", "application/json")
        .header("content-length", (10u64 << 30).to_string())
        .body(Body::empty())
        .unwrap();
    let reply = raw_call(&app, request).await;
    assert_eq!(
        (reply.status, code(&reply)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

/// `oneshot` returning the response itself, for header checks.
trait OneshotRaw {
    async fn oneshot_raw(self, request: Request<Body>) -> axum::response::Response;
}

impl OneshotRaw for axum::Router {
    async fn oneshot_raw(self, request: Request<Body>) -> axum::response::Response {
        tower::ServiceExt::oneshot(self, request).await.unwrap()
    }
}

#[tokio::test]
async fn padded_and_friendly_fields_are_stored_in_raw_form() {
    let app = node_with(config()).router();
    let padding = " ".repeat(100_000);
    let body = json!({
        "subject": format!("{padding}{SCAMMER}{padding}"),
        "verifier": format!("\t{}\n", friendly(VERIFIER, true, true)),
        "network": "  testnet  ",
    });
    let reply = post(&app, "/v1/attestations", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let audit = admin_get(&app, "/v1/audit").await;
    let entry = &audit.json["entries"][0];
    let scammer_raw = SCAMMER.parse::<Address>().unwrap().to_raw();
    assert_eq!(
        entry["request"],
        // the request as the node read it: raw addresses, the numeric network (no ttl was asked)
        json!({ "subject": scammer_raw, "verifier": VERIFIER, "network": -3 })
    );
    assert!(
        entry.to_string().len() < 8 * 1024,
        "a padded request must not grow the log: {} bytes",
        entry.to_string().len()
    );
}

#[tokio::test]
async fn responses_give_both_friendly_forms_and_mainnet_refuses_testnet_only_addresses() {
    let app = node_with(config()).router();
    let mainnet_body =
        |subject: String| json!({ "subject": subject, "verifier": VERIFIER, "network": "mainnet" });
    for testnet_only in [
        friendly(SCAMMER, false, true),
        friendly(SCAMMER, true, true),
    ] {
        let reply = post(&app, "/v1/attestations", mainnet_body(testnet_only.clone())).await;
        assert_eq!(
            (reply.status, code(&reply)),
            (StatusCode::BAD_REQUEST, "invalid_address"),
            "{testnet_only}"
        );
        let reply = get(&app, &format!("/v1/risk/{testnet_only}")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "mainnet is the default"
        );
        let reply = get(&app, &format!("/v1/risk/{testnet_only}?network=testnet")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json["address_forms"]["non_bounceable"],
            friendly(SCAMMER, false, true)
        );
    }
    let reply = post(&app, "/v1/attestations", mainnet_body(SCAMMER.into())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let forms = &reply.json["subject_forms"];
    assert_eq!(forms["non_bounceable"], SCAMMER, "UQ… is the wallet form");
    assert_eq!(forms["bounceable"], friendly(SCAMMER, true, false));
    assert_eq!(reply.json["verifier_forms"]["raw"], VERIFIER);
    let reply = get(&app, &format!("/v1/risk/{CUSTODIAN}")).await;
    assert_eq!(reply.json["address_forms"]["bounceable"], CUSTODIAN);
    let reply = post(
        &app,
        "/v1/screen",
        json!({ "addresses": [UNKNOWN], "network": "testnet" }),
    )
    .await;
    assert!(reply.json["results"][0]["address_forms"]["bounceable"]
        .as_str()
        .unwrap()
        .starts_with("kQ"));
}

#[tokio::test]
async fn metric_labels_stay_bounded_under_odd_methods_and_paths() {
    let app = node_with(config()).router();
    for i in 0..50 {
        let method = Method::from_bytes(format!("FLOOD{i}").as_bytes()).unwrap();
        call(&app, method, &format!("/v1/health/{i}"), None, None).await;
        get(&app, &format!("/random/{i}")).await;
    }
    let metrics = get(&app, "/metrics").await.text;
    assert!(!metrics.contains("FLOOD"), "methods become `other`");
    assert!(!metrics.contains("/random/"), "paths become `unmatched`");
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
    assert!(metrics.contains(r#"route="unmatched""#));
    assert!(metrics.contains("# HELP tollgate_http_requests_total"));
    assert!(metrics.contains("tollgate_http_request_duration_seconds_bucket"));
    assert!(metrics.contains(r#"tollgate_build_info{version=""#));
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let origin = "https://app.example";
    let request = |origin: &str| {
        Request::get("/v1/oracle")
            .header("origin", origin)
            .body(Body::empty())
            .unwrap()
    };
    let allow = |response: &axum::response::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let closed = node_with(config()).router();
    assert_eq!(
        allow(&closed.oneshot_raw(request(origin)).await),
        None,
        "default: none"
    );
    let open = node_with(Config {
        cors_allowed_origins: vec![origin.into()],
        ..config()
    })
    .router();
    assert_eq!(
        allow(&open.clone().oneshot_raw(request(origin)).await),
        Some(origin.into())
    );
    assert_eq!(
        allow(
            &open
                .clone()
                .oneshot_raw(request("https://evil.example"))
                .await
        ),
        None
    );
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/attestations")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    let response = open.oneshot_raw(preflight).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(allow(&response), Some(origin.into()));
    assert!(Config {
        cors_allowed_origins: vec!["*".into()],
        ..config()
    }
    .validate()
    .is_err());
}

#[tokio::test]
async fn free_text_is_bounded_where_it_enters() {
    let app = node_with(config()).router();
    let set = |reason: String, author: String| json!({ "address": UNKNOWN, "action": "deny", "reason": reason, "author": author });
    for body in [
        set("x".repeat(1025), "ops".into()),
        set("fraud".into(), "a".repeat(129)),
        set("   ".into(), "ops".into()),
    ] {
        let reply = call(
            &app,
            Method::POST,
            "/v1/admin/overrides",
            Some(body),
            Some(ADMIN),
        )
        .await;
        assert_eq!(
            (reply.status, code(&reply)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
        );
    }
    let content = format!(
        "{UNKNOWN},scam,team,{}\n{UNKNOWN},scam,{},x\n{UNKNOWN},mixer,team,fine\n",
        "n".repeat(257),
        "s".repeat(129)
    );
    let reply = call(
        &app,
        Method::POST,
        "/v1/admin/ingest",
        Some(json!({ "format": "csv", "content": content })),
        Some(ADMIN),
    )
    .await;
    assert_eq!(reply.json["added"], 1, "{}", reply.text);
    let reasons: Vec<&str> = reply.json["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "name longer than 256 characters",
            "source longer than 128 characters"
        ]
    );
}

#[tokio::test]
async fn the_data_dir_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let node = Node::open(Config {
        data_dir: data.clone(),
        ..config()
    })
    .unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "an open data dir is tightened");
    let mut files = 0;
    let mut stack = vec![data.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                stack.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(files >= 2, "the store and the development key");
    node.shutdown().await;
}

#[test]
fn the_admin_token_comes_from_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin.token");
    std::fs::write(&file, "\n  from-a-file-0123456789  \n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let args = tollgate_oracle::config::ConfigArgs {
        admin_token_file: Some(file.clone()),
        ..Default::default()
    };
    let config = Config::load(&args).unwrap();
    assert_eq!(
        config.admin_token.as_deref(),
        Some("from-a-file-0123456789")
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Config::load(&args).unwrap_err().to_string();
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn toml_networks_take_names_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node.toml");
    std::fs::write(&file, "networks = [\"mainnet\", -3, \"-239\"]\n").unwrap();
    let config = Config::load(&tollgate_oracle::config::ConfigArgs {
        config: Some(file.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(config.networks, vec![-239, -3, -239]);
    std::fs::write(&file, "networks = [\"moonnet\"]\n").unwrap();
    let err = Config::load(&tollgate_oracle::config::ConfigArgs {
        config: Some(file),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("moonnet"), "{err}");
}

/// Runs `tool args… FILE` on `text` written to a file. A missing tool skips the check with a
/// note, except under CI (`CI` set), where `.ci/run` installs it and its absence is a failure.
fn lint_with(tool: &str, args: &[&str], text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input");
    std::fs::write(&file, text).unwrap();
    let mut command = std::process::Command::new(tool);
    command.args(args);
    let output = if tool == "promtool" {
        command.stdin(std::fs::File::open(&file).unwrap()).output()
    } else {
        command.arg(&file).output()
    };
    match output {
        Ok(output) => assert!(
            output.status.success(),
            "{tool}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping the {tool} check: {err} (.ci/run installs it)");
        }
        Err(err) => panic!("{tool} is required under CI: {err}"),
    }
}

#[tokio::test]
async fn metrics_pass_promtool_and_the_openapi_document_passes_a_validator() {
    let app = node_with(config()).router();
    get(&app, "/v1/health").await;
    call(&app, Method::from_bytes(b"FOO").unwrap(), "/x", None, None).await;
    let metrics = get(&app, "/metrics").await.text;
    lint_with("promtool", &["check", "metrics"], &metrics);
    let spec = get(&app, "/v1/openapi.json").await.text;
    lint_with("openapi-spec-validator", &[], &spec);
}
