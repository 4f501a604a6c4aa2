//! TLS to PostgreSQL (`sslmode`, `sslrootcert`; `oracle/src/store/pg_tls.rs`) against a
//! throwaway cluster with `ssl=on` and a certificate for `localhost` made in the test.

use tollgate_oracle::error::Error;
use tollgate_oracle::store::postgres::{PgOptions, PgStore};

use crate::pg_cluster::PgCluster;

/// Whether the store's own connection is encrypted, as the server sees it.
fn encrypted(store: &PgStore) -> bool {
    store
        .pool()
        .run(|client| {
            Ok(client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .unwrap()
                .get::<_, bool>(0))
        })
        .unwrap()
}

fn url(host: &str, port: u16, params: &str) -> String {
    format!("postgres://postgres@{host}:{port}/postgres?{params}")
}

fn open(url: &str) -> tollgate_oracle::error::Result<PgStore> {
    PgStore::open(url, &PgOptions::default())
}

#[test]
fn every_sslmode_connects_or_refuses_as_libpq_does() {
    let (cluster, ca) = PgCluster::start_tls();
    let port = cluster.port();
    let ca = ca.to_str().unwrap();
    // verify-full: the chain and the name.
    let store = open(&url(
        "localhost",
        port,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .expect("verify-full to the name the certificate names");
    assert!(encrypted(&store));
    drop(store);
    let refused = open(&url(
        "127.0.0.1",
        port,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    assert!(
        matches!(&refused, Err(Error::Store(what)) if what.contains("unreachable")),
        "the certificate does not name 127.0.0.1: {:?}",
        refused.err()
    );
    // verify-ca: the chain only.
    let store = open(&url(
        "127.0.0.1",
        port,
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .expect("verify-ca ignores the name");
    assert!(encrypted(&store));
    drop(store);
    // A certificate no trusted root issued (the Mozilla roots, without sslrootcert).
    assert!(open(&url("localhost", port, "sslmode=verify-full")).is_err());
    // require: encrypted, certificate unchecked; prefer takes TLS when offered; disable not.
    for (mode, tls) in [("require", true), ("prefer", true), ("disable", false)] {
        let store = open(&url("127.0.0.1", port, &format!("sslmode={mode}"))).unwrap();
        assert_eq!(encrypted(&store), tls, "{mode}");
    }
    // A root file that is not there is a configuration error, before any connection.
    assert!(matches!(
        open(&url("localhost", port, "sslmode=verify-full&sslrootcert=/nonexistent.pem")),
        Err(Error::Config(what)) if what.contains("sslrootcert")
    ));
}

#[test]
fn require_refuses_a_server_without_tls() {
    let cluster = PgCluster::start();
    let url = cluster.url_of("postgres");
    assert!(open(&format!("{url}?sslmode=require")).is_err());
    let store = open(&url).expect("prefer falls back to plain");
    assert!(!encrypted(&store));
}
