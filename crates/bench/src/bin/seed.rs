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
//!
//! Scale mode (`bench/run --scale`): `--workspaces`, `--users`, `--items` and `--big-items`
//! add, after the above and still through store methods only, that many workspaces in all
//! (Default included; each made by `create_workspace`), users (`create_user`, all with one
//! precomputed password hash, so no Argon2 per user), and items in all (`import`: one
//! transaction per workspace or per chunk of 10,000). `--big-items` of them go into one workspace
//! whose only member is the Account Admin (the one the delete scenario deletes); the rest are
//! spread evenly over the other new workspaces. The Default workspace keeps exactly its
//! `--chatflows` chatflows: it is the probe workspace whose list is measured. Progress goes to
//! stderr; the output gains `bigWorkspaceId`, the counts and `seedSeconds`.

use clap::Parser;
use flowspace_core::authz::{authorize, authorize_account_admin};
use flowspace_core::ids::{ItemId, SessionId, UserId, WorkspaceId};
use flowspace_core::permissions::{Permission, PermissionSet};
use flowspace_core::resource::ResourceKind;
use flowspace_core::time::Timestamp;
use flowspace_server::config::Config;
use flowspace_server::crypto::{new_api_key, random_token};
use flowspace_server::state::AppState;
use flowspace_store::{
    ApiKeyFields, AuditContext, ConnectOptions, ImportEntry, ItemFields, NewUser, NewWorkspace,
    SetupInput, Store, StoredRefresh, UserInvite,
};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::Instant;

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
    /// Scale mode: workspaces in all, the Default one included (1: none added).
    #[arg(long, default_value_t = 1)]
    workspaces: usize,
    /// Scale mode: users to add besides the Account Admin.
    #[arg(long, default_value_t = 0)]
    users: usize,
    /// Scale mode: items to add in all (the big workspace's included), over the new workspaces.
    #[arg(long, default_value_t = 0)]
    items: usize,
    /// Scale mode: items of the one workspace the delete scenario deletes (0: no such workspace).
    #[arg(long, default_value_t = 0)]
    big_items: usize,
    /// Scale mode: imports run at once (SQLite has one writer: 1 there).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
}

/// What scale mode added.
struct Scaled {
    big_workspace: Option<WorkspaceId>,
    workspaces: usize,
    users: usize,
    items: usize,
    seconds: f64,
}

fn progress(what: &str, done: usize, total: usize, since: Instant) {
    let s = since.elapsed().as_secs_f64();
    eprintln!(
        ">> seed: {what} {done}/{total} ({s:.1} s, {:.0}/s)",
        done as f64 / s.max(1e-9)
    );
}

/// The kinds of the filler items: mostly flows, some others, all in the same table and index.
const FILLER_KINDS: [ResourceKind; 4] = [
    ResourceKind::Chatflow,
    ResourceKind::Chatflow,
    ResourceKind::Agentflow,
    ResourceKind::Tool,
];

/// `n` items to import, named from `start` on (unique within a workspace, so none is renamed).
fn entries(start: usize, n: usize, data: &str) -> Vec<ImportEntry> {
    (start..start + n)
        .map(|i| ImportEntry::Item {
            kind: FILLER_KINDS[i % FILLER_KINDS.len()],
            id: ItemId::new(),
            fields: ItemFields {
                name: format!("Scale item {i:06}"),
                description: Some("Seeded for the scale benchmark".into()),
                data: data.to_string(),
            },
        })
        .collect()
}

/// Imports `n` items into `ws` in chunks of at most 10,000 (one transaction each), with a scope
/// made the way a request makes one: the session's facts for that workspace, then `authorize`.
async fn fill(
    store: &Store,
    session: SessionId,
    user: UserId,
    ws: WorkspaceId,
    n: usize,
    data: &str,
) -> Result<(), String> {
    let err = |e: flowspace_core::DomainError| e.to_string();
    let facts = store
        .session_facts(session, user, Some(ws))
        .await
        .map_err(err)?
        .ok_or("the session is not usable")?;
    let create: Permission = "chatflows:create".parse().map_err(|_| "permission")?;
    let scope = authorize(&facts.caller, create).map_err(err)?;
    let ctx = AuditContext::from_scope(&scope);
    let mut start = 0;
    while start < n {
        let chunk = (n - start).min(10_000);
        store
            .import(&scope, entries(start, chunk, data), &ctx)
            .await
            .map_err(err)?;
        start += chunk;
    }
    Ok(())
}

