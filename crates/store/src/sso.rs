//! Single sign-on (SPEC §8): an organization's OpenID Connect providers (the client secret
//! sealed by the server, never read back out but for a sign-in), the sign-in flows in progress
//! (single use: taking one deletes it), external identities keyed by (issuer, `sub`), and the
//! one transaction that turns a verified identity into a signed-in member: linking, activating
//! an invited account, just-in-time provisioning and group mapping, each audited.

use crate::audit::{AuditContext, AuditEvent, changes, insert_audit};
use crate::types::{Ts, keys_from_text, keys_to_text};
use crate::{Store, db_err, with_db};
use flowspace_core::authz::{Actor, AdminScope};
use flowspace_core::ids::{OrganizationId, RoleId, SsoProviderId, UserId, WorkspaceId};
use flowspace_core::model::{OrgRole, SealedSecret, UserStatus};
use flowspace_core::rules::{self, RankedMapping, SsoAccount, SsoFacts, SsoMembership, SsoRefusal};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// Just-in-time provisioning: whether the provider creates accounts, and where they land.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoJit {
    pub enabled: bool,
    pub workspace_id: Option<WorkspaceId>,
    pub role_id: Option<RoleId>,
}

/// A group claim's value mapped to a workspace role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoGroupMapping {
    pub group: String,
    pub workspace_id: WorkspaceId,
    pub role_id: RoleId,
}

/// A provider as its organization's owners read it: never its client secret.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoProvider {
    pub id: SsoProviderId,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub allowed_domains: Vec<String>,
    pub jit: SsoJit,
    pub group_mappings: Vec<SsoGroupMapping>,
    /// The ID token or userinfo claim that lists the user's groups.
    pub groups_claim: String,
    pub enabled: bool,
    /// Configured by the OIDC_* environment variables (changed there, not here).
    pub from_env: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A provider's settings, checked, with its roles resolved.
#[derive(Clone, Debug)]
pub struct SsoSettings {
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub allowed_domains: Vec<String>,
    pub jit: SsoJit,
    pub group_mappings: Vec<SsoGroupMapping>,
    pub groups_claim: String,
    pub enabled: bool,
}

impl SsoSettings {
    pub fn of(p: &SsoProvider) -> Self {
        Self {
            display_name: p.display_name.clone(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            scopes: p.scopes.clone(),
            allowed_domains: p.allowed_domains.clone(),
            jit: p.jit.clone(),
            group_mappings: p.group_mappings.clone(),
            groups_claim: p.groups_claim.clone(),
            enabled: p.enabled,
        }
    }
}

/// What a sign-in through a provider needs: the provider, its organization, its secret.
#[derive(Clone, Debug)]
pub struct SsoLogin {
    pub provider: SsoProvider,
    pub organization: OrganizationId,
    pub organization_active: bool,
    pub secret: SealedSecret,
}

/// A sign-in flow in progress, as its start kept it.
#[derive(Clone, Debug)]
pub struct SsoFlow {
    pub provider: SsoProviderId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next: Option<String>,
    pub expires_at: Timestamp,
}

/// What the provider said of the user, once the ID token is verified.
#[derive(Clone, Debug)]
pub struct SsoClaims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// A completed SSO sign-in: the account and where it lands.
#[derive(Clone, Debug)]
pub struct SsoSignedIn {
    pub user: UserId,
    pub land_in: Option<WorkspaceId>,
}

const PROVIDER_SELECT: &str = "SELECT id, organization_id, display_name, issuer, client_id, secret_ciphertext, secret_nonce,
        secret_key_id, scopes, allowed_domains, jit_enabled, jit_workspace_id, jit_role_id, groups_claim,
        group_mappings, enabled, from_env, created_at, updated_at
    FROM sso_providers";

#[derive(sqlx::FromRow)]
struct ProviderRow {
    id: Uuid,
    organization_id: Uuid,
    display_name: String,
    issuer: String,
    client_id: String,
    secret_ciphertext: Vec<u8>,
    secret_nonce: Vec<u8>,
    secret_key_id: String,
    scopes: String,
    allowed_domains: String,
    jit_enabled: bool,
    jit_workspace_id: Option<Uuid>,
    jit_role_id: Option<Uuid>,
    groups_claim: String,
    group_mappings: String,
    enabled: bool,
    from_env: bool,
    created_at: Ts,
    updated_at: Ts,
}

impl ProviderRow {
    fn into_provider(self) -> SsoProvider {
        SsoProvider {
            id: SsoProviderId(self.id),
            display_name: self.display_name,
            issuer: self.issuer,
            client_id: self.client_id,
            scopes: keys_from_text(&self.scopes),
            allowed_domains: keys_from_text(&self.allowed_domains),
            jit: SsoJit {
                enabled: self.jit_enabled,
                workspace_id: self.jit_workspace_id.map(WorkspaceId),
                role_id: self.jit_role_id.map(RoleId),
            },
            group_mappings: serde_json::from_str(&self.group_mappings).unwrap_or_default(),
            groups_claim: self.groups_claim,
            enabled: self.enabled,
            from_env: self.from_env,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }
    }
    fn into_login(self, organization_active: bool) -> SsoLogin {
        let organization = OrganizationId(self.organization_id);
        let secret = SealedSecret {
            ciphertext: self.secret_ciphertext.clone(),
            nonce: self.secret_nonce.clone(),
            key_id: self.secret_key_id.clone(),
        };
        SsoLogin {
            provider: self.into_provider(),
            organization,
            organization_active,
            secret,
        }
    }
}

fn not_found() -> DomainError {
    DomainError::NotFound("provider")
}

fn settings_json(s: &SsoSettings) -> serde_json::Value {
    json!({
        "displayName": s.display_name, "issuer": s.issuer, "clientId": s.client_id,
        "scopes": s.scopes, "allowedDomains": s.allowed_domains, "jit": s.jit,
        "groupMappings": s.group_mappings, "groupsClaim": s.groups_claim, "enabled": s.enabled,
    })
}

impl Store {
    /// The organization's providers, by name.
    pub async fn sso_providers(&self, org: OrganizationId) -> DomainResult<Vec<SsoProvider>> {
        let sql = format!("{PROVIDER_SELECT} WHERE organization_id = $1 ORDER BY display_name, id");
        let rows: Vec<ProviderRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(org.0).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows.into_iter().map(ProviderRow::into_provider).collect())
    }

