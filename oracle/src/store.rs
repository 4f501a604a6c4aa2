//! Durable state behind one small trait: labels, overrides, the nonce high-water mark and the
//! audit log.
//!
//! [`Store`] is what the rest of the node uses; [`SledStore`] is the embedded implementation. A
//! shared SQL store for replicated nodes would implement the same trait (DESIGN.md).
//!
//! # Layout in sled
//!
//! | tree | key | value |
//! |---|---|---|
//! | `labels` | address (33 bytes: workchain, hash) ‖ source ‖ `0x00` ‖ categories (u32 BE) | JSON [`LabelValue`] |
//! | `overrides` | address (33 bytes) | JSON [`Override`] |
//! | `override_history` | seq (u64 BE) | JSON [`OverrideChange`] |
//! | `audit` | seq (u64 BE) | the entry's JSON bytes, exactly as hashed |
//! | `meta` | name | value (`nonce_hwm`: u64 BE; `labels_generation`: u64 BE; `default_data`: marker) |

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tollgate_sdk::{Address, Categories};

use crate::error::{Error, Result};

/// A label: one source's statement that an address belongs to a category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The address labelled.
    pub address: Address,
    /// SPEC.md §3 categories (one bit, or none for a known entity without a category, e.g. a
    /// public figure).
    pub categories: Categories,
    /// Where the label comes from, e.g. `ton-assets/scammers` or `ofac/TON`.
    pub source: String,
    /// The name the source gives the address.
    pub name: String,
    /// Unix seconds when this node first ingested the label (kept when the label changes).
    pub first_seen: u64,
}

/// The part of a label stored in the value (the rest is the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelValue {
    /// The name the source gives the address.
    pub name: String,
    /// Unix seconds when first ingested.
    pub first_seen: u64,
}

/// What writing a label did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The label is new.
    Added,
    /// The label existed with a different name.
    Changed,
    /// The label existed as given.
    Unchanged,
}

/// A manual decision about an address that wins over its labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// The address decided on.
    pub address: Address,
    /// Allow (score 0) or deny (score 100).
    pub action: OverrideAction,
    /// Categories to attest: for `deny`, added to the labels' categories; for `allow`, the only
    /// categories reported (labels are then shown as evidence but not counted).
    #[serde(default)]
    pub categories: Categories,
    /// Why.
    pub reason: String,
    /// Who decided.
    pub author: String,
    /// Unix seconds when decided.
    pub created_at: u64,
    /// Unix seconds after which the override no longer applies; `None` never expires.
    pub expires_at: Option<u64>,
}

impl Override {
    /// Whether the override applies at `now`.
    pub fn is_active(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|expiry| now <= expiry)
    }
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideAction {
    /// The address is judged risk-free whatever its labels say.
    Allow,
    /// The address is judged severe whatever its labels say.
    Deny,
}

/// A recorded change of overrides, kept forever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideChange {
    /// Unix seconds.
    pub at: u64,
    /// `set` or `remove`.
    pub change: String,
    /// The address.
    pub address: Address,
    /// The override set, or the one removed.
    pub overrides: Option<Override>,
    /// Who made the change.
    pub author: String,
}

