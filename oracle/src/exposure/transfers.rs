//! The compact transfer store: interned addresses, fixed-size transfer records in an
//! append-only log with a CRC32C on every frame, and the in-memory graph rebuilt from it.
//!
//! # On disk (`<data_dir>/transfers/transfers.log`)
//!
//! An 8-byte header `TGXFER1\n`, then frames: `len:u32 crc32c:u32 payload`, little-endian, the
//! CRC over the payload. One frame is one ingested batch:
//!
//! ```text
//! payload = n_addresses:u32 (workchain:i8 account:[u8;32]){n}      -- new addresses, next ids
//!           n_assets:u16    (workchain:i8 account:[u8;32]){n}      -- new jetton masters
//!           n_transfers:u32 transfer{n}                            -- 70 bytes each
//!           n_cursors:u16   (name_len:u8 name value_len:u16 value){n}
//! transfer = from:u32 to:u32 asset:u16 amount:u128 lt:u64 utime:u32 tx_hash:[u8;32]
//! ```
//!
//! Addresses are interned (a transfer names them by id, 4 bytes instead of 33) and asset 0 is
//! TON. A follower's cursor travels in the same frame as the transfers it covers, so data and
//! cursor are durable together (one `fdatasync` per batch): a restart resumes exactly after
//! the last batch on disk. Every frame is checked when the log is read at open; a damaged
//! frame refuses the open ([`Error::Corrupt`]), except a torn last frame (a crash while
//! appending, never acknowledged), which is cut off.
//!
//! # Shared by replicas ([`SharedLog`])
//!
//! On PostgreSQL the same frames are rows ([`super::transfers_pg`]): every replica applies them
//! in order, so all intern the same ids; a writer appends only when it has applied every frame
//! before (else it applies them and interns its batch again), and [`TransferStore::refresh`]
//! brings a reader's graph up to date.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use tollgate_sdk::exposure::Asset;
use tollgate_sdk::Address;

use super::adjacency::{Adjacency, Side};
use super::moves::Transfer;
use crate::audit::format::CRC32C;
use crate::error::{Error, Result};

/// First bytes of the log file.
pub const MAGIC: &[u8; 8] = b"TGXFER1\n";
/// File name of the log inside its directory.
pub const LOG_FILE: &str = "transfers.log";
/// Encoded size of one transfer record.
pub const RECORD_BYTES: usize = 70;
/// Largest frame accepted when reading (a larger length is damage, not data).
const MAX_FRAME: u32 = 1 << 30;

/// An interned address.
pub type NodeId = u32;

/// A transfer as the graph holds it. Packed to 4-byte alignment: 72 bytes instead of the 80
/// that the `u128`'s 16-byte alignment would cost on every one of millions of transfers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed(4))]
pub struct Edge {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// 0 = TON, else the index of the jetton master.
    pub asset: u16,
    /// Smallest units.
    pub amount: u128,
    /// Logical time.
    pub lt: u64,
    /// Unix time.
    pub utime: u32,
    /// Transaction hash.
    pub tx_hash: [u8; 32],
}

/// The in-memory graph: interned addresses, edges and both adjacency indexes.
pub struct Graph {
    addresses: Vec<Address>,
    ids: HashMap<Address, NodeId>,
    /// Jetton masters; asset `i` is `assets[i - 1]`.
    assets: Vec<Address>,
    asset_ids: HashMap<Address, u16>,
    edges: Vec<Edge>,
    incoming: Adjacency,
    outgoing: Adjacency,
    /// Identity of every transfer ingested (transaction hash and kind), so a page ingested
    /// twice, or overlapping pages of a follower, count once.
    seen: HashSet<u128>,
    cursors: HashMap<String, String>,
}

impl Default for Graph {
    fn default() -> Self {
        Graph {
            addresses: Vec::new(),
            ids: HashMap::new(),
            assets: Vec::new(),
            asset_ids: HashMap::new(),
            edges: Vec::new(),
            incoming: Adjacency::new(Side::Incoming),
            outgoing: Adjacency::new(Side::Outgoing),
            seen: HashSet::new(),
            cursors: HashMap::new(),
        }
    }
}

