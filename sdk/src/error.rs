//! The sdk's one error type.

use tonlib_core::cell::TonCellError;

/// Everything that can go wrong while encoding, decoding, signing or verifying Tollgate data.
///
/// Each decoding variant names what was wrong with the input, so a caller (or an HTTP API built
/// on the sdk) can report it without exposing internals.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// An address string is neither a raw `wc:hex` address nor a valid user-friendly one.
    #[error("invalid address {input:?}: {reason}")]
    InvalidAddress {
        /// The text that was given (truncated to 100 characters).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cell holds an address kind that attestations cannot carry (only `addr_std` without
    /// anycast is allowed).
    #[error("unsupported address in `{field}`: {reason}")]
    UnsupportedAddress {
        /// The attestation field that holds it.
        field: &'static str,
        /// Which kind of address was found.
        reason: &'static str,
    },
    /// Text that should be base64 or hex is not.
    #[error("invalid {encoding} text: {reason}")]
    InvalidEncoding {
        /// `base64` or `hex`.
        encoding: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// Bytes that should be a bag of cells could not be parsed as one.
    #[error("invalid BoC: {0}")]
    InvalidBoc(String),
    /// A bag of cells holds more or fewer than one root cell.
    #[error("expected a BoC with one root cell, found {0}")]
    BocRoots(usize),
    /// A cell is exotic (pruned branch, library, Merkle proof…) where an ordinary cell is required.
    #[error("exotic cell where an ordinary cell is required")]
    ExoticCell,
    /// The cell starts with a tag that is not the attestation's, e.g. another kind or version.
    #[error("unknown tag {found:#010x} (expected {expected:#010x})")]
    UnknownTag {
        /// The tag in the cell.
        found: u32,
        /// The tag this sdk understands.
        expected: u32,
    },
    /// The cell does not have the attestation's exact layout (798 bits, no refs).
    #[error("malformed attestation: {bits} bits and {refs} refs (expected 798 bits and no refs)")]
    MalformedAttestation {
        /// Data bits in the cell.
        bits: usize,
        /// References in the cell.
        refs: usize,
    },
    /// A cell with the proof's tag does not have its layout (32 bits, two refs).
    #[error(
        "malformed attestation proof: {bits} bits and {refs} refs (expected 32 bits and two refs)"
    )]
    MalformedProof {
        /// Data bits in the cell.
        bits: usize,
        /// References in the cell.
        refs: usize,
    },
    /// The risk bound is above 100.
    #[error("risk {0} is out of range (0..=100)")]
    RiskOutOfRange(u8),
    /// `valid_until` comes before `issued_at`, or after it by more than
    /// [`crate::attestation::MAX_LIFETIME_SECS`].
    #[error("validity {issued_at}..={valid_until} is not a lifetime of 0 to 86400 seconds")]
    InvalidValidity {
        /// The attestation's `issued_at`.
        issued_at: u32,
        /// The attestation's `valid_until`.
        valid_until: u32,
    },
    /// A signature bundle entry does not have the layout of `signature_entry` (521 bits, at most
    /// one ref, the ref present exactly when the `next` bit says so).
    #[error("malformed signature entry at position {position}: {reason}")]
    MalformedSignatureEntry {
        /// Zero-based position in the chain.
        position: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A signature bundle has no entries, or more than [`crate::bundle::MAX_SIGNERS`].
    #[error("signature bundle has {0} entries (expected 1..=16)")]
    BundleSize(usize),
    /// Signer indexes in a bundle do not strictly increase.
    #[error("signer index {index} does not follow {previous} (indexes must strictly increase)")]
    SignerOrder {
        /// The index before it.
        previous: u8,
        /// The offending index.
        index: u8,
    },
    /// A bundle names a signer for which no public key was given.
    #[error("no public key for signer index {0}")]
    UnknownSigner(u8),
    /// A signature does not verify (strictly) under the signer's key.
    #[error("signature of signer {index} does not verify")]
    BadSignature {
        /// The signer index whose signature failed.
        index: u8,
    },
    /// A bundle holds fewer signatures than the signer set's threshold.
    #[error("{found} signatures, the threshold is {threshold}")]
    TooFewSignatures {
        /// Signatures in the bundle.
        found: usize,
        /// Signatures required.
        threshold: usize,
    },
    /// A public key is not a valid (or is a weak, small-order) ed25519 point.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    /// A signer set has no keys, more than 16 keys, or a threshold outside `1..=count`.
    #[error("invalid signer set: {0}")]
    InvalidSignerSet(String),
    /// Fewer than k oracle nodes signed; `failures` says which nodes failed and why.
    #[error("{signed} of {threshold} required signatures; failed nodes: {}", failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    QuorumNotReached {
        /// Valid signatures collected.
        signed: usize,
        /// Signatures required.
        threshold: usize,
        /// Every node that failed, by signer index.
        failures: Vec<NodeFailure>,
    },
    /// One proof of a batch failed verification.
    #[error("proof {position} of the batch: {error}")]
    InBatch {
        /// Zero-based position of the first failing proof.
        position: usize,
        /// Why it failed.
        error: Box<Error>,
    },
    /// A proof does not fit the transfer it is to travel with: it is about another subject than
    /// the party it screens, for another verifier than the gate, or for another network than the
    /// other proof.
    #[error("the {party} proof's {field} is {found}, not {expected}")]
    ProofMismatch {
        /// `destination` or `sender`.
        party: &'static str,
        /// `subject`, `verifier` or `network`.
        field: &'static str,
        /// What the transfer needs.
        expected: String,
        /// What the proof says.
        found: String,
    },
    /// A proof's `valid_until` has passed.
    #[error("the proof expired at {valid_until} (now {now})")]
    ProofExpired {
        /// The attestation's last valid second.
        valid_until: u32,
        /// The time it was checked at.
        now: u32,
    },
    /// A transfer through a gate was asked for without any proof.
    #[error("no proof given: a gate screens the destination, the sender or both")]
    MissingProof,
    /// A network TON Connect has no chain id for (only mainnet -239 and testnet -3).
    #[error("network {0} is neither mainnet (-239) nor testnet (-3)")]
    UnsupportedNetwork(i32),
    /// A deposit's reference does not fit beside the proof in one `forward_payload` cell (the
    /// proof takes 32 bits and two of the four refs; SPEC.md §12.1).
    #[error("the deposit reference has {bits} bits and {refs} refs (at most 991 bits and 2 refs fit beside the proof)")]
    ReferenceTooLarge {
        /// Data bits of the reference cell.
        bits: usize,
        /// References of the reference cell.
        refs: usize,
    },
    /// A task of the client failed unexpectedly (a bug or a shutting-down runtime).
    #[error("internal client error: {0}")]
    Internal(String),
    /// An evidence case file is not one: not JSON, a missing or unknown field, a bad signature
    /// encoding, another format, or a number outside the canonical range.
    #[error("malformed evidence case file: {0}")]
    MalformedEvidence(String),
    /// An evidence case file names another node's key than the one it is checked against.
    #[error("the case file is signed by node key {named:?}, not by {expected}")]
    EvidenceWrongKey {
        /// The key the file names (`case.node.public_key`).
        named: String,
        /// The key it was checked against, hex.
        expected: String,
    },
    /// An evidence case file's signature does not verify: it was changed after signing.
    #[error(
        "the case file's signature does not verify (the file was changed after it was signed)"
    )]
    EvidenceSignature,
    /// A `SignerCertificate` or `ComplianceAuth` cell does not have its layout.
    #[error("malformed {what}: {bits} bits and {refs} refs (expected {expected})")]
    MalformedCompliance {
        /// `signer certificate` or `compliance auth`.
        what: &'static str,
        /// Data bits in the cell.
        bits: usize,
        /// References in the cell.
        refs: usize,
        /// The layout it should have.
        expected: &'static str,
    },
    /// The root key's signature over a signer certificate does not verify.
    #[error("the root signature over the signer certificate does not verify")]
    CertificateSignature,
    /// A signer certificate's `valid_until` has passed.
    #[error("the signer certificate expired at {valid_until} (now {now})")]
    CertificateExpired {
        /// The certificate's last valid second.
        valid_until: u32,
        /// The time it was checked at.
        now: u32,
    },
    /// A signer certificate is for another minter or network than the one it is used with.
    #[error("the signer certificate's {field} is {found}, expected {expected}")]
    CertificateMismatch {
        /// `minter` or `network`.
        field: &'static str,
        /// What the use needs.
        expected: String,
        /// What the certificate says.
        found: String,
    },
    /// An attestation the certificate's policy refuses: a compliant wallet would refuse the
    /// transfer, so no `ComplianceAuth` is made for it.
    #[error("over the certificate's policy: {0}")]
    OverPolicy(String),
    /// tonlib-core refused to build a cell; with the layouts in this crate this means a bug.
    #[error("cell construction failed: {0}")]
    Cell(String),
}

