//! The audit log in PostgreSQL, for replicas sharing one database.
//!
//! # One chain, whichever replica signs
//!
//! Each batch is one transaction: lock the head row (`SELECT … FROM audit_head FOR UPDATE`),
//! chain the batch after the head it holds, insert the entries, move the head, commit. Two
//! replicas committing at once queue on the row lock; the second chains after the first's
//! head. So the chain is linear (no fork), seqs are dense, and an entry is answered only after
//! its transaction committed (PostgreSQL flushed its WAL). A commit whose outcome is unknown
//! (the connection dropped during `COMMIT`) is answered 503: an entry may then exist that no
//! client was given, never the other way round.
//!
//! # Start and verification
//!
//! At start the tail ([`TAIL_CHECKED`] entries) is read and checked (decoding, dense seqs,
//! links, hashes, signatures, and the head row naming the last entry). `audit verify --store`
//! checks the whole chain ([`verify`]). The head row plays the anchor's part: it is written in
//! the same transaction as the entries, so it can neither trail nor lead them.
//!
//! # A restored or rolled-back database
//!
//! The head row is signed by the node key, and each replica remembers the highest head it has
//! seen ([`super::pg_head`]): checked at open, before every commit and on every probe.

use ed25519_dalek::{SigningKey, VerifyingKey};
use postgres::Client;

use super::committer::{Appended, CommitBackend};
use super::format::{entry_hash, AuditRecord, Entry, GENESIS};
use super::pg_head::{
    check_head_signature, pin_refused, sign_head, standing, untrusted, SeenHead, Standing,
    TrustedHead,
};
use super::{check_signature, VerifyReport};
use crate::error::{Error, Result};
use crate::store::postgres::{pg_error, PgPool};

/// Entries checked at start (the whole chain: `audit verify`).
pub const TAIL_CHECKED: i64 = 1024;

/// Entries read per query by [`verify`].
const VERIFY_PAGE: i64 = 10_000;

/// Appends batches in transactions (see the module docs). Owns one connection, made again
/// after a failure.
pub struct PgBackend {
    config: crate::store::postgres::PgConfig,
    client: Option<Client>,
    payload: Vec<u8>,
    /// Signs the head row.
    key: SigningKey,
    /// The highest head this replica has seen.
    seen: SeenHead,
    /// The head this backend last committed or checked (the fast path chains after it).
    known: Option<(u64, [u8; 32])>,
}

impl PgBackend {
    /// A backend for the database of `config` (connects on the first batch).
    pub fn new(
        config: crate::store::postgres::PgConfig,
        key: SigningKey,
        seen: SeenHead,
    ) -> PgBackend {
        PgBackend {
            config,
            client: None,
            payload: Vec::with_capacity(1024),
            key,
            seen,
            known: None,
        }
    }