    /// One provider of the organization (another organization's is not found).
    pub async fn sso_provider(
        &self,
        org: OrganizationId,
        id: SsoProviderId,
    ) -> DomainResult<SsoProvider> {
        Ok(self.sso_login_in(org, id).await?.provider)
    }

    /// One provider of the organization with its sealed secret (for its test).
    pub async fn sso_login_in(
        &self,
        org: OrganizationId,
        id: SsoProviderId,
    ) -> DomainResult<SsoLogin> {
        match self.sso_login(id).await? {
            Some(l) if l.organization == org => Ok(l),
            _ => Err(not_found()),
        }
    }

    /// A provider by id alone, for a sign-in through it.
    pub async fn sso_login(&self, id: SsoProviderId) -> DomainResult<Option<SsoLogin>> {
        let sql = format!("{PROVIDER_SELECT} WHERE id = $1");
        with_db!(self, pool => {
            let row: Option<ProviderRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0)
                .fetch_optional(pool).await.map_err(db_err)?;
            let Some(row) = row else { return Ok(None) };
            let active: Option<String> = sqlx::query_scalar("SELECT status FROM organizations WHERE id = $1")
                .bind(row.organization_id).fetch_optional(pool).await.map_err(db_err)?;
            Ok(Some(row.into_login(active.as_deref() == Some("active"))))
        })
    }

    /// The enabled providers whose buttons the sign-in page shows for `email`: those that list
    /// its domain in their `allowedDomains`. The answer depends on the domain alone, never on
    /// whether an account with that email exists or where it is a member (no account or
    /// organization enumeration): which provider serves a domain is public by design, as at
    /// other identity products' sign-in pages.
    pub async fn sso_providers_for_email(
        &self,
        email: &str,
    ) -> DomainResult<Vec<(SsoProviderId, String)>> {
        let key = rules::normalize_email(email);
        let Some((_, domain)) = key.rsplit_once('@') else {
            return Ok(Vec::new());
        };
        let domain = domain.to_string();
        let rows: Vec<(Uuid, String, String)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT p.id, p.display_name, p.allowed_domains
                 FROM sso_providers p JOIN organizations o ON o.id = p.organization_id
                 WHERE p.enabled AND o.status = 'active'
                 ORDER BY p.display_name, p.id")
                .fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .filter(|(_, _, domains)| {
                !domain.is_empty() && keys_from_text(domains).contains(&domain)
            })
            .map(|(id, name, _)| (SsoProviderId(id), name))
            .collect())
    }

    /// Adds a provider to the organization (audited without its secret).
    pub async fn create_sso_provider(
        &self,
        scope: &AdminScope,
        id: SsoProviderId,
        s: &SsoSettings,
        secret: &SealedSecret,
    ) -> DomainResult<SsoProvider> {
        let ev = AuditEvent {
            workspace: None,
            action: "sso_provider.create",
            target_kind: "sso_provider",
            target_id: Some(id.0),
            summary: settings_json(s),
        };
        self.write_sso_provider(
            scope.organization(),
            id,
            s,
            Some(secret),
            false,
            Some((&AuditContext::from_admin(scope), &ev)),
        )
        .await?;
        self.sso_provider(scope.organization(), id).await
    }

    /// The provider of the OIDC_* environment variables, in `org`: created, or brought in
    /// line with the environment at each start.
    pub async fn ensure_env_sso_provider(
        &self,
        org: OrganizationId,
        s: &SsoSettings,
        secret: impl Fn(SsoProviderId) -> DomainResult<SealedSecret>,
    ) -> DomainResult<SsoProviderId> {
        let existing: Option<Uuid> = with_db!(self, pool => {
            sqlx::query_scalar("SELECT id FROM sso_providers WHERE organization_id = $1 AND from_env")
                .bind(org.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let id = existing.map_or_else(SsoProviderId::new, SsoProviderId);
        let sealed = secret(id)?;
        self.write_sso_provider(org, id, s, Some(&sealed), true, None)
            .await?;
        Ok(id)
    }

    async fn write_sso_provider(
        &self,
        org: OrganizationId,
        id: SsoProviderId,
        s: &SsoSettings,
        secret: Option<&SealedSecret>,
        from_env: bool,
        audit: Option<(&AuditContext, &AuditEvent)>,
    ) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        let maps = serde_json::to_string(&s.group_mappings).map_err(DomainError::internal)?;
        let (scopes, domains) = (keys_to_text(&s.scopes), keys_to_text(&s.allowed_domains));
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query(
                "UPDATE sso_providers SET display_name = $1, issuer = $2, client_id = $3, scopes = $4,
                     allowed_domains = $5, jit_enabled = $6, jit_workspace_id = $7, jit_role_id = $8,
                     groups_claim = $9, group_mappings = $10, enabled = $11, updated_at = $12
                 WHERE id = $13 AND organization_id = $14")
                .bind(&s.display_name).bind(&s.issuer).bind(&s.client_id).bind(&scopes).bind(&domains)
                .bind(s.jit.enabled).bind(s.jit.workspace_id.map(|w| w.0)).bind(s.jit.role_id.map(|r| r.0))
                .bind(&s.groups_claim).bind(&maps).bind(s.enabled).bind(now).bind(id.0).bind(org.0)
                .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            match (n, secret) {
                (0, Some(sec)) => {
                    sqlx::query(
                        "INSERT INTO sso_providers (id, organization_id, display_name, issuer, client_id,
                             secret_ciphertext, secret_nonce, secret_key_id, scopes, allowed_domains,
                             jit_enabled, jit_workspace_id, jit_role_id, groups_claim, group_mappings,
                             enabled, from_env, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)")
                        .bind(id.0).bind(org.0).bind(&s.display_name).bind(&s.issuer).bind(&s.client_id)
                        .bind(&sec.ciphertext).bind(&sec.nonce).bind(&sec.key_id).bind(&scopes).bind(&domains)
                        .bind(s.jit.enabled).bind(s.jit.workspace_id.map(|w| w.0)).bind(s.jit.role_id.map(|r| r.0))
                        .bind(&s.groups_claim).bind(&maps).bind(s.enabled).bind(from_env).bind(now)
                        .execute(&mut *tx).await.map_err(db_err)?;
                }
                (0, None) => return Err(not_found()),
                (_, Some(sec)) => {
                    sqlx::query("UPDATE sso_providers SET secret_ciphertext = $1, secret_nonce = $2, secret_key_id = $3 WHERE id = $4")
                        .bind(&sec.ciphertext).bind(&sec.nonce).bind(&sec.key_id).bind(id.0)
                        .execute(&mut *tx).await.map_err(db_err)?;
                }
                (_, None) => {}
            }
            if let Some((ctx, ev)) = audit {
                insert_audit(&mut tx, ctx, ev).await?;
            }
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Changes a provider (a new secret when given), audited with before and after.
    pub async fn update_sso_provider(
        &self,
        scope: &AdminScope,
        id: SsoProviderId,
        s: &SsoSettings,
        secret: Option<&SealedSecret>,
    ) -> DomainResult<SsoProvider> {
        let before = SsoSettings::of(&self.sso_provider(scope.organization(), id).await?);
        let (b, a) = (settings_json(&before), settings_json(s));
        let fields: Vec<(&str, serde_json::Value, serde_json::Value)> = [
            "displayName",
            "issuer",
            "clientId",
            "scopes",
            "allowedDomains",
            "jit",
            "groupMappings",
            "groupsClaim",
            "enabled",
        ]
        .into_iter()
        .map(|k| (k, b[k].clone(), a[k].clone()))
        .collect();
        let mut summary = changes(&fields);
        if secret.is_some() {
            summary.insert("clientSecret".into(), json!("changed"));
        }
        let ev = AuditEvent {
            workspace: None,
            action: "sso_provider.update",
            target_kind: "sso_provider",
            target_id: Some(id.0),
            summary: summary.into(),
        };
        let ctx = AuditContext::from_admin(scope);
        self.write_sso_provider(
            scope.organization(),
            id,
            s,
            secret,
            false,
            Some((&ctx, &ev)),
        )
        .await?;
        self.sso_provider(scope.organization(), id).await
    }

    /// Removes a provider; the identities linked through it stay (keyed by issuer and `sub`).
    pub async fn delete_sso_provider(
        &self,
        scope: &AdminScope,
        id: SsoProviderId,
    ) -> DomainResult<()> {
        let p = self.sso_provider(scope.organization(), id).await?;
        let ev = AuditEvent {
            workspace: None,
            action: "sso_provider.delete",
            target_kind: "sso_provider",
            target_id: Some(id.0),
            summary: json!({"displayName": p.display_name, "issuer": p.issuer}),
        };
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("DELETE FROM sso_providers WHERE id = $1 AND organization_id = $2")
                .bind(id.0).bind(scope.organization().0).execute(&mut *tx).await.map_err(db_err)?;
            insert_audit(&mut tx, &AuditContext::from_admin(scope), &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Keeps a new sign-in flow; flows past their expiry are swept on the way.
    pub async fn create_sso_flow(&self, state_hash: &[u8], flow: &SsoFlow) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            sqlx::query("DELETE FROM sso_flows WHERE expires_at < $1").bind(now).execute(pool).await.map_err(db_err)?;
            sqlx::query("INSERT INTO sso_flows (state_hash, provider_id, nonce, pkce_verifier, next_path, created_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(state_hash).bind(flow.provider.0).bind(&flow.nonce).bind(&flow.pkce_verifier)
                .bind(flow.next.as_deref()).bind(now).bind(Ts(flow.expires_at))
                .execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Takes the flow of a state: it is deleted, so a state is used once at most.
    pub async fn take_sso_flow(&self, state_hash: &[u8]) -> DomainResult<Option<SsoFlow>> {
        let row: Option<(Uuid, String, String, Option<String>, Ts)> = with_db!(self, pool => {
            sqlx::query_as("DELETE FROM sso_flows WHERE state_hash = $1
                            RETURNING provider_id, nonce, pkce_verifier, next_path, expires_at")
                .bind(state_hash).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.map(|(p, nonce, pkce_verifier, next, exp)| SsoFlow {
            provider: SsoProviderId(p),
            nonce,
            pkce_verifier,
            next,
            expires_at: exp.0,
        }))
    }

    /// Makes an expiring flow's deadline pass (tests of the expiry).
    pub async fn expire_sso_flows(&self) -> DomainResult<()> {
        let past = Ts(Timestamp::now().plus_seconds(-1));
        with_db!(self, pool => {
            sqlx::query("UPDATE sso_flows SET expires_at = $1").bind(past).execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Signs the identity of `claims` in to the provider's organization, in one transaction:
    /// finds its account (`rules::sso_decide`), checks it may join (`rules::sso_membership`),
    /// links the identity, creates or activates the account and its membership, and applies
    /// the group mapping; every change audited. A refusal changes nothing.
    #[tracing::instrument(skip_all)]
    pub async fn complete_sso_sign_in(
        &self,
        login: &SsoLogin,
        claims: &SsoClaims,
        ip: Option<&str>,
    ) -> DomainResult<Result<SsoSignedIn, SsoRefusal>> {
        let org = login.organization;
        let p = &login.provider;
        let now = Ts(Timestamp::now());
        let email = claims.email.clone().unwrap_or_default();
        let email_key = rules::normalize_email(&email);
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // A write first: SQLite takes its write lock now rather than failing to upgrade a
            // read lock after another writer committed.
            sqlx::query("UPDATE sso_providers SET updated_at = updated_at WHERE id = $1")
                .bind(p.id.0).execute(&mut *tx).await.map_err(db_err)?;
            let linked: Option<Uuid> = sqlx::query_scalar(
                "SELECT user_id FROM sso_identities WHERE issuer = $1 AND subject = $2")
                .bind(&claims.issuer).bind(&claims.subject).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let by_email: Option<(Uuid, String, bool, bool)> = if email_key.is_empty() { None } else {
                sqlx::query_as(
                    "SELECT u.id, u.status,
                            (EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = u.id AND i.accepted_at IS NOT NULL)
                             OR EXISTS (SELECT 1 FROM password_resets r WHERE r.user_id = u.id AND r.used_at IS NOT NULL)
                             OR EXISTS (SELECT 1 FROM sso_identities s WHERE s.user_id = u.id)),
                            (u.is_instance_admin
                             OR EXISTS (SELECT 1 FROM org_members m WHERE m.user_id = u.id AND m.organization_id <> $2))
                     FROM users u WHERE u.email_key = $1")
                    .bind(&email_key).bind(org.0).fetch_optional(&mut *tx).await.map_err(db_err)?
            };
            let facts = SsoFacts {
                linked: linked.map(UserId),
                by_email: by_email.as_ref().map(|(id, status, verified, elsewhere)| SsoAccount {
                    user: UserId(*id),
                    signed_up: status != "invited",
                    email_verified: *verified,
                    elsewhere: *elsewhere,
                }),
                provider_email_verified: claims.email_verified,
                has_email: !email_key.is_empty(),
            };
            let user = match rules::sso_decide(&facts) {
                Ok(u) => u,
                Err(r) => return Ok(Err(r)),
            };
            let standing: Option<(String, String)> = match user {
                Some(u) => sqlx::query_as("SELECT status, role FROM org_members WHERE organization_id = $1 AND user_id = $2")
                    .bind(org.0).bind(u.0).fetch_optional(&mut *tx).await.map_err(db_err)?,
                None => None,
            };
            let org_domains: String = sqlx::query_scalar("SELECT allowed_domains FROM organizations WHERE id = $1")
                .bind(org.0).fetch_one(&mut *tx).await.map_err(db_err)?;
            let domain_ok = rules::email_domain_allowed(&p.allowed_domains, &email_key)
                && rules::email_domain_allowed(&keys_from_text(&org_domains), &email_key);
            let status = standing.as_ref().and_then(|(s, _)| UserStatus::parse(s));
            let membership = match rules::sso_membership(status, p.jit.enabled, domain_ok) {
                Ok(m) => m,
                Err(r) => return Ok(Err(r)),
            };
            let is_admin = standing.as_ref().and_then(|(_, r)| OrgRole::parse(r)).is_some_and(|r| r.is_admin());
            let user = match user { Some(u) => u, None => UserId::new() };
            let ctx = AuditContext { organization: org, actor: Actor::User(user), ip: ip.map(str::to_string) };
            let name = claims.name.clone().filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| email.split('@').next().unwrap_or("user").to_string());
            let name: String = name.chars().take(rules::MAX_NAME_CHARS).collect();
            if facts.by_email.is_none() && facts.linked.is_none() {
                sqlx::query("INSERT INTO users (id, email, email_key, name, name_key, password_hash, status, created_at, updated_at)
                             VALUES ($1, $2, $3, $4, $6, NULL, 'active', $5, $5)")
                    .bind(user.0).bind(&email).bind(&email_key).bind(&name).bind(now).bind(name.to_lowercase())
                    .execute(&mut *tx).await.map_err(db_err)?;
                insert_audit(&mut tx, &ctx, &AuditEvent {
                    workspace: None, action: "user.provision", target_kind: "user", target_id: Some(user.0),
                    summary: json!({"email": email, "provider": p.display_name, "via": "sso"}),
                }).await?;
            } else {
                // An invited account that had not signed up is activated by this sign-in.
                let n = sqlx::query("UPDATE users SET status = 'active', name = $1, name_key = $4, updated_at = $2 WHERE id = $3 AND status = 'invited'")
                    .bind(&name).bind(now).bind(user.0).bind(name.to_lowercase()).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
                if n > 0 {
                    insert_audit(&mut tx, &ctx, &AuditEvent {
                        workspace: None, action: "user.activate", target_kind: "user", target_id: Some(user.0),
                        summary: json!({"email": email, "provider": p.display_name, "via": "sso"}),
                    }).await?;
                }
            }
            if facts.linked.is_none() {
                sqlx::query("INSERT INTO sso_identities (issuer, subject, user_id, provider_id, email, created_at, last_login_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $6)")
                    .bind(&claims.issuer).bind(&claims.subject).bind(user.0).bind(p.id.0).bind(&email).bind(now)
                    .execute(&mut *tx).await.map_err(db_err)?;
                insert_audit(&mut tx, &ctx, &AuditEvent {
                    workspace: None, action: "sso_identity.link", target_kind: "user", target_id: Some(user.0),
                    summary: json!({"provider": p.display_name, "issuer": claims.issuer, "subject": claims.subject, "email": email}),
                }).await?;
            } else {
                sqlx::query("UPDATE sso_identities SET last_login_at = $1, email = $2 WHERE issuer = $3 AND subject = $4")
                    .bind(now).bind(&email).bind(&claims.issuer).bind(&claims.subject)
                    .execute(&mut *tx).await.map_err(db_err)?;
            }
            let mut land_in: Option<WorkspaceId> = None;
            match membership {
                SsoMembership::Active => {}
                SsoMembership::Invited => {
                    // Every open invitation of this organization is accepted.
                    let invs: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
                        "UPDATE invitations SET accepted_at = $1
                         WHERE user_id = $2 AND organization_id = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1
                         RETURNING id, workspace_id, role_id")
                        .bind(now).bind(user.0).bind(org.0).fetch_all(&mut *tx).await.map_err(db_err)?;
                    sqlx::query("UPDATE org_members SET status = 'active', updated_at = $1 WHERE organization_id = $2 AND user_id = $3")
                        .bind(now).bind(org.0).bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
                    for (inv, ws, role) in invs {
                        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role_id, created_at) VALUES ($1, $2, $3, $4)
                                     ON CONFLICT (workspace_id, user_id) DO UPDATE SET role_id = excluded.role_id")
                            .bind(ws).bind(user.0).bind(role).bind(now).execute(&mut *tx).await.map_err(db_err)?;
                        insert_audit(&mut tx, &ctx, &AuditEvent {
                            workspace: Some(WorkspaceId(ws)), action: "invitation.accept", target_kind: "invitation",
                            target_id: Some(inv), summary: json!({"email": email, "roleId": role.to_string(), "via": "sso"}),
                        }).await?;
                        land_in = Some(WorkspaceId(ws));
                    }
                }
                SsoMembership::Join => {
                    sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
                                 VALUES ($1, $2, 'member', 'active', $3, $3)")
                        .bind(org.0).bind(user.0).bind(now).execute(&mut *tx).await.map_err(db_err)?;
                    insert_audit(&mut tx, &ctx, &AuditEvent {
                        workspace: None, action: "member.join", target_kind: "user", target_id: Some(user.0),
                        summary: json!({"email": email, "provider": p.display_name, "via": "sso"}),
                    }).await?;
                    if let (Some(ws), Some(role)) = (p.jit.workspace_id, p.jit.role_id) {
                        let n = sqlx::query("INSERT INTO memberships (workspace_id, user_id, role_id, created_at)
                                     SELECT w.id, $2, r.id, $4 FROM workspaces w JOIN roles r ON r.id = $3 AND r.organization_id = $5
                                     WHERE w.id = $1 AND w.organization_id = $5
                                     ON CONFLICT (workspace_id, user_id) DO NOTHING")
                            .bind(ws.0).bind(user.0).bind(role.0).bind(now).bind(org.0)
                            .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
                        if n > 0 {
                            insert_audit(&mut tx, &ctx, &AuditEvent {
                                workspace: Some(ws), action: "membership.add", target_kind: "user", target_id: Some(user.0),
                                summary: json!({"email": email, "roleId": role.to_string(), "via": "sso"}),
                            }).await?;
                            land_in = Some(ws);
                        }
                    }
                }
            }
            // Group mapping, at every sign-in (the Account Admin's roles are never changed).
            if !is_admin && !p.group_mappings.is_empty() {
                let roles: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, permissions FROM roles WHERE organization_id = $1")
                    .bind(org.0).fetch_all(&mut *tx).await.map_err(db_err)?;
                let ranked: Vec<RankedMapping<'_>> = p.group_mappings.iter().filter_map(|m| {
                    let perms = roles.iter().find(|(id, _)| *id == m.role_id.0)?;
                    Some(RankedMapping { group: &m.group, workspace: m.workspace_id, role: m.role_id, rank: keys_from_text(&perms.1).len() })
                }).collect();
                let wanted = rules::mapped_roles(&claims.groups, &ranked);
                let had: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
                    "SELECT s.workspace_id, m.role_id FROM sso_mapped_memberships s
                     LEFT JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id
                     WHERE s.user_id = $1 AND s.provider_id = $2")
                    .bind(user.0).bind(p.id.0).fetch_all(&mut *tx).await.map_err(db_err)?;
                for (ws, role) in &wanted {
                    let current: Option<Uuid> = sqlx::query_scalar("SELECT role_id FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                        .bind(ws.0).bind(user.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
                    if current == Some(role.0) {
                        sqlx::query("INSERT INTO sso_mapped_memberships (provider_id, user_id, workspace_id) VALUES ($1, $2, $3)
                                     ON CONFLICT (user_id, workspace_id) DO NOTHING")
                            .bind(p.id.0).bind(user.0).bind(ws.0).execute(&mut *tx).await.map_err(db_err)?;
                        continue;
                    }
                    let n = sqlx::query("INSERT INTO memberships (workspace_id, user_id, role_id, created_at)
                                 SELECT w.id, $2, $3, $4 FROM workspaces w WHERE w.id = $1 AND w.organization_id = $5
                                 ON CONFLICT (workspace_id, user_id) DO UPDATE SET role_id = excluded.role_id")
                        .bind(ws.0).bind(user.0).bind(role.0).bind(now).bind(org.0)
                        .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
                    if n == 0 {
                        continue;
                    }
                    sqlx::query("INSERT INTO sso_mapped_memberships (provider_id, user_id, workspace_id) VALUES ($1, $2, $3)
                                 ON CONFLICT (user_id, workspace_id) DO UPDATE SET provider_id = excluded.provider_id")
                        .bind(p.id.0).bind(user.0).bind(ws.0).execute(&mut *tx).await.map_err(db_err)?;
                    insert_audit(&mut tx, &ctx, &AuditEvent {
                        workspace: Some(*ws),
                        action: if current.is_some() { "membership.update" } else { "membership.add" },
                        target_kind: "user", target_id: Some(user.0),
                        summary: json!({"email": email, "roleId": role.to_string(), "via": "sso_group_mapping", "groups": claims.groups}),
                    }).await?;
                    land_in = land_in.or(Some(*ws));
                }
                for (ws, role) in had {
                    if wanted.iter().any(|(w, _)| w.0 == ws) {
                        continue;
                    }
                    sqlx::query("DELETE FROM sso_mapped_memberships WHERE user_id = $1 AND workspace_id = $2")
                        .bind(user.0).bind(ws).execute(&mut *tx).await.map_err(db_err)?;
                    if let Some(role) = role {
                        sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND workspace_id = $2")
                            .bind(user.0).bind(ws).execute(&mut *tx).await.map_err(db_err)?;
                        insert_audit(&mut tx, &ctx, &AuditEvent {
                            workspace: Some(WorkspaceId(ws)), action: "membership.remove", target_kind: "user", target_id: Some(user.0),
                            summary: json!({"email": email, "roleId": role.to_string(), "via": "sso_group_mapping", "groups": claims.groups}),
                        }).await?;
                    }
                }
            }
            tx.commit().await.map_err(db_err)?;
            Ok(Ok(SsoSignedIn { user, land_in }))
        })
    }

    /// The account's active memberships for `ssoRequired`: (organization requires SSO, role,
    /// break-glass), and the organization of each.
    pub async fn sso_policies_of(
        &self,
        user: UserId,
    ) -> DomainResult<Vec<(OrganizationId, bool, OrgRole, bool)>> {
        let rows: Vec<(Uuid, bool, String, bool)> = with_db!(self, pool => {
            sqlx::query_as("SELECT o.id, o.sso_required, m.role, m.break_glass
                            FROM org_members m JOIN organizations o ON o.id = m.organization_id
                            WHERE m.user_id = $1 AND m.status = 'active' AND o.status = 'active'")
                .bind(user.0).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(o, req, role, bg)| {
                Some((OrganizationId(o), req, OrgRole::parse(&role)?, bg))
            })
            .collect())
    }

    /// Marks an owner break-glass (or not), audited.
    pub async fn set_break_glass(
        &self,
        scope: &AdminScope,
        user: UserId,
        on: bool,
    ) -> DomainResult<()> {
        let ev = AuditEvent {
            workspace: None,
            action: "member.break_glass",
            target_kind: "user",
            target_id: Some(user.0),
            summary: json!({"breakGlass": on}),
        };
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("UPDATE org_members SET break_glass = $1 WHERE organization_id = $2 AND user_id = $3")
                .bind(on).bind(scope.organization().0).bind(user.0).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if n == 0 {
                return Err(DomainError::NotFound("user"));
            }
            insert_audit(&mut tx, &AuditContext::from_admin(scope), &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Whether `ws` is a workspace of `org`.
    pub async fn is_workspace_of(
        &self,
        org: OrganizationId,
        ws: WorkspaceId,
    ) -> DomainResult<bool> {
        let n: Option<Uuid> = with_db!(self, pool => {
            sqlx::query_scalar("SELECT id FROM workspaces WHERE id = $1 AND organization_id = $2")
                .bind(ws.0).bind(org.0).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(n.is_some())
    }

    /// Where an SSO sign-in into `org` lands: the workspace used last there, else one the
    /// account is a member of there.
    pub async fn sso_landing(
        &self,
        user: UserId,
        org: OrganizationId,
    ) -> DomainResult<Option<WorkspaceId>> {
        let ws: Option<Option<Uuid>> = with_db!(self, pool => {
            sqlx::query_scalar(
                "SELECT COALESCE(m.last_workspace_id,
                     (SELECT ms.workspace_id FROM memberships ms JOIN workspaces w ON w.id = ms.workspace_id
                      WHERE ms.user_id = $1 AND w.organization_id = $2 ORDER BY w.created_at LIMIT 1),
                     (SELECT w.id FROM workspaces w WHERE w.organization_id = $2 AND m.role IN ('owner', 'admin')
                      ORDER BY w.created_at LIMIT 1))
                 FROM org_members m WHERE m.user_id = $1 AND m.organization_id = $2")
                .bind(user.0).bind(org.0).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(ws.flatten().map(WorkspaceId))
    }

    /// The organization made by setup (the first one), once setup is done.
    pub async fn first_organization(&self) -> DomainResult<Option<OrganizationId>> {
        let id: Option<Uuid> = with_db!(self, pool => {
            sqlx::query_scalar("SELECT s.organization_id FROM setup_state s JOIN organizations o ON o.id = s.organization_id")
                .fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(id.map(OrganizationId))
    }

    /// A workspace and a role of `org` named by id or name (the OIDC_JIT_* settings).
    pub async fn workspace_and_role_named(
        &self,
        org: OrganizationId,
        workspace: &str,
        role: &str,
    ) -> DomainResult<(Option<WorkspaceId>, Option<RoleId>)> {
        let (w, r) = (workspace.trim(), role.trim());
        // By id when it parses as one, else by name (case-insensitive, as names are unique).
        let key = |s: &str| (s.parse::<Uuid>().ok(), s.to_lowercase());
        let ((wid, wname), (rid, rname)) = (key(w), key(r));
        let found: (Option<Uuid>, Option<Uuid>) = with_db!(self, pool => {
            let ws: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM workspaces WHERE organization_id = $1 AND (id = $2 OR name_key = $3) ORDER BY created_at LIMIT 1")
                .bind(org.0).bind(wid).bind(&wname).fetch_optional(pool).await.map_err(db_err)?;
            let role: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM roles WHERE organization_id = $1 AND (id = $2 OR name_key = $3) LIMIT 1")
                .bind(org.0).bind(rid).bind(&rname).fetch_optional(pool).await.map_err(db_err)?;
            (ws, role)
        });
        Ok((found.0.map(WorkspaceId), found.1.map(RoleId)))
    }
}
