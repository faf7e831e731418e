//! The authorization cache (docs/architecture.md, "Caching authorization without weakening
//! rule 3"): a cached caller is only given while the organization's authorization version is
//! the one it was read at, and the migration's triggers bump that version with every write to
//! what authorization reads, and with no other write.

use crate::common::{Org, backends, refresh};
use flowspace_core::ids::{UserId, WorkspaceId};
use uuid::Uuid;

async fn version(o: &Org) -> i64 {
    o.count(
        "SELECT version FROM auth_versions WHERE organization_id = $1",
        o.org.0,
    )
    .await
}

/// A user who is a Viewer in a new workspace, with a session.
async fn viewer(o: &Org) -> (UserId, flowspace_core::ids::SessionId, WorkspaceId) {
    let ws = o.workspace("Team").await;
    let (user, session) = o.user("viewer@example.com").await;
    let viewer = o
        .store
        .resolve_role(&o.admin_scope().await, "Viewer")
        .await
        .unwrap();
    let scope = o.scope(ws, "workspace:add-user").await;
    o.store.add_member(&scope, user, viewer.id).await.unwrap();
    (user, session, ws)
}

#[tokio::test]
async fn a_cached_caller_answers_only_while_the_version_is_unchanged() {
    for b in backends() {
        let o = Org::new(&b).await;
        let (user, session, ws) = viewer(&o).await;
        let role = |f: flowspace_core::authz::CallerFacts| f.workspace.and_then(|w| w.role);
        assert_eq!(
            role(o.facts(session, user, Some(ws)).await).as_deref(),
            Some("Viewer")
        );

        // A change behind the store's back whose bump is then undone: only a cache that
        // answers without reading the membership again still says Viewer.
        let developer = o
            .store
            .resolve_role(&o.admin_scope().await, "Developer")
            .await
            .unwrap();
        let before = version(&o).await;
        o.exec(
            "UPDATE memberships SET role_id = $1 WHERE workspace_id = $2 AND user_id = $3",
            &[developer.id.0, ws.0, user.0],
        )
        .await;
        assert_eq!(
            version(&o).await,
            before + 1,
            "{}: the trigger bumped",
            o.name()
        );
        o.exec(
            "UPDATE auth_versions SET version = version - 1 WHERE organization_id = $1",
            &[o.org.0],
        )
        .await;
        assert_eq!(
            role(o.facts(session, user, Some(ws)).await).as_deref(),
            Some("Viewer"),
            "{}: the cached facts answered while the version was unchanged",
            o.name()
        );
        // Another store on the same database (another replica) has nothing cached.
        let replica = o.db.connect().await;
        let fresh = replica
            .session_facts(session, user, Some(ws))
            .await
            .unwrap()
            .unwrap()
            .caller;
        assert_eq!(role(fresh).as_deref(), Some("Developer"));

        // Once the version moves, the next lookup reads the database again.
        o.exec(
            "UPDATE auth_versions SET version = version + 1 WHERE organization_id = $1",
            &[o.org.0],
        )
        .await;
        assert_eq!(
            role(o.facts(session, user, Some(ws)).await).as_deref(),
            Some("Developer"),
            "{}",
            o.name()
        );
        replica.close().await;
    }
}

#[tokio::test]
async fn only_writes_that_authorization_reads_bump_the_version() {
    for b in backends() {
        let o = Org::new(&b).await;
        let (user, session, ws) = viewer(&o).await;
        let viewer_role = o
            .store
            .resolve_role(&o.admin_scope().await, "Viewer")
            .await
            .unwrap()
            .id
            .0;
        let u = user.0;

        // (statement, binds, bumps?) in an order where each still finds its rows.
        let steps: Vec<(&'static str, Vec<Uuid>, bool)> = vec![
            (
                "UPDATE users SET last_login_at = created_at WHERE id = $1",
                vec![u],
                false,
            ),
            (
                "UPDATE users SET name = 'Renamed' WHERE id = $1",
                vec![u],
                false,
            ),
            (
                "UPDATE users SET password_hash = 'x' WHERE id = $1",
                vec![u],
                false,
            ),
            (
                "UPDATE sessions SET ip = '10.0.0.1' WHERE id = $1",
                vec![session.0],
                false,
            ),
            (
                "UPDATE roles SET description = 'd' WHERE id = $1",
                vec![viewer_role],
                false,
            ),
            (
                "UPDATE workspaces SET description = 'd' WHERE id = $1",
                vec![ws.0],
                false,
            ),
            (
                "UPDATE roles SET permissions = permissions WHERE id = $1",
                vec![viewer_role],
                true,
            ),
            (
                "UPDATE memberships SET role_id = role_id WHERE user_id = $1",
                vec![u],
                true,
            ),
            (
                "UPDATE sessions SET active_workspace_id = $1 WHERE id = $2",
                vec![ws.0, session.0],
                true,
            ),
            (
                "UPDATE users SET last_workspace_id = $1 WHERE id = $2",
                vec![ws.0, u],
                true,
            ),
            (
                "UPDATE org_members SET status = 'disabled' WHERE user_id = $1",
                vec![u],
                true,
            ),
            (
                "UPDATE org_members SET updated_at = updated_at, last_workspace_id = NULL WHERE user_id = $1",
                vec![u],
                false,
            ),
            (
                "UPDATE org_members SET role = role WHERE user_id = $1",
                vec![u],
                true,
            ),
            (
                "UPDATE users SET is_instance_admin = is_instance_admin WHERE id = $1",
                vec![u],
                true,
            ),
            (
                "UPDATE sessions SET revoked_at = created_at WHERE id = $1",
                vec![session.0],
                true,
            ),
            ("DELETE FROM memberships WHERE user_id = $1", vec![u], true),
            (
                "UPDATE organizations SET updated_at = updated_at WHERE id = $1",
                vec![o.org.0],
                false,
            ),
            (
                "UPDATE organizations SET status = status WHERE id = $1",
                vec![o.org.0],
                true,
            ),
        ];
        for (sql, binds, bumps) in steps {
            let before = version(&o).await;
            assert_eq!(
                o.exec(sql, &binds).await,
                1,
                "{}: {sql} changed a row",
                o.name()
            );
            let after = version(&o).await;
            assert_eq!(
                after > before,
                bumps,
                "{}: {sql}: {before} -> {after}",
                o.name()
            );
        }

        // A new session is in no cache yet: signing in does not invalidate anybody.
        let before = version(&o).await;
        o.store
            .create_session(o.admin, Some(o.default_ws), None, None, false, &refresh(60))
            .await
            .unwrap();
        assert_eq!(version(&o).await, before, "{}", o.name());

        // Deleting a workspace (and, by cascade, what hangs off it) bumps.
        let admin = o.admin_scope().await;
        let before = version(&o).await;
        o.store.delete_workspace(&admin, ws).await.unwrap();
        assert!(version(&o).await > before, "{}", o.name());
    }
}
