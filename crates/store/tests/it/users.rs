//! Users: login lookup ignores case, emails are unique.

use crate::common::{ADMIN_EMAIL, Org, backends, conflict_code, invite_ticket};
use flowspace_core::DomainError;
use flowspace_core::model::UserStatus;
use flowspace_store::{NewUser, UserPatch};

#[tokio::test]
async fn find_login_ignores_case_and_surrounding_space() {
    for b in backends() {
        let o = Org::new(&b).await;
        for probe in [
            "admin@example.com",
            "ADMIN@EXAMPLE.COM",
            "  Admin@Example.com ",
        ] {
            let rec = o
                .store
                .find_login(probe)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{}: {probe:?} not found", b.name()));
            assert_eq!(rec.user.id, o.admin);
            assert_eq!(rec.user.email, ADMIN_EMAIL, "the email is kept as typed");
            assert_eq!(rec.user.status, flowspace_core::model::UserStatus::Active);
            assert_eq!(rec.user.organization_id, None, "the account itself");
            assert_eq!(
                rec.password_hash.as_deref(),
                Some("$argon2id$not-a-real-hash")
            );
            assert_eq!(rec.last_workspace_id, Some(o.default_ws));
        }
        assert!(
            o.store
                .find_login("nobody@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_duplicate_email_is_a_conflict_whatever_its_case() {
    for b in backends() {
        let o = Org::new(&b).await;
        let admin = o.admin_scope().await;
        let new = |email: &str| NewUser {
            email: email.into(),
            name: "Dup".into(),
            password_hash: "h".into(),
        };
        let r = o
            .store
            .create_user(&admin, new("ADMIN@example.COM"), invite_ticket())
            .await;
        assert_eq!(conflict_code(&r), Some("email_taken"), "{}", b.name());

        let created = o
            .store
            .create_user(&admin, new("dev@example.com"), invite_ticket())
            .await
            .unwrap()
            .into_detail();
        assert!(!created.user.is_account_admin);
        assert!(
            created.workspaces.is_empty(),
            "a new user belongs to no workspace"
        );
        let r = o
            .store
            .create_user(&admin, new("Dev@Example.com"), invite_ticket())
            .await;
        assert_eq!(conflict_code(&r), Some("email_taken"), "{}", b.name());
        let all = o.store.list_users(&admin).await.unwrap();
        assert_eq!(all.len(), 2, "{}", b.name());
    }
}

/// Rules 7 and 10 are checked on what the changing transaction reads; taking that read must
/// not make two changes of one user lock in opposite orders (a deadlock on PostgreSQL: the
/// user's row is always locked before the organization's), and a refused unlinking leaves the
/// Account Admin linked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_of_one_user_in_parallel_all_succeed() {
    for b in backends() {
        let o = Org::new(&b).await;
        let (user, _) = o.user("busy@example.com").await;
        let admin = o.admin_scope().await;
        let scope = o.scope(o.default_ws, "workspace:unlink-user").await;
        let viewer = o
            .store
            .list_roles(&o.admin_scope().await)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.name == "Viewer")
            .unwrap()
            .id;
        o.store.add_member(&scope, user, viewer).await.unwrap();
        let mut runs = tokio::task::JoinSet::new();
        for i in 0..20 {
            let (store, admin) = (o.store.clone(), admin.clone());
            runs.spawn(async move {
                let status = if i % 2 == 0 {
                    UserStatus::Disabled
                } else {
                    UserStatus::Active
                };
                let patch = UserPatch {
                    name: Some(format!("Busy {i}")),
                    status: Some(status),
                };
                store.patch_user(&admin, user, patch).await.map(|_| ())
            });
            let (store, ws) = (o.store.clone(), o.default_ws);
            runs.spawn(async move { store.set_last_workspace(user, ws).await });
            let (store, scope, account_admin) = (o.store.clone(), scope.clone(), o.admin);
            runs.spawn(async move {
                match store.remove_member(&scope, account_admin).await {
                    Err(DomainError::Conflict {
                        code: "account_admin",
                        ..
                    }) => Ok(()),
                    Ok(()) => Err(DomainError::internal("the Account Admin was unlinked")),
                    Err(e) => Err(e),
                }
            });
        }
        while let Some(r) = runs.join_next().await {
            r.unwrap().unwrap_or_else(|e| panic!("{}: {e}", b.name()));
        }
        let members = o.store.members(&scope).await.unwrap();
        assert!(members.iter().any(|m| m.user_id == o.admin), "{}", b.name());
        assert!(members.iter().any(|m| m.user_id == user), "{}", b.name());
    }
}
