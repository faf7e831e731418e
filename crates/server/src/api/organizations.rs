//! Organizations (SPEC §7): the instance admin's list, creation, suspension and deletion; the
//! active organization's settings (rule 19) and its members' organization roles.

use super::invitations::{InviteResponse, deliver_invitation, invite_expiry};
use super::{List, SearchOnly};
use crate::auth::{Admin, Caller, Creator, Instance, Myself, Org};
use crate::crypto::random_token;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::authz;
use flowspace_core::ids::{OrganizationId, UserId};
use flowspace_core::model::{
    MyOrganization, OrgMember, OrgRole, OrgStatus, Organization, OrganizationSummary, User,
    UserStatus,
};
use flowspace_core::{DomainError, rules};
use flowspace_store::{FirstOwner, OrgPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /organizations`: every organization for the instance admin; the caller's own
/// otherwise; those whose name contains `q`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Myself(me): Myself,
    caller: Caller,
    ApiQuery(q): ApiQuery<SearchOnly>,
) -> ApiResult<Json<List<OrganizationSummary>>> {
    let search = q.search()?;
    let items = match authz::authorize_instance_admin(&caller.facts, caller.session) {
        Ok(instance) => {
            state
                .store
                .list_all_organizations(&instance, &search)
                .await?
        }
        Err(_) => state
            .store
            .my_organizations(me.user_id(), &search)
            .await?
            .into_iter()
            .map(|o: MyOrganization| OrganizationSummary {
                id: o.id,
                name: o.name,
                status: o.status,
                role: Some(o.role),
                member_count: None,
            })
            .collect(),
    };
    Ok(Json(List::all(items)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrganization {
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    /// The first owner: an existing account is added at once, a new email is invited. Only
    /// the instance admin names someone else; anyone else becomes the owner themselves.
    #[schema(schema_with = crate::fields::email_or_null)]
    pub owner_email: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedOrganization {
    pub id: OrganizationId,
    pub name: String,
    /// The first owner's sign-up link, when they were invited and SMTP is not configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_link: Option<String>,
    /// The invitation sent to the first owner, when they were invited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InviteResponse>,
}

/// Creates an organization with its Default workspace, built-in roles and first owner (rule
/// 18).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Creator(creator): Creator,
    ApiJson(req): ApiJson<CreateOrganization>,
) -> ApiResult<(StatusCode, Json<CreatedOrganization>)> {
    let name = rules::organization_name(&req.name)?;
    let me = state.store.user(creator.user_id()).await?;
    let owner_email = match req.owner_email.as_deref() {
        None => me.email.clone(),
        Some(e) => rules::email(e)?,
    };
    let is_me = rules::normalize_email(&owner_email) == rules::normalize_email(&me.email);
    if !is_me && !creator.is_instance_admin() {
        return Err(DomainError::forbidden(
            "only the instance admin makes someone else an organization's owner",
        )
        .into());
    }
    let existing = if is_me {
        Some(me.id)
    } else {
        state
            .store
            .find_login(&owner_email)
            .await?
            .filter(|r| r.user.status != UserStatus::Invited)
            .map(|r| r.user.id)
    };
    let token = random_token();
    let owner = match existing {
        Some(id) => FirstOwner::Existing(id),
        None => FirstOwner::Invite {
            email: owner_email,
            token_hash: state.token_hash("invite", &token),
            expires_at: invite_expiry(&state),
        },
    };
    let created = state
        .store
        .create_organization(creator.user_id(), creator.ip(), &name, owner)
        .await?;
    let invitation = match created.invitation {
        Some(inv) => Some(deliver_invitation(&state, inv, &token, &me.name).await?),
        None => None,
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedOrganization {
            id: created.organization.id,
            name: created.organization.name,
            invitation_link: invitation.as_ref().and_then(|i| i.link.clone()),
            invitation,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct OrganizationStatusInput {
    /// `active` or `suspended`.
    #[schema(value_type = OrgStatus)]
    pub status: String,
}

/// Suspends or reactivates an organization (instance admin).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_status(
    State(state): State<AppState>,
    Instance(instance): Instance,
    Id(id): Id<OrganizationId>,
    ApiJson(req): ApiJson<OrganizationStatusInput>,
) -> ApiResult<Json<Organization>> {
    let status = OrgStatus::parse(req.status.trim())
        .ok_or_else(|| DomainError::invalid("status", "must be \"active\" or \"suspended\""))?;
    Ok(Json(
        state
            .store
            .set_organization_status(&instance, id, status)
            .await?,
    ))
}

/// Deletes an organization and everything in it, in one transaction (instance admin).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Instance(instance): Instance,
    Id(id): Id<OrganizationId>,
) -> ApiResult<StatusCode> {
    state.store.delete_organization(&instance, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The active organization and its settings.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(State(state): State<AppState>, Org(org): Org) -> ApiResult<Json<Organization>> {
    Ok(Json(state.store.organization(&org).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPatch {
    #[schema(schema_with = crate::fields::name_or_keep)]
    pub name: Option<String>,
    /// Email domains invitations may go to; empty: any.
    #[schema(schema_with = crate::fields::email_domains)]
    pub allowed_email_domains: Option<Vec<String>>,
    /// At least 8.
    #[serde(default, deserialize_with = "flowspace_core::integer::integral")]
    #[schema(schema_with = crate::fields::min_password_length)]
    pub min_password_length: Option<i64>,
    /// Minutes a session lasts without signing in again (5 to 129600); null: the
    /// installation's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::fields::session_lifetime)]
    pub session_lifetime_minutes: Option<Option<i64>>,
    /// Owners only.
    pub sso_required: Option<bool>,
    /// Owners only.
    pub mfa_required: Option<bool>,
}

/// Changes the active organization's name and settings (owners and admins; the SSO and MFA
/// policy: owners only). Every change is audited with before and after.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<OrganizationPatch>,
) -> ApiResult<Json<Organization>> {
    rules::check_settings_change(
        admin.role(),
        req.sso_required.is_some() || req.mfa_required.is_some(),
    )?;
    if req.mfa_required == Some(true) {
        let own = state.store.mfa_status(admin.user_id()).await?;
        flowspace_core::rules::mfa::check_requiring_mfa(own.any())?;
    }
    let patch = OrgPatch {
        name: req
            .name
            .as_deref()
            .map(rules::organization_name)
            .transpose()?,
        allowed_email_domains: req
            .allowed_email_domains
            .as_deref()
            .map(rules::email_domains)
            .transpose()?,
        min_password_length: req
            .min_password_length
            .map(rules::min_password_length)
            .transpose()?,
        session_lifetime_minutes: match req.session_lifetime_minutes {
            None => None,
            Some(None) => Some(None),
            Some(Some(n)) => Some(Some(rules::session_lifetime_minutes(n)?)),
        },
        sso_required: req.sso_required,
        mfa_required: req.mfa_required,
    };
    Ok(Json(state.store.update_organization(&admin, patch).await?))
}

/// The active organization's members with their organization roles, those whose name or
/// email contains `q`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn members(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<SearchOnly>,
) -> ApiResult<Json<List<OrgMember>>> {
    let search = q.search()?;
    Ok(Json(List::all(
        state.store.list_members(&admin, &search).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct MemberRoleInput {
    /// `owner`, `admin` or `member`.
    #[schema(value_type = OrgRole)]
    pub role: String,
}

/// Sets a member's organization role (only owners make or unmake owners; the last active
/// owner stays one).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_member_role(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<UserId>,
    ApiJson(req): ApiJson<MemberRoleInput>,
) -> ApiResult<Json<User>> {
    let role = OrgRole::parse(req.role.trim()).ok_or_else(|| {
        DomainError::invalid("role", "must be \"owner\", \"admin\" or \"member\"")
    })?;
    Ok(Json(state.store.set_member_role(&admin, id, role).await?))
}

/// Removes a member from the organization (never the last active owner).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove_member(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<UserId>,
) -> ApiResult<StatusCode> {
    state.store.delete_user(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A field that may be absent (`None`), null (`Some(None)`) or an integer (as JSON Schema
/// counts them: `212.0` is one).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    flowspace_core::integer::integral(d).map(Some)
}
