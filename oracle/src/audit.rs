//! The audit log: every attestation the node signs, hash-chained, durable before it is answered.
//!
//! # Chain
//!
//! Entry `n` is stored as JSON bytes; its hash is SHA-256 of exactly those bytes. Entry `n`
//! holds `prev_hash` = the hash of entry `n - 1` (64 zeros for entry 0), so changing, removing
//! or reordering any entry breaks every link after it. [`verify_chain`] walks the log and reports
//! the first broken link; it also checks each entry's attestation BoC, hash and signature.
//!
//! # Group commit
//!
//! A single writer task owns the tail of the chain. Request handlers send their records over a
//! channel and wait on a oneshot. The writer takes everything queued (up to `batch_max`), chains
//! it and writes it as one sled batch; a flush thread then flushes once (for every batch queued)
//! and only after that answers the batch's handlers. While one batch flushes, the writer already
//! chains and writes the next, so under load one flush covers many attestations and durability
//! costs little throughput. A response is never sent before its entry is on disk.
//!
//! If a write or flush fails, the writer answers every waiting handler with an error and stops
//! accepting entries: the node fails closed and signs nothing it could not record.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tollgate_sdk::Attestation;

use crate::error::{Error, Result};
use crate::store::Store;

/// `prev_hash` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// What a handler records about one signature.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditRecord {
    /// `attest` (the node's own attestation) or `cosign` (a client's proposal co-signed).
    pub kind: String,
    /// The request as received (after parsing).
    pub request: serde_json::Value,
    /// The attestation signed.
    pub attestation: Attestation,
    /// Its BoC, base64.
    pub boc: String,
    /// Its hash (what was signed), hex.
    pub hash: String,
    /// The node's judgement of the subject: score, level, categories and evidence.
    pub judgement: serde_json::Value,
    /// The scoring policy and label data used.
    pub policy_version: String,
    /// The signer index.
    pub signer_index: u8,
    /// The signer's public key, hex.
    pub public_key: String,
    /// The signature, hex.
    pub signature: String,
}

/// One entry of the chain, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// SHA-256 (hex) of the previous entry's stored bytes.
    pub prev_hash: String,
    /// Unix seconds when written.
    pub recorded_at: u64,
    /// What was signed.
    #[serde(flatten)]
    pub record: AuditRecord,
}

/// SHA-256 of an entry's stored bytes.
pub fn entry_hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

struct Pending {
    record: AuditRecord,
    reply: oneshot::Sender<Result<u64>>,
}

/// A handle to the audit writer. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Pending>,
    healthy: Arc<AtomicBool>,
}

impl AuditLog {
    /// Starts the writer after checking that the log's last entry is readable; a log whose tail
    /// cannot be read is refused (the node would otherwise fork the chain).
    pub fn start(store: Arc<dyn Store>, batch_max: usize) -> Result<(AuditLog, JoinHandle<()>)> {
        let (next_seq, prev) = match store.audit_last()? {
            Some((seq, bytes)) => {
                let entry: AuditEntry =
                    serde_json::from_slice(&bytes).map_err(|err| Error::AuditBroken {
                        seq,
                        reason: format!("last entry unreadable: {err}"),
                    })?;
                if entry.seq != seq {
                    return Err(Error::AuditBroken {
                        seq,
                        reason: format!("entry says seq {}", entry.seq),
                    });
                }
                (seq + 1, entry_hash(&bytes))
            }
            None => (0, GENESIS),
        };
        let (tx, rx) = mpsc::channel(batch_max.max(1) * 4);
        let healthy = Arc::new(AtomicBool::new(true));
        let writer = Writer {
            store,
            rx,
            next_seq,
            prev,
            batch_max: batch_max.max(1),
            healthy: healthy.clone(),
        };
        let handle = tokio::task::spawn_blocking(move || writer.run());
        Ok((AuditLog { tx, healthy }, handle))
    }

    /// Appends a record; resolves with its seq once it is durable.
    pub async fn append(&self, record: AuditRecord) -> Result<u64> {
        if !self.is_healthy() {
            return Err(Error::AuditUnavailable("an earlier write failed".into()));
        }
        let (reply, wait) = oneshot::channel();
        self.tx
            .send(Pending { record, reply })
            .await
            .map_err(|_| Error::AuditUnavailable("writer stopped".into()))?;
        wait.await
            .map_err(|_| Error::AuditUnavailable("writer stopped".into()))?
    }

    /// Whether the log still accepts entries.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }
}

struct Writer {
    store: Arc<dyn Store>,
    rx: mpsc::Receiver<Pending>,
    next_seq: u64,
    prev: [u8; 32],
    batch_max: usize,
    healthy: Arc<AtomicBool>,
}

/// A written batch waiting for its flush.
struct Written {
    replies: Vec<(u64, oneshot::Sender<Result<u64>>)>,
    started: std::time::Instant,
}

