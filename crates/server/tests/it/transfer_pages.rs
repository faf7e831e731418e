//! The dashboard's Export, Import and Move / copy flows pages over real HTTP, as a browser
//! without script uses them: the export downloaded, a bundle uploaded, previewed and imported,
//! flows moved and copied, and each refused to whoever may not.

use super::dashboard::{Browser, Page};
use flowspace_testkit::{ADMIN_EMAIL, Client, PASSWORD, World, backends};
use reqwest::header;
use serde_json::{Value, json};

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn made(c: &Client, path: &str, body: Value) -> String {
    let r = c.post(path, body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.body);
    r.id()
}

/// The value of the hidden input named `name` on a page, unescaped.
fn hidden(page: &str, name: &str) -> String {
    let at = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&at)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + at.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Whether the page a form came back to shows an error toast saying `says`.
async fn error_toast(b: &mut Browser, p: &Page, says: &str) {
    assert_eq!(p.status, 303, "{}", p.body);
    let back = b.get(p.location()).await;
    assert!(
        back.body.contains("toast err") && back.body.contains(says),
        "an error toast saying {says}: {}",
        back.body
    );
}

#[tokio::test]
async fn export_downloads_the_chosen_items_and_import_previews_then_creates_them() {
    for backend in backends() {
        let w = World::new(&backend).await;
        let src = w.admin.in_workspace(&w.default_ws);
        let bot = made(&src, "/chatflows", json!({"name": "Bot"})).await;
        made(&src, "/chatflows", json!({"name": "Other"})).await;
        let region = made(
            &src,
            "/variables",
            json!({"name": "region", "data": {"type": "static", "value": "eu-secret"}}),
        )
        .await;
        let mut b = Browser::new(&w.server);
        assert_eq!(b.sign_in(ADMIN_EMAIL, PASSWORD).await.status, 303);

        // The page offers every kind and its items; the sidebar links the pages.
        let page = b.get("/export").await;
        assert_eq!(page.status, 200, "{}", page.body);
        for needle in [
            r#"value="chatflows""#,
            r#"value="variables""#,
            r#"value="credentials""#,
            &format!(r#"value="{bot}""#),
            r#"href="/export""#,
            r#"href="/import""#,
            r#"href="/move-flows""#,
        ] {
            assert!(page.body.contains(needle), "{needle}: {}", page.body);
        }

        // Chosen items, with the variables' values: a file to save.
        let p = b
            .post_form(
                "/export",
                &[
                    ("_back", "/export"),
                    ("kinds[]", ""),
                    ("kinds[]", "chatflows"),
                    ("kinds[]", "variables"),
                    ("ids[]", &bot),
                    ("ids[]", &region),
                    ("includeVariableValues:bool", "false"),
                    ("includeVariableValues:bool", "true"),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert_eq!(
            p.headers[header::CONTENT_DISPOSITION],
            "attachment; filename=\"flowspace-export.json\""
        );
        assert!(
            p.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let bundle: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(bundle["format"], "flowspace-bundle");
        let exported: Vec<&str> = bundle["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(exported, vec!["Bot", "region"], "only the chosen items");
        assert_eq!(bundle["items"][1]["data"]["value"], "eu-secret");
        // Every item of a kind when none is ticked; values only on request.
        let p = b
            .post_form(
                "/export",
                &[
                    ("_back", "/export"),
                    ("kinds[]", ""),
                    ("kinds[]", "chatflows"),
                    ("kinds[]", "variables"),
                    ("includeVariableValues:bool", "false"),
                ],
                true,
            )
            .await;
        let all: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(all["items"].as_array().unwrap().len(), 3, "{all}");
        assert!(!p.body.contains("eu-secret"));

        // Import into another workspace, where "Bot" is taken.
        let dst = w.workspace("Dest").await;
        let dst_api = w.admin.in_workspace(&dst);
        made(&dst_api, "/chatflows", json!({"name": "Bot"})).await;
        let p = b
            .post_form(
                "/switch-workspace",
                &[("_back", "/import"), ("workspaceId", &dst)],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/import"));
        let page = b.get("/import").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(r#"enctype="multipart/form-data""#));
        assert!(page.body.contains(r#"type="file" name=":json""#));

        let text = bundle.to_string();
        let preview = b
            .post_multipart(
                "/import/preview",
                &[("_back", "/import")],
                &[(":json", "flowspace-export.json", &text)],
            )
            .await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert!(
            preview.body.contains("Bot (2)") && preview.body.contains("name taken"),
            "the clash is named: {}",
            preview.body
        );
        assert!(
            preview
                .body
                .contains("Importing creates 2 items; 1 name already taken")
        );
        assert_eq!(
            names(&dst_api.get("/chatflows").await.body),
            vec!["Bot"],
            "a preview creates nothing"
        );

        // Confirm: the preview's own form, with the bundle it carries.
        let carried = hidden(&preview.body, ":json");
        assert_eq!(serde_json::from_str::<Value>(&carried).unwrap(), bundle);
        let back = hidden(&preview.body, "_back");
        let done = b
            .post_multipart("/import", &[("_back", &back), (":json", &carried)], &[])
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert!(done.body.contains("Created 2 items"), "{}", done.body);
        assert_eq!(
            names(&dst_api.get("/chatflows").await.body),
            vec!["Bot", "Bot (2)"]
        );
        let vars = dst_api.get("/variables").await;
        assert_eq!(vars.body["items"][0]["name"], "region");
        assert_eq!(vars.body["items"][0]["data"]["value"], "eu-secret");
        let new_bot = dst_api.get("/chatflows").await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == "Bot (2)")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            done.body.contains(&format!("/chatflows/{new_bot}")),
            "the report links what it created: {}",
            done.body
        );

        // A file that is not a bundle: a toast, and nothing created.
        let p = b
            .post_multipart(
                "/import/preview",
                &[("_back", "/import")],
                &[(":json", "notes.json", "{nope")],
            )
            .await;
        error_toast(&mut b, &p, "not valid JSON").await;
        let p = b
            .post_multipart(
                "/import",
                &[("_back", "/import")],
                &[(":json", "b.json", r#"{"format": "flowspace-bundle", "version": 1, "items": [{"kind": "tools", "id": "x", "name": "T", "data": {}}]}"#)],
            )
            .await;
        error_toast(&mut b, &p, "items[0].id").await;
        assert!(
            dst_api.get("/tools").await.body["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn export_and_import_pages_refuse_a_member_without_the_permissions() {
    for backend in backends() {
        let w = World::new(&backend).await;
        let ws = w.workspace("Team").await;
        let api = w.admin.in_workspace(&ws);
        made(&api, "/chatflows", json!({"name": "Bot"})).await;
        let bundle = api.post("/export", json!({})).await.body.to_string();
        // A Developer may create items but neither export nor import the workspace.
        w.member("dev@example.com", &ws, "Developer").await;
        let mut b = Browser::new(&w.server);
        assert_eq!(b.sign_in("dev@example.com", PASSWORD).await.status, 303);
        let list = b.get("/chatflows").await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert!(
            !list.body.contains(r#"href="/export""#) && !list.body.contains(r#"href="/import""#),
            "no links to pages they may not use"
        );
        for (path, perm) in [
            ("/export", "workspace:export"),
            ("/import", "workspace:import"),
        ] {
            let p = b.get(path).await;
            assert_eq!(p.status, 403, "{path}: {}", p.body);
            assert!(p.body.contains(perm), "{path}: {}", p.body);
        }
        let p = b
            .post_form(
                "/export",
                &[("_back", "/chatflows"), ("kinds[]", "chatflows")],
                true,
            )
            .await;
        assert!(p.headers.get(header::CONTENT_DISPOSITION).is_none());
        error_toast(&mut b, &p, "workspace:export").await;
        for path in ["/import/preview", "/import"] {
            let p = b
                .post_multipart(
                    path,
                    &[("_back", "/chatflows")],
                    &[(":json", "b.json", &bundle)],
                )
                .await;
            error_toast(&mut b, &p, "workspace:import").await;
        }
        assert_eq!(names(&api.get("/chatflows").await.body), vec!["Bot"]);
    }
}

#[tokio::test]
async fn move_copy_page_previews_then_moves_and_copies_naming_every_id() {
    for backend in backends() {
        let w = World::new(&backend).await;
        let src = w.admin.in_workspace(&w.default_ws);
        let f1 = made(&src, "/chatflows", json!({"name": "Support bot"})).await;
        let f2 = made(&src, "/agentflows", json!({"name": "Research agent"})).await;
        let target = w.workspace("Target").await;
        let tgt = w.admin.in_workspace(&target);
        let mut b = Browser::new(&w.server);
        assert_eq!(b.sign_in(ADMIN_EMAIL, PASSWORD).await.status, 303);

        let page = b.get("/move-flows").await;
        assert_eq!(page.status, 200, "{}", page.body);
        for needle in [
            "Support bot",
            "Research agent",
            &format!(r#"value="{f1}""#),
            &format!(r#"value="{target}""#),
        ] {
            assert!(page.body.contains(needle), "{needle}: {}", page.body);
        }

        let query = format!("/move-flows/preview?ids={f1}&ids={f2}&target={target}&mode=move");
        let preview = b.get(&query).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert!(
            preview
                .body
                .contains("Move 2 flows to <strong>Target</strong>")
        );
        assert!(preview.body.contains(r#"action="/move-flows/move""#));
        assert_eq!(hidden(&preview.body, "targetWorkspaceId"), target);
        assert_eq!(
            names(&tgt.get("/chatflows").await.body),
            Vec::<String>::new(),
            "a preview moves nothing"
        );

        let p = b
            .post_form(
                "/move-flows/move",
                &[
                    ("_back", &query),
                    ("targetWorkspaceId", &target),
                    ("ids[]", &f1),
                    ("ids[]", &f2),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        for id in [&f1, &f2] {
            assert!(
                p.body.contains(&format!(r#"data-id="{id}""#)),
                "{id}: {}",
                p.body
            );
        }
        assert!(p.body.contains("2 flows moved"));
        assert_eq!(
            tgt.get(&format!("/chatflows/{f1}")).await.status,
            200,
            "moved, keeping its id"
        );
        assert_eq!(tgt.get(&format!("/agentflows/{f2}")).await.status, 200);
        assert_eq!(src.get(&format!("/chatflows/{f1}")).await.status, 404);

        // Copy one back: a new id, named on the report.
        let p = b
            .post_form(
                "/move-flows/copy",
                &[
                    ("_back", "/move-flows"),
                    ("targetWorkspaceId", &w.default_ws),
                    ("ids[]", &f1),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let copies = src.get("/chatflows").await;
        let copy = copies.body["items"][0]["id"].as_str().unwrap().to_string();
        assert_ne!(copy, f1);
        assert!(p.body.contains(&copy) && p.body.contains(&f1), "{}", p.body);
        assert_eq!(tgt.get(&format!("/chatflows/{f1}")).await.status, 200);

        // Nothing chosen: the preview says so and offers no form.
        let p = b
            .get(&format!("/move-flows/preview?target={target}&mode=move"))
            .await;
        assert_eq!(p.status, 200);
        assert!(p.body.contains("Choose at least one flow") && !p.body.contains("confirm-move"));

        // A member who administers a workspace is not the Account Admin: no link, no page, no
        // move.
        w.member("lead@example.com", &target, "Admin").await;
        let mut lead = Browser::new(&w.server);
        assert_eq!(lead.sign_in("lead@example.com", PASSWORD).await.status, 303);
        let list = lead.get("/chatflows").await;
        assert_eq!(list.status, 200);
        assert!(!list.body.contains(r#"href="/move-flows""#));
        assert_eq!(lead.get("/move-flows").await.status, 403);
        assert_eq!(lead.get(&query).await.status, 403);
        let p = lead
            .post_form(
                "/move-flows/move",
                &[
                    ("_back", "/chatflows"),
                    ("targetWorkspaceId", &w.default_ws),
                    ("ids[]", &f1),
                ],
                true,
            )
            .await;
        error_toast(&mut lead, &p, "Account Admin").await;
        assert_eq!(
            tgt.get(&format!("/chatflows/{f1}")).await.status,
            200,
            "not moved"
        );
    }
}
