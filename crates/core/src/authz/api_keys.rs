//! What an API key may carry (SPEC §1, API key).

use super::{Actor, WorkspaceScope};
use crate::error::{DomainError, DomainResult};
use crate::permissions::{Permission, PermissionSet};

/// Whether an API key may carry `p` at all (SPEC §1: never user, role or workspace
/// management).
pub fn grantable_to_api_key(p: Permission) -> bool {
    p.resource() != crate::permissions::Resource::Workspace
}

/// The permissions a new or changed API key gets (SPEC §1, API key): the caller's `requested`
/// ones with their implied `:view`s, at least one, each grantable to a key, and each held by
/// the caller in the key's workspace (no granting above your own). A key cannot mint or widen
/// keys: a leaked short-lived key must not outlive itself.
pub fn api_key_permissions(
    scope: &WorkspaceScope,
    requested: &[String],
) -> DomainResult<PermissionSet> {
    if matches!(scope.actor(), Actor::ApiKey { .. }) {
        return Err(DomainError::forbidden(
            "API keys cannot create or change API keys",
        ));
    }
    let perms = PermissionSet::parse(requested.iter().map(String::as_str))
        .map_err(|e| DomainError::invalid("permissions", e.to_string()))?
        .with_implied_views();
    if perms.is_empty() {
        return Err(DomainError::invalid(
            "permissions",
            "must hold at least one permission",
        ));
    }
    if let Some(p) = perms.iter().find(|p| !grantable_to_api_key(*p)) {
        return Err(DomainError::invalid(
            "permissions",
            format!("{p}: API keys cannot manage workspaces"),
        ));
    }
    if let Some(p) = perms.missing_from(scope.permissions()).first() {
        return Err(DomainError::invalid(
            "permissions",
            format!("{p}: you cannot give a key a permission you lack"),
        ));
    }
    Ok(perms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::authorize;
    use crate::authz::facts::testing::facts;
    use crate::ids::{ItemId, UserId};
    use crate::perm;
    use crate::permissions::BuiltinRole;

    #[test]
    fn an_api_key_gets_what_its_creator_may_give_and_nothing_of_workspace_management() {
        let user = Actor::User(UserId::new());
        let dev = authorize(
            &facts(BuiltinRole::Developer.permissions(), false, user),
            perm!(Apikeys, Create),
        )
        .unwrap();
        let ask = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = api_key_permissions(&dev, &ask(&["tools:update"])).unwrap();
        assert_eq!(got.to_strings(), vec!["tools:view", "tools:update"]);
        for (bad, field) in [
            (ask(&[]), "permissions"),
            (ask(&["tools:fly"]), "permissions"),
            (ask(&["credentials:share"]), "permissions"),
        ] {
            match api_key_permissions(&dev, &bad) {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{bad:?}: expected 422, got {other:?}"),
            }
        }
        let admin = authorize(
            &facts(PermissionSet::all(), true, user),
            perm!(Apikeys, Create),
        )
        .unwrap();
        assert!(api_key_permissions(&admin, &ask(&["workspace:view"])).is_err());
        assert!(!grantable_to_api_key(perm!(Workspace, AddUser)));
        assert!(grantable_to_api_key(perm!(AuditLogs, View)));
        let key = Actor::ApiKey {
            key: ItemId::new(),
            creator: UserId::new(),
        };
        let by_key = authorize(
            &facts(PermissionSet::all(), false, key),
            perm!(Apikeys, Create),
        )
        .unwrap();
        assert!(matches!(
            api_key_permissions(&by_key, &ask(&["tools:view"])),
            Err(DomainError::Forbidden { .. })
        ));
    }
}
