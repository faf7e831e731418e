//! Authorization: the only place where a scope is made.
//!
//! The store loads the rows authorization needs from the *current* database state on every
//! request (rule 3); this module computes what they amount to (`user_standing`,
//! `api_key_standing`) and decides. Every scope has private fields and is made only here, by a
//! function that checks the caller's standing:
//!
//! - `WorkspaceScope` (`authorize`): one permission in one workspace; every store method on a
//!   workspace table takes one and filters by its workspace.
//! - `OrgScope` (`authorize_org_member`): an active member of the active organization (which is
//!   not suspended), as a user; every store method on an organization's own tables takes one.
//! - `AdminScope` (`authorize_account_admin`, `authorize_owner`): an owner or admin of the
//!   active organization (the Account Admin of SPEC §1–6), as a user.
//! - `InstanceScope` (`authorize_instance_admin`): the instance admin, who manages
//!   organizations as a whole (SPEC §7).
//! - `CreatorScope` (`authorize_org_creation`): who may create an organization.
//! - `SelfScope` (`authorize_self`): a signed-in user acting on their own account.
//! - `AuditScope` (`authorize_audit`): the audit events the caller may read, the whole
//!   organization or one workspace; the store filters by it.
//! - `WorkspacesScope` (`authorize_each`): the workspaces where the caller holds a permission,
//!   for lists that span workspaces (open invitations); `AdminScope::every_workspace` narrows
//!   the Account Admin's scope to it (all of them).
//! - `ViewsScope` (`authorize_views`): what the caller may view in each workspace, for a read
//!   that looks beyond the active workspace (where a credential is used); refuses nobody.
//!
//! Its rooms: `facts.rs` (what the store loads about a caller), `standing.rs` (what the roles
//! held in a workspace amount to), `scopes.rs` (the scopes and what they carry), `decide.rs`
//! (the checks that make them), `api_keys.rs` (what a key may carry) and `invitations.rs`
//! (whether an invitation still stands). Everything is re-exported here: callers name
//! `flowspace_core::authz::X`.

mod api_keys;
mod decide;
mod facts;
mod invitations;
mod scopes;
mod standing;

pub use api_keys::{api_key_permissions, grantable_to_api_key};
pub use decide::{
    authorize, authorize_account_admin, authorize_audit, authorize_each, authorize_instance_admin,
    authorize_org_creation, authorize_org_member, authorize_owner, authorize_self, authorize_views,
    require_mfa_settled,
};
pub use facts::{Actor, CallerFacts, OrgFacts, WorkspaceFacts};
pub use invitations::invitation_stands;
pub use scopes::{
    AdminScope, AuditScope, CreatorScope, InOrganization, InstanceScope, OrgScope, SelfScope,
    ViewsScope, WorkspaceScope, WorkspacesScope,
};
pub use standing::{ACCOUNT_ADMIN_ROLE, API_KEY_ROLE, HeldRole, api_key_standing, user_standing};
