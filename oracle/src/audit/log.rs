//! The log file: opening with recovery (scan, torn-tail cut, anchor check) and reading pages.
//!
//! # Recovery rules (SPEC.md §11.1)
//!
//! The file is scanned from the header. Every frame must have a matching CRC32C, decode
//! strictly, carry the next seq and the previous entry's hash. At the end of the file, and only
//! there, an incomplete frame or a last frame whose checksum fails (followed by nothing or by
//! zeros) is a **torn tail**: a commit that crashed before its fdatasync returned, so nobody was
//! answered for it. It is cut (the file truncated to the last whole record and fsynced), and so
//! are the zeros a running committer writes ahead of its records (*spare* space, no record in
//! it). A commit written over several sectors can, on power loss before its fdatasync, leave
//! any of them unwritten (zeros), not only its last: a bad frame that shows such a sector, after
//! every entry the anchor covers (all synced before that commit began), is a **torn commit**
//! and is cut with everything after it. Anything else —
//! a bad frame followed by more bytes, a broken link, a record that does not decode — is
//! damage, and the node refuses to start. Then the anchor must be consistent: not ahead of the
//! log, and naming the hash of the log's entry at its position.

use std::fs::File;
use std::io::{BufReader, Read as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use super::anchor::Anchor;
use super::format::{entry_hash, unframe, Entry, Framed, FILE_HEADER, FRAME_HEADER, GENESIS};
use crate::error::{Error, Result};

/// File name of the log inside the audit directory.
pub const LOG_FILE: &str = "log";

/// Every how many entries the in-memory index keeps an offset (so paging is fast and the index
/// stays small: 8 bytes per 256 entries).
pub const INDEX_EVERY: u64 = 256;

/// The log's path in an audit directory.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

/// What a scan of the log found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Whole, linked entries.
    pub entries: u64,
    /// Hash of the last one ([`GENESIS`] when there is none).
    pub head: [u8; 32],
    /// Bytes of the file up to the end of the last whole entry.
    pub valid_len: u64,
    /// Bytes after that which are a torn tail (0 when the file ends cleanly).
    pub torn_bytes: u64,
    /// Zero bytes after the last record that hold no record: space the committer wrote ahead
    /// ([`super::committer::PREALLOCATE`]), left by a node that did not close. Not damage.
    pub spare_bytes: u64,
    /// Why the tail is torn, when it is.
    pub torn_reason: Option<&'static str>,
    /// Offsets of entries 0, [`INDEX_EVERY`], 2·[`INDEX_EVERY`], …
    pub index: Vec<u64>,
    /// The hash of the entry at `hash_at.0 - 1`, when the scan was asked for it.
    pub hash_at: Option<(u64, [u8; 32])>,
}

