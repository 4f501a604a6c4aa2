//! The audit log over real files: group commit, recovery, the anchor, disk faults, the order of
//! fdatasync and acknowledgement, migration from sled.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;

use super::format::tests::record;
use super::*;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

fn open(dir: &Path) -> Result<AuditLog> {
    AuditLog::open(dir, key(), Options::default())
}

async fn append_n(log: &AuditLog, from: u64, n: u64) -> Vec<u64> {
    let tasks: Vec<_> = (from..from + n)
        .map(|nonce| {
            let log = log.clone();
            tokio::spawn(async move { log.append(record(nonce)).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort();
    seqs
}

/// Entry `seq` as a frame of the file (its link is not checked: the tests cut it).
fn framed_entry(seq: u64) -> Vec<u8> {
    let mut payload = Vec::new();
    Entry {
        seq,
        prev_hash: [0; 32],
        recorded_at: 0,
        record: record(seq),
    }
    .encode(&mut payload);
    let mut framed = Vec::new();
    format::frame(&payload, &mut framed);
    framed
}

fn close(log: AuditLog) {
    log.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_chain_verify_and_continue_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).unwrap();
    assert_eq!(append_n(&log, 0, 300).await, (0..300).collect::<Vec<_>>());
    let page = log.page(Some(255), 10).unwrap();
    assert_eq!(
        page.iter().map(|(e, _)| e.seq).collect::<Vec<_>>(),
        (256..266).collect::<Vec<_>>()
    );
    close(log);
    let report = verify_dir(dir.path(), Some(key().verifying_key().to_bytes())).unwrap();
    assert_eq!(
        (report.entries, report.anchored, report.torn_bytes),
        (300, 300, 0)
    );
    let log = open(dir.path()).unwrap();
    assert_eq!(log.append(record(300)).await.unwrap(), 300);
    assert_eq!(log.page(None, 1000).unwrap().len(), 301);
    assert!(log.page(Some(300), 10).unwrap().is_empty());
    assert!(log.page(Some(u64::MAX), 10).unwrap().is_empty());
    close(log);
    assert_eq!(verify_dir(dir.path(), None).unwrap().entries, 301);
}

#[tokio::test]
async fn a_torn_last_record_is_cut_and_the_log_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).unwrap();
    append_n(&log, 0, 3).await;
    close(log);
    let path = log::log_path(dir.path());
    let whole = std::fs::read(&path).unwrap();
    // A fourth record whose write stopped part-way, as a crash during the commit leaves it.
    let framed = framed_entry(3);
    for cut in [1, 7, 8, 100, framed.len() - 1] {
        let mut torn = whole.clone();
        torn.extend_from_slice(&framed[..cut]);
        std::fs::write(&path, &torn).unwrap();
        assert_eq!(verify_dir(dir.path(), None).unwrap().torn_bytes, cut as u64);
        let log = open(dir.path()).unwrap();
        assert_eq!(log.opened().torn_bytes_cut, cut as u64);
        assert_eq!(log.len(), 3);
        close(log);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            whole,
            "cut back to the whole records"
        );
    }
    // A zero-filled tail (a probe or preallocation interrupted) is cut too.
    let mut zeros = whole.clone();
    zeros.extend_from_slice(&[0; 4096]);
    std::fs::write(&path, &zeros).unwrap();
    let log = open(dir.path()).unwrap();
    assert_eq!(log.append(record(3)).await.unwrap(), 3);
    close(log);
}

