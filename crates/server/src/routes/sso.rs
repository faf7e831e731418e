//! The routes of single sign-on (SPEC §8): an owner's providers, the sign-in page's buttons,
//! and the OpenID Connect sign-in.

use super::RouteDef;
use crate::api::sso::*;
use crate::openapi::body;
use axum::http::Method;

pub(super) fn sso() -> Vec<RouteDef> {
    use crate::auth::Guard::*;
    use Method as M;
    vec![
        RouteDef::new(M::GET, "/organization/sso/providers", Owner, crate::api::sso::list)
            .doc("sso", "The active organization's OpenID Connect providers (never their secrets), with the redirect URI to register")
            .ok(200, crate::openapi::list::<ProviderView>()),
        RouteDef::new(M::POST, "/organization/sso/providers", Owner, create)
            .doc("sso", "Add an OpenID Connect provider: displayName, issuer, clientId and clientSecret (kept encrypted) required; audited")
            .req(body::<CreateProviderInput>())
            .ok(201, body::<ProviderView>()),
        RouteDef::new(M::GET, "/organization/sso/providers/{id}", Owner, get)
            .doc("sso", "One provider")
            .ok(200, body::<ProviderView>()),
        RouteDef::new(M::PATCH, "/organization/sso/providers/{id}", Owner, update)
            .doc("sso", "Change a provider (a new clientSecret replaces the old one); audited with before and after")
            .req(body::<ProviderInput>())
            .ok(200, body::<ProviderView>()),
        RouteDef::new(M::DELETE, "/organization/sso/providers/{id}", Owner, delete)
            .doc("sso", "Remove a provider; audited")
            .empty(204),
        RouteDef::new(M::POST, "/organization/sso/providers/{id}/test", Owner, test)
            .doc("sso", "Run the provider's discovery and fetch its keys, answering what failed")
            .ok(200, body::<ProviderTest>()),
        RouteDef::new(M::PUT, "/organization/members/{id}/break-glass", Owner, set_break_glass)
            .doc("sso", "Mark an owner break-glass: they may still sign in with a password while the organization requires SSO")
            .req(body::<BreakGlassInput>())
            .ok(200, body::<BreakGlass>()),
        RouteDef::new(M::GET, "/auth/sso-providers", Public, for_email)
            .doc("auth", "The single sign-on providers the sign-in page offers for an email: those listing its domain in `allowedDomains` (the same answer for every address of a domain)")
            .query("email", "The email typed on the sign-in page", crate::fields::any_text)
            .ok(200, crate::openapi::list::<SsoButton>()),
        RouteDef::new(M::GET, "/auth/oidc/{id}/start", Public, start)
            .doc("auth", "Start signing in with a provider: redirects (303) to it with a new flow (PKCE S256, state, nonce; single use, 10 minutes); `next` is a local path to land on")
            .empty(303)
            .may(502, "The provider cannot be reached"),
        RouteDef::new(M::GET, "/auth/oidc/callback", Public, callback)
            .doc("auth", "The provider's answer: verifies the flow and the ID token, signs in (cookies) and redirects (303) to `next`; every failure answers its reason and opens no session")
            .query("state", "The flow's state, as the provider sends it back", crate::fields::any_text)
            .empty(303)
            .may(400, "The state is unknown, used or expired, or the provider answered an error")
            .may(401, "The ID token failed verification")
            .may(403, "The account may not sign in this way (email not verified, domain not allowed, no provisioning, disabled)")
            .may(502, "The provider cannot be reached"),
    ]
}
