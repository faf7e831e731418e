//! Isolation at the store level (rule 2): whatever a caller may do in workspace B, an item of
//! workspace A is not there.

use crate::common::{Org, backends, is_not_found};
use flowspace_core::authz;
use flowspace_core::cursor::PageRequest;
use flowspace_core::ids::ItemId;
use flowspace_core::model::SealedSecret;
use flowspace_core::permissions::PermissionSet;
use flowspace_core::resource::ResourceKind;
use flowspace_store::{ApiKeyFields, CredentialFields, CredentialSecret, ItemFields};

const ALL: PageRequest = PageRequest {
    limit: 200,
    after: None,
};

#[tokio::test]
async fn an_item_of_workspace_a_is_not_found_through_a_scope_of_b() {
    for b in backends() {
        let o = Org::new(&b).await;
        let ws_a = o.default_ws;
        let ws_b = o.workspace("B").await;
        let a = o.scope(ws_a, "chatflows:update").await;
        let bs = o.scope(ws_b, "chatflows:update").await;
        assert_eq!(bs.workspace(), ws_b);
        for kind in ResourceKind::PLAIN {
            let item = o
                .store
                .create_item(
                    &a,
                    kind,
                    ItemFields {
                        name: "secret plan".into(),
                        description: None,
                        data: r#"{"k":"v"}"#.into(),
                    },
                )
                .await
                .unwrap();
            let tag = format!("{} {kind:?}", b.name());
            assert!(
                is_not_found(&o.store.get_item(&bs, kind, item.id).await),
                "{tag}"
            );
            let upd = o
                .store
                .update_item(
                    &bs,
                    kind,
                    item.id,
                    1,
                    ItemFields {
                        name: "hijacked".into(),
                        description: None,
                        data: "{}".into(),
                    },
                )
                .await;
            assert!(is_not_found(&upd), "{tag}: {upd:?}");
            assert!(
                is_not_found(&o.store.delete_resource(&bs, kind, item.id, None).await),
                "{tag}"
            );
            assert!(
                is_not_found(&o.store.delete_resource(&bs, kind, item.id, Some(1)).await),
                "{tag}"
            );
            assert!(
                is_not_found(&o.store.duplicate_item(&bs, kind, item.id).await),
                "{tag}"
            );
            let listed = o.store.list_items(&bs, kind, ALL).await.unwrap();
            assert!(listed.items.iter().all(|i| i.id != item.id), "{tag}");
            assert!(listed.items.is_empty(), "{tag}");

            // Untouched in A.
            let still = o.store.get_item(&a, kind, item.id).await.unwrap();
            assert_eq!(
                (still.version, still.name.as_str()),
                (1, "secret plan"),
                "{tag}"
            );
            let listed = o.store.list_items(&a, kind, ALL).await.unwrap();
            assert_eq!(listed.items.len(), 1, "{tag}");
        }
    }
}

