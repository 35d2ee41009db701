//! What a host's authorization request may ask beyond who signs in, as
//! OpenID Connect defines it: `prompt=none` answered at once, a fresh
//! authentication passed on to the identity provider (`prompt=login`,
//! `max_age=0`), the parameters Gatehouse does not take refused rather than
//! ignored, and the request as a form post.

use std::collections::HashMap;
use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::helpers::{HOST_CALLBACK, TestApp, on_both};
use crate::oidc_provider::TestOidc;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// A host's OAuth client, and Acme with an active SAML connection to the
/// test identity provider.
async fn acme(app: &TestApp) -> (String, String) {
    let client = app.oauth_client().await;
    let org = app.verified_org("Acme", "acme.test").await;
    let conn = app.saml_connection(&org).await;
    app.activate_untested(&conn).await;
    (client["client_id"].as_str().expect("id").to_string(), org)
}

/// Where `/oauth/authorize` sends the browser with these parameters (plus
/// the client, the redirect URI, a state and Alice's email).
async fn authorize(app: &TestApp, client_id: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/oauth/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", HOST_CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("state", "s-1")
        .append_pair("login_hint", "alice@acme.test")
        .extend_pairs(params);
    let res = no_redirects().get(url).send().await.expect("authorize");
    assert_eq!(res.status(), 303, "{params:?}");
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_string()
}