/// Durable node state. Every method is synchronous (sled is); the audit writer calls the
/// flushing ones from a blocking task.
pub trait Store: Send + Sync + 'static {
    /// Writes a label, keeping `first_seen` of an existing one.
    fn put_label(&self, label: &Label) -> Result<PutOutcome>;
    /// Every label of an address.
    fn labels_for(&self, address: &Address) -> Result<Vec<Label>>;
    /// Number of labels per category name (`none` for labels without a category).
    fn label_counts(&self) -> Result<BTreeMap<String, u64>>;
    /// Sets (replaces) the override of an address and records the change.
    fn put_override(&self, item: &Override) -> Result<()>;
    /// Removes the override of an address and records the change; whether there was one.
    fn remove_override(&self, address: &Address, author: &str, now: u64) -> Result<bool>;
    /// The override of an address, active or not.
    fn override_for(&self, address: &Address) -> Result<Option<Override>>;
    /// Every override.
    fn overrides(&self) -> Result<Vec<Override>>;
    /// Reads a metadata value.
    fn meta_get(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Writes a metadata value (not flushed).
    fn meta_put(&self, name: &str, value: &[u8]) -> Result<()>;
    /// Durably raises the nonce high-water mark by `count` and returns the reserved range. The
    /// new mark is flushed before this returns, so no nonce in the range can be handed out again
    /// after a crash.
    fn reserve_nonces(&self, count: u64) -> Result<Range<u64>>;
    /// The last audit entry: its seq and stored bytes.
    fn audit_last(&self) -> Result<Option<(u64, Vec<u8>)>>;
    /// Writes audit entries as one atomic batch. Not yet durable: the audit writer calls
    /// [`Store::flush`] before it answers anyone.
    fn audit_write(&self, entries: &[(u64, Vec<u8>)]) -> Result<()>;
    /// Up to `limit` audit entries with seq > `after` (all from the start when `None`), in order.
    fn audit_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Vec<u8>)>>;
    /// Flushes every pending write to disk.
    fn flush(&self) -> Result<()>;
}

/// The sled implementation of [`Store`].
///
/// # The guard file
///
/// sled recovers a damaged log by keeping its longest valid prefix, silently: a store whose
/// files were overwritten can open as *empty*, and a truncated one can lose recent writes. For
/// most data that is a loss; for nonces it is a safety failure (a rolled-back high-water mark
/// would issue nonces again). So next to the store (`<store>.guard`) the node keeps a small file
/// with the nonce high-water mark, rewritten atomically (write, fsync, rename) after every
/// reservation. On open, a store that is empty while the guard exists, or whose mark is below
/// the guard's, is refused: the node fails closed instead of signing from a damaged store.
pub struct SledStore {
    db: sled::Db,
    labels: sled::Tree,
    overrides: sled::Tree,
    override_history: sled::Tree,
    audit: sled::Tree,
    meta: sled::Tree,
    guard: Option<std::path::PathBuf>,
}

const NONCE_HWM: &str = "nonce_hwm";
const INITIALIZED: &str = "initialized";

/// Contents of the guard file.
#[derive(Debug, Serialize, Deserialize)]
struct Guard {
    nonce_hwm: u64,
}

