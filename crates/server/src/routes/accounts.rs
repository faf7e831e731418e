//! The routes of invitations, sign-up, password reset and the caller's own profile.

use super::RouteDef;
use crate::api::invitations::*;
use crate::api::password_reset::*;
use crate::api::profile::*;
use crate::api::registration::*;
use crate::api::sessions;
use crate::openapi::{body, list};
use axum::http::Method;
use flowspace_core::model::{Session, SignedOut, User};
use flowspace_core::perm;
use flowspace_store::Invitation;

pub(super) fn invitations() -> Vec<RouteDef> {
    use crate::auth::Guard::*;
    use Method as M;
    vec![
        RouteDef::new(M::GET, "/invitations", EachWorkspace(perm!(Workspace, AddUser)), list_invitations)
            .doc("invitations", "Open invitations, newest first: all for the Account Admin, else those of the workspaces where the caller holds workspace:add-user; q searches emails")
            .ok(200, list::<Invitation>())
            .paged()
            .searched_by("Only those whose email contains this, case-insensitively"),
        RouteDef::new(M::POST, "/invitations", BodyWorkspace(perm!(Workspace, AddUser)), invite)
            .doc("invitations", "Invite an email into a workspace with a role (Account Admin, or workspace:add-user there and every permission of the role); an existing active user is added at once")
            .req(body::<InviteRequest>())
            .ok(201, body::<InviteResponse>()),
        RouteDef::new(M::GET, "/invitations/lookup", Public, lookup)
            .doc("invitations", "What a valid invitation token (the token from the link) invites to: email, organization, workspace and role names")
            .query("token", "The token from the invitation link", crate::fields::invitation_token)
            .ok(200, body::<InvitationPreview>())
            .may(422, "The token is missing or cannot be an invitation token")
            .may(404, "The invitation token is unknown, used or revoked")
            .may(410, "The invitation has expired")
            .may(429, "Too many look-ups from this address (see Retry-After)"),
        RouteDef::new(M::GET, "/invitations/{id}", Public, show)
            .doc("invitations", "Deprecated (answers for one more release): use GET /invitations/lookup?token=. What a valid invitation token ({id} is the token from the link) invites to")
            .deprecated()
            .ok(200, body::<InvitationPreview>())
            .may(404, "The invitation token is unknown, used or revoked")
            .may(410, "The invitation has expired")
            .may(429, "Too many look-ups from this address (see Retry-After)"),
        RouteDef::new(M::POST, "/invitations/{id}/resend", InvitationWorkspace(perm!(Workspace, AddUser)), resend)
            .doc("invitations", "Issue a new token for an open invitation and email it again; the old token stops working")
            .ok(200, body::<InviteResponse>()),
        RouteDef::new(M::DELETE, "/invitations/{id}", InvitationWorkspace(perm!(Workspace, AddUser)), revoke)
            .doc("invitations", "Revoke an open invitation: its link stops working")
            .empty(204),
        RouteDef::new(M::POST, "/auth/register", Public, register)
            .doc("auth", "Sign up from an invitation: activates the account, adds the membership and signs in, landing in the invited workspace (an existing account with two-factor sign-in gets `{mfaRequired, mfaToken}` instead, as from POST /auth/login)")
            .req(body::<RegisterRequest>())
            .ok(201, body::<crate::api::session::LoginAnswer>())
            .may(404, "The invitation token is unknown, used or revoked")
            .may(410, "The invitation has expired")
            .may(429, "Too many sign-ups from this address (see Retry-After)")
            .may(503, super::BUSY),
        RouteDef::new(M::POST, "/auth/forgot-password", Public, forgot_password)
            .doc("auth", "Email a password-reset link to an active account; answers 202 for every email")
            .req(body::<ForgotPasswordRequest>())
            .empty(202)
            .may(429, "Too many reset requests (see Retry-After)"),
        RouteDef::new(M::POST, "/auth/reset-password", Public, reset_password)
            .doc("auth", "Set a new password with a reset token; ends every session of the account")
            .req(body::<ResetPasswordRequest>())
            .empty(204)
            .may(404, "The reset token is unknown or was already used")
            .may(410, "The reset link has expired")
            .may(503, super::BUSY),
        RouteDef::new(M::GET, "/auth/sessions", SignedIn, sessions::list)
            .doc("auth", "Your open sessions: device (from the user agent), address, when signed in and last seen, and which is this one")
            .ok(200, list::<Session>()),
        RouteDef::new(M::DELETE, "/auth/sessions/{id}", SignedIn, sessions::revoke)
            .doc("auth", "End one of your sessions at once (on every replica); another user's is not found")
            .empty(204),
        RouteDef::new(M::POST, "/auth/sessions/revoke-others", SignedIn, sessions::revoke_others)
            .doc("auth", "Sign out everywhere else: end every session of yours but this one")
            .ok(200, body::<SignedOut>()),
        RouteDef::new(M::POST, "/users/{id}/sign-out", AccountAdmin, sessions::sign_out_user)
            .doc("users", "Sign a user out everywhere without disabling them: every session of the account ends (audited); only an owner signs out an owner")
            .ok(200, body::<SignedOut>()),
        RouteDef::new(M::PATCH, "/auth/me", SignedIn, patch_me)
            .doc("auth", "Change your own name, or your password (with the current one; ends your other sessions)")
            .req(body::<PatchMeRequest>())
            .ok(200, body::<User>())
            .may(401, "The current password is wrong (or left out with a new one)")
            .may(429, "Too many wrong passwords (see Retry-After)")
            .may(503, super::BUSY),
    ]
}
