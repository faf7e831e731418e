//! What authorization knows about a caller: who acts, and their standing in the active
//! workspace, loaded by the store from the current database state on every request (rule 3).

use crate::ids::{ItemId, OrganizationId, UserId, WorkspaceId};
use crate::model::OrgRole;
use crate::permissions::PermissionSet;

/// Who acts: a signed-in user, or an API key (acting for the user who created it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    ApiKey { key: ItemId, creator: UserId },
}

impl Actor {
    /// The user the action is attributed to (`createdBy`, `updatedBy`).
    pub fn user_id(&self) -> UserId {
        match self {
            Actor::User(u) => *u,
            Actor::ApiKey { creator, .. } => *creator,
        }
    }
}

/// What the caller may do in one workspace, from the current memberships and roles.
#[derive(Clone, Debug)]
pub struct WorkspaceFacts {
    pub workspace: WorkspaceId,
    /// The role's name for 403 bodies (`None` when the caller holds no role there).
    pub role: Option<String>,
    pub permissions: PermissionSet,
    /// The workspace's items version, when the store read it while loading these facts for
    /// this request: its list cache may then answer without reading it again.
    pub items_version: Option<i64>,
}

/// The caller's active organization (SPEC §7): their role there, and whether it is suspended.
#[derive(Clone, Copy, Debug)]
pub struct OrgFacts {
    pub id: OrganizationId,
    /// The role of the user (for an API key: of its creator).
    pub role: OrgRole,
    pub suspended: bool,
}

/// Everything authorization needs to know about a caller, loaded fresh for each request.
#[derive(Clone, Debug)]
pub struct CallerFacts {
    pub actor: Actor,
    /// The person who set the installation up (never through an API key).
    pub is_instance_admin: bool,
    /// The active organization: `None` for a user who belongs to none.
    pub organization: Option<OrgFacts>,
    /// The active workspace and the caller's standing in it, if there is one (always in the
    /// active organization).
    pub workspace: Option<WorkspaceFacts>,
    /// Where the request comes from, for the audit trail (set by the server, not the store).
    pub ip: Option<String>,
    /// The active organization requires MFA and this signed-in user has none set up yet: they
    /// may only enrol (SPEC §9, `rules::mfa::enrollment_pending`).
    pub mfa_pending: bool,
}

impl CallerFacts {
    /// An owner or admin of the active organization, signed in as a user: the Account Admin of
    /// SPEC §1–6 (an API key never is, whoever created it).
    pub fn is_account_admin(&self) -> bool {
        matches!(self.actor, Actor::User(_)) && self.organization.is_some_and(|o| o.role.is_admin())
    }
    /// The active organization's id.
    pub fn organization_id(&self) -> Option<OrganizationId> {
        self.organization.map(|o| o.id)
    }
}

/// A caller for the tests of `authz`'s rooms.
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    /// A caller of a fresh organization whose active workspace gives `perms` under the role
    /// name "Viewer".
    pub fn facts(perms: PermissionSet, admin: bool, actor: Actor) -> CallerFacts {
        CallerFacts {
            actor,
            is_instance_admin: false,
            organization: Some(OrgFacts {
                id: OrganizationId::new(),
                role: if admin {
                    OrgRole::Admin
                } else {
                    OrgRole::Member
                },
                suspended: false,
            }),
            workspace: Some(WorkspaceFacts {
                workspace: WorkspaceId::new(),
                role: Some("Viewer".into()),
                permissions: perms,
                items_version: None,
            }),
            ip: None,
            mfa_pending: false,
        }
    }
}
