//! [`Store`] on PostgreSQL, for replicas: several node processes with one signing key share one
//! database (`serve --store postgres://…`).
//!
//! # Why the synchronous `postgres` client, on threads of its own
//!
//! [`Store`] is synchronous (sled is) and the audit committer is a plain thread, so the
//! synchronous client fits without an async layer. That client runs a small tokio runtime of
//! its own and panics when used on a tokio worker, where the handlers call the store; so a
//! [`PgPool`] keeps its connections on threads of its own and the caller waits for the answer
//! (bounded by [`PgOptions::timeout`], so a database that is down or hung is a fast 503, not a
//! stuck request). A connection that fails is dropped and made again on the next call: the
//! node recovers by itself when PostgreSQL comes back.
//!
//! # Layout
//!
//! The schema is in `oracle/migrations/` (applied in order by [`migrate`], under an advisory
//! lock so replicas starting together apply it once). Rows keep the sled store's checked
//! records (`CRC32C(tree ‖ 0 ‖ key ‖ payload)` then the payload) under the sled keys, so every
//! read is checked as in sled and a sled store migrates by copying records.
//!
//! # What replicas share, and how they agree
//!
//! - **Labels**: each write locks the label set's version row, so the version committed always
//!   names the labels committed with it, whichever replica wrote them. A judgement reads the
//!   labels of an address and the version in one statement (one snapshot), so an ingest on one
//!   replica is visible to every other at its commit.
//! - **Nonces**: a replica claims each second it issues in, with a 12-bit slot unique within
//!   the second ([`Store::reserve_nonce_second`]); nonces carry the slot, so no two replicas
//!   can issue the same nonce.
//! - **Durable** means committed (PostgreSQL's `synchronous_commit`, on by default: the WAL is
//!   flushed before the commit returns).
//!
//! The sled store's guard file has no counterpart: it protects a local directory against
//! silent truncation, which a database server with its own WAL and checksums does not suffer
//! the same way. Rows altered outside the node are still caught by the record checks.
//!
//! # Exposure data (issue of `oracle/src/exposure/`)
//!
//! The transfer and exposure records another part of the node keeps in sled map onto this
//! store the same way: one table per sled tree, `(key bytea PRIMARY KEY, value bytea)`, the
//! value a checked record under the sled key, range scans by key prefix (`key >= p AND key < p
//! ‖ 0xff`, as [`PgStore::labels_for`] does). They are not implemented here yet.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::{Client, NoTls};
use tollgate_sdk::{Address, Categories};

use super::{
    address_key, check_label, corrupt, count_categories, decode_label, decode_override,
    decode_override_change, label_key, label_key_of, label_removal, label_write, to_json, unwrap,
    wrap, IntegrityReport, Label, LabelSetCheck, LabelValue, LabelsVersion, Override,
    OverrideChange, PutOutcome, Store, INITIALIZED, LABELS_VERSION_KEY, NONCE_MARK,
    PER_LABEL_FORMAT as FORMAT, STORE_FORMAT,
};
use crate::error::{Error, Result};
use crate::nonce::PROCESS_BITS;

/// The migrations, in order: (version, name, SQL). One source of truth: the files.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "shared_feed_transfers",
        include_str!("../../migrations/0002_shared_feed_transfers.sql"),
    ),
];

/// Advisory lock key taken while migrating ("tollgate" in ASCII).
const MIGRATION_LOCK: i64 = 0x746f_6c6c_6761_7465;

/// How long nonce claims are kept. A replica never issues below the newest claim (the nonce
/// mark) and refuses to start with a clock more than [`crate::nonce::MAX_CLOCK_BEHIND`]
/// behind it, so claims a day old can never be claimed again.
const NONCE_CLAIMS_KEPT_SECS: i64 = 86_400;

/// How the node talks to PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Connections (and their threads) kept for store calls.
    pub connections: usize,
    /// Longest wait for one store call, including (re)connecting; then [`Error::Store`] (503).
    pub timeout: Duration,
    /// Longest wait for opening: migrations (under a lock other replicas may hold) and the
    /// check of every record.
    pub open_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            connections: 4,
            timeout: Duration::from_secs(2),
            open_timeout: Duration::from_secs(60),
        }
    }
}

