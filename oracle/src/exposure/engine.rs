//! The exposure engine: haircut tracing of source and destination of funds over the transfer
//! graph (policy `exposure-v2`, SPEC.md §15).
//!
//! For a judged address A, direction *incoming* and one asset: each transfer into A carries the
//! share `amount / (A's incoming total)` of A's funds. A sender that is labelled with a risk
//! category is reached: its share counts, at full weight when direct (hop 1) and multiplied by
//! `decay` for every further hop. An unlabelled sender is traced through: its own earlier
//! incoming transfers (logical time before the transfer it made) split the share in proportion
//! to their amounts (haircut), up to `max_hops`. Services (exchanges, bridges, DeFi pools) stop
//! the trace: they mix many customers' funds, so what they forward says nothing of one
//! customer. *Outgoing* is the mirror image (later outgoing transfers of each receiver).
//!
//! Partial traces are expanded strongest first (by the most their onward transfers could
//! still attribute), under a per-query budget of index reads ([`Policy::max_work`]): a count,
//! so every node with the same data cuts at the same place, and best-first, so a cut drops the
//! weakest traces. It also bounds one window's scan (a hub's window can hold millions of
//! transfers that pass the pruning): the scan stops where the budget ends. Whatever is not
//! followed — pruned pieces and what the budget cut — is added up per direction and asset as
//! the *untraced* share ([`Untraced`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use tollgate_sdk::exposure::{Direction, ExposureFinding, ExposurePath, Hop, Untraced};
use tollgate_sdk::{Address, Categories};

use super::adjacency::{Flow, ScanWork};
use super::transfers::{Graph, NodeId, TransferStore};
use super::{Policy, POLICY_VERSION};
use crate::error::Result;
use crate::ingest::ton_labels;
use crate::risk::{max_severity, ExposureSource};
use crate::store::{LabelsVersion, Store};

/// Categories that say what an address *is* rather than a risk it carries: a finding never
/// reports them. (Where a trace *stops* is a different question, answered by the label
/// importer's one notion of a service, [`ton_labels::is_service`].)
pub const ENTITY_TYPES: Categories = Categories(
    Categories::EXCHANGE.0
        | Categories::BRIDGE.0
        | Categories::DEFI.0
        | Categories::INFRASTRUCTURE.0,
);

/// Categories an exposure finding reports (every category that is not an entity type).
pub fn risk_part(categories: Categories) -> Categories {
    Categories(categories.0 & !ENTITY_TYPES.0)
}

/// What the engine needs to know of an address's labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelInfo {
    /// The union of the address's labels' categories (empty without labels).
    pub categories: Categories,
    /// Whether a label marks it a service, where traces stop ([`ton_labels::is_service`]).
    pub service: bool,
}

impl LabelInfo {
    /// The info of an address whose labels carry `categories` and no source-specific
    /// service mark.
    pub fn of_categories(categories: Categories) -> LabelInfo {
        LabelInfo {
            categories,
            service: categories.intersects(ton_labels::SERVICE_CATEGORIES),
        }
    }
}

/// The labels of addresses, as the engine sees them.
pub trait LabelLookup: Send + Sync + 'static {
    /// Called once at the start of every query; a cache checks here whether the label set
    /// changed (once, not once per address looked up).
    fn refresh(&self) -> Result<()> {
        Ok(())
    }
    /// A number that changes whenever [`LabelLookup::refresh`] finds the label set changed
    /// (the engine keeps what it looked up per interned address until it does). A label set
    /// that never changes keeps the default.
    fn generation(&self) -> u64 {
        0
    }
    /// The address's categories and whether it is a service.
    fn lookup(&self, address: &Address) -> Result<LabelInfo>;
}

/// Labels read from the node's store, cached per address until the label set changes.
pub struct StoreLabels {
    store: Arc<dyn Store>,
    cache: RwLock<(Option<LabelsVersion>, HashMap<Address, LabelInfo>)>,
    /// Bumped each time the label set is found changed.
    generation: AtomicU64,
}

impl StoreLabels {
    /// Labels of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreLabels {
            store,
            cache: RwLock::new((None, HashMap::new())),
            generation: AtomicU64::new(0),
        }
    }
}

/// Cached addresses before the cache starts over (bounds its memory).
const LABEL_CACHE_MAX: usize = 1 << 20;

