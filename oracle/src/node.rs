//! A node assembled from its configuration: store, key, default data, audit writer and API.

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::task::JoinHandle;

use crate::api::{self, AppState, SharedState};
use crate::audit::AuditLog;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ingest::{self, Summary};
use crate::nonce::NonceAllocator;
use crate::risk::RiskEngine;
use crate::signer::{KeyOrigin, Signer};
use crate::store::{SledStore, Store};

/// Metadata key set once the bundled lists have been loaded.
pub const DEFAULT_DATA_MARKER: &str = "default_data_loaded";

/// A running node's state and its audit writer.
pub struct Node {
    /// The state the API serves.
    pub state: SharedState,
    writer: JoinHandle<()>,
}

impl Node {
    /// Opens the store in the data directory, loads the key (generating a development key if
    /// none is configured), loads the bundled lists on first start and starts the audit writer.
    /// Must run inside a tokio runtime.
    pub fn open(config: Config) -> Result<Node> {
        create_private_dir(&config.data_dir)?;
        let store = SledStore::open(&config.store_path()).map_err(|err| {
            Error::Store(format!(
                "cannot open {} ({err}); is another node or command using this data dir?",
                config.store_path().display()
            ))
        })?;
        restrict_files(&config.data_dir)?;
        let signer = Signer::load(&config)?;
        if let KeyOrigin::Development(path) = &signer.origin {
            warn_development_key(path);
        }
        Node::with_store(config, Arc::new(store), signer)
    }

    /// A node over a given store and key (tests use a temporary store).
    pub fn with_store(config: Config, store: Arc<dyn Store>, signer: Signer) -> Result<Node> {
        if config.load_default_data && store.meta_get(DEFAULT_DATA_MARKER)?.is_none() {
            let summary = load_default_data(store.as_ref())?;
            tracing::info!(
                added = summary.added,
                refused = summary.refused.len(),
                "loaded the bundled label lists (ton-assets, OFAC) on first start"
            );
        }
        let (audit, writer) = AuditLog::start(store.clone(), config.audit_batch_max)?;
        let verifiers = config.verifier_addresses()?;
        let state = Arc::new(AppState {
            verifiers,
            engine: RiskEngine::new(store.clone()),
            nonces: NonceAllocator::new(store.clone()),
            store,
            signer,
            audit,
            metrics: api::metrics::handle(),
            config,
        });
        Ok(Node { state, writer })
    }

    /// The API router.
    pub fn router(&self) -> Router {
        api::app(self.state.clone())
    }

    /// Stops the audit writer once every request holding the state is done, then flushes.
    pub async fn shutdown(self) {
        let store = self.state.store.clone();
        drop(self.state);
        if tokio::time::timeout(Duration::from_secs(10), self.writer)
            .await
            .is_err()
        {
            tracing::warn!("audit writer still has senders after shutdown; flushing anyway");
        }
        if let Err(err) = store.flush() {
            tracing::error!(error = %err, "final flush failed");
        }
    }
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