/// How to connect: the client's configuration and the TLS connector its `sslmode` asks for
/// ([`super::pg_tls`]).
#[derive(Clone)]
pub struct PgConfig {
    /// The client library's configuration (the node's timeouts applied).
    pub config: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("config", &self.config)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl PgConfig {
    /// Opens a connection (TLS when the string asks for it).
    pub fn connect(&self) -> std::result::Result<Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
    }
}

/// A connection string's configuration with the node's timeouts applied, and its TLS.
pub fn client_config(url: &str, options: &PgOptions) -> Result<PgConfig> {
    let (rest, tls) = super::pg_tls::split_tls_params(url)?;
    let mut config: postgres::Config = rest
        .parse()
        .map_err(|err| Error::Config(format!("invalid PostgreSQL connection string: {err}")))?;
    config.ssl_mode(tls.mode);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.timeout);
    }
    // A server that stops answering (a partition, a hung host) must fail the connection
    // rather than hold the committer forever: unacknowledged data for this long closes it.
    config.tcp_user_timeout(Duration::from_secs(10));
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10));
    if config.get_application_name().is_none() {
        config.application_name("tollgate-oracle");
    }
    Ok(PgConfig {
        config,
        tls: super::pg_tls::connector(&tls)?,
    })
}

/// Maps a client error to the node's: the database is unavailable (503, retry).
pub fn pg_error(err: postgres::Error) -> Error {
    Error::Store(format!("postgres: {err}"))
}

/// A call on a connection thread: its connection (none when it cannot connect) and, then,
/// why not.
type Job = Box<dyn FnOnce(&mut Option<Client>, &str) + Send>;

/// Connections on threads of their own (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct PgPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    jobs: Mutex<mpsc::Sender<Job>>,
    timeout: Duration,
}

impl PgPool {
    /// Starts `options.connections` connection threads for `url`. Connects lazily: a database
    /// that is down now fails the first calls, not the pool.
    pub fn new(url: &str, options: &PgOptions) -> Result<PgPool> {
        let config = client_config(url, options)?;
        let (send, receive) = mpsc::channel::<Job>();
        let receive = Arc::new(Mutex::new(receive));
        for n in 0..options.connections.max(1) {
            let (receive, config) = (receive.clone(), config.clone());
            std::thread::Builder::new()
                .name(format!("pg-conn-{n}"))
                .spawn(move || {
                    let mut client: Option<Client> = None;
                    let mut why = String::new();
                    loop {
                        let job = match receive.lock() {
                            Ok(queue) => match queue.recv() {
                                Ok(job) => job,
                                Err(_) => return, // the pool is gone
                            },
                            Err(_) => return,
                        };
                        if client.as_ref().is_some_and(Client::is_closed) {
                            client = None;
                        }
                        if client.is_none() {
                            match config.connect() {
                                Ok(c) => client = Some(c),
                                Err(err) => {
                                    tracing::warn!(error = %err, "cannot connect to postgres");
                                    why = err.to_string();
                                }
                            }
                        }
                        job(&mut client, &why);
                    }
                })?;
        }
        Ok(PgPool {
            inner: Arc::new(PoolInner {
                jobs: Mutex::new(send),
                timeout: options.timeout,
            }),
        })
    }

    /// Runs `f` on a connection and waits for its result, at most the pool's timeout.
    pub fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.run_within(self.inner.timeout, f)
    }

    /// [`PgPool::run`] with another timeout (for long calls: opening, full checks).
    pub fn run_within<R: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&mut Client) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client: &mut Option<Client>, why: &str| {
            let result = match client.as_mut() {
                Some(c) => f(c),
                None => Err(Error::Store(format!("postgres is unreachable: {why}"))),
            };
            if result.is_err() && client.as_ref().is_some_and(Client::is_closed) {
                *client = None;
            }
            let _ = reply.send(result);
        });
        self.inner
            .jobs
            .lock()
            .map_err(|_| Error::Store("postgres pool poisoned".into()))?
            .send(job)
            .map_err(|_| Error::Store("postgres pool stopped".into()))?;
        match answer.recv_timeout(timeout) {
            Ok(result) => result,
            Err(_) => Err(Error::Store(format!(
                "postgres did not answer within {timeout:?}"
            ))),
        }
    }
}

