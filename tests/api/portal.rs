//! Setup links: single use, expiring, scoped to one organization.

use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_code, on_both, on_both_with};

on_both!(a_setup_link_opens_the_tab_once, |app| {
    let org = app.create_org("Acme", true).await;
    let link = app.portal_link(org["id"].as_str().expect("id")).await;
    assert!(
        link.starts_with(&app.url("/security/portal/ghp_")),
        "{link}"
    );

    let browser = app.browser();
    let res = browser.get(&link).send().await.expect("open");
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/security");
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(cookie.starts_with("gatehouse_session=ghs_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let res = browser.get(app.url("/security")).send().await.expect("tab");
    assert_eq!(res.status(), 200);
    assert_eq!(crate::helpers::frame_policy(&res), "frame-ancestors 'none'");
    let html = res.text().await.expect("html");
    assert!(html.contains("Security · Acme"));
    for step in ["Domains", "Connection", "Test", "Activate"] {
        assert!(html.contains(step), "stepper shows {step}");
    }

    let again = app.browser().get(&link).send().await.expect("reuse");
    assert_eq!(again.status(), 410);
    assert_eq!(error_code(&again).as_deref(), Some("portal_link_used"));
    assert!(again.headers().get("set-cookie").is_none());
});

on_both!(
    a_setup_link_is_consumed_once_even_when_opened_concurrently,
    |app| {
        let org = app.create_org("Acme", true).await;
        let link = app.portal_link(org["id"].as_str().expect("id")).await;
        let attempts = (0..6).map(|_| {
            let link = link.clone();
            async move {
                crate::helpers::client()
                    .get(&link)
                    .send()
                    .await
                    .expect("open")
                    .status()
                    .as_u16()
            }
        });
        let statuses = futures_util::future::join_all(attempts).await;
        assert_eq!(
            statuses.iter().filter(|s| **s == 303).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 410).count(),
            5,
            "{statuses:?}"
        );
        assert_eq!(app.events("action=admin_session.started").await.len(), 1);
    }
);

on_both!(
    a_setup_link_expires_after_fifteen_minutes_by_default,
    |app| {
        let org = app.create_org("Acme", true).await;
        let res = app
            .api_post(
                &format!(
                    "/organizations/{}/portal_links",
                    org["id"].as_str().expect("id")
                ),
                &json!({}),
            )
            .await;
        let body: Value = res.json().await.expect("json");
        let expires =
            chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().expect("time"))
                .expect("rfc3339");
        let minutes = (expires.with_timezone(&chrono::Utc)
            - gatehouse::clock::Clock::now(&app.clock))
        .num_minutes();
        assert!((14..=15).contains(&minutes), "{minutes}");

        app.clock.advance(chrono::Duration::minutes(15));
        let res = app
            .browser()
            .get(body["url"].as_str().expect("url"))
            .send()
            .await
            .expect("open");
        assert_eq!(res.status(), 410);
        assert_eq!(error_code(&res).as_deref(), Some("portal_link_expired"));
        assert!(res.text().await.expect("html").contains("expired"));
    }
);

on_both_with!(
    the_setup_link_lifetime_is_configurable,
    |c: &mut gatehouse::config::Config| c.portal_link_ttl = std::time::Duration::from_secs(60),
    |app| {
        let org = app.create_org("Acme", true).await;
        let link = app.portal_link(org["id"].as_str().expect("id")).await;
        app.clock.advance(chrono::Duration::seconds(61));
        let res = app.browser().get(&link).send().await.expect("open");
        assert_eq!(error_code(&res).as_deref(), Some("portal_link_expired"));
    }
);

on_both!(an_unknown_link_is_a_404, |app| {
    for path in ["/security/portal/ghp_doesnotexist", "/security/portal/x"] {
        let res = app.browser().get(app.url(path)).send().await.expect("open");
        assert_eq!(res.status(), 404);
        assert_eq!(error_code(&res).as_deref(), Some("portal_link_invalid"));
    }
});

on_both!(a_link_opens_only_its_own_organization, |app| {
    let acme = app.create_org("Acme", true).await;
    let globex = app.create_org("Globex", true).await;
    let browser = app.admin_browser(acme["id"].as_str().expect("id")).await;
    let globex_id = globex["id"].as_str().expect("id");
    for path in [
        "/security".to_string(),
        format!("/security?organization={globex_id}"),
        format!("/security?organization_id={globex_id}"),
        "/security/domains".to_string(),
    ] {
        let html = browser
            .get(app.url(&path))
            .send()
            .await
            .expect("tab")
            .text()
            .await
            .expect("html");
        assert!(
            html.contains("Acme") && !html.contains("Globex"),
            "{path} stays in Acme"
        );
    }
    // A Globex link opened in the same browser replaces the session: one org at a time.
    let link = app.portal_link(globex_id).await;
    browser.get(&link).send().await.expect("open");
    let html = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("tab")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Globex") && !html.contains("Security · Acme"));
});

