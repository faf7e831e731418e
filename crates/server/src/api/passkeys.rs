//! Passkeys (WebAuthn) as a second factor (SPEC §9): registering one (the password again,
//! then the browser's `navigator.credentials.create` answer), listing and removing them, and
//! the options of a sign-in's second step, whose assertion `POST /auth/mfa/verify` checks
//! (`check_assertion`, through the same counting and single-use rules as a code).
//!
//! Changing the second factors of an account that has one takes a proof of one besides the
//! password (`mfa::FactorProof`): removing a passkey, and adding one to an account with an
//! authenticator app or a passkey already. A passkey proves itself by answering the options
//! of `POST /auth/mfa/passkeys/confirmation`.
//!
//! A passkey's signature counter only moves forward: an answer whose counter is not above the
//! stored one (unless the authenticator keeps none) is refused, as a sign of a cloned
//! authenticator, and the new counter is stored by a compare-and-set, so of two answers
//! checked against one stored counter one at most passes.
//!
//! The ceremonies are webauthn-rs's (`AppState::webauthn`: the relying party of APP_URL). Its
//! state, which holds the challenge, stays on the server (`flowspace_store::passkeys`): stored
//! when the options are handed out, taken once when the answer comes, expiring with the
//! sign-in's `mfaToken` (a registration's and a confirmation's after five minutes).

use crate::api::mfa::{FactorProof, check_factor_proof, factor_proof};
use crate::api::session::{ClientInfo, recheck_password};
use crate::auth::Myself;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::ids::{PasskeyId, UserId};
use flowspace_core::model::User;
use flowspace_core::rules;
use flowspace_core::rules::mfa::MFA_TOKEN_SECS;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use flowspace_store::{Ceremony, PasskeySummary, StoredPasskey, login_reason as reason};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

/// The relying party, or 409 `passkeys_unavailable` when APP_URL cannot be one.
fn relying_party(state: &AppState) -> ApiResult<&Webauthn> {
    state.webauthn.as_ref().ok_or_else(|| {
        DomainError::conflict(
            "passkeys_unavailable",
            "passkeys need the server's public URL (APP_URL) to name a domain, not an IP address",
        )
        .into()
    })
}

/// The key of a user's registration under way (one at a time).
fn registration_key(user: UserId) -> Vec<u8> {
    user.0.as_bytes().to_vec()
}

/// The key of a user's confirmation under way (`Ceremony::Confirm`, one at a time).
pub fn confirmation_key(user: UserId) -> Vec<u8> {
    user.0.as_bytes().to_vec()
}

/// The signature counter stored in a passkey's credential (webauthn-rs's JSON).
fn stored_counter(credential: &str) -> DomainResult<u64> {
    let v: Value = from_json(credential)?;
    v["cred"]["counter"]
        .as_u64()
        .ok_or_else(|| DomainError::Internal("a stored passkey has no counter".into()))
}

fn to_json<T: Serialize>(v: &T) -> DomainResult<String> {
    serde_json::to_string(v).map_err(DomainError::internal)
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> DomainResult<T> {
    serde_json::from_str(s).map_err(DomainError::internal)
}

/// The user's passkeys as webauthn-rs reads them, with their ids.
fn credentials(stored: &[StoredPasskey]) -> DomainResult<Vec<(PasskeyId, Passkey)>> {
    stored
        .iter()
        .map(|p| Ok((p.summary.id, from_json(&p.credential)?)))
        .collect()
}

/// Options for `navigator.credentials.create` or `.get`, as webauthn-rs writes them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyOptions {
    /// The `publicKey` member of the options (binary fields in base64url: decode the
    /// challenge, user id and credential ids to bytes before handing them to the browser).
    #[schema(schema_with = crate::fields::webauthn_options)]
    pub public_key: Value,
}

