//! What the browser meets besides Gatehouse: the sample host page, served
//! from another origin, which embeds the Security tab and signs people in
//! over OpenID Connect; and a SAML identity provider's sign-in pages, whose
//! responses are built and signed by the independent Python signer.

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::sync::Mutex;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::helpers::{API_KEY, TestIdp};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://127.0.0.1:{}", l.local_addr().expect("addr").port());
    (l, origin)
}

// ------------------------------------------------------------ SAML IdP --

/// A SAML identity provider with a sign-in page (HTTP-Redirect in,
/// HTTP-POST out).
pub struct SamlIdp {
    pub origin: String,
}

impl SamlIdp {
    pub fn metadata_url(&self) -> String {
        format!("{}/idp/metadata", self.origin)
    }

    pub fn start() -> Self {
        let (l, origin) = listener();
        let state = web::Data::new(origin.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/idp/metadata", web::get().to(idp_metadata))
                .route("/idp/sso", web::get().to(idp_sign_in_page))
                .route("/idp/sso", web::post().to(idp_continue))
        })
        .workers(1)
        .listen(l)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Self { origin }
    }
}

fn idp_entity(origin: &str) -> String {
    format!("{origin}/idp/metadata")
}

async fn idp_metadata(origin: web::Data<String>) -> HttpResponse {
    let cert: String = TestIdp::shared()
        .cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let xml = format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{origin}/idp/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#,
        entity = idp_entity(&origin),
        origin = origin.as_str(),
    );
    HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(xml)
}

#[derive(Deserialize)]
struct SsoQuery {
    #[serde(rename = "SAMLRequest")]
    saml_request: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn idp_sign_in_page(q: web::Query<SsoQuery>) -> HttpResponse {
    let deflated = STANDARD.decode(&q.saml_request).unwrap_or_default();
    let mut xml = String::new();
    let _ = flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml);
    let Ok(doc) = roxmltree::Document::parse(&xml) else {
        return HttpResponse::BadRequest().body("not an AuthnRequest");
    };
    let root = doc.root_element();
    let id = root.attribute("ID").unwrap_or_default();
    let acs = root
        .attribute("AssertionConsumerServiceURL")
        .unwrap_or_default();
    let issuer = root
        .children()
        .find(|n| n.tag_name().name() == "Issuer")
        .and_then(|n| n.text())
        .unwrap_or_default();
    html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP: sign in</title></head>
<body><main><h1>Test identity provider</h1>
<form method="post" action="/idp/sso">
<input type="hidden" name="request_id" value="{id}">
<input type="hidden" name="acs" value="{acs}">
<input type="hidden" name="audience" value="{issuer}">
<input type="hidden" name="relay_state" value="{relay}">
<label for="email">Email</label> <input id="email" name="email" value="alice@acme.test">
<button type="submit">Sign in</button>
</form></main></body></html>"#,
        id = escape(id),
        acs = escape(acs),
        issuer = escape(issuer),
        relay = escape(q.relay_state.as_deref().unwrap_or_default()),
    ))
}

#[derive(Deserialize)]
struct Continue {
    request_id: String,
    acs: String,
    audience: String,
    relay_state: String,
    email: String,
}

async fn idp_continue(origin: web::Data<String>, form: web::Form<Continue>) -> HttpResponse {
    let f = form.into_inner();
    let name = f.email.split('@').next().unwrap_or_default().to_string();
    let params = json!({
        "issuer": idp_entity(&origin), "destination": f.acs, "audience": f.audience,
        "in_response_to": f.request_id, "name_id": f.email,
        "attributes": { "email": [f.email], "firstName": [capitalize(&name)], "lastName": ["Liddell"], "groups": ["engineering"] },
    });
    let response = web::block(move || TestIdp::shared().response(&params))
        .await
        .expect("the signer ran");
    // Scripts post the form at once; without them, the button does.
    html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP: signing you in</title></head>
<body onload="document.forms[0].submit()"><main><h1>Signing you in</h1>
<form method="post" action="{acs}">
<input type="hidden" name="SAMLResponse" value="{response}">
<input type="hidden" name="RelayState" value="{relay}">
<button type="submit">Continue</button>
</form></main></body></html>"#,
        acs = escape(&f.acs),
        relay = escape(&f.relay_state),
    ))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

// ----------------------------------------------------------- host page --

/// The sample host: a product page that embeds the tab (minting a fresh
/// embed token for every page view, through the host API) and signs people
/// in with "SSO" through Gatehouse's OpenID provider (code flow with PKCE,
/// the ID token checked against Gatehouse's JWKS).
pub struct HostPage {
    pub origin: String,
}

pub struct HostState {
    origin: String,
    gatehouse: String,
    client_id: String,
    client_secret: String,
    org_id: String,
    /// state → (nonce, PKCE verifier)
    pending: Mutex<HashMap<String, (String, String)>>,
}

impl HostPage {
    /// Binds the host's origin first: the embed token is minted for it.
    pub fn bind() -> (TcpListener, String) {
        listener()
    }

