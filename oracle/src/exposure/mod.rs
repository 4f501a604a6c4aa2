//! KYT: exposure of an address through TON and jetton transfers.
//!
//! # Layout
//!
//! - [`toncenter`]: toncenter API v3 pages (`/api/v3/transactions`, `/api/v3/jetton/transfers`).
//! - [`moves`]: which records move value, from whom to whom (TON's rules; jettons between owners).
//! - [`transfers`]: the compact transfer store — interned addresses, 70-byte records in a
//!   CRC-checked append-only log, the in-memory graph.
//! - [`adjacency`]: per-address runs of transfers sorted by asset and time (CSR), both
//!   directions, which the engine scans.
//! - [`engine`]: haircut tracing (`exposure-v2`: best-first under a deterministic work
//!   budget, with the untraced share reported), findings with their paths, and the set of
//!   addresses a new batch may affect.
//! - [`ingest`]: recorded pages (files, JSON lines) into the store.
//! - [`issuer_locks`]: owners whose USDT wallet the issuer locked, as a label source.
//! - [`follower`]: a follower of a live toncenter-v3-compatible endpoint.
//! - [`generate`]: a TON-shaped synthetic graph with planted ground truth, for tests and
//!   benchmarks.

pub mod adjacency;
pub mod engine;
pub mod follower;
pub mod generate;
pub mod ingest;
pub mod issuer_locks;
pub mod moves;
pub mod toncenter;
pub mod transfers;
pub mod transfers_pg;

use serde::Deserialize;

use crate::error::{Error, Result};

pub use engine::{ExposureEngine, LabelLookup, StoreLabels, Traced};
pub use moves::Transfer;
pub use transfers::TransferStore;

/// The exposure policy version recorded with every judgement (with the number of transfers it
/// read: `exposure-v2@N`). v2 (SPEC.md §15.2): traces expand strongest first under a per-query
/// work budget, and each direction and asset traced reports the share it could not follow.
pub const POLICY_VERSION: &str = "exposure-v2";

/// Most addresses reported as affected by one batch (a rescreen beyond is a full rescan).
pub const AFFECTED_LIMIT: usize = 100_000;

/// Directory of the transfer store inside the node's data directory.
pub const DIR: &str = "transfers";

/// The exposure policy's parameters (configurable per node; SPEC.md §"Exposure").
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Most hops traced from the judged address (1 = direct exposure only).
    pub max_hops: u8,
    /// Weight of each hop beyond the first (0 < decay ≤ 1).
    pub decay: f64,
    /// Smallest decayed share reported as a finding.
    pub min_share: f64,
    /// Decayed share at which a finding carries its category's full severity; below it the
    /// severity scales down in proportion.
    pub full_severity_share: f64,
    /// Most paths kept per finding, strongest first.
    pub max_paths: usize,
    /// Most partial traces waiting to be expanded at once; beyond, the weakest is dropped (and
    /// counted untraced). Bounds the memory of one query.
    pub max_frontier: usize,
    /// Work budget of one query: reads of the transfer index (partial traces opened, block
    /// maxima checked, transfers read), shared by the query's directions and assets. A count,
    /// not a time, so every node with the same data reaches the same judgement; what it cuts
    /// is reported as untraced (SPEC.md §15.2).
    pub max_work: u64,
}

/// Default [`Policy::max_work`], chosen from `oracle/benches/exposure.rs` at full size
/// (oracle README §"Exposure query"): it keeps p99 over HTTP within 10 ms.
pub const DEFAULT_MAX_WORK: u64 = 10_000;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_hops: 5,
            decay: 0.5,
            min_share: 0.001,
            full_severity_share: 0.1,
            max_paths: 5,
            max_frontier: 20_000,
            max_work: DEFAULT_MAX_WORK,
        }
    }
}

impl Policy {
    /// Refuses values that would make the engine meaningless.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(format!("exposure policy: {what}")));
        if !(1..=8).contains(&self.max_hops) {
            return bad("max_hops must be in 1..=8");
        }
        if !(self.decay > 0.0 && self.decay <= 1.0) {
            return bad("decay must be in (0, 1]");
        }
        if !(self.min_share > 0.0 && self.min_share < 1.0) {
            return bad("min_share must be in (0, 1)");
        }
        if !(self.full_severity_share > 0.0 && self.full_severity_share <= 1.0) {
            return bad("full_severity_share must be in (0, 1]");
        }
        if self.max_paths == 0 || self.max_frontier == 0 || self.max_work == 0 {
            return bad("max_paths, max_frontier and max_work must be positive");
        }
        Ok(())
    }
}
