//! What replicas share on PostgreSQL besides the store and the audit chain: the change feed
//! and the transfer log (with the follower's cursor and lease). Two "replicas" here are two
//! independent openings of the same database, as two node processes make; `replicas.rs` runs
//! real processes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tollgate_oracle::changes::postgres::PgFeed;
use tollgate_oracle::changes::ChangeLog;
use tollgate_oracle::error::Error;
use tollgate_oracle::exposure::transfers_pg::PgFrames;
use tollgate_oracle::exposure::{Transfer, TransferStore};
use tollgate_oracle::risk::RiskEngine;
use tollgate_oracle::store::postgres::{PgOptions, PgPool, PgStore};
use tollgate_oracle::store::{Label, Store};
use tollgate_sdk::exposure::Asset;
use tollgate_sdk::{Address, Categories};

use crate::pg_cluster::PgCluster;

/// One replica's view: its store, feed and transfer log on `url`.
struct Replica {
    store: Arc<dyn Store>,
    feed: ChangeLog,
    pool: PgPool,
}

fn replica(url: &str) -> Replica {
    let options = PgOptions::default();
    let store: Arc<dyn Store> = Arc::new(PgStore::open(url, &options).unwrap());
    let pool = PgPool::new(url, &options).unwrap();
    Replica {
        store,
        feed: ChangeLog::over(PgFeed::new(pool.clone())),
        pool,
    }
}

fn transfers(pool: &PgPool) -> Arc<TransferStore> {
    PgFrames::open_store(
        pool.clone(),
        Duration::from_secs(30),
        Duration::from_secs(3600),
    )
    .unwrap()
}

fn scam(n: u8) -> Label {
    Label {
        address: Address::new(0, [n; 32]),
        categories: Categories::SCAM,
        source: "test".into(),
        name: format!("scam {n}"),
        first_seen: 1,
    }
}

fn transfer(from: u8, to: u8, hash: u8) -> Transfer {
    Transfer {
        from: Address::new(0, [from; 32]),
        to: Address::new(0, [to; 32]),
        asset: Asset::Ton,
        amount: 1_000,
        lt: hash as u64,
        utime: 100,
        tx_hash: [hash; 32],
    }
}