/// The options of webauthn-rs's `CreationChallengeResponse` or `RequestChallengeResponse`.
fn options<T: Serialize>(challenge: &T) -> DomainResult<PasskeyOptions> {
    let mut v = serde_json::to_value(challenge).map_err(DomainError::internal)?;
    Ok(PasskeyOptions {
        public_key: v.get_mut("publicKey").map(Value::take).unwrap_or_default(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    /// Newest first.
    pub items: Vec<PasskeySummary>,
}

/// `GET /auth/mfa/passkeys`: the caller's passkeys.
pub async fn list(
    State(state): State<AppState>,
    Myself(me): Myself,
) -> ApiResult<Json<PasskeyList>> {
    let items = state
        .store
        .passkeys(me.user_id())
        .await?
        .into_iter()
        .map(|p| p.summary)
        .collect();
    Ok(Json(PasskeyList { items }))
}

/// How many passkeys one account may hold (each sign-in offers them all to the browser).
const MAX_PASSKEYS: usize = 20;

#[derive(Deserialize, ToSchema)]
pub struct StartRegistration {
    /// Your password, again.
    #[schema(schema_with = crate::fields::any_text)]
    pub password: String,
    /// When you have an authenticator app or a passkey already: a proof of one of them (a
    /// code, a recovery code or a passkey's answer); otherwise left out.
    #[serde(flatten)]
    pub proof: FactorProof,
}

/// `POST /auth/mfa/passkeys/registration`: the options for the browser to create a passkey
/// (the password again, and a proof of a second factor when the account has one); the
/// registration must be finished within five minutes, and a new one replaces it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn start_registration(
    State(state): State<AppState>,
    Myself(me): Myself,
    client: ClientInfo,
    ApiJson(req): ApiJson<StartRegistration>,
) -> ApiResult<Json<PasskeyOptions>> {
    let user = state.store.user(me.user_id()).await?;
    recheck_password(&state, &client, &user, &req.password).await?;
    let has_factor = state.store.mfa_status(user.id).await?.any();
    let proof = if has_factor {
        Some(factor_proof(&req.proof, user.id)?)
    } else {
        None
    };
    let rp = relying_party(&state)?;
    let existing = credentials(&state.store.passkeys(user.id).await?)?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(DomainError::conflict(
            "passkey_limit",
            format!("an account holds at most {MAX_PASSKEYS} passkeys: remove one first"),
        )
        .into());
    }
    // Checked (and spent) last, once nothing else can refuse the registration.
    if let Some(proof) = &proof {
        check_factor_proof(&state, &user, proof).await?;
    }
    let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect();
    let (challenge, registration) = rp
        .start_passkey_registration(user.id.0, &user.email, &user.name, Some(exclude))
        .map_err(DomainError::internal)?;
    state
        .store
        .put_passkey_ceremony(
            Ceremony::Register,
            &registration_key(user.id),
            user.id,
            &to_json(&registration)?,
            Timestamp::now().plus_seconds(MFA_TOKEN_SECS),
        )
        .await?;
    Ok(Json(options(&challenge)?))
}

#[derive(Deserialize, ToSchema)]
pub struct FinishRegistration {
    /// What to call it ("Laptop", "Phone").
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.create` (binary
    /// fields in base64url).
    #[schema(schema_with = crate::fields::webauthn_credential)]
    pub credential: Value,
}

/// `POST /auth/mfa/passkeys`: finishes the registration started last: the new passkey.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn finish_registration(
    State(state): State<AppState>,
    Myself(me): Myself,
    ApiJson(req): ApiJson<FinishRegistration>,
) -> ApiResult<(StatusCode, Json<PasskeySummary>)> {
    let name = rules::display_name("name", &req.name)?;
    let rp = relying_party(&state)?;
    let user = me.user_id();
    let Some(registration) = state
        .store
        .take_passkey_ceremony(Ceremony::Register, &registration_key(user), user)
        .await?
    else {
        return Err(DomainError::conflict(
            "passkey_registration_expired",
            "no passkey registration is under way (or it expired): start again",
        )
        .into());
    };
    let registration: PasskeyRegistration = from_json(&registration)?;
    // Any answer spends the registration, a malformed one too (start again).
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(req.credential).map_err(|_| {
            DomainError::invalid("credential", "must be the browser's PublicKeyCredential")
        })?;
    let passkey = rp
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| {
            DomainError::invalid(
                "credential",
                format!("the authenticator's answer does not verify ({e}): start again"),
            )
        })?;
    let added = state
        .store
        .add_passkey(user, passkey.cred_id().as_ref(), &name, &to_json(&passkey)?)
        .await?;
    match added {
        Some(summary) => Ok((StatusCode::CREATED, Json(summary))),
        None => Err(
            DomainError::conflict("passkey_exists", "this passkey is registered already").into(),
        ),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RemovePasskey {
    /// Your password, again.
    #[schema(schema_with = crate::fields::any_text)]
    pub password: String,
    /// A proof of one of your second factors (a code, a recovery code, or an answer of one of
    /// your passkeys, this one too).
    #[serde(flatten)]
    pub proof: FactorProof,
}

/// `DELETE /auth/mfa/passkeys/{id}`: removes one of the caller's passkeys (the password
/// again, and a proof of a second factor).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove(
    State(state): State<AppState>,
    Myself(me): Myself,
    client: ClientInfo,
    Id(id): Id<PasskeyId>,
    ApiJson(req): ApiJson<RemovePasskey>,
) -> ApiResult<StatusCode> {
    let user = state.store.user(me.user_id()).await?;
    recheck_password(&state, &client, &user, &req.password).await?;
    let proof = factor_proof(&req.proof, user.id)?;
    let stored = state.store.passkeys(user.id).await?;
    if !stored.iter().any(|p| p.summary.id == id) {
        return Err(DomainError::NotFound("passkey").into());
    }
    check_factor_proof(&state, &user, &proof).await?;
    if state.store.delete_passkey(user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(DomainError::NotFound("passkey").into())
    }
}

/// `POST /auth/mfa/passkeys/confirmation`: the options for the browser to prove one of the
/// caller's passkeys before their second factors change; the answer goes, as `passkey`, with
/// the request that changes them. Asking again replaces the options; they expire within five
/// minutes.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn confirmation_options(
    State(state): State<AppState>,
    Myself(me): Myself,
) -> ApiResult<Json<PasskeyOptions>> {
    let user = me.user_id();
    let rp = relying_party(&state)?;
    let keys: Vec<Passkey> = credentials(&state.store.passkeys(user).await?)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if keys.is_empty() {
        return Err(DomainError::conflict(
            "no_passkey",
            "you have no passkey: prove a second factor with a code of your authenticator app or a recovery code",
        )
        .into());
    }
    let (request, authentication) = rp
        .start_passkey_authentication(&keys)
        .map_err(DomainError::internal)?;
    state
        .store
        .put_passkey_ceremony(
            Ceremony::Confirm,
            &confirmation_key(user),
            user,
            &to_json(&authentication)?,
            Timestamp::now().plus_seconds(MFA_TOKEN_SECS),
        )
        .await?;
    Ok(Json(options(&request)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInOptionsRequest {
    /// The `mfaToken` the sign-in answered.
    #[schema(schema_with = crate::fields::mfa_token)]
    pub mfa_token: String,
}

/// `POST /auth/mfa/passkey/options`: the options for the browser to sign in with one of the
/// account's passkeys, for the sign-in of this `mfaToken`; its answer goes to
/// `POST /auth/mfa/verify` as `passkey`. Asking again replaces the options.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_in_options(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SignInOptionsRequest>,
) -> ApiResult<Json<PasskeyOptions>> {
    let token_hash = state.token_hash("mfa", req.mfa_token.trim());
    let Some((challenge, true)) = state.store.mfa_challenge(&token_hash).await? else {
        return Err(super::mfa::invalid_token());
    };
    let rp = relying_party(&state)?;
    let existing = credentials(&state.store.passkeys(challenge.user).await?)?;
    if existing.is_empty() {
        return Err(DomainError::conflict(
            "no_passkey",
            "this account has no passkey: use a code of the authenticator app",
        )
        .into());
    }
    let keys: Vec<Passkey> = existing.into_iter().map(|(_, p)| p).collect();
    let (request, authentication) = rp
        .start_passkey_authentication(&keys)
        .map_err(DomainError::internal)?;
    state
        .store
        .put_passkey_ceremony(
            Ceremony::SignIn,
            &token_hash,
            challenge.user,
            &to_json(&authentication)?,
            Timestamp::now().plus_seconds(MFA_TOKEN_SECS),
        )
        .await?;
    Ok(Json(options(&request)?))
}

/// A passkey's answer to a sign-in's options, as `POST /auth/mfa/verify` reads it; 422 when
/// it is not the shape of one.
pub fn assertion(raw: &Value) -> DomainResult<Box<PublicKeyCredential>> {
    serde_json::from_value(raw.clone()).map_err(|_| {
        DomainError::invalid(
            "passkey",
            "must be the browser's PublicKeyCredential from navigator.credentials.get",
        )
    })
}

fn refused() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
        "the passkey's answer is not valid for these options: ask for new options and try again",
    )
}

/// Checks `user`'s passkey answer to the options of the ceremony `purpose` keyed `key` (a
/// sign-in's: its `mfaToken`'s HMAC; a confirmation's: `confirmation_key`): the options are
/// taken once, whatever the outcome, so an answer (or a replay of it) is checked at most once.
/// Its signature counter must be above the stored one (unless the authenticator keeps none:
/// both zero), and is stored by a compare-and-set with the credential it was checked against,
/// with the last use. `Err` carries the login-activity reason.
pub async fn check_assertion(
    state: &AppState,
    user: &User,
    purpose: Ceremony,
    key: &[u8],
    credential: &PublicKeyCredential,
) -> ApiResult<Result<(), (&'static str, ApiError)>> {
    let rp = relying_party(state)?;
    let Some(authentication) = state
        .store
        .take_passkey_ceremony(purpose, key, user.id)
        .await?
    else {
        return Ok(Err((reason::WRONG_PASSKEY, refused())));
    };
    let authentication: PasskeyAuthentication = from_json(&authentication)?;
    // (webauthn-rs refuses a counter not above the one stored when the options were made.)
    let Ok(result) = rp.finish_passkey_authentication(credential, &authentication) else {
        return Ok(Err((reason::WRONG_PASSKEY, refused())));
    };
    for stored in state.store.passkeys(user.id).await? {
        let mut passkey: Passkey = from_json(&stored.credential)?;
        if passkey.update_credential(&result).is_none() {
            continue;
        }
        // The counter stored now (another answer may have moved it since the options).
        let counter = u64::from(result.counter());
        let before = stored_counter(&stored.credential)?;
        let forward = counter > before || (counter == 0 && before == 0);
        let recorded = forward
            && state
                .store
                .passkey_used(
                    user.id,
                    stored.summary.id,
                    &stored.credential,
                    &to_json(&passkey)?,
                )
                .await?;
        return Ok(if recorded {
            Ok(())
        } else {
            Err((reason::PASSKEY_COUNTER, refused()))
        });
    }
    // Removed between the options and the answer.
    Ok(Err((reason::WRONG_PASSKEY, refused())))
}
