//! `flowspace import-flowise` (SPEC §10): a Flowise 3.x installation brought over whole — its
//! organization, users (bcrypt hashes kept), workspaces, memberships, roles, flows, tools,
//! variables, document stores, datasets, credentials (decrypted with the Flowise key, sealed
//! with Flowspace's), API keys (the same keys keep working) and shares — in one transaction,
//! or nothing. A second run writes nothing and says what is already here.

mod content;
mod crypto_js;
pub mod export_file;
mod plan;
mod source;

pub use crypto_js::{DecryptError, decrypt};

use crate::config::Config;
use crate::crypto::SecretBox;
use flowspace_core::ids::{OrganizationId, WorkspaceId};
use flowspace_core::rules;
use flowspace_store::ImportTarget;
use indicatif::{ProgressBar, ProgressStyle};
use plan::{Destination, Options, Report};
use secrecy::{ExposeSecret, SecretString};
use source::{FlowiseData, Source};
use std::collections::HashMap;

/// What `import-flowise` is told.
#[derive(clap::Args)]
pub struct ImportFlowiseArgs {
    /// The Flowise database: a SQLite file (`database.sqlite`) or a `postgres://` URL.
    #[arg(long)]
    pub from: String,
    /// The file holding Flowise's credential encryption key (its `encryption.key`), used byte
    /// for byte.
    #[arg(long, conflicts_with = "secret_key")]
    pub secret_key_file: Option<std::path::PathBuf>,
    /// Flowise's credential encryption key itself.
    #[arg(long, env = "FLOWISE_SECRETKEY_OVERWRITE", hide_env_values = true)]
    pub secret_key: Option<SecretString>,
    /// Import into a new organization of this name (else: into the installation's empty
    /// organization, or as the installation's setup when it has none).
    #[arg(long)]
    pub organization: Option<String>,
    /// Merge Flowise users whose email already has an account here into that account.
    #[arg(long)]
    pub merge_users: bool,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How a run ended (each printed to stdout by `run`).
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Imported,
    DryRun,
    AlreadyImported,
}

fn passphrase(args: &ImportFlowiseArgs) -> Result<Vec<u8>, String> {
    let key = match (&args.secret_key_file, &args.secret_key) {
        (Some(path), _) => std::fs::read(path)
            .map_err(|e| format!("cannot read the Flowise key file {}: {e}", path.display()))?,
        (None, Some(k)) => k.expose_secret().as_bytes().to_vec(),
        (None, None) => {
            return Err(
                "give Flowise's credential key: --secret-key-file <encryption.key>, --secret-key or FLOWISE_SECRETKEY_OVERWRITE"
                    .into(),
            );
        }
    };
    if key.is_empty() {
        return Err("the Flowise key is empty".into());
    }
    Ok(key)
}

