//! A node assembled from its configuration: store, key, default data, audit writer and API.

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::api::{self, AppState, SharedState};
use crate::audit::{self, AuditLog};
use crate::changes::postgres::PgFeed;
use crate::changes::{Attested, ChangeLog};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::exposure::transfers_pg::PgFrames;
use crate::exposure::{self, ExposureEngine, StoreLabels, TransferStore};
use crate::ingest::{self, Summary};
use crate::nonce::NonceAllocator;
use crate::risk::{ExposureSource, RiskEngine};
use crate::signer::{KeyOrigin, Signer};
use crate::store::postgres::{PgOptions, PgPool, PgStore};
use crate::store::{SledStore, Store};
use crate::webhooks;

/// Metadata key set once the bundled lists have been loaded.
pub const DEFAULT_DATA_MARKER: &str = "default_data_loaded";

/// Metadata key set once the bundled ton-labels dataset has been loaded (apart from
/// [`DEFAULT_DATA_MARKER`], so that a store made before ton-labels was bundled gets it too).
pub const TON_LABELS_MARKER: &str = "default_ton_labels_loaded";

/// Metadata key set once the store has an audit log in files: a store with it whose audit
/// directory is gone lost its log.
pub const AUDIT_FILES_MARKER: &str = "audit_files";

/// A running node's state and its audit log.
pub struct Node {
    /// The state the API serves.
    pub state: SharedState,
    /// The exposure engine over the node's transfer store (`<data_dir>/transfers/`).
    pub exposure: Arc<ExposureEngine>,
    audit: AuditLog,
    subscribers: Vec<webhooks::Subscriber>,
    background: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The change feed's directory inside a data directory.
pub const CHANGES_DIR: &str = "changes";

/// How often a replica applies the transfer frames other replicas appended (its exposure
/// judgements lag the writer's by at most this).
pub const TRANSFERS_REFRESH: Duration = Duration::from_secs(1);

/// The change feed and the transfer log replicas share (in the PostgreSQL database).
struct Shared {
    changes: Arc<ChangeLog>,
    transfers: Arc<TransferStore>,
}

impl Node {
    /// Opens the store in the data directory (checking every record), loads the key
    /// (generating a development key if none is configured), moves an audit log kept in sled
    /// into the audit files, loads the bundled lists on first start and opens the audit log
    /// (checking it against its anchor). Must run inside a tokio runtime.
    pub fn open(config: Config) -> Result<Node> {
        create_private_dir(&config.data_dir)?;
        if let Some(url) = config.postgres_url() {
            return Node::open_postgres(url.to_string(), config);
        }
        let store = open_store(&config)?;
        restrict_files(&config.data_dir)?;
        let signer = Signer::load(&config)?;
        if let KeyOrigin::Development(path) = &signer.origin {
            warn_development_key(path);
        }
        audit::migrate::from_sled(
            &store,
            &audit::dir_in(&config.data_dir),
            &signer.anchor_key(),
        )?;
        Node::with_store(config, Arc::new(store), signer)
    }

    /// A replica on the PostgreSQL store and audit log of `url` (shared with the other
    /// replicas of the same key; [`crate::store::postgres`]), with the change feed and the
    /// transfer log there too. The data dir keeps a development key if one is used.
    fn open_postgres(url: String, config: Config) -> Result<Node> {
        let options = PgOptions::default();
        let store = PgStore::open(&url, &options)?;
        let signer = Signer::load(&config)?;
        if let KeyOrigin::Development(path) = &signer.origin {
            warn_development_key(path);
        }
        let store: Arc<dyn Store> = Arc::new(store);
        let pool = PgPool::new(&url, &options)?;
        create_private_dir(&config.data_dir)?;
        // The audit chain is judged (seen head, pin) before anything is written: a refused
        // database gets not even the bundled lists.
        let audit = AuditLog::open_postgres(
            &url,
            pool,
            &options,
            audit::Options {
                batch_max: config.audit_batch_max,
                ..audit::Options::default()
            },
            signer.anchor_key(),
            &config.data_dir,
            config.trust_head,
        )?;
        load_default_data_once(&config, store.as_ref())?;
        // The feed and the transfer log on connections of their own, so a long catch-up
        // never waits behind the audit log's readers.
        let shared_pool = PgPool::new(&url, &options)?;
        let shared = Shared {
            changes: Arc::new(ChangeLog::over(PgFeed::new(shared_pool.clone()))),
            transfers: PgFrames::open_store(shared_pool, options.open_timeout, TRANSFERS_REFRESH)?,
        };
        Node::assemble(config, store, signer, audit, None, Some(shared))
    }

    /// A node over a given store and key (tests use a temporary store); the audit log is in
    /// `config.data_dir`.
    pub fn with_store(config: Config, store: Arc<dyn Store>, signer: Signer) -> Result<Node> {
        Node::with_file_audit(config, store, signer, None)
    }

    /// [`Node::with_store`] with the exposure source the risk engine, the API and evidence
    /// case files use.
    pub fn with_exposure(
        config: Config,
        store: Arc<dyn Store>,
        signer: Signer,
        exposure: Arc<dyn ExposureSource>,
    ) -> Result<Node> {
        Node::with_file_audit(config, store, signer, Some(exposure))
    }

