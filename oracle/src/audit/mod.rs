//! The audit log: every attestation the node signs, hash-chained, on disk (fdatasync) before
//! it is answered, in append-only files of its own (`DATA_DIR/audit/`).
//!
//! # Layout
//!
//! - [`format`]: file header, frames (length + CRC32C), the compact binary record.
//! - [`log`]: scanning with recovery (torn-tail cut, damage refused), reading pages.
//! - [`anchor`]: the chain head `(entries, hash)` signed by the node's key, outside sled.
//! - [`committer`]: the one writer thread (group commit: one write, one fdatasync) and the
//!   anchor thread.
//! - [`view`]: entries as JSON for `GET /v1/audit`.
//! - [`migrate`]: moving a log kept in sled (before format 1) into the files.
//! - [`postgres`]: the log in PostgreSQL, one chain shared by replicas (the committer's
//!   [`committer::CommitBackend`] for a database).
//!
//! SPEC.md §11.1 describes the format and the recovery rules for other implementations.

pub mod anchor;
pub mod committer;
pub mod direct;
pub mod format;
pub mod log;
pub mod migrate;
pub mod pg_head;
pub mod postgres;
pub mod view;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde::Serialize;
use tokio::sync::oneshot;
use tollgate_sdk::Address;

use self::anchor::Anchor;
pub use self::committer::AttestedSubject;
use self::committer::{Committer, FileBackend, LogSink, Pending, Shared};
pub use self::format::{
    entry_hash, AuditRecord, Entry, EvidenceRecord, JudgementRecord, Kind, GENESIS,
};
use self::log::{log_path, PageReader};
use crate::error::{Error, Result};

/// The audit directory inside a data directory.
pub const AUDIT_DIR: &str = "audit";

/// How long a signing request waits for its commit before it is answered 503.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// How the log runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Most records per commit.
    pub batch_max: usize,
    /// How long a request waits for its commit.
    pub commit_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_max: 1024,
            commit_timeout: COMMIT_TIMEOUT,
        }
    }
}

/// What opening the log found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Entries in the log.
    pub entries: u64,
    /// Bytes of a torn last record that were cut (0 when the log ended cleanly).
    pub torn_bytes_cut: u64,
}

/// A handle to the audit log. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    reader: Reader,
    commit_timeout: Duration,
    batch_max: usize,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    opened: Opened,
}

/// Where pages are read from.
enum Reader {
    /// The log file (read up to the durable end the committer publishes).
    File(File),
    /// The database shared with other replicas (only committed rows are visible).
    Postgres(crate::store::postgres::PgPool),
}

