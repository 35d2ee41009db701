//! Every malformed input gets a clear 4xx as problem+json, never a 500.

use serde_json::json;

use crate::helpers::{API_KEY, assert_problem, on_both};

on_both!(malformed_json_is_a_400_invalid_json, |app| {
    for body in ["{", "{\"name\": }", "not json", "[1, 2"] {
        let res = app
            .api
            .post(app.url("/api/v1/organizations"))
            .bearer_auth(API_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_problem(res, 400, "invalid_json").await;
    }
});

on_both!(an_empty_body_is_a_400_where_an_object_is_required, |app| {
    let res = app
        .api
        .post(app.url("/api/v1/organizations"))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("request");
    let problem = assert_problem(res, 400, "invalid_json").await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("empty")
    );
});

on_both!(
    unknown_fields_and_wrong_types_are_a_400_invalid_body,
    |app| {
        for body in [
            json!({ "name": "A", "colour": "blue" }),
            json!({ "name": 42 }),
            json!({ "name": "A", "self_serve_sso": "yes" }),
            json!({}),
            json!([]),
        ] {
            let res = app.api_post("/organizations", &body).await;
            assert_problem(res, 400, "invalid_body").await;
        }
        let res = app
            .api_post("/organizations", &json!({ "name": "A", "colour": "blue" }))
            .await;
        let problem = assert_problem(res, 400, "invalid_body").await;
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("colour"),
            "names the field"
        );
    }
);

on_both!(oversized_bodies_are_a_413, |app| {
    let big = json!({ "name": "x".repeat(70 * 1024) });
    let res = app.api_post("/organizations", &big).await;
    assert_problem(res, 413, "payload_too_large").await;
});

on_both!(bodies_that_are_not_json_are_a_415, |app| {
    let res = app
        .api
        .post(app.url("/api/v1/organizations"))
        .bearer_auth(API_KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Acme")
        .send()
        .await
        .expect("request");
    assert_problem(res, 415, "unsupported_media_type").await;
});

on_both!(bad_query_parameters_are_a_400_invalid_query, |app| {
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "cursor=evt_x",
        "cursor=org_01aaaa",
        "colour=blue",
    ] {
        let res = app.api_get(&format!("/organizations?{query}")).await;
        assert_problem(res, 400, "invalid_query").await;
    }
});

on_both!(unknown_api_routes_are_a_404_problem, |app| {
    let res = app.api_get("/nothing-here").await;
    assert_problem(res, 404, "not_found").await;
});

on_both!(the_problem_type_links_to_the_code_page, |app| {
    let res = app
        .api_post("/organizations", &json!({ "name": " " }))
        .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    let page = app
        .api
        .get(app.url(problem["type"].as_str().expect("type")))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("text")
            .contains("validation_failed")
    );
});
