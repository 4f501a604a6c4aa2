//! Keeping judgements current: [`ChangeLog::rescreen`] re-judges addresses and records every
//! change of level in a durable, ordered change feed (`GET /v1/changes`, webhooks).
//!
//! # What triggers a re-judgement
//!
//! - a label ingest (admin API or CLI): the addresses it touched;
//! - an override set or removed: its address;
//! - every `rescreen_interval_secs`: the subjects of attestations still valid ([`Attested`],
//!   fed from the audit log), so that a change the node did not cause itself (new exposure, an
//!   override that lapsed) reaches those who rely on an attestation.
//!
//! # The baseline
//!
//! A change is a level different from the last level recorded for the address (`levels`). An
//! address seen for the first time is compared with what the caller knew before: its judgement
//! just before the ingest or override ([`ChangeLog::judge`]), or the score its last attestation
//! recorded. So loading a list records the addresses whose level it changed, and nothing else.
//!
//! # Layout (its own sled database, `DATA_DIR/changes`; on PostgreSQL, [`postgres`])
//!
//! | tree | key | payload |
//! |---|---|---|
//! | `changes` | seq (u64 BE) | JSON [`Change`] |
//! | `levels` | address (33 bytes) | JSON [`Snapshot`]: the last level recorded |
//! | `webhooks` | subscriber id | JSON delivery state ([`crate::webhooks`]) |
//!
//! Every value carries the store's CRC32C (see [`crate::store`]). A change is flushed before
//! [`ChangeLog::rescreen`] returns; the level is written after its change, so a crash between
//! the two records the change again at the next re-judgement (at least once, never lost).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tollgate_sdk::{Address, Categories};

use crate::audit::{AttestedSubject, AuditLog};
use crate::error::{Error, Result};
use crate::evidence::level_name;
use crate::risk::{Assessment, Level, RiskEngine};
use crate::store::{address_key, unwrap, wrap};

pub mod postgres;

/// Most changes per page of `GET /v1/changes`.
pub const MAX_PAGE: usize = 1000;

/// A judgement as the feed shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// 0–100.
    pub score: u8,
    /// `low`, `medium`, `high` or `severe`.
    pub level: String,
    /// SPEC.md §3 bitmask.
    pub categories: Categories,
}

impl Snapshot {
    /// The snapshot of a judgement.
    pub fn of(assessment: &Assessment) -> Snapshot {
        Snapshot::from_score(assessment.score, assessment.category_set())
    }

    /// The snapshot of a score and categories.
    pub fn from_score(score: u8, categories: Categories) -> Snapshot {
        Snapshot {
            score,
            level: level_name(Level::of(score)).into(),
            categories,
        }
    }
}

/// One change of an address's level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Position in the feed, from 1 (pass it as `since` to get what follows).
    pub seq: u64,
    /// Unix seconds when recorded.
    pub at: u64,
    /// The address, raw form.
    pub address: Address,
    /// What made the node re-judge it: `ingest`, `override` or `rescreen`.
    pub cause: String,
    /// The level before.
    pub previous: Snapshot,
    /// The level now.
    pub current: Snapshot,
    /// Scoring policy and label set of the new judgement (`severity-v1;labels-…`).
    pub policy_version: String,
}

/// A judgement to record: the address and its snapshot now.
#[derive(Clone, Debug)]
pub struct Judged {
    /// The address re-judged.
    pub address: Address,
    /// Its judgement now.
    pub current: Snapshot,
    /// Scoring policy and label set of the judgement (`severity-v1;labels-…`).
    pub policy_version: String,
}

/// What recording one judgement does, given the level recorded before (or the baseline).
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The level moved: a change from this snapshot, and the new level.
    Change(Snapshot),
    /// Same level (score or categories moved within it), or first sight: the new level only.
    LevelOnly,
    /// Nothing moved.
    Nothing,
}