impl LabelLookup for StoreLabels {
    fn refresh(&self) -> Result<()> {
        let version = self.store.labels_version()?;
        let stale = {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            cache.0.as_ref() != Some(&version)
        };
        if stale {
            let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
            if cache.0.as_ref() != Some(&version) {
                *cache = (Some(version), HashMap::new());
                self.generation.fetch_add(1, Ordering::AcqRel);
            }
        }
        Ok(())
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn lookup(&self, address: &Address) -> Result<LabelInfo> {
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if cache.0.is_some() {
                if let Some(c) = cache.1.get(address) {
                    return Ok(*c);
                }
            }
        }
        let labels = self.store.labels_for(address)?;
        let info = LabelInfo {
            categories: labels
                .iter()
                .fold(Categories::NONE, |acc, l| acc | l.categories),
            service: ton_labels::address_is_service(&labels),
        };
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.1.len() >= LABEL_CACHE_MAX {
            cache.1.clear();
        }
        cache.1.insert(*address, info);
        Ok(info)
    }
}

impl LabelLookup for HashMap<Address, Categories> {
    fn lookup(&self, address: &Address) -> Result<LabelInfo> {
        Ok(LabelInfo::of_categories(
            self.get(address).copied().unwrap_or(Categories::NONE),
        ))
    }
}

/// Exposure of addresses over a transfer store, with labels from a [`LabelLookup`].
pub struct ExposureEngine {
    transfers: Arc<TransferStore>,
    labels: Arc<dyn LabelLookup>,
    node_labels: NodeLabels,
    policy: Policy,
}

/// Bit of a [`NodeLabels`] entry: the entry holds the address's labels.
const KNOWN: u64 = 1 << 63;
/// Bit of a [`NodeLabels`] entry: the address is a service.
const SERVICE: u64 = 1 << 32;

/// The labels of interned addresses, one word per address id, for one label generation: a
/// trace reaches thousands of addresses, and an array read is what keeps that cheap (a
/// lookup by address hashes 33 bytes, and the store behind it takes a lock). Emptied when
/// the label set changes; grown with the graph.
#[derive(Default)]
struct NodeLabels {
    /// (generation, entries): 0 = not looked up yet, else `KNOWN | SERVICE? | categories`.
    cache: RwLock<(u64, Vec<AtomicU64>)>,
}

impl NodeLabels {
    /// The entries for a query of label generation `generation` over `nodes` addresses.
    fn for_query(
        &self,
        generation: u64,
        nodes: usize,
    ) -> RwLockReadGuard<'_, (u64, Vec<AtomicU64>)> {
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if cache.0 == generation && cache.1.len() >= nodes {
                return cache;
            }
        }
        {
            let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
            if cache.0 != generation {
                *cache = (generation, Vec::new());
            }
            if cache.1.len() < nodes {
                // Room for growth, so a graph that grows does not take the write lock on
                // every batch.
                let len = nodes + nodes / 8;
                cache.1.resize_with(len, || AtomicU64::new(0));
            }
        }
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }
}

fn pack(info: LabelInfo) -> u64 {
    KNOWN | if info.service { SERVICE } else { 0 } | u64::from(info.categories.0)
}

fn unpack(entry: u64) -> LabelInfo {
    LabelInfo {
        categories: Categories(entry as u32),
        service: entry & SERVICE != 0,
    }
}

/// One step of a trace, in an arena shared by the query: the edge taken, the node it reached
/// and the step before it. Paths are chains of steps, so extending a trace copies nothing.
#[derive(Clone, Copy)]
struct Step {
    /// Index of the previous step (`NO_STEP` for the judged address itself).
    parent: u32,
    edge: u32,
    node: NodeId,
}

const NO_STEP: u32 = u32::MAX;

/// One partial trace: a node reached with a share of the judged address's value, waiting to
/// have its own transfers read at hop `hop`.
struct Trail {
    /// Its last step in the arena.
    step: u32,
    node: NodeId,
    /// Undecayed share of the judged address's value (in this direction and asset).
    share: f64,
    /// Only transfers strictly before (incoming) or after (outgoing) this logical time count.
    bound: u64,
    /// The hop its transfers are at (1 for the judged address's own).
    hop: u8,
    /// `decay^(hop-1)`: the weight of a counterparty reached at that hop.
    weight: f64,
}

