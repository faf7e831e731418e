//! Multi-factor sign-in (SPEC §9): TOTP enrolment, activation and removal, the second step of
//! a sign-in (a code, a recovery code or a passkey: `api::passkeys`), and an owner's reset of
//! a member's second factors.
//!
//! The one hook into signing in is `after_first_factor`: whatever proved the first factor (a
//! password today, an SSO sign-in whose ID token's `amr` does not already say MFA) calls it,
//! and it either opens the session or answers `{mfaRequired, mfaToken}` and opens none.
//! `POST /auth/mfa/verify` then opens the session through the same `start_session`.
//!
//! Everything that must hold under parallel requests is one conditional statement in the store
//! (`flowspace_store::mfa`): a code is counted before it is checked (at most
//! `MAX_MFA_ATTEMPTS` per user until `MFA_LOCK_SECS` after the last; a passkey's answer counts
//! alike), a time step is accepted once, a recovery code, a passkey's options and an
//! `mfaToken` are spent once.

use crate::api::session::{ClientInfo, SignedIn, login_event, recheck_password, start_session};
use crate::auth::{Admin, Caller, Myself};
use crate::crypto::random_token;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::ids::{ItemId, UserId, WorkspaceId};
use flowspace_core::model::User;
use flowspace_core::rules::mfa::{self as rule, MAX_MFA_ATTEMPTS, MFA_LOCK_SECS, MFA_TOKEN_SECS};
use flowspace_core::rules::{self, SignIn};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use flowspace_store::{Ceremony, LoginOutcome, MfaAttempt, MfaChallenge, login_reason as reason};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, TOTP};
use utoipa::ToSchema;

/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "Flowspace";

/// The answer of a first factor when a second is needed: no session yet.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaRequired {
    /// Always true.
    pub mfa_required: bool,
    /// Send it to `POST /auth/mfa/verify` with a proof: single use, bound to this account.
    pub mfa_token: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// What the account can prove its second factor with: `totp` (a code of the
    /// authenticator app), `recoveryCode`, `passkey` (`POST /auth/mfa/passkey/options`).
    pub methods: Vec<&'static str>,
}

/// The second factors `status` offers at sign-in (`MfaRequired::methods`).
fn methods(status: &flowspace_store::MfaStatus) -> Vec<&'static str> {
    [
        (status.totp, "totp"),
        (
            status.totp && status.recovery_codes_left > 0,
            "recoveryCode",
        ),
        (status.passkeys > 0, "passkey"),
    ]
    .into_iter()
    .filter_map(|(has, m)| has.then_some(m))
    .collect()
}

/// After the first factor of `user` is proven: opens the session (landing in `land_in`), or,
/// when the account has a second factor, stores a challenge and answers `mfaRequired`.
pub async fn after_first_factor(
    state: &AppState,
    user: &User,
    land_in: Option<WorkspaceId>,
    client: &ClientInfo,
) -> ApiResult<SignedIn> {
    let status = state.store.mfa_status(user.id).await?;
    if !status.any() {
        return start_session(state, user, land_in, client).await;
    }
    let token = random_token();
    let challenge = MfaChallenge {
        user: user.id,
        workspace: land_in,
    };
    state
        .store
        .create_mfa_challenge(
            &state.token_hash("mfa", &token),
            challenge,
            Timestamp::now().plus_seconds(MFA_TOKEN_SECS),
        )
        .await?;
    Ok(SignedIn::second_step(MfaRequired {
        mfa_required: true,
        mfa_token: token,
        expires_in: MFA_TOKEN_SECS,
        methods: methods(&status),
    }))
}

/// A TOTP of `secret` as authenticator apps read it.
fn totp(secret: Vec<u8>, account: &str) -> DomainResult<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        rule::TOTP_DIGITS,
        1,
        rule::TOTP_STEP_SECS as u64,
        secret,
        Some(ISSUER.to_string()),
        // The otpauth label separates issuer and account with a colon.
        account.replace(':', "_"),
    )
    .map_err(DomainError::internal)
}

