//! An installation brought over from another product (`flowspace import-flowise`, SPEC §10):
//! its organization, users, roles, workspaces, memberships, items, credentials, API keys and
//! shares, written in one transaction, each row's source id remembered in `import_sources` so
//! that a second run can tell what is already here. The caller plans everything (new ids,
//! references rewritten, secrets sealed) before this writes anything.

use crate::audit::{AuditContext, AuditEvent, insert_audit};
use crate::credentials::CredentialSecret;
use crate::organizations::insert_organization;
use crate::types::{Ts, keys_to_text, perms_to_text};
use crate::users::name_key;
use crate::{Store, db_err, unique_or, with_db};
use flowspace_core::authz::Actor;
use flowspace_core::ids::{ItemId, OrganizationId, RoleId, UserId, WorkspaceId};
use flowspace_core::permissions::{BuiltinRole, PermissionSet};
use flowspace_core::resource::ResourceKind;
use flowspace_core::rules;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use std::collections::HashMap;
use uuid::Uuid;

/// Where an import writes.
#[derive(Clone, Debug)]
pub enum ImportTarget {
    /// A fresh installation: the import is its setup (the organization's owner becomes the
    /// instance admin).
    Setup { name: String },
    /// A new organization beside the existing ones.
    NewOrganization { name: String },
    /// An organization that exists and holds nothing yet (the one of a fresh setup).
    Existing,
}

/// A row of the source, by its table and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceRef {
    pub table: &'static str,
    pub id: String,
}

pub struct ImportedUser {
    pub id: UserId,
    pub source: SourceRef,
    /// An account that already exists here (merged): only its memberships are written.
    pub existing: bool,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    /// `active` or `invited`.
    pub status: &'static str,
    /// `owner`, `admin` or `member`.
    pub org_role: &'static str,
    /// `active`, `invited` or `disabled`.
    pub org_status: &'static str,
    pub last_workspace: Option<WorkspaceId>,
}