impl Graph {
    /// The id of an address, if it took part in a transfer.
    pub fn id(&self, address: &Address) -> Option<NodeId> {
        self.ids.get(address).copied()
    }
    /// The address of an id.
    pub fn address(&self, id: NodeId) -> Address {
        self.addresses[id as usize]
    }
    /// The asset of an edge's asset index.
    pub fn asset(&self, index: u16) -> Asset {
        match index {
            0 => Asset::Ton,
            i => Asset::Jetton {
                master: self.assets[i as usize - 1],
            },
        }
    }
    /// An edge.
    pub fn edge(&self, id: u32) -> &Edge {
        &self.edges[id as usize]
    }
    /// Transfers into each address (by receiver), sorted by asset and time.
    pub fn incoming(&self) -> &Adjacency {
        &self.incoming
    }
    /// Transfers out of each address (by sender), sorted by asset and time.
    pub fn outgoing(&self) -> &Adjacency {
        &self.outgoing
    }
    /// Approximate heap bytes of the graph's parts, by part (for the memory figures).
    pub fn heap_bytes(&self) -> Vec<(&'static str, usize)> {
        use std::mem::size_of;
        // hashbrown: one control byte per bucket, buckets a power of two above 8/7 of the items.
        let table = |cap: usize, entry: usize| cap * 8 / 7 * (entry + 1);
        vec![
            ("edges", self.edges.capacity() * size_of::<Edge>()),
            (
                "adjacency",
                self.incoming.heap_bytes() + self.outgoing.heap_bytes(),
            ),
            ("identities", table(self.seen.capacity(), 16)),
            (
                "addresses",
                self.addresses.capacity() * size_of::<Address>()
                    + table(self.ids.capacity(), size_of::<(Address, NodeId)>()),
            ),
        ]
    }
    /// Number of addresses.
    pub fn address_count(&self) -> usize {
        self.addresses.len()
    }
    /// Number of transfers.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// A transfer's identity: its transaction hash and whether it moved a jetton. One
    /// transaction moves at most one TON value (its inbound message) and is the sending
    /// wallet's transaction of at most one jetton transfer.
    fn identity(tx_hash: &[u8; 32], jetton: bool) -> u128 {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tx_hash[..16]);
        bytes[15] ^= u8::from(jetton);
        u128::from_le_bytes(bytes)
    }

    fn push_address(&mut self, address: Address) {
        self.ids.insert(address, self.addresses.len() as NodeId);
        self.addresses.push(address);
    }

    fn push_asset(&mut self, master: Address) {
        self.assets.push(master);
        self.asset_ids.insert(master, self.assets.len() as u16);
    }

    /// Adds an edge; `index` says whether to add it to the adjacency now (appends) or leave
    /// it to one [`Graph::reindex`] at the end (replaying the log at open).
    fn push_edge(&mut self, edge: Edge, identity: u128, index: bool) {
        let id = self.edges.len() as u32;
        if index {
            self.outgoing.push(id, &edge);
            self.incoming.push(id, &edge);
        }
        self.edges.push(edge);
        self.seen.insert(identity);
    }

    /// Rebuilds both adjacency indexes over every edge.
    fn reindex(&mut self) {
        // Growth by doubling leaves up to half of these vectors unused; a rebuild is rare
        // enough to give it back (a large block is remapped, not copied).
        self.edges.shrink_to_fit();
        self.addresses.shrink_to_fit();
        let nodes = self.addresses.len();
        self.incoming.build(&self.edges, nodes);
        self.outgoing.build(&self.edges, nodes);
    }

    /// Applies a decoded frame; `index` as for [`Graph::push_edge`] (a caller that passes
    /// `false` owes one [`Graph::reindex`] when done).
    fn apply(&mut self, batch: Batch, index: bool) -> Result<()> {
        for address in batch.addresses {
            self.push_address(address);
        }
        for master in batch.assets {
            self.push_asset(master);
        }
        let (nodes, assets) = (self.addresses.len(), self.assets.len());
        for edge in batch.edges {
            if edge.from as usize >= nodes || edge.to as usize >= nodes {
                return Err(Error::Corrupt("transfer log: unknown address id".into()));
            }
            if edge.asset as usize > assets {
                return Err(Error::Corrupt("transfer log: unknown asset id".into()));
            }
            let identity = Graph::identity(&edge.tx_hash, edge.asset != 0);
            self.push_edge(edge, identity, index);
        }
        self.cursors.extend(batch.cursors);
        Ok(())
    }
}

