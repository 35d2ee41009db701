//! The Test and Activate steps: a real test sign-in started from the tab's
//! link (as the popup does), through the independent SAML signer and the
//! third-party OpenID Provider, recorded, and activation gated on it.

use std::io::Read;

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestIdp, admin_of, error_code, form_post as post, on_both};
use crate::oidc_provider::TestOidc;

const IDP_ENTITY: &str = "https://idp.acme.test/metadata";

/// Acme with acme.test verified, a SAML connection to the test signer, and
/// its admin in the tab.
struct Tab {
    org: String,
    conn: Value,
    browser: reqwest::Client,
    csrf: String,
}

impl Tab {
    async fn saml(app: &TestApp) -> Self {
        let org = app.verified_org("Acme", "acme.test").await;
        let res = app
            .api_post(
                &format!("/organizations/{org}/connections"),
                &json!({ "provider": "okta", "saml": { "sso_url": "https://idp.acme.test/sso",
                    "entity_id": IDP_ENTITY, "certificate_pem": TestIdp::shared().cert_pem } }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let conn: Value = res.json().await.expect("json");
        let (browser, csrf) = admin_of(app, &org).await;
        Self {
            org,
            conn,
            browser,
            csrf,
        }
    }

    fn id(&self) -> &str {
        self.conn["id"].as_str().expect("id")
    }

    async fn page(&self, app: &TestApp, step: &str) -> String {
        self.browser
            .get(app.url(&format!("/security/{step}")))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html")
    }

    /// The Test step's link, as the popup opens it.
    async fn start_link(&self, app: &TestApp) -> String {
        let html = self.page(app, "test").await;
        let at = html
            .find("/security/test/start?ticket=")
            .expect("a test link");
        let end = html[at..].find('"').expect("end of href");
        app.url(&html[at..at + end].replace("&amp;", "&"))
    }

    async fn connection(&self, app: &TestApp) -> Value {
        app.api_get(&format!("/connections/{}", self.id()))
            .await
            .json()
            .await
            .expect("json")
    }
}

/// A browser with no cookies and no redirects: the popup, as far as
/// Gatehouse can tell (it never sees the tab's session).
fn popup() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Follows the start link to the identity provider: the AuthnRequest ID and
/// the RelayState.
async fn saml_request(link: &str) -> (String, String) {
    let res = popup().get(link).send().await.expect("start");
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let url = url::Url::parse(&location).expect("url");
    assert!(location.starts_with("https://idp.acme.test/sso?"));
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(&q["SAMLRequest"])
        .expect("b64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .expect("inflate");
    let doc = roxmltree::Document::parse(&xml).expect("xml");
    (
        doc.root_element().attribute("ID").expect("id").to_string(),
        q["RelayState"].clone(),
    )
}

async fn post_response(
    app: &TestApp,
    tab: &Tab,
    response: &str,
    relay: &str,
) -> (u16, Option<String>, String) {
    let res = popup()
        .post(app.url(&format!("/saml/{}/acs", tab.id())))
        .form(&[("SAMLResponse", response), ("RelayState", relay)])
        .send()
        .await
        .expect("acs");
    let status = res.status().as_u16();
    let code = error_code(&res);
    (status, code, res.text().await.expect("body"))
}

fn signed(tab: &Tab, request_id: &str, changes: Value) -> String {
    let mut p = json!({
        "issuer": IDP_ENTITY, "destination": tab.conn["sp"]["acs_url"], "audience": tab.conn["sp"]["entity_id"],
        "in_response_to": request_id, "name_id": "alice@acme.test",
        "attributes": { "email": ["alice@acme.test"], "firstName": ["Alice"], "groups": ["admins"] },
    });
    for (k, v) in changes.as_object().cloned().unwrap_or_default() {
        p[k] = v;
    }
    TestIdp::shared().response(&p)
}

on_both!(
    a_saml_test_from_the_tab_counts_and_unlocks_activation,
    |app| {
        let tab = Tab::saml(&app).await;
        let html = tab.page(&app, "test").await;
        assert!(html.contains("data-popup") && html.contains("target=\"_blank\""));

        // Activation is refused before a passing test.
        let res = post(
            &app,
            &tab.browser,
            "/security/activate",
            &[("csrf_token", &tab.csrf)],
        )
        .await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.expect("html").contains("passing test"));

        // A failing test: the popup shows the named error, with expected and
        // received values; the history keeps it; nothing unlocks.
        let (request_id, relay) = saml_request(&tab.start_link(&app).await).await;
        let response = signed(
            &tab,
            &request_id,
            json!({ "audience": "https://someone-else.example" }),
        );
        let (status, code, body) = post_response(&app, &tab, &response, &relay).await;
        assert_eq!(status, 400);
        assert_eq!(code.as_deref(), Some("saml_audience_mismatch"));
        assert!(body.contains("data-test-result=\"failed\""));
        assert!(
            body.contains("Expected:") && body.contains("someone-else.example"),
            "{body}"
        );
        assert_eq!(tab.connection(&app).await["state"], "draft");

        // A passing one.
        let (request_id, relay) = saml_request(&tab.start_link(&app).await).await;
        let (status, _, body) =
            post_response(&app, &tab, &signed(&tab, &request_id, json!({})), &relay).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("data-test-result=\"passed\"")
                && body.contains("Test passed: signed in as alice@acme.test")
        );
        assert!(
            body.contains("Acme"),
            "what would happen names the organization"
        );
        assert_eq!(tab.connection(&app).await["state"], "tested");
        let html = tab.page(&app, "test").await;
        assert!(
            html.contains("Signed in as alice@acme.test")
                && html.contains("saml_audience_mismatch")
        );
        let events = app
            .events(&format!(
                "organization_id={}&action=connection.tested",
                tab.org
            ))
            .await;
        assert_eq!(events.len(), 2);
        // The tab's activity page lists both, the failure with its code.
        let activity = tab.page(&app, "activity").await;
        assert!(
            activity.contains("Test sign-in passed") && activity.contains("Test sign-in failed")
        );
        assert!(
            activity.contains("/errors/saml_audience_mismatch"),
            "{activity}"
        );
        assert_eq!(events[0]["actor"]["type"], "admin", "{}", events[0]);

        // Activate, then deactivate, one click each.
        let html = tab.page(&app, "activate").await;
        assert!(html.contains("acme.test") && html.contains("locked out"));
        let res = post(
            &app,
            &tab.browser,
            "/security/activate",
            &[("csrf_token", &tab.csrf)],
        )
        .await;
        assert_eq!(res.status(), 303);
        assert_eq!(tab.connection(&app).await["state"], "active");
        let res = post(
            &app,
            &tab.browser,
            "/security/deactivate",
            &[("csrf_token", &tab.csrf)],
        )
        .await;
        assert_eq!(res.status(), 303);
        assert_eq!(tab.connection(&app).await["state"], "inactive");
    }
);

on_both!(a_test_counts_only_for_the_settings_it_ran_on, |app| {
    let tab = Tab::saml(&app).await;
    let link = tab.start_link(&app).await;
    let (request_id, relay) = saml_request(&link).await;
    // The settings change while the admin is at the identity provider.
    let res = app
        .api_patch(
            &format!("/connections/{}", tab.id()),
            &json!({ "allow_subdomains": true, "attribute_mapping": { "email": "mail" } }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let response = signed(
        &tab,
        &request_id,
        json!({ "attributes": { "mail": ["alice@acme.test"] } }),
    );
    let (status, _, body) = post_response(&app, &tab, &response, &relay).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("does not count"), "{body}");
    assert_eq!(tab.connection(&app).await["state"], "draft");
    let html = tab.page(&app, "test").await;
    assert!(html.contains("on earlier settings"));
});

on_both!(
    test_links_are_bound_to_a_live_session_and_cannot_be_forged,
    |app| {
        let tab = Tab::saml(&app).await;
        let link = tab.start_link(&app).await;
        let forged = link.replace("ticket=ses_", "ticket=ses_0");
        let res = popup().get(&forged).send().await.expect("start");
        assert_eq!(res.status(), 422);
        assert_eq!(error_code(&res).as_deref(), Some("test_ticket_invalid"));
        // After sign-out the link is dead.
        post(
            &app,
            &tab.browser,
            "/security/sign-out",
            &[("csrf_token", &tab.csrf)],
        )
        .await;
        let res = popup().get(&link).send().await.expect("start");
        assert_eq!(error_code(&res).as_deref(), Some("test_ticket_invalid"));
    }
);

on_both!(an_oidc_test_runs_through_the_provider_and_counts, |app| {
    let provider = TestOidc::start(json!([{ "sub": "u1", "email": "alice@acme.test",
        "email_verified": true, "given_name": "Alice" }]));
    let org = app.verified_org("Acme", "acme.test").await;
    let res = app
        .api_post(
            &format!("/organizations/{org}/connections"),
            &json!({ "provider": "custom_oidc", "oidc": { "discovery_url": provider.issuer,
                "client_id": "gh", "client_secret": "a-secret-for-the-test-client" } }),
        )
        .await;
    let conn: Value = res.json().await.expect("json");
    provider
        .add_client(
            "gh",
            "a-secret-for-the-test-client",
            conn["oidc_redirect_uri"].as_str().expect("uri"),
        )
        .await;
    let (browser, csrf) = admin_of(&app, &org).await;
    let tab = Tab {
        org,
        conn,
        browser,
        csrf,
    };
    let res = popup()
        .get(tab.start_link(&app).await)
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), 303);
    let to_provider = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    assert!(to_provider.starts_with(&provider.issuer));
    let callback = provider.authorize(&to_provider).await;
    let res = popup().get(&callback).send().await.expect("callback");
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("Test passed: signed in as alice@acme.test"),
        "{body}"
    );
    assert_eq!(tab.connection(&app).await["state"], "tested");
});

