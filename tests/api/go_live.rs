//! The whole way to live single sign-on, on the real third-party identity
//! providers (the Python SAML signer and the node `oidc-provider`): the IT
//! admin's test sign-in from the tab's link, activation with no skipped
//! test, and the host signing people in through the `openidconnect` crate,
//! which verifies every ID token against Gatehouse's JWKS. Then what a
//! settings change does: a tested connection goes back to draft, and an
//! active one keeps serving its live settings until the new ones pass a
//! test and are activated.

use openidconnect::{CsrfToken, Nonce, PkceCodeVerifier};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestIdp, admin_of, assert_problem, error_code, form_post, on_both};
use crate::host_sign_in::{
    HOST_CALLBACK, Host, IDP_ENTITY, idp_response, location, no_redirects, query, saml_request_in,
};
use crate::oidc_provider::TestOidc;

const SECRET: &str = "a-secret-for-the-test-client";
const SECRET_2: &str = "the-secret-of-the-second-client";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Protocol {
    Saml,
    Oidc,
}

/// Settings Gatehouse may hold for the identity provider. Two generations
/// live side by side at the provider, as while moving to a new app there:
/// SAML, each its own sign-on URL and entity ID; OIDC, each its own client.
/// A typo: the first generation with one value mistyped (SAML the entity
/// ID, OIDC the client secret).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Settings {
    First,
    Second,
    Typo,
}

/// Through the API or the Security tab's own form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Api,
    Tab,
}

fn sso_url(generation: u8) -> String {
    match generation {
        1 => "https://idp.acme.test/sso".into(),
        _ => format!("https://idp.acme.test/sso-{generation}"),
    }
}

fn entity_id(generation: u8) -> String {
    match generation {
        1 => IDP_ENTITY.into(),
        _ => format!("{IDP_ENTITY}-{generation}"),
    }
}

fn client_id(generation: u8) -> String {
    match generation {
        1 => "gh".into(),
        _ => format!("gh-{generation}"),
    }
}

/// Acme with acme.test verified, a connection to one of the real
/// identity providers on the first settings, and its admin in the tab.
struct Live {
    protocol: Protocol,
    org: String,
    conn: Value,
    provider: Option<TestOidc>,
    browser: reqwest::Client,
    csrf: String,
}

/// A host's sign-in, up to the identity provider.
struct Started {
    at_idp: String,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

impl Live {
    async fn new(app: &TestApp, protocol: Protocol) -> Self {
        let org = app.verified_org("Acme", "acme.test").await;
        let (body, provider) = match protocol {
            Protocol::Saml => (
                json!({ "provider": "okta", "saml": { "sso_url": sso_url(1),
                    "entity_id": entity_id(1), "certificate_pem": TestIdp::shared().cert_pem } }),
                None,
            ),
            Protocol::Oidc => {
                let provider = TestOidc::start(json!([{ "sub": "u-alice",
                    "email": "alice@acme.test", "email_verified": true,
                    "given_name": "Alice", "family_name": "Liddell" }]));
                (
                    json!({ "provider": "custom_oidc", "oidc": { "discovery_url": provider.issuer,
                        "client_id": client_id(1), "client_secret": SECRET } }),
                    Some(provider),
                )
            }
        };
        let res = app
            .api_post(&format!("/organizations/{org}/connections"), &body)
            .await;
        assert_eq!(res.status(), 201);
        let conn: Value = res.json().await.expect("json");
        if let Some(provider) = &provider {
            let redirect_uri = conn["oidc_redirect_uri"].as_str().expect("uri");
            provider
                .add_client(&client_id(1), SECRET, redirect_uri)
                .await;
            provider
                .add_client(&client_id(2), SECRET_2, redirect_uri)
                .await;
        }
        let (browser, csrf) = admin_of(app, &org).await;
        Self {
            protocol,
            org,
            conn,
            provider,
            browser,
            csrf,
        }
    }

    fn id(&self) -> &str {
        self.conn["id"].as_str().expect("id")
    }

    fn provider(&self) -> &TestOidc {
        self.provider.as_ref().expect("an OIDC connection")
    }

    async fn connection(&self, app: &TestApp) -> Value {
        app.api_get(&format!("/connections/{}", self.id()))
            .await
            .json()
            .await
            .expect("json")
    }

