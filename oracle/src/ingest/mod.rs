//! Ingestion of label lists in their published formats.
//!
//! Each format module parses its input into [`Row`]s and [`Refusal`]s (with file and line);
//! [`apply`] writes the rows to the store and counts what was added, changed or already there.
//! Ingestion is idempotent: a label's identity is (address, source, categories), so running the
//! same input twice adds nothing the second time.
//!
//! - [`ton_assets`]: tonkeeper/ton-assets `accounts/*.yaml` (the file is the category).
//! - [`ofac`]: OFAC SDN digital-currency addresses, `sanctioned_addresses_<ASSET>.json`.
//! - [`ton_labels`]: TON Foundation's ton-labels `assets/<category>/<label>.json` (category mapping
//!   and the services where exposure tracing stops).
//! - [`csv`]: the node's own `address,category,source,name` layout.
//! - [`bundled`]: the lists compiled into the binary, loaded on first start.

pub mod bundled;
pub mod csv;
mod lines;
pub mod ofac;
pub mod target;
pub mod ton_assets;
pub mod ton_labels;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tollgate_sdk::{Address, Categories};

use crate::error::{Error, Result};
use crate::store::{Label, PutOutcome, Store};

/// Longest label name stored, in characters. Every label's name is copied into each judgement
/// of its address, and so into the audit log: text is bounded where it enters.
pub const MAX_NAME_CHARS: usize = 256;

/// Longest label source, in characters (see [`MAX_NAME_CHARS`]).
pub const MAX_SOURCE_CHARS: usize = 128;

/// Inputs above this many rows get a progress bar (when ingesting from a terminal).
pub const PROGRESS_THRESHOLD: usize = 5_000;

/// One label parsed from an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// File it came from.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The address.
    pub address: Address,
    /// Its categories (may be empty for a known entity without a risk category).
    pub categories: Categories,
    /// The label's source.
    pub source: String,
    /// The name given.
    pub name: String,
}

/// An input record that was not ingested, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// File it came from.
    pub file: String,
    /// 1-based line (0 when the whole file is refused).
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// A source's retraction: the labels `source` gave `address` no longer hold (the USDT issuer
/// unlocked the owner's wallet, say), so they leave the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retraction {
    /// File it came from.
    pub file: String,
    /// 1-based record number (0 when it stands for the whole file).
    pub line: usize,
    /// The address.
    pub address: Address,
    /// The source whose labels of `address` are removed.
    pub source: String,
}

/// A parsed input: rows to write, labels retracted and records refused.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Labels to write.
    pub rows: Vec<Row>,
    /// Labels to remove.
    pub retracted: Vec<Retraction>,
    /// Records refused while parsing.
    pub refused: Vec<Refusal>,
}

impl Parsed {
    /// A whole file refused (line 0) for `reason`.
    pub fn refused_file(file: &str, reason: String) -> Parsed {
        Parsed {
            rows: Vec::new(),
            retracted: Vec::new(),
            refused: vec![Refusal {
                file: file.into(),
                line: 0,
                reason,
            }],
        }
    }

    /// Every address the input labels or retracts: those whose judgement it may change.
    pub fn addresses(&self) -> Vec<Address> {
        self.rows
            .iter()
            .map(|row| row.address)
            .chain(self.retracted.iter().map(|r| r.address))
            .collect()
    }

    /// Appends another parsed input.
    pub fn extend(&mut self, other: Parsed) {
        self.rows.extend(other.rows);
        self.retracted.extend(other.retracted);
        self.refused.extend(other.refused);
    }
}

/// What an ingestion did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Labels new to the store.
    pub added: u64,
    /// Labels whose name changed.
    pub changed: u64,
    /// Labels already in the store as given.
    pub unchanged: u64,
    /// Labels removed because their source retracted them.
    pub removed: u64,
    /// Rows read per category name (`none` for labels without one).
    pub per_category: BTreeMap<String, u64>,
    /// Records refused, with file, line and reason.
    pub refused: Vec<Refusal>,
}

impl Summary {
    /// Folds another summary into this one.
    pub fn merge(&mut self, other: Summary) {
        self.added += other.added;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.removed += other.removed;
        for (name, count) in other.per_category {
            *self.per_category.entry(name).or_default() += count;
        }
        self.refused.extend(other.refused);
    }

    /// Refused records grouped by reason: reason → count.
    pub fn refused_by_reason(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for refusal in &self.refused {
            *counts.entry(refusal.reason.as_str()).or_default() += 1;
        }
        counts
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "added {}, changed {}, unchanged {}, removed {}, refused {}",
            self.added,
            self.changed,
            self.unchanged,
            self.removed,
            self.refused.len()
        )?;
        for (name, count) in &self.per_category {
            writeln!(f, "  {name}: {count}")?;
        }
        for (reason, count) in self.refused_by_reason() {
            writeln!(f, "  refused ({reason}): {count}")?;
        }
        for refusal in self.refused.iter().take(20) {
            writeln!(f, "  {}:{}: {}", refusal.file, refusal.line, refusal.reason)?;
        }
        if self.refused.len() > 20 {
            writeln!(f, "  … and {} more refused", self.refused.len() - 20)?;
        }
        Ok(())
    }
}

