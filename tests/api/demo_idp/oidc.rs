//! The demo identity provider's OpenID Connect half: a Custom OpenID
//! Connect connection to it, through the host API, with a test sign-in and
//! a host sign-in through its pages; the provider on its own, with an
//! independent client crate (`openidconnect`); each refusal it owes, with
//! its error; and the real `gatehouse demo` binary walked through over
//! OpenID Connect.

use gatehouse::demo_idp::DemoIdp;
use gatehouse::services::saml_signin::FlowPurpose;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Value, json};

use super::{
    Demo, HOST_CALLBACK, activate, browser, hidden, host_authorize, location, query, set,
    spawn_idp, tab_post, tampered, unescape,
};
use crate::helpers::{Backend, TestApp, admin_of, error_code, on_both, spawn_app};

/// Acme (acme.test verified) with a Custom OpenID Connect connection to the
/// demo IdP, made through the host API with the values the demo host page
/// shows.
async fn oidc_acme(app: &TestApp, idp: &DemoIdp) -> (String, Value) {
    let org = app.verified_org("Acme", "acme.test").await;
    let res = app
        .api_post(
            &format!("/organizations/{org}/connections"),
            &json!({ "provider": "custom_oidc", "oidc": {
                "discovery_url": idp.oidc_discovery_url(),
                "client_id": idp.oidc_client_id(),
                "client_secret": idp.oidc_client_secret() } }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let conn: Value = res.json().await.expect("json");
    assert_eq!(conn["protocol"], "oidc");
    assert_eq!(conn["oidc"]["issuer"], idp.oidc_issuer());
    assert_eq!(conn["oidc"]["client_id"], "gatehouse-demo");
    assert_eq!(
        conn["oidc"]["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    (org, conn)
}

fn continue_url(idp: &DemoIdp) -> String {
    format!("{}/authorize/continue", idp.oidc_issuer())
}

/// At the demo IdP's authorization endpoint: the choice page, checked.
async fn picker(browser: &reqwest::Client, url: &str) -> String {
    let res = browser.get(url).send().await.expect("authorize");
    assert_eq!(res.status(), 200, "{url}");
    let csp = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = res.text().await.expect("html");
    for who in ["Alice Liddell", "Bob Builder", "mallory@example.net"] {
        assert!(html.contains(who), "{who} is offered");
    }
    assert!(html.contains("signs an ID token"), "{html}");
    html
}

/// The fields the choice page posts back, for `user`.
fn oidc_choice(html: &str, user: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "issued",
        "mac",
    ]
    .iter()
    .map(|n| {
        (
            n.to_string(),
            hidden(html, n).unwrap_or_else(|| panic!("{n} on the page: {html}")),
        )
    })
    .collect();
    fields.push(("user".into(), user.into()));
    fields
}

/// Chooses `user` on the choice page; answers where the demo IdP sends the
/// browser (back to the redirect URI, with the code).
async fn choose(browser: &reqwest::Client, idp: &DemoIdp, page: &str, user: &str) -> String {
    let res = browser
        .post(continue_url(idp))
        .form(&oidc_choice(page, user))
        .send()
        .await
        .expect("continue");
    assert_eq!(res.status(), 303);
    let back = location(&res);
    let q = query(&back);
    assert!(q["code"].starts_with("ghdemo_code_"), "{back}");
    assert_eq!(q["iss"], idp.oidc_issuer(), "RFC 9207");
    back
}

on_both!(an_oidc_connection_to_the_demo_idp_signs_alice_in, |app| {
    let idp = spawn_idp(&app).await;
    let (org, conn) = oidc_acme(&app, &idp).await;
    let callback = conn["oidc_redirect_uri"]
        .as_str()
        .expect("redirect uri")
        .to_string();

    // The Test step, as the popup runs it.
    let (tab, _) = admin_of(&app, &org).await;
    let html = tab
        .get(app.url("/security/test"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let at = html.find("/security/test/start?ticket=").expect("link");
    let end = html[at..].find('"').expect("end");
    let popup = browser();
    let res = popup
        .get(app.url(&unescape(&html[at..at + end])))
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), 303);
    let authorize = location(&res);
    assert!(
        authorize.starts_with(&format!("{}/authorize?", idp.oidc_issuer())),
        "{authorize}"
    );
    let q = query(&authorize);
    assert_eq!(q["client_id"], "gatehouse-demo");
    assert_eq!(q["redirect_uri"], callback);
    assert_eq!(q["code_challenge_method"], "S256");
    let page = picker(&popup, &authorize).await;
    let back = choose(&popup, &idp, &page, "alice@acme.test").await;
    assert!(back.starts_with(&format!("{callback}?")), "{back}");
    assert_eq!(query(&back)["state"], q["state"]);
    let res = popup.get(&back).send().await.expect("callback");
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("html");
    assert!(
        body.contains("data-test-result=\"passed\"")
            && body.contains("Test passed: signed in as alice@acme.test"),
        "{body}"
    );
    assert!(body.contains("demo-alice"), "the subject: {body}");

    // The test counts: activation needs no skip.
    let res = activate(&app, &conn, json!({})).await;
    assert_eq!(res.status(), 200);

    // The host signs Alice in over OpenID Connect, through the demo
    // IdP's OpenID Connect side.
    let (authorize, client_id, secret, verifier) = host_authorize(&app, "alice@acme.test").await;
    let person = browser();
    let res = person.get(&authorize).send().await.expect("authorize");
    assert_eq!(res.status(), 303);
    let at_idp = location(&res);
    assert_eq!(query(&at_idp)["login_hint"], "alice@acme.test");
    let page = picker(&person, &at_idp).await;
    assert!(
        page.contains("started for <code>alice@acme.test</code>"),
        "{page}"
    );
    let back = choose(&person, &idp, &page, "alice@acme.test").await;
    let res = person.get(&back).send().await.expect("callback");
    assert_eq!(res.status(), 303);
    let to_host = location(&res);
    assert!(to_host.starts_with(HOST_CALLBACK), "{to_host}");
    let q = query(&to_host);
    assert_eq!(q["state"], "st-1");
    let res = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", HOST_CALLBACK),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.expect("json");
    let claims = payload(tokens["id_token"].as_str().expect("id token"));
    assert_eq!(claims["email"], "alice@acme.test");
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["family_name"], "Liddell");
    assert_eq!(claims["groups"], json!(["engineering", "admins"]));
    assert_eq!(claims["org_id"], org);
    assert_eq!(claims["idp"], "custom_oidc");
    assert_eq!(claims["connection_id"], conn["id"]);
    assert_eq!(claims["nonce"], "n-1");
    let events = app
        .events(&format!("organization_id={org}&action=sign_in.succeeded"))
        .await;
    assert_eq!(events.len(), 1);

    // Mallory, at another domain, is refused by Gatehouse.
    let (authorize, ..) = host_authorize(&app, "alice@acme.test").await;
    let res = person.get(&authorize).send().await.expect("authorize");
    let page = picker(&person, &location(&res)).await;
    let back = choose(&person, &idp, &page, "mallory@example.net").await;
    let res = person.get(&back).send().await.expect("callback");
    assert_eq!(res.status(), 303);
    let q = query(&location(&res));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "oidc_email_address_domain_mismatch");
    assert!(!q.contains_key("code"));
});

/// The claims of a JWT, unverified (Gatehouse verified them).
fn payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("b64"),
    )
    .expect("json")
}

