//! The demo's built-in identity provider, against a real Gatehouse: its
//! metadata through Gatehouse's parser and fetcher, a test sign-in and a
//! host sign-in through its pages, the domain check, and tampering. Then
//! the real `gatehouse demo` binary, walked through end to end the way the
//! sample host page tells a newcomer to. The OpenID Connect half has its
//! own tests in `demo_idp/oidc.rs`, with the helpers here.

use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gatehouse::config::SecretKey;
use gatehouse::demo_idp::DemoIdp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{HOST_CALLBACK, TestApp, admin_of, error_code, free_port, on_both};

/// The OpenID Connect half.
mod oidc;

/// The demo identity provider on its own port, answering `app`'s ACS URLs.
async fn spawn_idp(app: &TestApp) -> DemoIdp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let idp = DemoIdp::generate(&origin, &app.address, &SecretKey::generate()).expect("idp");
    let mounted = idp.clone();
    let server = HttpServer::new(move || {
        let idp = mounted.clone();
        App::new().configure(move |cfg| idp.configure(cfg))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    idp
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("a redirect, not {}", res.status()))
        .to_string()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `<… name="NAME" value="…">` in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(unescape(&html[start..start + end]))
}

/// The fields the demo IdP's choice page posts back, for `user`.
fn choice(html: &str, user: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        "request_id",
        "acs_url",
        "audience",
        "relay_state",
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

fn set(fields: &mut [(String, String)], name: &str, value: &str) {
    for (n, v) in fields.iter_mut() {
        if n == name {
            *v = value.to_string();
        }
    }
}

/// `mac` with its first character changed (always to another one).
fn tampered(mac: &str) -> String {
    let first = if mac.starts_with('A') { 'B' } else { 'A' };
    format!("{first}{}", mac.get(1..).unwrap_or_default())
}

/// The auto-post page: where it posts, the SAMLResponse and RelayState.
fn auto_post(html: &str) -> (String, String, String) {
    let marker = "<form method=\"post\" action=\"";
    let start = html.find(marker).expect("a form") + marker.len();
    let end = html[start..].find('"').expect("action end");
    assert!(html.contains("data-autosubmit"), "{html}");
    (
        unescape(&html[start..start + end]),
        hidden(html, "SAMLResponse").expect("SAMLResponse"),
        hidden(html, "RelayState").expect("RelayState"),
    )
}

/// At the demo IdP's SSO URL: the choice page, checked.
async fn choice_page(browser: &reqwest::Client, sso: &str) -> String {
    let res = browser.get(sso).send().await.expect("sso");
    assert_eq!(res.status(), 200);
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
    html
}

/// Chooses `user` on the choice page and follows the auto-post to the ACS,
/// as the browser's script does. Answers the ACS's response.
async fn continue_as(
    browser: &reqwest::Client,
    idp: &DemoIdp,
    page: &str,
    user: &str,
    acs_url: &str,
) -> reqwest::Response {
    let res = browser
        .post(format!("{}/demo-idp/saml/sso/continue", origin(idp)))
        .form(&choice(page, user))
        .send()
        .await
        .expect("continue");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    let (action, response, relay) = auto_post(&html);
    assert_eq!(action, acs_url, "posts to the ACS of the request");
    let xml = String::from_utf8(STANDARD.decode(&response).expect("base64")).expect("utf-8");
    assert!(xml.contains(&format!("<saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">{user}</saml:NameID>")));
    browser
        .post(&action)
        .form(&[("SAMLResponse", response), ("RelayState", relay)])
        .send()
        .await
        .expect("acs")
}

fn origin(idp: &DemoIdp) -> String {
    idp.sso_url().replace("/demo-idp/saml/sso", "")
}

/// Acme with acme.test verified and a Custom SAML connection made from the
/// demo IdP's metadata URL, through the host API.
async fn acme(app: &TestApp, idp: &DemoIdp) -> (String, Value) {
    let org = app.verified_org("Acme", "acme.test").await;
    let res = app
        .api_post(
            &format!("/organizations/{org}/connections"),
            &json!({ "provider": "custom_saml", "saml": { "metadata_url": idp.metadata_url() } }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let conn: Value = res.json().await.expect("json");
    assert_eq!(conn["idp"]["entity_id"], idp.entity_id());
    assert_eq!(conn["idp"]["sso_url"], idp.sso_url());
    assert_eq!(conn["idp"]["binding"], "redirect");
    assert_eq!(
        conn["idp"]["certificates"][0]["fingerprint_sha256"],
        idp.certificate().fingerprint_sha256
    );
    (org, conn)
}

async fn activate(app: &TestApp, conn: &Value, body: Value) -> reqwest::Response {
    app.api_post(
        &format!("/connections/{}/activate", conn["id"].as_str().expect("id")),
        &body,
    )
    .await
}

/// The host's start of a sign-in: its client, and the authorize URL for
/// `email` with state, nonce and PKCE; answers the URL and the verifier.
async fn host_authorize(app: &TestApp, email: &str) -> (String, String, String, String) {
    let c = app.oauth_client().await;
    let (id, secret) = (
        c["client_id"].as_str().expect("id").to_string(),
        c["client_secret"].as_str().expect("secret").to_string(),
    );
    let verifier = URL_SAFE_NO_PAD.encode([9u8; 32]);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(&app.url("/oauth/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &id)
        .append_pair("redirect_uri", HOST_CALLBACK)
        .append_pair("scope", "openid email profile")
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("login_hint", email);
    (url.to_string(), id, secret, verifier)
}

on_both!(its_metadata_is_what_gatehouse_reads_and_fetches, |app| {
    let idp = spawn_idp(&app).await;
    let res = reqwest::get(idp.metadata_url()).await.expect("metadata");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("application/samlmetadata+xml")
    );
    let xml = res.text().await.expect("xml");
    let parsed = gatehouse::saml::metadata::parse(&xml).expect("Gatehouse's parser reads it");
    assert_eq!(parsed.entity_id, idp.entity_id());
    assert!(parsed.entity_id.ends_with("/demo-idp/saml/metadata"));
    assert_eq!(parsed.sso_url, idp.sso_url());
    assert_eq!(parsed.certificates, vec![idp.certificate().clone()]);
    // And through the host API, by URL, as an admin would paste it.
    acme(&app, &idp).await;
});

on_both!(
    a_test_sign_in_as_alice_passes_then_the_host_signs_her_in,
    |app| {
        let idp = spawn_idp(&app).await;
        let (org, conn) = acme(&app, &idp).await;
        let acs = conn["sp"]["acs_url"].as_str().expect("acs").to_string();

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
        let sso = location(&res);
        assert!(
            sso.starts_with(&format!("{}?SAMLRequest=", idp.sso_url())),
            "{sso}"
        );
        let page = choice_page(&popup, &sso).await;
        assert!(page.contains(conn["sp"]["entity_id"].as_str().expect("entity")));
        let res = continue_as(&popup, &idp, &page, "alice@acme.test", &acs).await;
        assert_eq!(res.status(), 200);
        let body = res.text().await.expect("html");
        assert!(
            body.contains("data-test-result=\"passed\"")
                && body.contains("Test passed: signed in as alice@acme.test"),
            "{body}"
        );

        // The test counts: activation needs no skip.
        let res = activate(&app, &conn, json!({})).await;
        assert_eq!(res.status(), 200);
        let active: Value = res.json().await.expect("json");
        assert_eq!(active["state"], "active");

        // The host signs Alice in over OpenID Connect, through the demo IdP.
        let (authorize, client_id, secret, verifier) =
            host_authorize(&app, "alice@acme.test").await;
        let person = browser();
        let res = person.get(&authorize).send().await.expect("authorize");
        assert_eq!(res.status(), 303);
        let page = choice_page(&person, &location(&res)).await;
        let res = continue_as(&person, &idp, &page, "alice@acme.test", &acs).await;
        assert_eq!(res.status(), 303);
        let back = location(&res);
        assert!(back.starts_with(HOST_CALLBACK), "{back}");
        let q = query(&back);
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
        let payload = tokens["id_token"]
            .as_str()
            .expect("id token")
            .split('.')
            .nth(1)
            .expect("payload")
            .to_string();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        assert_eq!(claims["email"], "alice@acme.test");
        assert_eq!(claims["given_name"], "Alice");
        assert_eq!(claims["family_name"], "Liddell");
        assert_eq!(claims["groups"], json!(["engineering", "admins"]));
        assert_eq!(claims["org_id"], org);
        assert_eq!(claims["idp"], "custom_saml");
        assert_eq!(claims["nonce"], "n-1");
        let events = app
            .events(&format!("organization_id={org}&action=sign_in.succeeded"))
            .await;
        assert_eq!(events.len(), 1);
    }
);

on_both!(a_person_at_another_domain_is_refused, |app| {
    let idp = spawn_idp(&app).await;
    let (org, conn) = acme(&app, &idp).await;
    let acs = conn["sp"]["acs_url"].as_str().expect("acs").to_string();
    assert_eq!(
        activate(&app, &conn, json!({ "skip_test": true }))
            .await
            .status(),
        200
    );
    // Alice's email starts the sign-in; at the identity provider,
    // Mallory (example.net) signs in instead.
    let (authorize, ..) = host_authorize(&app, "alice@acme.test").await;
    let person = browser();
    let res = person.get(&authorize).send().await.expect("authorize");
    let page = choice_page(&person, &location(&res)).await;
    let res = continue_as(&person, &idp, &page, "mallory@example.net", &acs).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with(HOST_CALLBACK), "{back}");
    let q = query(&back);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "saml_email_address_domain_mismatch");
    assert_eq!(q["state"], "st-1");
    assert!(!q.contains_key("code"));
    let events = app
        .events(&format!("organization_id={org}&action=sign_in.failed"))
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["data"]["error_code"],
        "saml_email_address_domain_mismatch"
    );
    let users = app
        .text_column("SELECT email FROM users WHERE email = 'mallory@example.net'")
        .await;
    assert!(users.is_empty(), "nobody was provisioned");
});

on_both!(a_tampered_choice_or_a_foreign_acs_is_refused, |app| {
    let idp = spawn_idp(&app).await;
    let (_, conn) = acme(&app, &idp).await;
    let acs = conn["sp"]["acs_url"].as_str().expect("acs").to_string();
    assert_eq!(
        activate(&app, &conn, json!({ "skip_test": true }))
            .await
            .status(),
        200
    );
    // Another organization's connection: its ACS is also this Gatehouse's.
    let other = app.create_org("Globex", true).await;
    let res = app
        .api_post(
            &format!(
                "/organizations/{}/connections",
                other["id"].as_str().expect("id")
            ),
            &json!({ "provider": "custom_saml", "saml": { "metadata_url": idp.metadata_url() } }),
        )
        .await;
    let other_conn: Value = res.json().await.expect("json");

    let (authorize, ..) = host_authorize(&app, "alice@acme.test").await;
    let person = browser();
    let res = person.get(&authorize).send().await.expect("authorize");
    let sso = location(&res);
    let page = choice_page(&person, &sso).await;
    let good = choice(&page, "alice@acme.test");
    let continue_url = format!("{}/demo-idp/saml/sso/continue", origin(&idp));
    let refused = |fields: Vec<(String, String)>| {
        let (person, url) = (person.clone(), continue_url.clone());
        async move {
            let res = person.post(url).form(&fields).send().await.expect("post");
            let status = res.status().as_u16();
            let html = res.text().await.expect("html");
            assert!(!html.contains("SAMLResponse"), "nothing signed: {html}");
            (status, html)
        }
    };

    // A changed MAC.
    let mut fields = good.clone();
    let mac = hidden(&page, "mac").expect("mac");
    set(&mut fields, "mac", &tampered(&mac));
    let (status, html) = refused(fields).await;
    assert_eq!(status, 400);
    assert!(html.contains("fields were changed"), "{html}");

    // The same MAC, sent on to the other connection's ACS and audience.
    let mut fields = good.clone();
    set(
        &mut fields,
        "acs_url",
        other_conn["sp"]["acs_url"].as_str().expect("acs"),
    );
    set(
        &mut fields,
        "audience",
        other_conn["sp"]["entity_id"].as_str().expect("id"),
    );
    assert_eq!(refused(fields).await.0, 400);

    // Another request ID (an answer to a request it was not shown).
    let mut fields = good.clone();
    set(&mut fields, "request_id", "_gh0000");
    assert_eq!(refused(fields).await.0, 400);

    // Someone who is not a demo person.
    let mut fields = good.clone();
    set(&mut fields, "user", "eve@acme.test");
    assert_eq!(refused(fields).await.0, 400);

    // An AuthnRequest naming an ACS outside this Gatehouse.
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
            .write_all(
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x1" Version="2.0" AssertionConsumerServiceURL="https://evil.example/saml/conn_1/acs"><saml:Issuer>https://evil.example/saml/conn_1/metadata</saml:Issuer></samlp:AuthnRequest>"#
                    .as_bytes(),
            )
            .expect("deflate");
    let mut url = url::Url::parse(&idp.sso_url()).expect("url");
    url.query_pairs_mut().append_pair(
        "SAMLRequest",
        &STANDARD.encode(encoder.finish().expect("deflate")),
    );
    let res = person.get(url.as_str()).send().await.expect("sso");
    assert_eq!(res.status(), 400);
    let html = res.text().await.expect("html");
    assert!(html.contains("only answers this Gatehouse"), "{html}");
    assert!(!html.contains("name=\"mac\""));

    // The untouched choice still signs Alice in: the refusals were the
    // tampering's.
    let res = continue_as(&person, &idp, &page, "alice@acme.test", &acs).await;
    assert_eq!(res.status(), 303);
    assert!(query(&location(&res)).contains_key("code"));
    assert_eq!(error_code(&res), None);
});

/// `gatehouse demo`, killed when dropped.
pub(crate) struct Demo {
    child: Child,
    /// Everything it printed up to "Press Ctrl+C".
    printed: String,
    pub(crate) gatehouse: String,
    pub(crate) host: String,
    api_key: String,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    /// Starts the binary on free ports and waits for what it prints.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, host_port) = (free_port(), free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .args(["demo", "--database"])
            .arg(dir.path().join("demo.db"))
            .args(["--port", &port.to_string()])
            .args(["--host-port", &host_port.to_string()])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the demo");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !printed.contains("Press Ctrl+C") {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    printed.push_str(&line);
                    printed.push('\n');
                }
                Err(_) => panic!("the demo did not start: {printed}"),
            }
        }
        let api_key = printed
            .lines()
            .find(|l| l.contains("Demo API key"))
            .and_then(|l| l.split_whitespace().last())
            .expect("the API key is printed")
            .to_string();
        let gatehouse = format!("http://127.0.0.1:{port}");
        let host = format!("http://localhost:{host_port}");
        assert!(printed.contains(&format!("{host}/demo")), "{printed}");
        assert!(
            printed.contains(&format!("{gatehouse}/demo-idp/saml/metadata")),
            "{printed}"
        );
        Demo {
            child,
            printed,
            gatehouse,
            host,
            api_key,
            _dir: dir,
        }
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}/api/v1{path}", self.gatehouse))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("api");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.expect("json")
    }
}

