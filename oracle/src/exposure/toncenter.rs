//! toncenter API v3 pages as the server writes them: `/api/v3/transactions` and
//! `/api/v3/jetton/transfers`.
//!
//! Only the fields the value-moving rules ([`super::moves`]) need are read; unknown fields are
//! ignored, since the server adds fields over time. Formats as toncenter writes them: addresses
//! raw upper-case (`0:ABC…`; user-friendly forms are accepted too), big integers as decimal
//! strings, hashes as standard base64 (64 hex digits are accepted too), `opcode` as a hex
//! string (`0x0f8a7ea5`), nullable fields as `null`.

use serde::{Deserialize, Deserializer};
use tollgate_sdk::Address;

/// Why a page (or one record of it) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// Not JSON, or not the shape of a toncenter v3 page.
    #[error("not a toncenter v3 page: {0}")]
    Json(String),
    /// An address field is neither raw `wc:hex` nor user-friendly.
    #[error("{field}: invalid address `{value}`")]
    Address {
        /// The field.
        field: &'static str,
        /// The text (bounded).
        value: String,
    },
    /// A big-integer field is not a non-negative decimal integer.
    #[error("{field}: `{value}` is not a non-negative integer")]
    Number {
        /// The field.
        field: &'static str,
        /// The text (bounded).
        value: String,
    },
    /// A hash is neither 32 bytes of base64 nor 64 hex digits.
    #[error("{field}: `{value}` is not a 32-byte hash (base64 or hex)")]
    Hash {
        /// The field.
        field: &'static str,
        /// The text (bounded).
        value: String,
    },
    /// An `opcode` is not a 32-bit hex number.
    #[error("opcode `{0}` is not a 32-bit hex number")]
    Opcode(String),
}

fn bounded(text: &str) -> String {
    text.chars().take(80).collect()
}

/// One page of `/api/v3/transactions`.
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionsPage {
    /// The transactions, in the order the server sorted them.
    pub transactions: Vec<Transaction>,
}

/// One page of `/api/v3/jetton/transfers`.
#[derive(Debug, Clone, Deserialize)]
pub struct JettonTransfersPage {
    /// The transfers.
    pub jetton_transfers: Vec<JettonTransfer>,
}

/// A transaction (`Transaction` in the v3 OpenAPI).
#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    /// The account the transaction ran on (raw form).
    pub account: String,
    /// Transaction hash (base64).
    pub hash: String,
    /// Logical time (decimal string).
    #[serde(deserialize_with = "big")]
    pub lt: u128,
    /// Unix time.
    pub now: u64,
    /// Phases of an ordinary transaction.
    pub description: Description,
    /// The inbound message (`null` for tick-tock transactions).
    #[serde(default)]
    pub in_msg: Option<Message>,
    /// Outbound messages (their receivers' transactions carry them as `in_msg`).
    #[serde(default)]
    pub out_msgs: Vec<Message>,
}

/// `description` of a transaction: the phases that decide whether value stayed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Description {
    /// `ord`, `tick_tock`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The transaction was aborted (compute or action phase failed, or no state).
    pub aborted: bool,
    /// The compute phase.
    pub compute_ph: Option<ComputePhase>,
    /// The bounce phase: present when the inbound value was sent back.
    pub bounce: Option<BouncePhase>,
}

/// `compute_ph` of a transaction.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ComputePhase {
    /// Compute was skipped (e.g. `reason: "no_state"` for an uninitialised wallet).
    pub skipped: bool,
    /// Why it was skipped.
    pub reason: Option<String>,
    /// Compute succeeded.
    pub success: Option<bool>,
    /// TVM exit code.
    pub exit_code: Option<i32>,
}