/// The AuthnRequest a redirect to the identity provider carries.
fn authn_request(url: &str) -> String {
    let q = query(url);
    let deflated = STANDARD.decode(&q["SAMLRequest"]).expect("base64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .expect("inflate");
    xml
}

/// The OAuth error a redirect to the host carries: (error, code).
fn oauth_error(url: &str, app: &TestApp) -> (String, String) {
    assert!(url.starts_with(HOST_CALLBACK), "{url}");
    let q = query(url);
    assert_eq!(q["state"], "s-1");
    assert_eq!(q["iss"], app.address);
    (q["error"].clone(), q["error_description"].clone())
}

on_both!(prompt_none_is_answered_at_once_with_login_required, |app| {
    let (client_id, org) = acme(&app).await;
    let to = authorize(&app, &client_id, &[("prompt", "none")]).await;
    assert_eq!(
        oauth_error(&to, &app),
        ("login_required".into(), "oauth_login_required".into()),
        "never to the identity provider, which may show a page"
    );
    let failed = app
        .events(&format!("organization_id={org}&action=sign_in.failed"))
        .await;
    assert_eq!(
        failed.len(),
        0,
        "a silent check is no failed sign-in: {failed:?}"
    );
    // A malformed request is still recorded.
    authorize(&app, &client_id, &[("prompt", "none login")]).await;
    let failed = app.events("action=sign_in.failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["data"]["error_code"], "oauth_prompt_invalid");
});

on_both!(
    a_fresh_authentication_is_asked_of_the_saml_identity_provider,
    |app| {
        let (client_id, _) = acme(&app).await;
        let usual = authorize(&app, &client_id, &[]).await;
        assert!(usual.starts_with("https://idp.acme.test/sso"), "{usual}");
        assert!(!authn_request(&usual).contains("ForceAuthn"));
        for params in [
            &[("prompt", "login")][..],
            &[("prompt", "select_account login")],
            &[("max_age", "0")],
            // A SAML identity provider cannot be told an age: only a fresh
            // authentication is sure to be recent enough.
            &[("max_age", "3600")],
        ] {
            let to = authorize(&app, &client_id, params).await;
            assert!(
                authn_request(&to).contains(r#"ForceAuthn="true""#),
                "{params:?}"
            );
        }
        let to = authorize(&app, &client_id, &[("prompt", "consent")]).await;
        assert!(!authn_request(&to).contains("ForceAuthn"));
    }
);

on_both!(what_gatehouse_does_not_take_is_refused_not_ignored, |app| {
    let (client_id, _) = acme(&app).await;
    for (params, error, code) in [
        (
            &[("prompt", "none login")][..],
            "invalid_request",
            "oauth_prompt_invalid",
        ),
        (
            &[("prompt", "create")],
            "invalid_request",
            "oauth_prompt_invalid",
        ),
        (
            &[("max_age", "soon")],
            "invalid_request",
            "oauth_max_age_invalid",
        ),
        (
            &[("response_mode", "form_post")],
            "invalid_request",
            "oauth_response_mode_unsupported",
        ),
        (
            &[("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
            "oauth_request_object_unsupported",
        ),
        (
            &[("request_uri", "https://host.example/request.jwt")],
            "request_uri_not_supported",
            "oauth_request_object_unsupported",
        ),
    ] {
        let to = authorize(&app, &client_id, params).await;
        assert_eq!(
            oauth_error(&to, &app),
            (error.to_string(), code.to_string()),
            "{params:?}"
        );
        let page = app
            .browser()
            .get(app.url(&format!("/errors/{code}")))
            .send()
            .await
            .expect("error page");
        assert_eq!(page.status(), 200, "{code} is explained");
    }
    let to = authorize(&app, &client_id, &[("response_mode", "query")]).await;
    assert!(to.starts_with("https://idp.acme.test/sso"), "{to}");

    let config: Value = app
        .browser()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(config["response_modes_supported"], json!(["query"]));
    assert_eq!(config["request_parameter_supported"], false);
    assert_eq!(config["request_uri_parameter_supported"], false);
});

on_both!(the_request_may_come_as_a_form_post, |app| {
    let (client_id, _) = acme(&app).await;
    let res = no_redirects()
        .post(app.url("/oauth/authorize"))
        .form(&[
            ("client_id", client_id.as_str()),
            ("redirect_uri", HOST_CALLBACK),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "s-1"),
            ("login_hint", "alice@acme.test"),
            ("prompt", "login"),
        ])
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 303);
    let to = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect");
    assert!(to.starts_with("https://idp.acme.test/sso"), "{to}");
    assert!(authn_request(to).contains(r#"ForceAuthn="true""#));
});

on_both!(
    a_fresh_authentication_is_asked_of_the_openid_provider,
    |app| {
        let provider = TestOidc::start(json!([
            { "sub": "u-alice", "email": "alice@acme.test", "email_verified": true }
        ]));
        let client = app.oauth_client().await;
        let client_id = client["client_id"].as_str().expect("id");
        let org = app.verified_org("Acme", "acme.test").await;
        let conn: Value = app
            .api_post(
                &format!("/organizations/{org}/connections"),
                &json!({ "provider": "custom_oidc", "oidc": {
                    "discovery_url": provider.issuer, "client_id": "gatehouse",
                    "client_secret": "a-secret-of-some-length" } }),
            )
            .await
            .json()
            .await
            .expect("json");
        provider
            .add_client(
                "gatehouse",
                "a-secret-of-some-length",
                conn["oidc_redirect_uri"].as_str().expect("redirect uri"),
            )
            .await;
        app.activate_untested(&conn).await;

        let usual = authorize(&app, client_id, &[]).await;
        assert!(usual.starts_with(&provider.issuer), "{usual}");
        assert!(!query(&usual).contains_key("prompt"));
        let to = authorize(&app, client_id, &[("max_age", "300")]).await;
        assert_eq!(query(&to)["max_age"], "300", "the provider applies it");
        assert!(!query(&to).contains_key("prompt"));
        let to = authorize(&app, client_id, &[("prompt", "login")]).await;
        assert_eq!(query(&to)["prompt"], "login");
        // The provider (oidc-provider) takes it, and the sign-in completes.
        let back = provider.authorize(&to).await;
        let res = no_redirects().get(&back).send().await.expect("callback");
        assert_eq!(res.status(), 303);
        let at_host = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("back to the host");
        let q = query(at_host);
        assert!(q.contains_key("code"), "{at_host}");
        assert_eq!(q["state"], "s-1");
    }
);