    async fn sso_status(&self, app: &TestApp) -> Value {
        app.api_get(&format!("/organizations/{}/sso/status", self.org))
            .await
            .json()
            .await
            .expect("json")
    }

    /// Which settings generation a redirect to the identity provider was
    /// made from.
    fn generation_at_idp(&self, at_idp: &str) -> u8 {
        match self.protocol {
            Protocol::Saml => {
                let url = url::Url::parse(at_idp).expect("url");
                assert_eq!(url.host_str(), Some("idp.acme.test"), "{at_idp}");
                match url.path() {
                    "/sso" => 1,
                    "/sso-2" => 2,
                    other => panic!("no identity provider at {other}"),
                }
            }
            Protocol::Oidc => {
                assert!(at_idp.starts_with(&self.provider().issuer), "{at_idp}");
                match query(at_idp)["client_id"].as_str() {
                    "gh" => 1,
                    "gh-2" => 2,
                    other => panic!("no client {other} at the provider"),
                }
            }
        }
    }

    /// The identity provider answers a request sent to it, as the
    /// generation it was sent to: the URL back at Gatehouse (OIDC), or the
    /// ACS's answer (SAML).
    async fn idp_answers(&self, app: &TestApp, at_idp: &str) -> reqwest::Response {
        let generation = self.generation_at_idp(at_idp);
        match self.protocol {
            Protocol::Saml => {
                let (request_id, relay_state) = saml_request_in(at_idp);
                let response = idp_response(
                    &self.conn,
                    &request_id,
                    "alice@acme.test",
                    json!({ "issuer": entity_id(generation) }),
                );
                no_redirects()
                    .post(app.url(&format!("/saml/{}/acs", self.id())))
                    .form(&[("SAMLResponse", response), ("RelayState", relay_state)])
                    .send()
                    .await
                    .expect("acs")
            }
            Protocol::Oidc => {
                let callback = self.provider().authorize(at_idp).await;
                assert!(callback.starts_with(&app.address), "{callback}");
                no_redirects()
                    .get(&callback)
                    .send()
                    .await
                    .expect("callback")
            }
        }
    }

