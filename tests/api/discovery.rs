//! Discovery for the host (`GET /api/v1/discovery?email=`): a domain with
//! an active connection is SSO-only; the organization's other verified
//! domains, and every other address, stay with the host's own sign-in.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, on_both};
use crate::host_sign_in::{HOST_CALLBACK, Host, location, no_redirects, query};

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

on_both!(
    a_domain_with_an_active_connection_is_sso_only_and_others_stay_open,
    |app| {
        let org = app.verified_org("Acme", "acme.test").await;
        // Contractors sign in at initech.test with the host's own methods.
        app.verified_domain(&org, "initech.test", "verified_only")
            .await;
        let conn = app.saml_connection(&org).await;
        let conn_id = conn["id"].as_str().expect("id");
        let open = |org: Option<&str>| json!({ "sso_required": false, "organization_id": org, "connection_id": null });

        // Not active yet: the domain's organization, but no SSO.
        assert_eq!(discover(&app, "alice@acme.test").await, open(Some(&org)));

        app.activate_untested(&conn).await;
        let sso = json!({ "sso_required": true, "organization_id": org, "connection_id": conn_id });
        assert_eq!(discover(&app, "alice@acme.test").await, sso);
        assert_eq!(
            discover(&app, "Bob.Smith@ACME.test").await,
            sso,
            "the domain compared without case"
        );
        assert_eq!(
            discover(&app, "  Bob.Smith@ACME.test ").await,
            sso,
            "nor with spaces around it"
        );
        assert_eq!(
            discover(&app, "carol@initech.test").await,
            open(Some(&org)),
            "a verified-only domain stays open, and says whose it is"
        );
        assert_eq!(discover(&app, "dave@globex.test").await, open(None));
        assert_eq!(
            discover(&app, "erin@eu.acme.test").await,
            open(None),
            "a subdomain only when the connection allows it"
        );
        let res = app
            .api_patch(
                &format!("/connections/{conn_id}"),
                &json!({ "allow_subdomains": true }),
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(discover(&app, "erin@eu.acme.test").await, sso);
        // A subdomain verified on its own stays open even so: the most
        // specific verified domain decides.
        app.verified_domain(&org, "contractors.acme.test", "verified_only")
            .await;
        assert_eq!(
            discover(&app, "dana@contractors.acme.test").await,
            open(Some(&org))
        );
        assert_eq!(discover(&app, "erin@eu.acme.test").await, sso);

        // The host's sign-in follows the same rule: an SSO-only address
        // goes to the identity provider, a verified-only one is not
        // signed in through SSO.
        let host = Host::register(&app).await;
        let (url, _, _, _) = host.authorize_url("alice@acme.test");
        let res = no_redirects().get(&url).send().await.expect("authorize");
        assert!(location(&res).starts_with("https://idp.acme.test/sso?"));
        let (url, state, _, _) = host.authorize_url("carol@initech.test");
        let res = no_redirects().get(&url).send().await.expect("authorize");
        let back = location(&res);
        assert!(back.starts_with(HOST_CALLBACK), "{back}");
        let q = query(&back);
        assert_eq!(&q["state"], state.secret());
        assert_eq!(q["error_description"], "domain_not_verified");
        let (url, _, _, _) = host.authorize_url("dana@contractors.acme.test");
        let res = no_redirects().get(&url).send().await.expect("authorize");
        assert_eq!(
            query(&location(&res))["error_description"],
            "domain_not_verified"
        );

        // Switched off: open again.
        let res = app
            .api_post(&format!("/connections/{conn_id}/deactivate"), &json!({}))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(discover(&app, "alice@acme.test").await, open(Some(&org)));

        // Not an address; no key.
        for bad in ["", "alice", "alice@"] {
            assert_problem(
                app.api_get(&format!("/discovery?email={}", urlencoding(bad)))
                    .await,
                422,
                "email_invalid",
            )
            .await;
        }
        let res = app
            .api
            .get(app.url("/api/v1/discovery?email=alice@acme.test"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 401);
    }
);
