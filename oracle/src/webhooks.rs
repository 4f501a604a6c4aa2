//! Webhooks: every change of the feed ([`crate::changes`]) POSTed to each subscriber the
//! operator configured, signed with the subscriber's own secret.
//!
//! # Subscribers
//!
//! A TOML file (`webhooks_file`, mode 0600 — it holds secrets, so never the command line):
//!
//! ```toml
//! [[subscriber]]
//! id = "exchange-a"                      # [a-z0-9_-], 1–64 characters, unique
//! url = "https://hooks.example/tollgate" # http or https
//! secret = "at least 16 characters"
//! ```
//!
//! # Delivery
//!
//! One POST per change, `Content-Type: application/json`, body = the change as
//! `GET /v1/changes` shows it, with headers
//!
//! - `X-Tollgate-Timestamp`: unix seconds when sent;
//! - `X-Tollgate-Signature`: `v1=` + hex HMAC-SHA256(secret, timestamp ‖ `.` ‖ body);
//! - `X-Tollgate-Delivery`: `<subscriber>:<seq>` (the same for every retry: deduplicate on it).
//!
//! Receivers recompute the HMAC over the raw body and refuse timestamps far from their clock
//! (replays). Changes go to a subscriber **in order, one at a time**: the next is sent once the
//! current one is answered 2xx. A failure (non-2xx, timeout, connection error) is retried after
//! `base_backoff · 2^(attempts−1)`, capped at `max_backoff`; after `max_attempts` the change is
//! given up (logged, counted in the state) and the next one is sent. So a dead receiver costs one
//! request per backoff period, never a storm.
//!
//! The state — the last seq delivered, and the attempts and next attempt time of the one in
//! hand — is written to the change log's database after every attempt, so a restart resumes
//! where it stopped and keeps the backoff. The queue is the change feed itself; a subscriber
//! more than `max_backlog` changes behind skips to the newest `max_backlog` (logged, counted):
//! it can read what it missed from `GET /v1/changes`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::changes::{Change, ChangeLog};
use crate::error::{Error, Result};

/// Header with the unix time the body was signed at.
pub const TIMESTAMP_HEADER: &str = "x-tollgate-timestamp";
/// Header with the signature.
pub const SIGNATURE_HEADER: &str = "x-tollgate-signature";
/// Header naming the delivery (stable across retries).
pub const DELIVERY_HEADER: &str = "x-tollgate-delivery";

/// Shortest secret accepted.
pub const MIN_SECRET_CHARS: usize = 16;

/// One configured receiver.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriber {
    /// Names it in logs, headers and the delivery state.
    pub id: String,
    /// Where changes are POSTed.
    pub url: String,
    /// The HMAC key.
    pub secret: String,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Subscriber")
            .field("id", &self.id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribersFile {
    #[serde(default)]
    subscriber: Vec<Subscriber>,
}

/// Reads and checks the subscribers file: mode 0600 (or stricter), valid ids, URLs and
/// secrets, no id twice.
pub fn load_subscribers(path: &Path) -> Result<Vec<Subscriber>> {
    let text = crate::signer::read_private_file(path)
        .map_err(|err| Error::Config(format!("webhooks_file: {err}")))?;
    parse_subscribers(&text).map_err(|err| Error::Config(format!("{}: {err}", path.display())))
}

/// Parses and checks a subscribers file's text.
pub fn parse_subscribers(text: &str) -> std::result::Result<Vec<Subscriber>, String> {
    let file: SubscribersFile = toml::from_str(text).map_err(|err| err.to_string())?;
    let mut ids = std::collections::HashSet::new();
    for s in &file.subscriber {
        let id_ok = !s.id.is_empty()
            && s.id.len() <= 64
            && s.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(format!(
                "subscriber id `{}` is not [a-z0-9_-]{{1,64}}",
                s.id
            ));
        }
        if !ids.insert(s.id.clone()) {
            return Err(format!("subscriber id `{}` appears twice", s.id));
        }
        let url = reqwest::Url::parse(&s.url).map_err(|err| format!("{}: url: {err}", s.id))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{}: url must be http or https", s.id));
        }
        if s.secret.chars().count() < MIN_SECRET_CHARS {
            return Err(format!(
                "{}: secret shorter than {MIN_SECRET_CHARS} characters",
                s.id
            ));
        }
    }
    Ok(file.subscriber)
}

/// `v1=` + hex HMAC-SHA256(secret, timestamp ‖ `.` ‖ body).
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// How deliveries are retried and bounded.
#[derive(Clone, Debug)]
pub struct Options {
    /// Wait after the first failure.
    pub base_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Attempts before a change is given up.
    pub max_attempts: u32,
    /// Most changes a subscriber may be behind before it skips ahead.
    pub max_backlog: u64,
    /// Timeout of one request.
    pub request_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            max_attempts: 12,
            max_backlog: 10_000,
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl Options {
    /// Wait before attempt `attempts + 1` after `attempts` failures.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(20);
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// A subscriber's durable delivery state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// Last seq delivered (or given up).
    pub delivered: u64,
    /// Failed attempts of the change after it.
    pub attempts: u32,
    /// Unix milliseconds before which it is not retried.
    pub next_attempt_ms: u64,
    /// Changes given up after `max_attempts`.
    pub given_up: u64,
    /// Changes skipped because the subscriber was more than `max_backlog` behind.
    pub skipped: u64,
}

/// Reads a subscriber's state (a fresh subscriber starts at the feed's current end: it gets
/// changes from now on, and the past from `GET /v1/changes`).
pub fn state_of(log: &ChangeLog, id: &str) -> Result<DeliveryState> {
    match log.webhook_state(id)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|err| Error::Corrupt(format!("webhook state of {id}: {err}"))),
        None => {
            let state = DeliveryState {
                delivered: log.last_seq()?,
                ..DeliveryState::default()
            };
            save(log, id, &state)?;
            Ok(state)
        }
    }
}