#[tokio::test]
async fn a_running_log_writes_zeros_ahead_and_a_crash_there_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).unwrap();
    append_n(&log, 0, 20).await;
    let path = log::log_path(dir.path());
    // While it runs the file is longer than its records: zeros written ahead, no record there.
    let on_disk = std::fs::metadata(&path).unwrap().len();
    let records = log.inner.shared.published.len.load(Ordering::Acquire);
    assert!(
        on_disk >= records + committer::PREALLOCATE,
        "{on_disk} bytes on disk, records end at {records}"
    );
    // What a crash now leaves (every acknowledged record is behind an fdatasync).
    let crashed = tempfile::tempdir().unwrap();
    for name in [log::LOG_FILE, anchor::ANCHOR_FILE] {
        std::fs::copy(dir.path().join(name), crashed.path().join(name)).unwrap();
    }
    let report = verify_dir(crashed.path(), None).unwrap();
    assert_eq!(
        (report.entries, report.torn_bytes),
        (20, 0),
        "spare space is not a torn record"
    );
    // A record whose write stopped part-way inside that space is torn, not damage.
    let mut bytes = std::fs::read(crashed.path().join(log::LOG_FILE)).unwrap();
    let framed = framed_entry(20);
    let at = records as usize;
    bytes[at..at + framed.len() / 2].copy_from_slice(&framed[..framed.len() / 2]);
    std::fs::write(crashed.path().join(log::LOG_FILE), &bytes).unwrap();
    let report = verify_dir(crashed.path(), None).unwrap();
    assert_eq!(report.entries, 20);
    assert_eq!(report.torn_bytes, on_disk - records);
    // The crashed copy opens with all 20, cut back to them, and goes on.
    let reopened = open(crashed.path()).unwrap();
    assert_eq!(reopened.len(), 20);
    assert_eq!(reopened.append(record(21)).await.unwrap(), 20);
    close(reopened);
    // A closed log ends at its last record.
    close(log);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), records);
    let crashed_log = crashed.path().join(log::LOG_FILE);
    let scan = log::scan(&crashed_log, None, |_, _| Ok(())).unwrap();
    assert_eq!(
        (scan.entries, scan.spare_bytes, scan.torn_bytes),
        (21, 0, 0)
    );
    assert_eq!(
        std::fs::metadata(&crashed_log).unwrap().len(),
        scan.valid_len
    );
}

#[tokio::test]
async fn damage_anywhere_but_a_torn_tail_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).unwrap();
    append_n(&log, 0, 5).await;
    close(log);
    let path = log::log_path(dir.path());
    let whole = std::fs::read(&path).unwrap();
    // A flipped byte in a record with records after it.
    let mut flipped = whole.clone();
    flipped[format::FILE_HEADER.len() + 40] ^= 0x10;
    std::fs::write(&path, &flipped).unwrap();
    assert!(matches!(
        open(dir.path()),
        Err(Error::AuditBroken { seq: 0, .. })
    ));
    assert!(verify_dir(dir.path(), None).is_err());
    // A flipped byte in the last record: cut as torn, then the anchor shows entries are lost.
    let mut last = whole.clone();
    let end = last.len() - 3;
    last[end] ^= 1;
    std::fs::write(&path, &last).unwrap();
    let err = open(dir.path()).err().expect("refused");
    assert!(matches!(err, Error::AnchorMismatch(_)), "{err}");
    assert!(err.to_string().contains("lost its tail"), "{err}");
    // Truncated at a record boundary (a lost tail).
    let scan = log::scan(&path, None, |_, _| Ok(())).unwrap_or_default();
    let _ = scan;
    let mut records = Vec::new();
    std::fs::write(&path, &whole).unwrap();
    log::scan(&path, None, |e, _| {
        records.push(e.seq);
        Ok(())
    })
    .unwrap();
    let index = log::scan(&path, None, |_, _| Ok(())).unwrap();
    assert_eq!(index.entries, 5);
    let mut shorter = whole.clone();
    let second_record_len = {
        let framed = &whole[format::FILE_HEADER.len()..];
        match format::unframe(framed) {
            format::Framed::Record(_, size) => size,
            other => panic!("{other:?}"),
        }
    };
    shorter.truncate(format::FILE_HEADER.len() + second_record_len);
    std::fs::write(&path, &shorter).unwrap();
    assert!(matches!(open(dir.path()), Err(Error::AnchorMismatch(_))));
    assert!(verify_dir(dir.path(), None).is_err());
    // The header overwritten.
    let mut header = whole.clone();
    header[0] = b'X';
    std::fs::write(&path, &header).unwrap();
    assert!(matches!(open(dir.path()), Err(Error::AuditBroken { .. })));
    // The log deleted while the anchor stays.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(open(dir.path()), Err(Error::AnchorMismatch(_))));
    std::fs::write(&path, &whole).unwrap();
    open(dir.path()).unwrap().close();
}

