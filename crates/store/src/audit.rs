//! Audit events, written in the same transaction as the change they record, and chained by
//! hash per organization so that tampering is detectable.
//!
//! Each event stores its sequence number in the organization, the hash of the event before it
//! and its own hash: SHA-256 over a canonical encoding of the previous hash, the sequence
//! number and every stored field. The organization row holds the chain's head
//! (`audit_seq`, `audit_head`); `insert_audit` updates that row *first*, so concurrent
//! writers queue on it (a row lock in PostgreSQL, the write lock in SQLite) and never fork the
//! chain.

use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::DomainResult;
use flowspace_core::authz::{
    Actor, AdminScope, AuditScope, CallerFacts, InOrganization, OrgScope, WorkspaceScope,
};
use flowspace_core::cursor::{Cursor, Page, PageRequest, Search};
use flowspace_core::ids::{OrganizationId, UserId, WorkspaceId};
use flowspace_core::resource::ResourceKind;
use flowspace_core::time::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Who acted and from where, as the server knows it.
#[derive(Clone, Debug)]
pub struct AuditContext {
    pub organization: OrganizationId,
    pub actor: Actor,
    pub ip: Option<String>,
}

impl AuditContext {
    /// The actor and address of an authorized workspace request.
    pub fn from_scope(scope: &WorkspaceScope) -> Self {
        Self {
            organization: scope.organization(),
            actor: scope.actor(),
            ip: scope.ip().map(str::to_string),
        }
    }

    /// The caller and the address of a signed-in request (the guard sets `facts.ip`), in
    /// their active organization (`None`: they have none, nothing of theirs is recorded).
    pub fn from_facts(facts: &CallerFacts) -> Option<Self> {
        Some(Self {
            organization: facts.organization_id()?,
            actor: facts.actor,
            ip: facts.ip.clone(),
        })
    }

    /// A member of the organization, as themselves.
    pub fn from_org(scope: &OrgScope) -> Self {
        Self {
            organization: scope.organization(),
            actor: scope.actor(),
            ip: scope.ip().map(str::to_string),
        }
    }

    /// An event about an account itself (its password, its profile), in the trail of `org`,
    /// one of the organizations it belongs to: every one of them records it.
    pub fn account(org: OrganizationId, user: UserId, ip: Option<&str>) -> Self {
        Self {
            organization: org,
            actor: Actor::User(user),
            ip: ip.map(str::to_string),
        }
    }

    /// The Account Admin and the address of an organization-wide request.
    pub fn from_admin(admin: &AdminScope) -> Self {
        Self {
            organization: admin.organization(),
            actor: admin.actor(),
            ip: admin.ip().map(str::to_string),
        }
    }
}

/// One event to record.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub workspace: Option<WorkspaceId>,
    pub action: &'static str,
    pub target_kind: &'static str,
    pub target_id: Option<Uuid>,
    pub summary: serde_json::Value,
}

/// `{"from": a, "to": b}` for each named field that changed: the short before/after summary of
/// an update (never give it a secret).
pub(crate) fn changes(fields: &[(&str, Value, Value)]) -> serde_json::Map<String, Value> {
    fields
        .iter()
        .filter(|(_, a, b)| a != b)
        .map(|(k, a, b)| ((*k).to_string(), json!({"from": a, "to": b})))
        .collect()
}

/// What was done to a workspace resource.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Verb {
    Create,
    Update,
    Delete,
    Duplicate,
}

/// The action name of `verb` on `kind`, such as `chatflow.create`.
pub(crate) fn kind_action(kind: ResourceKind, verb: Verb) -> &'static str {
    macro_rules! names {
        ($($k:ident => $n:literal),* $(,)?) => {
            match (kind, verb) {
                $(
                    (ResourceKind::$k, Verb::Create) => concat!($n, ".create"),
                    (ResourceKind::$k, Verb::Update) => concat!($n, ".update"),
                    (ResourceKind::$k, Verb::Delete) => concat!($n, ".delete"),
                    (ResourceKind::$k, Verb::Duplicate) => concat!($n, ".duplicate"),
                )*
            }
        };
    }
    names!(
        Chatflow => "chatflow",
        Agentflow => "agentflow",
        Assistant => "assistant",
        Tool => "tool",
        Credential => "credential",
        Variable => "variable",
        ApiKey => "apikey",
        DocumentStore => "document_store",
        Dataset => "dataset",
    )
}

