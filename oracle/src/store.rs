//! Durable state behind one small trait: labels, overrides and the nonce mark. (The audit log
//! has files of its own: [`crate::audit`].)
//!
//! [`Store`] is what the rest of the node uses; [`SledStore`] is the embedded implementation,
//! [`postgres::PgStore`] the one replicas share (DESIGN.md); `tests/conformance.rs` runs one
//! suite against both.
//!
//! # Layout in sled (store format 2)
//!
//! | tree | key | payload |
//! |---|---|---|
//! | `labels` | address (33 bytes: workchain, hash) ‖ source ‖ `0x00` ‖ categories (u32 BE) | JSON [`LabelValue`] |
//! | `labels` | empty key | the label set's version: writes (u64 LE) ‖ count (u64 LE) ‖ digest (32) |
//! | `overrides` | address (33 bytes) | JSON [`Override`] |
//! | `override_history` | seq (u64 BE) | JSON [`OverrideChange`] |
//! | `meta` | name | `nonce_mark`: u64 LE; `store_format`; `initialized`; `default_data_loaded` |
//!
//! # Checked records
//!
//! sled is the embedded default, not the source of trust. Every value is stored as
//! `CRC32C(tree ‖ key ‖ payload)` (u32 LE) followed by the payload, and checked on every read:
//! a flipped byte, or a value moved to another key, is [`Error::Corrupt`], never a silent
//! misreading. [`SledStore::open`] checks every record of every tree and recomputes the label
//! digest before the node may serve; a read that fails its check later marks the store
//! damaged ([`Store::is_intact`]), and the node stops signing.
//!
//! # The label set's version
//!
//! The label set has a content digest: the sum, modulo 2^256, of SHA-256(key ‖ payload) over
//! every label record (an order-independent sum, so a label write updates it without reading
//! the others). It is written in the same atomic sled batch as the label it accounts for, so
//! after a crash — an interrupted ingest too — the stored digest names exactly the labels that
//! are there, and the start check recomputes it. Each judgement records it
//! ([`LabelsVersion`], in `policy_version`). The sum detects damage and names data; it is not
//! meant to resist someone who chooses labels to forge a collision.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use sha2::{Digest, Sha256};

use serde::{Deserialize, Serialize};
use tollgate_sdk::{Address, Categories};

use crate::error::{Error, Result};

pub mod pg_tls;
pub mod postgres;
pub mod sled_open;
pub mod to_postgres;

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

/// The label set a judgement used: how many labels, and their content digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelsVersion {
    /// Label writes ever applied (only grows; tells a store that lost writes from one ahead).
    pub writes: u64,
    /// Labels in the set.
    pub count: u64,
    /// Sum mod 2^256 of SHA-256(key ‖ payload) over the labels.
    pub digest: [u8; 32],
}

impl std::fmt::Display for LabelsVersion {
    /// `labels-<count>-<digest hex>`, as recorded in `policy_version`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "labels-{}-{}", self.count, hex::encode(self.digest))
    }
}

impl LabelsVersion {
    fn encode(&self) -> [u8; 48] {
        let mut bytes = [0u8; 48];
        bytes[..8].copy_from_slice(&self.writes.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.count.to_le_bytes());
        bytes[16..].copy_from_slice(&self.digest);
        bytes
    }

    fn decode(bytes: &[u8]) -> Result<LabelsVersion> {
        if bytes.len() != 48 {
            return Err(corrupt("labels", b"", "label set version is not 48 bytes"));
        }
        Ok(LabelsVersion {
            writes: u64::from_le_bytes(bytes[..8].try_into().expect("8")),
            count: u64::from_le_bytes(bytes[8..16].try_into().expect("8")),
            digest: bytes[16..].try_into().expect("32"),
        })
    }
}

