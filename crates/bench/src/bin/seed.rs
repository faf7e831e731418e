//! `flowspace-bench-seed`: fills a Flowspace database for the benchmark through the server's
//! own configuration and secrets code and the store's own methods (no SQL of its own):
//! setup (organization, Account Admin with a known password, Default workspace), chatflows with
//! a realistic flow body, an API key holding `chatflows:view`, and a signed-in session with an
//! access token.
//!
//! It takes every flag and environment variable of `flowspace serve` (DATA_DIR, DATABASE_URL,
//! ARGON2_*, JWT_*...), so it opens exactly the database and secrets a server with the same
//! settings uses. Prints one JSON object on stdout:
//! `{"token", "apiKey", "workspaceId", "chatflowId", "email", "password", "chatflows"}`.

use clap::Parser;
use flowspace_core::authz::authorize;
use flowspace_core::permissions::{Permission, PermissionSet};
use flowspace_core::resource::ResourceKind;
use flowspace_core::time::Timestamp;
use flowspace_server::config::Config;
use flowspace_server::crypto::{new_api_key, random_token};
use flowspace_server::state::AppState;
use flowspace_store::{ApiKeyFields, ConnectOptions, ItemFields, SetupInput, Store, StoredRefresh};
use serde_json::{Value, json};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "flowspace-bench-seed",
    about = "Seed a Flowspace database for bench/run"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    /// How many chatflows to create in the Default workspace.
    #[arg(long, default_value_t = 50)]
    chatflows: usize,
    /// The Account Admin's email.
    #[arg(long, default_value = "bench@example.com")]
    admin_email: String,
    /// The Account Admin's password (the login scenario signs in with it).
    #[arg(long, default_value = "bench correct horse battery staple")]
    admin_password: String,
}

/// A chatflow body shaped like a small Flowise flow (a chat model wired into a conversation
/// chain); `i` makes each one a little different. About 470 bytes serialized.
fn flow_data(i: usize) -> Value {
    json!({
        "nodes": [
            {"id": "chatOpenAI_0", "position": {"x": 412 + i, "y": 180},
             "data": {"name": "chatOpenAI", "label": "ChatOpenAI",
                      "inputs": {"modelName": "gpt-4o-mini", "temperature": 0.7}}},
            {"id": "conversationChain_0", "position": {"x": 820, "y": 300},
             "data": {"name": "conversationChain", "label": "Conversation Chain",
                      "inputs": {"model": "{{chatOpenAI_0.data.instance}}", "systemMessagePrompt": "You answer from the docs."}}}
        ],
        "edges": [{"source": "chatOpenAI_0", "target": "conversationChain_0", "id": "e1"}]
    })
}

async fn run(cli: Cli) -> Result<Value, String> {
    let config = cli.config;
    let secrets = flowspace_server::secrets::load(&config)?;
    let store = Store::connect(
        &config.database_url(),
        &ConnectOptions {
            max_connections: config.database_max_connections,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    // The server's own state: its password hasher (ARGON2_* as configured), its token
    // signer (`AccessTokens`) and its refresh-token HMAC.
    let state = AppState::new(config.clone(), store.clone(), secrets)?;
    let err = |e: flowspace_core::DomainError| e.to_string();

    let password_hash = state
        .passwords
        .hash(&cli.admin_password)
        .await
        .map_err(err)?;
    let setup = store
        .setup(SetupInput {
            organization_name: "Bench Org".into(),
            name: "Bench Admin".into(),
            email: cli.admin_email.clone(),
            password_hash,
        })
        .await
        .map_err(err)?;

    let refresh = random_token();
    let ttl = i64::from(config.jwt_refresh_token_expiry_in_minutes) * 60;
    let session = store
        .create_session(
            setup.user,
            Some(setup.workspace),
            Some("127.0.0.1"),
            Some("flowspace-bench-seed"),
            &StoredRefresh {
                hash: state.token_hash("refresh", &refresh),
                expires_at: Timestamp::now().plus_seconds(ttl),
            },
        )
        .await
        .map_err(err)?;
    let facts = store
        .session_facts(session, setup.user, Some(setup.workspace))
        .await
        .map_err(err)?
        .ok_or("the new session is not usable")?;
    let create: Permission = "chatflows:create".parse().map_err(|_| "permission")?;
    let scope = authorize(&facts.caller, create).map_err(err)?;

    let mut first = None;
    for i in 0..cli.chatflows {
        let data = flowspace_core::rules::item_data(Some(&flow_data(i))).map_err(err)?;
        let item = store
            .create_item(
                &scope,
                ResourceKind::Chatflow,
                ItemFields {
                    name: format!("Support bot {i:02}"),
                    description: Some("Answers customer questions from the docs".into()),
                    data,
                },
            )
            .await
            .map_err(err)?;
        first.get_or_insert(item.id);
    }

    let (key, prefix, hash) = new_api_key();
    let permissions = PermissionSet::parse(["chatflows:view"]).map_err(|_| "permission")?;
    store
        .create_api_key(
            &scope,
            ApiKeyFields {
                name: "bench runtime".into(),
                description: None,
                permissions,
                expires_at: None,
            },
            &prefix,
            &hash,
        )
        .await
        .map_err(err)?;

    let token = state
        .tokens
        .issue(setup.user, session, Timestamp::now().unix_seconds())?;
    store.close().await;
    Ok(json!({
        "token": token,
        "apiKey": key,
        "workspaceId": setup.workspace.to_string(),
        "chatflowId": first.map(|id| id.to_string()),
        "email": cli.admin_email,
        "password": cli.admin_password,
        "chatflows": cli.chatflows,
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seeding failed: {e}");
            ExitCode::FAILURE
        }
    }
}
