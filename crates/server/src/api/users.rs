//! The Account Admin's user management (rule 10).

use super::invitations::{deliver_invitation, invite_expiry};
use super::{List, SearchParams};
use crate::auth::Admin;
use crate::crypto::random_token;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::ids::UserId;
use flowspace_core::model::{UserDetail, UserStatus};
use flowspace_core::{password, rules};
use flowspace_store::{CreatedUser, NewUser, UserInvite, UserPatch};
use serde::Deserialize;
use utoipa::ToSchema;

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<List<UserDetail>>> {
    let (search, page) = (q.search()?, q.page()?);
    Ok(Json(
        state.store.page_users(&admin, &search, page).await?.into(),
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<UserId>,
) -> ApiResult<Json<UserDetail>> {
    Ok(Json(state.store.user_detail(&admin, id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUser {
    #[schema(schema_with = crate::fields::email)]
    pub email: String,
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    #[schema(schema_with = crate::fields::password)]
    pub password: String,
}

/// Creates an active user with a password and no workspace. An email whose account belongs
/// to other organizations is invited instead, answered the same way (rule 17): both ways hash
/// the password, make an invitation token and answer 201 with the member; only the invited
/// one delivers the invitation (email, or the link logged when SMTP is off), after answering.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserDetail>)> {
    let email = rules::email(&req.email)?;
    let name = rules::display_name("name", &req.name)?;
    let min = state
        .store
        .organization(admin.org())
        .await?
        .settings
        .min_password_length;
    password::check_for(&req.password, Some(&email), min)?;
    let password_hash = state.passwords.hash(&req.password).await?;
    let token = random_token();
    let created = state
        .store
        .create_user(
            &admin,
            NewUser {
                email,
                name,
                password_hash,
            },
            UserInvite {
                token_hash: state.token_hash("invite", &token),
                expires_at: invite_expiry(&state),
            },
        )
        .await?;
    let user = match created {
        CreatedUser::Created(user) => user,
        CreatedUser::Invited(user, invitation) => {
            // Delivered after the answer, so that the mail's round trip does not set this
            // answer apart in time; its failure is logged (the invitation can be resent).
            let inviter = admin.user_id();
            tokio::spawn(async move {
                let name = match state.store.user(inviter).await {
                    Ok(u) => u.name,
                    Err(_) => String::new(),
                };
                match deliver_invitation(&state, *invitation, &token, &name).await {
                    Ok(sent) if sent.mail.sent || !state.mailer.is_configured() => {}
                    Ok(sent) => {
                        tracing::warn!(error = ?sent.mail.error, "invitation email not sent")
                    }
                    Err(e) => tracing::warn!(error = ?e, "invitation email not sent"),
                }
            });
            user
        }
    };
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Deserialize, ToSchema)]
pub struct PatchUser {
    #[schema(schema_with = crate::fields::name_or_keep)]
    pub name: Option<String>,
    #[schema(schema_with = crate::fields::settable_status)]
    pub status: Option<UserStatus>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn patch(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<UserId>,
    ApiJson(req): ApiJson<PatchUser>,
) -> ApiResult<Json<UserDetail>> {
    let patch = UserPatch {
        name: req
            .name
            .as_deref()
            .map(|n| rules::display_name("name", n))
            .transpose()?,
        status: req.status,
    };
    Ok(Json(state.store.patch_user(&admin, id, patch).await?))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<UserId>,
) -> ApiResult<StatusCode> {
    state.store.delete_user(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