impl Trail {
    /// The most its onward transfers could attribute: its share at its hop's weight.
    fn reach(&self) -> f64 {
        self.share * self.weight
    }
}

/// Order of the waiting traces: strongest [`Trail::reach`] last (popped first); between equal
/// ones the earlier step (`!step` sorts it last). The reach is positive and finite, so its
/// bits order as the numbers do.
type QueueKey = (u64, u32);

fn queue_key(trail: &Trail) -> QueueKey {
    (trail.reach().to_bits(), !trail.step)
}

/// The findings and the untraced shares of one query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Traced {
    /// Findings, highest severity first.
    pub findings: Vec<ExposureFinding>,
    /// One entry per direction and asset traced, in that order (incoming first).
    pub untraced: Vec<Untraced>,
}

/// Findings being assembled for one (direction, asset, categories).
struct Group {
    share: f64,
    min_hops: u8,
    counterparties: Vec<Address>,
    /// (decayed share, last step) of the strongest paths.
    paths: Vec<(f64, u32)>,
}

/// Most counterparties listed in one finding.
const MAX_COUNTERPARTIES: usize = 16;

/// What one query did, counted as it runs (for the benchmark's account of where the time of
/// slow queries goes, and for tests that bound the work).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Partial traces whose window of transfers was opened.
    pub trails: u64,
    /// Block maxima read to skip or enter blocks of transfers.
    pub blocks_checked: u64,
    /// Transfers read one by one (inside entered blocks and unsummarised parts).
    pub flows_read: u64,
    /// Transfers that passed the pruning threshold.
    pub candidates: u64,
    /// Label lookups that went to the [`LabelLookup`] (the first per address and label
    /// generation; later ones read the engine's per-address array).
    pub label_lookups: u64,
    /// Work counted against [`Policy::max_work`]: trails + blocks checked + flows read.
    pub work: u64,
    /// Traces (direction, asset) the budget or the frontier bound cut.
    pub cut: u64,
}

impl std::ops::AddAssign for QueryStats {
    fn add_assign(&mut self, o: QueryStats) {
        self.trails += o.trails;
        self.blocks_checked += o.blocks_checked;
        self.flows_read += o.flows_read;
        self.candidates += o.candidates;
        self.label_lookups += o.label_lookups;
        self.work += o.work;
        self.cut += o.cut;
    }
}

/// State of one query: the step arena and the labels looked up so far.
struct Query<'a> {
    graph: &'a Graph,
    labels: &'a dyn LabelLookup,
    steps: Vec<Step>,
    /// The engine's [`NodeLabels`] entries (a newer generation may still be coming: an entry
    /// written here is at worst discarded with this generation).
    node_labels: &'a [AtomicU64],
    stats: QueryStats,
}