/// The sealed secret's associated data: the user's id, so a secret moved to another account
/// does not open.
fn aad(user: UserId) -> ItemId {
    ItemId(user.0)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The step `code` is of, within one step of now, for the user's TOTP secret.
async fn matching_step(
    state: &AppState,
    user: &User,
    code: &str,
    active: bool,
) -> ApiResult<Option<i64>> {
    let Some(stored) = state.store.totp(user.id).await? else {
        return Ok(None);
    };
    if stored.active != active {
        return Ok(None);
    }
    let secret = state.secret_box.open(aad(user.id), &stored.sealed)?;
    let t = totp(secret, &user.email)?;
    let now = Timestamp::now().unix_seconds();
    Ok(rule::acceptable_steps(now).into_iter().find(|step| {
        let at = u64::try_from(step * rule::TOTP_STEP_SECS).unwrap_or(0);
        constant_time_eq(t.generate(at).as_bytes(), code.as_bytes())
    }))
}

/// How a second factor is proven.
pub(super) enum Proof {
    Code(String),
    Recovery(String),
    /// A passkey's answer to the options of the ceremony `ceremony` under `key`: a sign-in's
    /// (the HMAC of its `mfaToken`) or a change's (`Ceremony::Confirm`, the user's).
    Passkey {
        credential: Box<webauthn_rs::prelude::PublicKeyCredential>,
        ceremony: Ceremony,
        key: Vec<u8>,
    },
}

/// Exactly one of `code` and `recoveryCode`, each of its shape (422 otherwise).
fn proof(code: Option<&str>, recovery: Option<&str>) -> DomainResult<Proof> {
    match (code, recovery) {
        (Some(c), None) => Ok(Proof::Code(rule::totp_code("code", c)?)),
        (None, Some(r)) => Ok(Proof::Recovery(rule::recovery_code(r)?)),
        _ => Err(DomainError::invalid(
            "code",
            "send one of code (from your authenticator app), recoveryCode and passkey",
        )),
    }
}

/// Exactly one of `code`, `recoveryCode` and `passkey` (an answer to the options of the
/// ceremony `ceremony` under `key`), each of its shape (422 otherwise).
fn any_proof(
    code: Option<&str>,
    recovery: Option<&str>,
    passkey: Option<&serde_json::Value>,
    ceremony: Ceremony,
    key: &[u8],
) -> DomainResult<Proof> {
    match passkey {
        None => proof(code, recovery),
        Some(_) if code.is_some() || recovery.is_some() => Err(DomainError::invalid(
            "passkey",
            "send one of code, recoveryCode and passkey",
        )),
        Some(raw) => Ok(Proof::Passkey {
            credential: super::passkeys::assertion(raw)?,
            ceremony,
            key: key.to_vec(),
        }),
    }
}

/// The proof of a sign-in's second step (its passkey answers the options of the sign-in
/// whose `mfaToken` has the HMAC `token_hash`).
fn second_step_proof(req: &VerifyRequest, token_hash: &[u8]) -> DomainResult<Proof> {
    any_proof(
        req.code.as_deref(),
        req.recovery_code.as_deref(),
        req.passkey.as_ref(),
        Ceremony::SignIn,
        token_hash,
    )
}

/// A proof of one of the account's second factors, asked with the password before its
/// second factors change (SPEC §9; `check_factor_proof`).
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct FactorProof {
    /// A code of your authenticator app; or send `recoveryCode` or `passkey`.
    #[schema(schema_with = crate::fields::totp_code_or_null)]
    pub code: Option<String>,
    /// One of your recovery codes (spent).
    #[schema(schema_with = crate::fields::recovery_code_or_null)]
    pub recovery_code: Option<String>,
    /// One of your passkeys' answer (`navigator.credentials.get`) to the options of
    /// `POST /auth/mfa/passkeys/confirmation`.
    #[schema(schema_with = crate::fields::webauthn_credential_or_null)]
    pub passkey: Option<serde_json::Value>,
}

/// `user`'s proof of one of their second factors, before those change: exactly one of a
/// TOTP code, a recovery code and a passkey's answer to the options of
/// `POST /auth/mfa/passkeys/confirmation`, each of its shape (422 otherwise).
pub(super) fn factor_proof(p: &FactorProof, user: UserId) -> DomainResult<Proof> {
    any_proof(
        p.code.as_deref(),
        p.recovery_code.as_deref(),
        p.passkey.as_ref(),
        Ceremony::Confirm,
        &super::passkeys::confirmation_key(user),
    )
}

/// Checks a `factor_proof` of `user`: 401 when wrong; counted with the sign-in's second
/// steps (429 after five wrong ones); a recovery code, a TOTP code's step and a passkey's
/// options are spent as at sign-in.
pub(super) async fn check_factor_proof(
    state: &AppState,
    user: &User,
    proof: &Proof,
) -> ApiResult<()> {
    match check_proof(state, user, proof).await? {
        Ok(()) => Ok(()),
        Err((_, e)) => Err(e),
    }
}

/// Why a proof was refused, with its login-activity reason.
fn refused(why: &'static str) -> (&'static str, ApiError) {
    let e = match why {
        reason::REUSED_CODE => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "mfa_code_reused",
            "this code was used already: wait for the next one",
        ),
        reason::WRONG_RECOVERY_CODE => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_recovery_code",
            "the recovery code is wrong or was used already",
        ),
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_mfa_code",
            "the code is wrong",
        ),
    };
    (why, e)
}