/// A raw request at the demo IdP's token endpoint: status, body, and the
/// `WWW-Authenticate` header.
async fn token_request(
    idp: &DemoIdp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut req = reqwest::Client::new().post(format!("{}/token", idp.oidc_issuer()));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.form(form).send().await.expect("token");
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, res.json().await.expect("json"), challenge)
}

/// A token request's form for `code`.
fn exchange_form<'a>(
    code: &'a str,
    redirect: &'a str,
    verifier: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ]
}

/// An authorization request for the connection whose callback is
/// `redirect`, with PKCE (S256) unless `change` removes it.
fn authorize_url(
    idp: &DemoIdp,
    redirect: &str,
    challenge: &str,
    change: &[(&str, Option<&str>)],
) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", "gatehouse-demo"),
        ("redirect_uri", redirect),
        ("scope", "openid email profile"),
        ("state", "st-9"),
        ("nonce", "n-9"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in change {
        params.retain(|(n, _)| n != name);
        if let Some(v) = value {
            params.push((name, v));
        }
    }
    let mut url = url::Url::parse(&format!("{}/authorize", idp.oidc_issuer())).expect("url");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

#[tokio::test]
async fn the_demo_oidc_provider_works_with_an_independent_client() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite");
    let idp = spawn_idp(&app).await;
    let redirect = app.url("/oidc/conn_demo/callback");
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http");
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(idp.oidc_issuer()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery, with its keys");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(idp.oidc_client_id().into()),
        Some(ClientSecret::new(idp.oidc_client_secret())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let person = browser();
    let page = picker(&person, url.as_str()).await;
    let back = choose(&person, &idp, &page, "bob@acme.test").await;
    assert!(back.starts_with(&format!("{redirect}?")), "{back}");
    let q = query(&back);
    assert_eq!(&q["state"], state.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code is exchanged");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("signature, issuer, audience, expiry and nonce check out");
    assert_eq!(claims.subject().as_str(), "demo-bob");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("bob@acme.test"));
    assert_eq!(claims.email_verified(), Some(true));
    let raw = payload(&id_token.to_string());
    assert_eq!(raw["name"], "Bob Builder");
    assert_eq!(raw["groups"], json!(["engineering"]));
    assert!(raw["exp"].as_i64() > raw["iat"].as_i64());

    // Userinfo, with the access token.
    let access = tokens.access_token().secret().clone();
    let userinfo = |token: String| {
        let url = format!("{}/userinfo", idp.oidc_issuer());
        async move {
            let res = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("userinfo");
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.expect("json"))
        }
    };
    let (status, info) = userinfo(access.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(info["sub"], "demo-bob");
    assert_eq!(info["email"], "bob@acme.test");
    assert_eq!(info["family_name"], "Builder");

    // The code again: refused, and its access token revoked.
    let secret = idp.oidc_client_secret();
    let (status, body, _) = token_request(
        &idp,
        Some(("gatehouse-demo", &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect),
            (
                "code_verifier",
                "whatever-the-verifier-the-code-is-already-used",
            ),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .expect("description")
            .contains("already used"),
        "{body}"
    );
    let (status, info) = userinfo(access).await;
    assert_eq!(status, 401, "{info}");
    assert_eq!(info["error"], "invalid_token");
}

#[tokio::test]
async fn the_demo_oidc_provider_refuses_what_it_must() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite");
    let idp = spawn_idp(&app).await;
    let redirect = app.url("/oidc/conn_demo/callback");
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let person = browser();

    // Redirect URIs that are not this Gatehouse's OIDC callbacks: a page,
    // never a redirect.
    for foreign in [
        "https://evil.example/oidc/conn_demo/callback".to_string(),
        HOST_CALLBACK.to_string(),
        app.url("/oauth/authorize"),
        format!("{redirect}?next=https://evil.example"),
    ] {
        let res = person
            .get(authorize_url(&idp, &foreign, &challenge, &[]))
            .send()
            .await
            .expect("authorize");
        assert_eq!(res.status(), 400, "{foreign}");
        assert!(res.headers().get("location").is_none());
        let html = res.text().await.expect("html");
        assert!(html.contains("only answers this Gatehouse"), "{html}");
        assert!(!html.contains("name=\"mac\""));
    }
    // Another client.
    let res = person
        .get(authorize_url(
            &idp,
            &redirect,
            &challenge,
            &[("client_id", Some("someone-else"))],
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .expect("html")
            .contains("knows one client, gatehouse-demo")
    );

    // No PKCE, or plain PKCE: back to the (valid) redirect URI with the
    // OAuth error, the state and the issuer.
    for (change, expected) in [
        (
            vec![("code_challenge", None), ("code_challenge_method", None)],
            "PKCE is required",
        ),
        (vec![("code_challenge_method", Some("plain"))], "not plain"),
        (vec![("code_challenge_method", None)], "not plain"),
    ] {
        let res = person
            .get(authorize_url(&idp, &redirect, &challenge, &change))
            .send()
            .await
            .expect("authorize");
        assert_eq!(res.status(), 303, "{change:?}");
        let back = location(&res);
        assert!(back.starts_with(&format!("{redirect}?")), "{back}");
        let q = query(&back);
        assert_eq!(q["error"], "invalid_request");
        assert!(q["error_description"].contains(expected), "{q:?}");
        assert_eq!(q["state"], "st-9");
        assert_eq!(q["iss"], idp.oidc_issuer());
        assert!(!q.contains_key("code"));
    }

    // Tampered choices: nothing issued.
    let page = picker(&person, &authorize_url(&idp, &redirect, &challenge, &[])).await;
    let good = oidc_choice(&page, "alice@acme.test");
    let refused = |fields: Vec<(String, String)>| {
        let (person, url) = (person.clone(), continue_url(&idp));
        async move {
            let res = person.post(url).form(&fields).send().await.expect("post");
            assert!(res.headers().get("location").is_none(), "no code");
            (res.status().as_u16(), res.text().await.expect("html"))
        }
    };
    let mac = hidden(&page, "mac").expect("mac");
    let mut fields = good.clone();
    set(&mut fields, "mac", &tampered(&mac));
    let (status, html) = refused(fields).await;
    assert_eq!(status, 400);
    assert!(html.contains("fields were changed"), "{html}");
    for (name, value) in [
        ("redirect_uri", app.url("/oidc/conn_other/callback")),
        (
            "code_challenge",
            "an-attacker-s-own-challenge-0000000000000000".to_string(),
        ),
        ("state", "st-other".to_string()),
        ("nonce", "n-other".to_string()),
    ] {
        let mut fields = good.clone();
        set(&mut fields, name, &value);
        let (status, html) = refused(fields).await;
        assert_eq!(status, 400, "{name}");
        assert!(html.contains("fields were changed"), "{name}: {html}");
    }
    let mut fields = good.clone();
    set(&mut fields, "user", "eve@acme.test");
    let (status, html) = refused(fields).await;
    assert_eq!(status, 400);
    assert!(html.contains("Choose one of the demo people"), "{html}");
    let mut fields = good.clone();
    fields.retain(|(n, _)| n != "code_challenge");
    let (status, html) = refused(fields).await;
    assert_eq!(status, 400);
    assert!(html.contains("This form is incomplete"), "{html}");

    // The untouched choice gives a code.
    let back = choose(&person, &idp, &page, "alice@acme.test").await;
    let code = query(&back)["code"].clone();

    // A wrong client secret (basic, then post): 401 invalid_client, and the
    // code is still good.
    let good_form = exchange_form(&code, &redirect, verifier);
    let (status, body, challenge_header) = token_request(
        &idp,
        Some(("gatehouse-demo", "ghdemo_not-the-secret")),
        &good_form,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .expect("description")
            .contains("client ID or secret is wrong")
    );
    assert!(
        challenge_header.is_some_and(|c| c.starts_with("Basic")),
        "WWW-Authenticate"
    );
    let mut posted = good_form.clone();
    posted.extend([
        ("client_id", "gatehouse-demo"),
        ("client_secret", "ghdemo_not-the-secret"),
    ]);
    let (status, body, _) = token_request(&idp, None, &posted).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");

    // A wrong verifier: invalid_grant, and the code is used up.
    let secret = idp.oidc_client_secret();
    let wrong = exchange_form(
        &code,
        &redirect,
        "another-verifier-of-forty-three-characters-000000",
    );
    let (status, body, _) = token_request(&idp, Some(("gatehouse-demo", &secret)), &wrong).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .expect("description")
            .contains("code_verifier does not match"),
        "{body}"
    );
    let (status, body, _) =
        token_request(&idp, Some(("gatehouse-demo", &secret)), &good_form).await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .expect("description")
            .contains("already used"),
        "{body}"
    );

    // A fresh code, by client_secret_post: good once, then reused.
    let page = picker(&person, &authorize_url(&idp, &redirect, &challenge, &[])).await;
    let back = choose(&person, &idp, &page, "alice@acme.test").await;
    let code = query(&back)["code"].clone();
    let mut posted = exchange_form(&code, &redirect, verifier);
    posted.extend([("client_id", "gatehouse-demo"), ("client_secret", &secret)]);
    let (status, body, _) = token_request(&idp, None, &posted).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let claims = payload(body["id_token"].as_str().expect("id token"));
    assert_eq!(claims["sub"], "demo-alice");
    assert_eq!(claims["nonce"], "n-9");
    assert_eq!(claims["aud"], "gatehouse-demo");
    let (status, body, _) = token_request(&idp, None, &posted).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .expect("description")
            .contains("already used"),
        "{body}"
    );
}

