//! The exposure engine: haircut tracing of source and destination of funds over the transfer
//! graph (policy `exposure-v1`, SPEC.md §"Exposure").
//!
//! For a judged address A, direction *incoming* and one asset: each transfer into A carries the
//! share `amount / (A's incoming total)` of A's funds. A sender that is labelled with a risk
//! category is reached: its share counts, at full weight when direct (hop 1) and multiplied by
//! `decay` for every further hop. An unlabelled sender is traced through: its own earlier
//! incoming transfers (logical time before the transfer it made) split the share in proportion
//! to their amounts (haircut), up to `max_hops`. Services (exchanges, bridges, DeFi pools) stop
//! the trace: they mix many customers' funds, so what they forward says nothing of one
//! customer. *Outgoing* is the mirror image (later outgoing transfers of each receiver).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use tollgate_sdk::exposure::{Direction, ExposureFinding, ExposurePath, Hop};
use tollgate_sdk::{Address, Categories};

use super::transfers::{Graph, NodeId, TransferStore};
use super::{Policy, POLICY_VERSION};
use crate::error::Result;
use crate::risk::{max_severity, ExposureSource};
use crate::store::{LabelsVersion, Store};

/// Categories that stop a trace without being a risk: services that pool many owners' funds.
pub const SERVICES: Categories = Categories(
    Categories::EXCHANGE.0
        | Categories::BRIDGE.0
        | Categories::DEFI.0
        | Categories::INFRASTRUCTURE.0,
);

/// Categories an exposure finding reports (every category that is not an entity type).
pub fn risk_part(categories: Categories) -> Categories {
    Categories(categories.0 & !SERVICES.0)
}

/// The categories of an address's labels.
pub trait LabelLookup: Send + Sync + 'static {
    /// The union of the address's labels' categories (empty without labels).
    fn categories(&self, address: &Address) -> Result<Categories>;
}

/// Labels read from the node's store, cached per address until the label set changes.
pub struct StoreLabels {
    store: Arc<dyn Store>,
    cache: RwLock<(Option<LabelsVersion>, HashMap<Address, Categories>)>,
}

impl StoreLabels {
    /// Labels of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreLabels {
            store,
            cache: RwLock::new((None, HashMap::new())),
        }
    }
}

/// Cached addresses before the cache starts over (bounds its memory).
const LABEL_CACHE_MAX: usize = 1 << 20;

impl LabelLookup for StoreLabels {
    fn categories(&self, address: &Address) -> Result<Categories> {
        let version = self.store.labels_version()?;
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if cache.0.as_ref() == Some(&version) {
                if let Some(c) = cache.1.get(address) {
                    return Ok(*c);
                }
            }
        }
        let categories = self
            .store
            .labels_for(address)?
            .iter()
            .fold(Categories::NONE, |acc, l| acc | l.categories);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.0.as_ref() != Some(&version) || cache.1.len() >= LABEL_CACHE_MAX {
            *cache = (Some(version), HashMap::new());
        }
        cache.1.insert(*address, categories);
        Ok(categories)
    }
}

impl LabelLookup for HashMap<Address, Categories> {
    fn categories(&self, address: &Address) -> Result<Categories> {
        Ok(self.get(address).copied().unwrap_or(Categories::NONE))
    }
}

/// Exposure of addresses over a transfer store, with labels from a [`LabelLookup`].
pub struct ExposureEngine {
    transfers: Arc<TransferStore>,
    labels: Arc<dyn LabelLookup>,
    policy: Policy,
}

/// One partial trace: a node reached with a share of the judged address's value.
struct Trail {
    node: NodeId,
    /// Undecayed share of the judged address's value (in this direction and asset).
    share: f64,
    /// Only transfers strictly before (incoming) or after (outgoing) this logical time count.
    bound: u64,
    /// Edge ids from the judged address outward.
    edges: Vec<u32>,
}

/// Findings being assembled for one (direction, asset, categories).
struct Group {
    share: f64,
    min_hops: u8,
    counterparties: Vec<Address>,
    paths: Vec<(f64, Vec<u32>)>,
}

/// Most counterparties listed in one finding.
const MAX_COUNTERPARTIES: usize = 16;