    fn client(&mut self) -> std::result::Result<&mut Client, String> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            self.client = Some(
                self.config
                    .connect()
                    .map_err(|err| format!("cannot connect to postgres: {err}"))?,
            );
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    fn try_append(
        &mut self,
        records: &mut dyn ExactSizeIterator<Item = &AuditRecord>,
        recorded_at: u64,
    ) -> std::result::Result<Appended, String> {
        let pg = |err: postgres::Error| format!("postgres: {err}");
        let records: Vec<&AuditRecord> = records.collect();
        // Fast path, one round trip: chain after the head this replica last committed or
        // checked, in one statement that moves the head only if it is still that one and
        // inserts only if it moved it. A head moved by another replica (or rolled back)
        // inserts nothing; then the locked path below reads and checks the head.
        if let Some((first, known)) = self.known {
            let chained = chain(&mut self.payload, first, known, &records, recorded_at);
            let after = first + records.len() as u64;
            let client = self.client.as_mut().expect("connected by append");
            let inserted = client
                .execute(
                    "WITH moved AS (
                         UPDATE audit_head SET entries = $4, head = $5, signature = $6
                         WHERE id = 1 AND entries = $7 AND head = $8 RETURNING 1)
                     INSERT INTO audit_entries (seq, entry, hash)
                     SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[])
                     WHERE EXISTS (SELECT 1 FROM moved)",
                    &[
                        &chained.seqs,
                        &chained.bodies,
                        &chained.hashes,
                        &(after as i64),
                        &chained.head.to_vec(),
                        &sign_head(&self.key, after, &chained.head),
                        &(first as i64),
                        &known.to_vec(),
                    ],
                )
                .map_err(pg)?;
            if inserted as usize == records.len() {
                return self.committed(first, after, chained.head);
            }
            self.known = None;
        }
        let client = self.client.as_mut().expect("connected by append");
        let mut tx = client.transaction().map_err(pg)?;
        // The row lock orders the commits of every replica: one linear chain.
        let row = HeadRow::read(&mut tx, Lock::ForUpdate).map_err(|err| err.to_string())?;
        // Never extend a chain this node did not sign, or one older than it has seen.
        check_row(&self.key, &self.seen, &row).map_err(|err| err.to_string())?;
        let (first, head) = (row.entries, row.head);
        let chained = chain(&mut self.payload, first, head, &records, recorded_at);
        let after = first + records.len() as u64;
        tx.execute(
            "INSERT INTO audit_entries (seq, entry, hash)
                 SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[])",
            &[&chained.seqs, &chained.bodies, &chained.hashes],
        )
        .map_err(pg)?;
        tx.execute(
            "UPDATE audit_head SET entries = $1, head = $2, signature = $3 WHERE id = 1",
            &[
                &(after as i64),
                &chained.head.to_vec(),
                &sign_head(&self.key, after, &chained.head),
            ],
        )
        .map_err(pg)?;
        tx.commit().map_err(pg)?;
        self.committed(first, after, chained.head)
    }

    /// After a commit: remembered before the answer, so a later rollback is caught.
    fn committed(
        &mut self,
        first: u64,
        after: u64,
        head: [u8; 32],
    ) -> std::result::Result<Appended, String> {
        self.known = Some((after, head));
        self.seen
            .record(after, &head)
            .map_err(|err| format!("cannot record the audit head seen: {err}"))?;
        Ok(Appended {
            first,
            entries: after,
            head,
        })
    }
}

/// The batch's entries chained after `head`, from seq `first`.
fn chain(
    buffer: &mut Vec<u8>,
    first: u64,
    mut head: [u8; 32],
    records: &[&AuditRecord],
    recorded_at: u64,
) -> Chained {
    let mut payload = std::mem::take(buffer);
    let count = records.len();
    let mut chained = Chained {
        seqs: Vec::with_capacity(count),
        bodies: Vec::with_capacity(count),
        hashes: Vec::with_capacity(count),
        head,
    };
    for (n, record) in records.iter().enumerate() {
        let seq = first + n as u64;
        payload.clear();
        Entry {
            seq,
            prev_hash: head,
            recorded_at,
            record: (*record).clone(),
        }
        .encode(&mut payload);
        head = entry_hash(&payload);
        chained.seqs.push(seq as i64);
        chained.bodies.push(payload.clone());
        chained.hashes.push(head.to_vec());
    }
    chained.head = head;
    *buffer = payload;
    chained
}

/// A batch chained for insertion.
struct Chained {
    seqs: Vec<i64>,
    bodies: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
    /// The head after the batch.
    head: [u8; 32],
}

impl CommitBackend for PgBackend {
    fn append(
        &mut self,
        records: &mut dyn ExactSizeIterator<Item = &AuditRecord>,
        recorded_at: u64,
    ) -> std::result::Result<Appended, String> {
        self.client()?;
        // A failed transaction rolls back when dropped: nothing of the batch stays behind.
        self.try_append(records, recorded_at).inspect_err(|_| {
            if self.client.as_ref().is_some_and(Client::is_closed) {
                self.client = None;
            }
        })
    }

    fn probe(&mut self) -> std::result::Result<(), String> {
        let client = self.client()?;
        match HeadRow::read(client, Lock::None) {
            Ok(row) => check_row(&self.key, &self.seen, &row).map_err(|err| err.to_string()),
            Err(err) => {
                if self.client.as_ref().is_some_and(Client::is_closed) {
                    self.client = None;
                }
                Err(err.to_string())
            }
        }
    }
}

/// Whether a read of the head row locks it for the rest of the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lock {
    /// A plain read (a probe, or inside a read-only snapshot).
    None,
    /// `FOR UPDATE`: the commit path and the check at open, which may write the row.
    ForUpdate,
}

