//! The one thread that appends to the log, and the thread that keeps the anchor current.
//!
//! # Commit
//!
//! Handlers queue their submissions (one record, or all records of a batch request) and wait.
//! The committer takes the first submission, then waits up to [`COMMIT_WINDOW`] (≈ 1 ms) while
//! fewer than min([`BATCH_TARGET`], in-flight signing requests) submissions are queued — requests already being judged and signed will arrive within
//! that time, and one fdatasync then covers them all. It takes whole submissions while they fit
//! in `batch_max` records (a submission is never split across commits, so a batch request is
//! answered by one fdatasync), chains them, frames it into one buffer, makes **one write and one fdatasync**,
//! and only after the fdatasync returns answers every waiter. So an acknowledgement always
//! follows the fdatasync of its record (a power-loss-safe point, unlike sled's flush).
//!
//! # Failure
//!
//! If the write or the fdatasync fails (disk full, EIO), the file is truncated back to the last
//! commit, every waiter gets [`Error::AuditUnavailable`] (503), and the log reports unhealthy
//! (readiness 503, signing refused). While unhealthy and idle the committer probes the disk
//! every [`PROBE_INTERVAL`] (write and fdatasync the step of zeros the next commit needs, and
//! keep it); when that succeeds it is healthy again. A waiter never waits longer than the commit timeout: a hung
//! disk also answers 503, and marks the log unhealthy until a commit succeeds.
//!
//! # Backends
//!
//! The pipeline above does not know the medium: a [`CommitBackend`] appends each batch as one
//! unit. [`FileBackend`] writes the audit files (one write, one fdatasync); the PostgreSQL
//! backend ([`super::postgres`]) commits one transaction per batch under the chain head's row
//! lock, so replicas sharing a database append one after another to one chain.
//!
//! # Anchor
//!
//! After each commit the committer hands the new head to the anchor thread, which writes the
//! signed anchor ([`super::anchor`]) at most every [`ANCHOR_INTERVAL`] — three fsyncs per write
//! would otherwise cost more than the commits themselves. The anchor therefore trails the log
//! by at most that interval; it is written once more when the log closes.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tokio::sync::oneshot;
use tollgate_sdk::Address;

use super::anchor::AnchorWriter;
use super::direct::{Aligned, BLOCK};
use super::format::{entry_hash, frame, AuditRecord, Entry};
use super::log::INDEX_EVERY;
use crate::error::{Error, Result};

/// How long the committer waits for more records before committing a small batch.
pub const COMMIT_WINDOW: Duration = Duration::from_millis(1);

/// Queued records at which the committer stops waiting (fewer when fewer requests are in flight).
pub const BATCH_TARGET: usize = 48;

/// How often an unhealthy, idle committer tries the disk again.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Least time between two anchor writes.
pub const ANCHOR_INTERVAL: Duration = Duration::from_millis(10);

/// The log file grows by zero-filled steps of this size ahead of the records (SPEC.md §11.1).
/// A commit that writes inside space already on disk does not change the file's size, so its
/// fdatasync flushes the records alone; one that had to grow the file also writes its inode,
/// a second synchronous write the disk must finish before anyone is answered. The step is
/// small because the commit that grows the file writes it: 256 KiB took 0.6–1.8 ms to write
/// and flush here, 4 MiB 23 ms (a latency spike for every request in that commit); at ≈ 500
/// bytes an entry, one commit in ten or more grows the file.
pub const PREALLOCATE: u64 = 256 << 10;
const _: () = assert!(
    PREALLOCATE.is_multiple_of(BLOCK as u64),
    "steps end on block boundaries"
);

/// The file operations the committer needs, so that tests can inject disk faults into a real
/// file (see `tests::FaultyFile`).
pub trait LogSink: Send + Sync + 'static {
    /// Writes all of `bytes` at `offset`.
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> std::io::Result<()>;
    /// fdatasync.
    fn sync_data(&self) -> std::io::Result<()>;
    /// Truncates (or extends) the file.
    fn set_len(&self, len: u64) -> std::io::Result<()>;
}

impl LogSink for File {
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> std::io::Result<()> {
        FileExt::write_all_at(self, bytes, offset)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        File::sync_data(self)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        File::set_len(self, len)
    }
}
use std::os::unix::fs::FileExt;

/// Records waiting for their commit, answered together with the seq of the first.
pub(crate) struct Pending {
    pub(crate) records: Vec<AuditRecord>,
    pub(crate) reply: oneshot::Sender<Result<u64>>,
}

/// The queue between handlers and the committer.
#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) items: VecDeque<Pending>,
    pub(crate) closing: bool,
}

