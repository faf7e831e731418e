//! The permission catalogue of SPEC §3, permission sets, and the built-in roles.
//!
//! A permission is `resource:action`. The catalogue is fixed; a set of permissions is a
//! bitset over the catalogue's entries, so checking one costs a shift and a mask.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A resource of the catalogue: the nine item kinds plus `workspace` and `auditLogs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    Chatflows,
    Agentflows,
    Assistants,
    Tools,
    Credentials,
    Variables,
    Apikeys,
    DocumentStores,
    Datasets,
    Workspace,
    AuditLogs,
}

/// An action on a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    View,
    Create,
    Update,
    Duplicate,
    Delete,
    Export,
    Import,
    Share,
    AddUser,
    UnlinkUser,
}

impl Resource {
    pub const ALL: [Resource; 11] = [
        Resource::Chatflows,
        Resource::Agentflows,
        Resource::Assistants,
        Resource::Tools,
        Resource::Credentials,
        Resource::Variables,
        Resource::Apikeys,
        Resource::DocumentStores,
        Resource::Datasets,
        Resource::Workspace,
        Resource::AuditLogs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Chatflows => "chatflows",
            Resource::Agentflows => "agentflows",
            Resource::Assistants => "assistants",
            Resource::Tools => "tools",
            Resource::Credentials => "credentials",
            Resource::Variables => "variables",
            Resource::Apikeys => "apikeys",
            Resource::DocumentStores => "documentStores",
            Resource::Datasets => "datasets",
            Resource::Workspace => "workspace",
            Resource::AuditLogs => "auditLogs",
        }
    }

    /// The resource by its catalogue name (`documentStores`).
    pub fn from_name(name: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Its name for people, as the dashboard shows it (`Document Stores`, `API Keys`).
    pub fn title(self) -> &'static str {
        match self {
            Resource::Chatflows => "Chatflows",
            Resource::Agentflows => "Agentflows",
            Resource::Assistants => "Assistants",
            Resource::Tools => "Tools",
            Resource::Credentials => "Credentials",
            Resource::Variables => "Variables",
            Resource::Apikeys => "API Keys",
            Resource::DocumentStores => "Document Stores",
            Resource::Datasets => "Datasets",
            Resource::Workspace => "Workspace",
            Resource::AuditLogs => "Audit Logs",
        }
    }

    /// The actions the catalogue allows on this resource, in catalogue order.
    pub const fn actions(self) -> &'static [Action] {
        use Action::*;
        match self {
            Resource::Chatflows | Resource::Agentflows => {
                &[View, Create, Update, Duplicate, Delete, Export, Import]
            }
            Resource::Tools => &[View, Create, Update, Delete, Export],
            Resource::Credentials => &[View, Create, Update, Delete, Share],
            Resource::Assistants
            | Resource::Variables
            | Resource::Apikeys
            | Resource::DocumentStores
            | Resource::Datasets => &[View, Create, Update, Delete],
            Resource::Workspace => &[View, Update, AddUser, UnlinkUser, Export, Import],
            Resource::AuditLogs => &[View],
        }
    }

    /// Whether this is one of the nine item kinds (as opposed to `workspace`, `auditLogs`).
    pub fn is_item_kind(self) -> bool {
        !matches!(self, Resource::Workspace | Resource::AuditLogs)
    }

    /// Whether the catalogue has `action` on this resource (usable in constants).
    pub const fn allows(self, action: Action) -> bool {
        let actions = self.actions();
        let mut i = 0;
        while i < actions.len() {
            if actions[i] as u8 == action as u8 {
                return true;
            }
            i += 1;
        }
        false
    }
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Create => "create",
            Action::Update => "update",
            Action::Duplicate => "duplicate",
            Action::Delete => "delete",
            Action::Export => "export",
            Action::Import => "import",
            Action::Share => "share",
            Action::AddUser => "add-user",
            Action::UnlinkUser => "unlink-user",
        }
    }
}

/// One entry of the catalogue. Its fields are private: a `Permission` is always a catalogue
/// entry, made by parsing, by `Permission::new` (checked at run time, `None` otherwise) or by
/// the `perm!` macro (checked at compile time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permission {
    resource: Resource,
    action: Action,
}

/// A catalogue permission as a constant: `perm!(Workspace, AddUser)` is
/// `workspace:add-user`, and a pair that is not in the catalogue does not compile.
#[macro_export]
macro_rules! perm {
    ($resource:ident, $action:ident) => {
        const {
            $crate::permissions::Permission::of(
                $crate::permissions::Resource::$resource,
                $crate::permissions::Action::$action,
            )
        }
    };
}

/// Every permission of the catalogue, in catalogue order. Its index is the bit in a
/// `PermissionSet`.
pub fn catalogue() -> &'static [Permission] {
    static CATALOGUE: std::sync::OnceLock<Vec<Permission>> = std::sync::OnceLock::new();
    CATALOGUE.get_or_init(|| {
        Resource::ALL
            .iter()
            .flat_map(|r| {
                r.actions().iter().map(|a| Permission {
                    resource: *r,
                    action: *a,
                })
            })
            .collect()
    })
}

impl Permission {
    /// A catalogue permission, or `None` when the pair is not in the catalogue.
    pub const fn new(resource: Resource, action: Action) -> Option<Self> {
        if resource.allows(action) {
            Some(Self { resource, action })
        } else {
            None
        }
    }

    /// A catalogue permission, for constants (`perm!`): evaluated at compile time, a pair that
    /// is not in the catalogue stops the build.
    pub const fn of(resource: Resource, action: Action) -> Self {
        match Self::new(resource, action) {
            Some(p) => p,
            None => unreachable_pair(),
        }
    }