/// One frame's content.
#[derive(Default)]
struct Batch {
    addresses: Vec<Address>,
    assets: Vec<Address>,
    edges: Vec<Edge>,
    cursors: Vec<(String, String)>,
}

impl Batch {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + 33 * (self.addresses.len() + self.assets.len()) + RECORD_BYTES * self.edges.len(),
        );
        out.extend_from_slice(&(self.addresses.len() as u32).to_le_bytes());
        for a in &self.addresses {
            out.push(a.workchain as u8);
            out.extend_from_slice(&a.hash);
        }
        out.extend_from_slice(&(self.assets.len() as u16).to_le_bytes());
        for a in &self.assets {
            out.push(a.workchain as u8);
            out.extend_from_slice(&a.hash);
        }
        out.extend_from_slice(&(self.edges.len() as u32).to_le_bytes());
        for e in &self.edges {
            out.extend_from_slice(&e.from.to_le_bytes());
            out.extend_from_slice(&e.to.to_le_bytes());
            out.extend_from_slice(&e.asset.to_le_bytes());
            out.extend_from_slice(&e.amount.to_le_bytes());
            out.extend_from_slice(&e.lt.to_le_bytes());
            out.extend_from_slice(&e.utime.to_le_bytes());
            out.extend_from_slice(&e.tx_hash);
        }
        out.extend_from_slice(&(self.cursors.len() as u16).to_le_bytes());
        for (name, value) in &self.cursors {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        out
    }

    fn decode(payload: &[u8]) -> Result<Batch> {
        let mut r = Reader(payload);
        let mut batch = Batch::default();
        for _ in 0..r.u32()? {
            batch.addresses.push(r.address()?);
        }
        for _ in 0..r.u16()? {
            batch.assets.push(r.address()?);
        }
        let n = r.u32()? as usize;
        if r.0.len() < n * RECORD_BYTES {
            return Err(damaged("transfer records run past the frame"));
        }
        batch.edges.reserve(n);
        for _ in 0..n {
            batch.edges.push(Edge {
                from: r.u32()?,
                to: r.u32()?,
                asset: r.u16()?,
                amount: u128::from_le_bytes(r.take::<16>()?),
                lt: u64::from_le_bytes(r.take::<8>()?),
                utime: r.u32()?,
                tx_hash: r.take::<32>()?,
            });
        }
        for _ in 0..r.u16()? {
            let len = r.take::<1>()?[0] as usize;
            let name = r.string(len)?;
            let len = r.u16()? as usize;
            let value = r.string(len)?;
            batch.cursors.push((name, value));
        }
        if !r.0.is_empty() {
            return Err(damaged("bytes after the last field"));
        }
        Ok(batch)
    }
}