/// Walks the log file, calling `visit` for every whole entry (with its payload hash). Returns
/// the scan, or the first damage as [`Error::AuditBroken`]. `anchored` is the number of
/// entries the anchor covers, when there is one: the scan keeps the hash of the entry before
/// that position (what the anchor names), and a bad frame after it that shows an unwritten
/// sector is a torn commit rather than damage (the caller then checks the anchor itself).
pub fn scan(
    path: &Path,
    anchored: Option<u64>,
    mut visit: impl FnMut(&Entry, &[u8; 32]) -> Result<()>,
) -> Result<Scan> {
    let file = File::open(path).map_err(|err| Error::AuditBroken {
        seq: 0,
        reason: format!("cannot open the log {}: {err}", path.display()),
    })?;
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; FILE_HEADER.len()];
    if file_len < header.len() as u64
        || reader.read_exact(&mut header).is_err()
        || header != FILE_HEADER
    {
        return Err(Error::AuditBroken {
            seq: 0,
            reason: "the log's file header is missing or wrong (not a Tollgate audit log, or overwritten)".into(),
        });
    }
    let mut scan = Scan {
        head: GENESIS,
        valid_len: header.len() as u64,
        hash_at: match anchored {
            Some(0) => Some((0, GENESIS)),
            _ => None,
        },
        ..Scan::default()
    };
    let mut buf = Vec::new();
    loop {
        let offset = scan.valid_len;
        let rest = file_len - offset;
        if rest == 0 {
            break;
        }
        // Read the header, then the payload it announces (bounded by what the file holds).
        buf.clear();
        let head_len = rest.min(FRAME_HEADER as u64) as usize;
        buf.resize(head_len, 0);
        reader.read_exact(&mut buf)?;
        if head_len == FRAME_HEADER {
            let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as u64;
            let body = len.min(rest - FRAME_HEADER as u64) as usize;
            if len <= u64::from(super::format::MAX_RECORD) {
                buf.resize(FRAME_HEADER + body, 0);
                reader.read_exact(&mut buf[FRAME_HEADER..])?;
            }
        }
        let broken = |reason: String| Error::AuditBroken {
            seq: scan.entries,
            reason,
        };
        match unframe(&buf) {
            Framed::Record(payload, size) => {
                let entry = Entry::decode(payload)
                    .map_err(|err| broken(format!("{err} (at offset {offset})")))?;
                if entry.seq != scan.entries {
                    return Err(broken(format!("entry says seq {}", entry.seq)));
                }
                if entry.prev_hash != scan.head {
                    return Err(broken("prev_hash does not match the previous entry".into()));
                }
                let hash = entry_hash(payload);
                visit(&entry, &hash)?;
                if scan.entries.is_multiple_of(INDEX_EVERY) {
                    scan.index.push(offset);
                }
                scan.entries += 1;
                scan.head = hash;
                scan.valid_len += size as u64;
                if anchored == Some(scan.entries) {
                    scan.hash_at = Some((scan.entries, hash));
                }
            }
            Framed::Incomplete => {
                scan.torn_reason = Some("the last record is incomplete");
                break;
            }
            // The last write stopped part-way: the file ends there, or in the zeros written
            // ahead of the records (the committer's preallocation).
            Framed::BadChecksum
                if offset + buf.len() as u64 == file_len || only_zeros(&mut reader, &[])? =>
            {
                scan.torn_reason = Some("the last record's checksum fails");
                break;
            }
            // Space written ahead (by a commit or a probe) and not used yet: no record was there.
            Framed::ZeroLength if only_zeros(&mut reader, &buf)? => {
                scan.spare_bytes = file_len - offset;
                break;
            }
            // A commit torn across sectors: records after this one may have reached the disk
            // while a sector of this one did not. Only after every anchored entry (those were
            // synced before the last commit began), and only with an unwritten sector to show.
            Framed::ZeroLength | Framed::BadChecksum
                if anchored.is_some_and(|n| n <= scan.entries)
                    && unwritten_sector(reader.get_ref(), offset, &buf, file_len)? =>
            {
                scan.torn_reason = Some(
                    "a sector of the last commit was never written (a crash before its fdatasync)",
                );
                break;
            }
            Framed::BadChecksum => {
                return Err(broken(format!(
                    "checksum fails at offset {offset} and more records follow"
                )))
            }
            Framed::ZeroLength => {
                return Err(broken(format!("zero-length frame at offset {offset}")))
            }
            Framed::TooLong(len) => {
                return Err(broken(format!(
                    "frame at offset {offset} claims {len} bytes"
                )))
            }
        }
    }
    scan.torn_bytes = file_len - scan.valid_len - scan.spare_bytes;
    Ok(scan)
}

/// Sector size a torn write is made of: a disk writes each 512-byte sector whole or not at all,
/// but the sectors of one unsynced write in any order.
const SECTOR: u64 = 512;

/// Whether the bad frame read into `frame` at `offset` shows an unwritten sector: its header in
/// zeros to the end of its sector (the sector where the commit's records began was not
/// written; it still holds the zeros after the old end), or, its header intact, a whole sector
/// from the frame's own bytes on that reads as zeros. Bit rot leaves neither.
fn unwritten_sector(file: &File, offset: u64, frame: &[u8], file_len: u64) -> Result<bool> {
    let zeros = |from: u64, to: u64| -> Result<bool> {
        let mut bytes = vec![0u8; (to.min(file_len) - from) as usize];
        file.read_exact_at(&mut bytes, from)?;
        Ok(bytes.iter().all(|b| *b == 0))
    };
    let header_sector_end = (offset + 1).next_multiple_of(SECTOR);
    if frame.len() >= FRAME_HEADER && frame[..4] == [0; 4] {
        return zeros(offset, header_sector_end);
    }
    let frame_end = offset + frame.len() as u64;
    let mut sector = header_sector_end;
    while sector < frame_end {
        if zeros(sector, sector + SECTOR)? {
            return Ok(true);
        }
        sector += SECTOR;
    }
    Ok(false)
}

