//! Users: login lookup ignores case, emails are unique.

use crate::common::{ADMIN_EMAIL, Org, backends, conflict_code};
use flowspace_store::NewUser;

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
            assert!(rec.user.is_account_admin);
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
        let r = o.store.create_user(&admin, new("ADMIN@example.COM")).await;
        assert_eq!(conflict_code(&r), Some("email_taken"), "{}", b.name());

        let created = o
            .store
            .create_user(&admin, new("dev@example.com"))
            .await
            .unwrap();
        assert!(!created.user.is_account_admin);
        assert!(
            created.workspaces.is_empty(),
            "a new user belongs to no workspace"
        );
        let r = o.store.create_user(&admin, new("Dev@Example.com")).await;
        assert_eq!(conflict_code(&r), Some("email_taken"), "{}", b.name());
        let all = o.store.list_users(&admin).await.unwrap();
        assert_eq!(all.len(), 2, "{}", b.name());
    }
}
