//! The host's branding: product name, accent colour and logo set through
//! the API, and the Security tab following them without loosening its
//! content policy.

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, frame_policy, meta, on_both};

/// A real 1×1 PNG.
const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
/// A real 1×1 WebP.
const WEBP_B64: &str = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(PNG_B64)
        .expect("png")
}

async fn put(app: &TestApp, body: &Value) -> reqwest::Response {
    app.api_send(reqwest::Method::PUT, "/branding", body).await
}

async fn brand(app: &TestApp) -> Value {
    let res = app.api_get("/branding").await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

/// Acme Cloud, teal, with the PNG logo.
async fn set_acme_cloud(app: &TestApp) -> Value {
    let res = put(
        app,
        &json!({ "product_name": "Acme Cloud", "accent_color": "#0F766E",
                 "logo": { "content_type": "image/png", "data_base64": PNG_B64 } }),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

/// WCAG relative luminance and contrast, written out again here so the test
/// does not trust the code it checks.
fn contrast(a: &str, b: &str) -> f64 {
    fn luminance(hex: &str) -> f64 {
        let hex = hex.trim_start_matches('#');
        let c = |i: usize| {
            let s = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")) / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * c(0) + 0.7152 * c(2) + 0.0722 * c(4)
    }
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// The value of `--name` in each `:root` block of a stylesheet, in order.
fn properties(css: &str, name: &str) -> Vec<String> {
    let marker = format!("--{name}: ");
    css.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &css[at + marker.len()..];
            rest[..rest.find(';').expect(";")].to_string()
        })
        .collect()
}

on_both!(branding_is_set_and_read_back, |app| {
    let empty = brand(&app).await;
    assert_eq!(
        empty,
        json!({ "product_name": null, "accent_color": null, "logo": null, "theme": null,
                "updated_at": null })
    );

    let set = set_acme_cloud(&app).await;
    assert_eq!(set["product_name"], "Acme Cloud");
    assert_eq!(set["accent_color"], "#0f766e", "stored lower case");
    assert_eq!(set["logo"]["content_type"], "image/png");
    assert_eq!(set["logo"]["size"], png().len());
    let url = set["logo"]["url"].as_str().expect("logo url");
    assert!(
        url.starts_with(&app.url("/branding/logo?v=")),
        "same origin as the tab: {url}"
    );
    assert_eq!(set["theme"]["light"]["accent"], "#0f766e");
    assert_eq!(set["theme"]["light"]["text_on_accent"], "#ffffff");
    assert!(set["updated_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(brand(&app).await, set, "read back as set");

    // Fields left out stay as they are; null goes back to the default.
    let res = put(&app, &json!({ "accent_color": null })).await;
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.expect("json");
    assert_eq!(after["product_name"], "Acme Cloud");
    assert_eq!(after["logo"], set["logo"]);
    assert_eq!(after["accent_color"], Value::Null);
    assert_eq!(after["theme"], Value::Null);
    let res = put(&app, &json!({ "product_name": null, "logo": null })).await;
    let cleared: Value = res.json().await.expect("json");
    assert_eq!(cleared["product_name"], Value::Null);
    assert_eq!(cleared["logo"], Value::Null);

    let res = app
        .api
        .get(app.url("/api/v1/branding"))
        .send()
        .await
        .expect("no key");
    assert_problem(res, 401, "unauthorized").await;
    let res = app
        .api
        .post(app.url("/api/v1/branding"))
        .bearer_auth(crate::helpers::API_KEY)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_problem(res, 405, "method_not_allowed").await;
});

on_both!(the_tab_pages_show_the_product_name_and_logo, |app| {
    set_acme_cloud(&app).await;
    let org = app.create_org("Globex", true).await;
    let org_id = org["id"].as_str().expect("id");
    let res = app
        .api_post(
            &format!("/organizations/{org_id}/portal_links"),
            &json!({ "return_url": "https://app.example.com/settings" }),
        )
        .await;
    let link: Value = res.json().await.expect("json");
    let browser = app.browser();
    let res = browser
        .get(link["url"].as_str().expect("url"))
        .send()
        .await
        .expect("open");
    assert_eq!(res.status(), 303);

    let res = browser.get(app.url("/security")).send().await.expect("tab");
    let policy: Vec<String> = res
        .headers()
        .get_all("content-security-policy")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect();
    assert!(
        policy
            .iter()
            .any(|p| p.contains("style-src 'self';") && p.contains("img-src 'self' data: https:")),
        "the content policy is unchanged: {policy:?}"
    );
    let html = res.text().await.expect("html");
    assert!(
        html.contains("<title>Overview · Single sign-on · Globex · Acme Cloud</title>"),
        "{html}"
    );
    assert!(html.contains("sign in to Acme Cloud through your own identity provider"));
    assert!(html.contains(">Back to Acme Cloud</a>"), "{html}");
    assert!(
        html.contains(r#"<link rel="stylesheet" href="/branding/theme.css?v=0f766e">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<img class="brand-logo" src="/branding/logo?v="#)
            && html.contains(r#"alt="Acme Cloud">"#),
        "{html}"
    );
    assert!(!html.contains("style=\""), "no inline styles");

    // Step pages and fragments name it where they name the host's product.
    let html = browser
        .get(app.url("/security/domains"))
        .header("hx-request", "true")
        .send()
        .await
        .expect("fragment")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("keep the usual sign-in of Acme Cloud"),
        "{html}"
    );

    // The embedded tab: name and colours, no logo (the host page has its
    // own around the frame).
    let url = app.embed_url(org_id, "https://app.example.com").await;
    let html = app
        .browser()
        .get(&url)
        .send()
        .await
        .expect("embed")
        .text()
        .await
        .expect("html");
    assert!(html.contains("· Acme Cloud</title>"));
    assert!(html.contains("/branding/theme.css?v=0f766e"));
    assert!(!html.contains("brand-logo"));

    // Without branding the wording is the default one.
    put(
        &app,
        &json!({ "product_name": null, "accent_color": null, "logo": null }),
    )
    .await;
    let html = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("tab")
        .text()
        .await
        .expect("html");
    assert!(html.contains("<title>Overview · Single sign-on · Globex</title>"));
    assert!(html.contains(">Back to the application</a>"));
    assert!(!html.contains("/branding/"));
});

on_both!(
    the_theme_carries_the_accent_and_readable_text_colours,
    |app| {
        let res = app
            .browser()
            .get(app.url("/branding/theme.css"))
            .send()
            .await
            .expect("css");
        assert_eq!(res.status(), 200, "no accent: an empty theme");
        assert!(!res.text().await.expect("css").contains("--accent"));

        // A dark teal (white text; lightened for dark mode) and a pale yellow
        // (black text; readable on dark backgrounds as it is).
        for (accent, text_on_accent, dark_differs) in
            [("#0f766e", "#ffffff", true), ("#ffd43b", "#000000", false)]
        {
            let res = put(&app, &json!({ "accent_color": accent })).await;
            let body: Value = res.json().await.expect("json");
            assert_eq!(body["theme"]["light"]["text_on_accent"], text_on_accent);

            let version = &accent[1..];
            let res = app
                .browser()
                .get(app.url(&format!("/branding/theme.css?v={version}")))
                .send()
                .await
                .expect("css");
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
            assert_eq!(
                res.headers()["cache-control"],
                "public, max-age=31536000, immutable",
                "the URL changes with the colour"
            );
            assert_eq!(res.headers()["x-content-type-options"], "nosniff");
            let css = res.text().await.expect("css");
            assert!(css.contains("@media (prefers-color-scheme: dark)"), "{css}");

            let fills = properties(&css, "accent");
            let hovers = properties(&css, "accent-strong");
            let texts = properties(&css, "accent-contrast");
            let links = properties(&css, "accent-text");
            let notices = properties(&css, "notice-bg");
            assert_eq!(fills.len(), 2, "light and dark: {css}");
            assert_eq!(fills[0], accent, "light mode uses the colour as given");
            assert_eq!(texts[0], text_on_accent);
            assert_eq!(fills[1] != accent, dark_differs, "dark variant: {css}");
            // Light, then dark.
            for scheme in [0usize, 1] {
                let text = &texts[scheme];
                assert!(contrast(&fills[scheme], text) >= 4.5, "{css}");
                assert!(contrast(&hovers[scheme], text) >= 4.5, "{css}");
                assert!(contrast(&links[scheme], &notices[scheme]) >= 4.5, "{css}");
            }
            // Links on the page backgrounds of app.css, light then dark.
            for bg in ["#ffffff", "#f6f7f9"] {
                assert!(contrast(&links[0], bg) >= 4.5, "{css}");
            }
            for bg in ["#111418", "#1a1e24"] {
                assert!(contrast(&links[1], bg) >= 4.5, "{css}");
            }
        }

        let res = app
            .browser()
            .get(app.url("/branding/theme.css?v=0f766e"))
            .send()
            .await
            .expect("css");
        assert_eq!(
            res.headers()["cache-control"],
            "no-cache",
            "an old version is not cached for long"
        );
    }
);

on_both!(the_logo_is_served_with_its_type_and_nosniff, |app| {
    let res = app
        .browser()
        .get(app.url("/branding/logo"))
        .send()
        .await
        .expect("logo");
    assert_eq!(res.status(), 404, "no logo yet");

    let set = set_acme_cloud(&app).await;
    let url = set["logo"]["url"].as_str().expect("url");
    let res = app.browser().get(url).send().await.expect("logo");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        frame_policy(&res).starts_with("default-src 'none'"),
        "opened on its own, it runs nothing"
    );
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), png().as_slice());

    let res = put(
        &app,
        &json!({ "logo": { "content_type": "image/webp", "data_base64": WEBP_B64 } }),
    )
    .await;
    let body: Value = res.json().await.expect("json");
    let webp_url = body["logo"]["url"].as_str().expect("url");
    assert_ne!(webp_url, url, "a new logo, a new URL");
    let res = app.browser().get(webp_url).send().await.expect("logo");
    assert_eq!(res.headers()["content-type"], "image/webp");
    let res = app.browser().get(url).send().await.expect("old url");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-cache");
});

on_both!(bad_branding_is_refused_with_its_code, |app| {
    set_acme_cloud(&app).await;
    let before = brand(&app).await;

    for colour in ["teal", "#fff", "0f766e", "#0f766e80", "#zzzzzz", ""] {
        let res = put(&app, &json!({ "accent_color": colour })).await;
        assert_problem(res, 422, "branding_accent_color_invalid").await;
    }
    for name in ["", "   ", "Acme\nCloud"] {
        let res = put(&app, &json!({ "product_name": name })).await;
        assert_problem(res, 422, "branding_product_name_invalid").await;
    }
    let logo = |content_type: &str, data: &[u8]| json!({ "logo": { "content_type": content_type, "data_base64": b64(data) } });

    let mut big = png();
    big.resize(256 * 1024 + 1, 0);
    let res = put(&app, &logo("image/png", &big)).await;
    let problem = assert_problem(res, 422, "branding_logo_too_large").await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("256 KB")
    );

    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let res = put(&app, &logo("image/svg+xml", svg)).await;
    let problem = assert_problem(res, 422, "branding_logo_type_unsupported").await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("script")
    );
    let res = put(&app, &logo("image/png", svg)).await;
    assert_problem(res, 422, "branding_logo_content_mismatch").await;
    let res = put(
        &app,
        &logo("image/png", b"<html><script>alert(1)</script></html>"),
    )
    .await;
    assert_problem(res, 422, "branding_logo_content_mismatch").await;
    let res = put(&app, &logo("image/jpeg", &png())).await;
    let problem = assert_problem(res, 422, "branding_logo_content_mismatch").await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("image/png data")
    );
    let res = put(&app, &logo("image/gif", b"GIF89a\x01\0\x01\0")).await;
    assert_problem(res, 422, "branding_logo_type_unsupported").await;
    let res = put(
        &app,
        &json!({ "logo": { "content_type": "image/png", "data_base64": "%%%not base64" } }),
    )
    .await;
    assert_problem(res, 422, "branding_logo_invalid").await;
    let res = put(&app, &json!({ "logo": { "content_type": "image/png" } })).await;
    assert_problem(res, 400, "invalid_body").await;
    let res = put(&app, &json!({ "colour": "#0f766e" })).await;
    assert_problem(res, 400, "invalid_body").await;

    // Far beyond any logo: refused before it is read.
    let huge = "A".repeat(600 * 1024);
    let res = put(
        &app,
        &json!({ "logo": { "content_type": "image/png", "data_base64": huge } }),
    )
    .await;
    assert_problem(res, 413, "payload_too_large").await;

    // One bad field refuses the whole change.
    let res = put(
        &app,
        &json!({ "product_name": "Other", "accent_color": "blue" }),
    )
    .await;
    assert_problem(res, 422, "branding_accent_color_invalid").await;
    assert_eq!(brand(&app).await, before, "nothing changed");
    for code in [
        "branding_accent_color_invalid",
        "branding_product_name_invalid",
        "branding_logo_too_large",
        "branding_logo_type_unsupported",
        "branding_logo_content_mismatch",
        "branding_logo_invalid",
    ] {
        let res = app
            .browser()
            .get(app.url(&format!("/errors/{code}")))
            .send()
            .await
            .expect("page");
        assert_eq!(res.status(), 200, "{code} is documented");
    }
});

