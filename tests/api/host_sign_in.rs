//! Sign-in for the host: a real OpenID Connect client crate (`openidconnect`)
//! acts as the host, against Gatehouse's discovery, authorize, token, JWKS
//! and userinfo endpoints, with the identity provider leg through the
//! independent SAML signer or the third-party OpenID Provider.

use std::io::Read;

use base64::Engine;
use gatehouse::clock::Clock;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    PkceCodeChallenge, RedirectUrl, Scope,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestIdp, error_code, on_both};
use crate::oidc_provider::TestOidc;

pub(crate) const IDP_ENTITY: &str = "https://idp.acme.test/metadata";
pub(crate) use crate::helpers::HOST_CALLBACK;

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub(crate) fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_string()
}

pub(crate) fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The client crate's client as `from_provider_metadata` builds it.
type HostClient = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The host's side: its OAuth client at Gatehouse, and the client crate.
pub(crate) struct Host {
    pub(crate) client_id: String,
    http: openidconnect::reqwest::Client,
    oidc: HostClient,
}

impl Host {
    pub(crate) async fn register(app: &TestApp) -> Self {
        let c = app.oauth_client().await;
        let client_id = c["client_id"].as_str().expect("id").to_string();
        let secret = c["client_secret"].as_str().expect("secret").to_string();
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .build()
            .expect("http");
        let metadata = CoreProviderMetadata::discover_async(
            IssuerUrl::new(app.address.clone()).expect("issuer"),
            &http,
        )
        .await
        .expect("discovery");
        let oidc = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.clone()),
            Some(ClientSecret::new(secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(HOST_CALLBACK.into()).expect("redirect"));
        Self {
            client_id,
            http,
            oidc,
        }
    }

    /// The authorization URL for this email, and what the host keeps.
    pub(crate) fn authorize_url(
        &self,
        email: &str,
    ) -> (String, CsrfToken, Nonce, openidconnect::PkceCodeVerifier) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .oidc
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("login_hint", email)
            .set_pkce_challenge(challenge)
            .url();
        (url.to_string(), state, nonce, verifier)
    }

    /// Exchanges the code and verifies the ID token like any client
    /// library: signature against Gatehouse's JWKS, issuer, audience,
    /// nonce. Answers the token's raw claims and the access token.
    pub(crate) async fn exchange(
        &self,
        code: &str,
        nonce: &Nonce,
        verifier: openidconnect::PkceCodeVerifier,
    ) -> Result<(Value, String), String> {
        use openidconnect::{OAuth2TokenResponse, TokenResponse};
        let tokens = self
            .oidc
            .exchange_code(AuthorizationCode::new(code.into()))
            .expect("token endpoint")
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let id_token = tokens.id_token().expect("an ID token");
        let verified = id_token
            .claims(&self.oidc.id_token_verifier(), nonce)
            .map_err(|e| format!("{e:?}"))?;
        assert!(verified.email().is_some());
        let payload = id_token.to_string();
        let body = payload.split('.').nth(1).expect("payload");
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(body)
                .expect("b64"),
        )
        .expect("json");
        Ok((claims, tokens.access_token().secret().clone()))
    }
}

/// Acme with acme.test verified and an active SAML connection.
async fn saml_org(app: &TestApp) -> (String, Value) {
    let org = app.verified_org("Acme", "acme.test").await;
    let conn = app.saml_connection(&org).await;
    app.activate_untested(&conn).await;
    (org, conn)
}

/// Goes through the SAML identity provider: answers where the ACS sends
/// the browser.
async fn through_saml(
    app: &TestApp,
    conn: &Value,
    authorize: &str,
    name_id: &str,
    changes: Value,
) -> reqwest::Response {
    through_saml_at(&app.address, conn, authorize, name_id, changes).await
}