    /// The admin's test sign-in, from the Test step's link as the popup
    /// opens it: the popup's status, error code and page.
    async fn test(&self, app: &TestApp) -> (u16, Option<String>, String) {
        let html = self
            .browser
            .get(app.url("/security/test"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        let at = html
            .find("/security/test/start?ticket=")
            .expect("a test link");
        let end = html[at..].find('"').expect("end of href");
        let link = app.url(&html[at..at + end].replace("&amp;", "&"));
        let res = no_redirects().get(&link).send().await.expect("start");
        assert_eq!(res.status(), 303);
        let res = self.idp_answers(app, &location(&res)).await;
        let status = res.status().as_u16();
        let code = error_code(&res);
        (status, code, res.text().await.expect("body"))
    }

    /// A test that must pass.
    async fn passing_test(&self, app: &TestApp) {
        let (status, code, body) = self.test(app).await;
        assert_eq!(status, 200, "{code:?} {body}");
        assert!(
            body.contains("Test passed: signed in as alice@acme.test"),
            "{body}"
        );
    }

    /// Activation through the API with no `skip_test`.
    async fn activate(&self, app: &TestApp) -> reqwest::Response {
        app.api_post(&format!("/connections/{}/activate", self.id()), &json!({}))
            .await
    }

    /// Activation through the tab's one-click form.
    async fn activate_in_tab(&self, app: &TestApp) -> reqwest::Response {
        form_post(
            app,
            &self.browser,
            "/security/activate",
            &[("csrf_token", &self.csrf)],
        )
        .await
    }

    /// Both ways of activating are refused: no passing test on the
    /// current settings.
    async fn activation_refused(&self, app: &TestApp) {
        let before = self.connection(app).await;
        assert_problem(self.activate(app).await, 422, "connection_not_tested").await;
        let res = self.activate_in_tab(app).await;
        assert_eq!(res.status(), 422);
        assert_eq!(
            crate::helpers::error_code(&res).as_deref(),
            Some("connection_not_tested")
        );
        let html = res.text().await.expect("html");
        assert!(html.contains("Run a successful test sign-in"), "{html}");
        let after = self.connection(app).await;
        for field in ["state", "config_version", "live_config_version"] {
            assert_eq!(after[field], before[field], "{field}");
        }
    }

    /// Changes the identity provider's settings, through the API or the
    /// tab's connection form.
    async fn change(&self, app: &TestApp, to: Settings, via: Via) {
        let generation = if to == Settings::Second { 2 } else { 1 };
        let fields: Vec<(&str, String)> = match self.protocol {
            Protocol::Saml => vec![
                ("sso_url", sso_url(generation)),
                (
                    "entity_id",
                    if to == Settings::Typo {
                        "https://idp.acme.tset/metadata".into()
                    } else {
                        entity_id(generation)
                    },
                ),
                ("certificate_pem", TestIdp::shared().cert_pem.clone()),
            ],
            Protocol::Oidc => vec![
                ("discovery_url", self.provider().issuer.clone()),
                ("client_id", client_id(generation)),
                (
                    "client_secret",
                    match to {
                        Settings::First => SECRET.into(),
                        Settings::Second => SECRET_2.into(),
                        Settings::Typo => "a-secret-for-the-test-cleint".into(),
                    },
                ),
            ],
        };
        let version = self.connection(app).await["config_version"]
            .as_i64()
            .expect("version");
        match via {
            Via::Api => {
                let section = match self.protocol {
                    Protocol::Saml => "saml",
                    Protocol::Oidc => "oidc",
                };
                let settings: serde_json::Map<String, Value> = fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v)))
                    .collect();
                let res = app
                    .api_patch(
                        &format!("/connections/{}", self.id()),
                        &json!({ section: settings }),
                    )
                    .await;
                assert_eq!(res.status(), 200);
            }
            Via::Tab => {
                let (path, extra) = match self.protocol {
                    Protocol::Saml => ("idp", ("method", "manual")),
                    Protocol::Oidc => ("oidc", ("scopes", "")),
                };
                let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf), extra];
                form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
                let res = form_post(
                    app,
                    &self.browser,
                    &format!("/security/connection/{}/{path}", self.id()),
                    &form,
                )
                .await;
                assert_eq!(
                    res.status(),
                    303,
                    "{}",
                    res.text().await.unwrap_or_default()
                );
            }
        }
        assert_eq!(
            self.connection(app).await["config_version"],
            version + 1,
            "a settings change makes a new version"
        );
    }

    /// The host's authorization request through the client crate, sent on
    /// to the identity provider.
    async fn host_start(&self, app: &TestApp, host: &Host) -> Result<Started, String> {
        let (url, state, nonce, verifier) = host.authorize_url("alice@acme.test");
        assert!(url.starts_with(&app.url("/oauth/authorize?")), "{url}");
        let res = no_redirects().get(&url).send().await.expect("authorize");
        assert_eq!(res.status(), 303);
        let at_idp = location(&res);
        if at_idp.starts_with(HOST_CALLBACK) {
            return Err(oauth_error(&at_idp, &state));
        }
        Ok(Started {
            at_idp,
            state,
            nonce,
            verifier,
        })
    }

    /// The rest of the host's sign-in: the identity provider answers, and
    /// the host exchanges the code, the client crate verifying the ID token
    /// against Gatehouse's JWKS. Answers the token's claims and the
    /// settings generation that served, or the OAuth error's code.
    async fn host_finish(
        &self,
        app: &TestApp,
        host: &Host,
        started: Started,
    ) -> Result<(Value, u8), String> {
        let generation = self.generation_at_idp(&started.at_idp);
        let res = self.idp_answers(app, &started.at_idp).await;
        assert_eq!(res.status(), 303, "back to the host");
        let back = location(&res);
        let q = query(&back);
        if q.contains_key("error") {
            return Err(oauth_error(&back, &started.state));
        }
        assert!(back.starts_with(HOST_CALLBACK), "{back}");
        assert_eq!(&q["state"], started.state.secret());
        let (claims, _) = host
            .exchange(&q["code"], &started.nonce, started.verifier)
            .await
            .expect("the code exchanges and the ID token verifies against the JWKS");
        Ok((claims, generation))
    }

    async fn host_sign_in(&self, app: &TestApp, host: &Host) -> Result<(Value, u8), String> {
        let started = self.host_start(app, host).await?;
        self.host_finish(app, host, started).await
    }

    /// A host sign-in that must succeed: the settings generation that
    /// served it.
    async fn signs_in(&self, app: &TestApp, host: &Host) -> u8 {
        let (claims, generation) = self
            .host_sign_in(app, host)
            .await
            .unwrap_or_else(|code| panic!("the host's sign-in failed: {code}"));
        assert_eq!(claims["email"], "alice@acme.test");
        assert_eq!(claims["org_id"], self.org.as_str());
        assert_eq!(claims["connection_id"], self.conn["id"]);
        generation
    }
}

