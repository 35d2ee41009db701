//! The Domains step of the Security tab: plain form posts and htmx.

use serde_json::Value;

use crate::helpers::{TestApp, error_code, form_post as post, on_both, signed_in_admin as admin};

async fn domains(app: &TestApp, org_id: &str) -> Vec<Value> {
    let body: Value = app
        .api_get(&format!("/organizations/{org_id}/domains"))
        .await
        .json()
        .await
        .expect("json");
    body["data"].as_array().expect("data").clone()
}

on_both!(
    a_domain_added_by_form_shows_its_record_and_instructions,
    |app| {
        let (browser, csrf, org_id) = admin(&app, "Acme").await;
        let res = post(
            &app,
            &browser,
            "/security/domains",
            &[
                ("csrf_token", &csrf),
                ("domain", "acme.test"),
                ("purpose", "sso"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303, "post/redirect/get");
        let location = res.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(location.starts_with("/security/domains#dom_"), "{location}");

        let html = browser
            .get(app.url("/security/domains"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        let d = &domains(&app, &org_id).await[0];
        assert!(html.contains("_gatehouse-challenge.acme.test"));
        assert!(html.contains(d["txt_record"]["value"].as_str().expect("value")));
        for host in [
            "Cloudflare",
            "Amazon Route 53",
            "Google Cloud DNS",
            "GoDaddy",
            "Namecheap",
            "Squarespace",
            "Another DNS host",
        ] {
            assert!(html.contains(host), "instructions for {host}");
        }
        assert!(html.contains("data-copy="), "copy buttons");
        assert!(html.contains("Awaiting verification"));
        assert!(
            html.contains("1 awaiting verification"),
            "the stepper follows"
        );
    }
);

on_both!(a_refused_domain_is_explained_and_the_input_kept, |app| {
    let (browser, csrf, org_id) = admin(&app, "Acme").await;
    let res = post(
        &app,
        &browser,
        "/security/domains",
        &[
            ("csrf_token", &csrf),
            ("domain", "gmail.com"),
            ("purpose", "verified_only"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.expect("html");
    assert!(html.contains("public email provider"), "the reason");
    assert!(html.contains("value=\"gmail.com\""), "the input is kept");
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(
        html.contains("value=\"verified_only\" checked"),
        "the choice is kept"
    );
    assert!(domains(&app, &org_id).await.is_empty());
});

on_both!(
    htmx_gets_fragments_and_verification_works_from_the_page,
    |app| {
        let (browser, csrf, org_id) = admin(&app, "Acme").await;
        let res = browser
            .post(app.url("/security/domains"))
            .header("origin", &app.address)
            .header("hx-request", "true")
            .header("x-csrf-token", &csrf)
            .form(&[("domain", "acme.test")])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 200);
        let fragment = res.text().await.expect("html");
        assert!(!fragment.contains("<html"), "a fragment");
        assert!(
            fragment.contains("hx-swap-oob=\"true\""),
            "with the stepper"
        );
        assert!(fragment.contains("Added acme.test"));

        let d = &domains(&app, &org_id).await[0];
        let id = d["id"].as_str().expect("id");
        let verify = |browser: reqwest::Client| {
            let url = app.url(&format!("/security/domains/{id}/verify"));
            let (origin, csrf) = (app.address.clone(), csrf.clone());
            async move {
                browser
                    .post(url)
                    .header("origin", origin)
                    .header("hx-request", "true")
                    .header("x-csrf-token", csrf)
                    .send()
                    .await
                    .expect("verify")
                    .text()
                    .await
                    .expect("html")
            }
        };
        let html = verify(browser.clone()).await;
        assert!(html.contains("not verified yet"), "says so");
        assert!(html.contains("dns_no_such_name"), "with the code");

        app.dns
            .zone("acme.test")
            .set_txt(
                d["txt_record"]["name"].as_str().expect("name"),
                &[&[d["txt_record"]["value"].as_str().expect("value")]],
            )
            .await
            .expect("publish");
        let html = verify(browser.clone()).await;
        assert!(html.contains("acme.test is verified"), "{html}");
        assert!(html.contains("1 domain verified"), "the stepper moved on");
    }
);

on_both!(an_admin_cannot_touch_another_organizations_domain, |app| {
    let (_, _, acme) = admin(&app, "Acme").await;
    let res = app
        .api_post(
            &format!("/organizations/{acme}/domains"),
            &serde_json::json!({ "domain": "acme.test" }),
        )
        .await;
    let acme_domain: Value = res.json().await.expect("json");
    let id = acme_domain["id"].as_str().expect("id");

    let (browser, csrf, _) = admin(&app, "Globex").await;
    for action in ["verify", "remove", "purpose"] {
        let res = post(
            &app,
            &browser,
            &format!("/security/domains/{id}/{action}"),
            &[("csrf_token", &csrf), ("purpose", "sso")],
        )
        .await;
        assert_eq!(res.status(), 404, "{action}");
    }
    let html = browser
        .get(app.url("/security/domains"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(!html.contains("acme.test"));
    assert_eq!(domains(&app, &acme).await.len(), 1, "untouched");
});

on_both!(domain_changes_need_csrf_and_self_serve, |app| {
    let (browser, csrf, org_id) = admin(&app, "Acme").await;
    let res = post(
        &app,
        &browser,
        "/security/domains",
        &[("domain", "acme.test")],
    )
    .await;
    assert_eq!(error_code(&res).as_deref(), Some("csrf_token_invalid"));
    app.api_patch(
        &format!("/organizations/{org_id}"),
        &serde_json::json!({ "self_serve_sso": false }),
    )
    .await;
    let res = post(
        &app,
        &browser,
        "/security/domains",
        &[("csrf_token", &csrf), ("domain", "acme.test")],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&res).as_deref(), Some("self_serve_disabled"));
    assert!(domains(&app, &org_id).await.is_empty());
});

on_both!(removing_and_changing_purpose_from_the_page, |app| {
    let (browser, csrf, org_id) = admin(&app, "Acme").await;
    post(
        &app,
        &browser,
        "/security/domains",
        &[("csrf_token", &csrf), ("domain", "acme.test")],
    )
    .await;
    let id = domains(&app, &org_id).await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let res = post(
        &app,
        &browser,
        &format!("/security/domains/{id}/purpose"),
        &[("csrf_token", &csrf), ("purpose", "verified_only")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(domains(&app, &org_id).await[0]["purpose"], "verified_only");
    let res = post(
        &app,
        &browser,
        &format!("/security/domains/{id}/remove"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(domains(&app, &org_id).await.is_empty());
});