#[tokio::test]
async fn a_restored_or_replaced_log_and_a_foreign_or_missing_anchor_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).unwrap();
    append_n(&log, 0, 2).await;
    close(log);
    let path = log::log_path(dir.path());
    let backup = std::fs::read(&path).unwrap();
    let log = open(dir.path()).unwrap();
    append_n(&log, 2, 2).await;
    close(log);
    // The older log restored under the newer anchor: behind it.
    let current = std::fs::read(&path).unwrap();
    std::fs::write(&path, &backup).unwrap();
    let err = open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("older backup"), "{err}");
    // Another log of the same length (another chain): the anchored hash differs.
    let other = tempfile::tempdir().unwrap();
    let log = open(other.path()).unwrap();
    append_n(&log, 100, 4).await;
    close(log);
    std::fs::copy(log::log_path(other.path()), &path).unwrap();
    let err = open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("replaced or rewritten"), "{err}");
    // The right log, but an anchor signed by another key.
    std::fs::write(&path, &current).unwrap();
    let stranger = SigningKey::from_bytes(&[12; 32]);
    let scan = log::scan(&path, None, |_, _| Ok(())).unwrap();
    anchor::Anchor::write(dir.path(), scan.entries, &scan.head, &stranger).unwrap();
    let err = open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("signed by key"), "{err}");
    // No anchor at all.
    std::fs::remove_file(dir.path().join(anchor::ANCHOR_FILE)).unwrap();
    let err = open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("anchor file is missing"), "{err}");
    // The operator accepts the log after checking it.
    reanchor(dir.path(), &key()).unwrap();
    let log = open(dir.path()).unwrap();
    assert_eq!(log.len(), 4);
    close(log);
}

/// A real file whose writes can be made to fail (as a full disk or EIO) or hang.
struct FaultyFile {
    file: File,
    fail: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
    /// Truncation fails (EIO).
    fail_cut: Arc<AtomicBool>,
    /// The file cannot grow past this size (a nearly full disk): ENOSPC.
    room: Arc<AtomicU64>,
    events: Arc<Mutex<Vec<Event>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// A write ending at this offset returned.
    Wrote(u64),
    /// An fdatasync returned; the file's whole records now end here.
    Synced(u64),
    /// A request was answered with this seq.
    Acked(u64),
}

impl FaultyFile {
    fn file_path(&self) -> std::path::PathBuf {
        std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&self.file)
        ))
        .expect("the log's path")
    }
}