/// Parses every file of `dir` whose name `wanted` accepts, in name order, with `parse` (file
/// name, text); `pattern` names the files in the error when there are none.
pub(crate) fn parse_files(
    dir: &std::path::Path,
    pattern: &str,
    wanted: impl Fn(&str) -> bool,
    parse: impl Fn(&str, &str) -> Parsed,
) -> Result<Parsed> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|err| Error::Ingest(format!("cannot read {}: {err}", dir.display())))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| wanted(name))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::Ingest(format!(
            "no {pattern} files in {}",
            dir.display()
        )));
    }
    let mut parsed = Parsed::default();
    for name in names {
        let path = dir.join(&name);
        let text = std::fs::read_to_string(&path)
            .map_err(|err| Error::Ingest(format!("cannot read {}: {err}", path.display())))?;
        parsed.extend(parse(&name, &text));
    }
    Ok(parsed)
}

/// A progress bar for `len` rows: drawn on stderr for large inputs when `visible`, hidden
/// otherwise (tests, the admin API, small lists).
pub fn progress_bar(len: usize, visible: bool) -> ProgressBar {
    if !visible || len < PROGRESS_THRESHOLD {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} labels ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Writes parsed rows to the store (with `first_seen = now`), removes the retracted labels,
/// and flushes.
///
/// A retraction and a row of the same (address, source) in one input contradict each other
/// (each format module resolves its own input to one statement per address first): the
/// retraction is refused, and the row is written.
/// `per_category` counts every row read. A row with the same label identity (address, source,
/// categories) as an earlier row of the same input is refused as a duplicate rather than
/// written: otherwise its name would overwrite the first one's, and the next run would flip it
/// back, so ingesting twice would never settle.
pub fn apply(
    store: &dyn Store,
    parsed: Parsed,
    now: u64,
    progress: &ProgressBar,
) -> Result<Summary> {
    let mut summary = Summary {
        refused: parsed.refused,
        ..Summary::default()
    };
    let mut seen: HashMap<(Address, String, u32), (String, usize)> = HashMap::new();
    for row in parsed.rows {
        if let Some(reason) = overlong_text(&row) {
            summary.refused.push(Refusal {
                file: row.file,
                line: row.line,
                reason,
            });
            progress.inc(1);
            continue;
        }
        let names = row.categories.names();
        if names.is_empty() {
            *summary.per_category.entry("none".into()).or_default() += 1;
        }
        for name in names {
            *summary.per_category.entry(name.into()).or_default() += 1;
        }
        match seen.entry((row.address, row.source.clone(), row.categories.0)) {
            Entry::Occupied(first) => {
                let (file, line) = first.get();
                summary.refused.push(Refusal {
                    file: row.file,
                    line: row.line,
                    reason: format!(
                        "duplicate of {file}:{line} (same address, source and category)"
                    ),
                });
                progress.inc(1);
                continue;
            }
            Entry::Vacant(slot) => {
                slot.insert((row.file.clone(), row.line));
            }
        }
        let label = Label {
            address: row.address,
            categories: row.categories,
            source: row.source,
            name: row.name,
            first_seen: now,
        };
        match store.put_label(&label)? {
            PutOutcome::Added => summary.added += 1,
            PutOutcome::Changed => summary.changed += 1,
            PutOutcome::Unchanged => summary.unchanged += 1,
        }
        progress.inc(1);
    }
    // Only an input with retractions needs the (address, source) pairs it wrote.
    let written: HashMap<(Address, String), (String, usize)> = if parsed.retracted.is_empty() {
        HashMap::new()
    } else {
        seen.into_iter()
            .map(|((address, source, _), place)| ((address, source), place))
            .collect()
    };
    for retraction in parsed.retracted {
        let key = (retraction.address, retraction.source);
        if let Some((file, line)) = written.get(&key) {
            summary.refused.push(Refusal {
                file: retraction.file,
                line: retraction.line,
                reason: format!("retracts the label written from {file}:{line}"),
            });
            continue;
        }
        summary.removed += store.remove_labels(&key.0, &key.1)?;
    }
    progress.finish_and_clear();
    // Each label was written atomically with the label set's version (store.rs), so an ingest
    // that stops half-way leaves a set whose version names exactly what is there.
    store.flush()?;
    Ok(summary)
}

/// Why a row's text is refused, if it is longer than the store keeps.
fn overlong_text(row: &Row) -> Option<String> {
    if row.source.chars().count() > MAX_SOURCE_CHARS {
        Some(format!("source longer than {MAX_SOURCE_CHARS} characters"))
    } else if row.name.chars().count() > MAX_NAME_CHARS {
        Some(format!("name longer than {MAX_NAME_CHARS} characters"))
    } else {
        None
    }
}

/// 1-based line numbers of the lines for which `starts` is true.
pub(crate) fn line_numbers(text: &str, starts: impl Fn(&str) -> bool) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| starts(line))
        .map(|(i, _)| i + 1)
        .collect()
}
