//! The OpenID Connect half of the demo identity provider: a real OpenID
//! Provider under `/demo-idp/oidc`, for Gatehouse's "Custom OpenID
//! Connect" (or Okta) connections.
//!
//! - Discovery (`/.well-known/openid-configuration`) and the keys (JWKS):
//!   the same RSA key pair the SAML half signs with.
//! - Authorization: the code flow only, PKCE with S256 required, and only
//!   for the OIDC callback URLs of its own Gatehouse. The visitor picks a
//!   demo person on a page whose fields carry a MAC, as the SAML half's.
//!   The answer carries `iss` (RFC 9207).
//! - Token: one fixed client (`gatehouse-demo`) whose secret is derived
//!   from the demo's secret key, by `client_secret_basic` or
//!   `client_secret_post`; codes are single use, short-lived and bound to
//!   their PKCE challenge and redirect URI. ID tokens are RS256.
//! - Userinfo, with the access token.
//!
//! Codes and access tokens live in memory (`Grants`): the demo is one
//! instance, and a restart only cuts the sign-ins under way.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::oidc_token::{self, Grant};
use super::{
    DemoIdp, DemoUser, PAGE_POLICY, Refusal, UserView, fresh, internal, page, refused, user,
    user_views,
};
use crate::crypto;
use crate::web::views::Layout;

/// Where the OpenID Provider lives, under the origin it is served from:
/// its issuer.
pub const OIDC_PATH: &str = "/demo-idp/oidc";
pub const AUTHORIZE_PATH: &str = "/demo-idp/oidc/authorize";
pub const CONTINUE_PATH: &str = "/demo-idp/oidc/authorize/continue";
const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// The one client the demo OpenID Provider knows.
pub const OIDC_CLIENT_ID: &str = "gatehouse-demo";
/// MAC purpose of the client's secret (stable for the demo's secret key).
const CLIENT_SECRET_PURPOSE: &str = "demo-idp-oidc-client-secret";
/// MAC purpose of the choice page's fields.
const CHOICE_PURPOSE: &str = "demo-idp-oidc-choice";

/// How long a code may wait for its exchange.
pub const CODE_LIFETIME: Duration = Duration::seconds(60);
/// The longest `state` or `nonce` taken.
const MAX_PARAM: usize = 2048;

/// Where a refused authorization request is answered: on a page when the
/// client or its redirect URI is wrong (no safe place to send the
/// browser), else back at the redirect URI with an OAuth error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    Page(Refusal),
    Redirect(String),
}

/// The choice page's fields, as posted back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcChoice {
    pub redirect_uri: String,
    pub scope: String,
    /// The client's `state`, empty when it sent none.
    pub state: String,
    /// The client's `nonce`, empty when it sent none.
    pub nonce: String,
    pub code_challenge: String,
    pub issued: i64,
    pub mac: String,
    /// The person chosen (the button pressed).
    pub user: Option<String>,
}

/// Form or query parameters; a parameter given twice is refused (OAuth
/// says each is sent at most once).
pub fn params(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(raw) {
        if out.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(name.chars().take(100).collect());
        }
    }
    Ok(out)
}

/// A PKCE value (challenge or verifier): 43 to 128 unreserved characters.
pub(super) fn is_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `scope` (space-separated) includes `name`.
pub(super) fn has_scope(scope: &str, name: &str) -> bool {
    scope.split(' ').any(|s| s == name)
}

/// The routes (under `/demo-idp`).
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/oidc/.well-known/openid-configuration",
        web::get().to(configuration),
    )
    .route("/oidc/jwks", web::get().to(jwks))
    .route("/oidc/authorize", web::get().to(authorize))
    .route("/oidc/authorize/continue", web::post().to(continue_sign_in))
    .route("/oidc/token", web::post().to(oidc_token::token))
    .route("/oidc/userinfo", web::get().to(oidc_token::userinfo))
    .route("/oidc/userinfo", web::post().to(oidc_token::userinfo));
}

impl DemoIdp {
    /// The OpenID Provider's issuer: what an admin gives Gatehouse as the
    /// discovery URL.
    pub fn oidc_issuer(&self) -> String {
        format!("{}{OIDC_PATH}", self.origin)
    }

    pub fn oidc_discovery_url(&self) -> String {
        format!("{}{WELL_KNOWN}", self.oidc_issuer())
    }

