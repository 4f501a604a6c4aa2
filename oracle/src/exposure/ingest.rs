//! Recorded toncenter v3 pages into the transfer store: one page per file, or JSON lines.

use std::collections::BTreeMap;
use std::path::Path;

use super::moves::{self, Skip, Transfer};
use super::toncenter::{self, JettonTransfer, PageError, Transaction};
use super::transfers::{Appended, TransferStore};
use crate::error::{Error, Result};

/// Which endpoint's format a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// `/api/v3/transactions`.
    Transactions,
    /// `/api/v3/jetton/transfers`.
    JettonTransfers,
}

/// What an ingest did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Records read.
    pub records: usize,
    /// Transfers new to the store.
    pub added: usize,
    /// Transfers already in the store.
    pub duplicates: usize,
    /// Records that moved nothing, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Edge ids added.
    pub edges: std::ops::Range<u32>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} records: {} transfers added, {} already stored",
            self.records, self.added, self.duplicates
        )?;
        for (why, n) in &self.skipped {
            writeln!(f, "  moved nothing ({why}): {n}")?;
        }
        Ok(())
    }
}

/// The transfers in a text of `kind`, and the records that moved nothing.
pub fn parse(text: &str, kind: PageKind) -> Result<(Vec<Transfer>, Vec<Skip>, usize), PageError> {
    let mut transfers = Vec::new();
    let mut skips = Vec::new();
    let mut push = |r: Result<Transfer, Skip>| match r {
        Ok(t) => transfers.push(t),
        Err(s) => skips.push(s),
    };
    let count = match kind {
        PageKind::Transactions => {
            let records: Vec<Transaction> = toncenter::records(text)?;
            for tx in &records {
                push(moves::from_transaction(tx)?);
            }
            records.len()
        }
        PageKind::JettonTransfers => {
            let records: Vec<JettonTransfer> = toncenter::records(text)?;
            for t in &records {
                push(moves::from_jetton_transfer(t)?);
            }
            records.len()
        }
    };
    Ok((transfers, skips, count))
}

/// Parses and stores one text (a page or JSON lines) with optional cursors, as one batch.
pub fn ingest_text(
    store: &TransferStore,
    text: &str,
    kind: PageKind,
    cursors: &[(&str, &str)],
) -> Result<Summary> {
    let (transfers, skips, records) = parse(text, kind)?;
    let Appended {
        added,
        duplicates,
        edges,
    } = store.append(&transfers, cursors)?;
    let mut skipped = BTreeMap::new();
    for s in skips {
        *skipped.entry(format!("{s:?}")).or_default() += 1;
    }
    Ok(Summary {
        records,
        added,
        duplicates,
        skipped,
        edges,
    })
}

/// Ingests files, each as one batch; a file that cannot be read or parsed is refused whole,
/// naming it, and nothing of it is stored (earlier files stay stored).
pub fn ingest_files(
    store: &TransferStore,
    files: &[impl AsRef<Path>],
    kind: PageKind,
) -> Result<Summary> {
    let mut total = Summary::default();
    let start = store.graph().edge_count() as u32;
    for file in files {
        let file = file.as_ref();
        let text = std::fs::read_to_string(file)
            .map_err(|err| Error::Ingest(format!("{}: {err}", file.display())))?;
        let one = ingest_text(store, &text, kind, &[])
            .map_err(|err| Error::Ingest(format!("{}: {err}", file.display())))?;
        total.records += one.records;
        total.added += one.added;
        total.duplicates += one.duplicates;
        for (k, v) in one.skipped {
            *total.skipped.entry(k).or_default() += v;
        }
    }
    total.edges = start..store.graph().edge_count() as u32;
    Ok(total)
}
