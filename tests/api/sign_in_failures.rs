//! Failed host sign-ins: each goes back to the host as an OAuth error that
//! names Gatehouse's code and the issuer, and each is in the audit log,
//! under the organization where one is known, so its IT admin sees it.

use serde_json::{Value, json};

use crate::helpers::{HOST_CALLBACK, TestApp, on_both};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Sends the browser to `/oauth/authorize` with these parameters (plus the
/// client and redirect URI) and answers the error redirect's parameters.
async fn refused(
    app: &TestApp,
    client_id: &str,
    params: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let mut url = url::Url::parse(&app.url("/oauth/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", HOST_CALLBACK)
        .append_pair("state", "s-123")
        .extend_pairs(params);
    let res = no_redirects().get(url).send().await.expect("authorize");
    assert_eq!(res.status(), 303, "{params:?}");
    let to = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_string();
    assert!(to.starts_with(HOST_CALLBACK), "{to}");
    url::Url::parse(&to)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

on_both!(
    failed_sign_ins_reach_the_host_with_the_issuer_and_the_audit_log,
    |app| {
        let client = app.oauth_client().await;
        let client_id = client["client_id"].as_str().expect("id");
        let org = app.verified_org("Acme", "acme.test").await;
        let conn = app.saml_connection(&org).await;
        let conn_id = conn["id"].as_str().expect("id");
        let sign_in = [
            ("response_type", "code"),
            ("scope", "openid email"),
            ("login_hint", "alice@acme.test"),
        ];

        // The connection is not active yet: the organization is known.
        let q = refused(&app, client_id, &sign_in).await;
        assert_eq!(q["error"], "access_denied");
        assert_eq!(q["error_description"], "connection_inactive");
        assert_eq!(q["state"], "s-123");
        assert_eq!(
            q["iss"], app.address,
            "the issuer, as RFC 9207 asks of errors too"
        );
        assert!(q["error_uri"].ends_with("/errors/connection_inactive"));
        let failed = app
            .events(&format!("organization_id={org}&action=sign_in.failed"))
            .await;
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["data"]["error_code"], "connection_inactive");
        assert_eq!(failed[0]["data"]["login_hint"], "alice@acme.test");
        assert_eq!(failed[0]["data"]["client_id"], client_id);
        assert!(failed[0]["request_id"].is_string(), "{}", failed[0]);
        // The organization's IT admin sees it on the Activity page.
        let activity = app
            .admin_browser(&org)
            .await
            .get(app.url("/security/activity"))
            .send()
            .await
            .expect("activity")
            .text()
            .await
            .expect("html");
        assert!(
            activity.contains("Sign-in failed: alice@acme.test")
                && activity.contains("/errors/connection_inactive"),
            "{activity}"
        );

        // A domain nobody verified, and the host's own mistakes: no
        // organization to file them under, but in the log for the host.
        let q = refused(
            &app,
            client_id,
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("login_hint", "bob@initech.test"),
            ],
        )
        .await;
        assert_eq!(q["error_description"], "domain_not_verified");
        assert_eq!(q["iss"], app.address);
        let q = refused(
            &app,
            client_id,
            &[("response_type", "token"), ("scope", "openid")],
        )
        .await;
        assert_eq!(q["error"], "unsupported_response_type");
        assert_eq!(q["iss"], app.address);
        let all = app.events("action=sign_in.failed").await;
        let codes: Vec<&str> = all
            .iter()
            .filter_map(|e| e["data"]["error_code"].as_str())
            .collect();
        assert_eq!(
            codes,
            [
                "oauth_response_type_unsupported",
                "domain_not_verified",
                "connection_inactive"
            ],
            "newest first"
        );
        assert_eq!(all[1]["organization_id"], Value::Null);
        assert_eq!(all[1]["target"]["type"], "oauth_client");
        assert_eq!(all[1]["data"]["login_hint"], "bob@initech.test");

        // Active, then switched off while the host still sends people its
        // way: filed under the organization again.
        app.activate_untested(&conn).await;
        let res = app
            .api_post(&format!("/connections/{conn_id}/deactivate"), &json!({}))
            .await;
        assert_eq!(res.status(), 200);
        let q = refused(&app, client_id, &sign_in).await;
        assert_eq!(q["error_description"], "connection_inactive");
        assert_eq!(
            app.events(&format!("organization_id={org}&action=sign_in.failed"))
                .await
                .len(),
            2
        );

        // A made-up organization id files nothing under it.
        let q = refused(
            &app,
            client_id,
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("organization", "org_01hzzzzzzzzzzzzzzzzzzzzzzz"),
            ],
        )
        .await;
        assert_eq!(q["error_description"], "connection_inactive");
        let latest = &app.events("action=sign_in.failed").await[0];
        assert_eq!(latest["organization_id"], Value::Null, "{latest}");
    }
);
