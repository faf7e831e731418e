//! Flowise's own export file (`ExportData.json`, made by a real Flowise 3.1.4: see
//! tests/fixtures/flowise-3.1.4) through `POST /import` with `"format": "flowise"` (SPEC §10),
//! into the caller's active workspace under the import's rules, on SQLite and PostgreSQL.

use flowspace_testkit::{Client, World, backends};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/flowise-3.1.4")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn body(data: Value) -> Value {
    json!({"format": "flowise", "data": data})
}

/// The export's keys that hold flows, and the list their flows land in.
const FLOW_KEYS: &[(&str, &str)] = &[
    ("ChatFlow", "chatflows"),
    ("AgentFlow", "agentflows"),
    ("AgentFlowV2", "agentflows"),
    ("AssistantFlow", "assistants"),
];

/// Every item of a list, by name.
async fn by_name(c: &Client, path: &str) -> BTreeMap<String, Value> {
    let r = c.get(&format!("{path}?limit=100")).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_string(), i.clone()))
        .collect()
}

/// How many items each kind the export fills holds.
async fn counts(c: &Client) -> Vec<usize> {
    let mut out = Vec::new();
    for path in [
        "/chatflows",
        "/agentflows",
        "/assistants",
        "/tools",
        "/variables",
        "/document-stores",
        "/credentials",
    ] {
        out.push(by_name(c, path).await.len());
    }
    out
}

#[tokio::test]
async fn a_flowise_export_file_imports_into_the_active_workspace() {
    let file = fixture("ExportData.json");
    let expected = fixture("expected.json");
    for b in backends() {
        let w = World::new(&b).await;
        let t = w.workspace("From Flowise").await;
        let dst = w.admin.in_workspace(&t);

        // The preview names all it would create and writes nothing.
        let preview = dst.post("/import/preview", body(file.clone())).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        let entries = preview.body["entries"].as_array().unwrap();
        // 6 chatflows, 2 agentflows, 2 assistants, 2 tools, 3 variables, 1 document store.
        assert_eq!(entries.len(), 16, "{}", preview.body);
        assert!(entries.iter().all(|e| e["renamed"] == false));
        assert_eq!(counts(&dst).await, vec![0; 7], "a preview writes nothing");

        let r = dst.post("/import", body(file.clone())).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let created = r.body["created"].as_array().unwrap();
        assert_eq!(created.len(), 16);
        // No credential travels in a Flowise export: each one the flows name is reported.
        let left_out = r.body["leftOut"].as_array().unwrap();
        for id in expected["credentials"].as_object().unwrap().keys() {
            assert!(
                left_out.iter().any(|l| l.as_str().unwrap().contains(id)),
                "credential {id} not reported: {left_out:?}"
            );
        }
        assert_eq!(counts(&dst).await, vec![6, 2, 2, 2, 3, 1, 0]);

        // Every flow, read back through HTTP, has Flowise's flowData (its credential ids as
        // they were), in the list its type says.
        for (key, path) in FLOW_KEYS {
            let listed = by_name(&dst, &format!("/{path}")).await;
            for row in file[key].as_array().unwrap() {
                let name = row["name"].as_str().unwrap();
                let id = listed[name]["id"].as_str().unwrap();
                let item = dst.get(&format!("/{path}/{id}")).await;
                assert_eq!(item.status, 200, "{}", item.body);
                let theirs: Value =
                    serde_json::from_str(row["flowData"].as_str().unwrap()).unwrap();
                assert_eq!(item.body["data"]["flowData"], theirs, "{key} `{name}`");
                assert_eq!(item.body["data"]["type"], row["type"], "{key} `{name}`");
            }
        }
        // The assistants' own settings joined their flows.
        let assistants = by_name(&dst, "/assistants").await;
        let helpdesk = assistants["Helpdesk Assistant"]["id"].as_str().unwrap();
        let item = dst.get(&format!("/assistants/{helpdesk}")).await;
        assert_eq!(item.body["data"]["assistant"]["type"], "CUSTOM");
        // Tools, variables and the document store with its chunks.
        let tools = by_name(&dst, "/tools").await;
        for row in file["Tool"].as_array().unwrap() {
            let id = tools[row["name"].as_str().unwrap()]["id"].as_str().unwrap();
            let item = dst.get(&format!("/tools/{id}")).await;
            assert_eq!(item.body["data"]["func"], row["func"]);
        }
        let variables = by_name(&dst, "/variables").await;
        for row in file["Variable"].as_array().unwrap() {
            let id = variables[row["name"].as_str().unwrap()]["id"]
                .as_str()
                .unwrap();
            let item = dst.get(&format!("/variables/{id}")).await;
            assert_eq!(item.body["data"]["value"], row["value"]);
            assert_eq!(item.body["data"]["type"], row["type"]);
        }
        let stores = by_name(&dst, "/document-stores").await;
        let id = stores["Product Handbook"]["id"].as_str().unwrap();
        let item = dst.get(&format!("/document-stores/{id}")).await;
        assert_eq!(item.body["data"]["chunks"].as_array().unwrap().len(), 3);
        // The default workspace is untouched, and the import is audited.
        assert_eq!(counts(&w.admin).await, vec![0; 7]);
        let org = w.admin.get("/auth/me").await.body["organization"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let events = w.server.store().audit_events(org, 100).await.unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| e.action == "workspace.import")
                .count(),
            1
        );

        // A second import: the preview names every clash, the import adds a suffix.
        let again = dst.post("/import/preview", body(file.clone())).await;
        assert_eq!(again.status, 200, "{}", again.body);
        let entries = again.body["entries"].as_array().unwrap();
        assert!(entries.iter().all(|e| e["renamed"] == true), "{entries:?}");
        let r = dst.post("/import", body(file.clone())).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let names: Vec<&str> = r.body["created"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"SQL Helper (2)"), "{names:?}");
        assert!(names.iter().all(|n| n.ends_with(" (2)")), "{names:?}");
        assert_eq!(counts(&dst).await, vec![12, 4, 4, 4, 6, 2, 0]);
    }
}