/// What the committer publishes after each commit, for readers and health.
pub struct Published {
    /// Durable length of the log file (readers never read past it).
    pub len: AtomicU64,
    /// Durable entries.
    pub entries: AtomicU64,
    /// Offsets of every [`INDEX_EVERY`]-th entry.
    pub index: RwLock<Vec<u64>>,
    /// False after a failed or timed-out commit, until a commit or probe succeeds.
    pub commit_ok: AtomicBool,
    /// False while the anchor cannot be written.
    pub anchor_ok: AtomicBool,
}

/// State shared by the handle, the committer and the anchor thread.
pub(crate) struct Shared {
    pub(crate) queue: Mutex<Queue>,
    pub(crate) wake: Condvar,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) published: Published,
    pub(crate) anchor: Mutex<AnchorState>,
    pub(crate) anchor_wake: Condvar,
    /// What this process committed since [`super::AuditLog::take_committed`] last took it.
    pub(crate) committed: Mutex<Committed>,
}

/// The latest attestation of a subject, as its audit record has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttestedSubject {
    /// The attestation's `valid_until`.
    pub valid_until: u32,
    /// The judgement's score.
    pub score: u8,
    /// The judgement's category mask.
    pub categories: u32,
}

impl AttestedSubject {
    /// What `record` says of its subject.
    pub fn of(record: &AuditRecord) -> AttestedSubject {
        AttestedSubject {
            valid_until: record.attestation.valid_until,
            score: record.judgement.score,
            categories: record.judgement.categories,
        }
    }

    /// Keeps a subject's latest attestation in `subjects`: `seen` replaces what is kept unless
    /// that is valid for longer (the one rule for the log and for the committer's notes).
    pub fn keep_latest(
        subjects: &mut HashMap<Address, AttestedSubject>,
        subject: Address,
        seen: AttestedSubject,
    ) {
        subjects
            .entry(subject)
            .and_modify(|kept| {
                if seen.valid_until >= kept.valid_until {
                    *kept = seen;
                }
            })
            .or_insert(seen);
    }
}

/// Subjects of the attestations the committer made durable since they were last taken, so the
/// set of valid attestations (`changes::Attested`) need not read back every entry it wrote.
/// Bounded without a reader: expired subjects are dropped whenever the map doubles.
#[derive(Default)]
pub(crate) struct Committed {
    pub(crate) subjects: HashMap<Address, AttestedSubject>,
    prune_at: usize,
}

impl Committed {
    /// Notes a committed record; a subject keeps its latest attestation.
    fn note(&mut self, record: &AuditRecord, now: u64) {
        AttestedSubject::keep_latest(
            &mut self.subjects,
            record.attestation.subject,
            AttestedSubject::of(record),
        );
        if self.subjects.len() >= self.prune_at.max(4096) {
            self.subjects
                .retain(|_, kept| u64::from(kept.valid_until) >= now);
            self.prune_at = self.subjects.len() * 2;
        }
    }
}

#[derive(Default)]
pub(crate) struct AnchorState {
    /// The newest head not yet anchored.
    pending: Option<(u64, [u8; 32])>,
    closing: bool,
}

impl Shared {
    pub(crate) fn new(entries: u64, len: u64, index: Vec<u64>) -> Shared {
        Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            in_flight: AtomicUsize::new(0),
            published: Published {
                len: AtomicU64::new(len),
                entries: AtomicU64::new(entries),
                index: RwLock::new(index),
                commit_ok: AtomicBool::new(true),
                anchor_ok: AtomicBool::new(true),
            },
            anchor: Mutex::new(AnchorState::default()),
            anchor_wake: Condvar::new(),
            committed: Mutex::new(Committed::default()),
        }
    }
}

/// What a backend appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Seq of the batch's first entry.
    pub first: u64,
    /// Entries in the log after the batch.
    pub entries: u64,
    /// Hash of the batch's last entry: the new head.
    pub head: [u8; 32],
}

/// Where the committer appends a batch: the seam between the commit pipeline (queue, window,
/// answers, health) and the medium. [`FileBackend`] writes the audit files; the PostgreSQL
/// backend ([`super::postgres`]) a database shared by replicas.
pub trait CommitBackend: Send + 'static {
    /// Chains `records` after the log's current head (with `recorded_at`), makes them durable
    /// as one unit, and says where they went. Nothing of the batch may be left behind when it
    /// fails: the committer then answers every record 503.
    fn append(
        &mut self,
        records: &mut dyn ExactSizeIterator<Item = &AuditRecord>,
        recorded_at: u64,
    ) -> std::result::Result<Appended, String>;
    /// After a failure, whether the medium accepts writes again.
    fn probe(&mut self) -> std::result::Result<(), String>;
    /// The log closes: leave the medium as a reader expects a closed log (the files: no
    /// zero-filled space after the last record).
    fn close(&mut self) {}
}