/// Applies the migrations not yet applied, in one transaction under an advisory lock. A
/// database migrated by a newer node (a version this code does not know) is refused.
pub fn migrate(client: &mut Client) -> Result<u32> {
    let mut tx = client.transaction().map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS tollgate_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .map_err(pg_error)?;
    let applied: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM tollgate_migrations",
            &[],
        )
        .map_err(pg_error)?
        .get(0);
    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if applied > known {
        return Err(Error::Corrupt(format!(
            "the database has schema version {applied}, this node knows up to {known}: it was migrated by a newer node"
        )));
    }
    let mut count = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
        tx.batch_execute(sql).map_err(pg_error)?;
        tx.execute(
            "INSERT INTO tollgate_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .map_err(pg_error)?;
        tracing::info!(version, name, "applied a PostgreSQL migration");
        count += 1;
    }
    tx.commit().map_err(pg_error)?;
    Ok(count)
}

/// The PostgreSQL implementation of [`Store`].
pub struct PgStore {
    pool: PgPool,
    url: String,
    intact: Arc<AtomicBool>,
    open_timeout: Duration,
}

/// The upper bound of a key-prefix range: no label key with the prefix reaches `prefix ‖ 0xff`
/// (after the address comes a UTF-8 source, which never holds the byte 0xff, or its NUL end).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xff);
    end
}

