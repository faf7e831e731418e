//! The scopes: proofs that a caller passed a check, each one carrying what the store filters
//! by. Their fields are visible only inside `authz`, so that a scope is made only by the
//! function of `decide.rs` that checks the caller's standing.

use super::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, SessionId, UserId, WorkspaceId};
use crate::model::OrgRole;
use crate::permissions::{Permission, PermissionSet};
use crate::resource::ResourceKind;

/// Proof that the caller passed the membership and permission check for one workspace.
#[derive(Clone, Debug)]
pub struct WorkspaceScope {
    pub(super) organization: OrganizationId,
    pub(super) workspace: WorkspaceId,
    pub(super) actor: Actor,
    pub(super) is_account_admin: bool,
    pub(super) role: Option<String>,
    pub(super) permissions: PermissionSet,
    pub(super) ip: Option<String>,
    pub(super) items_version: Option<i64>,
}

impl WorkspaceScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    pub fn workspace(&self) -> WorkspaceId {
        self.workspace
    }
    pub fn actor(&self) -> Actor {
        self.actor
    }
    pub fn user_id(&self) -> UserId {
        self.actor.user_id()
    }
    pub fn is_account_admin(&self) -> bool {
        self.is_account_admin
    }
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }
    pub fn permissions(&self) -> PermissionSet {
        self.permissions
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
    /// The workspace's items version as read while authorizing this request, if it was (see
    /// `WorkspaceFacts::items_version`).
    pub fn items_version(&self) -> Option<i64> {
        self.items_version
    }

    /// A further permission check inside an already authorized request (for example the
    /// `:create` of every kind an import contains).
    pub fn require(&self, p: Permission) -> DomainResult<()> {
        if self.permissions.contains(p) {
            Ok(())
        } else {
            Err(DomainError::MissingPermission {
                missing: p,
                role: self.role.clone(),
            })
        }
    }

    /// Requires every permission of `set` (no granting above your own, rule 9).
    pub fn require_all(&self, set: PermissionSet) -> DomainResult<()> {
        match set.missing_from(self.permissions).first() {
            None => Ok(()),
            Some(p) => self.require(*p),
        }
    }
}

/// Proof that the caller is an active member of an organization that is not suspended,
/// signed in as a user: what every store method on an organization's own tables (members,
/// roles, settings) takes and filters by.
#[derive(Clone, Debug)]
pub struct OrgScope {
    pub(super) organization: OrganizationId,
    pub(super) user: UserId,
    pub(super) role: OrgRole,
    pub(super) ip: Option<String>,
}