fn damaged(what: &str) -> Error {
    Error::Corrupt(format!("transfer log: {what}"))
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        if self.0.len() < N {
            return Err(damaged("frame ends inside a field"));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        Ok(head.try_into().expect("N bytes"))
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn address(&mut self) -> Result<Address> {
        let bytes = self.take::<33>()?;
        Ok(Address::new(
            bytes[0] as i8,
            bytes[1..].try_into().expect("32"),
        ))
    }
    fn string(&mut self, len: usize) -> Result<String> {
        if self.0.len() < len {
            return Err(damaged("frame ends inside a cursor"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(head.to_vec()).map_err(|_| damaged("cursor is not UTF-8"))
    }
}

/// What one ingest call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// Transfers new to the store.
    pub added: usize,
    /// Transfers it already held (same transaction), not counted again.
    pub duplicates: usize,
    /// Ids of the new edges (a contiguous range).
    pub edges: std::ops::Range<u32>,
}

/// Where frames are kept besides the graph: a shared log that other processes append to too
/// (PostgreSQL, [`super::transfers_pg`]). The file log of one node is [`Log::File`].
pub trait SharedLog: Send + 'static {
    /// Frame payloads appended (by anyone) after those this process applied, in order, each
    /// checked; they are then counted as applied.
    fn fetch_new(&mut self) -> Result<Vec<Vec<u8>>>;
    /// Appends one frame durably unless another process appended first: then nothing is written
    /// and the frames to apply first are returned (the caller re-interns and retries).
    fn append(&mut self, payload: &[u8]) -> Result<Option<Vec<Vec<u8>>>>;
    /// Whether this process holds (or now takes) the lease of the singleton task `name` for
    /// `ttl`: one follower writes at a time.
    fn hold_lease(&mut self, name: &str, ttl: std::time::Duration) -> Result<bool>;
}

/// The frame log of a [`TransferStore`].
enum Log {
    /// In memory only.
    Memory,
    /// The log file of one node, held by the one writer at a time.
    File(File),
    /// A log shared by replicas.
    Shared(Box<dyn SharedLog>),
}

/// The transfer store: the log on disk (or shared, or none, in memory) and the graph.
pub struct TransferStore {
    graph: RwLock<Graph>,
    log: Mutex<Log>,
    path: Option<PathBuf>,
}

impl TransferStore {
    /// A store in memory only (tests, benchmarks of the engine).
    pub fn in_memory() -> TransferStore {
        TransferStore {
            graph: RwLock::new(Graph::default()),
            log: Mutex::new(Log::Memory),
            path: None,
        }
    }

    /// A store over a shared log: applies every frame it holds (each checked) to a new graph.
    pub fn shared(mut log: Box<dyn SharedLog>) -> Result<TransferStore> {
        let mut graph = Graph::default();
        for payload in log.fetch_new()? {
            graph.apply(Batch::decode(&payload)?, false)?;
        }
        // One index build over everything caught up, as when a log file is opened: without it
        // the replica's adjacency would hold none of these transfers.
        graph.reindex();
        Ok(TransferStore {
            graph: RwLock::new(graph),
            log: Mutex::new(Log::Shared(log)),
            path: None,
        })
    }

    /// Applies the frames other processes appended to a shared log since the last call (none
    /// for a file or memory store); returns how many.
    pub fn refresh(&self) -> Result<usize> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let Log::Shared(shared) = &mut *log else {
            return Ok(0);
        };
        let frames = shared.fetch_new()?;
        self.apply_frames(&frames)?;
        Ok(frames.len())
    }

    fn apply_frames(&self, frames: &[Vec<u8>]) -> Result<()> {
        if frames.is_empty() {
            return Ok(());
        }
        let batches = frames
            .iter()
            .map(|f| Batch::decode(f))
            .collect::<Result<Vec<_>>>()?;
        let mut graph = self.graph.write().unwrap_or_else(|p| p.into_inner());
        // Frames of other replicas are appended like this process's own batches: into the
        // adjacency's tail, rebuilt once it has grown.
        for batch in batches {
            graph.apply(batch, true)?;
        }
        if graph.incoming.wants_rebuild() || graph.outgoing.wants_rebuild() {
            graph.reindex();
        }
        Ok(())
    }

    /// Whether this process may run the singleton task `name` (the chain follower) now: always
    /// for a store of one process (the log's file lock already makes it the only writer); for
    /// a shared log, while it holds the lease (taken for `ttl`, renewed on each call).
    pub fn hold_lease(&self, name: &str, ttl: std::time::Duration) -> Result<bool> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *log {
            Log::Shared(shared) => shared.hold_lease(name, ttl),
            _ => Ok(true),
        }
    }

    /// Opens (or creates) the log in `dir`, checks every frame and rebuilds the graph.
    pub fn open(dir: &Path) -> Result<TransferStore> {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
        // Transfers name every screened counterparty: the operator's only, like the store.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)?;
        // One process at a time appends: a second node or command on this data dir is refused.
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| {
                Error::Store(format!(
                    "{} is in use by another process (a node or a follower)",
                    path.display()
                ))
            },
        )?;
        let len = file.metadata()?.len();
        let mut graph = Graph::default();
        if len == 0 {
            file.write_all(MAGIC)?;
            file.sync_all()?;
        } else {
            let good = replay(&file, len, &mut graph)?;
            // One index build over the whole log, not one insertion per edge.
            graph.reindex();
            if good < len {
                tracing::warn!(
                    path = %path.display(),
                    cut = len - good,
                    "transfer log ends in a torn frame (a crash while appending); cutting it off"
                );
                file.set_len(good)?;
                file.sync_all()?;
            }
        }
        file.seek(SeekFrom::End(0))?;
        Ok(TransferStore {
            graph: RwLock::new(graph),
            log: Mutex::new(Log::File(file)),
            path: Some(path),
        })
    }

    /// The log file's path (none in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Read access to the graph.
    pub fn graph(&self) -> RwLockReadGuard<'_, Graph> {
        self.graph.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A cursor stored with the transfers.
    pub fn cursor(&self, name: &str) -> Option<String> {
        self.graph().cursors.get(name).cloned()
    }

    /// Appends the transfers the store does not hold yet (and the cursors), durably, then adds
    /// them to the graph. Returns once the frame is on disk.
    pub fn append(&self, transfers: &[Transfer], cursors: &[(&str, &str)]) -> Result<Appended> {
        for (name, value) in cursors {
            if name.len() > u8::MAX as usize || value.len() > u16::MAX as usize {
                return Err(Error::InvalidRequest(
                    "cursor name or value too long".into(),
                ));
            }
        }
        // One writer at a time; readers keep reading the graph meanwhile.
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let (batch, identities, duplicates) = self.batch_of(transfers, cursors);
            if batch.edges.is_empty() && batch.cursors.is_empty() {
                let end = self.graph().edge_count() as u32;
                return Ok(Appended {
                    added: 0,
                    duplicates,
                    edges: end..end,
                });
            }
            let payload = batch.encode();
            match &mut *log {
                Log::Memory => {}
                Log::File(file) => {
                    let mut frame = Vec::with_capacity(8 + payload.len());
                    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                    frame.extend_from_slice(&CRC32C.checksum(&payload).to_le_bytes());
                    frame.extend_from_slice(&payload);
                    file.write_all(&frame)?;
                    // The batch (and its cursor) is acknowledged only once it is on disk.
                    file.sync_data()?;
                }
                Log::Shared(shared) => {
                    if let Some(behind) = shared.append(&payload)? {
                        // Another replica appended first: its frames take the next ids, so
                        // apply them and intern this batch again.
                        self.apply_frames(&behind)?;
                        continue;
                    }
                }
            }
            return Ok(self.apply_appended(batch, identities, duplicates));
        }
    }

    /// The frame `transfers` and `cursors` make over the graph now: the transfers it does not
    /// hold yet, with new addresses and assets interned after the graph's.
    fn batch_of(
        &self,
        transfers: &[Transfer],
        cursors: &[(&str, &str)],
    ) -> (Batch, Vec<u128>, usize) {
        let mut batch = Batch::default();
        let mut identities = Vec::with_capacity(transfers.len());
        let mut duplicates = 0;
        {
            let graph = self.graph();
            let mut new_ids: HashMap<Address, NodeId> = HashMap::new();
            let mut new_assets: HashMap<Address, u16> = HashMap::new();
            let mut batch_seen = HashSet::new();
            let mut intern = |address: Address, batch: &mut Batch| -> NodeId {
                if let Some(id) = graph.id(&address) {
                    return id;
                }
                *new_ids.entry(address).or_insert_with(|| {
                    batch.addresses.push(address);
                    (graph.address_count() + batch.addresses.len() - 1) as NodeId
                })
            };
            for t in transfers {
                let identity = Graph::identity(&t.tx_hash, t.asset != Asset::Ton);
                if graph.seen.contains(&identity) || !batch_seen.insert(identity) {
                    duplicates += 1;
                    continue;
                }
                let asset = match t.asset {
                    Asset::Ton => 0,
                    Asset::Jetton { master } => match graph.asset_ids.get(&master) {
                        Some(id) => *id,
                        None => *new_assets.entry(master).or_insert_with(|| {
                            batch.assets.push(master);
                            (graph.assets.len() + batch.assets.len()) as u16
                        }),
                    },
                };
                let from = intern(t.from, &mut batch);
                let to = intern(t.to, &mut batch);
                batch.edges.push(Edge {
                    from,
                    to,
                    asset,
                    amount: t.amount,
                    lt: t.lt,
                    utime: t.utime,
                    tx_hash: t.tx_hash,
                });
                identities.push(identity);
            }
        }
        batch.cursors = cursors
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        (batch, identities, duplicates)
    }

    /// Adds a frame written to the log to the graph.
    fn apply_appended(&self, batch: Batch, identities: Vec<u128>, duplicates: usize) -> Appended {
        let mut graph = self.graph.write().unwrap_or_else(|p| p.into_inner());
        let start = graph.edge_count() as u32;
        for address in batch.addresses {
            graph.push_address(address);
        }
        for master in batch.assets {
            graph.push_asset(master);
        }
        let added = batch.edges.len();
        for (edge, identity) in batch.edges.into_iter().zip(identities) {
            graph.push_edge(edge, identity, true);
        }
        if graph.incoming.wants_rebuild() || graph.outgoing.wants_rebuild() {
            graph.reindex();
        }
        graph.cursors.extend(batch.cursors);
        Appended {
            added,
            duplicates,
            edges: start..start + added as u32,
        }
    }
}