/// Scale mode: users, workspaces and items, through the store's own methods.
async fn scale(
    store: &Store,
    cli: &Cli,
    session: SessionId,
    user: UserId,
    password_hash: &str,
) -> Result<Scaled, String> {
    let err = |e: flowspace_core::DomainError| e.to_string();
    let t0 = Instant::now();
    let facts = store
        .session_facts(session, user, None)
        .await
        .map_err(err)?
        .ok_or("the session is not usable")?;
    let admin = authorize_account_admin(&facts.caller).map_err(err)?;

    let since = Instant::now();
    for i in 0..cli.users {
        store
            .create_user(
                &admin,
                NewUser {
                    email: format!("user{i:06}@scale.example"),
                    name: format!("Scale User {i:06}"),
                    password_hash: password_hash.to_string(),
                },
                UserInvite {
                    token_hash: random_token().into_bytes(),
                    expires_at: Timestamp::now().plus_seconds(3600),
                },
            )
            .await
            .map_err(err)?;
        if (i + 1) % 10_000 == 0 || i + 1 == cli.users {
            progress("users", i + 1, cli.users, since);
        }
    }

    let new_workspaces = cli.workspaces.saturating_sub(1);
    let since = Instant::now();
    let mut created = Vec::with_capacity(new_workspaces);
    for i in 0..new_workspaces {
        let big = cli.big_items > 0 && i == 0;
        let ws = store
            .create_workspace(
                &admin,
                NewWorkspace {
                    name: if big {
                        "Scale big workspace".into()
                    } else {
                        format!("Scale workspace {i:05}")
                    },
                    description: None,
                    color: None,
                    icon: None,
                },
            )
            .await
            .map_err(err)?;
        created.push(ws.id);
        if (i + 1) % 1_000 == 0 || i + 1 == new_workspaces {
            progress("workspaces", i + 1, new_workspaces, since);
        }
    }
    let big_workspace = (cli.big_items > 0)
        .then(|| created.first().copied())
        .flatten();
    if cli.big_items > 0 && big_workspace.is_none() {
        return Err("--big-items needs --workspaces of at least 2".into());
    }

    let data = flowspace_core::rules::item_data(Some(&flow_data(7))).map_err(err)?;
    let since = Instant::now();
    let mut items = 0;
    if let Some(big) = big_workspace {
        let n = cli.big_items.min(cli.items);
        fill(store, session, user, big, n, &data).await?;
        items += n;
        progress("items of the big workspace", n, n, since);
    }
    let fillers: Vec<WorkspaceId> = created
        .iter()
        .copied()
        .filter(|w| Some(*w) != big_workspace)
        .collect();
    let rest = cli.items.saturating_sub(items);
    if !fillers.is_empty() && rest > 0 {
        let (each, extra) = (rest / fillers.len(), rest % fillers.len());
        let plan: Vec<(WorkspaceId, usize)> = fillers
            .iter()
            .enumerate()
            .map(|(i, w)| (*w, each + usize::from(i < extra)))
            .collect();
        let since = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let mut next = plan.into_iter();
        let mut done_ws = 0;
        let mut done_items = 0;
        loop {
            while tasks.len() < cli.jobs.max(1) {
                let Some((ws, n)) = next.next() else { break };
                let (store, data) = (store.clone(), data.clone());
                tasks.spawn(
                    async move { fill(&store, session, user, ws, n, &data).await.map(|()| n) },
                );
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            done_items += joined.map_err(|e| e.to_string())??;
            done_ws += 1;
            if done_ws % 500 == 0 || done_ws == fillers.len() {
                progress("items of the other workspaces", done_items, rest, since);
            }
        }
        items += done_items;
    }
    let seconds = t0.elapsed().as_secs_f64();
    eprintln!(">> seed: scale data done in {seconds:.1} s");
    Ok(Scaled {
        big_workspace,
        workspaces: cli.workspaces,
        users: cli.users,
        items,
        seconds,
    })
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
    let config = cli.config.clone();
    let secrets = flowspace_server::secrets::load(&config)?;
    let store = Store::connect(
        &config.database_url(),
        &ConnectOptions {
            max_connections: config.database_max_connections,
            ..ConnectOptions::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    // The server's own state: its password hasher (ARGON2_* as configured), its token
    // signer (`AccessTokens`) and its refresh-token HMAC.
    let state = AppState::new(
        config.clone(),
        store.clone(),
        secrets,
        flowspace_server::metrics::Metrics::off(),
    )?;
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
            password_hash: password_hash.clone(),
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
            false,
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

    let scaled = if cli.workspaces > 1 || cli.users > 0 || cli.items > 0 {
        Some(scale(&store, &cli, session, setup.user, &password_hash).await?)
    } else {
        None
    };

    let token = state
        .tokens
        .issue(setup.user, session, Timestamp::now().unix_seconds())?;
    store.close().await;
    let mut out = json!({
        "token": token,
        "apiKey": key,
        "workspaceId": setup.workspace.to_string(),
        "chatflowId": first.map(|id| id.to_string()),
        "email": cli.admin_email,
        "password": cli.admin_password,
        "chatflows": cli.chatflows,
    });
    if let (Some(s), Some(obj)) = (scaled, out.as_object_mut()) {
        obj.insert(
            "bigWorkspaceId".into(),
            json!(s.big_workspace.map(|w| w.to_string())),
        );
        obj.insert("scaleWorkspaces".into(), json!(s.workspaces));
        obj.insert("scaleUsers".into(), json!(s.users));
        obj.insert("scaleItems".into(), json!(s.items));
        obj.insert(
            "seedSeconds".into(),
            json!((s.seconds * 10.0).round() / 10.0),
        );
    }
    Ok(out)
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