/// The second step of `user` locked: 429 with `Retry-After`.
fn locked(wait: i64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "too many wrong codes: try again later",
    )
    .detail("retryAfter", wait);
    e.retry_after = Some(u32::try_from(wait.max(1)).unwrap_or(u32::MAX));
    e
}

/// Checks a proof of `user`'s second factor: counted first (so parallel guesses cannot check
/// more than the limit), then a TOTP code of an acceptable step not accepted before, or an
/// unused recovery code, which is spent. `Err` carries the login-activity reason.
async fn check_proof(
    state: &AppState,
    user: &User,
    proof: &Proof,
) -> ApiResult<Result<(), (&'static str, ApiError)>> {
    if let MfaAttempt::Locked(wait) = state
        .store
        .count_mfa_attempt(user.id, MAX_MFA_ATTEMPTS, MFA_LOCK_SECS)
        .await?
    {
        return Ok(Err((reason::LOCKED_OUT, locked(wait))));
    }
    let outcome = match proof {
        Proof::Code(code) => match matching_step(state, user, code, true).await? {
            None => Err(refused(reason::WRONG_CODE)),
            Some(step) if state.store.accept_totp_step(user.id, step).await? => Ok(()),
            Some(_) => Err(refused(reason::REUSED_CODE)),
        },
        Proof::Recovery(code) => {
            let hash = state.token_hash("recovery", code);
            if state.store.use_recovery_code(user.id, &hash).await? {
                Ok(())
            } else {
                Err(refused(reason::WRONG_RECOVERY_CODE))
            }
        }
        Proof::Passkey {
            credential,
            ceremony,
            key,
        } => super::passkeys::check_assertion(state, user, *ceremony, key, credential).await?,
    };
    if outcome.is_ok() {
        state.store.clear_mfa_attempts(user.id).await?;
    }
    Ok(outcome)
}

/// Records a refused second step of `user` (or of an unknown token: `None`).
async fn record_failure(
    state: &AppState,
    user: Option<&User>,
    client: &ClientInfo,
    why: &'static str,
) -> ApiResult<()> {
    let ev = login_event(user, "", client, LoginOutcome::MfaFailure, Some(why));
    Ok(state.store.record_login_event(&ev).await?)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    /// The `mfaToken` the sign-in answered.
    #[schema(schema_with = crate::fields::mfa_token)]
    pub mfa_token: String,
    /// The 6-digit code of the authenticator app; or send `recoveryCode`.
    #[schema(schema_with = crate::fields::totp_code_or_null)]
    pub code: Option<String>,
    /// One of the recovery codes (each works once).
    #[schema(schema_with = crate::fields::recovery_code_or_null)]
    pub recovery_code: Option<String>,
    /// A passkey's answer (`navigator.credentials.get`) to the options of
    /// `POST /auth/mfa/passkey/options` for this `mfaToken`.
    #[schema(schema_with = crate::fields::webauthn_credential_or_null)]
    pub passkey: Option<serde_json::Value>,
}

/// 401 `invalid_mfa_token`: the second step's token is unknown, expired or spent.
pub fn invalid_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
        "the sign-in has expired or was finished already: sign in again",
    )
}