    pub fn oidc_client_id(&self) -> &'static str {
        OIDC_CLIENT_ID
    }

    /// The client's secret: derived from the demo's secret key, so it is
    /// the same after a restart and different for every demo database.
    pub fn oidc_client_secret(&self) -> String {
        format!(
            "ghdemo_{}",
            crypto::mac(&self.mac_key, CLIENT_SECRET_PURPOSE, OIDC_CLIENT_ID)
        )
    }

    /// The discovery document.
    pub fn openid_configuration(&self) -> Value {
        let iss = self.oidc_issuer();
        json!({
            "issuer": iss,
            "authorization_endpoint": format!("{}{AUTHORIZE_PATH}", self.origin),
            "token_endpoint": format!("{iss}/token"),
            "userinfo_endpoint": format!("{iss}/userinfo"),
            "jwks_uri": format!("{iss}/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
                "email", "email_verified", "given_name", "family_name", "name", "groups"],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    /// The public key as a JWK, without its key ID.
    fn public_jwk(&self) -> anyhow::Result<(String, String)> {
        let rsa = self.key.rsa()?;
        Ok((
            URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        ))
    }

    /// The key ID: the key's RFC 7638 thumbprint.
    fn kid(&self) -> anyhow::Result<String> {
        let (n, e) = self.public_jwk()?;
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
    }

    /// The published keys: the one signing key, with its certificate.
    pub fn jwks(&self) -> anyhow::Result<Value> {
        let (n, e) = self.public_jwk()?;
        Ok(json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid()?,
            "n": n, "e": e, "x5c": [self.certificate.der],
        }] }))
    }

    pub(super) fn sign_jwt(&self, claims: &Value) -> anyhow::Result<String> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid()? });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = Signer::new(MessageDigest::sha256(), &self.key)?
            .sign_oneshot_to_vec(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The redirect URI must be `<our Gatehouse>/oidc/<connection>/callback`.
    pub fn check_redirect_uri(&self, redirect_uri: &str) -> Result<(), Refusal> {
        let not_ours = || {
            Refusal::new(format!(
                "The demo identity provider only answers this Gatehouse ({}): the redirect URI must be {}/oidc/<connection>/callback.",
                self.sp_origin, self.sp_origin
            ))
        };
        let url = url::Url::parse(redirect_uri).map_err(|_| not_ours())?;
        if url.origin().ascii_serialization() != self.sp_origin
            || url.query().is_some()
            || url.fragment().is_some()
            || url.as_str() != redirect_uri
        {
            return Err(not_ours());
        }
        let segments: Vec<&str> = url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        match segments.as_slice() {
            ["oidc", connection, "callback"]
                if !connection.is_empty()
                    && connection
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Ok(())
            }
            _ => Err(not_ours()),
        }
    }

    /// `redirect_uri` with the answer's parameters, `iss` among them.
    fn answer_url(&self, redirect_uri: &str, pairs: &[(&str, &str)], state: &str) -> String {
        let Ok(mut url) = url::Url::parse(redirect_uri) else {
            // Checked before any answer goes there.
            return redirect_uri.to_string();
        };
        {
            let mut q = url.query_pairs_mut();
            for (name, value) in pairs {
                q.append_pair(name, value);
            }
            if !state.is_empty() {
                q.append_pair("state", state);
            }
            q.append_pair("iss", &self.oidc_issuer());
        }
        url.to_string()
    }

    /// Checks an authorization request (its query's parameters) and answers
    /// the choice page's fields.
    pub fn authorization(
        &self,
        params: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<OidcChoice, AuthorizeError> {
        let get = |name: &str| params.get(name).map(String::as_str);
        let page = |detail: String| AuthorizeError::Page(Refusal::new(detail));
        match get("client_id") {
            None | Some("") => {
                return Err(page(format!(
                    "The request names no client_id. Gatehouse's connection must use the client ID {OIDC_CLIENT_ID}."
                )));
            }
            Some(OIDC_CLIENT_ID) => {}
            Some(other) => {
                return Err(page(format!(
                    "The demo identity provider knows one client, {OIDC_CLIENT_ID}, not “{}”. Copy the client ID from the demo host page into the connection.",
                    other.chars().take(100).collect::<String>()
                )));
            }
        }
        let redirect_uri = get("redirect_uri").unwrap_or_default();
        if redirect_uri.is_empty() {
            return Err(page("The request names no redirect_uri.".into()));
        }
        self.check_redirect_uri(redirect_uri)
            .map_err(AuthorizeError::Page)?;

        // From here on, errors go back to the redirect URI.
        let state = get("state").unwrap_or_default();
        let back = |error: &str, description: &str| {
            AuthorizeError::Redirect(self.answer_url(
                redirect_uri,
                &[("error", error), ("error_description", description)],
                if state.len() <= MAX_PARAM { state } else { "" },
            ))
        };
        if state.len() > MAX_PARAM {
            return Err(back("invalid_request", "The state is too long."));
        }
        if get("request").is_some() {
            return Err(back(
                "request_not_supported",
                "Request objects are not supported.",
            ));
        }
        if get("request_uri").is_some() {
            return Err(back(
                "request_uri_not_supported",
                "Request objects are not supported.",
            ));
        }
        if get("response_type") != Some("code") {
            return Err(back(
                "unsupported_response_type",
                "Only the authorization code flow is supported: response_type must be code.",
            ));
        }
        if get("response_mode").is_some_and(|m| m != "query") {
            return Err(back(
                "invalid_request",
                "Only response_mode=query is supported.",
            ));
        }
        let scope = get("scope").unwrap_or_default();
        if !has_scope(scope, "openid") {
            return Err(back(
                "invalid_scope",
                "The scope must include openid: this is an OpenID Connect provider.",
            ));
        }
        if scope.len() > MAX_PARAM {
            return Err(back("invalid_scope", "The scope is too long."));
        }
        let nonce = get("nonce").unwrap_or_default();
        if nonce.len() > MAX_PARAM {
            return Err(back("invalid_request", "The nonce is too long."));
        }
        let challenge = get("code_challenge").unwrap_or_default();
        if challenge.is_empty() {
            return Err(back(
                "invalid_request",
                "PKCE is required: send a code_challenge with code_challenge_method=S256.",
            ));
        }
        match get("code_challenge_method") {
            Some("S256") => {}
            None | Some("plain") => {
                return Err(back(
                    "invalid_request",
                    "Only the S256 code challenge method is supported, not plain: send code_challenge_method=S256.",
                ));
            }
            Some(_) => {
                return Err(back(
                    "invalid_request",
                    "Unknown code_challenge_method: only S256 is supported.",
                ));
            }
        }
        if challenge.len() != 43 || !is_pkce_value(challenge) {
            return Err(back(
                "invalid_request",
                "The code_challenge is not an S256 challenge (43 characters of base64url).",
            ));
        }
        if get("prompt").is_some_and(|p| p.split(' ').any(|p| p == "none")) {
            return Err(back(
                "login_required",
                "The demo identity provider always asks whom to sign in as.",
            ));
        }
        let mut choice = OidcChoice {
            redirect_uri: redirect_uri.to_string(),
            scope: scope.to_string(),
            state: state.to_string(),
            nonce: nonce.to_string(),
            code_challenge: challenge.to_string(),
            issued: now.timestamp(),
            mac: String::new(),
            user: None,
        };
        choice.mac = self.oidc_choice_mac(&choice);
        Ok(choice)
    }

    fn oidc_choice_mac(&self, c: &OidcChoice) -> String {
        let message = json!([
            c.redirect_uri,
            c.scope,
            c.state,
            c.nonce,
            c.code_challenge,
            c.issued
        ])
        .to_string();
        crypto::mac(&self.mac_key, CHOICE_PURPOSE, &message)
    }

    /// Checks a posted choice: our MAC, fresh, our Gatehouse, a demo user.
    pub fn check_oidc_choice(
        &self,
        choice: &OidcChoice,
        now: DateTime<Utc>,
    ) -> Result<&'static DemoUser, Refusal> {
        if !crypto::constant_time_eq(&self.oidc_choice_mac(choice), &choice.mac) {
            return Err(Refusal::new(
                "This choice was not issued by the demo identity provider for this sign-in (its fields were changed).",
            ));
        }
        if !fresh(choice.issued, now) {
            return Err(Refusal::new(
                "This page is too old. Start the sign-in again from the application.",
            ));
        }
        self.check_redirect_uri(&choice.redirect_uri)?;
        choice
            .user
            .as_deref()
            .and_then(user)
            .ok_or_else(|| Refusal::new("Choose one of the demo people."))
    }

    /// A code for `user`, kept for its exchange; answers where the browser
    /// goes: the redirect URI with the code, the state and the issuer.
    pub fn issue_code(
        &self,
        choice: &OidcChoice,
        user: &'static DemoUser,
        now: DateTime<Utc>,
    ) -> Result<String, Refusal> {
        let code = crypto::random_token("ghdemo_code_");
        let grant = Grant {
            redirect_uri: choice.redirect_uri.clone(),
            code_challenge: choice.code_challenge.clone(),
            nonce: choice.nonce.clone(),
            scope: choice.scope.clone(),
            user,
            expires_at: now + CODE_LIFETIME,
        };
        let kept = self
            .grants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add_code(crypto::token_hash(&code), grant, now);
        if !kept {
            return Err(Refusal::new(
                "The demo identity provider has too many sign-ins under way. Wait a minute and start again.",
            ));
        }
        Ok(self.answer_url(&choice.redirect_uri, &[("code", &code)], &choice.state))
    }
}