fn progress(steps: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    if let Ok(style) = ProgressStyle::with_template("{msg:<28} [{bar:30}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

fn print_report(report: &Report) {
    println!("Flowise rows:");
    for (table, n) in &report.counts {
        println!("  {table:<28}{n}");
    }
    println!("Maps to:");
    for line in &report.mapped {
        println!("  {line}");
    }
    if !report.skipped.is_empty() {
        println!("Left out:");
        for line in &report.skipped {
            println!("  {line}");
        }
    }
    for line in &report.warnings {
        println!("warning: {line}");
    }
}

/// Runs the import; everything it says goes to stdout, the refusal is the error.
pub async fn run(config: Config, args: ImportFlowiseArgs) -> Result<Outcome, String> {
    let passphrase = passphrase(&args)?;
    let source = Source::open(&args.from).await?;
    let read = progress(source::TABLES.len() as u64, "reading Flowise tables");
    let data = FlowiseData::read(&source).await;
    source.close().await;
    read.finish_and_clear();
    let data = data?;

    // A dry run writes nothing anywhere: no generated secrets.json, and no database created
    // or migrated where there is no installation yet (it plans against an empty one in
    // memory: what a fresh installation is).
    let secrets = if args.dry_run {
        crate::secrets::load_without_writing(&config)?
    } else {
        crate::secrets::load(&config)?
    };
    let secret_box =
        SecretBox::with_previous(&secrets.encryption_key, &secrets.previous_encryption_keys);
    let mut url = config.database_url();
    if args.dry_run && !installation_exists(&url).await? {
        url = "sqlite::memory:".to_string();
    }
    let store = flowspace_store::Store::connect(&url, &flowspace_store::ConnectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let result = import(&store, &data, &args, &passphrase, &secret_box).await;
    store.close().await;
    result
}

/// Whether the database at `url` holds a Flowspace installation already: a SQLite file that
/// exists, or a PostgreSQL database with Flowspace's migrations table. A dry run plans against
/// an empty database in memory otherwise, so that it creates and migrates nothing.
async fn installation_exists(url: &str) -> Result<bool, String> {
    use sqlx::Connection;
    use std::str::FromStr;
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(true);
    }
    if url.starts_with("sqlite:") {
        return Ok(sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map(|o| o.get_filename().exists())
            .unwrap_or(true));
    }
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("cannot reach PostgreSQL: {e}"))?;
    let found: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    Ok(found)
}

async fn import(
    store: &flowspace_store::Store,
    data: &FlowiseData,
    args: &ImportFlowiseArgs,
    passphrase: &[u8],
    secret_box: &SecretBox,
) -> Result<Outcome, String> {
    let remembered = store
        .imported_sources(plan::SOURCE)
        .await
        .map_err(|e| e.to_string())?;
    if let Some((org, tables)) = plan::already_imported(data, &remembered) {
        println!(
            "This Flowise organization was imported already (into organization {org}); nothing written."
        );
        for (table, (known, all)) in tables {
            let new = all - known;
            let extra = if new > 0 {
                format!(" ({new} added in Flowise since: not imported)")
            } else {
                String::new()
            };
            println!("  {table:<28}{known} of {all} already here{extra}");
        }
        return Ok(Outcome::AlreadyImported);
    }

    let dest = destination(store, data, args).await?;
    let emails: Vec<String> = data
        .table("user")
        .iter()
        .map(|u| source::text(u, "email").to_string())
        .collect();
    let existing_users: HashMap<String, _> = store
        .users_by_email(&emails)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let opts = Options {
        passphrase,
        merge_users: args.merge_users,
        existing_users,
    };
    let (plan, report) = plan::plan(data, &dest, &opts, secret_box)?;
    match &plan.target {
        ImportTarget::Setup { name } => {
            println!("Target: this fresh installation, set up as organization `{name}`")
        }
        ImportTarget::NewOrganization { name } => {
            println!("Target: a new organization `{name}`")
        }
        ImportTarget::Existing => println!(
            "Target: the installation's empty organization {}",
            plan.organization
        ),
    }
    print_report(&report);
    if args.dry_run {
        println!("Dry run: nothing written.");
        return Ok(Outcome::DryRun);
    }
    let write = ProgressBar::new_spinner();
    write.set_message("writing (one transaction)");
    write.enable_steady_tick(std::time::Duration::from_millis(120));
    let written = store.import_installation(&plan).await;
    write.finish_and_clear();
    written.map_err(|e| format!("import failed, nothing written: {e}"))?;
    println!(
        "Imported: {} user(s), {} workspace(s), {} role(s), {} item(s), {} credential(s), {} API key(s), {} share(s) into organization {}.",
        plan.users.len(),
        plan.workspaces.len(),
        plan.roles.len(),
        plan.items.len(),
        plan.credentials.len(),
        plan.api_keys.len(),
        plan.shares.len(),
        plan.organization
    );
    Ok(Outcome::Imported)
}

async fn destination(
    store: &flowspace_store::Store,
    data: &FlowiseData,
    args: &ImportFlowiseArgs,
) -> Result<Destination, String> {
    let flowise_name = data
        .table("organization")
        .first()
        .map(|o| source::text(o, "name").to_string())
        .unwrap_or_default();
    let named = |name: &str| {
        rules::display_name("organization", name).map_err(|e| format!("--organization: {e}"))
    };
    let existing = store
        .setup_organization()
        .await
        .map_err(|e| e.to_string())?;
    let fresh = |target| Destination {
        target,
        organization: OrganizationId::new(),
        default_workspace: WorkspaceId::new(),
        existing_owner: None,
    };
    Ok(match (existing, &args.organization) {
        (None, name) => fresh(ImportTarget::Setup {
            name: named(name.as_deref().unwrap_or(&flowise_name))?,
        }),
        (Some(_), Some(name)) => fresh(ImportTarget::NewOrganization { name: named(name)? }),
        (Some(e), None) if e.empty => Destination {
            target: ImportTarget::Existing,
            organization: e.organization,
            default_workspace: e.default_workspace,
            existing_owner: e.owner,
        },
        (Some(_), None) => {
            return Err("this installation's organization already holds data: import into a new organization with --organization <name>".into());
        }
    })
}
