//! The quorum's [`Transport`] over the global `fetch`, `setTimeout` and `crypto.getRandomValues`
//! of the JavaScript host (a browser page, a worker, or Node ≥ 18).
//!
//! Nodes must be reachable from the page: the same origin, or a node that sends CORS headers
//! for it. A request the browser blocks fails like a refused connection ("unreachable").

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use js_sys::{Function, Promise, Uint8Array};
use tollgate_sdk::quorum::{ClientConfig, Progress, Request, Response, Transport, TransportError};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (window, worker or Node alike).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Promise;
    /// The global `setTimeout`.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, milliseconds: f64) -> JsValue;
    /// `AbortSignal.timeout(ms)`: aborts the request with a `TimeoutError`.
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn abort_signal_timeout(milliseconds: f64) -> web_sys::AbortSignal;
    /// `crypto.getRandomValues` of the Web Crypto API.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(array: &Uint8Array) -> Result<JsValue, JsValue>;
}

/// `fetch` as the quorum's transport; progress goes to an optional JavaScript callback.
pub struct Fetch {
    timeout_ms: f64,
    on_progress: Option<Function>,
}

impl Fetch {
    /// A transport with the configuration's per-request timeout.
    pub fn new(config: &ClientConfig, on_progress: Option<Function>) -> Self {
        Fetch {
            timeout_ms: config.timeout.as_millis() as f64,
            on_progress,
        }
    }
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The innermost message of a rejected `fetch` (browsers say "Failed to fetch", Node names the
/// cause, e.g. `ECONNREFUSED`).
fn describe(error: &JsValue) -> String {
    let message = |value: &JsValue| {
        js_sys::Reflect::get(value, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
    };
    let cause = js_sys::Reflect::get(error, &"cause".into()).ok();
    cause
        .as_ref()
        .filter(|c| !c.is_undefined() && !c.is_null())
        .and_then(|c| {
            js_sys::Reflect::get(c, &"code".into())
                .ok()
                .and_then(|code| code.as_string())
                .or_else(|| message(c))
        })
        .or_else(|| message(error))
        .unwrap_or_else(|| "fetch failed".into())
}

fn is_timeout(error: &JsValue) -> bool {
    js_sys::Reflect::get(error, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .is_some_and(|name| name == "TimeoutError")
}

async fn send(request: Request, timeout_ms: f64) -> Result<Response, TransportError> {
    let unreachable = |err: JsValue| TransportError::Unreachable(describe(&err));
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(&abort_signal_timeout(timeout_ms)));
    let url = match request {
        Request::Get { url } => {
            init.set_method("GET");
            url
        }
        Request::PostJson { url, body } => {
            init.set_method("POST");
            let headers = web_sys::Headers::new().map_err(unreachable)?;
            headers
                .set("content-type", "application/json")
                .map_err(unreachable)?;
            init.set_headers(&headers);
            init.set_body(&JsValue::from_str(&body));
            url
        }
    };
    let request = web_sys::Request::new_with_str_and_init(&url, &init).map_err(unreachable)?;
    let classify = |err: JsValue| {
        if is_timeout(&err) {
            TransportError::TimedOut
        } else {
            unreachable(err)
        }
    };
    let response: web_sys::Response = JsFuture::from(global_fetch(&request))
        .await
        .map_err(classify)?
        .unchecked_into();
    let status = response.status();
    let buffer = JsFuture::from(response.array_buffer().map_err(unreachable)?)
        .await
        .map_err(classify)?;
    Ok(Response {
        status,
        body: Uint8Array::new(&buffer).to_vec(),
    })
}

impl Transport for Fetch {
    type Send = LocalFuture<Result<Response, TransportError>>;
    type Sleep = LocalFuture<()>;

    fn send(&self, request: Request) -> Self::Send {
        Box::pin(send(request, self.timeout_ms))
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        let milliseconds = duration.as_millis() as f64;
        let promise = Promise::new(&mut |resolve, _reject| {
            set_timeout(&resolve, milliseconds);
        });
        Box::pin(async move {
            // A timer's promise never rejects.
            let _ = JsFuture::from(promise).await;
        })
    }

    fn now(&self) -> u32 {
        (js_sys::Date::now() / 1000.0) as u32
    }

    fn nonce(&self) -> u64 {
        let array = Uint8Array::new_with_length(8);
        // Without Web Crypto there is no good randomness; fall back to the clock's entropy
        // rather than fail (a nonce must be unique, not secret; nodes add their own checks).
        if get_random_values(&array).is_err() {
            return (js_sys::Date::now() * 1000.0) as u64 ^ (js_sys::Math::random() * 1e15) as u64;
        }
        let mut bytes = [0u8; 8];
        array.copy_to(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn observe(&self, progress: Progress<'_>) {
        let Some(callback) = &self.on_progress else {
            return;
        };
        let event = match progress {
            Progress::Judged { node, result } => match result {
                Ok(summary) => serde_json::json!({
                    "event": "judged", "index": node.index, "url": node.url,
                    "score": summary.score, "level": summary.level,
                    "categories": summary.categories_mask,
                }),
                Err(reason) => serde_json::json!({
                    "event": "judged", "index": node.index, "url": node.url, "error": reason,
                }),
            },
            Progress::Proposed { attestation, hash } => serde_json::json!({
                "event": "proposed", "attestation": attestation, "hash": hex::encode(hash),
            }),
            Progress::Cosigned { node, result } => match result {
                Ok(()) => serde_json::json!({
                    "event": "cosigned", "index": node.index, "url": node.url,
                }),
                Err(reason) => serde_json::json!({
                    "event": "cosigned", "index": node.index, "url": node.url, "error": reason,
                }),
            },
        };
        // A throwing callback must not break the quorum.
        let _ = callback.call1(&JsValue::NULL, &JsValue::from_str(&event.to_string()));
    }
}