impl Query<'_> {
    fn labels(&mut self, node: NodeId) -> Result<LabelInfo> {
        let entry = &self.node_labels[node as usize];
        let known = entry.load(Ordering::Relaxed);
        if known & KNOWN != 0 {
            return Ok(unpack(known));
        }
        self.stats.label_lookups += 1;
        let info = self.labels.lookup(&self.graph.address(node))?;
        entry.store(pack(info), Ordering::Relaxed);
        Ok(info)
    }

    /// Whether `node` is already on the path ending at `step` (a cycle adds no new source of
    /// funds).
    fn on_path(&self, mut step: u32, node: NodeId) -> bool {
        while step != NO_STEP {
            let s = self.steps[step as usize];
            if s.node == node {
                return true;
            }
            step = s.parent;
        }
        false
    }

    /// The edges of the path ending at `step`, from the judged address outward.
    fn path(&self, mut step: u32) -> Vec<u32> {
        let mut edges = Vec::new();
        while step != NO_STEP {
            let s = self.steps[step as usize];
            if s.parent != NO_STEP {
                edges.push(s.edge);
            }
            step = s.parent;
        }
        edges.reverse();
        edges
    }
}

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
            node_labels: NodeLabels::default(),
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
        Ok(self.traced_counted(address)?.0.findings)
    }

    /// [`ExposureEngine::findings`] with an account of the work the query did.
    pub fn findings_counted(
        &self,
        address: &Address,
    ) -> Result<(Vec<ExposureFinding>, QueryStats)> {
        let (traced, stats) = self.traced_counted(address)?;
        Ok((traced.findings, stats))
    }

    /// Findings and untraced shares for an address, with an account of the work.
    pub fn traced_counted(&self, address: &Address) -> Result<(Traced, QueryStats)> {
        let graph = self.transfers.graph();
        let Some(target) = graph.id(address) else {
            return Ok((Traced::default(), QueryStats::default()));
        };
        self.labels.refresh()?;
        let node_labels = self
            .node_labels
            .for_query(self.labels.generation(), graph.address_count());
        let mut query = Query {
            graph: &graph,
            labels: self.labels.as_ref(),
            steps: Vec::new(),
            node_labels: &node_labels.1,
            stats: QueryStats::default(),
        };
        let mut traces = Vec::new();
        for direction in [Direction::Incoming, Direction::Outgoing] {
            let adjacency = match direction {
                Direction::Incoming => graph.incoming(),
                Direction::Outgoing => graph.outgoing(),
            };
            for (asset, total) in adjacency.totals(target) {
                traces.push((direction, asset, total));
            }
        }
        let mut traced = Traced::default();
        for (i, &(direction, asset, total)) in traces.iter().enumerate() {
            // Each trace may use an equal part of what the earlier ones left of the budget.
            let left = self.policy.max_work.saturating_sub(query.stats.work);
            let allowance = left / (traces.len() - i) as u64;
            let untraced = self.trace(
                &mut query,
                target,
                direction,
                asset,
                total,
                allowance,
                &mut traced.findings,
            )?;
            traced.untraced.push(untraced);
        }
        traced.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.share_ppm.cmp(&a.share_ppm))
        });
        Ok((traced, query.stats))
    }

    /// Traces one direction and asset, best-first, within `allowance` work; appends its
    /// findings and returns what it could not follow.
    #[allow(clippy::too_many_arguments)]
    fn trace(
        &self,
        query: &mut Query<'_>,
        target: NodeId,
        direction: Direction,
        asset: u16,
        total: f64,
        allowance: u64,
        findings: &mut Vec<ExposureFinding>,
    ) -> Result<Untraced> {
        let p = &self.policy;
        let graph = query.graph;
        let (adjacency, before) = match direction {
            Direction::Incoming => (graph.incoming(), true),
            Direction::Outgoing => (graph.outgoing(), false),
        };
        // Below this decayed share a branch cannot matter to any reported finding.
        let prune = p.min_share / 16.0;
        let mut groups: BTreeMap<u32, Group> = BTreeMap::new();
        query.steps.clear();
        query.steps.push(Step {
            parent: NO_STEP,
            edge: 0,
            node: target,
        });
        let start = Trail {
            step: 0,
            node: target,
            share: 1.0,
            bound: if before { u64::MAX } else { 0 },
            hop: 1,
            weight: 1.0,
        };
        let mut queue: BTreeMap<QueueKey, Trail> = BTreeMap::new();
        queue.insert(queue_key(&start), start);
        // Decayed share not followed (pruned, or cut by the budget or the frontier bound).
        let mut untraced = 0.0;
        let mut cut = false;
        let work_at_start = query.stats.work;
        let mut candidates: Vec<Flow> = Vec::new();
        while let Some((_, trail)) = queue.pop_last() {
            if query.stats.work - work_at_start >= allowance {
                // Out of budget: this trail and every weaker one stay unread.
                untraced += trail.reach() + queue.values().map(Trail::reach).sum::<f64>();
                cut = true;
                break;
            }
            let (hop, decay) = (trail.hop, trail.weight);
            // The transfers this trail may follow: same asset, earlier (later), contiguous.
            let window = adjacency.window(trail.node, asset, trail.bound, before);
            query.stats.trails += 1;
            query.stats.work += 1;
            let sum = window.sum();
            if sum <= 0.0 {
                continue;
            }
            let scale = trail.share / sum;
            // A transfer passes the pruning below only if its amount reaches this; blocks of
            // transfers below it are skipped unread (a margin keeps the skip strictly on the
            // safe side of rounding).
            let cutoff = prune / (scale * decay) * (1.0 - 1e-9);
            candidates.clear();
            // One window may hold more transfers above the cutoff than the whole allowance
            // (a hub): its scan stops at what the allowance leaves, and what it did not read
            // is counted untraced below like what the pruning skipped.
            let spent = query.stats.work - work_at_start;
            let mut work = ScanWork::within(allowance.saturating_sub(spent));
            window.built.at_least(cutoff, &mut candidates, &mut work);
            window.tail.at_least(cutoff, &mut candidates, &mut work);
            cut |= work.cut;
            query.stats.blocks_checked += work.blocks_checked;
            query.stats.flows_read += work.flows_read;
            query.stats.work += work.total();
            query.stats.candidates += candidates.len() as u64;
            // What the skipped transfers carried is pruned, not lost.
            let read: f64 = candidates.iter().map(|f| f.amount).sum();
            untraced += (sum - read).max(0.0) * scale * decay;
            for &Flow {
                lt,
                amount,
                other,
                edge,
                ..
            } in candidates.iter()
            {
                let share = scale * amount;
                if share * decay < prune {
                    untraced += share * decay;
                    continue;
                }
                if query.on_path(trail.step, other) {
                    continue;
                }
                let info = query.labels(other)?;
                let risk = risk_part(info.categories);
                query.steps.push(Step {
                    parent: trail.step,
                    edge,
                    node: other,
                });
                let step = (query.steps.len() - 1) as u32;
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
                    group.paths.push((share * decay, step));
                    // Keep the strongest paths only, so memory stays bounded.
                    if group.paths.len() > 4 * p.max_paths.max(1) {
                        group.paths.sort_by(|a, b| b.0.total_cmp(&a.0));
                        group.paths.truncate(p.max_paths);
                    }
                    continue;
                }
                // Services stop the trace and the last hop is the policy's horizon: neither
                // is untraced value.
                if info.service || hop == p.max_hops {
                    continue;
                }
                let next = Trail {
                    step,
                    node: other,
                    share,
                    bound: lt,
                    hop: hop + 1,
                    weight: decay * p.decay,
                };
                // A trail is followed only if a transfer of its could still pass the pruning
                // at the next hop: what it passes on is at most its own share, decayed once
                // more (the margin keeps the skip on the safe side of rounding).
                if next.reach() < prune * (1.0 - 1e-9) {
                    untraced += next.reach();
                    continue;
                }
                queue.insert(queue_key(&next), next);
                if queue.len() > p.max_frontier {
                    if let Some((_, weakest)) = queue.pop_first() {
                        untraced += weakest.reach();
                        cut = true;
                    }
                }
            }
        }
        query.stats.cut += u64::from(cut);
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
                value: (total * share).round().to_string(),
                severity: (max_severity(categories) as f64 * scale).round() as u8,
                policy: POLICY_VERSION.to_string(),
                paths: group
                    .paths
                    .into_iter()
                    .map(|(share, step)| ExposurePath {
                        hops: query.path(step).iter().map(|&e| hop_of(graph, e)).collect(),
                        share_ppm: ppm(share),
                    })
                    .collect(),
            });
        }
        Ok(Untraced {
            direction,
            asset: graph.asset(asset),
            share_ppm: ppm(untraced),
            budget_cut: cut,
        })
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
        self.labels.refresh()?;
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
            let adjacency = if forward {
                graph.outgoing()
            } else {
                graph.incoming()
            };
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
                    if level == depth
                        || self.labels.lookup(&graph.address(node))? != LabelInfo::default()
                    {
                        continue;
                    }
                    next.extend(adjacency.flows(node).map(|f| f.other));
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
        amount: { edge.amount }.to_string(),
    }
}

impl ExposureSource for ExposureEngine {
    fn exposure(&self, address: &Address) -> Result<Vec<ExposureFinding>> {
        self.findings(address)
    }

    fn exposure_with_untraced(
        &self,
        address: &Address,
    ) -> Result<(Vec<ExposureFinding>, Vec<Untraced>)> {
        let traced = self.traced_counted(address)?.0;
        Ok((traced.findings, traced.untraced))
    }

    fn version(&self) -> Option<String> {
        Some(format!(
            "{POLICY_VERSION}@{}",
            self.transfers.graph().edge_count()
        ))
    }
}