#[tokio::test]
async fn gatehouse_names_the_demo_providers_refusal_of_a_wrong_secret() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite");
    let idp = spawn_idp(&app).await;
    let (_, conn) = oidc_acme(&app, &idp).await;
    let conn_id = conn["id"].as_str().expect("id");
    let res = app
        .api_patch(
            &format!("/connections/{conn_id}"),
            &json!({ "oidc": { "client_secret": "ghdemo_not-the-secret-at-all" } }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let url = app
        .services
        .start_oidc_sign_in(conn_id, FlowPurpose::Test, json!({}), None)
        .await
        .expect("start");
    let person = browser();
    let page = picker(&person, &url).await;
    let back = choose(&person, &idp, &page, "alice@acme.test").await;
    let res = person.get(&back).send().await.expect("callback");
    assert_eq!(res.status(), 400);
    assert_eq!(
        error_code(&res).as_deref(),
        Some("oauth_token_exchange_error")
    );
    let body = res.text().await.expect("html");
    assert!(body.contains("invalid_client"), "{body}");
}

/// The value of the read-only input `id` on the demo host page.
fn input_value(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} on the page"));
    let marker = "value=\"";
    let start = at + html[at..].find(marker).expect("value") + marker.len();
    let end = html[start..].find('"').expect("value end");
    unescape(&html[start..start + end])
}

