//! The audit log records every change with its actor.

use serde_json::json;

use crate::helpers::{API_KEY, on_both};

on_both!(every_change_is_in_the_audit_log_with_its_actor, |app| {
    let org = app.create_org("Acme", true).await;
    let id = org["id"].as_str().expect("id");
    app.api_patch(
        &format!("/organizations/{id}"),
        &json!({ "default_role": "viewer" }),
    )
    .await;
    app.admin_browser(id).await;
    app.embed_url(id, "https://app.example.com").await;

    let events = app.events(&format!("organization_id={id}")).await;
    let actions: Vec<_> = events
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        vec![
            "embed_token.created",
            "admin_session.started",
            "portal_link.created",
            "organization.updated",
            "organization.created"
        ],
        "newest first"
    );
    let created = &events[4];
    assert_eq!(created["actor"]["type"], "api_key");
    assert_eq!(created["actor"]["label"], "API key “bootstrap”");
    assert!(
        created["actor"]["id"]
            .as_str()
            .expect("key id")
            .starts_with("key_")
    );
    assert_eq!(
        created["target"],
        json!({ "type": "organization", "id": id })
    );
    assert!(
        created["request_id"]
            .as_str()
            .expect("request id")
            .starts_with("req_")
    );
    assert_eq!(
        events[3]["data"]["changes"]["default_role"],
        json!({ "from": "member", "to": "viewer" })
    );
    assert_eq!(events[1]["actor"]["type"], "admin");
    assert!(
        events[1]["target"]["id"]
            .as_str()
            .expect("session")
            .starts_with("ses_")
    );
    for e in &events {
        let text = e.to_string();
        assert!(
            !text.contains("ghp_") && !text.contains("ghe_") && !text.contains("ghs_"),
            "no tokens in the log: {text}"
        );
    }
});

on_both!(events_page_and_filter, |app| {
    for name in ["A", "B", "C"] {
        app.create_org(name, false).await;
    }
    let res = app
        .api_get("/events?limit=2&action=organization.created")
        .await;
    let page: serde_json::Value = res.json().await.expect("json");
    assert_eq!(page["data"].as_array().expect("data").len(), 2);
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let res = app
        .api_get(&format!(
            "/events?limit=2&action=organization.created&cursor={cursor}"
        ))
        .await;
    let page: serde_json::Value = res.json().await.expect("json");
    assert_eq!(page["data"].as_array().expect("data").len(), 1);
    assert_eq!(page["next_cursor"], serde_json::Value::Null);
    let res = app
        .api
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .expect("no key");
    assert_eq!(res.status(), 401, "the audit log needs an API key");
    let res = app
        .api
        .get(app.url("/api/v1/events"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("key");
    assert_eq!(res.status(), 200);
});
