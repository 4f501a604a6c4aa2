//! `tollgate-oracle migrate`: copies a node's data dir — sled store, audit files, change feed
//! (with webhook delivery states) and transfer log — into an empty PostgreSQL database, so its
//! replicas continue where the single node stopped.
//!
//! Records are copied as they are (the PostgreSQL tables keep the sled trees' checked records
//! under the same keys, and the transfer log's frames with their CRC32C), after every source
//! was checked: the sled store by [`SledStore::open`], the audit files by
//! [`crate::audit::verify_dir`] against their anchor, each change-feed record by decoding it,
//! the transfer log by [`TransferStore::open`] (every frame's checksum and contents). Everything
//! goes in one transaction, so a failed migration leaves the database empty. The nonce mark
//! becomes a claim of its second, so replicas issue only later seconds. Then the database is
//! opened as a replica would at start (store, audit chain tail, change feed, transfer log) and
//! compared with the sources.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use super::postgres::{client_config, migrate, pg_error, PgOptions, PgPool, PgStore};
use super::{
    decode_address_labels, label_key, to_json, unwrap, wrap, LabelValue, SledStore, Store,
    LABELS_VERSION_KEY,
};
use crate::audit::format::entry_hash;
use crate::audit::log::{log_path, scan};
use crate::changes::postgres::PgFeed;
use crate::changes::{decode_change, decode_level, ChangeLog, CHANGES, LEVELS, WEBHOOKS};
use crate::error::{Error, Result};
use crate::exposure::transfers::{read_frames, LOG_FILE};
use crate::exposure::transfers_pg::PgFrames;
use crate::exposure::TransferStore;

/// Rows per insert statement.
const CHUNK: usize = 2_000;
/// Payload bytes of transfer frames per insert statement (frames are one ingested batch each,
/// up to megabytes): bounds the memory a migration of a large log holds at once.
const FRAME_CHUNK_BYTES: usize = 16 << 20;

/// One part of a migration, for the per-part rate `migrate` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// What was copied ("labels", "audit entries", "transfer frames", …).
    pub name: &'static str,
    /// Records (rows) of this part.
    pub records: u64,
    /// Reading and checking the source, plus inserting (the commit is not in any part).
    pub took: Duration,
}

impl Part {
    /// Records per second of this part.
    pub fn per_second(&self) -> f64 {
        self.records as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// What a migration copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    /// Labels (without the version record).
    pub labels: u64,
    /// Overrides and recorded override changes.
    pub overrides: u64,
    /// Metadata values.
    pub meta: u64,
    /// Audit entries.
    pub audit_entries: u64,
    /// Change-feed records (`change_feed`).
    pub changes: u64,
    /// Last levels recorded per address (`change_levels`).
    pub levels: u64,
    /// Webhook delivery states (`webhook_states`).
    pub webhooks: u64,
    /// Frames of the transfer log (`transfer_frames`).
    pub transfer_frames: u64,
    /// The migrated audit chain's head as read back from the database: what the replicas
    /// started on it pin (`serve --trust-head`), since none of them has seen it yet.
    pub trust_head: crate::audit::pg_head::TrustedHead,
    /// Transfers in those frames (not counted in [`Copied::records`]: a frame is the record).
    pub transfers: u64,
    /// Each part with its time, in the order copied.
    pub parts: Vec<Part>,
    /// How long it took (reading, checking and committing).
    pub took: Duration,
}

impl Copied {
    /// Every record copied.
    pub fn records(&self) -> u64 {
        self.labels
            + self.overrides
            + self.meta
            + self.audit_entries
            + self.changes
            + self.levels
            + self.webhooks
            + self.transfer_frames
    }

