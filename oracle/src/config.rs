//! Node configuration: defaults, an optional TOML file, `TOLLGATE_*` environment variables and
//! command-line flags, in increasing order of precedence.
//!
//! [`Config`] is what the node runs with; [`ConfigArgs`] is the clap view of the same settings
//! (every field optional, so that an unset flag falls through to the file and then the default).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tollgate_sdk::{Address, Network};

use crate::error::{Error, Result};

/// Settings the node runs with.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Directory of the sled store (labels, overrides, nonces, audit log) and the dev key.
    pub data_dir: PathBuf,
    /// Signing key file (hex ed25519 seed, mode 0600). Unset: `TOLLGATE_SIGNING_KEY` if set,
    /// else a development key generated in `data_dir` on first start.
    pub key_file: Option<PathBuf>,
    /// This node's index in the signer set (its position in the verifier's key list).
    pub signer_index: u8,
    /// The signer set (epoch) this node's key belongs to.
    pub epoch: u32,
    /// TTL of attestations when the request gives none.
    pub default_ttl_secs: u32,
    /// Longest TTL the node signs, for its own attestations and for co-signing.
    pub max_ttl_secs: u32,
    /// How far in the future a co-signed attestation's `issued_at` may be.
    pub max_clock_skew_secs: u32,
    /// Networks (`global_id`) the node signs for. The TOML file may name them (`"mainnet"`,
    /// `"testnet"`) or give the `global_id` as a number or text.
    #[serde(deserialize_with = "networks_by_name_or_id")]
    pub networks: Vec<i32>,
    /// Verifier contracts the node signs for; empty means any verifier.
    pub verifiers: Vec<String>,
    /// Bearer token for `/v1/admin/*` and `/v1/audit`; unset (and no `admin_token_file`)
    /// disables them. Prefer `admin_token_file`: a token in a file stays out of the process list.
    pub admin_token: Option<String>,
    /// File holding the admin token on its first non-empty line (mode 0600, like a key file).
    pub admin_token_file: Option<PathBuf>,
    /// Browser origins allowed to call the API (CORS), e.g. a Telegram Mini App's
    /// `https://app.example`; empty (the default) sends no CORS headers, so browsers refuse
    /// cross-origin calls.
    pub cors_allowed_origins: Vec<String>,
    /// Largest request body accepted, in bytes (413 above).
    pub max_body_bytes: usize,
    /// Longest time a request may take before the node answers 503.
    pub request_timeout_ms: u64,
    /// Longest time a client may take to send the request head (slowloris protection).
    pub header_read_timeout_ms: u64,
    /// Requests processed at once; more are shed with 503. Health, readiness and metrics are
    /// outside this cap, so probes answer while the API is saturated.
    pub max_concurrency: usize,
    /// Open connections at once; a connection above the cap gets a 503 and is closed.
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes; 431 above.
    pub max_header_bytes: usize,
    /// Most request headers; 431 above.
    pub max_headers: usize,
    /// Longest time a client may take to send the request body once its head is in (408
    /// after). The body is read before the request takes a concurrency permit, so slow
    /// bodies cannot starve the API.
    pub body_read_timeout_ms: u64,
    /// Longest time graceful shutdown waits for in-flight requests.
    pub shutdown_grace_ms: u64,
    /// Most audit entries written with one flush (group commit).
    pub audit_batch_max: usize,
    /// Load the bundled label lists into an empty store on first start.
    pub load_default_data: bool,
    /// Webhook subscribers (URL and per-subscriber secret), a TOML file with mode 0600; none
    /// when absent. Secrets come from a file, never the command line (`ps` shows arguments).
    pub webhooks_file: Option<PathBuf>,
    /// How often the node re-judges the subjects of attestations still valid, in seconds
    /// (0: never).
    pub rescreen_interval_secs: u64,
    /// The exposure policy (TOML table `[exposure]`; SPEC.md §"Exposure").
    pub exposure: crate::exposure::Policy,
    /// A toncenter-v3-compatible endpoint to follow while serving (`serve --follow URL`).
    pub follow: Option<String>,
    /// `X-API-Key` for the followed endpoint (toncenter).
    pub follow_api_key: Option<String>,
    /// Least time between two requests to the followed endpoint, in milliseconds.
    pub follow_interval_ms: u64,
    /// Where the node keeps its state: unset for the embedded sled store in `data_dir`, or a
    /// PostgreSQL connection string (`postgres://user@host:port/db`) for a store and audit
    /// log shared by replicas ([`crate::store::postgres`]).
    pub store: Option<String>,
    /// The audit head (`ENTRIES:HASH`) the operator vouches for, for a replica whose data dir
    /// has not seen the shared database yet: it refuses a database older than this or on
    /// another branch (SPEC.md §11.3). Printed by `audit head --store …` and `migrate`. Only
    /// with `store`; once the replica serves, its `audit-head-seen` file takes over.
    pub trust_head: Option<crate::audit::pg_head::TrustedHead>,
    /// The compliant jetton's payload API (TOML table `[jetton_payload]`; SPEC.md §16.6):
    /// unset, the payload routes answer `unknown_jetton` for every jetton.
    pub jetton_payload: Option<JettonPayloadConfig>,
}

