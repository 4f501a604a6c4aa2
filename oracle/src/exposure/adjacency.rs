//! Compact adjacency of the transfer graph, one per direction: for every address its transfers
//! in one contiguous run sorted by (asset, logical time), so the engine finds the transfers a
//! trace may follow ("same asset, before this time") by binary search and reads them
//! sequentially, without touching the 72-byte edge records.
//!
//! Layout (compressed sparse row): `offsets[n]..offsets[n + 1]` is address `n`'s run in
//! `flows`. Transfers appended since the last build sit in a per-address, per-asset `tail`
//! (each run sorted by time); the index is rebuilt from the edges once the tail outgrows half
//! the built part, so appends cost amortised O(1) and the built part stays one allocation: no
//! per-edge heap allocation, 40 bytes per transfer and direction.
//!
//! Two summaries, kept over the built part and over every tail run longer than a block, let a
//! trace skip what cannot matter to it without changing what it finds: running sums of the
//! amounts give a window's total in O(1), and [`Maxima`] — the largest amount of every
//! [`BLOCK`] consecutive flows, of every `BLOCK` such blocks, and so on up to [`MAX_LEVELS`]
//! levels, each rounded up — let a trace whose share is small find the few transfers large
//! enough to pass its pruning threshold top-down. A hub with 100,000 deposits then costs a
//! trace a few dozen block checks plus `levels × BLOCK` per transfer it follows, not 100,000
//! reads nor 1,600 block checks; and that holds for transfers appended since the last build
//! as much as for the built part, so an ingest never leaves a hub unsummarised.

use rustc_hash::FxHashMap;

use super::transfers::{Edge, NodeId};

/// One transfer as seen from one end: the other end, when, how much and which edge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flow {
    /// Logical time of the transfer.
    pub lt: u64,
    /// Amount in the asset's smallest units, as a float: shares are ratios of amounts, and
    /// f64's 53-bit mantissa keeps them exact to 1e-16 of the total.
    pub amount: f64,
    /// The counterparty: the sender of an incoming transfer, the receiver of an outgoing one.
    pub other: NodeId,
    /// The edge id (for paths: hashes, times, exact amounts).
    pub edge: u32,
    /// 0 = TON, else the jetton master's index.
    pub asset: u16,
}

/// Which end of an edge a run belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Runs of transfers into each address (keyed by receiver).
    Incoming,
    /// Runs of transfers out of each address (keyed by sender).
    Outgoing,
}

impl Side {
    fn key_and_flow(self, id: u32, e: &Edge) -> (NodeId, Flow) {
        let (key, other) = match self {
            Side::Incoming => (e.to, e.from),
            Side::Outgoing => (e.from, e.to),
        };
        let (lt, amount, asset) = (e.lt, e.amount, e.asset);
        (
            key,
            Flow {
                lt,
                amount: amount as f64,
                other,
                edge: id,
                asset,
            },
        )
    }
}

fn order(f: &Flow) -> (u16, u64, u32) {
    (f.asset, f.lt, f.edge)
}

/// Smallest tail that triggers a rebuild (below it, rebuilding costs more than it saves).
const MIN_REBUILD: usize = 1 << 16;

/// Flows per block of the lowest [`Maxima`] level, and blocks per block of each level above.
pub const BLOCK: usize = 64;

/// Most levels of [`Maxima`] (64⁴ ≈ 16.8M flows per top block: enough for any run).
pub const MAX_LEVELS: usize = 4;

/// An upper bound of `m` as an `f32` (a block is skipped only if nothing in it can pass).
fn round_up(m: f64) -> f32 {
    let up = m as f32;
    if (up as f64) < m {
        up.next_up()
    } else {
        up
    }
}

fn max_of(flows: &[Flow]) -> f32 {
    round_up(flows.iter().map(|f| f.amount).fold(0.0, f64::max))
}

fn max_of_blocks(blocks: &[f32]) -> f32 {
    blocks.iter().copied().fold(0.0, f32::max)
}

