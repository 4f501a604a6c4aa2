//! TON addresses as attestations carry them: `addr_std` without anycast.
//!
//! Parses and prints both textual forms:
//! - raw: `wc:hex`, e.g. `0:83df…` or `-1:3333…` (64 hex digits, either case);
//! - user-friendly: 48 characters of base64 or base64url over 36 bytes — a flags byte
//!   (`0x11` bounceable, `0x51` non-bounceable, `+0x80` testnet-only), the workchain as a signed
//!   byte, the 32-byte account id, and a CRC16-XMODEM checksum of the first 34 bytes.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;

use crate::error::{Error, Result};

const FLAG_BOUNCEABLE: u8 = 0x11;
const FLAG_NON_BOUNCEABLE: u8 = 0x51;
const FLAG_TESTNET: u8 = 0x80;
/// Slice-by-16 tables (8 KiB): a screening node computes two checksums per address it answers
/// (the bounceable and non-bounceable forms), and the byte-wise table was 2.5 % of its CPU.
const CRC16: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_XMODEM);

/// Bits an `addr_std` without anycast takes in a cell: `10` + `0` (no anycast) + int8 + 256.
pub const ADDR_STD_BITS: usize = 267;

/// A standard internal address: workchain and 256-bit account id.
///
/// Workchains are `int8` in `addr_std`; `-1` is the masterchain and `0` the basechain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// Workchain id.
    pub workchain: i8,
    /// Account id (the hash part).
    pub hash: [u8; 32],
}

/// The flags a user-friendly address carries besides the address itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FriendlyFlags {
    /// Bounceable (`EQ…`/`kQ…`) rather than non-bounceable (`UQ…`/`0Q…`).
    pub bounceable: bool,
    /// Marked for testnet only.
    pub testnet: bool,
}

impl Address {
    /// The basechain address `0:000…0` (the one tonlib-core would shorten to `addr_none`).
    pub const ZERO: Address = Address {
        workchain: 0,
        hash: [0; 32],
    };

    /// An address from its parts.
    pub const fn new(workchain: i8, hash: [u8; 32]) -> Self {
        Address { workchain, hash }
    }

