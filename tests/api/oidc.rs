//! OpenID Connect connections against a real, third-party OpenID Provider
//! (`oidc-provider` from the npm registry, tests/oidc): the full code flow
//! with PKCE, and each way it can fail, with its code.

use chrono::Duration;
use gatehouse::services::saml_signin::FlowPurpose;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_code, on_both, spawn_app};
use crate::oidc_provider::TestOidc;

const CLIENT_ID: &str = "gatehouse-acme";
const SECRET: &str = "s3cret-value-for-the-acme-client-0042";

fn users() -> Value {
    json!([
        { "sub": "u-alice", "email": "alice@acme.test", "email_verified": true,
          "given_name": "Alice", "family_name": "Liddell" },
        { "sub": "u-eve", "email": "eve@acme.test", "email_verified": false },
        { "sub": "u-bob", "email": "bob@elsewhere.test", "email_verified": true },
        { "sub": "u-carol", "email": "carol@acme.test", "email_verified": true,
          "email_only_in_userinfo": true },
    ])
}

/// An OIDC connection of Acme (acme.test verified) to a fresh provider.
struct Oidc {
    org: String,
    conn: String,
    provider: TestOidc,
}

impl Oidc {
    async fn new(app: &TestApp) -> Self {
        let provider = TestOidc::start(users());
        let org = app.verified_org("Acme", "acme.test").await;
        let res = app
            .api_post(
                &format!("/organizations/{org}/connections"),
                &json!({ "provider": "custom_oidc", "oidc": {
                    "discovery_url": provider.issuer, "client_id": CLIENT_ID, "client_secret": SECRET } }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let c: Value = res.json().await.expect("json");
        let redirect_uri = c["oidc_redirect_uri"].as_str().expect("redirect uri");
        assert!(redirect_uri.ends_with("/callback"));
        provider.add_client(CLIENT_ID, SECRET, redirect_uri).await;
        Self {
            org,
            conn: c["id"].as_str().expect("id").to_string(),
            provider,
        }
    }

    async fn authorize_url(&self, app: &TestApp, login_hint: Option<&str>) -> String {
        app.services
            .start_oidc_sign_in(&self.conn, FlowPurpose::Test, json!({}), login_hint)
            .await
            .expect("start")
    }

    /// The provider's answer at our callback, not yet followed.
    async fn answer(&self, app: &TestApp, login_hint: &str) -> String {
        let url = self.authorize_url(app, Some(login_hint)).await;
        self.provider.authorize(&url).await
    }

    /// Follows the provider's answer to the callback: status, code, body.
    async fn callback(&self, app: &TestApp, url: &str) -> (u16, Option<String>, String) {
        assert!(url.starts_with(&app.address), "back at Gatehouse: {url}");
        let res = app.browser().get(url).send().await.expect("callback");
        let status = res.status().as_u16();
        let code = error_code(&res);
        (status, code, res.text().await.expect("body"))
    }

    async fn sign_in(&self, app: &TestApp, login_hint: &str) -> (u16, Option<String>, String) {
        let answer = self.answer(app, login_hint).await;
        self.callback(app, &answer).await
    }
}

async fn sqlite() -> TestApp {
    spawn_app(Backend::Sqlite).await.expect("SQLite")
}

on_both!(a_full_code_flow_with_pkce_yields_the_identity, |app| {
    let oidc = Oidc::new(&app).await;
    let url = oidc.authorize_url(&app, Some("alice@acme.test")).await;
    let request = url::Url::parse(&url).expect("url");
    let q: std::collections::HashMap<_, _> = request.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["scope"], "openid email profile");
    assert!(q["state"].starts_with("ghs_") && q["nonce"].len() >= 43);
    assert!(!url.contains(SECRET));
    let answer = oidc.provider.authorize(&url).await;
    let (status, code, body) = oidc.callback(&app, &answer).await;
    assert_eq!(status, 200, "{code:?} {body}");
    assert!(
        body.contains("Test passed: signed in as alice@acme.test"),
        "{body}"
    );
    assert!(body.contains("Liddell") && body.contains("u-alice"));
    let counts = oidc.provider.requests().await;
    assert_eq!(counts["/token"], 1);
    assert_eq!(counts["/jwks"], 1);
    assert!(counts.get("/me").is_none(), "the ID token had the email");

    // The stored state is hashed, the verifier sealed.
    let stored = app
        .text_column("SELECT state_hash || ' ' || code_verifier FROM oidc_flows")
        .await
        .join(" ");
    assert!(!stored.contains(&q["state"]) && stored.contains("v1."));
});

#[tokio::test]
async fn userinfo_supplies_an_email_the_id_token_lacks() {
    let app = sqlite().await;
    let oidc = Oidc::new(&app).await;
    let (status, code, body) = oidc.sign_in(&app, "carol@acme.test").await;
    assert_eq!(status, 200, "{code:?} {body}");
    assert!(body.contains("Test passed: signed in as carol@acme.test"));
    assert_eq!(oidc.provider.requests().await["/me"], 1);
}

#[tokio::test]
async fn the_provider_s_refusals_are_named() {
    let app = sqlite().await;
    let oidc = Oidc::new(&app).await;
    let (status, code, body) = oidc.sign_in(&app, "deny@acme.test").await;
    assert_eq!(status, 400);
    assert_eq!(code.as_deref(), Some("oauth_access_denied"));
    assert!(
        body.contains("declined"),
        "the provider's words reach the admin: {body}"
    );

    // A wrong client secret: the token exchange fails, with the provider's
    // own error shown.
    let res = app
        .api_patch(
            &format!("/connections/{}", oidc.conn),
            &json!({ "oidc": { "client_secret": "not-the-secret-at-all-0000" } }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, code, body) = oidc.sign_in(&app, "alice@acme.test").await;
    assert_eq!(code.as_deref(), Some("oauth_token_exchange_error"));
    assert!(body.contains("invalid_client"), "{body}");
}

on_both!(state_must_be_ours_and_used_once, |app| {
    let oidc = Oidc::new(&app).await;
    let callback = app.url(&format!("/oidc/{}/callback", oidc.conn));
    let (_, code, _) = oidc.callback(&app, &format!("{callback}?code=abc")).await;
    assert_eq!(code.as_deref(), Some("oidc_state_missing"));
    let (_, code, _) = oidc
        .callback(&app, &format!("{callback}?code=abc&state=ghs_not_ours"))
        .await;
    assert_eq!(code.as_deref(), Some("oidc_state_mismatch"));

    let answer = oidc.answer(&app, "alice@acme.test").await;
    assert_eq!(oidc.callback(&app, &answer).await.0, 200);
    let (_, code, _) = oidc.callback(&app, &answer).await;
    assert_eq!(code.as_deref(), Some("oidc_state_replayed"));

    // An answer delivered to another connection's callback.
    let other = Oidc::new_in(&app, &oidc.org, &oidc.provider).await;
    let answer = oidc.answer(&app, "alice@acme.test").await;
    let moved = answer.replace(&oidc.conn, &other);
    let (_, code, _) = oidc.callback(&app, &moved).await;
    assert_eq!(code.as_deref(), Some("oidc_state_mismatch"));
});

impl Oidc {
    /// A second connection of the same organization, to the same provider.
    async fn new_in(app: &TestApp, org: &str, provider: &TestOidc) -> String {
        let res = app
            .api_post(
                &format!("/organizations/{org}/connections"),
                &json!({ "provider": "custom_oidc", "oidc": {
                    "discovery_url": provider.issuer, "client_id": "second", "client_secret": SECRET } }),
            )
            .await;
        let c: Value = res.json().await.expect("json");
        c["id"].as_str().expect("id").to_string()
    }
}

on_both!(a_replayed_code_and_a_mismatched_nonce_are_refused, |app| {
    let oidc = Oidc::new(&app).await;
    // Code replay: the code of a completed sign-in, under a new state.
    let first = oidc.answer(&app, "alice@acme.test").await;
    assert_eq!(oidc.callback(&app, &first).await.0, 200);
    let code_of = |u: &str| {
        url::Url::parse(u)
            .expect("url")
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code")
    };
    let second = oidc.answer(&app, "alice@acme.test").await;
    let replayed = second.replace(&code_of(&second), &code_of(&first));
    let (_, code, body) = oidc.callback(&app, &replayed).await;
    assert_eq!(code.as_deref(), Some("oauth_token_exchange_error"));
    assert!(body.contains("invalid_grant"), "{body}");

    // A token issued for another nonce than this sign-in's.
    let answer = oidc.answer(&app, "alice@acme.test").await;
    assert_eq!(
        app.execute("UPDATE oidc_flows SET nonce = 'another-sign-in' WHERE used_at IS NULL")
            .await,
        1
    );
    let (_, code, _) = oidc.callback(&app, &answer).await;
    assert_eq!(code.as_deref(), Some("oidc_nonce_mismatch"));
});

#[tokio::test]
async fn tokens_for_another_audience_or_expired_are_refused() {
    let app = sqlite().await;
    let oidc = Oidc::new(&app).await;
    for (override_claims, expected) in [
        (json!({ "aud": "someone-else" }), "oidc_audience_mismatch"),
        (
            json!({ "aud": [CLIENT_ID, "someone-else"] }),
            "oidc_audience_mismatch",
        ),
        (json!({ "exp": 1_000_000_000 }), "oidc_id_token_expired"),
        (
            json!({ "iss": "https://evil.example" }),
            "oidc_issuer_mismatch",
        ),
    ] {
        oidc.provider.control_override(&override_claims).await;
        let (_, code, _) = oidc.sign_in(&app, "alice@acme.test").await;
        assert_eq!(code.as_deref(), Some(expected), "{override_claims}");
    }
    // The provider's clock ahead of Gatehouse's beyond the skew.
    oidc.provider.control_override(&json!({})).await;
    app.clock.advance(-Duration::minutes(5));
    let (_, code, _) = oidc.sign_in(&app, "alice@acme.test").await;
    assert_eq!(code.as_deref(), Some("oidc_id_token_iat_invalid"));
}

#[tokio::test]
async fn a_rotated_key_is_fetched_again_but_not_on_every_unknown_kid() {
    let app = sqlite().await;
    let oidc = Oidc::new(&app).await;
    assert_eq!(oidc.sign_in(&app, "alice@acme.test").await.0, 200);
    oidc.provider.rotate_keys().await;
    // Right after a fetch, an unknown key does not fetch again ...
    let (_, code, _) = oidc.sign_in(&app, "alice@acme.test").await;
    assert_eq!(code.as_deref(), Some("oidc_id_token_key_unknown"));
    assert_eq!(oidc.provider.requests().await["/jwks"], 1);
    // ... half a minute later it does, and the new key verifies.
    app.clock.advance(Duration::seconds(31));
    let (status, code, _) = oidc.sign_in(&app, "alice@acme.test").await;
    assert_eq!(status, 200, "{code:?}");
    assert_eq!(oidc.provider.requests().await["/jwks"], 2);
}

#[tokio::test]
async fn the_email_must_be_verified_and_at_a_verified_domain() {
    let app = sqlite().await;
    let oidc = Oidc::new(&app).await;
    let (_, code, _) = oidc.sign_in(&app, "eve@acme.test").await;
    assert_eq!(code.as_deref(), Some("oidc_email_not_verified"));
    let (_, code, body) = oidc.sign_in(&app, "bob@elsewhere.test").await;
    assert_eq!(code.as_deref(), Some("oidc_email_address_domain_mismatch"));
    assert!(body.contains("elsewhere.test"), "{body}");
}

#[tokio::test]
async fn a_provider_that_is_down_gives_a_clear_error() {
    let app = sqlite().await;
    let mut oidc = Oidc::new(&app).await;
    let answer = oidc.answer(&app, "alice@acme.test").await;
    let issuer = oidc.provider.issuer.clone();
    oidc.provider.stop();
    let (_, code, body) = oidc.callback(&app, &answer).await;
    assert_eq!(code.as_deref(), Some("oauth_token_exchange_error"));
    assert!(body.contains("could not reach"), "{body}");
    // Saving settings against it says so too, and keeps the old ones.
    let res = app
        .api_patch(
            &format!("/connections/{}", oidc.conn),
            &json!({ "oidc": { "discovery_url": issuer } }),
        )
        .await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["code"], "fetch_failed");
}

on_both!(
    the_client_secret_is_never_shown_logged_or_stored_in_clear,
    |app| {
        let oidc = Oidc::new(&app).await;
        let res = app.api_get(&format!("/connections/{}", oidc.conn)).await;
        let body = res.text().await.expect("body");
        assert!(!body.contains(SECRET));
        let c: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(c["oidc"]["client_secret_set"], true);
        assert_eq!(c["oidc"]["client_secret_hint"], "0042");
        assert_eq!(c["oidc"]["client_id"], CLIENT_ID);
        let stored = app
            .text_column("SELECT config FROM connections")
            .await
            .join(" ");
        assert!(!stored.contains(SECRET) && stored.contains("\"client_secret\":\"v1."));
        let events = app.events(&format!("organization_id={}", oidc.org)).await;
        assert!(
            !serde_json::to_string(&events)
                .expect("json")
                .contains(SECRET)
        );
        // A sign-in uses it (the exchange succeeds) without it showing anywhere.
        let (status, _, body) = oidc.sign_in(&app, "alice@acme.test").await;
        assert_eq!(status, 200);
        assert!(!body.contains(SECRET));
        let logs = app.logs();
        assert!(!logs.is_empty() && !logs.contains(SECRET));
    }
);
