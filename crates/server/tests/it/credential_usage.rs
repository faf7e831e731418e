//! Where a credential is used (`GET /credentials/{id}/usage`): the workspaces it reaches and
//! the items there whose data name its id, named only where the caller may view them, the
//! rest counted; refused like `GET /credentials/{id}`.

use flowspace_testkit::{Client, World, backends};
use serde_json::{Value, json};

/// Data naming `credential` the way a flow's node does.
fn naming(credential: &str) -> Value {
    json!({"nodes": [{"id": "llm_0", "data": {"inputs": {"modelName": "gpt-4o"}, "credential": credential}}], "edges": []})
}

async fn made(c: &Client, path: &str, name: &str, data: Value) -> String {
    let r = c.post(path, json!({"name": name, "data": data})).await;
    assert_eq!(r.status, 201, "{path} {name}: {}", r.body);
    r.id()
}

/// The usage entry of the workspace named `name`.
fn at<'v>(usage: &'v Value, name: &str) -> &'v Value {
    usage["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {usage}"))
}

/// The names of the items listed for a workspace, sorted.
fn names(w: &Value) -> Vec<String> {
    let mut v: Vec<String> = w["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn usage_names_what_the_caller_may_view_and_counts_the_rest() {
    for b in backends() {
        let on = b.name();
        let w = World::new(&b).await;
        let (team, ops, secret) = (
            w.workspace("Team").await,
            w.workspace("Ops").await,
            w.workspace("Secret").await,
        );
        let admin_team = w.admin.in_workspace(&team);
        let cred = admin_team
            .post(
                "/credentials",
                json!({"name": "OpenAI", "credentialName": "openAIApi", "data": {"apiKey": "sk-1"}}),
            )
            .await
            .id();
        let r = admin_team
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [ops, secret]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);

        made(&admin_team, "/chatflows", "Team bot", naming(&cred)).await;
        // Not references: the id inside a longer string, as an object's key, in a kind that
        // runs nothing (a tool), and another credential's id.
        made(
            &admin_team,
            "/agentflows",
            "Decoy",
            json!({"note": format!("{cred}-old"), (cred.clone()): "key"}),
        )
        .await;
        made(&admin_team, "/tools", "A tool", naming(&cred)).await;
        made(
            &admin_team,
            "/chatflows",
            "Other",
            naming(&uuid::Uuid::new_v4().to_string()),
        )
        .await;
        let admin_ops = w.admin.in_workspace(&ops);
        made(&admin_ops, "/chatflows", "Ops bot", naming(&cred)).await;
        made(&admin_ops, "/assistants", "Ops helper", naming(&cred)).await;
        made(
            &w.admin.in_workspace(&secret),
            "/document-stores",
            "Secret store",
            naming(&cred),
        )
        .await;
        let usage = format!("/credentials/{cred}/usage");

        // The Account Admin sees everything.
        let all = admin_team.get(&usage).await;
        assert_eq!(all.status, 200, "{on}: {}", all.body);
        assert_eq!(all.body["credentialId"], cred.as_str());
        let order: Vec<&str> = all.body["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            ["Team", "Ops", "Secret"],
            "owner first, then by name"
        );
        assert_eq!(at(&all.body, "Team")["owner"], true);
        assert_eq!(at(&all.body, "Ops")["owner"], false);
        assert_eq!(names(at(&all.body, "Team")), ["Team bot"]);
        assert_eq!(names(at(&all.body, "Ops")), ["Ops bot", "Ops helper"]);
        assert_eq!(names(at(&all.body, "Secret")), ["Secret store"]);
        let kinds: Vec<&str> = at(&all.body, "Ops")["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["chatflows", "assistants"]);
        assert_eq!(
            (
                all.body["hiddenItems"].clone(),
                all.body["unnamedWorkspaces"].clone()
            ),
            (json!(0), json!(0))
        );

        // A developer of Team who holds only credentials:view and assistants:view in Ops and
        // nothing in Secret.
        let creds_only = w
            .role(
                "Creds and assistants",
                &["credentials:view", "assistants:view"],
            )
            .await;
        let (dev_id, dev) = w.member("dev@example.com", &team, "Developer").await;
        w.add(&ops, &dev_id, &creds_only).await;
        let seen = dev.get(&usage).await;
        assert_eq!(seen.status, 200, "{on}: {}", seen.body);
        assert_eq!(names(at(&seen.body, "Team")), ["Team bot"]);
        assert_eq!(names(at(&seen.body, "Ops")), ["Ops helper"]);
        assert_eq!(at(&seen.body, "Ops")["hiddenItems"], 1);
        // Read where it is owned, every share is named (as GET /credentials/{id}/shares does),
        // but not what is in a workspace the caller cannot view.
        assert_eq!(names(at(&seen.body, "Secret")), Vec::<String>::new());
        assert_eq!(at(&seen.body, "Secret")["hiddenItems"], 1);
        assert_eq!(seen.body["hiddenItems"], 2);
        assert_eq!(seen.body["unnamedWorkspaces"], 0);
        let text = seen.body.to_string();
        assert!(
            !text.contains("Ops bot") && !text.contains("Secret store"),
            "{on}: no name of an item the caller may not view: {text}"
        );

        // Read from Ops, where it is only shared in: the owner and Ops are named, Secret (where
        // the developer does not belong) only counted.
        let from_ops = dev.in_workspace(&ops).get(&usage).await;
        assert_eq!(from_ops.status, 200, "{on}: {}", from_ops.body);
        let listed: Vec<&str> = from_ops.body["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(listed, ["Team", "Ops"]);
        assert_eq!(from_ops.body["unnamedWorkspaces"], 1);
        assert_eq!(from_ops.body["hiddenItems"], 2, "Ops bot and Secret store");
        assert!(!from_ops.body.to_string().contains("Secret"));

        // An API key of Team sees what it holds there, and nothing of other workspaces.
        let key = admin_team
            .post(
                "/apikeys",
                json!({"name": "k", "permissions": ["credentials:view", "chatflows:view"]}),
            )
            .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let key = w
            .server
            .client()
            .with_token(key.body["key"].as_str().unwrap());
        let by_key = key.get(&usage).await;
        assert_eq!(by_key.status, 200, "{on}: {}", by_key.body);
        assert_eq!(names(at(&by_key.body, "Team")), ["Team bot"]);
        assert_eq!(names(at(&by_key.body, "Ops")), Vec::<String>::new());
        assert_eq!(by_key.body["hiddenItems"], 3);

        // Unsharing Ops takes it out of the usage.
        let r = admin_team
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [secret]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let after = admin_team.get(&usage).await;
        let listed: Vec<&str> = after.body["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(listed, ["Team", "Secret"], "{on}");
    }
}

#[tokio::test]
async fn usage_is_refused_as_reading_the_credential_is() {
    for b in backends() {
        let on = b.name();
        let w = World::new(&b).await;
        let team = w.workspace("Team").await;
        let theirs = w
            .admin
            .post(
                "/credentials",
                json!({"name": "Default key", "credentialName": "x", "data": {"k": "v"}}),
            )
            .await
            .id();
        made(&w.admin, "/chatflows", "Default bot", naming(&theirs)).await;
        let ours = w
            .admin
            .in_workspace(&team)
            .post(
                "/credentials",
                json!({"name": "Team key", "credentialName": "x", "data": {"k": "v"}}),
            )
            .await
            .id();
        let (_, dev) = w.member("dev@example.com", &team, "Developer").await;

        // Another workspace's credential is not found, and says nothing of its flows.
        let r = dev.get(&format!("/credentials/{theirs}/usage")).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{on}: {}", r.body);
        assert!(!r.body.to_string().contains("Default bot"));
        // Nor is an id that is none.
        let r = dev.get("/credentials/not-an-id/usage").await;
        assert_eq!(r.status, 404, "{on}: {}", r.body);

        // Without credentials:view: 403 naming it, for a member and for an API key.
        let (_, viewer) = w
            .member(
                "flows@example.com",
                &team,
                &w.role("Flows only", &["chatflows:view"]).await,
            )
            .await;
        let key = w
            .admin
            .in_workspace(&team)
            .post(
                "/apikeys",
                json!({"name": "k", "permissions": ["chatflows:view"]}),
            )
            .await;
        let key = w
            .server
            .client()
            .with_token(key.body["key"].as_str().unwrap());
        for (who, c) in [("member", &viewer), ("API key", &key)] {
            let r = c.get(&format!("/credentials/{ours}/usage")).await;
            assert_eq!(r.status, 403, "{who} on {on}: {}", r.body);
            assert_eq!(
                r.body["error"]["missingPermission"], "credentials:view",
                "{who} on {on}"
            );
        }
        // Anonymous: 401.
        let r = w
            .server
            .client()
            .get(&format!("/credentials/{ours}/usage"))
            .await;
        assert_eq!(r.status, 401, "{on}");
        // The right caller passes.
        assert_eq!(
            dev.get(&format!("/credentials/{ours}/usage")).await.status,
            200
        );
    }
}
