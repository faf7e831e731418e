//! Rules 2 and 17 for every sequence: random create/read/update/delete/duplicate/list calls by
//! random users, members of random workspaces of two organizations, over every kind, never show
//! an item of one workspace in another. Workspaces 0 and 1 are organization A's; workspace 2 is
//! organization B's (its Default), whose owner is a user of the sequence too, and members join
//! it by accepting an invitation with their own account. An item of another workspace or
//! organization answers 404 exactly like an id that does not exist (never 403), and a list
//! holds only its workspace's items. A model of what exists runs beside the server and says
//! what each answer must be.

use crate::organizations::{active_ws, new_org, register};
use crate::resources::{KINDS, Kind, ids, list_all};
use flowspace_testkit::{Backend, Client, PASSWORD, Resp, World, backends};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;

const WORKSPACES: usize = 3;
const MEMBERS: usize = 3;
/// The workspace of organization B.
const B_WS: usize = 2;

/// A member's role in each workspace (`None`: not a member); in `B_WS`, the role of the
/// invitation into organization B they accept.
type Memberships = [[Option<&'static str>; WORKSPACES]; MEMBERS];

#[derive(Clone, Copy, Debug)]
enum Action {
    Create,
    Read,
    Update,
    Delete,
    Duplicate,
    List,
}

/// The item a call aims at.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// An id that never existed.
    Missing,
    /// The n-th item created so far (modulo their number), of whatever kind and workspace.
    Nth(usize),
    /// The first item of the call's kind created in this workspace.
    FirstIn(usize),
}

/// One call: `user` 0 is organization A's Account Admin, 1..=MEMBERS the members (accounts of
/// A), MEMBERS + 1 organization B's owner; `ws` the workspace it names in `X-Workspace-Id`.
#[derive(Clone, Copy, Debug)]
struct Op {
    user: usize,
    ws: usize,
    kind: usize,
    action: Action,
    target: Target,
}

#[derive(Debug)]
struct ModelItem {
    id: String,
    ws: usize,
    kind: usize,
    version: i64,
    alive: bool,
}

struct Harness {
    w: World,
    ws: Vec<String>,
    /// Each user's client and the workspaces they may act in.
    users: Vec<(Client, [bool; WORKSPACES])>,
    items: Vec<ModelItem>,
    step: usize,
}

impl Harness {
    async fn new(backend: &Backend, members: &Memberships) -> Self {
        let w = World::new(backend).await;
        let (_, b_owner) = new_org(&w, "Beta", "owner@beta.test").await;
        let ws = vec![
            w.default_ws.clone(),
            w.workspace("North").await,
            active_ws(&b_owner).await,
        ];
        let mut users = vec![(w.admin.clone(), [true, true, false])];
        for (i, roles) in members.iter().enumerate() {
            let email = format!("member{i}@example.com");
            let id = w.user(&email).await;
            let mut may = [false; WORKSPACES];
            for (j, role) in roles.iter().enumerate() {
                let Some(role) = role else { continue };
                may[j] = true;
                if j != B_WS {
                    w.add(&ws[j], &id, role).await;
                    continue;
                }
                let r = b_owner
                    .post(
                        "/invitations",
                        json!({"email": email, "workspaceId": ws[B_WS], "role": role}),
                    )
                    .await;
                assert_eq!(r.status, 201, "invite into B: {}", r.body);
                let link = r.body["link"].as_str().expect("the link (no SMTP)");
                let r = register(&w.server, link, "Member", PASSWORD).await;
                assert_eq!(
                    r.status, 201,
                    "accept with the account's password: {}",
                    r.body
                );
            }
            users.push((w.server.login(&email, PASSWORD).await, may));
        }
        users.push((b_owner, [false, false, true]));
        Self {
            w,
            ws,
            users,
            items: Vec::new(),
            step: 0,
        }
    }

    /// The id an op aims at, and the model item behind it if any.
    fn target(&self, op: &Op) -> (String, Option<usize>) {
        let found = match op.target {
            Target::Missing => None,
            Target::Nth(n) => (!self.items.is_empty()).then(|| n % self.items.len()),
            Target::FirstIn(ws) => self
                .items
                .iter()
                .position(|m| m.ws == ws && m.kind == op.kind),
        };
        match found {
            Some(i) => (self.items[i].id.clone(), Some(i)),
            None => (uuid::Uuid::new_v4().to_string(), None),
        }
    }

    /// The same call for an id that never existed: what a hidden item must look like.
    async fn as_if_missing(
        &self,
        c: &Client,
        method: Method,
        kind: Kind,
        suffix: &str,
        body: Option<serde_json::Value>,
    ) -> Resp {
        let path = format!("{}{suffix}", kind.one(&uuid::Uuid::new_v4().to_string()));
        c.send(method, &path, body, &[]).await
    }

    async fn apply(&mut self, op: Op) {
        self.step += 1;
        let kind = KINDS[op.kind];
        let user = op.user % self.users.len();
        let (client, may) = &self.users[user];
        let ws_id = self.ws[op.ws].clone();
        let c = client.in_workspace(&ws_id);
        let member = may[op.ws];
        let what = format!("step {} {op:?} ({})", self.step, kind.path);

        if !member {
            // Not a member of the workspace named: 404, exactly like a workspace that does
            // not exist, whatever the call.
            let r = c.get(&kind.base()).await;
            let ghost = client
                .in_workspace(&uuid::Uuid::new_v4().to_string())
                .get(&kind.base())
                .await;
            assert_eq!((r.status, &r.body), (404, &ghost.body), "{what}");
            let (id, _) = self.target(&op);
            let r = c.get(&kind.one(&id)).await;
            assert_eq!((r.status, &r.body), (404, &ghost.body), "{what}");
            let r = c.post(&kind.base(), kind.create_body("intruder")).await;
            assert_eq!((r.status, &r.body), (404, &ghost.body), "{what}");
            return;
        }

        match op.action {
            Action::Create => {
                let r = c
                    .post(
                        &kind.base(),
                        kind.create_body(&format!("item {}", self.step)),
                    )
                    .await;
                assert_eq!(r.status, 201, "{what}: {}", r.body);
                assert_eq!(r.body["workspaceId"], ws_id, "{what}");
                self.items.push(ModelItem {
                    id: r.id(),
                    ws: op.ws,
                    kind: op.kind,
                    version: 1,
                    alive: true,
                });
            }
            Action::List => {
                let listed = list_all(&c, kind, 2).await;
                for item in &listed {
                    assert_eq!(item["workspaceId"], ws_id, "{what}: {item}");
                }
                let got: Vec<String> = ids(&listed);
                let unique: BTreeSet<String> = got.iter().cloned().collect();
                assert_eq!(unique.len(), got.len(), "{what}: listed twice");
                assert_eq!(unique, self.expected(op.ws, op.kind), "{what}");
            }
            Action::Read | Action::Update | Action::Delete | Action::Duplicate => {
                let (id, idx) = self.target(&op);
                let visible = idx.is_some_and(|i| {
                    let m = &self.items[i];
                    m.alive && m.ws == op.ws && m.kind == op.kind
                });
                let version = idx.map_or(1, |i| self.items[i].version);
                let (method, suffix, body, ok) = match op.action {
                    Action::Read => (Method::GET, "", None, 200),
                    Action::Update => (
                        Method::PUT,
                        "",
                        Some(kind.update_body(&format!("edit {}", self.step), Some(version))),
                        200,
                    ),
                    Action::Delete => (Method::DELETE, "", None, 204),
                    _ if kind.is_flow() => (Method::POST, "/duplicate", Some(json!({})), 201),
                    _ => (Method::GET, "", None, 200),
                };
                let path = format!("{}{suffix}", kind.one(&id));
                let r = c.send(method.clone(), &path, body.clone(), &[]).await;
                if visible {
                    assert_eq!(r.status, ok, "{what}: {}", r.body);
                    let i = idx.unwrap_or_default();
                    match (method, ok) {
                        (Method::GET, _) => {
                            assert_eq!(
                                (r.body["id"].as_str(), &r.body["workspaceId"]),
                                (Some(id.as_str()), &json!(ws_id)),
                                "{what}"
                            );
                            assert_eq!(r.body["version"], self.items[i].version, "{what}");
                        }
                        (Method::PUT, _) => {
                            self.items[i].version += 1;
                            assert_eq!(r.body["version"], self.items[i].version, "{what}");
                            assert_eq!(r.body["workspaceId"], ws_id, "{what}");
                        }
                        (Method::DELETE, _) => self.items[i].alive = false,
                        _ => {
                            assert_eq!(r.body["workspaceId"], ws_id, "{what}");
                            assert_ne!(r.id(), id, "{what}");
                            self.items.push(ModelItem {
                                id: r.id(),
                                ws: op.ws,
                                kind: op.kind,
                                version: 1,
                                alive: true,
                            });
                        }
                    }
                } else {
                    let missing = self.as_if_missing(&c, method, kind, suffix, body).await;
                    assert_eq!(missing.status, 404, "{what}: {}", missing.body);
                    assert_eq!(
                        (r.status, &r.body),
                        (404, &missing.body),
                        "{what}: another workspace's (or a deleted) item must look missing"
                    );
                }
            }
        }
    }

    fn expected(&self, ws: usize, kind: usize) -> BTreeSet<String> {
        self.items
            .iter()
            .filter(|m| m.alive && m.ws == ws && m.kind == kind)
            .map(|m| m.id.clone())
            .collect()
    }

    /// Who reads workspace `ws` at the end: its organization's owner.
    fn owner_of(&self, ws: usize) -> &Client {
        if ws == B_WS {
            &self.users[MEMBERS + 1].0
        } else {
            &self.w.admin
        }
    }

    /// At the end: every list of every workspace, read by its organization's owner, is the
    /// model's; every item reads in its own workspace only; and neither owner reaches the
    /// other organization's workspace.
    async fn check_all(&self) {
        for (w, ws_id) in self.ws.iter().enumerate() {
            let c = self.owner_of(w).in_workspace(ws_id);
            for (k, kind) in KINDS.iter().enumerate() {
                let listed = list_all(&c, *kind, 50).await;
                let got: BTreeSet<String> = ids(&listed).into_iter().collect();
                assert_eq!(
                    got,
                    self.expected(w, k),
                    "final list of {} in workspace {w}",
                    kind.path
                );
            }
        }
        for m in &self.items {
            for (w, ws_id) in self.ws.iter().enumerate() {
                for reader in [0, B_WS] {
                    let r = self
                        .owner_of(reader)
                        .in_workspace(ws_id)
                        .get(&KINDS[m.kind].one(&m.id))
                        .await;
                    let own = (w == B_WS) == (reader == B_WS);
                    let want = if own && m.alive && m.ws == w {
                        200
                    } else {
                        404
                    };
                    assert_eq!(
                        r.status, want,
                        "{m:?} read in workspace {w} by the owner of workspace {reader}: {}",
                        r.body
                    );
                }
            }
        }
    }
}

async fn run(backend: &Backend, members: &Memberships, ops: &[Op]) {
    let mut h = Harness::new(backend, members).await;
    for op in ops {
        h.apply(*op).await;
    }
    h.check_all().await;
    let Harness { mut w, .. } = h;
    w.server.shutdown().await;
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => Just(Action::Create),
        2 => Just(Action::Read),
        2 => Just(Action::Update),
        1 => Just(Action::Delete),
        1 => Just(Action::Duplicate),
        2 => Just(Action::List),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        1 => Just(Target::Missing),
        4 => (0..64usize).prop_map(Target::Nth),
        3 => (0..WORKSPACES).prop_map(Target::FirstIn),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..=MEMBERS + 1,
        0..WORKSPACES,
        0..KINDS.len(),
        action(),
        target(),
    )
        .prop_map(|(user, ws, kind, action, target)| Op {
            user,
            ws,
            kind,
            action,
            target,
        })
}