/// A form post from Gatehouse's own pages (the tab checks the Origin).
async fn tab_post(
    demo: &Demo,
    tab: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    tab.post(format!("{}{path}", demo.gatehouse))
        .header("origin", &demo.gatehouse)
        .form(fields)
        .send()
        .await
        .expect("post")
}

impl Demo {
    fn g(&self, path: &str) -> String {
        format!("{}{path}", self.gatehouse)
    }

    fn h(&self, path: &str) -> String {
        format!("{}{path}", self.host)
    }

    /// The IT admin in Acme's Security tab, opened by setup link: the
    /// tab's browser, its CSRF token and Acme's ID.
    async fn admin_tab(&self) -> (reqwest::Client, String, String) {
        let orgs = self
            .api(
                reqwest::Method::GET,
                "/organizations?external_id=demo-acme",
                None,
            )
            .await;
        let org = orgs["data"][0]["id"].as_str().expect("Acme").to_string();
        let link = self
            .api(
                reqwest::Method::POST,
                &format!("/organizations/{org}/portal_links"),
                Some(json!({})),
            )
            .await;
        let tab = browser();
        let res = tab
            .get(link["url"].as_str().expect("url"))
            .send()
            .await
            .expect("link");
        assert_eq!(res.status(), 303);
        let html = tab
            .get(self.g("/security"))
            .send()
            .await
            .expect("tab")
            .text()
            .await
            .expect("html");
        let csrf = crate::helpers::meta(&html, "gatehouse-csrf").expect("csrf");
        (tab, csrf, org)
    }

