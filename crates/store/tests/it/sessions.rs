//! Sessions: refresh tokens rotate, a spent one presented again ends the session, expired
//! and unknown ones are invalid; `session_facts` reflects the current state.

use crate::common::{Org, backends, refresh};
use flowspace_core::DomainError;
use flowspace_core::ids::WorkspaceId;
use flowspace_store::RefreshOutcome;

#[tokio::test]
async fn rotation_spends_the_token_and_reuse_revokes_the_session() {
    for b in backends() {
        let o = Org::new(&b).await;
        let first = refresh(3600);
        let session = o
            .store
            .create_session(
                o.admin,
                Some(o.default_ws),
                Some("127.0.0.1"),
                Some("test"),
                false,
                &first,
            )
            .await
            .unwrap();
        assert!(
            o.store
                .session_facts(session, o.admin, None)
                .await
                .unwrap()
                .is_some()
        );

        let second = refresh(3600);
        let r = o.store.rotate_refresh(&first.hash, &second).await.unwrap();
        assert_eq!(
            r,
            RefreshOutcome::Rotated {
                session,
                user: o.admin
            },
            "{}",
            b.name()
        );
        // The new token works once in turn, and the session is still alive.
        let third = refresh(3600);
        let r = o.store.rotate_refresh(&second.hash, &third).await.unwrap();
        assert!(
            matches!(r, RefreshOutcome::Rotated { .. }),
            "{}: {r:?}",
            b.name()
        );
        assert!(
            o.store
                .session_facts(session, o.admin, None)
                .await
                .unwrap()
                .is_some()
        );

        // The first token is spent: presenting it again is reuse.
        let r = o
            .store
            .rotate_refresh(&first.hash, &refresh(3600))
            .await
            .unwrap();
        assert_eq!(
            r,
            RefreshOutcome::Reused {
                session,
                user: o.admin
            },
            "{}",
            b.name()
        );
        assert!(
            o.store
                .session_facts(session, o.admin, None)
                .await
                .unwrap()
                .is_none(),
            "{}: reuse revokes the session",
            b.name()
        );
        // Even the current token of the revoked session no longer rotates.
        let r = o
            .store
            .rotate_refresh(&third.hash, &refresh(3600))
            .await
            .unwrap();
        assert_eq!(r, RefreshOutcome::Invalid, "{}", b.name());

        // Other sessions of the same user are untouched.
        assert!(
            o.store
                .session_facts(o.admin_session, o.admin, None)
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test]
async fn expired_and_unknown_tokens_are_invalid() {
    for b in backends() {
        let o = Org::new(&b).await;
        let expired = refresh(-5);
        let session = o
            .store
            .create_session(o.admin, None, None, None, false, &expired)
            .await
            .unwrap();
        let next = refresh(3600);
        let r = o.store.rotate_refresh(&expired.hash, &next).await.unwrap();
        assert_eq!(r, RefreshOutcome::Invalid, "{}", b.name());
        // An invalid presentation stores nothing: the would-be next token is unknown too.
        let r = o
            .store
            .rotate_refresh(&next.hash, &refresh(3600))
            .await
            .unwrap();
        assert_eq!(r, RefreshOutcome::Invalid, "{}", b.name());
        // Expiry of a token is not reuse: the session survives.
        assert!(
            o.store
                .session_facts(session, o.admin, None)
                .await
                .unwrap()
                .is_some()
        );

        let r = o
            .store
            .rotate_refresh(b"never issued", &refresh(3600))
            .await
            .unwrap();
        assert_eq!(r, RefreshOutcome::Invalid, "{}", b.name());
    }
}

#[tokio::test]
async fn revoked_sessions_and_disabled_users_have_no_facts() {
    for b in backends() {
        let o = Org::new(&b).await;
        let (user, s1) = o.user("dev@example.com").await;
        let s2 = o
            .store
            .create_session(user, None, None, None, false, &refresh(3600))
            .await
            .unwrap();
        let facts = o
            .store
            .session_facts(s1, user, None)
            .await
            .unwrap()
            .unwrap();
        assert!(
            facts.caller.workspace.is_none(),
            "{}: a user with no membership has no workspace",
            b.name()
        );
        assert!(!facts.caller.is_account_admin());
        // The session belongs to its user only.
        assert!(
            o.store
                .session_facts(s1, o.admin, None)
                .await
                .unwrap()
                .is_none()
        );

        o.store.revoke_session(s1).await.unwrap();
        assert!(
            o.store
                .session_facts(s1, user, None)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            o.store
                .session_facts(s2, user, None)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(o.store.revoke_user_sessions(user).await.unwrap(), 1);
        assert!(
            o.store
                .session_facts(s2, user, None)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_requested_workspace_the_caller_cannot_act_in_is_not_found() {
    for b in backends() {
        let o = Org::new(&b).await;
        // An id that is no workspace at all.
        let r = o
            .store
            .session_facts(o.admin_session, o.admin, Some(WorkspaceId::new()))
            .await;
        assert!(
            matches!(r, Err(DomainError::NotFound(_))),
            "{}: {r:?}",
            b.name()
        );
        // A workspace of the organization the user is not a member of looks the same.
        let other = o.workspace("Other").await;
        let (user, session) = o.user("dev@example.com").await;
        let r = o.store.session_facts(session, user, Some(other)).await;
        assert!(
            matches!(r, Err(DomainError::NotFound(_))),
            "{}: {r:?}",
            b.name()
        );
        // The Account Admin may act in it.
        let f = o.facts(o.admin_session, o.admin, Some(other)).await;
        assert_eq!(f.workspace.map(|w| w.workspace), Some(other));
    }
}

#[tokio::test]
async fn the_active_workspace_falls_back_when_not_requested() {
    for b in backends() {
        let o = Org::new(&b).await;
        let other = o.workspace("Other").await;
        let f = o.facts(o.admin_session, o.admin, None).await;
        assert_eq!(
            f.workspace.map(|w| w.workspace),
            Some(o.default_ws),
            "{}",
            b.name()
        );
        o.store
            .set_active_workspace(o.admin_session, o.admin, other)
            .await
            .unwrap();
        let f = o.facts(o.admin_session, o.admin, None).await;
        assert_eq!(
            f.workspace.map(|w| w.workspace),
            Some(other),
            "{}",
            b.name()
        );
        // A new session of the same user starts where they were last.
        let s = o
            .store
            .create_session(o.admin, None, None, None, false, &refresh(3600))
            .await
            .unwrap();
        let f = o.facts(s, o.admin, None).await;
        assert_eq!(
            f.workspace.map(|w| w.workspace),
            Some(other),
            "{}",
            b.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_with_one_token_have_one_winner() {
    for b in backends() {
        let o = Org::new(&b).await;
        let token = refresh(3600);
        let session = o
            .store
            .create_session(o.admin, None, None, None, false, &token)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = o.store.clone();
            let presented = token.hash.clone();
            tasks.push(tokio::spawn(async move {
                store.rotate_refresh(&presented, &refresh(3600)).await
            }));
        }
        let mut rotated = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(RefreshOutcome::Rotated { session: s, .. }) => {
                    assert_eq!(s, session);
                    rotated += 1;
                }
                Ok(RefreshOutcome::Reused { session: s, .. }) => assert_eq!(s, session),
                other => panic!("{}: {other:?}", b.name()),
            }
        }
        assert_eq!(rotated, 1, "{}: exactly one refresh wins", b.name());
    }
}
