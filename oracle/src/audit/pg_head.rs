//! Detecting a restored or rolled-back PostgreSQL database (SPEC.md §11.3).
//!
//! The database is not the source of trust: an operator who restores last week's backup, or a
//! failover to a lagging standby, silently hands the replicas an older chain, and they would
//! extend it, forking away every attestation issued since. Two checks, on every open, commit
//! and probe:
//!
//! - **The head row is signed by the node key** over `"tollgate-audit-head-v1" ‖ entries (u64
//!   LE) ‖ head (32)`: a head written outside the node (or by another key) is refused.
//! - **Each replica remembers the highest head it has seen** in `DATA_DIR/audit-head-seen`
//!   (0600, written to a temporary file, fsynced, renamed, directory fsynced, after each commit
//!   and at open): a database whose head has fewer entries, or the same count with another
//!   hash, is older than what this replica saw, and is refused. At open the entry just before
//!   the remembered count must also still hash to it (a restored database that grew again on
//!   another branch).
//!
//! Either refusal is [`Error::AnchorMismatch`]: the node does not start, or, found at a
//! commit, the commit fails (503) and readiness stays 503 until the database is right.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// File name, in the data dir, of the highest head a replica has seen.
pub const SEEN_FILE: &str = "audit-head-seen";

const HEAD_DOMAIN: &[u8] = b"tollgate-audit-head-v1";

/// The bytes the node key signs for a head row.
pub fn head_message(entries: u64, head: &[u8; 32]) -> Vec<u8> {
    let mut message = Vec::with_capacity(HEAD_DOMAIN.len() + 40);
    message.extend_from_slice(HEAD_DOMAIN);
    message.extend_from_slice(&entries.to_le_bytes());
    message.extend_from_slice(head);
    message
}

/// The node key's signature of a head row.
pub fn sign_head(key: &SigningKey, entries: u64, head: &[u8; 32]) -> Vec<u8> {
    key.sign(&head_message(entries, head)).to_bytes().to_vec()
}

/// Checks a head row's signature. An unsigned row is accepted only for the empty chain (a
/// fresh database); [`PgBackend`](super::postgres::PgBackend) signs it at open otherwise
/// (a database of schema 1, before signatures).
pub fn check_head_signature(
    key: &VerifyingKey,
    entries: u64,
    head: &[u8; 32],
    signature: Option<&[u8]>,
) -> Result<()> {
    let Some(signature) = signature else {
        return Ok(());
    };
    let valid = Signature::from_slice(signature).ok().is_some_and(|sig| {
        key.verify_strict(&head_message(entries, head), &sig)
            .is_ok()
    });
    if valid {
        Ok(())
    } else {
        Err(Error::AnchorMismatch(format!(
            "the audit head row ({entries} entries) is not signed by this node's key: it was written outside the node or by another key. Do not sign from this database: restore it from a backup the replicas wrote, or check which key the replicas use"
        )))
    }
}

/// A head the operator vouches for, `ENTRIES:HASH` (`serve --trust-head`, TOML `trust_head`,
/// `TOLLGATE_TRUST_HEAD`): the value `tollgate-oracle audit head --store …` and `migrate` print.
/// It stands in for `audit-head-seen` on a replica that has seen nothing yet, so a fresh data
/// dir refuses a database older than the pin, or on another branch, as a seen head would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrustedHead {
    /// Entries in the chain at the pinned head.
    pub entries: u64,
    /// Hash of entry `entries - 1` ([`GENESIS`](super::format::GENESIS) for an empty chain, the
    /// default).
    pub head: [u8; 32],
}

impl std::str::FromStr for TrustedHead {
    type Err = Error;

    /// Parses `ENTRIES:HASH` (decimal entries, 64 hex digits). Each way of getting it wrong has
    /// its own [`Error::Config`] message.
    fn from_str(text: &str) -> Result<TrustedHead> {
        let bad = |why: String| {
            Error::Config(format!(
                "trust_head `{text}`: {why} (expected ENTRIES:HASH, as `tollgate-oracle audit head --store …` prints it)"
            ))
        };
        let (entries, hash) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| bad("no `:` between the entries and the hash".into()))?;
        if entries.is_empty() || !entries.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!(
                "the entries `{entries}` are not a decimal count"
            )));
        }
        let entries: u64 = entries
            .parse()
            .map_err(|_| bad(format!("the entries `{entries}` are too large")))?;
        let bytes = hex::decode(hash).map_err(|_| bad(format!("the hash `{hash}` is not hex")))?;
        let head: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            bad(format!(
                "the hash is {} bytes, not 32 (64 hex digits)",
                bytes.len()
            ))
        })?;
        if entries == 0 && head != super::format::GENESIS {
            return Err(bad(
                "an empty chain (0 entries) has the genesis hash (64 zeros)".into(),
            ));
        }
        Ok(TrustedHead { entries, head })
    }
}

impl std::fmt::Display for TrustedHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.entries, hex::encode(self.head))
    }
}