    /// Parses a raw `wc:hex` address.
    pub fn from_raw(input: &str) -> Result<Self> {
        let err = |reason| invalid(input, reason);
        let (wc, hex_part) = input
            .split_once(':')
            .ok_or_else(|| err("missing ':' between workchain and account id"))?;
        let workchain: i32 = wc.parse().map_err(|_| err("workchain is not an integer"))?;
        let workchain =
            i8::try_from(workchain).map_err(|_| err("workchain does not fit addr_std (int8)"))?;
        if hex_part.len() != 64 {
            return Err(err("account id must be 64 hex digits"));
        }
        let mut hash = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut hash).map_err(|_| err("account id is not hex"))?;
        Ok(Address { workchain, hash })
    }

    /// Parses a user-friendly address and returns its flags as well.
    pub fn from_friendly(input: &str) -> Result<(Self, FriendlyFlags)> {
        let err = |reason| invalid(input, reason);
        if input.len() != 48 {
            return Err(err("user-friendly address must be 48 characters"));
        }
        let engine = if input.contains(['-', '_']) {
            &URL_SAFE
        } else {
            &STANDARD
        };
        let bytes = engine
            .decode(input)
            .map_err(|_| err("not base64 or base64url"))?;
        let bytes: [u8; 36] = bytes
            .try_into()
            .map_err(|_| err("must decode to 36 bytes"))?;
        let checksum = u16::from_be_bytes([bytes[34], bytes[35]]);
        if CRC16.checksum(&bytes[..34]) != checksum {
            return Err(err("checksum mismatch"));
        }
        let testnet = bytes[0] & FLAG_TESTNET != 0;
        let bounceable = match bytes[0] & !FLAG_TESTNET {
            FLAG_BOUNCEABLE => true,
            FLAG_NON_BOUNCEABLE => false,
            _ => return Err(err("unknown flags byte")),
        };
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[2..34]);
        Ok((
            Address {
                workchain: bytes[1] as i8,
                hash,
            },
            FriendlyFlags {
                bounceable,
                testnet,
            },
        ))
    }

    /// The raw form `wc:hex` (lower-case hex), as attestations' JSON fields use.
    pub fn to_raw(&self) -> String {
        self.raw_text(&mut [0u8; RAW_MAX]).to_owned()
    }

    /// The raw form written into `out`, with no allocation: one string for `Display` and
    /// serde to pass on whole (serde_json scans every piece it is handed for characters to
    /// escape), and hex into a slice (the `hex` crate's `encode` collects `char`s one by one,
    /// 7 % of a screening node's CPU).
    fn raw_text<'a>(&self, out: &'a mut [u8; RAW_MAX]) -> &'a str {
        let mut workchain = [0u8; 4];
        let workchain = workchain_text(self.workchain, &mut workchain).as_bytes();
        let end = workchain.len() + 65;
        out[..workchain.len()].copy_from_slice(workchain);
        out[workchain.len()] = b':';
        hex::encode_to_slice(self.hash, &mut out[workchain.len() + 1..end])
            .expect("32 bytes are 64 hex digits");
        std::str::from_utf8(&out[..end]).expect("ASCII digits")
    }

    /// The user-friendly form in base64url, as wallets show it.
    pub fn to_friendly(&self, flags: FriendlyFlags) -> String {
        let mut bytes = [0u8; 36];
        bytes[0] = if flags.bounceable {
            FLAG_BOUNCEABLE
        } else {
            FLAG_NON_BOUNCEABLE
        };
        if flags.testnet {
            bytes[0] |= FLAG_TESTNET;
        }
        bytes[1] = self.workchain as u8;
        bytes[2..34].copy_from_slice(&self.hash);
        let checksum = CRC16.checksum(&bytes[..34]);
        bytes[34..].copy_from_slice(&checksum.to_be_bytes());
        URL_SAFE.encode(bytes)
    }
}

/// Longest raw form: `-128:` and 64 hex digits.
const RAW_MAX: usize = 69;

/// A workchain as decimal text (`-128` … `127`), written into `out`.
fn workchain_text(workchain: i8, out: &mut [u8; 4]) -> &str {
    let mut len = 0;
    if workchain < 0 {
        out[0] = b'-';
        len = 1;
    }
    let magnitude = workchain.unsigned_abs();
    if magnitude >= 100 {
        out[len] = b'0' + magnitude / 100;
        len += 1;
    }
    if magnitude >= 10 {
        out[len] = b'0' + magnitude / 10 % 10;
        len += 1;
    }
    out[len] = b'0' + magnitude % 10;
    std::str::from_utf8(&out[..=len]).expect("ASCII digits")
}

fn invalid(input: &str, reason: &'static str) -> Error {
    Error::InvalidAddress {
        input: input.chars().take(100).collect(),
        reason,
    }
}

impl FromStr for Address {
    type Err = Error;

    /// Accepts the raw form (anything with a `:`) or the user-friendly form; flags are dropped.
    fn from_str(input: &str) -> Result<Self> {
        if input.contains(':') {
            Address::from_raw(input)
        } else {
            Address::from_friendly(input).map(|(address, _)| address)
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw_text(&mut [0u8; RAW_MAX]))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.raw_text(&mut [0u8; RAW_MAX]))
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_text_is_the_formatted_workchain_and_hex_for_every_workchain() {
        let hash: [u8; 32] = std::array::from_fn(|i| (i * 37 + 5) as u8);
        for workchain in i8::MIN..=i8::MAX {
            let address = Address::new(workchain, hash);
            let expected = format!("{workchain}:{}", hex::encode(hash));
            assert_eq!(address.to_raw(), expected);
            assert_eq!(address.to_string(), expected);
            assert_eq!(
                serde_json::to_string(&address).unwrap(),
                format!("\"{expected}\"")
            );
            assert_eq!(expected.parse::<Address>().unwrap(), address);
        }
    }

