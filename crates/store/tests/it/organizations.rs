//! Organizations as a whole (SPEC §7): what deleting one does to the rows its members share
//! with their other organizations while they keep working.

use crate::common::{Org, backends};
use flowspace_core::DomainError;
use flowspace_core::authz;
use flowspace_core::model::UserStatus;
use flowspace_store::{FirstOwner, UserPatch};

/// How many times the race is run on one database: a deadlock needs an unlucky interleaving.
const ROUNDS: usize = 8;

const JOIN_B: &str =
    "INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
     SELECT $1, user_id, 'member', 'active', created_at, updated_at
     FROM org_members WHERE organization_id = $2 AND user_id = $3";

fn status(s: UserStatus) -> UserPatch {
    UserPatch {
        name: None,
        status: Some(s),
    }
}

/// Deleting an organization sets its members' sessions' active organization to NULL, which
/// changes the authorization of every organization those members belong to; at the same time
/// the members switch organization and workspace, and admins of both organizations disable
/// them (ending their sessions when they are active nowhere). On PostgreSQL each of these
/// locks rows of several organizations: none of them may deadlock (docs/architecture.md, "Lock
/// order"), and every one either succeeds or finds the organization gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_organization_while_its_members_switch_and_are_disabled_never_deadlocks() {
    for b in backends() {
        let o = Org::new(&b).await;
        let mut users = Vec::new();
        for i in 0..4 {
            users.push(o.user(&format!("shared{i}@example.com")).await);
        }
        let admin_facts = o.facts(o.admin_session, o.admin, None).await;
        let instance = authz::authorize_instance_admin(&admin_facts, Some(o.admin_session))
            .expect("the instance admin");
        let admin_a = o.admin_scope().await;
        for round in 0..ROUNDS {
            let created = o
                .store
                .create_organization(
                    o.admin,
                    None,
                    &format!("Branch {round}"),
                    FirstOwner::Existing(o.admin),
                )
                .await
                .expect("create organization");
            let (org_b, ws_b) = (created.organization.id, created.workspace);
            for (u, s) in &users {
                o.exec(JOIN_B, &[org_b.0, o.org.0, u.0]).await;
                o.store.set_active_workspace(*s, *u, ws_b).await.unwrap();
            }
            let admin_b = authz::authorize_account_admin(
                &o.facts(o.admin_session, o.admin, Some(ws_b)).await,
            )
            .expect("the owner of B");
            let mut runs = tokio::task::JoinSet::new();
            let (store, scope) = (o.store.clone(), instance.clone());
            runs.spawn(async move { store.delete_organization(&scope, org_b).await });
            for (k, (u, s)) in users.iter().copied().enumerate() {
                let (store, org_a, ws_a) = (o.store.clone(), o.org, o.default_ws);
                runs.spawn(async move {
                    for _ in 0..3 {
                        store.set_active_organization(s, u, org_b).await?;
                        store.set_active_workspace(s, u, ws_a).await?;
                        store.set_active_organization(s, u, org_a).await?;
                    }
                    Ok(())
                });
                let (store, admin_a, admin_b) = (o.store.clone(), admin_a.clone(), admin_b.clone());
                runs.spawn(async move {
                    // Disabled in B, then in A too: active nowhere, their sessions end.
                    let (first, second) = if k % 2 == 0 {
                        (&admin_b, &admin_a)
                    } else {
                        (&admin_a, &admin_b)
                    };
                    for scope in [first, second] {
                        match store
                            .patch_user(scope, u, status(UserStatus::Disabled))
                            .await
                        {
                            Ok(_) | Err(DomainError::NotFound(_)) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(())
                });
            }
            while let Some(r) = runs.join_next().await {
                r.unwrap()
                    .unwrap_or_else(|e| panic!("{} round {round}: {e}", b.name()));
            }
            let left = o
                .count("SELECT COUNT(*) FROM organizations WHERE id = $1", org_b.0)
                .await;
            assert_eq!(left, 0, "{}: the organization is gone", b.name());
            for (u, _) in &users {
                o.store
                    .patch_user(&admin_a, *u, status(UserStatus::Active))
                    .await
                    .unwrap();
            }
        }
    }
}