/// Adds (or subtracts) SHA-256(key ‖ payload) to a 256-bit little-endian sum.
fn digest_step(sum: &mut [u8; 32], key: &[u8], payload: &[u8], add: bool) {
    let mut hasher = Sha256::new();
    hasher.update(key);
    hasher.update(payload);
    let term: [u8; 32] = hasher.finalize().into();
    let mut carry = 0u16;
    for i in 0..32 {
        if add {
            let v = u16::from(sum[i]) + u16::from(term[i]) + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        } else {
            let v = i16::from(sum[i]) - i16::from(term[i]) - carry as i16;
            sum[i] = v.rem_euclid(256) as u8;
            carry = u16::from(v < 0);
        }
    }
}

/// What the start check read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Records checked, all trees.
    pub records: u64,
    /// The label set.
    pub labels: LabelsVersion,
}

/// Durable node state. Every method is synchronous (sled is).
pub trait Store: Send + Sync + 'static {
    /// Writes a label, keeping `first_seen` of an existing one.
    fn put_label(&self, label: &Label) -> Result<PutOutcome>;
    /// Every label of an address.
    fn labels_for(&self, address: &Address) -> Result<Vec<Label>>;
    /// The labels of an address together with the version of the label set they were read
    /// from (consistent even while an ingest writes).
    fn labels_snapshot(&self, address: &Address) -> Result<(Vec<Label>, LabelsVersion)>;
    /// The current version of the label set.
    fn labels_version(&self) -> Result<LabelsVersion>;
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
    /// The nonce mark: the last unix second in which this store may have issued nonces (0 for
    /// none). See [`crate::nonce`].
    fn nonce_mark(&self) -> Result<u64>;
    /// Durably raises the nonce mark to `second` (flushed, and in the guard file, before it
    /// returns).
    fn raise_nonce_mark(&self, second: u64) -> Result<()>;
    /// Reserves `second` for this process's nonces before the first nonce of that second is
    /// issued, durably, and returns the 12-bit slot the nonces of that second carry
    /// ([`crate::nonce`]). A store of one process raises the nonce mark and keeps the
    /// process's random `process` bits; a store shared by replicas hands out a slot no other
    /// replica holds for that second.
    fn reserve_nonce_second(&self, second: u64, process: u64) -> Result<u64> {
        self.raise_nonce_mark(second)?;
        Ok(process)
    }
    /// False once a read found a record that fails its check: the node must stop signing.
    fn is_intact(&self) -> bool;
    /// Flushes every pending write to disk.
    fn flush(&self) -> Result<()>;
}

/// The sled implementation of [`Store`].
///
/// # The guard file
///
/// sled recovers a damaged log by keeping its longest valid prefix, silently: a store whose
/// files were overwritten can open as *empty*, and a truncated one can lose recent writes. So
/// next to the store (`<store>.guard`) the node keeps a small file, replaced atomically (write,
/// fsync, rename, fsync of the directory) on every [`Store::flush`], with what the store must at
/// least hold: the nonce mark, the label writes and digest, and the override changes. On open,
/// a store that is empty while the guard exists, or that is behind the guard in any of these, is
/// refused: the node fails closed instead of signing from a damaged store.
pub struct SledStore {
    db: sled::Db,
    labels: sled::Tree,
    overrides: sled::Tree,
    override_history: sled::Tree,
    meta: sled::Tree,
    guard: Option<PathBuf>,
    /// The label set's version, changed only under the write lock together with the label, so
    /// readers get labels and version from one state.
    labels_version: RwLock<LabelsVersion>,
    intact: AtomicBool,
}

const NONCE_MARK: &str = "nonce_mark";
const INITIALIZED: &str = "initialized";
const STORE_FORMAT: &str = "store_format";
/// The store format this code writes (1: values without checksums, before the audit files).
pub const FORMAT: u8 = 2;
const LABELS_VERSION_KEY: &[u8] = b"";

/// Contents of the guard file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Guard {
    /// 2 (format 1 guards had only `nonce_hwm`).
    #[serde(default)]
    format: u8,
    /// Format 1: the old nonce counter's high-water mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce_hwm: Option<u64>,
    #[serde(default)]
    nonce_mark: u64,
    #[serde(default)]
    label_writes: u64,
    #[serde(default)]
    labels_digest: String,
    #[serde(default)]
    override_changes: u64,
    /// CRC32C of the guard's JSON with this field 0.
    #[serde(default)]
    crc32c: u32,
}

