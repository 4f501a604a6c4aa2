//! `POST /v1/attestations`: the node judges a subject and signs its own judgement as the bound.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tollgate_sdk::api::SignedAttestation;
use tollgate_sdk::{Address, Attestation, Categories, Network};

use super::{parse_address_on, AddressForms, Json, SharedState};
use crate::audit::{AuditRecord, JudgementRecord, Kind, Permit};
use crate::config::parse_network;
use crate::error::{Error, Result};
use crate::risk::Assessment;

/// The request body.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestRequest {
    /// The address to judge (raw or user-friendly).
    pub subject: String,
    /// The contract that will check the attestation.
    pub verifier: String,
    /// `mainnet`, `testnet` or a `global_id`.
    pub network: NetworkField,
    /// Validity in seconds (default from config, at most `max_ttl_secs`).
    #[schema(minimum = 1)]
    pub ttl_secs: Option<u32>,
}

/// A network given by name or by `global_id`.
///
/// Read by its own visitor, not `#[serde(untagged)]`: an untagged enum buffers the value and
/// tries `Id` first, so every `"mainnet"` built and dropped an error message (1 % of a durable
/// attestation's CPU).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum NetworkField {
    /// A `global_id` such as -239.
    Id(i32),
    /// A name (`mainnet`, `testnet`) or a `global_id` in decimal text.
    Name(String),
}