/// Block maxima at several levels over one array of flows: `levels[k][j]` bounds from above
/// every amount in flows `j * BLOCK^(k+1)..(j + 1) * BLOCK^(k+1)`.
#[derive(Clone, Debug, Default)]
pub struct Maxima {
    levels: Vec<Vec<f32>>,
}

impl Maxima {
    /// The maxima of `flows`.
    fn build(flows: &[Flow]) -> Maxima {
        let mut maxima = Maxima { levels: Vec::new() };
        maxima.rebuild_from(flows, 0);
        maxima
    }

    /// Recomputes every entry that covers a flow at index `from..` (after an insertion there).
    fn rebuild_from(&mut self, flows: &[Flow], from: usize) {
        let mut first = from / BLOCK;
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        let level0 = &mut self.levels[0];
        level0.truncate(first);
        level0.extend(flows[first * BLOCK..].chunks(BLOCK).map(max_of));
        let mut k = 1;
        loop {
            let below_len = self.levels[k - 1].len();
            if k == self.levels.len() {
                if below_len <= 1 || k == MAX_LEVELS {
                    break;
                }
                self.levels.push(Vec::new());
                first = 0;
            } else {
                first /= BLOCK;
            }
            let (lower, upper) = self.levels.split_at_mut(k);
            let (below, level) = (&lower[k - 1], &mut upper[0]);
            level.truncate(first);
            level.extend(below[first * BLOCK..].chunks(BLOCK).map(max_of_blocks));
            k += 1;
        }
    }

    /// Accounts for a flow appended at the end (index `at`, the last one).
    fn push(&mut self, flows: &[Flow], at: usize) {
        let up = round_up(flows[at].amount);
        let mut index = at;
        for level in &mut self.levels {
            index /= BLOCK;
            match level.get_mut(index) {
                Some(m) => *m = m.max(up),
                None => level.push(up),
            }
        }
        let top = self.levels.len();
        if self.levels[top - 1].len() > 1 && top < MAX_LEVELS {
            let next = self.levels[top - 1]
                .chunks(BLOCK)
                .map(max_of_blocks)
                .collect();
            self.levels.push(next);
        }
    }

    /// Appends to `out` every flow of `flows[lo..hi]` whose amount reaches `cutoff`, top-down:
    /// a block whose maximum is below `cutoff` is skipped unread at every level.
    fn at_least(
        &self,
        flows: &[Flow],
        (lo, hi): (usize, usize),
        cutoff: f64,
        out: &mut Vec<Flow>,
        work: &mut ScanWork,
    ) {
        self.visit(self.levels.len(), flows, lo, hi, cutoff, out, work);
    }

    #[allow(clippy::too_many_arguments)]
    fn visit(
        &self,
        level: usize,
        flows: &[Flow],
        lo: usize,
        hi: usize,
        cutoff: f64,
        out: &mut Vec<Flow>,
        work: &mut ScanWork,
    ) {
        if work.exhausted() {
            return;
        }
        if level == 0 || hi - lo <= BLOCK {
            work.flows_read += (hi - lo) as u64;
            out.extend(flows[lo..hi].iter().filter(|f| f.amount >= cutoff));
            return;
        }
        let size = BLOCK.pow(level as u32);
        let table = &self.levels[level - 1];
        let mut start = lo;
        while start < hi {
            let j = start / size;
            let end = ((j + 1) * size).min(hi);
            if work.exhausted() {
                return;
            }
            work.blocks_checked += 1;
            if table[j] as f64 >= cutoff {
                self.visit(level - 1, flows, start, end, cutoff, out, work);
            }
            start = end;
        }
    }

    fn heap_bytes(&self) -> usize {
        self.levels.iter().map(|l| l.capacity() * 4 + 24).sum()
    }
}

/// Work done finding the flows above a cutoff (for [`super::engine::QueryStats`]), and how
/// much it may do: one hub's window can hold millions of transfers above the cutoff, so a
/// scan stops where its limit is reached rather than at the window's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanWork {
    /// Block maxima read.
    pub blocks_checked: u64,
    /// Flows read one by one.
    pub flows_read: u64,
    /// Most `blocks_checked + flows_read` to spend; a scan that reaches it stops before its
    /// next block (overrunning it by at most one block of [`BLOCK`] flows).
    pub limit: u64,
    /// Whether the limit stopped a scan before it read all it would have.
    pub cut: bool,
}