/// Every stored field of an event, in the order the hash covers them.
#[derive(Clone, Debug)]
pub(crate) struct ChainedEvent {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<Uuid>,
    pub summary: String,
    pub ip: Option<String>,
    pub created_at: i64,
    pub seq: i64,
    pub prev_hash: String,
}

fn put_bytes(h: &mut Sha256, b: &[u8]) {
    h.update((b.len() as u64).to_be_bytes());
    h.update(b);
}

fn put_opt(h: &mut Sha256, b: Option<&[u8]>) {
    match b {
        None => h.update([0u8]),
        Some(b) => {
            h.update([1u8]);
            put_bytes(h, b);
        }
    }
}

impl ChainedEvent {
    /// A new event of `ctx`, `seq`-th in its organization, after `prev_hash` ("" for the first).
    pub(crate) fn new(ctx: &AuditContext, ev: &AuditEvent, seq: i64, prev_hash: String) -> Self {
        let (user, key) = match ctx.actor {
            Actor::User(u) => (Some(u.0), None),
            Actor::ApiKey { key, creator } => (Some(creator.0), Some(key.0)),
        };
        Self {
            id: Uuid::now_v7(),
            organization_id: ctx.organization.0,
            workspace_id: ev.workspace.map(|w| w.0),
            actor_user_id: user,
            actor_api_key_id: key,
            action: ev.action.to_string(),
            target_kind: ev.target_kind.to_string(),
            target_id: ev.target_id,
            summary: ev.summary.to_string(),
            ip: ctx.ip.clone(),
            created_at: Timestamp::now().micros(),
            seq,
            prev_hash,
        }
    }

