//! Workspace deletion (rule 6): one transaction that takes every row of the workspace with it,
//! and leaves sessions and users that were in it without an active workspace. Memberships:
//! the Account Admin's role is never changed.

use crate::common::{Org, backends, conflict_code, is_not_found, perm};
use flowspace_core::authz;
use flowspace_core::cursor::PageRequest;
use flowspace_core::ids::{ItemId, RoleId, UserId, WorkspaceId};
use flowspace_core::model::SealedSecret;
use flowspace_core::permissions::PermissionSet;
use flowspace_core::resource::ResourceKind;
use flowspace_store::{ApiKeyFields, CredentialFields, CredentialSecret, ItemFields};

const ALL: PageRequest = PageRequest {
    limit: 200,
    after: None,
};

async fn credential(o: &Org, scope: &authz::WorkspaceScope, name: &str) -> ItemId {
    let id = ItemId::new();
    o.store
        .create_credential(
            scope,
            id,
            CredentialFields {
                name: name.into(),
                description: None,
                credential_name: "openAIApi".into(),
            },
            CredentialSecret {
                data_keys: vec!["apiKey".into()],
                sealed: SealedSecret {
                    ciphertext: vec![9; 8],
                    nonce: vec![0; 12],
                    key_id: "k1".into(),
                },
            },
        )
        .await
        .unwrap();
    id
}

/// Shares a credential into a workspace straight in the table (sharing has no store method
/// yet); the share's time is the credential's so the SQL is the same on both backends.
async fn share(o: &Org, cred: ItemId, into: WorkspaceId) {
    let n = o
        .exec(
            "INSERT INTO credential_shares (credential_id, workspace_id, created_at)
             SELECT id, $2, created_at FROM credentials WHERE id = $1",
            &[cred.0, into.0],
        )
        .await;
    assert_eq!(n, 1);
}