/// `[jetton_payload]`: the certificate the node hands out with each sender's attestation, and
/// the signer set's nodes it gathers a quorum from.
///
/// ```toml
/// [jetton_payload]
/// certificate = "/etc/tollgate/cert.json"      # written by `tollgate cert issue`
/// root_public_key = "hex…"                      # the root key the minter and wallets hold
/// peers = [ { url = "https://node-a.example", index = 0 },
///           { url = "https://node-b.example", index = 1, key = "hex…" } ]
/// ```
///
/// The threshold is the certificate's (a wallet would refuse fewer signatures); each peer's key
/// is the certificate's key at its index (`key`, when given, must be that key). The node itself
/// is one of the quorum when it is listed among the peers by its own URL.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JettonPayloadConfig {
    /// The certificate file (`tollgate cert issue`); read and verified at start.
    pub certificate: PathBuf,
    /// The root public key, 64 hex digits: the certificate must verify under it.
    pub root_public_key: String,
    /// The signer set's nodes to ask.
    pub peers: Vec<PeerConfig>,
    /// Validity of the attestations asked for, seconds.
    #[serde(default = "default_payload_ttl")]
    pub ttl_secs: u32,
    /// Deadline of one request to one peer, milliseconds.
    #[serde(default = "default_peer_timeout")]
    pub timeout_ms: u64,
}

/// One node of the signer set the payload API asks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its base URL.
    pub url: String,
    /// Its signer index in the certificate's signer set.
    pub index: u8,
    /// Its public key, hex; optional, since the certificate names it (checked when given).
    pub key: Option<String>,
}

fn default_payload_ttl() -> u32 {
    600
}

fn default_peer_timeout() -> u64 {
    2_000
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./tollgate-data"),
            key_file: None,
            signer_index: 0,
            epoch: 1,
            default_ttl_secs: 600,
            max_ttl_secs: 3600,
            max_clock_skew_secs: 60,
            networks: vec![Network::MAINNET.0, Network::TESTNET.0],
            verifiers: Vec::new(),
            admin_token: None,
            admin_token_file: None,
            cors_allowed_origins: Vec::new(),
            max_body_bytes: 256 * 1024,
            request_timeout_ms: 10_000,
            header_read_timeout_ms: 5_000,
            max_concurrency: 1024,
            max_connections: 4096,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            body_read_timeout_ms: 5_000,
            shutdown_grace_ms: 10_000,
            audit_batch_max: 1024,
            load_default_data: true,
            webhooks_file: None,
            rescreen_interval_secs: 60,
            exposure: crate::exposure::Policy::default(),
            follow: None,
            follow_api_key: None,
            follow_interval_ms: 1_000,
            store: None,
            trust_head: None,
            jetton_payload: None,
        }
    }
}

