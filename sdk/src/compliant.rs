//! The compliant jetton's `custom_payload` (SPEC.md §16): a root-signed signer certificate and
//! the sender's attestation, as an unmodified wallet app fetches it (TEP-176) and carries it.
//!
//! ```tlb
//! signer_certificate#e0adde86 network:int32 minter:MsgAddressInt valid_until:uint32 max_risk:uint8
//!     forbidden:uint32 max_skew:uint32 signers:SignerSet = SignerCertificate;
//! compliance_auth#16b70dce root_signature:bits512 certificate:^SignerCertificate
//!     attestation:^Attestation signatures:^SignatureEntry = ComplianceAuth;
//! ```
//!
//! The issuer's root key (kept cold; the minter and every wallet carry its public key) signs
//! the certificate cell's representation hash. The certificate names one minter on one network,
//! the signer set whose attestations count and the screening policy, until `valid_until`. The
//! attestation's verifier is the minter, its subject the sending wallet's owner, its network the
//! certificate's, its epoch the certificate's signer-set epoch.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use tonlib_core::cell::{ArcCell, Cell, CellBuilder};

use crate::address::ADDR_STD_BITS;
use crate::attestation::{hash_of, load_address, store_address};
use crate::codes::tag;
use crate::error::{Error, Result};
use crate::{boc, Address, AttestationProof, Categories, Network, SignatureBundle, SignerSet};

/// Data bits of a certificate cell: tag, network, minter, valid_until, max_risk, forbidden,
/// max_skew and the inline signer set (epoch, threshold, count).
pub const CERTIFICATE_BITS: usize = 32 + 32 + ADDR_STD_BITS + 32 + 8 + 32 + 32 + 48;
/// Data bits of a `ComplianceAuth` cell: tag and the root signature.
pub const AUTH_BITS: usize = 32 + 512;

/// What the root key certifies for one minter on one network until `valid_until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerCertificate {
    /// The chain's `global_id` the certificate is valid on.
    pub network: Network,
    /// The compliant jetton's minter: the attestations' verifier.
    pub minter: Address,
    /// Last unix second the certificate is valid in.
    pub valid_until: u32,
    /// Highest risk an admitted sender may have.
    pub max_risk: u8,
    /// Categories an admitted sender must not have.
    pub forbidden: Categories,
    /// How far an attestation's `issued_at` may lie in the future (clock skew), seconds.
    pub max_skew: u32,
    /// The signer set whose attestations count, and its threshold.
    pub signers: SignerSet,
}

impl SignerCertificate {
    /// The `SignerCertificate` cell.
    pub fn to_cell(&self) -> Result<ArcCell> {
        let mut builder = CellBuilder::new();
        builder
            .store_u32(32, tag::SIGNER_CERTIFICATE)?
            .store_i32(32, self.network.global_id())?;
        store_address(&mut builder, &self.minter)?;
        builder
            .store_u32(32, self.valid_until)?
            .store_u8(8, self.max_risk)?
            .store_u32(32, self.forbidden.0)?
            .store_u32(32, self.max_skew)?;
        self.signers.store(&mut builder)?;
        Ok(builder.build()?.to_arc())
    }

    /// The certificate cell's representation hash: what the root key signs.
    pub fn hash(&self) -> Result<[u8; 32]> {
        Ok(hash_of(&*self.to_cell()?))
    }

    /// Decodes a certificate cell strictly: the tag, exactly [`CERTIFICATE_BITS`] bits and one
    /// ref, an `addr_std` minter, `max_risk <= 100` and a valid signer set.
    pub fn from_cell(cell: &Cell) -> Result<Self> {
        boc::ordinary(cell)?;
        let (bits, refs) = (cell.bit_len(), cell.references().len());
        check_tag(cell, tag::SIGNER_CERTIFICATE)?;
        if bits != CERTIFICATE_BITS || refs != 1 {
            return Err(Error::MalformedCompliance {
                what: "signer certificate",
                bits,
                refs,
                expected: "483 bits and one ref",
            });
        }
        let mut parser = cell.parser();
        parser.skip_bits(32)?;
        let network = Network(parser.load_i32(32)?);
        let minter = load_address(&mut parser, "minter")?;
        let valid_until = parser.load_u32(32)?;
        let max_risk = parser.load_u8(8)?;
        if max_risk > crate::attestation::MAX_RISK {
            return Err(Error::RiskOutOfRange(max_risk));
        }
        let forbidden = Categories(parser.load_u32(32)?);
        let max_skew = parser.load_u32(32)?;
        let signers = SignerSet::load(&mut parser, cell.reference(0)?)?;
        Ok(SignerCertificate {
            network,
            minter,
            valid_until,
            max_risk,
            forbidden,
            max_skew,
            signers,
        })
    }

