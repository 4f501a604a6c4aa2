//! The attestation cell (SPEC.md §1) and its signing.
//!
//! ```tlb
//! attestation#1bb33317 network:int32 verifier:MsgAddressInt subject:MsgAddressInt risk:uint8
//!     categories:uint32 issued_at:uint32 valid_until:uint32 epoch:uint32 nonce:uint64 = Attestation;
//! ```

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use tonlib_core::cell::{ArcCell, Cell, CellBuilder, CellParser};

use crate::address::{Address, ADDR_STD_BITS};
use crate::boc;
use crate::categories::Categories;
use crate::codes::tag;
use crate::error::{Error, Result};
use crate::network::Network;

/// Data bits of an attestation cell: tag, network, two addresses, risk, categories, three
/// uint32 times and epochs, nonce.
pub const ATTESTATION_BITS: usize = 32 + 32 + 2 * ADDR_STD_BITS + 8 + 32 + 32 + 32 + 32 + 64;

/// The highest meaningful risk score.
pub const MAX_RISK: u8 = 100;

/// The longest an attestation may be valid: `valid_until - issued_at` at most one day (SPEC.md §1).
/// Attestations are meant to be short-lived (a node's default is ten minutes); the bound keeps a
/// leaked or mistaken one from living for years, and verifiers on-chain enforce it too.
pub const MAX_LIFETIME_SECS: u32 = 86_400;

/// A signed statement about one address: "`subject` has risk at most `risk` and no category
/// outside `categories`, judged by signer set `epoch`, for `verifier` on `network`, from
/// `issued_at` until `valid_until` (inclusive)".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Attestation {
    /// The network it is valid on.
    pub network: Network,
    /// The only contract that may accept it.
    pub verifier: Address,
    /// The address judged.
    pub subject: Address,
    /// Upper bound on the subject's risk score, 0–100.
    pub risk: u8,
    /// Upper bound on the subject's categories.
    pub categories: Categories,
    /// Unix time it was made.
    pub issued_at: u32,
    /// Last unix second it is valid in.
    pub valid_until: u32,
    /// The signer set that signs it.
    pub epoch: u32,
    /// Unique per attestation and node. Serialised as a decimal string in JSON, since JSON
    /// numbers above 2^53 lose precision in JavaScript.
    #[serde(with = "u64_as_string")]
    pub nonce: u64,
}

impl Attestation {
    /// Builds the attestation cell. Addresses are written in full (267 bits) even when zero.
    pub fn to_cell(&self) -> Result<Cell> {
        let mut builder = CellBuilder::new();
        builder
            .store_u32(32, tag::ATTESTATION)?
            .store_i32(32, self.network.global_id())?;
        store_address(&mut builder, &self.verifier)?;
        store_address(&mut builder, &self.subject)?;
        builder
            .store_u8(8, self.risk)?
            .store_u32(32, self.categories.0)?
            .store_u32(32, self.issued_at)?
            .store_u32(32, self.valid_until)?
            .store_u32(32, self.epoch)?
            .store_u64(64, self.nonce)?;
        Ok(builder.build()?)
    }

    /// The representation hash of the attestation cell: what signers sign.
    pub fn hash(&self) -> Result<[u8; 32]> {
        Ok(hash_of(&self.to_cell()?))
    }

    /// Builds the cell once and keeps its hash, for a signer that also needs the BoC.
    pub fn encode(&self) -> Result<EncodedAttestation> {
        let cell = self.to_cell()?;
        let hash = hash_of(&cell);
        Ok(EncodedAttestation {
            cell: cell.to_arc(),
            hash,
        })
    }

    /// The attestation as a BoC (with CRC32C, as @ton/core's `toBoc()`).
    pub fn to_boc(&self) -> Result<Vec<u8>> {
        boc::to_bytes(&self.to_cell()?.to_arc())
    }

    /// The attestation as a base64 BoC.
    pub fn to_boc_base64(&self) -> Result<String> {
        boc::to_base64(&self.to_cell()?.to_arc())
    }

    /// The attestation as a hex BoC.
    pub fn to_boc_hex(&self) -> Result<String> {
        boc::to_hex(&self.to_cell()?.to_arc())
    }

