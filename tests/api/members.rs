//! An organization's members through the host API: paged like every list,
//! and the rule that a member who joined through SSO cannot leave by
//! themselves (an admin removes them, and they rejoin on their next
//! sign-in).

use gatehouse::services::oauth::{HostRequest, SignedInPerson, Vouched};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, on_both};

/// Acme with an active SAML connection, and `people` signed in through it
/// (the identity provider's leg is the host sign-in tests' business).
async fn org_with_members(app: &TestApp, people: &[&str]) -> String {
    let org = app.verified_org("Acme", "acme.test").await;
    let conn = app.saml_connection(&org).await;
    app.activate_untested(&conn).await;
    let conn_id = conn["id"].as_str().expect("id");
    let client: Value = app
        .api_post(
            "/oauth_clients",
            &json!({ "name": "Acme app", "redirect_uris": ["http://localhost:9999/cb"] }),
        )
        .await
        .json()
        .await
        .expect("json");
    let connection = app
        .services
        .get_connection(conn_id)
        .await
        .expect("connection");
    let request = HostRequest {
        client_id: client["client_id"].as_str().expect("id").into(),
        redirect_uri: "http://localhost:9999/cb".into(),
        state: None,
        nonce: None,
        code_challenge: None,
    };
    for name in people {
        let person = SignedInPerson {
            subject: (*name).into(),
            email: format!("{name}@acme.test"),
            first_name: None,
            last_name: None,
            groups: Vec::new(),
            authenticated_at: None,
        };
        app.services
            .finish_host_sign_in(&connection, &request, Vouched::checked(person), None)
            .await
            .expect("the write")
            .expect("signed in");
    }
    org
}

async fn page(app: &TestApp, org: &str, query: &str) -> Value {
    let res = app
        .api_get(&format!("/organizations/{org}/members?{query}"))
        .await;
    assert_eq!(res.status(), 200, "{query}");
    res.json().await.expect("json")
}

on_both!(members_are_listed_a_page_at_a_time, |app| {
    let people = ["ann", "ben", "cat", "dan", "eve"];
    let org = org_with_members(&app, &people).await;
    let mut seen = Vec::new();
    let mut query = "limit=2".to_string();
    loop {
        let body = page(&app, &org, &query).await;
        let data = body["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        seen.extend(
            data.iter()
                .map(|m| m["email"].as_str().expect("email").to_string()),
        );
        match body["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = people.iter().map(|p| format!("{p}@acme.test")).collect();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, each once");
    assert_eq!(
        page(&app, &org, "").await["data"]
            .as_array()
            .expect("data")
            .len(),
        5,
        "twenty to a page unless asked"
    );
    assert_problem(
        app.api_get(&format!("/organizations/{org}/members?limit=0"))
            .await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.api_get(&format!("/organizations/{org}/members?cursor=nope"))
            .await,
        400,
        "invalid_query",
    )
    .await;
});

on_both!(
    a_member_who_joined_through_sso_cannot_leave_by_themselves,
    |app| {
        let org = org_with_members(&app, &["ann"]).await;
        let member = page(&app, &org, "").await["data"][0].clone();
        assert_eq!(member["source"], "sso");
        assert_eq!(member["can_leave"], false, "{member}");
        let user_id = member["user_id"].as_str().expect("id");

        let res = app
            .api_post(
                &format!("/organizations/{org}/members/{user_id}/leave"),
                &json!({}),
            )
            .await;
        let problem = assert_problem(res, 409, "member_joined_through_sso").await;
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("ann@acme.test")),
            "{problem}"
        );
        assert_eq!(
            page(&app, &org, "").await["data"]
                .as_array()
                .expect("data")
                .len(),
            1,
            "still a member"
        );
        assert!(
            app.events(&format!("organization_id={org}&action=membership.removed"))
                .await
                .is_empty()
        );

        // Unknown members are 404s, whichever way they are asked about.
        for path in [
            format!("/organizations/{org}/members/user_01hzzzzzzzzzzzzzzzzzzzzzzz/leave"),
            format!("/organizations/{org}/members/nope/leave"),
        ] {
            assert_problem(app.api_post(&path, &json!({})).await, 404, "user_not_found").await;
        }

        // An admin can remove them.
        let res = app
            .api_send(
                reqwest::Method::DELETE,
                &format!("/organizations/{org}/members/{user_id}"),
                &json!({}),
            )
            .await;
        assert_eq!(res.status(), 204);
        assert!(
            page(&app, &org, "").await["data"]
                .as_array()
                .expect("data")
                .is_empty()
        );
    }
);