    /// Decodes a base64 BoC holding one certificate.
    pub fn from_boc_base64(text: &str) -> Result<Self> {
        Self::from_cell(&*boc::from_base64(text)?)
    }

    /// The certificate as a base64 BoC.
    pub fn to_boc_base64(&self) -> Result<String> {
        boc::to_base64(&self.to_cell()?)
    }

    /// The root key's signature over the certificate's hash.
    pub fn sign(&self, root: &SigningKey) -> Result<Signature> {
        Ok(root.sign(&self.hash()?))
    }

    /// Verifies the root key's signature strictly; [`Error::CertificateSignature`] otherwise.
    pub fn verify(&self, root: &VerifyingKey, signature: &Signature) -> Result<()> {
        if root.is_weak() {
            return Err(Error::InvalidPublicKey(
                "the root key has small order".into(),
            ));
        }
        root.verify_strict(&self.hash()?, signature)
            .map_err(|_| Error::CertificateSignature)
    }

    /// [`Error::CertificateExpired`] when `now` is after `valid_until`.
    pub fn check_current(&self, now: u32) -> Result<()> {
        if self.valid_until < now {
            return Err(Error::CertificateExpired {
                valid_until: self.valid_until,
                now,
            });
        }
        Ok(())
    }

    /// Whether a compliant wallet holding this certificate would accept `proof` at `now` from a
    /// wallet whose owner is `owner`: verifier = minter, subject = owner, the certificate's
    /// network and epoch, the attestation current and not issued beyond `max_skew` ahead, its
    /// risk and categories within the policy, at least `threshold` valid signatures.
    ///
    /// Errors: [`Error::ProofMismatch`] (party `sender`) for a wrong field,
    /// [`Error::ProofExpired`], [`Error::OverPolicy`] with the reason, and the bundle's own
    /// verification errors.
    pub fn admits(&self, proof: &AttestationProof, owner: &Address, now: u32) -> Result<()> {
        let a = &proof.attestation;
        let mismatch = |field, expected: String, found: String| Error::ProofMismatch {
            party: "sender",
            field,
            expected,
            found,
        };
        if a.verifier != self.minter {
            return Err(mismatch(
                "verifier",
                self.minter.to_string(),
                a.verifier.to_string(),
            ));
        }
        if a.subject != *owner {
            return Err(mismatch(
                "subject",
                owner.to_string(),
                a.subject.to_string(),
            ));
        }
        if a.network != self.network {
            return Err(mismatch(
                "network",
                self.network.to_string(),
                a.network.to_string(),
            ));
        }
        if a.epoch != self.signers.epoch {
            return Err(mismatch(
                "epoch",
                self.signers.epoch.to_string(),
                a.epoch.to_string(),
            ));
        }
        if a.valid_until < now {
            return Err(Error::ProofExpired {
                valid_until: a.valid_until,
                now,
            });
        }
        if a.issued_at > now.saturating_add(self.max_skew) {
            return Err(Error::OverPolicy(format!(
                "issued at {} is more than {} s after now ({now})",
                a.issued_at, self.max_skew
            )));
        }
        self.policy_refusal(a.risk, a.categories)
            .map_or(Ok(()), |reason| Err(Error::OverPolicy(reason)))?;
        proof.verify(&self.signers.keys, usize::from(self.signers.threshold))
    }