fn memberships() -> impl Strategy<Value = Memberships> {
    let role = prop_oneof![Just(None), Just(Some("Admin")), Just(Some("Developer"))];
    prop::array::uniform3(prop::array::uniform3(role))
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 64, ..ProptestConfig::with_cases(8) })]

    #[test]
    fn random_calls_never_show_an_item_in_another_workspace(
        members in memberships(),
        ops in prop::collection::vec(op(), 1..48),
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(run(&Backend::Sqlite, &members, &ops));
    }
}

/// One fixed sequence, on every backend: for each kind, an item made in one workspace is
/// read, updated, deleted, duplicated and listed from the others (of its organization and of
/// the other) by members, the Account Admin and the other organization's owner, and only its
/// own workspace sees it.
#[tokio::test]
async fn a_fixed_sequence_keeps_every_kind_in_its_workspace() {
    // member 1 in North (A) only, member 2 in South (B's) only, member 3 in both; user 4 is
    // B's owner.
    let members: Memberships = [
        [None, Some("Admin"), None],
        [None, None, Some("Developer")],
        [None, Some("Developer"), Some("Admin")],
    ];
    const NORTH: Target = Target::FirstIn(1);
    let mut ops = Vec::new();
    for kind in 0..KINDS.len() {
        let op = |user, ws, action, target| Op {
            user,
            ws,
            kind,
            action,
            target,
        };
        ops.push(op(1, 1, Action::Create, Target::Missing));
        ops.push(op(2, 2, Action::Create, Target::Missing));
        // From everywhere but North, by members of South, the Account Admin, and users who
        // are not members of the workspace they name.
        for (user, ws) in [
            (2, 2),
            (3, 2),
            (0, 2),
            (0, 0),
            (1, 2),
            (2, 1),
            (1, 0),
            (4, 2),
            (4, 1),
        ] {
            for action in [
                Action::Read,
                Action::Update,
                Action::Delete,
                Action::Duplicate,
                Action::List,
            ] {
                ops.push(op(user, ws, action, NORTH));
            }
        }
        ops.push(op(3, 1, Action::Update, NORTH));
        ops.push(op(3, 1, Action::Duplicate, NORTH));
        ops.push(op(1, 1, Action::List, Target::Missing));
        ops.push(op(3, 2, Action::List, Target::Missing));
        ops.push(op(3, 1, Action::Delete, NORTH));
        ops.push(op(3, 1, Action::Read, NORTH));
        ops.push(op(0, 1, Action::List, Target::Missing));
        // B's items, seen from A.
        ops.push(op(4, 2, Action::Create, Target::Missing));
        for (user, ws) in [(1, 1), (0, 0), (3, 1)] {
            for action in [
                Action::Read,
                Action::Update,
                Action::Delete,
                Action::Duplicate,
            ] {
                ops.push(op(user, ws, action, Target::FirstIn(2)));
            }
        }
        ops.push(op(3, 2, Action::Read, Target::FirstIn(2)));
    }
    for b in backends() {
        run(&b, &members, &ops).await;
    }
}