impl ExposureEngine {
    /// An engine over `transfers` with labels from `labels`.
    pub fn new(
        transfers: Arc<TransferStore>,
        labels: Arc<dyn LabelLookup>,
        policy: Policy,
    ) -> Self {
        ExposureEngine {
            transfers,
            labels,
            policy,
        }
    }

    /// The transfer store.
    pub fn transfers(&self) -> &Arc<TransferStore> {
        &self.transfers
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Findings for an address: per direction, asset and risk categories reached.
    pub fn findings(&self, address: &Address) -> Result<Vec<ExposureFinding>> {
        let graph = self.transfers.graph();
        let Some(target) = graph.id(address) else {
            return Ok(Vec::new());
        };
        let mut findings = Vec::new();
        for direction in [Direction::Incoming, Direction::Outgoing] {
            let first = match direction {
                Direction::Incoming => graph.incoming(target),
                Direction::Outgoing => graph.outgoing(target),
            };
            let mut totals: BTreeMap<u16, u128> = BTreeMap::new();
            for &e in first {
                let edge = graph.edge(e);
                *totals.entry(edge.asset).or_default() += edge.amount;
            }
            for (&asset, &total) in &totals {
                self.trace(&graph, target, direction, asset, total, &mut findings)?;
            }
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.share_ppm.cmp(&a.share_ppm))
        });
        Ok(findings)
    }

    fn trace(
        &self,
        graph: &Graph,
        target: NodeId,
        direction: Direction,
        asset: u16,
        total: u128,
        findings: &mut Vec<ExposureFinding>,
    ) -> Result<()> {
        let p = &self.policy;
        // Below this decayed share a branch cannot matter to any reported finding.
        let prune = p.min_share / 16.0;
        let mut groups: BTreeMap<u32, Group> = BTreeMap::new();
        let mut frontier = vec![Trail {
            node: target,
            share: 1.0,
            bound: match direction {
                Direction::Incoming => u64::MAX,
                Direction::Outgoing => 0,
            },
            edges: Vec::new(),
        }];
        let mut decay = 1.0;
        for hop in 1..=p.max_hops {
            let mut next = Vec::new();
            for trail in &frontier {
                let ids = match direction {
                    Direction::Incoming => graph.incoming(trail.node),
                    Direction::Outgoing => graph.outgoing(trail.node),
                };
                let eligible = |e: &&u32| {
                    let edge = graph.edge(**e);
                    edge.asset == asset
                        && match direction {
                            Direction::Incoming => edge.lt < trail.bound,
                            Direction::Outgoing => edge.lt > trail.bound,
                        }
                };
                let sum: u128 = ids
                    .iter()
                    .filter(eligible)
                    .map(|&e| graph.edge(e).amount)
                    .sum();
                if sum == 0 {
                    continue;
                }
                for &e in ids.iter().filter(eligible) {
                    let edge = graph.edge(e);
                    let share = trail.share * (edge.amount as f64 / sum as f64);
                    if share * decay < prune {
                        continue;
                    }
                    let other = match direction {
                        Direction::Incoming => edge.from,
                        Direction::Outgoing => edge.to,
                    };
                    if other == target
                        || trail.edges.iter().any(|&x| {
                            let x = graph.edge(x);
                            x.from == other || x.to == other
                        })
                    {
                        continue; // a cycle adds no new source of funds
                    }
                    let categories = self.labels.categories(&graph.address(other))?;
                    let risk = risk_part(categories);
                    let mut edges = trail.edges.clone();
                    edges.push(e);
                    if !risk.is_empty() {
                        let group = groups.entry(risk.0).or_insert(Group {
                            share: 0.0,
                            min_hops: hop,
                            counterparties: Vec::new(),
                            paths: Vec::new(),
                        });
                        group.share += share * decay;
                        group.min_hops = group.min_hops.min(hop);
                        let cp = graph.address(other);
                        if group.counterparties.len() < MAX_COUNTERPARTIES
                            && !group.counterparties.contains(&cp)
                        {
                            group.counterparties.push(cp);
                        }
                        group.paths.push((share * decay, edges));
                        // Keep the strongest paths only, so memory stays bounded.
                        if group.paths.len() > 4 * p.max_paths.max(1) {
                            group.paths.sort_by(|a, b| b.0.total_cmp(&a.0));
                            group.paths.truncate(p.max_paths);
                        }
                        continue;
                    }
                    if categories.intersects(SERVICES) {
                        continue;
                    }
                    next.push(Trail {
                        node: other,
                        share,
                        bound: edge.lt,
                        edges,
                    });
                }
            }
            if next.len() > p.max_frontier {
                next.sort_by(|a, b| b.share.total_cmp(&a.share));
                next.truncate(p.max_frontier);
            }
            frontier = next;
            decay *= p.decay;
            if frontier.is_empty() {
                break;
            }
        }
        for (bits, mut group) in groups {
            if group.share < p.min_share {
                continue;
            }
            let categories = Categories(bits);
            group.paths.sort_by(|a, b| b.0.total_cmp(&a.0));
            group.paths.truncate(p.max_paths);
            let share = group.share.min(1.0);
            let scale = (share / p.full_severity_share).min(1.0);
            findings.push(ExposureFinding {
                direction,
                asset: graph.asset(asset),
                categories,
                counterparties: group.counterparties,
                min_hops: group.min_hops,
                share_ppm: ppm(share),
                value: ((total as f64) * share).round().to_string(),
                severity: (max_severity(categories) as f64 * scale).round() as u8,
                policy: POLICY_VERSION.to_string(),
                paths: group
                    .paths
                    .into_iter()
                    .map(|(share, edges)| ExposurePath {
                        hops: edges.iter().map(|&e| hop_of(graph, e)).collect(),
                        share_ppm: ppm(share),
                    })
                    .collect(),
            });
        }
        Ok(())
    }

    /// Addresses whose exposure the given new edges may change: receivers and everything they
    /// may have funded within `max_hops - 1` further hops (source of funds), senders and
    /// everything that may have funded them (destination of funds). Traces through the same
    /// addresses the engine traces through (not labelled, not services). At most `limit`
    /// addresses; the flag says whether the set was cut.
    pub fn affected(
        &self,
        edges: std::ops::Range<u32>,
        limit: usize,
    ) -> Result<(Vec<Address>, bool)> {
        let graph = self.transfers.graph();
        let mut out: Vec<NodeId> = Vec::new();
        let mut listed: HashSet<NodeId> = HashSet::new();
        let depth = self.policy.max_hops.saturating_sub(1);
        // Forward from the receivers (whom they funded), backward from the senders.
        for forward in [true, false] {
            let mut frontier: Vec<NodeId> = edges
                .clone()
                .map(|e| {
                    let edge = graph.edge(e);
                    if forward {
                        edge.to
                    } else {
                        edge.from
                    }
                })
                .collect();
            let mut visited: HashSet<NodeId> = HashSet::new();
            for level in 0..=depth {
                let mut next = Vec::new();
                for node in frontier {
                    if !visited.insert(node) {
                        continue;
                    }
                    if listed.insert(node) {
                        if out.len() >= limit {
                            return Ok((out.iter().map(|&n| graph.address(n)).collect(), true));
                        }
                        out.push(node);
                    }
                    // The engine's traces pass only through unlabelled addresses.
                    if level == depth || !self.labels.categories(&graph.address(node))?.is_empty() {
                        continue;
                    }
                    let ids = if forward {
                        graph.outgoing(node)
                    } else {
                        graph.incoming(node)
                    };
                    next.extend(ids.iter().map(|&x| {
                        let x = graph.edge(x);
                        if forward {
                            x.to
                        } else {
                            x.from
                        }
                    }));
                }
                frontier = next;
            }
        }
        Ok((out.iter().map(|&n| graph.address(n)).collect(), false))
    }
}

fn ppm(share: f64) -> u32 {
    (share.clamp(0.0, 1.0) * 1_000_000.0).round() as u32
}

fn hop_of(graph: &Graph, e: u32) -> Hop {
    let edge = graph.edge(e);
    Hop {
        from: graph.address(edge.from),
        to: graph.address(edge.to),
        tx_hash: hex::encode(edge.tx_hash),
        lt: edge.lt,
        utime: edge.utime as u64,
        asset: graph.asset(edge.asset),
        amount: edge.amount.to_string(),
    }
}

impl ExposureSource for ExposureEngine {
    fn exposure(&self, address: &Address) -> Result<Vec<ExposureFinding>> {
        self.findings(address)
    }

    fn version(&self) -> Option<String> {
        Some(format!(
            "{POLICY_VERSION}@{}",
            self.transfers.graph().edge_count()
        ))
    }
}