    /// SHA-256, in lowercase hex, over a canonical encoding: every field length-prefixed, and
    /// an absent one told apart from an empty one.
    pub(crate) fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"flowspace-audit-v1");
        put_bytes(&mut h, self.prev_hash.as_bytes());
        h.update(self.seq.to_be_bytes());
        put_bytes(&mut h, self.id.as_bytes());
        put_bytes(&mut h, self.organization_id.as_bytes());
        put_opt(
            &mut h,
            self.workspace_id.as_ref().map(|u| u.as_bytes().as_slice()),
        );
        put_opt(
            &mut h,
            self.actor_user_id.as_ref().map(|u| u.as_bytes().as_slice()),
        );
        put_opt(
            &mut h,
            self.actor_api_key_id
                .as_ref()
                .map(|u| u.as_bytes().as_slice()),
        );
        put_bytes(&mut h, self.action.as_bytes());
        put_bytes(&mut h, self.target_kind.as_bytes());
        put_opt(
            &mut h,
            self.target_id.as_ref().map(|u| u.as_bytes().as_slice()),
        );
        put_bytes(&mut h, self.summary.as_bytes());
        put_opt(&mut h, self.ip.as_deref().map(str::as_bytes));
        h.update(self.created_at.to_be_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The chain's next link: the organization's sequence number, bumped, and its head. First in
/// every audited write: this row is what serializes concurrent writers of the organization.
const NEXT_LINK_SQL: &str = "UPDATE organizations SET audit_seq = audit_seq + 1 WHERE id = $1
    RETURNING audit_seq, audit_head";
const INSERT_EVENT_SQL: &str = "INSERT INTO audit_events (id, organization_id, workspace_id, actor_user_id, actor_api_key_id, action,
        target_kind, target_id, summary, ip, created_at, seq, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
const SET_HEAD_SQL: &str = "UPDATE organizations SET audit_head = $1 WHERE id = $2";

/// `AuditTx::insert_audit` on the SQLite writer's own connection (`group_commit`): the same
/// statements, run synchronously inside the job's savepoint.
pub(crate) fn insert_audit_sqlite(
    conn: &rusqlite::Connection,
    ctx: &AuditContext,
    ev: &AuditEvent,
) -> rusqlite::Result<()> {
    use rusqlite::named_params;
    let bytes = |u: &Option<Uuid>| u.map(|u| *u.as_bytes());
    let org = *ctx.organization.0.as_bytes();
    let (seq, head): (i64, Option<String>) = conn
        .prepare_cached(NEXT_LINK_SQL)?
        .query_row(named_params! {"$1": org}, |r| Ok((r.get(0)?, r.get(1)?)))?;
    let e = ChainedEvent::new(ctx, ev, seq, head.unwrap_or_default());
    let hash = e.hash();
    conn.prepare_cached(INSERT_EVENT_SQL)?
        .execute(named_params! {
            "$1": e.id.as_bytes(),
            "$2": e.organization_id.as_bytes(),
            "$3": bytes(&e.workspace_id),
            "$4": bytes(&e.actor_user_id),
            "$5": bytes(&e.actor_api_key_id),
            "$6": e.action,
            "$7": e.target_kind,
            "$8": bytes(&e.target_id),
            "$9": e.summary,
            "$10": e.ip,
            "$11": e.created_at,
            "$12": e.seq,
            "$13": e.prev_hash,
            "$14": hash,
        })?;
    conn.prepare_cached(SET_HEAD_SQL)?
        .execute(named_params! {"$1": hash, "$2": org})?;
    Ok(())
}

/// A transaction of either backend, as audited writes use it.
///
/// Implemented once, generically over `sqlx::Database`, rather than written as a macro or an
/// enum of the two transactions: the body is written once and compiled once per backend (as
/// the bodies of `with_db!` are), the bounds name exactly the types it binds and reads, and
/// code that is itself generic (`versioned::commit_if_matched`) needs only `T: AuditTx`.
pub(crate) trait AuditTx: Send {
    /// Inserts `ev` for `ctx` as the next link of the organization's chain.
    fn insert_audit(
        &mut self,
        ctx: &AuditContext,
        ev: &AuditEvent,
    ) -> impl Future<Output = DomainResult<()>> + Send;

    /// Commits the transaction.
    fn finish(self) -> impl Future<Output = DomainResult<()>> + Send;
}

impl<DB> AuditTx for sqlx::Transaction<'_, DB>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'r> (i64, Option<String>): sqlx::FromRow<'r, DB::Row>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<Uuid>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Ts: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    async fn insert_audit(&mut self, ctx: &AuditContext, ev: &AuditEvent) -> DomainResult<()> {
        let (seq, head): (i64, Option<String>) = sqlx::query_as(NEXT_LINK_SQL)
            .bind(ctx.organization.0)
            .fetch_one(&mut **self)
            .await
            .map_err(db_err)?;
        let e = ChainedEvent::new(ctx, ev, seq, head.unwrap_or_default());
        let hash = e.hash();
        sqlx::query(INSERT_EVENT_SQL)
            .bind(e.id)
            .bind(e.organization_id)
            .bind(e.workspace_id)
            .bind(e.actor_user_id)
            .bind(e.actor_api_key_id)
            .bind(e.action.as_str())
            .bind(e.target_kind.as_str())
            .bind(e.target_id)
            .bind(e.summary.as_str())
            .bind(e.ip.as_deref())
            .bind(Ts(Timestamp::from_micros(e.created_at)))
            .bind(e.seq)
            .bind(e.prev_hash.as_str())
            .bind(hash.as_str())
            .execute(&mut **self)
            .await
            .map_err(db_err)?;
        sqlx::query(SET_HEAD_SQL)
            .bind(hash.as_str())
            .bind(ctx.organization.0)
            .execute(&mut **self)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn finish(self) -> DomainResult<()> {
        self.commit().await.map_err(db_err)
    }
}

/// Inserts `ev` for `ctx` in the transaction `tx` (of either backend), as the next link of the
/// organization's chain.
pub(crate) async fn insert_audit(
    tx: &mut impl AuditTx,
    ctx: &AuditContext,
    ev: &AuditEvent,
) -> DomainResult<()> {
    tx.insert_audit(ctx, ev).await
}

