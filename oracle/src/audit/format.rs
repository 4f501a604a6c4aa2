//! The audit log's bytes on disk: the file header, the frame around each record, and the
//! compact binary record (SPEC.md §11.1 is the normative description; this is its code).
//!
//! ```text
//! file   = header(16) frame*
//! header = "TOLLGATE-AUDIT" 0x00 0x01            (magic, format version 1)
//! frame  = len:u32le crc:u32le payload[len]      crc = CRC32C(len ‖ payload)
//! ```
//!
//! The payload is one [`Entry`] in the layout of [`Entry::encode`]; its SHA-256 is the entry's
//! hash, which the next entry carries as `prev_hash`. Integers are little-endian; strings are
//! `u16le` length + UTF-8; every decoder is strict (exact length, valid enum values, valid UTF-8,
//! booleans 0 or 1), so a record decodes only if it re-encodes to the same bytes.

use sha2::{Digest, Sha256};
use tollgate_sdk::{Address, Attestation, Categories, Network};

use crate::risk::{Assessment, Evidence};

/// The first 16 bytes of every audit log file.
pub const FILE_HEADER: [u8; 16] = *b"TOLLGATE-AUDIT\x00\x01";

/// Bytes before a frame's payload: length and CRC32C.
pub const FRAME_HEADER: usize = 8;

/// Largest payload accepted. A record is a few hundred bytes; a length above this is damage
/// (or garbage), never a record.
pub const MAX_RECORD: u32 = 1 << 20;

/// Version byte that opens every record payload.
pub const RECORD_VERSION: u8 = 1;

/// `prev_hash` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// CRC32C (Castagnoli), the checksum of every frame and of every sled record (`crc` crate's
/// `CRC_32_ISCSI` is CRC32C), with slice-by-16 tables: every judgement checks a record.
pub const CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// SHA-256 of an entry's stored bytes (its payload).
pub fn entry_hash(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
}

/// Appends `payload` framed (length, CRC32C, payload) to `out`.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    let len = (payload.len() as u32).to_le_bytes();
    let mut digest = CRC32C.digest();
    digest.update(&len);
    digest.update(payload);
    out.extend_from_slice(&len);
    out.extend_from_slice(&digest.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

/// What the start of `bytes` holds, read as one frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed<'a> {
    /// A whole frame whose CRC matches: its payload and the frame's total size.
    Record(&'a [u8], usize),
    /// The bytes end inside the frame (header or payload): a write that did not finish.
    Incomplete,
    /// A zero length where a frame starts.
    ZeroLength,
    /// A length above [`MAX_RECORD`].
    TooLong(u32),
    /// A whole frame whose CRC does not match its bytes.
    BadChecksum,
}

/// Reads the frame at the start of `bytes`.
pub fn unframe(bytes: &[u8]) -> Framed<'_> {
    let Some(head) = bytes.get(..FRAME_HEADER) else {
        return Framed::Incomplete;
    };
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    if len == 0 {
        return Framed::ZeroLength;
    }
    if len > MAX_RECORD {
        return Framed::TooLong(len);
    }
    let Some(payload) = bytes.get(FRAME_HEADER..FRAME_HEADER + len as usize) else {
        return Framed::Incomplete;
    };
    let mut digest = CRC32C.digest();
    digest.update(&head[..4]);
    digest.update(payload);
    if digest.finalize() != crc {
        return Framed::BadChecksum;
    }
    Framed::Record(payload, FRAME_HEADER + len as usize)
}

/// Why the node signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `POST /v1/attestations`: the node's own judgement as the bound.
    Attest,
    /// `POST /v1/attestations/cosign`: a client's proposal, co-signed.
    Cosign,
}

impl Kind {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Attest => "attest",
            Kind::Cosign => "cosign",
        }
    }
}

/// One piece of evidence, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceRecord {
    /// `label`, `override` or `exposure`.
    pub kind: String,
    /// Where it comes from.
    pub source: String,
    /// Categories it contributes (SPEC.md §3 mask).
    pub categories: u32,
    /// Its severity.
    pub severity: u8,
    /// The source's name for the address, or the override's reason.
    pub name: String,
    /// Unix seconds when first seen or decided.
    pub since: u64,
    /// Whether it counted.
    pub counted: bool,
}

/// The judgement behind a signature, as recorded: score, categories and evidence (level and
/// category names follow from these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgementRecord {
    /// 0–100.
    pub score: u8,
    /// SPEC.md §3 mask.
    pub categories: u32,
    /// What the judgement rested on.
    pub evidence: Vec<EvidenceRecord>,
}

impl JudgementRecord {
    /// The record of a judgement.
    pub fn of(assessment: &Assessment) -> JudgementRecord {
        JudgementRecord {
            score: assessment.score,
            categories: assessment.categories_mask,
            evidence: assessment.evidence.iter().map(evidence_record).collect(),
        }
    }
}

