//! Serving the API over HTTP/1.1 with hyper directly, for what `axum::serve` does not offer:
//!
//! - a **connection cap**: above `max_connections` a new connection is answered with a JSON
//!   503 and closed at once, so a connection flood costs the node one small write per socket
//!   instead of a task and buffers each;
//! - **request-head limits**: a header-read timeout (a client that trickles its request head —
//!   slowloris — is cut off), a head size limit and a header count limit (431 above either);
//! - a **graceful shutdown** that stops accepting, lets in-flight requests finish, then returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Config;

/// What a connection above the cap receives before it is closed. Written with one
/// non-blocking write on the fresh socket, never read from: the node spends nothing else on it.
pub const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 92\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the node has too many open connections\"}}";

/// The HTTP/1.1 settings the configuration asks for.
pub fn http1_builder(config: &Config) -> hyper::server::conn::http1::Builder {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout())
        // The read buffer bounds what one connection can make the node hold for its head.
        .max_buf_size(config.max_header_bytes.max(crate::config::MIN_HEADER_BYTES))
        .max_header_size(config.max_header_bytes)
        .max_headers(config.max_headers)
        .keep_alive(true);
    http
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits (at most the configured
/// grace period) for open requests to complete.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) {
    let http = http1_builder(config);
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Typically EMFILE: back off instead of spinning.
                        tracing::warn!(error = %err, "accept failed");
                        ::metrics::counter!(crate::api::metrics::ACCEPT_ERRORS).increment(1);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    ::metrics::counter!(crate::api::metrics::CONNECTIONS_REFUSED).increment(1);
                    // Best effort: a fresh socket's send buffer takes this without blocking.
                    let _ = stream.try_write(TOO_MANY_CONNECTIONS);
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    ::metrics::gauge!(crate::api::metrics::OPEN_CONNECTIONS).increment(1.0);
                    if let Err(err) = connection.await {
                        tracing::debug!(error = %err, "connection closed with an error");
                    }
                    ::metrics::gauge!(crate::api::metrics::OPEN_CONNECTIONS).decrement(1.0);
                    drop(permit);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over with requests still open");
    }
}

/// A future that resolves on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first polled: a
/// caller installs them before announcing that it listens, so a signal sent right after the
/// announcement stops the node gracefully instead of killing it with the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let wait = |installed: std::io::Result<tokio::signal::unix::Signal>| async move {
            match installed {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {},
            () = wait(terminate) => {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_too_many_connections_answer_is_well_formed_json() {
        let text = std::str::from_utf8(TOO_MANY_CONNECTIONS).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "too_many_connections");
    }
}