#[tokio::test]
async fn deleting_a_workspace_takes_everything_of_it() {
    for b in backends() {
        let o = Org::new(&b).await;
        let tag = b.name();
        let ws_b = o.workspace("B").await;
        let in_a = o.scope(o.default_ws, "chatflows:create").await;
        let in_b = o.scope(ws_b, "chatflows:create").await;

        let item_a = o
            .store
            .create_item(
                &in_a,
                ResourceKind::Chatflow,
                ItemFields {
                    name: "keep".into(),
                    description: None,
                    data: "{}".into(),
                },
            )
            .await
            .unwrap();
        for kind in ResourceKind::PLAIN {
            o.store
                .create_item(
                    &in_b,
                    kind,
                    ItemFields {
                        name: "gone".into(),
                        description: None,
                        data: "{}".into(),
                    },
                )
                .await
                .unwrap();
        }
        let cred_b = credential(&o, &in_b, "owned by B").await;
        let cred_a = credential(&o, &in_a, "owned by A").await;
        share(&o, cred_b, o.default_ws).await;
        share(&o, cred_a, ws_b).await;
        let seen_in_a = o.store.get_credential(&in_a, cred_b).await.unwrap();
        assert!(
            seen_in_a.shared,
            "{tag}: a credential shared into A is marked shared there"
        );
        assert_eq!(
            o.store
                .list_credentials(&in_b, &Default::default(), ALL)
                .await
                .unwrap()
                .items
                .len(),
            2
        );
        o.store
            .create_api_key(
                &in_b,
                ApiKeyFields {
                    name: "k".into(),
                    description: None,
                    permissions: PermissionSet::parse(["chatflows:view"]).unwrap(),
                    expires_at: None,
                },
                "fsk_b",
                b"key-of-b",
            )
            .await
            .unwrap();

        let (dev, dev_session) = o.user("dev@example.com").await;
        let viewer = o
            .store
            .resolve_role(&o.admin_scope().await, "viewer")
            .await
            .unwrap();
        o.store.add_member(&in_b, dev, viewer.id).await.unwrap();
        o.store
            .set_active_workspace(dev_session, dev, ws_b)
            .await
            .unwrap();
        o.store
            .set_active_workspace(o.admin_session, o.admin, ws_b)
            .await
            .unwrap();
        assert_eq!(o.store.members(&in_b).await.unwrap().len(), 2);

        let admin = o.admin_scope().await;
        // Refused while another member remains, and nothing is gone.
        let r = o.store.delete_workspace(&admin, ws_b).await;
        assert_eq!(conflict_code(&r), Some("workspace_has_members"), "{tag}");
        assert_eq!(
            o.count("SELECT COUNT(*) FROM items WHERE workspace_id = $1", ws_b.0)
                .await,
            7
        );
        // Default never goes; an unknown id is not found.
        let r = o.store.delete_workspace(&admin, o.default_ws).await;
        assert_eq!(conflict_code(&r), Some("default_workspace"), "{tag}");
        assert!(is_not_found(
            &o.store.delete_workspace(&admin, WorkspaceId::new()).await
        ));

        o.store.remove_member(&in_b, dev).await.unwrap();
        o.store.delete_workspace(&admin, ws_b).await.unwrap();

        for (sql, what) in [
            ("SELECT COUNT(*) FROM workspaces WHERE id = $1", "workspace"),
            (
                "SELECT COUNT(*) FROM items WHERE workspace_id = $1",
                "items",
            ),
            (
                "SELECT COUNT(*) FROM credentials WHERE workspace_id = $1",
                "credentials",
            ),
            (
                "SELECT COUNT(*) FROM api_keys WHERE workspace_id = $1",
                "api keys",
            ),
            (
                "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1",
                "memberships",
            ),
            (
                "SELECT COUNT(*) FROM credential_shares WHERE workspace_id = $1",
                "shares into it",
            ),
            (
                "SELECT COUNT(*) FROM sessions WHERE active_workspace_id = $1",
                "active sessions",
            ),
            (
                "SELECT COUNT(*) FROM users WHERE last_workspace_id = $1",
                "last workspaces",
            ),
        ] {
            assert_eq!(
                o.count(sql, ws_b.0).await,
                0,
                "{tag}: {what} of the deleted workspace remain"
            );
        }
        assert_eq!(
            o.count(
                "SELECT COUNT(*) FROM credential_shares WHERE credential_id = $1",
                cred_b.0
            )
            .await,
            0,
            "{tag}: the share out of the deleted workspace remains"
        );
        for s in [o.admin_session, dev_session] {
            assert_eq!(
                o.count(
                    "SELECT COUNT(*) FROM sessions WHERE id = $1 AND active_workspace_id IS NULL",
                    s.0
                )
                .await,
                1,
                "{tag}: the session's active workspace is cleared, the session kept"
            );
        }

        // A is untouched, and no longer sees B's credential.
        assert!(
            o.store
                .get_item(&in_a, ResourceKind::Chatflow, item_a.id)
                .await
                .is_ok()
        );
        assert!(
            is_not_found(&o.store.get_credential(&in_a, cred_b).await),
            "{tag}"
        );
        let creds: Vec<ItemId> = o
            .store
            .list_credentials(&in_a, &Default::default(), ALL)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(creds, vec![cred_a], "{tag}");
        assert!(
            o.store
                .api_key_facts(b"key-of-b", None)
                .await
                .unwrap()
                .is_none()
        );

        // Both fall back at their next request: the Account Admin to Default, the user (in no
        // workspace now) to none, still signed in.
        let f = o.facts(o.admin_session, o.admin, None).await;
        assert_eq!(
            f.workspace.map(|w| w.workspace),
            Some(o.default_ws),
            "{tag}"
        );
        let f = o.facts(dev_session, dev, None).await;
        assert!(f.workspace.is_none(), "{tag}");
        assert!(authz::authorize(&f, perm("chatflows:view")).is_err());
        // The old scope of B finds nothing any more.
        assert!(
            o.store
                .list_items(&in_b, ResourceKind::Chatflow, ALL)
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }
}

#[tokio::test]
async fn the_account_admins_role_is_never_changed_and_a_refused_add_writes_nothing() {
    for b in backends() {
        let o = Org::new(&b).await;
        let scope = o.scope(o.default_ws, "workspace:add-user").await;
        let viewer = o
            .store
            .resolve_role(&o.admin_scope().await, "viewer")
            .await
            .unwrap();
        let r = o.store.add_member(&scope, o.admin, viewer.id).await;
        assert_eq!(conflict_code(&r), Some("account_admin"), "{}", o.name());
        let roles = |members: Vec<flowspace_core::model::Member>| {
            members
                .into_iter()
                .map(|m| (m.user_id, m.role_name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            roles(o.store.members(&scope).await.unwrap()),
            vec![(o.admin, "Admin".to_string())],
            "{}: the membership written before the refusal was rolled back",
            o.name()
        );
        // A user that is not one of the organization's, or a role that is not, is not found
        // and nothing is written.
        let (dev, _) = o.user("dev@example.com").await;
        let r = o.store.add_member(&scope, UserId::new(), viewer.id).await;
        assert!(is_not_found(&r), "{}", o.name());
        let r = o.store.add_member(&scope, dev, RoleId::new()).await;
        assert!(is_not_found(&r), "{}", o.name());
        assert_eq!(
            o.store.members(&scope).await.unwrap().len(),
            1,
            "{}",
            o.name()
        );
        // Anyone else is added, then has their role changed.
        let m = o.store.add_member(&scope, dev, viewer.id).await.unwrap();
        assert_eq!(m.role_name, "Viewer", "{}", o.name());
    }
}