impl<'de> Deserialize<'de> for TrustedHead {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a database's head stands against a head a replica trusts (seen or pinned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The database holds the trusted head: equal, or grown from it.
    Holds,
    /// Fewer entries, or as many with another hash: rolled back.
    Older,
    /// More entries, but the entry at the trusted head's position has another hash: restored
    /// and grown again on another branch.
    OtherBranch,
}

/// Whether a database head is older than `trusted`: fewer entries, or as many with another
/// hash.
fn is_older(entries: u64, head: &[u8; 32], trusted: (u64, [u8; 32])) -> bool {
    entries < trusted.0 || (entries == trusted.0 && *head != trusted.1)
}

/// Judges a database head (`entries`, `head`) against `trusted`; `hash_at(seq)` reads an
/// entry's stored hash (asked only when the database has grown past the trusted head).
pub fn standing(
    entries: u64,
    head: &[u8; 32],
    trusted: (u64, [u8; 32]),
    hash_at: impl FnOnce(u64) -> Result<Option<[u8; 32]>>,
) -> Result<Standing> {
    let (trusted_entries, trusted_head) = trusted;
    if is_older(entries, head, trusted) {
        return Ok(Standing::Older);
    }
    if trusted_entries > 0
        && trusted_entries < entries
        && hash_at(trusted_entries - 1)? != Some(trusted_head)
    {
        return Ok(Standing::OtherBranch);
    }
    Ok(Standing::Holds)
}

/// The refusal of a replica with nothing to compare a non-empty database with: no seen head,
/// no pin. A database restored from an old backup would look just like this one.
pub fn untrusted(seen_file: &Path, entries: u64, head: &[u8; 32]) -> Error {
    Error::AnchorMismatch(format!(
        "this replica has not seen this database before ({} is missing) and no trusted head is pinned, so it cannot tell the database's audit chain ({entries} entries, head {}) from one restored from an old backup. Read the newest head with `tollgate-oracle audit head --store postgres://…` while the other replicas serve (or from a running replica's `tollgate-oracle audit head --data-dir DIR`, or the end of `migrate`'s output), check it against what they have seen, and start this replica with --trust-head ENTRIES:HASH (TOML `trust_head`, TOLLGATE_TRUST_HEAD)",
        seen_file.display(),
        hex::encode(head)
    ))
}

/// The refusal of a database that does not hold the pinned head.
pub fn pin_refused(pin: &TrustedHead, entries: u64, standing: Standing) -> Error {
    let what = match standing {
        Standing::Older => format!(
            "the database's audit chain ({entries} entries) is older than the pinned head (trust_head {pin}): it was restored from a backup or rolled back"
        ),
        _ => format!(
            "the database's audit chain ({entries} entries) does not hold the pinned head (trust_head {pin}, entry {}): it was restored from a backup and grew again on another branch",
            pin.entries.saturating_sub(1)
        ),
    };
    Error::AnchorMismatch(format!(
        "{what}. Bring back the newest database, or pin the head the running replicas have seen (`tollgate-oracle audit head`)"
    ))
}

