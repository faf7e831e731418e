//! Loads what authorization needs about a caller from the current database state (rule 3):
//! the session, the user's status, the organization's owner, the roles the caller holds in
//! the active workspace (directly and through groups), or an API key and its creator's
//! standing. What those rows amount to is decided in `flowspace_core::authz`; loaded facts
//! are kept in the cache of `cache.rs`, and only answered while provably current.

use crate::cache::{Versioned, remember};
use crate::types::{Ts, perms_from_text};
use crate::{Store, db_err, with_db};
use flowspace_core::authz::{self, Actor, CallerFacts, HeldRole, WorkspaceFacts};
use flowspace_core::ids::{ItemId, OrganizationId, SessionId, UserId, WorkspaceId};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use uuid::Uuid;

/// A signed-in session's facts.
#[derive(Clone, Debug)]
pub struct SessionFacts {
    pub session: SessionId,
    pub caller: CallerFacts,
}

/// An API key's facts.
#[derive(Clone, Debug)]
pub struct ApiKeyFacts {
    pub key: ItemId,
    pub caller: CallerFacts,
    /// The key's last use was recorded over a minute ago: the caller should record this one
    /// (`touch_api_key`). Only one request per key and minute is told so in this process.
    pub touch_due: bool,
}

/// What is cached of an API key: its facts, its expiry, and when its use was last recorded.
#[derive(Clone)]
pub(crate) struct KeyEntry {
    key: ItemId,
    caller: CallerFacts,
    expires_at: Option<Timestamp>,
    last_used: Arc<AtomicI64>,
}

/// Hands the items version read while checking a cached entry on to the caller's workspace
/// (see `cache::list_items_rendered`).
fn with_items_version(caller: &mut CallerFacts, items: Option<i64>) {
    if let Some(ws) = caller.workspace.as_mut() {
        ws.items_version = items;
    }
}

/// How long a key's recorded last use may lag behind, in microseconds.
const TOUCH_EVERY_MICROS: i64 = 60_000_000;

impl Store {
    /// The caller behind a session, or `None` when the session is revoked, or the user gone or
    /// not active. `requested` is the `X-Workspace-Id` header: a workspace the caller cannot
    /// act in answers `NotFound`, exactly like one that does not exist (rule 2).
    pub async fn session_facts(
        &self,
        session: SessionId,
        user: UserId,
        requested: Option<WorkspaceId>,
    ) -> DomainResult<Option<SessionFacts>> {
        let Some(cache) = &self.caches.sessions else {
            return Ok(self
                .load_session_facts(session, user, requested)
                .await?
                .map(|v| v.facts));
        };
        let key = (session.0, user.0, requested.map(|w| w.0));
        let mut current = None;
        if let Some(hit) = cache.get(&key) {
            let ws = hit.facts.caller.workspace.as_ref().map(|w| w.workspace);
            current = self.if_current(hit, ws).await?;
        }
        self.caches.counters.sessions.count(current.is_some());
        if let Some((mut facts, items)) = current {
            with_items_version(&mut facts.caller, items);
            return Ok(Some(facts));
        }
        let loaded = self.load_session_facts(session, user, requested).await?;
        remember(cache, key, &loaded);
        Ok(loaded.map(|v| v.facts))
    }

    /// `session_facts` read from the database, with the version they were read at. The
    /// version comes from the first query, so everything read after it is at least as new:
    /// a change committed after that query bumps the version past the one returned here.
    async fn load_session_facts(
        &self,
        session: SessionId,
        user: UserId,
        requested: Option<WorkspaceId>,
    ) -> DomainResult<Option<Versioned<SessionFacts>>> {
        // organization, active workspace, last workspace, is the owner, authorization version
        type Row = (Uuid, Option<Uuid>, Option<Uuid>, bool, Option<i64>);
        let row: Option<Row> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT u.organization_id, s.active_workspace_id, u.last_workspace_id,
                        COALESCE(o.owner_user_id = u.id, FALSE), v.version
                 FROM sessions s JOIN users u ON u.id = s.user_id JOIN organizations o ON o.id = u.organization_id
                 LEFT JOIN auth_versions v ON v.organization_id = u.organization_id
                 WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.status = 'active'")
                .bind(session.0).bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let Some((org, active, last, is_admin, version)) = row else {
            return Ok(None);
        };
        let org = OrganizationId(org);
        let workspace = match requested {
            Some(ws) => Some(
                self.standing(org, user, is_admin, ws)
                    .await?
                    .ok_or(DomainError::NotFound("workspace"))?,
            ),
            None => {
                let mut found = None;
                for ws in [active, last].into_iter().flatten() {
                    if let Some(f) = self.standing(org, user, is_admin, WorkspaceId(ws)).await? {
                        found = Some(f);
                        break;
                    }
                }
                match found {
                    Some(f) => Some(f),
                    None => match self.fallback_workspace(user).await? {
                        Some(ws) => self.standing(org, user, is_admin, ws).await?,
                        None => None,
                    },
                }
            }
        };
        Ok(Some(Versioned {
            organization: org,
            version,
            facts: SessionFacts {
                session,
                caller: CallerFacts {
                    organization: org,
                    actor: Actor::User(user),
                    is_account_admin: is_admin,
                    workspace,
                    ip: None,
                },
            },
        }))
    }

