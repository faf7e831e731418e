//! Loads what authorization needs about a caller from the current database state (rule 3):
//! the session, the user's status, their organizations and roles there, the roles they hold in
//! the active workspace (directly and through groups), or an API key and its creator's
//! standing. What those rows amount to is decided in `flowspace_core::authz`; loaded facts
//! are kept in the cache of `cache.rs`, and only answered while provably current.

use crate::cache::{Versioned, remember};
use crate::types::{Ts, perms_from_text};
use crate::{Store, db_err, with_db};
use flowspace_core::authz::{self, Actor, CallerFacts, HeldRole, OrgFacts, WorkspaceFacts};
use flowspace_core::ids::{ItemId, OrganizationId, SessionId, UserId, WorkspaceId};
use flowspace_core::model::{OrgRole, OrgStatus};
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

/// An organization a user is an active member of, with its authorization version.
#[derive(Clone, Copy, Debug)]
struct OrgMembership {
    id: OrganizationId,
    role: OrgRole,
    suspended: bool,
    /// The organization requires MFA (SPEC §9).
    mfa_required: bool,
    version: Option<i64>,
}

impl OrgMembership {
    fn facts(self) -> OrgFacts {
        OrgFacts {
            id: self.id,
            role: self.role,
            suspended: self.suspended,
        }
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
    /// versions come from the first query, so everything read after it is at least as new:
    /// a change committed after that query bumps the version past the one returned here.
    ///
    /// The active organization is the one the requested workspace belongs to; without one,
    /// the session's active organization, else the organization of its active workspace or of
    /// the user's last one, else their oldest membership: the first of these where the user
    /// is an active member (SPEC §7). A user who is an active member of none has no
    /// organization and no workspace.
    async fn load_session_facts(
        &self,
        session: SessionId,
        user: UserId,
        requested: Option<WorkspaceId>,
    ) -> DomainResult<Option<Versioned<SessionFacts>>> {
        let orgs = self.active_orgs_of(user).await?;
        // active organization, its workspace, active workspace and its organization, last
        // workspace and its organization, instance admin
        type Row = (
            Option<Uuid>,
            Option<Uuid>,
            Option<Uuid>,
            Option<Uuid>,
            Option<Uuid>,
            bool,
            bool,
            bool,
        );
        let row: Option<Row> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT s.active_organization_id, s.active_workspace_id, aw.organization_id,
                        u.last_workspace_id, lw.organization_id, u.is_instance_admin,
                        (EXISTS (SELECT 1 FROM mfa_totp t WHERE t.user_id = u.id AND t.active)
                         OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id)),
                        s.provider_mfa
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 LEFT JOIN workspaces aw ON aw.id = s.active_workspace_id
                 LEFT JOIN workspaces lw ON lw.id = u.last_workspace_id
                 WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.status = 'active'")
                .bind(session.0).bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let Some((
            active_org,
            active_ws,
            active_ws_org,
            last_ws,
            last_ws_org,
            instance_admin,
            has_mfa,
            provider_mfa,
        )) = row
        else {
            return Ok(None);
        };
        let requested_org = match requested {
            Some(ws) => Some(
                self.workspace_org(ws)
                    .await?
                    .ok_or(DomainError::NotFound("workspace"))?,
            ),
            None => None,
        };
        let member = |o: Uuid| orgs.iter().find(|m| m.id.0 == o).copied();
        let org = match requested_org {
            // A workspace of an organization the caller is not in is no workspace of theirs.
            Some(o) => Some(member(o.0).ok_or(DomainError::NotFound("workspace"))?),
            None => [active_org, active_ws_org, last_ws_org]
                .into_iter()
                .flatten()
                .find_map(member)
                .or_else(|| orgs.first().copied()),
        };
        let (workspace, version) = match org {
            None => (None, None),
            Some(o) => {
                let admin = o.role.is_admin();
                let workspace = match requested {
                    Some(ws) => Some(
                        self.standing(o.id, user, admin, ws)
                            .await?
                            .ok_or(DomainError::NotFound("workspace"))?,
                    ),
                    None => {
                        let mut found = None;
                        for ws in [active_ws, last_ws].into_iter().flatten() {
                            if let Some(f) =
                                self.standing(o.id, user, admin, WorkspaceId(ws)).await?
                            {
                                found = Some(f);
                                break;
                            }
                        }
                        match found {
                            Some(f) => Some(f),
                            None => match self.fallback_workspace(user, o.id).await? {
                                Some(ws) => self.standing(o.id, user, admin, ws).await?,
                                None => None,
                            },
                        }
                    }
                };
                let version = orgs.iter().find(|m| m.id == o.id).and_then(|m| m.version);
                (workspace, version)
            }
        };
        Ok(Some(Versioned {
            // A caller of no organization is never cached (no version).
            organization: org.map_or(OrganizationId(Uuid::nil()), |o| o.id),
            version,
            facts: SessionFacts {
                session,
                caller: CallerFacts {
                    actor: Actor::User(user),
                    is_instance_admin: instance_admin,
                    organization: org.map(|o| o.facts()),
                    workspace,
                    ip: None,
                    mfa_pending: org.is_some_and(|o| {
                        // The provider's word counts only in the organization whose provider
                        // gave it: the session's active organization, set at its creation.
                        let provider_mfa = provider_mfa && active_org == Some(o.id.0);
                        flowspace_core::rules::mfa::enrollment_pending(
                            o.mfa_required,
                            has_mfa || provider_mfa,
                        )
                    }),
                },
            },
        }))
    }

