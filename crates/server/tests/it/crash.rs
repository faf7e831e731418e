//! Crash safety of the real `flowspace` binary (issue 17): SIGKILL while it imports 10,000
//! items, moves 5,000 flows, re-seals every credential (`flowspace rotate-encryption-key`, the
//! server killed with it) and deletes a workspace, each at several moments spread over the
//! operation's duration (measured first by one uninterrupted run), on SQLite and PostgreSQL.
//! After every restart: the change is there entirely or not at all (and there whenever it was
//! acknowledged), every credential still decrypts, the audit chain verifies, the server starts
//! without logging an error or a warning, and SQLite's file passes its integrity check.

mod support;

use flowspace_testkit::{Backend, Client, backends, fresh_database};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Binary, Db, send};
use tokio::task::JoinHandle;

/// When the kills land, as fractions of the uninterrupted run's duration: before, during and
/// around the commit. Each operation also runs once uninterrupted (its duration) and is killed
/// right after its answer: the moment after the commit. Imports and moves take seconds on
/// PostgreSQL, so they get fewer moments than the rotation and the delete.
const MOMENTS: [f64; 3] = [0.1, 0.5, 0.9];
const DENSE: [f64; 6] = [0.05, 0.2, 0.4, 0.6, 0.8, 1.0];
const IMPORTED: usize = 10_000;
const MOVED: usize = 5_000;
const CREDENTIALS: usize = 2_000;
/// The size of the workspaces imported only to be deleted.
const DELETED: usize = 2_500;

/// The uninterrupted run (`None`), then the kills.
fn moments(at: &[f64]) -> impl Iterator<Item = Option<f64>> + '_ {
    std::iter::once(None).chain(at.iter().copied().map(Some))
}

/// One backend's server and what the kills found.
struct Run {
    server: Binary,
    url: String,
    token: String,
    admin: Client,
    /// How long the operation under test took uninterrupted.
    took: Duration,
    /// (operation, moment, whether the change was found committed); moment 1 is the kill
    /// right after the uninterrupted run's answer.
    outcomes: Vec<(&'static str, f64, bool)>,
}

impl Run {
    fn send(&self, method: Method, path: &str, ws: Option<&str>, body: Option<&Value>) -> Pending {
        send(&self.server.base, &self.token, method, path, ws, body)
    }

    /// Kills the server at `at` times the uninterrupted duration (scaled by `size`) after the
    /// request was sent; or, for `None`, lets the request finish, measures it, and kills the
    /// server right after the answer. Answers the answer, if one came before the kill.
    async fn kill_at(&mut self, request: Pending, at: Option<f64>, size: f64) -> Option<u16> {
        let answer = match at {
            Some(at) => {
                tokio::time::sleep(self.took.mul_f64(at * size)).await;
                self.server.kill9();
                request.await.unwrap()
            }
            None => {
                let t = Instant::now();
                let answer = request.await.unwrap();
                self.took = t.elapsed();
                answer
            }
        };
        self.server.kill9();
        answer
    }

    /// Starts the server again and checks what holds after any crash: it starts clean, the
    /// database file is sound, the audit chain verifies. Answers the database to look into.
    async fn restart(&mut self) -> Db {
        self.server.up().await;
        let db = Db::open(&self.url).await;
        db.integrity().await;
        let v = self.admin.get("/audit-events/verify").await;
        assert_eq!(
            (v.status, &v.body["valid"]),
            (200, &json!(true)),
            "{}",
            v.body
        );
        db
    }

    /// Notes an outcome; an acknowledged change must have been found committed.
    fn record(
        &mut self,
        op: &'static str,
        at: Option<f64>,
        answer: Option<u16>,
        ok: u16,
        done: bool,
    ) {
        let at = at.unwrap_or(1.0);
        assert!(
            answer.is_none() || answer == Some(ok),
            "{op} at {at}: answered {answer:?}"
        );
        assert!(
            answer.is_none() || done,
            "{op} at {at} was acknowledged but is not there after the restart"
        );
        self.outcomes.push((op, at, done));
    }

    async fn workspace(&self, name: &str) -> String {
        let r = self.admin.post("/workspace", json!({"name": name})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.id()
    }
}

type Pending = JoinHandle<Option<u16>>;

/// A bundle of `n` chatflows and `credentials` credentials (their secrets never travel).
fn bundle(n: usize, credentials: usize) -> Value {
    let id = || uuid::Uuid::new_v4().to_string();
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"kind": "chatflows", "id": id(), "name": format!("flow {i}"), "description": "seeded", "data": {"nodes": [{"id": "llm_0"}], "edges": []}}))
        .collect();
    let creds: Vec<Value> = (0..credentials)
        .map(|i| json!({"id": id(), "name": format!("cred {i}"), "credentialName": "openAIApi", "dataKeys": ["apiKey"]}))
        .collect();
    json!({"format": "flowspace-bundle", "version": 1, "items": items, "credentials": creds})
}

