//! The token side of the demo identity provider's OpenID Connect half:
//! the codes and access tokens it keeps (in memory), the token endpoint
//! (client authentication, single-use codes, PKCE, the RS256 ID token) and
//! userinfo. See `oidc.rs` for discovery, keys and the authorization
//! request.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::oidc::{OIDC_CLIENT_ID, has_scope, is_pkce_value, params};
use super::{DemoIdp, DemoUser};
use crate::crypto;

/// How long access tokens are good for (userinfo).
const ACCESS_TOKEN_LIFETIME: Duration = Duration::minutes(10);
/// How long ID tokens are good for.
const ID_TOKEN_LIFETIME: Duration = Duration::minutes(10);
/// How long a used code is remembered, so its replay is named as such and
/// revokes the access token it gave.
const SPENT_MEMORY: Duration = Duration::minutes(10);
/// The most codes and tokens kept at once.
const MAX_GRANTS: usize = 10_000;

/// Codes and access tokens, each by its SHA-256 (see `crypto::token_hash`).
#[derive(Debug, Default)]
pub(super) struct Grants {
    codes: HashMap<String, Grant>,
    spent: HashMap<String, Spent>,
    tokens: HashMap<String, AccessToken>,
}

/// What a code was issued for.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub(super) redirect_uri: String,
    pub(super) code_challenge: String,
    /// Empty when the client sent none.
    pub(super) nonce: String,
    pub(super) scope: String,
    pub(super) user: &'static DemoUser,
    pub(super) expires_at: DateTime<Utc>,
}

/// A code already exchanged (or tried), and the access token it gave.
#[derive(Debug, Clone)]
struct Spent {
    access_token: Option<String>,
    forget_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct AccessToken {
    user: &'static DemoUser,
    scope: String,
    expires_at: DateTime<Utc>,
}

impl Grants {
    fn prune(&mut self, now: DateTime<Utc>) {
        self.codes.retain(|_, g| g.expires_at > now);
        self.spent.retain(|_, s| s.forget_at > now);
        self.tokens.retain(|_, t| t.expires_at > now);
    }

    /// Keeps a code (by its hash) for its exchange; `false` when too many
    /// sign-ins are under way.
    pub(super) fn add_code(&mut self, code_hash: String, grant: Grant, now: DateTime<Utc>) -> bool {
        self.prune(now);
        if self.codes.len() + self.spent.len() + self.tokens.len() >= MAX_GRANTS {
            return false;
        }
        self.codes.insert(code_hash, grant);
        true
    }
}

/// An OAuth error at the token or userinfo endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl TokenError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: if error == "invalid_client" || error == "invalid_token" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            },
            error,
            description: description.into(),
        }
    }
}

/// How the client authenticated at the token endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAuth {
    /// From `Authorization: Basic`, decoded.
    pub basic: Option<(String, String)>,
    /// The header was there but not readable Basic credentials.
    pub malformed: bool,
}

impl ClientAuth {
    /// Reads an `Authorization` header value (RFC 6749 2.3.1: both parts
    /// form-encoded, then base64).
    pub fn from_header(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Self::default();
        };
        let decoded = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, b)| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let decode = |v: &str| {
            url::form_urlencoded::parse(format!("v={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        match decoded.as_deref().and_then(|d| d.split_once(':')) {
            Some((id, secret)) => Self {
                basic: Some((decode(id), decode(secret))),
                malformed: false,
            },
            None => Self {
                basic: None,
                malformed: true,
            },
        }
    }
}

/// The claims about `user` that `scope` releases: `sub` and `groups`
/// always, the email with `email`, the names with `profile`.
fn user_claims(user: &DemoUser, scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), user.subject.into());
    if has_scope(scope, "email") {
        claims.insert("email".into(), user.email.into());
        claims.insert("email_verified".into(), true.into());
    }
    if has_scope(scope, "profile") {
        claims.insert("given_name".into(), user.first_name.into());
        claims.insert("family_name".into(), user.last_name.into());
        claims.insert(
            "name".into(),
            format!("{} {}", user.first_name, user.last_name).into(),
        );
    }
    claims.insert("groups".into(), json!(user.groups));
    claims
}