impl PgStore {
    /// Connects, applies the migrations, initialises an empty database and checks every record
    /// (as [`super::SledStore::open`] does). Any damage is refused with [`Error::Corrupt`].
    pub fn open(url: &str, options: &PgOptions) -> Result<PgStore> {
        let pool = PgPool::new(url, options)?;
        let store = PgStore {
            pool,
            url: url.to_string(),
            intact: Arc::new(AtomicBool::new(true)),
            open_timeout: options.open_timeout,
        };
        store.pool.run_within(options.open_timeout, |client| {
            migrate(client)?;
            let mut tx = client.transaction().map_err(pg_error)?;
            let version = LabelsVersion::default().encode();
            tx.execute(
                "INSERT INTO labels (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[
                    &LABELS_VERSION_KEY,
                    &wrap("labels", LABELS_VERSION_KEY, &version),
                ],
            )
            .map_err(pg_error)?;
            for (name, value) in [(INITIALIZED, &b"1"[..]), (STORE_FORMAT, &[FORMAT][..])] {
                tx.execute(
                    "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&name, &wrap("meta", name.as_bytes(), value)],
                )
                .map_err(pg_error)?;
            }
            tx.commit().map_err(pg_error)
        })?;
        let format = store.meta_get(STORE_FORMAT)?;
        if format.as_deref() != Some(&[FORMAT][..]) {
            return Err(Error::Corrupt(format!(
                "unknown store format {format:?}: written by a newer node?"
            )));
        }
        store.verify_integrity()?;
        Ok(store)
    }

    /// The connection string this store was opened with (the audit log opens its own
    /// connection to the same database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store's connection pool (for the audit log's readers and for tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn checked<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(Error::Corrupt(what)) = &result {
            tracing::error!(%what, "store record failed its check: the node stops signing");
            self.intact.store(false, Ordering::Release);
        }
        result
    }

    fn get(&self, table: &'static str, key: Vec<u8>) -> Result<Option<Vec<u8>>> {
        let sql = format!("SELECT value FROM {table} WHERE key = $1");
        let (row, key) = self.pool.run(move |client| {
            let row = client.query_opt(&sql, &[&key]).map_err(pg_error)?;
            Ok((row.map(|r| r.get::<_, Vec<u8>>(0)), key))
        })?;
        match row {
            Some(value) => self.checked(unwrap(table, &key, &value).map(|p| Some(p.to_vec()))),
            None => Ok(None),
        }
    }

    /// Checks every record of every table and recomputes the label set's version; the first
    /// failure is [`Error::Corrupt`].
    pub fn verify_integrity(&self) -> Result<IntegrityReport> {
        let tables = self.pool.run_within(self.open_timeout, |client| {
            let mut tx = client
                .build_transaction()
                .read_only(true)
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .start()
                .map_err(pg_error)?;
            let mut tables = Vec::new();
            for sql in [
                "SELECT key, value FROM labels",
                "SELECT key, value FROM overrides",
                "SELECT int8send(seq), value FROM override_history",
                "SELECT convert_to(name, 'UTF8'), value FROM meta",
            ] {
                let rows = tx.query(sql, &[]).map_err(pg_error)?;
                tables.push(
                    rows.into_iter()
                        .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
                        .collect::<Vec<_>>(),
                );
            }
            tx.commit().map_err(pg_error)?;
            Ok(tables)
        })?;
        let mut report = IntegrityReport::default();
        let mut stored_version = None;
        let mut check = LabelSetCheck::new();
        for (key, value) in &tables[0] {
            let payload = self.checked(unwrap("labels", key, value))?;
            report.records += 1;
            if key.as_slice() == LABELS_VERSION_KEY {
                stored_version = Some(self.checked(LabelsVersion::decode(payload))?);
                continue;
            }
            check.add(&self.checked(decode_label(key, payload))?)?;
        }
        report.labels = self.checked(check.finish(stored_version))?;
        for (key, value) in &tables[1] {
            self.checked(unwrap("overrides", key, value).and_then(|p| decode_override(key, p)))?;
            report.records += 1;
        }
        for (key, value) in &tables[2] {
            self.checked(
                unwrap("override_history", key, value).and_then(|p| decode_override_change(key, p)),
            )?;
            report.records += 1;
        }
        for (key, value) in &tables[3] {
            self.checked(unwrap("meta", key, value))?;
            report.records += 1;
        }
        Ok(report)
    }

    fn labels_in(&self, address: &Address, with_version: bool) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let prefix = address_key(address).to_vec();
        let end = prefix_end(&prefix);
        self.pool.run(move |client| {
            // One statement is one snapshot: the labels and the version they belong to.
            let rows = if with_version {
                client.query(
                    "SELECT key, value FROM labels WHERE key = $3 OR (key >= $1 AND key < $2) ORDER BY key",
                    &[&prefix, &end, &LABELS_VERSION_KEY],
                )
            } else {
                client.query(
                    "SELECT key, value FROM labels WHERE key >= $1 AND key < $2 ORDER BY key",
                    &[&prefix, &end],
                )
            }
            .map_err(pg_error)?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
                .collect())
        })
    }

    fn decode_labels(&self, rows: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<Label>> {
        rows.iter()
            .filter(|(key, _)| key.as_slice() != LABELS_VERSION_KEY)
            .map(|(key, value)| {
                self.checked(unwrap("labels", key, value).and_then(|p| decode_label(key, p)))
            })
            .collect()
    }

    fn version_from(&self, rows: &[(Vec<u8>, Vec<u8>)]) -> Result<LabelsVersion> {
        match rows
            .iter()
            .find(|(key, _)| key.as_slice() == LABELS_VERSION_KEY)
        {
            Some((key, value)) => {
                self.checked(unwrap("labels", key, value).and_then(LabelsVersion::decode))
            }
            None => self.checked(Err(corrupt(
                "labels",
                LABELS_VERSION_KEY,
                "the label set's version row is missing",
            ))),
        }
    }

    fn record_override_change(
        tx: &mut postgres::Transaction<'_>,
        change: &OverrideChange,
    ) -> Result<()> {
        let seq: i64 = tx
            .query_one("SELECT nextval('override_history_seq')", &[])
            .map_err(pg_error)?
            .get(0);
        let key = (seq as u64).to_be_bytes();
        tx.execute(
            "INSERT INTO override_history (seq, value) VALUES ($1, $2)",
            &[&seq, &wrap("override_history", &key, &to_json(change)?)],
        )
        .map_err(pg_error)?;
        Ok(())
    }
}