impl OidcChoice {
    /// The choice from the posted form.
    fn from_form(form: &HashMap<String, String>) -> Result<Self, Refusal> {
        let field = |name: &str| {
            form.get(name).cloned().ok_or_else(|| {
                Refusal::new(format!(
                    "This form is incomplete (it has no {name}). Start the sign-in again from the application."
                ))
            })
        };
        Ok(Self {
            redirect_uri: field("redirect_uri")?,
            scope: field("scope")?,
            state: field("state")?,
            nonce: field("nonce")?,
            code_challenge: field("code_challenge")?,
            issued: field("issued")?.trim().parse().map_err(|_| {
                Refusal::new(
                    "This choice was not issued by the demo identity provider for this sign-in (its fields were changed).",
                )
            })?,
            mac: field("mac")?,
            user: form.get("user").cloned(),
        })
    }
}

/// `GET /demo-idp/oidc/.well-known/openid-configuration`
async fn configuration(idp: web::Data<DemoIdp>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(idp.openid_configuration())
}

/// `GET /demo-idp/oidc/jwks`
async fn jwks(idp: web::Data<DemoIdp>) -> HttpResponse {
    match idp.jwks() {
        Ok(keys) => HttpResponse::Ok()
            .content_type("application/jwk-set+json")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(keys.to_string()),
        Err(e) => internal(e),
    }
}

