//! The dashboard of organizations (SPEC §7) over real HTTP, as a browser without script uses
//! it: the Organization Settings, Members and Organizations pages and their forms, the
//! organization switcher, and the page of a user without a usable organization; each with
//! whom it refuses.

use super::dashboard::Browser;
use flowspace_testkit::{ADMIN_EMAIL, PASSWORD, World, backends};
use serde_json::{Value, json};

/// `email`, signed in to the dashboard.
async fn browser(w: &World, email: &str) -> Browser {
    let mut b = Browser::new(&w.server);
    let p = b.sign_in(email, PASSWORD).await;
    assert_eq!(p.status, 303, "sign in {email}: {}", p.body);
    b
}

/// A user of the organization whose organization role is `role`: their id.
async fn with_org_role(w: &World, email: &str, role: &str) -> String {
    let id = w.user(email).await;
    w.add(&w.default_ws, &id, "Viewer").await;
    if role != "member" {
        let r = w
            .admin
            .patch(
                &format!("/organization/members/{id}"),
                json!({ "role": role }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    id
}

async fn organization(w: &World) -> Value {
    let r = w.admin.get("/organization").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn settings_are_saved_through_their_form_and_only_owners_set_the_policy() {
    for b in backends() {
        let on = b.name();
        let w = World::new(&b).await;
        with_org_role(&w, "orgadmin@example.com", "admin").await;
        with_org_role(&w, "member@example.com", "member").await;

        // The owner: every field, the SSO and MFA policy among them (requiring MFA takes an
        // owner who has it on: turned on after this sign-in, which it would make two steps).
        let mut owner = browser(&w, ADMIN_EMAIL).await;
        crate::mfa::enable_totp(&w.admin).await;
        let p = owner.get("/organization").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        assert!(p.body.contains(r#"name="ssoRequired:bool""#), "{on}");
        assert!(
            p.body.contains(r#"href="/organization/members""#),
            "{on}: sidebar"
        );
        let p = owner
            .post_form(
                "/organization",
                &[
                    ("_back", "/organization"),
                    ("_ok", "Saved."),
                    ("name", "Acme Labs"),
                    (
                        "allowedEmailDomains:list",
                        "Example.com, acme.test\r\nlabs.example",
                    ),
                    ("minPasswordLength:int", "12"),
                    ("sessionLifetimeMinutes:intnull", "90"),
                    ("ssoRequired:bool", "false"),
                    ("mfaRequired:bool", "false"),
                    ("mfaRequired:bool", "true"),
                ],
                true,
            )
            .await;
        assert_eq!(
            (p.status, p.location(), owner.toast()),
            (303, "/organization", "ok: Saved.".into()),
            "{on}"
        );
        let org = organization(&w).await;
        assert_eq!(org["name"], "Acme Labs", "{on}");
        assert_eq!(
            org["allowedEmailDomains"],
            json!(["example.com", "acme.test", "labs.example"]),
            "{on}: {org}"
        );
        assert_eq!(org["minPasswordLength"], 12, "{on}");
        assert_eq!(org["sessionLifetimeMinutes"], 90, "{on}");
        assert_eq!(
            (org["ssoRequired"].clone(), org["mfaRequired"].clone()),
            (json!(false), json!(true)),
            "{on}"
        );
        let p = owner.get("/organization").await;
        assert!(p.body.contains("labs.example"), "{on}: shown again");

        // While MFA is required, an admin without it is sent to set it up, and told why.
        let mut pending = browser(&w, "orgadmin@example.com").await;
        let p = pending.get("/organization").await;
        assert_eq!((p.status, p.location()), (303, "/profile"), "{on}");
        let p = pending.get("/profile").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        assert!(p.body.contains(r#"id="mfa-required-notice""#), "{on}");
        assert!(p.body.contains(r#"id="mfa-enroll-form""#), "{on}");
        let r = w
            .admin
            .patch("/organization", json!({"mfaRequired": false}))
            .await;
        assert_eq!(r.status, 200, "{on}: {}", r.body);

        // An empty lifetime is the installation's default; a bad length changes nothing.
        owner
            .post_form(
                "/organization",
                &[
                    ("_back", "/organization"),
                    ("sessionLifetimeMinutes:intnull", ""),
                ],
                true,
            )
            .await;
        assert_eq!(
            organization(&w).await["sessionLifetimeMinutes"],
            Value::Null,
            "{on}"
        );
        let p = owner
            .post_form(
                "/organization",
                &[
                    ("_back", "/organization"),
                    ("name", "Renamed"),
                    ("minPasswordLength:int", "5"),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 303, "{on}");
        assert!(
            owner.toast().starts_with("err: "),
            "{on}: {}",
            owner.toast()
        );
        let org = organization(&w).await;
        assert_eq!(
            (org["name"].clone(), org["minPasswordLength"].clone()),
            (json!("Acme Labs"), json!(12)),
            "{on}"
        );

        // An admin: the policy shown, not editable; sending it anyway is refused.
        let mut admin = browser(&w, "orgadmin@example.com").await;
        let p = admin.get("/organization").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        assert!(!p.body.contains(r#"name="ssoRequired:bool""#), "{on}");
        assert!(p.body.contains(r#"id="owners-only""#), "{on}");
        let p = admin
            .post_form(
                "/organization",
                &[("_back", "/organization"), ("ssoRequired:bool", "true")],
                true,
            )
            .await;
        assert_eq!(p.status, 303, "{on}");
        assert!(
            admin.toast().starts_with("err: "),
            "{on}: {}",
            admin.toast()
        );
        assert_eq!(organization(&w).await["ssoRequired"], false, "{on}");
        admin
            .post_form(
                "/organization",
                &[
                    ("_back", "/organization"),
                    ("_ok", "Saved."),
                    ("name", "Acme by admin"),
                ],
                true,
            )
            .await;
        assert_eq!(admin.toast(), "ok: Saved.", "{on}");
        assert_eq!(organization(&w).await["name"], "Acme by admin", "{on}");

        // A member: neither the page nor the form, nor the sidebar's link.
        let mut member = browser(&w, "member@example.com").await;
        let p = member.get("/organization").await;
        assert_eq!(p.status, 403, "{on}: {}", p.body);
        let p = member.get("/chatflows").await;
        assert!(!p.body.contains(r#"href="/organization""#), "{on}: sidebar");
        member
            .post_form(
                "/organization",
                &[("_back", "/chatflows"), ("name", "Mine")],
                true,
            )
            .await;
        assert!(
            member.toast().starts_with("err: "),
            "{on}: {}",
            member.toast()
        );
        assert_eq!(organization(&w).await["name"], "Acme by admin", "{on}");
    }
}

#[tokio::test]
async fn members_are_managed_from_their_page_and_only_owners_touch_owners() {
    for b in backends() {
        let on = b.name();
        let w = World::new(&b).await;
        let owner_id = w.admin.get("/auth/me").await.body["user"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        with_org_role(&w, "orgadmin@example.com", "admin").await;
        let member = with_org_role(&w, "member@example.com", "member").await;
        let other = with_org_role(&w, "other@example.com", "member").await;
        let role_of = async |id: &str| {
            let r = w.admin.get("/organization/members").await;
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["userId"] == id)
                .map(|m| m["role"].as_str().unwrap().to_string())
        };

        let mut owner = browser(&w, ADMIN_EMAIL).await;
        let p = owner.get("/organization/members").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        for email in [ADMIN_EMAIL, "orgadmin@example.com", "member@example.com"] {
            assert!(
                p.body.contains(&format!(r#"data-email="{email}""#)),
                "{on}: {email}"
            );
        }
        assert!(
            p.body.contains(r#"<option value="owner""#),
            "{on}: owners make owners"
        );
        let p = owner
            .post_form(
                &format!("/organization/members/{member}"),
                &[
                    ("_back", "/organization/members"),
                    ("_ok", "Role changed."),
                    ("role", "admin"),
                ],
                true,
            )
            .await;
        assert_eq!(
            (p.status, owner.toast()),
            (303, "ok: Role changed.".into()),
            "{on}"
        );
        assert_eq!(role_of(&member).await.as_deref(), Some("admin"), "{on}");

        // An admin: the owner's row read-only, no owner to give; forged forms refused.
        let mut admin = browser(&w, "orgadmin@example.com").await;
        let p = admin.get("/organization/members").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        assert!(
            !p.body.contains(&format!(r#"id="role-{owner_id}""#)),
            "{on}"
        );
        assert!(!p.body.contains(&format!("#remove-{owner_id}")), "{on}");
        assert!(!p.body.contains(r#"<option value="owner""#), "{on}");
        assert!(p.body.contains(&format!(r#"id="role-{other}""#)), "{on}");
        for (path, fields) in [
            (
                format!("/organization/members/{other}"),
                vec![("role", "owner")],
            ),
            (
                format!("/organization/members/{owner_id}"),
                vec![("role", "member")],
            ),
            (format!("/organization/members/{owner_id}/remove"), vec![]),
        ] {
            let mut f = vec![("_back", "/organization/members")];
            f.extend(fields);
            admin.post_form(&path, &f, true).await;
            assert!(
                admin.toast().starts_with("err: "),
                "{on}: {path}: {}",
                admin.toast()
            );
        }
        assert_eq!(role_of(&other).await.as_deref(), Some("member"), "{on}");
        assert_eq!(role_of(&owner_id).await.as_deref(), Some("owner"), "{on}");
        // What an admin may do: remove a member.
        admin
            .post_form(
                &format!("/organization/members/{other}/remove"),
                &[
                    ("_back", "/organization/members"),
                    ("_ok", "Member removed."),
                ],
                true,
            )
            .await;
        assert_eq!(admin.toast(), "ok: Member removed.", "{on}");
        assert_eq!(role_of(&other).await, None, "{on}");

        // The last owner cannot be demoted, even by themselves.
        owner
            .post_form(
                &format!("/organization/members/{owner_id}"),
                &[("_back", "/organization/members"), ("role", "admin")],
                true,
            )
            .await;
        assert!(
            owner.toast().starts_with("err: "),
            "{on}: {}",
            owner.toast()
        );
        assert_eq!(role_of(&owner_id).await.as_deref(), Some("owner"), "{on}");

        // A member sees no Members page.
        with_org_role(&w, "plain@example.com", "member").await;
        let mut plain = browser(&w, "plain@example.com").await;
        let p = plain.get("/organization/members").await;
        assert_eq!(p.status, 403, "{on}: {}", p.body);
        plain
            .post_form(
                &format!("/organization/members/{member}/remove"),
                &[("_back", "/chatflows")],
                true,
            )
            .await;
        assert!(plain.toast().starts_with("err: "), "{on}");
        assert_eq!(role_of(&member).await.as_deref(), Some("admin"), "{on}");
    }
}

#[tokio::test]
async fn the_instance_admin_creates_suspends_and_deletes_organizations_from_their_page() {
    for b in backends() {
        let on = b.name();
        let w = World::new(&b).await;
        with_org_role(&w, "orgadmin@example.com", "admin").await;
        let all = async || {
            let r = w.admin.get("/organizations").await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["items"].as_array().unwrap().clone()
        };
        let named = async |name: &str| all().await.into_iter().find(|o| o["name"] == name);

        let mut ia = browser(&w, ADMIN_EMAIL).await;
        let p = ia.get("/organizations").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        assert!(p.body.contains(r#"data-name="Acme""#), "{on}");
        assert!(p.body.contains(r#"href="/organizations""#), "{on}: sidebar");

        // A new email: the first owner's invitation link, shown once (no SMTP in tests).
        let p = ia
            .post_form(
                "/organizations/new",
                &[
                    ("_back", "/organizations"),
                    ("name", "Beta"),
                    ("ownerEmail", "beta-owner@example.com"),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        assert!(p.body.contains("/register?token="), "{on}: {}", p.body);
        // An existing account: added at once.
        let p = ia
            .post_form(
                "/organizations/new",
                &[
                    ("_back", "/organizations"),
                    ("_ok", "Created."),
                    ("name", "Gamma"),
                    ("ownerEmail", ADMIN_EMAIL),
                ],
                true,
            )
            .await;
        assert_eq!((p.status, ia.toast()), (303, "ok: Created.".into()), "{on}");
        let gamma = named("Gamma").await.unwrap();
        assert_eq!(gamma["memberCount"], 1, "{on}: {gamma}");
        let id = gamma["id"].as_str().unwrap().to_string();
        let p = ia.get("/organizations").await;
        assert!(p.body.contains(r#"data-name="Beta""#), "{on}");
        assert!(
            p.body.contains(&format!("#delete-{id}")),
            "{on}: a confirmation"
        );
        // The switcher shows both of the admin's organizations.
        assert!(p.body.contains(r#"id="org-switcher""#), "{on}");

        for status in ["suspended", "active"] {
            ia.post_form(
                &format!("/organizations/{id}"),
                &[
                    ("_back", "/organizations"),
                    ("_ok", "Done."),
                    ("status", status),
                ],
                true,
            )
            .await;
            assert_eq!(ia.toast(), "ok: Done.", "{on}");
            assert_eq!(named("Gamma").await.unwrap()["status"], status, "{on}");
        }

        // Nobody else: not an org admin, not a member.
        let mut admin = browser(&w, "orgadmin@example.com").await;
        assert_eq!(admin.get("/organizations").await.status, 403, "{on}");
        let p = admin.get("/chatflows").await;
        assert!(
            !p.body.contains(r#"href="/organizations""#),
            "{on}: no sidebar link"
        );
        for (path, fields) in [
            (
                "/organizations/new".to_string(),
                vec![("name", "Forged"), ("ownerEmail", "orgadmin@example.com")],
            ),
            (
                format!("/organizations/{id}"),
                vec![("status", "suspended")],
            ),
            (format!("/organizations/{id}/delete"), vec![]),
        ] {
            let mut f = vec![("_back", "/chatflows")];
            f.extend(fields);
            admin.post_form(&path, &f, true).await;
            assert!(
                admin.toast().starts_with("err: "),
                "{on}: {path}: {}",
                admin.toast()
            );
        }
        assert!(named("Forged").await.is_none(), "{on}");
        assert_eq!(named("Gamma").await.unwrap()["status"], "active", "{on}");

        ia.post_form(
            &format!("/organizations/{id}/delete"),
            &[("_back", "/organizations"), ("_ok", "Deleted.")],
            true,
        )
        .await;
        assert_eq!(ia.toast(), "ok: Deleted.", "{on}");
        assert!(named("Gamma").await.is_none(), "{on}");
    }
}

#[tokio::test]
async fn the_switcher_changes_organization_and_a_suspended_or_missing_one_says_so() {
    for b in backends() {
        let on = b.name();
        let w = World::new(&b).await;
        let acme = w.admin.get("/auth/me").await.body["activeOrganization"]
            .as_str()
            .unwrap()
            .to_string();
        with_org_role(&w, "both@example.com", "member").await;
        let r = w
            .admin
            .post(
                "/organizations",
                json!({"name": "Beta", "ownerEmail": "both@example.com"}),
            )
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        let beta = r.id();

        let mut both = browser(&w, "both@example.com").await;
        let p = both.get("/chatflows").await;
        assert!(p.body.contains(r#"id="org-switcher""#), "{on}: {}", p.body);
        assert!(p.body.contains(&format!(r#"value="{beta}""#)), "{on}");
        assert!(
            !p.body.contains(r#"href="/organization/members""#),
            "{on}: a member in Acme"
        );
        let p = both
            .post_form(
                "/switch-organization",
                &[
                    ("_back", "/chatflows"),
                    ("_next", "/"),
                    ("organizationId", &beta),
                ],
                true,
            )
            .await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/"),
            "{on}: {}",
            both.toast()
        );
        let p = both.get("/chatflows").await;
        assert_eq!(p.status, 200, "{on}");
        assert!(p.body.contains(r#"<div class="org">Beta</div>"#), "{on}");
        assert!(
            p.body.contains(r#"href="/organization/members""#),
            "{on}: the owner of Beta"
        );
        // Not a member of it: not found, nothing switched.
        let r = w
            .admin
            .post("/organizations", json!({"name": "Delta"}))
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        both.post_form(
            "/switch-organization",
            &[("_back", "/chatflows"), ("organizationId", &r.id())],
            true,
        )
        .await;
        assert!(both.toast().starts_with("err: "), "{on}");
        assert!(
            both.get("/chatflows")
                .await
                .body
                .contains(r#"<div class="org">Beta</div>"#),
            "{on}"
        );

        // Beta suspended: its pages say so, with the way back to Acme.
        let r = w
            .admin
            .patch(
                &format!("/organizations/{beta}"),
                json!({"status": "suspended"}),
            )
            .await;
        assert_eq!(r.status, 200, "{on}: {}", r.body);
        let p = both.get("/chatflows").await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/no-organization"),
            "{on}: {}",
            p.body
        );
        let p = both.get("/workspaces").await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/no-organization"),
            "{on}: {}",
            p.body
        );
        // Nor does the switcher's search list a suspended organization's workspaces (rule 18).
        let p = both.get("/switch-workspace?q=").await;
        assert_eq!(p.status, 200, "{on}: {}", p.body);
        assert!(p.body.contains("id=\"switch-none\""), "{on}: {}", p.body);
        let p = both.get("/no-organization").await;
        assert_eq!(p.status, 200, "{on}");
        assert!(
            p.body.contains("Organization suspended"),
            "{on}: {}",
            p.body
        );
        assert!(p.body.contains(&format!(r#"value="{acme}""#)), "{on}");
        assert!(p.body.contains(r#"id="sign-out""#), "{on}");
        both.post_form(
            "/switch-organization",
            &[
                ("_back", "/no-organization"),
                ("_next", "/"),
                ("organizationId", &acme),
            ],
            true,
        )
        .await;
        let p = both.get("/chatflows").await;
        assert_eq!(p.status, 200, "{on}");
        assert!(p.body.contains(r#"<div class="org">Acme</div>"#), "{on}");
        // A member of a usable organization is sent on from the page.
        let p = both.get("/no-organization").await;
        assert_eq!((p.status, p.location()), (303, "/"), "{on}");

        // Someone whose only organization is deleted: the page says they belong to none.
        let r = w
            .admin
            .post(
                "/organizations",
                json!({"name": "Solo", "ownerEmail": "solo@example.com"}),
            )
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        let solo = r.id();
        let link = r.body["invitationLink"].as_str().unwrap().to_string();
        let token = link.split("token=").nth(1).unwrap();
        let reg = w
            .server
            .client()
            .post(
                "/auth/register",
                json!({"token": token, "name": "Solo", "password": PASSWORD}),
            )
            .await;
        assert!(reg.status < 300, "{on}: {}", reg.body);
        let mut lone = browser(&w, "solo@example.com").await;
        assert_eq!(lone.get("/chatflows").await.status, 200, "{on}");
        let r = w.admin.delete(&format!("/organizations/{solo}")).await;
        assert_eq!(r.status, 204, "{on}: {}", r.body);
        let p = lone.get("/").await;
        let p = if p.status == 303 && p.location() != "/no-organization" {
            lone.get(p.location()).await
        } else {
            p
        };
        assert_eq!(
            (p.status, p.location()),
            (303, "/no-organization"),
            "{on}: {}",
            p.body
        );
        let p = lone.get("/no-organization").await;
        assert_eq!(p.status, 200, "{on}");
        assert!(
            p.body.contains("You do not belong to any organization"),
            "{on}: {}",
            p.body
        );
        assert!(p.body.contains(r#"id="sign-out""#), "{on}");
        assert!(!p.body.contains(r#"id="org-switcher""#), "{on}");
        assert!(!p.body.contains("sidebar"), "{on}: nothing else");
        let p = lone.get("/workspaces").await;
        assert_eq!((p.status, p.location()), (303, "/no-organization"), "{on}");
        let p = lone
            .post_form(
                "/logout",
                &[("_back", "/no-organization"), ("_next", "/login")],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/login"), "{on}");
        assert!(
            lone.get("/no-organization")
                .await
                .location()
                .starts_with("/login"),
            "{on}"
        );
    }
}