/// The label set's version, read with the row locked until `tx` ends. The lock orders the label
/// writes and removals of every replica: the version committed names exactly the labels
/// committed with it.
fn lock_labels_version(tx: &mut postgres::Transaction<'_>) -> Result<LabelsVersion> {
    let row = tx
        .query_opt(
            "SELECT value FROM labels WHERE key = $1 FOR UPDATE",
            &[&LABELS_VERSION_KEY],
        )
        .map_err(pg_error)?
        .map(|r| r.get::<_, Vec<u8>>(0))
        .ok_or_else(|| {
            corrupt(
                "labels",
                LABELS_VERSION_KEY,
                "the label set's version row is missing",
            )
        })?;
    LabelsVersion::decode(unwrap("labels", LABELS_VERSION_KEY, &row)?)
}

impl Store for PgStore {
    fn put_label(&self, label: &Label) -> Result<PutOutcome> {
        check_label(label)?;
        let key = label_key(label);
        let label = label.clone();
        let outcome = self.pool.run(move |client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            let version = lock_labels_version(&mut tx)?;
            let existing = tx
                .query_opt("SELECT value FROM labels WHERE key = $1", &[&key])
                .map_err(pg_error)?
                .map(|r| r.get::<_, Vec<u8>>(0));
            let old = match &existing {
                Some(value) => Some(decode_label(&key, unwrap("labels", &key, value)?)?),
                None => None,
            }
            .map(|old| LabelValue {
                name: old.name,
                first_seen: old.first_seen,
            });
            let Some(write) = label_write(&label, old.as_ref(), &version)? else {
                return Ok(PutOutcome::Unchanged);
            };
            let (outcome, next) = (write.outcome, write.next);
            let payload = to_json(&write.value)?;
            tx.execute(
                "INSERT INTO labels (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key, &wrap("labels", &key, &payload)],
            )
            .map_err(pg_error)?;
            tx.execute(
                "UPDATE labels SET value = $2 WHERE key = $1",
                &[&LABELS_VERSION_KEY, &wrap("labels", LABELS_VERSION_KEY, &next.encode())],
            )
            .map_err(pg_error)?;
            tx.commit().map_err(pg_error)?;
            Ok(outcome)
        });
        self.checked(outcome)
    }

    fn remove_labels(&self, address: &Address, source: &str) -> Result<u64> {
        if source.as_bytes().contains(&0) {
            return Ok(0); // no stored label has such a source (check_label refuses it)
        }
        // The source's labels of the address are the keys between the two category extremes.
        let low = label_key_of(address, source, Categories(0));
        let high = label_key_of(address, source, Categories(u32::MAX));
        let removed = self.pool.run(move |client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            let version = lock_labels_version(&mut tx)?;
            let rows = tx
                .query(
                    "DELETE FROM labels WHERE key >= $1 AND key <= $2 RETURNING key, value",
                    &[&low, &high],
                )
                .map_err(pg_error)?;
            let removed = rows
                .iter()
                .map(|r| {
                    let (key, value) = (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1));
                    decode_label(&key, unwrap("labels", &key, &value)?)
                })
                .collect::<Result<Vec<Label>>>()?;
            if removed.is_empty() {
                return Ok(0);
            }
            let next = label_removal(&removed, &version)?;
            tx.execute(
                "UPDATE labels SET value = $2 WHERE key = $1",
                &[
                    &LABELS_VERSION_KEY,
                    &wrap("labels", LABELS_VERSION_KEY, &next.encode()),
                ],
            )
            .map_err(pg_error)?;
            tx.commit().map_err(pg_error)?;
            Ok(removed.len() as u64)
        });
        self.checked(removed)
    }

    fn labels_for(&self, address: &Address) -> Result<Vec<Label>> {
        let rows = self.labels_in(address, false)?;
        self.decode_labels(&rows)
    }

    fn labels_snapshot(&self, address: &Address) -> Result<(Vec<Label>, LabelsVersion)> {
        let rows = self.labels_in(address, true)?;
        Ok((self.decode_labels(&rows)?, self.version_from(&rows)?))
    }

    fn labels_version(&self) -> Result<LabelsVersion> {
        match self.get("labels", LABELS_VERSION_KEY.to_vec())? {
            Some(payload) => self.checked(LabelsVersion::decode(&payload)),
            None => self.checked(Err(corrupt(
                "labels",
                LABELS_VERSION_KEY,
                "the label set's version row is missing",
            ))),
        }
    }

    fn label_counts(&self) -> Result<BTreeMap<String, u64>> {
        let rows = self.pool.run(|client| {
            let rows = client
                .query(
                    "SELECT key, value FROM labels WHERE key <> $1",
                    &[&LABELS_VERSION_KEY],
                )
                .map_err(pg_error)?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
                .collect::<Vec<_>>())
        })?;
        let mut counts = BTreeMap::new();
        for label in self.decode_labels(&rows)? {
            count_categories(&mut counts, label.categories);
        }
        Ok(counts)
    }

    fn put_override(&self, item: &Override) -> Result<()> {
        let change = OverrideChange::set(item);
        let key = address_key(&item.address).to_vec();
        let value = wrap("overrides", &key, &to_json(item)?);
        // One transaction: the change and its record commit together (durable before the
        // admin is told the override applies).
        self.pool.run(move |client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            PgStore::record_override_change(&mut tx, &change)?;
            tx.execute(
                "INSERT INTO overrides (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key, &value],
            )
            .map_err(pg_error)?;
            tx.commit().map_err(pg_error)
        })
    }

    fn remove_override(&self, address: &Address, author: &str, now: u64) -> Result<bool> {
        let key = address_key(address).to_vec();
        let author = author.to_string();
        let result = self.pool.run(move |client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            let Some(row) = tx
                .query_opt(
                    "SELECT value FROM overrides WHERE key = $1 FOR UPDATE",
                    &[&key],
                )
                .map_err(pg_error)?
            else {
                return Ok(false);
            };
            let value: Vec<u8> = row.get(0);
            let old = decode_override(&key, unwrap("overrides", &key, &value)?)?;
            let change = OverrideChange::removal(old, &author, now);
            PgStore::record_override_change(&mut tx, &change)?;
            tx.execute("DELETE FROM overrides WHERE key = $1", &[&key])
                .map_err(pg_error)?;
            tx.commit().map_err(pg_error)?;
            Ok(true)
        });
        self.checked(result)
    }

    fn override_for(&self, address: &Address) -> Result<Option<Override>> {
        let key = address_key(address);
        match self.get("overrides", key.to_vec())? {
            Some(payload) => Ok(Some(self.checked(decode_override(&key, &payload))?)),
            None => Ok(None),
        }
    }

    fn overrides(&self) -> Result<Vec<Override>> {
        let rows = self.pool.run(|client| {
            let rows = client
                .query("SELECT key, value FROM overrides ORDER BY key", &[])
                .map_err(pg_error)?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
                .collect::<Vec<_>>())
        })?;
        rows.iter()
            .map(|(key, value)| {
                self.checked(unwrap("overrides", key, value).and_then(|p| decode_override(key, p)))
            })
            .collect()
    }

    fn meta_get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let name = name.to_string();
        let row = self.pool.run({
            let name = name.clone();
            move |client| {
                Ok(client
                    .query_opt("SELECT value FROM meta WHERE name = $1", &[&name])
                    .map_err(pg_error)?
                    .map(|r| r.get::<_, Vec<u8>>(0)))
            }
        })?;
        match row {
            Some(value) => {
                self.checked(unwrap("meta", name.as_bytes(), &value).map(|p| Some(p.to_vec())))
            }
            None => Ok(None),
        }
    }

    fn meta_put(&self, name: &str, value: &[u8]) -> Result<()> {
        let (name, value) = (name.to_string(), wrap("meta", name.as_bytes(), value));
        self.pool.run(move |client| {
            client
                .execute(
                    "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                    &[&name, &value],
                )
                .map_err(pg_error)?;
            Ok(())
        })
    }

    fn nonce_mark(&self) -> Result<u64> {
        self.pool.run(|client| {
            let mark: i64 = client
                .query_one("SELECT COALESCE(MAX(second), 0) FROM nonce_claims", &[])
                .map_err(pg_error)?
                .get(0);
            Ok(mark as u64)
        })
    }

    fn raise_nonce_mark(&self, second: u64) -> Result<()> {
        // A claim of the second is the mark: the mark is the newest claim.
        self.reserve_nonce_second(second, 0).map(|_| ())
    }

    fn reserve_nonce_second(&self, second: u64, _process: u64) -> Result<u64> {
        let second = i64::try_from(second)
            .map_err(|_| Error::Store(format!("nonce second {second} out of range")))?;
        self.pool.run(move |client| {
            // Two replicas may pick the same next slot; the primary key lets one win and the
            // other tries the next. Committed before any nonce of the second exists.
            for _ in 0..64 {
                let row = client
                    .query_opt(
                        "INSERT INTO nonce_claims (second, slot)
                         SELECT $1, COALESCE(MAX(slot) + 1, 0) FROM nonce_claims WHERE second = $1
                         ON CONFLICT DO NOTHING RETURNING slot",
                        &[&second],
                    )
                    .map_err(|err| match err.code() {
                        Some(code) if *code == postgres::error::SqlState::CHECK_VIOLATION => {
                            Error::AuditUnavailable(format!(
                                "all {} nonce slots of second {second} are claimed: retry in a second",
                                1u64 << PROCESS_BITS
                            ))
                        }
                        _ => pg_error(err),
                    })?;
                if let Some(row) = row {
                    let slot: i32 = row.get(0);
                    if slot == 0 {
                        // The first claim of a second (once per second for all replicas) prunes.
                        client
                            .execute(
                                "DELETE FROM nonce_claims WHERE second < $1",
                                &[&(second - NONCE_CLAIMS_KEPT_SECS)],
                            )
                            .map_err(pg_error)?;
                    }
                    return Ok(slot as u64);
                }
            }
            Err(Error::Store(format!(
                "could not claim a nonce slot of second {second}"
            )))
        })
    }

    fn is_intact(&self) -> bool {
        self.intact.load(Ordering::Acquire)
    }

    fn flush(&self) -> Result<()> {
        // Every write above commits before it returns: nothing is pending.
        Ok(())
    }
}

