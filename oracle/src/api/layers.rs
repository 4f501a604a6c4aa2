//! What wraps every route: the request body read under a deadline, JSON bodies for every
//! error, bounded request metrics with the access log, and CORS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use metrics::{Counter, Histogram};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::metrics::{method_label, HTTP_REQUESTS, HTTP_REQUEST_SECONDS};
use crate::config::Config;
use crate::error::{plain_error, Error};

/// Longest raw path the access log writes; the rest is cut (the route template is always
/// there in full).
pub const LOGGED_PATH_CHARS: usize = 200;

/// How much body a request may send, and how fast.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// Largest body, bytes.
    pub max_bytes: usize,
    /// Deadline for the whole body.
    pub deadline: Duration,
}

impl From<&Config> for BodyLimits {
    fn from(config: &Config) -> Self {
        BodyLimits {
            max_bytes: config.max_body_bytes,
            deadline: config.body_read_timeout(),
        }
    }
}

/// Reads the whole body before the request goes on (and so before it takes a concurrency
/// permit): a client that trickles its body holds a connection, never a permit.
///
/// A declared `Content-Length` above the limit is answered 413 at once, without reading; a
/// body that grows past the limit is 413 when it does; a body not complete by the deadline
/// is 408. Both close the connection: what is left of the body is never read.
pub async fn read_body(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_bytes as u64) {
        return closing(Error::PayloadTooLarge.into_response());
    }
    let (parts, body) = request.into_parts();
    let collected = tokio::time::timeout(
        limits.deadline,
        Limited::new(body, limits.max_bytes).collect(),
    )
    .await;
    let bytes = match collected {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.is::<LengthLimitError>() => {
            return closing(Error::PayloadTooLarge.into_response())
        }
        // The connection failed mid-body (reset, malformed chunking): nobody may be listening,
        // but whoever is gets a typed answer.
        Ok(Err(_)) => {
            return closing(
                Error::MalformedBody("the request body could not be read".into()).into_response(),
            )
        }
        Err(_) => return closing(Error::BodyTimeout.into_response()),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Asks hyper to close the connection after this response (the rest of the body is unread).
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The layers around the whole router, probes included: unknown routes as JSON 404, JSON
/// bodies for errors the framework answers itself (405, ...), request metrics and the access
/// log, and CORS when origins are configured.
pub fn outer(routes: Router, config: &Config) -> Router {
    let routes = routes
        .fallback(|| async { Error::NotFound })
        .layer(middleware::map_response(json_errors))
        .layer(middleware::from_fn_with_state(
            Arc::new(RequestMetrics::default()),
            track,
        ));
    match cors(config) {
        Some(cors) => routes.layer(cors),
        None => routes,
    }
}

/// CORS for the configured origins (none: no layer, so browsers refuse cross-origin calls).
/// Only what a Mini App needs: GET and POST with a JSON body; no credentials, and not the
/// `Authorization` header, so a browser page cannot use the admin API.
fn cors(config: &Config) -> Option<CorsLayer> {
    if config.cors_allowed_origins.is_empty() {
        return None;
    }
    let origins = config
        .cors_allowed_origins
        .iter()
        // validate() has checked each is a valid header value.
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect::<Vec<_>>();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600)),
    )
}

/// Gives a JSON body to error responses that have none (axum's own 405, hyper-independent
/// rejections), so clients can rely on one error shape. The status and headers (`Allow`) stay.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not take that method (see the Allow header)",
        ),
        StatusCode::NOT_FOUND => ("not_found", "not found"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        StatusCode::REQUEST_TIMEOUT => ("body_timeout", "the request body came too slowly"),
        _ if status.is_client_error() => ("bad_request", "the request was refused"),
        _ => ("internal", "internal error"),
    };
    let (parts, _) = response.into_parts();
    let mut answer = plain_error(status, code, message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// Counts requests and their latency with bounded labels, and writes the access log line.
///
/// One event per request carries everything an operator greps for (method, route, status,
/// latency, size); a per-request span (as tower-http's `TraceLayer` makes) would add nothing
/// here, since handlers log little. The metric handles come from [`RequestMetrics`], and the
/// path is copied only when the access log is on: both were a measurable share of a request.
async fn track(
    State(metrics): State<Arc<RequestMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let logged = tracing::enabled!(target: "tollgate::access", tracing::Level::INFO);
    let path: String = if logged {
        request
            .uri()
            .path()
            .chars()
            .take(LOGGED_PATH_CHARS)
            .collect()
    } else {
        String::new()
    };
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route_label = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.record(method, route_label, status, elapsed);
    if logged {
        tracing::info!(
            target: "tollgate::access",
            method,
            route = %route_label,
            path = %path,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    response
}

/// The route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// The request counter and latency histogram handles, one set per (route, method, status),
/// registered on first use and kept: the recorder's lookup by name and labels (and the
/// label strings it needs) cost more than the increment itself. Every label is bounded (route
/// templates, [`method_label`], status codes), so the map is too.
#[derive(Default)]
pub struct RequestMetrics {
    routes: RwLock<HashMap<String, Vec<MethodMetrics>>>,
}

/// One route and method's latency histogram and its counters by status.
struct MethodMetrics {
    method: &'static str,
    latency: Histogram,
    by_status: Vec<(u16, Counter)>,
}

impl RequestMetrics {
    /// Counts one answered request and records its latency.
    pub fn record(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        {
            let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
            let known = routes
                .get(route)
                .and_then(|methods| methods.iter().find(|m| m.method == method))
                .and_then(|m| {
                    let counter = m.by_status.iter().find(|(s, _)| *s == status)?;
                    Some((&m.latency, &counter.1))
                });
            if let Some((latency, counter)) = known {
                counter.increment(1);
                latency.record(seconds);
                return;
            }
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        let methods = routes.entry(route.to_owned()).or_default();
        let index = match methods.iter().position(|m| m.method == method) {
            Some(index) => index,
            None => {
                methods.push(MethodMetrics {
                    method,
                    latency: ::metrics::histogram!(HTTP_REQUEST_SECONDS, "method" => method, "route" => route.to_owned()),
                    by_status: Vec::new(),
                });
                methods.len() - 1
            }
        };
        let entry = &mut methods[index];
        let counter = match entry.by_status.iter().position(|(s, _)| *s == status) {
            Some(at) => &entry.by_status[at].1,
            None => {
                let counter = ::metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.to_owned(), "status" => status.to_string());
                entry.by_status.push((status, counter));
                &entry.by_status[entry.by_status.len() - 1].1
            }
        };
        counter.increment(1);
        entry.latency.record(seconds);
    }
}
