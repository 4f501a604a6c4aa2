//! Where the `ingest` and `follow` commands write: the data dir's files when the node runs on
//! the embedded sled store, or the PostgreSQL database replicas share when it runs on `--store
//! postgres://…` (flag, `TOLLGATE_STORE` or the TOML `store` key, chosen as `serve` chooses).
//!
//! On PostgreSQL an ingest is what a replica's `POST /v1/admin/ingest` does, without the HTTP
//! body limit: the labels are visible to every replica once committed, their level changes go
//! into the one change feed (dense seqs across writers), and transfers become frames of the
//! one transfer log, which every replica applies in order. Nothing is written to the data dir.

use std::sync::Arc;

use crate::changes::postgres::PgFeed;
use crate::changes::ChangeLog;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::exposure::transfers_pg::PgFrames;
use crate::exposure::{self, TransferStore};
use crate::node;
use crate::store::postgres::{client_config, migrate, pg_error, PgOptions, PgPool, PgStore};
use crate::store::Store;

/// What a label ingest writes to: the store and the change feed of the same node state.
pub struct LabelTarget {
    /// The label store.
    pub store: Arc<dyn Store>,
    /// The change feed the level changes of the ingested addresses go to.
    pub changes: ChangeLog,
}

/// Opens the label store and change feed `config` names (creating the data dir's store, mode
/// 0700, when there is none; applying the migrations to an empty database).
pub fn labels(config: &Config) -> Result<LabelTarget> {
    match config.postgres_url() {
        Some(url) => {
            let options = PgOptions::default();
            let store = PgStore::open(url, &options).map_err(|err| in_database(url, err))?;
            let pool = PgPool::new(url, &options)?;
            Ok(LabelTarget {
                store: Arc::new(store),
                changes: ChangeLog::over(PgFeed::new(pool)),
            })
        }
        None => {
            node::create_private_dir(&config.data_dir)?;
            let store = node::open_store(config)?;
            node::restrict_files(&config.data_dir)?;
            // The feed names addresses: 0700 / 0600 like the rest of the data dir.
            let changes_dir = config.data_dir.join(node::CHANGES_DIR);
            node::create_private_dir(&changes_dir)?;
            let changes = ChangeLog::open(&changes_dir)?;
            node::restrict_files(&changes_dir)?;
            Ok(LabelTarget {
                store: Arc::new(store),
                changes,
            })
        }
    }
}

/// Opens the transfer store `config` names: the data dir's transfer log (created when there
/// is none), or the shared one, caught up with every frame the replicas appended.
pub fn transfers(config: &Config) -> Result<Arc<TransferStore>> {
    match config.postgres_url() {
        Some(url) => {
            let options = PgOptions::default();
            let opened = (|| {
                // The schema first: an empty database gets it, a newer node's is refused.
                let mut client = client_config(url, &options)?.connect().map_err(pg_error)?;
                migrate(&mut client)?;
                let pool = PgPool::new(url, &options)?;
                TransferStore::shared(Box::new(PgFrames::new(pool, options.open_timeout)))
            })();
            Ok(Arc::new(opened.map_err(|err| in_database(url, err))?))
        }
        None => {
            node::create_private_dir(&config.data_dir)?;
            let dir = config.data_dir.join(exposure::DIR);
            let store = TransferStore::open(&dir)?;
            node::restrict_files(&config.data_dir)?;
            Ok(Arc::new(store))
        }
    }
}

/// Names the database (never its password) in an error about it, keeping the error's kind.
fn in_database(url: &str, err: Error) -> Error {
    let name = describe(url);
    match err {
        Error::Store(what) => Error::Store(format!(
            "cannot reach the PostgreSQL store {name}: {what} (is the server up, and the connection string right?)"
        )),
        Error::Corrupt(what) => Error::Corrupt(format!("the PostgreSQL store {name}: {what}")),
        other => other,
    }
}

/// `host:port/database` of a connection string, for messages (the password stays out).
pub fn describe(url: &str) -> String {
    let Ok(config) = client_config(url, &PgOptions::default()) else {
        return "(invalid connection string)".into();
    };
    let config = &config.config;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{}",
        config.get_dbname().unwrap_or("(default)")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_named_without_its_password() {
        let name = describe("postgres://tollgate:s3cret@db.internal:6432/oracle?sslmode=require");
        assert_eq!(name, "db.internal:6432/oracle");
        assert_eq!(
            describe("postgres://u@h:notaport/db"),
            "(invalid connection string)"
        );
    }
}