#[test]
fn replicas_append_to_one_change_feed_with_dense_seqs_and_see_each_others_levels() {
    let cluster = PgCluster::start();
    let url = cluster.fresh_db();
    let (a, b) = (Arc::new(replica(&url)), Arc::new(replica(&url)));
    // Both replicas label different addresses and record the changes at the same time.
    let writers: Vec<_> = [(a.clone(), 1u8), (b.clone(), 101u8)]
        .into_iter()
        .map(|(r, first)| {
            std::thread::spawn(move || {
                let engine = RiskEngine::new(r.store.clone());
                for n in first..first + 20 {
                    let address = Address::new(0, [n; 32]);
                    let before = r.feed.judge(&engine, &[address], 10).unwrap();
                    r.store.put_label(&scam(n)).unwrap();
                    let changes = r
                        .feed
                        .rescreen(&engine, &[address], &before, "ingest", 10)
                        .unwrap();
                    assert_eq!(changes.len(), 1);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    for r in [&a, &b] {
        let page = r.feed.page(0, 1000).unwrap();
        let seqs: Vec<u64> = page.iter().map(|c| c.seq).collect();
        assert_eq!(
            seqs,
            (1..=40).collect::<Vec<_>>(),
            "one feed, no gap, no fork"
        );
        assert_eq!(r.feed.last_seq().unwrap(), 40);
        assert_eq!(r.feed.page(39, 10).unwrap().len(), 1);
    }
    // A level recorded by one is the baseline of the other: no second change.
    let engine = RiskEngine::new(b.store.clone());
    let address = Address::new(0, [1; 32]);
    assert_eq!(b.feed.level(&address).unwrap().unwrap().level, "severe");
    assert!(b
        .feed
        .rescreen(&engine, &[address], &HashMap::new(), "rescreen", 11)
        .unwrap()
        .is_empty());
    // Webhook delivery state is shared too.
    a.feed
        .put_webhook_state("hook", b"{\"delivered\":3}")
        .unwrap();
    assert_eq!(
        b.feed.webhook_state("hook").unwrap().as_deref(),
        Some(&b"{\"delivered\":3}"[..])
    );
    // A change altered in the database is refused, not misread.
    cluster
        .client(url.rsplit('/').next().unwrap())
        .execute(
            "UPDATE change_feed SET value = overlay(value placing '\\x00'::bytea from 8) WHERE seq = 5",
            &[],
        )
        .unwrap();
    assert!(matches!(b.feed.page(0, 10), Err(Error::Corrupt(_))));
}

#[test]
fn replicas_share_ingested_transfers_with_the_same_ids_and_the_cursor() {
    let cluster = PgCluster::start();
    let url = cluster.fresh_db();
    let (pool_a, pool_b) = (replica(&url).pool, replica(&url).pool);
    let (a, b) = (transfers(&pool_a), transfers(&pool_b));
    let done = a
        .append(&[transfer(1, 2, 1), transfer(2, 3, 2)], &[("tx", "2:0")])
        .unwrap();
    assert_eq!((done.added, done.edges), (2, 0..2));
    // B has not applied A's frame: its append catches up first, so ids stay the same, and
    // the transfer A already holds counts once.
    let done = b
        .append(&[transfer(2, 3, 2), transfer(3, 4, 3)], &[("tx", "3:0")])
        .unwrap();
    assert_eq!((done.added, done.duplicates, done.edges), (1, 1, 2..3));
    assert_eq!(a.refresh().unwrap(), 1);
    for store in [&a, &b] {
        let graph = store.graph();
        assert_eq!((graph.address_count(), graph.edge_count()), (4, 3));
        assert_eq!(graph.id(&Address::new(0, [4; 32])), Some(3));
        assert_eq!(graph.address(graph.edge(2).to), Address::new(0, [4; 32]));
        drop(graph);
        assert_eq!(store.cursor("tx").as_deref(), Some("3:0"));
    }
    // A third replica starting later rebuilds the same graph.
    let c = transfers(&replica(&url).pool);
    assert_eq!(c.graph().edge_count(), 3);
    assert_eq!(c.cursor("tx").as_deref(), Some("3:0"));
}

#[test]
fn one_replica_follows_at_a_time_and_another_takes_over_when_its_lease_lapses() {
    let cluster = PgCluster::start();
    let url = cluster.fresh_db();
    let (a, b) = (
        transfers(&replica(&url).pool),
        transfers(&replica(&url).pool),
    );
    let ttl = Duration::from_secs(1);
    assert!(a.hold_lease("follower", ttl).unwrap());
    assert!(!b.hold_lease("follower", ttl).unwrap(), "held by a");
    assert!(a.hold_lease("follower", ttl).unwrap(), "renewed");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(b.hold_lease("follower", ttl).unwrap(), "a's lease lapsed");
    assert!(!a.hold_lease("follower", ttl).unwrap());
    // A store of one process needs no lease.
    assert!(TransferStore::in_memory()
        .hold_lease("follower", ttl)
        .unwrap());
}

#[test]
fn a_damaged_or_missing_transfer_frame_refuses_the_open() {
    let cluster = PgCluster::start();
    let url = cluster.fresh_db();
    let db = url.rsplit('/').next().unwrap().to_string();
    let pool = replica(&url).pool;
    let a = transfers(&pool);
    for n in 1..=3u8 {
        a.append(&[transfer(n, n + 1, n)], &[]).unwrap();
    }
    drop(a);
    let mut client = cluster.client(&db);
    client
        .execute(
            "UPDATE transfer_frames SET payload = overlay(payload placing '\\xff'::bytea from 6) WHERE seq = 2",
            &[],
        )
        .unwrap();
    let refused = PgFrames::open_store(
        pool.clone(),
        Duration::from_secs(30),
        Duration::from_secs(3600),
    );
    assert!(
        matches!(&refused, Err(Error::Corrupt(what)) if what.contains("frame 2 fails its checksum")),
        "{:?}",
        refused.err()
    );
    client
        .execute("DELETE FROM transfer_frames WHERE seq = 2", &[])
        .unwrap();
    let refused = PgFrames::open_store(pool, Duration::from_secs(30), Duration::from_secs(3600));
    assert!(
        matches!(&refused, Err(Error::Corrupt(what)) if what.contains("frame 2 is missing")),
        "{:?}",
        refused.err()
    );
}
