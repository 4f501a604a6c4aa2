//! The client a dApp backend links against: asks several oracle nodes in parallel, proposes one
//! attestation within every node's judgement, and collects k co-signatures into a bundle.
//!
//! The quorum works because attestations are upper bounds (SPEC.md §1): the proposal takes the
//! highest risk any node reports and the union of their categories, so every honest node's own
//! judgement lies within it and it can co-sign. Two round trips: `GET /v1/risk/{subject}` to every
//! node, then `POST /v1/attestations/cosign` to every node that answered, stopping at k valid
//! signatures. Every signature is verified locally (strictly) against the configured key before
//! it counts; a node is never trusted for its own index or key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, VerifyingKey};
use rand::RngCore as _;
use tokio::task::JoinSet;

use crate::api::{CosignRequest, ErrorBody, RiskSummary, SignedAttestation};
use crate::error::{Error, NodeFailure, Result};
use crate::{
    Address, Attestation, AttestationProof, Categories, Network, SignatureBundle, SignatureEntry,
};

/// One oracle node as the signer set knows it.
#[derive(Clone, Debug)]
pub struct Node {
    /// Base URL, e.g. `https://oracle-1.example.org` (the `/v1/...` paths are appended).
    pub url: String,
    /// The node's index in the signer set.
    pub index: u8,
    /// The node's public key, from the verifier's signer set (not from the node).
    pub public_key: VerifyingKey,
}

/// What a [`Client`] needs: the signer set's nodes, its threshold and epoch, and how patient to be.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The nodes; indexes must be distinct.
    pub nodes: Vec<Node>,
    /// Signatures required (k).
    pub threshold: usize,
    /// The signer set's epoch, written into proposals.
    pub epoch: u32,
    /// Validity of proposed attestations, in seconds.
    pub ttl_secs: u32,
    /// Deadline for one request to one node.
    pub timeout: Duration,
    /// Attempts per node and round for transient failures (connection errors, timeouts, 5xx).
    pub attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl ClientConfig {
    /// A configuration with defaults: 10-minute attestations, 2 s per request, 3 attempts
    /// 25 ms apart and doubling.
    pub fn new(nodes: Vec<Node>, threshold: usize, epoch: u32) -> Self {
        ClientConfig {
            nodes,
            threshold,
            epoch,
            ttl_secs: 600,
            timeout: Duration::from_secs(2),
            attempts: 3,
            backoff: Duration::from_millis(25),
        }
    }
}

/// Gets quorum-signed attestations from a set of oracle nodes.
#[derive(Clone, Debug)]
pub struct Client {
    config: ClientConfig,
    http: reqwest::Client,
}

impl Client {
    /// A client for these nodes. Refuses duplicate indexes and a threshold outside `1..=n`.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let n = config.nodes.len();
        if config.threshold == 0 || config.threshold > n {
            return Err(Error::InvalidSignerSet(format!(
                "threshold {} of {n} nodes",
                config.threshold
            )));
        }
        let mut indexes: Vec<u8> = config.nodes.iter().map(|node| node.index).collect();
        indexes.sort_unstable();
        if indexes.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidSignerSet(
                "two nodes share a signer index".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|err| Error::InvalidSignerSet(format!("HTTP client: {err}")))?;
        Ok(Client { config, http })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Gets an attestation of `subject` for `verifier` on `network` signed by at least k nodes.
    ///
    /// Fails with [`Error::QuorumNotReached`], naming every node that failed and why, when
    /// fewer than k nodes sign.
    pub async fn attest(
        &self,
        subject: Address,
        verifier: Address,
        network: Network,
    ) -> Result<AttestationProof> {
        let mut failures = Vec::new();

        // Round 1: every node's judgement, in parallel.
        let mut judgements = Vec::new();
        let mut round = JoinSet::new();
        for node in self.config.nodes.clone() {
            let this = self.clone();
            round.spawn(async move {
                let result = this.judge(&node, subject).await;
                (node, result)
            });
        }
        while let Some(joined) = round.join_next().await {
            let (node, result) = joined.map_err(|err| Error::Internal(err.to_string()))?;
            match result {
                Ok(summary) => judgements.push((node, summary)),
                Err(reason) => failures.push(NodeFailure {
                    url: node.url,
                    index: node.index,
                    reason,
                }),
            }
        }
        if judgements.len() < self.config.threshold {
            return Err(self.quorum_error(0, failures));
        }

        // The proposal: within every judgement that came back.
        let risk = judgements.iter().map(|(_, s)| s.score).max().unwrap_or(0);
        let categories = judgements
            .iter()
            .fold(Categories::NONE, |acc, (_, s)| acc | s.categories_mask);
        let now = unix_now();
        let proposal = Attestation {
            network,
            verifier,
            subject,
            risk,
            categories,
            issued_at: now,
            valid_until: now.saturating_add(self.config.ttl_secs),
            epoch: self.config.epoch,
            nonce: rand::rngs::OsRng.next_u64(),
        };
        let hash = proposal.hash()?;
        let request = CosignRequest {
            boc: proposal.to_boc_base64()?,
        };

        // Round 2: co-signatures, stopping at k.
        let mut round = JoinSet::new();
        for (node, _) in judgements {
            let this = self.clone();
            let request = request.clone();
            round.spawn(async move {
                let result = this.cosign(&node, &request, &hash).await;
                (node, result)
            });
        }
        let mut entries = Vec::new();
        while let Some(joined) = round.join_next().await {
            let (node, result) = joined.map_err(|err| Error::Internal(err.to_string()))?;
            match result {
                Ok(signature) => entries.push(SignatureEntry {
                    signer: node.index,
                    signature,
                }),
                Err(reason) => failures.push(NodeFailure {
                    url: node.url,
                    index: node.index,
                    reason,
                }),
            }
            if entries.len() == self.config.threshold {
                round.abort_all();
                let bundle = SignatureBundle::new(entries)?;
                return Ok(AttestationProof {
                    attestation: proposal,
                    bundle,
                });
            }
        }
        Err(self.quorum_error(entries.len(), failures))
    }