/// The audit head row as every path reads it: one statement for entries, head and
/// signature, so they come from one snapshot, and one judgement of a damaged row.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HeadRow {
    entries: u64,
    head: [u8; 32],
    signature: Option<Vec<u8>>,
}

impl HeadRow {
    /// Reads the row. A missing row, a negative count or a head that is not 32 bytes (the
    /// schema's checks dropped and the row written outside the node) is
    /// [`Error::AuditBroken`], on every path: never read as the genesis head or as "the
    /// database is down".
    fn read(client: &mut impl postgres::GenericClient, lock: Lock) -> Result<HeadRow> {
        let sql = match lock {
            Lock::None => "SELECT entries, head, signature FROM audit_head WHERE id = 1",
            Lock::ForUpdate => {
                "SELECT entries, head, signature FROM audit_head WHERE id = 1 FOR UPDATE"
            }
        };
        let row = client
            .query_opt(sql, &[])
            .map_err(pg_error)?
            .ok_or_else(|| Error::AuditBroken {
                seq: 0,
                reason: "the audit head row is missing".into(),
            })?;
        let (entries, head, signature): (i64, Vec<u8>, Option<Vec<u8>>) =
            (row.get(0), row.get(1), row.get(2));
        let entries = u64::try_from(entries).map_err(|_| Error::AuditBroken {
            seq: 0,
            reason: format!("the audit head names {entries} entries"),
        })?;
        let head = head.as_slice().try_into().map_err(|_| Error::AuditBroken {
            seq: entries,
            reason: format!("the audit head is not 32 bytes ({} bytes)", head.len()),
        })?;
        Ok(HeadRow {
            entries,
            head,
            signature,
        })
    }
}

/// The head row's checks: signed by `key` (unsigned only while empty), and not older than
/// `seen`.
fn check_row(key: &SigningKey, seen: &SeenHead, row: &HeadRow) -> Result<()> {
    let HeadRow {
        entries,
        head,
        signature,
    } = row;
    let entries = *entries;
    if signature.is_none() && entries > 0 {
        return Err(Error::AnchorMismatch(format!(
            "the audit head row ({entries} entries) lost its signature: it was written outside the node. Restore the database from a backup the replicas wrote"
        )));
    }
    check_head_signature(&key.verifying_key(), entries, head, signature.as_deref())?;
    seen.check(entries, head)
}

/// The checks of a replica opening the database, after [`check_tail`]: the head row's
/// signature (a schema-1 head, from before signatures, is signed now), then the database's
/// head against what this replica trusts — the highest head it has seen and the head the
/// operator pinned (`trust`), each of which the chain must still hold — then remembers the
/// head. A replica that trusts nothing (no seen head, no pin) accepts only an empty chain.
/// Nothing is written when a check fails. Returns the entries.
pub fn check_head_at_open(
    client: &mut Client,
    key: &SigningKey,
    seen: &mut SeenHead,
    trust: Option<&TrustedHead>,
) -> Result<u64> {
    let mut tx = client.transaction().map_err(pg_error)?;
    let HeadRow {
        entries,
        head,
        signature,
    } = HeadRow::read(&mut tx, Lock::ForUpdate)?;
    match &signature {
        Some(signature) => {
            check_head_signature(&key.verifying_key(), entries, &head, Some(signature))?
        }
        None => {
            if entries > 0 {
                tracing::warn!(
                    entries,
                    "the audit head row is unsigned (a database of schema 1, or just migrated): signing it now"
                );
            }
            tx.execute(
                "UPDATE audit_head SET signature = $1 WHERE id = 1",
                &[&sign_head(key, entries, &head)],
            )
            .map_err(pg_error)?;
        }
    }
    if seen.seen.is_none() && trust.is_none() && entries > 0 {
        return Err(untrusted(seen.path(), entries, &head));
    }
    let mut hash_at = |seq: u64| -> Result<Option<[u8; 32]>> {
        let hash: Option<Vec<u8>> = tx
            .query_opt(
                "SELECT hash FROM audit_entries WHERE seq = $1",
                &[&(seq as i64)],
            )
            .map_err(pg_error)?
            .map(|r| r.get(0));
        Ok(hash.and_then(|h| h.try_into().ok()))
    };
    if let Some(seen_head) = seen.seen {
        seen.check(entries, &head)?;
        if standing(entries, &head, seen_head, &mut hash_at)? == Standing::OtherBranch {
            return Err(Error::AnchorMismatch(format!(
                "the database's audit chain does not hold the head this replica has seen (entry {}): it was restored from a backup and grew again on another branch. Bring back the newest database; if the rollback is intended, stop every replica and remove {} on each",
                seen_head.0 - 1,
                super::pg_head::SEEN_FILE
            )));
        }
    }
    if let Some(pin) = trust {
        match standing(entries, &head, (pin.entries, pin.head), &mut hash_at)? {
            Standing::Holds => {}
            refused => return Err(pin_refused(pin, entries, refused)),
        }
    }
    tx.commit().map_err(pg_error)?;
    seen.record(entries, &head)?;
    Ok(entries)
}

