//! The layout's workspace switcher and the Move / copy page's workspace pickers with many
//! workspaces (issue 16), over real HTTP on both backends: each page offers a bounded number
//! of workspaces (the current one always), and any other is found by searching its name on
//! the server (`GET /switch-workspace?q=`, `GET /move-flows?fq=&tq=`), as a browser without
//! script uses them. (The browser test drives the same pages in Chromium.)

use super::dashboard::Browser;
use flowspace_testkit::{ADMIN_EMAIL, PASSWORD, World, backends};
use serde_json::json;

/// The workspaces the test makes besides Default.
const MANY: usize = 120;
/// Most workspaces the switcher lists, the current one besides (`web::page::SWITCHER_LIMIT`).
const SWITCHER: usize = 20;
/// Most workspaces each Move / copy picker offers, the chosen one besides
/// (`web::transfer::MOVE_PICK_LIMIT`).
const MOVE_PICK: usize = 50;

/// The text of `body` from `from` up to the next `to`.
fn between(body: &str, from: &str, to: &str) -> String {
    let start = body
        .find(from)
        .unwrap_or_else(|| panic!("{from} is not on the page: {body}"));
    let end = start + body[start..].find(to).unwrap();
    body[start..end].to_string()
}

/// The workspaces of the `<select>` whose id is `id` (not a placeholder, whose value is
/// empty): (value, selected, text).
fn options(body: &str, id: &str) -> Vec<(String, bool, String)> {
    let select = between(body, &format!("id=\"{id}\""), "</select>");
    select
        .split("<option value=\"")
        .skip(1)
        .filter(|o| !o.starts_with('"'))
        .map(|o| {
            let (value, rest) = o.split_once('"').unwrap();
            let (attrs, text) = rest.split_once('>').unwrap();
            let text = text.split('<').next().unwrap().to_string();
            (value.to_string(), attrs.contains("selected"), text)
        })
        .collect()
}

