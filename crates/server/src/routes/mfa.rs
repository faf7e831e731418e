//! The routes of two-factor sign-in (SPEC §9; `api::mfa`).

use super::RouteDef;
use crate::api::mfa::*;
use crate::api::passkeys;
use crate::openapi::body;
use axum::http::Method;

pub(super) fn mfa() -> Vec<RouteDef> {
    use crate::auth::Guard::*;
    use Method as M;
    vec![
        RouteDef::new(M::POST, "/auth/mfa/verify", Public, verify)
            .doc("auth", "The second step of a sign-in: the mfaToken with a code of the authenticator app, a recovery code, or a passkey's answer to POST /auth/mfa/passkey/options; answers what POST /auth/login answers without MFA")
            .req(body::<VerifyRequest>())
            .ok(200, body::<crate::api::session::LoginResponse>())
            .may(401, "The mfaToken is unknown, expired or spent; or the code is wrong, already used, or the recovery code wrong or used; or the passkey's answer does not verify or answers no open options of this sign-in")
            .may(429, "Five wrong codes: the second step is locked for this account (see Retry-After)"),
        RouteDef::new(M::GET, "/auth/mfa", Enrolling, status)
            .doc("auth", "Your second factors, and whether your organization requires you to set one up")
            .ok(200, body::<MfaStatusBody>()),
        RouteDef::new(M::POST, "/auth/mfa/totp/enroll", Enrolling, enroll)
            .doc("auth", "Start setting up an authenticator app (password again, and, when you have a passkey, its answer to POST /auth/mfa/passkeys/confirmation): its secret, otpauth URI and QR code (SVG); inactive until activated")
            .req(body::<EnrollRequest>())
            .ok(201, body::<Enrollment>())
            .may(401, "The password or the passkey's answer is wrong")
            .may(409, "An authenticator app is set up already")
            .may(422, "You have a passkey and sent no proof of a second factor, or a malformed one")
            .may(429, "Too many wrong passwords or proofs (see Retry-After)")
            .may(503, super::BUSY),
        RouteDef::new(M::POST, "/auth/mfa/totp/activate", Enrolling, activate)
            .doc("auth", "Turn the enrolled authenticator app on with one of its codes; answers 10 recovery codes, shown once")
            .req(body::<ActivateRequest>())
            .ok(200, body::<RecoveryCodes>())
            .may(401, "The code is wrong")
            .may(409, "Nothing is enrolled, or it is active already")
            .may(429, "Too many wrong codes (see Retry-After)"),
        RouteDef::new(M::DELETE, "/auth/mfa/totp", Enrolling, remove)
            .doc("auth", "Turn the authenticator app off (and forget the recovery codes), with the password and a proof of a second factor: a code, a recovery code, or a passkey's answer to POST /auth/mfa/passkeys/confirmation")
            .req(body::<RemoveRequest>())
            .empty(204)
            .may(401, "The password, the code, the recovery code or the passkey's answer is wrong")
            .may(429, "Too many wrong codes or passwords (see Retry-After)")
            .may(503, super::BUSY),
        RouteDef::new(M::POST, "/auth/mfa/passkey/options", Public, passkeys::sign_in_options)
            .doc("auth", "The second step of a sign-in with a passkey: for the mfaToken, the options for navigator.credentials.get; send its answer to POST /auth/mfa/verify as passkey (asking again replaces the options)")
            .req(body::<passkeys::SignInOptionsRequest>())
            .ok(200, body::<passkeys::PasskeyOptions>())
            .may(401, "The mfaToken is unknown, expired or spent")
            .may(409, "The account has no passkey, or passkeys are unavailable (APP_URL names no domain)"),
        RouteDef::new(M::GET, "/auth/mfa/passkeys", Enrolling, passkeys::list)
            .doc("auth", "Your passkeys")
            .ok(200, body::<passkeys::PasskeyList>()),
        RouteDef::new(M::POST, "/auth/mfa/passkeys/confirmation", Enrolling, passkeys::confirmation_options)
            .doc("auth", "The options for navigator.credentials.get to prove one of your passkeys before your second factors change: send its answer as passkey with the change (asking again replaces the options)")
            .ok(200, body::<passkeys::PasskeyOptions>())
            .may(409, "You have no passkey, or passkeys are unavailable (APP_URL names no domain)"),
        RouteDef::new(M::POST, "/auth/mfa/passkeys/registration", Enrolling, passkeys::start_registration)
            .doc("auth", "Start registering a passkey (password again, and, when you have an authenticator app or a passkey already, a proof of one: a code, a recovery code or a passkey's answer to POST /auth/mfa/passkeys/confirmation): the options for navigator.credentials.create; finish within five minutes with POST /auth/mfa/passkeys")
            .req(body::<passkeys::StartRegistration>())
            .ok(200, body::<passkeys::PasskeyOptions>())
            .may(401, "The password, the code, the recovery code or the passkey's answer is wrong")
            .may(409, "Passkeys are unavailable (APP_URL names no domain), or you hold 20 already")
            .may(422, "You have a second factor and sent no proof of it, or more than one, or a malformed one")
            .may(429, "Too many wrong passwords or proofs (see Retry-After)")
            .may(503, super::BUSY),
        RouteDef::new(M::POST, "/auth/mfa/passkeys", Enrolling, passkeys::finish_registration)
            .doc("auth", "Finish registering a passkey with the browser's answer to the options of the registration started last; it then counts as a second factor")
            .req(body::<passkeys::FinishRegistration>())
            .ok(201, body::<flowspace_store::PasskeySummary>())
            .may(409, "No registration is under way (or it expired), the passkey is registered already, or passkeys are unavailable")
            .may(422, "The credential is not the browser's answer, or it does not verify"),
        RouteDef::new(M::DELETE, "/auth/mfa/passkeys/{id}", Enrolling, passkeys::remove)
            .doc("auth", "Remove one of your passkeys (password again, and a proof of a second factor: a code, a recovery code, or a passkey's answer to POST /auth/mfa/passkeys/confirmation)")
            .req(body::<passkeys::RemovePasskey>())
            .empty(204)
            .may(401, "The password, the code, the recovery code or the passkey's answer is wrong")
            .may(404, "You have no passkey of this id")
            .may(422, "No proof of a second factor, more than one, or a malformed one")
            .may(429, "Too many wrong passwords or proofs (see Retry-After)")
            .may(503, super::BUSY),
        RouteDef::new(M::DELETE, "/organization/members/{id}/mfa", Owner, reset_member)
            .doc("organizations", "Reset a member's two-factor sign-in (owners): their authenticator app, recovery codes and passkeys are removed; audited, and the member is emailed")
            .ok(200, body::<MfaReset>())
            .may(409, "The member is not active here, or also belongs to another organization (mfa_reset_not_allowed)"),
    ]
}
