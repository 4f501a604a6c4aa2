//! The store conformance suite: the same cases against the sled store and the PostgreSQL
//! store, so both implement [`Store`] with the same meaning — every method, restart and
//! crash, and the damage cases that apply to each (a flipped byte or a lost label refused at
//! open; for PostgreSQL also damage done while the store is open, which marks it not intact).
//!
//! Each case is a function over a [`Fixture`]; the macro at the end runs every case once per
//! implementation. PostgreSQL cases run on a throwaway cluster ([`PgCluster`]).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use tollgate_oracle::error::Error;
use tollgate_oracle::nonce::NonceAllocator;
use tollgate_oracle::store::postgres::{PgOptions, PgStore};
use tollgate_oracle::store::{
    Label, LabelsVersion, Override, OverrideAction, PutOutcome, SledStore, Store,
};
use tollgate_sdk::{Address, Categories};

use crate::pg_cluster::PgCluster;
use crate::support::fresh_dir;

/// One implementation under test: opens (and reopens) one store, and damages it behind its
/// back.
trait Fixture {
    /// Opens the store (the same data every time).
    fn open(&self) -> tollgate_oracle::error::Result<Arc<dyn Store>>;
    /// Flips the last byte of one label record (the store is closed for sled).
    fn flip_label_byte(&self);
    /// Deletes one label record.
    fn lose_label(&self);
    /// Crashes the medium and brings it back. `None` when it cannot crash apart from the
    /// process (sled: the SIGKILL tests of the node cover it, `tests/crash.rs`).
    fn crash(&self) -> Option<()>;
    /// Whether damage can be done while the store is open (sled holds its files exclusively).
    fn damages_live(&self) -> bool;
}

struct SledFixture {
    path: PathBuf,
}

impl SledFixture {
    fn new() -> SledFixture {
        SledFixture {
            path: fresh_dir().join("store"),
        }
    }

    fn with_labels(&self, change: impl FnOnce(&sled::Tree, sled::IVec, sled::IVec)) {
        // The store was closed a moment ago: sled may still hold its lock (store::sled_open).
        let db = tollgate_oracle::store::sled_open::open(&self.path, "the store").unwrap();
        let labels = db.open_tree("address_labels").unwrap();
        let (key, value) = labels
            .iter()
            .map(Result::unwrap)
            .find(|(key, _)| !key.is_empty())
            .expect("a label");
        change(&labels, key, value);
        db.flush().unwrap();
    }
}

impl Fixture for SledFixture {
    fn open(&self) -> tollgate_oracle::error::Result<Arc<dyn Store>> {
        Ok(Arc::new(SledStore::open(&self.path)?))
    }
    fn flip_label_byte(&self) {
        self.with_labels(|labels, key, value| {
            let mut value = value.to_vec();
            *value.last_mut().unwrap() ^= 1;
            labels.insert(key, value).unwrap();
        });
    }
    fn lose_label(&self) {
        self.with_labels(|labels, key, _| {
            labels.remove(key).unwrap();
        });
    }
    fn crash(&self) -> Option<()> {
        None
    }
    fn damages_live(&self) -> bool {
        false
    }
}

struct PgFixture {
    cluster: PgCluster,
    url: String,
}

impl PgFixture {
    fn new() -> PgFixture {
        let cluster = PgCluster::start();
        let url = cluster.fresh_db();
        PgFixture { cluster, url }
    }

    fn label_row(&self) -> (postgres::Client, Vec<u8>, Vec<u8>) {
        let mut client = PgCluster::client_of(&self.url);
        let row = client
            .query_one(
                "SELECT key, value FROM labels WHERE key <> '\\x' ORDER BY key LIMIT 1",
                &[],
            )
            .unwrap();
        let (key, value) = (row.get(0), row.get(1));
        (client, key, value)
    }
}

