//! Authorization: the only place where a scope is made.
//!
//! The store loads the rows authorization needs from the *current* database state on every
//! request (rule 3); this module computes what they amount to (`user_standing`,
//! `api_key_standing`) and decides. Every scope has private fields and is made only here, by a
//! function that checks the caller's standing:
//!
//! - `WorkspaceScope` (`authorize`): one permission in one workspace; every store method on a
//!   workspace table takes one and filters by its workspace.
//! - `AdminScope` (`authorize_account_admin`): the Account Admin, as a user.
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
    authorize, authorize_account_admin, authorize_audit, authorize_each, authorize_self,
    authorize_views,
};
pub use facts::{Actor, CallerFacts, WorkspaceFacts};
pub use invitations::invitation_stands;
pub use scopes::{AdminScope, AuditScope, SelfScope, ViewsScope, WorkspaceScope, WorkspacesScope};
pub use standing::{ACCOUNT_ADMIN_ROLE, API_KEY_ROLE, HeldRole, api_key_standing, user_standing};