/// Held by a request from its first check until it is answered: counts the requests in flight,
/// which sets how long the committer waits for a batch to fill.
pub struct Permit {
    shared: Arc<Shared>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl AuditLog {
    /// Opens (or creates) the log in `dir`, recovers it (see [`log`]), checks it against its
    /// anchor (signed by `key`) and starts the committer. Damage is refused with an error that
    /// says what is wrong and what the operator can do.
    pub fn open(dir: &Path, key: SigningKey, options: Options) -> Result<AuditLog> {
        AuditLog::open_with(dir, key, options, |file| Box::new(file))
    }

    /// [`AuditLog::open`] with the committer writing through `sink` (tests inject disk faults).
    pub fn open_with(
        dir: &Path,
        key: SigningKey,
        options: Options,
        sink: impl FnOnce(File) -> Box<dyn LogSink>,
    ) -> Result<AuditLog> {
        let (scan, opened) = recover(dir, &key)?;
        let path = log_path(dir);
        let (file, direct) = direct::open_for_append(&path)?;
        let reader = File::open(&path)?;
        // A direct write starts at a block boundary and repeats the records before it there.
        let mut tail = Vec::new();
        if direct {
            let in_block = scan.valid_len % direct::BLOCK as u64;
            tail.resize(in_block as usize, 0);
            std::os::unix::fs::FileExt::read_exact_at(
                &reader,
                &mut tail,
                scan.valid_len - in_block,
            )?;
        }
        tracing::info!(direct, log = %path.display(), "audit log open for appending");
        let shared = Arc::new(Shared::new(scan.entries, scan.valid_len, scan.index));
        let committer = Committer {
            backend: Box::new(FileBackend {
                sink: sink(file),
                shared: shared.clone(),
                len: scan.valid_len,
                allocated: scan.valid_len,
                next_seq: scan.entries,
                head: scan.head,
                buffer: Vec::with_capacity(64 * 1024),
                payload: Vec::with_capacity(1024),
                direct,
                tail,
                staging: direct::Aligned::default(),
                uncut: false,
            }),
            shared: shared.clone(),
            batch_max: options.batch_max.max(1),
            anchored: true,
            notes_subjects: true,
        };
        let mut threads = Vec::new();
        threads.push(
            std::thread::Builder::new()
                .name("audit-commit".into())
                .spawn(move || committer.run())?,
        );
        let (anchor_shared, anchor_dir) = (shared.clone(), dir.to_path_buf());
        threads.push(
            std::thread::Builder::new()
                .name("audit-anchor".into())
                .spawn(move || committer::anchor_loop(anchor_shared, anchor_dir, key))?,
        );
        Ok(AuditLog {
            inner: Arc::new(Inner {
                shared,
                reader: Reader::File(reader),
                commit_timeout: options.commit_timeout,
                batch_max: options.batch_max.max(1),
                threads: Mutex::new(threads),
                opened,
            }),
        })
    }

    /// Opens the log kept in the PostgreSQL database of `url` (shared with other replicas):
    /// checks its tail and head row ([`postgres::check_tail`]) and starts the committer, which
    /// commits one transaction per batch. `pool` serves `GET /v1/audit`. Damage is refused.
    ///
    /// `key` signs the head row; `data_dir` keeps the highest head this replica has seen
    /// ([`pg_head`]): a database older than that, or than the operator's pin `trust`, or on
    /// another branch, or whose head `key` did not sign, is refused; so is a non-empty chain
    /// when this replica has neither seen a head nor been given a pin.
    pub fn open_postgres(
        url: &str,
        pool: crate::store::postgres::PgPool,
        pg: &crate::store::postgres::PgOptions,
        options: Options,
        key: SigningKey,
        data_dir: &Path,
        trust: Option<pg_head::TrustedHead>,
    ) -> Result<AuditLog> {
        let config = crate::store::postgres::client_config(url, pg)?;
        pool.run_within(pg.open_timeout, postgres::check_tail)?;
        let mut seen = pg_head::SeenHead::load(data_dir)?;
        let (entries, seen) = {
            let key = key.clone();
            pool.run_within(pg.open_timeout, move |client| {
                let entries =
                    postgres::check_head_at_open(client, &key, &mut seen, trust.as_ref())?;
                Ok((entries, seen))
            })?
        };
        let shared = Arc::new(Shared::new(entries, 0, Vec::new()));
        let committer = Committer {
            backend: Box::new(postgres::PgBackend::new(config, key, seen)),
            shared: shared.clone(),
            batch_max: options.batch_max.max(1),
            anchored: false,
            // Other replicas append to the same chain: the log is the only complete account.
            notes_subjects: false,
        };
        let thread = std::thread::Builder::new()
            .name("audit-commit".into())
            .spawn(move || committer.run())?;
        Ok(AuditLog {
            inner: Arc::new(Inner {
                shared,
                reader: Reader::Postgres(pool),
                commit_timeout: options.commit_timeout,
                batch_max: options.batch_max.max(1),
                threads: Mutex::new(vec![thread]),
                opened: Opened {
                    entries,
                    torn_bytes_cut: 0,
                },
            }),
        })
    }

    /// What opening found.
    pub fn opened(&self) -> &Opened {
        &self.inner.opened
    }

    /// Checks that the log accepts records and counts the request as in flight until the
    /// permit drops.
    pub fn permit(&self) -> Result<Permit> {
        if !self.is_healthy() {
            return Err(Error::AuditUnavailable(
                "the audit log cannot write (an earlier commit failed)".into(),
            ));
        }
        self.inner.shared.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(Permit {
            shared: self.inner.shared.clone(),
        })
    }

    /// Appends a record; resolves with its seq once it is on disk, or with
    /// [`Error::AuditUnavailable`] when the commit fails or takes longer than the timeout.
    pub async fn append(&self, record: AuditRecord) -> Result<u64> {
        self.append_all(vec![record]).await
    }

    /// Appends records as one submission: they get consecutive seqs, go to disk in the same
    /// commit (one write, one fdatasync) and are acknowledged together; resolves with the first
    /// seq. At most [`Options::batch_max`] records (more could never fit one commit).
    pub async fn append_all(&self, records: Vec<AuditRecord>) -> Result<u64> {
        if records.is_empty() || records.len() > self.inner.batch_max {
            return Err(Error::InvalidRequest(format!(
                "an audit submission holds 1..={} records, not {}",
                self.inner.batch_max,
                records.len()
            )));
        }
        let (reply, wait) = oneshot::channel();
        let shared = &self.inner.shared;
        let queued = {
            let mut queue = shared
                .queue
                .lock()
                .map_err(|_| Error::AuditUnavailable("committer poisoned".into()))?;
            if queue.closing {
                return Err(Error::AuditUnavailable("the audit log is closing".into()));
            }
            queue.items.push_back(Pending { records, reply });
            queue.items.len()
        };
        // Wake the committer only when it has something to decide: the first record (it may be
        // idle) or a full batch (it may be in its commit window). Waking it for every record
        // costs a context switch each, which on one core is a large share of a request.
        let full = committer::BATCH_TARGET.min(shared.in_flight.load(Ordering::Acquire));
        if queued == 1 || queued >= full {
            shared.wake.notify_one();
        }
        match tokio::time::timeout(self.inner.commit_timeout, wait).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::AuditUnavailable("the committer stopped".into())),
            Err(_) => {
                // A disk that hangs is as bad as one that fails: stop taking requests until a
                // commit completes.
                self.inner
                    .shared
                    .published
                    .commit_ok
                    .store(false, Ordering::Release);
                Err(Error::AuditUnavailable(format!(
                    "commit did not finish within {:?}",
                    self.inner.commit_timeout
                )))
            }
        }
    }

    /// Whether the log accepts records (the last commit, probe and anchor write succeeded).
    pub fn is_healthy(&self) -> bool {
        let published = &self.inner.shared.published;
        published.commit_ok.load(Ordering::Acquire) && published.anchor_ok.load(Ordering::Acquire)
    }

    /// Most records one [`AuditLog::append_all`] takes.
    pub fn batch_max(&self) -> usize {
        self.inner.batch_max
    }

    /// Durable entries.
    pub fn len(&self) -> u64 {
        self.inner.shared.published.entries.load(Ordering::Acquire)
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `limit` durable entries with seq > `after` (from the start when `None`), with
    /// their hashes. Blocking (file reads).
    pub fn page(&self, after: Option<u64>, limit: usize) -> Result<Vec<(Entry, [u8; 32])>> {
        let file = match &self.inner.reader {
            Reader::File(file) => file,
            Reader::Postgres(pool) => {
                let from = match after {
                    Some(seq) => match seq.checked_add(1) {
                        Some(next) => next,
                        None => return Ok(Vec::new()),
                    },
                    None => 0,
                };
                return postgres::page(pool, from, limit);
            }
        };
        let published = &self.inner.shared.published;
        let end = published.len.load(Ordering::Acquire);
        let entries = published.entries.load(Ordering::Acquire);
        let from = match after {
            Some(seq) => match seq.checked_add(1) {
                Some(next) => next,
                None => return Ok(Vec::new()),
            },
            None => 0,
        };
        if from >= entries {
            return Ok(Vec::new());
        }
        let slot = from / log::INDEX_EVERY;
        let offset = published
            .index
            .read()
            .map_err(|_| Error::AuditUnavailable("index poisoned".into()))?
            .get(slot as usize)
            .copied()
            .ok_or_else(|| Error::AuditUnavailable("index behind the log".into()))?;
        PageReader { file, end }.read(offset, slot * log::INDEX_EVERY, from, limit)
    }

    /// The subjects of the attestations this process committed since the last call, with the
    /// number of entries the log held when it was opened (entries before that are read from the
    /// log); `None` for a database shared by replicas, whose log is the only complete account.
    /// Each subject has its latest attestation; expired ones may already be gone.
    pub fn take_committed(&self) -> Option<(u64, HashMap<Address, AttestedSubject>)> {
        match self.inner.reader {
            Reader::File(_) => {
                let mut committed = self
                    .inner
                    .shared
                    .committed
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                Some((
                    self.inner.opened.entries,
                    std::mem::take(&mut committed.subjects),
                ))
            }
            Reader::Postgres(_) => None,
        }
    }

    /// Stops taking records, commits what is queued, writes the final anchor and joins the
    /// threads. Blocking.
    pub fn close(&self) {
        if let Ok(mut queue) = self.inner.shared.queue.lock() {
            queue.closing = true;
        }
        self.inner.shared.wake.notify_all();
        let mut threads = match self.inner.threads.lock() {
            Ok(mut threads) => std::mem::take(&mut *threads),
            Err(_) => return,
        };
        if !threads.is_empty() {
            let _ = threads.remove(0).join(); // the committer: everything queued is answered
        }
        committer::close_anchor(&self.inner.shared);
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Opens the log directory for use: creates an empty log when there is none, scans it, checks
/// the anchor, cuts a torn tail. Returns the scan of the intact log.
fn recover(dir: &Path, key: &SigningKey) -> Result<(log::Scan, Opened)> {
    std::fs::create_dir_all(dir)?;
    let path = log_path(dir);
    let anchor = Anchor::read(dir)?;
    if !path.exists() {
        if let Some(anchor) = &anchor {
            return Err(Error::AnchorMismatch(format!(
                "the anchor covers {} entries but the log file {} is missing: restore it from a backup; do not sign from this data dir until then",
                anchor.entries,
                path.display()
            )));
        }
        log::create(dir)?;
    }
    let scan = log::scan(&path, anchor.map(|a| a.entries), |_, _| Ok(()))?;
    log::check_anchor(&scan, anchor.as_ref(), key.verifying_key().as_bytes())?;
    if scan.torn_bytes > 0 {
        tracing::warn!(
            bytes = scan.torn_bytes,
            reason = scan.torn_reason.unwrap_or("torn"),
            entries = scan.entries,
            "cutting a torn tail from the audit log (a commit that crashed before it was answered)"
        );
        log::cut_torn_tail(&path, scan.valid_len)?;
    } else if scan.spare_bytes > 0 {
        // A node that did not close left the zeros it wrote ahead: cut them, the committer
        // writes its own.
        log::cut_torn_tail(&path, scan.valid_len)?;
    }
    if anchor.is_none() {
        Anchor::write(dir, scan.entries, &scan.head, key)?;
    }
    let opened = Opened {
        entries: scan.entries,
        torn_bytes_cut: scan.torn_bytes,
    };
    Ok((scan, opened))
}

/// What [`verify_dir`] found in an intact log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Entries checked.
    pub entries: u64,
    /// Hash of the last entry (the chain head), hex; the genesis hash for an empty log.
    pub head: String,
    /// Entries the anchor covers.
    pub anchored: u64,
    /// The key that signed the anchor, hex.
    pub anchor_key: String,
    /// Bytes of a torn last record (a commit that crashed unanswered; the node cuts it at start).
    pub torn_bytes: u64,
}

/// Checks the whole audit directory without changing it: every frame, link, BoC hash and
/// signature, and the anchor (signature, position, hash). `key`, when given, must be the key
/// that signed the anchor. Any damage is an error ([`Error::AuditBroken`], or
/// [`Error::AnchorInvalid`]/[`Error::AnchorMismatch`]).
pub fn verify_dir(dir: &Path, key: Option<[u8; 32]>) -> Result<VerifyReport> {
    let path = log_path(dir);
    let anchor = Anchor::read(dir)?;
    if !path.exists() {
        return Err(Error::AuditBroken {
            seq: 0,
            reason: format!("no audit log at {}", path.display()),
        });
    }
    let scan = log::scan(&path, anchor.map(|a| a.entries), |entry, _| {
        check_signature(&entry.record).map_err(|reason| Error::AuditBroken {
            seq: entry.seq,
            reason,
        })
    })?;
    let anchor_key = match (key, &anchor) {
        (Some(key), _) => key,
        (None, Some(anchor)) => anchor.public_key,
        (None, None) => [0; 32],
    };
    log::check_anchor(&scan, anchor.as_ref(), &anchor_key)?;
    Ok(VerifyReport {
        entries: scan.entries,
        head: hex::encode(scan.head),
        anchored: anchor.map(|a| a.entries).unwrap_or(0),
        anchor_key: hex::encode(anchor_key),
        torn_bytes: scan.torn_bytes,
    })
}

/// Accepts the log as it is: verifies it fully and writes an anchor for its head with `key`.
/// For an operator who moved a log, or rotated the key, and checked the log.
pub fn reanchor(dir: &Path, key: &SigningKey) -> Result<VerifyReport> {
    let path = log_path(dir);
    let scan = log::scan(&path, None, |entry, _| {
        check_signature(&entry.record).map_err(|reason| Error::AuditBroken {
            seq: entry.seq,
            reason,
        })
    })?;
    if scan.torn_bytes > 0 {
        log::cut_torn_tail(&path, scan.valid_len)?;
    }
    Anchor::write(dir, scan.entries, &scan.head, key)?;
    verify_dir(dir, Some(key.verifying_key().to_bytes()))
}

/// Checks one record: its signature over its attestation's hash, by its public key.
pub fn check_signature(record: &AuditRecord) -> std::result::Result<(), String> {
    let key = VerifyingKey::from_bytes(&record.public_key).map_err(|_| "public key is invalid")?;
    record
        .attestation
        .verify(&key, &Signature::from_bytes(&record.signature))
        .map_err(|_| "signature does not verify".to_string())
}

/// The audit directory of a data directory.
pub fn dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join(AUDIT_DIR)
}

#[cfg(test)]
mod tests;