impl LogSink for FaultyFile {
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> std::io::Result<()> {
        while self.hang.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.fail.load(Ordering::Acquire) {
            // Part of the write lands before the error, as on a disk that fills up (whole
            // blocks of it: the file may be open for direct writes).
            let half = &bytes[..bytes.len() / 2 / direct::BLOCK * direct::BLOCK];
            std::os::unix::fs::FileExt::write_all_at(&self.file, half, offset)?;
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        let room = self.room.load(Ordering::Acquire);
        if offset + bytes.len() as u64 > room {
            let fits = room.saturating_sub(offset) as usize / direct::BLOCK * direct::BLOCK;
            std::os::unix::fs::FileExt::write_all_at(&self.file, &bytes[..fits], offset)?;
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        std::os::unix::fs::FileExt::write_all_at(&self.file, bytes, offset)?;
        self.events
            .lock()
            .unwrap()
            .push(Event::Wrote(offset + bytes.len() as u64));
        Ok(())
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.file.sync_data()?;
        // The durable records end where the file's last whole frame does: the file itself
        // is longer (the zeros the committer writes ahead).
        let bytes = std::fs::read(self.file_path())?;
        let mut end = format::FILE_HEADER.len();
        while let format::Framed::Record(_, size) = format::unframe(&bytes[end..]) {
            end += size;
        }
        self.events.lock().unwrap().push(Event::Synced(end as u64));
        Ok(())
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        if self.fail_cut.load(Ordering::Acquire) {
            return Err(std::io::Error::from_raw_os_error(5)); // EIO
        }
        self.file.set_len(len)
    }
}

struct Faults {
    fail: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
    fail_cut: Arc<AtomicBool>,
    room: Arc<AtomicU64>,
    events: Arc<Mutex<Vec<Event>>>,
}

/// Waits until the log reports healthy again (a probe or a commit succeeded), failing with
/// `what` after 5 s.
async fn healthy_within_5s(log: &AuditLog, what: &str) {
    let started = Instant::now();
    while !log.is_healthy() {
        assert!(started.elapsed() < Duration::from_secs(5), "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn open_faulty(dir: &Path, timeout: Duration) -> (AuditLog, Faults) {
    let faults = Faults {
        fail: Arc::new(AtomicBool::new(false)),
        hang: Arc::new(AtomicBool::new(false)),
        fail_cut: Arc::new(AtomicBool::new(false)),
        room: Arc::new(AtomicU64::new(u64::MAX)),
        events: Arc::new(Mutex::new(Vec::new())),
    };
    let (fail, hang, fail_cut, room, events) = (
        faults.fail.clone(),
        faults.hang.clone(),
        faults.fail_cut.clone(),
        faults.room.clone(),
        faults.events.clone(),
    );
    let log = AuditLog::open_with(
        dir,
        key(),
        Options {
            batch_max: 1024,
            commit_timeout: timeout,
        },
        move |file| {
            Box::new(FaultyFile {
                file,
                fail,
                hang,
                fail_cut,
                room,
                events,
            })
        },
    )
    .unwrap();
    (log, faults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fails_answers_503_marks_unhealthy_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (log, faults) = open_faulty(dir.path(), Duration::from_secs(5));
    assert_eq!(log.append(record(0)).await.unwrap(), 0);
    faults.fail.store(true, Ordering::Release);
    let err = log.append(record(1)).await.unwrap_err();
    assert!(matches!(err, Error::AuditUnavailable(_)), "{err}");
    assert_eq!(err.status().0, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(!log.is_healthy());
    assert!(log.permit().is_err(), "no new signing while the disk fails");
    // Probes keep failing while the disk does.
    tokio::time::sleep(committer::PROBE_INTERVAL * 2).await;
    assert!(!log.is_healthy());
    faults.fail.store(false, Ordering::Release);
    healthy_within_5s(&log, "never recovered").await;
    // The failed record left nothing behind: the next one is seq 1 and the chain verifies.
    assert_eq!(log.append(record(2)).await.unwrap(), 1);
    close(log);
    assert_eq!(verify_dir(dir.path(), None).unwrap().entries, 2);
}

/// A nearly full disk: room for a block, not for the step of zeros a commit that grows the file
/// writes. The probe tries that same step, so the node stays unready instead of turning ready
/// and failing the next commit, and turns ready once the disk has room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_with_room_for_a_block_but_not_a_step_stays_unready() {
    let dir = tempfile::tempdir().unwrap();
    let (log, faults) = open_faulty(dir.path(), Duration::from_secs(5));
    assert_eq!(log.append(record(0)).await.unwrap(), 0);
    let path = log::log_path(dir.path());
    let size = std::fs::metadata(&path).unwrap().len();
    // The next commit must grow the file: a batch larger than the zeros written ahead.
    faults
        .room
        .store(size + 4 * direct::BLOCK as u64, Ordering::Release);
    let mut committed = 1;
    loop {
        assert!(committed < 10_000, "the file never had to grow");
        match log.append_all((0..1000).map(record).collect()).await {
            Ok(_) => committed += 1000,
            Err(err) => break assert!(matches!(err, Error::AuditUnavailable(_)), "{err}"),
        }
    }
    assert!(!log.is_healthy());
    // Several probe intervals: it never turns ready, so it never fails another commit.
    for _ in 0..4 {
        tokio::time::sleep(committer::PROBE_INTERVAL).await;
        assert!(!log.is_healthy(), "ready on a disk without room for a step");
    }
    faults.room.store(u64::MAX, Ordering::Release);
    healthy_within_5s(&log, "never ready").await;
    assert_eq!(log.append(record(900)).await.unwrap(), committed);
    close(log);
    assert_eq!(verify_dir(dir.path(), None).unwrap().entries, committed + 1);
}

/// A failed commit whose bytes could not be cut off the file either: nothing is appended after
/// them until they are cut (else the next commit's zeros could end before them, and after a
/// crash recovery would find them past the spare space and refuse the log as damaged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_that_cannot_be_cut_stops_appends_until_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let (log, faults) = open_faulty(dir.path(), Duration::from_secs(5));
    assert_eq!(log.append(record(0)).await.unwrap(), 0);
    faults.fail.store(true, Ordering::Release);
    faults.fail_cut.store(true, Ordering::Release);
    assert!(log
        .append_all((1..=900).map(record).collect())
        .await
        .is_err());
    // The disk takes writes again, but the failed commit's bytes are still there.
    faults.fail.store(false, Ordering::Release);
    let err = log.append_all(vec![record(901)]).await.unwrap_err();
    assert!(err.to_string().contains("cannot cut"), "{err}");
    // Once the cut works the log goes on right after its last record.
    faults.fail_cut.store(false, Ordering::Release);
    assert_eq!(log.append_all(vec![record(902)]).await.unwrap(), 1);
    let path = log::log_path(dir.path());
    let scan = log::scan(&path, None, |_, _| Ok(())).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(scan.entries, 2);
    assert!(
        bytes[scan.valid_len as usize..].iter().all(|b| *b == 0),
        "only spare zeros after the records"
    );
    close(log);
    assert_eq!(verify_dir(dir.path(), None).unwrap().entries, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_disk_answers_503_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (log, faults) = open_faulty(dir.path(), Duration::from_millis(300));
    faults.hang.store(true, Ordering::Release);
    let started = Instant::now();
    let err = log.append(record(0)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, Error::AuditUnavailable(_)), "{err}");
    assert!(!log.is_healthy());
    faults.hang.store(false, Ordering::Release);
    // The hung commit completes; the log is healthy again and goes on.
    healthy_within_5s(&log, "never healthy after the hung commit").await;
    assert_eq!(log.append(record(1)).await.unwrap(), 1);
    close(log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledgement_follows_the_fdatasync_of_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let (log, faults) = open_faulty(dir.path(), Duration::from_secs(5));
    let tasks: Vec<_> = (0..200)
        .map(|nonce| {
            let (log, events) = (log.clone(), faults.events.clone());
            tokio::spawn(async move {
                let seq = log.append(record(nonce)).await.unwrap();
                events.lock().unwrap().push(Event::Acked(seq));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    close(log);
    // Where each record ends in the file.
    let mut ends = Vec::new();
    let mut offset = format::FILE_HEADER.len() as u64;
    let bytes = std::fs::read(log::log_path(dir.path())).unwrap();
    while let format::Framed::Record(_, size) = format::unframe(&bytes[offset as usize..]) {
        offset += size as u64;
        ends.push(offset);
    }
    assert_eq!(ends.len(), 200);
    let events = faults.events.lock().unwrap().clone();
    let durable = AtomicU64::new(0);
    let mut acks = 0;
    let mut commits = 0;
    for event in &events {
        match *event {
            Event::Synced(len) => {
                durable.store(len, Ordering::Relaxed);
                commits += 1;
            }
            Event::Acked(seq) => {
                acks += 1;
                assert!(
                    ends[seq as usize] <= durable.load(Ordering::Relaxed),
                    "seq {seq} was acknowledged before an fdatasync covered it: {events:?}"
                );
            }
            Event::Wrote(_) => {}
        }
    }
    assert_eq!(acks, 200);
    assert!(
        commits < 200,
        "group commit: {commits} fdatasyncs for 200 records"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_one_submission_one_fdatasync_and_acknowledged_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (log, faults) = open_faulty(dir.path(), Duration::from_secs(5));
    log.append(record(0)).await.unwrap();
    let before = faults.events.lock().unwrap().len();
    let first = log
        .append_all((1..=100).map(record).collect())
        .await
        .unwrap();
    faults.events.lock().unwrap().push(Event::Acked(first));
    assert_eq!((first, log.len()), (1, 101));
    let events = faults.events.lock().unwrap()[before..].to_vec();
    // One write and one fdatasync for the 100 records, and the answer after that fdatasync.
    assert!(
        matches!(
            events.as_slice(),
            [Event::Wrote(_), Event::Synced(_), Event::Acked(1)]
        ),
        "{events:?}"
    );
    // Empty and oversize submissions are refused before anything is queued.
    assert!(matches!(
        log.append_all(Vec::new()).await,
        Err(Error::InvalidRequest(_))
    ));
    let too_many = (0..log.batch_max() as u64 + 1).map(record).collect();
    assert!(matches!(
        log.append_all(too_many).await,
        Err(Error::InvalidRequest(_))
    ));
    assert_eq!(log.len(), 101);
    close(log);
    let report = verify_dir(dir.path(), Some(key().verifying_key().to_bytes())).unwrap();
    assert_eq!(report.entries, 101);
}

/// A record of `subject` valid until `valid_until`, judged `score`.
fn attestation_of(nonce: u64, subject: u8, valid_until: u32, score: u8) -> AuditRecord {
    let mut record = record(nonce);
    record.attestation.subject = tollgate_sdk::Address::new(0, [subject; 32]);
    record.attestation.valid_until = valid_until;
    record.judgement.score = score;
    record
}

/// The set of valid attestations (`changes::Attested`) takes the subjects the committer noted
/// instead of decoding back every entry it wrote, reads the log only for what it found at open,
/// and agrees with a full read of the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committer_hands_over_what_it_committed_and_it_agrees_with_the_log() {
    use crate::changes::{Attested, Snapshot};
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).unwrap();
    for record in [
        attestation_of(1, 1, 5000, 10),
        attestation_of(2, 2, 1500, 20),
        attestation_of(3, 3, 9000, 90),
    ] {
        log.append(record).await.unwrap();
    }
    close(log);
    let log = open(dir.path()).unwrap();
    assert_eq!(log.opened().entries, 3);
    log.append(attestation_of(4, 1, 7000, 60)).await.unwrap();
    // An earlier `valid_until` than the one before the restart: the later one stays.
    log.append(attestation_of(5, 3, 8000, 5)).await.unwrap();
    log.append_all(vec![
        attestation_of(6, 4, 6000, 30),
        attestation_of(7, 5, 1200, 40),
    ])
    .await
    .unwrap();

    let now = 2000;
    let mut attested = Attested::default();
    let got = attested.refresh(&log, now).unwrap();

    let mut latest: std::collections::HashMap<_, (u32, Snapshot)> = Default::default();
    for (entry, _) in log.page(None, 100).unwrap() {
        let a = &entry.record.attestation;
        let snapshot = Snapshot::from_score(
            entry.record.judgement.score,
            tollgate_sdk::Categories(entry.record.judgement.categories),
        );
        let slot = latest.entry(a.subject).or_insert((0, snapshot.clone()));
        if a.valid_until >= slot.0 {
            *slot = (a.valid_until, snapshot);
        }
    }
    let want: std::collections::HashMap<_, _> = latest
        .into_iter()
        .filter(|(_, (valid_until, _))| u64::from(*valid_until) >= now)
        .map(|(subject, (_, snapshot))| (subject, snapshot))
        .collect();
    assert_eq!(got, want);
    let subject = |n| tollgate_sdk::Address::new(0, [n; 32]);
    let mut subjects: Vec<_> = got.keys().map(|a| a.hash[0]).collect();
    subjects.sort();
    assert_eq!(subjects, vec![1, 3, 4], "2 and 5 expired");
    assert_eq!(got[&subject(1)].score, 60, "the later attestation of 1");
    assert_eq!(got[&subject(3)].score, 90, "the later valid_until of 3");

    // Handed over once; the set still knows them, and takes what is committed next.
    assert!(log.take_committed().unwrap().1.is_empty());
    assert_eq!(attested.refresh(&log, now).unwrap(), got);
    log.append(attestation_of(8, 6, 3000, 70)).await.unwrap();
    let next = attested.refresh(&log, now).unwrap();
    assert_eq!(next.len(), 4);
    assert_eq!(next[&subject(6)].score, 70);
    close(log);
}

/// With no one taking them (re-screening off), the noted subjects stay bounded: expired ones
/// are dropped as the map grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noted_subjects_stay_bounded_without_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).unwrap();
    // valid_until 1600 is long past at the committer's clock: every one has expired.
    for chunk in 0..50u64 {
        let records = (0..200u64)
            .map(|i| {
                let mut record = record(chunk * 200 + i);
                let n = (chunk * 200 + i).to_be_bytes();
                record.attestation.subject.hash[..8].copy_from_slice(&n);
                record
            })
            .collect();
        log.append_all(records).await.unwrap();
    }
    let (_, noted) = log.take_committed().unwrap();
    assert!(noted.len() < 4096, "{} expired subjects kept", noted.len());
    close(log);
}

/// A direct file is written in whole blocks from the start of the block its records end in
/// ([`direct`]): commits of every size, across block and preallocation boundaries, with the log
/// reopened after a clean close and after a crash (a copy taken while it ran), keep every
/// record, the chain and the pages read back while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_of_every_size_across_blocks_and_reopens_keep_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut next = 0u64;
    for round in 0..6 {
        let log = open(dir.path()).unwrap();
        // 1 … 600 records a commit: from a fraction of a block to past one 256 KiB step.
        for size in [1u64, 2, 9, 1, 37, 600, 3] {
            let first = log
                .append_all((next..next + size).map(record).collect())
                .await
                .unwrap();
            assert_eq!(first, next);
            next += size;
            let last = log.page(next.checked_sub(2), 10).unwrap();
            assert_eq!(last.last().map(|(entry, _)| entry.seq), Some(next - 1));
        }
        if round % 2 == 0 {
            close(log);
        } else {
            // A crash: the files as they are while the node runs (spare zeros and all).
            let crashed = tempfile::tempdir().unwrap();
            for name in [log::LOG_FILE, anchor::ANCHOR_FILE] {
                std::fs::copy(dir.path().join(name), crashed.path().join(name)).unwrap();
            }
            close(log);
            for name in [log::LOG_FILE, anchor::ANCHOR_FILE] {
                std::fs::copy(crashed.path().join(name), dir.path().join(name)).unwrap();
            }
        }
        let report = verify_dir(dir.path(), Some(key().verifying_key().to_bytes())).unwrap();
        assert_eq!(report.entries, next, "round {round}");
    }
    let log = open(dir.path()).unwrap();
    let all = log.page(None, next as usize + 1).unwrap();
    assert_eq!(all.len() as u64, next);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, (entry, _))| entry.seq == i as u64));
    close(log);
}

/// The audit directory as a crash would leave it after `log`'s last commit: `anchor` as it was
/// before that commit, the log as written, except that the bytes of the 512-byte sectors at
/// `unwritten` hold what was there before (zeros from `old_end` on; the records before it are
/// the same either way).
fn torn_copy(dir: &Path, anchor: &[u8], old_end: u64, unwritten: &[u64]) -> tempfile::TempDir {
    let crashed = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(log::log_path(dir)).unwrap();
    for &sector in unwritten {
        let from = sector.max(old_end) as usize;
        bytes[from..sector as usize + 512].fill(0);
    }
    std::fs::write(crashed.path().join(log::LOG_FILE), &bytes).unwrap();
    std::fs::write(crashed.path().join(anchor::ANCHOR_FILE), anchor).unwrap();
    crashed
}

async fn anchored_at(dir: &Path, entries: u64) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Anchor::read(dir).unwrap().map(|a| a.entries) != Some(entries) {
        assert!(
            Instant::now() < deadline,
            "the anchor never covered {entries}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::read(dir.join(anchor::ANCHOR_FILE)).unwrap()
}

#[tokio::test]
async fn a_commit_torn_across_sectors_by_a_crash_is_cut_and_damage_before_it_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path()).unwrap();
    append_n(&log, 0, 20).await;
    let before = anchored_at(dir.path(), 20).await;
    let start = log.inner.shared.published.len.load(Ordering::Acquire);
    // One unanswered commit of 40 records over many sectors; the crash comes before its
    // fdatasync returns, so the disk may hold any subset of its sectors.
    log.append_all((20..60).map(record).collect())
        .await
        .unwrap();
    let end = log.inner.shared.published.len.load(Ordering::Acquire);
    let offsets: Vec<u64> = {
        let mut offsets = Vec::new();
        let bytes = std::fs::read(log::log_path(dir.path())).unwrap();
        let mut at = format::FILE_HEADER.len();
        while let format::Framed::Record(_, size) = format::unframe(&bytes[at..]) {
            offsets.push(at as u64);
            at += size;
        }
        offsets
    };
    assert!(end - start > 8 * 512, "the commit spans many sectors");
    let first_sector_inside = |seq: usize| (offsets[seq] + 1).next_multiple_of(512);
    let cases: Vec<(Vec<u64>, u64)> = vec![
        // A sector in the middle of record 30 missing: records 20..30 reached the disk.
        (vec![first_sector_inside(30)], 30),
        // Two sectors, the later ones written: cut at the first.
        (vec![first_sector_inside(25), first_sector_inside(50)], 25),
        // The sector where the commit's records began (it still holds the old zeros after
        // `start`), the rest of the commit written.
        (vec![start - start % 512], 20),
    ];
    for (unwritten, kept) in cases {
        let crashed = torn_copy(dir.path(), &before, start, &unwritten);
        let report = verify_dir(crashed.path(), None).unwrap();
        assert_eq!(report.entries, kept, "sectors {unwritten:?}");
        assert!(report.torn_bytes > 0);
        let reopened = open(crashed.path()).unwrap();
        assert_eq!(reopened.len(), kept);
        assert_eq!(reopened.append(record(99)).await.unwrap(), kept);
        close(reopened);
        assert_eq!(verify_dir(crashed.path(), None).unwrap().entries, kept + 1);
    }
    close(log);
    // The same missing sector once the anchor covers the commit: acknowledged entries are
    // gone, which is damage.
    let after = std::fs::read(dir.path().join(anchor::ANCHOR_FILE)).unwrap();
    let crashed = torn_copy(dir.path(), &after, 0, &[first_sector_inside(30)]);
    let err = open(crashed.path()).err().expect("refused");
    assert!(matches!(err, Error::AuditBroken { seq: 30, .. }), "{err}");
    assert!(verify_dir(crashed.path(), None).is_err());
    // A flipped bit after the anchored entries shows no unwritten sector: damage, not torn.
    let crashed = torn_copy(dir.path(), &before, start, &[]);
    let path = crashed.path().join(log::LOG_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offsets[30] as usize + 40] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();
    let err = open(crashed.path()).err().expect("refused");
    assert!(err.to_string().contains("checksum fails"), "{err}");
    // Nor is a sector of zeros inside an entry the anchor covers.
    let crashed = torn_copy(dir.path(), &before, 0, &[first_sector_inside(10)]);
    assert!(matches!(
        open(crashed.path()),
        Err(Error::AuditBroken { seq: 10, .. })
    ));
}