    pub const fn resource(self) -> Resource {
        self.resource
    }

    pub const fn action(self) -> Action {
        self.action
    }

    fn index(self) -> usize {
        catalogue()
            .iter()
            .position(|p| *p == self)
            .unwrap_or(usize::MAX)
    }

    /// The `:view` permission this one implies (itself for a `:view`).
    pub fn implied_view(self) -> Permission {
        Permission {
            resource: self.resource,
            action: Action::View,
        }
    }
}

/// Reached only from `Permission::of` with a pair outside the catalogue; inside a constant
/// (where `perm!` puts it) that is a compile error, never a run-time panic.
#[allow(clippy::panic)]
const fn unreachable_pair() -> Permission {
    panic!("this resource:action pair is not in the permission catalogue")
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource.as_str(), self.action.as_str())
    }
}

/// The string was not a catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a permission of the catalogue")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        catalogue()
            .iter()
            .find(|p| {
                let (r, a) = (p.resource.as_str(), p.action.as_str());
                s.len() == r.len() + 1 + a.len()
                    && s.starts_with(r)
                    && s.as_bytes()[r.len()] == b':'
                    && s.ends_with(a)
            })
            .copied()
            .ok_or_else(|| UnknownPermission(s.to_string()))
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of catalogue permissions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Every permission of the catalogue.
    pub fn all() -> Self {
        catalogue().iter().copied().collect()
    }

    pub fn contains(self, p: Permission) -> bool {
        let i = p.index();
        i < 64 && self.0 & (1 << i) != 0
    }

    pub fn insert(&mut self, p: Permission) {
        let i = p.index();
        if i < 64 {
            self.0 |= 1 << i;
        }
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The permissions of `self` that `other` lacks, in catalogue order.
    pub fn missing_from(self, other: Self) -> Vec<Permission> {
        Self(self.0 & !other.0).iter().collect()
    }

    /// The permissions in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        catalogue()
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// The set with every implied `:view` added (rule 8).
    pub fn with_implied_views(self) -> Self {
        let mut out = self;
        for p in self.iter() {
            out.insert(p.implied_view());
        }
        out
    }

    /// Parses catalogue strings; the first unknown entry is the error.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownPermission> {
        items
            .into_iter()
            .map(str::parse::<Permission>)
            .collect::<Result<Self, _>>()
    }

    pub fn to_strings(self) -> Vec<String> {
        self.iter().map(|p| p.to_string()).collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut s = Self::empty();
        for p in iter {
            s.insert(p);
        }
        s
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A built-in role: fixed name and permissions, identical in every organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinRole {
    Admin,
    Developer,
    Viewer,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 3] = [
        BuiltinRole::Admin,
        BuiltinRole::Developer,
        BuiltinRole::Viewer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Admin => "Admin",
            BuiltinRole::Developer => "Developer",
            BuiltinRole::Viewer => "Viewer",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            BuiltinRole::Admin => "Every permission in the workspace",
            BuiltinRole::Developer => {
                "Every resource permission except sharing credentials, workspace management and audit logs"
            }
            BuiltinRole::Viewer => "Read-only: every view permission",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(name))
    }

    /// SPEC §3: Admin = everything; Developer = every permission of the nine item kinds but
    /// `credentials:share`; Viewer = every `:view` of the catalogue.
    pub fn permissions(self) -> PermissionSet {
        let all = catalogue().iter().copied();
        match self {
            BuiltinRole::Admin => all.collect(),
            BuiltinRole::Developer => all
                .filter(|p| p.resource.is_item_kind())
                .filter(|p| !(p.resource == Resource::Credentials && p.action == Action::Share))
                .collect(),
            BuiltinRole::Viewer => all.filter(|p| p.action == Action::View).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_matches_spec_and_fits_a_bitset() {
        let strings: Vec<String> = catalogue().iter().map(|p| p.to_string()).collect();
        assert_eq!(strings.len(), 51);
        assert!(catalogue().len() <= 64);
        for s in [
            "chatflows:import",
            "tools:export",
            "credentials:share",
            "workspace:add-user",
            "workspace:unlink-user",
            "auditLogs:view",
            "documentStores:delete",
        ] {
            assert!(strings.contains(&s.to_string()), "{s}");
            assert_eq!(
                s.parse::<Permission>().map(|p| p.to_string()).as_deref(),
                Ok(s)
            );
        }
        for bad in [
            "tools:import",
            "assistants:share",
            "chatflows",
            "x:view",
            "chatflows:view ",
        ] {
            assert!(bad.parse::<Permission>().is_err(), "{bad}");
        }
    }

    #[test]
    fn builtin_roles() {
        let admin = BuiltinRole::Admin.permissions();
        let dev = BuiltinRole::Developer.permissions();
        let viewer = BuiltinRole::Viewer.permissions();
        assert_eq!(admin, PermissionSet::all());
        assert!(dev.is_subset_of(admin));
        assert!(!dev.contains("credentials:share".parse().unwrap()));
        assert!(dev.contains("credentials:update".parse().unwrap()));
        assert!(dev.iter().all(|p| p.resource.is_item_kind()));
        assert!(viewer.iter().all(|p| p.action == Action::View));
        assert_eq!(viewer.len(), Resource::ALL.len());
    }

    #[test]
    fn implied_views() {
        let s = PermissionSet::parse(["tools:delete"]).unwrap();
        let s = s.with_implied_views();
        assert_eq!(s.to_strings(), vec!["tools:view", "tools:delete"]);
    }
}
