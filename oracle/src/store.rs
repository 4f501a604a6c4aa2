//! Durable state behind one small trait: labels, overrides and the nonce mark. (The audit log
//! has files of its own: [`crate::audit`].)
//!
//! [`Store`] is what the rest of the node uses; [`SledStore`] is the embedded implementation,
//! [`postgres::PgStore`] the one replicas share (DESIGN.md); `tests/conformance.rs` runs one
//! suite against both.
//!
//! # Layout in sled (store format 3)
//!
//! | tree | key | payload |
//! |---|---|---|
//! | `address_labels` | address (33 bytes: workchain, hash) | every label of the address, [`encode_address_labels`] |
//! | `address_labels` | empty key | the label set's version: writes (u64 LE) ‖ count (u64 LE) ‖ digest (32) |
//! | `overrides` | address (33 bytes) | JSON [`Override`] |
//! | `override_history` | seq (u64 BE) | JSON [`OverrideChange`] |
//! | `meta` | name | `nonce_mark`: u64 LE; `store_format`; `initialized`; `default_data_loaded` |
//!
//! All labels of an address live under one key, so a judgement is one sled get and no JSON
//! (issue 10). Format 2 kept one record per label in the `labels` tree, keyed
//! [`label_key`]; a format-2 store is migrated on first start ([`SledStore::open`]): the new
//! tree is rebuilt from the old one (which stays untouched until the switch), the label set's
//! version is checked to be the same, the format record switches in one write, and only then is
//! the old tree dropped. A start interrupted anywhere redoes the rebuild from the intact old
//! tree; damage in the old tree is refused and leaves it as it was.
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
//! The label set has a content digest: the sum, modulo 2^256, of SHA-256([`label_key`] ‖ JSON
//! [`LabelValue`]) over every label (an order-independent sum, so a label write updates it
//! without reading the others). The terms are per label whatever the layout, so the digest of a
//! label set is the same in format 2, format 3 and PostgreSQL (whose rows are per label).
//! It is written in the same atomic sled batch as the label it accounts for, so
//! after a crash — an interrupted ingest too — the stored digest names exactly the labels that
//! are there, and the start check recomputes it. Each judgement records it
//! ([`LabelsVersion`], in `policy_version`). The sum detects damage and names data; it is not
//! meant to resist someone who chooses labels to forge a collision.

use std::collections::{BTreeMap, HashMap, HashSet};
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
        let mut text = String::with_capacity(LabelsVersion::TEXT_MAX);
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

impl LabelsVersion {
    /// Longest text form: `labels-`, 20 digits, `-` and 64 hex digits.
    pub const TEXT_MAX: usize = 92;

    /// Appends the text form to `out` without the formatting machinery (every signature's
    /// audit record carries it).
    pub fn push_to(&self, out: &mut String) {
        let mut hex = [0u8; 64];
        hex::encode_to_slice(self.digest, &mut hex).expect("32 bytes are 64 hex digits");
        out.push_str("labels-");
        // Writing to a String cannot fail.
        let _ = std::fmt::Write::write_fmt(out, format_args!("{}", self.count));
        out.push('-');
        out.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
    }

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

/// Longest label source a record can frame (its length is a u16).
pub const MAX_SOURCE_BYTES: usize = u16::MAX as usize;

/// Refuses a label no store can key: a NUL in the source (it ends the source in a
/// [`label_key`]) or a source longer than [`MAX_SOURCE_BYTES`].
pub(crate) fn check_label(label: &Label) -> Result<()> {
    if label.source.as_bytes().contains(&0) {
        return Err(Error::InvalidRequest(
            "label source must not contain NUL".into(),
        ));
    }
    if label.source.len() > MAX_SOURCE_BYTES {
        return Err(Error::InvalidRequest(format!(
            "label source is {} bytes, at most {MAX_SOURCE_BYTES}",
            label.source.len()
        )));
    }
    Ok(())
}

/// A label write to apply: what it does, the label's value to store, and the set's version after.
#[derive(Debug)]
pub(crate) struct LabelWrite {
    pub outcome: PutOutcome,
    pub value: LabelValue,
    pub next: LabelsVersion,
}

/// The one rule of label writes, for every store: writing `label` where its key holds
/// `existing` changes nothing when the name is the same (`None`), keeps `first_seen` of an
/// existing label, and moves the set's version by one write and the digest by the label's
/// terms (the old one out, the new one in).
pub(crate) fn label_write(
    label: &Label,
    existing: Option<&LabelValue>,
    version: &LabelsVersion,
) -> Result<Option<LabelWrite>> {
    check_label(label)?;
    let key = label_key(label);
    let (outcome, first_seen) = match existing {
        None => (PutOutcome::Added, label.first_seen),
        Some(old) if old.name == label.name => return Ok(None),
        Some(old) => (PutOutcome::Changed, old.first_seen),
    };
    let value = LabelValue {
        name: label.name.clone(),
        first_seen,
    };
    let mut next = *version;
    match existing {
        Some(old) => digest_step(&mut next.digest, &key, &to_json(old)?, false),
        None => next.count += 1,
    }
    digest_step(&mut next.digest, &key, &to_json(&value)?, true);
    next.writes += 1;
    Ok(Some(LabelWrite {
        outcome,
        value,
        next,
    }))
}

/// Adds (or subtracts) a stored label's term, SHA-256(key ‖ JSON value), to a label set's digest.
fn label_term(digest: &mut [u8; 32], label: &Label, add: bool) -> Result<()> {
    let value = LabelValue {
        name: label.name.clone(),
        first_seen: label.first_seen,
    };
    digest_step(digest, &label_key(label), &to_json(&value)?, add);
    Ok(())
}

/// The label set's version after `removed` (labels as stored) leave it: one write, the count
/// down by their number, their terms out of the digest. The removal counterpart of
/// [`label_write`], for every store.
pub(crate) fn label_removal(removed: &[Label], version: &LabelsVersion) -> Result<LabelsVersion> {
    let mut next = *version;
    for label in removed {
        label_term(&mut next.digest, label, false)?;
        next.count = next.count.saturating_sub(1);
    }
    next.writes += 1;
    Ok(next)
}

/// Recomputes a label set's count and digest from its labels and checks them against the
/// version stored with them; the stored version (with its write count) when they agree.
pub(crate) struct LabelSetCheck {
    found: LabelsVersion,
}

impl LabelSetCheck {
    pub(crate) fn new() -> Self {
        LabelSetCheck {
            found: LabelsVersion::default(),
        }
    }