/// The audit files: one write and one fdatasync per batch.
pub(crate) struct FileBackend {
    pub(crate) sink: Box<dyn LogSink>,
    pub(crate) shared: Arc<Shared>,
    /// End of the last record: where the next batch goes.
    pub(crate) len: u64,
    /// Size of the file: zeros from `len` up to here were written ahead ([`PREALLOCATE`]).
    pub(crate) allocated: u64,
    pub(crate) next_seq: u64,
    pub(crate) head: [u8; 32],
    pub(crate) buffer: Vec<u8>,
    pub(crate) payload: Vec<u8>,
    /// Whether the file is open with `O_DIRECT` ([`super::direct`]): writes in whole blocks.
    pub(crate) direct: bool,
    /// Direct: the bytes of the last block before `len` (its records), which a write starting
    /// at that block's boundary repeats. Empty for a buffered file.
    pub(crate) tail: Vec<u8>,
    /// The aligned buffer each write is made from.
    pub(crate) staging: Aligned,
    /// A failed commit could not be cut off the file: the next commit cuts it first.
    pub(crate) uncut: bool,
}

/// The size a write ending at `end` grows the file to: the first step boundary at or after
/// `end`, and one more step of zeros ([`PREALLOCATE`]).
fn step_after(end: u64) -> u64 {
    end.div_ceil(PREALLOCATE) * PREALLOCATE + PREALLOCATE
}

impl FileBackend {
    /// Before a write: a failed commit's bytes may still lie past the records (cutting them
    /// failed too). They are cut first, or this write's zeros could end before them and leave
    /// them for recovery to find after a crash. The write's fdatasync covers the size.
    fn cut_failed_commit(&mut self) -> std::result::Result<(), String> {
        if self.uncut {
            self.sink.set_len(self.len).map_err(|err| {
                format!("cannot cut the bytes of a failed commit off the log: {err}")
            })?;
            self.uncut = false;
        }
        Ok(())
    }

    /// After a failed write: no partial record is left behind for the next commit to append
    /// after, and nothing is taken as written ahead.
    fn undo_write(&mut self) {
        self.uncut = self.sink.set_len(self.len).is_err();
        self.allocated = self.len;
    }
}

impl CommitBackend for FileBackend {
    fn append(
        &mut self,
        records: &mut dyn ExactSizeIterator<Item = &AuditRecord>,
        recorded_at: u64,
    ) -> std::result::Result<Appended, String> {
        self.cut_failed_commit()?;
        let (buffer, payload) = (&mut self.buffer, &mut self.payload);
        buffer.clear();
        let (mut seq, mut head) = (self.next_seq, self.head);
        let mut offsets = Vec::new();
        for record in records {
            payload.clear();
            Entry::encode_parts(seq, &head, recorded_at, record, payload);
            if seq % INDEX_EVERY == 0 {
                offsets.push(self.len + buffer.len() as u64);
            }
            frame(payload, buffer);
            head = entry_hash(payload);
            seq += 1;
        }
        // One write, one fdatasync: the records are on disk (data and the file size) when this
        // returns, and only then is anyone answered. When the batch would pass the zeros
        // written ahead, the same write grows the file by a step of zeros. A direct file is
        // written in whole blocks: from the start of the block the last record ends in (its
        // records written again, unchanged), zero-padded to a block boundary.
        let end = self.len + buffer.len() as u64;
        let allocated = if end > self.allocated {
            step_after(end)
        } else {
            self.allocated
        };
        // A buffered file's tail is empty: its writes start at `len`.
        let start = self.len - self.tail.len() as u64;
        let stop = if allocated > self.allocated {
            allocated
        } else if self.direct {
            end.next_multiple_of(BLOCK as u64)
        } else {
            end
        };
        let bytes = self
            .staging
            .fill(&[&self.tail, buffer], (stop - start) as usize);
        let written = self
            .sink
            .write_all_at(bytes, start)
            .and_then(|()| self.sink.sync_data());
        if let Err(err) = written {
            self.undo_write();
            return Err(err.to_string());
        }
        if self.direct {
            let block_start = end - end % BLOCK as u64;
            self.tail.clear();
            self.tail
                .extend_from_slice(&bytes[(block_start - start) as usize..(end - start) as usize]);
        }
        self.allocated = allocated;
        let first = self.next_seq;
        self.len += buffer.len() as u64;
        self.next_seq = seq;
        self.head = head;
        let published = &self.shared.published;
        if !offsets.is_empty() {
            if let Ok(mut index) = published.index.write() {
                index.extend(offsets);
            }
        }
        published.len.store(self.len, Ordering::Release);
        Ok(Appended {
            first,
            entries: seq,
            head,
        })
    }