    fn quorum_error(&self, signed: usize, mut failures: Vec<NodeFailure>) -> Error {
        failures.sort_by_key(|failure| failure.index);
        Error::QuorumNotReached {
            signed,
            threshold: self.config.threshold,
            failures,
        }
    }

    async fn judge(&self, node: &Node, subject: Address) -> Result<RiskSummary, String> {
        let url = format!("{}/v1/risk/{}", node.url.trim_end_matches('/'), subject);
        let summary: RiskSummary = self.with_retries(|| self.http.get(&url)).await?;
        if summary.address != subject {
            return Err(format!(
                "answered for {} instead of {subject}",
                summary.address
            ));
        }
        Ok(summary)
    }

    async fn cosign(
        &self,
        node: &Node,
        request: &CosignRequest,
        hash: &[u8; 32],
    ) -> Result<Signature, String> {
        let url = format!("{}/v1/attestations/cosign", node.url.trim_end_matches('/'));
        let signed: SignedAttestation = self
            .with_retries(|| self.http.post(&url).json(request))
            .await?;
        if signed.hash != hex::encode(hash) {
            return Err("signed a different attestation than proposed".into());
        }
        let bytes: [u8; 64] = hex::decode(&signed.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("signature is not 64 bytes of hex")?;
        let signature = Signature::from_bytes(&bytes);
        node.public_key
            .verify_strict(hash, &signature)
            .map_err(|_| "signature does not verify under the configured key".to_string())?;
        Ok(signature)
    }

    /// Sends a request, retrying transient failures with exponential backoff; a 4xx answer is
    /// final (the node refused on purpose) and reported with the node's own error code.
    async fn with_retries<T: serde::de::DeserializeOwned>(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, String> {
        let mut delay = self.config.backoff;
        let mut last = String::new();
        for attempt in 0..self.config.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            let response = match request().send().await {
                Ok(response) => response,
                Err(err) if err.is_timeout() => {
                    last = "timed out".into();
                    continue;
                }
                Err(err) => {
                    last = format!("unreachable: {}", root_cause(&err));
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                return response
                    .json::<T>()
                    .await
                    .map_err(|err| format!("invalid response: {err}"));
            }
            let detail = match response.json::<ErrorBody>().await {
                Ok(ErrorBody { error }) => match error.bound {
                    Some(bound) => format!(
                        "{} ({}, {bound}): {}",
                        status.as_u16(),
                        error.code,
                        error.message
                    ),
                    None => format!("{} ({}): {}", status.as_u16(), error.code, error.message),
                },
                Err(_) => format!("{}", status.as_u16()),
            };
            if status.is_client_error() {
                return Err(format!("refused: {detail}"));
            }
            last = format!("server error: {detail}");
        }
        Err(last)
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn unix_now() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}