    /// Why the policy refuses a subject with this risk and these categories, or `None`: what a
    /// payload API checks before it hands out an auth the wallet would refuse.
    pub fn policy_refusal(&self, risk: u8, categories: Categories) -> Option<String> {
        if risk > self.max_risk {
            return Some(format!(
                "risk {risk} is above the maximum {}",
                self.max_risk
            ));
        }
        let hit = Categories(categories.0 & self.forbidden.0);
        if !hit.is_empty() {
            return Some(format!("forbidden categories: {}", hit.names().join(", ")));
        }
        None
    }
}

/// What a compliant jetton transfer carries in `custom_payload`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplianceAuth {
    /// The root key's signature over [`SignerCertificate::hash`].
    pub root_signature: Signature,
    /// The certificate.
    pub certificate: SignerCertificate,
    /// The sender's attestation and its signatures.
    pub proof: AttestationProof,
}

impl ComplianceAuth {
    /// The `ComplianceAuth` cell: tag, root signature and three refs.
    pub fn to_cell(&self) -> Result<ArcCell> {
        let mut builder = CellBuilder::new();
        builder
            .store_u32(32, tag::COMPLIANCE_AUTH)?
            .store_slice(&self.root_signature.to_bytes())?
            .store_reference(&self.certificate.to_cell()?)?
            .store_reference(&self.proof.attestation.to_cell()?.to_arc())?
            .store_reference(&self.proof.bundle.to_cell()?)?;
        Ok(builder.build()?.to_arc())
    }

    /// Decodes a `ComplianceAuth` cell strictly (tag, exactly 544 bits and three refs, each ref
    /// decoded strictly). It does not verify signatures: see [`ComplianceAuth::verify`].
    pub fn from_cell(cell: &Cell) -> Result<Self> {
        boc::ordinary(cell)?;
        let (bits, refs) = (cell.bit_len(), cell.references().len());
        check_tag(cell, tag::COMPLIANCE_AUTH)?;
        if bits != AUTH_BITS || refs != 3 {
            return Err(Error::MalformedCompliance {
                what: "compliance auth",
                bits,
                refs,
                expected: "544 bits and three refs",
            });
        }
        let mut parser = cell.parser();
        parser.skip_bits(32)?;
        let mut signature = [0u8; 64];
        parser.load_slice(&mut signature)?;
        Ok(ComplianceAuth {
            root_signature: Signature::from_bytes(&signature),
            certificate: SignerCertificate::from_cell(cell.reference(0)?)?,
            proof: AttestationProof {
                attestation: crate::Attestation::from_cell(cell.reference(1)?)?,
                bundle: SignatureBundle::from_cell(cell.reference(2)?)?,
            },
        })
    }

    /// Decodes a base64 BoC holding one auth.
    pub fn from_boc_base64(text: &str) -> Result<Self> {
        Self::from_cell(&*boc::from_base64(text)?)
    }

    /// The auth as a base64 BoC.
    pub fn to_boc_base64(&self) -> Result<String> {
        boc::to_base64(&self.to_cell()?)
    }

    /// Everything a compliant wallet of `minter` on `network` with root key `root` checks when
    /// `owner` sends at `now`: the root signature, the certificate current and for this minter
    /// and network, then [`SignerCertificate::admits`].
    pub fn verify(
        &self,
        root: &VerifyingKey,
        minter: &Address,
        network: Network,
        owner: &Address,
        now: u32,
    ) -> Result<()> {
        let c = &self.certificate;
        c.verify(root, &self.root_signature)?;
        if c.network != network {
            return Err(Error::CertificateMismatch {
                field: "network",
                expected: network.to_string(),
                found: c.network.to_string(),
            });
        }
        if c.minter != *minter {
            return Err(Error::CertificateMismatch {
                field: "minter",
                expected: minter.to_string(),
                found: c.minter.to_string(),
            });
        }
        c.check_current(now)?;
        c.admits(&self.proof, owner, now)
    }
}

/// A certificate with its root signature: what `tollgate cert issue` writes and a node's
/// payload API reads (`[jetton_payload] certificate`). The BoC and the signature are
/// authoritative; the other fields repeat them for people.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertificateFile {
    /// The certificate cell, base64 BoC.
    pub certificate: String,
    /// Its representation hash, hex.
    pub hash: String,
    /// The root key's signature over the hash, hex.
    pub root_signature: String,
    /// The root public key, hex.
    pub root_public_key: String,
}

