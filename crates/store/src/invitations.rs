//! Invitations (rule 9): issuing, listing, resending and revoking them. Following one is
//! `registration.rs`; what inviting an email does is decided by `flowspace_core::invite`.
//!
//! Tokens arrive here already hashed (HMAC under TOKEN_HASH_SECRET): the database never holds
//! a usable token.

use crate::audit::{AuditContext, AuditEvent, insert_audit};
use crate::types::Ts;
use crate::{Store, db_err, unique_or, with_db};
use flowspace_core::authz::{InOrganization, WorkspaceScope, WorkspacesScope};
use flowspace_core::ids::{OrganizationId, RoleId, UserId, WorkspaceId};
use flowspace_core::invite::{self, ExistingUser, InviteAction};
use flowspace_core::model::{OrgRole, User, UserStatus};
use flowspace_core::rules::{self, normalize_email};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Expired,
    Accepted,
    Revoked,
}

/// An invitation as the API shows it (never its token).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub role_id: RoleId,
    pub role_name: String,
    pub invited_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub status: InvitationStatus,
}

/// What inviting an email did.
#[derive(Clone, Debug)]
pub enum InviteOutcome {
    /// A new (or renewed) invitation for a user who has not signed up yet.
    Invited(Invitation),
    /// The email belongs to an active user of the organization: the membership exists now.
    Added(User),
}

pub use flowspace_core::model::TokenCheck;

const INVITATION_SELECT: &str =
    "SELECT i.id, i.email, i.user_id, i.organization_id, o.name, i.workspace_id, w.name,
        i.role_id, r.name, i.invited_by, i.created_at, i.expires_at, i.accepted_at, i.revoked_at
    FROM invitations i
    JOIN organizations o ON o.id = i.organization_id
    JOIN workspaces w ON w.id = i.workspace_id
    JOIN roles r ON r.id = i.role_id";

/// An invited email's account: id, account status, status and role in the organization (if a
/// member), a direct member of the workspace.
type ExistingRow = (Uuid, String, Option<String>, Option<String>, bool);

type InvitationRow = (
    Uuid,
    String,
    Uuid,
    Uuid,
    String,
    Uuid,
    String,
    Uuid,
    String,
    Option<Uuid>,
    Ts,
    Ts,
    Option<Ts>,
    Option<Ts>,
);

fn invitation(r: InvitationRow, now: Timestamp) -> Invitation {
    let status = if r.13.is_some() {
        InvitationStatus::Revoked
    } else if r.12.is_some() {
        InvitationStatus::Accepted
    } else if r.11.0 <= now {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Pending
    };
    Invitation {
        id: r.0,
        email: r.1,
        user_id: UserId(r.2),
        organization_id: OrganizationId(r.3),
        organization_name: r.4,
        workspace_id: WorkspaceId(r.5),
        workspace_name: r.6,
        role_id: RoleId(r.7),
        role_name: r.8,
        invited_by: r.9.map(UserId),
        created_at: r.10.0,
        expires_at: r.11.0,
        status,
    }
}

fn check(inv: Invitation) -> TokenCheck<Invitation> {
    match inv.status {
        InvitationStatus::Pending => TokenCheck::Valid(inv),
        InvitationStatus::Expired => TokenCheck::Expired,
        _ => TokenCheck::Invalid,
    }
}

