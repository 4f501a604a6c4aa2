//! The compliant jetton's payload API (SPEC.md §16.6): what an unmodified wallet app fetches
//! before it sends a compliant jetton, in the two shapes wallets call.
//!
//! - `GET /v2/jettons/{jetton}/transfer/{address}/payload`: tonapi's shape (Tonkeeper and the
//!   wallets on tonapi ask it for every jetton whose metadata names a `custom_payload_api_uri`):
//!   `{custom_payload, state_init}`, hex BoCs.
//! - `GET /v1/jettons/{jetton}/wallet/{address}`: TEP-176's `{custom_payload_api_uri}/wallet/
//!   {owner}` with `custom_payload_api_uri = https://node/v1/jettons/{jetton}`:
//!   `{owner, custom_payload}`, base64 BoC.
//!
//! Either way the node gathers a k-of-n attestation of the sending account (`{address}`, the
//! wallet's owner) for the minter, from the certificate's signer set, with the sdk's quorum
//! client, and wraps it with the configured certificate into a `ComplianceAuth`. It hands out
//! only an auth the wallet would accept: a sender over the certificate's policy gets a 403 with
//! the reason. A compliant jetton needs no `state_init` (its wallets are ordinary, not
//! mintless), so `state_init` is absent and TEP-176's `jetton_wallet` and `compressed_info`
//! are not given.

use axum::extract::State;
use serde::Serialize;
use tollgate_sdk::client::{Client, ClientConfig, Node};
use tollgate_sdk::compliant::{CertificateFile, ComplianceAuth, SignedCertificate};
use tollgate_sdk::{Address, VerifyingKey};

use super::{parse_address_on, Path, SharedState};
use crate::config::JettonPayloadConfig;
use crate::error::{Error, Result};

/// `tollgate_jetton_payloads_total{outcome}`: payload requests by outcome.
pub const PAYLOADS: &str = "tollgate_jetton_payloads_total";
/// `tollgate_jetton_certificate_expiry_timestamp_seconds`: the configured certificate's
/// `valid_until` (alert when `time()` comes near it).
pub const CERTIFICATE_EXPIRY: &str = "tollgate_jetton_certificate_expiry_timestamp_seconds";

/// The loaded certificate and the quorum client over its signer set.
pub struct PayloadService {
    certificate: SignedCertificate,
    client: Client,
}

impl PayloadService {
    /// Reads and verifies the certificate under the configured root key, and checks each peer
    /// against the certificate's signer set. Every problem is an [`Error::Config`] naming it.
    pub fn load(config: &JettonPayloadConfig) -> Result<Self> {
        let bad = |what: String| Error::Config(format!("jetton_payload: {what}"));
        let path = config.certificate.display();
        let text = std::fs::read_to_string(&config.certificate)
            .map_err(|err| bad(format!("cannot read {path}: {err}")))?;
        let file: CertificateFile =
            serde_json::from_str(&text).map_err(|err| bad(format!("{path}: {err}")))?;
        let certificate =
            SignedCertificate::from_file(&file).map_err(|err| bad(format!("{path}: {err}")))?;
        let root = parse_key(&config.root_public_key)
            .map_err(|err| bad(format!("root_public_key: {err}")))?;
        if certificate.root != root {
            return Err(bad(format!(
                "{path} is signed by root key {}, not the configured one",
                hex::encode(certificate.root.as_bytes())
            )));
        }
        let set = &certificate.certificate.signers;
        let mut nodes = Vec::new();
        for peer in &config.peers {
            let key = *set.keys.get(usize::from(peer.index)).ok_or_else(|| {
                bad(format!(
                    "peer {}: index {} is not in the certificate's {} keys",
                    peer.url,
                    peer.index,
                    set.keys.len()
                ))
            })?;
            if let Some(given) = &peer.key {
                if parse_key(given).map_err(|err| bad(format!("peer {}: {err}", peer.url)))? != key
                {
                    return Err(bad(format!(
                        "peer {}: key is not the certificate's key at index {}",
                        peer.url, peer.index
                    )));
                }
            }
            nodes.push(Node {
                url: peer.url.clone(),
                index: peer.index,
                public_key: key,
            });
        }
        let mut quorum = ClientConfig::new(nodes, usize::from(set.threshold), set.epoch);
        quorum.ttl_secs = config.ttl_secs;
        quorum.timeout = std::time::Duration::from_millis(config.timeout_ms);
        let client = Client::new(quorum).map_err(|err| bad(format!("peers: {err}")))?;
        ::metrics::gauge!(CERTIFICATE_EXPIRY).set(f64::from(certificate.certificate.valid_until));
        Ok(PayloadService {
            certificate,
            client,
        })
    }