impl Default for ScanWork {
    /// No work done, no limit.
    fn default() -> Self {
        ScanWork::within(u64::MAX)
    }
}

impl ScanWork {
    /// No work done, at most `limit` to do.
    pub fn within(limit: u64) -> Self {
        ScanWork {
            blocks_checked: 0,
            flows_read: 0,
            limit,
            cut: false,
        }
    }

    /// Work done so far.
    pub fn total(&self) -> u64 {
        self.blocks_checked + self.flows_read
    }

    /// Whether the limit is reached (and the scan is marked cut if it is).
    fn exhausted(&mut self) -> bool {
        if self.total() >= self.limit {
            self.cut = true;
        }
        self.cut
    }
}

/// A contiguous part of a run of flows, with its total and what finds its large flows.
pub struct Segment<'a> {
    /// The whole array the maxima cover (the built part, or one tail run).
    all: &'a [Flow],
    /// None for a tail run of at most [`BLOCK`] flows (read directly).
    maxima: Option<&'a Maxima>,
    range: (usize, usize),
    sum: f64,
}

impl<'a> Segment<'a> {
    const EMPTY: Segment<'static> = Segment {
        all: &[],
        maxima: None,
        range: (0, 0),
        sum: 0.0,
    };

    /// The segment's flows, in (asset, time) order.
    pub fn flows(&self) -> &'a [Flow] {
        &self.all[self.range.0..self.range.1]
    }

    /// Sum of the segment's amounts.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Appends to `out` every flow of the segment whose amount is at least `cutoff`, reading
    /// only the blocks whose maxima reach it.
    pub fn at_least(&self, cutoff: f64, out: &mut Vec<Flow>, work: &mut ScanWork) {
        match self.maxima {
            Some(maxima) => maxima.at_least(self.all, self.range, cutoff, out, work),
            None => {
                if work.exhausted() {
                    return;
                }
                let flows = self.flows();
                work.flows_read += flows.len() as u64;
                out.extend(flows.iter().filter(|f| f.amount >= cutoff));
            }
        }
    }
}

/// The transfers a trace may follow from one address: a window of the built part and of the
/// tail, each with its total.
pub struct Window<'a> {
    /// The built part's window.
    pub built: Segment<'a>,
    /// The tail's window.
    pub tail: Segment<'a>,
}

impl Window<'_> {
    /// Sum of the window's amounts.
    pub fn sum(&self) -> f64 {
        self.built.sum + self.tail.sum
    }
}

/// Running sums and maxima of a tail run, kept once it is longer than one block.
#[derive(Debug)]
struct Summary {
    /// `cum[i]`: sum of the amounts of `flows[..=i]`.
    cum: Vec<f64>,
    maxima: Maxima,
}

/// The flows of one address and asset appended since the last build, sorted by time.
#[derive(Debug)]
struct TailRun {
    asset: u16,
    flows: Vec<Flow>,
    summary: Option<Box<Summary>>,
}

impl TailRun {
    fn insert(&mut self, flow: Flow) {
        let at = self.flows.partition_point(|f| order(f) <= order(&flow));
        self.flows.insert(at, flow);
        let last = self.flows.len() - 1;
        match &mut self.summary {
            None if self.flows.len() > BLOCK => {
                let mut acc = 0.0;
                let cum = self
                    .flows
                    .iter()
                    .map(|f| {
                        acc += f.amount;
                        acc
                    })
                    .collect();
                self.summary = Some(Box::new(Summary {
                    cum,
                    maxima: Maxima::build(&self.flows),
                }));
            }
            None => {}
            Some(summary) => {
                // Ingest runs mostly in time order: an append is O(1); an insertion before
                // the end recomputes what follows it, like the insertion itself moves it.
                summary.cum.truncate(at);
                let mut acc = summary.cum.last().copied().unwrap_or(0.0);
                for f in &self.flows[at..] {
                    acc += f.amount;
                    summary.cum.push(acc);
                }
                if at == last {
                    summary.maxima.push(&self.flows, at);
                } else {
                    summary.maxima.rebuild_from(&self.flows, at);
                }
            }
        }
    }