impl<'de> Deserialize<'de> for NetworkField {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = NetworkField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a network name or a global_id (32-bit integer)")
            }
            fn visit_i64<E: serde::de::Error>(
                self,
                value: i64,
            ) -> std::result::Result<NetworkField, E> {
                i32::try_from(value)
                    .map(NetworkField::Id)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(value), &self))
            }
            fn visit_u64<E: serde::de::Error>(
                self,
                value: u64,
            ) -> std::result::Result<NetworkField, E> {
                i32::try_from(value)
                    .map(NetworkField::Id)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(value), &self))
            }
            fn visit_str<E: serde::de::Error>(
                self,
                value: &str,
            ) -> std::result::Result<NetworkField, E> {
                Ok(NetworkField::Name(value.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl NetworkField {
    /// The network, if the node signs for it.
    pub fn resolve(&self, allowed: &[i32]) -> Result<Network> {
        let network = match self {
            NetworkField::Id(id) => Network(*id),
            NetworkField::Name(name) => parse_network(name)?,
        };
        if !allowed.contains(&network.0) {
            return Err(Error::UnknownNetwork(format!(
                "{network} is not a network this node signs for"
            )));
        }
        Ok(network)
    }
}

/// A signature the node made, with everything a client needs to use and check it: the sdk's
/// `SignedAttestation` (what clients read), plus where it is in the audit log and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Signed {
    /// The attestation, its BoC and hash, the signature and the signer.
    #[serde(flatten)]
    #[schema(value_type = super::openapi::SignedAttestationDoc)]
    pub signed: SignedAttestation,
    /// The subject as raw, bounceable and non-bounceable text (for the attestation's network).
    pub subject_forms: AddressForms,
    /// The verifier likewise (a contract: use its `bounceable` form).
    pub verifier_forms: AddressForms,
    /// Position of the signature in the node's audit log.
    pub audit_seq: u64,
    /// The node's judgement of the subject at signing time.
    pub judgement: Assessment,
}

/// Checks the verifier against the allowed list.
pub(crate) fn check_verifier(state: &SharedState, verifier: &Address) -> Result<()> {
    if !state.verifiers.is_empty() && !state.verifiers.contains(verifier) {
        return Err(Error::PolicyRefused {
            policy: "verifier",
            detail: format!("verifier {verifier} is not one this node signs for"),
        });
    }
    Ok(())
}

/// Refuses early when the audit log cannot record or the store is damaged: nothing is signed
/// that is not recorded, or from state the node cannot prove intact. The permit counts the
/// request as in flight (the audit committer waits for in-flight requests to fill a batch).
pub(crate) fn check_can_sign(state: &SharedState) -> Result<Permit> {
    if !state.store.is_intact() {
        return Err(Error::Corrupt("a store record failed its check".into()));
    }
    state.audit.permit()
}

/// Signs, appends to the audit log, and waits until the entry is durable.
pub(crate) async fn sign_and_record(
    state: &SharedState,
    kind: Kind,
    ttl_requested: Option<u32>,
    attestation: Attestation,
    judgement: Assessment,
) -> Result<Signed> {
    let (record, signed) = sign(
        state,
        kind,
        ttl_requested,
        attestation,
        judgement,
        &mut VerifierForms::default(),
    )?;
    // The response exists only after this resolves, i.e. after the entry's fdatasync.
    let audit_seq = state.audit.append(record).await?;
    super::metrics::signatures(kind).increment(1);
    Ok(signed.recorded_at(audit_seq))
}

/// A signature not yet in the audit log: not to be shown to anyone until it is.
pub(crate) struct Unrecorded(Signed);

impl Unrecorded {
    /// The answer, once the record is durable at `audit_seq`.
    pub(crate) fn recorded_at(self, audit_seq: u64) -> Signed {
        Signed {
            audit_seq,
            ..self.0
        }
    }
}

/// The verifier's address forms, built once for the items of a batch that name the same
/// verifier on the same network (a batch usually has one verifier for all its items).
#[derive(Default)]
pub(crate) struct VerifierForms(Option<(Address, Network, AddressForms)>);

impl VerifierForms {
    fn of(&mut self, address: &Address, network: Network) -> AddressForms {
        match &self.0 {
            Some((last, on, forms)) if last == address && *on == network => forms.clone(),
            _ => {
                let forms = AddressForms::new(address, network);
                self.0 = Some((*address, network, forms.clone()));
                forms
            }
        }
    }
}

/// Signs an attestation and builds its audit record.
///
/// The record keeps the request normalised (raw addresses, numeric network, the fields of the
/// attestation), never the client's text as sent, so a padded or oversized field cannot grow
/// the log beyond the fixed size of a normalised request.
pub(crate) fn sign(
    state: &SharedState,
    kind: Kind,
    ttl_requested: Option<u32>,
    attestation: Attestation,
    judgement: Assessment,
    verifiers: &mut VerifierForms,
) -> Result<(AuditRecord, Unrecorded)> {
    // One cell build serves the hash, the signature and the BoC.
    let encoded = Encoded::new(attestation, judgement)?;
    let signature = state.signer.sign(&encoded.encoded).to_bytes();
    encoded.record(state, kind, ttl_requested, signature, verifiers)
}

/// An attestation with its cell built, ready for its signature.
pub(crate) struct Encoded {
    pub(crate) attestation: Attestation,
    pub(crate) encoded: tollgate_sdk::attestation::EncodedAttestation,
    pub(crate) judgement: Assessment,
}

impl Encoded {
    /// The cell built, for `attestation` judged `judgement`.
    pub(crate) fn new(attestation: Attestation, judgement: Assessment) -> Result<Encoded> {
        Ok(Encoded {
            encoded: attestation.encode()?,
            attestation,
            judgement,
        })
    }

    /// The audit record and the answer, given the node's `signature` of the cell's hash.
    pub(crate) fn record(
        self,
        state: &SharedState,
        kind: Kind,
        ttl_requested: Option<u32>,
        signature: [u8; 64],
        verifiers: &mut VerifierForms,
    ) -> Result<(AuditRecord, Unrecorded)> {
        let Encoded {
            attestation,
            encoded,
            judgement,
        } = self;
        let hash = encoded.hash;
        let boc = encoded.to_boc_base64()?;
        let record = AuditRecord {
            kind,
            ttl_requested,
            attestation,
            judgement: JudgementRecord::of(&judgement),
            // The label set's content digest: names exactly the labels this judgement read.
            policy_version: judgement.audit_policy_version(),
            signer_index: state.signer.index,
            public_key: state.signer.public_key().to_bytes(),
            signature,
        };
        let (signature, public_key) = (
            tollgate_sdk::hex_string(&signature),
            state.signer.public_key_hex(),
        );
        let signed = Signed {
            subject_forms: AddressForms::new(&attestation.subject, attestation.network),
            verifier_forms: verifiers.of(&attestation.verifier, attestation.network),
            signed: SignedAttestation {
                attestation,
                boc,
                hash: tollgate_sdk::hex_string(&hash),
                signature,
                signer_index: state.signer.index,
                public_key,
            },
            audit_seq: 0,
            judgement,
        };
        Ok((record, Unrecorded(signed)))
    }
}

/// Judges the subject and signs an attestation whose bounds are that judgement.
#[utoipa::path(
    post,
    path = "/v1/attestations",
    operation_id = "attest",
    tag = "signing",
    request_body = AttestRequest,
    responses(
        (status = 200, description = "Signed, and on disk in the audit log", body = Signed),
        (status = 400, description = "Malformed input: bad address or BoC, malformed JSON", body = super::openapi::ErrorDoc),
        (status = 413, description = "Body larger than the node's limit", body = super::openapi::ErrorDoc),
        (status = 422, description = "Valid input the node will not act on (network, verifier, TTL, too many items)", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn attest(
    State(state): State<SharedState>,
    Json(request): Json<AttestRequest>,
) -> Result<axum::Json<Signed>> {
    let checked = check_request(&state, &request)?;
    let _permit = check_can_sign(&state)?;
    let (attestation, judgement) = judge(&state, checked, crate::unix_now())?;
    Ok(axum::Json(
        sign_and_record(
            &state,
            Kind::Attest,
            request.ttl_secs,
            attestation,
            judgement,
        )
        .await?,
    ))
}

/// A request that passed the node's policy.
pub(crate) struct Checked {
    network: Network,
    subject: Address,
    verifier: Address,
    ttl: u32,
}

/// Checks a request against the node's policy (network, addresses, verifier, TTL).
pub(crate) fn check_request(state: &SharedState, request: &AttestRequest) -> Result<Checked> {
    let network = request.network.resolve(&state.config.networks)?;
    let subject = parse_address_on(&request.subject, Some(network))
        .map_err(|err| Error::InvalidAddress(format!("subject: {err}")))?;
    let verifier = parse_address_on(&request.verifier, Some(network))
        .map_err(|err| Error::InvalidAddress(format!("verifier: {err}")))?;
    check_verifier(state, &verifier)?;
    let ttl = request.ttl_secs.unwrap_or(state.config.default_ttl_secs);
    if ttl == 0 {
        return Err(Error::InvalidRequest("ttl_secs must be at least 1".into()));
    }
    if ttl > state.config.max_ttl_secs {
        return Err(Error::PolicyRefused {
            policy: "ttl",
            detail: format!(
                "ttl_secs {ttl} is above the maximum {}",
                state.config.max_ttl_secs
            ),
        });
    }
    Ok(Checked {
        network,
        subject,
        verifier,
        ttl,
    })
}

/// Judges a checked request's subject: the attestation to sign and the judgement it rests on
/// (the nonce is drawn here).
pub(crate) fn judge(
    state: &SharedState,
    checked: Checked,
    now: u64,
) -> Result<(Attestation, Assessment)> {
    let Checked {
        network,
        subject,
        verifier,
        ttl,
    } = checked;
    let issued_at = u32::try_from(now).map_err(|_| Error::Store("clock beyond 2106".into()))?;
    let judgement = state.engine.assess(&subject, now)?;
    let attestation = Attestation {
        network,
        verifier,
        subject,
        risk: judgement.score,
        categories: Categories(judgement.categories_mask),
        issued_at,
        valid_until: issued_at.saturating_add(ttl),
        epoch: state.signer.epoch,
        nonce: state.nonces.next()?,
    };
    Ok((attestation, judgement))
}