    /// The organizations `user` is an active member of, oldest membership first, each with
    /// its authorization version (read first: see `load_session_facts`).
    async fn active_orgs_of(&self, user: UserId) -> DomainResult<Vec<OrgMembership>> {
        let rows: Vec<(Uuid, String, String, bool, Option<i64>)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT m.organization_id, m.role, o.status, o.mfa_required, v.version
                 FROM org_members m JOIN organizations o ON o.id = m.organization_id
                 LEFT JOIN auth_versions v ON v.organization_id = m.organization_id
                 WHERE m.user_id = $1 AND m.status = 'active'
                 ORDER BY m.created_at, m.organization_id")
                .bind(user.0).fetch_all(pool).await.map_err(db_err)?
        });
        rows.into_iter()
            .map(|(id, role, status, mfa_required, version)| {
                Ok(OrgMembership {
                    id: OrganizationId(id),
                    role: OrgRole::parse(&role)
                        .ok_or_else(|| DomainError::Internal(format!("org role {role}")))?,
                    suspended: status != OrgStatus::Active.as_str(),
                    mfa_required,
                    version,
                })
            })
            .collect()
    }

    /// The organization of workspace `ws`, if it exists.
    async fn workspace_org(&self, ws: WorkspaceId) -> DomainResult<Option<OrganizationId>> {
        let row: Option<(Uuid,)> = with_db!(self, pool => {
            sqlx::query_as("SELECT organization_id FROM workspaces WHERE id = $1")
                .bind(ws.0).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.map(|(o,)| OrganizationId(o)))
    }

    /// The role of `user` in `org` if they are an active member there.
    async fn active_role(
        &self,
        user: UserId,
        org: OrganizationId,
    ) -> DomainResult<Option<OrgRole>> {
        let row: Option<(String,)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT m.role FROM org_members m JOIN users u ON u.id = m.user_id
                 WHERE m.user_id = $1 AND m.organization_id = $2 AND m.status = 'active' AND u.status = 'active'")
                .bind(user.0).bind(org.0).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.and_then(|(r,)| OrgRole::parse(&r)))
    }

    /// What `user` may do in `ws` now, read fresh: `None` unless the user is an active member
    /// of the workspace's organization and may act there (used to check that whoever issued an
    /// invitation still may).
    #[tracing::instrument(skip_all)]
    pub async fn user_standing(
        &self,
        user: UserId,
        ws: WorkspaceId,
    ) -> DomainResult<Option<WorkspaceFacts>> {
        let Some(org) = self.workspace_org(ws).await? else {
            return Ok(None);
        };
        match self.active_role(user, org).await? {
            None => Ok(None),
            Some(role) => self.standing(org, user, role.is_admin(), ws).await,
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

    /// Another workspace of `org` the user belongs to, directly or through a group: Default
    /// first, then the oldest membership; for an owner or admin (who belongs to none by
    /// membership alone) the organization's Default workspace.
    async fn fallback_workspace(
        &self,
        user: UserId,
        org: OrganizationId,
    ) -> DomainResult<Option<WorkspaceId>> {
        let row: Option<(Uuid,)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT x.workspace_id FROM (
                     SELECT m.workspace_id, m.created_at FROM memberships m WHERE m.user_id = $1
                     UNION ALL
                     SELECT wg.workspace_id, wg.created_at FROM workspace_groups wg
                     JOIN group_members gm ON gm.group_id = wg.group_id WHERE gm.user_id = $1
                     UNION ALL
                     SELECT w.id, w.created_at FROM workspaces w JOIN org_members om
                       ON om.organization_id = w.organization_id AND om.user_id = $1
                     WHERE w.is_default AND om.role IN ('owner', 'admin')
                 ) x JOIN workspaces w ON w.id = x.workspace_id
                 WHERE w.organization_id = $2
                 ORDER BY w.is_default DESC, x.created_at, w.id LIMIT 1")
                .bind(user.0).bind(org.0).fetch_optional(pool).await.map_err(db_err)?
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
        // id, workspace, organization, permissions, expiry, last use, creator, the creator's
        // role and status in the organization (none: not a member), the organization's
        // status, the authorization version
        type Row = (
            Uuid,
            Uuid,
            Uuid,
            String,
            Option<Ts>,
            Option<Ts>,
            Uuid,
            Option<String>,
            Option<String>,
            String,
            Option<i64>,
        );
        let row: Option<Row> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT k.id, k.workspace_id, k.organization_id, k.permissions, k.expires_at, k.last_used_at,
                        k.created_by, m.role, m.status, o.status, v.version
                 FROM api_keys k JOIN users u ON u.id = k.created_by AND u.status = 'active'
                 JOIN organizations o ON o.id = k.organization_id
                 LEFT JOIN org_members m ON m.organization_id = k.organization_id AND m.user_id = k.created_by
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
            role,
            member_status,
            org_status,
            version,
        )) = row
        else {
            return Ok(None);
        };
        let role = match (
            role.as_deref().and_then(OrgRole::parse),
            member_status.as_deref(),
        ) {
            (Some(role), Some("active")) => role,
            _ => return Ok(None),
        };
        let (ws, org, creator) = (WorkspaceId(ws), OrganizationId(org), UserId(creator));
        let creator_standing = self.standing(org, creator, role.is_admin(), ws).await?;
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
                    actor: Actor::ApiKey {
                        key: ItemId(id),
                        creator,
                    },
                    is_instance_admin: false,
                    // A suspended organization's keys are refused by `authz` (rule 18).
                    organization: Some(OrgFacts {
                        id: org,
                        role,
                        suspended: org_status != OrgStatus::Active.as_str(),
                    }),
                    workspace: Some(standing),
                    ip: None,
                    // Keys are programs: the policy is on people's sign-ins.
                    mfa_pending: false,
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