/// The one rule of the feed, shared by every backend.
pub fn decide(previous: Option<Snapshot>, current: &Snapshot) -> Decision {
    match previous {
        Some(previous) if previous.level != current.level => Decision::Change(previous),
        Some(previous) if &previous == current => Decision::Nothing,
        _ => Decision::LevelOnly,
    }
}

/// Where the feed lives: the data dir's sled database ([`SledFeed`]) for one node, or the
/// PostgreSQL database replicas share ([`postgres::PgFeed`]), so a poller or a webhook sees one
/// feed through any replica.
pub trait FeedBackend: Send + Sync + 'static {
    /// The seq of the last change (0 when there is none).
    fn last_seq(&self) -> Result<u64>;
    /// Up to `limit` changes with seq above `since`, in order.
    fn page(&self, since: u64, limit: usize) -> Result<Vec<Change>>;
    /// The last level recorded for an address.
    fn level(&self, address: &Address) -> Result<Option<Snapshot>>;
    /// Records `judged` ([`decide`] against the recorded level, else `baseline`), giving the
    /// changes the next seqs; one appender at a time across every process sharing the feed.
    /// Durable before it returns.
    fn record(
        &self,
        judged: &[Judged],
        baseline: &HashMap<Address, Snapshot>,
        cause: &str,
        now: u64,
    ) -> Result<Vec<Change>>;
    /// A webhook subscriber's delivery state (JSON), if any.
    fn webhook_state(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Writes a subscriber's delivery state durably.
    fn put_webhook_state(&self, id: &str, state: &[u8]) -> Result<()>;
}

/// The change feed and the last level of every address re-judged.
pub struct ChangeLog {
    backend: Box<dyn FeedBackend>,
    /// Woken after every append (the webhook dispatcher waits on it; it also polls, which is
    /// how it sees what another replica appended).
    pub appended: Notify,
}

/// The feed in its own sled database (one node).
pub struct SledFeed {
    db: sled::Db,
    changes: sled::Tree,
    levels: sled::Tree,
    webhooks: sled::Tree,
    /// Serialises appends so seqs are assigned in order.
    append: Mutex<()>,
}

pub(crate) const CHANGES: &str = "changes";
pub(crate) const LEVELS: &str = "levels";
pub(crate) const WEBHOOKS: &str = "webhooks";

impl ChangeLog {
    /// Opens (or creates) the feed in `dir`.
    pub fn open(dir: &Path) -> Result<ChangeLog> {
        SledFeed::from_db(crate::store::sled_open::open(dir, "the change feed")?)
            .map(ChangeLog::over)
    }

    /// A feed in memory, for tests.
    pub fn temporary() -> Result<ChangeLog> {
        SledFeed::from_db(sled::Config::new().temporary(true).open()?).map(ChangeLog::over)
    }

    /// The feed over a backend.
    pub fn over(backend: impl FeedBackend) -> ChangeLog {
        ChangeLog {
            backend: Box::new(backend),
            appended: Notify::new(),
        }
    }

    /// The seq of the last change (0 when there is none).
    pub fn last_seq(&self) -> Result<u64> {
        self.backend.last_seq()
    }

    /// Up to `limit` changes with seq above `since`, in order.
    pub fn page(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        if since == u64::MAX {
            return Ok(Vec::new());
        }
        self.backend.page(since, limit)
    }

    /// The judgements of `addresses` now, for those with no level recorded: the baseline to
    /// pass to [`ChangeLog::rescreen`] after changing what they depend on.
    pub fn judge(
        &self,
        engine: &RiskEngine,
        addresses: &[Address],
        now: u64,
    ) -> Result<HashMap<Address, Snapshot>> {
        let mut before = HashMap::new();
        for address in addresses {
            if !before.contains_key(address) && self.level(address)?.is_none() {
                before.insert(*address, Snapshot::of(&engine.assess(address, now)?));
            }
        }
        Ok(before)
    }