/// The highest head this replica has seen, kept in its data dir.
#[derive(Debug)]
pub struct SeenHead {
    path: PathBuf,
    /// (entries, head) last recorded.
    pub seen: Option<(u64, [u8; 32])>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeenFile {
    entries: u64,
    head: String,
}

impl SeenHead {
    /// Reads `DATA_DIR/audit-head-seen` (none yet is fine; a damaged one is refused).
    pub fn load(data_dir: &Path) -> Result<SeenHead> {
        let path = data_dir.join(SEEN_FILE);
        let seen = match std::fs::read(&path) {
            Ok(bytes) => {
                let damaged = || {
                    Error::Corrupt(format!(
                        "{} is damaged: remove it only if you are sure the database is the newest (the check against a rolled-back database starts over)",
                        path.display()
                    ))
                };
                let file: SeenFile = serde_json::from_slice(&bytes).map_err(|_| damaged())?;
                let head: [u8; 32] = hex::decode(&file.head)
                    .ok()
                    .and_then(|h| h.try_into().ok())
                    .ok_or_else(damaged)?;
                Some((file.entries, head))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(err.into()),
        };
        Ok(SeenHead { path, seen })
    }

    /// The file this head is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses a database head older than what was seen: fewer entries, or as many with
    /// another hash.
    pub fn check(&self, entries: u64, head: &[u8; 32]) -> Result<()> {
        let Some(seen) = self.seen else {
            return Ok(());
        };
        if is_older(entries, head, seen) {
            return Err(Error::AnchorMismatch(format!(
                "the database's audit chain ({entries} entries) is older than this replica has seen ({} entries, recorded in {}): the database was restored from a backup or rolled back (a failover to a lagging standby?). Bring back the newest database; if the rollback is intended, stop every replica and remove this file on each (attestations after entry {entries} are then gone from the chain)",
                seen.0,
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Records a newer head durably (nothing for an older or equal one).
    pub fn record(&mut self, entries: u64, head: &[u8; 32]) -> Result<()> {
        if self.seen.is_some_and(|(e, _)| e >= entries) {
            return Ok(());
        }
        use std::os::unix::fs::OpenOptionsExt as _;
        let tmp = self.path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        let body = serde_json::to_vec(&SeenFile {
            entries,
            head: hex::encode(head),
        })
        .map_err(|err| Error::Store(format!("json: {err}")))?;
        file.write_all(&body)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        self.seen = Some((entries, *head));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_signed_by_another_key_or_altered_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let head = [3u8; 32];
        let sig = sign_head(&key, 5, &head);
        let public = key.verifying_key();
        check_head_signature(&public, 5, &head, Some(&sig)).unwrap();
        check_head_signature(&public, 5, &head, None).unwrap();
        for (entries, head) in [(4, head), (5, [4u8; 32])] {
            assert!(matches!(
                check_head_signature(&public, entries, &head, Some(&sig)),
                Err(Error::AnchorMismatch(_))
            ));
        }
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(check_head_signature(&other, 5, &head, Some(&sig)).is_err());
        assert!(check_head_signature(&public, 5, &head, Some(b"short")).is_err());
    }

    #[test]
    fn a_trusted_head_parses_from_entries_and_hash_and_each_malformed_kind_is_refused() {
        let hash = "9f".repeat(32);
        let pin: TrustedHead = format!("42:{hash}").parse().unwrap();
        assert_eq!((pin.entries, pin.head), (42, [0x9f; 32]));
        assert_eq!(pin.to_string(), format!("42:{hash}"), "prints as it parses");
        assert_eq!(format!(" 42:{hash}\n").parse::<TrustedHead>().unwrap(), pin);
        let empty: TrustedHead = format!("0:{}", "0".repeat(64)).parse().unwrap();
        assert_eq!(empty, TrustedHead::default());
        for (text, why) in [
            (hash.clone(), "no `:`"),
            (format!(":{hash}"), "not a decimal count"),
            (format!("-1:{hash}"), "not a decimal count"),
            (format!("4x:{hash}"), "not a decimal count"),
            (format!("99999999999999999999:{hash}"), "too large"),
            ("42:zz".to_string(), "not hex"),
            (format!("42:{hash}0"), "not hex"),
            (format!("42:{}", "9f".repeat(31)), "31 bytes, not 32"),
            ("42:".to_string(), "0 bytes, not 32"),
            (format!("0:{hash}"), "genesis hash"),
        ] {
            match text.parse::<TrustedHead>() {
                Err(Error::Config(what)) => {
                    assert!(what.contains(why), "{text}: {what}");
                    assert!(what.contains("audit head --store"), "says where to get one");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_standing_of_a_database_against_a_trusted_head() {
        let trusted = (5, [5u8; 32]);
        let never = |_| -> Result<Option<[u8; 32]>> { panic!("no lookup needed") };
        assert_eq!(
            standing(5, &[5; 32], trusted, never).unwrap(),
            Standing::Holds
        );
        assert_eq!(
            standing(4, &[5; 32], trusted, never).unwrap(),
            Standing::Older
        );
        assert_eq!(
            standing(5, &[6; 32], trusted, never).unwrap(),
            Standing::Older
        );
        // Grown past it: the entry at its position decides.
        let at = |hash: [u8; 32]| {
            move |seq| {
                assert_eq!(seq, 4);
                Ok(Some(hash))
            }
        };
        assert_eq!(
            standing(9, &[9; 32], trusted, at([5; 32])).unwrap(),
            Standing::Holds
        );
        assert_eq!(
            standing(9, &[9; 32], trusted, at([7; 32])).unwrap(),
            Standing::OtherBranch
        );
        assert_eq!(
            standing(9, &[9; 32], trusted, |_| Ok(None)).unwrap(),
            Standing::OtherBranch,
            "an entry missing at its position"
        );
        // The empty chain is held by every chain.
        assert_eq!(
            standing(9, &[9; 32], (0, [0; 32]), never).unwrap(),
            Standing::Holds
        );
    }

    #[test]
    fn the_seen_head_survives_a_reload_and_refuses_an_older_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = SeenHead::load(dir.path()).unwrap();
        seen.check(0, &[0; 32]).unwrap();
        seen.record(10, &[1; 32]).unwrap();
        seen.record(9, &[2; 32]).unwrap(); // older: ignored
        let seen = SeenHead::load(dir.path()).unwrap();
        assert_eq!(seen.seen, Some((10, [1; 32])));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(SEEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        seen.check(10, &[1; 32]).unwrap();
        seen.check(11, &[9; 32]).unwrap();
        for (entries, head) in [(9, [1; 32]), (10, [2; 32])] {
            assert!(matches!(
                seen.check(entries, &head),
                Err(Error::AnchorMismatch(what)) if what.contains("older than this replica has seen")
            ));
        }
        std::fs::write(dir.path().join(SEEN_FILE), b"{").unwrap();
        assert!(matches!(SeenHead::load(dir.path()), Err(Error::Corrupt(_))));
    }
}
