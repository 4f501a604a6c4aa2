//! A follower of a live toncenter-v3-compatible endpoint: pages of `/api/v3/transactions` and
//! `/api/v3/jetton/transfers` in logical-time order, ingested as they come.
//!
//! The cursor (`start_lt` and the `offset` among records of that same logical time) is stored
//! in the transfer log with the batch it follows, so a restart resumes after the last batch on
//! disk and never skips or double-counts (overlaps are dropped by the store's identity check).
//! Requests are spaced by a minimum interval (toncenter's free tier allows one per second);
//! failures and `429` back off exponentially up to a ceiling, honouring `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use super::ingest::{self, PageKind, Summary};
use super::toncenter::{self, JettonTransfer, Transaction};
use super::transfers::TransferStore;
use crate::error::{Error, Result};

/// The lease replicas take to follow the chain ([`TransferStore::hold_lease`]).
pub const FOLLOWER_LEASE: &str = "follower";
/// How long a follower's lease lasts unless renewed (each step renews it): a replica that dies
/// while following is replaced after at most this.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// How to follow a source.
#[derive(Clone, Debug)]
pub struct Options {
    /// Base URL of the endpoint (`https://toncenter.com`; a trailing `/api/v3` is accepted).
    pub source: String,
    /// Which endpoints to follow.
    pub kinds: Vec<PageKind>,
    /// Records per request (toncenter allows up to 1000).
    pub page_limit: usize,
    /// Least time between two requests.
    pub min_interval: Duration,
    /// Wait when caught up (an empty page).
    pub poll_interval: Duration,
    /// First wait after a failure; doubles per failure.
    pub backoff_start: Duration,
    /// Longest wait after failures.
    pub backoff_max: Duration,
    /// `X-API-Key` for toncenter.
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Options {
    /// Defaults for a source: both endpoints, 256 records a page, one request a second.
    pub fn new(source: &str) -> Options {
        Options {
            source: source
                .trim_end_matches('/')
                .trim_end_matches("/api/v3")
                .to_string(),
            kinds: vec![PageKind::Transactions, PageKind::JettonTransfers],
            page_limit: 256,
            min_interval: Duration::from_secs(1),
            poll_interval: Duration::from_secs(2),
            backoff_start: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            api_key: None,
            timeout: Duration::from_secs(20),
        }
    }
}

/// Where a follower stands in one endpoint: the next request's `start_lt` and `offset`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Records with logical time at least this...
    pub start_lt: u64,
    /// ... skipping this many of those at exactly `start_lt` (already ingested).
    pub offset: usize,
}

impl Cursor {
    fn name(kind: PageKind) -> &'static str {
        match kind {
            PageKind::Transactions => "follow.transactions",
            PageKind::JettonTransfers => "follow.jetton_transfers",
        }
    }
    fn parse(text: &str) -> Option<Cursor> {
        let (lt, offset) = text.split_once(':')?;
        Some(Cursor {
            start_lt: lt.parse().ok()?,
            offset: offset.parse().ok()?,
        })
    }
    /// The stored cursor of an endpoint (the start when none).
    pub fn load(store: &TransferStore, kind: PageKind) -> Cursor {
        store
            .cursor(Cursor::name(kind))
            .and_then(|t| Cursor::parse(&t))
            .unwrap_or_default()
    }
    /// The cursor after a page whose records have these logical times (in order).
    pub fn after(self, lts: &[u64]) -> Cursor {
        let Some(&max) = lts.iter().max() else {
            return self;
        };
        let at_max = lts.iter().filter(|&&lt| lt == max).count();
        if max == self.start_lt {
            Cursor {
                start_lt: max,
                offset: self.offset + at_max,
            }
        } else {
            Cursor {
                start_lt: max,
                offset: at_max,
            }
        }
    }
}

/// One request's outcome.
#[derive(Debug)]
pub struct Step {
    /// Which endpoint.
    pub kind: PageKind,
    /// What was ingested.
    pub summary: Summary,
    /// The page was empty: the follower is caught up with the source.
    pub caught_up: bool,
}

/// Follows a source into a transfer store.
pub struct Follower {
    client: reqwest::Client,
    store: Arc<TransferStore>,
    options: Options,
}