on_both!(a_branding_change_is_in_the_audit_log, |app| {
    set_acme_cloud(&app).await;
    let events = app.events("action=branding.updated").await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["actor"]["type"], "api_key");
    assert_eq!(e["target"], json!({ "type": "branding", "id": "host" }));
    assert_eq!(e["organization_id"], Value::Null);
    let changes = &e["data"]["changes"];
    assert_eq!(
        changes["product_name"],
        json!({ "from": null, "to": "Acme Cloud" })
    );
    assert_eq!(
        changes["accent_color"],
        json!({ "from": null, "to": "#0f766e" })
    );
    assert_eq!(changes["logo"]["from"], Value::Null);
    assert_eq!(changes["logo"]["to"]["content_type"], "image/png");
    assert!(
        !e.to_string().contains(PNG_B64),
        "the logo's bytes are not copied into the log"
    );

    // The same values again change nothing and record nothing.
    set_acme_cloud(&app).await;
    assert_eq!(app.events("action=branding.updated").await.len(), 1);
    put(&app, &json!({ "accent_color": "#7c3aed" })).await;
    let events = app.events("action=branding.updated").await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["data"]["changes"],
        json!({ "accent_color": { "from": "#0f766e", "to": "#7c3aed" } })
    );
});

on_both!(the_session_ended_page_names_the_product, |app| {
    set_acme_cloud(&app).await;
    let org = app.create_org("Globex", true).await;
    let url = app
        .embed_url(org["id"].as_str().expect("id"), "https://app.example.com")
        .await;
    let html = app
        .browser()
        .get(&url)
        .send()
        .await
        .expect("embed")
        .text()
        .await
        .expect("html");
    let session = meta(&html, "gatehouse-session").expect("session");
    app.clock.advance(chrono::Duration::hours(2));
    let res = app
        .browser()
        .get(app.url("/security"))
        .header("x-gatehouse-session", &session)
        .send()
        .await
        .expect("expired");
    assert_eq!(res.status(), 401);
    let html = res.text().await.expect("html");
    assert!(
        html.contains("Your session has ended · Acme Cloud</title>"),
        "{html}"
    );
    assert!(
        html.contains("Reopen the Security settings from Acme Cloud"),
        "{html}"
    );
});