impl Fixture for PgFixture {
    fn open(&self) -> tollgate_oracle::error::Result<Arc<dyn Store>> {
        Ok(Arc::new(PgStore::open(&self.url, &PgOptions::default())?))
    }
    fn flip_label_byte(&self) {
        let (mut client, key, mut value) = self.label_row();
        *value.last_mut().unwrap() ^= 1;
        client
            .execute(
                "UPDATE labels SET value = $2 WHERE key = $1",
                &[&key, &value],
            )
            .unwrap();
    }
    fn lose_label(&self) {
        let (mut client, key, _) = self.label_row();
        client
            .execute("DELETE FROM labels WHERE key = $1", &[&key])
            .unwrap();
    }
    fn crash(&self) -> Option<()> {
        self.cluster.stop_server("immediate");
        self.cluster.start_server();
        Some(())
    }
    fn damages_live(&self) -> bool {
        true
    }
}

fn address(n: u8) -> Address {
    Address::new(0, [n; 32])
}

fn label(n: u8, source: &str, name: &str, categories: Categories) -> Label {
    Label {
        address: address(n),
        categories,
        source: source.into(),
        name: name.into(),
        first_seen: 100 + u64::from(n),
    }
}

fn an_override(n: u8, action: OverrideAction) -> Override {
    Override {
        address: address(n),
        action,
        categories: Categories::DRAINER,
        reason: "reviewed".into(),
        author: "ops".into(),
        created_at: 1_000,
        expires_at: Some(2_000),
    }
}

/// A fixed sequence of label writes; both stores must end with the same version.
fn write_labels(store: &dyn Store) -> LabelsVersion {
    store
        .put_label(&label(1, "a", "one", Categories::SCAM))
        .unwrap();
    store
        .put_label(&label(1, "b", "one-b", Categories::PHISHING))
        .unwrap();
    store
        .put_label(&label(2, "a", "two", Categories::NONE))
        .unwrap();
    store
        .put_label(&label(1, "a", "one renamed", Categories::SCAM))
        .unwrap();
    store
        .put_label(&label(3, "c", "retracted", Categories::STOLEN_FUNDS))
        .unwrap();
    assert_eq!(store.remove_labels(&address(3), "c").unwrap(), 1);
    store.labels_version().unwrap()
}

fn labels_behave(fixture: &dyn Fixture) {
    let store = fixture.open().unwrap();
    let empty = store.labels_version().unwrap();
    assert_eq!((empty.count, empty.writes), (0, 0));
    let first = label(1, "a", "one", Categories::SCAM);
    assert_eq!(store.put_label(&first).unwrap(), PutOutcome::Added);
    assert_eq!(store.put_label(&first).unwrap(), PutOutcome::Unchanged);
    let mut renamed = label(1, "a", "renamed", Categories::SCAM);
    renamed.first_seen = 999;
    assert_eq!(store.put_label(&renamed).unwrap(), PutOutcome::Changed);
    store
        .put_label(&label(1, "b", "other source", Categories::PHISHING))
        .unwrap();
    store
        .put_label(&label(2, "a", "no category", Categories::NONE))
        .unwrap();
    let labels = store.labels_for(&address(1)).unwrap();
    assert_eq!(labels.len(), 2);
    let a = labels.iter().find(|l| l.source == "a").unwrap();
    assert_eq!(
        (a.name.as_str(), a.first_seen),
        ("renamed", 101),
        "first_seen kept"
    );
    assert!(store.labels_for(&address(3)).unwrap().is_empty());
    // Another workchain with the same hash is another address.
    assert!(store
        .labels_for(&Address::new(-1, [1; 32]))
        .unwrap()
        .is_empty());
    let (snapshot, version) = store.labels_snapshot(&address(1)).unwrap();
    assert_eq!(snapshot, labels);
    assert_eq!(version, store.labels_version().unwrap());
    assert_eq!((version.count, version.writes), (3, 4));
    let counts = store.label_counts().unwrap();
    assert_eq!(counts.get("scam"), Some(&1));
    assert_eq!(counts.get("phishing"), Some(&1));
    assert_eq!(counts.get("none"), Some(&1));
    // A source with NUL would break the key layout: refused, nothing written.
    let err = store
        .put_label(&label(4, "bad\0source", "x", Categories::SCAM))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
    assert_eq!(store.labels_version().unwrap(), version);
    assert!(store.is_intact());
}