#[tokio::test]
async fn the_demo_walkthrough_works_over_openid_connect() {
    let demo = Demo::start();
    let g = |path: &str| demo.g(path);
    let h = |path: &str| demo.h(path);

    // The sample host page shows what to paste for OpenID Connect, as the
    // demo printed it.
    let html = reqwest::get(h("/demo"))
        .await
        .expect("host page")
        .text()
        .await
        .expect("html");
    let discovery = input_value(&html, "demo-oidc-discovery-url");
    let client_id = input_value(&html, "demo-oidc-client-id");
    let secret = input_value(&html, "demo-oidc-client-secret");
    assert_eq!(
        discovery,
        g("/demo-idp/oidc/.well-known/openid-configuration")
    );
    assert_eq!(client_id, "gatehouse-demo");
    assert!(
        secret.starts_with("ghdemo_") && secret.len() > 40,
        "{secret}"
    );
    for value in [&discovery, &client_id, &secret] {
        assert!(demo.printed.contains(value.as_str()), "{}", demo.printed);
    }
    let configuration: Value = reqwest::get(&discovery)
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(configuration["issuer"], g("/demo-idp/oidc"));

    let (tab, csrf, org) = demo.admin_tab().await;
    // 1. Domains.
    demo.verify_acme(&tab, &csrf, &org).await;

    // 2. Connection: Custom OpenID Connect, with the three values.
    let conn = demo.choose_provider(&tab, &csrf, &org, "custom_oidc").await;
    let res = tab_post(
        &demo,
        &tab,
        &format!("/security/connection/{conn}/oidc"),
        &[
            ("csrf_token", &csrf),
            ("discovery_url", &discovery),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let c = demo
        .api(reqwest::Method::GET, &format!("/connections/{conn}"), None)
        .await;
    assert_eq!(c["oidc"]["issuer"], g("/demo-idp/oidc"), "{c}");
    let callback = g(&format!("/oidc/{conn}/callback"));

    // 3. Test: the popup, as Alice.
    let (popup, authorize) = demo.start_test(&tab).await;
    assert!(
        authorize.starts_with(&g("/demo-idp/oidc/authorize?")),
        "{authorize}"
    );
    let page = picker(&popup, &authorize).await;
    let res = popup
        .post(g("/demo-idp/oidc/authorize/continue"))
        .form(&oidc_choice(&page, "alice@acme.test"))
        .send()
        .await
        .expect("continue");
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with(&format!("{callback}?")), "{back}");
    let res = popup.get(&back).send().await.expect("callback");
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("html");
    assert!(body.contains("data-test-result=\"passed\""), "{body}");

    // 4. Activate.
    demo.activate(&tab, &csrf, &conn).await;

    // 5. The host page's "Sign in with SSO", as alice@acme.test.
    let person = browser();
    let at_idp = demo.host_login(&person, "alice@acme.test").await;
    assert!(
        at_idp.starts_with(&g("/demo-idp/oidc/authorize?")),
        "{at_idp}"
    );
    let page = picker(&person, &at_idp).await;
    let res = person
        .post(g("/demo-idp/oidc/authorize/continue"))
        .form(&oidc_choice(&page, "alice@acme.test"))
        .send()
        .await
        .expect("continue");
    let res = person
        .get(location(&res))
        .send()
        .await
        .expect("gatehouse callback");
    assert_eq!(res.status(), 303);
    let host_callback = location(&res);
    assert!(
        host_callback.starts_with(&h("/demo/callback?")),
        "{host_callback}"
    );
    let res = person.get(&host_callback).send().await.expect("callback");
    assert_eq!(location(&res), "/demo#sign-in");
    let html = person
        .get(h("/demo"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("Signed in as <strong>Alice Liddell</strong> (alice@acme.test)"),
        "{html}"
    );
    assert!(html.contains("engineering, admins"));
    assert!(html.contains("custom_oidc"), "the idp claim");

    // Mallory is refused; the host page says why.
    let res = person
        .post(h("/demo/logout"))
        .header("origin", &demo.host)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 303);
    let at_idp = demo.host_login(&person, "alice@acme.test").await;
    let page = picker(&person, &at_idp).await;
    let res = person
        .post(g("/demo-idp/oidc/authorize/continue"))
        .form(&oidc_choice(&page, "mallory@example.net"))
        .send()
        .await
        .expect("continue");
    let res = person.get(location(&res)).send().await.expect("callback");
    let res = person.get(location(&res)).send().await.expect("host");
    assert_eq!(
        location(&res),
        "/demo?error=oidc_email_address_domain_mismatch#sign-in"
    );
}