impl Store {
    /// Invites `email` into the scope's workspace with `role`, as `invite::invite_action`
    /// decides from the account the email belongs to: an active member of the organization
    /// becomes a member of the workspace at once; anyone else (an account of another
    /// organization included) becomes an invited member of the organization, with an
    /// `invited` account if they had none, and gets a fresh invitation, replacing any pending
    /// one for this workspace. The organization's allowed email domains apply (rule 19).
    #[tracing::instrument(skip_all, fields(workspace = %scope.workspace().0))]
    pub async fn invite(
        &self,
        scope: &WorkspaceScope,
        email: &str,
        role: RoleId,
        token_hash: &[u8],
        expires_at: Timestamp,
        ctx: &AuditContext,
    ) -> DomainResult<InviteOutcome> {
        let key = normalize_email(email);
        let org = scope.organization();
        let ws = scope.workspace();
        let now = Ts(Timestamp::now());
        let invitation_id = Uuid::now_v7();
        let added: Option<UserId> = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, so that SQLite takes its write lock at once (a read-then-write
            // transaction fails when another writer commits in between).
            sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                .bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            let role_ok: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE id = $1 AND organization_id = $2")
                .bind(role.0).bind(org.0).fetch_one(&mut *tx).await.map_err(db_err)?;
            if role_ok == 0 {
                return Err(DomainError::NotFound("role"));
            }
            // The organization's allowed email domains (rule 19), read in this transaction.
            let domains: String = sqlx::query_scalar("SELECT allowed_domains FROM organizations WHERE id = $1")
                .bind(org.0).fetch_one(&mut *tx).await.map_err(db_err)?;
            let domains: Vec<String> = serde_json::from_str(&domains).map_err(DomainError::internal)?;
            rules::check_invitation_domain(&domains, email)?;
            // The account of the email, and its membership of this organization if any: an
            // account elsewhere is invited exactly like a new email (rule 17).
            let existing: Option<ExistingRow> = sqlx::query_as(
                "SELECT u.id, u.status, m.status, m.role,
                        EXISTS (SELECT 1 FROM memberships x WHERE x.workspace_id = $2 AND x.user_id = u.id)
                 FROM users u LEFT JOIN org_members m ON m.user_id = u.id AND m.organization_id = $3
                 WHERE u.email_key = $1")
                .bind(&key).bind(ws.0).bind(org.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let existing = match existing {
                Some((id, account, membership, role, is_member)) => Some(ExistingUser {
                    id: UserId(id),
                    membership: match membership {
                        Some(m) => Some(UserStatus::parse(&m)
                            .ok_or_else(|| DomainError::Internal(format!("member status {m}")))?),
                        None => None,
                    },
                    signed_up: account == "active",
                    is_account_admin: role.as_deref().and_then(OrgRole::parse).is_some_and(OrgRole::is_admin),
                    is_member,
                }),
                None => None,
            };
            let (user, active) = match invite::invite_action(existing)? {
                InviteAction::AddMember(id) => (id, true),
                InviteAction::Invite(Some(id)) => (id, false),
                InviteAction::Invite(None) => {
                    let id = UserId::new();
                    sqlx::query("INSERT INTO users (id, email, email_key, name, name_key, password_hash, status, created_at, updated_at)
                                 VALUES ($1, $2, $3, $4, $6, NULL, 'invited', $5, $5)")
                        .bind(id.0).bind(email.trim()).bind(&key).bind(email.trim()).bind(now).bind(email.trim().to_lowercase())
                        .execute(&mut *tx).await
                        .map_err(|e| unique_or(e, DomainError::conflict("email_taken", "a user with this email already exists")))?;
                    (id, false)
                }
            };
            if !active {
                // The invitee is an invited member of the organization until they accept.
                sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
                             VALUES ($1, $2, 'member', 'invited', $3, $3) ON CONFLICT (organization_id, user_id) DO NOTHING")
                    .bind(org.0).bind(user.0).bind(now).execute(&mut *tx).await.map_err(db_err)?;
            }
            if active {
                sqlx::query("INSERT INTO memberships (workspace_id, user_id, role_id, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(ws.0).bind(user.0).bind(role.0).bind(now)
                    .execute(&mut *tx).await
                    .map_err(|e| unique_or(e, DomainError::conflict("already_member", "this user is already a member of the workspace")))?;
                let ev = AuditEvent {
                    workspace: Some(ws),
                    action: "invitation.add-member",
                    target_kind: "user",
                    target_id: Some(user.0),
                    summary: serde_json::json!({"email": email.trim(), "roleId": role.to_string()}),
                };
                insert_audit(&mut tx, ctx, &ev).await?;
            } else {
                // One live invitation per user and workspace: a new one replaces the old.
                sqlx::query("UPDATE invitations SET revoked_at = $1
                             WHERE user_id = $2 AND workspace_id = $3 AND accepted_at IS NULL AND revoked_at IS NULL")
                    .bind(now).bind(user.0).bind(ws.0).execute(&mut *tx).await.map_err(db_err)?;
                sqlx::query("INSERT INTO invitations (id, organization_id, workspace_id, user_id, email, role_id, token_hash,
                                 invited_by, created_at, expires_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(invitation_id).bind(org.0).bind(ws.0).bind(user.0).bind(email.trim()).bind(role.0)
                    .bind(token_hash).bind(scope.user_id().0).bind(now).bind(Ts(expires_at))
                    .execute(&mut *tx).await.map_err(db_err)?;
                let ev = AuditEvent {
                    workspace: Some(ws),
                    action: "invitation.create",
                    target_kind: "invitation",
                    target_id: Some(invitation_id),
                    summary: serde_json::json!({"email": email.trim(), "roleId": role.to_string()}),
                };
                insert_audit(&mut tx, ctx, &ev).await?;
            }
            tx.commit().await.map_err(db_err)?;
            active.then_some(user)
        });
        match added {
            Some(user) => Ok(InviteOutcome::Added(self.user_in_org(org, user).await?)),
            None => Ok(InviteOutcome::Invited(
                self.invitation_in(org, invitation_id).await?,
            )),
        }
    }

    /// One invitation of the scope's organization, whatever its status.
    pub async fn invitation(
        &self,
        scope: &impl InOrganization,
        id: Uuid,
    ) -> DomainResult<Invitation> {
        self.invitation_in(scope.organization_id(), id).await
    }

    /// One invitation of `org` (which the caller's scope names), whatever its status.
    pub(crate) async fn invitation_in(
        &self,
        org: OrganizationId,
        id: Uuid,
    ) -> DomainResult<Invitation> {
        let sql = format!("{INVITATION_SELECT} WHERE i.id = $1 AND i.organization_id = $2");
        let row: Option<InvitationRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id).bind(org.0)
                .fetch_optional(pool).await.map_err(db_err)?
        });
        row.map(|r| invitation(r, Timestamp::now()))
            .ok_or(DomainError::NotFound("invitation"))
    }

    /// The invitation a token stands for, if it can still be used.
    pub async fn invitation_by_token(
        &self,
        token_hash: &[u8],
    ) -> DomainResult<TokenCheck<Invitation>> {
        let sql = format!("{INVITATION_SELECT} WHERE i.token_hash = $1");
        let row: Option<InvitationRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(token_hash)
                .fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(match row {
            Some(r) => check(invitation(r, Timestamp::now())),
            None => TokenCheck::Invalid,
        })
    }

    /// The workspace of an invitation (any organization's: the guard then checks that the
    /// caller may manage invitations there, and answers 404 otherwise).
    pub async fn invitation_workspace(&self, id: Uuid) -> DomainResult<Option<WorkspaceId>> {
        let row: Option<(Uuid,)> = with_db!(self, pool => {
            sqlx::query_as("SELECT workspace_id FROM invitations WHERE id = $1")
                .bind(id).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.map(|(w,)| WorkspaceId(w)))
    }

    /// Invitations not yet accepted nor revoked (pending or expired) in the workspaces of
    /// `scope`, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn open_invitations(&self, scope: &WorkspacesScope) -> DomainResult<Vec<Invitation>> {
        let (org, workspaces) = (scope.organization(), scope.workspaces());
        let sql = format!(
            "{INVITATION_SELECT} WHERE i.organization_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL
             ORDER BY i.created_at DESC, i.id DESC"
        );
        let rows: Vec<InvitationRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(org.0).fetch_all(pool).await.map_err(db_err)?
        });
        let now = Timestamp::now();
        Ok(rows
            .into_iter()
            .map(|r| invitation(r, now))
            .filter(|i| workspaces.is_none_or(|ws| ws.contains(&i.workspace_id)))
            .collect())
    }

