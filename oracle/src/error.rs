//! The oracle's one error type, and how it becomes an HTTP response.
//!
//! Every variant maps to one status code. Client errors carry a message written for the client;
//! server-side failures (store, key, I/O) are logged in full and answered with a generic message,
//! so no path, key material or library detail ever leaves the node.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything that can go wrong in the oracle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An address string is neither raw `wc:hex` nor a valid user-friendly address.
    #[error("invalid address: {0}")]
    InvalidAddress(String),
    /// A BoC could not be decoded as one attestation cell.
    #[error("invalid attestation BoC: {0}")]
    InvalidBoc(String),
    /// A network that is neither a known name nor a `global_id` this node signs for.
    #[error("unknown or disallowed network: {0}")]
    UnknownNetwork(String),
    /// The request is well-formed JSON but asks for something invalid (bad field value, too many
    /// addresses, TTL of zero...).
    #[error("{0}")]
    InvalidRequest(String),
    /// The body is not the JSON the endpoint expects.
    #[error("malformed request body: {0}")]
    MalformedBody(String),
    /// The body is larger than the configured limit (declared or sent).
    #[error("request body too large")]
    PayloadTooLarge,
    /// A batch request carries more items than a node takes in one request.
    #[error("at most {max} items per batch, got {got}: send several batches")]
    BatchTooLarge {
        /// The limit (`tollgate_sdk::api::MAX_BATCH`).
        max: usize,
        /// Items sent.
        got: usize,
    },
    /// The body did not arrive within the body read deadline.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// The body is not declared as JSON (`Content-Type: application/json`).
    #[error("expected a body with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// A proposed attestation claims less than this node's judgement of the subject: the node
    /// would be vouching for a bound it does not believe.
    #[error("bound `{bound}` does not hold: {detail}")]
    BoundViolated {
        /// `risk` or `categories`.
        bound: &'static str,
        /// What the node judged against what was proposed.
        detail: String,
    },
    /// A proposed attestation is outside this node's signing policy (verifier or network not
    /// allowed, TTL above the maximum, wrong epoch, expired).
    #[error("policy `{policy}` refused: {detail}")]
    PolicyRefused {
        /// Which policy check failed.
        policy: &'static str,
        /// Why.
        detail: String,
    },
    /// The payload API serves no such jetton (not the configured certificate's minter).
    #[error("unknown jetton: this node serves the payload of {0}")]
    UnknownJetton(String),
    /// The sender's attestation is over the certificate's policy: the compliant wallet would
    /// refuse the transfer, so no payload is handed out.
    #[error("refused by the certificate's policy: {0}")]
    OverPolicy(String),
    /// Fewer than the certificate's threshold of signers answered (the message names them by
    /// index and reason, never by URL).
    #[error("quorum not reached: {0}")]
    QuorumNotReached(String),
    /// The configured signer certificate has expired: wallets would refuse every payload.
    #[error("the signer certificate expired at {0}; the operator must install a new one")]
    CertificateExpired(u32),
    /// The admin bearer token is missing or wrong (or no admin token is configured).
    #[error("admin token missing or invalid")]
    Unauthorized,
    /// The requested resource does not exist.
    #[error("not found")]
    NotFound,
    /// The store failed or is corrupt. The node stops signing (fail closed).
    #[error("store: {0}")]
    Store(String),
    /// The audit log cannot take more entries (writer stopped or a flush failed); the node does
    /// not sign what it cannot record.
    #[error("audit log unavailable: {0}")]
    AuditUnavailable(String),
    /// A stored record failed its check (checksum, decoding, or a digest or guard it must
    /// match): the node cannot prove its state intact, so it does not sign.
    #[error("store damaged: {0}")]
    Corrupt(String),
    /// The audit anchor file is unreadable or its signature does not verify.
    #[error("audit anchor invalid: {0}")]
    AnchorInvalid(String),
    /// The audit log and its anchor disagree (lost tail, truncation, a restored or replaced
    /// log, a missing anchor, another key); the message says what the operator can do.
    #[error("audit log does not match its anchor: {0}")]
    AnchorMismatch(String),
    /// The audit chain does not verify.
    #[error("audit chain broken at seq {seq}: {reason}")]
    AuditBroken {
        /// The first entry whose link fails.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The signing key file is missing, malformed or has unsafe permissions.
    #[error("signing key: {0}")]
    Key(String),
    /// Configuration file or values are invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// An input file for ingestion could not be read or parsed as a whole.
    #[error("ingest: {0}")]
    Ingest(String),
    /// A toncenter v3 page (transactions or jetton transfers) could not be read.
    #[error("transfer page: {0}")]
    Page(#[from] crate::exposure::toncenter::PageError),
    /// The follower's source answered with something other than a page.
    #[error("follower: {0}")]
    Source(String),
    /// An I/O error outside the store.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The sdk could not encode or sign (with valid inputs this is a bug).
    #[error("sdk: {0}")]
    Sdk(#[from] tollgate_sdk::Error),
}

/// `Result` with the oracle's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sled::Error> for Error {
    fn from(err: sled::Error) -> Self {
        Error::Store(err.to_string())
    }
}

/// The JSON body of every error response.
#[derive(Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize)]
struct ErrorDetail {
    /// A stable machine-readable code.
    code: &'static str,
    /// A message for humans; never internals.
    message: String,
    /// For bound and policy failures, which one failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    bound: Option<&'static str>,
}

impl Error {
    /// The status code and stable code this error is answered with.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            // The client sent text we cannot parse: fix the request.
            Error::InvalidAddress(_) => (StatusCode::BAD_REQUEST, "invalid_address"),
            Error::InvalidBoc(_) => (StatusCode::BAD_REQUEST, "invalid_boc"),
            Error::MalformedBody(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            // Parsed fine, but the value is not acceptable: 422 Unprocessable Content.
            Error::UnknownNetwork(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_network"),
            Error::InvalidRequest(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            Error::PolicyRefused { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "policy_refused"),
            // The proposal conflicts with the node's own judgement of the subject: 409 Conflict.
            Error::BoundViolated { .. } => (StatusCode::CONFLICT, "bound_violated"),
            // The body limit protects memory; the client must send less.
            Error::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            // Like a body over the limit: the client must send less per request.
            Error::BatchTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large"),
            // The client was too slow to send what it announced: 408 Request Timeout (its fault,
            // unlike a handler timeout).
            Error::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            // The endpoint reads JSON only; the client must say it sends JSON.
            Error::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            // Admin endpoints need the bearer token.
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::UnknownJetton(_) => (StatusCode::NOT_FOUND, "unknown_jetton"),
            // Understood and refused on the merits: 403, the wallet should not retry.
            Error::OverPolicy(_) => (StatusCode::FORBIDDEN, "over_policy"),
            // Retry later: peers may come back, an operator may install a new certificate.
            Error::QuorumNotReached(_) => (StatusCode::SERVICE_UNAVAILABLE, "quorum_not_reached"),
            Error::CertificateExpired(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "certificate_expired")
            }
            // The node cannot record what it signs, so it refuses to sign: unavailable, retry
            // elsewhere (another node of the quorum) or later.
            Error::Store(_)
            | Error::Corrupt(_)
            | Error::AnchorInvalid(_)
            | Error::AnchorMismatch(_)
            | Error::AuditUnavailable(_)
            | Error::AuditBroken { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            // Anything else is our fault.
            Error::Key(_)
            | Error::Config(_)
            | Error::Ingest(_)
            | Error::Page(_)
            | Error::Source(_)
            | Error::Io(_)
            | Error::Sdk(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// For bound and policy failures, which one failed.
    pub fn bound(&self) -> Option<&'static str> {
        match self {
            Error::BoundViolated { bound, .. } => Some(bound),
            Error::PolicyRefused { policy, .. } => Some(policy),
            _ => None,
        }
    }

    /// Whether the message may be shown to the client.
    pub fn is_client_error(&self) -> bool {
        self.status().0.is_client_error()
    }

    /// Whether the response carries the message: client errors, and the payload API's 503s,
    /// whose messages are written for the wallet (signer indexes, an expiry time).
    fn message_is_public(&self) -> bool {
        self.is_client_error()
            || matches!(
                self,
                Error::QuorumNotReached(_) | Error::CertificateExpired(_)
            )
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let message = if self.message_is_public() {
            self.to_string()
        } else {
            // Log the detail for the operator; the client only learns the class of failure.
            tracing::error!(error = %self, "request failed");
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "the node cannot sign or record right now".to_string()
                }
                _ => "internal error".to_string(),
            }
        };
        let bound = self.bound();
        json_error(status, code, message, bound)
    }
}

/// A JSON error response for failures outside handlers (load shedding, timeouts, unknown routes).
pub fn plain_error(status: StatusCode, code: &'static str, message: &str) -> Response {
    json_error(status, code, message.to_string(), None)
}

/// The one shape of every error response; a 503 also tells the client when to retry.
fn json_error(
    status: StatusCode,
    code: &'static str,
    message: String,
    bound: Option<&'static str>,
) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message,
            bound,
        },
    };
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

impl From<axum::extract::rejection::JsonRejection> for Error {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge
        } else if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            Error::UnsupportedMediaType
        } else {
            Error::MalformedBody(rejection.body_text())
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for Error {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Error::InvalidRequest(rejection.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for Error {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        Error::InvalidRequest(rejection.body_text())
    }
}
