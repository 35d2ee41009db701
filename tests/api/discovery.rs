//! `GET /discovery`: whether the host shows its own sign-in form or sends
//! the person to SSO, and how an active connection makes a domain SSO-only
//! while the organization's other domains stay open.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestIdp, assert_problem, on_both};

async fn discover(app: &TestApp, email: &str) -> Value {
    let res = app
        .api_get(&format!("/discovery?email={}", urlencoding(email)))
        .await;
    assert_eq!(res.status(), 200, "{email}");
    res.json().await.expect("json")
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn answer(sso_required: bool, org: Option<&str>, conn: Option<&str>) -> Value {
    json!({ "sso_required": sso_required, "organization_id": org, "connection_id": conn })
}

on_both!(
    discovery_says_sso_only_where_a_connection_is_active,
    |app| {
        assert_eq!(
            discover(&app, "bob@initech.test").await,
            answer(false, None, None),
            "a domain nobody verified is open"
        );
        assert_problem(
            app.api_get("/discovery?email=not-an-address").await,
            422,
            "email_invalid",
        )
        .await;
        assert_problem(app.api_get("/discovery").await, 422, "email_invalid").await;

        let org = app.verified_org("Acme", "acme.test").await;
        assert_eq!(
            discover(&app, "alice@acme.test").await,
            answer(false, Some(&org), None),
            "verified, no connection yet: still open"
        );
        let conn: Value = app
            .api_post(
                &format!("/organizations/{org}/connections"),
                &json!({ "provider": "okta", "saml": { "sso_url": "https://idp.acme.test/sso",
                    "entity_id": "https://idp.acme.test/metadata",
                    "certificate_pem": TestIdp::shared().cert_pem } }),
            )
            .await
            .json()
            .await
            .expect("json");
        let conn_id = conn["id"].as_str().expect("id");
        assert_eq!(
            discover(&app, "alice@acme.test").await,
            answer(false, Some(&org), None),
            "a draft connection changes nothing"
        );
        let res = app
            .api_post(
                &format!("/connections/{conn_id}/activate"),
                &json!({ "skip_test": true }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let sso = answer(true, Some(&org), Some(conn_id));
        assert_eq!(discover(&app, "alice@acme.test").await, sso);
        assert_eq!(
            discover(&app, "  Alice@ACME.test ").await,
            sso,
            "case and spaces do not open a way around SSO"
        );

        // Subdomains: only where the connection allows them.
        assert_eq!(
            discover(&app, "eve@eu.acme.test").await,
            answer(false, None, None)
        );
        let res = app
            .api_patch(
                &format!("/connections/{conn_id}"),
                &json!({ "allow_subdomains": true }),
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(discover(&app, "eve@eu.acme.test").await, sso);

        // The organization's other verified domains stay open (say, for
        // contractors), even under an SSO domain that allows subdomains:
        // the most specific verified domain decides.
        app.verified_domain(&org, "globex.test", "verified_only")
            .await;
        assert_eq!(
            discover(&app, "carl@globex.test").await,
            answer(false, Some(&org), None)
        );
        app.verified_domain(&org, "contractors.acme.test", "verified_only")
            .await;
        assert_eq!(
            discover(&app, "dana@contractors.acme.test").await,
            answer(false, Some(&org), None)
        );
        assert_eq!(discover(&app, "eve@eu.acme.test").await, sso);

        let res = app
            .api_post(&format!("/connections/{conn_id}/deactivate"), &json!({}))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            discover(&app, "alice@acme.test").await,
            answer(false, Some(&org), None),
            "deactivated: open again"
        );
    }
);
