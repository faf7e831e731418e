//! PostgreSQL's group commit for item creates: the creates of one organization that arrive
//! together are written by one transaction of a fixed number of statements.
//!
//! Every audited write takes its organization's row (the audit chain's head, and the items
//! version triggers lock it first), so one organization's writes run one at a time across
//! every replica, each holding the row for its whole transaction: a create's six round trips
//! and its commit's flush. Here a task of this process collects the creates waiting at that
//! moment (up to `MAX_BATCH`), groups them by organization, and writes each group with
//! `BEGIN`, one multi-row `INSERT` of the items, one bump of the chain's sequence by the
//! group's size, one multi-row `INSERT` of their audit events (chained in order here), the new
//! head, and one `COMMIT`: the row is held once per group, not once per create. The statements
//! and their lock order (the organization's row, then the workspace's version row) are those
//! of a single create.
//!
//! One group per organization is in flight at a time (the creates arriving meanwhile form the
//! next), and organizations do not wait for each other. Each create keeps its own answer:
//! when the database refuses a group's data (a workspace deleted meanwhile, say), its creates
//! are written again one by one, each in its own transaction, so that only the ones that fail
//! alone answer an error; when the database cannot be reached, the group fails as each create
//! would have. An answer is sent after the commit.

use crate::audit::{AuditContext, AuditEvent, ChainedEvent};
use crate::db_err;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// The most creates written by one transaction.
const MAX_BATCH: usize = 256;

/// One item to create, with its audit event.
pub(crate) struct NewItem {
    pub id: Uuid,
    pub organization: Uuid,
    pub workspace: Uuid,
    pub kind: &'static str,
    pub name: String,
    pub description: Option<String>,
    pub data: String,
    pub user: Uuid,
    pub at: Timestamp,
    pub name_key: String,
    pub ctx: AuditContext,
    pub ev: AuditEvent,
}

struct Job {
    item: NewItem,
    reply: oneshot::Sender<DomainResult<NewItem>>,
}

/// The queue in front of the writing task. The task runs on the runtime of the first create
/// after it is (re)started: a runtime that ends takes it along, and the next create starts
/// another.
pub(crate) struct PgCreates {
    pool: PgPool,
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
}

impl PgCreates {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            jobs: Mutex::new(None),
        }
    }

    /// Creates `item` with the others waiting now; answers it back once committed.
    pub(crate) async fn create(&self, item: NewItem) -> DomainResult<NewItem> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Job { item, reply })?;
        answer
            .await
            .map_err(|_| DomainError::Internal("a create was dropped by its queue".into()))?
    }

    /// Hands `job` to the writing task, starting one when there is none (the first create,
    /// or the runtime of the last one ended).
    fn enqueue(&self, job: Job) -> DomainResult<()> {
        let mut jobs = self
            .jobs
            .lock()
            .map_err(|_| DomainError::Internal("the create queue is poisoned".into()))?;
        let job = match jobs.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => back,
            },
            None => job,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(self.pool.clone(), rx));
        tx.send(job)
            .map_err(|_| DomainError::Internal("the create queue has stopped".into()))?;
        *jobs = Some(tx);
        Ok(())
    }
}

/// The writing task: one group in flight per organization at a time (its creates queue for
/// the next one meanwhile), organizations independent of each other; ends when every sender is
/// gone and every group is written.
async fn run(pool: PgPool, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut pending: HashMap<Uuid, Vec<Job>> = HashMap::new();
    let mut writing: HashMap<tokio::task::Id, Uuid> = HashMap::new();
    let mut writes = tokio::task::JoinSet::new();
    let mut received = Vec::with_capacity(MAX_BATCH);
    let mut open = true;
    loop {
        tokio::select! {
            n = rx.recv_many(&mut received, MAX_BATCH), if open => {
                open = n > 0;
                for job in received.drain(..) {
                    pending.entry(job.item.organization).or_default().push(job);
                }
            }
            Some(done) = writes.join_next_with_id(), if !writes.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                writing.remove(&id);
            }
            else => break,
        }
        let idle: Vec<Uuid> = pending
            .keys()
            .filter(|org| !writing.values().any(|w| w == *org))
            .copied()
            .collect();
        for org in idle {
            let Some(mut jobs) = pending.remove(&org) else {
                continue;
            };
            if jobs.len() > MAX_BATCH {
                pending.insert(org, jobs.split_off(MAX_BATCH));
            }
            let pool = pool.clone();
            let handle = writes.spawn(async move { write_group(&pool, jobs).await });
            writing.insert(handle.id(), org);
        }
        if !open && writes.is_empty() && pending.is_empty() {
            break;
        }
    }
}