    /// Tries the disk with the write the next commit needs: after a failure nothing is written
    /// ahead, so that commit would grow the file by a step of zeros. The probe writes that step
    /// (from the block the records end in, their tail repeated) and keeps it, so a disk with
    /// room for a block but not a step is not called writable only to fail the next commit.
    /// A crash in between leaves zeros after the records: spare space, which recovery cuts.
    fn probe(&mut self) -> std::result::Result<(), String> {
        self.cut_failed_commit()?;
        let start = self.len - self.tail.len() as u64;
        let allocated = step_after(self.len);
        let bytes = self
            .staging
            .fill(&[&self.tail], (allocated - start) as usize);
        let result = self
            .sink
            .write_all_at(bytes, start)
            .and_then(|()| self.sink.sync_data());
        match result {
            Ok(()) => {
                self.allocated = allocated;
                Ok(())
            }
            Err(err) => {
                self.undo_write();
                Err(err.to_string())
            }
        }
    }

    /// Cuts the zeros written ahead, so a closed log ends at its last record.
    fn close(&mut self) {
        if self.allocated > self.len {
            let cut = self
                .sink
                .set_len(self.len)
                .and_then(|()| self.sink.sync_data());
            match cut {
                Ok(()) => self.allocated = self.len,
                // Harmless: the next start cuts the zeros (§11.1).
                Err(err) => tracing::warn!(error = %err, "cannot cut the audit log's spare space"),
            }
        }
    }
}

/// The committer thread's state.
pub(crate) struct Committer {
    pub(crate) backend: Box<dyn CommitBackend>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) batch_max: usize,
    /// Whether heads go to the anchor thread (the files do; a database holds its head itself).
    pub(crate) anchored: bool,
    /// Whether to note committed subjects in [`Shared::committed`]: the files have this one
    /// writer, so it sees every entry after those at open; replicas of a database read the log.
    pub(crate) notes_subjects: bool,
}

impl Committer {
    /// The committer's loop; returns when the log closes and the queue is empty.
    pub(crate) fn run(mut self) {
        loop {
            let batch = {
                let Ok(mut queue) = self.shared.queue.lock() else {
                    return;
                };
                loop {
                    if !queue.items.is_empty() {
                        break;
                    }
                    if queue.closing {
                        drop(queue);
                        self.backend.close();
                        return;
                    }
                    if self.shared.published.commit_ok.load(Ordering::Acquire) {
                        queue = match self.shared.wake.wait(queue) {
                            Ok(q) => q,
                            Err(_) => return,
                        };
                    } else {
                        let (q, timeout) =
                            match self.shared.wake.wait_timeout(queue, PROBE_INTERVAL) {
                                Ok(r) => r,
                                Err(_) => return,
                            };
                        queue = q;
                        if timeout.timed_out() && queue.items.is_empty() && !queue.closing {
                            drop(queue);
                            self.probe();
                            queue = match self.shared.queue.lock() {
                                Ok(q) => q,
                                Err(_) => return,
                            };
                        }
                    }
                }
                // The commit window: wait briefly for requests that are already in flight.
                let deadline = Instant::now() + COMMIT_WINDOW;
                loop {
                    let want = BATCH_TARGET
                        .min(self.shared.in_flight.load(Ordering::Acquire))
                        .min(self.batch_max);
                    let now = Instant::now();
                    if queue.items.len() >= want || queue.closing || now >= deadline {
                        break;
                    }
                    queue = match self.shared.wake.wait_timeout(queue, deadline - now) {
                        Ok((q, _)) => q,
                        Err(_) => return,
                    };
                }
                // Whole submissions while they fit; the first always goes (the log bounds a
                // submission to `batch_max` when it is queued).
                let (mut take, mut records) = (0, 0);
                for pending in &queue.items {
                    if take > 0 && records + pending.records.len() > self.batch_max {
                        break;
                    }
                    take += 1;
                    records += pending.records.len();
                }
                queue.items.drain(..take).collect::<Vec<_>>()
            };
            self.commit(batch);
        }
    }