    fn sum(&self, (lo, hi): (usize, usize)) -> f64 {
        match &self.summary {
            _ if hi <= lo => 0.0,
            Some(s) => s.cum[hi - 1] - if lo == 0 { 0.0 } else { s.cum[lo - 1] },
            None => self.flows[lo..hi].iter().map(|f| f.amount).sum(),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.flows.capacity() * std::mem::size_of::<Flow>()
            + self.summary.as_ref().map_or(0, |s| {
                s.cum.capacity() * 8 + s.maxima.heap_bytes() + std::mem::size_of::<Summary>()
            })
    }
}

/// One direction's index.
pub struct Adjacency {
    side: Side,
    /// `nodes + 1` offsets into `flows` (the built part covers edges `0..built`).
    offsets: Vec<u32>,
    flows: Vec<Flow>,
    /// `cum[i]`: sum of the amounts of `flows[run start..=i]`.
    cum: Vec<f64>,
    /// Block maxima of `flows`.
    maxima: Maxima,
    /// Edges `built..` by address, one run per asset (sorted by asset).
    /// (A fast hash: the keys are ids, not input an adversary picks freely.)
    tail: FxHashMap<NodeId, Vec<TailRun>>,
    tail_len: usize,
    built: usize,
}

impl Adjacency {
    /// An empty index for `side`.
    pub fn new(side: Side) -> Self {
        Adjacency {
            side,
            offsets: vec![0],
            flows: Vec::new(),
            cum: Vec::new(),
            maxima: Maxima::default(),
            tail: FxHashMap::default(),
            tail_len: 0,
            built: 0,
        }
    }

    /// Rebuilds the index over all `edges` of a graph of `nodes` addresses (counting sort by
    /// address, then each run sorted; the tail is emptied).
    pub fn build(&mut self, edges: &[Edge], nodes: usize) {
        let mut counts = vec![0u32; nodes + 1];
        for (i, e) in edges.iter().enumerate() {
            let (key, _) = self.side.key_and_flow(i as u32, e);
            counts[key as usize + 1] += 1;
        }
        for n in 0..nodes {
            counts[n + 1] += counts[n];
        }
        // Drop the old index before filling the new one, so peak memory is one index.
        self.flows = Vec::new();
        self.cum = Vec::new();
        self.maxima = Maxima::default();
        self.tail = FxHashMap::default();
        let mut flows = vec![
            Flow {
                lt: 0,
                amount: 0.0,
                other: 0,
                edge: 0,
                asset: 0
            };
            edges.len()
        ];
        let mut next = counts.clone();
        for (i, e) in edges.iter().enumerate() {
            let (key, flow) = self.side.key_and_flow(i as u32, e);
            flows[next[key as usize] as usize] = flow;
            next[key as usize] += 1;
        }
        for n in 0..nodes {
            let run = &mut flows[counts[n] as usize..counts[n + 1] as usize];
            // Ingest order is mostly time order: the stable sort's run detection makes this
            // close to linear.
            run.sort_by_key(order);
        }
        let mut cum = Vec::with_capacity(flows.len());
        for n in 0..nodes {
            let mut acc = 0.0;
            for f in &flows[counts[n] as usize..counts[n + 1] as usize] {
                acc += f.amount;
                cum.push(acc);
            }
        }
        self.maxima = Maxima::build(&flows);
        self.cum = cum;
        self.offsets = counts;
        self.flows = flows;
        self.tail_len = 0;
        self.built = edges.len();
    }

