//! `tollgate-oracle`: run a node, make a key, ingest label lists, verify and show the audit log.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use tollgate_oracle::config::{Config, ConfigArgs};
use tollgate_oracle::exposure::follower::{Follower, Options as FollowOptions};
use tollgate_oracle::exposure::ingest::PageKind;
use tollgate_oracle::exposure::{self, TransferStore};
use tollgate_oracle::ingest::{self, Parsed};
use tollgate_oracle::node::Node;
use tollgate_oracle::store::SledStore;
use tollgate_oracle::{audit, server, signer};

/// mimalloc, not the glibc allocator: a signing request allocates on the runtime's worker and
/// frees on the audit committer, and glibc's malloc/free were 11 % of the node's CPU under load
/// (perf, `POST /v1/attestations`), against 6 % for the ceiling handler that frees where it
/// allocates.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tollgate oracle node: scores TON addresses and signs risk attestations.
///
/// Settings come from flags, then TOLLGATE_* environment variables, then the TOML file given by
/// --config, then defaults. --config, --data-dir and --log-format may come before or after the
/// subcommand.
#[derive(Parser)]
#[command(name = "tollgate-oracle", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand takes, anywhere on the line.
#[derive(clap::Args)]
struct GlobalArgs {
    /// TOML configuration file (same keys as the flags, with underscores).
    #[arg(long, env = "TOLLGATE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory (sled store, development key) [default: ./tollgate-data].
    #[arg(long, env = "TOLLGATE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Log format on stderr: `text` for people, `json` (one object per line) for collectors.
    #[arg(long, env = "TOLLGATE_LOG_FORMAT", global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node: HTTP API on --listen, store in --data-dir. On first start it loads the
    /// bundled label lists and, without --key-file, generates a DEVELOPMENT signing key.
    Serve(Box<ConfigArgs>),
    /// Write a new signing key file (mode 0600) and print its public key.
    Keygen {
        /// Where to write the key.
        #[arg(long, short)]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Ingest a label list or transfer pages into the store: the data dir's (stop the node
    /// first: a sled store allows one process; created if there is none), or with --store the
    /// PostgreSQL database the replicas share (while they run; visible to all at commit).
    Ingest {
        /// Ingest into this PostgreSQL database (postgres://…), as `serve --store` uses it,
        /// instead of the data dir [default: the TOML file's `store`].
        #[arg(long, env = "TOLLGATE_STORE", hide_env_values = true, global = true)]
        store: Option<String>,
        #[command(subcommand)]
        format: IngestFormat,
    },
    /// Print the signed evidence case file of an address (SPEC.md §13) as JSON: labels,
    /// override, exposure findings with paths, and every judgement the node signed about it.
    /// Opens the node's data dir (stop the node first, or use `GET /v1/evidence/{address}`).
    Evidence {
        /// The address, raw or user-friendly.
        address: String,
        /// Signing key file [default: TOLLGATE_SIGNING_KEY, else the development key].
        #[arg(long, env = "TOLLGATE_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// Write the file here instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Follow a toncenter-v3-compatible endpoint into the transfer store (stop the node first,
    /// or use `serve --follow URL`). Resumes from the cursor stored with the transfers.
    Follow {
        /// Base URL, e.g. https://toncenter.com (a trailing /api/v3 is accepted).
        #[arg(long)]
        source: String,
        /// Follow only this endpoint [default: both].
        #[arg(long, value_enum)]
        only: Option<PageKindArg>,
        /// Records per request.
        #[arg(long, default_value_t = 256)]
        page_limit: usize,
        /// Least time between two requests, in ms (toncenter's free tier: 1000).
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// X-API-Key for toncenter.
        #[arg(long, env = "TOLLGATE_FOLLOW_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Stop once every endpoint answers an empty page (instead of polling for more).
        #[arg(long)]
        until_caught_up: bool,
        /// Follow into the transfer log of this PostgreSQL database (postgres://…), shared with
        /// the replicas (one follower at a time holds the lease), instead of the data dir's
        /// [default: the TOML file's `store`].
        #[arg(long, env = "TOLLGATE_STORE", hide_env_values = true)]
        store: Option<String>,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy this data dir's sled store, audit log, change feed (with webhook states) and
    /// transfer log into an empty PostgreSQL database, for replicas (`serve --store
    /// postgres://…`). Stop the node first. Checks both sides, copies in one transaction, then
    /// checks the database as a replica would; prints records/s, in all and per part.
    Migrate {
        /// The PostgreSQL database to copy into (postgres://…).
        #[arg(long, env = "TOLLGATE_STORE", hide_env_values = true)]
        to: String,
        /// Signing key file: the audit anchor must be signed by it [default: the anchor's own key].
        #[arg(long, env = "TOLLGATE_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
    /// Move an audit log kept in sled (a store of the node before audit format 1) into the
    /// audit files. The node also does this on its first start with such a store.
    MigrateAudit {
        /// Signing key file (for the anchor) [default: TOLLGATE_SIGNING_KEY, else the development key].
        #[arg(long, env = "TOLLGATE_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
}

/// A toncenter v3 endpoint.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PageKindArg {
    /// /api/v3/transactions
    Transactions,
    /// /api/v3/jetton/transfers
    JettonTransfers,
}

impl From<PageKindArg> for PageKind {
    fn from(kind: PageKindArg) -> PageKind {
        match kind {
            PageKindArg::Transactions => PageKind::Transactions,
            PageKindArg::JettonTransfers => PageKind::JettonTransfers,
        }
    }
}

#[derive(Subcommand)]
enum IngestFormat {
    /// The USDT minter's `/api/v3/transactions` pages: owners whose wallet the issuer's admin
    /// locked (`call_to` + `set_status`) become `stolen_funds` labels (source
    /// chain/usdt-issuer-lock).
    IssuerLocks {
        /// The jetton minter [default: the USDT master].
        #[arg(long, default_value = tollgate_oracle::exposure::generate::USDT_MASTER)]
        minter: String,
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// toncenter v3 `/api/v3/transactions` pages (one page per file, or JSON lines) into the
    /// transfer store: TON moved by inbound messages (SPEC.md §"Exposure").
    Transactions {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// toncenter v3 `/api/v3/jetton/transfers` pages (one page per file, or JSON lines) into
    /// the transfer store: jettons between owners, per jetton master.
    JettonTransfers {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// tonkeeper/ton-assets `accounts/` directory of *.yaml (the file is the category).
    TonAssets {
        /// The directory.
        dir: PathBuf,
    },
    /// Directory of OFAC `sanctioned_addresses_<ASSET>.json` files (non-TON assets are refused).
    Ofac {
        /// The directory.
        dir: PathBuf,
    },
    /// TON Foundation's ton-labels checkout (the directory holding `assets/`, or `assets/`
    /// itself); categories mapped as `ingest/ton_labels.rs` documents.
    TonLabels {
        /// The directory.
        dir: PathBuf,
    },
    /// A CSV file with lines `address,category,source,name` (see the README).
    Csv {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log: every frame, hash link, attestation and signature, and the signed
    /// anchor; then every record of the store (when no node holds it). Exit code 2 on any
    /// damage, naming the first. Read-only: fails when there is no store.
    Verify {
        /// Signing key file (accepted for symmetry with the other audit commands; the anchor's
        /// own key is checked).
        #[arg(long, env = "TOLLGATE_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// Verify the store and audit chain in this PostgreSQL database (postgres://…) instead
        /// of the data dir's.
        #[arg(long, env = "TOLLGATE_STORE", hide_env_values = true)]
        store: Option<String>,
    },
    /// Print the audit chain's head as ENTRIES:HASH, the value a new replica pins with `serve
    /// --trust-head`: with --store, the PostgreSQL database's head row, its signature checked
    /// with the node's key; else the data dir's audit log, checked against its signed anchor;
    /// else, for a replica's data dir, the newest head it has seen (its own record). Exit code
    /// 2 when the signature or the chain does not verify. Read-only.
    Head {
        /// Signing key file whose public key must have signed the head [default:
        /// TOLLGATE_SIGNING_KEY, else the data dir's development key].
        #[arg(long, env = "TOLLGATE_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// The node's public key (64 hex digits) instead of a key file, to check the head on a
        /// machine that does not hold the key.
        #[arg(long, conflicts_with = "key_file")]
        public_key: Option<String>,
        /// The PostgreSQL database (postgres://…) whose head to print [default: the TOML
        /// file's `store`].
        #[arg(long, env = "TOLLGATE_STORE", hide_env_values = true)]
        store: Option<String>,
    },
    /// Print audit entries as JSON, one per line, in order. Read-only: fails when there is no
    /// audit log.
    Show {
        /// Entries with seq greater than this (from the start when absent).
        #[arg(long)]
        after: Option<u64>,
        /// Most entries to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Accept the audit log as it is: verify it and sign a new anchor for its head with this
    /// node's key (after a key rotation, or when a checked log was moved in without its anchor).
    Reanchor {
        /// Signing key file [default: TOLLGATE_SIGNING_KEY, else the development key].
        #[arg(long, env = "TOLLGATE_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
}

impl GlobalArgs {
    /// The configuration the global flags name (file, data dir), for commands other than serve.
    fn config(&self) -> anyhow::Result<Config> {
        self.config_with_key(None)
    }

    /// The configuration, with the signing key file a command names (for the anchor).
    fn config_with_key(&self, key_file: Option<PathBuf>) -> anyhow::Result<Config> {
        Ok(Config::load(&ConfigArgs {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            key_file,
            ..Default::default()
        })?)
    }

    /// The configuration with the store a command names (`--store`, `TOLLGATE_STORE`), else
    /// the TOML file's: the same choice as `serve`'s.
    fn config_with_store(&self, store: Option<String>) -> anyhow::Result<Config> {
        Ok(Config::load(&ConfigArgs {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            store,
            ..Default::default()
        })?)
    }

    /// Opens an existing store; a missing one is an error, never created (a mistyped
    /// --data-dir must not look like an empty, intact log).
    fn open_existing(&self) -> anyhow::Result<SledStore> {
        let config = self.config()?;
        let path = config.store_path();
        let exists = std::fs::read_dir(&path).is_ok_and(|mut entries| entries.next().is_some());
        if !exists {
            anyhow::bail!(
                "no store at {} (check --data-dir or --config; this command only reads and never creates one)",
                path.display()
            );
        }
        open_store(&path)
    }
}

fn open_store(path: &std::path::Path) -> anyhow::Result<SledStore> {
    SledStore::open(path).with_context(|| {
        format!(
            "cannot open the store at {} (is a node running on it?)",
            path.display()
        )
    })
}

fn main() -> ExitCode {
    // Files the node creates (store, keys, guard) are for its own user only.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.global.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Serve(mut args) => {
            args.config = global.config;
            args.data_dir = global.data_dir;
            serve(Config::load(&args)?)
        }
        Command::Keygen { out, force } => {
            let key = SigningKey::generate(&mut OsRng);
            signer::write_key_file(&out, &key, force)?;
            println!("wrote {} (mode 0600)", out.display());
            println!(
                "public key: {}",
                hex::encode(key.verifying_key().as_bytes())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            store,
            format: IngestFormat::Transactions { files },
        } => ingest_transfers(
            &global.config_with_store(store)?,
            &files,
            PageKind::Transactions,
        ),
        Command::Ingest {
            store,
            format: IngestFormat::JettonTransfers { files },
        } => ingest_transfers(
            &global.config_with_store(store)?,
            &files,
            PageKind::JettonTransfers,
        ),
        Command::Follow {
            source,
            only,
            page_limit,
            interval_ms,
            api_key,
            until_caught_up,
            store,
        } => {
            let mut options = FollowOptions::new(&source);
            if let Some(kind) = only {
                options.kinds = vec![kind.into()];
            }
            options.page_limit = page_limit;
            options.min_interval = std::time::Duration::from_millis(interval_ms);
            options.api_key = api_key;
            follow(&global.config_with_store(store)?, options, until_caught_up)
        }
        Command::Ingest { store, format } => {
            let config = global.config_with_store(store)?;
            let parsed: Parsed = match &format {
                IngestFormat::TonAssets { dir } => ingest::ton_assets::parse_dir(dir)?,
                IngestFormat::Ofac { dir } => ingest::ofac::parse_dir(dir)?,
                IngestFormat::TonLabels { dir } => ingest::ton_labels::parse_dir(dir)?,
                IngestFormat::Csv { file } => ingest::csv::parse_file(file)?,
                IngestFormat::IssuerLocks { minter, files } => {
                    let minter: tollgate_sdk::Address = minter
                        .parse()
                        .map_err(|e| anyhow::anyhow!("--minter: {e}"))?;
                    let mut pages = Vec::new();
                    for file in files {
                        let text = std::fs::read_to_string(file)
                            .with_context(|| format!("cannot read {}", file.display()))?;
                        let txs = exposure::toncenter::records(&text)
                            .with_context(|| format!("{}", file.display()))?;
                        pages.push((file.display().to_string(), txs));
                    }
                    exposure::issuer_locks::labels(&pages, &minter)
                }
                IngestFormat::Transactions { .. } | IngestFormat::JettonTransfers { .. } => {
                    unreachable!("handled above")
                }
            };
            // Level changes of the labelled addresses go to the change feed, as the admin API's
            // ingest does (the node re-judges the subjects of valid attestations when it starts).
            let ingest::target::LabelTarget { store, changes } = ingest::target::labels(&config)
                .with_context(|| format!("cannot open {}", store_name(&config)))?;
            let bar = ingest::progress_bar(
                parsed.rows.len(),
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
            );
            let engine = tollgate_oracle::risk::RiskEngine::new(store.clone());
            let touched = parsed.addresses();
            let now = tollgate_oracle::unix_now();
            let before = changes.judge(&engine, &touched, now)?;
            let summary = ingest::apply(store.as_ref(), parsed, now, &bar)?;
            let recorded = changes.rescreen(&engine, &touched, &before, "ingest", now)?;
            print!("{summary}");
            println!("level changes recorded: {}", recorded.len());
            println!("written to {}", store_name(&config));
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Show { after, limit },
        } => {
            let config = global.config()?;
            let dir = audit::dir_in(&config.data_dir);
            let path = audit::log::log_path(&dir);
            let file = std::fs::File::open(&path).with_context(|| {
                format!(
                    "no store at {} (check --data-dir or --config; this command only reads and never creates one)",
                    path.display()
                )
            })?;
            let end = file.metadata()?.len();
            let reader = audit::log::PageReader { file: &file, end };
            let from = after.map_or(0, |seq| seq.saturating_add(1));
            let header = audit::format::FILE_HEADER.len() as u64;
            for (entry, hash) in reader.read(header, 0, from, limit)? {
                println!("{}", audit::view::entry_json(&entry, &hash)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { key_file, store },
        } => {
            let config = global.config_with_key(key_file)?;
            if let Some(url) = store.or(config.store.clone()) {
                return verify_postgres(&url);
            }
            let exists =
                |p: &std::path::Path| std::fs::read_dir(p).is_ok_and(|mut e| e.next().is_some());
            if !exists(&config.store_path()) && !exists(&audit::dir_in(&config.data_dir)) {
                anyhow::bail!(
                    "no store at {} (check --data-dir or --config; this command only reads and never creates one)",
                    config.store_path().display()
                );
            }
            verify(&config)
        }
        Command::Audit {
            command:
                AuditCommand::Head {
                    key_file,
                    public_key,
                    store,
                },
        } => {
            let config = global.config_with_key(key_file)?;
            let key = head_key(&config, public_key.as_deref())?;
            audit_head(&config, store.or(config.store.clone()), &key)
        }
        Command::Audit {
            command: AuditCommand::Reanchor { key_file },
        } => {
            let config = global.config_with_key(key_file)?;
            let key = signer::Signer::load(&config)?;
            let report = audit::reanchor(&audit::dir_in(&config.data_dir), &key.anchor_key())?;
            println!(
                "audit log anchored: {} entries, head {}, key {}",
                report.entries, report.head, report.anchor_key
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Evidence {
            address,
            key_file,
            out,
        } => {
            let config = global.config_with_key(key_file)?;
            let address = tollgate_oracle::api::parse_address(&address)?;
            let text = evidence_file(config, address)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text + "\n")
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    println!("wrote {}", path.display());
                }
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { to, key_file } => {
            let config = global.config_with_key(key_file.clone())?;
            let opened = global.open_existing()?;
            let anchor_key = match key_file {
                Some(_) => Some(
                    signer::Signer::load(&config)?
                        .anchor_key()
                        .verifying_key()
                        .to_bytes(),
                ),
                None => None,
            };
            let copied = tollgate_oracle::store::to_postgres::migrate_to_postgres(
                &opened,
                &config.data_dir,
                anchor_key,
                &to,
            )?;
            println!(
                "migrated {} records ({} labels, {} overrides and changes, {} metadata, {} audit entries, {} feed changes, {} feed levels, {} webhook states, {} transfer frames of {} transfers) in {:.2} s: {:.0} records/s",
                copied.records(),
                copied.labels,
                copied.overrides,
                copied.meta,
                copied.audit_entries,
                copied.changes,
                copied.levels,
                copied.webhooks,
                copied.transfer_frames,
                copied.transfers,
                copied.took.as_secs_f64(),
                copied.per_second()
            );
            for part in &copied.parts {
                println!(
                    "  {}: {} in {:.3} s: {:.0} records/s",
                    part.name,
                    part.records,
                    part.took.as_secs_f64(),
                    part.per_second()
                );
            }
            // No replica has seen this database yet: each needs the head to refuse an older one.
            println!(
                "start each replica on it with: --trust-head {}",
                copied.trust_head
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::MigrateAudit { key_file } => {
            let config = global.config_with_key(key_file)?;
            let opened = global.open_existing()?;
            let key = signer::Signer::load(&config)?;
            match audit::migrate::from_sled(
                &opened,
                &audit::dir_in(&config.data_dir),
                &key.anchor_key(),
            )? {
                Some(done) => println!(
                    "migrated {} audit entries into {}",
                    done.entries,
                    audit::dir_in(&config.data_dir).display()
                ),
                None => println!("nothing to migrate: the store holds no sled audit log"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `audit verify`: the audit files, then the store's records. Exit code 2 on damage.
fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let dir = audit::dir_in(&config.data_dir);
    let mut damaged = false;
    match audit::verify_dir(&dir, None) {
        Ok(report) => {
            println!(
                "audit log OK: {} entries, head {}, anchored {} by key {}",
                report.entries, report.head, report.anchored, report.anchor_key
            );
            if report.torn_bytes > 0 {
                println!(
                    "note: {} bytes of a torn last record (a commit that crashed before it was answered); the node cuts them at start",
                    report.torn_bytes
                );
            }
        }
        Err(tollgate_oracle::Error::AuditBroken { seq, reason }) => {
            println!("audit log BROKEN at seq {seq}: {reason}");
            damaged = true;
        }
        Err(err) => {
            println!("audit log BROKEN: {err}");
            damaged = true;
        }
    }
    match SledStore::open(&config.store_path()) {
        Ok(store) => match store.legacy_audit() {
            Ok(old) if !old.is_empty() => println!(
                "store OK; it still holds an old (sled) audit log of {} entries: run `tollgate-oracle migrate-audit` (or start the node)",
                old.len()
            ),
            _ => println!("store OK: every record checked"),
        },
        Err(err @ (tollgate_oracle::Error::Corrupt(_) | tollgate_oracle::Error::AnchorMismatch(_))) => {
            println!("store BROKEN: {err}");
            damaged = true;
        }
        Err(err) => println!("store not checked ({err}; is a node running on it?)"),
    }
    Ok(if damaged {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Opens the node as `serve` would (same store, key, audit log and exposure source) and builds
/// the case file the API would give.
fn evidence_file(config: Config, address: tollgate_sdk::Address) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let node = Node::open(config)?;
        let state = node.state.clone();
        let file = tokio::task::spawn_blocking(move || {
            let sources = tollgate_oracle::evidence::Sources {
                store: state.store.as_ref(),
                engine: &state.engine,
                signer: &state.signer,
                audit: &state.audit,
            };
            tollgate_oracle::evidence::case_file(&sources, &address, tollgate_oracle::unix_now())
        })
        .await??;
        node.shutdown().await;
        Ok(file.to_json()?)
    })
}

/// What a command writes to, for its messages: the data dir's store, or the database.
fn store_name(config: &Config) -> String {
    match config.postgres_url() {
        Some(url) => format!("the PostgreSQL store {}", ingest::target::describe(url)),
        None => format!("the store in {}", config.data_dir.display()),
    }
}

/// The transfer store `config` names (the data dir's, created when there is none, or the
/// shared one of replicas).
fn open_transfers(config: &Config) -> anyhow::Result<std::sync::Arc<TransferStore>> {
    ingest::target::transfers(config)
        .with_context(|| format!("cannot open the transfer log of {}", store_name(config)))
}

/// `ingest transactions|jetton-transfers FILE...`.
fn ingest_transfers(
    config: &Config,
    files: &[PathBuf],
    kind: PageKind,
) -> anyhow::Result<ExitCode> {
    let store = open_transfers(config)?;
    let summary = exposure::ingest::ingest_files(&store, files, kind)?;
    print!("{summary}");
    let graph = store.graph();
    println!(
        "transfer store: {} transfers between {} addresses ({})",
        graph.edge_count(),
        graph.address_count(),
        store_name(config)
    );
    Ok(ExitCode::SUCCESS)
}

/// `follow --source URL`: runs the follower with a progress line until Ctrl-C (or caught up).
fn follow(
    config: &Config,
    options: FollowOptions,
    until_caught_up: bool,
) -> anyhow::Result<ExitCode> {
    let store = open_transfers(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    runtime.block_on(async move {
        let follower = Follower::new(store.clone(), options.clone())?;
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let mut caught_up = std::collections::HashSet::new();
        let (mut records, mut added) = (0usize, 0usize);
        let kinds = options.kinds.len();
        let stop = async move {
            let mut done_rx = done_rx;
            tokio::select! {
                _ = server::shutdown_signal() => {}
                _ = done_rx.wait_for(|d| *d) => {}
            }
        };
        follower
            .run(
                |step| {
                    records += step.summary.records;
                    added += step.summary.added;
                    bar.set_message(format!(
                        "{records} records, {added} transfers added, {} in store",
                        store.graph().edge_count()
                    ));
                    bar.tick();
                    if step.caught_up {
                        caught_up.insert(format!("{:?}", step.kind));
                    } else {
                        caught_up.remove(&format!("{:?}", step.kind));
                    }
                    if until_caught_up && caught_up.len() == kinds {
                        let _ = done_tx.send(true);
                    }
                },
                stop,
            )
            .await;
        bar.finish_and_clear();
        println!(
            "followed {}: {records} records, {added} transfers added; the store holds {}",
            options.source,
            store.graph().edge_count()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// The follower of `serve --follow`: after each batch, re-judges the addresses whose exposure
/// it may have changed (recording level changes in the feed, which wakes the webhooks).
#[allow(clippy::type_complexity)]
fn spawn_follower(
    engine: std::sync::Arc<exposure::ExposureEngine>,
    state: std::sync::Arc<tollgate_oracle::api::AppState>,
    options: FollowOptions,
) -> anyhow::Result<(
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Sender<bool>,
)> {
    let follower = Follower::new(engine.transfers().clone(), options.clone())?;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    tracing::info!(source = %options.source, "following");
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        follower
            .run(
                |step| {
                    if step.summary.added == 0 {
                        return;
                    }
                    match engine.affected(step.summary.edges.clone(), exposure::AFFECTED_LIMIT) {
                        Ok((affected, cut)) => {
                            let affected: Vec<_> = affected.into_iter().collect();
                            // Re-judging reads the store and walks the graph: off the async
                            // workers' polling, like every other blocking call here.
                            let rescreened = tokio::task::block_in_place(|| {
                                let now = tollgate_oracle::unix_now();
                                let baseline = state
                                    .attested
                                    .lock()
                                    .map_err(|_| {
                                        tollgate_oracle::Error::Store(
                                            "attested subjects poisoned".into(),
                                        )
                                    })?
                                    .refresh(&state.audit, now)?;
                                state.changes.rescreen(
                                    &state.engine,
                                    &affected,
                                    &baseline,
                                    "transfers",
                                    now,
                                )
                            });
                            match rescreened {
                                Ok(changes) => tracing::info!(
                                    kind = ?step.kind,
                                    added = step.summary.added,
                                    affected = affected.len(),
                                    affected_cut = cut,
                                    changes = changes.len(),
                                    "ingested a page"
                                ),
                                Err(err) => {
                                    tracing::error!(error = %err, "re-judging after a page failed")
                                }
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot compute the affected addresses")
                        }
                    }
                },
                stop,
            )
            .await;
    });
    Ok((task, stop_tx))
}

/// The key `audit head` checks signatures with: `--public-key`, else the signing key the
/// configuration names. Never generates a development key (this command only reads).
fn head_key(config: &Config, public_key: Option<&str>) -> anyhow::Result<VerifyingKey> {
    if let Some(text) = public_key {
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("--public-key must be 64 hex digits (32 bytes)"))?;
        return VerifyingKey::from_bytes(&bytes)
            .map_err(|_| anyhow::anyhow!("--public-key is not an ed25519 public key"));
    }
    match signer::Signer::load_existing(config)? {
        Some(signer) => Ok(*signer.public_key()),
        None => anyhow::bail!(
            "no key to check the head's signature with: name the replicas' signing key (--key-file, TOLLGATE_KEY_FILE or {}) or its public key (--public-key HEX)",
            signer::KEY_ENV
        ),
    }
}

/// `audit head`: prints ENTRIES:HASH (see [`AuditCommand::Head`]). Exit code 2 when what holds
/// the head does not verify; other failures (no database, no log) are errors.
fn audit_head(
    config: &Config,
    store: Option<String>,
    key: &VerifyingKey,
) -> anyhow::Result<ExitCode> {
    use tollgate_oracle::audit::pg_head::{SeenHead, TrustedHead};
    use tollgate_oracle::Error;
    let head = match store {
        Some(url) => {
            let options = tollgate_oracle::store::postgres::PgOptions::default();
            let mut client = tollgate_oracle::store::postgres::client_config(&url, &options)?
                .connect()
                .context("cannot connect to the PostgreSQL store")?;
            audit::postgres::signed_head(&mut client, key)
        }
        None => {
            let dir = audit::dir_in(&config.data_dir);
            if audit::log::log_path(&dir).exists() {
                audit::verify_dir(&dir, Some(key.to_bytes())).and_then(|report| {
                    format!("{}:{}", report.entries, report.head).parse::<TrustedHead>()
                })
            } else {
                let seen = SeenHead::load(&config.data_dir)?;
                let Some((entries, head)) = seen.seen else {
                    anyhow::bail!(
                        "no audit log and no seen head in {} (check --data-dir; for replicas, name the database with --store)",
                        config.data_dir.display()
                    );
                };
                eprintln!(
                    "the newest head this replica has seen ({}; its own record, not signed)",
                    seen.path().display()
                );
                Ok(TrustedHead { entries, head })
            }
        }
    };
    match head {
        Ok(head) => {
            println!("{head}");
            Ok(ExitCode::SUCCESS)
        }
        Err(
            err @ (Error::AnchorMismatch(_)
            | Error::AnchorInvalid(_)
            | Error::AuditBroken { .. }
            | Error::Corrupt(_)),
        ) => {
            eprintln!("audit head NOT TRUSTED: {err}");
            Ok(ExitCode::from(2))
        }
        Err(err) => Err(err.into()),
    }
}

/// `audit verify --store postgres://…`: the whole chain and head row, then every store record.
fn verify_postgres(url: &str) -> anyhow::Result<ExitCode> {
    use tollgate_oracle::store::postgres::{client_config, PgOptions, PgStore};
    let options = PgOptions::default();
    let mut client = client_config(url, &options)?
        .connect()
        .context("cannot connect to the PostgreSQL store")?;
    let mut damaged = false;
    match audit::postgres::verify(&mut client, None) {
        Ok(report) => println!(
            "audit log OK: {} entries, head {} (PostgreSQL)",
            report.entries, report.head
        ),
        Err(err) => {
            println!("audit log BROKEN: {err}");
            damaged = true;
        }
    }
    match PgStore::open(url, &options) {
        Ok(_) => println!("store OK: every record checked"),
        Err(err @ tollgate_oracle::Error::Store(_)) => {
            println!("store not checked ({err})");
            damaged = true;
        }
        Err(err) => {
            println!("store BROKEN: {err}");
            damaged = true;
        }
    }
    Ok(if damaged {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let node = Node::open(config.clone())?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let shutdown = server::shutdown_signal();
        let following = config.follow.as_ref().map(|source| {
            let mut options = FollowOptions::new(source);
            options.api_key = config.follow_api_key.clone();
            options.min_interval = std::time::Duration::from_millis(config.follow_interval_ms);
            spawn_follower(node.exposure.clone(), node.state.clone(), options)
        });
        // Tests and scripts read this line to find the port when listening on port 0.
        println!("tollgate-oracle listening on http://{address}");
        tracing::info!(%address, data_dir = %config.data_dir.display(), signer_index = config.signer_index, epoch = config.epoch, "node started");
        node.start_background(tollgate_oracle::webhooks::Options::default())?;
        server::serve(listener, node.router(), &config, shutdown).await;
        if let Some(Ok((task, stop))) = following {
            let _ = stop.send(true);
            let _ = task.await;
        } else if let Some(Err(err)) = following {
            return Err(err);
        }
        node.shutdown().await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