/// A recorded event, as the audit API and tests read it.
#[derive(Clone, Debug)]
pub struct AuditRow {
    pub id: Uuid,
    pub workspace: Option<WorkspaceId>,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<Uuid>,
    pub summary: String,
    pub ip: Option<String>,
    pub created_at: Timestamp,
    pub seq: Option<i64>,
}

/// Which events a list answers, within those its `AuditScope` lets the reader see (the scope
/// decides the workspace); `None` is no filter.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// A user id (also matches the events of that user's API keys) or an API key id.
    pub actor: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// `q`: what the event's action (`chatflow.update`), or its acting user's email or name
    /// (when the scope `knows_people`: a member of the organization), must contain,
    /// case-insensitively.
    pub search: Search,
}

/// What `verify_audit_chain` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainCheck {
    pub valid: bool,
    pub checked: u64,
    /// The first event whose link does not hold (`None` when the chain holds, or when only its
    /// end is missing).
    pub first_broken: Option<Uuid>,
}

const ROW_COLS: &str = "id, workspace_id, actor_user_id, actor_api_key_id, action, target_kind, target_id, summary, ip, created_at, seq";

type RowTuple = (
    Uuid,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    String,
    String,
    Option<Uuid>,
    String,
    Option<String>,
    Ts,
    Option<i64>,
);

fn into_row(r: RowTuple) -> AuditRow {
    let (id, w, u, k, action, target_kind, target_id, summary, ip, at, seq) = r;
    AuditRow {
        id,
        workspace: w.map(WorkspaceId),
        actor_user_id: u,
        actor_api_key_id: k,
        action,
        target_kind,
        target_id,
        summary,
        ip,
        created_at: at.0,
        seq,
    }
}

type ChainTuple = (
    Uuid,
    Uuid,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    String,
    String,
    Option<Uuid>,
    String,
    Option<String>,
    Ts,
    i64,
    Option<String>,
    Option<String>,
);

/// Events read per query while verifying.
const VERIFY_BATCH: i64 = 1000;