    /// Step 1, Domains: claim acme.test in the tab, publish its record
    /// from the host page, verify in the tab.
    async fn verify_acme(&self, tab: &reqwest::Client, csrf: &str, org: &str) {
        let res = tab_post(
            self,
            tab,
            "/security/domains",
            &[
                ("csrf_token", csrf),
                ("domain", "acme.test"),
                ("purpose", "sso"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303);
        let domains = self
            .api(
                reqwest::Method::GET,
                &format!("/organizations/{org}/domains"),
                None,
            )
            .await;
        let domain = domains["data"][0]["id"]
            .as_str()
            .expect("domain")
            .to_string();
        let host = browser();
        let res = host
            .post(self.h("/demo/dns/publish"))
            .header("origin", &self.host)
            .send()
            .await
            .expect("publish");
        assert_eq!(res.status(), 303);
        let html = host
            .get(self.h(&location(&res)))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        assert!(html.contains("Published 1 TXT record"), "{html}");
        assert!(html.contains("_gatehouse-challenge.acme.test"));
        let res = host
            .post(self.h("/demo/dns/publish"))
            .header("origin", "https://elsewhere.example")
            .send()
            .await
            .expect("publish");
        assert_eq!(res.status(), 403, "only from the host page itself");
        let res = tab_post(
            self,
            tab,
            &format!("/security/domains/{domain}/verify"),
            &[("csrf_token", csrf)],
        )
        .await;
        assert!(res.status().is_success() || res.status() == 303);
        let d = self
            .api(reqwest::Method::GET, &format!("/domains/{domain}"), None)
            .await;
        assert_eq!(d["status"], "verified", "{d}");
    }

    /// Picks the provider in the tab; answers the new connection's ID.
    async fn choose_provider(
        &self,
        tab: &reqwest::Client,
        csrf: &str,
        org: &str,
        provider: &str,
    ) -> String {
        let res = tab_post(
            self,
            tab,
            "/security/connection",
            &[("csrf_token", csrf), ("provider", provider)],
        )
        .await;
        assert_eq!(res.status(), 303);
        let conns = self
            .api(
                reqwest::Method::GET,
                &format!("/organizations/{org}/connections"),
                None,
            )
            .await;
        conns["data"][0]["id"]
            .as_str()
            .expect("connection")
            .to_string()
    }

    /// Step 3: starts the test sign-in's popup; answers its browser and
    /// where Gatehouse sent it (the identity provider).
    async fn start_test(&self, tab: &reqwest::Client) -> (reqwest::Client, String) {
        let html = tab
            .get(self.g("/security/test"))
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
            .get(self.g(&unescape(&html[at..at + end])))
            .send()
            .await
            .expect("start");
        assert_eq!(res.status(), 303);
        let to = location(&res);
        (popup, to)
    }

    /// Step 4: activates in the tab.
    async fn activate(&self, tab: &reqwest::Client, csrf: &str, conn: &str) {
        let res = tab_post(self, tab, "/security/activate", &[("csrf_token", csrf)]).await;
        assert_eq!(res.status(), 303);
        let c = self
            .api(reqwest::Method::GET, &format!("/connections/{conn}"), None)
            .await;
        assert_eq!(c["state"], "active");
    }

    /// The host page's "Sign in with SSO" as `email`, through Gatehouse's
    /// authorization endpoint: answers where Gatehouse sends the person.
    async fn host_login(&self, person: &reqwest::Client, email: &str) -> String {
        let res = person
            .post(self.h("/demo/login"))
            .header("origin", &self.host)
            .form(&[("email", email)])
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), 303);
        let authorize = location(&res);
        assert!(authorize.starts_with(&self.g("/oauth/authorize?")));
        let res = person.get(&authorize).send().await.expect("authorize");
        assert_eq!(res.status(), 303);
        location(&res)
    }
}