/// Writes one organization's group; when its data is refused (a workspace deleted meanwhile,
/// say), each of its creates alone, so that only the ones that fail alone answer an error.
/// A create whose caller has gone (the request was cancelled) is not written, as a cancelled
/// request's own transaction would have been rolled back.
async fn write_group(pool: &PgPool, jobs: Vec<Job>) {
    let jobs: Vec<Job> = jobs.into_iter().filter(|j| !j.reply.is_closed()).collect();
    let items: Vec<&NewItem> = jobs.iter().map(|j| &j.item).collect();
    match insert(pool, &items).await {
        Ok(()) => {
            for job in jobs {
                let _ = job.reply.send(Ok(job.item));
            }
        }
        Err(sqlx::Error::Database(e)) if jobs.len() > 1 => {
            tracing::debug!(error = %e, creates = jobs.len(), "a group of creates is written one by one");
            for job in jobs {
                let alone = insert(pool, &[&job.item]).await.map_err(db_err);
                let _ = job.reply.send(alone.map(|()| job.item));
            }
        }
        // The database is unreachable, the pool exhausted: every create of the group fails
        // as it would have alone.
        Err(e) => {
            tracing::error!(error = %e, "database error");
            let e = format!("database: {e}");
            for job in jobs {
                let _ = job.reply.send(Err(DomainError::Internal(e.clone())));
            }
        }
    }
}

/// One transaction: the items, then the next links of their organization's audit chain (all
/// of `items` are of one organization).
async fn insert(pool: &PgPool, items: &[&NewItem]) -> Result<(), sqlx::Error> {
    let Some(first) = items.first() else {
        return Ok(());
    };
    let org = first.organization;
    let n = i64::try_from(items.len()).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let col = |f: fn(&NewItem) -> Uuid| items.iter().map(|i| f(i)).collect::<Vec<Uuid>>();
    let text = |f: fn(&NewItem) -> &str| {
        items
            .iter()
            .map(|i| f(i).to_string())
            .collect::<Vec<String>>()
    };
    let times: Vec<_> = items.iter().map(|i| i.at.to_offset()).collect();
    let mut tx = pool.begin().await?;
    // The items first: their statement's trigger takes the organization's row, then the
    // workspace's version row, as every write does.
    sqlx::query(
        "INSERT INTO items (id, organization_id, workspace_id, kind, name, description, data, version,
                            created_by, created_at, updated_by, updated_at, name_key)
         SELECT id, org, ws, kind, name, description, data, 1, by_user, at, by_user, at, key
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::uuid[], $9::timestamptz[], $10::text[])
              AS t(id, org, ws, kind, name, description, data, by_user, at, key)",
    )
    .bind(col(|i| i.id))
    .bind(col(|i| i.organization))
    .bind(col(|i| i.workspace))
    .bind(text(|i| i.kind))
    .bind(text(|i| &i.name))
    .bind(items.iter().map(|i| i.description.clone()).collect::<Vec<_>>())
    .bind(text(|i| &i.data))
    .bind(col(|i| i.user))
    .bind(&times)
    .bind(text(|i| &i.name_key))
    .execute(&mut *tx)
    .await?;
    // The chain: `n` sequence numbers at once, the events chained here in order.
    let (last, head): (i64, Option<String>) = sqlx::query_as(
        "UPDATE organizations SET audit_seq = audit_seq + $2 WHERE id = $1
         RETURNING audit_seq, audit_head",
    )
    .bind(org)
    .bind(n)
    .fetch_one(&mut *tx)
    .await?;
    let mut prev = head.unwrap_or_default();
    let mut events = Vec::with_capacity(items.len());
    for (k, item) in (0..).zip(items) {
        let e = ChainedEvent::new(&item.ctx, &item.ev, last - n + 1 + k, prev);
        let hash = e.hash();
        prev = hash.clone();
        events.push((e, hash));
    }
    let ev_uuid =
        |f: fn(&ChainedEvent) -> Option<Uuid>| events.iter().map(|(e, _)| f(e)).collect::<Vec<_>>();
    let ev_text =
        |f: fn(&ChainedEvent) -> String| events.iter().map(|(e, _)| f(e)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO audit_events (id, organization_id, workspace_id, actor_user_id, actor_api_key_id,
                                   action, target_kind, target_id, summary, ip, created_at, seq,
                                   prev_hash, hash)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[],
                              $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[],
                              $11::timestamptz[], $12::bigint[], $13::text[], $14::text[])",
    )
    .bind(ev_uuid(|e| Some(e.id)))
    .bind(ev_uuid(|e| Some(e.organization_id)))
    .bind(ev_uuid(|e| e.workspace_id))
    .bind(ev_uuid(|e| e.actor_user_id))
    .bind(ev_uuid(|e| e.actor_api_key_id))
    .bind(ev_text(|e| e.action.clone()))
    .bind(ev_text(|e| e.target_kind.clone()))
    .bind(ev_uuid(|e| e.target_id))
    .bind(ev_text(|e| e.summary.clone()))
    .bind(events.iter().map(|(e, _)| e.ip.clone()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|(e, _)| Timestamp::from_micros(e.created_at).to_offset())
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|(e, _)| e.seq).collect::<Vec<_>>())
    .bind(ev_text(|e| e.prev_hash.clone()))
    .bind(events.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE organizations SET audit_head = $1 WHERE id = $2")
        .bind(prev)
        .bind(org)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
