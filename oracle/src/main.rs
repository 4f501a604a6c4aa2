//! `tollgate-oracle`: run a node, make a key, ingest label lists, verify and show the audit log.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use tollgate_oracle::config::{Config, ConfigArgs};
use tollgate_oracle::ingest::{self, Parsed};
use tollgate_oracle::node::Node;
use tollgate_oracle::store::SledStore;
use tollgate_oracle::{audit, node, server, signer};

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
    /// Ingest a label list into the store (stop the node first: the store allows one process).
    /// Creates the store if there is none.
    Ingest {
        #[command(subcommand)]
        format: IngestFormat,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy this data dir's sled store and audit log into an empty PostgreSQL database, for
    /// replicas (`serve --store postgres://…`). Stop the node first. Checks both sides, copies
    /// in one transaction, then checks the database as a replica would; prints records/s.
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

#[derive(Subcommand)]
enum IngestFormat {
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

    /// Opens the store, creating it (mode 0700) if there is none.
    fn open_or_create(&self) -> anyhow::Result<SledStore> {
        let config = self.config()?;
        node::create_private_dir(&config.data_dir)?;
        let store = open_store(&config.store_path())?;
        node::restrict_files(&config.data_dir)?;
        Ok(store)
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
        Command::Ingest { format } => {
            let parsed: Parsed = match &format {
                IngestFormat::TonAssets { dir } => ingest::ton_assets::parse_dir(dir)?,
                IngestFormat::Ofac { dir } => ingest::ofac::parse_dir(dir)?,
                IngestFormat::Csv { file } => ingest::csv::parse_file(file)?,
            };
            let store = global.open_or_create()?;
            let bar = ingest::progress_bar(
                parsed.rows.len(),
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
            );
            let summary = ingest::apply(&store, parsed, tollgate_oracle::unix_now(), &bar)?;
            print!("{summary}");
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
                &audit::dir_in(&config.data_dir),
                anchor_key,
                &to,
            )?;
            println!(
                "migrated {} records ({} labels, {} overrides and changes, {} metadata, {} audit entries) in {:.2} s: {:.0} records/s",
                copied.records(),
                copied.labels,
                copied.overrides,
                copied.meta,
                copied.audit_entries,
                copied.took.as_secs_f64(),
                copied.per_second()
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

/// `audit verify --store postgres://…`: the whole chain and head row, then every store record.
fn verify_postgres(url: &str) -> anyhow::Result<ExitCode> {
    use tollgate_oracle::store::postgres::{client_config, PgOptions, PgStore};
    let options = PgOptions::default();
    let mut client = client_config(url, &options)?
        .connect(postgres::NoTls)
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
        // Tests and scripts read this line to find the port when listening on port 0.
        println!("tollgate-oracle listening on http://{address}");
        tracing::info!(%address, data_dir = %config.data_dir.display(), signer_index = config.signer_index, epoch = config.epoch, "node started");
        server::serve(listener, node.router(), &config, shutdown).await;
        node.shutdown().await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