on_both!(without_a_session_the_tab_asks_for_a_link, |app| {
    let res = app
        .browser()
        .get(app.url("/security"))
        .send()
        .await
        .expect("tab");
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(&res).as_deref(), Some("session_missing"));
    let res = app
        .browser()
        .get(app.url("/security"))
        .header("x-gatehouse-session", "ghs_forged")
        .send()
        .await
        .expect("forged");
    assert_eq!(error_code(&res).as_deref(), Some("session_missing"));
});

on_both!(an_idle_session_expires, |app| {
    let org = app.create_org("Acme", true).await;
    let browser = app.admin_browser(org["id"].as_str().expect("id")).await;
    app.clock.advance(chrono::Duration::minutes(30));
    let res = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("active");
    assert_eq!(res.status(), 200, "activity within the hour keeps it alive");
    app.clock.advance(chrono::Duration::minutes(59));
    let res = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("still active");
    assert_eq!(res.status(), 200, "the idle deadline moved with activity");
    app.clock.advance(chrono::Duration::minutes(61));
    let res = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("expired");
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(&res).as_deref(), Some("session_expired"));
});

on_both!(
    when_self_serve_is_off_the_tab_says_so_and_nothing_else,
    |app| {
        let org = app.create_org("Initech", false).await;
        let id = org["id"].as_str().expect("id");
        let browser = app.admin_browser(id).await;
        for path in ["/security", "/security/domains", "/security/activate"] {
            let res = browser.get(app.url(path)).send().await.expect("tab");
            assert_eq!(res.status(), 403);
            assert_eq!(error_code(&res).as_deref(), Some("self_serve_disabled"));
            let html = res.text().await.expect("html");
            assert!(html.contains("not enabled"));
            assert!(!html.contains("stepper"), "no wizard is shown");
        }
        app.api_patch(
            &format!("/organizations/{id}"),
            &json!({ "self_serve_sso": true }),
        )
        .await;
        let res = browser.get(app.url("/security")).send().await.expect("tab");
        assert_eq!(
            res.status(),
            200,
            "turning it on opens the same session's tab"
        );
    }
);

on_both!(steps_render_as_pages_and_as_htmx_fragments, |app| {
    let org = app.create_org("Acme", true).await;
    let browser = app.admin_browser(org["id"].as_str().expect("id")).await;
    let page = browser
        .get(app.url("/security/connection"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("aria-current=\"step\""));
    let fragment = browser
        .get(app.url("/security/connection"))
        .header("hx-request", "true")
        .send()
        .await
        .expect("fragment")
        .text()
        .await
        .expect("html");
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    assert!(
        fragment.contains("hx-swap-oob=\"true\""),
        "the stepper is swapped out of band"
    );
    assert!(fragment.contains("Step 2 of 4"));
    let res = browser
        .get(app.url("/security/nonsense"))
        .send()
        .await
        .expect("unknown step");
    assert_eq!(res.status(), 404);
});

on_both!(links_cannot_be_minted_with_a_bad_return_url, |app| {
    let org = app.create_org("Acme", true).await;
    let res = app
        .api_post(
            &format!(
                "/organizations/{}/portal_links",
                org["id"].as_str().expect("id")
            ),
            &json!({ "return_url": "javascript:alert(1)" }),
        )
        .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(problem["field"], "return_url");
    let res = app
        .api_post(
            &format!(
                "/organizations/{}/portal_links",
                org["id"].as_str().expect("id")
            ),
            &json!({ "return_url": "https://app.example.com/settings" }),
        )
        .await;
    let body: Value = res.json().await.expect("json");
    let browser = app.browser();
    browser
        .get(body["url"].as_str().expect("url"))
        .send()
        .await
        .expect("open");
    let html = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("tab")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("href=\"https://app.example.com/settings\""),
        "back link to the host"
    );
});

on_both!(a_link_with_no_body_at_all_is_accepted, |app| {
    let org = app.create_org("Acme", true).await;
    let res = app
        .api
        .post(app.url(&format!(
            "/api/v1/organizations/{}/portal_links",
            org["id"].as_str().expect("id")
        )))
        .bearer_auth(crate::helpers::API_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201);
});
