//! `tollgate-oracle migrate`: copies a node's sled store and audit files into an empty
//! PostgreSQL database, so its replicas continue where the single node stopped.
//!
//! Records are copied as they are (the PostgreSQL store keeps the sled store's checked
//! records under the same keys), after both sides were checked: the sled store by
//! [`SledStore::open`], the audit files by [`crate::audit::verify_dir`] against their anchor.
//! Everything goes in one transaction, so a failed migration leaves the database empty. The
//! nonce mark becomes a claim of its second, so replicas issue only later seconds. Then the
//! database is opened as a store and its audit chain checked, as a replica would at start.

use std::path::Path;
use std::time::{Duration, Instant};

use super::postgres::{client_config, migrate, pg_error, PgOptions, PgStore};
use super::{
    decode_address_labels, label_key, to_json, unwrap, wrap, LabelValue, SledStore, Store,
    LABELS_VERSION_KEY,
};
use crate::audit::format::entry_hash;
use crate::audit::log::{log_path, scan};
use crate::error::{Error, Result};

/// Rows per insert statement.
const CHUNK: usize = 2_000;

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
    /// How long it took (reading, checking and committing).
    pub took: Duration,
}

impl Copied {
    /// Every record copied.
    pub fn records(&self) -> u64 {
        self.labels + self.overrides + self.meta + self.audit_entries
    }

    /// Records per second.
    pub fn per_second(&self) -> f64 {
        self.records() as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// Copies `store` and the audit log in `audit_dir` (checked against its anchor, signed by
/// `anchor_key` when given) into the empty database of `url`.
pub fn migrate_to_postgres(
    store: &SledStore,
    audit_dir: &Path,
    anchor_key: Option<[u8; 32]>,
    url: &str,
) -> Result<Copied> {
    let started = Instant::now();
    let options = PgOptions::default();
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

    let mut client = client_config(url, &options)?.connect().map_err(pg_error)?;
    migrate(&mut client)?;
    let mut tx = client.transaction().map_err(pg_error)?;
    let used: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM labels WHERE key <> $1) + (SELECT count(*) FROM overrides)
                  + (SELECT count(*) FROM override_history) + (SELECT count(*) FROM audit_entries)",
            &[&LABELS_VERSION_KEY],
        )
        .map_err(pg_error)?
        .get(0);
    if used > 0 {
        return Err(Error::Config(
            "the PostgreSQL database already holds a store: migrate into an empty database".into(),
        ));
    }
    // The empty database's own initial rows give way to the copied ones.
    tx.batch_execute("DELETE FROM labels; DELETE FROM meta;")
        .map_err(pg_error)?;
    for chunk in labels.chunks(CHUNK) {
        let (keys, values): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
        tx.execute(
            "INSERT INTO labels (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
            &[&keys, &values],
        )
        .map_err(pg_error)?;
    }
    for chunk in overrides.chunks(CHUNK) {
        let (keys, values): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
        tx.execute(
            "INSERT INTO overrides (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
            &[&keys, &values],
        )
        .map_err(pg_error)?;
    }
    for chunk in history.chunks(CHUNK) {
        let (seqs, values): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
        tx.execute(
            "INSERT INTO override_history (seq, value) SELECT * FROM unnest($1::int8[], $2::bytea[])",
            &[&seqs, &values],
        )
        .map_err(pg_error)?;
    }
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
    tx.commit().map_err(pg_error)?;
    // Checked as a replica checks it at start: every record, the label digest, the chain tail.
    let opened = PgStore::open(url, &options)?;
    if opened.labels_version()? != store.labels_version()? {
        return Err(Error::Corrupt(
            "the migrated label set's version differs from the sled store's".into(),
        ));
    }
    crate::audit::postgres::check_tail(&mut client)?;
    let label_count = labels
        .iter()
        .filter(|(key, _)| key.as_slice() != LABELS_VERSION_KEY)
        .count() as u64;
    Ok(Copied {
        labels: label_count,
        overrides: (overrides.len() + history.len()) as u64,
        meta: meta.len() as u64,
        audit_entries: audit_entries.len() as u64,
        took: started.elapsed(),
    })
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