impl Writer {
    /// The writer's loop, on a thread of its own (sled is blocking, and a thread hop per batch
    /// costs more than the batch on a busy machine). A second thread flushes, so that the next
    /// batch is chained and written while the previous one's fsync runs; the channel between
    /// them holds one batch, so a slow disk makes the writer wait and batches grow.
    fn run(mut self) {
        let (to_flusher, flush_queue) = std::sync::mpsc::sync_channel::<Written>(1);
        let flusher = {
            let (store, healthy) = (self.store.clone(), self.healthy.clone());
            std::thread::Builder::new()
                .name("audit-flush".into())
                .spawn(move || flush_loop(store.as_ref(), &flush_queue, &healthy))
        };
        let Ok(flusher) = flusher else {
            self.fail("cannot start the flush thread");
            return;
        };
        let mut batch = Vec::with_capacity(self.batch_max);
        while let Some(first) = self.rx.blocking_recv() {
            batch.push(first);
            while batch.len() < self.batch_max {
                match self.rx.try_recv() {
                    Ok(pending) => batch.push(pending),
                    Err(_) => break,
                }
            }
            if let Some(written) = self.write(&mut batch) {
                if to_flusher.send(written).is_err() {
                    self.fail("flush thread stopped");
                }
            }
        }
        // All senders are gone (shutdown): let the flusher answer the last batches.
        drop(to_flusher);
        let _ = flusher.join();
    }

    /// Chains and writes a batch; returns it for flushing, or answers it with an error.
    fn write(&mut self, batch: &mut Vec<Pending>) -> Option<Written> {
        if !self.healthy.load(Ordering::Acquire) {
            for pending in batch.drain(..) {
                let _ = pending.reply.send(Err(Error::AuditUnavailable(
                    "an earlier write failed".into(),
                )));
            }
            return None;
        }
        let started = std::time::Instant::now();
        let recorded_at = crate::unix_now();
        let (mut seq, mut prev) = (self.next_seq, self.prev);
        let mut entries = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for pending in batch.drain(..) {
            let entry = AuditEntry {
                seq,
                prev_hash: hex::encode(prev),
                recorded_at,
                record: pending.record,
            };
            match serde_json::to_vec(&entry) {
                Ok(bytes) => {
                    prev = entry_hash(&bytes);
                    entries.push((seq, bytes));
                    replies.push((seq, pending.reply));
                    seq += 1;
                }
                Err(err) => {
                    let _ = pending
                        .reply
                        .send(Err(Error::AuditUnavailable(format!("encode: {err}"))));
                }
            }
        }
        if entries.is_empty() {
            return None;
        }
        if let Err(err) = self.store.audit_write(&entries) {
            self.fail(&err.to_string());
            for (_, reply) in replies {
                let _ = reply.send(Err(Error::AuditUnavailable("write failed".into())));
            }
            return None;
        }
        metrics::histogram!("tollgate_audit_batch_size").record(entries.len() as f64);
        self.next_seq = seq;
        self.prev = prev;
        Some(Written { replies, started })
    }

    fn fail(&self, reason: &str) {
        tracing::error!(%reason, "audit write failed: the node stops signing");
        self.healthy.store(false, Ordering::Release);
    }
}

/// Flushes written batches — all that are queued with one flush — and only then answers them.
/// A flush covers everything written before it started, so each batch is answered after a flush
/// that began after its write.
fn flush_loop(store: &dyn Store, queue: &std::sync::mpsc::Receiver<Written>, healthy: &AtomicBool) {
    while let Ok(first) = queue.recv() {
        let mut batches = vec![first];
        while let Ok(more) = queue.try_recv() {
            batches.push(more);
        }
        match store.flush() {
            Ok(()) => {
                for batch in batches {
                    metrics::histogram!("tollgate_audit_commit_seconds")
                        .record(batch.started.elapsed().as_secs_f64());
                    metrics::counter!("tollgate_audit_entries_total")
                        .increment(batch.replies.len() as u64);
                    for (seq, reply) in batch.replies {
                        let _ = reply.send(Ok(seq));
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "audit flush failed: the node stops signing");
                healthy.store(false, Ordering::Release);
                for (_, reply) in batches.into_iter().flat_map(|b| b.replies) {
                    let _ = reply.send(Err(Error::AuditUnavailable("flush failed".into())));
                }
            }
        }
    }
}

/// What [`verify_chain`] found in an intact log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Entries checked.
    pub entries: u64,
    /// Hash of the last entry (the chain head), hex; the genesis hash for an empty log.
    pub head: String,
}

