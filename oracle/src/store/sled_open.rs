//! Opening a sled database: one place that tells a lock held by someone else from damage.
//!
//! sled 0.34 releases its `flock` on the database only when its background flusher thread
//! exits, which `Drop` does not wait for (spacejam/sled#1234, #1289). A database closed a
//! moment ago in the same process — a node shut down and reopened, a command after a test's
//! node — can still be locked for a few milliseconds, longer on a busy machine. So a lock
//! conflict is retried for a bounded time and then reported as one ("is another node using this
//! data dir?"), never as corruption; anything else sled refuses, or panics on, is damage.

use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long a lock held by a database that is still closing is waited for.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Opens the sled database at `path`; `what` names it in errors ("the store", "the change feed").
///
/// A lock still held after [`LOCK_WAIT`] gives [`Error::Store`]; a database sled cannot read
/// (an error or a panic while recovering) gives [`Error::Corrupt`].
pub fn open(path: &Path, what: &str) -> Result<sled::Db> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        // sled may panic on some forms of corruption; report it as damage instead.
        let opened = std::panic::catch_unwind(|| sled::Config::new().path(path).open());
        match opened {
            Ok(Ok(db)) => return Ok(db),
            Ok(Err(sled::Error::Io(err))) if is_lock_conflict(&err) => {
                if started.elapsed() >= LOCK_WAIT {
                    return Err(Error::Store(format!(
                        "{what} at {} is locked ({err}); is another node or command using this data dir?",
                        path.display()
                    )));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Ok(Err(err)) => {
                return Err(Error::Corrupt(format!("sled cannot open {what}: {err}")));
            }
            Err(_) => {
                return Err(Error::Corrupt(format!(
                    "{what} is corrupt (sled could not recover it)"
                )));
            }
        }
    }
}

/// sled 0.34 reports a failed `flock` as `ErrorKind::Other` with the OS error only in its
/// text (config.rs: "could not acquire lock on …: Os { … WouldBlock … }").
fn is_lock_conflict(err: &std::io::Error) -> bool {
    err.kind() == ErrorKind::WouldBlock
        || (err.kind() == ErrorKind::Other && err.to_string().starts_with("could not acquire lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_held_by_an_open_database_is_reported_as_a_lock_not_as_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let held = open(&path, "the store").unwrap();
        let started = Instant::now();
        let err = open(&path, "the store").unwrap_err();
        assert!(
            matches!(err, Error::Store(ref why) if why.contains("locked")),
            "{err}"
        );
        assert!(started.elapsed() >= LOCK_WAIT);
        drop(held);
    }

    #[test]
    fn a_database_closed_a_moment_ago_opens_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        for round in 0..20u32 {
            let db = open(&path, "the store").unwrap();
            db.insert(b"round", &round.to_be_bytes()).unwrap();
            db.flush().unwrap();
            drop(db);
        }
        let db = open(&path, "the store").unwrap();
        assert_eq!(
            db.get(b"round").unwrap().unwrap().as_ref(),
            19u32.to_be_bytes()
        );
    }
}