fn only_zeros(reader: &mut BufReader<File>, read: &[u8]) -> Result<bool> {
    if read.iter().any(|b| *b != 0) {
        return Ok(false);
    }
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader.read(&mut chunk)?;
        if n == 0 {
            return Ok(true);
        }
        if chunk[..n].iter().any(|b| *b != 0) {
            return Ok(false);
        }
    }
}

/// Checks a scanned log against its anchor; the error says what is wrong and what to do.
pub fn check_anchor(scan: &Scan, anchor: Option<&Anchor>, key: &[u8; 32]) -> Result<()> {
    let Some(anchor) = anchor else {
        if scan.entries == 0 {
            return Ok(());
        }
        return Err(Error::AnchorMismatch(format!(
            "the log has {} entries but the anchor file is missing: it was deleted, or the log was copied in without it. \
             Restore the anchor from where the log came from, or after `tollgate-oracle audit verify` passes accept the log as it is with `tollgate-oracle audit reanchor`",
            scan.entries
        )));
    };
    if &anchor.public_key != key {
        return Err(Error::AnchorMismatch(format!(
            "the anchor is signed by key {} but this node's key is {}: start with the key that signed it, or after `tollgate-oracle audit verify` passes run `tollgate-oracle audit reanchor` with the new key",
            hex::encode(anchor.public_key),
            hex::encode(key)
        )));
    }
    if anchor.entries > scan.entries {
        return Err(Error::AnchorMismatch(format!(
            "the anchor covers {} entries but the log holds {}: the log lost its tail (truncated, or restored from an older backup). \
             Restore the log that belongs to this anchor; do not sign from this data dir until then",
            anchor.entries, scan.entries
        )));
    }
    match scan.hash_at {
        Some((n, hash)) if n == anchor.entries && hash == anchor.head => Ok(()),
        _ => Err(Error::AnchorMismatch(format!(
            "entry {} of the log does not have the hash the anchor names: the log was replaced or rewritten. \
             Restore the log that belongs to this anchor (`tollgate-oracle audit verify` shows what the log holds)",
            anchor.entries.saturating_sub(1)
        ))),
    }
}

/// Creates an empty log (just the header) atomically.
pub fn create(dir: &Path) -> Result<()> {
    super::anchor::write_atomically(dir, LOG_FILE, &FILE_HEADER)
        .map_err(|err| Error::AuditUnavailable(format!("cannot create the log: {err}")))
}

/// Cuts a torn tail: truncates the file to its last whole record and makes that durable.
pub fn cut_torn_tail(path: &Path, valid_len: u64) -> Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(valid_len)?;
    file.sync_all()?;
    Ok(())
}

/// Reads whole frames from an open log, for paging while the committer appends.
pub struct PageReader<'a> {
    /// The log file.
    pub file: &'a File,
    /// Read nothing at or after this offset (the durable end).
    pub end: u64,
}

impl PageReader<'_> {
    /// Entries starting at `offset` (whose seq is `seq`), skipping those before `from`, at most
    /// `limit`: `(entry, hash)` pairs.
    pub fn read(
        &self,
        mut offset: u64,
        mut seq: u64,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(Entry, [u8; 32])>> {
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut header = [0u8; FRAME_HEADER];
        let mut buf = Vec::new();
        while out.len() < limit && offset + FRAME_HEADER as u64 <= self.end {
            self.file.read_exact_at(&mut header, offset)?;
            let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
            let size = FRAME_HEADER + len;
            if offset + size as u64 > self.end {
                break;
            }
            buf.resize(size, 0);
            self.file.read_exact_at(&mut buf, offset)?;
            let broken = |reason: String| Error::AuditBroken { seq, reason };
            let Framed::Record(payload, _) = unframe(&buf) else {
                return Err(broken("checksum fails on read".into()));
            };
            if seq >= from {
                let entry = Entry::decode(payload).map_err(|err| broken(err.to_string()))?;
                if entry.seq != seq {
                    return Err(broken(format!("entry says seq {}", entry.seq)));
                }
                out.push((entry, entry_hash(payload)));
            }
            offset += size as u64;
            seq += 1;
        }
        Ok(out)
    }
}