const ITEMS_IN: &str = "SELECT COUNT(*) FROM items WHERE workspace_id = $1";

#[tokio::test]
async fn kill_9_during_import_move_rotation_and_delete_leaves_all_or_nothing() {
    let t = Instant::now();
    // The backends run side by side: PostgreSQL's bulk writes take most of the time.
    let runs = futures_util::future::join_all(backends().iter().map(crash_backend)).await;
    eprintln!("crash test: {:.1} s", t.elapsed().as_secs_f64());
    let outcomes: Vec<_> = runs.into_iter().flatten().collect();
    // The moments are spread so that some kills land before the commit and some after it.
    assert!(
        outcomes.iter().any(|o| o.2) && outcomes.iter().any(|o| !o.2 && o.1 > 0.1),
        "{outcomes:?}"
    );
}

async fn crash_backend(b: &Backend) -> Vec<(&'static str, f64, bool)> {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(b, dir.path()).await;
    let mut server = Binary::new(dir.path(), url.clone());
    server.up().await;
    let setup = Client::new(&server.base)
        .post("/setup", json!({"organizationName": "Acme", "name": "Admin", "email": flowspace_testkit::ADMIN_EMAIL, "password": flowspace_testkit::PASSWORD}))
        .await;
    assert_eq!(setup.status, 201, "{}", setup.body);
    let token = setup.body["accessToken"].as_str().unwrap().to_string();
    let admin = Client::new(&server.base).with_token(&token);
    let took = Duration::ZERO;
    let mut r = Run {
        server,
        url,
        token,
        admin,
        took,
        outcomes: Vec::new(),
    };

    let t = Instant::now();
    let mut full = imports(&mut r).await;
    eprintln!(
        "{}: imports {:.1} s ({:?} each)",
        b.name(),
        t.elapsed().as_secs_f64(),
        r.took
    );
    let t = Instant::now();
    full.push((moves(&mut r).await, MOVED as i64));
    eprintln!(
        "{}: moves {:.1} s ({:?} each)",
        b.name(),
        t.elapsed().as_secs_f64(),
        r.took
    );
    let t = Instant::now();
    rotations(&mut r).await;
    eprintln!(
        "{}: rotations {:.1} s ({:?} each)",
        b.name(),
        t.elapsed().as_secs_f64(),
        r.took
    );
    let t = Instant::now();
    deletes(&mut r, full).await;
    eprintln!(
        "{}: deletes {:.1} s ({:?} each)",
        b.name(),
        t.elapsed().as_secs_f64(),
        r.took
    );
    eprintln!("{}: {:?}", b.name(), r.outcomes);
    r.outcomes
}

/// Imports of 10,000 chatflows, each into a new workspace: the workspaces that hold them.
async fn imports(r: &mut Run) -> Vec<(String, i64)> {
    let bundle = bundle(IMPORTED, 0);
    let mut full = Vec::new();
    for (i, at) in moments(&MOMENTS).enumerate() {
        let ws = r.workspace(&format!("import {i}")).await;
        let pending = r.send(Method::POST, "/import", Some(&ws), Some(&bundle));
        let answer = r.kill_at(pending, at, 1.0).await;
        let db = r.restart().await;
        let items = db.count(ITEMS_IN, Some(&ws)).await;
        let events = db
            .count("SELECT COUNT(*) FROM audit_events WHERE action = 'workspace.import' AND workspace_id = $1", Some(&ws))
            .await;
        db.close().await;
        assert!(
            matches!((items, events), (0, 0) | (10_000, 1)),
            "import at {at:?}: {items} items, {events} import events"
        );
        r.record("import", at, answer, 201, items > 0);
        if items > 0 {
            full.push((ws, items));
        }
    }
    full
}

