//! CSRF: every change needs the session's token and a same-origin request.

use crate::helpers::{error_code, meta, on_both};

async fn signed_in(app: &crate::helpers::TestApp) -> (reqwest::Client, String) {
    let org = app.create_org("Acme", true).await;
    let browser = app.admin_browser(org["id"].as_str().expect("id")).await;
    let html = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("tab")
        .text()
        .await
        .expect("html");
    let csrf = meta(&html, "gatehouse-csrf").expect("csrf meta");
    assert!(
        html.contains(&format!("name=\"csrf_token\" value=\"{csrf}\"")),
        "forms carry it too"
    );
    (browser, csrf)
}

async fn still_signed_in(app: &crate::helpers::TestApp, browser: &reqwest::Client) -> bool {
    browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("tab")
        .status()
        == 200
}

on_both!(a_change_without_the_csrf_token_is_refused, |app| {
    let (browser, _) = signed_in(&app).await;
    let res = browser
        .post(app.url("/security/sign-out"))
        .header("origin", &app.address)
        .form(&[("nothing", "")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&res).as_deref(), Some("csrf_token_invalid"));

    let res = browser
        .post(app.url("/security/sign-out"))
        .header("origin", &app.address)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .expect("post");
    assert_eq!(error_code(&res).as_deref(), Some("csrf_token_invalid"));
    assert!(still_signed_in(&app, &browser).await);
});

on_both!(a_change_from_another_origin_is_refused, |app| {
    let (browser, csrf) = signed_in(&app).await;
    let res = browser
        .post(app.url("/security/sign-out"))
        .header("origin", "https://evil.example")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&res).as_deref(), Some("csrf_origin_mismatch"));

    let res = browser
        .post(app.url("/security/sign-out"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(error_code(&res).as_deref(), Some("csrf_origin_mismatch"));

    let res = browser
        .post(app.url("/security/sign-out"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(
        error_code(&res).as_deref(),
        Some("csrf_origin_mismatch"),
        "no origin at all"
    );
    assert!(still_signed_in(&app, &browser).await);
});

on_both!(a_token_from_another_session_is_refused, |app| {
    let (_, other_csrf) = signed_in(&app).await;
    let (browser, _) = signed_in(&app).await;
    let res = browser
        .post(app.url("/security/sign-out"))
        .header("origin", &app.address)
        .form(&[("csrf_token", other_csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(error_code(&res).as_deref(), Some("csrf_token_invalid"));
});

on_both!(a_same_origin_change_with_its_token_goes_through, |app| {
    let (browser, csrf) = signed_in(&app).await;
    let res = browser
        .post(app.url("/security/sign-out"))
        .header("sec-fetch-site", "same-origin")
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200, "htmx style: header token, no body");
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
    let res = browser.get(app.url("/security")).send().await.expect("tab");
    assert_eq!(res.status(), 401);
    assert_eq!(app.events("action=admin_session.ended").await.len(), 1);
});