/// A decoded, verified [`CertificateFile`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCertificate {
    /// The certificate.
    pub certificate: SignerCertificate,
    /// The root signature over it.
    pub root_signature: Signature,
    /// The root public key it verifies under.
    pub root: VerifyingKey,
}

impl SignedCertificate {
    /// Signs `certificate` with the root key.
    pub fn issue(certificate: SignerCertificate, root: &SigningKey) -> Result<Self> {
        let root_signature = certificate.sign(root)?;
        Ok(SignedCertificate {
            certificate,
            root_signature,
            root: root.verifying_key(),
        })
    }

    /// The file form.
    pub fn to_file(&self) -> Result<CertificateFile> {
        Ok(CertificateFile {
            certificate: self.certificate.to_boc_base64()?,
            hash: hex::encode(self.certificate.hash()?),
            root_signature: hex::encode(self.root_signature.to_bytes()),
            root_public_key: hex::encode(self.root.as_bytes()),
        })
    }

    /// Reads the file form: decodes the certificate strictly and verifies the root signature
    /// under the key the file names (or [`Error::CertificateSignature`]). The `hash` field must
    /// match the BoC ([`Error::InvalidEncoding`] otherwise), so an edited file is refused.
    pub fn from_file(file: &CertificateFile) -> Result<Self> {
        let certificate = SignerCertificate::from_boc_base64(&file.certificate)?;
        let signature: [u8; 64] = decode_hex(&file.root_signature, "root_signature")?;
        let key: [u8; 32] = decode_hex(&file.root_public_key, "root_public_key")?;
        let root = VerifyingKey::from_bytes(&key).map_err(|_| {
            Error::InvalidPublicKey("root_public_key is not an ed25519 point".into())
        })?;
        if hex::encode(certificate.hash()?) != file.hash.to_ascii_lowercase() {
            return Err(Error::InvalidEncoding {
                encoding: "hex",
                reason: "`hash` is not the certificate's hash".into(),
            });
        }
        let root_signature = Signature::from_bytes(&signature);
        certificate.verify(&root, &root_signature)?;
        Ok(SignedCertificate {
            certificate,
            root_signature,
            root,
        })
    }

    /// Wraps `proof` into the auth, after checking a wallet would accept it from `owner` at
    /// `now` (certificate current, [`SignerCertificate::admits`]).
    pub fn authorize(
        &self,
        proof: AttestationProof,
        owner: &Address,
        now: u32,
    ) -> Result<ComplianceAuth> {
        self.certificate.check_current(now)?;
        self.certificate.admits(&proof, owner, now)?;
        Ok(ComplianceAuth {
            root_signature: self.root_signature,
            certificate: self.certificate.clone(),
            proof,
        })
    }
}

fn decode_hex<const N: usize>(text: &str, field: &str) -> Result<[u8; N]> {
    let bytes = hex::decode(text).map_err(|e| Error::InvalidEncoding {
        encoding: "hex",
        reason: format!("{field}: {e}"),
    })?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| Error::InvalidEncoding {
            encoding: "hex",
            reason: format!("{field}: {} bytes, expected {N}", b.len()),
        })
}