/// Settings as command-line flags; each falls back to its `TOLLGATE_*` environment variable,
/// then to the config file, then to the default.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML configuration file (a global flag of the binary, so not parsed here).
    #[arg(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "TOLLGATE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory (a global flag of the binary, so not parsed here).
    #[arg(skip)]
    pub data_dir: Option<PathBuf>,
    /// Signing key file written by `tollgate-oracle keygen` (must be mode 0600).
    #[arg(long, env = "TOLLGATE_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// This node's signer index in the verifier's signer set [default: 0].
    #[arg(long, env = "TOLLGATE_SIGNER_INDEX")]
    pub signer_index: Option<u8>,
    /// Signer-set epoch this node's key belongs to [default: 1].
    #[arg(long, env = "TOLLGATE_EPOCH")]
    pub epoch: Option<u32>,
    /// Default attestation TTL in seconds [default: 600].
    #[arg(long, env = "TOLLGATE_DEFAULT_TTL_SECS")]
    pub default_ttl_secs: Option<u32>,
    /// Maximum attestation TTL in seconds the node signs or co-signs [default: 3600].
    #[arg(long, env = "TOLLGATE_MAX_TTL_SECS")]
    pub max_ttl_secs: Option<u32>,
    /// Networks to sign for, comma-separated names or global ids [default: mainnet,testnet].
    #[arg(long, env = "TOLLGATE_NETWORKS", value_delimiter = ',')]
    pub networks: Option<Vec<String>>,
    /// Verifier contracts to sign for, comma-separated addresses [default: any].
    #[arg(long, env = "TOLLGATE_VERIFIERS", value_delimiter = ',')]
    pub verifiers: Option<Vec<String>>,
    /// Bearer token for the admin API and /v1/audit. Visible in the process list: prefer
    /// --admin-token-file or the TOLLGATE_ADMIN_TOKEN variable.
    #[arg(long, env = "TOLLGATE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// File holding the admin token (mode 0600; its first non-empty line is the token).
    #[arg(long, env = "TOLLGATE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Browser origins allowed to call the API (CORS), comma-separated [default: none].
    #[arg(long, env = "TOLLGATE_CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Largest request body in bytes [default: 262144].
    #[arg(long, env = "TOLLGATE_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Request timeout in milliseconds [default: 10000].
    #[arg(long, env = "TOLLGATE_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,
    /// Time allowed to send the request head, in milliseconds [default: 5000].
    #[arg(long, env = "TOLLGATE_HEADER_READ_TIMEOUT_MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// Requests processed at once before shedding load with 503 [default: 1024].
    #[arg(long, env = "TOLLGATE_MAX_CONCURRENCY")]
    pub max_concurrency: Option<usize>,
    /// Open connections at once; more are answered 503 and closed [default: 4096].
    #[arg(long, env = "TOLLGATE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest request head in bytes, 431 above [default: 16384].
    #[arg(long, env = "TOLLGATE_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Most request headers, 431 above [default: 64].
    #[arg(long, env = "TOLLGATE_MAX_HEADERS")]
    pub max_headers: Option<usize>,
    /// Time allowed to send the request body, in milliseconds, 408 after [default: 5000].
    #[arg(long, env = "TOLLGATE_BODY_READ_TIMEOUT_MS")]
    pub body_read_timeout_ms: Option<u64>,
    /// How far in the future a co-signed attestation's issued_at may be, in seconds [default: 60].
    #[arg(long, env = "TOLLGATE_MAX_CLOCK_SKEW_SECS")]
    pub max_clock_skew_secs: Option<u32>,
    /// How long shutdown waits for in-flight requests, in milliseconds [default: 10000].
    #[arg(long, env = "TOLLGATE_SHUTDOWN_GRACE_MS")]
    pub shutdown_grace_ms: Option<u64>,
    /// Most audit entries written per flush (group commit) [default: 1024].
    #[arg(long, env = "TOLLGATE_AUDIT_BATCH_MAX")]
    pub audit_batch_max: Option<usize>,
    /// Webhook subscribers file (TOML, mode 0600; see the README).
    #[arg(long, env = "TOLLGATE_WEBHOOKS_FILE")]
    pub webhooks_file: Option<PathBuf>,
    /// Seconds between re-judgements of subjects with valid attestations, 0 for never [default: 60].
    #[arg(long, env = "TOLLGATE_RESCREEN_INTERVAL_SECS")]
    pub rescreen_interval_secs: Option<u64>,
    /// Shared store for replicas: a PostgreSQL connection string (postgres://…); unset keeps
    /// the embedded sled store in the data directory. May hold a password: prefer the
    /// TOLLGATE_STORE variable or the TOML file to the command line.
    #[arg(long, env = "TOLLGATE_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// The audit head a replica that has not seen the shared database yet must find there,
    /// ENTRIES:HASH as `tollgate-oracle audit head --store …` prints it: an older database, or
    /// one on another branch, is refused. Needed to start a new replica on a non-empty database.
    #[arg(long, env = "TOLLGATE_TRUST_HEAD")]
    pub trust_head: Option<String>,
    /// Do not load the bundled label lists on first start (the variable takes 1/0, true/false,
    /// yes/no, on/off).
    #[arg(long, env = "TOLLGATE_NO_DEFAULT_DATA", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_default_data: bool,
    /// Most hops traced for exposure [default: 5].
    #[arg(long, env = "TOLLGATE_EXPOSURE_MAX_HOPS")]
    pub exposure_max_hops: Option<u8>,
    /// Weight of each exposure hop beyond the first, in (0, 1] [default: 0.5].
    #[arg(long, env = "TOLLGATE_EXPOSURE_DECAY")]
    pub exposure_decay: Option<f64>,
    /// Smallest decayed share reported as an exposure finding [default: 0.001].
    #[arg(long, env = "TOLLGATE_EXPOSURE_MIN_SHARE")]
    pub exposure_min_share: Option<f64>,
    /// Decayed share at which a finding carries its category's full severity [default: 0.1].
    #[arg(long, env = "TOLLGATE_EXPOSURE_FULL_SEVERITY_SHARE")]
    pub exposure_full_severity_share: Option<f64>,
    /// Work budget of one exposure query, in reads of the transfer index [default: 10000].
    #[arg(long, env = "TOLLGATE_EXPOSURE_MAX_WORK")]
    pub exposure_max_work: Option<u64>,
    /// Follow a toncenter-v3-compatible endpoint while serving (e.g. https://toncenter.com).
    #[arg(long, env = "TOLLGATE_FOLLOW")]
    pub follow: Option<String>,
    /// X-API-Key for the followed endpoint.
    #[arg(long, env = "TOLLGATE_FOLLOW_API_KEY", hide_env_values = true)]
    pub follow_api_key: Option<String>,
    /// Least time between two requests to the followed endpoint, in ms [default: 1000].
    #[arg(long, env = "TOLLGATE_FOLLOW_INTERVAL_MS")]
    pub follow_interval_ms: Option<u64>,
}