impl Guard {
    fn checksum(&self) -> u32 {
        let mut copy = Guard {
            crc32c: 0,
            nonce_hwm: self.nonce_hwm,
            labels_digest: self.labels_digest.clone(),
            ..*self
        };
        copy.crc32c = 0;
        CRC32C.checksum(&serde_json::to_vec(&copy).unwrap_or_default())
    }
}

use crate::audit::format::CRC32C;

/// Stores `payload` under `key` of `tree` with its checksum.
pub(crate) fn wrap(tree: &str, key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(4 + payload.len());
    value.extend_from_slice(&record_crc(tree, key, payload).to_le_bytes());
    value.extend_from_slice(payload);
    value
}

fn record_crc(tree: &str, key: &[u8], payload: &[u8]) -> u32 {
    let mut digest = CRC32C.digest();
    digest.update(tree.as_bytes());
    digest.update(&[0]);
    digest.update(key);
    digest.update(payload);
    digest.finalize()
}

/// The payload of a stored value, after its check.
pub(crate) fn unwrap<'a>(tree: &str, key: &[u8], value: &'a [u8]) -> Result<&'a [u8]> {
    if value.len() < 4 {
        return Err(corrupt(tree, key, "shorter than its checksum"));
    }
    let (crc, payload) = value.split_at(4);
    if u32::from_le_bytes(crc.try_into().expect("4 bytes")) != record_crc(tree, key, payload) {
        return Err(corrupt(tree, key, "checksum does not match"));
    }
    Ok(payload)
}

fn corrupt(tree: &str, key: &[u8], what: &str) -> Error {
    Error::Corrupt(format!(
        "record {} of `{tree}`: {what}",
        hex::encode(&key[..key.len().min(40)])
    ))
}