#[tokio::test]
async fn a_flowise_export_is_refused_without_import_or_when_malformed_and_writes_nothing() {
    let file = fixture("ExportData.json");
    for b in backends() {
        let w = World::new(&b).await;
        let t = w.workspace("Dest").await;
        let dst = w.admin.in_workspace(&t);

        // A viewer holds no workspace:import.
        let (_, viewer) = w.member("v@example.com", &t, "Viewer").await;
        for path in ["/import", "/import/preview"] {
            let r = viewer.post(path, body(file.clone())).await;
            assert_eq!(
                (r.status, r.body["error"]["missingPermission"].as_str()),
                (403, Some("workspace:import")),
                "{path}: {}",
                r.body
            );
        }

        // Not a Flowise export, or a broken one: 422 naming why, nothing written.
        let mut broken_flow = file.clone();
        broken_flow["ChatFlow"][3]["flowData"] = json!("{not json");
        let mut nameless = file.clone();
        nameless["Tool"][1]
            .as_object_mut()
            .unwrap()
            .remove("name")
            .unwrap();
        let mut twice = file.clone();
        twice["AgentFlowV2"][0]["id"] = file["ChatFlow"][0]["id"].clone();
        let mut not_rows = file.clone();
        not_rows["Variable"] = json!("static");
        let bundle = w.admin.post("/export", json!({})).await.body;
        let cases = [
            (json!({"hello": "world"}), "data"),
            (json!({}), "data"),
            (bundle, "data"),
            (json!([file.clone()]), "data"),
            (not_rows, "data.Variable"),
            (nameless, "data.Tool[1].name"),
            (twice, "data.AgentFlowV2[0].id"),
            (broken_flow, "data"),
        ];
        for (data, field) in cases {
            for path in ["/import/preview", "/import"] {
                let r = dst.post(path, body(data.clone())).await;
                assert_eq!(
                    (r.status, r.body["error"]["field"].as_str()),
                    (422, Some(field)),
                    "{path}: {}",
                    r.body
                );
            }
        }
        let r = dst.post("/import", body(json!({"Tool": []}))).await;
        assert_eq!(r.status, 201, "an empty export imports nothing: {}", r.body);
        assert_eq!(r.body["created"], json!([]));
        assert_eq!(counts(&dst).await, vec![0; 7], "nothing was written");
        // Each refusal says what it wanted.
        let r = dst.post("/import", body(json!({"hello": "world"}))).await;
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not a Flowise export"),
            "{}",
            r.body
        );
    }
}
