//! The transfer log on the PostgreSQL database replicas share (`transfer_frames`, `leases`;
//! `oracle/migrations/0002_shared_feed_transfers.sql`): [`SharedLog`] for
//! [`TransferStore::shared`].
//!
//! A row is one frame of [`super::transfers`] (payload and its CRC32C, checked on every read),
//! numbered from 1. An append is one transaction under an advisory lock that inserts frame
//! `applied + 1` only if the newest frame is `applied`: so frames form one sequence whatever
//! the number of writers, and every replica, applying them in order, interns the same ids. The
//! follower's cursor travels in the frames, so it is shared too; the `follower` lease makes one
//! replica at a time poll the chain (the others take over when it lapses).

use std::time::Duration;

use super::transfers::{SharedLog, TransferStore};
use crate::audit::format::CRC32C;
use crate::error::{Error, Result};
use crate::store::postgres::{pg_error, PgPool};

/// Advisory lock key of frame appends ("tgxfer" in ASCII).
const FRAMES_LOCK: i64 = 0x7467_7866_6572;
/// Frames read per query while catching up.
const FETCH_PAGE: i64 = 500;

/// The transfer frames in PostgreSQL, as one process sees them.
pub struct PgFrames {
    pool: PgPool,
    /// Frames applied by this process (the seq of the last).
    applied: i64,
    /// This process's name in leases.
    holder: String,
    /// Longest wait for catching up at open (many frames).
    open_timeout: Duration,
}

impl PgFrames {
    /// The frames of the (migrated) database behind `pool`.
    pub fn new(pool: PgPool, open_timeout: Duration) -> PgFrames {
        PgFrames {
            pool,
            applied: 0,
            holder: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            open_timeout,
        }
    }

    /// A transfer store over the shared frames, caught up, with a thread that applies what
    /// other replicas append every `every` (the readers' view lags by at most that).
    pub fn open_store(
        pool: PgPool,
        open_timeout: Duration,
        every: Duration,
    ) -> Result<std::sync::Arc<TransferStore>> {
        let store = std::sync::Arc::new(TransferStore::shared(Box::new(PgFrames::new(
            pool,
            open_timeout,
        )))?);
        let weak = std::sync::Arc::downgrade(&store);
        std::thread::Builder::new()
            .name("transfers-refresh".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(store) = weak.upgrade() else {
                    return;
                };
                match store.refresh() {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::debug!(frames = n, "applied transfer frames of other replicas")
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot refresh the shared transfer log")
                    }
                }
            })?;
        Ok(store)
    }
}

/// The frames after `after`, checked, at most one page.
fn frames_after(client: &mut postgres::Client, after: i64) -> Result<Vec<(i64, Vec<u8>)>> {
    let rows = client
        .query(
            "SELECT seq, crc, payload FROM transfer_frames WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &FETCH_PAGE],
        )
        .map_err(pg_error)?;
    let mut frames = Vec::with_capacity(rows.len());
    for (expected, row) in (after + 1..).zip(rows) {
        let (seq, crc, payload): (i64, i64, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
        if seq != expected {
            return Err(Error::Corrupt(format!(
                "transfer log: frame {expected} is missing (next is {seq})"
            )));
        }
        if i64::from(CRC32C.checksum(&payload)) != crc {
            return Err(Error::Corrupt(format!(
                "transfer log: frame {seq} fails its checksum"
            )));
        }
        frames.push((seq, payload));
    }
    Ok(frames)
}

impl SharedLog for PgFrames {
    fn fetch_new(&mut self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        loop {
            let after = self.applied;
            // The first catch-up may read the whole log.
            let timeout = if after == 0 {
                self.open_timeout
            } else {
                Duration::from_secs(2)
            };
            let page = self
                .pool
                .run_within(timeout, move |client| frames_after(client, after))?;
            let full = page.len() as i64 == FETCH_PAGE;
            for (seq, payload) in page {
                self.applied = seq;
                out.push(payload);
            }
            if !full {
                return Ok(out);
            }
        }
    }

    fn append(&mut self, payload: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        let (applied, payload) = (self.applied, payload.to_vec());
        let crc = i64::from(CRC32C.checksum(&payload));
        let written = self.pool.run(move |client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FRAMES_LOCK])
                .map_err(pg_error)?;
            let last: i64 = tx
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM transfer_frames", &[])
                .map_err(pg_error)?
                .get(0);
            if last != applied {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO transfer_frames (seq, crc, payload) VALUES ($1, $2, $3)",
                &[&(applied + 1), &crc, &payload],
            )
            .map_err(pg_error)?;
            tx.commit().map_err(pg_error)?;
            Ok(true)
        })?;
        if written {
            self.applied += 1;
            Ok(None)
        } else {
            self.fetch_new().map(Some)
        }
    }

    fn hold_lease(&mut self, name: &str, ttl: Duration) -> Result<bool> {
        let (name, holder) = (name.to_string(), self.holder.clone());
        let ttl = ttl.as_secs_f64();
        self.pool.run(move |client| {
            // Taken when free or lapsed, renewed while held; PostgreSQL's clock decides.
            let row = client
                .query_opt(
                    "INSERT INTO leases (name, holder, until)
                     VALUES ($1, $2, now() + make_interval(secs => $3))
                     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                     WHERE leases.holder = EXCLUDED.holder OR leases.until < now()
                     RETURNING holder",
                    &[&name, &holder, &ttl],
                )
                .map_err(pg_error)?;
            Ok(row.is_some())
        })
    }
}