/// `POST /auth/mfa/verify`: the second step of a sign-in, with a code, a recovery code or a
/// passkey's answer. Answers what `POST /auth/login`
/// answers without MFA (a session, with the dashboard's cookies); every attempt is in the
/// login activity.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> ApiResult<SignedIn> {
    let token_hash = state.token_hash("mfa", req.mfa_token.trim());
    let (challenge, user) = match state.store.mfa_challenge(&token_hash).await? {
        Some((challenge, true)) => (challenge, state.store.user(challenge.user).await?),
        found => {
            // Expired or spent: whose it was is known (and recorded), but it is refused alike.
            let user = match found {
                Some((c, _)) => state.store.user(c.user).await.ok(),
                None => None,
            };
            record_failure(&state, user.as_ref(), &client, reason::INVALID_MFA_TOKEN).await?;
            return Err(invalid_token());
        }
    };
    let proof = match second_step_proof(&req, &token_hash) {
        Ok(p) => p,
        Err(e) => {
            record_failure(&state, Some(&user), &client, reason::MALFORMED_CODE).await?;
            return Err(e.into());
        }
    };
    if let Err((why, e)) = check_proof(&state, &user, &proof).await? {
        record_failure(&state, Some(&user), &client, why).await?;
        return Err(e);
    }
    // Spent only by a right proof, and only once: of two right proofs racing, one signs in.
    if !state.store.spend_mfa_challenge(&token_hash).await? {
        record_failure(&state, Some(&user), &client, reason::INVALID_MFA_TOKEN).await?;
        return Err(invalid_token());
    }
    if rules::sign_in(user.status) != SignIn::Allowed {
        record_failure(&state, Some(&user), &client, reason::DISABLED).await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "account_disabled",
            "this account is disabled",
        ));
    }
    let signed_in = start_session(&state, &user, challenge.workspace, &client).await?;
    let ev = login_event(Some(&user), "", &client, LoginOutcome::Success, None);
    state.store.record_login_event(&ev).await?;
    Ok(signed_in)
}

/// What the caller has set up, and whether their organization makes them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaStatusBody {
    /// An authenticator app (TOTP) is active.
    pub totp: bool,
    pub recovery_codes_left: i64,
    /// Passkeys registered (`GET /auth/mfa/passkeys`).
    pub passkeys: i64,
    /// The active organization requires MFA and none is set up: only enrolling is allowed.
    pub enrollment_required: bool,
}