    /// Gives an open invitation a new token and expiry; the old token stops working.
    #[tracing::instrument(skip_all)]
    pub async fn reissue_invitation(
        &self,
        scope: &WorkspaceScope,
        id: Uuid,
        token_hash: &[u8],
        expires_at: Timestamp,
        ctx: &AuditContext,
    ) -> DomainResult<Invitation> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("UPDATE invitations SET token_hash = $1, expires_at = $2
                                 WHERE id = $3 AND workspace_id = $4 AND accepted_at IS NULL AND revoked_at IS NULL")
                .bind(token_hash).bind(Ts(expires_at)).bind(id).bind(scope.workspace().0)
                .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if n == 0 {
                return Err(DomainError::NotFound("invitation"));
            }
            let ev = AuditEvent {
                workspace: Some(scope.workspace()),
                action: "invitation.resend",
                target_kind: "invitation",
                target_id: Some(id),
                summary: serde_json::json!({"at": now.0.micros()}),
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.invitation(scope, id).await
    }

    /// Revokes an open invitation: its token stops working. The `invited` user row stays
    /// (other invitations may point at it).
    #[tracing::instrument(skip_all)]
    pub async fn revoke_invitation(
        &self,
        scope: &WorkspaceScope,
        id: Uuid,
        ctx: &AuditContext,
    ) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("UPDATE invitations SET revoked_at = $1
                                 WHERE id = $2 AND workspace_id = $3 AND accepted_at IS NULL AND revoked_at IS NULL")
                .bind(now).bind(id).bind(scope.workspace().0)
                .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if n == 0 {
                return Err(DomainError::NotFound("invitation"));
            }
            let ev = AuditEvent {
                workspace: Some(scope.workspace()),
                action: "invitation.revoke",
                target_kind: "invitation",
                target_id: Some(id),
                summary: serde_json::json!({}),
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }
}