/// A source retracts its labels of an address: all its categories go, other sources' labels
/// and other addresses stay, and the set's version is that of the labels left (checked again
/// when the store is reopened).
fn label_removal_behaves(fixture: &dyn Fixture) {
    let (left, version) = {
        let store = fixture.open().unwrap();
        store
            .put_label(&label(1, "lock", "locked", Categories::STOLEN_FUNDS))
            .unwrap();
        store
            .put_label(&label(1, "lock", "and scam", Categories::SCAM))
            .unwrap();
        store
            .put_label(&label(1, "list", "listed", Categories::PHISHING))
            .unwrap();
        store
            .put_label(&label(2, "lock", "another owner", Categories::STOLEN_FUNDS))
            .unwrap();
        let before = store.labels_version().unwrap();
        assert_eq!(store.remove_labels(&address(1), "lock").unwrap(), 2);
        let after = store.labels_version().unwrap();
        assert_eq!((after.count, after.writes), (2, before.writes + 1));
        assert_ne!(after.digest, before.digest);
        let left = store.labels_for(&address(1)).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].source, "list");
        assert_eq!(store.labels_for(&address(2)).unwrap().len(), 1);
        // Nothing to remove: no write, the version stays.
        assert_eq!(store.remove_labels(&address(1), "lock").unwrap(), 0);
        assert_eq!(store.remove_labels(&address(9), "lock").unwrap(), 0);
        assert_eq!(
            store.remove_labels(&address(1), "lo").unwrap(),
            0,
            "a prefix is another source"
        );
        assert_eq!(store.labels_version().unwrap(), after);
        // The last label of an address goes too.
        assert_eq!(store.remove_labels(&address(2), "lock").unwrap(), 1);
        assert!(store.labels_for(&address(2)).unwrap().is_empty());
        let counts = store.label_counts().unwrap();
        assert_eq!(counts.get("stolen_funds"), None);
        assert_eq!(counts.get("phishing"), Some(&1));
        // Written again, it is a new label (first_seen of the new write).
        let mut again = label(2, "lock", "locked again", Categories::STOLEN_FUNDS);
        again.first_seen = 5_000;
        assert_eq!(store.put_label(&again).unwrap(), PutOutcome::Added);
        assert_eq!(store.labels_for(&address(2)).unwrap()[0].first_seen, 5_000);
        assert!(store.is_intact());
        (
            store.labels_for(&address(1)).unwrap(),
            store.labels_version().unwrap(),
        )
    };
    let store = fixture
        .open()
        .expect("the start check agrees with the version after removals");
    assert_eq!(store.labels_version().unwrap(), version);
    assert_eq!(store.labels_for(&address(1)).unwrap(), left);
}

fn overrides_behave(fixture: &dyn Fixture) {
    let store = fixture.open().unwrap();
    assert_eq!(store.override_for(&address(1)).unwrap(), None);
    let deny = an_override(1, OverrideAction::Deny);
    store.put_override(&deny).unwrap();
    store
        .put_override(&an_override(2, OverrideAction::Allow))
        .unwrap();
    assert_eq!(store.override_for(&address(1)).unwrap(), Some(deny.clone()));
    let mut replaced = deny.clone();
    replaced.reason = "re-reviewed".into();
    store.put_override(&replaced).unwrap();
    assert_eq!(store.override_for(&address(1)).unwrap(), Some(replaced));
    assert_eq!(store.overrides().unwrap().len(), 2);
    assert!(store.remove_override(&address(1), "ops", 1_500).unwrap());
    assert!(!store.remove_override(&address(1), "ops", 1_500).unwrap());
    assert_eq!(store.override_for(&address(1)).unwrap(), None);
    assert_eq!(store.overrides().unwrap().len(), 1);
}

