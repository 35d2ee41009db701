use crate::helpers::on_both;

on_both!(healthz_and_readyz_answer_when_the_database_does, |app| {
    let res = app
        .api
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), 200);
    let res = app
        .api
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ready");
});

on_both!(readyz_reports_a_closed_database_as_unavailable, |app| {
    app.services.store.close().await;
    let res = app
        .api
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(res.status(), 503);
    let res = app
        .api
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), 200, "the process itself is still alive");
});

on_both!(
    every_response_carries_a_request_id_and_security_headers,
    |app| {
        let res = app.api.get(app.url("/")).send().await.expect("index");
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert!(
            h["x-request-id"]
                .to_str()
                .expect("ascii")
                .starts_with("req_")
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(
            h.get("strict-transport-security").is_none(),
            "not over plain http"
        );
        let policies: Vec<_> = h.get_all("content-security-policy").iter().collect();
        assert_eq!(policies[0], "frame-ancestors 'none'");
        assert!(
            policies[1]
                .to_str()
                .expect("ascii")
                .contains("script-src 'self'")
        );
    }
);

on_both!(
    static_assets_are_served_with_etags_and_long_caching_when_versioned,
    |app| {
        let page = app
            .api
            .get(app.url("/errors"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("text");
        let start = page.find("/static/app.css?v=").expect("css link");
        let href = &page[start..page[start..].find('"').map(|e| start + e).expect("end")];
        let res = app.api.get(app.url(href)).send().await.expect("css");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let etag = res.headers()["etag"].clone();
        let res = app
            .api
            .get(app.url("/static/app.css"))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("revalidate");
        assert_eq!(res.status(), 304);
        let res = app
            .api
            .get(app.url("/static/vendor/htmx-2.0.11.min.js"))
            .send()
            .await
            .expect("htmx");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let res = app
            .api
            .get(app.url("/static/../Cargo.toml"))
            .send()
            .await
            .expect("escape");
        assert_eq!(res.status(), 404);
    }
);

on_both!(unknown_pages_answer_a_404_page_with_a_request_id, |app| {
    let res = app.api.get(app.url("/nowhere")).send().await.expect("page");
    assert_eq!(res.status(), 404);
    assert_eq!(
        crate::helpers::error_code(&res).as_deref(),
        Some("not_found")
    );
    let request_id = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let body = res.text().await.expect("text");
    assert!(body.contains(&request_id), "the page shows the request id");
});