fn save(log: &ChangeLog, id: &str, state: &DeliveryState) -> Result<()> {
    let bytes = serde_json::to_vec(state).map_err(|err| Error::Store(err.to_string()))?;
    log.put_webhook_state(id, &bytes)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Starts one delivery task per subscriber; they run until the runtime stops.
pub fn spawn(
    log: Arc<ChangeLog>,
    subscribers: Vec<Subscriber>,
    options: Options,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let client = reqwest::Client::builder()
        .timeout(options.request_timeout)
        // A subscriber's URL is the operator's choice; following redirects would send signed
        // bodies elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| Error::Config(format!("webhook client: {err}")))?;
    let mut tasks = Vec::new();
    for subscriber in subscribers {
        // Created before the task runs, so changes recorded from now on are not missed.
        state_of(&log, &subscriber.id)?;
        let (log, client, options) = (log.clone(), client.clone(), options.clone());
        tasks.push(tokio::spawn(async move {
            deliver_forever(log, client, subscriber, options).await;
        }));
    }
    Ok(tasks)
}

async fn deliver_forever(
    log: Arc<ChangeLog>,
    client: reqwest::Client,
    subscriber: Subscriber,
    options: Options,
) {
    loop {
        match deliver_next(&log, &client, &subscriber, &options).await {
            Ok(true) => {}
            Ok(false) => {
                // Nothing to send: wait for an append, or look again after a while (a missed
                // wake-up costs at most this).
                let appended = log.appended.notified();
                let _ = tokio::time::timeout(Duration::from_secs(1), appended).await;
            }
            Err(err) => {
                tracing::error!(subscriber = %subscriber.id, error = %err, "webhook state unavailable");
                tokio::time::sleep(options.max_backoff.min(Duration::from_secs(5))).await;
            }
        }
    }
}

/// Sends (or retries) the next change; `false` when there is none.
async fn deliver_next(
    log: &ChangeLog,
    client: &reqwest::Client,
    subscriber: &Subscriber,
    options: &Options,
) -> Result<bool> {
    let mut state = state_of(log, &subscriber.id)?;
    let last = log.last_seq()?;
    if last.saturating_sub(state.delivered) > options.max_backlog {
        let skip_to = last - options.max_backlog;
        tracing::warn!(subscriber = %subscriber.id, skipped = skip_to - state.delivered, "webhook subscriber too far behind: skipping to the newest changes");
        state.skipped += skip_to - state.delivered;
        state.delivered = skip_to;
        state.attempts = 0;
        save(log, &subscriber.id, &state)?;
    }
    let Some(change) = log.page(state.delivered, 1)?.into_iter().next() else {
        return Ok(false);
    };
    let wait = state.next_attempt_ms.saturating_sub(now_ms());
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    match post(client, subscriber, &change).await {
        Ok(()) => {
            state.delivered = change.seq;
            state.attempts = 0;
            state.next_attempt_ms = 0;
        }
        Err(reason) => {
            state.attempts += 1;
            if state.attempts >= options.max_attempts {
                tracing::error!(subscriber = %subscriber.id, seq = change.seq, attempts = state.attempts, %reason, "webhook given up");
                state.delivered = change.seq;
                state.attempts = 0;
                state.next_attempt_ms = 0;
                state.given_up += 1;
            } else {
                let backoff = options.backoff(state.attempts);
                tracing::warn!(subscriber = %subscriber.id, seq = change.seq, attempts = state.attempts, retry_in_ms = backoff.as_millis() as u64, %reason, "webhook failed");
                state.next_attempt_ms = now_ms() + backoff.as_millis() as u64;
            }
        }
    }
    save(log, &subscriber.id, &state)?;
    Ok(true)
}

async fn post(
    client: &reqwest::Client,
    subscriber: &Subscriber,
    change: &Change,
) -> std::result::Result<(), String> {
    let body = serde_json::to_vec(change).map_err(|err| err.to_string())?;
    let timestamp = crate::unix_now();
    let response = client
        .post(&subscriber.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            SIGNATURE_HEADER,
            signature(&subscriber.secret, timestamp, &body),
        )
        .header(DELIVERY_HEADER, format!("{}:{}", subscriber.id, change.seq))
        .body(body)
        .send()
        .await
        .map_err(|err| format!("request failed: {err}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_files_are_checked() {
        let good = "[[subscriber]]\nid = \"a-1\"\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"0123456789abcdef\"\n";
        assert_eq!(parse_subscribers(good).unwrap().len(), 1);
        assert!(parse_subscribers("").unwrap().is_empty());
        for bad in [
            good.replace("a-1", "A 1"),
            good.replace("0123456789abcdef", "short"),
            good.replace("http://", "ftp://"),
            format!("{good}{good}"),
            good.replace("secret", "secrett"),
        ] {
            assert!(parse_subscribers(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let options = Options {
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            ..Options::default()
        };
        let waits: Vec<u64> = (1..=6).map(|n| options.backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Python: hmac.new(b"Jefe", b"0.what do ya want for nothing?", hashlib.sha256).hexdigest()
        assert_eq!(
            signature("Jefe", 0, b"what do ya want for nothing?"),
            "v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }
}