impl Store {
    /// Records one event on its own (for an action that changes nothing else, such as
    /// revealing a credential's secret, or a refused request).
    pub async fn record_audit(&self, ctx: &AuditContext, ev: &AuditEvent) -> DomainResult<()> {
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            insert_audit(&mut tx, ctx, ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// The organization's events, newest first.
    pub async fn audit_events(
        &self,
        org: OrganizationId,
        limit: i64,
    ) -> DomainResult<Vec<AuditRow>> {
        let sql = format!(
            "SELECT {ROW_COLS} FROM audit_events WHERE organization_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<RowTuple> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(org.0).bind(limit).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows.into_iter().map(into_row).collect())
    }

    /// One page of the events `scope` may read (its organization's, or one workspace's) that
    /// pass `filter`, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_audit_events(
        &self,
        scope: &AuditScope,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> DomainResult<Page<AuditRow>> {
        let sql = format!(
            "SELECT {ROW_COLS} FROM audit_events
             WHERE organization_id = $1
               AND ($2 IS NULL OR workspace_id = $2)
               AND ($3 IS NULL OR actor_user_id = $3 OR actor_api_key_id = $3)
               AND ($4 IS NULL OR action = $4)
               AND ($5 IS NULL OR created_at >= $5)
               AND ($6 IS NULL OR created_at <= $6)
               AND ($10 IS NULL OR LOWER(action) LIKE $10 ESCAPE '\\'
                    OR ($11 AND actor_user_id IN (
                        SELECT m.user_id FROM org_members m JOIN users u ON u.id = m.user_id
                        WHERE m.organization_id = $1
                          AND (u.email_key LIKE $10 ESCAPE '\\'
                               OR (m.status <> 'invited' AND u.name_key LIKE $10 ESCAPE '\\')))))
               AND ($7 IS NULL OR created_at < $7 OR (created_at = $7 AND id < $8))
             ORDER BY created_at DESC, id DESC LIMIT $9"
        );
        let (after_t, after_id) = match page.after {
            Some(c) => (Some(Ts(c.created_at)), Some(c.id)),
            None => (None, None),
        };
        let rows: Vec<RowTuple> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(scope.organization().0)
                .bind(scope.workspace().map(|w| w.0))
                .bind(filter.actor)
                .bind(filter.action.as_deref())
                .bind(filter.from.map(Ts))
                .bind(filter.to.map(Ts))
                .bind(after_t)
                .bind(after_id)
                .bind(i64::from(page.limit) + 1)
                .bind(filter.search.like_pattern())
                .bind(scope.knows_people())
                .fetch_all(pool).await.map_err(db_err)?
        });
        let rows = rows.into_iter().map(into_row).collect();
        Ok(Page::from_rows(rows, page.limit, |r: &AuditRow| Cursor {
            created_at: r.created_at,
            id: r.id,
        }))
    }

    /// Recomputes the organization's chain from its first event: each event must follow the
    /// one before it (sequence and previous hash) and hash to what it stores, and the last one
    /// must be the head the organization row holds.
    #[tracing::instrument(skip_all)]
    pub async fn verify_audit_chain(
        &self,
        scope: &impl InOrganization,
    ) -> DomainResult<ChainCheck> {
        let org = scope.organization_id();
        let (head_seq, head): (i64, Option<String>) = with_db!(self, pool => {
            sqlx::query_as("SELECT audit_seq, audit_head FROM organizations WHERE id = $1")
                .bind(org.0).fetch_one(pool).await.map_err(db_err)?
        });
        let mut expected_seq = 1i64;
        let mut prev = String::new();
        let mut checked = 0u64;
        loop {
            let batch: Vec<ChainTuple> = with_db!(self, pool => {
                sqlx::query_as(
                    "SELECT id, organization_id, workspace_id, actor_user_id, actor_api_key_id, action, target_kind,
                            target_id, summary, ip, created_at, seq, prev_hash, hash
                     FROM audit_events WHERE organization_id = $1 AND seq >= $2 AND seq <= $4 ORDER BY seq LIMIT $3",
                )
                .bind(org.0).bind(expected_seq).bind(VERIFY_BATCH).bind(head_seq)
                .fetch_all(pool).await.map_err(db_err)?
            });
            let done = (batch.len() as i64) < VERIFY_BATCH;
            for (id, o, w, u, k, action, target_kind, target_id, summary, ip, at, seq, p, h) in
                batch
            {
                checked += 1;
                let e = ChainedEvent {
                    id,
                    organization_id: o,
                    workspace_id: w,
                    actor_user_id: u,
                    actor_api_key_id: k,
                    action,
                    target_kind,
                    target_id,
                    summary,
                    ip,
                    created_at: at.0.micros(),
                    seq,
                    prev_hash: p.clone().unwrap_or_default(),
                };
                let stored = h.unwrap_or_default();
                if seq != expected_seq || p.as_deref() != Some(prev.as_str()) || e.hash() != stored
                {
                    return Ok(ChainCheck {
                        valid: false,
                        checked,
                        first_broken: Some(id),
                    });
                }
                prev = stored;
                expected_seq += 1;
            }
            if done {
                break;
            }
        }
        // An event outside the chain (no sequence number) was not written by this server.
        let outside: Option<(Uuid,)> = with_db!(self, pool => {
            sqlx::query_as("SELECT id FROM audit_events WHERE organization_id = $1 AND (seq IS NULL OR seq < 1) LIMIT 1")
                .bind(org.0).fetch_optional(pool).await.map_err(db_err)?
        });
        if let Some((id,)) = outside {
            return Ok(ChainCheck {
                valid: false,
                checked,
                first_broken: Some(id),
            });
        }
        // A chain cut short at its end has no broken link, but no longer reaches the head.
        // (Events written while this ran are past `head_seq` and not part of this check.)
        let reaches_head = expected_seq - 1 == head_seq && head.unwrap_or_default() == prev;
        Ok(ChainCheck {
            valid: reaches_head,
            checked,
            first_broken: None,
        })
    }
}
