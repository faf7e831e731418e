//! The entities of SPEC §1 as the API shows them. The store returns these; the server
//! serializes them as they are (camelCase JSON, with OpenAPI schemas).

use crate::ids::{ItemId, OrganizationId, RoleId, SessionId, UserId, WorkspaceId};
use crate::permissions::PermissionSet;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// An organization (SPEC §7) with its settings (rule 19).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub status: OrgStatus,
    #[serde(flatten)]
    pub settings: OrgSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The settings of rule 19 other than the name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgSettings {
    /// Email domains invitations may go to (lowercase); empty: any.
    pub allowed_email_domains: Vec<String>,
    pub min_password_length: u32,
    /// How long a session lasts without signing in again; `None`: the installation's
    /// `REFRESH_TOKEN_EXPIRY_IN_MINUTES`.
    pub session_lifetime_minutes: Option<u32>,
    pub sso_required: bool,
    pub mfa_required: bool,
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            allowed_email_domains: Vec::new(),
            min_password_length: crate::password::MIN_LENGTH as u32,
            session_lifetime_minutes: None,
            sso_required: false,
            mfa_required: false,
        }
    }
}

/// An organization as `GET /organizations` lists it: the instance admin's list carries the
/// member count (and nothing inside), a member's their role there.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSummary {
    pub id: OrganizationId,
    pub name: String,
    pub status: OrgStatus,
    /// The caller's role, when they are a member.
    pub role: Option<OrgRole>,
    /// Members who have signed up (the instance admin's list only).
    pub member_count: Option<i64>,
}

/// One organization of the caller's, as `me` lists them.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyOrganization {
    pub id: OrganizationId,
    pub name: String,
    pub role: OrgRole,
    pub status: OrgStatus,
}

/// A member of an organization (SPEC §7), as the Members page shows them.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgMember {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: OrgRole,
    pub status: UserStatus,
    pub added_at: Timestamp,
    /// An owner who may still sign in with a password while the organization requires
    /// single sign-on (SPEC §8).
    pub break_glass: bool,
}

/// A member's role in an organization. Owners and admins are what "Account Admin" means in
/// SPEC §1–6; only owners manage owners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    Owner,
    Admin,
    Member,
}

impl OrgRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Owner => "owner",
            OrgRole::Admin => "admin",
            OrgRole::Member => "member",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
    /// Owners and admins: the Account Admin of SPEC §1–6.
    pub fn is_admin(self) -> bool {
        matches!(self, OrgRole::Owner | OrgRole::Admin)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    Active,
    Suspended,
}

impl OrgStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgStatus::Active => "active",
            OrgStatus::Suspended => "suspended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Invited,
    Active,
    Disabled,
}

impl UserStatus {
    /// The statuses an Account Admin may set; a user becomes active from invited by signing up.
    pub const SETTABLE: [UserStatus; 2] = [UserStatus::Active, UserStatus::Disabled];

    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invited" => Some(Self::Invited),
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    /// The organization the user is seen from (`None`: the account itself, as its owner sees
    /// it).
    pub organization_id: Option<OrganizationId>,
    pub email: String,
    pub name: String,
    /// The user's status in the organization they are seen from.
    pub status: UserStatus,
    /// An owner or admin of that organization.
    pub is_account_admin: bool,
    /// Their role in that organization.
    pub org_role: Option<OrgRole>,
    pub last_login_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A user's standing in one workspace.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRole {
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub role_id: RoleId,
    pub role_name: String,
}

/// A user as the Account Admin's Users page shows them (rule 10).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    pub workspaces: Vec<WorkspaceRole>,
    pub active_workspace_id: Option<WorkspaceId>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: WorkspaceId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub icon: Option<String>,
    pub is_default: bool,
    pub member_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A member of a workspace.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub status: UserStatus,
    pub is_account_admin: bool,
    pub role_id: RoleId,
    pub role_name: String,
    pub added_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub permissions: PermissionSet,
    pub builtin: bool,
    /// How many memberships give this role.
    pub in_use: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A chatflow, agentflow, assistant, tool, variable, document store or dataset.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: ItemId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: Option<String>,
    /// The JSON object as it was stored.
    #[schema(value_type = Object)]
    pub data: Box<RawValue>,
    pub version: i64,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub updated_by: UserId,
    pub updated_at: Timestamp,
}

/// A credential as every read shows it: never its secret values.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub id: ItemId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: Option<String>,
    pub credential_name: String,
    pub data_keys: Vec<String>,
    /// True where the credential is listed in a workspace it was shared into.
    pub shared: bool,
    pub owner_workspace: WorkspaceRef,
    pub version: i64,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub updated_by: UserId,
    pub updated_at: Timestamp,
}

/// A credential's encrypted secret, as the store keeps it.
#[derive(Clone, Debug)]
pub struct SealedSecret {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub key_id: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRef {
    pub id: WorkspaceId,
    pub name: String,
}

/// Where a credential is used (`GET /credentials/{id}/usage`): the workspaces it reaches (its
/// owner and those it is shared with) and the items there whose data name it. Only what the
/// caller may see is named; the rest is counted.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialUsage {
    pub credential_id: ItemId,
    /// The owner workspace first, then those it is shared with, by name.
    pub workspaces: Vec<UsageWorkspace>,
    /// Workspaces it is shared with that are not named to the caller (read from a workspace it
    /// is shared into, only those the caller belongs to are named).
    pub unnamed_workspaces: u32,
    /// Items that name the credential which the caller may not view (in every workspace it
    /// reaches, named or not).
    pub hidden_items: u32,
}

/// One workspace a credential reaches, with the items there that name it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageWorkspace {
    pub id: WorkspaceId,
    pub name: String,
    /// The workspace that owns the credential (else it is shared with it).
    pub owner: bool,
    /// The items there the caller may view whose data name the credential.
    pub items: Vec<ItemRef>,
    /// Items there that name it which the caller may not view.
    pub hidden_items: u32,
}

/// An item named by kind (its path segment: `chatflows`), id and name.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemRef {
    pub kind: String,
    pub id: ItemId,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: ItemId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: Option<String>,
    pub prefix: String,
    #[schema(value_type = Vec<String>)]
    pub permissions: PermissionSet,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub version: i64,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub updated_by: UserId,
    pub updated_at: Timestamp,
}

/// One open session of the caller (`GET /auth/sessions`): a sign-in that has not been ended
/// and whose refresh token has not expired.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: SessionId,
    /// The browser and system its user agent names ("Firefox on Linux").
    pub device: String,
    pub user_agent: Option<String>,
    /// The address it signed in from.
    pub ip: Option<String>,
    pub created_at: Timestamp,
    /// When it last signed in or refreshed its access token (access tokens last
    /// `JWT_TOKEN_EXPIRY_IN_MINUTES`, so an active session is seen at least that often).
    pub last_seen_at: Timestamp,
    /// The session this request is made with.
    pub current: bool,
}

/// How many sessions a sign-out ended.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedOut {
    pub revoked: u64,
}

/// What presenting an emailed token (an invitation's, a password reset's) found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenCheck<T> {
    Valid(T),
    Expired,
    /// Unknown, already used, revoked, or tampered with.
    Invalid,
}