    pub fn start(
        l: TcpListener,
        origin: String,
        gatehouse: &str,
        client: &Value,
        org_id: &str,
    ) -> Self {
        let state = web::Data::new(HostState {
            origin: origin.clone(),
            gatehouse: gatehouse.to_string(),
            client_id: client["client_id"].as_str().expect("client id").into(),
            client_secret: client["client_secret"].as_str().expect("secret").into(),
            org_id: org_id.to_string(),
            pending: Mutex::default(),
        });
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/", web::get().to(host_page))
                .route("/login", web::get().to(host_login))
                .route("/callback", web::get().to(host_callback))
        })
        .workers(1)
        .listen(l)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Self { origin }
    }

    pub fn callback_url(origin: &str) -> String {
        format!("{origin}/callback")
    }
}

async fn host_page(state: web::Data<HostState>) -> HttpResponse {
    let minted: Value = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/organizations/{}/embed_tokens",
            state.gatehouse, state.org_id
        ))
        .bearer_auth(API_KEY)
        .json(&json!({ "parent_origin": state.origin }))
        .send()
        .await
        .expect("embed token")
        .json()
        .await
        .expect("embed token json");
    let embed = minted["url"].as_str().expect("embed URL").to_string();
    let gatehouse = &state.gatehouse;
    html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme CRM: settings</title>
<style>body{{font-family:sans-serif;margin:0;background:#f4f4f6}} header{{background:#222;color:#fff;padding:12px 24px}}
main{{max-width:1000px;margin:0 auto;padding:16px}} iframe{{width:100%;border:1px solid #ccc;border-radius:8px;background:#fff;height:600px}}</style></head>
<body><header><strong>Acme CRM</strong></header><main>
<section aria-labelledby="sso"><h1 id="sso">Sign in with SSO</h1>
<form method="get" action="/login"><label for="sso-email">Work email</label>
<input id="sso-email" name="email" value=""> <button type="submit">Continue with SSO</button></form></section>
<section aria-labelledby="settings"><h2 id="settings">Settings: security</h2>
<iframe id="gatehouse" title="Single sign-on settings" src="{embed}"></iframe></section>
</main>
<script>
window.gatehouseEvents = [];
window.addEventListener("message", function (e) {{
  if (e.origin !== "{gatehouse}") return;
  window.gatehouseEvents.push(e.data);
  if (e.data && e.data.type === "gatehouse:height") {{
    document.getElementById("gatehouse").style.height = e.data.height + "px";
  }}
}});
</script></body></html>"#,
        embed = escape(&embed),
    ))
}

#[derive(Deserialize)]
struct LoginQuery {
    email: String,
}

fn random() -> String {
    let mut b = [0u8; 24];
    openssl::rand::rand_bytes(&mut b).expect("random");
    URL_SAFE_NO_PAD.encode(b)
}

async fn host_login(state: web::Data<HostState>, q: web::Query<LoginQuery>) -> HttpResponse {
    let (st, nonce, verifier) = (random(), random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
    state
        .pending
        .lock()
        .expect("lock")
        .insert(st.clone(), (nonce.clone(), verifier));
    let mut url =
        url::Url::parse(&format!("{}/oauth/authorize", state.gatehouse)).expect("authorize");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &state.client_id)
        .append_pair("redirect_uri", &HostPage::callback_url(&state.origin))
        .append_pair("scope", "openid email profile")
        .append_pair("state", &st)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("login_hint", &q.email);
    HttpResponse::SeeOther()
        .insert_header(("Location", url.to_string()))
        .finish()
}

async fn host_callback(
    state: web::Data<HostState>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    if let Some(error) = q.get("error") {
        return html(format!(
            "<!doctype html><html lang=\"en\"><head><title>Acme CRM</title></head><body><main><h1>Sign-in failed</h1><p id=\"error\">{} {}</p></main></body></html>",
            escape(error),
            escape(q.get("error_description").map_or("", String::as_str))
        ));
    }
    let pending = q
        .get("state")
        .and_then(|s| state.pending.lock().expect("lock").remove(s));
    let (Some((nonce, verifier)), Some(code)) = (pending, q.get("code")) else {
        return HttpResponse::BadRequest().body("unknown state");
    };
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", state.gatehouse))
        .basic_auth(&state.client_id, Some(&state.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", &HostPage::callback_url(&state.origin)),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let id_token = tokens["id_token"].as_str().unwrap_or_default();
    let claims = verify_id_token(&state, id_token, &nonce).await;
    html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme CRM: signed in</title></head>
<body><main><h1>Welcome, {name}</h1>
<p>Signed in as <strong id="email">{email}</strong> in organization <code id="org">{org}</code> with the role <code id="role">{role}</code>.</p>
<pre id="claims">{claims}</pre></main></body></html>"#,
        name = escape(claims["given_name"].as_str().unwrap_or_default()),
        email = escape(claims["email"].as_str().unwrap_or_default()),
        org = escape(claims["org_id"].as_str().unwrap_or_default()),
        role = escape(claims["org_role"].as_str().unwrap_or_default()),
        claims = escape(&serde_json::to_string_pretty(&claims).unwrap_or_default()),
    ))
}

/// The ID token's signature against Gatehouse's JWKS, its issuer, audience
/// and nonce, as any client library checks them.
async fn verify_id_token(state: &HostState, id_token: &str, nonce: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).expect("JWT header");
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(format!("{}/oauth/jwks", state.gatehouse))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("the token's key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&state.client_id]);
    validation.set_issuer(&[&state.gatehouse]);
    let data = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("the ID token verifies against Gatehouse's JWKS");
    assert_eq!(data.claims["nonce"], nonce, "the nonce comes back");
    data.claims
}
