//! A real server on 127.0.0.1:0: header-read timeout, load shedding, request timeouts,
//! graceful shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tollgate_oracle::api::harden;
use tollgate_oracle::config::Config;
use tollgate_oracle::server::serve;

use crate::support::*;

/// Starts `app` on a free port; returns its address, a shutdown trigger and the server task.
async fn start(
    app: Router,
    config: Config,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, app, &config, async {
            let _ = stopped.await;
        })
        .await;
    });
    (addr, stop, task)
}

/// Routes with a slow endpoint, under the node's hardening layers.
fn slow_app(config: &Config) -> Router {
    harden(
        Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1000)).await;
                "done"
            }),
        ),
        config,
    )
}

#[tokio::test]
async fn the_real_node_serves_attestations_over_tcp() {
    let node = node_with(config());
    let (addr, stop, task) = start(node.router(), config()).await;
    let (status, body) = http(addr, "GET", "/v1/health", None).await.unwrap();
    assert_eq!((status, body.contains("ok")), (200, true));
    let request =
        format!(r#"{{"subject":"{SCAMMER}","verifier":"{VERIFIER}","network":"testnet"}}"#);
    let (status, body) = http(addr, "POST", "/v1/attestations", Some(&request))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    stop.send(()).unwrap();
    task.await.unwrap();
    node.shutdown().await;
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let config = Config {
        header_read_timeout_ms: 300,
        ..config()
    };
    let (addr, _stop, _task) = start(slow_app(&config), config).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    // The server must close the connection (EOF or reset) well before this generous bound.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let _ = stream.write_all(b"X-Slow: 1\r\n").await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            match tokio::time::timeout(Duration::from_millis(1), stream.read_buf(&mut buffer)).await
            {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "connection still open after 5 s");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn excess_concurrent_requests_are_shed_with_503() {
    let config = Config {
        max_concurrency: 2,
        ..config()
    };
    let (addr, _stop, _task) = start(slow_app(&config), config).await;
    let slow: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { http(addr, "GET", "/slow", None).await.unwrap() }))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = http(addr, "GET", "/slow", None).await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("overloaded"), "{body}");
    for task in slow {
        assert_eq!(task.await.unwrap().0, 200);
    }
    assert_eq!(
        http(addr, "GET", "/slow", None).await.unwrap().0,
        200,
        "capacity is back"
    );
}

#[tokio::test]
async fn a_request_over_the_timeout_gets_a_json_503() {
    let config = Config {
        request_timeout_ms: 100,
        ..config()
    };
    let (addr, _stop, _task) = start(slow_app(&config), config).await;
    let (status, body) = http(addr, "GET", "/slow", None).await.unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("\"timeout\""), "{body}");
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let config = config();
    let (addr, stop, task) = start(slow_app(&config), config).await;
    let in_flight = tokio::spawn(async move { http(addr, "GET", "/slow", None).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    let (status, body) = in_flight.await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (200, "done"));
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("server stops")
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

/// Sends `head` (and nothing more) on a fresh connection; returns the status line's code and
/// the body, or None when the server closed without answering.
async fn answer_to(addr: SocketAddr, head: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let _ = stream.write_all(head).await;
    let mut buffer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer)).await;
    let text = String::from_utf8_lossy(&buffer).into_owned();
    let code = text.split(' ').nth(1)?.parse().ok()?;
    Some((
        code,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

#[tokio::test]
async fn slow_bodies_hold_no_permit_and_probes_answer_during_them() {
    let config = Config {
        max_concurrency: 2,
        body_read_timeout_ms: 2_000,
        ..config()
    };
    let node = node_with(config.clone());
    let (addr, _stop, _task) = start(node.router(), config).await;
    // Far more slow bodies than permits, each announcing a body it never finishes.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"addr")
            .await
            .unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = http(addr, "GET", "/v1/health", None).await.unwrap();
    assert_eq!(status, 200);
    let body = format!(r#"{{"addresses":["{UNKNOWN}"]}}"#);
    let (status, text) = http(addr, "POST", "/v1/screen", Some(&body)).await.unwrap();
    assert_eq!(status, 200, "an honest request gets a permit: {text}");
    // Each slow body is answered 408 with the JSON shape once its deadline passes.
    let mut buffer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow[0].read_to_end(&mut buffer))
        .await
        .expect("closed after the body deadline")
        .unwrap();
    let text = String::from_utf8_lossy(&buffer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"body_timeout\""), "{text}");
}

#[tokio::test]
async fn a_declared_oversize_body_is_refused_before_it_is_sent() {
    let node = node_with(config());
    let (addr, _stop, _task) = start(node.router(), config()).await;
    let started = Instant::now();
    let (status, body) = answer_to(
        addr,
        b"POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n",
    )
    .await
    .expect("an answer");
    assert_eq!(status, 413);
    assert!(body.contains("payload_too_large"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn fat_heads_get_431_and_connections_above_the_cap_a_json_503() {
    let config = Config {
        max_connections: 20,
        ..config()
    };
    let node = node_with(config.clone());
    let (addr, _stop, _task) = start(node.router(), config).await;
    let fat = format!(
        "GET /v1/health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        "X-Fat: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(300)
    );
    let many = format!(
        "GET /v1/health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..100)
            .map(|i| format!("X-{i}: 1\r\n"))
            .collect::<String>()
    );
    for head in [fat, many] {
        if let Some((status, _)) = answer_to(addr, head.as_bytes()).await {
            assert_eq!(status, 431);
        }
    }
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = answer_to(addr, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("an answer");
    assert_eq!(status, 503);
    assert!(body.contains("too_many_connections"), "{body}");
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = http(addr, "GET", "/v1/health", None).await.unwrap();
    assert_eq!(status, 200, "capacity is back once they close");
}