on_both!(
    identity_providers_that_take_only_post_get_the_request_by_form,
    |app| {
        let tab = Tab::saml(&app).await;
        let cert: String = TestIdp::shared()
            .cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let metadata = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.acme.test/sso/post"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        );
        let res = app
            .api_patch(
                &format!("/connections/{}", tab.id()),
                &json!({ "saml": { "metadata_xml": metadata } }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let res = popup()
            .get(tab.start_link(&app).await)
            .send()
            .await
            .expect("start");
        assert_eq!(res.status(), 200);
        let policy: Vec<String> = res
            .headers()
            .get_all("content-security-policy")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect();
        assert!(
            policy
                .iter()
                .any(|p| p.contains("form-action https://idp.acme.test"))
                && !policy.iter().any(|p| p.contains("form-action 'self'")),
            "{policy:?}"
        );
        let html = res.text().await.expect("html");
        assert!(
            html.contains("action=\"https://idp.acme.test/sso/post\"")
                && html.contains("data-autosubmit")
        );
        assert!(
            html.contains("name=\"SAMLRequest\"")
                && html.contains("name=\"RelayState\" value=\"ghr_")
        );
    }
);

on_both!(
    the_email_attribute_can_be_picked_from_what_the_last_test_received,
    |app| {
        let tab = Tab::saml(&app).await;
        let (request_id, relay) = saml_request(&tab.start_link(&app).await).await;
        let response = signed(
            &tab,
            &request_id,
            json!({ "attributes": { "email": ["alice@acme.test"], "upn": ["alice.liddell@acme.test"] } }),
        );
        assert_eq!(post_response(&app, &tab, &response, &relay).await.0, 200);
        let html = tab.page(&app, "test").await;
        assert_eq!(
            html.matches("Use for email").count(),
            2,
            "one per address-shaped value"
        );
        let res = post(
            &app,
            &tab.browser,
            "/security/test/email-attribute",
            &[("csrf_token", &tab.csrf), ("attribute", "upn")],
        )
        .await;
        assert_eq!(res.status(), 303);
        let c = tab.connection(&app).await;
        assert_eq!(c["state"], "draft", "a settings change: test again");
        let html = tab.page(&app, "test").await;
        assert!(html.contains("the attribute <code>upn</code>"), "{html}");
        // The next test reads the email from there.
        let (request_id, relay) = saml_request(&tab.start_link(&app).await).await;
        let (status, _, body) = post_response(
            &app,
            &tab,
            &signed(
                &tab,
                &request_id,
                json!({
        "attributes": { "email": ["alice@acme.test"], "upn": ["alice.liddell@acme.test"] } }),
            ),
            &relay,
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            body.contains("signed in as alice.liddell@acme.test"),
            "{body}"
        );
    }
);

/// Acme with acme.test verified, a custom OIDC connection to the test
/// provider (registered there as its client), and its admin in the tab.
async fn oidc_tab(app: &TestApp, provider: &TestOidc) -> Tab {
    let org = app.verified_org("Acme", "acme.test").await;
    let res = app
        .api_post(
            &format!("/organizations/{org}/connections"),
            &json!({ "provider": "custom_oidc", "oidc": { "discovery_url": provider.issuer,
                "client_id": "gh", "client_secret": "a-secret-for-the-test-client" } }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let conn: Value = res.json().await.expect("json");
    provider
        .add_client(
            "gh",
            "a-secret-for-the-test-client",
            conn["oidc_redirect_uri"].as_str().expect("uri"),
        )
        .await;
    let (browser, csrf) = admin_of(app, &org).await;
    Tab {
        org,
        conn,
        browser,
        csrf,
    }
}

/// A test sign-in from the tab's link through the provider: the popup's
/// status, error code and page.
async fn oidc_test(app: &TestApp, tab: &Tab, provider: &TestOidc) -> (u16, Option<String>, String) {
    let res = popup()
        .get(tab.start_link(app).await)
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), 303);
    let to_provider = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let callback = provider.authorize(&to_provider).await;
    let res = popup().get(&callback).send().await.expect("callback");
    let status = res.status().as_u16();
    let code = error_code(&res);
    (status, code, res.text().await.expect("body"))
}

/// A host's sign-in through the organization's active connection, as far
/// as the ID token Gatehouse issues (its claims, unverified: the mapping is
/// what is tested here; tests/api/host_sign_in.rs checks the token).
async fn host_sign_in(app: &TestApp, org: &str, provider: &TestOidc) -> Value {
    const CALLBACK: &str = "http://localhost:9999/callback";
    let res = app
        .api_post(
            "/oauth_clients",
            &json!({ "name": "Acme app", "redirect_uris": [CALLBACK] }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let client: Value = res.json().await.expect("json");
    let (client_id, secret) = (
        client["client_id"].as_str().expect("id"),
        client["client_secret"].as_str().expect("secret"),
    );
    let verifier = "a-pkce-verifier-long-enough-for-the-rfc-7636-minimum-length";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let mut authorize = url::Url::parse(&app.url("/oauth/authorize")).expect("url");
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid email profile")
        .append_pair("state", "host-state")
        .append_pair("nonce", "host-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("organization", org);
    let res = popup()
        .get(authorize.as_str())
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 303);
    let to_provider = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    assert!(to_provider.starts_with(&provider.issuer), "{to_provider}");
    let callback = provider.authorize(&to_provider).await;
    let res = popup().get(&callback).send().await.expect("callback");
    assert_eq!(res.status(), 303);
    let back = url::Url::parse(res.headers()["location"].to_str().expect("location")).expect("url");
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert!(back.as_str().starts_with(CALLBACK), "{back}");
    let code = q.get("code").unwrap_or_else(|| panic!("no code: {back}"));
    let res = popup()
        .post(app.url("/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.expect("json");
    let payload = tokens["id_token"]
        .as_str()
        .expect("id_token")
        .split('.')
        .nth(1)
        .expect("payload")
        .to_string();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("claims")
}

on_both!(
    the_email_claim_can_be_picked_for_oidc_from_what_the_last_test_received,
    |app| {
        // No `email` claim at all: the address is the sign-in name.
        let provider = TestOidc::start(json!([{ "sub": "u1",
        "preferred_username": "Alice.Liddell@acme.test", "given_name": "Alice" }]));
        let tab = oidc_tab(&app, &provider).await;

        // The first test fails for want of an email, and keeps what came.
        let (status, code, _) = oidc_test(&app, &tab, &provider).await;
        assert_eq!(status, 400);
        assert_eq!(code.as_deref(), Some("oidc_email_missing"));
        let html = tab.page(&app, "test").await;
        assert!(html.contains("Every claim received"), "{html}");
        assert!(
            html.contains("action=\"/security/test/email-claim\"")
                && html.contains("name=\"claim\" value=\"preferred_username\""),
            "{html}"
        );
        assert_eq!(html.matches("Use for email").count(), 1, "{html}");
        // The preview: what picking it would give, and what the settings give now.
        assert!(
            html.contains(
                "data-preview=\"preferred_username\">would sign in as alice.liddell@acme.test"
            ),
            "{html}"
        );
        assert!(
            html.contains("is refused:") && html.contains("<code>oidc_email_missing</code>"),
            "{html}"
        );

        // Picking it is a settings change.
        let version = tab.connection(&app).await["config_version"].clone();
        let res = post(
            &app,
            &tab.browser,
            "/security/test/email-claim",
            &[("csrf_token", &tab.csrf), ("claim", "preferred_username")],
        )
        .await;
        assert_eq!(res.status(), 303);
        let c = tab.connection(&app).await;
        assert_eq!(c["state"], "draft");
        assert_eq!(c["claim_mapping"]["email"], "preferred_username");
        assert_ne!(c["config_version"], version);
        let html = tab.page(&app, "test").await;
        assert!(
            html.contains("the claim <code>preferred_username</code>")
                && html.contains("signs in as <strong>alice.liddell@acme.test</strong>"),
            "{html}"
        );
        let events = app
            .events(&format!(
                "organization_id={}&action=connection.updated",
                tab.org
            ))
            .await;
        assert_eq!(
            events[0]["data"]["changes"]["claim_mapping"]["email"],
            "preferred_username"
        );
        assert_eq!(events[0]["actor"]["type"], "admin");

        // The next test reads the email from there, and counts.
        let (status, _, body) = oidc_test(&app, &tab, &provider).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("Test passed: signed in as alice.liddell@acme.test"),
            "{body}"
        );
        assert_eq!(tab.connection(&app).await["state"], "tested");

        // Live, the host's sign-ins do the same.
        let res = post(
            &app,
            &tab.browser,
            "/security/activate",
            &[("csrf_token", &tab.csrf)],
        )
        .await;
        assert_eq!(res.status(), 303);
        let claims = host_sign_in(&app, &tab.org, &provider).await;
        assert_eq!(claims["email"], "alice.liddell@acme.test");
        assert_eq!(claims["org_id"], tab.org.as_str());
    }
);

on_both!(
    a_picked_email_claim_is_trusted_only_at_a_verified_domain,
    |app| {
        let provider = TestOidc::start(json!([{ "sub": "u1", "email": "alice@acme.test",
        "email_verified": true, "given_name": "Alice" }]));
        // Another claim, at a domain the organization has not verified.
        provider
            .control_override(&json!({ "upn": "alice@partner.test" }))
            .await;
        let tab = oidc_tab(&app, &provider).await;
        let (status, _, body) = oidc_test(&app, &tab, &provider).await;
        assert_eq!(status, 200, "{body}");
        let html = tab.page(&app, "test").await;
        assert!(
            html.contains("data-preview=\"upn\">would be refused:")
                && html.contains("<code>oidc_email_claim_domain_mismatch</code>"),
            "{html}"
        );
        assert!(
            html.contains("signs in as <strong>alice@acme.test</strong>"),
            "the current settings: {html}"
        );

        // Picked through the API, as the host may.
        let res = app
            .api_patch(
                &format!("/connections/{}", tab.id()),
                &json!({ "claim_mapping": { "email": "upn" } }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let c: Value = res.json().await.expect("json");
        assert_eq!(c["claim_mapping"]["email"], "upn");
        assert_eq!(c["state"], "draft");
        let (status, code, body) = oidc_test(&app, &tab, &provider).await;
        assert_eq!(status, 400);
        assert_eq!(
            code.as_deref(),
            Some("oidc_email_claim_domain_mismatch"),
            "{body}"
        );
        assert!(body.contains("alice@partner.test"), "{body}");
        assert_eq!(tab.connection(&app).await["state"], "draft");

        // Bad names, and SAML connections, are refused; null restores the
        // provider's rules.
        crate::helpers::assert_problem(
            app.api_patch(
                &format!("/connections/{}", tab.id()),
                &json!({ "claim_mapping": { "email": "two words" } }),
            )
            .await,
            422,
            "oidc_email_claim_invalid",
        )
        .await;
        let other = app.create_org("Other", true).await;
        let res = app
            .api_post(
                &format!(
                    "/organizations/{}/connections",
                    other["id"].as_str().expect("id")
                ),
                &json!({ "provider": "okta", "saml": { "sso_url": "https://idp.acme.test/sso",
                "entity_id": IDP_ENTITY, "certificate_pem": TestIdp::shared().cert_pem } }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let saml: Value = res.json().await.expect("json");
        crate::helpers::assert_problem(
            app.api_patch(
                &format!("/connections/{}", saml["id"].as_str().expect("id")),
                &json!({ "claim_mapping": { "email": "upn" } }),
            )
            .await,
            422,
            "connection_protocol_mismatch",
        )
        .await;
        let res = app
            .api_patch(
                &format!("/connections/{}", tab.id()),
                &json!({ "claim_mapping": { "email": null } }),
            )
            .await;
        let c: Value = res.json().await.expect("json");
        assert_eq!(c["claim_mapping"]["email"], Value::Null);
        let (status, _, body) = oidc_test(&app, &tab, &provider).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("signed in as alice@acme.test"), "{body}");
    }
);

mod roles;
