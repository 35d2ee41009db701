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

/// An embedded tab of `org_id`: its session token and CSRF token, as the
/// page the embed URL opens carries them.
async fn embedded_tab(app: &crate::helpers::TestApp, org_id: &str) -> (String, String) {
    let url = app.embed_url(org_id, PARENT).await;
    let html = app
        .browser()
        .get(&url)
        .send()
        .await
        .expect("open")
        .text()
        .await
        .expect("html");
    (
        meta(&html, "gatehouse-session").expect("session"),
        meta(&html, "gatehouse-csrf").expect("csrf"),
    )
}

/// A request from the embedded tab as htmx sends it, in a browser that
/// dropped the frame's cookie: the session and CSRF token as headers.
fn from_tab(
    app: &crate::helpers::TestApp,
    method: reqwest::Method,
    path: &str,
    session: &str,
    csrf: &str,
) -> reqwest::RequestBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .request(method, app.url(path))
        .header("hx-request", "true")
        .header("x-gatehouse-session", session)
        .header("x-csrf-token", csrf)
        .header("origin", &app.address)
}

/// The `data-gatehouse-event` markers of a page, with their attributes.
fn event_markers(html: &str) -> Vec<String> {
    html.match_indices("data-gatehouse-event=\"")
        .map(|(at, _)| {
            let start = html[..at].rfind('<').expect("tag");
            let end = at + html[at..].find('>').expect("tag end");
            html[start..=end].to_string()
        })
        .collect()
}

on_both!(
    activating_and_deactivating_in_the_embedded_tab_tell_the_host_page,
    |app| {
        let org = app.verified_org("Acme", "acme.test").await;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
            crate::helpers::test_cert("idp", 365)
        );
        let res = app
            .api_post(
                &format!("/organizations/{org}/connections"),
                &json!({ "provider": "okta", "saml": { "sso_url": "https://idp.acme.test/sso",
                    "entity_id": "https://idp.acme.test", "certificate_pem": pem } }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let conn: serde_json::Value = res.json().await.expect("json");
        let conn_id = conn["id"].as_str().expect("id");
        // A passing test on the current settings, staged (the Test step's
        // own tests run real ones).
        app.execute(&format!(
            "UPDATE connections SET state = 'tested', tested_version = config_version WHERE id = '{conn_id}'"
        ))
        .await;
        let (session, csrf) = embedded_tab(&app, &org).await;

        let page = from_tab(
            &app,
            reqwest::Method::GET,
            "/security/activate",
            &session,
            &csrf,
        )
        .send()
        .await
        .expect("page");
        assert!(
            event_markers(&page.text().await.expect("html")).is_empty(),
            "showing the step tells nothing"
        );

        let res = from_tab(
            &app,
            reqwest::Method::POST,
            "/security/activate",
            &session,
            &csrf,
        )
        .send()
        .await
        .expect("activate");
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert_eq!(
            event_markers(&html),
            vec![format!(
                "<span hidden data-gatehouse-event=\"gatehouse:connection-activated\" \
                 data-connection-id=\"{conn_id}\" data-provider=\"okta\">"
            )],
            "{html}"
        );

        // A plain form post inside the frame renders in place, marker too.
        let res = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .post(app.url("/security/deactivate"))
            .header("origin", &app.address)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("gatehouse_session", session.as_str()),
            ])
            .send()
            .await
            .expect("deactivate");
        assert_eq!(res.status(), 200);
        assert_eq!(frame_policy(&res), format!("frame-ancestors {PARENT}"));
        let html = res.text().await.expect("html");
        assert_eq!(
            meta(&html, "gatehouse-parent-origin").as_deref(),
            Some(PARENT),
            "the page knows where its messages may go"
        );
        let markers = event_markers(&html);
        assert_eq!(markers.len(), 1, "{html}");
        assert!(
            markers[0].contains("data-gatehouse-event=\"gatehouse:connection-deactivated\"")
                && markers[0].contains(&format!("data-connection-id=\"{conn_id}\"")),
            "{markers:?}"
        );

        // A refused action tells nothing.
        let other = app.create_org("Globex", true).await;
        let (other_session, other_csrf) =
            embedded_tab(&app, other["id"].as_str().expect("id")).await;
        let res = from_tab(
            &app,
            reqwest::Method::POST,
            "/security/activate",
            &other_session,
            &other_csrf,
        )
        .send()
        .await
        .expect("activate nothing");
        assert_eq!(res.status(), 422);
        assert!(event_markers(&res.text().await.expect("html")).is_empty());

        // A standalone tab (no parent to tell) follows a redirect as before.
        let (browser, admin_csrf) = crate::helpers::admin_of(&app, &org).await;
        let res = crate::helpers::form_post(
            &app,
            &browser,
            "/security/activate",
            &[("csrf_token", &admin_csrf)],
        )
        .await;
        assert_eq!(res.status(), 303);
    }
);

