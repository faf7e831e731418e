//! The routes of organizations (SPEC §7): the instance admin's, the active organization's
//! settings and members, and switching organization.

use super::RouteDef;
use crate::api::organizations::*;
use crate::api::session::{Me, SwitchOrganizationRequest, switch_organization};
use crate::openapi::{body, list};
use axum::http::Method;
use flowspace_core::model::{Organization, OrganizationSummary, User};

pub(super) fn organizations() -> Vec<RouteDef> {
    use crate::auth::Guard::*;
    use Method as M;
    vec![
        RouteDef::new(M::GET, "/organizations", SignedIn, crate::api::organizations::list)
            .doc("organizations", "Every organization for the instance admin (names, status and member counts: nothing inside); the caller's own otherwise; by name, in one page; q searches names")
            .ok(200, list::<OrganizationSummary>())
            .searched_by("Only those whose name contains this, case-insensitively"),
        RouteDef::new(M::POST, "/organizations", OrgCreator, create)
            .doc("organizations", "Create an organization with its Default workspace, built-in roles and first owner: an existing account is added at once, a new email is invited (the link is answered when SMTP is off)")
            .req(body::<CreateOrganization>())
            .ok(201, body::<CreatedOrganization>()),
        RouteDef::new(M::PATCH, "/organizations/{id}", InstanceAdmin, set_status)
            .doc("organizations", "Suspend or reactivate an organization: a suspended one answers 403 organization_suspended to its members and API keys")
            .req(body::<OrganizationStatusInput>())
            .ok(200, body::<Organization>()),
        RouteDef::new(M::DELETE, "/organizations/{id}", InstanceAdmin, delete)
            .doc("organizations", "Delete an organization and everything in it, in one transaction; its members' sessions fall back to another organization or to none")
            .empty(204)
            .may(409, "The installation's last organization cannot be deleted"),
        RouteDef::new(M::POST, "/auth/switch-organization", SignedIn, switch_organization)
            .doc("auth", "Make another organization the active one, landing in the workspace used last there")
            .req(body::<SwitchOrganizationRequest>())
            .ok(200, body::<Me>()),
        RouteDef::new(M::GET, "/organization", OrgMember, get)
            .doc("organizations", "The active organization and its settings")
            .ok(200, body::<Organization>()),
        RouteDef::new(M::PATCH, "/organization", AccountAdmin, update)
            .doc("organizations", "Change the active organization's name and settings (the SSO and MFA policy: owners only); audited with before and after")
            .req(body::<OrganizationPatch>())
            .ok(200, body::<Organization>()),
        RouteDef::new(M::GET, "/organization/members", AccountAdmin, members)
            .doc("organizations", "The active organization's members with their organization roles, owners first, then by email, in one page; q searches names and emails")
            .ok(200, list::<flowspace_core::model::OrgMember>())
            .searched_by("Only those whose name or email contains this, case-insensitively"),
        RouteDef::new(M::PATCH, "/organization/members/{id}", AccountAdmin, set_member_role)
            .doc("organizations", "Set a member's organization role (only owners make or unmake owners; the last active owner stays one: 409)")
            .req(body::<MemberRoleInput>())
            .ok(200, body::<User>()),
        RouteDef::new(M::DELETE, "/organization/members/{id}", AccountAdmin, remove_member)
            .doc("organizations", "Remove a member from the organization (never the last active owner: 409)")
            .empty(204),
    ]
}