    /// Decodes an attestation cell strictly: the tag, the exact layout (798 bits, no refs), only
    /// `addr_std` addresses without anycast, `risk <= 100` and `issued_at <= valid_until`.
    pub fn from_cell(cell: &Cell) -> Result<Self> {
        boc::ordinary(cell)?;
        let (bits, refs) = (cell.bit_len(), cell.references().len());
        if bits >= 32 {
            let found = cell.parser().load_u32(32)?;
            if found != tag::ATTESTATION {
                return Err(Error::UnknownTag {
                    found,
                    expected: tag::ATTESTATION,
                });
            }
        }
        if bits != ATTESTATION_BITS || refs != 0 {
            return Err(Error::MalformedAttestation { bits, refs });
        }
        let mut parser = cell.parser();
        parser.skip_bits(32)?;
        let attestation = Attestation {
            network: Network(parser.load_i32(32)?),
            verifier: load_address(&mut parser, "verifier")?,
            subject: load_address(&mut parser, "subject")?,
            risk: parser.load_u8(8)?,
            categories: Categories(parser.load_u32(32)?),
            issued_at: parser.load_u32(32)?,
            valid_until: parser.load_u32(32)?,
            epoch: parser.load_u32(32)?,
            nonce: parser.load_u64(64)?,
        };
        attestation.check_bounds()?;
        Ok(attestation)
    }

    /// Decodes a BoC holding one attestation cell.
    pub fn from_boc(bytes: &[u8]) -> Result<Self> {
        Self::from_cell(&*boc::from_bytes(bytes)?)
    }

    /// Decodes a base64 BoC holding one attestation cell.
    pub fn from_boc_base64(text: &str) -> Result<Self> {
        Self::from_cell(&*boc::from_base64(text)?)
    }

    /// Decodes a hex BoC holding one attestation cell.
    pub fn from_boc_hex(text: &str) -> Result<Self> {
        Self::from_cell(&*boc::from_hex(text)?)
    }

    /// Checks the value ranges the TL-B types alone do not express.
    pub fn check_bounds(&self) -> Result<()> {
        if self.risk > MAX_RISK {
            return Err(Error::RiskOutOfRange(self.risk));
        }
        if self.valid_until < self.issued_at
            || self.valid_until - self.issued_at > MAX_LIFETIME_SECS
        {
            return Err(Error::InvalidValidity {
                issued_at: self.issued_at,
                valid_until: self.valid_until,
            });
        }
        Ok(())
    }

    /// Signs the attestation's hash with ed25519.
    pub fn sign(&self, key: &SigningKey) -> Result<Signature> {
        Ok(self.encode()?.sign(key))
    }

    /// Verifies a signature over the attestation's hash strictly (`verify_strict`: canonical
    /// encodings, no small-order keys), as a TVM's `CHKSIGNU` would accept it and more.
    pub fn verify(&self, key: &VerifyingKey, signature: &Signature) -> Result<()> {
        verify_hash(&self.hash()?, key, signature, 0)
    }
}

/// An attestation's cell and its representation hash, built once.
#[derive(Clone, Debug)]
pub struct EncodedAttestation {
    /// The attestation cell.
    pub cell: ArcCell,
    /// Its representation hash: what signers sign.
    pub hash: [u8; 32],
}

impl EncodedAttestation {
    /// Signs the hash with ed25519.
    pub fn sign(&self, key: &SigningKey) -> Signature {
        key.sign(&self.hash)
    }

    /// The cell as a base64 BoC.
    pub fn to_boc_base64(&self) -> Result<String> {
        boc::to_base64(&self.cell)
    }
}

/// The representation hash of a cell as a byte array.
pub(crate) fn hash_of(cell: &Cell) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(cell.cell_hash().as_slice());
    out
}

/// Strictly verifies `signature` over a 32-byte hash; `index` names the signer in the error.
pub(crate) fn verify_hash(
    hash: &[u8; 32],
    key: &VerifyingKey,
    signature: &Signature,
    index: u8,
) -> Result<()> {
    key.verify_strict(hash, signature)
        .map_err(|_| Error::BadSignature { index })
}

/// Writes `addr_std$10 anycast:nothing workchain_id:int8 address:bits256` in full. tonlib-core's
/// `store_address` would shorten the zero address to `addr_none` and change the hash.
pub(crate) fn store_address(builder: &mut CellBuilder, address: &Address) -> Result<()> {
    builder
        .store_u8(2, 0b10)?
        .store_bit(false)?
        .store_i8(8, address.workchain)?
        .store_slice(&address.hash)?;
    Ok(())
}

