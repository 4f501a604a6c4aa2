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