/// `through_saml`, with the identity provider posting to the instance at
/// `acs_base`.
async fn through_saml_at(
    acs_base: &str,
    conn: &Value,
    authorize: &str,
    name_id: &str,
    changes: Value,
) -> reqwest::Response {
    let (request_id, relay_state) = to_the_idp(authorize).await;
    no_redirects()
        .post(format!(
            "{acs_base}/saml/{}/acs",
            conn["id"].as_str().expect("id")
        ))
        .form(&[
            (
                "SAMLResponse",
                idp_response(conn, &request_id, name_id, changes),
            ),
            ("RelayState", relay_state),
        ])
        .send()
        .await
        .expect("acs")
}

/// The host's authorization request, followed to the identity provider:
/// the AuthnRequest's ID and the RelayState.
async fn to_the_idp(authorize: &str) -> (String, String) {
    let res = no_redirects()
        .get(authorize)
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 303);
    let to_idp = location(&res);
    assert!(to_idp.starts_with("https://idp.acme.test/sso?"), "{to_idp}");
    saml_request_in(&to_idp)
}

/// The AuthnRequest's ID and the RelayState in a redirect to the identity
/// provider.
pub(crate) fn saml_request_in(to_idp: &str) -> (String, String) {
    let q = query(to_idp);
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(&q["SAMLRequest"])
        .expect("b64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .expect("inflate");
    let doc = roxmltree::Document::parse(&xml).expect("xml");
    let request_id = doc.root_element().attribute("ID").expect("id").to_string();
    (request_id, q["RelayState"].clone())
}

/// The identity provider's answer to `request_id`, for `name_id`.
pub(crate) fn idp_response(
    conn: &Value,
    request_id: &str,
    name_id: &str,
    changes: Value,
) -> String {
    let mut p = json!({
        "issuer": IDP_ENTITY, "destination": conn["sp"]["acs_url"], "audience": conn["sp"]["entity_id"],
        "in_response_to": request_id, "name_id": name_id,
        "attributes": { "email": ["alice@acme.test"], "firstName": ["Alice"], "lastName": ["Liddell"], "groups": ["admins"] },
    });
    for (k, v) in changes.as_object().cloned().unwrap_or_default() {
        p[k] = v;
    }
    TestIdp::shared().response(&p)
}

on_both!(
    a_host_sign_in_accepts_its_assertion_once_in_its_own_write,
    |app| {
        let (org, conn) = saml_org(&app).await;
        let conn_id = conn["id"].as_str().expect("id");
        let host = Host::register(&app).await;
        let signed_in = |action: &str| {
            let query = format!("organization_id={org}&action={action}");
            let app = &app;
            async move { app.events(&query).await.len() }
        };
        // Both a new person's sign-in and a returning member's take the
        // assertion in the same transaction as the rest.
        for (round, name_id) in [(1, "carol"), (2, "carol")] {
            let (url, _, _, _) = host.authorize_url("alice@acme.test");
            let (request_id, relay) = to_the_idp(&url).await;
            let first = idp_response(&conn, &request_id, name_id, json!({}));
            let other = idp_response(&conn, &request_id, name_id, json!({}));
            // All three check out before any is accepted, as they would on
            // instances racing each other.
            let check = |response: String| {
                let (app, relay) = (&app, &relay);
                async move {
                    app.services
                        .check_saml_response(conn_id, &response, Some(relay))
                        .await
                        .unwrap_or_else(|f| panic!("{:?}", f.error))
                }
            };
            let (once, again, answer_b) = (
                check(first.clone()).await,
                check(first).await,
                check(other).await,
            );
            let request = once.host_request().expect("the host's flow");
            let finish = |checked: gatehouse::services::saml_signin::CheckedSamlResponse| {
                let (app, request) = (&app, &request);
                async move {
                    let (connection, vouched) = checked.into_vouched();
                    app.services
                        .finish_host_sign_in(&connection, request, vouched, None)
                        .await
                        .expect("the write")
                        .map_err(|e| e.code)
                }
            };
            let url = finish(once).await.expect("signed in");
            assert!(query(&url).contains_key("code"), "{url}");
            assert_eq!(
                finish(again).await,
                Err("saml_replayed_assertion"),
                "round {round}: the same assertion again"
            );
            assert_eq!(
                finish(answer_b).await,
                Err("saml_in_response_to_invalid"),
                "round {round}: another answer to the same request"
            );
            assert_eq!(
                signed_in("sign_in.succeeded").await,
                round,
                "round {round}: a refused assertion writes nothing"
            );
        }
        assert_eq!(signed_in("user.created").await, 1);
    }
);

on_both!(
    a_new_member_gets_the_default_role_and_a_mapped_role_is_followed,
    |app| {
        let (org, conn) = saml_org(&app).await;
        let res = app
            .api_patch(
                &format!("/organizations/{org}"),
                &json!({ "default_role": "viewer" }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let host = Host::register(&app).await;
        let sign_in = |name_id: &'static str| {
            let (app, conn, host) = (&app, &conn, &host);
            async move {
                let (url, _, nonce, verifier) = host.authorize_url("alice@acme.test");
                let res = through_saml(app, conn, &url, name_id, json!({})).await;
                let q = query(&location(&res));
                let (claims, _) = host
                    .exchange(&q["code"], &nonce, verifier)
                    .await
                    .expect("the code exchanges");
                claims["org_role"].clone()
            }
        };
        assert_eq!(
            sign_in("alice").await,
            "viewer",
            "a new member: the default"
        );
        assert_eq!(
            sign_in("alice").await,
            "viewer",
            "a returning member keeps it"
        );
        let mapping = |rules: Value| {
            let (app, conn) = (&app, &conn);
            async move {
                let res = app
                    .api_patch(
                        &format!("/connections/{}", conn["id"].as_str().expect("id")),
                        &json!({ "role_mapping": rules }),
                    )
                    .await;
                assert_eq!(res.status(), 200);
            }
        };
        mapping(json!([{ "group": "admins", "role": "admin" }])).await;
        assert_eq!(
            sign_in("alice").await,
            "admin",
            "the role follows the groups"
        );
        mapping(json!([])).await;
        assert_eq!(
            sign_in("alice").await,
            "admin",
            "without a mapping an existing member's role stays"
        );
    }
);

on_both!(
    a_host_signs_people_in_through_saml_with_a_standard_client,
    |app| {
        let (org, conn) = saml_org(&app).await;
        let host = Host::register(&app).await;
        let (url, state, nonce, verifier) = host.authorize_url("alice@acme.test");
        let res = through_saml(&app, &conn, &url, "alice@acme.test", json!({})).await;
        assert_eq!(res.status(), 303);
        let back = location(&res);
        assert!(back.starts_with(HOST_CALLBACK), "{back}");
        let q = query(&back);
        assert_eq!(&q["state"], state.secret());
        assert_eq!(q["iss"], app.address);
        let (claims, access_token) = host
            .exchange(&q["code"], &nonce, verifier)
            .await
            .expect("the code exchanges and the ID token verifies");
        assert_eq!(claims["email"], "alice@acme.test");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["given_name"], "Alice");
        assert_eq!(claims["family_name"], "Liddell");
        assert_eq!(claims["org_id"], org.as_str());
        assert_eq!(claims["org_role"], "member");
        assert_eq!(claims["groups"], json!(["admins"]));
        assert_eq!(claims["idp"], "okta");
        assert_eq!(claims["connection_id"], conn["id"]);
        assert_eq!(claims["aud"], host.client_id.as_str());
        let user_id = claims["sub"].as_str().expect("sub").to_string();
        assert!(user_id.starts_with("user_"));

        // Userinfo with the access token.
        let info: Value = reqwest::Client::new()
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(&access_token)
            .send()
            .await
            .expect("userinfo")
            .json()
            .await
            .expect("json");
        assert_eq!(info["sub"], user_id.as_str());
        assert_eq!(info["email"], "alice@acme.test");

        // A code works once.
        let (_, _, _, verifier2) = host.authorize_url("alice@acme.test");
        let again = host.exchange(&q["code"], &nonce, verifier2).await;
        assert!(again.is_err_and(|e| e.contains("invalid_grant")));

        // JIT: the member, the status, the events.
        let members: Value = app
            .api_get(&format!("/organizations/{org}/members"))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(members["data"][0]["email"], "alice@acme.test");
        assert_eq!(members["data"][0]["source"], "sso");
        let status: Value = app
            .api_get(&format!("/organizations/{org}/sso/status"))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(status["sso_enabled"], true);
        assert_eq!(status["connection_state"], "active");
        assert_eq!(status["total_sso_users"], 1);
        assert!(status["last_login"].is_string());
        for action in ["user.created", "membership.created", "sign_in.succeeded"] {
            assert_eq!(
                app.events(&format!("organization_id={org}&action={action}"))
                    .await
                    .len(),
                1,
                "{action}"
            );
        }

        // A removed member rejoins on the next sign-in, as the same user, even
        // when the identity provider names them differently.
        let res = app
            .api_send(
                reqwest::Method::DELETE,
                &format!("/organizations/{org}/members/{user_id}"),
                &json!({}),
            )
            .await;
        assert_eq!(res.status(), 204);
        // Groups map to roles, first match wins.
        let res = app
            .api_patch(
                &format!("/connections/{}", conn["id"].as_str().expect("id")),
                &json!({ "role_mapping": [{ "group": "ADMINS", "role": "admin" }, { "group": "admins", "role": "other" }] }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let (url, _, nonce, verifier) = host.authorize_url("alice@acme.test");
        let res = through_saml(&app, &conn, &url, "alice-other-name-id", json!({})).await;
        let q = query(&location(&res));
        let (claims, _) = host
            .exchange(&q["code"], &nonce, verifier)
            .await
            .expect("again");
        assert_eq!(
            claims["sub"],
            user_id.as_str(),
            "linked by email, not duplicated"
        );
        assert_eq!(claims["org_role"], "admin", "from the group, case aside");
        let members: Value = app
            .api_get(&format!("/organizations/{org}/members"))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(members["data"].as_array().expect("list").len(), 1);
    }
);

on_both!(
    a_code_refused_at_the_token_endpoint_stays_used_and_leaves_no_token,
    |app| {
        let (_, conn) = saml_org(&app).await;
        let host = Host::register(&app).await;
        let tokens = "SELECT token_hash FROM oauth_access_tokens";
        let (url, _, nonce, verifier) = host.authorize_url("alice@acme.test");
        let res = through_saml(&app, &conn, &url, "alice@acme.test", json!({})).await;
        let code = query(&location(&res))["code"].clone();

        // Another sign-in's verifier: refused, and the code is used up.
        let (_, _, _, other) = host.authorize_url("alice@acme.test");
        let refused = host.exchange(&code, &nonce, other).await;
        assert!(
            refused.as_ref().is_err_and(
                |e| e.contains("invalid_grant") && e.contains("code_verifier does not match")
            ),
            "{refused:?}"
        );
        assert_eq!(
            app.text_column(tokens).await,
            Vec::<String>::new(),
            "the access token stored with the code was forgotten"
        );
        let again = host.exchange(&code, &nonce, verifier).await;
        assert!(
            again.as_ref().is_err_and(|e| e.contains("already used")),
            "{again:?}"
        );

        // The next sign-in exchanges as usual, and only its token is kept.
        let (url, _, nonce, verifier) = host.authorize_url("alice@acme.test");
        let res = through_saml(&app, &conn, &url, "alice@acme.test", json!({})).await;
        let code = query(&location(&res))["code"].clone();
        let (_, access_token) = host
            .exchange(&code, &nonce, verifier)
            .await
            .expect("exchanges");
        assert_eq!(app.text_column(tokens).await.len(), 1);
        let info = reqwest::Client::new()
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(&access_token)
            .send()
            .await
            .expect("userinfo");
        assert_eq!(info.status(), 200);
        let info: Value = info.json().await.expect("json");
        assert_eq!(info["email"], "alice@acme.test");
        for token_only in ["iss", "aud", "iat", "exp", "nonce"] {
            assert!(info.get(token_only).is_none(), "{token_only}: {info}");
        }
    }
);

on_both!(
    failures_go_back_to_the_host_as_oauth_errors_or_stop_at_an_error_page,
    |app| {
        let (org, conn) = saml_org(&app).await;
        let host = Host::register(&app).await;

        // After the identity provider: back to the host, with the code.
        let (url, state, _, _) = host.authorize_url("alice@acme.test");
        let res = through_saml(
            &app,
            &conn,
            &url,
            "alice@acme.test",
            json!({ "audience": "https://other.example" }),
        )
        .await;
        assert_eq!(res.status(), 303);
        let q = query(&location(&res));
        assert_eq!(q["error"], "access_denied");
        assert_eq!(q["error_description"], "saml_audience_mismatch");
        assert_eq!(&q["state"], state.secret());
        assert!(q["error_uri"].ends_with("/errors/saml_audience_mismatch"));
        assert_eq!(
            app.events(&format!("organization_id={org}&action=sign_in.failed"))
                .await
                .len(),
            1
        );

        // Before it: an email at a domain nobody verified.
        let (url, _, _, _) = host.authorize_url("bob@unknown.test");
        let res = no_redirects().get(&url).send().await.expect("authorize");
        let q = query(&location(&res));
        assert_eq!(q["error_description"], "domain_not_verified");

        // No safe redirect: an error page with the code.
        let bad = url.replace(&host.client_id, "client_01jd0000000000000000000000");
        let res = no_redirects().get(&bad).send().await.expect("authorize");
        assert_eq!(res.status(), 400);
        assert_eq!(error_code(&res).as_deref(), Some("oauth_client_unknown"));
        let bad = url.replace("localhost%3A9999", "evil.example");
        let res = no_redirects().get(&bad).send().await.expect("authorize");
        assert_eq!(
            error_code(&res).as_deref(),
            Some("oauth_redirect_uri_invalid")
        );

        // A wrong client secret at the token endpoint.
        let res = reqwest::Client::new()
            .post(app.url("/oauth/token"))
            .basic_auth(&host.client_id, Some("not-the-secret"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", HOST_CALLBACK),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], "invalid_client");
    }
);

on_both!(a_host_signs_people_in_through_an_oidc_connection, |app| {
    let provider = TestOidc::start(json!([{ "sub": "u-alice", "email": "alice@acme.test",
        "email_verified": true, "given_name": "Alice", "family_name": "Liddell" }]));
    let org = app.verified_org("Acme", "acme.test").await;
    let conn: Value = app
        .api_post(
            &format!("/organizations/{org}/connections"),
            &json!({ "provider": "custom_oidc", "oidc": { "discovery_url": provider.issuer,
                "client_id": "gh", "client_secret": "a-secret-for-the-test-client" } }),
        )
        .await
        .json()
        .await
        .expect("json");
    provider
        .add_client(
            "gh",
            "a-secret-for-the-test-client",
            conn["oidc_redirect_uri"].as_str().expect("uri"),
        )
        .await;
    app.api_post(
        &format!("/connections/{}/activate", conn["id"].as_str().expect("id")),
        &json!({ "skip_test": true }),
    )
    .await;
    let host = Host::register(&app).await;
    let (url, state, nonce, verifier) = host.authorize_url("alice@acme.test");
    let res = no_redirects().get(&url).send().await.expect("authorize");
    let to_provider = location(&res);
    assert!(to_provider.starts_with(&provider.issuer));
    assert_eq!(query(&to_provider)["login_hint"], "alice@acme.test");
    let callback = provider.authorize(&to_provider).await;
    let res = no_redirects()
        .get(&callback)
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), 303);
    let q = query(&location(&res));
    assert_eq!(&q["state"], state.secret());
    let (claims, _) = host
        .exchange(&q["code"], &nonce, verifier)
        .await
        .expect("exchange");
    assert_eq!(claims["email"], "alice@acme.test");
    assert_eq!(claims["idp"], "custom_oidc");
    assert_eq!(claims["org_id"], org.as_str());
});

on_both!(
    a_sign_in_started_on_one_instance_completes_on_another,
    |app| {
        let (org, conn) = saml_org(&app).await;
        let host = Host::register(&app).await;
        let other = app.second_instance().await;
        // Authorize at this instance, the identity provider answers the other
        // (behind one load balancer), the host exchanges the code here.
        let (url, state, nonce, verifier) = host.authorize_url("alice@acme.test");
        let res = through_saml_at(&other.address, &conn, &url, "alice@acme.test", json!({})).await;
        assert_eq!(res.status(), 303);
        let q = query(&location(&res));
        assert_eq!(&q["state"], state.secret());
        let (claims, _) = host
            .exchange(&q["code"], &nonce, verifier)
            .await
            .expect("a code issued by one instance exchanges at the other");
        assert_eq!(claims["org_id"], org.as_str());

        // Deleting the connection deletes no user.
        let res = app
            .api_send(
                reqwest::Method::DELETE,
                &format!("/connections/{}", conn["id"].as_str().expect("id")),
                &json!({}),
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
        let members: Value = app
            .api_get(&format!("/organizations/{org}/members"))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(members["data"][0]["email"], "alice@acme.test");
    }
);

on_both!(
    auth_time_is_when_the_identity_provider_authenticated,
    |app| {
        let (_, conn) = saml_org(&app).await;
        let host = Host::register(&app).await;
        let now = app.clock.now().timestamp();
        let at = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .expect("time")
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        for (authn_instant, expected) in [
            (now - 7200, now - 7200),
            // A provider's clock ahead of ours: never later than now.
            (now + 600, now),
        ] {
            let (url, _, nonce, verifier) = host.authorize_url("alice@acme.test");
            let res = through_saml(
                &app,
                &conn,
                &url,
                "alice@acme.test",
                json!({ "authn_instant": at(authn_instant) }),
            )
            .await;
            let q = query(&location(&res));
            let (claims, _) = host
                .exchange(&q["code"], &nonce, verifier)
                .await
                .expect("exchange");
            assert_eq!(
                claims["auth_time"], expected,
                "AuthnInstant {authn_instant}"
            );
        }
    }
);

on_both!(
    a_sign_in_started_at_the_identity_provider_hands_over_to_the_host,
    |app| {
        let (_, conn) = saml_org(&app).await;
        let res = app
            .api_patch(
                &format!("/connections/{}", conn["id"].as_str().expect("id")),
                &json!({ "allow_idp_initiated": true }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let res = app
            .api_post(
                "/oauth_clients",
                &json!({ "name": "Acme app", "redirect_uris": [HOST_CALLBACK],
                     "initiate_login_uri": "http://localhost:9999/login" }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let host = Host::register(&app).await;
        // The browser: keeps cookies, follows nothing by itself.
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("browser");
        let response = TestIdp::shared().response(&json!({
        "issuer": IDP_ENTITY, "destination": conn["sp"]["acs_url"], "audience": conn["sp"]["entity_id"],
        "name_id": "alice@acme.test",
        "attributes": { "email": ["alice@acme.test"], "firstName": ["Alice"] },
    }));
        let res = browser
            .post(app.url(&format!("/saml/{}/acs", conn["id"].as_str().expect("id"))))
            .form(&[("SAMLResponse", response)])
            .send()
            .await
            .expect("acs");
        assert_eq!(res.status(), 303);
        let to_host = location(&res);
        assert!(
            to_host.starts_with("http://localhost:9999/login?"),
            "{to_host}"
        );
        let q = query(&to_host);
        assert_eq!(q["iss"], app.address);
        assert_eq!(q["login_hint"], "alice@acme.test");

        // The host starts an ordinary authorization request: no second trip to
        // the identity provider.
        let (url, state, nonce, verifier) = host.authorize_url("alice@acme.test");
        let res = browser.get(&url).send().await.expect("authorize");
        assert_eq!(res.status(), 303);
        let back = location(&res);
        assert!(
            back.starts_with(HOST_CALLBACK),
            "straight back to the host: {back}"
        );
        let q = query(&back);
        assert_eq!(&q["state"], state.secret());
        let (claims, _) = host
            .exchange(&q["code"], &nonce, verifier)
            .await
            .expect("exchange");
        assert_eq!(claims["email"], "alice@acme.test");

        // It served once: the same request again goes to the identity provider.
        let (url, _, _, _) = host.authorize_url("alice@acme.test");
        let res = browser.get(&url).send().await.expect("authorize");
        assert!(location(&res).starts_with("https://idp.acme.test/sso?"));
        // Another person's authorization request is not completed by it.
        let (url, _, _, _) = host.authorize_url("bob@acme.test");
        let res = browser.get(&url).send().await.expect("authorize");
        assert!(location(&res).starts_with("https://idp.acme.test/sso?"));

        // prompt=login asks the identity provider again rather than take
        // the handoff; with prompt=none the handoff is what lets the host
        // sign the person in without a page.
        for (prompt, to_idp) in [("login", true), ("none", false)] {
            let response = TestIdp::shared().response(&json!({
                "issuer": IDP_ENTITY, "destination": conn["sp"]["acs_url"],
                "audience": conn["sp"]["entity_id"], "name_id": "alice@acme.test",
                "attributes": { "email": ["alice@acme.test"] },
            }));
            let res = browser
                .post(app.url(&format!("/saml/{}/acs", conn["id"].as_str().expect("id"))))
                .form(&[("SAMLResponse", response)])
                .send()
                .await
                .expect("acs");
            assert!(location(&res).starts_with("http://localhost:9999/login?"));
            let (url, _, _, _) = host.authorize_url("alice@acme.test");
            let res = browser
                .get(format!("{url}&prompt={prompt}"))
                .send()
                .await
                .expect("authorize");
            let back = location(&res);
            if to_idp {
                assert!(back.starts_with("https://idp.acme.test/sso?"), "{back}");
            } else {
                assert!(back.starts_with(HOST_CALLBACK), "{back}");
                assert!(query(&back).contains_key("code"), "{back}");
            }
        }
    }
);

on_both!(
    a_moved_connection_leaves_members_and_adds_them_to_the_new_organization,
    |app| {
        let (first, conn) = saml_org(&app).await;
        let conn_id = conn["id"].as_str().expect("id").to_string();
        let host = Host::register(&app).await;
        let sign_in = || async {
            let (url, _, nonce, verifier) = host.authorize_url("alice@acme.test");
            let res = through_saml(&app, &conn, &url, "alice@acme.test", json!({})).await;
            let q = query(&location(&res));
            host.exchange(&q["code"], &nonce, verifier)
                .await
                .expect("exchange")
                .0
        };
        assert_eq!(sign_in().await["org_id"], first.as_str());

        // The company reorganizes: the connection and its domain move to a new
        // organization.
        let second = app.create_org("Acme Holdings", true).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let res = app
            .api_post(
                &format!("/connections/{conn_id}/move"),
                &json!({ "organization_id": second }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let domains: Value = app
            .api_get(&format!("/organizations/{first}/domains"))
            .await
            .json()
            .await
            .expect("json");
        let res = app
            .api_send(
                reqwest::Method::DELETE,
                &format!(
                    "/domains/{}",
                    domains["data"][0]["id"].as_str().expect("id")
                ),
                &json!({}),
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
        let res = app
            .api_post(
                &format!("/organizations/{second}/domains"),
                &json!({ "domain": "acme.test" }),
            )
            .await;
        let d: Value = res.json().await.expect("json");
        app.dns
            .zone("acme.test")
            .set_txt(
                d["txt_record"]["name"].as_str().expect("n"),
                &[&[d["txt_record"]["value"].as_str().expect("v")]],
            )
            .await
            .expect("publish");
        app.api_post(
            &format!("/domains/{}/verify", d["id"].as_str().expect("id")),
            &json!({}),
        )
        .await;
        let res = app
            .api_post(
                &format!("/connections/{conn_id}/activate"),
                &json!({ "skip_test": true }),
            )
            .await;
        assert_eq!(res.status(), 200);

        // Alice stays a member where she was, and joins the new organization
        // at her next sign-in.
        assert_eq!(sign_in().await["org_id"], second.as_str());
        for org in [&first, &second] {
            let members: Value = app
                .api_get(&format!("/organizations/{org}/members"))
                .await
                .json()
                .await
                .expect("json");
            assert_eq!(members["data"][0]["email"], "alice@acme.test", "{org}");
        }
    }
);