    /// Records per second.
    pub fn per_second(&self) -> f64 {
        self.records() as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// Copies `store` and, from `data_dir`, the audit log (checked against its anchor, signed by
/// `anchor_key` when given), the change feed and the transfer log into the empty database of
/// `url`. A part the data dir does not have (no feed or transfer log yet) is copied as empty.
pub fn migrate_to_postgres(
    store: &SledStore,
    data_dir: &Path,
    anchor_key: Option<[u8; 32]>,
    url: &str,
) -> Result<Copied> {
    let started = Instant::now();
    let options = PgOptions::default();
    let audit_dir = &crate::audit::dir_in(data_dir);
    let mut parts = Vec::new();
    let read_started = Instant::now();
    // The audit files must be intact: a broken chain is not carried into the shared store.
    let audit_entries = if log_path(audit_dir).exists() {
        crate::audit::verify_dir(audit_dir, anchor_key)?;
        let mut entries = Vec::new();
        scan(&log_path(audit_dir), None, |entry, hash| {
            let mut payload = Vec::new();
            entry.encode(&mut payload);
            // The encoding is canonical: re-encoding gives the stored bytes back.
            if entry_hash(&payload) != *hash {
                return Err(Error::AuditBroken {
                    seq: entry.seq,
                    reason: "entry does not re-encode to its stored bytes".into(),
                });
            }
            entries.push((entry.seq as i64, payload, hash.to_vec()));
            Ok(())
        })?;
        entries
    } else {
        Vec::new()
    };
    let labels = per_label_rows(store)?;
    let overrides = raw(&store.overrides)?;
    let history = raw(&store.override_history)?
        .into_iter()
        .map(|(key, value)| {
            let seq = u64::from_be_bytes(
                key.as_slice()
                    .try_into()
                    .map_err(|_| Error::Corrupt("override_history: key is not a seq".into()))?,
            );
            Ok((seq as i64, value))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = raw(&store.meta)?
        .into_iter()
        // The nonce mark is replaced by claims; the format is PostgreSQL's own (per-label rows).
        .filter(|(key, _)| {
            key.as_slice() != super::NONCE_MARK.as_bytes()
                && key.as_slice() != super::STORE_FORMAT.as_bytes()
        })
        .map(|(key, value)| {
            let name = String::from_utf8(key)
                .map_err(|_| Error::Corrupt("meta: name is not UTF-8".into()))?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>>>()?;
    let mark = store.nonce_mark()?;
    // The store and audit files were read together; their time is shared by their parts in
    // proportion to the records (they are read in one pass each, checked at open).
    let store_read = read_started.elapsed();
    let feed_started = Instant::now();
    let feed = FeedRows::read(&data_dir.join(crate::node::CHANGES_DIR))?;
    let feed_read = feed_started.elapsed();
    // Held (with its lock: no node or follower appends meanwhile) until the frames are copied.
    let transfers_started = Instant::now();
    let transfers_dir = data_dir.join(crate::exposure::DIR);
    let transfers = if transfers_dir.join(LOG_FILE).exists() {
        Some(TransferStore::open(&transfers_dir)?)
    } else {
        None
    };
    let transfers_read = transfers_started.elapsed();

    let mut client = client_config(url, &options)?.connect().map_err(pg_error)?;
    migrate(&mut client)?;
    let mut tx = client.transaction().map_err(pg_error)?;
    let used: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM labels WHERE key <> $1) + (SELECT count(*) FROM overrides)
                  + (SELECT count(*) FROM override_history) + (SELECT count(*) FROM audit_entries)
                  + (SELECT count(*) FROM change_feed) + (SELECT count(*) FROM change_levels)
                  + (SELECT count(*) FROM webhook_states) + (SELECT count(*) FROM transfer_frames)",
            &[&LABELS_VERSION_KEY],
        )
        .map_err(pg_error)?
        .get(0);
    if used > 0 {
        return Err(Error::Config(
            "the PostgreSQL database already holds a store: migrate into an empty database".into(),
        ));
    }
    let store_records =
        (labels.len() + overrides.len() + history.len() + audit_entries.len()).max(1);
    let share = |records: usize| store_read.mul_f64(records as f64 / store_records as f64);
    // The empty database's own initial rows give way to the copied ones.
    tx.batch_execute("DELETE FROM labels; DELETE FROM meta;")
        .map_err(pg_error)?;
    let part_started = Instant::now();
    insert_pairs(
        &mut tx,
        "INSERT INTO labels (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
        &labels,
    )?;
    parts.push(Part {
        name: "labels",
        records: labels.len() as u64,
        took: part_started.elapsed() + share(labels.len()),
    });
    let part_started = Instant::now();
    insert_pairs(
        &mut tx,
        "INSERT INTO overrides (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
        &overrides,
    )?;
    insert_pairs(
        &mut tx,
        "INSERT INTO override_history (seq, value) SELECT * FROM unnest($1::int8[], $2::bytea[])",
        &history,
    )?;
    if let Some(last) = history.iter().map(|(seq, _)| *seq).max() {
        tx.execute("SELECT setval('override_history_seq', $1)", &[&last])
            .map_err(pg_error)?;
    }
    for (name, value) in &meta {
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ($1, $2)",
            &[name, value],
        )
        .map_err(pg_error)?;
    }
    if mark > 0 {
        tx.execute(
            "INSERT INTO nonce_claims (second, slot) VALUES ($1, 0)",
            &[&(mark as i64)],
        )
        .map_err(pg_error)?;
    }
    parts.push(Part {
        name: "overrides, changes and metadata",
        records: (overrides.len() + history.len() + meta.len()) as u64,
        took: part_started.elapsed() + share(overrides.len() + history.len()),
    });
    let part_started = Instant::now();
    for chunk in audit_entries.chunks(CHUNK) {
        let seqs: Vec<i64> = chunk.iter().map(|e| e.0).collect();
        let bodies: Vec<&Vec<u8>> = chunk.iter().map(|e| &e.1).collect();
        let hashes: Vec<&Vec<u8>> = chunk.iter().map(|e| &e.2).collect();
        tx.execute(
            "INSERT INTO audit_entries (seq, entry, hash)
             SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[])",
            &[&seqs, &bodies, &hashes],
        )
        .map_err(pg_error)?;
    }
    let head = audit_entries
        .last()
        .map(|e| e.2.clone())
        .unwrap_or_else(|| crate::audit::GENESIS.to_vec());
    tx.execute(
        "UPDATE audit_head SET entries = $1, head = $2 WHERE id = 1",
        &[&(audit_entries.len() as i64), &head],
    )
    .map_err(pg_error)?;
    parts.push(Part {
        name: "audit entries",
        records: audit_entries.len() as u64,
        took: part_started.elapsed() + share(audit_entries.len()),
    });
    let part_started = Instant::now();
    feed.insert(&mut tx)?;
    parts.push(Part {
        name: "change feed, levels and webhook states",
        records: feed.records(),
        took: part_started.elapsed() + feed_read,
    });
    let part_started = Instant::now();
    let (frames, transfer_count, graph_shape) = match &transfers {
        Some(store) => {
            let frames = copy_frames(&transfers_dir.join(LOG_FILE), &mut tx)?;
            let graph = store.graph();
            (
                frames,
                graph.edge_count() as u64,
                Some((graph.edge_count(), graph.address_count())),
            )
        }
        None => (0, 0, None),
    };
    parts.push(Part {
        name: "transfer frames",
        records: frames,
        took: part_started.elapsed() + transfers_read,
    });
    tx.commit().map_err(pg_error)?;
    drop(transfers);
    // Checked as a replica checks it at start: every record, the label digest, the chain tail.
    let opened = PgStore::open(url, &options)?;
    if opened.labels_version()? != store.labels_version()? {
        return Err(Error::Corrupt(
            "the migrated label set's version differs from the sled store's".into(),
        ));
    }
    crate::audit::postgres::check_tail(&mut client)?;
    let (head_entries, head) = crate::audit::postgres::head(&mut client)?;
    let pool = PgPool::new(url, &options)?;
    let migrated_feed = ChangeLog::over(PgFeed::new(pool.clone()));
    if migrated_feed.last_seq()? != feed.last_seq() {
        return Err(Error::Corrupt(
            "the migrated change feed's last seq differs from the data dir's".into(),
        ));
    }
    if let Some((edges, addresses)) = graph_shape {
        let shared = TransferStore::shared(Box::new(PgFrames::new(pool, options.open_timeout)))?;
        let graph = shared.graph();
        if (graph.edge_count(), graph.address_count()) != (edges, addresses) {
            return Err(Error::Corrupt(
                "the migrated transfer log does not rebuild the data dir's graph".into(),
            ));
        }
    }
    let label_count = labels
        .iter()
        .filter(|(key, _)| key.as_slice() != LABELS_VERSION_KEY)
        .count() as u64;
    Ok(Copied {
        labels: label_count,
        overrides: (overrides.len() + history.len()) as u64,
        meta: meta.len() as u64,
        audit_entries: audit_entries.len() as u64,
        changes: feed.changes.len() as u64,
        levels: feed.levels.len() as u64,
        webhooks: feed.webhooks.len() as u64,
        transfer_frames: frames,
        trust_head: crate::audit::pg_head::TrustedHead {
            entries: head_entries,
            head,
        },
        transfers: transfer_count,
        parts,
        took: started.elapsed(),
    })
}

/// The change feed of a data dir (`DATA_DIR/changes`, its own sled database), every record
/// checked, as the rows of `change_feed`, `change_levels` and `webhook_states`.
#[derive(Default)]
struct FeedRows {
    changes: Vec<(i64, Vec<u8>)>,
    levels: Vec<(Vec<u8>, Vec<u8>)>,
    webhooks: Vec<(String, Vec<u8>)>,
}

impl FeedRows {
    /// Reads the feed in `dir`; none (a node that never recorded a change) is an empty feed.
    fn read(dir: &Path) -> Result<FeedRows> {
        if !dir.exists() {
            return Ok(FeedRows::default());
        }
        let db = super::sled_open::open(dir, "the change feed")?;
        let mut rows = FeedRows::default();
        for (key, value) in raw(&db.open_tree(CHANGES)?)? {
            let change = decode_change(&key, &value)?;
            let seq = <[u8; 8]>::try_from(key.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| Error::Corrupt("change feed: a key is not a seq".into()))?;
            if change.seq != seq || seq == 0 || seq > i64::MAX as u64 {
                return Err(Error::Corrupt(format!(
                    "change feed: record {seq} names seq {}",
                    change.seq
                )));
            }
            rows.changes.push((seq as i64, value));
        }
        for (key, value) in raw(&db.open_tree(LEVELS)?)? {
            decode_level(&key, &value)?;
            rows.levels.push((key, value));
        }
        for (key, value) in raw(&db.open_tree(WEBHOOKS)?)? {
            unwrap(WEBHOOKS, &key, &value)?;
            let id = String::from_utf8(key)
                .map_err(|_| Error::Corrupt("webhooks: a subscriber id is not UTF-8".into()))?;
            rows.webhooks.push((id, value));
        }
        Ok(rows)
    }

    fn records(&self) -> u64 {
        (self.changes.len() + self.levels.len() + self.webhooks.len()) as u64
    }

    /// The seq of the last change (0 when there is none), as [`ChangeLog::last_seq`] says it.
    fn last_seq(&self) -> u64 {
        self.changes.last().map_or(0, |(seq, _)| *seq as u64)
    }

    fn insert(&self, tx: &mut postgres::Transaction<'_>) -> Result<()> {
        insert_pairs(
            tx,
            "INSERT INTO change_feed (seq, value) SELECT * FROM unnest($1::int8[], $2::bytea[])",
            &self.changes,
        )?;
        insert_pairs(
            tx,
            "INSERT INTO change_levels (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
            &self.levels,
        )?;
        insert_pairs(
            tx,
            "INSERT INTO webhook_states (id, value) SELECT * FROM unnest($1::text[], $2::bytea[])",
            &self.webhooks,
        )?;
        Ok(())
    }
}

/// Inserts two-column rows in statements of [`CHUNK`] rows; `sql` takes the two columns as
/// arrays (`SELECT * FROM unnest($1::…[], $2::…[])`).
fn insert_pairs<A, B>(tx: &mut postgres::Transaction<'_>, sql: &str, rows: &[(A, B)]) -> Result<()>
where
    A: postgres::types::ToSql + Sync + Clone,
    B: postgres::types::ToSql + Sync + Clone,
{
    for chunk in rows.chunks(CHUNK) {
        let (a, b): (Vec<A>, Vec<B>) = chunk.iter().cloned().unzip();
        tx.execute(sql, &[&a, &b]).map_err(pg_error)?;
    }
    Ok(())
}

/// Copies the frames of the transfer log at `path` (already checked whole by
/// [`TransferStore::open`], whose lock is held) as rows numbered from 1, streaming in bounded
/// chunks; returns how many. The frames are read again through the log's own reader
/// ([`read_frames`]), so a frame that changed since the check is refused rather than copied.
fn copy_frames(path: &Path, tx: &mut postgres::Transaction<'_>) -> Result<u64> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let (mut seqs, mut crcs, mut payloads) = (Vec::new(), Vec::new(), Vec::<Vec<u8>>::new());
    let mut bytes = 0;
    let flush = |tx: &mut postgres::Transaction<'_>,
                 seqs: &mut Vec<i64>,
                 crcs: &mut Vec<i64>,
                 payloads: &mut Vec<Vec<u8>>|
     -> Result<()> {
        if !seqs.is_empty() {
            tx.execute(
                "INSERT INTO transfer_frames (seq, crc, payload)
                 SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])",
                &[&*seqs, &*crcs, &*payloads],
            )
            .map_err(pg_error)?;
        }
        seqs.clear();
        crcs.clear();
        payloads.clear();
        Ok(())
    };
    let mut seq = 0i64;
    let intact = read_frames(&file, len, |crc, payload| {
        seq += 1;
        bytes += payload.len();
        seqs.push(seq);
        crcs.push(i64::from(crc));
        payloads.push(payload.to_vec());
        if seqs.len() >= CHUNK || bytes >= FRAME_CHUNK_BYTES {
            flush(tx, &mut seqs, &mut crcs, &mut payloads)?;
            bytes = 0;
        }
        Ok(())
    })?;
    if intact != len {
        // Open cut any torn tail: a cut-short frame now was written since the check.
        return Err(Error::Corrupt(format!(
            "transfer log {}: frame {} changed since it was checked",
            path.display(),
            seq + 1
        )));
    }
    flush(tx, &mut seqs, &mut crcs, &mut payloads)?;
    Ok(seq as u64)
}

/// The label set as PostgreSQL keeps it: one row per label (format-2 key, checked JSON value)
/// and the version row. The digest's terms are per label, so the version carries over as is.
fn per_label_rows(store: &SledStore) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut rows = Vec::new();
    for (key, value) in raw(&store.labels)? {
        let payload = unwrap(super::ADDRESS_LABELS, &key, &value)?;
        if key.as_slice() == LABELS_VERSION_KEY {
            rows.push((key, wrap("labels", LABELS_VERSION_KEY, payload)));
            continue;
        }
        for label in decode_address_labels(&key, payload)? {
            let key = label_key(&label);
            let value = to_json(&LabelValue {
                name: label.name,
                first_seen: label.first_seen,
            })?;
            let value = wrap("labels", &key, &value);
            rows.push((key, value));
        }
    }
    Ok(rows)
}

/// Every (key, value) of a tree as stored (checked records: the checks ran at open).
fn raw(tree: &sled::Tree) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    tree.iter()
        .map(|item| {
            let (key, value) = item?;
            Ok((key.to_vec(), value.to_vec()))
        })
        .collect()
}