fn evidence_record(evidence: &Evidence) -> EvidenceRecord {
    let categories = evidence
        .categories
        .iter()
        .filter_map(|name| Categories::from_name(name))
        .fold(0, |mask, c| mask | c.0);
    EvidenceRecord {
        kind: evidence.kind.to_string(),
        source: evidence.source.clone(),
        categories,
        severity: evidence.severity,
        name: evidence.name.clone(),
        since: evidence.since,
        counted: evidence.counted,
    }
}

/// What a handler records about one signature. The attestation's BoC and hash are not stored:
/// they follow from its fields (and are recomputed by every reader).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Own attestation or co-signature.
    pub kind: Kind,
    /// The `ttl_secs` the request asked for (`attest` only; `None` when it used the default).
    pub ttl_requested: Option<u32>,
    /// The attestation signed.
    pub attestation: Attestation,
    /// The node's judgement of the subject.
    pub judgement: JudgementRecord,
    /// The scoring policy and the exact label data used (`severity-v1;labels-…`).
    pub policy_version: String,
    /// The signer index.
    pub signer_index: u8,
    /// The signer's public key.
    pub public_key: [u8; 32],
    /// The signature over the attestation's hash.
    pub signature: [u8; 64],
}

/// One entry of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// SHA-256 of the previous entry's payload ([`GENESIS`] for entry 0).
    pub prev_hash: [u8; 32],
    /// Unix seconds when committed.
    pub recorded_at: u64,
    /// What was signed.
    pub record: AuditRecord,
}

/// A record that does not decode; says what is wrong.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("record malformed: {0}")]
pub struct Malformed(pub String);

impl Entry {
    /// The payload bytes (see the module docs; SPEC.md §11.1 lists the fields in order).
    pub fn encode(&self, out: &mut Vec<u8>) {
        Entry::encode_parts(
            self.seq,
            &self.prev_hash,
            self.recorded_at,
            &self.record,
            out,
        );
    }