/// The chain's head as `audit head --store` prints it, for new replicas to pin: the tail
/// checked ([`check_tail`]), then the head row, whose signature must verify under `key`. An
/// unsigned row passes only for the empty chain: a non-empty one is signed by the first
/// replica that opens it (after `migrate`, pin the head `migrate` printed).
pub fn signed_head(client: &mut Client, key: &VerifyingKey) -> Result<TrustedHead> {
    let exists: bool = client
        .query_one("SELECT to_regclass('audit_head') IS NOT NULL", &[])
        .map_err(pg_error)?
        .get(0);
    if !exists {
        return Err(Error::Store(
            "this database holds no audit chain yet (no replica or `migrate` has used it): the first replica on it needs no pin".into(),
        ));
    }
    check_tail(client)?;
    let HeadRow {
        entries,
        head,
        signature,
    } = HeadRow::read(client, Lock::None)?;
    if signature.is_none() && entries > 0 {
        return Err(Error::AnchorMismatch(format!(
            "the audit head row ({entries} entries) is not signed yet: no replica has opened this database since it was migrated (or it was written outside the node), so nothing vouches for it. Pin the head `migrate` printed on the first replica; once it serves, this command checks the signed head"
        )));
    }
    check_head_signature(key, entries, &head, signature.as_deref())?;
    Ok(TrustedHead { entries, head })
}

/// The head row: (entries, head hash); a damaged row is [`Error::AuditBroken`].
pub fn head(client: &mut impl postgres::GenericClient) -> Result<(u64, [u8; 32])> {
    let row = HeadRow::read(client, Lock::None)?;
    Ok((row.entries, row.head))
}

/// Checks entries in seq order against the chain: each decodes, has the next seq, links to the
/// previous hash, hashes to its stored hash, and carries a valid signature.
struct ChainCheck {
    next_seq: u64,
    prev: Option<[u8; 32]>,
}

impl ChainCheck {
    fn check(&mut self, seq: i64, body: &[u8], hash: &[u8]) -> Result<[u8; 32]> {
        let seq = seq as u64;
        let broken = |reason: String| Error::AuditBroken { seq, reason };
        if seq != self.next_seq {
            return Err(Error::AuditBroken {
                seq: self.next_seq,
                reason: format!("entry missing (next stored entry is {seq})"),
            });
        }
        let entry = Entry::decode(body).map_err(|err| broken(err.to_string()))?;
        if entry.seq != seq {
            return Err(broken(format!("entry says seq {}", entry.seq)));
        }
        if let Some(prev) = self.prev {
            if entry.prev_hash != prev {
                return Err(broken("does not link to the previous entry".into()));
            }
        } else if seq == 0 && entry.prev_hash != GENESIS {
            return Err(broken("the first entry does not start from genesis".into()));
        }
        let computed = entry_hash(body);
        if computed.as_slice() != hash {
            return Err(broken("stored hash does not match the entry".into()));
        }
        check_signature(&entry.record).map_err(broken)?;
        self.next_seq = seq + 1;
        self.prev = Some(computed);
        Ok(computed)
    }