/// Reads an `addr_std` without anycast; anything else is an [`Error::UnsupportedAddress`].
pub(crate) fn load_address(parser: &mut CellParser<'_>, field: &'static str) -> Result<Address> {
    let unsupported = |reason| Error::UnsupportedAddress { field, reason };
    match parser.load_u8(2)? {
        0b10 => {}
        0b00 => return Err(unsupported("addr_none")),
        0b01 => return Err(unsupported("addr_extern")),
        _ => return Err(unsupported("addr_var")),
    }
    if parser.load_bit()? {
        return Err(unsupported("anycast"));
    }
    let workchain = parser.load_i8(8)?;
    let mut hash = [0u8; 32];
    parser.load_slice(&mut hash)?;
    Ok(Address { workchain, hash })
}

mod u64_as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Accepts a decimal string or a JSON number.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Number(u64),
            Text(std::borrow::Cow<'a, str>),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(n) => Ok(n),
            Either::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// An attestation cell built by hand, for tests that need layouts the encoder refuses to make.
#[cfg(test)]
pub(crate) fn test_cell(write: impl FnOnce(&mut CellBuilder) -> Result<()>) -> ArcCell {
    let mut builder = CellBuilder::new();
    write(&mut builder).unwrap();
    builder.build().unwrap().to_arc()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Attestation {
        Attestation {
            network: Network::MAINNET,
            verifier: Address::new(0, [0x11; 32]),
            subject: Address::new(-1, [0x22; 32]),
            risk: 42,
            categories: Categories::EXCHANGE | Categories::DEFI,
            issued_at: 1_790_000_000,
            valid_until: 1_790_000_600,
            epoch: 7,
            nonce: u64::MAX - 1,
        }
    }

    #[test]
    fn layout_is_798_bits_without_refs() {
        let cell = sample().to_cell().unwrap();
        assert_eq!(ATTESTATION_BITS, 798);
        assert_eq!(cell.bit_len(), 798);
        assert!(cell.references().is_empty());
    }

    #[test]
    fn round_trips_through_every_boc_spelling() {
        let a = sample();
        assert_eq!(Attestation::from_boc(&a.to_boc().unwrap()).unwrap(), a);
        assert_eq!(
            Attestation::from_boc_base64(&a.to_boc_base64().unwrap()).unwrap(),
            a
        );
        assert_eq!(
            Attestation::from_boc_hex(&a.to_boc_hex().unwrap()).unwrap(),
            a
        );
    }

    #[test]
    fn zero_address_is_written_in_full() {
        let a = Attestation {
            verifier: Address::ZERO,
            subject: Address::ZERO,
            ..sample()
        };
        let cell = a.to_cell().unwrap();
        assert_eq!(cell.bit_len(), 798, "addr_none would make it shorter");
        assert_eq!(Attestation::from_cell(&cell).unwrap(), a);
    }

    #[test]
    fn refuses_a_wrong_tag() {
        let cell = test_cell(|b| {
            b.store_u32(32, tag::ATTESTATION ^ 1)?.store_u32(32, 0)?;
            Ok(())
        });
        assert_eq!(
            Attestation::from_cell(&cell),
            Err(Error::UnknownTag {
                found: tag::ATTESTATION ^ 1,
                expected: tag::ATTESTATION
            })
        );
    }

    #[test]
    fn refuses_trailing_bits_and_refs() {
        let good = sample().to_cell().unwrap();
        let extra_bit = test_cell(|b| {
            b.store_cell_data(&good)?.store_bit(false)?;
            Ok(())
        });
        assert_eq!(
            Attestation::from_cell(&extra_bit),
            Err(Error::MalformedAttestation { bits: 799, refs: 0 })
        );
        let extra_ref = test_cell(|b| {
            b.store_cell_data(&good)?
                .store_reference(&Cell::default().to_arc())?;
            Ok(())
        });
        assert_eq!(
            Attestation::from_cell(&extra_ref),
            Err(Error::MalformedAttestation { bits: 798, refs: 1 })
        );
        let short = test_cell(|b| {
            b.store_u32(32, tag::ATTESTATION)?;
            Ok(())
        });
        assert_eq!(
            Attestation::from_cell(&short),
            Err(Error::MalformedAttestation { bits: 32, refs: 0 })
        );
    }

    /// Rewrites the verifier address's first bits, keeping the cell 798 bits long.
    fn with_verifier_prefix(prefix_bits: usize, prefix: u8) -> ArcCell {
        let good = sample().to_cell().unwrap();
        let mut parser = good.parser();
        let head = parser.load_bits(64).unwrap();
        parser.skip_bits(prefix_bits).unwrap();
        let rest_len = 798 - 64 - prefix_bits;
        let rest = parser.load_bits(rest_len).unwrap();
        test_cell(|b| {
            b.store_bits(64, &head)?
                .store_u8(prefix_bits, prefix)?
                .store_bits(rest_len, &rest)?;
            Ok(())
        })
    }

    #[test]
    fn refuses_addresses_it_cannot_represent() {
        for (bits, prefix, reason) in [
            (2, 0b00, "addr_none"),
            (2, 0b01, "addr_extern"),
            (2, 0b11, "addr_var"),
            (3, 0b101, "anycast"),
        ] {
            let cell = with_verifier_prefix(bits, prefix);
            assert_eq!(
                Attestation::from_cell(&cell),
                Err(Error::UnsupportedAddress {
                    field: "verifier",
                    reason
                }),
                "{reason}"
            );
        }
    }

    #[test]
    fn refuses_out_of_range_values() {
        let high = Attestation {
            risk: 101,
            ..sample()
        };
        let cell = high.to_cell().unwrap();
        assert_eq!(
            Attestation::from_cell(&cell),
            Err(Error::RiskOutOfRange(101))
        );
        let backwards = Attestation {
            issued_at: 10,
            valid_until: 9,
            ..sample()
        };
        let cell = backwards.to_cell().unwrap();
        assert_eq!(
            Attestation::from_cell(&cell),
            Err(Error::InvalidValidity {
                issued_at: 10,
                valid_until: 9
            })
        );
        // a lifetime of exactly a day decodes; a second more is refused, like on-chain (272)
        for (lifetime, ok) in [(MAX_LIFETIME_SECS, true), (MAX_LIFETIME_SECS + 1, false)] {
            let long = Attestation {
                issued_at: 1_000,
                valid_until: 1_000 + lifetime,
                ..sample()
            };
            let decoded = Attestation::from_cell(&long.to_cell().unwrap());
            assert_eq!(decoded.is_ok(), ok, "{lifetime}: {decoded:?}");
        }
    }

    #[test]
    fn refuses_malformed_bocs_with_typed_errors() {
        assert!(matches!(
            Attestation::from_boc(&[]),
            Err(Error::InvalidBoc(_))
        ));
        assert!(matches!(
            Attestation::from_boc(b"not a boc at all"),
            Err(Error::InvalidBoc(_))
        ));
        assert!(matches!(
            Attestation::from_boc_base64("%%%"),
            Err(Error::InvalidEncoding {
                encoding: "base64",
                ..
            })
        ));
        assert!(matches!(
            Attestation::from_boc_hex("zz"),
            Err(Error::InvalidEncoding {
                encoding: "hex",
                ..
            })
        ));
        let mut truncated = sample().to_boc().unwrap();
        truncated.truncate(truncated.len() - 5);
        assert!(matches!(
            Attestation::from_boc(&truncated),
            Err(Error::InvalidBoc(_))
        ));
    }

    #[test]
    fn signatures_verify_strictly_and_bind_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let a = sample();
        let signature = a.sign(&key).unwrap();
        a.verify(&key.verifying_key(), &signature).unwrap();
        let other = Attestation {
            nonce: a.nonce + 1,
            ..a
        };
        assert_eq!(
            other.verify(&key.verifying_key(), &signature),
            Err(Error::BadSignature { index: 0 })
        );
    }

    #[test]
    fn json_fields_use_raw_addresses_and_string_nonces() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(
            json["verifier"],
            "0:1111111111111111111111111111111111111111111111111111111111111111"
        );
        assert_eq!(json["nonce"], "18446744073709551614");
        assert_eq!(json["network"], -239);
        let back: Attestation = serde_json::from_value(json).unwrap();
        assert_eq!(back, sample());
    }
}