    /// The last level recorded for an address.
    pub fn level(&self, address: &Address) -> Result<Option<Snapshot>> {
        self.backend.level(address)
    }

    /// Re-judges `addresses` and records a change for each whose level differs from its last
    /// recorded level, or from `baseline` when none is recorded (an address in neither is
    /// recorded as it is, without a change). Durable before it returns; wakes the webhooks.
    pub fn rescreen(
        &self,
        engine: &RiskEngine,
        addresses: &[Address],
        baseline: &HashMap<Address, Snapshot>,
        cause: &str,
        now: u64,
    ) -> Result<Vec<Change>> {
        let mut seen = std::collections::HashSet::new();
        let mut judged = Vec::with_capacity(addresses.len());
        for address in addresses {
            if !seen.insert(*address) {
                continue;
            }
            let assessment = engine.assess(address, now)?;
            judged.push(Judged {
                address: *address,
                current: Snapshot::of(&assessment),
                policy_version: format!(
                    "{};{}",
                    assessment.policy_version, assessment.labels_version
                ),
            });
        }
        if judged.is_empty() {
            return Ok(Vec::new());
        }
        let recorded = self.backend.record(&judged, baseline, cause, now)?;
        if !recorded.is_empty() {
            self.appended.notify_waiters();
            for change in &recorded {
                tracing::info!(seq = change.seq, address = %change.address, from = %change.previous.level, to = %change.current.level, cause, "level changed");
            }
        }
        Ok(recorded)
    }

    /// A webhook subscriber's delivery state (JSON), if any.
    pub fn webhook_state(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.backend.webhook_state(id)
    }

    /// Writes a subscriber's delivery state durably.
    pub fn put_webhook_state(&self, id: &str, state: &[u8]) -> Result<()> {
        self.backend.put_webhook_state(id, state)
    }
}

impl SledFeed {
    fn from_db(db: sled::Db) -> Result<SledFeed> {
        Ok(SledFeed {
            changes: db.open_tree(CHANGES)?,
            levels: db.open_tree(LEVELS)?,
            webhooks: db.open_tree(WEBHOOKS)?,
            db,
            append: Mutex::new(()),
        })
    }
}

impl FeedBackend for SledFeed {
    fn last_seq(&self) -> Result<u64> {
        Ok(match self.changes.last()? {
            Some((key, _)) => seq_of(&key)?,
            None => 0,
        })
    }

    fn page(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        let Some(from) = since.checked_add(1) else {
            return Ok(Vec::new());
        };
        self.changes
            .range(from.to_be_bytes()..)
            .take(limit)
            .map(|item| {
                let (key, value) = item?;
                decode_change(&key, &value)
            })
            .collect()
    }

    fn level(&self, address: &Address) -> Result<Option<Snapshot>> {
        let key = address_key(address);
        match self.levels.get(key)? {
            Some(value) => decode_level(&key, &value).map(Some),
            None => Ok(None),
        }
    }

    fn record(
        &self,
        judged: &[Judged],
        baseline: &HashMap<Address, Snapshot>,
        cause: &str,
        now: u64,
    ) -> Result<Vec<Change>> {
        let _order = self
            .append
            .lock()
            .map_err(|_| Error::Store("change log poisoned".into()))?;
        let mut seq = self.last_seq()?;
        let mut recorded = Vec::new();
        for item in judged {
            let previous = self
                .level(&item.address)?
                .or_else(|| baseline.get(&item.address).cloned());
            let key = address_key(&item.address);
            let level_value = wrap(LEVELS, &key, &to_json(&item.current)?);
            match decide(previous, &item.current) {
                Decision::Change(previous) => {
                    seq += 1;
                    let change = change_of(item, previous, seq, cause, now);
                    let seq_key = seq.to_be_bytes();
                    self.changes
                        .insert(seq_key, wrap(CHANGES, &seq_key, &to_json(&change)?))?;
                    // The level after its change: a crash between them records it again.
                    self.levels.insert(key, level_value)?;
                    recorded.push(change);
                }
                Decision::LevelOnly => {
                    self.levels.insert(key, level_value)?;
                }
                Decision::Nothing => {}
            }
        }
        // Durable before anyone is told (the API's answer, a webhook).
        self.db.flush()?;
        Ok(recorded)
    }