impl DemoIdp {
    /// The client, authenticated one way only, and with the right secret.
    fn authenticate(
        &self,
        auth: &ClientAuth,
        form: &HashMap<String, String>,
    ) -> Result<(), TokenError> {
        let posted_id = form.get("client_id").map(String::as_str);
        let posted_secret = form.get("client_secret").map(String::as_str);
        let (id, secret) = match (&auth.basic, posted_secret) {
            _ if auth.malformed => {
                return Err(TokenError::new(
                    "invalid_client",
                    "The Authorization header does not carry readable Basic credentials.",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(TokenError::new(
                    "invalid_request",
                    "The client authenticated twice (HTTP Basic and client_secret in the form). Use one way only.",
                ));
            }
            (Some((id, secret)), None) => {
                if posted_id.is_some_and(|p| p != id) {
                    return Err(TokenError::new(
                        "invalid_request",
                        "The client_id in the form is not the one in the Authorization header.",
                    ));
                }
                (id.as_str(), secret.as_str())
            }
            (None, Some(secret)) => (posted_id.unwrap_or_default(), secret),
            (None, None) => {
                return Err(TokenError::new(
                    "invalid_client",
                    "The client did not authenticate: send its ID and secret with HTTP Basic, or as client_id and client_secret in the form.",
                ));
            }
        };
        if id != OIDC_CLIENT_ID || !crypto::constant_time_eq(secret, &self.oidc_client_secret()) {
            return Err(TokenError::new(
                "invalid_client",
                "Client authentication failed: the client ID or secret is wrong. Copy both from the demo host page.",
            ));
        }
        Ok(())
    }

    /// The token endpoint: the client, the code (once), its redirect URI
    /// and PKCE verifier; answers the token response.
    pub fn exchange(
        &self,
        auth: &ClientAuth,
        form: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Value, TokenError> {
        self.authenticate(auth, form)?;
        let get = |name: &str| form.get(name).map(String::as_str);
        match get("grant_type") {
            Some("authorization_code") => {}
            None => {
                return Err(TokenError::new(
                    "invalid_request",
                    "The request has no grant_type.",
                ));
            }
            Some(_) => {
                return Err(TokenError::new(
                    "unsupported_grant_type",
                    "Only the authorization_code grant is supported.",
                ));
            }
        }
        let code = get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| TokenError::new("invalid_request", "The request has no code."))?;
        let hash = crypto::token_hash(code);
        let access_token = crypto::random_token("ghdemo_at_");
        let grant = {
            let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
            grants.prune(now);
            if let Some(spent) = grants.spent.get_mut(&hash) {
                // A replay: the code is refused, and what it gave revoked.
                if let Some(token) = spent.access_token.take() {
                    grants.tokens.remove(&token);
                }
                return Err(TokenError::new(
                    "invalid_grant",
                    "This code was already used: a code is good for one exchange only. Start the sign-in again.",
                ));
            }
            let Some(grant) = grants.codes.remove(&hash) else {
                return Err(TokenError::new(
                    "invalid_grant",
                    "This code is unknown, or has expired (codes are good for 60 seconds). Start the sign-in again.",
                ));
            };
            // Whatever follows, the code is used up.
            grants.spent.insert(
                hash.clone(),
                Spent {
                    access_token: None,
                    forget_at: now + SPENT_MEMORY,
                },
            );
            if get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
                return Err(TokenError::new(
                    "invalid_grant",
                    "The redirect_uri is not the one the code was issued for.",
                ));
            }
            let verifier = get("code_verifier").unwrap_or_default();
            if verifier.is_empty() {
                return Err(TokenError::new(
                    "invalid_grant",
                    "PKCE: the request has no code_verifier.",
                ));
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !is_pkce_value(verifier)
                || !crypto::constant_time_eq(&computed, &grant.code_challenge)
            {
                return Err(TokenError::new(
                    "invalid_grant",
                    "PKCE: the code_verifier does not match the code_challenge of the authorization request.",
                ));
            }
            let token_hash = crypto::token_hash(&access_token);
            grants.tokens.insert(
                token_hash.clone(),
                AccessToken {
                    user: grant.user,
                    scope: grant.scope.clone(),
                    expires_at: now + ACCESS_TOKEN_LIFETIME,
                },
            );
            if let Some(spent) = grants.spent.get_mut(&hash) {
                spent.access_token = Some(token_hash);
            }
            grant
        };
        let id_token = self.id_token(&grant, &access_token, now).map_err(|e| {
            tracing::error!(error = %e, "the demo identity provider could not sign an ID token");
            TokenError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: "server_error",
                description: "The demo identity provider could not sign the ID token; see the log."
                    .into(),
            }
        })?;
        Ok(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME.num_seconds(),
            "id_token": id_token,
            "scope": grant.scope,
        }))
    }

    fn id_token(
        &self,
        grant: &Grant,
        access_token: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let mut claims = user_claims(grant.user, &grant.scope);
        let digest = Sha256::digest(access_token.as_bytes());
        let standard = [
            ("iss", Value::from(self.oidc_issuer())),
            ("aud", OIDC_CLIENT_ID.into()),
            ("iat", now.timestamp().into()),
            ("exp", (now + ID_TOKEN_LIFETIME).timestamp().into()),
            ("auth_time", now.timestamp().into()),
            ("at_hash", URL_SAFE_NO_PAD.encode(&digest[..16]).into()),
        ];
        for (name, value) in standard {
            claims.insert(name.into(), value);
        }
        if !grant.nonce.is_empty() {
            claims.insert("nonce".into(), grant.nonce.clone().into());
        }
        self.sign_jwt(&Value::Object(claims))
    }

    /// Userinfo: the claims the access token's scope releases.
    pub fn userinfo(&self, access_token: &str, now: DateTime<Utc>) -> Result<Value, TokenError> {
        let grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants
            .tokens
            .get(&crypto::token_hash(access_token))
            .filter(|t| t.expires_at > now)
            .map(|t| Value::Object(user_claims(t.user, &t.scope)))
            .ok_or_else(|| {
                TokenError::new(
                    "invalid_token",
                    "The access token is unknown, revoked or expired.",
                )
            })
    }
}

