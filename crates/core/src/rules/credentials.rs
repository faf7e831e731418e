//! Rule 11: a credential shared into a workspace is listed and usable there, and read-only.

use crate::authz::ViewsScope;
use crate::error::{DomainError, DomainResult};
use crate::ids::WorkspaceId;
use crate::model::Credential;

/// A write to a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialWrite {
    /// Updating or deleting it.
    Change,
    /// Reading or replacing the set of workspaces it is shared with.
    Share,
}

/// Rule 11: only the workspace that owns a credential writes to it; where it is only shared
/// (`credential` as read in the acting workspace) every write is refused (403).
pub fn check_credential_writable(
    credential: &Credential,
    write: CredentialWrite,
) -> DomainResult<()> {
    if !credential.shared {
        return Ok(());
    }
    let owner = &credential.owner_workspace.name;
    Err(DomainError::forbidden(match write {
        CredentialWrite::Change => {
            format!("this credential is shared from workspace \"{owner}\" and is read-only here")
        }
        CredentialWrite::Share => format!(
            "this credential is shared from workspace \"{owner}\": only that workspace can share it"
        ),
    }))
}

/// Rule 11: a credential is shared with other workspaces, not with its own (`owner`).
pub fn check_share_targets(owner: WorkspaceId, targets: &[WorkspaceId]) -> DomainResult<()> {
    if targets.contains(&owner) {
        return Err(DomainError::invalid(
            "workspaceIds",
            "a credential is not shared with its own workspace",
        ));
    }
    Ok(())
}

/// Whether where-it-is-used (`GET /credentials/{id}/usage`) names `workspace`, one the
/// credential (as read in the acting workspace) reaches. Read where it is owned: every
/// workspace it is shared with, as `GET /credentials/{id}/shares` names them there. Read where
/// it is only shared in: its owner (the credential itself names it) and the workspaces the
/// caller stands in; the others are counted, not named.
pub fn usage_names(credential: &Credential, views: &ViewsScope, workspace: WorkspaceId) -> bool {
    !credential.shared || workspace == credential.workspace_id || views.stands_in(workspace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ItemId, UserId};
    use crate::model::WorkspaceRef;
    use crate::time::Timestamp;

    fn credential(shared: bool) -> Credential {
        Credential {
            id: ItemId::new(),
            workspace_id: WorkspaceId::new(),
            name: "OpenAI".into(),
            description: None,
            credential_name: "openAIApi".into(),
            data_keys: vec!["apiKey".into()],
            shared,
            owner_workspace: WorkspaceRef {
                id: WorkspaceId::new(),
                name: "Sales".into(),
            },
            version: 1,
            created_by: UserId::new(),
            created_at: Timestamp::now(),
            updated_by: UserId::new(),
            updated_at: Timestamp::now(),
        }
    }

    #[test]
    fn a_shared_credential_is_read_only_where_it_is_shared() {
        for write in [CredentialWrite::Change, CredentialWrite::Share] {
            assert!(check_credential_writable(&credential(false), write).is_ok());
            match check_credential_writable(&credential(true), write) {
                Err(DomainError::Forbidden { reason }) => {
                    assert!(reason.contains("\"Sales\""), "{reason}");
                }
                other => panic!("expected 403, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_credential_is_not_shared_with_its_own_workspace() {
        let (own, other) = (WorkspaceId::new(), WorkspaceId::new());
        assert!(check_share_targets(own, &[other]).is_ok());
        assert!(check_share_targets(own, &[]).is_ok());
        match check_share_targets(own, &[other, own]) {
            Err(DomainError::Invalid { field, .. }) => assert_eq!(field, "workspaceIds"),
            r => panic!("expected 422, got {r:?}"),
        }
    }

    #[test]
    fn usage_names_every_share_from_the_owner_and_only_known_workspaces_elsewhere() {
        use crate::authz::{Actor, CallerFacts, WorkspaceFacts, authorize_views};
        use crate::permissions::PermissionSet;
        let stand = |ws: WorkspaceId| WorkspaceFacts {
            workspace: ws,
            role: None,
            permissions: PermissionSet::parse(["credentials:view"]).unwrap(),
            items_version: None,
        };
        let (known, unknown) = (WorkspaceId::new(), WorkspaceId::new());
        let facts = CallerFacts {
            organization: Some(crate::authz::OrgFacts {
                id: crate::ids::OrganizationId::new(),
                role: crate::model::OrgRole::Member,
                suspended: false,
            }),
            actor: Actor::User(UserId::new()),
            is_instance_admin: false,
            workspace: Some(stand(known)),
            ip: None,
            mfa_pending: false,
        };
        let views = authorize_views(&facts, &[stand(known)]).unwrap();
        let owned = credential(false);
        assert!(
            usage_names(&owned, &views, unknown),
            "the owner names every share"
        );
        let shared_in = credential(true);
        assert!(usage_names(&shared_in, &views, shared_in.workspace_id));
        assert!(usage_names(&shared_in, &views, known));
        assert!(!usage_names(&shared_in, &views, unknown));
    }
}