#[tokio::test]
async fn a_member_of_b_only_cannot_reach_a() {
    for b in backends() {
        let o = Org::new(&b).await;
        let ws_b = o.workspace("B").await;
        let a = o.scope(o.default_ws, "chatflows:create").await;
        let item = o
            .store
            .create_item(
                &a,
                ResourceKind::Chatflow,
                ItemFields {
                    name: "in A".into(),
                    description: None,
                    data: "{}".into(),
                },
            )
            .await
            .unwrap();
        let (user, session) = o.user("dev@example.com").await;
        let admin_in_b = o.scope(ws_b, "workspace:add-user").await;
        let dev = o
            .store
            .resolve_role(&o.admin_scope().await, "Developer")
            .await
            .unwrap();
        o.store.add_member(&admin_in_b, user, dev.id).await.unwrap();
        let facts = o.facts(session, user, None).await;
        assert_eq!(
            facts.workspace.as_ref().map(|w| w.workspace),
            Some(ws_b),
            "{}: the only workspace is the fallback",
            b.name()
        );
        let scope = authz::authorize(&facts, crate::common::perm("chatflows:view")).unwrap();
        assert!(is_not_found(
            &o.store
                .get_item(&scope, ResourceKind::Chatflow, item.id)
                .await
        ));
        // Asking for A by header is refused before any scope exists.
        assert!(
            o.store
                .session_facts(session, user, Some(o.default_ws))
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn credentials_and_api_keys_of_a_are_not_found_through_b() {
    for b in backends() {
        let o = Org::new(&b).await;
        let ws_b = o.workspace("B").await;
        let a = o.scope(o.default_ws, "credentials:create").await;
        let bs = o.scope(ws_b, "credentials:create").await;
        let cred_id = ItemId::new();
        let secret = || CredentialSecret {
            data_keys: vec!["apiKey".into()],
            sealed: SealedSecret {
                ciphertext: vec![1, 2, 3],
                nonce: vec![0; 12],
                key_id: "k1".into(),
            },
        };
        let cred = o
            .store
            .create_credential(
                &a,
                cred_id,
                CredentialFields {
                    name: "OpenAI".into(),
                    description: None,
                    credential_name: "openAIApi".into(),
                },
                secret(),
            )
            .await
            .unwrap();
        assert_eq!(cred.id, cred_id);
        assert!(!cred.shared);
        assert_eq!(cred.data_keys, vec!["apiKey".to_string()]);
        let sealed = o.store.credential_secret(&a, cred_id).await.unwrap();
        assert_eq!(sealed.ciphertext, vec![1, 2, 3], "{}", b.name());

        let tag = b.name();
        assert!(
            is_not_found(&o.store.get_credential(&bs, cred_id).await),
            "{tag}"
        );
        assert!(
            is_not_found(&o.store.credential_secret(&bs, cred_id).await),
            "{tag}"
        );
        let upd = o
            .store
            .update_credential(
                &bs,
                cred_id,
                1,
                CredentialFields {
                    name: "x".into(),
                    description: None,
                    credential_name: "x".into(),
                },
                Some(secret()),
            )
            .await;
        assert!(is_not_found(&upd), "{tag}: {upd:?}");
        assert!(
            is_not_found(
                &o.store
                    .delete_resource(&bs, ResourceKind::Credential, cred_id, None)
                    .await
            ),
            "{tag}"
        );
        assert!(
            o.store
                .list_credentials(&bs, &Default::default(), ALL)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{tag}"
        );
        assert_eq!(
            o.store
                .list_credentials(&a, &Default::default(), ALL)
                .await
                .unwrap()
                .items
                .len(),
            1
        );

        let key = o
            .store
            .create_api_key(
                &a,
                ApiKeyFields {
                    name: "ci".into(),
                    description: None,
                    permissions: PermissionSet::parse(["chatflows:view"]).unwrap(),
                    expires_at: None,
                },
                "fsk_abc",
                b"hash-of-key",
            )
            .await
            .unwrap();
        assert!(
            is_not_found(&o.store.get_api_key(&bs, key.id).await),
            "{tag}"
        );
        assert!(
            is_not_found(
                &o.store
                    .delete_resource(&bs, ResourceKind::ApiKey, key.id, None)
                    .await
            ),
            "{tag}"
        );
        let upd = o
            .store
            .update_api_key(
                &bs,
                key.id,
                1,
                ApiKeyFields {
                    name: "x".into(),
                    description: None,
                    permissions: PermissionSet::all(),
                    expires_at: None,
                },
            )
            .await;
        assert!(is_not_found(&upd), "{tag}");
        assert!(
            o.store
                .list_api_keys(&bs, &Default::default(), ALL)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{tag}"
        );
        assert_eq!(o.store.get_api_key(&a, key.id).await.unwrap().version, 1);

        // The key itself acts in A only: asking for B with it is not found.
        let facts = o
            .store
            .api_key_facts(b"hash-of-key", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            facts.caller.workspace.as_ref().map(|w| w.workspace),
            Some(o.default_ws)
        );
        assert!(is_not_found(
            &o.store.api_key_facts(b"hash-of-key", Some(ws_b)).await
        ));
    }
}
