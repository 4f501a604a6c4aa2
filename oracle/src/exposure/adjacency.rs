//! Compact adjacency of the transfer graph, one per direction: for every address its transfers
//! in one contiguous run sorted by (asset, logical time), so the engine finds the transfers a
//! trace may follow ("same asset, before this time") by binary search and reads them
//! sequentially, without touching the 72-byte edge records.
//!
//! Layout (compressed sparse row): `offsets[n]..offsets[n + 1]` is address `n`'s run in
//! `flows`. Transfers appended since the last build sit in a per-address `tail` (each run
//! sorted the same way); the index is rebuilt from the edges once the tail outgrows half the
//! built part, so appends cost amortised O(1) and the built part stays one allocation: no
//! per-edge heap allocation, 32 bytes per transfer and direction.

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

/// One direction's index.
pub struct Adjacency {
    side: Side,
    /// `nodes + 1` offsets into `flows` (the built part covers edges `0..built`).
    offsets: Vec<u32>,
    flows: Vec<Flow>,
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
    /// logical time `bound`, as two sorted runs.
    pub fn window(&self, node: NodeId, asset: u16, bound: u64, before: bool) -> [&[Flow]; 2] {
        self.runs(node).map(|run| {
            let start = run.partition_point(|f| f.asset < asset);
            let end = run.partition_point(|f| f.asset <= asset);
            let run = &run[start..end];
            if before {
                &run[..run.partition_point(|f| f.lt < bound)]
            } else {
                &run[run.partition_point(|f| f.lt <= bound)..]
            }
        })
    }

    /// Heap bytes held (for the memory figures).
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4
            + self.flows.capacity() * std::mem::size_of::<Flow>()
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
        a.window(node, asset, bound, before)
            .iter()
            .flat_map(|r| r.iter().map(|f| f.edge))
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
        let f = out.runs(0)[0];
        assert_eq!(
            (f.len(), f[0].other, f[0].amount),
            (1, 5, 250.0),
            "outgoing runs name the receiver"
        );
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