/// Bulk moves of 5,000 chatflows back and forth between two workspaces: the one holding them.
async fn moves(r: &mut Run) -> String {
    let (mut from, mut to) = (r.workspace("move a").await, r.workspace("move b").await);
    let created = r
        .admin
        .in_workspace(&to)
        .post("/import", bundle(MOVED, 0))
        .await;
    assert_eq!(created.status, 201);
    let ids: Vec<&str> = created.body["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let mut moved = 0;
    for at in moments(&MOMENTS) {
        std::mem::swap(&mut from, &mut to);
        let body = json!({"ids": ids, "targetWorkspaceId": to});
        let pending = r.send(Method::POST, "/admin/flows/move", None, Some(&body));
        let answer = r.kill_at(pending, at, 1.0).await;
        let db = r.restart().await;
        let (in_from, in_to) = (
            db.count(ITEMS_IN, Some(&from)).await,
            db.count(ITEMS_IN, Some(&to)).await,
        );
        let events = db
            .count(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'flow.move'",
                None,
            )
            .await;
        let versions = db
            .count("SELECT COUNT(*) FROM items WHERE version <> 1", None)
            .await;
        db.close().await;
        let done = in_to > 0;
        moved += i64::from(done);
        assert!(
            matches!((in_from, in_to), (0, 5_000) | (5_000, 0)),
            "move at {at:?}: {in_from} left, {in_to} arrived"
        );
        assert_eq!(
            events,
            moved * MOVED as i64,
            "one flow.move event per flow moved"
        );
        assert_eq!(versions, 0, "a move keeps versions");
        r.record("move", at, answer, 200, done);
        if !done {
            std::mem::swap(&mut from, &mut to);
        }
    }
    to
}

/// `flowspace rotate-encryption-key` over 2,010 credentials, killed with the server; afterwards
/// every credential is sealed under one key and decrypts (the restarted server reads the keys
/// the rotation left in DATA_DIR/secrets.json).
async fn rotations(r: &mut Run) {
    let ws = r.workspace("vault").await;
    let vault = r.admin.in_workspace(&ws);
    let imported = vault.post("/import", bundle(0, CREDENTIALS)).await;
    assert_eq!(imported.status, 201);
    let mut secrets = Vec::new();
    for i in 0..10 {
        let c = vault
            .post("/credentials", json!({"name": format!("real {i}"), "credentialName": "openAIApi", "data": {"apiKey": format!("sk-crash-{i}")}}))
            .await;
        assert_eq!(c.status, 201, "{}", c.body);
        secrets.push((c.id(), json!(format!("sk-crash-{i}"))));
    }
    for c in imported.body["created"]
        .as_array()
        .unwrap()
        .iter()
        .step_by(250)
    {
        secrets.push((c["id"].as_str().unwrap().to_string(), json!("")));
    }
    let mut key = sealed_under(r, &vault, &secrets, false).await;
    for at in moments(&DENSE) {
        let mut cli = r
            .server
            .command(&["rotate-encryption-key"])
            .spawn()
            .unwrap();
        let t = Instant::now();
        let finished = match at {
            None => {
                let status = cli.wait().unwrap();
                r.took = t.elapsed();
                Some(status)
            }
            Some(at) => {
                tokio::time::sleep(r.took.mul_f64(at)).await;
                let finished = cli.try_wait().unwrap();
                let _ = cli.kill();
                let _ = cli.wait();
                finished
            }
        };
        r.server.kill9();
        let now = sealed_under(r, &vault, &secrets, true).await;
        let answer = finished.map(|s| u16::from(!s.success()));
        r.record("rotation", at, answer, 0, now != key);
        key = now;
    }
}

/// Checks that every credential is sealed under one key and that the sample decrypts to its
/// secret (after restarting the server when `restart`): that key.
async fn sealed_under(
    r: &mut Run,
    vault: &Client,
    secrets: &[(String, Value)],
    restart: bool,
) -> String {
    let db = if restart {
        r.restart().await
    } else {
        Db::open(&r.url).await
    };
    let keys = db.texts("SELECT DISTINCT key_id FROM credentials").await;
    db.close().await;
    assert_eq!(keys.len(), 1, "one key seals every credential: {keys:?}");
    for (id, secret) in secrets {
        let got = vault
            .post(&format!("/credentials/{id}/resolve"), json!({}))
            .await;
        assert_eq!(
            (got.status, &got.body["data"]["apiKey"]),
            (200, secret),
            "{}",
            got.body
        );
    }
    keys.into_iter().next().unwrap_or_default()
}

/// Deletions of workspaces holding thousands of items: those the imports and moves left, and
/// more of 2,500 items where they are too few.
async fn deletes(r: &mut Run, mut full: Vec<(String, i64)>) {
    let bundle = bundle(DELETED, 0);
    while full.len() < DENSE.len() + 1 {
        let ws = r.workspace(&format!("extra {}", full.len())).await;
        let created = r
            .admin
            .in_workspace(&ws)
            .post("/import", bundle.clone())
            .await;
        assert_eq!(created.status, 201);
        full.push((ws, DELETED as i64));
    }
    let size = full[0].1 as f64;
    for (at, (ws, n)) in moments(&DENSE).zip(full) {
        let pending = r.send(Method::DELETE, &format!("/workspace/{ws}"), None, None);
        // The moment scaled to this workspace's size.
        let answer = r.kill_at(pending, at, n as f64 / size).await;
        let db = r.restart().await;
        let found = (
            db.count("SELECT COUNT(*) FROM workspaces WHERE id = $1", Some(&ws)).await,
            db.count(ITEMS_IN, Some(&ws)).await,
            db.count("SELECT COUNT(*) FROM audit_events WHERE action = 'workspace.delete' AND target_id = $1", Some(&ws)).await,
        );
        let members = db
            .count(
                "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1",
                Some(&ws),
            )
            .await;
        db.close().await;
        assert!(
            found == (1, n, 0) || (found == (0, 0, 1) && members == 0),
            "delete at {at:?}: (workspace, items, events) = {found:?}, {members} memberships"
        );
        r.record("delete", at, answer, 204, found.0 == 0);
    }
}