impl OrgScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    pub fn user_id(&self) -> UserId {
        self.user
    }
    /// The caller's role in the organization.
    pub fn role(&self) -> OrgRole {
        self.role
    }
    pub fn actor(&self) -> Actor {
        Actor::User(self.user)
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

/// Proof that the caller is an owner or admin of an organization (the Account Admin of SPEC
/// §1–6), acting as a user.
#[derive(Clone, Debug)]
pub struct AdminScope {
    pub(super) org: OrgScope,
    /// The caller is also the instance admin.
    pub(super) instance: bool,
}

impl AdminScope {
    pub fn organization(&self) -> OrganizationId {
        self.org.organization
    }
    pub fn user_id(&self) -> UserId {
        self.org.user
    }
    /// `Owner` or `Admin`.
    pub fn role(&self) -> OrgRole {
        self.org.role
    }
    /// The Account Admin acts as a user, never through an API key.
    pub fn actor(&self) -> Actor {
        Actor::User(self.org.user)
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.org.ip.as_deref()
    }
    /// The organization, as its members' reads take it.
    pub fn org(&self) -> &OrgScope {
        &self.org
    }
    /// The caller is also the instance admin, who sees what belongs to no organization
    /// (sign-in attempts on unknown emails).
    pub fn sees_installation(&self) -> bool {
        self.instance
    }
    /// The Account Admin stands in every workspace of the organization: the scope of a list
    /// that spans workspaces (open invitations), as `authorize_each` hands it to them.
    pub fn every_workspace(&self) -> WorkspacesScope {
        WorkspacesScope {
            organization: self.org.organization,
            workspaces: None,
        }
    }
}

/// Proof that the caller is the instance admin (SPEC §7), signed in as a user: they manage
/// organizations as a whole, and see nothing inside one they are not a member of.
#[derive(Clone, Debug)]
pub struct InstanceScope {
    pub(super) user: UserId,
    pub(super) ip: Option<String>,
}

impl InstanceScope {
    pub fn user_id(&self) -> UserId {
        self.user
    }
    pub fn actor(&self) -> Actor {
        Actor::User(self.user)
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

/// Proof that the caller may create an organization (SPEC §7): the instance admin, or any
/// signed-in user when the installation allows it.
#[derive(Clone, Debug)]
pub struct CreatorScope {
    pub(super) user: UserId,
    pub(super) instance: bool,
    pub(super) ip: Option<String>,
}

impl CreatorScope {
    pub fn user_id(&self) -> UserId {
        self.user
    }
    /// The creator is the instance admin (who may make someone else the first owner).
    pub fn is_instance_admin(&self) -> bool {
        self.instance
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

/// Proof that the caller is a signed-in user (a session, never an API key), for the routes
/// about the caller themselves (profile, sign-out, switching workspace or organization). It
/// needs no organization: a user who belongs to none still signs in and out.
#[derive(Clone, Debug)]
pub struct SelfScope {
    pub(super) organization: Option<OrganizationId>,
    pub(super) user: UserId,
    pub(super) session: SessionId,
    pub(super) ip: Option<String>,
}

impl SelfScope {
    /// The active organization, `None` for a user who belongs to none.
    pub fn organization(&self) -> Option<OrganizationId> {
        self.organization
    }
    pub fn user_id(&self) -> UserId {
        self.user
    }
    pub fn session(&self) -> SessionId {
        self.session
    }
    pub fn actor(&self) -> Actor {
        Actor::User(self.user)
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

/// The audit events a caller may read: the whole organization's (optionally narrowed to one
/// workspace) for the Account Admin, one workspace's for a member holding `auditLogs:view`
/// there. The store filters by `organization()` and `workspace()`.
#[derive(Clone, Debug)]
pub struct AuditScope {
    pub(super) organization: OrganizationId,
    pub(super) workspace: Option<WorkspaceId>,
    /// The reader sees every user of the organization (the Account Admin, as `GET /users`),
    /// so a search may match the events' actors by email or name.
    pub(super) knows_people: bool,
}

impl AuditScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    /// `None`: every event of the organization.
    pub fn workspace(&self) -> Option<WorkspaceId> {
        self.workspace
    }
    /// Whether a search (`q`) may match an event by its acting user's email or name: only
    /// for the Account Admin, who sees the organization's users anyway. A member reading one
    /// workspace's events searches actions only, learning nothing of the people behind the
    /// actor ids they are shown.
    pub fn knows_people(&self) -> bool {
        self.knows_people
    }
}

/// The workspaces of an organization where the caller holds one permission, for a list that
/// spans workspaces: `All` for the Account Admin.
#[derive(Clone, Debug)]
pub struct WorkspacesScope {
    pub(super) organization: OrganizationId,
    pub(super) workspaces: Option<Vec<WorkspaceId>>,
}

impl WorkspacesScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    /// `None`: every workspace of the organization.
    pub fn workspaces(&self) -> Option<&[WorkspaceId]> {
        self.workspaces.as_deref()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A scope inside one organization: what the store's reads of an organization's own tables
/// (its roles) take, so that they too cannot be called without passing a check. Sealed: only
/// the scopes of this module are.
pub trait InOrganization: sealed::Sealed {
    fn organization_id(&self) -> OrganizationId;
}

impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {}
impl<T: InOrganization + ?Sized> InOrganization for &T {
    fn organization_id(&self) -> OrganizationId {
        (**self).organization_id()
    }
}

macro_rules! in_organization {
    ($($t:ty => |$s:ident| $e:expr),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl InOrganization for $t {
            fn organization_id(&self) -> OrganizationId {
                let $s = self;
                $e
            }
        }
    )*};
}

in_organization!(
    WorkspaceScope => |s| s.organization,
    OrgScope => |s| s.organization,
    AdminScope => |s| s.org.organization,
    WorkspacesScope => |s| s.organization,
    AuditScope => |s| s.organization,
);
/// What the caller may view in each workspace of an organization, for a read that looks into
/// workspaces beyond the active one (where a credential is used): the caller's standing in
/// each workspace they belong to (the Account Admin's: every permission everywhere; an API
/// key's: its own permissions in its one workspace). The store asks it before naming anything
/// outside the active workspace.
#[derive(Clone, Debug)]
pub struct ViewsScope {
    pub(super) organization: OrganizationId,
    /// `None`: every workspace, every permission (the Account Admin).
    pub(super) standings: Option<Vec<(WorkspaceId, PermissionSet)>>,
}

impl ViewsScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    /// Whether the caller stands in `workspace` (belongs to it, or is the Account Admin): a
    /// workspace whose name they already know.
    pub fn stands_in(&self, workspace: WorkspaceId) -> bool {
        self.standings
            .as_ref()
            .is_none_or(|s| s.iter().any(|(w, _)| *w == workspace))
    }
    /// Whether the caller may view the items of `kind` in `workspace`.
    pub fn may_view(&self, workspace: WorkspaceId, kind: ResourceKind) -> bool {
        self.standings.as_ref().is_none_or(|s| {
            s.iter()
                .any(|(w, p)| *w == workspace && p.contains(kind.view()))
        })
    }
}