impl Follower {
    /// A follower of `options.source` into `store`.
    pub fn new(store: Arc<TransferStore>, options: Options) -> Result<Follower> {
        if !(options.source.starts_with("http://") || options.source.starts_with("https://")) {
            return Err(Error::Config(format!(
                "follow source must be an http(s) URL, not `{}`",
                options.source
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .user_agent(concat!("tollgate-oracle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| Error::Source(err.to_string()))?;
        Ok(Follower {
            client,
            store,
            options,
        })
    }

    fn url(&self, kind: PageKind, cursor: Cursor) -> String {
        let path = match kind {
            PageKind::Transactions => "transactions",
            PageKind::JettonTransfers => "jetton/transfers",
        };
        format!(
            "{}/api/v3/{path}?start_lt={}&sort=asc&limit={}&offset={}",
            self.options.source, cursor.start_lt, self.options.page_limit, cursor.offset
        )
    }

    /// Fetches and ingests one page of `kind` after the stored cursor. A failed request is an
    /// error ([`Error::Source`], or [`Error::Page`] for a malformed page); nothing is stored
    /// then and the cursor stays.
    pub async fn step(&self, kind: PageKind) -> Result<Step> {
        // Replicas sharing the transfer log: one follows at a time (the lease), from the
        // newest cursor any of them stored.
        let store = self.store.clone();
        let leader = tokio::task::spawn_blocking(move || {
            let leader = store.hold_lease(FOLLOWER_LEASE, LEASE_TTL)?;
            if leader {
                store.refresh()?;
            }
            Ok::<_, Error>(leader)
        })
        .await
        .map_err(|err| Error::Store(format!("lease task failed: {err}")))??;
        if !leader {
            return Ok(Step {
                kind,
                summary: Summary::default(),
                caught_up: true,
            });
        }
        let cursor = Cursor::load(&self.store, kind);
        let mut request = self.client.get(self.url(kind, cursor));
        if let Some(key) = &self.options.api_key {
            request = request.header("X-API-Key", key);
        }
        let response = request
            .send()
            .await
            .map_err(|err| Error::Source(format!("request failed: {err}")))?;
        let status = response.status();
        if !status.is_success() {
            let retry = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            return Err(Error::Source(match retry {
                Some(secs) => format!("HTTP {status}; retry after {secs} s"),
                None => format!("HTTP {status}"),
            }));
        }
        let text = response
            .text()
            .await
            .map_err(|err| Error::Source(format!("reading the page: {err}")))?;
        let lts = record_lts(&text, kind)?;
        let next = cursor.after(&lts);
        let value = format!("{}:{}", next.start_lt, next.offset);
        let summary = if lts.is_empty() {
            ingest::Summary::default()
        } else {
            ingest::ingest_text(&self.store, &text, kind, &[(Cursor::name(kind), &value)])?
        };
        Ok(Step {
            kind,
            summary,
            caught_up: lts.is_empty(),
        })
    }

    /// Follows until `stop` resolves: every endpoint in turn, spaced by the rate limit, backing
    /// off on failures; `on_step` sees every ingested page (to rescreen what it affected).
    pub async fn run(
        &self,
        mut on_step: impl FnMut(&Step),
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let mut failures: u32 = 0;
        loop {
            let mut all_caught_up = true;
            for &kind in &self.options.kinds {
                let started = tokio::time::Instant::now();
                let wait = match self.step(kind).await {
                    Ok(step) => {
                        failures = 0;
                        all_caught_up &= step.caught_up;
                        if step.summary.added > 0 {
                            ::metrics::counter!("tollgate_transfers_ingested_total")
                                .increment(step.summary.added as u64);
                        }
                        on_step(&step);
                        self.options.min_interval.saturating_sub(started.elapsed())
                    }
                    Err(err) => {
                        failures = failures.saturating_add(1);
                        let wait = backoff(&self.options, failures, &err);
                        tracing::warn!(error = %err, failures, wait_ms = wait.as_millis() as u64, "follower: request failed; backing off");
                        wait
                    }
                };
                tokio::select! {
                    _ = &mut stop => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            if all_caught_up {
                tokio::select! {
                    _ = &mut stop => return,
                    _ = tokio::time::sleep(self.options.poll_interval) => {}
                }
            }
        }
    }
}

/// The wait after `failures` consecutive failures: doubling from `backoff_start`, at most
/// `backoff_max`, at least what the server's `Retry-After` asked.
pub fn backoff(options: &Options, failures: u32, err: &Error) -> Duration {
    let doubling = options
        .backoff_start
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let asked = match err {
        Error::Source(text) => text
            .split("retry after ")
            .nth(1)
            .and_then(|t| t.trim_end_matches(" s").parse::<u64>().ok())
            .map(Duration::from_secs),
        _ => None,
    };
    doubling
        .max(asked.unwrap_or_default())
        .min(options.backoff_max)
}

/// Logical times of a page's records, in order.
fn record_lts(text: &str, kind: PageKind) -> Result<Vec<u64>> {
    let to64 = |lt: u128| u64::try_from(lt).unwrap_or(u64::MAX);
    Ok(match kind {
        PageKind::Transactions => toncenter::records::<Transaction>(text)?
            .iter()
            .map(|t| to64(t.lt))
            .collect(),
        PageKind::JettonTransfers => toncenter::records::<JettonTransfer>(text)?
            .iter()
            .map(|t| to64(t.transaction_lt))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_moves_past_every_record_seen_including_ties() {
        let start = Cursor::default();
        let c = start.after(&[5, 6, 7, 7]);
        assert_eq!(
            c,
            Cursor {
                start_lt: 7,
                offset: 2
            }
        );
        let c = c.after(&[7, 7, 7]);
        assert_eq!(
            c,
            Cursor {
                start_lt: 7,
                offset: 5
            },
            "a page all at one lt"
        );
        assert_eq!(c.after(&[]), c, "an empty page keeps the cursor");
        assert_eq!(Cursor::parse("7:5"), Some(c));
        assert_eq!(Cursor::parse("x"), None);
    }

    #[test]
    fn backoff_doubles_to_its_ceiling_and_honours_retry_after() {
        let mut o = Options::new("http://127.0.0.1:1/api/v3/");
        assert_eq!(o.source, "http://127.0.0.1:1");
        o.backoff_start = Duration::from_millis(100);
        o.backoff_max = Duration::from_secs(5);
        let e = Error::Source("HTTP 500".into());
        assert_eq!(backoff(&o, 1, &e), Duration::from_millis(100));
        assert_eq!(backoff(&o, 3, &e), Duration::from_millis(400));
        assert_eq!(backoff(&o, 30, &e), Duration::from_secs(5));
        let e = Error::Source("HTTP 429 Too Many Requests; retry after 2 s".into());
        assert_eq!(backoff(&o, 1, &e), Duration::from_secs(2));
    }
}