    /// Whether the certificate is still valid at `now` (readiness reports it).
    pub fn certificate_current(&self, now: u32) -> bool {
        self.certificate.certificate.check_current(now).is_ok()
    }

    /// The auth for `owner` sending the jetton `jetton` at `now`.
    async fn authorize(
        &self,
        jetton: &Address,
        owner: Address,
        now: u32,
    ) -> Result<ComplianceAuth> {
        let c = &self.certificate.certificate;
        if *jetton != c.minter {
            return Err(Error::UnknownJetton(c.minter.to_string()));
        }
        c.check_current(now)
            .map_err(|_| Error::CertificateExpired(c.valid_until))?;
        let proof = self
            .client
            .attest(owner, c.minter, c.network)
            .await
            .map_err(quorum_error)?;
        self.certificate
            .authorize(proof, &owner, now)
            .map_err(|err| match err {
                tollgate_sdk::Error::OverPolicy(reason) => Error::OverPolicy(reason),
                tollgate_sdk::Error::CertificateExpired { valid_until, .. } => {
                    Error::CertificateExpired(valid_until)
                }
                // A proof that verified in the client but not against the certificate: the
                // peers disagree with it (another epoch, another network). Not the wallet's fault.
                other => Error::QuorumNotReached(format!(
                    "the signers' attestation does not fit the certificate: {other}"
                )),
            })
    }
}

/// The current unix time as the u32 attestations carry.
fn now() -> u32 {
    u32::try_from(crate::unix_now()).unwrap_or(u32::MAX)
}

fn parse_key(text: &str) -> std::result::Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("not 64 hex digits")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an ed25519 point".to_string())
}

/// The quorum's failure for the wallet: how many signed, and each failed signer by index and
/// reason (peer URLs are the operator's, not the public's).
fn quorum_error(err: tollgate_sdk::Error) -> Error {
    match err {
        tollgate_sdk::Error::QuorumNotReached {
            signed,
            threshold,
            failures,
        } => {
            let failed: Vec<String> = failures
                .iter()
                .map(|f| format!("signer {}: {}", f.index, f.reason))
                .collect();
            Error::QuorumNotReached(format!(
                "{signed} of {threshold} signatures; {}",
                failed.join("; ")
            ))
        }
        other => Error::QuorumNotReached(other.to_string()),
    }
}

/// tonapi's `JettonTransferPayload`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TransferPayload {
    /// The `ComplianceAuth` to put in the transfer's `custom_payload`, hex BoC.
    pub custom_payload: String,
    /// Always absent: a compliant jetton wallet needs no state init.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_init: Option<String>,
    /// Unix time after which the wallet must fetch a new payload (the attestation's or the
    /// certificate's expiry, the earlier).
    pub valid_until: u32,
}

/// TEP-176's answer of `/wallet/{owner}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WalletPayload {
    /// The owner asked about, raw.
    pub owner: String,
    /// The `ComplianceAuth` for `custom_payload`, base64 BoC.
    pub custom_payload: String,
    /// Unix time after which the wallet must fetch a new payload.
    pub valid_until: u32,
}

