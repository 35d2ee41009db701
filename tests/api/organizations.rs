use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, on_both};

on_both!(creating_an_organization_returns_it_with_defaults, |app| {
    let res = app
        .api_post("/organizations", &json!({ "name": "Acme, Inc." }))
        .await;
    assert_eq!(res.status(), 201);
    let org: Value = res.json().await.expect("json");
    assert!(org["id"].as_str().expect("id").starts_with("org_"));
    assert_eq!(org["name"], "Acme, Inc.");
    assert_eq!(org["slug"], "acme-inc");
    assert_eq!(org["external_id"], Value::Null);
    assert_eq!(org["self_serve_sso"], false);
    assert_eq!(org["default_role"], "member");
    let created = org["created_at"].as_str().expect("time");
    assert!(created.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(created).is_ok());

    let res = app
        .api_get(&format!(
            "/organizations/{}",
            org["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json"), org);
});

on_both!(all_fields_can_be_given_at_creation, |app| {
    let res = app
        .api_post(
            "/organizations",
            &json!({ "name": "Globex", "slug": "globex-eu", "external_id": "cus_42",
                     "self_serve_sso": true, "default_role": "org:member" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let org: Value = res.json().await.expect("json");
    assert_eq!(org["slug"], "globex-eu");
    assert_eq!(org["external_id"], "cus_42");
    assert_eq!(org["self_serve_sso"], true);
    assert_eq!(org["default_role"], "org:member");
});

on_both!(slugs_are_unique, |app| {
    let first = app.create_org("Acme", false).await;
    assert_eq!(first["slug"], "acme");
    let second = app.create_org("Acme", false).await;
    assert_eq!(second["slug"], "acme-2", "a derived slug moves aside");

    let res = app
        .api_post(
            "/organizations",
            &json!({ "name": "Other", "slug": "acme" }),
        )
        .await;
    let problem = assert_problem(res, 409, "slug_taken").await;
    assert!(problem["detail"].as_str().expect("detail").contains("acme"));

    let res = app
        .api_patch(
            &format!("/organizations/{}", second["id"].as_str().expect("id")),
            &json!({ "slug": "acme" }),
        )
        .await;
    assert_problem(res, 409, "slug_taken").await;
});

on_both!(external_ids_are_unique_and_can_be_looked_up, |app| {
    let res = app
        .api_post(
            "/organizations",
            &json!({ "name": "A", "external_id": "cus_1" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let org: Value = res.json().await.expect("json");
    let res = app
        .api_post(
            "/organizations",
            &json!({ "name": "B", "external_id": "cus_1" }),
        )
        .await;
    assert_problem(res, 409, "external_id_taken").await;

    let res = app.api_get("/organizations?external_id=cus_1").await;
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["data"].as_array().expect("data").len(), 1);
    assert_eq!(body["data"][0]["id"], org["id"]);
    let res = app.api_get("/organizations?external_id=cus_missing").await;
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["data"], json!([]));
});

on_both!(lists_page_newest_first_with_a_cursor, |app| {
    let mut ids = Vec::new();
    for name in ["One", "Two", "Three"] {
        ids.push(
            app.create_org(name, false).await["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    let res = app.api_get("/organizations?limit=2").await;
    let page: Value = res.json().await.expect("json");
    let names: Vec<_> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|o| o["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("Three"), json!("Two")]);
    let cursor = page["next_cursor"].as_str().expect("a next page");

    let res = app
        .api_get(&format!("/organizations?limit=2&cursor={cursor}"))
        .await;
    let page: Value = res.json().await.expect("json");
    assert_eq!(page["data"].as_array().expect("data").len(), 1);
    assert_eq!(page["data"][0]["id"], ids[0]);
    assert_eq!(page["next_cursor"], Value::Null);
});

on_both!(patching_changes_only_the_given_fields, |app| {
    let res = app
        .api_post(
            "/organizations",
            &json!({ "name": "Acme", "external_id": "cus_9" }),
        )
        .await;
    let org: Value = res.json().await.expect("json");
    let path = format!("/organizations/{}", org["id"].as_str().expect("id"));

    let res = app
        .api_patch(
            &path,
            &json!({ "self_serve_sso": true, "default_role": "viewer" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.expect("json");
    assert_eq!(patched["self_serve_sso"], true);
    assert_eq!(patched["default_role"], "viewer");
    assert_eq!(patched["name"], "Acme");
    assert_eq!(patched["external_id"], "cus_9");

    let res = app
        .api_patch(&path, &json!({ "external_id": null, "name": "Acme Corp" }))
        .await;
    let patched: Value = res.json().await.expect("json");
    assert_eq!(patched["external_id"], Value::Null, "null clears");
    assert_eq!(patched["name"], "Acme Corp");
    assert_eq!(patched["self_serve_sso"], true, "absent fields stay");

    let fetched: Value = app.api_get(&path).await.json().await.expect("json");
    assert_eq!(fetched, patched);
});

on_both!(invalid_fields_are_refused_naming_the_field, |app| {
    for (body, field) in [
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "x".repeat(201) }), "name"),
        (json!({ "name": "A", "slug": "Not A Slug" }), "slug"),
        (
            json!({ "name": "A", "default_role": "has space" }),
            "default_role",
        ),
        (json!({ "name": "A", "external_id": "" }), "external_id"),
    ] {
        let res = app.api_post("/organizations", &body).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["field"], field, "{body}");
    }
    let org = app.create_org("Valid", false).await;
    let res = app
        .api_patch(
            &format!("/organizations/{}", org["id"].as_str().expect("id")),
            &json!({ "default_role": "" }),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        app.events("action=organization.updated").await.len(),
        0,
        "nothing changed"
    );
});

on_both!(unknown_and_malformed_ids_answer_404, |app| {
    for id in [
        "org_01aaaaaaaaaaaaaaaaaaaaaaaa",
        "nonsense",
        "conn_01aaaaaaaaaaaaaaaaaaaaaaaa",
        "org_%27%3B--",
    ] {
        let res = app.api_get(&format!("/organizations/{id}")).await;
        assert_problem(res, 404, "organization_not_found").await;
        let res = app
            .api_patch(&format!("/organizations/{id}"), &json!({ "name": "X" }))
            .await;
        assert_problem(res, 404, "organization_not_found").await;
        let res = app
            .api_post(&format!("/organizations/{id}/portal_links"), &json!({}))
            .await;
        assert_problem(res, 404, "organization_not_found").await;
    }
});

on_both!(unsupported_methods_answer_405, |app| {
    let res = app
        .api_send(Method::DELETE, "/organizations", &json!({}))
        .await;
    assert_problem(res, 405, "method_not_allowed").await;
});
