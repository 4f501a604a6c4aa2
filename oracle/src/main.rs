//! `tollgate-oracle`: run a node, make a key, ingest label lists, verify the audit log.

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
use tollgate_oracle::{audit, server, signer};

/// Tollgate oracle node: scores TON addresses and signs risk attestations.
///
/// Settings come from flags, then TOLLGATE_* environment variables, then the TOML file given by
/// --config, then defaults.
#[derive(Parser)]
#[command(name = "tollgate-oracle", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    Ingest {
        #[command(subcommand)]
        format: IngestFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
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
    /// Check the hash chain and every signature; report the first broken link.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Where the store is.
#[derive(clap::Args)]
struct StoreArgs {
    /// TOML configuration file (its data_dir is used).
    #[arg(long, env = "TOLLGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory [default: ./tollgate-data].
    #[arg(long, env = "TOLLGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl StoreArgs {
    fn open(&self) -> anyhow::Result<SledStore> {
        let config = Config::load(&ConfigArgs {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            ..Default::default()
        })?;
        let path = config.store_path();
        SledStore::open(&path).with_context(|| {
            format!(
                "cannot open the store at {} (is a node running on it?)",
                path.display()
            )
        })
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(Config::load(&args)?),
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
        Command::Ingest { format, store } => {
            let parsed: Parsed = match &format {
                IngestFormat::TonAssets { dir } => ingest::ton_assets::parse_dir(dir)?,
                IngestFormat::Ofac { dir } => ingest::ofac::parse_dir(dir)?,
                IngestFormat::Csv { file } => ingest::csv::parse_file(file)?,
            };
            let store = store.open()?;
            let bar = ingest::progress_bar(
                parsed.rows.len(),
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
            );
            let summary = ingest::apply(&store, parsed, tollgate_oracle::unix_now(), &bar)?;
            print!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { store },
        } => {
            let store = store.open()?;
            match audit::verify_chain(&store) {
                Ok(report) => {
                    println!(
                        "audit log OK: {} entries, head {}",
                        report.entries, report.head
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(tollgate_oracle::Error::AuditBroken { seq, reason }) => {
                    println!("audit log BROKEN at seq {seq}: {reason}");
                    Ok(ExitCode::from(2))
                }
                Err(err) => Err(err.into()),
            }
        }
    }
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