    /// Opens the audit log in `config.data_dir`, refusing a data dir whose log is gone.
    fn with_file_audit(
        config: Config,
        store: Arc<dyn Store>,
        signer: Signer,
        source: Option<Arc<dyn ExposureSource>>,
    ) -> Result<Node> {
        load_default_data_once(&config, store.as_ref())?;
        let audit_dir = audit::dir_in(&config.data_dir);
        if store.meta_get(AUDIT_FILES_MARKER)?.is_some()
            && !audit_dir.join(audit::log::LOG_FILE).exists()
        {
            return Err(Error::AnchorMismatch(format!(
                "the store has kept its audit log in {} but the log is gone: restore the audit directory from a backup; do not sign from this data dir until then",
                audit_dir.display()
            )));
        }
        let audit = AuditLog::open(
            &audit_dir,
            signer.anchor_key(),
            audit::Options {
                batch_max: config.audit_batch_max,
                ..audit::Options::default()
            },
        )?;
        // The audit files are the operator's only: 0700 / 0600 like the rest of the data dir.
        restrict_files(&config.data_dir)?;
        if store.meta_get(AUDIT_FILES_MARKER)?.is_none() {
            store.meta_put(AUDIT_FILES_MARKER, b"1")?;
            store.flush()?;
        }
        Node::assemble(config, store, signer, audit, source, None)
    }

    /// The node's parts over a store and audit log. The risk engine judges with `source` when
    /// given, else with the exposure engine over the transfer store (which the follower feeds
    /// either way): the data dir's, or the `shared` one of replicas.
    fn assemble(
        config: Config,
        store: Arc<dyn Store>,
        signer: Signer,
        audit: AuditLog,
        source: Option<Arc<dyn ExposureSource>>,
        shared: Option<Shared>,
    ) -> Result<Node> {
        let (changes, transfers) = match shared {
            Some(shared) => (shared.changes, shared.transfers),
            None => {
                let transfers =
                    Arc::new(TransferStore::open(&config.data_dir.join(exposure::DIR))?);
                restrict_files(&config.data_dir)?;
                // The feed names addresses: 0700 / 0600 like the rest of the data dir.
                let changes_dir = config.data_dir.join(CHANGES_DIR);
                create_private_dir(&changes_dir)?;
                let changes = Arc::new(ChangeLog::open(&changes_dir)?);
                restrict_files(&changes_dir)?;
                (changes, transfers)
            }
        };
        let subscribers = match &config.webhooks_file {
            Some(path) => webhooks::load_subscribers(path)?,
            None => Vec::new(),
        };
        let verifiers = config.verifier_addresses()?;
        let nonces = NonceAllocator::open(store.clone())?;
        let jetton_payload = config
            .jetton_payload
            .as_ref()
            .map(api::jetton_payload::PayloadService::load)
            .transpose()?;
        let exposure = Arc::new(ExposureEngine::new(
            transfers,
            Arc::new(StoreLabels::new(store.clone())),
            config.exposure.clone(),
        ));
        let state = Arc::new(AppState {
            verifiers,
            engine: RiskEngine::with_exposure(
                store.clone(),
                source.unwrap_or_else(|| exposure.clone()),
            ),
            nonces,
            changes,
            attested: std::sync::Mutex::new(Attested::default()),
            store,
            signer,
            audit: audit.clone(),
            metrics: api::metrics::handle(),
            jetton_payload,
            config,
        });
        Ok(Node {
            state,
            exposure,
            audit,
            subscribers,
            background: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Starts the background work of a serving node: webhook delivery to the configured
    /// subscribers and the periodic re-judgement of subjects with valid attestations. Must run
    /// inside a tokio runtime; the tasks end with it.
    pub fn start_background(&self, options: webhooks::Options) -> Result<()> {
        let mut tasks = webhooks::spawn(
            self.state.changes.clone(),
            self.subscribers.clone(),
            options,
        )?;
        let interval = self.state.config.rescreen_interval_secs;
        if interval > 0 {
            let state = self.state.clone();
            tasks.push(tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(interval));
                loop {
                    ticks.tick().await;
                    let state = state.clone();
                    let started = std::time::Instant::now();
                    let done = tokio::task::spawn_blocking(move || {
                        crate::changes::rescreen_attested(&state, "rescreen", crate::unix_now())
                    })
                    .await;
                    // It shares the node's cores with signing: operators watch its cost.
                    metrics::histogram!("tollgate_rescreen_seconds")
                        .record(started.elapsed().as_secs_f64());
                    match done {
                        Ok(Ok(changes)) if !changes.is_empty() => {
                            tracing::info!(
                                changes = changes.len(),
                                "re-judged the subjects of valid attestations"
                            )
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(err)) => {
                            tracing::error!(error = %err, "re-judging attested subjects failed")
                        }
                        Err(err) => tracing::error!(error = %err, "re-judging task failed"),
                    }
                }
            }));
        }
        if let Ok(mut background) = self.background.lock() {
            background.extend(tasks);
        }
        Ok(())
    }

