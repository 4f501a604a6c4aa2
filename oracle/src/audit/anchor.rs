//! The chain's head kept outside the log: `audit/anchor`, a small file signed by the node's key.
//!
//! ```text
//! anchor = "TGANCHOR" version:u8(1) entries:u64le head:[32] public_key:[32] signature:[64]
//! ```
//!
//! `entries` is the number of entries the anchor covers (the head's seq + 1; 0 for an empty log)
//! and `head` the hash of entry `entries - 1`. The signature is ed25519 over the first 49 bytes
//! (magic to head). Those are 49 bytes, never the 32-byte hash an attestation signature covers,
//! so an anchor signature can never pass as an attestation signature.
//!
//! The file is created atomically: written to `anchor.tmp`, fsynced, renamed over `anchor`, and
//! the directory fsynced. A running node then rewrites it in place ([`AnchorWriter`]): one
//! 145-byte write at offset 0 and one fdatasync, the way PostgreSQL rewrites `pg_control` —
//! a write within one 512-byte sector is all or nothing on the disks a node runs on, so after
//! a crash the file holds the old anchor or the new one, and a rewrite costs one flush instead
//! of two fsyncs, a rename and a directory fsync. (Were a sector ever torn, the anchor would
//! fail its signature and the node would refuse to start, never sign from it.) It is written
//! after the log's fdatasync, so it never names an entry that is not on disk: at
//! start, a log shorter than its anchor lost entries, and a log whose entry `entries - 1` has
//! another hash was replaced.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::error::{Error, Result};

/// File name inside the audit directory.
pub const ANCHOR_FILE: &str = "anchor";

const MAGIC: &[u8; 8] = b"TGANCHOR";
const VERSION: u8 = 1;
const SIGNED_LEN: usize = 8 + 1 + 8 + 32;
/// Size of an anchor file.
pub const ANCHOR_LEN: usize = SIGNED_LEN + 32 + 64;

/// A verified anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// Entries covered.
    pub entries: u64,
    /// Hash of the last covered entry (the genesis hash when `entries` is 0).
    pub head: [u8; 32],
    /// The key that signed it.
    pub public_key: [u8; 32],
}

impl Anchor {
    fn signed_bytes(entries: u64, head: &[u8; 32]) -> [u8; SIGNED_LEN] {
        let mut bytes = [0u8; SIGNED_LEN];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8] = VERSION;
        bytes[9..17].copy_from_slice(&entries.to_le_bytes());
        bytes[17..49].copy_from_slice(head);
        bytes
    }

    /// The file's bytes for a head, signed with `key`.
    pub fn encode(entries: u64, head: &[u8; 32], key: &SigningKey) -> [u8; ANCHOR_LEN] {
        let signed = Anchor::signed_bytes(entries, head);
        let signature = key.sign(&signed);
        let mut bytes = [0u8; ANCHOR_LEN];
        bytes[..SIGNED_LEN].copy_from_slice(&signed);
        bytes[SIGNED_LEN..SIGNED_LEN + 32].copy_from_slice(key.verifying_key().as_bytes());
        bytes[SIGNED_LEN + 32..].copy_from_slice(&signature.to_bytes());
        bytes
    }

    /// Parses and checks an anchor file's bytes against the key embedded in it.
    pub fn decode(bytes: &[u8]) -> Result<Anchor> {
        let broken = |why: &str| Error::AnchorInvalid(why.to_string());
        if bytes.len() != ANCHOR_LEN {
            return Err(broken(&format!(
                "{} bytes instead of {ANCHOR_LEN}",
                bytes.len()
            )));
        }
        if &bytes[..8] != MAGIC || bytes[8] != VERSION {
            return Err(broken("not an anchor file (magic or version)"));
        }
        let entries = u64::from_le_bytes(bytes[9..17].try_into().expect("8 bytes"));
        let head: [u8; 32] = bytes[17..49].try_into().expect("32 bytes");
        let public_key: [u8; 32] = bytes[SIGNED_LEN..SIGNED_LEN + 32]
            .try_into()
            .expect("32 bytes");
        let signature = Signature::from_bytes(&bytes[SIGNED_LEN + 32..].try_into().expect("64"));
        let key = VerifyingKey::from_bytes(&public_key).map_err(|_| broken("invalid key"))?;
        key.verify_strict(&bytes[..SIGNED_LEN], &signature)
            .map_err(|_| broken("signature does not verify (the file was altered)"))?;
        Ok(Anchor {
            entries,
            head,
            public_key,
        })
    }

    /// Reads the anchor of an audit directory; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Anchor>> {
        match std::fs::read(dir.join(ANCHOR_FILE)) {
            Ok(bytes) => Anchor::decode(&bytes).map(Some),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::AnchorInvalid(format!("cannot read: {err}"))),
        }
    }

    /// Atomically replaces the anchor of an audit directory (temp file, fsync, rename, fsync of
    /// the directory).
    pub fn write(dir: &Path, entries: u64, head: &[u8; 32], key: &SigningKey) -> Result<()> {
        write_atomically(dir, ANCHOR_FILE, &Anchor::encode(entries, head, key))
            .map_err(|err| Error::AuditUnavailable(format!("cannot write the anchor: {err}")))
    }
}