#[tokio::test]
async fn the_demo_walkthrough_works_end_to_end() {
    let demo = Demo::start();
    let g = |path: &str| demo.g(path);
    let h = |path: &str| demo.h(path);

    // The sample host page shows the walkthrough with the metadata URL.
    let page = reqwest::get(h("/demo")).await.expect("host page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Demo walkthrough"));
    assert!(html.contains(&g("/demo-idp/saml/metadata")));
    assert!(html.contains("Publish my TXT records") && html.contains("Sign in with SSO"));

    // The IT admin, in the Security tab (by setup link).
    let (tab, csrf, org) = demo.admin_tab().await;

    // 1. Domains: claim acme.test, publish from the host page, verify.
    demo.verify_acme(&tab, &csrf, &org).await;

    // 2. Connection: Custom SAML from the demo IdP's metadata URL.
    let conn = demo.choose_provider(&tab, &csrf, &org, "custom_saml").await;
    let res = tab_post(
        &demo,
        &tab,
        &format!("/security/connection/{conn}/idp"),
        &[
            ("csrf_token", &csrf),
            ("method", "url"),
            ("metadata_url", &g("/demo-idp/saml/metadata")),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let c = demo
        .api(reqwest::Method::GET, &format!("/connections/{conn}"), None)
        .await;
    assert_eq!(c["idp"]["entity_id"], g("/demo-idp/saml/metadata"));
    let acs = c["sp"]["acs_url"].as_str().expect("acs").to_string();

    // 3. Test: the popup, as Alice.
    let (popup, sso) = demo.start_test(&tab).await;
    assert!(sso.starts_with(&g("/demo-idp/saml/sso?")), "{sso}");
    let page = choice_page(&popup, &sso).await;
    let res = popup
        .post(g("/demo-idp/saml/sso/continue"))
        .form(&choice(&page, "alice@acme.test"))
        .send()
        .await
        .expect("continue");
    let (action, response, relay) = auto_post(&res.text().await.expect("html"));
    assert_eq!(action, acs);
    let res = popup
        .post(&action)
        .form(&[("SAMLResponse", response), ("RelayState", relay)])
        .send()
        .await
        .expect("acs");
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .expect("html")
            .contains("data-test-result=\"passed\"")
    );

    // 4. Activate, in the tab.
    demo.activate(&tab, &csrf, &conn).await;

    // 5. The host page's "Sign in with SSO", as alice@acme.test.
    let person = browser();
    let res = person
        .post(h("/demo/login"))
        .header("origin", &demo.host)
        .form(&[("email", "alice@acme.test")])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let authorize = location(&res);
    let q = query(&authorize);
    assert!(authorize.starts_with(&g("/oauth/authorize?")));
    assert_eq!(q["login_hint"], "alice@acme.test");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["state"].len() > 20 && q["nonce"].len() > 20);
    let res = person.get(&authorize).send().await.expect("authorize");
    let page = choice_page(&person, &location(&res)).await;
    let res = person
        .post(g("/demo-idp/saml/sso/continue"))
        .form(&choice(&page, "alice@acme.test"))
        .send()
        .await
        .expect("continue");
    let (action, response, relay) = auto_post(&res.text().await.expect("html"));
    let res = person
        .post(&action)
        .form(&[("SAMLResponse", response), ("RelayState", relay)])
        .send()
        .await
        .expect("acs");
    assert_eq!(res.status(), 303);
    let callback = location(&res);
    assert!(callback.starts_with(&h("/demo/callback?")), "{callback}");
    let res = person.get(&callback).send().await.expect("callback");
    assert_eq!(res.status(), 303);
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
    assert!(html.contains("<dd>Acme</dd>") && html.contains("engineering, admins"));
    assert!(
        html.contains("<dd>member</dd>"),
        "the role, from the org_role claim"
    );
    assert!(
        html.contains("org_role") && html.contains("connection_id"),
        "the raw claims"
    );

    // A replayed callback (state already used) is refused by the host.
    let res = person.get(&callback).send().await.expect("callback");
    assert_eq!(location(&res), "/demo?error=login_expired#sign-in");

    // Mallory, at another domain, is refused; the host page says why.
    let res = person
        .post(h("/demo/logout"))
        .header("origin", &demo.host)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 303);
    let sso = demo.host_login(&person, "alice@acme.test").await;
    let page = choice_page(&person, &sso).await;
    let res = person
        .post(g("/demo-idp/saml/sso/continue"))
        .form(&choice(&page, "mallory@example.net"))
        .send()
        .await
        .expect("continue");
    let (action, response, relay) = auto_post(&res.text().await.expect("html"));
    let res = person
        .post(&action)
        .form(&[("SAMLResponse", response), ("RelayState", relay)])
        .send()
        .await
        .expect("acs");
    let res = person.get(location(&res)).send().await.expect("callback");
    assert_eq!(
        location(&res),
        "/demo?error=saml_email_address_domain_mismatch#sign-in"
    );
    let html = person
        .get(h("/demo?error=saml_email_address_domain_mismatch"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("/errors/saml_email_address_domain_mismatch"));
    assert!(
        !html.contains("Signed in as"),
        "signed out, and not signed in"
    );
}
