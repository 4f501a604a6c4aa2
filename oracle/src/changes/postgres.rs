//! The change feed on the PostgreSQL database replicas share (`change_feed`, `change_levels`,
//! `webhook_states`; `oracle/migrations/0002_shared_feed_transfers.sql`).
//!
//! A poller of `GET /v1/changes` or a webhook subscriber sees one feed whichever replica it
//! reaches: an append takes a transaction-scoped advisory lock, reads the recorded levels and
//! the last seq inside it, and commits the changes with their levels in one transaction, so seqs
//! of all replicas follow one another without gaps and a change is committed ("durable") before
//! the answer. Records are checked as in sled (same tree names and keys).

use std::collections::HashMap;

use tollgate_sdk::Address;

use super::{
    change_of, decide, decode_change, decode_level, to_json, Change, Decision, FeedBackend, Judged,
    Snapshot, CHANGES, LEVELS, WEBHOOKS,
};
use crate::error::Result;
use crate::store::postgres::{pg_error, PgPool};
use crate::store::{address_key, unwrap, wrap};

/// Advisory lock key of feed appends ("tgfeed" in ASCII).
const FEED_LOCK: i64 = 0x7467_6665_6564;

/// The feed in PostgreSQL.
pub struct PgFeed {
    pool: PgPool,
}

impl PgFeed {
    /// The feed over a pool of the (migrated) database.
    pub fn new(pool: PgPool) -> PgFeed {
        PgFeed { pool }
    }
}

impl FeedBackend for PgFeed {
    fn last_seq(&self) -> Result<u64> {
        self.pool.run(|client| {
            let seq: i64 = client
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM change_feed", &[])
                .map_err(pg_error)?
                .get(0);
            Ok(seq as u64)
        })
    }

    fn page(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.pool.run(move |client| {
            let rows = client
                .query(
                    "SELECT seq, value FROM change_feed WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&since, &limit],
                )
                .map_err(pg_error)?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, Vec<u8>>(1)))
                .collect::<Vec<_>>())
        })?;
        rows.iter()
            .map(|(seq, value)| decode_change(&(*seq as u64).to_be_bytes(), value))
            .collect()
    }

    fn level(&self, address: &Address) -> Result<Option<Snapshot>> {
        let key = address_key(address).to_vec();
        let (key, value) = self.pool.run(move |client| {
            let row = client
                .query_opt("SELECT value FROM change_levels WHERE key = $1", &[&key])
                .map_err(pg_error)?;
            Ok((key, row.map(|r| r.get::<_, Vec<u8>>(0))))
        })?;
        value.map(|value| decode_level(&key, &value)).transpose()
    }

    fn record(
        &self,
        judged: &[Judged],
        baseline: &HashMap<Address, Snapshot>,
        cause: &str,
        now: u64,
    ) -> Result<Vec<Change>> {
        let judged = judged.to_vec();
        let baseline: HashMap<Address, Snapshot> = judged
            .iter()
            .filter_map(|j| baseline.get(&j.address).map(|s| (j.address, s.clone())))
            .collect();
        let cause = cause.to_string();
        self.pool.run(move |client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])
                .map_err(pg_error)?;
            let keys: Vec<Vec<u8>> = judged
                .iter()
                .map(|j| address_key(&j.address).to_vec())
                .collect();
            let mut levels = HashMap::new();
            for row in tx
                .query(
                    "SELECT key, value FROM change_levels WHERE key = ANY($1)",
                    &[&keys],
                )
                .map_err(pg_error)?
            {
                let (key, value): (Vec<u8>, Vec<u8>) = (row.get(0), row.get(1));
                let level = decode_level(&key, &value)?;
                levels.insert(key, level);
            }
            let last: i64 = tx
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM change_feed", &[])
                .map_err(pg_error)?
                .get(0);
            let mut seq = last as u64;
            let mut recorded = Vec::new();
            let (mut level_keys, mut level_values) = (Vec::new(), Vec::new());
            let (mut seqs, mut change_values) = (Vec::new(), Vec::new());
            for (item, key) in judged.iter().zip(keys) {
                let previous = levels
                    .remove(&key)
                    .or_else(|| baseline.get(&item.address).cloned());
                match decide(previous, &item.current) {
                    Decision::Change(previous) => {
                        seq += 1;
                        let change = change_of(item, previous, seq, &cause, now);
                        change_values.push(wrap(CHANGES, &seq.to_be_bytes(), &to_json(&change)?));
                        seqs.push(seq as i64);
                        recorded.push(change);
                    }
                    Decision::LevelOnly => {}
                    Decision::Nothing => continue,
                }
                level_values.push(wrap(LEVELS, &key, &to_json(&item.current)?));
                level_keys.push(key);
            }
            // One statement per table, whatever the number of addresses.
            if !seqs.is_empty() {
                tx.execute(
                    "INSERT INTO change_feed (seq, value) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])",
                    &[&seqs, &change_values],
                )
                .map_err(pg_error)?;
            }
            if !level_keys.is_empty() {
                tx.execute(
                    "INSERT INTO change_levels (key, value) SELECT * FROM UNNEST($1::bytea[], $2::bytea[])
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    &[&level_keys, &level_values],
                )
                .map_err(pg_error)?;
            }
            tx.commit().map_err(pg_error)?;
            Ok(recorded)
        })
    }

    fn webhook_state(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let id = id.to_string();
        let (id, value) = self.pool.run(move |client| {
            let row = client
                .query_opt("SELECT value FROM webhook_states WHERE id = $1", &[&id])
                .map_err(pg_error)?;
            Ok((id, row.map(|r| r.get::<_, Vec<u8>>(0))))
        })?;
        value
            .map(|value| unwrap(WEBHOOKS, id.as_bytes(), &value).map(<[u8]>::to_vec))
            .transpose()
    }

    fn put_webhook_state(&self, id: &str, state: &[u8]) -> Result<()> {
        let value = wrap(WEBHOOKS, id.as_bytes(), state);
        let id = id.to_string();
        self.pool.run(move |client| {
            client
                .execute(
                    "INSERT INTO webhook_states (id, value) VALUES ($1, $2)
                     ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value",
                    &[&id, &value],
                )
                .map_err(pg_error)?;
            Ok(())
        })
    }
}