impl Config {
    /// Builds the configuration: defaults, then the file named by `--config`, then flags and
    /// environment (which clap has already merged).
    pub fn load(args: &ConfigArgs) -> Result<Config> {
        let mut config = match &args.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        config.apply(args)?;
        config.read_admin_token_file()?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| Error::Config(format!("cannot read {}: {err}", path.display())))?;
        toml::from_str(&text).map_err(|err| Error::Config(format!("{}: {err}", path.display())))
    }

    fn apply(&mut self, args: &ConfigArgs) -> Result<()> {
        macro_rules! take {
            ($($field:ident),*) => { $(if let Some(value) = &args.$field { self.$field = value.clone().into(); })* };
        }
        take!(
            listen,
            data_dir,
            key_file,
            signer_index,
            epoch,
            default_ttl_secs,
            max_ttl_secs,
            admin_token,
            admin_token_file
        );
        take!(
            max_body_bytes,
            request_timeout_ms,
            header_read_timeout_ms,
            max_concurrency,
            max_connections,
            max_header_bytes,
            max_headers,
            body_read_timeout_ms
        );
        take!(max_clock_skew_secs, shutdown_grace_ms, audit_batch_max);
        take!(webhooks_file, rescreen_interval_secs);
        take!(follow_interval_ms);
        if args.follow.is_some() {
            self.follow = args.follow.clone();
        }
        if args.follow_api_key.is_some() {
            self.follow_api_key = args.follow_api_key.clone();
        }
        if let Some(v) = args.exposure_max_hops {
            self.exposure.max_hops = v;
        }
        if let Some(v) = args.exposure_decay {
            self.exposure.decay = v;
        }
        if let Some(v) = args.exposure_min_share {
            self.exposure.min_share = v;
        }
        if let Some(v) = args.exposure_full_severity_share {
            self.exposure.full_severity_share = v;
        }
        if let Some(v) = args.exposure_max_work {
            self.exposure.max_work = v;
        }
        if let Some(store) = &args.store {
            self.store = Some(store.clone());
        }
        if let Some(pin) = &args.trust_head {
            self.trust_head = Some(pin.parse()?);
        }
        if let Some(names) = &args.networks {
            self.networks = names
                .iter()
                .map(|name| parse_network(name).map(|n| n.0))
                .collect::<Result<_>>()?;
        }
        if let Some(origins) = &args.cors_allowed_origins {
            self.cors_allowed_origins = origins.clone();
        }
        if let Some(verifiers) = &args.verifiers {
            self.verifiers = verifiers.clone();
        }
        if args.no_default_data {
            self.load_default_data = false;
        }
        Ok(())
    }

    /// Checks values that would make the node misbehave.
    pub fn validate(&self) -> Result<()> {
        // Verifiers refuse a longer lifetime (SPEC.md §1), so the node must never sign one.
        if self.max_ttl_secs > tollgate_sdk::attestation::MAX_LIFETIME_SECS {
            return Err(Error::Config(format!(
                "max_ttl_secs must be at most {} (SPEC.md §1: verifiers refuse longer lifetimes)",
                tollgate_sdk::attestation::MAX_LIFETIME_SECS
            )));
        }
        if self.default_ttl_secs == 0 || self.default_ttl_secs > self.max_ttl_secs {
            return Err(Error::Config(
                "default_ttl_secs must be in 1..=max_ttl_secs".into(),
            ));
        }
        if self.networks.is_empty() {
            return Err(Error::Config(
                "networks must name at least one network".into(),
            ));
        }
        if self.max_concurrency == 0 || self.audit_batch_max == 0 {
            return Err(Error::Config(
                "max_concurrency and audit_batch_max must be positive".into(),
            ));
        }
        if self.max_connections == 0 || self.max_headers == 0 {
            return Err(Error::Config(
                "max_connections and max_headers must be positive".into(),
            ));
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            // hyper's read buffer cannot be smaller (it panics below this).
            return Err(Error::Config(format!(
                "max_header_bytes must be at least {MIN_HEADER_BYTES}"
            )));
        }
        for origin in &self.cors_allowed_origins {
            if origin == "*" || axum::http::HeaderValue::from_str(origin).is_err() {
                return Err(Error::Config(format!(
                    "cors_allowed_origins: `{origin}` is not an origin (like https://app.example; `*` is not allowed)"
                )));
            }
        }
        if matches!(&self.admin_token, Some(token) if token.len() < 16) {
            return Err(Error::Config(
                "admin_token must be at least 16 characters".into(),
            ));
        }
        self.verifier_addresses()?;
        self.exposure.validate()?;
        if let Some(url) = &self.store {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(Error::Config(
                    "store must be a PostgreSQL connection string (postgres://…); leave it unset for the embedded sled store".into(),
                ));
            }
        } else if self.trust_head.is_some() {
            // A sled node's audit log has its own signed anchor; a pin there would do nothing.
            return Err(Error::Config(
                "trust_head applies to a replica on a PostgreSQL store (store = \"postgres://…\"); the embedded store checks its audit log against its own anchor".into(),
            ));
        }
        Ok(())
    }

    /// The PostgreSQL connection string, when the node uses the shared store.
    pub fn postgres_url(&self) -> Option<&str> {
        self.store.as_deref()
    }

    /// Replaces `admin_token` by the token in `admin_token_file`, if one is named; the file must
    /// not be readable by group or others.
    fn read_admin_token_file(&mut self) -> Result<()> {
        let Some(path) = &self.admin_token_file else {
            return Ok(());
        };
        let text = crate::signer::read_private_file(path)
            .map_err(|err| Error::Config(format!("admin_token_file: {err}")))?;
        let token = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .ok_or_else(|| Error::Config(format!("{} holds no token", path.display())))?;
        self.admin_token = Some(token.to_string());
        Ok(())
    }

    /// Body read timeout as a [`Duration`].
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms)
    }

    /// The allowed verifiers, parsed.
    pub fn verifier_addresses(&self) -> Result<Vec<Address>> {
        self.verifiers
            .iter()
            .map(|text| {
                text.parse()
                    .map_err(|err| Error::Config(format!("verifiers: {err}")))
            })
            .collect()
    }

    /// Request timeout as a [`Duration`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Header read timeout as a [`Duration`].
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// The sled directory.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("store")
    }
}

