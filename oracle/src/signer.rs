//! The node's ed25519 signing key: key files, the environment, and the development key.
//!
//! A key file holds the 32-byte seed in hex on its one non-comment line. It must be mode 0600
//! (or stricter): the node refuses a key file that its group or others can read or write, since
//! anyone who reads it can sign attestations in the node's name.
//!
//! Where the key comes from, in order: `key_file` from the configuration; the
//! `TOLLGATE_SIGNING_KEY` environment variable (hex seed); else a development key in the data
//! directory, generated on first start and announced with a loud warning on every start.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use tollgate_sdk::EncodedAttestation;

use crate::config::Config;
use crate::error::{Error, Result};

/// Environment variable that may hold the signing key's hex seed.
pub const KEY_ENV: &str = "TOLLGATE_SIGNING_KEY";

/// File name of the development key inside the data directory.
pub const DEV_KEY_FILE: &str = "dev-signing.key";

/// Where the key was loaded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// A key file named in the configuration.
    File(PathBuf),
    /// The `TOLLGATE_SIGNING_KEY` environment variable.
    Environment,
    /// The development key in the data directory. Not for production.
    Development(PathBuf),
}

/// The node's signing identity: key, signer index and epoch.
pub struct Signer {
    key: SigningKey,
    public: VerifyingKey,
    /// Index in the signer set.
    pub index: u8,
    /// The signer set's epoch.
    pub epoch: u32,
    /// Where the key came from.
    pub origin: KeyOrigin,
}

impl Signer {
    /// A signer from a key.
    pub fn new(key: SigningKey, index: u8, epoch: u32, origin: KeyOrigin) -> Self {
        let public = key.verifying_key();
        Signer {
            key,
            public,
            index,
            epoch,
            origin,
        }
    }

    /// Loads the key the configuration names (see the module docs for the order), creating the
    /// data dir's development key when it names none.
    pub fn load(config: &Config) -> Result<Signer> {
        Signer::configured(config, true)?
            .ok_or_else(|| Error::Key("no signing key was created".into()))
    }

    /// [`Signer::load`] for commands that only read: `None` instead of creating a development
    /// key when the configuration names no key and the data dir holds none.
    pub fn load_existing(config: &Config) -> Result<Option<Signer>> {
        Signer::configured(config, false)
    }

    fn configured(config: &Config, create_development_key: bool) -> Result<Option<Signer>> {
        let (key, origin) = if let Some(path) = &config.key_file {
            (read_key_file(path)?, KeyOrigin::File(path.clone()))
        } else if let Ok(hex_seed) = std::env::var(KEY_ENV) {
            (
                parse_seed(&hex_seed)
                    .map_err(|reason| Error::Key(format!("{KEY_ENV}: {reason}")))?,
                KeyOrigin::Environment,
            )
        } else {
            let path = config.data_dir.join(DEV_KEY_FILE);
            if !path.exists() {
                if !create_development_key {
                    return Ok(None);
                }
                crate::node::create_private_dir(&config.data_dir)?;
                write_key_file(&path, &SigningKey::generate(&mut OsRng), false)?;
            }
            (read_key_file(&path)?, KeyOrigin::Development(path))
        };
        Ok(Some(Signer::new(
            key,
            config.signer_index,
            config.epoch,
            origin,
        )))
    }

    /// The public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The public key in hex.
    pub fn public_key_hex(&self) -> String {
        tollgate_sdk::hex_string(self.public.as_bytes())
    }

    /// Signs an attestation's hash.
    pub fn sign(&self, attestation: &EncodedAttestation) -> Signature {
        attestation.sign(&self.key)
    }

    /// The key for signing the audit anchor (`audit::anchor`), which the anchor thread holds.
    /// Anchor messages are 49 bytes, never a 32-byte attestation hash, so the two uses of the
    /// key cannot be confused.
    pub fn anchor_key(&self) -> SigningKey {
        self.key.clone()
    }
}

/// Writes a new key file with mode 0600; refuses to overwrite unless `force`.
pub fn write_key_file(path: &Path, key: &SigningKey, force: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options
        .open(path)
        .map_err(|err| Error::Key(format!("cannot create {}: {err}", path.display())))?;
    // `mode` only applies to new files: tighten an existing one we overwrite.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(
        file,
        "# tollgate-oracle signing key: ed25519 seed in hex. Keep it secret (mode 0600)."
    )?;
    writeln!(
        file,
        "# public key: {}",
        hex::encode(key.verifying_key().as_bytes())
    )?;
    writeln!(file, "{}", hex::encode(key.to_bytes()))?;
    file.sync_all()?;
    Ok(())
}

/// Reads a secret file (a key, a token), refusing one that group or others may access: a
/// secret others can read is no longer a secret.
pub fn read_private_file(path: &Path) -> Result<String> {
    let metadata = std::fs::metadata(path)
        .map_err(|err| Error::Key(format!("cannot read {}: {err}", path.display())))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Key(format!(
            "{} has mode {mode:o}: readable or writable by others; run `chmod 600` on it",
            path.display()
        )));
    }
    std::fs::read_to_string(path)
        .map_err(|err| Error::Key(format!("cannot read {}: {err}", path.display())))
}

/// Reads a key file, refusing one that group or others may access.
pub fn read_key_file(path: &Path) -> Result<SigningKey> {
    let text = read_private_file(path)?;
    let seed = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap_or("");
    parse_seed(seed).map_err(|reason| Error::Key(format!("{}: {reason}", path.display())))
}

fn parse_seed(text: &str) -> std::result::Result<SigningKey, &'static str> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed)
        .map_err(|_| "expected a 32-byte ed25519 seed as 64 hex digits")?;
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_0600_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = SigningKey::generate(&mut OsRng);
        write_key_file(&path, &key, false).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_key_file(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(
            write_key_file(&path, &key, false).is_err(),
            "no silent overwrite"
        );
        write_key_file(&path, &key, true).unwrap();
    }

    #[test]
    fn a_key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        write_key_file(&path, &SigningKey::generate(&mut OsRng), false).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn the_development_key_is_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        // The test must not depend on the environment of the machine running it.
        if std::env::var(KEY_ENV).is_ok() {
            return;
        }
        let first = Signer::load(&config).unwrap();
        let again = Signer::load(&config).unwrap();
        assert!(matches!(first.origin, KeyOrigin::Development(_)));
        assert_eq!(first.public_key(), again.public_key());
    }
}
