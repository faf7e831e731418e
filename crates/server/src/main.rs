//! `flowspace`: the command line.

use clap::{Parser, Subcommand};
use flowspace_server::config::Config;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// jemalloc, chosen by measurement over glibc's malloc and mimalloc (docs/benchmarks.md,
/// "Memory under sign-ins"): an Argon2id hash fills 19 MiB, and jemalloc serves allocations of
/// 8 MiB and more from a dedicated arena, which `oversize_frees_at_once` makes give freed pages
/// back to the OS at once, where glibc keeps them in its arenas once its dynamic mmap threshold
/// has risen past them. It is built unprefixed (Cargo.toml), so SQLite's and OpenSSL's `malloc`
/// is jemalloc too.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Sets the decay of jemalloc's arena for allocations of `opt.oversize_threshold` (8 MiB) and
/// more to 0, so that a block freed there goes back to the OS on the thread that frees it.
/// jemalloc does that by itself only without background threads; with them (ours, for the
/// purge while idle) that arena keeps the decay of every arena, 1 s here (.cargo/config.toml),
/// and the hashing workers' Argon2 blocks (2 × 19 MiB) stayed resident for up to a second
/// after the workers gave them back (docs/benchmarks.md, "The Argon2 blocks' last second").
/// The arena is numbered after the automatic ones (its number is reserved at start, so the
/// count checked below holds before it exists) and made by its first allocation, made here
/// and never written (so no page of it becomes resident); had that not made it, the write
/// fails. Returns the arena's number.
#[cfg(not(target_env = "msvc"))]
fn oversize_frees_at_once() -> Result<u32, String> {
    use tikv_jemalloc_ctl::{Access, AsName, arenas, opt};
    let e = |e: tikv_jemalloc_ctl::Error| e.to_string();
    let threshold: usize = b"opt.oversize_threshold\0".name().read().map_err(e)?;
    if threshold == 0 {
        return Err("jemalloc has no arena for large allocations".into());
    }
    let automatic = opt::narenas::read().map_err(e)?;
    drop(std::hint::black_box(Vec::<u8>::with_capacity(threshold)));
    let total = arenas::narenas::read().map_err(e)?;
    if total != automatic + 1 {
        return Err(format!(
            "jemalloc has {total} arenas, {automatic} automatic: which one is for large allocations is unknown"
        ));
    }
    let mut decay = b"arena.0.dirty_decay_ms\0"
        .name()
        .mib::<[usize; 3]>()
        .map_err(e)?;
    decay[1] = automatic as usize;
    decay.write(0isize).map_err(e)?;
    Ok(automatic)
}

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
            #[cfg(not(target_env = "msvc"))]
            if let Err(why) = oversize_frees_at_once() {
                tracing::warn!(%why, "freed Argon2 blocks stay resident until jemalloc's decay");
            }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::oversize_frees_at_once;
    use tikv_jemalloc_ctl::{Access, AsName};

    /// This process's resident memory, in KiB.
    fn resident_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    #[test]
    fn a_freed_argon2_sized_block_leaves_memory_at_once() {
        let arena = oversize_frees_at_once().expect("the arena for large allocations");
        let decay: isize = format!("arena.{arena}.dirty_decay_ms\0")
            .name()
            .read()
            .expect("its decay");
        assert_eq!(decay, 0);
        let ordinary: isize = b"arena.0.dirty_decay_ms\0".name().read().expect("arena 0");
        assert_eq!(
            ordinary, 1000,
            "the other arenas keep .cargo/config.toml's decay"
        );

        // A block of the size of one Argon2id hash at the defaults (19 MiB), every page written.
        let block = vec![1u8; 19 << 20];
        let with = resident_kib().expect("VmRSS in /proc/self/status");
        drop(std::hint::black_box(block));
        let without = resident_kib().expect("VmRSS in /proc/self/status");
        assert!(
            with.saturating_sub(without) >= 16 << 10,
            "freeing 19 MiB gave back only {} KiB at once ({with} -> {without})",
            with.saturating_sub(without)
        );
    }
}