async fn issue(state: &SharedState, jetton: &str, account: &str) -> Result<ComplianceAuth> {
    let outcome = async {
        let jetton = parse_address_on(jetton, None)?;
        let service = state
            .jetton_payload
            .as_ref()
            .ok_or_else(|| Error::UnknownJetton("no jetton (payload API not configured)".into()))?;
        let network = service.certificate.certificate.network;
        let owner = parse_address_on(account, Some(network))?;
        service.authorize(&jetton, owner, now()).await
    }
    .await;
    let label = match &outcome {
        Ok(_) => "issued",
        Err(err) => err.status().1,
    };
    ::metrics::counter!(PAYLOADS, "outcome" => label).increment(1);
    outcome
}

fn valid_until(auth: &ComplianceAuth) -> u32 {
    auth.proof
        .attestation
        .valid_until
        .min(auth.certificate.valid_until)
}

/// The sender's `custom_payload` for a transfer of `jetton`, tonapi's shape.
#[utoipa::path(
    get,
    path = "/v2/jettons/{jetton}/transfer/{address}/payload",
    operation_id = "jetton_transfer_payload",
    tag = "signing",
    params(
        ("jetton" = String, Path, description = "The compliant jetton's minter (raw or user-friendly, URL-safe)"),
        ("address" = String, Path, description = "The sending account: the jetton wallet's owner"),
    ),
    responses(
        (status = 200, description = "The ComplianceAuth, hex BoC", body = TransferPayload),
        (status = 400, description = "`invalid_address`", body = super::openapi::ErrorDoc),
        (status = 403, description = "`over_policy`: the sender is over the certificate's policy (the reason is in the message)", body = super::openapi::ErrorDoc),
        (status = 404, description = "`unknown_jetton`", body = super::openapi::ErrorDoc),
        (status = 503, description = "`quorum_not_reached` or `certificate_expired`", body = super::openapi::ErrorDoc),
    )
)]
pub async fn transfer_payload(
    State(state): State<SharedState>,
    Path((jetton, account)): Path<(String, String)>,
) -> Result<axum::Json<TransferPayload>> {
    let auth = issue(&state, &jetton, &account).await?;
    Ok(axum::Json(TransferPayload {
        custom_payload: tollgate_sdk::boc::to_hex(&auth.to_cell()?)?,
        state_init: None,
        valid_until: valid_until(&auth),
    }))
}

/// The owner's `custom_payload` for `jetton`, TEP-176's `/wallet/{owner}`.
#[utoipa::path(
    get,
    path = "/v1/jettons/{jetton}/wallet/{address}",
    operation_id = "jetton_wallet_payload",
    tag = "signing",
    params(
        ("jetton" = String, Path, description = "The compliant jetton's minter (raw or user-friendly, URL-safe)"),
        ("address" = String, Path, description = "The sending account: the jetton wallet's owner"),
    ),
    responses(
        (status = 200, description = "The ComplianceAuth, base64 BoC", body = WalletPayload),
        (status = 400, description = "`invalid_address`", body = super::openapi::ErrorDoc),
        (status = 403, description = "`over_policy`", body = super::openapi::ErrorDoc),
        (status = 404, description = "`unknown_jetton`", body = super::openapi::ErrorDoc),
        (status = 503, description = "`quorum_not_reached` or `certificate_expired`", body = super::openapi::ErrorDoc),
    )
)]
pub async fn wallet_payload(
    State(state): State<SharedState>,
    Path((jetton, account)): Path<(String, String)>,
) -> Result<axum::Json<WalletPayload>> {
    let auth = issue(&state, &jetton, &account).await?;
    Ok(axum::Json(WalletPayload {
        owner: auth.proof.attestation.subject.to_raw(),
        custom_payload: auth.to_boc_base64()?,
        valid_until: valid_until(&auth),
    }))
}