/// Reads every frame into `graph`; returns the length of the intact prefix.
fn replay(file: &File, len: u64, graph: &mut Graph) -> Result<u64> {
    read_frames(file, len, |_, payload| {
        graph.apply(Batch::decode(payload)?, false)
    })
}

/// The one reader of the log file's framing: checks the header, then each frame's length bound
/// and checksum, and hands every whole frame (its CRC32C and payload) to `visit`, in order.
/// Returns the length of the intact prefix: a frame cut short at the end is a torn append
/// (never acknowledged), anything else wrong is [`Error::Corrupt`].
pub(crate) fn read_frames(
    file: &File,
    len: u64,
    mut visit: impl FnMut(u32, &[u8]) -> Result<()>,
) -> Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    reader
        .read_exact(&mut magic)
        .map_err(|_| damaged("shorter than its header"))?;
    if &magic != MAGIC {
        return Err(damaged("not a transfer log (wrong header)"));
    }
    let mut at = MAGIC.len() as u64;
    let mut payload = Vec::new();
    while at < len {
        if len - at < 8 {
            return Ok(at);
        }
        let mut head = [0u8; 8];
        reader.read_exact(&mut head)?;
        let size = u32::from_le_bytes(head[..4].try_into().expect("4"));
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4"));
        if size > MAX_FRAME {
            return Err(damaged(&format!(
                "frame at byte {at} has an impossible length"
            )));
        }
        if len - at - 8 < size as u64 {
            // The last append did not finish: it was never acknowledged.
            return Ok(at);
        }
        payload.resize(size as usize, 0);
        reader.read_exact(&mut payload)?;
        if CRC32C.checksum(&payload) != crc {
            return Err(damaged(&format!("frame at byte {at} fails its checksum")));
        }
        visit(crc, &payload)?;
        at += 8 + size as u64;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(from: u8, to: u8, hash: u8, asset: Asset) -> Transfer {
        Transfer {
            from: Address::new(0, [from; 32]),
            to: Address::new(0, [to; 32]),
            asset,
            amount: 1_000 + hash as u128,
            lt: hash as u64,
            utime: 100,
            tx_hash: [hash; 32],
        }
    }

    #[test]
    fn transfers_survive_a_reopen_and_duplicates_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let usdt = Asset::Jetton {
            master: Address::new(0, [9; 32]),
        };
        {
            let store = TransferStore::open(dir.path()).unwrap();
            let done = store
                .append(
                    &[transfer(1, 2, 1, Asset::Ton), transfer(2, 3, 2, usdt)],
                    &[("tx", "5:0")],
                )
                .unwrap();
            assert_eq!((done.added, done.duplicates, done.edges), (2, 0, 0..2));
            let again = store
                .append(
                    &[transfer(1, 2, 1, Asset::Ton), transfer(1, 2, 1, usdt)],
                    &[],
                )
                .unwrap();
            assert_eq!(
                (again.added, again.duplicates),
                (1, 1),
                "same tx, other kind"
            );
        }
        let store = TransferStore::open(dir.path()).unwrap();
        let graph = store.graph();
        assert_eq!((graph.address_count(), graph.edge_count()), (3, 3));
        let e = graph.edge(1);
        assert_eq!(graph.asset(e.asset), usdt);
        assert_eq!(graph.address(e.to), Address::new(0, [3; 32]));
        drop(graph);
        assert_eq!(store.cursor("tx").as_deref(), Some("5:0"));
        assert_eq!(
            store
                .append(&[transfer(1, 2, 1, Asset::Ton)], &[])
                .unwrap()
                .duplicates,
            1,
            "the identity set is rebuilt at open"
        );
    }

    /// A shared log in memory: every handle sees the same frames, each applies them in order.
    struct MemoryShared {
        frames: std::sync::Arc<Mutex<Vec<Vec<u8>>>>,
        applied: usize,
    }

    impl SharedLog for MemoryShared {
        fn fetch_new(&mut self) -> Result<Vec<Vec<u8>>> {
            let frames = self.frames.lock().unwrap();
            let new = frames[self.applied..].to_vec();
            self.applied = frames.len();
            Ok(new)
        }
        fn append(&mut self, payload: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
            let mut frames = self.frames.lock().unwrap();
            if frames.len() != self.applied {
                drop(frames);
                return self.fetch_new().map(Some);
            }
            frames.push(payload.to_vec());
            self.applied += 1;
            Ok(None)
        }
        fn hold_lease(&mut self, _: &str, _: std::time::Duration) -> Result<bool> {
            Ok(true)
        }
    }

    /// The transfer ids into `to` as a graph's incoming adjacency holds them.
    fn into(store: &TransferStore, to: u8) -> Vec<u32> {
        let graph = store.graph();
        let id = graph.id(&Address::new(0, [to; 32])).expect("known address");
        let mut edges: Vec<u32> = graph.incoming().flows(id).map(|f| f.edge).collect();
        edges.sort();
        edges
    }

    #[test]
    fn a_replica_indexes_the_frames_it_catches_up_on_and_refreshes() {
        let frames = std::sync::Arc::new(Mutex::new(Vec::new()));
        let handle = || {
            Box::new(MemoryShared {
                frames: frames.clone(),
                applied: 0,
            })
        };
        let writer = TransferStore::shared(handle()).unwrap();
        writer
            .append(
                &[transfer(1, 2, 1, Asset::Ton), transfer(3, 2, 2, Asset::Ton)],
                &[],
            )
            .unwrap();
        // Opened after the writer's first frame: caught up at open.
        let replica = TransferStore::shared(handle()).unwrap();
        assert_eq!(
            into(&replica, 2),
            vec![0, 1],
            "frames read at open are indexed"
        );
        assert_eq!(into(&writer, 2), vec![0, 1]);
        writer
            .append(&[transfer(4, 2, 3, Asset::Ton)], &[])
            .unwrap();
        assert_eq!(replica.refresh().unwrap(), 1);
        assert_eq!(
            into(&replica, 2),
            vec![0, 1, 2],
            "frames of other replicas applied by refresh are indexed"
        );
        let graph = replica.graph();
        let id = graph.id(&Address::new(0, [2; 32])).unwrap();
        let window = graph.incoming().window(id, 0, 3, true);
        assert_eq!(
            window.built.flows().len() + window.tail.flows().len(),
            2,
            "before lt 3"
        );
    }

    #[test]
    fn a_torn_tail_is_cut_and_a_damaged_frame_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        {
            let store = TransferStore::open(dir.path()).unwrap();
            store.append(&[transfer(1, 2, 1, Asset::Ton)], &[]).unwrap();
            store.append(&[transfer(2, 3, 2, Asset::Ton)], &[]).unwrap();
        }
        let full = std::fs::read(&path).unwrap();
        // Torn: the second frame lost its last bytes.
        std::fs::write(&path, &full[..full.len() - 5]).unwrap();
        let store = TransferStore::open(dir.path()).unwrap();
        assert_eq!(store.graph().edge_count(), 1);
        drop(store);
        // Damaged: a flipped bit inside the first frame.
        let mut bad = full.clone();
        bad[MAGIC.len() + 20] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(
            TransferStore::open(dir.path()),
            Err(Error::Corrupt(what)) if what.contains("checksum")
        ));
        std::fs::write(&path, b"NOTALOG!").unwrap();
        assert!(matches!(
            TransferStore::open(dir.path()),
            Err(Error::Corrupt(what)) if what.contains("header")
        ));
    }
}
