//! The client a dApp backend links against: the quorum protocol of [`crate::quorum`] over
//! reqwest and tokio.
//!
//! It asks several oracle nodes in parallel, proposes one attestation within every node's
//! judgement, and collects k co-signatures into a bundle; every signature is verified locally
//! (strictly) against the configured key before it counts.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore as _;

use crate::error::{Error, Result};
pub use crate::quorum::{ClientConfig, Node};
use crate::quorum::{Request, Response, Transport, TransportError};
use crate::{Address, AttestationProof, Network};

/// Gets quorum-signed attestations from a set of oracle nodes.
#[derive(Clone, Debug)]
pub struct Client {
    config: ClientConfig,
    http: Http,
}

impl Client {
    /// A client for these nodes. Refuses duplicate indexes and a threshold outside `1..=n`.
    pub fn new(config: ClientConfig) -> Result<Self> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|err| Error::InvalidSignerSet(format!("HTTP client: {err}")))?;
        Ok(Client {
            config,
            http: Http(http),
        })
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
        crate::quorum::attest(&self.config, &self.http, subject, verifier, network).await
    }

    /// Gets attestations of many subjects with the nodes' batch endpoints (two requests per
    /// node for each [`crate::api::MAX_BATCH`] subjects): one result per subject, in order,
    /// each a proof or [`Error::QuorumNotReached`] for that subject.
    pub async fn attest_many(
        &self,
        subjects: &[Address],
        verifier: Address,
        network: Network,
    ) -> Result<Vec<Result<AttestationProof>>> {
        crate::quorum::attest_many(&self.config, &self.http, subjects, verifier, network).await
    }
}

/// reqwest as the quorum's [`Transport`].
#[derive(Clone, Debug)]
struct Http(reqwest::Client);

type SendFuture =
    Pin<Box<dyn Future<Output = std::result::Result<Response, TransportError>> + Send>>;

impl Transport for Http {
    type Send = SendFuture;
    type Sleep = tokio::time::Sleep;

    fn send(&self, request: Request) -> Self::Send {
        let builder = match request {
            Request::Get { url } => self.0.get(url),
            Request::PostJson { url, body } => self
                .0
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body),
        };
        Box::pin(async move {
            let response = builder.send().await.map_err(transport_error)?;
            let status = response.status().as_u16();
            let body = response.bytes().await.map_err(transport_error)?;
            Ok(Response {
                status,
                body: body.to_vec(),
            })
        })
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        tokio::time::sleep(duration)
    }

    fn now(&self) -> u32 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    fn nonce(&self) -> u64 {
        rand::rngs::OsRng.next_u64()
    }
}

fn transport_error(err: reqwest::Error) -> TransportError {
    if err.is_timeout() {
        TransportError::TimedOut
    } else {
        TransportError::Unreachable(root_cause(&err))
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