    /// Appends a batch through the backend, then answers it.
    fn commit(&mut self, batch: Vec<Pending>) {
        let started = Instant::now();
        let recorded_at = crate::unix_now();
        // A submission may hold several records (a batch request): they are chained in order
        // and the submission is answered with the seq of its first.
        let records: Vec<&AuditRecord> = batch.iter().flat_map(|p| &p.records).collect();
        let appended = self
            .backend
            .append(&mut records.iter().copied(), recorded_at);
        let count = records.len() as u64;
        drop(records);
        let appended = match appended {
            Ok(appended) => appended,
            Err(err) => {
                tracing::error!(error = %err, "audit commit failed: the node stops signing until the log accepts writes");
                self.shared
                    .published
                    .commit_ok
                    .store(false, Ordering::Release);
                for pending in batch {
                    let _ = pending.reply.send(Err(Error::AuditUnavailable(format!(
                        "commit failed: {err}"
                    ))));
                }
                return;
            }
        };
        let published = &self.shared.published;
        published.entries.store(appended.entries, Ordering::Release);
        published.commit_ok.store(true, Ordering::Release);
        if self.anchored {
            if let Ok(mut anchor) = self.shared.anchor.lock() {
                anchor.pending = Some((appended.entries, appended.head));
                self.shared.anchor_wake.notify_one();
            }
        }
        if self.notes_subjects {
            // A panic elsewhere while holding the lock cannot leave the map half-written in a
            // way that matters (each insert is whole): keep noting rather than lose subjects.
            let mut committed = self
                .shared
                .committed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for record in batch.iter().flat_map(|p| &p.records) {
                committed.note(record, recorded_at);
            }
        }
        metrics::histogram!("tollgate_audit_batch_size").record(count as f64);
        metrics::histogram!("tollgate_audit_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("tollgate_audit_entries_total").increment(count);
        let mut next = appended.first;
        for pending in batch {
            let submitted = pending.records.len() as u64;
            let _ = pending.reply.send(Ok(next));
            next += submitted;
        }
    }

    /// After a failure: asks the backend whether it accepts writes again.
    fn probe(&mut self) {
        match self.backend.probe() {
            Ok(()) => {
                tracing::warn!("audit log writable again: the node signs again");
                self.shared
                    .published
                    .commit_ok
                    .store(true, Ordering::Release);
            }
            Err(err) => tracing::warn!(error = %err, "audit log still not writable"),
        }
    }
}

/// The anchor thread: writes the newest head at most every [`ANCHOR_INTERVAL`]; on close, the
/// final head.
pub(crate) fn anchor_loop(shared: Arc<Shared>, dir: PathBuf, key: SigningKey) {
    let mut writer = AnchorWriter::new(&dir);
    let mut last_write = Instant::now()
        .checked_sub(ANCHOR_INTERVAL)
        .unwrap_or_else(Instant::now);
    loop {
        let (pending, closing) = {
            let Ok(mut state) = shared.anchor.lock() else {
                return;
            };
            while state.pending.is_none() && !state.closing {
                state = match shared.anchor_wake.wait(state) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
            (state.pending.take(), state.closing)
        };
        if let Some((entries, head)) = pending {
            let wait = ANCHOR_INTERVAL.saturating_sub(last_write.elapsed());
            if !wait.is_zero() && !closing {
                std::thread::sleep(wait);
                // A newer head may have arrived while sleeping: anchor that one instead.
                let newer = shared.anchor.lock().ok().and_then(|mut s| s.pending.take());
                let (entries, head) = newer.unwrap_or((entries, head));
                write_anchor(&shared, &mut writer, entries, &head, &key);
            } else {
                write_anchor(&shared, &mut writer, entries, &head, &key);
            }
            last_write = Instant::now();
        }
        if closing {
            // Anything committed after `pending` was taken is anchored on the next turn.
            let more = shared.anchor.lock().ok().and_then(|mut s| s.pending.take());
            if let Some((entries, head)) = more {
                write_anchor(&shared, &mut writer, entries, &head, &key);
            }
            return;
        }
    }
}

fn write_anchor(
    shared: &Shared,
    writer: &mut AnchorWriter,
    entries: u64,
    head: &[u8; 32],
    key: &SigningKey,
) {
    match writer.write(entries, head, key) {
        Ok(()) => shared.published.anchor_ok.store(true, Ordering::Release),
        Err(err) => {
            tracing::error!(error = %err, "cannot write the audit anchor: the node stops signing");
            shared.published.anchor_ok.store(false, Ordering::Release);
            // Retry with this head on the next commit or close.
            if let Ok(mut state) = shared.anchor.lock() {
                state.pending.get_or_insert((entries, *head));
            }
        }
    }
}

/// Marks the anchor thread to write its last head and stop.
pub(crate) fn close_anchor(shared: &Shared) {
    if let Ok(mut state) = shared.anchor.lock() {
        state.closing = true;
        shared.anchor_wake.notify_one();
    }
}
