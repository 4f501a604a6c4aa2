#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! - [`attestation`]: the attestation cell — encode, strict decode, hash, sign, verify.
//! - [`bundle`]: the signature bundle — k signer-indexed signatures chained across cells.
//! - [`proof`]: an attestation with its bundle in one cell, as messages carry it.
//! - [`messages`]: message bodies that carry proofs (gate transfers, TEP-74 jetton transfers,
//!   deposits to a JettonDepositGate).
//! - [`ton_connect`]: TON Connect `sendTransaction` requests for a transfer through a gate and
//!   for a jetton deposit (raw message or structured jetton item).
//! - [`compliant`]: the compliant jetton's signer certificate and `ComplianceAuth` payload.
//! - [`fees`]: what a ComplianceGate charges on top of the amount, what a JettonDepositGate
//!   needs as forward amount, what a USDT wallet needs attached.
//! - [`signer_set`]: a verifier's signer set as contracts store it.
//! - [`address`]: `addr_std` addresses in raw and user-friendly text.
//! - [`categories`], [`network`]: the category bitmask and network ids.
//! - [`boc`]: bags of cells as bytes, base64 and hex.
//! - [`codes`]: tags, op codes and exit codes (SPEC.md §6).
//! - [`exposure`]: exposure findings and the transfer paths that show them.
//! - [`evidence`]: signed evidence case files and their offline verification.
//! - [`api`]: JSON bodies of the oracle node's HTTP API.
//! - [`quorum`] (feature `quorum`): the quorum protocol over any HTTP transport.
//! - [`client`] (feature `client`, on by default): the quorum over reqwest and tokio.
//! - [`error`]: the one error type.

pub mod address;
pub mod api;
pub mod attestation;
pub mod boc;
pub mod bundle;
pub mod categories;
#[cfg(feature = "client")]
pub mod client;
pub mod codes;
pub mod compliant;
pub mod error;
pub mod evidence;
pub mod exposure;
pub mod fees;
pub mod messages;
pub mod network;
pub mod proof;
#[cfg(feature = "quorum")]
pub mod quorum;
pub mod signer_set;
pub mod ton_connect;

pub use address::{Address, FriendlyFlags};
pub use attestation::{Attestation, EncodedAttestation};
pub use bundle::{SignatureBundle, SignatureEntry};
pub use categories::Categories;
pub use error::{Error, Result};
pub use network::Network;
pub use proof::{AttestationProof, ProofJson};
pub use signer_set::SignerSet;

/// ed25519 types used across the API, re-exported so callers need not pin ed25519-dalek.
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

/// Lower-case hex of `bytes`, as `hex::encode` gives it, without its char-by-char iterator:
/// hashes, keys and signatures are hex in every answer the node signs (a batch of 256
/// attestations spent 3 % of its CPU in `hex::encode`).
pub fn hex_string(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut out).expect("the buffer holds two digits a byte");
    String::from_utf8(out).expect("hex digits are ASCII")
}

#[cfg(test)]
mod hex_tests {
    #[test]
    fn hex_string_is_hex_encode() {
        for bytes in [&[][..], &[0x00], &[0xab, 0x01, 0xff], &[0x5a; 64]] {
            assert_eq!(super::hex_string(bytes), hex::encode(bytes));
        }
    }
}