/// `bounce` phase of a transaction.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BouncePhase {
    /// `ok`, `nofunds` or `negfunds`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A message (`Message` in the v3 OpenAPI).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Message {
    /// Message hash (base64).
    pub hash: String,
    /// Sender (`null` for external inbound messages).
    pub source: Option<String>,
    /// Receiver (`null` for external outbound messages).
    pub destination: Option<String>,
    /// Value in nanotons (`null` for external messages).
    #[serde(deserialize_with = "big_opt")]
    pub value: Option<u128>,
    /// First 32 bits of the body as hex (`0x…`), `null` for an empty body.
    pub opcode: Option<String>,
    /// The sender asked for a bounce on failure.
    pub bounce: Option<bool>,
    /// This message is itself a bounce (value returning to the original sender).
    pub bounced: Option<bool>,
    /// Logical time the message was created.
    #[serde(deserialize_with = "big_opt")]
    pub created_lt: Option<u128>,
    /// The body.
    pub message_content: Option<MessageContent>,
}

/// `message_content` of a message.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MessageContent {
    /// The body as a base64 BoC.
    pub body: Option<String>,
}

/// A jetton transfer (`JettonTransfer` in the v3 OpenAPI): between owners, per jetton master.
#[derive(Debug, Clone, Deserialize)]
pub struct JettonTransfer {
    /// The sending wallet's owner.
    pub source: String,
    /// The receiving wallet's owner.
    pub destination: String,
    /// Amount in the jetton's base unit (decimal string).
    #[serde(deserialize_with = "big")]
    pub amount: u128,
    /// The sending jetton wallet.
    #[serde(default)]
    pub source_wallet: Option<String>,
    /// The jetton master (minter).
    pub jetton_master: String,
    /// Hash of the sending wallet's transaction (base64).
    pub transaction_hash: String,
    /// Its logical time.
    #[serde(deserialize_with = "big")]
    pub transaction_lt: u128,
    /// Its unix time.
    pub transaction_now: u64,
    /// The transfer failed and moved nothing (the jettons stayed with the sender).
    #[serde(default)]
    pub transaction_aborted: bool,
}

/// Accepts a decimal string (toncenter's form for 64-bit and larger values) or a JSON integer.
fn big<'de, D: Deserializer<'de>>(de: D) -> Result<u128, D::Error> {
    big_opt(de)?.ok_or_else(|| serde::de::Error::custom("null where an integer is required"))
}

fn big_opt<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u128>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Big {
        Text(String),
        Int(u64),
    }
    match Option::<Big>::deserialize(de)? {
        None => Ok(None),
        Some(Big::Int(n)) => Ok(Some(n.into())),
        Some(Big::Text(text)) => parse_big("integer", &text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A non-negative decimal integer.
pub fn parse_big(field: &'static str, text: &str) -> Result<u128, PageError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PageError::Number {
            field,
            value: bounded(text),
        });
    }
    text.parse().map_err(|_| PageError::Number {
        field,
        value: bounded(text),
    })
}

/// An address in any form toncenter or an address book writes.
pub fn parse_address(field: &'static str, text: &str) -> Result<Address, PageError> {
    text.parse().map_err(|_| PageError::Address {
        field,
        value: bounded(text),
    })
}

/// A 32-byte hash from standard or URL-safe base64 (toncenter v3) or hex (explorers).
pub fn parse_hash(field: &'static str, text: &str) -> Result<[u8; 32], PageError> {
    use base64::Engine as _;
    let err = || PageError::Hash {
        field,
        value: bounded(text),
    };
    let mut hash = [0u8; 32];
    if text.len() == 64 {
        hex::decode_to_slice(text, &mut hash).map_err(|_| err())?;
        return Ok(hash);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .map_err(|_| err())?;
    hash = bytes.try_into().map_err(|_| err())?;
    Ok(hash)
}

/// The 32-bit opcode from toncenter's hex string (`0x0f8a7ea5`, with or without `0x`).
pub fn parse_opcode(text: &str) -> Result<u32, PageError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 8 {
        return Err(PageError::Opcode(bounded(text)));
    }
    u32::from_str_radix(digits, 16).map_err(|_| PageError::Opcode(bounded(text)))
}

/// A record of a page, and the page that holds it.
pub trait PageRecord: serde::de::DeserializeOwned {
    /// The page's array (`transactions` or `jetton_transfers`).
    const KEY: &'static str;
    /// The page type.
    type Page: serde::de::DeserializeOwned;
    /// The page's records.
    fn of(page: Self::Page) -> Vec<Self>;
}