    fn webhook_state(&self, id: &str) -> Result<Option<Vec<u8>>> {
        match self.webhooks.get(id.as_bytes())? {
            Some(value) => Ok(Some(unwrap(WEBHOOKS, id.as_bytes(), &value)?.to_vec())),
            None => Ok(None),
        }
    }

    fn put_webhook_state(&self, id: &str, state: &[u8]) -> Result<()> {
        self.webhooks
            .insert(id.as_bytes(), wrap(WEBHOOKS, id.as_bytes(), state))?;
        self.webhooks.flush()?;
        Ok(())
    }
}

/// The change a [`Decision::Change`] records.
pub(crate) fn change_of(
    item: &Judged,
    previous: Snapshot,
    seq: u64,
    cause: &str,
    now: u64,
) -> Change {
    Change {
        seq,
        at: now,
        address: item.address,
        cause: cause.into(),
        previous,
        current: item.current.clone(),
        policy_version: item.policy_version.clone(),
    }
}

/// A stored change (checked record under its seq key).
pub(crate) fn decode_change(key: &[u8], value: &[u8]) -> Result<Change> {
    let payload = unwrap(CHANGES, key, value)?;
    serde_json::from_slice(payload).map_err(|err| corrupt(CHANGES, &err))
}

/// A stored level (checked record under its address key).
pub(crate) fn decode_level(key: &[u8], value: &[u8]) -> Result<Snapshot> {
    let payload = unwrap(LEVELS, key, value)?;
    serde_json::from_slice(payload).map_err(|err| corrupt(LEVELS, &err))
}

/// Subjects of attestations still valid, kept from the audit log: the entries a node finds at
/// start are read once; those it commits itself the committer hands over
/// ([`AuditLog::take_committed`]), so a busy node does not decode back every entry it wrote
/// once a minute. Replicas of a shared database read the entries appended since the last call.
#[derive(Default)]
pub struct Attested {
    /// Audit entries read.
    read: u64,
    /// Subject → its latest attestation (`valid_until`, the score and categories it recorded).
    subjects: HashMap<Address, AttestedSubject>,
}

impl Attested {
    /// Takes in the attestations committed since the last call and forgets expired ones;
    /// returns the subjects still attested at `now` with the snapshot their attestation recorded.
    pub fn refresh(&mut self, audit: &AuditLog, now: u64) -> Result<HashMap<Address, Snapshot>> {
        match audit.take_committed() {
            Some((at_open, committed)) => {
                self.read_log(audit, Some(at_open))?;
                for (subject, attested) in committed {
                    AttestedSubject::keep_latest(&mut self.subjects, subject, attested);
                }
            }
            None => self.read_log(audit, None)?,
        }
        self.subjects
            .retain(|_, attested| u64::from(attested.valid_until) >= now);
        Ok(self
            .subjects
            .iter()
            .map(|(address, attested)| {
                let categories = Categories(attested.categories);
                (*address, Snapshot::from_score(attested.score, categories))
            })
            .collect())
    }

    /// Reads the entries after those already read, up to `until` (exclusive) or the end.
    fn read_log(&mut self, audit: &AuditLog, until: Option<u64>) -> Result<()> {
        const PAGE: usize = 1000;
        while until.is_none_or(|until| self.read < until) {
            let page = audit.page(self.read.checked_sub(1), PAGE)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            let full = page.len() == PAGE;
            let next = last.seq + 1;
            for (entry, _) in &page {
                if until.is_some_and(|until| entry.seq >= until) {
                    break;
                }
                AttestedSubject::keep_latest(
                    &mut self.subjects,
                    entry.record.attestation.subject,
                    AttestedSubject::of(&entry.record),
                );
            }
            self.read = until.map_or(next, |until| next.min(until));
            if !full {
                break;
            }
        }
        Ok(())
    }
}

