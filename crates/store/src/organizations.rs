//! Organizations (SPEC §7): their rows and settings (rule 19), their members as a list, the
//! caller's organizations, and what the instance admin does to organizations as a whole
//! (rule 18). Members' roles and statuses are changed in `users.rs`, with the users.

use crate::audit::{AuditContext, AuditEvent, changes, insert_audit};
use crate::invitations::Invitation;
use crate::types::{Ts, perms_to_text};
use crate::users::name_key;
use crate::{Backend, Store, db_err, with_db};
use flowspace_core::authz::{Actor, AdminScope, InstanceScope, OrgScope, WorkspaceScope};
use flowspace_core::cursor::Search;
use flowspace_core::ids::{OrganizationId, RoleId, UserId, WorkspaceId};
use flowspace_core::model::{
    MyOrganization, OrgMember, OrgRole, OrgSettings, OrgStatus, Organization, OrganizationSummary,
    UserStatus,
};
use flowspace_core::permissions::BuiltinRole;
use flowspace_core::rules::normalize_email;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde_json::json;
use uuid::Uuid;

const ORG_SELECT: &str = "SELECT o.id, o.name, o.status, o.allowed_domains, o.min_password_length,
        o.session_lifetime_minutes, o.sso_required, o.mfa_required, o.created_at,
        COALESCE(o.updated_at, o.created_at) AS updated_at
    FROM organizations o";

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: Uuid,
    name: String,
    status: String,
    allowed_domains: String,
    min_password_length: i32,
    session_lifetime_minutes: Option<i32>,
    sso_required: bool,
    mfa_required: bool,
    created_at: Ts,
    updated_at: Ts,
}

