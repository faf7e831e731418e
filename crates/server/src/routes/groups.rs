//! The routes of groups and their workspace assignments.

use super::RouteDef;
use crate::api::groups::*;
use crate::openapi::{body, list};
use axum::http::Method;
use flowspace_store::Group;

pub(super) fn groups() -> Vec<RouteDef> {
    use crate::auth::Guard::AccountAdmin;
    use Method as M;
    vec![
        RouteDef::new(M::GET, "/groups", AccountAdmin, list_groups)
            .doc(
                "groups",
                "The organization's groups with their members and workspaces, oldest first; q searches names",
            )
            .ok(200, list::<Group>())
            .paged()
            .searched_by("Only those whose name contains this, case-insensitively"),
        RouteDef::new(M::POST, "/groups", AccountAdmin, create)
            .doc("groups", "Create a group, optionally with its members")
            .req(body::<GroupInput>())
            .ok(201, body::<Group>()),
        RouteDef::new(M::GET, "/groups/{id}", AccountAdmin, get)
            .doc("groups", "Read a group")
            .ok(200, body::<Group>()),
        RouteDef::new(M::PATCH, "/groups/{id}", AccountAdmin, patch)
            .doc(
                "groups",
                "Rename or describe a group; `members` replaces the set of members",
            )
            .req(body::<GroupPatchInput>())
            .ok(200, body::<Group>()),
        RouteDef::new(M::DELETE, "/groups/{id}", AccountAdmin, delete)
            .doc(
                "groups",
                "Delete a group: its members lose what it gave them at their next request",
            )
            .empty(204),
        RouteDef::new(
            M::POST,
            "/workspace/{id}/add-group",
            AccountAdmin,
            add_group,
        )
        .doc(
            "groups",
            "Assign a group to a workspace with a role (or change its role there)",
        )
        .req(body::<AddGroup>())
        .ok(200, body::<Group>()),
        RouteDef::new(
            M::POST,
            "/workspace/{id}/remove-group",
            AccountAdmin,
            remove_group,
        )
        .doc("groups", "Take a group off a workspace")
        .req(body::<GroupIdInput>())
        .empty(204),
    ]
}