impl SledStore {
    /// Opens (or creates) the store in `path`, checking it against its guard file.
    pub fn open(path: &Path) -> Result<SledStore> {
        // sled may panic on some forms of corruption; report it as a store error instead.
        let opened = std::panic::catch_unwind(|| sled::Config::new().path(path).open());
        let db = match opened {
            Ok(db) => db?,
            Err(_) => {
                return Err(Error::Store(
                    "the store is corrupt (sled could not recover it)".into(),
                ))
            }
        };
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".guard");
        let store = SledStore::from_db(db, Some(path.with_file_name(name)))?;
        store.check_guard()?;
        Ok(store)
    }

    /// A store in memory, for tests.
    pub fn temporary() -> Result<SledStore> {
        SledStore::from_db(sled::Config::new().temporary(true).open()?, None)
    }

    fn from_db(db: sled::Db, guard: Option<std::path::PathBuf>) -> Result<SledStore> {
        Ok(SledStore {
            labels: db.open_tree("labels")?,
            overrides: db.open_tree("overrides")?,
            override_history: db.open_tree("override_history")?,
            audit: db.open_tree("audit")?,
            meta: db.open_tree("meta")?,
            db,
            guard,
        })
    }

    fn nonce_hwm(&self) -> Result<u64> {
        match self.meta.get(NONCE_HWM)? {
            Some(bytes) => Ok(u64::from_be_bytes(
                bytes
                    .as_ref()
                    .try_into()
                    .map_err(|_| corrupt("nonce mark"))?,
            )),
            None => Ok(0),
        }
    }

    fn check_guard(&self) -> Result<()> {
        let Some(path) = &self.guard else {
            return Ok(());
        };
        let initialized = self.meta.get(INITIALIZED)?.is_some();
        let guard = match std::fs::read(path) {
            Ok(bytes) => {
                Some(serde_json::from_slice::<Guard>(&bytes).map_err(|_| corrupt("guard file"))?)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(Error::Store(format!("cannot read the guard file: {err}"))),
        };
        match guard {
            Some(_) if !initialized => Err(Error::Store(
                "the store is empty but its guard file shows it was in use: it is corrupt or was replaced; refusing to start".into(),
            )),
            Some(guard) if guard.nonce_hwm > self.nonce_hwm()? => Err(Error::Store(
                "the store lost durable writes (nonce mark below the guard's): refusing to start".into(),
            )),
            _ => {
                if !initialized {
                    self.meta.insert(INITIALIZED, &b"1"[..])?;
                    self.db.flush()?;
                }
                self.write_guard(self.nonce_hwm()?)
            }
        }
    }

    /// Atomically replaces the guard file (write a temporary file, fsync, rename, fsync dir).
    fn write_guard(&self, nonce_hwm: u64) -> Result<()> {
        let Some(path) = &self.guard else {
            return Ok(());
        };
        let io = |err: std::io::Error| Error::Store(format!("cannot write the guard file: {err}"));
        let temporary = path.with_extension("guard.tmp");
        {
            let mut file = std::fs::File::create(&temporary).map_err(io)?;
            std::io::Write::write_all(&mut file, &to_json(&Guard { nonce_hwm })?).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&temporary, path).map_err(io)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }
}

/// The 33-byte key prefix of an address: workchain byte, then the account id.
pub fn address_key(address: &Address) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = address.workchain as u8;
    key[1..].copy_from_slice(&address.hash);
    key
}

fn address_from_key(key: &[u8]) -> Result<Address> {
    let hash: [u8; 32] = key
        .get(1..33)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| corrupt("address key"))?;
    Ok(Address {
        workchain: key[0] as i8,
        hash,
    })
}

fn label_key(label: &Label) -> Vec<u8> {
    let mut key = Vec::with_capacity(33 + label.source.len() + 5);
    key.extend_from_slice(&address_key(&label.address));
    key.extend_from_slice(label.source.as_bytes());
    key.push(0);
    key.extend_from_slice(&label.categories.0.to_be_bytes());
    key
}

fn decode_label(key: &[u8], value: &[u8]) -> Result<Label> {
    let address = address_from_key(key)?;
    let rest = &key[33..];
    if rest.len() < 5 || rest[rest.len() - 5] != 0 {
        return Err(corrupt("label key"));
    }
    let source =
        std::str::from_utf8(&rest[..rest.len() - 5]).map_err(|_| corrupt("label source"))?;
    let bits = u32::from_be_bytes(
        rest[rest.len() - 4..]
            .try_into()
            .map_err(|_| corrupt("label key"))?,
    );
    let value: LabelValue = serde_json::from_slice(value).map_err(|_| corrupt("label value"))?;
    Ok(Label {
        address,
        categories: Categories(bits),
        source: source.to_string(),
        name: value.name,
        first_seen: value.first_seen,
    })
}

fn corrupt(what: &str) -> Error {
    Error::Store(format!("corrupt {what}"))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|err| Error::Store(format!("encode: {err}")))
}