fn repeated(name: &str) -> Refusal {
    Refusal::new(format!(
        "The request gives the parameter “{name}” more than once."
    ))
}

#[derive(Template)]
#[template(path = "demo_idp/authorize.html")]
struct AuthorizeView<'a> {
    layout: Layout,
    choice: &'a OidcChoice,
    client_id: &'static str,
    login_hint: Option<&'a str>,
    continue_url: &'static str,
    users: Vec<UserView>,
}

/// `GET /demo-idp/oidc/authorize?…`: who to sign in as.
async fn authorize(req: HttpRequest, idp: web::Data<DemoIdp>) -> HttpResponse {
    let query = req.query_string();
    if query.is_empty() {
        return refused(&Refusal::new(
            "This is the demo identity provider's OpenID Connect authorization endpoint: Gatehouse sends people here. Start a test sign-in from the Security tab, or sign in from the sample host page.",
        ));
    }
    let params = match params(query.as_bytes()) {
        Ok(p) => p,
        Err(name) => return refused(&repeated(&name)),
    };
    let choice = match idp.authorization(&params, Utc::now()) {
        Ok(choice) => choice,
        Err(AuthorizeError::Page(refusal)) => return refused(&refusal),
        Err(AuthorizeError::Redirect(url)) => return see_other(&url),
    };
    let view = AuthorizeView {
        layout: Layout::new("Sign in · Demo identity provider"),
        choice: &choice,
        client_id: OIDC_CLIENT_ID,
        login_hint: params
            .get("login_hint")
            .map(String::as_str)
            .filter(|h| !h.is_empty() && h.len() <= 254),
        continue_url: CONTINUE_PATH,
        users: user_views(),
    };
    // No `form-action`: the answer redirects to Gatehouse, which redirects
    // on to the host application, and browsers check the whole chain.
    match view.render() {
        Ok(body) => page(StatusCode::OK, body, PAGE_POLICY),
        Err(e) => internal(e),
    }
}