    fn check_head(&self, entries: u64, head: &[u8; 32]) -> Result<()> {
        if self.next_seq != entries {
            return Err(Error::AnchorMismatch(format!(
                "the audit head names {entries} entries but the chain holds {}: entries were lost or added outside the node",
                self.next_seq
            )));
        }
        if self.prev.unwrap_or(GENESIS) != *head {
            return Err(Error::AnchorMismatch(
                "the audit head's hash is not the last entry's: the chain was altered".into(),
            ));
        }
        Ok(())
    }
}

/// Checks the chain's tail and the head row; returns the entries in the log.
pub fn check_tail(client: &mut Client) -> Result<u64> {
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .map_err(pg_error)?;
    let (entries, head_hash) = head(&mut tx)?;
    let from = (entries as i64 - TAIL_CHECKED).max(0);
    let mut check = ChainCheck {
        next_seq: from as u64,
        prev: None,
    };
    if from > 0 {
        let row = tx
            .query_opt(
                "SELECT hash FROM audit_entries WHERE seq = $1",
                &[&(from - 1)],
            )
            .map_err(pg_error)?
            .ok_or_else(|| Error::AuditBroken {
                seq: from as u64 - 1,
                reason: "entry missing".into(),
            })?;
        let hash: Vec<u8> = row.get(0);
        check.prev = Some(hash.as_slice().try_into().map_err(|_| Error::AuditBroken {
            seq: from as u64 - 1,
            reason: "stored hash is not 32 bytes".into(),
        })?);
    }
    let rows = tx
        .query(
            "SELECT seq, entry, hash FROM audit_entries WHERE seq >= $1 ORDER BY seq",
            &[&from],
        )
        .map_err(pg_error)?;
    for row in rows {
        check.check(row.get(0), row.get(1), row.get(2))?;
    }
    check.check_head(entries, &head_hash)?;
    tx.commit().map_err(pg_error)?;
    Ok(entries)
}

/// Checks the whole chain and the head row (`audit verify --store`). `key`, when given, must
/// have signed every entry.
pub fn verify(client: &mut Client, key: Option<[u8; 32]>) -> Result<VerifyReport> {
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .map_err(pg_error)?;
    let (entries, head_hash) = head(&mut tx)?;
    let mut check = ChainCheck {
        next_seq: 0,
        prev: None,
    };
    let expected = key.map(|k| VerifyingKey::from_bytes(&k));
    loop {
        let rows = tx
            .query(
                "SELECT seq, entry, hash FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
                &[&(check.next_seq as i64), &VERIFY_PAGE],
            )
            .map_err(pg_error)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let (seq, body): (i64, Vec<u8>) = (row.get(0), row.get(1));
            check.check(seq, &body, row.get(2))?;
            if let Some(Ok(expected)) = &expected {
                let entry = Entry::decode(&body).map_err(|err| Error::AuditBroken {
                    seq: seq as u64,
                    reason: err.to_string(),
                })?;
                if entry.record.public_key != expected.to_bytes() {
                    return Err(Error::AuditBroken {
                        seq: seq as u64,
                        reason: "signed by another key".into(),
                    });
                }
            }
        }
    }
    check.check_head(entries, &head_hash)?;
    tx.commit().map_err(pg_error)?;
    Ok(VerifyReport {
        entries,
        head: hex::encode(head_hash),
        anchored: entries,
        anchor_key: hex::encode(key.unwrap_or_default()),
        torn_bytes: 0,
    })
}

/// Up to `limit` entries with seq ≥ `from`, with their hashes, checked as they are read.
pub fn page(pool: &PgPool, from: u64, limit: usize) -> Result<Vec<(Entry, [u8; 32])>> {
    let rows = pool.run(move |client| {
        let rows = client
            .query(
                "SELECT seq, entry FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
                &[&(from as i64), &(limit as i64)],
            )
            .map_err(pg_error)?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, Vec<u8>>(1)))
            .collect::<Vec<_>>())
    })?;
    rows.into_iter()
        .map(|(seq, body)| {
            let broken = |reason: String| Error::AuditBroken {
                seq: seq as u64,
                reason,
            };
            let entry = Entry::decode(&body).map_err(|err| broken(err.to_string()))?;
            if entry.seq != seq as u64 {
                return Err(broken(format!("entry says seq {}", entry.seq)));
            }
            Ok((entry, entry_hash(&body)))
        })
        .collect()
}