/// Walks the whole log: seqs contiguous from 0, each `prev_hash` matching, each attestation's
/// BoC decoding to the recorded fields and hash, each signature valid. Returns the first broken
/// link as [`Error::AuditBroken`].
pub fn verify_chain(store: &dyn Store) -> Result<VerifyReport> {
    const PAGE: usize = 1024;
    let (mut expected, mut prev, mut after) = (0u64, GENESIS, None);
    loop {
        let page = store.audit_after(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.0);
        for (seq, bytes) in page {
            let broken = |reason: String| Error::AuditBroken { seq, reason };
            if seq != expected {
                return Err(Error::AuditBroken {
                    seq: expected,
                    reason: format!("missing; next entry is {seq}"),
                });
            }
            let entry: AuditEntry = serde_json::from_slice(&bytes)
                .map_err(|err| broken(format!("unreadable: {err}")))?;
            if entry.seq != seq {
                return Err(broken(format!("entry says seq {}", entry.seq)));
            }
            if entry.prev_hash != hex::encode(prev) {
                return Err(broken("prev_hash does not match the previous entry".into()));
            }
            check_signature(&entry.record).map_err(broken)?;
            prev = entry_hash(&bytes);
            expected += 1;
        }
    }
    Ok(VerifyReport {
        entries: expected,
        head: hex::encode(prev),
    })
}

fn check_signature(record: &AuditRecord) -> std::result::Result<(), String> {
    let decoded = Attestation::from_boc_base64(&record.boc).map_err(|err| format!("boc: {err}"))?;
    if decoded != record.attestation {
        return Err("boc does not match the recorded fields".into());
    }
    let hash = decoded.hash().map_err(|err| format!("hash: {err}"))?;
    if hex::encode(hash) != record.hash {
        return Err("recorded hash does not match the attestation".into());
    }
    let key: [u8; 32] = hex::decode(&record.public_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or("public key is not 32 bytes of hex")?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| "public key is invalid")?;
    let signature: [u8; 64] = hex::decode(&record.signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or("signature is not 64 bytes of hex")?;
    decoded
        .verify(&key, &Signature::from_bytes(&signature))
        .map_err(|_| "signature does not verify".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;
    use ed25519_dalek::SigningKey;
    use tollgate_sdk::{Address, Categories, Network};

    pub(crate) fn record(nonce: u64) -> AuditRecord {
        let key = SigningKey::from_bytes(&[5; 32]);
        let attestation = Attestation {
            network: Network::TESTNET,
            verifier: Address::new(0, [1; 32]),
            subject: Address::new(0, [2; 32]),
            risk: 10,
            categories: Categories::EXCHANGE,
            issued_at: 1000,
            valid_until: 1600,
            epoch: 1,
            nonce,
        };
        let signature = attestation.sign(&key).unwrap();
        AuditRecord {
            kind: "attest".into(),
            request: serde_json::json!({}),
            attestation,
            boc: attestation.to_boc_base64().unwrap(),
            hash: hex::encode(attestation.hash().unwrap()),
            judgement: serde_json::json!({}),
            policy_version: "test".into(),
            signer_index: 0,
            public_key: hex::encode(key.verifying_key().as_bytes()),
            signature: hex::encode(signature.to_bytes()),
        }
    }

    #[tokio::test]
    async fn concurrent_appends_chain_and_verify_across_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
            let (log, writer) = AuditLog::start(store.clone(), 16).unwrap();
            let tasks: Vec<_> = (0..100)
                .map(|n| {
                    let log = log.clone();
                    tokio::spawn(async move { log.append(record(n)).await.unwrap() })
                })
                .collect();
            let mut seqs = Vec::new();
            for task in tasks {
                seqs.push(task.await.unwrap());
            }
            seqs.sort();
            assert_eq!(seqs, (0..100).collect::<Vec<_>>());
            drop(log);
            writer.await.unwrap();
        }
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let (log, _) = AuditLog::start(store.clone(), 16).unwrap();
        assert_eq!(log.append(record(100)).await.unwrap(), 100);
        assert_eq!(verify_chain(store.as_ref()).unwrap().entries, 101);
    }

    #[test]
    fn verify_reports_the_first_broken_link() {
        let store = SledStore::temporary().unwrap();
        let mut prev = GENESIS;
        let mut entries = Vec::new();
        for seq in 0..5 {
            let entry = AuditEntry {
                seq,
                prev_hash: hex::encode(prev),
                recorded_at: 0,
                record: record(seq),
            };
            let bytes = serde_json::to_vec(&entry).unwrap();
            prev = entry_hash(&bytes);
            entries.push((seq, bytes));
        }
        // Tamper with entry 2's risk: its own fields no longer match its signature...
        let mut tampered: AuditEntry = serde_json::from_slice(&entries[2].1).unwrap();
        tampered.record.attestation.risk = 0;
        entries[2].1 = serde_json::to_vec(&tampered).unwrap();
        store.audit_write(&entries).unwrap();
        match verify_chain(&store) {
            Err(Error::AuditBroken { seq: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