/// Re-judges the subjects of attestations still valid at `now`, each
/// compared with its last recorded level or, first, with what its attestation recorded.
/// Blocking.
pub fn rescreen_attested(
    state: &crate::api::AppState,
    cause: &str,
    now: u64,
) -> Result<Vec<Change>> {
    let subjects = state
        .attested
        .lock()
        .map_err(|_| Error::Store("attested subjects poisoned".into()))?
        .refresh(&state.audit, now)?;
    let addresses: Vec<Address> = subjects.keys().copied().collect();
    state
        .changes
        .rescreen(&state.engine, &addresses, &subjects, cause, now)
}

/// Runs `apply` (an ingest, an override change) between a judgement of `addresses` before and
/// their re-judgement after, then re-judges the subjects of valid attestations too (a new
/// label can change their exposure). Blocking. Returns `apply`'s result and the changes.
pub fn around<T>(
    state: &crate::api::AppState,
    addresses: &[Address],
    cause: &str,
    apply: impl FnOnce() -> Result<T>,
) -> Result<(T, Vec<Change>)> {
    let now = crate::unix_now();
    let before = state.changes.judge(&state.engine, addresses, now)?;
    let applied = apply()?;
    let mut changes = state
        .changes
        .rescreen(&state.engine, addresses, &before, cause, now)?;
    changes.extend(rescreen_attested(state, cause, now)?);
    Ok((applied, changes))
}

fn seq_of(key: &[u8]) -> Result<u64> {
    Ok(u64::from_be_bytes(key.try_into().map_err(|_| {
        Error::Corrupt("change log key is not 8 bytes".into())
    })?))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|err| Error::Store(format!("json: {err}")))
}

fn corrupt(tree: &str, err: &serde_json::Error) -> Error {
    Error::Corrupt(format!("record of `{tree}` in the change log: {err}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{Label, SledStore, Store};

    #[test]
    fn level_changes_are_recorded_once_in_order_and_only_when_the_level_moves() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let engine = RiskEngine::new(store.clone());
        let log = ChangeLog::temporary().unwrap();
        let (a, b) = (Address::new(0, [1; 32]), Address::new(0, [2; 32]));
        let before = log.judge(&engine, &[a, b], 1).unwrap();
        let label = |address, categories| Label {
            address,
            categories,
            source: "test".into(),
            name: "x".into(),
            first_seen: 1,
        };
        store.put_label(&label(a, Categories::SCAM)).unwrap();
        store.put_label(&label(b, Categories::EXCHANGE)).unwrap();
        let changes = log
            .rescreen(&engine, &[a, b, a], &before, "ingest", 2)
            .unwrap();
        assert_eq!(changes.len(), 1, "b stays low; a counted once");
        assert_eq!(
            (
                changes[0].seq,
                changes[0].previous.level.as_str(),
                changes[0].current.level.as_str()
            ),
            (1, "low", "severe")
        );
        assert!(log
            .rescreen(&engine, &[a, b], &HashMap::new(), "rescreen", 3)
            .unwrap()
            .is_empty());
        store.put_label(&label(b, Categories::MIXER)).unwrap();
        let changes = log
            .rescreen(&engine, &[b], &HashMap::new(), "ingest", 4)
            .unwrap();
        assert_eq!(changes[0].seq, 2);
        assert_eq!(log.page(0, 10).unwrap().len(), 2);
        assert_eq!(log.page(1, 10).unwrap()[0].seq, 2);
        assert!(log.page(2, 10).unwrap().is_empty());
        assert!(log.page(u64::MAX, 10).unwrap().is_empty());
    }
}