/// The smallest `max_header_bytes`: hyper's minimum read buffer.
pub const MIN_HEADER_BYTES: usize = 8192;

/// `networks` in TOML: names (`"mainnet"`), `global_id`s (`-239`) or `global_id`s as text.
fn networks_by_name_or_id<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<i32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NameOrId {
        Id(i32),
        Name(String),
    }
    Vec::<NameOrId>::deserialize(deserializer)?
        .into_iter()
        .map(|item| match item {
            NameOrId::Id(id) => Ok(id),
            NameOrId::Name(name) => parse_network(&name)
                .map(|network| network.0)
                .map_err(serde::de::Error::custom),
        })
        .collect()
}

/// Parses a network given by name (`mainnet`, `testnet`) or `global_id`.
pub fn parse_network(text: &str) -> Result<Network> {
    Network::from_name(text.trim())
        .ok_or_else(|| Error::UnknownNetwork(text.chars().take(40).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nepoch = 7\nmax_ttl_secs = 120\ndefault_ttl_secs = 60\n",
        )
        .unwrap();
        let args = ConfigArgs {
            config: Some(file),
            epoch: Some(9),
            ..Default::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.epoch, 9);
        assert_eq!(config.max_ttl_secs, 120);
        assert_eq!(config.signer_index, 0);
    }

    #[test]
    fn the_example_file_lists_every_key_with_its_default() {
        let example: Config = toml::from_str(include_str!("../tollgate.example.toml")).unwrap();
        assert_eq!(format!("{example:?}"), format!("{:?}", Config::default()));
        let text = include_str!("../tollgate.example.toml");
        let keys = [
            "listen",
            "data_dir",
            "key_file",
            "signer_index",
            "epoch",
            "default_ttl_secs",
            "max_ttl_secs",
            "max_clock_skew_secs",
            "networks",
            "verifiers",
            "admin_token",
            "admin_token_file",
            "cors_allowed_origins",
            "max_body_bytes",
            "request_timeout_ms",
            "header_read_timeout_ms",
            "max_concurrency",
            "max_connections",
            "max_header_bytes",
            "max_headers",
            "body_read_timeout_ms",
            "shutdown_grace_ms",
            "audit_batch_max",
            "load_default_data",
            "webhooks_file",
            "rescreen_interval_secs",
            "follow_interval_ms",
            "max_hops",
            "decay",
            "min_share",
            "full_severity_share",
            "max_paths",
            "max_frontier",
            "store",
            "trust_head",
        ];
        for key in keys {
            assert!(
                text.contains(&format!("{key} =")),
                "{key} is missing from tollgate.example.toml"
            );
        }
    }

    #[test]
    fn exposure_thresholds_come_from_the_file_and_flags_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(&file, "[exposure]\nmax_hops = 3\ndecay = 0.25\n").unwrap();
        let args = ConfigArgs {
            config: Some(file.clone()),
            exposure_min_share: Some(0.01),
            exposure_max_work: Some(5_000),
            ..Default::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(
            (
                config.exposure.max_hops,
                config.exposure.decay,
                config.exposure.min_share,
                config.exposure.max_work
            ),
            (3, 0.25, 0.01, 5_000)
        );
        for bad in [
            "max_hops = 0",
            "max_hops = 9",
            "decay = 0.0",
            "decay = 1.5",
            "min_share = 1.0",
            "full_severity_share = 0.0",
            "max_paths = 0",
            "max_work = 0",
            "max_work = -1",
            "bogus = 1",
        ] {
            std::fs::write(&file, format!("[exposure]\n{bad}\n")).unwrap();
            let err = Config::load(&ConfigArgs {
                config: Some(file.clone()),
                ..Default::default()
            })
            .unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn the_store_is_sled_unless_a_postgres_url_is_given() {
        assert_eq!(Config::default().postgres_url(), None);
        let config: Config = toml::from_str(r#"store = "postgres://u@127.0.0.1:5432/db""#).unwrap();
        config.validate().unwrap();
        assert_eq!(
            config.postgres_url(),
            Some("postgres://u@127.0.0.1:5432/db")
        );
        let wrong: Config = toml::from_str(r#"store = "/var/lib/tollgate""#).unwrap();
        let err = wrong.validate().unwrap_err();
        assert!(
            err.to_string().contains("PostgreSQL connection string"),
            "{err}"
        );
    }

    #[test]
    fn a_trusted_head_comes_from_the_file_or_the_flag_and_needs_a_postgres_store() {
        let pin = format!("12:{}", "ab".repeat(32));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            format!("store = \"postgres://u@127.0.0.1:5432/db\"\ntrust_head = \"{pin}\"\n"),
        )
        .unwrap();
        let args = ConfigArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.trust_head.unwrap().to_string(), pin);
        // The flag (or TOLLGATE_TRUST_HEAD, which clap folds into it) wins over the file.
        let flagged = format!("13:{}", "cd".repeat(32));
        let config = Config::load(&ConfigArgs {
            trust_head: Some(flagged.clone()),
            ..args.clone()
        })
        .unwrap();
        assert_eq!(config.trust_head.unwrap().to_string(), flagged);
        // Malformed, from the flag or the file: a configuration error naming the value.
        let err = Config::load(&ConfigArgs {
            trust_head: Some("12".into()),
            ..args.clone()
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::Config(what) if what.contains("trust_head `12`")),
            "{err}"
        );
        std::fs::write(
            &file,
            "store = \"postgres://u@127.0.0.1:5432/db\"\ntrust_head = \"12:xyz\"\n",
        )
        .unwrap();
        let err = Config::load(&args).unwrap_err();
        assert!(
            matches!(&err, Error::Config(what) if what.contains("not hex")),
            "{err}"
        );
        // Without a PostgreSQL store a pin would check nothing: refused.
        let err = Config::load(&ConfigArgs {
            trust_head: Some(pin),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::Config(what) if what.contains("trust_head applies to a replica")),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        assert!(Config::load(&ConfigArgs {
            config: Some(file),
            ..Default::default()
        })
        .is_err());
        let args = ConfigArgs {
            networks: Some(vec!["moonnet".into()]),
            ..Default::default()
        };
        assert!(matches!(Config::load(&args), Err(Error::UnknownNetwork(_))));
        let args = ConfigArgs {
            default_ttl_secs: Some(7200),
            ..Default::default()
        };
        assert!(Config::load(&args).is_err());
    }
}