/// `GET /auth/mfa`: the caller's second factors.
pub async fn status(
    State(state): State<AppState>,
    Myself(me): Myself,
    caller: Caller,
) -> ApiResult<Json<MfaStatusBody>> {
    let s = state.store.mfa_status(me.user_id()).await?;
    Ok(Json(MfaStatusBody {
        totp: s.totp,
        recovery_codes_left: s.recovery_codes_left,
        passkeys: s.passkeys,
        enrollment_required: caller.facts.mfa_pending,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct EnrollRequest {
    /// Your password, again.
    #[schema(schema_with = crate::fields::any_text)]
    pub password: String,
    /// When you have a passkey: a proof of a second factor (its answer to
    /// `POST /auth/mfa/passkeys/confirmation`); otherwise left out.
    #[serde(flatten)]
    pub proof: FactorProof,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Enrollment {
    /// The secret in base32, to type into an authenticator app.
    pub secret: String,
    /// The `otpauth://totp/...` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code of `otpauthUri`, as an SVG document.
    pub qr_svg: String,
}

fn already_enabled() -> ApiError {
    DomainError::conflict(
        "mfa_already_enabled",
        "an authenticator app is set up already: remove it first",
    )
    .into()
}

/// `POST /auth/mfa/totp/enroll`: a new TOTP secret (inactive until a code activates it); 409
/// while one is active. An account with a passkey proves it too (adding a second factor to
/// an account that has one takes a proof of it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn enroll(
    State(state): State<AppState>,
    Myself(me): Myself,
    client: ClientInfo,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<Enrollment>)> {
    let user = state.store.user(me.user_id()).await?;
    recheck_password(&state, &client, &user, &req.password).await?;
    let status = state.store.mfa_status(user.id).await?;
    if status.totp {
        return Err(already_enabled());
    }
    if status.any() {
        let proof = factor_proof(&req.proof, user.id)?;
        check_factor_proof(&state, &user, &proof).await?;
    }
    let mut secret = vec![0u8; rule::TOTP_SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let sealed = state.secret_box.seal(aad(user.id), &secret)?;
    if !state.store.enroll_totp(user.id, &sealed).await? {
        return Err(already_enabled());
    }
    let t = totp(secret, &user.email)?;
    let uri = t.get_url();
    let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(DomainError::internal)?;
    let svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok((
        StatusCode::CREATED,
        Json(Enrollment {
            secret: t.get_secret_base32(),
            otpauth_uri: uri,
            qr_svg: svg,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct ActivateRequest {
    /// A code the authenticator app shows for the new secret.
    #[schema(schema_with = crate::fields::totp_code)]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    /// Shown this once: each signs in once instead of a code.
    pub recovery_codes: Vec<String>,
}

/// `POST /auth/mfa/totp/activate`: a code of the enrolled secret turns MFA on and answers 10
/// recovery codes, once.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn activate(
    State(state): State<AppState>,
    Myself(me): Myself,
    ApiJson(req): ApiJson<ActivateRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    let code = rule::totp_code("code", &req.code)?;
    let user = state.store.user(me.user_id()).await?;
    match state.store.totp(user.id).await? {
        Some(t) if !t.active => {}
        Some(_) => {
            return Err(DomainError::conflict(
                "mfa_already_enabled",
                "an authenticator app is set up already",
            )
            .into());
        }
        None => {
            return Err(DomainError::conflict(
                "mfa_not_enrolled",
                "enrol first (POST /api/v1/auth/mfa/totp/enroll)",
            )
            .into());
        }
    }
    if let MfaAttempt::Locked(wait) = state
        .store
        .count_mfa_attempt(user.id, MAX_MFA_ATTEMPTS, MFA_LOCK_SECS)
        .await?
    {
        return Err(locked(wait));
    }
    let Some(step) = matching_step(&state, &user, &code, false).await? else {
        return Err(refused(reason::WRONG_CODE).1.detail("field", "code"));
    };
    state.store.clear_mfa_attempts(user.id).await?;
    let codes: Vec<String> = (0..rule::RECOVERY_CODES)
        .map(|_| {
            let mut b = [0u8; rule::RECOVERY_CODE_CHARS];
            rand::rngs::OsRng.fill_bytes(&mut b);
            rule::format_recovery_code(&b)
        })
        .collect();
    let hashes: DomainResult<Vec<Vec<u8>>> = codes
        .iter()
        .map(|c| Ok(state.token_hash("recovery", &rule::recovery_code(c)?)))
        .collect();
    if !state.store.activate_totp(user.id, step, &hashes?).await? {
        return Err(DomainError::conflict(
            "mfa_already_enabled",
            "an authenticator app is set up already",
        )
        .into());
    }
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct RemoveRequest {
    /// Your password, again.
    #[schema(schema_with = crate::fields::any_text)]
    pub password: String,
    /// A code of the authenticator app, a recovery code, or a passkey's answer.
    #[serde(flatten)]
    pub proof: FactorProof,
}

/// `DELETE /auth/mfa/totp`: turns the authenticator app off (passkeys stay), with the
/// password and a proof of a second factor (a code, a recovery code or a passkey).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove(
    State(state): State<AppState>,
    Myself(me): Myself,
    client: ClientInfo,
    ApiJson(req): ApiJson<RemoveRequest>,
) -> ApiResult<StatusCode> {
    // The password first: without it, nothing about the request is answered (a missing code
    // is a 422 only for the account's owner).
    let user = state.store.user(me.user_id()).await?;
    recheck_password(&state, &client, &user, &req.password).await?;
    let proof = factor_proof(&req.proof, user.id)?;
    if !state.store.mfa_status(user.id).await?.totp {
        return Err(DomainError::NotFound("authenticator app").into());
    }
    check_factor_proof(&state, &user, &proof).await?;
    state.store.remove_totp(user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the notice of a reset went out.
#[derive(Serialize, ToSchema)]
pub struct MfaReset {
    pub mail: crate::mail::MailStatus,
}

/// `DELETE /organization/members/{id}/mfa`: an owner removes a member's second factors (they
/// sign in with their password alone, and enrol again where the policy says so); audited, and
/// the member is emailed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reset_member(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<UserId>,
) -> ApiResult<Json<MfaReset>> {
    let member = state.store.reset_member_mfa(&admin, id).await?;
    let owner = state.store.user(admin.user_id()).await?;
    let org = state.store.organization(admin.org()).await?;
    let email = crate::mail::mfa_reset_email(
        &member.email,
        &member.name,
        &owner.name,
        &org.name,
        &state.mailer.login_link(),
    )?;
    let mail = state.mailer.send(email).await;
    Ok(Json(MfaReset { mail }))
}