    /// Adds edge `id` (the next one after every edge already indexed).
    pub fn push(&mut self, id: u32, edge: &Edge) {
        let (key, flow) = self.side.key_and_flow(id, edge);
        let runs = self.tail.entry(key).or_default();
        let at = runs.partition_point(|r| r.asset < flow.asset);
        if runs.get(at).is_none_or(|r| r.asset != flow.asset) {
            runs.insert(
                at,
                TailRun {
                    asset: flow.asset,
                    flows: Vec::new(),
                    summary: None,
                },
            );
        }
        runs[at].insert(flow);
        self.tail_len += 1;
    }

    /// Transfers in the tail (appended since the last build).
    pub fn tail_len(&self) -> usize {
        self.tail_len
    }

    /// Whether the tail has grown enough that [`Adjacency::build`] should run.
    pub fn wants_rebuild(&self) -> bool {
        self.tail_len >= MIN_REBUILD.max(self.built / 2)
    }

    fn built_run(&self, node: NodeId) -> (usize, &[Flow]) {
        let n = node as usize;
        if n + 1 < self.offsets.len() {
            let (a, b) = (self.offsets[n] as usize, self.offsets[n + 1] as usize);
            (a, &self.flows[a..b])
        } else {
            (0, &[])
        }
    }

    fn tail_runs(&self, node: NodeId) -> &[TailRun] {
        self.tail.get(&node).map_or(&[][..], Vec::as_slice)
    }

    /// Every transfer of `node` (built part first, then the tail), each part sorted by
    /// (asset, logical time).
    pub fn flows(&self, node: NodeId) -> impl Iterator<Item = &Flow> + '_ {
        self.built_run(node)
            .1
            .iter()
            .chain(self.tail_runs(node).iter().flat_map(|r| r.flows.iter()))
    }

    /// The total amount of `node`'s transfers per asset, in asset order, from the running
    /// sums (O(assets) per address, however many transfers it has).
    pub fn totals(&self, node: NodeId) -> Vec<(u16, f64)> {
        let (start, run) = self.built_run(node);
        let mut totals: Vec<(u16, f64)> = Vec::new();
        let mut i = 0;
        while i < run.len() {
            let asset = run[i].asset;
            let end = i + run[i..].partition_point(|f| f.asset <= asset);
            let before = if i == 0 { 0.0 } else { self.cum[start + i - 1] };
            totals.push((asset, self.cum[start + end - 1] - before));
            i = end;
        }
        for r in self.tail_runs(node) {
            let sum = r.sum((0, r.flows.len()));
            match totals.binary_search_by_key(&r.asset, |t| t.0) {
                Ok(k) => totals[k].1 += sum,
                Err(k) => totals.insert(k, (r.asset, sum)),
            }
        }
        totals
    }