    // The USDT jetton master on mainnet, as tonviewer prints it in both forms.
    const USDT_RAW: &str = "0:b113a994b5024a16719f69139328eb759596c38a25f59028b146fecdc3621dfe";
    const USDT_FRIENDLY: &str = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs";

    #[test]
    fn raw_and_friendly_forms_name_the_same_address() {
        let raw: Address = USDT_RAW.parse().unwrap();
        let (friendly, flags) = Address::from_friendly(USDT_FRIENDLY).unwrap();
        assert_eq!(raw, friendly);
        assert_eq!(
            flags,
            FriendlyFlags {
                bounceable: true,
                testnet: false
            }
        );
        assert_eq!(raw.to_friendly(flags), USDT_FRIENDLY);
        assert_eq!(raw.to_string(), USDT_RAW);
    }

    #[test]
    fn friendly_round_trips_every_flag_combination_in_both_alphabets() {
        let address = Address::new(-1, [0xfb; 32]);
        for bounceable in [false, true] {
            for testnet in [false, true] {
                let flags = FriendlyFlags {
                    bounceable,
                    testnet,
                };
                let url = address.to_friendly(flags);
                let std = url.replace('-', "+").replace('_', "/");
                for text in [&url, &std] {
                    assert_eq!(
                        Address::from_friendly(text).unwrap(),
                        (address, flags),
                        "{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn friendly_prefixes_match_wallet_conventions() {
        let a = Address::ZERO;
        let p = |b, t| {
            a.to_friendly(FriendlyFlags {
                bounceable: b,
                testnet: t,
            })[..2]
                .to_string()
        };
        assert_eq!(p(true, false), "EQ");
        assert_eq!(p(false, false), "UQ");
        assert_eq!(p(true, true), "kQ");
        assert_eq!(p(false, true), "0Q");
    }

    #[test]
    fn refuses_a_bad_checksum() {
        let mut text = USDT_FRIENDLY.to_string();
        text.replace_range(10..11, if &text[10..11] == "A" { "B" } else { "A" });
        let err = text.parse::<Address>().unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidAddress {
                    reason: "checksum mismatch",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn refuses_malformed_text_with_a_reason() {
        let cases = [
            ("", "user-friendly address must be 48 characters"),
            ("0:abc", "account id must be 64 hex digits"),
            (
                "x:0000000000000000000000000000000000000000000000000000000000000000",
                "workchain is not an integer",
            ),
            (
                "128:0000000000000000000000000000000000000000000000000000000000000000",
                "workchain does not fit addr_std (int8)",
            ),
            (
                "0:zz00000000000000000000000000000000000000000000000000000000000000",
                "account id is not hex",
            ),
            (
                "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                "not base64 or base64url",
            ),
        ];
        for (input, expected) in cases {
            match input.parse::<Address>() {
                Err(Error::InvalidAddress { reason, .. }) => {
                    assert_eq!(reason, expected, "{input:?}")
                }
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_flag_byte_is_refused() {
        let mut bytes = [0u8; 36];
        bytes[0] = 0x12;
        let checksum = CRC16.checksum(&bytes[..34]);
        bytes[34..].copy_from_slice(&checksum.to_be_bytes());
        let err = Address::from_friendly(&URL_SAFE.encode(bytes)).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidAddress {
                reason: "unknown flags byte",
                ..
            }
        ));
    }

    #[test]
    fn agrees_with_tonlib_core_on_friendly_forms() {
        use tonlib_core::TonAddress;
        let address: Address = USDT_RAW.parse().unwrap();
        let ton = TonAddress::from_str(USDT_RAW).unwrap();
        for (bounceable, testnet) in [(true, false), (false, false), (true, true), (false, true)] {
            let ours = address.to_friendly(FriendlyFlags {
                bounceable,
                testnet,
            });
            assert_eq!(ours, ton.to_base64_url_flags(!bounceable, testnet));
        }
    }
}