/// The workspace names of the switcher's search page's rows.
fn found(body: &str) -> Vec<String> {
    body.split("<tr data-name=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_switcher_and_the_move_pickers_stay_bounded_and_find_any_workspace_by_name() {
    for b in backends() {
        let w = World::new(&b).await;
        let on = b.name();
        let mut ids = Vec::new();
        for i in 0..MANY {
            ids.push(w.workspace(&format!("Team {i:03}")).await);
        }
        let last = ids[MANY - 1].clone();
        let mut page = Browser::new(&w.server);
        assert_eq!(page.sign_in(ADMIN_EMAIL, PASSWORD).await.status, 303);

        // Any dashboard page: the switcher lists Default (current) and the first names, at
        // most SWITCHER of them besides the current one, and offers the search.
        let p = page.get("/chatflows").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        let choices = options(&p.body, "workspace-select");
        assert!(choices.len() <= SWITCHER + 1, "{on}: {choices:?}");
        assert_eq!(choices.len(), SWITCHER, "{on}: Default and Team 000..018");
        assert_eq!(choices[0].2, "Default", "{on}");
        assert!(choices[0].1, "{on}: the current one is selected");
        assert!(!p.body.contains("Team 119"), "{on}: not every workspace");
        assert!(p.body.contains("id=\"switcher-search\""), "{on}");

        // The search finds the 120th by name, case-insensitively; the current workspace is
        // marked, not offered again.
        let s = page
            .get("/switch-workspace?q=TEAM+119&back=/chatflows")
            .await;
        assert_eq!(s.status, 200, "{on}: {}", s.body);
        assert_eq!(found(&s.body), ["Team 119"], "{on}");
        assert!(
            s.body
                .contains(&format!("name=\"workspaceId\" value=\"{last}\""))
        );
        assert!(
            s.body.contains("name=\"_next\" value=\"/chatflows\""),
            "{on}"
        );
        let s = page.get("/switch-workspace?q=team").await;
        assert_eq!(found(&s.body).len(), 50, "{on}: at most 50 rows");
        assert!(s.body.contains("id=\"switch-more\""), "{on}");
        let s = page.get("/switch-workspace?q=default").await;
        assert_eq!(found(&s.body), ["Default"], "{on}");
        assert!(s.body.contains("id=\"switch-current\""), "{on}");
        let s = page.get("/switch-workspace?q=nothing-like-it").await;
        assert!(s.body.contains("id=\"switch-none\""), "{on}");
        // Wildcards match only themselves.
        let s = page.get("/switch-workspace?q=team+%25").await;
        assert!(found(&s.body).is_empty(), "{on}: {:?}", found(&s.body));
        // Somewhere else than this site is never where switching leads.
        let s = page
            .get("/switch-workspace?q=team+119&back=//evil.example")
            .await;
        assert!(s.body.contains("name=\"_next\" value=\"/\""), "{on}");

        // Switching to it through the search page's form: the switcher now shows it (first,
        // selected), still bounded.
        let p = page
            .post_form(
                "/switch-workspace",
                &[
                    ("_back", "/switch-workspace?q=team+119"),
                    ("_next", "/chatflows"),
                    ("workspaceId", &last),
                ],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/chatflows"), "{on}");
        let p = page.get("/chatflows").await;
        let choices = options(&p.body, "workspace-select");
        assert_eq!(choices.len(), SWITCHER + 1, "{on}: {choices:?}");
        assert_eq!(
            (choices[0].0.as_str(), choices[0].1, choices[0].2.as_str()),
            (last.as_str(), true, "Team 119"),
            "{on}"
        );
        assert_eq!(choices.iter().filter(|c| c.1).count(), 1, "{on}");

        // Too long a search: a clear 422 naming the field.
        let long = "x".repeat(201);
        let s = page.get(&format!("/switch-workspace?q={long}")).await;
        assert_eq!(s.status, 422, "{on}: {}", s.body);
        assert!(s.body.contains("at most 200 characters"), "{on}");

        // A member of two workspaces: both in the switcher, no search needed; the search page
        // never names a workspace they are not in.
        let (two, _) = w.member("two@example.com", &ids[5], "Viewer").await;
        w.add(&ids[77], &two, "Viewer").await;
        let mut member = Browser::new(&w.server);
        assert_eq!(
            member.sign_in("two@example.com", PASSWORD).await.status,
            303
        );
        let p = member.get("/chatflows").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        let names: Vec<String> = options(&p.body, "workspace-select")
            .into_iter()
            .map(|c| c.2)
            .collect();
        assert_eq!(names, ["Team 005", "Team 077"], "{on}");
        assert!(!p.body.contains("id=\"switcher-search\""), "{on}");
        let s = member.get("/switch-workspace?q=team").await;
        assert_eq!(found(&s.body), ["Team 005", "Team 077"], "{on}");
        // A workspace reached only through a group is theirs too.
        let g = w
            .admin
            .post("/groups", json!({"name": "Crew", "members": [two]}))
            .await;
        assert_eq!(g.status, 201, "{on}: {}", g.body);
        let r = w
            .admin
            .post(
                &format!("/workspace/{}/add-group", ids[99]),
                json!({"groupId": g.id(), "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 200, "{on}: {}", r.body);
        let s = member.get("/switch-workspace?q=team+0").await;
        assert_eq!(found(&s.body), ["Team 005", "Team 077", "Team 099"], "{on}");
        let s = member.get("/switch-workspace?q=team+119").await;
        assert!(found(&s.body).is_empty() && s.body.contains("id=\"switch-none\""));

        // Move / copy: both pickers offer at most MOVE_PICK workspaces besides the chosen one,
        // and the search finds the 120th.
        let src = w.admin.in_workspace(&w.default_ws);
        let flow = src
            .post("/chatflows", json!({"name": "Support bot"}))
            .await
            .id();
        let m = page
            .get(&format!("/move-flows?from={}", w.default_ws))
            .await;
        assert_eq!(m.status, 200, "{on}: {}", m.body);
        let sources = options(&m.body, "from");
        let targets = options(&m.body, "target");
        assert!(sources.len() <= MOVE_PICK + 1, "{on}: {}", sources.len());
        assert_eq!(targets.len(), MOVE_PICK, "{on}");
        assert!(
            !targets.iter().any(|t| t.1),
            "{on}: the placeholder is selected"
        );
        assert!(
            m.body
                .contains("<option value=\"\" selected>Choose a workspace…</option>")
        );
        assert_eq!((sources[0].1, sources[0].2.as_str()), (true, "Default"));
        assert!(
            !targets.iter().any(|t| t.2 == "Default"),
            "{on}: not the source"
        );
        let mut offered = sources.iter().chain(&targets);
        assert!(
            !offered.any(|t| t.2 == "Team 119"),
            "{on}: not every workspace"
        );
        assert!(m.body.contains("id=\"target-more\""), "{on}: {}", m.body);
        assert!(m.body.contains("id=\"source-more\""), "{on}");

        // The target search (the flows form sent to the page again) keeps the flow ticked and
        // the mode, and offers the one match.
        let m = page
            .get(&format!(
                "/move-flows?from={}&ids={flow}&mode=copy&tq=team+119",
                w.default_ws
            ))
            .await;
        assert_eq!(m.status, 200, "{on}: {}", m.body);
        let targets = options(&m.body, "target");
        assert_eq!(targets.len(), 1, "{on}: {targets:?}");
        assert_eq!(
            (targets[0].0.as_str(), targets[0].1, targets[0].2.as_str()),
            (last.as_str(), true, "Team 119"),
            "{on}: found, and selected"
        );
        assert!(m.body.contains(&format!(
            "value=\"{flow}\" id=\"flow-{flow}\" aria-label=\"Choose Support bot\" checked"
        )));
        assert!(m.body.contains("value=\"copy\" checked"), "{on}");
        // A chosen target stays offered (first, selected) whatever is searched next.
        let m = page
            .get(&format!(
                "/move-flows?from={}&target={last}&tq=team+00",
                w.default_ws
            ))
            .await;
        let targets = options(&m.body, "target");
        assert_eq!(
            (targets[0].0.as_str(), targets[0].1),
            (last.as_str(), true),
            "{on}"
        );
        assert_eq!(targets.len(), 11, "{on}: Team 119 and Team 000..009");
        // The source search lists the flows of a workspace found by name.
        let m = page
            .get(&format!("/move-flows?fq=team+119&from={last}"))
            .await;
        let sources = options(&m.body, "from");
        assert_eq!(sources.len(), 1, "{on}: {sources:?}");
        assert_eq!((sources[0].0.as_str(), sources[0].1), (last.as_str(), true));
        let m = page
            .get(&format!(
                "/move-flows?from={}&tq=nothing-like-it",
                w.default_ws
            ))
            .await;
        assert!(m.body.contains("id=\"target-none\""), "{on}");
        let m = page.get(&format!("/move-flows?tq={long}")).await;
        assert_eq!(m.status, 422, "{on}: {}", m.body);

        // The preview names the target found, and the move lands the flow there.
        let preview = page
            .get(&format!(
                "/move-flows/preview?ids={flow}&target={last}&mode=move"
            ))
            .await;
        assert!(
            preview
                .body
                .contains("Move 1 flow to <strong>Team 119</strong>"),
            "{on}"
        );
        assert!(
            preview.body.contains("<td>Default</td>"),
            "{on}: where it is"
        );
        let p = page
            .post_form(
                "/move-flows/move",
                &[
                    ("_back", "/move-flows"),
                    ("targetWorkspaceId", &last),
                    ("ids[]", &flow),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        let moved = w
            .admin
            .in_workspace(&last)
            .get(&format!("/chatflows/{flow}"))
            .await;
        assert_eq!(moved.status, 200, "{on}: {}", moved.body);
        // A target of another organization, or none, is refused by the preview.
        let p = page
            .get(&format!(
                "/move-flows/preview?ids={flow}&target={}&mode=move",
                uuid::Uuid::new_v4()
            ))
            .await;
        assert!(
            p.body
                .contains("Choose the workspace to move or copy them to"),
            "{on}"
        );
    }
}