fn meta_behaves(fixture: &dyn Fixture) {
    let store = fixture.open().unwrap();
    assert_eq!(store.meta_get("conformance").unwrap(), None);
    store.meta_put("conformance", b"one").unwrap();
    store.meta_put("conformance", b"two").unwrap();
    store.flush().unwrap();
    assert_eq!(
        store.meta_get("conformance").unwrap(),
        Some(b"two".to_vec())
    );
}

fn nonces_behave(fixture: &dyn Fixture) {
    let store = fixture.open().unwrap();
    let now = tollgate_oracle::unix_now();
    store.raise_nonce_mark(now).unwrap();
    store.raise_nonce_mark(now - 10).unwrap();
    assert_eq!(store.nonce_mark().unwrap(), now, "the mark only grows");
    let slot = store.reserve_nonce_second(now + 1, 77).unwrap();
    assert!(slot < 4096);
    assert!(store.nonce_mark().unwrap() > now);
    let allocator = NonceAllocator::open(store.clone()).unwrap();
    let nonces: Vec<u64> = (0..2_000).map(|_| allocator.next().unwrap()).collect();
    assert!(
        nonces.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing"
    );
    let last_second = nonces.last().unwrap() >> 32;
    assert!(store.nonce_mark().unwrap() >= last_second);
    drop(allocator);
    drop(store);
    let store = fixture.open().unwrap();
    assert!(store.nonce_mark().unwrap() >= last_second, "durable");
    let next = NonceAllocator::open(store).unwrap().next().unwrap();
    assert!(
        next >> 32 > last_second,
        "a reopened store issues later seconds"
    );
}

fn state_survives_restart(fixture: &dyn Fixture) {
    let (version, mark) = {
        let store = fixture.open().unwrap();
        let version = write_labels(store.as_ref());
        store
            .put_override(&an_override(5, OverrideAction::Deny))
            .unwrap();
        store.meta_put("kept", b"yes").unwrap();
        let mark = tollgate_oracle::unix_now();
        store.raise_nonce_mark(mark).unwrap();
        store.flush().unwrap();
        (version, mark)
    };
    let store = fixture.open().unwrap();
    assert_eq!(store.labels_version().unwrap(), version);
    assert_eq!(store.labels_for(&address(1)).unwrap().len(), 2);
    assert!(store.override_for(&address(5)).unwrap().is_some());
    assert_eq!(store.meta_get("kept").unwrap(), Some(b"yes".to_vec()));
    assert!(store.nonce_mark().unwrap() >= mark);
}