    /// Accounts for one label.
    pub(crate) fn add(&mut self, label: &Label) -> Result<()> {
        label_term(&mut self.found.digest, label, true)?;
        self.found.count += 1;
        Ok(())
    }

    /// The stored version, if the labels seen are exactly the ones it names.
    pub(crate) fn finish(self, stored: Option<LabelsVersion>) -> Result<LabelsVersion> {
        let stored = stored.unwrap_or_default();
        if stored.count != self.found.count || stored.digest != self.found.digest {
            return Err(Error::Corrupt(format!(
                "the label set does not match its recorded version ({} labels found, {} recorded): labels were lost or altered",
                self.found.count, stored.count
            )));
        }
        Ok(stored)
    }
}

impl OverrideChange {
    /// The change that sets `item`.
    pub(crate) fn set(item: &Override) -> Self {
        OverrideChange {
            at: item.created_at,
            change: "set".into(),
            address: item.address,
            overrides: Some(item.clone()),
            author: item.author.clone(),
        }
    }

    /// The change that removes `old`, by `author` at `now`.
    pub(crate) fn removal(old: Override, author: &str, now: u64) -> Self {
        OverrideChange {
            at: now,
            change: "remove".into(),
            address: old.address,
            overrides: Some(old),
            author: author.into(),
        }
    }
}

/// An override record's payload.
pub(crate) fn decode_override(key: &[u8], payload: &[u8]) -> Result<Override> {
    serde_json::from_slice(payload).map_err(|_| corrupt("overrides", key, "not an override"))
}

/// An override-history record's payload.
pub(crate) fn decode_override_change(key: &[u8], payload: &[u8]) -> Result<OverrideChange> {
    serde_json::from_slice(payload).map_err(|_| corrupt("override_history", key, "not a change"))
}

/// The payload of an address's record in `address_labels`: its labels in key order (source,
/// then categories), each as source length (u16 LE) ‖ source ‖ categories (u32 LE) ‖
/// first_seen (u64 LE) ‖ name length (u32 LE) ‖ name. Binary and flat, so a lookup decodes it
/// without a JSON parser; `labels` must be sorted and of one address.
pub fn encode_address_labels(labels: &[Label]) -> Vec<u8> {
    let size = labels
        .iter()
        .map(|l| 18 + l.source.len() + l.name.len())
        .sum();
    let mut out = Vec::with_capacity(size);
    for label in labels {
        out.extend_from_slice(&(label.source.len() as u16).to_le_bytes());
        out.extend_from_slice(label.source.as_bytes());
        out.extend_from_slice(&label.categories.0.to_le_bytes());
        out.extend_from_slice(&label.first_seen.to_le_bytes());
        out.extend_from_slice(&(label.name.len() as u32).to_le_bytes());
        out.extend_from_slice(label.name.as_bytes());
    }
    out
}

/// Reads an address record written by [`encode_address_labels`]; anything else (truncated,
/// trailing bytes, not UTF-8, out of order, duplicated, empty) is [`Error::Corrupt`].
pub fn decode_address_labels(key: &[u8], payload: &[u8]) -> Result<Vec<Label>> {
    const TREE: &str = "address_labels";
    if key.len() != 33 {
        return Err(corrupt(TREE, key, "key is not an address"));
    }
    let address = address_from_key(key)?;
    let bad = |what: &str| corrupt(TREE, key, what);
    if payload.is_empty() {
        return Err(bad("record holds no label"));
    }
    let mut rest = payload;
    let mut take = |n: usize| -> Result<&[u8]> {
        if rest.len() < n {
            return Err(bad("record is truncated"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let mut labels: Vec<Label> = Vec::new();
    let mut offset = 0;
    while offset < payload.len() {
        let source_len = u16::from_le_bytes(take(2)?.try_into().expect("2")) as usize;
        let source = std::str::from_utf8(take(source_len)?)
            .map_err(|_| bad("label source is not UTF-8"))?
            .to_string();
        if source.as_bytes().contains(&0) {
            return Err(bad("label source holds NUL"));
        }
        let categories = Categories(u32::from_le_bytes(take(4)?.try_into().expect("4")));
        let first_seen = u64::from_le_bytes(take(8)?.try_into().expect("8"));
        let name_len = u32::from_le_bytes(take(4)?.try_into().expect("4")) as usize;
        let name = std::str::from_utf8(take(name_len)?)
            .map_err(|_| bad("label name is not UTF-8"))?
            .to_string();
        offset += 18 + source_len + name_len;
        let label = Label {
            address,
            categories,
            source,
            name,
            first_seen,
        };
        if labels
            .last()
            .is_some_and(|previous| label_order(previous) >= label_order(&label))
        {
            return Err(bad("labels out of order or repeated"));
        }
        labels.push(label);
    }
    Ok(labels)
}

/// Adds a label's categories to per-category counts (`none` for a label without one).
pub(crate) fn count_categories(counts: &mut BTreeMap<String, u64>, categories: Categories) {
    let names = categories.names();
    if names.is_empty() {
        *counts.entry("none".to_string()).or_default() += 1;
    }
    for name in names {
        *counts.entry(name.to_string()).or_default() += 1;
    }
}

/// The order of an address's labels: that of their format-2 keys.
fn label_order(label: &Label) -> (&str, u32) {
    (label.source.as_str(), label.categories.0)
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
    /// Removes every label `source` gave `address` (whatever its categories), atomically with
    /// the label set's version; how many were removed. Like [`Store::put_label`], not flushed
    /// (an ingest flushes once at its end). A source that retracts a
    /// statement (the USDT issuer unlocking a wallet) retracts it here.
    fn remove_labels(&self, address: &Address, source: &str) -> Result<u64>;
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
    /// `address_labels`: one record per address (format 3).
    labels: sled::Tree,
    overrides: sled::Tree,
    override_history: sled::Tree,
    meta: sled::Tree,
    guard: Option<PathBuf>,
    /// The label set in memory: its version and every address record's checked payload. Loaded
    /// from the records the start check read and changed, under the write lock, with every
    /// sled write of a label, so readers get labels and version from one state and a judgement
    /// reads no sled page (a sled get was ~60 % of screening's CPU, 2026-12-03). One process
    /// opens a sled store, so nothing else writes the tree; damage to the files after the start
    /// check is found by the next start (and by [`Store::label_counts`], which reads sled).
    label_set: RwLock<LabelSet>,
    /// The addresses that have an override, read from the checked `overrides` tree when the
    /// store opens and kept with every change. Overrides are few and almost every judgement's
    /// address has none: this answers "none" without a second sled read per judgement (one
    /// process opens a sled store, so nothing else writes the tree).
    override_keys: RwLock<HashSet<Address>>,
    intact: AtomicBool,
}

/// The sled store's label set in memory (see [`SledStore`]).
#[derive(Default)]
struct LabelSet {
    version: LabelsVersion,
    /// An address's record as [`encode_address_labels`] wrote it (checksum stripped): a flat
    /// copy, smaller than the decoded labels (≈ 180 B of RSS an address with one label,
    /// measured with 1M labels).
    records: HashMap<Address, Box<[u8]>>,
}

impl LabelSet {
    /// The labels of `address`.
    fn labels(&self, address: &Address) -> Result<Vec<Label>> {
        match self.records.get(address) {
            Some(payload) => decode_address_labels(&address_key(address), payload),
            None => Ok(Vec::new()),
        }
    }
}

const NONCE_MARK: &str = "nonce_mark";
const INITIALIZED: &str = "initialized";
pub(crate) const STORE_FORMAT: &str = "store_format";
/// The sled store format this code writes (1: values without checksums, before the audit
/// files; 2: one record per label in `labels`; 3: one record per address in `address_labels`).
pub const FORMAT: u8 = 3;
/// The format with one record per label: sled's format 2 (migrated from on first start), and
/// the PostgreSQL store's rows.
pub const PER_LABEL_FORMAT: u8 = 2;
const LABELS_VERSION_KEY: &[u8] = b"";
/// The tree of format 3's address records.
pub(crate) const ADDRESS_LABELS: &str = "address_labels";
/// The tree of format 2's per-label records.
const LEGACY_LABELS: &str = "labels";
/// Present in `meta` while a format 2 → 3 migration runs (a start that finds it redoes it).
const MIGRATING: &str = "migrating_labels";

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
            labels: db.open_tree(ADDRESS_LABELS)?,
            overrides: db.open_tree("overrides")?,
            override_history: db.open_tree("override_history")?,
            meta: db.open_tree("meta")?,
            db,
            guard,
            label_set: RwLock::new(LabelSet::default()),
            override_keys: RwLock::new(HashSet::new()),
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
            // An upgraded format-1 store holds per-label records: it migrates below.
            let format = if initialized {
                PER_LABEL_FORMAT
            } else {
                FORMAT
            };
            self.meta.insert(
                STORE_FORMAT,
                wrap("meta", STORE_FORMAT.as_bytes(), &[format]),
            )?;
            self.flush()?;
        }
        if self.guard.is_some()
            && raw_format.is_some()
            && guard
                .as_ref()
                .is_none_or(|g| g.format < PER_LABEL_FORMAT || g.format > FORMAT)
        {
            // A format-2 store always has a format-2 guard: anything else is a damaged or
            // deleted guard, and without it a store that lost writes cannot be told apart.
            return Err(Error::Corrupt(
                "the guard file is missing or damaged: restore it with the data dir it belongs to, \
                 or move `store` and `store.guard` aside and ingest the lists again (the audit log is kept)".into(),
            ));
        }
        let format = self.get(&self.meta, "meta", STORE_FORMAT.as_bytes())?;
        match format.as_deref() {
            Some([PER_LABEL_FORMAT]) => self.migrate_to_address_records()?,
            Some([FORMAT]) => {}
            _ => {
                return Err(Error::Corrupt(format!(
                    "unknown store format {format:?}: written by a newer node?"
                )))
            }
        }
        // The last step of a migration: a start interrupted before it finishes it here.
        if self.has_tree(LEGACY_LABELS) {
            self.db.drop_tree(LEGACY_LABELS)?;
            self.db.flush()?;
        }
        let mut records = HashMap::new();
        let report = self.check_records(Some(&mut records))?;
        *self.label_set_mut()? = LabelSet {
            version: report.labels,
            records,
        };
        let keys = self
            .overrides
            .iter()
            .keys()
            .map(|key| address_from_key(&key?))
            .collect::<Result<HashSet<Address>>>()?;
        *self
            .override_keys
            .write()
            .map_err(|_| Error::Store("lock poisoned".into()))? = keys;
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

    fn has_tree(&self, name: &str) -> bool {
        self.db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == name.as_bytes())
    }

    /// Format 2 → 3: rebuilds `address_labels` from the per-label `labels` tree, checks that
    /// the rebuilt set has the old set's version, then switches the format record (one sled
    /// write). The old tree is read only, so a start interrupted before the switch finds it
    /// intact and rebuilds again; the caller drops it after the switch. A damaged old record is
    /// refused and nothing changes.
    fn migrate_to_address_records(&self) -> Result<()> {
        let resumed = self.meta.get(MIGRATING)?.is_some();
        tracing::warn!(
            resumed,
            "migrating the labels to one record per address (store format {FORMAT})"
        );
        self.meta
            .insert(MIGRATING, wrap("meta", MIGRATING.as_bytes(), b"1"))?;
        self.db.flush()?;
        // What an interrupted run wrote is discarded: the old tree is the source.
        self.labels.clear()?;
        let legacy = self.db.open_tree(LEGACY_LABELS)?;
        let mut stored = None;
        let mut check = LabelSetCheck::new();
        let mut group: Vec<Label> = Vec::new();
        let mut batch = sled::Batch::default();
        let mut batched = 0usize;
        let flush_group = |group: &mut Vec<Label>, batch: &mut sled::Batch| {
            if let Some(first) = group.first() {
                let key = address_key(&first.address);
                group.sort_by(|a, b| label_order(a).cmp(&label_order(b)));
                batch.insert(
                    &key[..],
                    wrap(ADDRESS_LABELS, &key, &encode_address_labels(group)),
                );
                group.clear();
            }
        };
        for item in legacy.iter() {
            let (key, value) = item?;
            let payload = self.checked(unwrap("labels", &key, &value))?;
            if key.as_ref() == LABELS_VERSION_KEY {
                stored = Some(self.checked(LabelsVersion::decode(payload))?);
                continue;
            }
            let label = self.checked(decode_label(&key, payload))?;
            // The digest's term is the canonical JSON of the value; a format-2 record holds
            // exactly that (every writer used `to_json`), which the version check confirms.
            check.add(&label)?;
            if group.first().is_some_and(|g| g.address != label.address) {
                flush_group(&mut group, &mut batch);
                batched += 1;
                if batched >= 10_000 {
                    self.labels.apply_batch(std::mem::take(&mut batch))?;
                    batched = 0;
                }
            }
            group.push(label);
        }
        flush_group(&mut group, &mut batch);
        self.labels.apply_batch(batch)?;
        let version = self.checked(check.finish(stored))?;
        self.labels.insert(
            LABELS_VERSION_KEY,
            wrap(ADDRESS_LABELS, LABELS_VERSION_KEY, &version.encode()),
        )?;
        self.db.flush()?;
        // The switch: format 3 and the end of the migration in one atomic write.
        let mut switch = sled::Batch::default();
        switch.insert(
            STORE_FORMAT,
            wrap("meta", STORE_FORMAT.as_bytes(), &[FORMAT]),
        );
        switch.remove(MIGRATING);
        self.meta.apply_batch(switch)?;
        self.db.flush()?;
        tracing::warn!(labels = version.count, "labels migrated");
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
        let legacy = self.db.open_tree(LEGACY_LABELS)?;
        let mut version = LabelsVersion::default();
        for item in legacy.iter() {
            let (key, value) = item?;
            legacy.insert(&key, wrap("labels", &key, &value))?;
            digest_step(&mut version.digest, &key, &value, true);
            version.count += 1;
        }
        version.writes = version.count;
        legacy.insert(
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
        self.check_records(None)
    }

    /// [`SledStore::verify_integrity`], keeping each address record's checked payload in
    /// `keep` when given.
    fn check_records(
        &self,
        mut keep: Option<&mut HashMap<Address, Box<[u8]>>>,
    ) -> Result<IntegrityReport> {
        let mut report = IntegrityReport::default();
        let mut stored_version = None;
        let mut check = LabelSetCheck::new();
        for item in self.labels.iter() {
            let (key, value) = item?;
            let payload = self.checked(unwrap(ADDRESS_LABELS, &key, &value))?;
            report.records += 1;
            if key.as_ref() == LABELS_VERSION_KEY {
                stored_version = Some(self.checked(LabelsVersion::decode(payload))?);
                continue;
            }
            for label in self.checked(decode_address_labels(&key, payload))? {
                check.add(&label)?;
            }
            if let Some(keep) = keep.as_deref_mut() {
                keep.insert(address_from_key(&key)?, payload.into());
            }
        }
        report.labels = self.checked(check.finish(stored_version))?;
        for item in self.overrides.iter() {
            let (key, value) = item?;
            self.checked(unwrap("overrides", &key, &value).and_then(|p| decode_override(&key, p)))?;
            report.records += 1;
        }
        for item in self.override_history.iter() {
            let (key, value) = item?;
            self.checked(
                unwrap("override_history", &key, &value)
                    .and_then(|p| decode_override_change(&key, p)),
            )?;
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
    label_key_of(&label.address, &label.source, label.categories)
}

/// The key of `source`'s label of `address` with `categories`: address (33 bytes) ‖ source ‖
/// 0x00 ‖ categories (u32 BE).
pub(crate) fn label_key_of(address: &Address, source: &str, categories: Categories) -> Vec<u8> {
    let mut key = Vec::with_capacity(33 + source.len() + 5);
    key.extend_from_slice(&address_key(address));
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key.extend_from_slice(&categories.0.to_be_bytes());
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
    fn label_set(&self) -> Result<std::sync::RwLockReadGuard<'_, LabelSet>> {
        self.label_set
            .read()
            .map_err(|_| Error::Store("lock poisoned".into()))
    }

    fn label_set_mut(&self) -> Result<std::sync::RwLockWriteGuard<'_, LabelSet>> {
        self.label_set
            .write()
            .map_err(|_| Error::Store("lock poisoned".into()))
    }
}

impl Store for SledStore {
    fn put_label(&self, label: &Label) -> Result<PutOutcome> {
        check_label(label)?;
        // Under the write lock: the label and the set's version change together.
        let mut set = self.label_set_mut()?;
        let mut labels = self.checked(set.labels(&label.address))?;
        let place = labels.binary_search_by(|l| label_order(l).cmp(&label_order(label)));
        let existing = place.ok().map(|i| LabelValue {
            name: labels[i].name.clone(),
            first_seen: labels[i].first_seen,
        });
        let Some(write) = label_write(label, existing.as_ref(), &set.version)? else {
            return Ok(PutOutcome::Unchanged);
        };
        let stored = Label {
            name: write.value.name,
            first_seen: write.value.first_seen,
            ..label.clone()
        };
        match place {
            Ok(i) => labels[i] = stored,
            Err(i) => labels.insert(i, stored),
        }
        let key = address_key(&label.address);
        let payload = encode_address_labels(&labels);
        let mut batch = sled::Batch::default();
        batch.insert(&key[..], wrap(ADDRESS_LABELS, &key, &payload));
        batch.insert(
            LABELS_VERSION_KEY,
            wrap(ADDRESS_LABELS, LABELS_VERSION_KEY, &write.next.encode()),
        );
        // Atomic: after a crash sled recovers both or neither, so the version always names the
        // labels that are there (an interrupted ingest included).
        self.labels.apply_batch(batch)?;
        set.records.insert(label.address, payload.into());
        set.version = write.next;
        Ok(write.outcome)
    }

    fn remove_labels(&self, address: &Address, source: &str) -> Result<u64> {
        let mut set = self.label_set_mut()?;
        let (removed, kept): (Vec<Label>, Vec<Label>) = self
            .checked(set.labels(address))?
            .into_iter()
            .partition(|label| label.source == source);
        if removed.is_empty() {
            return Ok(0);
        }
        let next = label_removal(&removed, &set.version)?;
        let key = address_key(address);
        let payload = (!kept.is_empty()).then(|| encode_address_labels(&kept));
        let mut batch = sled::Batch::default();
        match &payload {
            Some(payload) => batch.insert(&key[..], wrap(ADDRESS_LABELS, &key, payload)),
            None => batch.remove(&key[..]),
        }
        batch.insert(
            LABELS_VERSION_KEY,
            wrap(ADDRESS_LABELS, LABELS_VERSION_KEY, &next.encode()),
        );
        // Atomic like a write: the version names exactly the labels left.
        self.labels.apply_batch(batch)?;
        match payload {
            Some(payload) => set.records.insert(*address, payload.into()),
            None => set.records.remove(address),
        };
        set.version = next;
        Ok(removed.len() as u64)
    }

    fn labels_for(&self, address: &Address) -> Result<Vec<Label>> {
        self.checked(self.label_set()?.labels(address))
    }

    fn labels_snapshot(&self, address: &Address) -> Result<(Vec<Label>, LabelsVersion)> {
        let set = self.label_set()?;
        Ok((self.checked(set.labels(address))?, set.version))
    }

    fn labels_version(&self) -> Result<LabelsVersion> {
        Ok(self.label_set()?.version)
    }

    fn label_counts(&self) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        for item in self.labels.iter() {
            let (key, value) = item?;
            if key.as_ref() == LABELS_VERSION_KEY {
                continue;
            }
            let labels = self.checked(
                unwrap(ADDRESS_LABELS, &key, &value).and_then(|p| decode_address_labels(&key, p)),
            )?;
            for label in labels {
                count_categories(&mut counts, label.categories);
            }
        }
        Ok(counts)
    }

    fn put_override(&self, item: &Override) -> Result<()> {
        let change = OverrideChange::set(item);
        let id = self.db.generate_id()?.to_be_bytes();
        self.override_history
            .insert(id, wrap("override_history", &id, &to_json(&change)?))?;
        let key = address_key(&item.address);
        self.override_keys
            .write()
            .map_err(|_| Error::Store("lock poisoned".into()))?
            .insert(item.address);
        self.overrides
            .insert(key, wrap("overrides", &key, &to_json(item)?))?;
        // Overrides change judgements: make them durable before the admin is told they apply.
        self.flush()
    }

    fn remove_override(&self, address: &Address, author: &str, now: u64) -> Result<bool> {
        let Some(old) = self.override_for(address)? else {
            return Ok(false);
        };
        let change = OverrideChange::removal(old, author, now);
        let id = self.db.generate_id()?.to_be_bytes();
        self.override_history
            .insert(id, wrap("override_history", &id, &to_json(&change)?))?;
        self.overrides.remove(address_key(address))?;
        self.override_keys
            .write()
            .map_err(|_| Error::Store("lock poisoned".into()))?
            .remove(address);
        self.flush()?;
        Ok(true)
    }

    fn override_for(&self, address: &Address) -> Result<Option<Override>> {
        let listed = self
            .override_keys
            .read()
            .map_err(|_| Error::Store("lock poisoned".into()))?
            .contains(address);
        if !listed {
            return Ok(None);
        }
        let key = address_key(address);
        match self.get(&self.overrides, "overrides", &key)? {
            Some(payload) => Ok(Some(self.checked(decode_override(&key, &payload))?)),
            None => Ok(None),
        }
    }

    fn overrides(&self) -> Result<Vec<Override>> {
        self.overrides
            .iter()
            .map(|item| {
                let (key, value) = item?;
                self.checked(
                    unwrap("overrides", &key, &value).and_then(|p| decode_override(&key, p)),
                )
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
        let key = address_key(&label("a").address);
        let mut value = store.labels.get(key).unwrap().unwrap().to_vec();
        let last = value.len() - 1;
        value[last] ^= 1;
        store.labels.insert(key, value).unwrap();
        // Judgements read the copy the start check proved intact, never the damaged record...
        assert_eq!(
            store.labels_for(&label("a").address).unwrap(),
            vec![label("a")]
        );
        // ...and a read of the records themselves finds the damage and stops signing.
        assert!(matches!(store.label_counts(), Err(Error::Corrupt(_))));
        assert!(!store.is_intact());
        assert!(matches!(store.verify_integrity(), Err(Error::Corrupt(_))));
    }

    #[test]
    fn the_label_set_in_memory_is_the_one_on_disk_after_writes_removals_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let a = labelled(1, "list-a", Categories::SCAM, "one");
        let b = labelled(1, "list-b", Categories::SANCTIONS, "two");
        let c = labelled(2, "list-a", Categories::MIXER, "three");
        let (labels_1, labels_2, version) = {
            let store = SledStore::open(&path).unwrap();
            for label in [&a, &b, &c] {
                store.put_label(label).unwrap();
            }
            assert_eq!(store.remove_labels(&c.address, "list-a").unwrap(), 1);
            store.flush().unwrap();
            (
                store.labels_for(&a.address).unwrap(),
                store.labels_for(&c.address).unwrap(),
                store.labels_version().unwrap(),
            )
        };
        assert_eq!(labels_1, vec![a.clone(), b.clone()]);
        assert!(labels_2.is_empty());
        let store = SledStore::open(&path).unwrap();
        assert_eq!(
            store.labels_snapshot(&a.address).unwrap(),
            (labels_1, version)
        );
        assert!(store.labels_for(&c.address).unwrap().is_empty());
        assert_eq!(store.verify_integrity().unwrap().labels, version);
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

    fn labelled(address: u8, source: &str, categories: Categories, name: &str) -> Label {
        Label {
            address: Address::new(0, [address; 32]),
            categories,
            source: source.into(),
            name: name.into(),
            first_seen: 10,
        }
    }

    /// The digest as format 2 and PostgreSQL define it: per-label terms over the JSON value.
    fn per_label_digest(labels: &[Label]) -> [u8; 32] {
        let mut sum = [0u8; 32];
        for label in labels {
            let value = LabelValue {
                name: label.name.clone(),
                first_seen: label.first_seen,
            };
            digest_step(&mut sum, &label_key(label), &to_json(&value).unwrap(), true);
        }
        sum
    }

    fn sample_labels() -> Vec<Label> {
        vec![
            labelled(1, "ofac/TON", Categories::SANCTIONS, "a"),
            labelled(1, "ofac", Categories::SANCTIONS, "b"),
            labelled(1, "ofac", Categories::SCAM, "c"),
            labelled(2, "ton-assets/scammers", Categories::SCAM, "d"),
            labelled(3, "people", Categories::NONE, "e"),
        ]
    }

    /// Writes what a format-2 node left: per-label records in `labels`, its version, the format
    /// record and a format-2 guard.
    fn write_format_2(path: &Path, labels: &[Label]) -> LabelsVersion {
        let version = LabelsVersion {
            writes: labels.len() as u64 + 3,
            count: labels.len() as u64,
            digest: per_label_digest(labels),
        };
        {
            let db = sled::open(path).unwrap();
            let tree = db.open_tree(LEGACY_LABELS).unwrap();
            for label in labels {
                let key = label_key(label);
                let value = to_json(&LabelValue {
                    name: label.name.clone(),
                    first_seen: label.first_seen,
                })
                .unwrap();
                tree.insert(&key, wrap("labels", &key, &value)).unwrap();
            }
            tree.insert(
                LABELS_VERSION_KEY,
                wrap("labels", LABELS_VERSION_KEY, &version.encode()),
            )
            .unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert(INITIALIZED, wrap("meta", INITIALIZED.as_bytes(), b"1"))
                .unwrap();
            meta.insert(
                STORE_FORMAT,
                wrap("meta", STORE_FORMAT.as_bytes(), &[PER_LABEL_FORMAT]),
            )
            .unwrap();
            db.flush().unwrap();
        }
        let mut guard = Guard {
            format: PER_LABEL_FORMAT,
            label_writes: version.writes,
            labels_digest: hex::encode(version.digest),
            ..Guard::default()
        };
        guard.crc32c = guard.checksum();
        std::fs::write(path.with_file_name("store.guard"), to_json(&guard).unwrap()).unwrap();
        version
    }

    fn assert_migrated(store: &SledStore, labels: &[Label], version: LabelsVersion) {
        assert_eq!(store.labels_version().unwrap(), version);
        for address in [1, 2, 3] {
            let address = Address::new(0, [address; 32]);
            let mut expected: Vec<Label> = labels
                .iter()
                .filter(|l| l.address == address)
                .cloned()
                .collect();
            expected.sort_by(|a, b| label_order(a).cmp(&label_order(b)));
            assert_eq!(store.labels_for(&address).unwrap(), expected);
        }
        assert!(!store.has_tree(LEGACY_LABELS));
        assert!(store.meta.get(MIGRATING).unwrap().is_none());
    }

    #[test]
    fn all_labels_of_an_address_are_one_record_and_the_digest_keeps_its_meaning() {
        let store = SledStore::temporary().unwrap();
        let labels = sample_labels();
        for label in &labels {
            assert_eq!(store.put_label(label).unwrap(), PutOutcome::Added);
        }
        // Three addresses, three records (and the version record).
        assert_eq!(store.labels.len(), 4);
        let got = store.labels_for(&Address::new(0, [1; 32])).unwrap();
        let order: Vec<_> = got
            .iter()
            .map(|l| (l.source.as_str(), l.name.as_str()))
            .collect();
        assert_eq!(order, [("ofac", "b"), ("ofac", "c"), ("ofac/TON", "a")]);
        let version = store.labels_version().unwrap();
        assert_eq!(version.count, 5);
        assert_eq!(version.digest, per_label_digest(&labels));
        assert_eq!(store.verify_integrity().unwrap().labels, version);
        // A rename within a record moves the digest by that label's terms only.
        let mut renamed = labels.clone();
        renamed[1].name = "b2".into();
        assert_eq!(store.put_label(&renamed[1]).unwrap(), PutOutcome::Changed);
        assert_eq!(
            store.labels_version().unwrap().digest,
            per_label_digest(&renamed)
        );
        assert_eq!(store.label_counts().unwrap().get("sanctions"), Some(&2));
    }

    #[test]
    fn a_format_2_store_is_migrated_to_one_record_per_address_with_the_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let labels = sample_labels();
        let version = write_format_2(&path, &labels);
        let store = SledStore::open(&path).unwrap();
        assert_migrated(&store, &labels, version);
        assert_eq!(
            store
                .get(&store.meta, "meta", STORE_FORMAT.as_bytes())
                .unwrap(),
            Some(vec![FORMAT])
        );
        // Writes go on from the migrated version, and the guard follows.
        store
            .put_label(&labelled(4, "x", Categories::SCAM, "f"))
            .unwrap();
        drop(store);
        let store = SledStore::open(&path).unwrap();
        assert_eq!(store.labels_version().unwrap().writes, version.writes + 1);
    }

    #[test]
    fn an_interrupted_migration_is_redone_from_the_untouched_old_tree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let labels = sample_labels();
        let version = write_format_2(&path, &labels);
        {
            // A run that stopped midway: its marker and a partial, even wrong, new tree.
            let db = sled::open(&path).unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert(MIGRATING, wrap("meta", MIGRATING.as_bytes(), b"1"))
                .unwrap();
            let partial = db.open_tree(ADDRESS_LABELS).unwrap();
            let key = address_key(&labels[0].address);
            partial
                .insert(
                    key,
                    wrap(ADDRESS_LABELS, &key, &encode_address_labels(&labels[..1])),
                )
                .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(&path).unwrap();
        assert_migrated(&store, &labels, version);
    }

    #[test]
    fn a_migration_stopped_after_the_switch_drops_the_old_tree_on_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let labels = sample_labels();
        let version = write_format_2(&path, &labels);
        drop(SledStore::open(&path).unwrap());
        {
            let db = sled::open(&path).unwrap();
            let old = db.open_tree(LEGACY_LABELS).unwrap();
            old.insert(b"left over", &b"x"[..]).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(&path).unwrap();
        assert_migrated(&store, &labels, version);
    }

    #[test]
    fn a_damaged_old_record_refuses_the_migration_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let labels = sample_labels();
        write_format_2(&path, &labels);
        let key = label_key(&labels[3]);
        {
            let db = sled::open(&path).unwrap();
            let tree = db.open_tree(LEGACY_LABELS).unwrap();
            let mut value = tree.get(&key).unwrap().unwrap().to_vec();
            *value.last_mut().unwrap() ^= 1;
            tree.insert(&key, value).unwrap();
            db.flush().unwrap();
        }
        let err = SledStore::open(&path).err().expect("refused");
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
        let db = sled::open(&path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        let format = meta.get(STORE_FORMAT).unwrap().unwrap();
        assert_eq!(
            unwrap("meta", STORE_FORMAT.as_bytes(), &format).unwrap(),
            [PER_LABEL_FORMAT]
        );
        assert_eq!(db.open_tree(LEGACY_LABELS).unwrap().len(), labels.len() + 1);
    }

    #[test]
    fn a_lost_label_in_a_format_2_store_refuses_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let labels = sample_labels();
        write_format_2(&path, &labels);
        {
            let db = sled::open(&path).unwrap();
            db.open_tree(LEGACY_LABELS)
                .unwrap()
                .remove(label_key(&labels[4]))
                .unwrap();
            db.flush().unwrap();
        }
        let err = SledStore::open(&path).err().expect("refused");
        assert!(
            err.to_string()
                .contains("does not match its recorded version"),
            "{err}"
        );
    }

    #[test]
    fn malformed_address_records_are_corrupt() {
        let labels = &sample_labels()[..3];
        let mut sorted = labels.to_vec();
        sorted.sort_by(|a, b| label_order(a).cmp(&label_order(b)));
        let key = address_key(&sorted[0].address);
        let good = encode_address_labels(&sorted);
        assert_eq!(decode_address_labels(&key, &good).unwrap(), sorted);
        let reversed: Vec<Label> = sorted.iter().rev().cloned().collect();
        let repeated = [sorted[0].clone(), sorted[0].clone()];
        let mut bad_utf8 = encode_address_labels(&sorted[..1]);
        bad_utf8[2] = 0xff;
        for (case, payload) in [
            ("empty", Vec::new()),
            ("truncated", good[..good.len() - 1].to_vec()),
            ("trailing", [good.clone(), vec![0]].concat()),
            ("out of order", encode_address_labels(&reversed)),
            ("repeated", encode_address_labels(&repeated)),
            ("not UTF-8", bad_utf8),
        ] {
            assert!(
                matches!(
                    decode_address_labels(&key, &payload),
                    Err(Error::Corrupt(_))
                ),
                "{case}"
            );
        }
        assert!(matches!(
            decode_address_labels(&key[..32], &good),
            Err(Error::Corrupt(_))
        ));
    }

    #[test]
    fn a_source_a_record_cannot_frame_is_refused() {
        let store = SledStore::temporary().unwrap();
        let long = labelled(1, &"s".repeat(MAX_SOURCE_BYTES + 1), Categories::SCAM, "n");
        assert!(matches!(
            store.put_label(&long),
            Err(Error::InvalidRequest(_))
        ));
        let nul = labelled(1, "a\0b", Categories::SCAM, "n");
        assert!(matches!(
            store.put_label(&nul),
            Err(Error::InvalidRequest(_))
        ));
        assert_eq!(store.labels_version().unwrap(), LabelsVersion::default());
    }
}
