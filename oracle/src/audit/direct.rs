//! Direct I/O for the log file: the committer's writes go from its buffer to the disk without
//! passing through the page cache.
//!
//! Through the page cache, every commit copied its records into cached pages and the
//! fdatasync then wrote those pages back: on this project's VM that was most of the
//! committer's CPU (≈ 150 µs a commit on disk against ≈ 25 µs on tmpfs), and a batch of 256
//! signatures cost 3–5 µs more per signature on disk than on tmpfs. With `O_DIRECT` the write
//! is the disk write; the fdatasync that follows still flushes the disk's write cache, so an
//! acknowledgement still follows a power-loss-safe point.
//!
//! Direct writes must start at a block boundary, cover whole blocks and come from a
//! block-aligned buffer. So a commit rewrites the part of the last block that already holds
//! records (the *tail*, the same bytes again) and pads its records with zeros to the next
//! block boundary — zeros the recovery rules already call spare space (SPEC.md §11.1). A
//! filesystem that refuses `O_DIRECT` (some network and FUSE filesystems, and tmpfs on older
//! kernels) gets buffered writes instead (the node logs which); the bytes in the file are the same either way.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Block size of direct writes: their offset, length and buffer address are multiples of it.
/// 4096 serves disks with 512-byte and with 4-KiB logical blocks alike.
pub const BLOCK: usize = 4096;

/// Opens the log for the committer, with `O_DIRECT` when the filesystem supports it (an
/// aligned read of the first block succeeds). Returns the file and whether it is direct.
pub fn open_for_append(path: &Path) -> io::Result<(File, bool)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
        let refused =
            |err: &io::Error| err.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error());
        let flags = rustix::fs::OFlags::DIRECT.bits() as i32;
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(flags)
            .open(path)
        {
            Ok(file) => {
                let mut block = Aligned::default();
                match file.read_at(block.fill(&[], BLOCK), 0) {
                    Ok(_) => return Ok((file, true)),
                    Err(err) if refused(&err) => {}
                    Err(err) => return Err(err),
                }
            }
            Err(err) if refused(&err) => {}
            Err(err) => return Err(err),
        }
    }
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    Ok((file, false))
}

/// A reusable buffer whose contents start at a [`BLOCK`]-aligned address. The alignment is
/// found inside a `Vec` allocated one block larger than needed, so no unsafe code is needed.
#[derive(Default)]
pub struct Aligned {
    bytes: Vec<u8>,
}

impl Aligned {
    /// Fills the buffer with `parts` one after the other and zeros up to `len` bytes, and
    /// returns those `len` bytes, starting at an aligned address.
    pub fn fill(&mut self, parts: &[&[u8]], len: usize) -> &mut [u8] {
        self.bytes.clear();
        self.bytes.reserve(len + BLOCK);
        // Nothing below reallocates (the capacity holds `start + len`), so the address stays.
        let start = self.bytes.as_ptr().align_offset(BLOCK);
        self.bytes.resize(start, 0);
        for part in parts {
            self.bytes.extend_from_slice(part);
        }
        assert!(
            self.bytes.len() <= start + len,
            "the parts are longer than the write"
        );
        self.bytes.resize(start + len, 0);
        &mut self.bytes[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_bytes_are_aligned_in_order_and_zero_padded() {
        let mut buffer = Aligned::default();
        for len in [0, 1, BLOCK - 1, BLOCK, 3 * BLOCK + 17] {
            let head = vec![7u8; len.min(10)];
            let rest = vec![9u8; len.saturating_sub(10) / 2];
            let bytes = buffer.fill(&[&head, &rest], len);
            assert_eq!(bytes.as_ptr().align_offset(BLOCK), 0);
            assert_eq!(bytes.len(), len);
            let expected: Vec<u8> = head
                .iter()
                .chain(&rest)
                .copied()
                .chain(std::iter::repeat(0))
                .take(len)
                .collect();
            assert_eq!(bytes, &expected[..]);
        }
    }

    #[test]
    fn the_log_file_takes_an_aligned_block_write_in_the_mode_it_was_opened_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"x").unwrap();
        let (file, direct) = open_for_append(&path).unwrap();
        let mut buffer = Aligned::default();
        std::os::unix::fs::FileExt::write_all_at(&file, buffer.fill(&[b"ab"], BLOCK), 0).unwrap();
        file.sync_data().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            (&bytes[..2], bytes.len()),
            (&b"ab"[..], BLOCK),
            "direct: {direct}"
        );
        // A direct file refuses what the committer must never write: an unaligned offset.
        if direct {
            let err =
                std::os::unix::fs::FileExt::write_all_at(&file, &bytes[..BLOCK], 1).unwrap_err();
            assert_eq!(
                err.raw_os_error(),
                Some(rustix::io::Errno::INVAL.raw_os_error())
            );
        }
    }

    #[test]
    fn a_missing_log_is_an_error_not_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_for_append(&dir.path().join("absent")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