/// An OAuth error on the host's redirect URI: Gatehouse's code, from
/// `error_description`.
fn oauth_error(back: &str, state: &CsrfToken) -> String {
    assert!(back.starts_with(HOST_CALLBACK), "{back}");
    let q = query(back);
    assert_eq!(q["error"], "access_denied", "{back}");
    assert_eq!(&q["state"], state.secret());
    q["error_description"].clone()
}

/// Test → activate → the host signs in; deactivate → the host's sign-ins,
/// new and under way, fail with `connection_inactive`; a change after that
/// makes a draft.
async fn goes_live_and_off(app: &TestApp, protocol: Protocol) {
    let live = Live::new(app, protocol).await;
    let host = Host::register(app).await;
    live.activation_refused(app).await;
    assert_eq!(
        live.host_sign_in(app, &host).await.err().as_deref(),
        Some("connection_inactive"),
        "not live before activation"
    );

    live.passing_test(app).await;
    let c = live.connection(app).await;
    assert_eq!(c["state"], "tested");
    let res = live.activate(app).await;
    assert_eq!(res.status(), 200);
    let c: Value = res.json().await.expect("json");
    assert_eq!(c["state"], "active");
    assert_eq!(c["live_config_version"], c["config_version"]);
    let events = app
        .events(&format!(
            "organization_id={}&action=connection.activated",
            live.org
        ))
        .await;
    assert_eq!(events[0]["data"]["skip_test"], false);

    let (claims, _) = live
        .host_sign_in(app, &host)
        .await
        .expect("the host signs Alice in");
    assert_eq!(claims["email"], "alice@acme.test");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["org_id"], live.org.as_str());
    assert_eq!(claims["org_role"], "member");
    assert_eq!(claims["connection_id"], live.conn["id"]);
    assert_eq!(claims["aud"], host.client_id.as_str());
    assert_eq!(claims["iss"], app.address.as_str());
    let provider = match protocol {
        Protocol::Saml => "okta",
        Protocol::Oidc => "custom_oidc",
    };
    assert_eq!(claims["idp"], provider);
    let status = live.sso_status(app).await;
    assert_eq!(status["sso_enabled"], true);
    assert_eq!(status["connection_state"], "active");
    assert_eq!(status["provider"], provider);
    assert_eq!(status["total_sso_users"], 1);

    // Deactivated while a sign-in is at the identity provider.
    let under_way = live
        .host_start(app, &host)
        .await
        .expect("sent to the identity provider");
    let res = app
        .api_post(
            &format!("/connections/{}/deactivate", live.id()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let status = live.sso_status(app).await;
    assert_eq!(status["sso_enabled"], false, "{status}");
    assert_eq!(status["connection_state"], "inactive", "{status}");
    assert_eq!(
        live.host_start(app, &host).await.err().as_deref(),
        Some("connection_inactive"),
        "a new sign-in goes back to the host at once"
    );
    assert_eq!(
        live.host_finish(app, &host, under_way)
            .await
            .err()
            .as_deref(),
        Some("connection_inactive"),
        "the one under way ends at the host too"
    );

    // Switched off and then changed: a draft, tested again before it can
    // be switched back on.
    live.change(app, Settings::Second, Via::Api).await;
    assert_eq!(live.connection(app).await["state"], "draft");
    assert_eq!(live.sso_status(app).await["connection_state"], "draft");
    live.activation_refused(app).await;
}

on_both!(
    a_saml_connection_is_tested_activated_and_signs_the_host_in,
    |app| {
        goes_live_and_off(&app, Protocol::Saml).await;
    }
);

on_both!(
    an_oidc_connection_is_tested_activated_and_signs_the_host_in,
    |app| {
        goes_live_and_off(&app, Protocol::Oidc).await;
    }
);

/// A tested connection whose settings change is a draft again: activation
/// waits for a test of the new settings, each way it can be changed and
/// activated.
async fn a_change_needs_a_new_test(app: &TestApp, protocol: Protocol) {
    let live = Live::new(app, protocol).await;
    let host = Host::register(app).await;
    live.passing_test(app).await;
    assert_eq!(live.connection(app).await["state"], "tested");

    for (to, via) in [(Settings::Second, Via::Api), (Settings::First, Via::Tab)] {
        live.change(app, to, via).await;
        assert_eq!(live.connection(app).await["state"], "draft", "{via:?}");
        assert_eq!(live.sso_status(app).await["connection_state"], "draft");
        live.activation_refused(app).await;
        live.passing_test(app).await;
        assert_eq!(live.connection(app).await["state"], "tested", "{via:?}");
    }
    let res = live.activate_in_tab(app).await;
    assert_eq!(res.status(), 303);
    assert_eq!(live.connection(app).await["state"], "active");
    assert_eq!(live.signs_in(app, &host).await, 1);
}

on_both!(
    a_changed_saml_connection_is_tested_again_before_activation,
    |app| {
        a_change_needs_a_new_test(&app, Protocol::Saml).await;
    }
);

on_both!(
    a_changed_oidc_connection_is_tested_again_before_activation,
    |app| {
        a_change_needs_a_new_test(&app, Protocol::Oidc).await;
    }
);

/// An active connection whose settings change keeps signing people in on
/// its live settings, through a mistyped change and a good one, until the
/// new settings pass a test and are activated.
async fn live_settings_keep_serving(app: &TestApp, protocol: Protocol) {
    let live = Live::new(app, protocol).await;
    let host = Host::register(app).await;
    live.passing_test(app).await;
    assert_eq!(live.activate(app).await.status(), 200);
    assert_eq!(live.signs_in(app, &host).await, 1);
    let live_version = live.connection(app).await["live_config_version"].clone();

    // A typo: the test shows it, sign-ins go on.
    live.change(app, Settings::Typo, Via::Api).await;
    let c = live.connection(app).await;
    assert_eq!(c["state"], "active");
    assert_eq!(c["live_config_version"], live_version);
    assert_eq!(live.sso_status(app).await["sso_enabled"], true);
    let (status, code, body) = live.test(app).await;
    assert_eq!(status, 400, "{body}");
    let expected = match protocol {
        Protocol::Saml => "saml_issuer_mismatch",
        Protocol::Oidc => "oauth_token_exchange_error",
    };
    assert_eq!(code.as_deref(), Some(expected), "{body}");
    live.activation_refused(app).await;
    assert_eq!(
        live.signs_in(app, &host).await,
        1,
        "the live settings serve"
    );

    // The right new settings: tested, but not live until activated.
    live.change(app, Settings::Second, Via::Tab).await;
    live.activation_refused(app).await;
    assert_eq!(live.signs_in(app, &host).await, 1);
    live.passing_test(app).await;
    let c = live.connection(app).await;
    assert_eq!(c["state"], "active");
    assert_eq!(c["live_config_version"], live_version);
    assert_eq!(live.signs_in(app, &host).await, 1, "tested is not yet live");

    let res = live.activate(app).await;
    assert_eq!(res.status(), 200);
    let c: Value = res.json().await.expect("json");
    assert_eq!(c["live_config_version"], c["config_version"]);
    assert_eq!(live.signs_in(app, &host).await, 2, "the new settings serve");
}

on_both!(
    an_active_saml_connection_serves_its_live_settings_until_a_change_is_activated,
    |app| {
        live_settings_keep_serving(&app, Protocol::Saml).await;
    }
);

on_both!(
    an_active_oidc_connection_serves_its_live_settings_until_a_change_is_activated,
    |app| {
        live_settings_keep_serving(&app, Protocol::Oidc).await;
    }
);