fn see_other(url: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .finish()
}

/// `POST /demo-idp/oidc/authorize/continue`: the code, back to Gatehouse.
async fn continue_sign_in(idp: web::Data<DemoIdp>, body: web::Bytes) -> HttpResponse {
    let form = match params(&body) {
        Ok(form) => form,
        Err(name) => return refused(&repeated(&name)),
    };
    let now = Utc::now();
    let answer = OidcChoice::from_form(&form).and_then(|choice| {
        let user = idp.check_oidc_choice(&choice, now)?;
        idp.issue_code(&choice, user, now)
    });
    match answer {
        Ok(url) => see_other(&url),
        Err(refusal) => refused(&refusal),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::SecretKey;
    use crate::domain::connections::Provider;
    use crate::oidc::config::{TokenAuth, redirect_uri};
    use crate::oidc::{discovery, jwks as keys};

    pub(crate) const GATEHOUSE: &str = "http://127.0.0.1:8080";
    pub(crate) const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-0123456789";

    pub(crate) fn idp() -> DemoIdp {
        DemoIdp::generate(GATEHOUSE, GATEHOUSE, &SecretKey::from_bytes([7; 32])).expect("idp")
    }

    fn challenge(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }

    fn request(redirect: &str) -> HashMap<String, String> {
        [
            ("response_type", "code"),
            ("client_id", OIDC_CLIENT_ID),
            ("redirect_uri", redirect),
            ("scope", "openid email profile"),
            ("state", "ghs_1"),
            ("nonce", "n-1"),
            ("code_challenge", &challenge(VERIFIER)),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A code for Alice, through the choice page's fields.
    pub(crate) fn code_for(idp: &DemoIdp, redirect: &str, now: DateTime<Utc>) -> String {
        let mut choice = idp.authorization(&request(redirect), now).expect("ours");
        choice.user = Some("alice@acme.test".into());
        let user = idp.check_oidc_choice(&choice, now).expect("good");
        let answer = idp.issue_code(&choice, user, now).expect("code");
        let q: HashMap<String, String> = url::Url::parse(&answer)
            .expect("url")
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(q["state"], "ghs_1");
        assert_eq!(q["iss"], "http://127.0.0.1:8080/demo-idp/oidc");
        q["code"].clone()
    }

    /// The token request's form for `code`, by `client_secret_post`.
    pub(crate) fn exchange_form(
        idp: &DemoIdp,
        code: &str,
        redirect: &str,
    ) -> HashMap<String, String> {
        [
            ("client_id", OIDC_CLIENT_ID.to_string()),
            ("client_secret", idp.oidc_client_secret()),
            ("grant_type", "authorization_code".into()),
            ("code", code.into()),
            ("redirect_uri", redirect.into()),
            ("code_verifier", VERIFIER.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn its_discovery_document_is_what_gatehouse_reads() {
        let idp = idp();
        let (url, issuer) =
            discovery::location(Provider::CustomOidc, &idp.oidc_issuer()).expect("location");
        assert_eq!(url, idp.oidc_discovery_url());
        let (meta, _) = discovery::parse(
            Provider::CustomOidc,
            idp.openid_configuration().to_string().as_bytes(),
            &issuer,
        )
        .expect("Gatehouse's parser reads it");
        assert_eq!(meta.issuer, "http://127.0.0.1:8080/demo-idp/oidc");
        assert_eq!(meta.token_auth, TokenAuth::ClientSecretBasic);
        assert_eq!(
            meta.authorization_endpoint,
            "http://127.0.0.1:8080/demo-idp/oidc/authorize"
        );
        let published =
            keys::parse(idp.jwks().expect("jwks").to_string().as_bytes()).expect("keys");
        assert_eq!(published.len(), 1);
        // The secret is stable for a secret key, and differs between keys.
        assert_eq!(idp.oidc_client_secret(), self::idp().oidc_client_secret());
        let other =
            DemoIdp::generate(GATEHOUSE, GATEHOUSE, &SecretKey::from_bytes([8; 32])).expect("idp");
        assert_ne!(idp.oidc_client_secret(), other.oidc_client_secret());
    }

    #[test]
    fn only_callbacks_of_its_own_gatehouse_are_answered() {
        let idp = idp();
        assert!(
            idp.check_redirect_uri(&redirect_uri(GATEHOUSE, "conn_1"))
                .is_ok()
        );
        for bad in [
            "https://evil.example/oidc/conn_1/callback",
            "http://127.0.0.1:8081/oidc/conn_1/callback",
            "http://127.0.0.1:8080/oauth/token",
            "http://127.0.0.1:8080/oidc/conn_1/callback?x=1",
            "http://127.0.0.1:8080/oidc/conn_1/callback#x",
            "http://127.0.0.1:8080/oidc/conn 1/callback",
            "http://127.0.0.1:8080/oidc//callback",
            "http://127.0.0.1:8080/oidc/a/../conn_1/callback",
            "not a url",
        ] {
            assert!(idp.check_redirect_uri(bad).is_err(), "{bad}");
        }
        // A foreign redirect URI gets a page, never a redirect.
        let mut params = request("https://evil.example/oidc/conn_1/callback");
        assert!(matches!(
            idp.authorization(&params, Utc::now()),
            Err(AuthorizeError::Page(_))
        ));
        params = request(&redirect_uri(GATEHOUSE, "conn_1"));
        params.insert("client_id".into(), "someone-else".into());
        assert!(matches!(
            idp.authorization(&params, Utc::now()),
            Err(AuthorizeError::Page(_))
        ));
    }

    #[test]
    fn pkce_with_s256_is_required() {
        let idp = idp();
        let redirect = redirect_uri(GATEHOUSE, "conn_1");
        let error_of = |change: &dyn Fn(&mut HashMap<String, String>)| {
            let mut params = request(&redirect);
            change(&mut params);
            match idp.authorization(&params, Utc::now()) {
                Err(AuthorizeError::Redirect(url)) => {
                    let q: HashMap<String, String> = url::Url::parse(&url)
                        .expect("url")
                        .query_pairs()
                        .into_owned()
                        .collect();
                    assert_eq!(q["state"], "ghs_1");
                    assert_eq!(q["iss"], idp.oidc_issuer());
                    format!("{}: {}", q["error"], q["error_description"])
                }
                other => panic!("{other:?}"),
            }
        };
        assert!(
            error_of(&|p| {
                p.remove("code_challenge");
            })
            .starts_with("invalid_request: PKCE is required")
        );
        assert!(
            error_of(&|p| {
                p.insert("code_challenge_method".into(), "plain".into());
            })
            .contains("not plain")
        );
        assert!(
            error_of(&|p| {
                p.remove("code_challenge_method");
            })
            .contains("not plain")
        );
        assert!(
            error_of(&|p| {
                p.insert("code_challenge".into(), "short".into());
            })
            .contains("not an S256 challenge")
        );
        assert!(
            error_of(&|p| {
                p.insert("response_type".into(), "token".into());
            })
            .starts_with("unsupported_response_type")
        );
        assert!(
            error_of(&|p| {
                p.insert("scope".into(), "email".into());
            })
            .starts_with("invalid_scope")
        );
    }

    #[test]
    fn a_choice_is_bound_to_its_request_and_expires() {
        let idp = idp();
        let now = Utc::now();
        let mut choice = idp
            .authorization(&request(&redirect_uri(GATEHOUSE, "conn_1")), now)
            .expect("ours");
        choice.user = Some("bob@acme.test".into());
        assert_eq!(
            idp.check_oidc_choice(&choice, now).expect("good").subject,
            "demo-bob"
        );
        let later = now + Duration::minutes(11);
        assert!(idp.check_oidc_choice(&choice, later).is_err(), "expired");
        for tamper in [
            |c: &mut OidcChoice| c.redirect_uri = c.redirect_uri.replace("conn_1", "conn_2"),
            |c: &mut OidcChoice| c.scope = "openid".into(),
            |c: &mut OidcChoice| c.state = "ghs_2".into(),
            |c: &mut OidcChoice| c.nonce = "n-2".into(),
            |c: &mut OidcChoice| c.code_challenge = challenge("another-verifier"),
            |c: &mut OidcChoice| c.issued += 1,
            |c: &mut OidcChoice| c.user = Some("eve@acme.test".into()),
        ] {
            let mut changed = choice.clone();
            tamper(&mut changed);
            assert!(idp.check_oidc_choice(&changed, now).is_err(), "{changed:?}");
        }
    }
}
