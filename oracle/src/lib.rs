#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! - [`config`]: settings from defaults, a TOML file, `TOLLGATE_*` variables and flags.
//! - [`error`]: the one error type and its HTTP responses.
//! - [`store`]: durable state behind the [`store::Store`] trait; sled implementation with a
//!   checksum on every record, the label set's digest and a guard file; the PostgreSQL
//!   implementation shared by replicas ([`store::postgres`]) and `migrate` into it.
//! - [`nonce`]: time-prefixed nonces that never repeat, with a durable mark.
//! - [`risk`]: scoring — severities, levels, overrides, evidence; the exposure seam.
//! - [`exposure`]: KYT — toncenter v3 transfer ingest (files and a live follower), the
//!   compact transfer store, haircut exposure with paths, a generated graph with ground truth.
//! - [`ingest`]: label lists in their published formats (ton-assets, ton-labels, OFAC, CSV) and the bundled set.
//! - [`signer`]: the ed25519 key (key file 0600, environment, development key).
//! - [`audit`]: the hash-chained audit log in its own files: group commit with fdatasync, the
//!   signed anchor, recovery, verification, migration from sled; or in PostgreSQL, one chain
//!   for every replica ([`audit::postgres`]).
//! - [`evidence`]: signed evidence case files of an address (labels, exposure, audit history).
//! - [`changes`]: re-judging addresses and the durable change feed of their levels.
//! - [`webhooks`]: HMAC-signed delivery of the change feed to configured subscribers.
//! - [`api`]: the HTTP API, one file per endpoint, and its hardening layers.
//! - [`node`]: a node assembled from its configuration.
//! - [`server`]: HTTP serving with a header-read timeout and graceful shutdown.

pub mod api;
pub mod audit;
pub mod changes;
pub mod config;
pub mod error;
pub mod evidence;
pub mod exposure;
pub mod ingest;
pub mod node;
pub mod nonce;
pub mod risk;
pub mod server;
pub mod signer;
pub mod store;
pub mod webhooks;

pub use error::{Error, Result};

/// Unix time in seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