impl Error {
    /// A stable snake_case name of the variant, for callers in other languages (the JavaScript
    /// package's `TollgateError.code`) and for scripts reading the CLI's errors.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidAddress { .. } => "invalid_address",
            Error::UnsupportedAddress { .. } => "unsupported_address",
            Error::InvalidEncoding { .. } => "invalid_encoding",
            Error::InvalidBoc(_) => "invalid_boc",
            Error::BocRoots(_) => "boc_roots",
            Error::ExoticCell => "exotic_cell",
            Error::UnknownTag { .. } => "unknown_tag",
            Error::MalformedAttestation { .. } => "malformed_attestation",
            Error::MalformedProof { .. } => "malformed_proof",
            Error::RiskOutOfRange(_) => "risk_out_of_range",
            Error::InvalidValidity { .. } => "invalid_validity",
            Error::MalformedSignatureEntry { .. } => "malformed_signature_entry",
            Error::BundleSize(_) => "bundle_size",
            Error::SignerOrder { .. } => "signer_order",
            Error::UnknownSigner(_) => "unknown_signer",
            Error::BadSignature { .. } => "bad_signature",
            Error::TooFewSignatures { .. } => "too_few_signatures",
            Error::InvalidPublicKey(_) => "invalid_public_key",
            Error::InvalidSignerSet(_) => "invalid_signer_set",
            Error::QuorumNotReached { .. } => "quorum_not_reached",
            Error::InBatch { .. } => "in_batch",
            Error::ProofMismatch { .. } => "proof_mismatch",
            Error::ProofExpired { .. } => "proof_expired",
            Error::MissingProof => "missing_proof",
            Error::UnsupportedNetwork(_) => "unsupported_network",
            Error::ReferenceTooLarge { .. } => "reference_too_large",
            Error::Internal(_) => "internal",
            Error::MalformedEvidence(_) => "malformed_evidence",
            Error::EvidenceWrongKey { .. } => "evidence_wrong_key",
            Error::EvidenceSignature => "evidence_signature",
            Error::MalformedCompliance { .. } => "malformed_compliance",
            Error::CertificateSignature => "certificate_signature",
            Error::CertificateExpired { .. } => "certificate_expired",
            Error::CertificateMismatch { .. } => "certificate_mismatch",
            Error::OverPolicy(_) => "over_policy",
            Error::Cell(_) => "cell",
        }
    }
}

/// One oracle node that did not contribute a valid signature, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFailure {
    /// The node's base URL.
    pub url: String,
    /// The node's signer index.
    pub index: u8,
    /// What went wrong: unreachable, timed out, refused (with the node's error code), or an
    /// answer that did not verify.
    pub reason: String,
}

impl std::fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node {} ({}): {}", self.index, self.url, self.reason)
    }
}

/// `Result` with the sdk's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<TonCellError> for Error {
    fn from(err: TonCellError) -> Self {
        Error::Cell(err.to_string())
    }
}