impl SledStore {
    /// Opens (or creates) the store in `path`, upgrades a format-1 store, checks every record
    /// and the guard file. Any damage is refused with [`Error::Corrupt`] or [`Error::Store`].
    pub fn open(path: &Path) -> Result<SledStore> {
        let db = sled_open::open(path, "the store")?;
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".guard");
        let store = SledStore::from_db(db, Some(path.with_file_name(name)))?;
        store.check_format_and_guard()?;
        Ok(store)
    }

    /// A store in memory, for tests.
    pub fn temporary() -> Result<SledStore> {
        let store = SledStore::from_db(sled::Config::new().temporary(true).open()?, None)?;
        store.check_format_and_guard()?;
        Ok(store)
    }

    fn from_db(db: sled::Db, guard: Option<PathBuf>) -> Result<SledStore> {
        Ok(SledStore {
            labels: db.open_tree("labels")?,
            overrides: db.open_tree("overrides")?,
            override_history: db.open_tree("override_history")?,
            meta: db.open_tree("meta")?,
            db,
            guard,
            labels_version: RwLock::new(LabelsVersion::default()),
            intact: AtomicBool::new(true),
        })
    }

    /// Marks the store damaged when `result` is a failed check.
    fn checked<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(Error::Corrupt(what)) = &result {
            tracing::error!(%what, "store record failed its check: the node stops signing");
            self.intact.store(false, Ordering::Release);
        }
        result
    }

    fn get(&self, tree: &sled::Tree, name: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match tree.get(key)? {
            Some(value) => self.checked(unwrap(name, key, &value).map(|p| Some(p.to_vec()))),
            None => Ok(None),
        }
    }

    fn meta_u64(&self, name: &str) -> Result<u64> {
        match self.get(&self.meta, "meta", name.as_bytes())? {
            Some(bytes) => {
                Ok(u64::from_le_bytes(bytes.as_slice().try_into().map_err(
                    |_| corrupt("meta", name.as_bytes(), "not a u64"),
                )?))
            }
            None => Ok(0),
        }
    }

    /// The sled audit tree of a format-1 store: (seq, JSON bytes), for the migration.
    pub fn legacy_audit(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        if !self.db.tree_names().iter().any(|n| n.as_ref() == b"audit") {
            return Ok(Vec::new());
        }
        let tree = self.db.open_tree("audit")?;
        tree.iter()
            .map(|item| {
                let (key, value) = item?;
                let seq = u64::from_be_bytes(
                    key.as_ref()
                        .try_into()
                        .map_err(|_| corrupt("audit", &key, "key is not a seq"))?,
                );
                Ok((seq, value.to_vec()))
            })
            .collect()
    }

    /// Drops the sled audit tree after a migration, durably.
    pub fn drop_legacy_audit(&self) -> Result<()> {
        self.db.drop_tree("audit")?;
        self.db.flush()?;
        Ok(())
    }

    /// Upgrades a format-1 store, checks the guard, checks every record.
    fn check_format_and_guard(&self) -> Result<()> {
        let guard = self.read_guard()?;
        let raw_format = self.meta.get(STORE_FORMAT)?;
        let initialized = self.meta.get(INITIALIZED)?.is_some();
        if raw_format.is_none() {
            if guard.as_ref().is_some_and(|g| g.format >= 2) {
                return Err(Error::Corrupt(
                    "the store has no format record but its guard file shows format 2: the store lost data or was replaced".into(),
                ));
            }
            if initialized {
                if let Some(Guard {
                    nonce_hwm: Some(hwm),
                    ..
                }) = &guard
                {
                    let stored = self
                        .meta
                        .get("nonce_hwm")?
                        .and_then(|b| b.as_ref().try_into().ok().map(u64::from_be_bytes))
                        .unwrap_or(0);
                    if *hwm > stored {
                        return Err(Error::Store(
                            "the store lost durable writes (nonce mark below the guard's): refusing to start".into(),
                        ));
                    }
                }
                self.upgrade_format_1()?;
            } else if guard.is_some() {
                return Err(Error::Corrupt(
                    "the store is empty but its guard file shows it was in use: it is corrupt or was replaced. \
                     Restore the data dir from a backup, or move `store` and `store.guard` aside and ingest the lists again (the audit log is kept)".into(),
                ));
            } else {
                self.meta
                    .insert(INITIALIZED, wrap("meta", INITIALIZED.as_bytes(), b"1"))?;
            }
            self.meta.insert(
                STORE_FORMAT,
                wrap("meta", STORE_FORMAT.as_bytes(), &[FORMAT]),
            )?;
            self.flush()?;
        }
        if self.guard.is_some()
            && raw_format.is_some()
            && guard.as_ref().is_none_or(|g| g.format != FORMAT)
        {
            // A format-2 store always has a format-2 guard: anything else is a damaged or
            // deleted guard, and without it a store that lost writes cannot be told apart.
            return Err(Error::Corrupt(
                "the guard file is missing or damaged: restore it with the data dir it belongs to, \
                 or move `store` and `store.guard` aside and ingest the lists again (the audit log is kept)".into(),
            ));
        }
        let format = self.get(&self.meta, "meta", STORE_FORMAT.as_bytes())?;
        if format.as_deref() != Some(&[FORMAT][..]) {
            return Err(Error::Corrupt(format!(
                "unknown store format {format:?}: written by a newer node?"
            )));
        }
        let report = self.verify_integrity()?;
        *self
            .labels_version
            .write()
            .map_err(|_| Error::Store("lock poisoned".into()))? = report.labels;
        if let Some(guard) = guard.filter(|g| g.format >= 2) {
            self.check_against_guard(&guard, &report)?;
        }
        self.flush()
    }

    fn check_against_guard(&self, guard: &Guard, report: &IntegrityReport) -> Result<()> {
        let lost = |what: &str| {
            Error::Corrupt(format!(
                "the store lost durable writes ({what} is behind its guard file): it was truncated, \
                 restored from an older backup, or lost its tail in a power failure. Restore the data dir that belongs to the guard, \
                 or move `store` and `store.guard` aside and ingest the lists again (the audit log is kept)"
            ))
        };
        if self.nonce_mark()? < guard.nonce_mark {
            return Err(lost("the nonce mark"));
        }
        if report.labels.writes < guard.label_writes {
            return Err(lost("the label set"));
        }
        if report.labels.writes == guard.label_writes
            && hex::encode(report.labels.digest) != guard.labels_digest
        {
            return Err(Error::Corrupt(
                "the label set's digest differs from its guard file's at the same write count: the store was altered".into(),
            ));
        }
        if (self.override_history.len() as u64) < guard.override_changes {
            return Err(lost("the override history"));
        }
        Ok(())
    }

    /// Rewrites a format-1 store's values with checksums and computes the label digest.
    fn upgrade_format_1(&self) -> Result<()> {
        tracing::warn!("upgrading the store to format {FORMAT} (a checksum on every record)");
        for (name, tree) in [
            ("overrides", &self.overrides),
            ("override_history", &self.override_history),
        ] {
            for item in tree.iter() {
                let (key, value) = item?;
                tree.insert(&key, wrap(name, &key, &value))?;
            }
        }
        let mut version = LabelsVersion::default();
        for item in self.labels.iter() {
            let (key, value) = item?;
            self.labels.insert(&key, wrap("labels", &key, &value))?;
            digest_step(&mut version.digest, &key, &value, true);
            version.count += 1;
        }
        version.writes = version.count;
        self.labels.insert(
            LABELS_VERSION_KEY,
            wrap("labels", LABELS_VERSION_KEY, &version.encode()),
        )?;
        for item in self.meta.iter() {
            let (key, value) = item?;
            match key.as_ref() {
                // The old counter's mark and generation mean nothing in format 2 (nonces are
                // time-prefixed above every old counter value; labels have a digest).
                b"nonce_hwm" | b"labels_generation" => {
                    self.meta.remove(&key)?;
                }
                _ => {
                    self.meta.insert(&key, wrap("meta", &key, &value))?;
                }
            }
        }
        Ok(())
    }

    /// Checks every record of every tree and recomputes the label set's version; the first
    /// failure is [`Error::Corrupt`].
    pub fn verify_integrity(&self) -> Result<IntegrityReport> {
        let mut report = IntegrityReport::default();
        let mut stored_version = None;
        for item in self.labels.iter() {
            let (key, value) = item?;
            let payload = self.checked(unwrap("labels", &key, &value))?;
            report.records += 1;
            if key.as_ref() == LABELS_VERSION_KEY {
                stored_version = Some(LabelsVersion::decode(payload)?);
                continue;
            }
            self.checked(decode_label(&key, payload))?;
            digest_step(&mut report.labels.digest, &key, payload, true);
            report.labels.count += 1;
        }
        let stored = stored_version.unwrap_or_default();
        if stored.count != report.labels.count || stored.digest != report.labels.digest {
            return self.checked(Err(Error::Corrupt(format!(
                "the label set does not match its recorded version ({} labels found, {} recorded): labels were lost or altered",
                report.labels.count, stored.count
            ))));
        }
        report.labels.writes = stored.writes;
        for item in self.overrides.iter() {
            let (key, value) = item?;
            let payload = self.checked(unwrap("overrides", &key, &value))?;
            serde_json::from_slice::<Override>(payload)
                .map_err(|_| corrupt("overrides", &key, "not an override"))?;
            report.records += 1;
        }
        for item in self.override_history.iter() {
            let (key, value) = item?;
            let payload = self.checked(unwrap("override_history", &key, &value))?;
            serde_json::from_slice::<OverrideChange>(payload)
                .map_err(|_| corrupt("override_history", &key, "not a change"))?;
            report.records += 1;
        }
        for item in self.meta.iter() {
            let (key, value) = item?;
            self.checked(unwrap("meta", &key, &value))?;
            report.records += 1;
        }
        Ok(report)
    }

    fn read_guard(&self) -> Result<Option<Guard>> {
        let Some(path) = &self.guard else {
            return Ok(None);
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let guard: Guard = serde_json::from_slice(&bytes)
                    .map_err(|_| Error::Corrupt("the guard file is unreadable".into()))?;
                if guard.format >= 2 && guard.checksum() != guard.crc32c {
                    return Err(Error::Corrupt(
                        "the guard file's checksum does not match (it was altered)".into(),
                    ));
                }
                Ok(Some(guard))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::Store(format!("cannot read the guard file: {err}"))),
        }
    }

    /// Atomically replaces the guard file with what the store holds now.
    fn write_guard(&self) -> Result<()> {
        let Some(path) = &self.guard else {
            return Ok(());
        };
        let version = self.labels_version()?;
        let mut guard = Guard {
            format: FORMAT,
            nonce_hwm: None,
            nonce_mark: self.nonce_mark()?,
            label_writes: version.writes,
            labels_digest: hex::encode(version.digest),
            override_changes: self.override_history.len() as u64,
            crc32c: 0,
        };
        guard.crc32c = guard.checksum();
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("store.guard");
        crate::audit::anchor::write_atomically(dir, name, &to_json(&guard)?)
            .map_err(|err| Error::Store(format!("cannot write the guard file: {err}")))
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
        .ok_or_else(|| corrupt("labels", key, "address key"))?;
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

fn decode_label(key: &[u8], payload: &[u8]) -> Result<Label> {
    let address = address_from_key(key)?;
    let rest = &key[33..];
    if rest.len() < 5 || rest[rest.len() - 5] != 0 {
        return Err(corrupt("labels", key, "label key"));
    }
    let source = std::str::from_utf8(&rest[..rest.len() - 5])
        .map_err(|_| corrupt("labels", key, "label source"))?;
    let bits = u32::from_be_bytes(
        rest[rest.len() - 4..]
            .try_into()
            .map_err(|_| corrupt("labels", key, "label key"))?,
    );
    let value: LabelValue =
        serde_json::from_slice(payload).map_err(|_| corrupt("labels", key, "label value"))?;
    Ok(Label {
        address,
        categories: Categories(bits),
        source: source.to_string(),
        name: value.name,
        first_seen: value.first_seen,
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|err| Error::Store(format!("encode: {err}")))
}

impl SledStore {
    fn read_labels(&self, address: &Address) -> Result<Vec<Label>> {
        self.labels
            .scan_prefix(address_key(address))
            .map(|item| {
                let (key, value) = item?;
                self.checked(unwrap("labels", &key, &value).and_then(|p| decode_label(&key, p)))
            })
            .collect()
    }
}

impl Store for SledStore {
    fn put_label(&self, label: &Label) -> Result<PutOutcome> {
        if label.source.as_bytes().contains(&0) {
            return Err(Error::InvalidRequest(
                "label source must not contain NUL".into(),
            ));
        }
        let key = label_key(label);
        // Under the write lock: the label and the set's version change together.
        let mut version = self
            .labels_version
            .write()
            .map_err(|_| Error::Store("lock poisoned".into()))?;
        let existing = self.get(&self.labels, "labels", &key)?;
        let old = match &existing {
            Some(payload) => Some(
                serde_json::from_slice::<LabelValue>(payload)
                    .map_err(|_| corrupt("labels", &key, "label value"))?,
            ),
            None => None,
        };
        let (outcome, first_seen) = match &old {
            None => (PutOutcome::Added, label.first_seen),
            Some(old) if old.name == label.name => return Ok(PutOutcome::Unchanged),
            Some(old) => (PutOutcome::Changed, old.first_seen),
        };
        let payload = to_json(&LabelValue {
            name: label.name.clone(),
            first_seen,
        })?;
        let mut next = *version;
        if let Some(previous) = &existing {
            digest_step(&mut next.digest, &key, previous, false);
        } else {
            next.count += 1;
        }
        digest_step(&mut next.digest, &key, &payload, true);
        next.writes += 1;
        let mut batch = sled::Batch::default();
        batch.insert(key.as_slice(), wrap("labels", &key, &payload));
        batch.insert(
            LABELS_VERSION_KEY,
            wrap("labels", LABELS_VERSION_KEY, &next.encode()),
        );
        // Atomic: after a crash sled recovers both or neither, so the version always names the
        // labels that are there (an interrupted ingest included).
        self.labels.apply_batch(batch)?;
        *version = next;
        Ok(outcome)
    }

    fn labels_for(&self, address: &Address) -> Result<Vec<Label>> {
        self.read_labels(address)
    }

    fn labels_snapshot(&self, address: &Address) -> Result<(Vec<Label>, LabelsVersion)> {
        let version = self
            .labels_version
            .read()
            .map_err(|_| Error::Store("lock poisoned".into()))?;
        Ok((self.read_labels(address)?, *version))
    }

    fn labels_version(&self) -> Result<LabelsVersion> {
        Ok(*self
            .labels_version
            .read()
            .map_err(|_| Error::Store("lock poisoned".into()))?)
    }

    fn label_counts(&self) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        for item in self.labels.iter() {
            let (key, value) = item?;
            if key.as_ref() == LABELS_VERSION_KEY {
                continue;
            }
            let label =
                self.checked(unwrap("labels", &key, &value).and_then(|p| decode_label(&key, p)))?;
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
        let id = self.db.generate_id()?.to_be_bytes();
        self.override_history
            .insert(id, wrap("override_history", &id, &to_json(&change)?))?;
        let key = address_key(&item.address);
        self.overrides
            .insert(key, wrap("overrides", &key, &to_json(item)?))?;
        // Overrides change judgements: make them durable before the admin is told they apply.
        self.flush()
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
        let id = self.db.generate_id()?.to_be_bytes();
        self.override_history
            .insert(id, wrap("override_history", &id, &to_json(&change)?))?;
        self.overrides.remove(address_key(address))?;
        self.flush()?;
        Ok(true)
    }

    fn override_for(&self, address: &Address) -> Result<Option<Override>> {
        let key = address_key(address);
        match self.get(&self.overrides, "overrides", &key)? {
            Some(payload) => Ok(Some(
                self.checked(
                    serde_json::from_slice(&payload)
                        .map_err(|_| corrupt("overrides", &key, "not an override")),
                )?,
            )),
            None => Ok(None),
        }
    }

    fn overrides(&self) -> Result<Vec<Override>> {
        self.overrides
            .iter()
            .map(|item| {
                let (key, value) = item?;
                self.checked(unwrap("overrides", &key, &value).and_then(|p| {
                    serde_json::from_slice(p)
                        .map_err(|_| corrupt("overrides", &key, "not an override"))
                }))
            })
            .collect()
    }

    fn meta_get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.get(&self.meta, "meta", name.as_bytes())
    }

    fn meta_put(&self, name: &str, value: &[u8]) -> Result<()> {
        self.meta
            .insert(name, wrap("meta", name.as_bytes(), value))?;
        Ok(())
    }

    fn nonce_mark(&self) -> Result<u64> {
        self.meta_u64(NONCE_MARK)
    }

    fn raise_nonce_mark(&self, second: u64) -> Result<()> {
        // Compare-and-swap so that the mark only ever grows, even with two allocators.
        loop {
            let current = self.meta.get(NONCE_MARK)?;
            let value = match &current {
                Some(v) => u64::from_le_bytes(
                    self.checked(unwrap("meta", NONCE_MARK.as_bytes(), v))?
                        .try_into()
                        .map_err(|_| corrupt("meta", NONCE_MARK.as_bytes(), "not a u64"))?,
                ),
                None => 0,
            };
            if value >= second {
                return Ok(());
            }
            let new = wrap("meta", NONCE_MARK.as_bytes(), &second.to_le_bytes());
            if self
                .meta
                .compare_and_swap(NONCE_MARK, current, Some(new))?
                .is_ok()
            {
                // The mark must be on disk (store and guard) before a nonce of that second is used.
                return self.flush();
            }
        }
    }

    fn is_intact(&self) -> bool {
        self.intact.load(Ordering::Acquire)
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        self.write_guard()
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
    fn the_label_digest_names_the_content_not_the_history() {
        let a = SledStore::temporary().unwrap();
        let b = SledStore::temporary().unwrap();
        let other = Label {
            address: Address::new(0, [8; 32]),
            ..label("x")
        };
        // Same content reached in another order and through a rename: same count and digest.
        a.put_label(&label("a")).unwrap();
        a.put_label(&other).unwrap();
        b.put_label(&other).unwrap();
        b.put_label(&label("old")).unwrap();
        b.put_label(&label("a")).unwrap();
        let (va, vb) = (a.labels_version().unwrap(), b.labels_version().unwrap());
        assert_eq!((va.count, va.digest), (vb.count, vb.digest));
        assert_ne!(va.writes, vb.writes);
        // The start check recomputes the same digest.
        assert_eq!(b.verify_integrity().unwrap().labels.digest, vb.digest);
        assert_ne!(va.digest, LabelsVersion::default().digest);
    }

    #[test]
    fn digest_steps_cancel() {
        let mut sum = [0xffu8; 32];
        digest_step(&mut sum, b"k", b"v", true);
        digest_step(&mut sum, b"k", b"v", false);
        assert_eq!(sum, [0xff; 32]);
    }

    #[test]
    fn the_nonce_mark_only_grows_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.raise_nonce_mark(100).unwrap();
            store.raise_nonce_mark(50).unwrap();
            assert_eq!(store.nonce_mark().unwrap(), 100);
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.nonce_mark().unwrap(), 100);
    }

    #[test]
    fn a_store_that_lost_its_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = SledStore::open(&path).unwrap();
            store.raise_nonce_mark(10).unwrap();
        }
        SledStore::open(&path).unwrap();
        // Replace the store with an empty one: the guard notices.
        std::fs::remove_dir_all(&path).unwrap();
        let err = SledStore::open(&path).err().expect("refused");
        assert!(err.to_string().contains("guard file"), "{err}");
    }

    #[test]
    fn a_flipped_byte_in_any_record_is_refused_at_open_and_on_read() {
        let store = SledStore::temporary().unwrap();
        store.put_label(&label("a")).unwrap();
        let key = label_key(&label("a"));
        let mut value = store.labels.get(&key).unwrap().unwrap().to_vec();
        let last = value.len() - 1;
        value[last] ^= 1;
        store.labels.insert(&key, value).unwrap();
        assert!(matches!(
            store.labels_for(&Address::new(0, [7; 32])),
            Err(Error::Corrupt(_))
        ));
        assert!(!store.is_intact());
        assert!(matches!(store.verify_integrity(), Err(Error::Corrupt(_))));
    }

    #[test]
    fn a_format_1_store_is_upgraded_with_its_labels_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            // What the node before format 2 wrote: plain JSON values, a raw nonce mark.
            let db = sled::open(&path).unwrap();
            let labels = db.open_tree("labels").unwrap();
            labels
                .insert(
                    label_key(&label("a")),
                    serde_json::to_vec(&LabelValue {
                        name: "a".into(),
                        first_seen: 10,
                    })
                    .unwrap(),
                )
                .unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert(INITIALIZED, &b"1"[..]).unwrap();
            meta.insert("nonce_hwm", &4096u64.to_be_bytes()[..])
                .unwrap();
            meta.insert("default_data_loaded", &b"1"[..]).unwrap();
            db.flush().unwrap();
        }
        std::fs::write(path.with_file_name("store.guard"), br#"{"nonce_hwm":4096}"#).unwrap();
        let store = SledStore::open(&path).unwrap();
        assert_eq!(
            store.labels_for(&Address::new(0, [7; 32])).unwrap().len(),
            1
        );
        assert_eq!(store.labels_version().unwrap().count, 1);
        assert_eq!(
            store.meta_get("default_data_loaded").unwrap(),
            Some(b"1".to_vec())
        );
        drop(store);
        SledStore::open(&path).unwrap();
    }
}
