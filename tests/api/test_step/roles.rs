//! The Test step's previews: the role rules set in the tab (with what the
//! last test's person would get), the SAML email attribute picker's
//! preview, and what a real sign-in would do to the user and membership.

use gatehouse::clock::Clock;

use super::*;

/// A passing SAML test sign-in from the tab's link: the popup's page.
async fn passing_test(app: &TestApp, tab: &Tab, changes: Value) -> String {
    let (request_id, relay) = saml_request(&tab.start_link(app).await).await;
    let (status, _, body) =
        post_response(app, tab, &signed(tab, &request_id, changes), &relay).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A form post as htmx sends it: the page answers with the step itself.
async fn htmx_post(app: &TestApp, tab: &Tab, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let res = tab
        .browser
        .post(app.url(path))
        .header("origin", &app.address)
        .header("hx-request", "true")
        .header("x-csrf-token", &tab.csrf)
        .form(fields)
        .send()
        .await
        .expect("post");
    (res.status().as_u16(), res.text().await.expect("html"))
}

async fn rules(app: &TestApp, tab: &Tab) -> Value {
    tab.connection(app).await["role_mapping"].clone()
}

on_both!(role_rules_are_set_in_the_test_step_with_a_preview, |app| {
    let tab = Tab::saml(&app).await;
    let html = tab.page(&app, "test").await;
    assert!(
        html.contains("Roles from groups") && html.contains("No rules yet"),
        "{html}"
    );
    assert!(html.contains("Run a test sign-in to preview"), "{html}");
    passing_test(
        &app,
        &tab,
        json!({ "attributes": { "email": ["alice@acme.test"], "groups": ["Staff", "admins"] } }),
    )
    .await;
    let html = tab.page(&app, "test").await;
    // The groups the test received are offered; the preview is the
    // default role.
    assert!(
        html.contains("<option value=\"Staff\">") && html.contains("<option value=\"admins\">"),
        "{html}"
    );
    assert!(
        html.contains("data-role-preview=\"member\"")
            && html.contains("default role, member: none of their groups matches a rule"),
        "{html}"
    );

    // A plain form post (no JavaScript): saved, then back to the step.
    let res = post(
        &app,
        &tab.browser,
        "/security/test/roles",
        &[
            ("csrf_token", &tab.csrf),
            ("group", " staff "),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().expect("location"),
        "/security/test#roles"
    );
    assert_eq!(
        rules(&app, &tab).await,
        json!([{ "group": "staff", "role": "viewer" }])
    );
    let html = tab.page(&app, "test").await;
    assert!(
        html.contains("data-role-preview=\"viewer\"")
            && html.contains("from rule 1 (group staff → viewer)")
            && html.contains("matches the last test"),
        "{html}"
    );

    // By htmx: the step comes back with the notice. The first match
    // wins, so the new rule changes nothing yet.
    let (status, html) = htmx_post(
        &app,
        &tab,
        "/security/test/roles",
        &[("group", "admins"), ("role", "org:admin")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Added rule 2"), "{html}");
    assert!(html.contains("data-role-preview=\"viewer\""), "{html}");
    // Moved up, it is tried first.
    let res = post(
        &app,
        &tab.browser,
        "/security/test/roles/up",
        &[
            ("csrf_token", &tab.csrf),
            ("position", "2"),
            ("group", "admins"),
            ("role", "org:admin"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        rules(&app, &tab).await,
        json!([{ "group": "admins", "role": "org:admin" }, { "group": "staff", "role": "viewer" }])
    );
    let html = tab.page(&app, "test").await;
    assert!(
        html.contains("data-role-preview=\"org:admin\"")
            && html.contains("from rule 1 (group admins → org:admin)"),
        "{html}"
    );

    // A bad role: refused with the reason, the typed values kept, the
    // rules unchanged; without JavaScript as with htmx.
    let before = rules(&app, &tab).await;
    let res = post(
        &app,
        &tab.browser,
        "/security/test/roles",
        &[
            ("csrf_token", &tab.csrf),
            ("group", "Engineering"),
            ("role", "two words"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.expect("html");
    assert!(
        html.contains(
            "class=\"field-error\" role=\"alert\">Rule 3: `two words` is not a role name"
        ),
        "{html}"
    );
    assert!(
        html.contains("value=\"Engineering\"") && html.contains("value=\"two words\""),
        "what was typed stays: {html}"
    );
    let (status, html) = htmx_post(
        &app,
        &tab,
        "/security/test/roles",
        &[("group", "  "), ("role", "admin")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("name as the identity provider sends it"),
        "{html}"
    );
    assert_eq!(rules(&app, &tab).await, before);

    // The host API checks roles the same way.
    crate::helpers::assert_problem(
        app.api_patch(
            &format!("/connections/{}", tab.id()),
            &json!({ "role_mapping": [{ "group": "g", "role": "two words" }] }),
        )
        .await,
        422,
        "role_mapping_invalid",
    )
    .await;

    // Too many rules: refused, the typed values kept.
    let fifty: Vec<Value> = (0..50)
        .map(|i| json!({ "group": format!("g{i}"), "role": "member" }))
        .collect();
    let res = app
        .api_patch(
            &format!("/connections/{}", tab.id()),
            &json!({ "role_mapping": fifty }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, html) = htmx_post(
        &app,
        &tab,
        "/security/test/roles",
        &[("group", "one-more"), ("role", "admin")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("at most 50 role rules") && html.contains("value=\"one-more\""),
        "{html}"
    );
    assert_eq!(rules(&app, &tab).await.as_array().map(Vec::len), Some(50));

    // Removing: the rule named; one already gone is refused.
    let res = app
        .api_patch(
            &format!("/connections/{}", tab.id()),
            &json!({ "role_mapping": before }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = post(
        &app,
        &tab.browser,
        "/security/test/roles/remove",
        &[
            ("csrf_token", &tab.csrf),
            ("position", "1"),
            ("group", "admins"),
            ("role", "org:admin"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        rules(&app, &tab).await,
        json!([{ "group": "staff", "role": "viewer" }])
    );
    let (status, html) = htmx_post(
        &app,
        &tab,
        "/security/test/roles/remove",
        &[
            ("position", "1"),
            ("group", "admins"),
            ("role", "org:admin"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    assert!(html.contains("no longer in the list"), "{html}");
    assert_eq!(
        rules(&app, &tab).await,
        json!([{ "group": "staff", "role": "viewer" }])
    );

    // Audited as connection changes by the admin; the rules are not
    // identity-provider settings, so the test still counts.
    let events = app
        .events(&format!(
            "organization_id={}&action=connection.updated",
            tab.org
        ))
        .await;
    assert_eq!(
        events[0]["data"]["changes"]["role_mapping"]["to"],
        json!([{ "group": "staff", "role": "viewer" }])
    );
    assert!(events.iter().any(|e| e["actor"]["type"] == "admin"));
    assert_eq!(tab.connection(&app).await["state"], "tested");
});

on_both!(
    the_saml_email_attribute_picker_previews_each_attribute,
    |app| {
        let tab = Tab::saml(&app).await;
        passing_test(
            &app,
            &tab,
            json!({ "attributes": { "email": ["alice@acme.test"],
                "upn": ["Alice.Liddell@ACME.test"], "otherMail": ["alice@partner.test"] } }),
        )
        .await;
        let html = tab.page(&app, "test").await;
        // What each attribute would give: normalized, and checked against
        // the verified domains as the sign-in does.
        assert!(
            html.contains("data-preview=\"upn\">would sign in as alice.liddell@acme.test"),
            "{html}"
        );
        assert!(
            html.contains("data-preview=\"otherMail\">would be refused:")
                && html.contains("<code>saml_email_address_domain_mismatch</code>"),
            "{html}"
        );
        assert!(
            html.contains("data-preview=\"email\">would sign in as alice@acme.test"),
            "{html}"
        );
        // What the current settings give.
        assert!(
            html.contains("signs in as <strong>alice@acme.test</strong>"),
            "{html}"
        );

        // Picking the outside address: the settings now give a refusal,
        // and the next test fails with the code the preview named.
        let res = post(
            &app,
            &tab.browser,
            "/security/test/email-attribute",
            &[("csrf_token", &tab.csrf), ("attribute", "otherMail")],
        )
        .await;
        assert_eq!(res.status(), 303);
        let html = tab.page(&app, "test").await;
        assert!(
            html.contains("the attribute <code>otherMail</code>")
                && html.contains("is refused:")
                && html.contains("<code>saml_email_address_domain_mismatch</code>"),
            "{html}"
        );
        let (request_id, relay) = saml_request(&tab.start_link(&app).await).await;
        let response = signed(
            &tab,
            &request_id,
            json!({ "attributes": { "email": ["alice@acme.test"],
                "upn": ["Alice.Liddell@ACME.test"], "otherMail": ["alice@partner.test"] } }),
        );
        let (status, code, _) = post_response(&app, &tab, &response, &relay).await;
        assert_eq!(status, 400);
        assert_eq!(code.as_deref(), Some("saml_email_address_domain_mismatch"));
    }
);

on_both!(
    a_test_says_whether_the_person_would_be_created_linked_or_kept,
    |app| {
        let tab = Tab::saml(&app).await;
        let body = passing_test(&app, &tab, json!({})).await;
        assert!(
            body.contains("a new user would be created")
                && body.contains("data-outcome-role=\"member\""),
            "{body}"
        );

        // A user with that email exists (signed up with the host's
        // password, say): linked, and added with the default role.
        let now = app.clock.now().to_rfc3339();
        app.execute(&format!(
            "INSERT INTO users (id, email, first_name, last_name, created_at, updated_at) \
             VALUES ('usr_staged', 'alice@acme.test', 'Alice', NULL, '{now}', '{now}')"
        ))
        .await;
        let body = passing_test(&app, &tab, json!({})).await;
        assert!(
            body.contains("The existing user alice@acme.test would be linked")
                && body.contains("added as a member with the organization")
                && body.contains("default role, member: none of their groups matches a rule"),
            "{body}"
        );
        assert!(!body.contains("new user"), "{body}");

        // A member already, with another role: no rule matches, so the
        // sign-in keeps it (the default role is for new members).
        app.execute(&format!(
            "INSERT INTO memberships (organization_id, user_id, role, source, joined_at) \
             VALUES ('{}', 'usr_staged', 'viewer', 'api', '{now}')",
            tab.org
        ))
        .await;
        let body = passing_test(&app, &tab, json!({})).await;
        assert!(
            body.contains("already a member with the role viewer, and keep it")
                && body.contains("data-outcome-role=\"viewer\""),
            "{body}"
        );

        // A rule for their group: the sign-in would change the role.
        let res = app
            .api_patch(
                &format!("/connections/{}", tab.id()),
                &json!({ "role_mapping": [{ "group": "admins", "role": "admin" }] }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let body = passing_test(&app, &tab, json!({})).await;
        assert!(
            body.contains(
                "already a member with the role viewer; this sign-in would change it to admin"
            ) && body.contains("data-outcome-role=\"admin\""),
            "{body}"
        );
        // The tab's latest test says the same.
        let html = tab.page(&app, "test").await;
        assert!(
            html.contains("data-outcome-role=\"admin\"")
                && html.contains("would change it to admin"),
            "{html}"
        );
        // The test itself wrote nothing.
        assert_eq!(
            app.text_column(&format!(
                "SELECT role FROM memberships WHERE organization_id = '{}'",
                tab.org
            ))
            .await,
            vec!["viewer".to_string()]
        );
    }
);

on_both!(the_role_a_test_predicts_is_the_one_the_host_gets, |app| {
    let provider = TestOidc::start(json!([{ "sub": "u1", "email": "alice@acme.test",
            "email_verified": true, "given_name": "Alice" }]));
    provider
        .control_override(&json!({ "groups": ["Admins"] }))
        .await;
    let tab = oidc_tab(&app, &provider).await;
    let res = app
        .api_patch(
            &format!("/connections/{}", tab.id()),
            &json!({ "role_mapping": [{ "group": "admins", "role": "org:admin" }] }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, _, body) = oidc_test(&app, &tab, &provider).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("a new user would be created")
            && body.contains("data-outcome-role=\"org:admin\"")
            && body.contains("from rule 1 (group admins → org:admin)"),
        "{body}"
    );

    let res = post(
        &app,
        &tab.browser,
        "/security/activate",
        &[("csrf_token", &tab.csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let claims = host_sign_in(&app, &tab.org, &provider).await;
    assert_eq!(claims["org_role"], "org:admin", "{claims}");

    // Tested again: the same user, a member whose role stays.
    let (status, _, body) = oidc_test(&app, &tab, &provider).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("signed in through this connection before")
            && body.contains("already a member with the role org:admin, and keep it"),
        "{body}"
    );
});