    /// The API router.
    pub fn router(&self) -> Router {
        api::app(self.state.clone())
    }

    /// Closes the audit log (commits what is queued, writes the final anchor), then flushes the
    /// store. Bounded in time, so a hung disk cannot stop a shutdown.
    pub async fn shutdown(self) {
        // Background tasks first: a webhook in flight is retried after the restart (its state
        // is durable), and the change log is closed with the last handle.
        let tasks = self
            .background
            .lock()
            .map(|mut tasks| std::mem::take(&mut *tasks))
            .unwrap_or_default();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        let store = self.state.store.clone();
        drop(self.state);
        let audit = self.audit;
        let closing = tokio::task::spawn_blocking(move || audit.close());
        if tokio::time::timeout(Duration::from_secs(10), closing)
            .await
            .is_err()
        {
            tracing::warn!("the audit log did not close within 10 s; exiting anyway (nothing unacknowledged is lost)");
        }
        if let Err(err) = store.flush() {
            tracing::error!(error = %err, "final flush failed");
        }
    }
}

/// Opens the data dir's store; the error names the path and what may be wrong.
pub fn open_store(config: &Config) -> Result<SledStore> {
    SledStore::open(&config.store_path()).map_err(|err| match err {
        Error::Corrupt(what) => {
            Error::Corrupt(format!("{}: {what}", config.store_path().display()))
        }
        // Already says which database and why (a lock still held: see store::sled_open).
        locked @ Error::Store(_) => locked,
        other => Error::Store(format!(
            "cannot open {} ({other}); is another node or command using this data dir?",
            config.store_path().display()
        )),
    })
}

/// Loads the bundled lists on the first start of a store, when the configuration asks for it.
fn load_default_data_once(config: &Config, store: &dyn Store) -> Result<()> {
    if config.load_default_data && store.meta_get(DEFAULT_DATA_MARKER)?.is_none() {
        let summary = load_default_data(store)?;
        tracing::info!(
            added = summary.added,
            refused = summary.refused.len(),
            "loaded the bundled label lists (ton-assets, OFAC) on first start"
        );
    }
    if config.load_default_data && store.meta_get(TON_LABELS_MARKER)?.is_none() {
        let summary = load_ton_labels(store)?;
        tracing::info!(
            added = summary.added,
            refused = summary.refused.len(),
            "loaded the bundled ton-labels dataset"
        );
    }
    Ok(())
}

/// Ingests the bundled lists and marks the store so it happens once.
pub fn load_default_data(store: &dyn Store) -> Result<Summary> {
    let summary = ingest::apply(
        store,
        ingest::bundled::parse(),
        crate::unix_now(),
        &indicatif::ProgressBar::hidden(),
    )?;
    store.meta_put(DEFAULT_DATA_MARKER, b"1")?;
    store.flush()?;
    Ok(summary)
}

/// Ingests the bundled ton-labels dataset and marks the store so it happens once.
pub fn load_ton_labels(store: &dyn Store) -> Result<Summary> {
    let summary = ingest::apply(
        store,
        ingest::bundled::parse_ton_labels(),
        crate::unix_now(),
        &indicatif::ProgressBar::hidden(),
    )?;
    store.meta_put(TON_LABELS_MARKER, b"1")?;
    store.flush()?;
    Ok(summary)
}

/// Creates the data directory with mode 0700, or tightens an existing one to it: the store
/// holds every screened address and the development key, none of which others may read.
/// Inside a 0700 directory, files the store creates later are out of others' reach whatever
/// their own mode.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let cannot = |err: std::io::Error| {
        Error::Config(format!("cannot create data dir {}: {err}", dir.display()))
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(dir)
        .map_err(cannot)?;
    let mode = std::fs::metadata(dir).map_err(cannot)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data dir was open to others: setting mode 700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE_DIR_MODE))
            .map_err(cannot)?;
    }
    Ok(())
}

/// Mode of the data directory and the directories in it.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of the files in the data directory.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Sets every file under `dir` to 0600 and every directory to 0700 (stores written by older
/// versions, or by sled under a permissive umask).
pub fn restrict_files(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let wanted = if kind.is_dir() {
            restrict_files(&entry.path())?;
            PRIVATE_DIR_MODE
        } else if kind.is_file() {
            PRIVATE_FILE_MODE
        } else {
            continue;
        };
        let mode = entry.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(wanted))?;
        }
    }
    Ok(())
}

fn warn_development_key(path: &std::path::Path) {
    let banner = "!".repeat(78);
    eprintln!("{banner}");
    eprintln!("!! DEVELOPMENT SIGNING KEY — NOT FOR PRODUCTION");
    eprintln!(
        "!! The node signs with a key it generated itself at {}.",
        path.display()
    );
    eprintln!("!! Nobody should trust its attestations. Run `tollgate-oracle keygen --out FILE`");
    eprintln!("!! and start the node with `--key-file FILE` (or TOLLGATE_KEY_FILE).");
    eprintln!("{banner}");
    tracing::warn!(key = %path.display(), "running with the DEVELOPMENT signing key: not for production");
}