impl PageRecord for Transaction {
    const KEY: &'static str = "transactions";
    type Page = TransactionsPage;
    fn of(page: TransactionsPage) -> Vec<Self> {
        page.transactions
    }
}

impl PageRecord for JettonTransfer {
    const KEY: &'static str = "jetton_transfers";
    type Page = JettonTransfersPage;
    fn of(page: JettonTransfersPage) -> Vec<Self> {
        page.jetton_transfers
    }
}

/// The records of a file: one page (a JSON object, possibly spread over lines), or JSON lines
/// each holding a page or one record.
pub fn records<T: PageRecord>(text: &str) -> Result<Vec<T>, PageError> {
    let json = |err: serde_json::Error| PageError::Json(err.to_string());
    let text = text.trim();
    if text.is_empty() {
        return Err(PageError::Json("empty input".into()));
    }
    let key = format!("\"{}\"", T::KEY);
    let whole = serde_json::from_str::<T::Page>(text);
    if let Ok(page) = whole {
        return Ok(T::of(page));
    }
    if !text.contains('\n') {
        // One value: a page that failed (say why), else one record.
        if text.contains(&key) {
            return Err(json(whole.err().expect("failed")));
        }
        return serde_json::from_str::<T>(text)
            .map(|r| vec![r])
            .map_err(json);
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = |err: serde_json::Error| PageError::Json(format!("line {}: {err}", n + 1));
        if line.contains(&key) {
            if let Ok(page) = serde_json::from_str::<T::Page>(line) {
                out.extend(T::of(page));
                continue;
            }
        }
        out.push(serde_json::from_str::<T>(line).map_err(at)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_hashes_opcodes_and_addresses_in_toncenter_forms() {
        assert_eq!(
            parse_big("amount", "340282366920938463463374607431768211455").unwrap(),
            u128::MAX
        );
        for bad in [
            "",
            "-1",
            "1e9",
            "0x10",
            "340282366920938463463374607431768211456",
        ] {
            assert!(matches!(
                parse_big("amount", bad),
                Err(PageError::Number { .. })
            ));
        }
        let hex = "ab".repeat(32);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0xab; 32]);
        assert_eq!(parse_hash("hash", &hex).unwrap(), [0xab; 32]);
        assert_eq!(parse_hash("hash", &b64).unwrap(), [0xab; 32]);
        assert!(matches!(
            parse_hash("hash", "q83v"),
            Err(PageError::Hash { .. })
        ));
        assert_eq!(parse_opcode("0x0f8a7ea5").unwrap(), 0x0f8a7ea5);
        assert_eq!(parse_opcode("7362D09C").unwrap(), 0x7362d09c);
        for bad in ["0x", "0x123456789", "xyz"] {
            assert!(matches!(parse_opcode(bad), Err(PageError::Opcode(_))));
        }
        let raw = "0:B113A994B5024A16719F69139328EB759596C38A25F59028B146FECDC3621DFE";
        let friendly = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs";
        assert_eq!(
            parse_address("a", raw).unwrap(),
            parse_address("a", friendly).unwrap()
        );
        assert!(matches!(
            parse_address("a", "0:XYZ"),
            Err(PageError::Address { .. })
        ));
    }

    #[test]
    fn pages_and_json_lines_are_read_and_other_shapes_refused() {
        let item = r#"{"source":"0:11","destination":"0:22","amount":"5","jetton_master":"0:33","transaction_hash":"x","transaction_lt":"7","transaction_now":1}"#;
        let page = format!(r#"{{"jetton_transfers":[{item},{item}],"address_book":{{}}}}"#);
        assert_eq!(records::<JettonTransfer>(&page).unwrap().len(), 2);
        let lines = format!("{page}\n{item}\n");
        assert_eq!(records::<JettonTransfer>(&lines).unwrap().len(), 3);
        for bad in [
            "",
            "[1,2]",
            "{\"jetton_transfers\": 5}",
            "{\"amount\": \"x\"}",
            "{",
        ] {
            assert!(
                matches!(records::<JettonTransfer>(bad), Err(PageError::Json(_))),
                "{bad}"
            );
        }
    }
}