/// Keeps a running node's anchor current: the first write creates the file atomically
/// ([`Anchor::write`]), later ones rewrite it in place through the open file (one write within
/// a sector, one fdatasync; see the module documentation).
pub struct AnchorWriter {
    dir: PathBuf,
    file: Option<File>,
}

impl AnchorWriter {
    /// A writer for the anchor of audit directory `dir`.
    pub fn new(dir: &Path) -> AnchorWriter {
        AnchorWriter {
            dir: dir.to_path_buf(),
            file: None,
        }
    }

    /// Makes the anchor name `entries` and `head`, signed by `key`, durably.
    pub fn write(&mut self, entries: u64, head: &[u8; 32], key: &SigningKey) -> Result<()> {
        let bytes = Anchor::encode(entries, head, key);
        // The path must still name the open file (not deleted, not replaced by another), or
        // the rewrite would go where no reader looks.
        if let Some(file) = &self.file {
            use std::os::unix::fs::MetadataExt as _;
            let same = match (
                file.metadata(),
                std::fs::metadata(self.dir.join(ANCHOR_FILE)),
            ) {
                (Ok(open), Ok(named)) => (open.dev(), open.ino()) == (named.dev(), named.ino()),
                _ => false,
            };
            if !same {
                self.file = None;
            }
        }
        let result = match &self.file {
            Some(file) => file.write_all_at(&bytes, 0).and_then(|()| file.sync_data()),
            None => write_atomically(&self.dir, ANCHOR_FILE, &bytes).and_then(|()| {
                self.file = Some(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(self.dir.join(ANCHOR_FILE))?,
                );
                Ok(())
            }),
        };
        result.map_err(|err| {
            // Start over with an atomic replacement next time.
            self.file = None;
            Error::AuditUnavailable(format!("cannot write the anchor: {err}"))
        })
    }
}

/// Replaces `dir/name` with `bytes` so that a crash leaves the old file or the new one: write a
/// temporary file, fsync it, rename it over the old one, fsync the directory (the rename is only
/// durable once the directory is).
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = dir.join(format!("{name}.tmp"));
    {
        // 0600 whatever the process umask: anchors and the guard are the operator's only.
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temporary)?
        };
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_round_trips_and_any_flipped_bit_is_refused() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let bytes = Anchor::encode(7, &[1; 32], &key);
        let anchor = Anchor::decode(&bytes).unwrap();
        assert_eq!((anchor.entries, anchor.head), (7, [1; 32]));
        assert_eq!(anchor.public_key, key.verifying_key().to_bytes());
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(Anchor::decode(&flipped).is_err(), "bit {bit}");
        }
        assert!(Anchor::decode(&bytes[..ANCHOR_LEN - 1]).is_err());
    }

    #[test]
    fn the_running_writer_rewrites_the_anchor_in_place_and_each_version_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[4; 32]);
        let mut writer = AnchorWriter::new(dir.path());
        writer.write(1, &[1; 32], &key).unwrap();
        let inode = {
            use std::os::unix::fs::MetadataExt as _;
            std::fs::metadata(dir.path().join(ANCHOR_FILE))
                .unwrap()
                .ino()
        };
        for n in 2..50u64 {
            writer.write(n, &[n as u8; 32], &key).unwrap();
            let anchor = Anchor::read(dir.path()).unwrap().unwrap();
            assert_eq!((anchor.entries, anchor.head), (n, [n as u8; 32]));
        }
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(dir.path().join(ANCHOR_FILE)).unwrap();
        assert_eq!(
            (meta.ino(), meta.len()),
            (inode, ANCHOR_LEN as u64),
            "same file, same size"
        );
        assert!(!dir.path().join("anchor.tmp").exists());
        // Deleted or replaced under a running node: the next write creates it again.
        std::fs::remove_file(dir.path().join(ANCHOR_FILE)).unwrap();
        writer.write(50, &[50; 32], &key).unwrap();
        writer.write(51, &[51; 32], &key).unwrap();
        assert_eq!(Anchor::read(dir.path()).unwrap().unwrap().entries, 51);
        let other = SigningKey::from_bytes(&[5; 32]);
        write_atomically(
            dir.path(),
            ANCHOR_FILE,
            &Anchor::encode(9, &[9; 32], &other),
        )
        .unwrap();
        writer.write(52, &[52; 32], &key).unwrap();
        let anchor = Anchor::read(dir.path()).unwrap().unwrap();
        assert_eq!(
            (anchor.entries, anchor.public_key),
            (52, key.verifying_key().to_bytes())
        );
    }

    #[test]
    fn writing_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[3; 32]);
        assert_eq!(Anchor::read(dir.path()).unwrap(), None);
        Anchor::write(dir.path(), 1, &[2; 32], &key).unwrap();
        Anchor::write(dir.path(), 2, &[3; 32], &key).unwrap();
        assert_eq!(Anchor::read(dir.path()).unwrap().unwrap().entries, 2);
        assert!(!dir.path().join("anchor.tmp").exists());
    }
}