fn check_tag(cell: &Cell, expected: u32) -> Result<()> {
    if cell.bit_len() >= 32 {
        let found = cell.parser().load_u32(32)?;
        if found != expected {
            return Err(Error::UnknownTag { found, expected });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attestation, SignatureEntry};

    fn signer(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[0x40 + i; 32])
    }

    fn certificate(n: u8, k: u8) -> SignerCertificate {
        SignerCertificate {
            network: Network::MAINNET,
            minter: Address::new(0, [0x11; 32]),
            valid_until: 2_000_000_000,
            max_risk: 30,
            forbidden: Categories::SANCTIONS,
            max_skew: 60,
            signers: SignerSet::new(4, k, (0..n).map(|i| signer(i).verifying_key()).collect())
                .unwrap(),
        }
    }

    fn proof(c: &SignerCertificate, owner: Address, signers: &[u8]) -> AttestationProof {
        let attestation = Attestation {
            network: c.network,
            verifier: c.minter,
            subject: owner,
            risk: 10,
            categories: Categories::NONE,
            issued_at: 1_800_000_000,
            valid_until: 1_800_000_600,
            epoch: c.signers.epoch,
            nonce: 5,
        };
        let entries = signers
            .iter()
            .map(|&i| SignatureEntry {
                signer: i,
                signature: attestation.sign(&signer(i)).unwrap(),
            })
            .collect();
        AttestationProof {
            attestation,
            bundle: SignatureBundle::new(entries).unwrap(),
        }
    }

    const NOW: u32 = 1_800_000_100;

    #[test]
    fn certificate_has_the_schema_layout_and_round_trips() {
        let c = certificate(4, 2);
        let cell = c.to_cell().unwrap();
        assert_eq!(cell.bit_len(), CERTIFICATE_BITS);
        assert_eq!(CERTIFICATE_BITS, 483);
        assert_eq!(cell.references().len(), 1);
        assert_eq!(cell.parser().load_u32(32).unwrap(), tag::SIGNER_CERTIFICATE);
        assert_eq!(SignerCertificate::from_cell(&cell).unwrap(), c);
    }

    #[test]
    fn auth_round_trips_and_verifies_like_a_wallet() {
        let root = SigningKey::from_bytes(&[9; 32]);
        let owner = Address::new(0, [0x22; 32]);
        let signed = SignedCertificate::issue(certificate(3, 2), &root).unwrap();
        let auth = signed
            .authorize(proof(&signed.certificate, owner, &[0, 2]), &owner, NOW)
            .unwrap();
        let cell = auth.to_cell().unwrap();
        assert_eq!((cell.bit_len(), cell.references().len()), (AUTH_BITS, 3));
        let decoded = ComplianceAuth::from_boc_base64(&auth.to_boc_base64().unwrap()).unwrap();
        assert_eq!(decoded, auth);
        let minter = signed.certificate.minter;
        let pk = root.verifying_key();
        decoded
            .verify(&pk, &minter, Network::MAINNET, &owner, NOW)
            .unwrap();
        // Each check a wallet makes has its own error.
        let other_root = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert_eq!(
            decoded.verify(&other_root, &minter, Network::MAINNET, &owner, NOW),
            Err(Error::CertificateSignature)
        );
        assert!(matches!(
            decoded.verify(&pk, &minter, Network::TESTNET, &owner, NOW),
            Err(Error::CertificateMismatch {
                field: "network",
                ..
            })
        ));
        assert!(matches!(
            decoded.verify(&pk, &owner, Network::MAINNET, &owner, NOW),
            Err(Error::CertificateMismatch {
                field: "minter",
                ..
            })
        ));
        assert!(matches!(
            decoded.verify(&pk, &minter, Network::MAINNET, &minter, NOW),
            Err(Error::ProofMismatch {
                field: "subject",
                ..
            })
        ));
        assert!(matches!(
            decoded.verify(&pk, &minter, Network::MAINNET, &owner, NOW + 600),
            Err(Error::ProofExpired { .. })
        ));
        assert!(matches!(
            decoded.verify(&pk, &minter, Network::MAINNET, &owner, 2_000_000_001),
            Err(Error::CertificateExpired { .. })
        ));
        assert!(matches!(
            decoded.verify(&pk, &minter, Network::MAINNET, &owner, 1_700_000_000),
            Err(Error::OverPolicy(_))
        ));
    }

    #[test]
    fn authorize_refuses_what_the_wallet_would_refuse() {
        let root = SigningKey::from_bytes(&[9; 32]);
        let owner = Address::new(0, [0x22; 32]);
        let signed = SignedCertificate::issue(certificate(3, 2), &root).unwrap();
        let c = &signed.certificate;
        assert!(matches!(
            signed.authorize(proof(c, owner, &[1]), &owner, NOW),
            Err(Error::TooFewSignatures { .. })
        ));
        let mut risky = proof(c, owner, &[0, 1]);
        risky.attestation.risk = 31;
        // Re-sign so only the policy refuses it.
        risky = resign(risky, &[0, 1]);
        assert_eq!(
            signed.authorize(risky, &owner, NOW),
            Err(Error::OverPolicy("risk 31 is above the maximum 30".into()))
        );
        let mut sanctioned = proof(c, owner, &[0, 1]);
        sanctioned.attestation.categories = Categories::SANCTIONS;
        let err = signed
            .authorize(resign(sanctioned, &[0, 1]), &owner, NOW)
            .unwrap_err();
        assert!(err.to_string().contains("forbidden categories"), "{err}");
        let mut wrong_epoch = proof(c, owner, &[0, 1]);
        wrong_epoch.attestation.epoch = 5;
        assert!(matches!(
            signed.authorize(resign(wrong_epoch, &[0, 1]), &owner, NOW),
            Err(Error::ProofMismatch { field: "epoch", .. })
        ));
        let mut other_verifier = proof(c, owner, &[0, 1]);
        other_verifier.attestation.verifier = owner;
        assert!(matches!(
            signed.authorize(resign(other_verifier, &[0, 1]), &owner, NOW),
            Err(Error::ProofMismatch {
                field: "verifier",
                ..
            })
        ));
    }

    fn resign(mut p: AttestationProof, signers: &[u8]) -> AttestationProof {
        let entries = signers
            .iter()
            .map(|&i| SignatureEntry {
                signer: i,
                signature: p.attestation.sign(&signer(i)).unwrap(),
            })
            .collect();
        p.bundle = SignatureBundle::new(entries).unwrap();
        p
    }

    #[test]
    fn decoders_refuse_malformed_cells_with_typed_errors() {
        let c = certificate(2, 1);
        let cell = c.to_cell().unwrap();
        let extra = CellBuilder::new()
            .store_cell(&cell)
            .unwrap()
            .store_bit(false)
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(
            SignerCertificate::from_cell(&extra),
            Err(Error::MalformedCompliance { bits: 484, .. })
        ));
        let attestation = proof(&c, Address::ZERO, &[0])
            .attestation
            .to_cell()
            .unwrap();
        assert!(matches!(
            SignerCertificate::from_cell(&attestation),
            Err(Error::UnknownTag { .. })
        ));
        assert!(matches!(
            ComplianceAuth::from_cell(&cell),
            Err(Error::UnknownTag { .. })
        ));
        let short = CellBuilder::new()
            .store_u32(32, tag::COMPLIANCE_AUTH)
            .unwrap()
            .build()
            .unwrap();
        let err = ComplianceAuth::from_cell(&short).unwrap_err();
        assert_eq!(err.code(), "malformed_compliance");
        // A max_risk above 100 cannot be a policy.
        let mut bad = c.clone();
        bad.max_risk = 101;
        assert_eq!(
            SignerCertificate::from_cell(&bad.to_cell().unwrap()),
            Err(Error::RiskOutOfRange(101))
        );
    }

    #[test]
    fn certificate_file_round_trips_and_refuses_edits() {
        let root = SigningKey::from_bytes(&[9; 32]);
        let signed = SignedCertificate::issue(certificate(16, 9), &root).unwrap();
        let file = signed.to_file().unwrap();
        assert_eq!(SignedCertificate::from_file(&file).unwrap(), signed);
        let mut wrong_key = file.clone();
        wrong_key.root_public_key =
            hex::encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes());
        assert_eq!(
            SignedCertificate::from_file(&wrong_key),
            Err(Error::CertificateSignature)
        );
        let mut wrong_hash = file.clone();
        wrong_hash.hash = "00".repeat(32);
        assert!(matches!(
            SignedCertificate::from_file(&wrong_hash),
            Err(Error::InvalidEncoding { .. })
        ));
        let mut short_sig = file;
        short_sig.root_signature = "ab".into();
        assert!(matches!(
            SignedCertificate::from_file(&short_sig),
            Err(Error::InvalidEncoding { .. })
        ));
    }
}