pub struct ImportedRole {
    pub id: RoleId,
    pub source: SourceRef,
    pub name: String,
    pub description: Option<String>,
    pub permissions: PermissionSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleChoice {
    Builtin(BuiltinRole),
    Custom(RoleId),
}

pub struct ImportedWorkspace {
    pub id: WorkspaceId,
    pub source: SourceRef,
    pub name: String,
    pub description: Option<String>,
    /// The target's Default workspace, renamed to this one's name.
    pub is_default: bool,
}

pub struct ImportedMembership {
    pub workspace: WorkspaceId,
    pub user: UserId,
    pub role: RoleChoice,
}

pub struct ImportedItem {
    pub workspace: WorkspaceId,
    pub kind: ResourceKind,
    pub id: ItemId,
    pub source: SourceRef,
    pub name: String,
    pub description: Option<String>,
    pub data: String,
    pub created_at: Option<Timestamp>,
}

pub struct ImportedCredential {
    pub workspace: WorkspaceId,
    pub id: ItemId,
    pub source: SourceRef,
    pub name: String,
    pub credential_name: String,
    pub secret: CredentialSecret,
    pub created_at: Option<Timestamp>,
}

pub struct ImportedApiKey {
    pub workspace: WorkspaceId,
    pub id: ItemId,
    pub source: SourceRef,
    pub name: String,
    pub prefix: String,
    pub hash: Vec<u8>,
    pub permissions: PermissionSet,
    pub created_at: Option<Timestamp>,
}

/// Everything one import writes.
pub struct InstallationImport {
    /// The source product (`flowise`).
    pub source: &'static str,
    pub target: ImportTarget,
    /// The organization written into: new for `Setup` and `NewOrganization`.
    pub organization: OrganizationId,
    /// Its Default workspace (new for `Setup` and `NewOrganization`).
    pub default_workspace: WorkspaceId,
    pub organization_source: SourceRef,
    /// Who the import is attributed to (the source organization's owner).
    pub actor: UserId,
    pub users: Vec<ImportedUser>,
    pub roles: Vec<ImportedRole>,
    pub workspaces: Vec<ImportedWorkspace>,
    pub memberships: Vec<ImportedMembership>,
    pub items: Vec<ImportedItem>,
    pub credentials: Vec<ImportedCredential>,
    pub api_keys: Vec<ImportedApiKey>,
    /// Credentials shared with other workspaces.
    pub shares: Vec<(ItemId, WorkspaceId)>,
    /// The audit event's summary.
    pub summary: serde_json::Value,
}

/// An organization an import may write into without `--organization`.
#[derive(Clone, Copy, Debug)]
pub struct ExistingOrganization {
    pub organization: OrganizationId,
    pub default_workspace: WorkspaceId,
    pub owner: Option<UserId>,
    /// Nothing in it yet: no items, credentials or API keys, one workspace, one member.
    pub empty: bool,
}

/// A row an earlier import brought in.
#[derive(Clone, Debug)]
pub struct RememberedSource {
    pub organization: OrganizationId,
    pub target: Uuid,
}

impl Store {
    /// Every source row of `source` already imported, by table and id.
    pub async fn imported_sources(
        &self,
        source: &str,
    ) -> DomainResult<HashMap<(String, String), RememberedSource>> {
        let rows: Vec<(String, String, Uuid, Uuid)> = with_db!(self, pool => {
            sqlx::query_as("SELECT source_table, source_id, organization_id, target_id FROM import_sources WHERE source = $1")
                .bind(source).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(|(t, id, org, target)| {
                (
                    (t, id),
                    RememberedSource {
                        organization: OrganizationId(org),
                        target,
                    },
                )
            })
            .collect())
    }

    /// The accounts whose email (normalized) is among `emails`: email key and id.
    pub async fn users_by_email(&self, emails: &[String]) -> DomainResult<Vec<(String, UserId)>> {
        let mut out = Vec::new();
        for email in emails {
            let key = rules::normalize_email(email);
            let id: Option<Uuid> = with_db!(self, pool => {
                sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
                    .bind(&key).fetch_optional(pool).await.map_err(db_err)?
            });
            if let Some(id) = id {
                out.push((key, UserId(id)));
            }
        }
        Ok(out)
    }

    /// The organization of the installation's setup, if setup is done.
    pub async fn setup_organization(&self) -> DomainResult<Option<ExistingOrganization>> {
        with_db!(self, pool => {
            let org: Option<Uuid> = sqlx::query_scalar("SELECT organization_id FROM setup_state")
                .fetch_optional(pool).await.map_err(db_err)?;
            let Some(org) = org else { return Ok(None) };
            let ws: Uuid = sqlx::query_scalar("SELECT id FROM workspaces WHERE organization_id = $1 AND is_default = TRUE")
                .bind(org).fetch_one(pool).await.map_err(db_err)?;
            let owner: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM org_members WHERE organization_id = $1 AND role = 'owner'")
                .bind(org).fetch_optional(pool).await.map_err(db_err)?;
            let things: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM items WHERE organization_id = $1)
                      + (SELECT COUNT(*) FROM credentials WHERE organization_id = $1)
                      + (SELECT COUNT(*) FROM api_keys WHERE organization_id = $1)
                      + (SELECT COUNT(*) FROM workspaces WHERE organization_id = $1)
                      + (SELECT COUNT(*) FROM org_members WHERE organization_id = $1)")
                .bind(org).fetch_one(pool).await.map_err(db_err)?;
            Ok(Some(ExistingOrganization {
                organization: OrganizationId(org),
                default_workspace: WorkspaceId(ws),
                owner: owner.map(UserId),
                empty: things == 2,
            }))
        })
    }