    /// The transfers of `node` in `asset` strictly before (`before = true`) or strictly after
    /// logical time `bound`.
    pub fn window(&self, node: NodeId, asset: u16, bound: u64, before: bool) -> Window<'_> {
        // Within one asset's flows, sorted by time: the part on the right side of `bound`.
        let cut = |flows: &[Flow]| {
            if before {
                (0, flows.partition_point(|f| f.lt < bound))
            } else {
                (flows.partition_point(|f| f.lt <= bound), flows.len())
            }
        };
        let (run_start, run) = self.built_run(node);
        let a0 = run.partition_point(|f| f.asset < asset);
        let a1 = a0 + run[a0..].partition_point(|f| f.asset <= asset);
        let (c0, c1) = cut(&run[a0..a1]);
        let (b0, b1) = (run_start + a0 + c0, run_start + a0 + c1);
        let at = |i: usize| {
            if i == run_start {
                0.0
            } else {
                self.cum[i - 1]
            }
        };
        let built = Segment {
            all: &self.flows,
            maxima: Some(&self.maxima),
            range: (b0, b1),
            sum: if b1 > b0 { at(b1) - at(b0) } else { 0.0 },
        };
        let runs = self.tail_runs(node);
        let tail = match runs.binary_search_by_key(&asset, |r| r.asset) {
            Ok(k) => {
                let r = &runs[k];
                let range = cut(&r.flows);
                Segment {
                    all: &r.flows,
                    maxima: r.summary.as_ref().map(|s| &s.maxima),
                    range,
                    sum: r.sum(range),
                }
            }
            Err(_) => Segment::EMPTY,
        };
        Window { built, tail }
    }

    /// Heap bytes held (for the memory figures).
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4
            + self.flows.capacity() * std::mem::size_of::<Flow>()
            + self.cum.capacity() * 8
            + self.maxima.heap_bytes()
            + self
                .tail
                .values()
                .map(|runs| {
                    runs.capacity() * std::mem::size_of::<TailRun>()
                        + runs.iter().map(TailRun::heap_bytes).sum::<usize>()
                        + 32
                })
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: u32, to: u32, asset: u16, lt: u64) -> Edge {
        Edge {
            from,
            to,
            asset,
            amount: lt as u128 * 10,
            lt,
            utime: 0,
            tx_hash: [0; 32],
        }
    }

    fn window(a: &Adjacency, node: u32, asset: u16, bound: u64, before: bool) -> Vec<u32> {
        let w = a.window(node, asset, bound, before);
        for part in [&w.built, &w.tail] {
            let exact: f64 = part.flows().iter().map(|f| f.amount).sum();
            assert_eq!(
                part.sum(),
                exact,
                "the running sums give the window's total"
            );
        }
        w.built
            .flows()
            .iter()
            .chain(w.tail.flows())
            .map(|f| f.edge)
            .collect()
    }

    #[test]
    fn windows_are_the_same_built_or_appended() {
        // Edges into node 0 in mixed asset and time order.
        let edges = vec![
            edge(1, 0, 0, 30),
            edge(2, 0, 1, 10),
            edge(3, 0, 0, 10),
            edge(4, 0, 0, 20),
            edge(0, 5, 0, 25),
            edge(6, 0, 1, 40),
        ];
        let mut built = Adjacency::new(Side::Incoming);
        built.build(&edges, 7);
        let mut pushed = Adjacency::new(Side::Incoming);
        for (i, e) in edges.iter().enumerate() {
            pushed.push(i as u32, e);
        }
        // Half built, half appended.
        let mut mixed = Adjacency::new(Side::Incoming);
        mixed.build(&edges[..3], 7);
        for (i, e) in edges.iter().enumerate().skip(3) {
            mixed.push(i as u32, e);
        }
        for a in [&built, &pushed, &mixed] {
            let mut before: Vec<u32> = window(a, 0, 0, 30, true);
            before.sort();
            assert_eq!(before, vec![2, 3], "TON into 0 before lt 30");
            assert_eq!(window(a, 0, 1, 10, false), vec![5], "jetton after lt 10");
            assert_eq!(window(a, 0, 1, 11, true), vec![1]);
            assert!(
                window(a, 5, 1, u64::MAX, true).is_empty(),
                "no jetton into 5"
            );
            assert_eq!(window(a, 5, 0, u64::MAX, true), vec![4]);
            assert!(window(a, 99, 0, u64::MAX, true).is_empty(), "unknown node");
        }
        let mut out = Adjacency::new(Side::Outgoing);
        out.build(&edges, 7);
        let f: Vec<&Flow> = out.flows(0).collect();
        assert_eq!(
            (f.len(), f[0].other, f[0].amount),
            (1, 5, 250.0),
            "outgoing runs name the receiver"
        );
        assert_eq!(built.totals(0), vec![(0, 600.0), (1, 500.0)]);
        assert_eq!(
            mixed.totals(0),
            built.totals(0),
            "totals over built part and tail"
        );
    }

    /// Every level of `maxima` bounds the amounts it covers.
    fn check_maxima(maxima: &Maxima, flows: &[Flow]) {
        let mut size = 1;
        for level in &maxima.levels {
            size *= BLOCK;
            assert_eq!(
                level.len(),
                flows.len().div_ceil(size),
                "one entry per block"
            );
            for (j, block) in flows.chunks(size).enumerate() {
                let m = block.iter().map(|f| f.amount).fold(0.0, f64::max);
                assert!(level[j] as f64 >= m);
            }
        }
    }

    /// A hub's inflows: mostly small, a few large at known places.
    fn hub_edges(n: u64) -> Vec<Edge> {
        (0..n)
            .map(|i| Edge {
                amount: if i % 997 == 3 {
                    1_000_000 + i as u128
                } else {
                    (i * 7919 % 1013) as u128
                },
                ..edge(1 + (i % 50) as u32, 0, 0, i)
            })
            .collect()
    }

    #[test]
    fn block_maxima_bound_every_amount_at_every_level() {
        let edges = hub_edges(300_000);
        let mut a = Adjacency::new(Side::Incoming);
        a.build(&edges, 51);
        assert_eq!(
            a.maxima.levels.len(),
            4,
            "blocks of 64, 4096, 262144 flows, then one over all"
        );
        check_maxima(&a.maxima, &a.flows);
        // The same maxima kept incrementally over a tail run, appended in order and not.
        let mut t = Adjacency::new(Side::Incoming);
        let mut shuffled: Vec<(u32, Edge)> = (0..5000u32).map(|i| (i, edges[i as usize])).collect();
        shuffled.sort_by_key(|(i, _)| (i * 7919) % 5000 / 1000);
        for (i, e) in &shuffled {
            t.push(*i, e);
        }
        let run = &t.tail[&0][0];
        let summary = run.summary.as_ref().expect("a long tail run is summarised");
        check_maxima(&summary.maxima, &run.flows);
        assert_eq!(summary.maxima.levels.len(), 3);
        let mut acc = 0.0;
        for (f, c) in run.flows.iter().zip(&summary.cum) {
            acc += f.amount;
            assert_eq!(*c, acc, "running sums follow insertions");
        }
    }

    /// What the top-down search finds in `window`, against a plain filter, and its work.
    fn large(w: &Segment<'_>, cutoff: f64) -> (Vec<u32>, ScanWork) {
        let mut out = Vec::new();
        let mut work = ScanWork::default();
        w.at_least(cutoff, &mut out, &mut work);
        let plain: Vec<u32> = w
            .flows()
            .iter()
            .filter(|f| f.amount >= cutoff)
            .map(|f| f.edge)
            .collect();
        let found: Vec<u32> = out.iter().map(|f| f.edge).collect();
        assert_eq!(found, plain, "the maxima skip nothing that passes");
        (found, work)
    }

    #[test]
    fn a_hub_window_finds_its_large_flows_with_little_work() {
        let n = 300_000;
        let edges = hub_edges(n);
        let mut built = Adjacency::new(Side::Incoming);
        built.build(&edges, 51);
        let mut appended = Adjacency::new(Side::Incoming);
        appended.build(&edges[..1000], 51);
        for (i, e) in edges.iter().enumerate().skip(1000) {
            appended.push(i as u32, e);
        }
        assert_eq!(appended.tail_len(), n as usize - 1000);
        for a in [&built, &appended] {
            let w = a.window(0, 0, 250_000, true);
            assert_eq!(w.built.flows().len() + w.tail.flows().len(), 250_000);
            let (mut found, mut work) = large(&w.built, 1_000_000.0);
            let (tail, tail_work) = large(&w.tail, 1_000_000.0);
            found.extend(tail);
            work.blocks_checked += tail_work.blocks_checked;
            work.flows_read += tail_work.flows_read;
            assert_eq!(found.len(), 251, "every 997th from 3 below 250,000");
            assert!(
                work.flows_read <= 2 * 251 * BLOCK as u64
                    && work.blocks_checked <= 251 * 3 * BLOCK as u64,
                "{work:?}: O(found × levels × BLOCK), not O(window)"
            );
            // Below every amount: everything, still exact.
            let (all, _) = large(&w.built, 0.0);
            assert_eq!(all.len(), w.built.flows().len());
        }
    }

    #[test]
    fn the_tail_asks_for_a_rebuild_once_large() {
        let mut a = Adjacency::new(Side::Outgoing);
        for i in 0..MIN_REBUILD as u32 {
            assert!(!a.wants_rebuild());
            a.push(i, &edge(i % 7, 0, 0, i as u64));
        }
        assert!(a.wants_rebuild());
    }
}
