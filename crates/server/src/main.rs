//! `flowspace`: the command line.

use clap::{Parser, Subcommand};
use flowspace_server::config::Config;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// jemalloc, chosen by measurement over glibc's malloc and mimalloc (docs/benchmarks.md,
/// "Memory under sign-ins"): an Argon2id hash fills 19 MiB, and jemalloc serves allocations of
/// 8 MiB and more from a dedicated arena that gives freed pages back to the OS at once, where
/// glibc keeps them in its arenas once its dynamic mmap threshold has risen past them. It is
/// built unprefixed (Cargo.toml), so SQLite's and OpenSSL's `malloc` is jemalloc too.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "flowspace",
    version,
    about = "Multi-tenant control plane for AI-flow platforms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server (API under /api/v1).
    Serve(Box<Config>),
    /// Print the OpenAPI document.
    Openapi,
    /// Re-encrypt every credential to a new key, in one transaction, and report the count.
    RotateEncryptionKey(Box<RotateArgs>),
    /// Bring a Flowise 3.x installation over (SPEC §10): one transaction, or nothing.
    ImportFlowise(Box<ImportFlowiseCommand>),
}

#[derive(clap::Args)]
struct ImportFlowiseCommand {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    import: flowspace_server::flowise::ImportFlowiseArgs,
}

#[derive(clap::Args)]
struct RotateArgs {
    #[command(flatten)]
    config: Config,
    /// The new key (32 bytes as base64 or 64 hex digits); generated when omitted. Required
    /// when FLOWSPACE_ENCRYPTION_KEY is configured.
    #[arg(long, hide_env_values = true)]
    new_key: Option<String>,
}

fn init_logs(format: &str) {
    let filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only for a person at a terminal: in a log file or a journal the escape codes are
    // noise (and styling every request span's fields cost about 1% of a cached list's CPU).
    let colours = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: draining requests");
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match cli.command {
        Command::Openapi => match flowspace_server::openapi_document().to_pretty_json() {
            Ok(s) => {
                println!("{s}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::ExitCode::FAILURE
            }
        },
        Command::RotateEncryptionKey(args) => {
            init_logs(&args.config.log_format);
            let new_key = match args
                .new_key
                .as_deref()
                .map(flowspace_server::secrets::decode_key)
                .transpose()
            {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("{e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            match flowspace_server::rotate_encryption_key(args.config, new_key).await {
                Ok((count, saved)) => {
                    println!("re-encrypted {count} credential(s)");
                    match saved {
                        flowspace_server::secrets::RotatedKey::Saved => {
                            println!(
                                "the new key is saved in DATA_DIR/secrets.json; restart every replica to use it"
                            );
                        }
                        flowspace_server::secrets::RotatedKey::Configured { old_key, .. } => {
                            println!(
                                "configure FLOWSPACE_ENCRYPTION_KEY=<the new key> and FLOWSPACE_PREVIOUS_ENCRYPTION_KEYS={old_key} on every replica, then restart them"
                            );
                        }
                    }
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("rotation failed, nothing changed: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::ImportFlowise(args) => {
            init_logs(&args.config.log_format);
            let args = *args;
            match flowspace_server::flowise::run(args.config, args.import).await {
                Ok(_) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("import-flowise: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::Serve(config) => {
            init_logs(&config.log_format);
            let addr = format!("{}:{}", config.host, config.port);
            let state = match flowspace_server::build_state(*config).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let listener = match tokio::net::TcpListener::bind(&addr).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(error = %e, %addr, "cannot listen");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let metrics = match flowspace_server::metrics::Placement::of(&state.config) {
                flowspace_server::metrics::Placement::Own(at) => {
                    match tokio::net::TcpListener::bind(at).await {
                        Ok(l) => {
                            tracing::info!(addr = %at, "metrics on their own listener");
                            Some(l)
                        }
                        Err(e) => {
                            tracing::error!(error = %e, addr = %at, "cannot listen for metrics");
                            return std::process::ExitCode::FAILURE;
                        }
                    }
                }
                _ => None,
            };
            tracing::info!(%addr, backend = ?state.store.backend(), "flowspace listening");
            let store = state.store.clone();
            let result =
                flowspace_server::serve_with_metrics(listener, metrics, state, shutdown_signal())
                    .await;
            store.close().await;
            match result {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "server failed");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
