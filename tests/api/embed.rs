//! Embed tokens: the tab inside an iframe on exactly one parent origin,
//! working without third-party cookies.

use serde_json::json;

use crate::helpers::{assert_problem, error_code, frame_policy, meta, on_both, on_both_with};

const PARENT: &str = "https://app.example.com";

on_both!(an_embed_token_needs_an_exact_parent_origin, |app| {
    let org = app.create_org("Acme", true).await;
    let path = format!(
        "/organizations/{}/embed_tokens",
        org["id"].as_str().expect("id")
    );
    for origin in [
        "",
        "*",
        "https://*.example.com",
        "https://app.example.com/settings",
        "app.example.com",
        "null",
    ] {
        let res = app
            .api_post(&path, &json!({ "parent_origin": origin }))
            .await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["field"], "parent_origin", "{origin}");
    }
    let res = app.api_post(&path, &json!({})).await;
    assert_problem(res, 400, "invalid_body").await;
});

on_both!(the_embedded_tab_may_be_framed_only_by_its_parent, |app| {
    let org = app.create_org("Acme", true).await;
    let url = app
        .embed_url(
            org["id"].as_str().expect("id"),
            "https://App.Example.com:443/",
        )
        .await;
    assert!(url.starts_with(&app.url("/security/embed/ghe_")));

    let res = app.browser().get(&url).send().await.expect("open");
    assert_eq!(res.status(), 200, "the tab renders right away, no redirect");
    assert_eq!(frame_policy(&res), format!("frame-ancestors {PARENT}"));
    assert!(res.headers().get("x-frame-options").is_none());
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(cookie.starts_with("gatehouse_embed=ghs_"), "{cookie}");
    let html = res.text().await.expect("html");
    assert_eq!(
        meta(&html, "gatehouse-parent-origin").as_deref(),
        Some(PARENT)
    );
    assert!(html.contains("Set up single sign-on for Acme"));

    let again = app.browser().get(&url).send().await.expect("reuse");
    assert_eq!(again.status(), 410);
    assert_eq!(error_code(&again).as_deref(), Some("embed_token_used"));
    assert_eq!(
        frame_policy(&again),
        format!("frame-ancestors {PARENT}"),
        "the refusal still shows inside the parent's frame"
    );
});

on_both!(the_embedded_tab_works_without_any_cookie, |app| {
    let org = app.create_org("Acme", true).await;
    let url = app.embed_url(org["id"].as_str().expect("id"), PARENT).await;
    let html = app
        .browser()
        .get(&url)
        .send()
        .await
        .expect("open")
        .text()
        .await
        .expect("html");
    let session = meta(&html, "gatehouse-session").expect("the page carries its session");
    let csrf = meta(&html, "gatehouse-csrf").expect("and its CSRF token");

    // A browser that dropped the cookie (Safari's default in a frame): htmx
    // sends the session as a header.
    let cookieless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = cookieless
        .get(app.url("/security/domains"))
        .header("x-gatehouse-session", &session)
        .header("hx-request", "true")
        .header("hx-boosted", "true")
        .send()
        .await
        .expect("navigate");
    assert_eq!(res.status(), 200);
    assert_eq!(frame_policy(&res), format!("frame-ancestors {PARENT}"));
    assert!(res.text().await.expect("html").contains("Step 1 of 4"));

    // A plain form post carries it as a field.
    let res = cookieless
        .post(app.url("/security/sign-out"))
        .header("origin", &app.address)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("gatehouse_session", session.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    let res = cookieless
        .get(app.url("/security"))
        .header("x-gatehouse-session", &session)
        .send()
        .await
        .expect("after sign-out");
    assert_eq!(error_code(&res).as_deref(), Some("session_expired"));
    assert_eq!(
        frame_policy(&res),
        format!("frame-ancestors {PARENT}"),
        "an expired embed session says so inside the frame"
    );
    assert_eq!(
        meta(&res.text().await.expect("html"), "gatehouse-event").as_deref(),
        Some("gatehouse:session-expired")
    );
});

on_both!(standalone_pages_are_never_framed, |app| {
    let org = app.create_org("Acme", true).await;
    let browser = app.admin_browser(org["id"].as_str().expect("id")).await;
    let res = browser.get(app.url("/security")).send().await.expect("tab");
    assert_eq!(frame_policy(&res), "frame-ancestors 'none'");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let html = res.text().await.expect("html");
    assert!(
        meta(&html, "gatehouse-session").is_none(),
        "standalone pages rely on the HttpOnly cookie"
    );
});

on_both!(an_expired_embed_token_is_refused, |app| {
    let org = app.create_org("Acme", true).await;
    let url = app.embed_url(org["id"].as_str().expect("id"), PARENT).await;
    app.clock.advance(chrono::Duration::minutes(11));
    let res = app.browser().get(&url).send().await.expect("open");
    assert_eq!(res.status(), 410);
    assert_eq!(error_code(&res).as_deref(), Some("embed_token_expired"));
    assert_eq!(frame_policy(&res), format!("frame-ancestors {PARENT}"));
});

on_both!(an_embed_token_cannot_be_opened_as_a_setup_link, |app| {
    let org = app.create_org("Acme", true).await;
    let url = app.embed_url(org["id"].as_str().expect("id"), PARENT).await;
    let token = url.rsplit('/').next().expect("token");
    let res = app
        .browser()
        .get(app.url(&format!("/security/portal/{token}")))
        .send()
        .await
        .expect("open");
    assert_eq!(error_code(&res).as_deref(), Some("portal_link_invalid"));
    let res = app.browser().get(&url).send().await.expect("still unused");
    assert_eq!(res.status(), 200);
});

on_both_with!(
    over_https_embed_cookies_are_secure_cross_site_and_partitioned,
    |c: &mut gatehouse::config::Config| c.public_url =
        url::Url::parse("https://sso.example.com").expect("url"),
    |app| {
        let org = app.create_org("Acme", true).await;
        let url = app.embed_url(org["id"].as_str().expect("id"), PARENT).await;
        assert!(
            url.starts_with("https://sso.example.com/security/embed/"),
            "URLs come from the public URL"
        );
        let path = url.trim_start_matches("https://sso.example.com");
        let res = app.browser().get(app.url(path)).send().await.expect("open");
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=15552000",
            "https only from now on"
        );
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(
            cookie.ends_with("; HttpOnly; Secure; SameSite=None; Partitioned"),
            "{cookie}"
        );

        let link = app.portal_link(org["id"].as_str().expect("id")).await;
        let path = link.trim_start_matches("https://sso.example.com");
        let res = app.browser().get(app.url(path)).send().await.expect("open");
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(
            cookie.contains("; HttpOnly; Secure; SameSite=Lax"),
            "{cookie}"
        );
        assert!(!cookie.contains("Partitioned"));
    }
);
