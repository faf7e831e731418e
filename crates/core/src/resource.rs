//! The nine kinds of workspace resource, how they are named in paths, in storage and in the
//! permission catalogue.

use crate::permissions::{Action, Permission, Resource};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Chatflow,
    Agentflow,
    Assistant,
    Tool,
    Credential,
    Variable,
    ApiKey,
    DocumentStore,
    Dataset,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 9] = [
        ResourceKind::Chatflow,
        ResourceKind::Agentflow,
        ResourceKind::Assistant,
        ResourceKind::Tool,
        ResourceKind::Credential,
        ResourceKind::Variable,
        ResourceKind::ApiKey,
        ResourceKind::DocumentStore,
        ResourceKind::Dataset,
    ];

    /// The kinds stored as plain items (JSON `data` in the clear): all but credentials and API
    /// keys, which have tables of their own.
    pub const PLAIN: [ResourceKind; 7] = [
        ResourceKind::Chatflow,
        ResourceKind::Agentflow,
        ResourceKind::Assistant,
        ResourceKind::Tool,
        ResourceKind::Variable,
        ResourceKind::DocumentStore,
        ResourceKind::Dataset,
    ];

    /// The kinds whose data can name a credential to run with (a node's `credential`): what
    /// `GET /credentials/{id}/usage` looks through.
    pub const USES_CREDENTIALS: [ResourceKind; 4] = [
        ResourceKind::Chatflow,
        ResourceKind::Agentflow,
        ResourceKind::Assistant,
        ResourceKind::DocumentStore,
    ];

    /// The path segment under `/api/v1`.
    pub fn path(self) -> &'static str {
        match self {
            ResourceKind::Chatflow => "chatflows",
            ResourceKind::Agentflow => "agentflows",
            ResourceKind::Assistant => "assistants",
            ResourceKind::Tool => "tools",
            ResourceKind::Credential => "credentials",
            ResourceKind::Variable => "variables",
            ResourceKind::ApiKey => "apikeys",
            ResourceKind::DocumentStore => "document-stores",
            ResourceKind::Dataset => "datasets",
        }
    }

    /// The dashboard's page of this kind (`/document-stores`).
    pub fn page(self) -> &'static str {
        match self {
            ResourceKind::Chatflow => "/chatflows",
            ResourceKind::Agentflow => "/agentflows",
            ResourceKind::Assistant => "/assistants",
            ResourceKind::Tool => "/tools",
            ResourceKind::Credential => "/credentials",
            ResourceKind::Variable => "/variables",
            ResourceKind::ApiKey => "/apikeys",
            ResourceKind::DocumentStore => "/document-stores",
            ResourceKind::Dataset => "/datasets",
        }
    }

    /// The value of the `kind` column.
    pub fn db_name(self) -> &'static str {
        match self {
            ResourceKind::Chatflow => "chatflow",
            ResourceKind::Agentflow => "agentflow",
            ResourceKind::Assistant => "assistant",
            ResourceKind::Tool => "tool",
            ResourceKind::Credential => "credential",
            ResourceKind::Variable => "variable",
            ResourceKind::ApiKey => "apikey",
            ResourceKind::DocumentStore => "document_store",
            ResourceKind::Dataset => "dataset",
        }
    }

    pub fn from_db_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.db_name() == s)
    }

    /// A human name for messages ("chatflow not found").
    pub fn label(self) -> &'static str {
        match self {
            ResourceKind::Chatflow => "chatflow",
            ResourceKind::Agentflow => "agentflow",
            ResourceKind::Assistant => "assistant",
            ResourceKind::Tool => "tool",
            ResourceKind::Credential => "credential",
            ResourceKind::Variable => "variable",
            ResourceKind::ApiKey => "API key",
            ResourceKind::DocumentStore => "document store",
            ResourceKind::Dataset => "dataset",
        }
    }

    pub const fn resource(self) -> Resource {
        match self {
            ResourceKind::Chatflow => Resource::Chatflows,
            ResourceKind::Agentflow => Resource::Agentflows,
            ResourceKind::Assistant => Resource::Assistants,
            ResourceKind::Tool => Resource::Tools,
            ResourceKind::Credential => Resource::Credentials,
            ResourceKind::Variable => Resource::Variables,
            ResourceKind::ApiKey => Resource::Apikeys,
            ResourceKind::DocumentStore => Resource::DocumentStores,
            ResourceKind::Dataset => Resource::Datasets,
        }
    }

    /// The catalogue permission for `action` on this kind, if the catalogue has it.
    pub fn permission(self, action: Action) -> Option<Permission> {
        Permission::new(self.resource(), action)
    }

    /// `<kind>:view`, `:create`, `:update`, `:delete`: every kind has them (proved at compile
    /// time below), so these cannot fail.
    pub const fn view(self) -> Permission {
        Permission::of(self.resource(), Action::View)
    }
    pub const fn create(self) -> Permission {
        Permission::of(self.resource(), Action::Create)
    }
    pub const fn update(self) -> Permission {
        Permission::of(self.resource(), Action::Update)
    }
    pub const fn delete(self) -> Permission {
        Permission::of(self.resource(), Action::Delete)
    }

    /// `<flow>:duplicate`, for the kinds that can be duplicated (flows).
    pub const fn duplicate(self) -> Option<Permission> {
        match self {
            ResourceKind::Chatflow => Some(crate::perm!(Chatflows, Duplicate)),
            ResourceKind::Agentflow => Some(crate::perm!(Agentflows, Duplicate)),
            _ => None,
        }
    }

    /// Flows can be duplicated and moved between workspaces.
    pub fn is_flow(self) -> bool {
        matches!(self, ResourceKind::Chatflow | ResourceKind::Agentflow)
    }
}

// Every kind has view, create, update and delete in the catalogue: checked when the crate
// compiles, so `view()` and the others above never reach `Permission::of`'s failure.
const _: () = {
    let mut i = 0;
    while i < ResourceKind::ALL.len() {
        let r = ResourceKind::ALL[i].resource();
        assert!(
            r.allows(Action::View)
                && r.allows(Action::Create)
                && r.allows(Action::Update)
                && r.allows(Action::Delete)
        );
        i += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_crud_permissions_and_round_trips() {
        for k in ResourceKind::ALL {
            for a in [Action::View, Action::Create, Action::Update, Action::Delete] {
                assert!(k.permission(a).is_some(), "{k:?} {a:?}");
            }
            assert_eq!(ResourceKind::from_db_name(k.db_name()), Some(k));
            assert_eq!(k.page(), format!("/{}", k.path()));
            assert_eq!(k.permission(Action::Duplicate).is_some(), k.is_flow());
            assert_eq!(k.duplicate(), k.permission(Action::Duplicate));
            assert_eq!(k.view(), k.permission(Action::View).unwrap());
            assert_eq!(k.delete(), k.permission(Action::Delete).unwrap());
        }
    }
}