impl OrgRow {
    fn into_org(self) -> DomainResult<Organization> {
        Ok(Organization {
            id: OrganizationId(self.id),
            name: self.name,
            status: org_status(&self.status)?,
            settings: OrgSettings {
                allowed_email_domains: serde_json::from_str(&self.allowed_domains)
                    .map_err(DomainError::internal)?,
                min_password_length: self.min_password_length.max(0) as u32,
                session_lifetime_minutes: self.session_lifetime_minutes.map(|m| m.max(0) as u32),
                sso_required: self.sso_required,
                mfa_required: self.mfa_required,
            },
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

fn org_status(s: &str) -> DomainResult<OrgStatus> {
    OrgStatus::parse(s).ok_or_else(|| DomainError::Internal(format!("organization status {s}")))
}

fn org_role(s: &str) -> DomainResult<OrgRole> {
    OrgRole::parse(s).ok_or_else(|| DomainError::Internal(format!("org role {s}")))
}

/// A change of an organization's name and settings (`PATCH /organization`); `None` leaves a
/// field as it is. Values are validated by `rules` before they get here.
#[derive(Clone, Debug, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub allowed_email_domains: Option<Vec<String>>,
    pub min_password_length: Option<u32>,
    /// `Some(None)`: back to the installation's default.
    pub session_lifetime_minutes: Option<Option<u32>>,
    pub sso_required: Option<bool>,
    pub mfa_required: Option<bool>,
}

/// Who becomes the first owner of a new organization.
pub enum FirstOwner {
    /// An existing account, added as owner at once.
    Existing(UserId),
    /// A new email: an invited account (or an existing one the answer must not reveal) and an
    /// invitation into the Default workspace, whose token hash this is.
    Invite {
        email: String,
        token_hash: Vec<u8>,
        expires_at: Timestamp,
    },
}

/// What creating an organization made.
pub struct CreatedOrganization {
    pub organization: Organization,
    pub workspace: WorkspaceId,
    /// The invitation sent to the first owner, if one was.
    pub invitation: Option<Invitation>,
}

/// Inserts a new organization named `name` with its built-in roles and its Default
/// workspace `ws`, in `tx`: what setup and `create_organization` share. Answers the built-in
/// Admin role.
pub(crate) async fn insert_organization<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    org: OrganizationId,
    ws: WorkspaceId,
    name: &str,
    creator: UserId,
    now: Ts,
) -> DomainResult<RoleId>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Ts: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO organizations (id, name, created_at, updated_at, name_key) VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(org.0)
    .bind(name)
    .bind(now)
    .bind(name_key(name))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO workspaces (id, organization_id, name, name_key, description, is_default, created_by, created_at, updated_at)
         VALUES ($1, $2, 'Default', 'default', 'The default workspace', TRUE, $3, $4, $4)",
    )
    .bind(ws.0)
    .bind(org.0)
    .bind(creator.0)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    let mut admin_role = RoleId::new();
    for role in BuiltinRole::ALL {
        let id = RoleId::new();
        if role == BuiltinRole::Admin {
            admin_role = id;
        }
        sqlx::query(
            "INSERT INTO roles (id, organization_id, name, name_key, description, permissions, builtin, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7)",
        )
        .bind(id.0)
        .bind(org.0)
        .bind(role.name())
        .bind(role.name().to_lowercase())
        .bind(role.description())
        .bind(perms_to_text(role.permissions()))
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(admin_role)
}

impl Store {
    /// Every organization `user` has joined (active or disabled there; not one that has only
    /// invited them, which learns nothing of the account: rule 17), by id (the order in which
    /// an account's own event locks their trails).
    pub async fn organizations_of(&self, user: UserId) -> DomainResult<Vec<OrganizationId>> {
        let rows: Vec<(Uuid,)> = with_db!(self, pool => {
            sqlx::query_as("SELECT organization_id FROM org_members WHERE user_id = $1 AND status <> 'invited' ORDER BY organization_id")
                .bind(user.0).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows.into_iter().map(|(o,)| OrganizationId(o)).collect())
    }

    /// The organizations `user` is an active member of whose name contains the search, by name
    /// (`me`, `GET /organizations`).
    pub async fn my_organizations(
        &self,
        user: UserId,
        search: &Search,
    ) -> DomainResult<Vec<MyOrganization>> {
        let rows: Vec<(Uuid, String, String, String)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT o.id, o.name, m.role, o.status FROM org_members m JOIN organizations o ON o.id = m.organization_id
                 WHERE m.user_id = $1 AND m.status = 'active'
                   AND ($2 IS NULL OR o.name_key LIKE $2 ESCAPE '\\')
                 ORDER BY o.name, o.id")
                .bind(user.0).bind(search.like_pattern()).fetch_all(pool).await.map_err(db_err)?
        });
        rows.into_iter()
            .map(|(id, name, role, status)| {
                Ok(MyOrganization {
                    id: OrganizationId(id),
                    name,
                    role: org_role(&role)?,
                    status: org_status(&status)?,
                })
            })
            .collect()
    }

    /// The scope's organization with its settings.
    pub async fn organization(&self, scope: &OrgScope) -> DomainResult<Organization> {
        self.organization_by_id(scope.organization()).await
    }

    /// The organization of the scope's workspace (its name for an email).
    pub async fn organization_of(&self, scope: &WorkspaceScope) -> DomainResult<Organization> {
        self.organization_by_id(scope.organization()).await
    }