on_both!(
    an_expired_embedded_session_shows_the_session_ended_page_and_tells_the_host,
    |app| {
        let org = app.create_org("Acme", true).await;
        let org_id = org["id"].as_str().expect("id");
        let (session, csrf) = embedded_tab(&app, org_id).await;
        app.clock.advance(chrono::Duration::hours(2));

        let cookieless = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        // A full page load, an htmx navigation and an htmx form post.
        let full = cookieless
            .get(app.url("/security/domains"))
            .header("x-gatehouse-session", &session)
            .send()
            .await
            .expect("page");
        let navigation = from_tab(
            &app,
            reqwest::Method::GET,
            "/security/domains",
            &session,
            &csrf,
        )
        .send()
        .await
        .expect("htmx");
        let post = from_tab(
            &app,
            reqwest::Method::POST,
            "/security/domains",
            &session,
            &csrf,
        )
        .form(&[("domain", "acme.test"), ("purpose", "sso")])
        .send()
        .await
        .expect("htmx post");
        for (res, htmx) in [(full, false), (navigation, true), (post, true)] {
            assert_eq!(res.status(), 401);
            assert_eq!(error_code(&res).as_deref(), Some("session_expired"));
            assert_eq!(frame_policy(&res), format!("frame-ancestors {PARENT}"));
            if htmx {
                assert_eq!(
                    res.headers()["hx-retarget"],
                    "body",
                    "htmx puts the page in place of the whole tab"
                );
                assert_eq!(res.headers()["hx-reswap"], "innerHTML");
            }
            let html = res.text().await.expect("html");
            assert_eq!(
                meta(&html, "gatehouse-parent-origin").as_deref(),
                Some(PARENT)
            );
            assert_eq!(
                meta(&html, "gatehouse-event").as_deref(),
                Some("gatehouse:session-expired")
            );
            // In the body too: htmx swaps in only the body.
            let body = &html[html.find("<body").expect("body")..];
            let markers = event_markers(body);
            assert_eq!(markers.len(), 1, "{html}");
            assert!(markers[0].contains("data-gatehouse-event=\"gatehouse:session-expired\""));
            assert!(body.contains("Your session has ended"), "{html}");
            assert!(
                body.contains("Reopen the Security settings from your application"),
                "{html}"
            );
            assert!(
                !body.contains("<form") && !body.contains("type=\"password\""),
                "a message, not a sign-in page"
            );
        }

        // A page that never had a session (no parent origin) posts nothing.
        let res = cookieless
            .get(app.url("/security"))
            .send()
            .await
            .expect("no session");
        assert_eq!(error_code(&res).as_deref(), Some("session_missing"));
        let html = res.text().await.expect("html");
        assert!(meta(&html, "gatehouse-parent-origin").is_none());
        assert!(meta(&html, "gatehouse-event").is_none());
        assert!(event_markers(&html).is_empty());
    }
);

on_both!(
    an_unknown_embed_token_gives_the_page_no_parent_to_post_to,
    |app| {
        let res = app
            .browser()
            .get(app.url("/security/embed/ghe_unknown"))
            .send()
            .await
            .expect("open");
        assert_eq!(res.status(), 404);
        assert_eq!(frame_policy(&res), "frame-ancestors 'none'");
        let html = res.text().await.expect("html");
        assert!(meta(&html, "gatehouse-parent-origin").is_none());
        assert!(event_markers(&html).is_empty());
    }
);