/// Prefix used by [`NONCE_MARK`] in sled; PostgreSQL keeps claims instead (see
/// [`PgStore::reserve_nonce_second`]). Named here so a migration skips it.
pub const SLED_ONLY_META: &[&str] = &[NONCE_MARK];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_connection_string_is_a_configuration_error() {
        let err = client_config("postgres://host:notaport/db", &PgOptions::default())
            .expect_err("refused");
        assert!(matches!(err, Error::Config(_)), "{err}");
    }

    #[test]
    fn the_node_sets_its_timeouts_unless_the_string_does() {
        let options = PgOptions::default();
        let config = client_config("postgres://u@127.0.0.1/db", &options).unwrap();
        assert_eq!(config.config.get_connect_timeout(), Some(&options.timeout));
        let config =
            client_config("postgres://u@127.0.0.1/db?connect_timeout=7", &options).unwrap();
        assert_eq!(
            config.config.get_connect_timeout(),
            Some(&Duration::from_secs(7))
        );
    }

    #[test]
    fn a_prefix_range_holds_every_label_key_of_the_address_and_no_other() {
        let address = Address::new(0, [7; 32]);
        let prefix = address_key(&address);
        let end = prefix_end(&prefix);
        let label = Label {
            address,
            categories: tollgate_sdk::Categories(u32::MAX),
            source: "zzz-\u{10FFFF}".into(),
            name: String::new(),
            first_seen: 0,
        };
        let key = label_key(&label);
        assert!(key.as_slice() >= &prefix[..] && key < end);
        let next = address_key(&Address::new(0, [8; 32]));
        assert!(next.as_slice() >= end.as_slice());
    }

    #[test]
    fn the_migrations_are_numbered_in_order() {
        for (n, (version, _, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, n + 1);
            assert!(!sql.trim().is_empty());
        }
    }
}
