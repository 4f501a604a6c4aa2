//! Compact adjacency of the transfer graph, one per direction: for every address its transfers
//! in one contiguous run sorted by (asset, logical time), so the engine finds the transfers a
//! trace may follow ("same asset, before this time") by binary search and reads them
//! sequentially, without touching the 72-byte edge records.
//!
//! Layout (compressed sparse row): `offsets[n]..offsets[n + 1]` is address `n`'s run in
//! `flows`. Transfers appended since the last build sit in a per-address `tail` (each run
//! sorted the same way); the index is rebuilt from the edges once the tail outgrows half the
//! built part, so appends cost amortised O(1) and the built part stays one allocation: no
//! per-edge heap allocation, 40 bytes per transfer and direction.
//!
//! Two summaries over the built part let a trace skip what cannot matter to it without
//! changing what it finds: `cum` (running sums of amounts per run) gives a window's total in
//! O(1), and `block_max` (the largest amount of every [`BLOCK`] consecutive flows, rounded up)
//! lets a trace whose share is small skip whole blocks of transfers too small to pass its
//! pruning threshold. A hub with 100,000 small deposits then costs a trace a few thousand
//! block checks, not 100,000 reads.

use std::collections::HashMap;

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

/// Flows per `block_max` entry.
pub const BLOCK: usize = 64;

/// The transfers a trace may follow from one address: a window of the built part (with its
/// total) and of the tail.
pub struct Window<'a> {
    /// The built part's window.
    pub built: &'a [Flow],
    /// Index of `built[0]` in the built part (for [`Adjacency::block_max`]).
    pub built_start: usize,
    /// Sum of `built`'s amounts.
    pub built_sum: f64,
    /// The tail's window (not summarised: scan it).
    pub tail: &'a [Flow],
}

/// One direction's index.
pub struct Adjacency {
    side: Side,
    /// `nodes + 1` offsets into `flows` (the built part covers edges `0..built`).
    offsets: Vec<u32>,
    flows: Vec<Flow>,
    /// `cum[i]`: sum of the amounts of `flows[run start..=i]`.
    cum: Vec<f64>,
    /// Largest amount in each block of `BLOCK` flows (rounded up to f32).
    block_max: Vec<f32>,
    /// Edges `built..` by address, each run sorted like `flows`.
    tail: HashMap<NodeId, Vec<Flow>>,
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
            block_max: Vec::new(),
            tail: HashMap::new(),
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
        self.block_max = Vec::new();
        self.tail = HashMap::new();
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
        self.block_max = flows
            .chunks(BLOCK)
            .map(|block| {
                let m = block.iter().map(|f| f.amount).fold(0.0, f64::max);
                let up = m as f32;
                // An upper bound: a block is skipped only if nothing in it can pass.
                if (up as f64) < m {
                    up.next_up()
                } else {
                    up
                }
            })
            .collect();
        self.cum = cum;
        self.offsets = counts;
        self.flows = flows;
        self.tail_len = 0;
        self.built = edges.len();
    }

    /// Adds edge `id` (the next one after every edge already indexed).
    pub fn push(&mut self, id: u32, edge: &Edge) {
        let (key, flow) = self.side.key_and_flow(id, edge);
        let run = self.tail.entry(key).or_default();
        let at = run.partition_point(|f| order(f) <= order(&flow));
        run.insert(at, flow);
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

    /// Every transfer of `node`, as two runs (built part, tail), each sorted by
    /// (asset, logical time).
    pub fn runs(&self, node: NodeId) -> [&[Flow]; 2] {
        let n = node as usize;
        let built = if n + 1 < self.offsets.len() {
            &self.flows[self.offsets[n] as usize..self.offsets[n + 1] as usize]
        } else {
            &[]
        };
        let tail = self.tail.get(&node).map_or(&[][..], Vec::as_slice);
        [built, tail]
    }

    /// The transfers of `node` in `asset` strictly before (`before = true`) or strictly after
    /// logical time `bound`.
    pub fn window(&self, node: NodeId, asset: u16, bound: u64, before: bool) -> Window<'_> {
        let range = |run: &[Flow]| {
            let start = run.partition_point(|f| f.asset < asset);
            let end = run.partition_point(|f| f.asset <= asset);
            let cut = start + {
                let run = &run[start..end];
                if before {
                    0
                } else {
                    run.partition_point(|f| f.lt <= bound)
                }
            };
            let end = if before {
                start + run[start..end].partition_point(|f| f.lt < bound)
            } else {
                end
            };
            (cut, end)
        };
        let [built, tail] = self.runs(node);
        let (b0, b1) = range(built);
        let (t0, t1) = range(tail);
        let run_start = self.offsets.get(node as usize).map_or(0, |&o| o as usize);
        let at = |i: usize| {
            if i == 0 {
                0.0
            } else {
                self.cum[run_start + i - 1]
            }
        };
        Window {
            built: &built[b0..b1],
            built_start: run_start + b0,
            built_sum: if b1 > b0 { at(b1) - at(b0) } else { 0.0 },
            tail: &tail[t0..t1],
        }
    }

    /// An upper bound of the amounts in block `i` (flows `i * BLOCK..(i + 1) * BLOCK` of the
    /// built part).
    pub fn block_max(&self, i: usize) -> f32 {
        self.block_max[i]
    }

    /// Heap bytes held (for the memory figures).
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4
            + self.flows.capacity() * std::mem::size_of::<Flow>()
            + self.cum.capacity() * 8
            + self.block_max.capacity() * 4
            + self
                .tail
                .values()
                .map(|v| v.capacity() * std::mem::size_of::<Flow>() + 32)
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
        let exact: f64 = w.built.iter().map(|f| f.amount).sum();
        assert_eq!(
            w.built_sum, exact,
            "the running sums give the window's total"
        );
        w.built.iter().chain(w.tail).map(|f| f.edge).collect()
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
        let f = out.runs(0)[0];
        assert_eq!(
            (f.len(), f[0].other, f[0].amount),
            (1, 5, 250.0),
            "outgoing runs name the receiver"
        );
    }

    #[test]
    fn block_maxima_bound_every_amount_in_their_block() {
        let edges: Vec<Edge> = (0..1000u64)
            .map(|i| Edge {
                amount: (i * 7919 % 1013) as u128 * 1_000_000_007,
                ..edge((i % 3) as u32, 3 + (i % 5) as u32, 0, i)
            })
            .collect();
        let mut a = Adjacency::new(Side::Incoming);
        a.build(&edges, 8);
        for (i, block) in a.flows.chunks(BLOCK).enumerate() {
            let m = block.iter().map(|f| f.amount).fold(0.0, f64::max);
            assert!(a.block_max(i) as f64 >= m);
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