    /// [`Entry::encode`] of an entry made of these parts, without building it (the committer
    /// encodes records it does not own, and a clone of each would cost its evidence strings).
    pub fn encode_parts(
        seq: u64,
        prev_hash: &[u8; 32],
        recorded_at: u64,
        r: &AuditRecord,
        out: &mut Vec<u8>,
    ) {
        let a = &r.attestation;
        out.push(RECORD_VERSION);
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(prev_hash);
        out.extend_from_slice(&recorded_at.to_le_bytes());
        out.push(match r.kind {
            Kind::Attest => 0,
            Kind::Cosign => 1,
        });
        match r.ttl_requested {
            Some(ttl) => {
                out.push(1);
                out.extend_from_slice(&ttl.to_le_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&a.network.0.to_le_bytes());
        put_address(out, &a.verifier);
        put_address(out, &a.subject);
        out.push(a.risk);
        out.extend_from_slice(&a.categories.0.to_le_bytes());
        out.extend_from_slice(&a.issued_at.to_le_bytes());
        out.extend_from_slice(&a.valid_until.to_le_bytes());
        out.extend_from_slice(&a.epoch.to_le_bytes());
        out.extend_from_slice(&a.nonce.to_le_bytes());
        out.push(r.signer_index);
        out.extend_from_slice(&r.public_key);
        out.extend_from_slice(&r.signature);
        put_str(out, &r.policy_version);
        out.push(r.judgement.score);
        out.extend_from_slice(&r.judgement.categories.to_le_bytes());
        out.extend_from_slice(
            &(r.judgement.evidence.len().min(u16::MAX as usize) as u16).to_le_bytes(),
        );
        for e in r.judgement.evidence.iter().take(u16::MAX as usize) {
            put_str(out, &e.kind);
            put_str(out, &e.source);
            out.extend_from_slice(&e.categories.to_le_bytes());
            out.push(e.severity);
            put_str(out, &e.name);
            out.extend_from_slice(&e.since.to_le_bytes());
            out.push(u8::from(e.counted));
        }
    }

    /// Decodes a payload strictly.
    pub fn decode(payload: &[u8]) -> Result<Entry, Malformed> {
        let mut r = Reader(payload);
        let version = r.u8()?;
        if version != RECORD_VERSION {
            return Err(Malformed(format!("unknown record version {version}")));
        }
        let seq = r.u64()?;
        let prev_hash = r.array::<32>()?;
        let recorded_at = r.u64()?;
        let kind = match r.u8()? {
            0 => Kind::Attest,
            1 => Kind::Cosign,
            other => return Err(Malformed(format!("unknown kind {other}"))),
        };
        let ttl_requested = match r.bool()? {
            true => Some(r.u32()?),
            false => None,
        };
        let attestation = Attestation {
            network: Network(r.i32()?),
            verifier: r.address()?,
            subject: r.address()?,
            risk: r.u8()?,
            categories: Categories(r.u32()?),
            issued_at: r.u32()?,
            valid_until: r.u32()?,
            epoch: r.u32()?,
            nonce: r.u64()?,
        };
        let signer_index = r.u8()?;
        let public_key = r.array::<32>()?;
        let signature = r.array::<64>()?;
        let policy_version = r.string()?;
        let score = r.u8()?;
        let categories = r.u32()?;
        let count = r.u16()?;
        let mut evidence = Vec::with_capacity(count.into());
        for _ in 0..count {
            evidence.push(EvidenceRecord {
                kind: r.string()?,
                source: r.string()?,
                categories: r.u32()?,
                severity: r.u8()?,
                name: r.string()?,
                since: r.u64()?,
                counted: r.bool()?,
            });
        }
        if !r.0.is_empty() {
            return Err(Malformed(format!("{} bytes after the record", r.0.len())));
        }
        Ok(Entry {
            seq,
            prev_hash,
            recorded_at,
            record: AuditRecord {
                kind,
                ttl_requested,
                attestation,
                judgement: JudgementRecord {
                    score,
                    categories,
                    evidence,
                },
                policy_version,
                signer_index,
                public_key,
                signature,
            },
        })
    }
}

fn put_address(out: &mut Vec<u8>, address: &Address) {
    out.push(address.workchain as u8);
    out.extend_from_slice(&address.hash);
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    // Strings longer than 64 KiB are cut at a character boundary (names and sources are short;
    // a cut never makes the record undecodable).
    let mut end = text.len().min(u16::MAX as usize);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..end]);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed("record ends early".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.array::<1>()?[0])
    }
    fn bool(&mut self) -> Result<bool, Malformed> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(Malformed(format!("boolean byte {other}"))),
        }
    }
    fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn address(&mut self) -> Result<Address, Malformed> {
        Ok(Address {
            workchain: self.u8()? as i8,
            hash: self.array()?,
        })
    }
    fn string(&mut self) -> Result<String, Malformed> {
        let len = self.u16()?;
        let bytes = self.take(len.into())?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Malformed("string is not UTF-8".into()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    /// A signed record with a given nonce.
    pub(crate) fn record(nonce: u64) -> AuditRecord {
        let key = SigningKey::from_bytes(&[5; 32]);
        let attestation = Attestation {
            network: Network::TESTNET,
            verifier: Address::new(0, [1; 32]),
            subject: Address::new(0, [2; 32]),
            risk: 10,
            categories: Categories::EXCHANGE,
            issued_at: 1000,
            valid_until: 1600,
            epoch: 1,
            nonce,
        };
        AuditRecord {
            kind: Kind::Attest,
            ttl_requested: Some(600),
            attestation,
            judgement: JudgementRecord {
                score: 10,
                categories: Categories::EXCHANGE.0,
                evidence: vec![EvidenceRecord {
                    kind: "label".into(),
                    source: "ton-assets/custodians".into(),
                    categories: Categories::EXCHANGE.0,
                    severity: 5,
                    name: "Ексчейндж ✓".into(),
                    since: 77,
                    counted: true,
                }],
            },
            policy_version: "severity-v1;labels-test".into(),
            signer_index: 0,
            public_key: key.verifying_key().to_bytes(),
            signature: attestation.sign(&key).unwrap().to_bytes(),
        }
    }

    #[test]
    fn a_record_round_trips_and_every_cut_or_extension_is_refused() {
        let entry = Entry {
            seq: 3,
            prev_hash: [9; 32],
            recorded_at: 1234,
            record: record(42),
        };
        let mut bytes = Vec::new();
        entry.encode(&mut bytes);
        assert_eq!(Entry::decode(&bytes).unwrap(), entry);
        for cut in 0..bytes.len() {
            assert!(Entry::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Entry::decode(&longer).is_err());
    }

    #[test]
    fn frames_detect_every_flipped_bit_and_every_cut() {
        let mut framed = Vec::new();
        frame(b"hello audit", &mut framed);
        assert_eq!(
            unframe(&framed),
            Framed::Record(b"hello audit", framed.len())
        );
        for bit in 0..framed.len() * 8 {
            let mut flipped = framed.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                !matches!(unframe(&flipped), Framed::Record(..)),
                "bit {bit} went unnoticed"
            );
        }
        for cut in 0..framed.len() {
            assert!(!matches!(unframe(&framed[..cut]), Framed::Record(..)));
        }
        assert_eq!(unframe(&[0; 12]), Framed::ZeroLength);
    }
}