    /// What `user` may do in `ws` now, read fresh: `None` unless the user is active and may
    /// act there (used to check that whoever issued an invitation still may).
    #[tracing::instrument(skip_all)]
    pub async fn user_standing(
        &self,
        user: UserId,
        ws: WorkspaceId,
    ) -> DomainResult<Option<WorkspaceFacts>> {
        let row: Option<(Uuid, bool)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT u.organization_id, COALESCE(o.owner_user_id = u.id, FALSE)
                 FROM users u JOIN organizations o ON o.id = u.organization_id
                 WHERE u.id = $1 AND u.status = 'active'")
                .bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        match row {
            None => Ok(None),
            Some((org, is_admin)) => self.standing(OrganizationId(org), user, is_admin, ws).await,
        }
    }

    /// The caller's standing in `ws` (`authz::user_standing` over the roles read here): `None`
    /// when `ws` is not a workspace of the organization the caller may act in.
    async fn standing(
        &self,
        org: OrganizationId,
        user: UserId,
        is_admin: bool,
        ws: WorkspaceId,
    ) -> DomainResult<Option<WorkspaceFacts>> {
        let row: Option<(Option<String>, Option<String>)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT r.name, r.permissions FROM workspaces w
                 LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2
                 LEFT JOIN roles r ON r.id = m.role_id
                 WHERE w.id = $1 AND w.organization_id = $3")
                .bind(ws.0).bind(user.0).bind(org.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let Some((role, perms)) = row else {
            return Ok(None);
        };
        let direct = match role.zip(perms) {
            Some((name, perms)) => Some(HeldRole {
                name,
                permissions: perms_from_text(&perms)?,
            }),
            None => None,
        };
        // The Account Admin's standing does not depend on group roles: spare the read.
        let group_roles: Vec<(String, String)> = if is_admin {
            Vec::new()
        } else {
            with_db!(self, pool => {
                sqlx::query_as(
                    "SELECT r.name, r.permissions FROM workspace_groups wg
                     JOIN group_members gm ON gm.group_id = wg.group_id
                     JOIN roles r ON r.id = wg.role_id
                     WHERE wg.workspace_id = $1 AND gm.user_id = $2
                     ORDER BY r.name_key, r.id")
                    .bind(ws.0).bind(user.0).fetch_all(pool).await.map_err(db_err)?
            })
        };
        let group_roles = group_roles
            .into_iter()
            .map(|(name, perms)| {
                Ok(HeldRole {
                    name,
                    permissions: perms_from_text(&perms)?,
                })
            })
            .collect::<DomainResult<Vec<_>>>()?;
        Ok(authz::user_standing(ws, is_admin, direct, group_roles))
    }

    /// Another workspace the user belongs to, directly or through a group: Default first
    /// (where the Account Admin lands), then the oldest membership.
    async fn fallback_workspace(&self, user: UserId) -> DomainResult<Option<WorkspaceId>> {
        let row: Option<(Uuid,)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT x.workspace_id FROM (
                     SELECT m.workspace_id, m.created_at FROM memberships m WHERE m.user_id = $1
                     UNION ALL
                     SELECT wg.workspace_id, wg.created_at FROM workspace_groups wg
                     JOIN group_members gm ON gm.group_id = wg.group_id WHERE gm.user_id = $1
                 ) x JOIN workspaces w ON w.id = x.workspace_id
                 ORDER BY w.is_default DESC, x.created_at, w.id LIMIT 1")
                .bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.map(|(w,)| WorkspaceId(w)))
    }

    /// The caller behind an API key, or `None` when the key is unknown, expired, or its
    /// creator is no longer an active member of the key's workspace. The key acts with its own
    /// permissions, cut down to what its creator holds there now.
    pub async fn api_key_facts(
        &self,
        key_hash: &[u8],
        requested: Option<WorkspaceId>,
    ) -> DomainResult<Option<ApiKeyFacts>> {
        let cache = self.caches.keys.as_ref();
        let mut found = None;
        if let Some(hit) = cache.and_then(|c| c.get(key_hash)) {
            let ws = hit.facts.caller.workspace.as_ref().map(|w| w.workspace);
            found = self.if_current(hit, ws).await?;
        }
        if cache.is_some() {
            self.caches.counters.api_keys.count(found.is_some());
        }
        let (mut entry, items) = match found {
            Some(found) => found,
            None => {
                let loaded = self.load_api_key(key_hash).await?;
                if let Some(cache) = cache {
                    remember(cache, key_hash.to_vec(), &loaded);
                }
                match loaded {
                    Some(v) => (v.facts, None),
                    None => return Ok(None),
                }
            }
        };
        let now = Timestamp::now();
        if entry.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let ws = entry.caller.workspace.as_ref().map(|w| w.workspace);
        if requested.is_some_and(|r| Some(r) != ws) {
            return Err(DomainError::NotFound("workspace"));
        }
        let last = entry.last_used.load(Ordering::Relaxed);
        let touch_due = last <= now.micros() - TOUCH_EVERY_MICROS
            && entry
                .last_used
                .compare_exchange(last, now.micros(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        with_items_version(&mut entry.caller, items);
        Ok(Some(ApiKeyFacts {
            key: entry.key,
            caller: entry.caller,
            touch_due,
        }))
    }

    /// An API key read from the database, with the version it was read at (see
    /// `load_session_facts`): `None` when the key is unknown, or its creator not active or no
    /// longer able to act in the key's workspace. Expiry is checked by the caller, on each use.
    async fn load_api_key(&self, key_hash: &[u8]) -> DomainResult<Option<Versioned<KeyEntry>>> {
        type Row = (
            Uuid,
            Uuid,
            Uuid,
            String,
            Option<Ts>,
            Option<Ts>,
            Uuid,
            bool,
            String,
            Option<i64>,
        );
        let row: Option<Row> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT k.id, k.workspace_id, k.organization_id, k.permissions, k.expires_at, k.last_used_at,
                        k.created_by, COALESCE(o.owner_user_id = k.created_by, FALSE), u.status, v.version
                 FROM api_keys k JOIN users u ON u.id = k.created_by JOIN organizations o ON o.id = k.organization_id
                 LEFT JOIN auth_versions v ON v.organization_id = k.organization_id
                 WHERE k.key_hash = $1")
                .bind(key_hash).fetch_optional(pool).await.map_err(db_err)?
        });
        let Some((
            id,
            ws,
            org,
            perms,
            expires,
            last_used,
            creator,
            creator_is_admin,
            status,
            version,
        )) = row
        else {
            return Ok(None);
        };
        if status != "active" {
            return Ok(None);
        }
        let (ws, org, creator) = (WorkspaceId(ws), OrganizationId(org), UserId(creator));
        let creator_standing = self.standing(org, creator, creator_is_admin, ws).await?;
        let Some(standing) =
            authz::api_key_standing(perms_from_text(&perms)?, creator_standing.as_ref())
        else {
            return Ok(None);
        };
        Ok(Some(Versioned {
            organization: org,
            version,
            facts: KeyEntry {
                key: ItemId(id),
                expires_at: expires.map(|t| t.0),
                last_used: Arc::new(AtomicI64::new(last_used.map_or(i64::MIN, |t| t.0.micros()))),
                caller: CallerFacts {
                    organization: org,
                    actor: Actor::ApiKey {
                        key: ItemId(id),
                        creator,
                    },
                    is_account_admin: false,
                    workspace: Some(standing),
                    ip: None,
                },
            },
        }))
    }

    /// Records that a key was used (callers do it at most once a minute per key).
    pub async fn touch_api_key(&self, key: ItemId) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now).bind(key.0).execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }
}