    /// Writes the whole import in one transaction: all of it or nothing.
    #[tracing::instrument(skip_all, fields(source = plan.source, users = plan.users.len(), items = plan.items.len()))]
    pub async fn import_installation(&self, plan: &InstallationImport) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        let org = plan.organization;
        let actor = plan.actor;
        let at = |t: Option<Timestamp>| t.map(Ts).unwrap_or(now);
        let ctx = AuditContext {
            organization: org,
            actor: Actor::User(actor),
            ip: None,
        };
        let ev = AuditEvent {
            workspace: Some(plan.default_workspace),
            action: "organization.import",
            target_kind: "organization",
            target_id: Some(org.0),
            summary: plan.summary.clone(),
        };
        let already =
            || DomainError::conflict("already_imported", "this source was imported meanwhile");
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, so that SQLite takes its write lock at once.
            match &plan.target {
                ImportTarget::Setup { name } | ImportTarget::NewOrganization { name } => {
                    insert_organization(&mut tx, org, plan.default_workspace, name, actor, now).await?;
                }
                ImportTarget::Existing => {
                    sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                        .bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
                }
            }
            if let ImportTarget::Setup { .. } = plan.target {
                let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM setup_state")
                    .fetch_one(&mut *tx).await.map_err(db_err)?;
                rules::check_first_setup(done > 0)?;
                sqlx::query("INSERT INTO setup_state (singleton, organization_id, completed_at) VALUES (1, $1, $2)")
                    .bind(org.0).bind(now).execute(&mut *tx).await.map_err(db_err)?;
            }
            let remember = |source: &SourceRef, target: Uuid| {
                sqlx::query("INSERT INTO import_sources (source, source_table, source_id, organization_id, target_id, created_at)
                             VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(plan.source).bind(source.table).bind(source.id.clone()).bind(org.0).bind(target).bind(now)
            };
            remember(&plan.organization_source, org.0).execute(&mut *tx).await.map_err(|e| unique_or(e, already()))?;
            for w in &plan.workspaces {
                let key = w.name.to_lowercase();
                if w.is_default {
                    sqlx::query("UPDATE workspaces SET name = $1, name_key = $2, description = $3, updated_at = $4 WHERE id = $5 AND organization_id = $6")
                        .bind(&w.name).bind(&key).bind(&w.description).bind(now).bind(w.id.0).bind(org.0)
                        .execute(&mut *tx).await.map_err(db_err)?;
                } else {
                    sqlx::query("INSERT INTO workspaces (id, organization_id, name, name_key, description, is_default, created_by, created_at, updated_at)
                                 VALUES ($1, $2, $3, $4, $5, FALSE, $6, $7, $7)")
                        .bind(w.id.0).bind(org.0).bind(&w.name).bind(&key).bind(&w.description).bind(actor.0).bind(now)
                        .execute(&mut *tx).await
                        .map_err(|e| unique_or(e, DomainError::conflict("import_clash", format!("two workspaces are named `{}`", w.name))))?;
                }
                remember(&w.source, w.id.0).execute(&mut *tx).await.map_err(|e| unique_or(e, already()))?;
            }
            for u in &plan.users {
                if !u.existing {
                    sqlx::query("INSERT INTO users (id, email, email_key, name, name_key, password_hash, status, is_instance_admin, last_workspace_id, created_at, updated_at)
                                 VALUES ($1, $2, $3, $4, $10, $5, $6, $7, $8, $9, $9)")
                        .bind(u.id.0).bind(u.email.trim()).bind(rules::normalize_email(&u.email)).bind(&u.name)
                        .bind(&u.password_hash).bind(u.status)
                        .bind(matches!(plan.target, ImportTarget::Setup { .. }) && u.org_role == "owner")
                        .bind(u.last_workspace.map(|w| w.0)).bind(now).bind(u.name.to_lowercase())
                        .execute(&mut *tx).await
                        .map_err(|e| unique_or(e, DomainError::conflict("import_clash", format!("an account with the email {} exists", u.email))))?;
                }
                sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, last_workspace_id, created_at, updated_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (organization_id, user_id) DO NOTHING")
                    .bind(org.0).bind(u.id.0).bind(u.org_role).bind(u.org_status).bind(u.last_workspace.map(|w| w.0)).bind(now)
                    .execute(&mut *tx).await.map_err(db_err)?;
                remember(&u.source, u.id.0).execute(&mut *tx).await.map_err(|e| unique_or(e, already()))?;
            }
            for r in &plan.roles {
                sqlx::query("INSERT INTO roles (id, organization_id, name, name_key, description, permissions, builtin, created_at, updated_at)
                             VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7)")
                    .bind(r.id.0).bind(org.0).bind(&r.name).bind(r.name.to_lowercase()).bind(&r.description)
                    .bind(perms_to_text(r.permissions)).bind(now)
                    .execute(&mut *tx).await
                    .map_err(|e| unique_or(e, DomainError::conflict("import_clash", format!("a role named `{}` exists in the organization", r.name))))?;
                remember(&r.source, r.id.0).execute(&mut *tx).await.map_err(|e| unique_or(e, already()))?;
            }
            for m in &plan.memberships {
                let role = match m.role {
                    RoleChoice::Custom(id) => id.0,
                    RoleChoice::Builtin(b) => sqlx::query_scalar("SELECT id FROM roles WHERE organization_id = $1 AND builtin = TRUE AND name = $2")
                        .bind(org.0).bind(b.name()).fetch_one(&mut *tx).await.map_err(db_err)?,
                };
                sqlx::query("INSERT INTO memberships (workspace_id, user_id, role_id, created_at) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role_id = excluded.role_id")
                    .bind(m.workspace.0).bind(m.user.0).bind(role).bind(now)
                    .execute(&mut *tx).await.map_err(db_err)?;
            }
            for i in &plan.items {
                sqlx::query("INSERT INTO items (id, organization_id, workspace_id, kind, name, description, data, version, created_by, created_at, updated_by, updated_at, name_key)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $8, $9, $10)")
                    .bind(i.id.0).bind(org.0).bind(i.workspace.0).bind(i.kind.db_name()).bind(&i.name).bind(&i.description)
                    .bind(&i.data).bind(actor.0).bind(at(i.created_at)).bind(name_key(&i.name))
                    .execute(&mut *tx).await.map_err(db_err)?;
                remember(&i.source, i.id.0).execute(&mut *tx).await.map_err(|e| unique_or(e, already()))?;
            }
            for c in &plan.credentials {
                sqlx::query("INSERT INTO credentials (id, organization_id, workspace_id, name, description, credential_name, data_keys,
                                 ciphertext, nonce, key_id, version, created_by, created_at, updated_by, updated_at, name_key)
                             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, 1, $10, $11, $10, $11, $12)")
                    .bind(c.id.0).bind(org.0).bind(c.workspace.0).bind(&c.name).bind(&c.credential_name)
                    .bind(keys_to_text(&c.secret.data_keys)).bind(&c.secret.sealed.ciphertext).bind(&c.secret.sealed.nonce)
                    .bind(&c.secret.sealed.key_id).bind(actor.0).bind(at(c.created_at)).bind(name_key(&c.name))
                    .execute(&mut *tx).await.map_err(db_err)?;
                remember(&c.source, c.id.0).execute(&mut *tx).await.map_err(|e| unique_or(e, already()))?;
            }
            for k in &plan.api_keys {
                sqlx::query("INSERT INTO api_keys (id, organization_id, workspace_id, name, description, prefix, key_hash, permissions, expires_at,
                                 version, created_by, created_at, updated_by, updated_at, name_key)
                             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, NULL, 1, $8, $9, $8, $9, $10)")
                    .bind(k.id.0).bind(org.0).bind(k.workspace.0).bind(&k.name).bind(&k.prefix).bind(k.hash.as_slice())
                    .bind(perms_to_text(k.permissions)).bind(actor.0).bind(at(k.created_at)).bind(name_key(&k.name))
                    .execute(&mut *tx).await
                    .map_err(|e| unique_or(e, DomainError::conflict("import_clash", format!("the API key `{}` is already in use here", k.name))))?;
                remember(&k.source, k.id.0).execute(&mut *tx).await.map_err(|e| unique_or(e, already()))?;
            }
            for (credential, workspace) in &plan.shares {
                sqlx::query("INSERT INTO credential_shares (credential_id, workspace_id, created_at) VALUES ($1, $2, $3)
                             ON CONFLICT (credential_id, workspace_id) DO NOTHING")
                    .bind(credential.0).bind(workspace.0).bind(now)
                    .execute(&mut *tx).await.map_err(db_err)?;
            }
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(())
        })
    }
}