fn committed_state_survives_a_crash(fixture: &dyn Fixture) {
    let store = fixture.open().unwrap();
    let version = write_labels(store.as_ref());
    store
        .put_override(&an_override(5, OverrideAction::Deny))
        .unwrap();
    if fixture.crash().is_none() {
        return;
    }
    // The open store reconnects by itself: no restart of the node. Each pooled connection
    // that the crash cut answers its next call with a store error (503) once, then connects
    // again; nothing else may fail.
    fn eventually<T>(mut call: impl FnMut() -> tollgate_oracle::error::Result<T>) -> T {
        for _ in 0..100 {
            match call() {
                Ok(value) => return value,
                Err(err) => {
                    assert!(matches!(err, Error::Store(_)), "{err}");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        }
        panic!("the store did not recover within 10 s")
    }
    // Every pooled connection gets its turn: all must come back.
    for _ in 0..PgOptions::default().connections * 2 {
        assert_eq!(eventually(|| store.labels_version()), version);
        assert!(eventually(|| store.override_for(&address(5))).is_some());
    }
    drop(store);
    assert_eq!(fixture.open().unwrap().labels_version().unwrap(), version);
}

fn a_flipped_byte_is_refused(fixture: &dyn Fixture) {
    {
        let store = fixture.open().unwrap();
        write_labels(store.as_ref());
        if fixture.damages_live() {
            fixture.flip_label_byte();
            let err = store.label_counts().unwrap_err();
            assert!(matches!(err, Error::Corrupt(_)), "{err}");
            assert!(!store.is_intact(), "a failed check stops signing");
            fixture.flip_label_byte(); // undo
        }
    }
    fixture.flip_label_byte();
    let err = fixture.open().err().expect("a damaged store is refused");
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
}

fn a_lost_label_is_refused(fixture: &dyn Fixture) {
    {
        let store = fixture.open().unwrap();
        write_labels(store.as_ref());
    }
    fixture.lose_label();
    let err = fixture
        .open()
        .err()
        .expect("a store that lost a label is refused");
    assert!(
        err.to_string()
            .contains("does not match its recorded version"),
        "{err}"
    );
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sled_store {
            $(#[test] fn $case() { super::$case(&super::SledFixture::new()); })*
        }
        mod postgres_store {
            $(#[test] fn $case() { super::$case(&super::PgFixture::new()); })*
        }
    };
}

conformance!(
    labels_behave,
    label_removal_behaves,
    overrides_behave,
    meta_behaves,
    nonces_behave,
    state_survives_restart,
    committed_state_survives_a_crash,
    a_flipped_byte_is_refused,
    a_lost_label_is_refused,
);

/// The label set's version names content, whatever the store: the same writes give the same
/// count and digest in sled and in PostgreSQL.
#[test]
fn both_stores_name_the_same_labels_alike() {
    let sled = SledFixture::new();
    let pg = PgFixture::new();
    let a = write_labels(sled.open().unwrap().as_ref());
    let b = write_labels(pg.open().unwrap().as_ref());
    assert_eq!(a, b);
}

/// Replicas: two stores on one database write labels at once; the version counts every label
/// once and the start check agrees. Nonce slots of one second differ between them.
#[test]
fn replicas_share_labels_and_never_share_a_nonce_slot() {
    let pg = PgFixture::new();
    let (one, two) = (pg.open().unwrap(), pg.open().unwrap());
    std::thread::scope(|scope| {
        for (store, offset) in [(&one, 0u8), (&two, 100u8)] {
            scope.spawn(move || {
                for n in 0..50u8 {
                    store
                        .put_label(&label(n + offset, "replica", "x", Categories::SCAM))
                        .unwrap();
                    // The same label from both replicas: added once.
                    store
                        .put_label(&label(200, "shared", "y", Categories::MIXER))
                        .unwrap();
                }
            });
        }
    });
    let version = one.labels_version().unwrap();
    assert_eq!(version.count, 101);
    assert_eq!(version, two.labels_version().unwrap());
    // Visible to the other replica at once.
    assert_eq!(two.labels_for(&address(3)).unwrap().len(), 1);
    drop((one, two));
    assert_eq!(pg.open().unwrap().labels_version().unwrap(), version);

    let stores: Vec<Arc<dyn Store>> = (0..4).map(|_| pg.open().unwrap()).collect();
    let second = tollgate_oracle::unix_now() + 5;
    let slots: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .flat_map(|store| {
                (0..8).map(move |_| scope.spawn(move || store.reserve_nonce_second(second, 0)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let distinct: HashSet<u64> = slots.iter().copied().collect();
    assert_eq!(distinct.len(), slots.len(), "every claim got its own slot");
}

/// A database migrated by a newer node is refused, not misread.
#[test]
fn a_database_from_a_newer_node_is_refused() {
    let pg = PgFixture::new();
    drop(pg.open().unwrap());
    PgCluster::client_of(&pg.url)
        .execute(
            "INSERT INTO tollgate_migrations (version, name) VALUES (999, 'future')",
            &[],
        )
        .unwrap();
    let err = pg.open().err().expect("refused");
    assert!(err.to_string().contains("newer node"), "{err}");
}

/// PostgreSQL down: a call fails fast with a store error (503), never hangs.
#[test]
fn an_unreachable_database_fails_fast() {
    let pg = PgFixture::new();
    let store = pg.open().unwrap();
    pg.cluster.stop_server("fast");
    let started = std::time::Instant::now();
    let err = store.labels_version().unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let err = PgStore::open(&pg.url, &PgOptions::default()).err().unwrap();
    assert!(matches!(err, Error::Store(_)), "{err}");
}