    async fn organization_by_id(&self, id: OrganizationId) -> DomainResult<Organization> {
        let sql = format!("{ORG_SELECT} WHERE o.id = $1");
        let row: Option<OrgRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).fetch_optional(pool).await.map_err(db_err)?
        });
        row.ok_or(DomainError::NotFound("organization"))?.into_org()
    }

    /// The settings of the organization `org` without a scope: what signing in, signing up
    /// and resetting a password apply (rule 19) before anyone is authorized.
    pub async fn organization_settings(&self, org: OrganizationId) -> DomainResult<OrgSettings> {
        Ok(self.organization_by_id(org).await?.settings)
    }

    /// The strictest minimum password length of the organizations `user` is an active member
    /// of (rule 19): a password must satisfy every one of them (an organization that only
    /// invited them sets nothing for the account).
    pub async fn min_password_length_of(&self, user: UserId) -> DomainResult<u32> {
        let n: Option<i64> = with_db!(self, pool => {
            sqlx::query_scalar(
                "SELECT CAST(MAX(o.min_password_length) AS BIGINT) FROM org_members m JOIN organizations o ON o.id = m.organization_id
                 WHERE m.user_id = $1 AND m.status = 'active'")
                .bind(user.0).fetch_one(pool).await.map_err(db_err)?
        });
        Ok(n.unwrap_or(flowspace_core::password::MIN_LENGTH as i64)
            .max(0) as u32)
    }

    /// Changes the organization's name and settings, audited with before and after (rule 19).
    pub async fn update_organization(
        &self,
        scope: &AdminScope,
        patch: OrgPatch,
    ) -> DomainResult<Organization> {
        let before = self.organization(scope.org()).await?;
        let mut after = before.clone();
        if let Some(n) = &patch.name {
            after.name = n.clone();
        }
        let s = &mut after.settings;
        if let Some(d) = &patch.allowed_email_domains {
            s.allowed_email_domains = d.clone();
        }
        if let Some(n) = patch.min_password_length {
            s.min_password_length = n;
        }
        if let Some(n) = patch.session_lifetime_minutes {
            s.session_lifetime_minutes = n;
        }
        if let Some(b) = patch.sso_required {
            s.sso_required = b;
        }
        if let Some(b) = patch.mfa_required {
            s.mfa_required = b;
        }
        let (b, a) = (&before.settings, &after.settings);
        let summary = changes(&[
            ("name", json!(before.name), json!(after.name)),
            (
                "allowedEmailDomains",
                json!(b.allowed_email_domains),
                json!(a.allowed_email_domains),
            ),
            (
                "minPasswordLength",
                json!(b.min_password_length),
                json!(a.min_password_length),
            ),
            (
                "sessionLifetimeMinutes",
                json!(b.session_lifetime_minutes),
                json!(a.session_lifetime_minutes),
            ),
            ("ssoRequired", json!(b.sso_required), json!(a.sso_required)),
            ("mfaRequired", json!(b.mfa_required), json!(a.mfa_required)),
        ]);
        if summary.is_empty() {
            return Ok(before);
        }
        let now = Ts(Timestamp::now());
        let ev = AuditEvent {
            workspace: None,
            action: "organization.update",
            target_kind: "organization",
            target_id: Some(scope.organization().0),
            summary: summary.into(),
        };
        let domains =
            serde_json::to_string(&a.allowed_email_domains).map_err(DomainError::internal)?;
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query(
                "UPDATE organizations SET name = $1, allowed_domains = $2, min_password_length = $3,
                     session_lifetime_minutes = $4, sso_required = $5, mfa_required = $6, updated_at = $7,
                     name_key = $9
                 WHERE id = $8")
                .bind(&after.name).bind(&domains).bind(a.min_password_length as i32)
                .bind(a.session_lifetime_minutes.map(|m| m as i32)).bind(a.sso_required).bind(a.mfa_required)
                .bind(now).bind(scope.organization().0).bind(name_key(&after.name))
                .execute(&mut *tx).await.map_err(db_err)?;
            insert_audit(&mut tx, &AuditContext::from_admin(scope), &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.organization(scope.org()).await
    }

    /// The members of the scope's organization whose name or email contains the search, owners
    /// first, then by email.
    pub async fn list_members(
        &self,
        scope: &AdminScope,
        search: &Search,
    ) -> DomainResult<Vec<OrgMember>> {
        /// Id, email, name, role, membership status, account status, added, break-glass.
        type Row = (Uuid, String, String, String, String, String, Ts, bool);
        let rows: Vec<Row> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT u.id, u.email, CASE WHEN m.status = 'invited' THEN u.email ELSE u.name END,
                        m.role, m.status, u.status, m.created_at, m.break_glass
                 FROM org_members m JOIN users u ON u.id = m.user_id
                 WHERE m.organization_id = $1
                   AND ($2 IS NULL OR u.email_key LIKE $2 ESCAPE '\\'
                        OR (m.status <> 'invited' AND u.name_key LIKE $2 ESCAPE '\\'))
                 ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.email_key, u.id")
                .bind(scope.organization().0).bind(search.like_pattern()).fetch_all(pool).await.map_err(db_err)?
        });
        rows.into_iter()
            .map(
                |(id, email, name, role, status, _account, added, break_glass)| {
                    Ok(OrgMember {
                        user_id: UserId(id),
                        email,
                        name,
                        role: org_role(&role)?,
                        status: UserStatus::parse(&status).unwrap_or(UserStatus::Disabled),
                        added_at: added.0,
                        break_glass,
                    })
                },
            )
            .collect()
    }

    /// Every organization of the installation whose name contains the search, for the
    /// instance admin: names, status and member counts only, nothing inside.
    pub async fn list_all_organizations(
        &self,
        scope: &InstanceScope,
        search: &Search,
    ) -> DomainResult<Vec<OrganizationSummary>> {
        let rows: Vec<(Uuid, String, String, i64, Option<String>)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT o.id, o.name, o.status,
                        (SELECT COUNT(*) FROM org_members m WHERE m.organization_id = o.id AND m.status <> 'invited'),
                        (SELECT m.role FROM org_members m WHERE m.organization_id = o.id AND m.user_id = $1 AND m.status = 'active')
                 FROM organizations o WHERE ($2 IS NULL OR o.name_key LIKE $2 ESCAPE '\\')
                 ORDER BY o.name, o.id")
                .bind(scope.user_id().0).bind(search.like_pattern()).fetch_all(pool).await.map_err(db_err)?
        });
        rows.into_iter()
            .map(|(id, name, status, members, role)| {
                Ok(OrganizationSummary {
                    id: OrganizationId(id),
                    name,
                    status: org_status(&status)?,
                    role: role.as_deref().map(org_role).transpose()?,
                    member_count: Some(members),
                })
            })
            .collect()
    }

    /// Creates an organization with its Default workspace and built-in roles, and its first
    /// owner (rule 18): an existing account is added as owner at once; an email is invited
    /// into the Default workspace as owner (an account is made for it if it has none, and an
    /// account it already has is invited all the same, telling nothing). `by` is who asked
    /// (the instance admin, or anyone when the installation allows it). Recorded in the new
    /// organization's audit trail.
    pub async fn create_organization(
        &self,
        by: UserId,
        ip: Option<&str>,
        name: &str,
        owner: FirstOwner,
    ) -> DomainResult<CreatedOrganization> {
        let org = OrganizationId::new();
        let now = Ts(Timestamp::now());
        let ctx = AuditContext::account(org, by, ip);
        let invitation = matches!(owner, FirstOwner::Invite { .. }).then(Uuid::now_v7);
        let ws = WorkspaceId::new();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let admin_role = insert_organization(&mut tx, org, ws, name, by, now).await?;
            let owner_email = match &owner {
                FirstOwner::Existing(user) => {
                    sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, last_workspace_id, created_at, updated_at)
                                 VALUES ($1, $2, 'owner', 'active', $3, $4, $4)")
                        .bind(org.0).bind(user.0).bind(ws.0).bind(now)
                        .execute(&mut *tx).await.map_err(db_err)?;
                    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                        .bind(user.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
                    email.ok_or(DomainError::NotFound("user"))?
                }
                FirstOwner::Invite { email, token_hash, expires_at } => {
                    let key = normalize_email(email);
                    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
                        .bind(&key).fetch_optional(&mut *tx).await.map_err(db_err)?;
                    let user = match existing {
                        Some(id) => id,
                        None => {
                            let id = Uuid::now_v7();
                            sqlx::query("INSERT INTO users (id, email, email_key, name, name_key, password_hash, status, created_at, updated_at)
                                         VALUES ($1, $2, $3, $2, $5, NULL, 'invited', $4, $4)")
                                .bind(id).bind(email.trim()).bind(&key).bind(now).bind(email.trim().to_lowercase())
                                .execute(&mut *tx).await.map_err(db_err)?;
                            id
                        }
                    };
                    sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
                                 VALUES ($1, $2, 'owner', 'invited', $3, $3)")
                        .bind(org.0).bind(user).bind(now)
                        .execute(&mut *tx).await.map_err(db_err)?;
                    sqlx::query("INSERT INTO invitations (id, organization_id, workspace_id, user_id, email, role_id, token_hash,
                                     invited_by, created_at, expires_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                        .bind(invitation).bind(org.0).bind(ws.0).bind(user).bind(email.trim()).bind(admin_role.0)
                        .bind(token_hash.as_slice()).bind(by.0).bind(now).bind(Ts(*expires_at))
                        .execute(&mut *tx).await.map_err(db_err)?;
                    email.trim().to_string()
                }
            };
            let ev = AuditEvent {
                workspace: Some(ws),
                action: "organization.create",
                target_kind: "organization",
                target_id: Some(org.0),
                summary: json!({"organization": name, "ownerEmail": owner_email,
                                "ownerInvited": invitation.is_some()}),
            };
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        let invitation = match invitation {
            Some(id) => Some(self.invitation_in(org, id).await?),
            None => None,
        };
        Ok(CreatedOrganization {
            organization: self.organization_by_id(org).await?,
            workspace: ws,
            invitation,
        })
    }

    /// Suspends or reactivates an organization (rule 18), recorded in its audit trail.
    pub async fn set_organization_status(
        &self,
        scope: &InstanceScope,
        id: OrganizationId,
        status: OrgStatus,
    ) -> DomainResult<Organization> {
        let now = Ts(Timestamp::now());
        let ctx = AuditContext {
            organization: id,
            actor: Actor::User(scope.user_id()),
            ip: scope.ip().map(str::to_string),
        };
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let before: Option<String> = sqlx::query_scalar(
                "UPDATE organizations SET updated_at = $1 WHERE id = $2 RETURNING status")
                .bind(now).bind(id.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let before = org_status(&before.ok_or(DomainError::NotFound("organization"))?)?;
            if before != status {
                sqlx::query("UPDATE organizations SET status = $1 WHERE id = $2")
                    .bind(status.as_str()).bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
                let ev = AuditEvent {
                    workspace: None,
                    action: if status == OrgStatus::Suspended { "organization.suspend" } else { "organization.reactivate" },
                    target_kind: "organization",
                    target_id: Some(id.0),
                    summary: changes(&[("status", json!(before.as_str()), json!(status.as_str()))]).into(),
                };
                insert_audit(&mut tx, &ctx, &ev).await?;
            }
            tx.commit().await.map_err(db_err)?;
        });
        self.organization_by_id(id).await
    }

    /// Deletes an organization and everything in it, in one transaction (rule 18): its
    /// workspaces and items, roles, groups, invitations, API keys, login activity and audit
    /// trail; its members' accounts stay (their sessions fall back to another organization or
    /// to none), except accounts that never signed up and belong nowhere else. The
    /// installation keeps at least one organization (409 `last_organization`).
    pub async fn delete_organization(
        &self,
        _scope: &InstanceScope,
        id: OrganizationId,
    ) -> DomainResult<()> {
        // PostgreSQL, in the lock order of docs/architecture.md ("Lock order on PostgreSQL"):
        // the members' rows (by id), then the organization's, for the deletion at once, so
        // that nobody takes even a share of it (a foreign key) while holding a session, a
        // membership or an account the deletion will change; then the rest. SQLite: the first
        // statement is a write, which takes the database's one write lock.
        let (lock_members, lock_org) = match self.backend() {
            Backend::Postgres => (
                Some(
                    "SELECT u.id FROM users u
                      WHERE u.id IN (SELECT user_id FROM org_members WHERE organization_id = $1)
                      ORDER BY u.id FOR NO KEY UPDATE",
                ),
                "SELECT id FROM organizations WHERE id = $1 FOR UPDATE",
            ),
            Backend::Sqlite => (
                None,
                "UPDATE organizations SET updated_at = updated_at WHERE id = $1 RETURNING id",
            ),
        };
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            if let Some(sql) = lock_members {
                let _: Vec<Uuid> = sqlx::query_scalar(sql)
                    .bind(id.0).fetch_all(&mut *tx).await.map_err(db_err)?;
            }
            let found: Option<Uuid> = sqlx::query_scalar(lock_org)
                .bind(id.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
            if found.is_none() {
                return Err(DomainError::NotFound("organization"));
            }
            // Setup's row names an organization: another one takes its place.
            let other: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM organizations WHERE id <> $1 ORDER BY created_at, id LIMIT 1")
                .bind(id.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let Some(other) = other else {
                return Err(DomainError::conflict(
                    "last_organization",
                    "the installation keeps at least one organization",
                ));
            };
            sqlx::query("UPDATE setup_state SET organization_id = $1 WHERE organization_id = $2")
                .bind(other).bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("DELETE FROM users WHERE status = 'invited'
                           AND id IN (SELECT user_id FROM org_members WHERE organization_id = $1)
                           AND NOT EXISTS (SELECT 1 FROM org_members m WHERE m.user_id = users.id AND m.organization_id <> $1)")
                .bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
            // The roles held in its workspaces restrict the deletion of its roles: they go
            // first, so that the cascade below does not meet them.
            for sql in [
                "DELETE FROM memberships WHERE workspace_id IN (SELECT id FROM workspaces WHERE organization_id = $1)",
                "DELETE FROM workspace_groups WHERE workspace_id IN (SELECT id FROM workspaces WHERE organization_id = $1)",
            ] {
                sqlx::query(sql).bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
            }
            sqlx::query("DELETE FROM organizations WHERE id = $1")
                .bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        });
        tracing::info!(organization = %id.0, "organization deleted");
        Ok(())
    }
}

impl Store {
    /// The session lifetime (rule 19) of the organization a sign-in of `user` lands in: the
    /// organization of `workspace` (the one the sign-in lands in) or of the user's last
    /// workspace, else their oldest active membership, as `session_facts` picks it. `None`:
    /// the installation's default.
    pub async fn session_lifetime_at_sign_in(
        &self,
        user: UserId,
        workspace: Option<WorkspaceId>,
    ) -> DomainResult<Option<u32>> {
        let row: Option<(Option<i32>,)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT o.session_lifetime_minutes
                 FROM org_members m JOIN organizations o ON o.id = m.organization_id
                 JOIN users u ON u.id = m.user_id
                 LEFT JOIN workspaces w ON w.id = COALESCE($2, u.last_workspace_id)
                 WHERE m.user_id = $1 AND m.status = 'active'
                 ORDER BY CASE WHEN m.organization_id = w.organization_id THEN 0 ELSE 1 END,
                          m.created_at, m.organization_id
                 LIMIT 1")
                .bind(user.0).bind(workspace.map(|w| w.0)).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.and_then(|(m,)| m).map(|m| m.max(0) as u32))
    }

    /// The session lifetime (rule 19) of the session whose refresh token hashes to
    /// `presented`: its active organization's (or its active workspace's, else the user's
    /// oldest active membership's). `None`: the installation's default.
    pub async fn session_lifetime_of_refresh(&self, presented: &[u8]) -> DomainResult<Option<u32>> {
        let row: Option<(Option<i32>,)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT o.session_lifetime_minutes
                 FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
                 JOIN org_members m ON m.user_id = s.user_id AND m.status = 'active'
                 JOIN organizations o ON o.id = m.organization_id
                 LEFT JOIN workspaces w ON w.id = s.active_workspace_id
                 WHERE rt.token_hash = $1
                 ORDER BY CASE WHEN m.organization_id = s.active_organization_id THEN 0
                               WHEN m.organization_id = w.organization_id THEN 1 ELSE 2 END,
                          m.created_at, m.organization_id
                 LIMIT 1")
                .bind(presented).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.and_then(|(m,)| m).map(|m| m.max(0) as u32))
    }
}