impl Store for SledStore {
    fn put_label(&self, label: &Label) -> Result<PutOutcome> {
        if label.source.as_bytes().contains(&0) {
            return Err(Error::InvalidRequest(
                "label source must not contain NUL".into(),
            ));
        }
        let key = label_key(label);
        let existing = match self.labels.get(&key)? {
            Some(bytes) => Some(
                serde_json::from_slice::<LabelValue>(&bytes).map_err(|_| corrupt("label value"))?,
            ),
            None => None,
        };
        let (outcome, first_seen) = match &existing {
            None => (PutOutcome::Added, label.first_seen),
            Some(old) if old.name == label.name => return Ok(PutOutcome::Unchanged),
            Some(old) => (PutOutcome::Changed, old.first_seen),
        };
        self.labels.insert(
            key,
            to_json(&LabelValue {
                name: label.name.clone(),
                first_seen,
            })?,
        )?;
        Ok(outcome)
    }

    fn labels_for(&self, address: &Address) -> Result<Vec<Label>> {
        self.labels
            .scan_prefix(address_key(address))
            .map(|item| {
                let (key, value) = item?;
                decode_label(&key, &value)
            })
            .collect()
    }

    fn label_counts(&self) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        for item in self.labels.iter() {
            let (key, value) = item?;
            let label = decode_label(&key, &value)?;
            let names = label.categories.names();
            if names.is_empty() {
                *counts.entry("none".to_string()).or_default() += 1;
            }
            for name in names {
                *counts.entry(name.to_string()).or_default() += 1;
            }
        }
        Ok(counts)
    }

    fn put_override(&self, item: &Override) -> Result<()> {
        let change = OverrideChange {
            at: item.created_at,
            change: "set".into(),
            address: item.address,
            overrides: Some(item.clone()),
            author: item.author.clone(),
        };
        self.override_history
            .insert(self.db.generate_id()?.to_be_bytes(), to_json(&change)?)?;
        self.overrides
            .insert(address_key(&item.address), to_json(item)?)?;
        // Overrides change judgements: make them durable before the admin is told they apply.
        self.db.flush()?;
        Ok(())
    }

    fn remove_override(&self, address: &Address, author: &str, now: u64) -> Result<bool> {
        let Some(old) = self.override_for(address)? else {
            return Ok(false);
        };
        let change = OverrideChange {
            at: now,
            change: "remove".into(),
            address: *address,
            overrides: Some(old),
            author: author.into(),
        };
        self.override_history
            .insert(self.db.generate_id()?.to_be_bytes(), to_json(&change)?)?;
        self.overrides.remove(address_key(address))?;
        self.db.flush()?;
        Ok(true)
    }

    fn override_for(&self, address: &Address) -> Result<Option<Override>> {
        match self.overrides.get(address_key(address))? {
            Some(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(|_| corrupt("override"))?,
            )),
            None => Ok(None),
        }
    }

    fn overrides(&self) -> Result<Vec<Override>> {
        self.overrides
            .iter()
            .map(|item| {
                let (_, value) = item?;
                serde_json::from_slice(&value).map_err(|_| corrupt("override"))
            })
            .collect()
    }

    fn meta_get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(name)?.map(|v| v.to_vec()))
    }

    fn meta_put(&self, name: &str, value: &[u8]) -> Result<()> {
        self.meta.insert(name, value)?;
        Ok(())
    }

    fn reserve_nonces(&self, count: u64) -> Result<Range<u64>> {
        // Compare-and-swap so that two reservations (even from two allocators, which the node
        // never creates) can never overlap.
        loop {
            let current = self.meta.get(NONCE_HWM)?;
            let start = match &current {
                Some(bytes) => u64::from_be_bytes(
                    bytes
                        .as_ref()
                        .try_into()
                        .map_err(|_| corrupt("nonce mark"))?,
                ),
                None => 0,
            };
            let end = start
                .checked_add(count)
                .ok_or_else(|| Error::Store("nonce space exhausted".into()))?;
            let swapped =
                self.meta
                    .compare_and_swap(NONCE_HWM, current, Some(&end.to_be_bytes()[..]))?;
            if swapped.is_ok() {
                // The mark must be on disk before any nonce below it is used, in the store and
                // in the guard that detects a store which lost it.
                self.db.flush()?;
                self.write_guard(end)?;
                return Ok(start..end);
            }
        }
    }

    fn audit_last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        match self.audit.last()? {
            Some((key, value)) => {
                let seq =
                    u64::from_be_bytes(key.as_ref().try_into().map_err(|_| corrupt("audit key"))?);
                Ok(Some((seq, value.to_vec())))
            }
            None => Ok(None),
        }
    }

    fn audit_write(&self, entries: &[(u64, Vec<u8>)]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (seq, bytes) in entries {
            batch.insert(&seq.to_be_bytes()[..], bytes.as_slice());
        }
        // Atomic: after a crash, sled recovers all of a batch or none of it, so the chain stays
        // contiguous. Durability is the caller's flush (the group commit in audit.rs).
        self.audit.apply_batch(batch)?;
        Ok(())
    }

    fn audit_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let iter = match after {
            Some(seq) => match seq.checked_add(1) {
                Some(next) => self.audit.range(next.to_be_bytes()..),
                None => return Ok(Vec::new()),
            },
            None => self.audit.iter(),
        };
        iter.take(limit)
            .map(|item| {
                let (key, value) = item?;
                let seq =
                    u64::from_be_bytes(key.as_ref().try_into().map_err(|_| corrupt("audit key"))?);
                Ok((seq, value.to_vec()))
            })
            .collect()
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str) -> Label {
        Label {
            address: Address::new(0, [7; 32]),
            categories: Categories::SCAM,
            source: "test".into(),
            name: name.into(),
            first_seen: 10,
        }
    }

    #[test]
    fn labels_are_idempotent_and_keep_first_seen() {
        let store = SledStore::temporary().unwrap();
        assert_eq!(store.put_label(&label("a")).unwrap(), PutOutcome::Added);
        assert_eq!(store.put_label(&label("a")).unwrap(), PutOutcome::Unchanged);
        let mut renamed = label("b");
        renamed.first_seen = 99;
        assert_eq!(store.put_label(&renamed).unwrap(), PutOutcome::Changed);
        let labels = store.labels_for(&Address::new(0, [7; 32])).unwrap();
        assert_eq!(labels.len(), 1);
        assert_eq!((labels[0].name.as_str(), labels[0].first_seen), ("b", 10));
        assert!(store
            .labels_for(&Address::new(-1, [7; 32]))
            .unwrap()
            .is_empty());
        assert_eq!(store.label_counts().unwrap().get("scam"), Some(&1));
    }

    #[test]
    fn nonce_reservations_never_overlap_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let store = SledStore::open(dir.path()).unwrap();
            let a = store.reserve_nonces(100).unwrap();
            let b = store.reserve_nonces(100).unwrap();
            assert_eq!(a.end, b.start);
            b
        };
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.reserve_nonces(5).unwrap().start, first.end);
    }

    #[test]
    fn a_store_that_lost_its_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = SledStore::open(&path).unwrap();
            store.reserve_nonces(10).unwrap();
        }
        SledStore::open(&path).unwrap();
        // Replace the store with an empty one: the guard notices.
        std::fs::remove_dir_all(&path).unwrap();
        let err = SledStore::open(&path).err().expect("refused");
        assert!(err.to_string().contains("refusing to start"), "{err}");
    }

    #[test]
    fn audit_pages_in_order() {
        let store = SledStore::temporary().unwrap();
        let entries: Vec<_> = (0..10u64).map(|seq| (seq, vec![seq as u8])).collect();
        store.audit_write(&entries).unwrap();
        assert_eq!(store.audit_last().unwrap().unwrap().0, 9);
        let page = store.audit_after(Some(3), 4).unwrap();
        assert_eq!(
            page.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![4, 5, 6, 7]
        );
        assert_eq!(store.audit_after(None, 2).unwrap()[0].0, 0);
        assert!(store.audit_after(Some(u64::MAX), 2).unwrap().is_empty());
    }
}