fn json_response(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

fn token_error(e: TokenError, challenge: &'static str) -> HttpResponse {
    let mut res = json_response(
        e.status,
        json!({ "error": e.error, "error_description": e.description }),
    );
    if e.status == StatusCode::UNAUTHORIZED
        && let Ok(v) = header::HeaderValue::from_str(challenge)
    {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// `POST /demo-idp/oidc/token`
pub(super) async fn token(
    req: HttpRequest,
    idp: web::Data<DemoIdp>,
    body: web::Bytes,
) -> HttpResponse {
    let challenge = "Basic realm=\"gatehouse-demo-idp\"";
    let form = match params(&body) {
        Ok(form) => form,
        Err(name) => {
            return token_error(
                TokenError::new(
                    "invalid_request",
                    format!("The request gives the parameter {name} more than once."),
                ),
                challenge,
            );
        }
    };
    let auth = ClientAuth::from_header(
        req.headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default()),
    );
    match idp.exchange(&auth, &form, Utc::now()) {
        Ok(tokens) => json_response(StatusCode::OK, tokens),
        Err(e) => token_error(e, challenge),
    }
}

/// `GET /demo-idp/oidc/userinfo` (or POST), with `Authorization: Bearer`.
pub(super) async fn userinfo(req: HttpRequest, idp: web::Data<DemoIdp>) -> HttpResponse {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return token_error(
            TokenError::new(
                "invalid_token",
                "Send the access token in the Authorization header (Bearer).",
            ),
            "Bearer realm=\"gatehouse-demo-idp\"",
        );
    };
    match idp.userinfo(token, Utc::now()) {
        Ok(claims) => json_response(StatusCode::OK, claims),
        Err(e) => token_error(
            e,
            "Bearer realm=\"gatehouse-demo-idp\", error=\"invalid_token\"",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo_idp::oidc::CODE_LIFETIME;
    use crate::demo_idp::oidc::tests::{GATEHOUSE, VERIFIER, code_for, exchange_form, idp};
    use crate::oidc::config::redirect_uri;
    use crate::oidc::id_token::{self, Expected};
    use crate::oidc::{jwks as keys, jwt};

    #[test]
    fn its_id_token_passes_gatehouses_checks_and_codes_are_single_use() {
        let idp = idp();
        let now = Utc::now();
        let redirect = redirect_uri(GATEHOUSE, "conn_1");
        let code = code_for(&idp, &redirect, now);
        let tokens = idp
            .exchange(
                &ClientAuth::default(),
                &exchange_form(&idp, &code, &redirect),
                now,
            )
            .expect("tokens");
        assert_eq!(tokens["token_type"], "Bearer");
        let jws = jwt::parse(tokens["id_token"].as_str().expect("id token")).expect("a JWS");
        let published =
            keys::parse(idp.jwks().expect("jwks").to_string().as_bytes()).expect("keys");
        assert_eq!(jws.verify(&published), jwt::Verified::Valid);
        id_token::check(
            &jws.claims,
            Expected {
                issuer: &idp.oidc_issuer(),
                client_id: OIDC_CLIENT_ID,
                nonce: "n-1",
            },
            now,
        )
        .expect("Gatehouse's claim checks pass");
        for (name, value) in [
            ("sub", json!("demo-alice")),
            ("email", json!("alice@acme.test")),
            ("email_verified", json!(true)),
            ("given_name", json!("Alice")),
            ("family_name", json!("Liddell")),
            ("name", json!("Alice Liddell")),
            ("groups", json!(["engineering", "admins"])),
        ] {
            assert_eq!(jws.claims.get(name), Some(&value), "{name}");
        }
        let access = tokens["access_token"].as_str().expect("access token");
        assert_eq!(
            idp.userinfo(access, now).expect("userinfo")["email"],
            "alice@acme.test"
        );

        // Again: refused, and the access token it gave is revoked.
        let again = idp
            .exchange(
                &ClientAuth::default(),
                &exchange_form(&idp, &code, &redirect),
                now,
            )
            .expect_err("replay");
        assert_eq!(again.error, "invalid_grant");
        assert!(again.description.contains("already used"));
        assert_eq!(
            idp.userinfo(access, now).expect_err("revoked").error,
            "invalid_token"
        );

        // An expired code.
        let code = code_for(&idp, &redirect, now);
        let late = now + CODE_LIFETIME + Duration::seconds(1);
        let e = idp
            .exchange(
                &ClientAuth::default(),
                &exchange_form(&idp, &code, &redirect),
                late,
            )
            .expect_err("expired");
        assert_eq!(e.error, "invalid_grant");
    }

    #[test]
    fn the_token_endpoint_checks_client_verifier_and_redirect_uri() {
        let idp = idp();
        let now = Utc::now();
        let redirect = redirect_uri(GATEHOUSE, "conn_1");
        let try_with = |change: &dyn Fn(&mut HashMap<String, String>, &mut ClientAuth)| {
            let code = code_for(&idp, &redirect, now);
            let mut form = exchange_form(&idp, &code, &redirect);
            let mut auth = ClientAuth::default();
            change(&mut form, &mut auth);
            idp.exchange(&auth, &form, now)
                .map(|_| "ok".to_string())
                .unwrap_or_else(|e| format!("{} {}: {}", e.status.as_u16(), e.error, e.description))
        };
        assert_eq!(try_with(&|_, _| {}), "ok", "client_secret_post");
        let secret = idp.oidc_client_secret();
        let header = format!(
            "Basic {}",
            STANDARD.encode(format!("{OIDC_CLIENT_ID}:{secret}"))
        );
        assert_eq!(
            try_with(&|f, a| {
                f.remove("client_secret");
                *a = ClientAuth::from_header(Some(&header));
            }),
            "ok",
            "client_secret_basic"
        );
        assert!(
            try_with(&|f, a| {
                *a = ClientAuth::from_header(Some(&header));
                let _ = f;
            })
            .starts_with("400 invalid_request"),
            "both ways at once"
        );
        assert!(
            try_with(&|f, _| {
                f.insert("client_secret".into(), "ghdemo_wrong".into());
            })
            .starts_with("401 invalid_client: Client authentication failed")
        );
        assert!(
            try_with(&|f, _| {
                f.insert("client_id".into(), "someone-else".into());
            })
            .starts_with("401 invalid_client")
        );
        assert!(
            try_with(&|_, a| *a = ClientAuth::from_header(Some("Basic !!!")))
                .starts_with("401 invalid_client")
        );
        assert!(
            try_with(&|f, _| {
                f.insert("code_verifier".into(), VERIFIER.replace('a', "b"));
            })
            .contains("invalid_grant: PKCE: the code_verifier does not match")
        );
        assert!(
            try_with(&|f, _| {
                f.remove("code_verifier");
            })
            .contains("invalid_grant: PKCE: the request has no code_verifier")
        );
        assert!(
            try_with(&|f, _| {
                f.insert("redirect_uri".into(), redirect_uri(GATEHOUSE, "conn_2"));
            })
            .contains("invalid_grant: The redirect_uri")
        );
        assert!(
            try_with(&|f, _| {
                f.insert("grant_type".into(), "refresh_token".into());
            })
            .starts_with("400 unsupported_grant_type")
        );
        assert!(
            try_with(&|f, _| {
                f.insert("code".into(), "ghdemo_code_made_up".into());
            })
            .contains("invalid_grant: This code is unknown")
        );
        assert_eq!(
            params(b"a=1&b=2&a=3").expect_err("twice"),
            "a",
            "a parameter given twice"
        );
    }
}
