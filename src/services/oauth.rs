//! Gatehouse as a standard OpenID provider for the host: OAuth clients,
//! the authorization request (which picks the organization's connection and
//! sends the browser to its identity provider), just-in-time provisioning
//! when the identity provider answers, and the code, token and userinfo
//! endpoints' logic. ID tokens are RS256, signed with keys sealed at rest.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::saml_signin::{FlowPurpose, SignInStart};
use super::{ServiceError, ServiceResult, Services};
use crate::crypto::{self, seal};
use crate::domain::audit::{Actor, ChangeContext, NewEvent};
use crate::domain::authorize_request::{self, Interaction};
use crate::domain::connections::{Connection, Protocol, State, mapped_role};
use crate::domain::domains::{self, Domain, Purpose, Status};
use crate::domain::sign_in::SignInError;
use crate::ids::{self, Kind};
use crate::store::oauth::{NewAccessToken, OauthClient, OauthCode, Redemption, SigningKey};
use crate::store::saml::AssertionUse;
use crate::store::users::{CodeWrite, SignInWrite};

/// How long the host has to exchange a code.
pub const CODE_LIFETIME: Duration = Duration::minutes(5);
/// How long ID and access tokens are good for.
pub const TOKEN_LIFETIME: Duration = Duration::hours(1);
/// How long a replaced signing key stays published after it stops signing.
pub const KEY_OVERLAP: Duration = Duration::days(2);
/// How long a new signing key is published before it signs: twice the
/// time the JWKS may be cached (`JWKS_MAX_AGE_SECONDS`), so hosts that keep it
/// know the key before they see a token it signed.
pub const KEY_PUBLISHED_AHEAD: Duration = Duration::seconds(2 * JWKS_MAX_AGE_SECONDS);
/// How long the JWKS may be cached (`Cache-Control: max-age`).
pub const JWKS_MAX_AGE_SECONDS: i64 = 300;

/// When a rotated signing key starts signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySwitch {
    /// Published first, signing after `KEY_PUBLISHED_AHEAD`: the usual,
    /// for hosts that cache the JWKS.
    AfterPublishing,
    /// At once: for a key that must stop signing now (say, exposed).
    Now,
}

/// The most of a failed sign-in's `login_hint` the audit log keeps
/// (characters).
const LOGIN_HINT_KEPT: usize = 320;

/// A sign-in that failed, as the audit log files it: under its
/// organization and connection where they are known.
#[derive(Debug, Clone, Copy)]
pub struct FailedSignIn<'a> {
    pub organization_id: Option<&'a str>,
    pub connection_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub login_hint: Option<&'a str>,
    pub code: &'a str,
}

impl<'a> FailedSignIn<'a> {
    /// A failure at a connection, whoever started the sign-in.
    pub fn at(connection: &'a Connection, code: &'a str) -> Self {
        Self {
            organization_id: Some(&connection.organization_id),
            connection_id: Some(&connection.id),
            client_id: None,
            login_hint: None,
            code,
        }
    }
}

/// Why an authorization request goes back to the host with an error.
struct Refusal {
    error: &'static str,
    code: &'static str,
    organization_id: Option<String>,
    connection_id: Option<String>,
    /// Whether it is a failed sign-in, for the audit log.
    audited: bool,
}

impl Refusal {
    fn new(error: &'static str, code: &'static str) -> Self {
        Self {
            error,
            code,
            organization_id: None,
            connection_id: None,
            audited: true,
        }
    }
}

/// What `GET /discovery` answers the host about an email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignInDiscovery {
    pub sso_required: bool,
    pub organization_id: Option<String>,
    pub connection_id: Option<String>,
}

/// What the host asked for, carried through the identity provider's leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
}

/// The authorization request's parameters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub organization: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// How an authorization request ends.
#[derive(Debug)]
pub enum Authorize {
    /// On to the identity provider.
    Start(SignInStart),
    /// Back to the host with an OAuth error.
    Redirect(String),
    /// No safe redirect exists: an error page with this code.
    Page(&'static str),
}

/// An OAuth error of the token or userinfo endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

/// The claims of the tokens a code is redeemed for, if the code may be
/// redeemed by this client with this request (RFC 6749 §4.1.3, RFC 7636).
fn token_claims(
    code: &OauthCode,
    client_id: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    issuer: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, OauthError> {
    if code.client_id != client_id {
        return Err(oauth_error(
            400,
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if now >= code.expires_at {
        return Err(oauth_error(400, "invalid_grant", "the code has expired"));
    }
    if redirect_uri != Some(code.redirect_uri.as_str()) {
        return Err(oauth_error(
            400,
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !crypto::constant_time_eq(&computed, challenge) {
                return Err(oauth_error(
                    400,
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(oauth_error(
                400,
                "invalid_grant",
                "the authorization request used PKCE: send its code_verifier",
            ));
        }
        // A verifier for a request without a challenge is how a PKCE
        // downgrade looks (RFC 9700 §4.8.2): refused.
        (None, Some(_)) => {
            return Err(oauth_error(
                400,
                "invalid_grant",
                "the authorization request had no code_challenge, so no code_verifier is expected",
            ));
        }
        (None, None) => {}
    }
    let mut claims: Map<String, Value> = serde_json::from_str(&code.claims).unwrap_or_default();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("iat".into(), json!(now.timestamp()));
    claims.insert("exp".into(), json!((now + TOKEN_LIFETIME).timestamp()));
    Ok(Value::Object(claims))
}

fn oauth_error(status: u16, error: &'static str, description: impl Into<String>) -> OauthError {
    OauthError {
        status,
        error,
        description: description.into(),
    }
}

/// The redirect back to the host with an error: the OAuth error, the
/// Gatehouse code as its description, the code's page, the state, and the
/// issuer (RFC 9207 asks for it on errors too; Gatehouse's issuer is its
/// public origin).
pub fn error_redirect(
    public_origin: &str,
    request: &HostRequest,
    error: &str,
    code: &str,
) -> String {
    let mut url = match url::Url::parse(&request.redirect_uri) {
        Ok(u) => u,
        Err(_) => return request.redirect_uri.clone(),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error)
            .append_pair("error_description", code)
            .append_pair("error_uri", &format!("{public_origin}/errors/{code}"));
        if let Some(state) = &request.state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", public_origin);
    }
    url.to_string()
}

fn client_secret_hash(secret: &str) -> String {
    crypto::token_hash(secret)
}

/// A redirect URI a client may register: absolute, no fragment, https
/// (plain http only to this machine, for development).
fn check_redirect_uri(raw: &str) -> Result<String, ServiceError> {
    let refused = || ServiceError::Refused {
        code: "oauth_redirect_uri_invalid",
        message: format!(
            "“{}” cannot be a redirect URI: use an absolute https:// URL without a fragment (http:// only for localhost).",
            raw.chars().take(200).collect::<String>()
        ),
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| refused())?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.fragment().is_some()
        || !(url.scheme() == "https" || (url.scheme() == "http" && local))
        || url.host_str().is_none()
    {
        return Err(refused());
    }
    Ok(raw.trim().to_string())
}

fn jwt(key: &PKey<Private>, kid: &str, claims: &Value) -> anyhow::Result<String> {
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature =
        Signer::new(MessageDigest::sha256(), key)?.sign_oneshot_to_vec(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

fn key_context(kid: &str) -> String {
    format!("oauth-signing-key:{kid}")
}

/// Client authentication at the token endpoint: basic or in the form.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The token request's form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The person a sign-in vouched for, whatever the protocol.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedInPerson {
    pub subject: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Vec<String>,
    /// When the identity provider authenticated them, if it said: the ID
    /// token's `auth_time`, so a host that asked for `max_age` can check
    /// it.
    #[serde(default)]
    pub authenticated_at: Option<DateTime<Utc>>,
}

/// A person an identity provider vouched for, on the way to the host's
/// sign-in write. A SAML response's assertion is accepted in that write
/// (`CheckedSamlResponse::into_vouched`); any other sign-in was checked for
/// replay before (an OIDC flow's state is used once; a sign-in started at
/// the identity provider had its assertion accepted at the ACS).
#[derive(Debug, Clone)]
pub struct Vouched {
    person: SignedInPerson,
    assertion: Option<AssertionUse>,
}

impl Vouched {
    /// A person whose sign-in was checked for replay already.
    pub fn checked(person: SignedInPerson) -> Self {
        Self {
            person,
            assertion: None,
        }
    }

    pub(super) fn with_assertion(person: SignedInPerson, assertion: AssertionUse) -> Self {
        Self {
            person,
            assertion: Some(assertion),
        }
    }
}

/// How long an identity-provider-initiated sign-in waits for the host's
/// authorization request.
pub const HANDOFF_LIFETIME: Duration = Duration::minutes(5);
/// How long this instance trusts its last reading of which signing key is
/// current.
const CURRENT_KEY_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Which signing key is current, as this instance last read it (or made
/// it). It is read again after `CURRENT_KEY_FRESH`, so a key rotated on
/// another instance is taken up within a second; the key it replaces
/// stays published for `KEY_OVERLAP`, so tokens signed meanwhile verify.
#[derive(Default)]
pub(crate) struct CurrentKey(std::sync::Mutex<Option<(std::time::Instant, SigningKey)>>);

impl CurrentKey {
    /// The key read last, if read recently and still the one to sign with.
    fn get(&self, now: DateTime<Utc>) -> Option<SigningKey> {
        let slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref()
            .filter(|(read, key)| read.elapsed() < CURRENT_KEY_FRESH && key.signs_at(now))
            .map(|(_, key)| key.clone())
    }

    fn set(&self, key: &SigningKey) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some((std::time::Instant::now(), key.clone()));
    }

    fn clear(&self) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
    }
}

/// OAuth clients read so far. A client never changes once registered
/// (nothing edits or removes one), so one read serves for good; unknown ids
/// are not remembered. Bounded: when full it starts over.
#[derive(Default)]
pub(crate) struct KnownClients(std::sync::Mutex<HashMap<String, OauthClient>>);

const KNOWN_CLIENTS_MAX: usize = 1024;

impl KnownClients {
    fn get(&self, id: &str) -> Option<OauthClient> {
        let known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.get(id).cloned()
    }

    fn add(&self, client: &OauthClient) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= KNOWN_CLIENTS_MAX {
            known.clear();
        }
        known.insert(client.id.clone(), client.clone());
    }
}

const HANDOFF_CONTEXT: &str = "idp-initiated-handoff";

/// An identity-provider-initiated sign-in waiting for the host to ask for
/// it (OpenID Connect's "Initiating Login from a Third Party"); it travels
/// sealed in a cookie, never in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Handoff {
    pub connection_id: String,
    pub person: SignedInPerson,
    pub expires_at: i64,
}

impl Services {
    /// Where an identity-provider-initiated sign-in goes: the first OAuth
    /// client with an `initiate_login_uri`, with `iss` and `login_hint`,
    /// and the sealed handoff for the browser's cookie.
    pub async fn start_handoff(
        &self,
        connection: &Connection,
        person: &SignedInPerson,
    ) -> ServiceResult<Option<(String, String)>> {
        let Some(client) = self
            .store
            .list_oauth_clients()
            .await?
            .into_iter()
            .find(|c| c.initiate_login_uri.is_some())
        else {
            return Ok(None);
        };
        let handoff = Handoff {
            connection_id: connection.id.clone(),
            person: person.clone(),
            expires_at: (self.clock.now() + HANDOFF_LIFETIME).timestamp(),
        };
        let sealed = seal::seal(
            &self.secret_key,
            HANDOFF_CONTEXT,
            &serde_json::to_vec(&handoff).map_err(|e| ServiceError::Unexpected(e.into()))?,
        )
        .map_err(|e| ServiceError::Unexpected(e.into()))?;
        let mut url = url::Url::parse(client.initiate_login_uri.as_deref().unwrap_or_default())
            .map_err(|e| ServiceError::Unexpected(e.into()))?;
        url.query_pairs_mut()
            .append_pair("iss", &self.issuer())
            .append_pair("login_hint", &person.email);
        Ok(Some((url.to_string(), sealed)))
    }

    /// The handoff in a cookie, if it opens and is fresh.
    pub fn open_handoff(&self, sealed: &str) -> Option<Handoff> {
        let bytes = seal::open(&self.secret_key, HANDOFF_CONTEXT, sealed).ok()?;
        let handoff: Handoff = serde_json::from_slice(&bytes).ok()?;
        (self.clock.now().timestamp() < handoff.expires_at).then_some(handoff)
    }

    pub fn issuer(&self) -> String {
        self.config.public_origin()
    }

    /// `/.well-known/openid-configuration`.
    pub fn openid_configuration(&self) -> Value {
        let iss = self.issuer();
        json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/oauth/authorize"),
            "token_endpoint": format!("{iss}/oauth/token"),
            "userinfo_endpoint": format!("{iss}/oauth/userinfo"),
            "jwks_uri": format!("{iss}/oauth/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_modes_supported": ["query"],
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": ["sub", "email", "email_verified", "given_name", "family_name",
                "org_id", "org_role", "groups", "idp", "connection_id", "nonce"],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    pub async fn create_oauth_client(
        &self,
        ctx: &ChangeContext,
        name: &str,
        redirect_uris: &[String],
        initiate_login_uri: Option<&str>,
    ) -> ServiceResult<(OauthClient, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ServiceError::Refused {
                code: "oauth_client_name_invalid",
                message: "Give the client a name of 1 to 100 characters.".into(),
            });
        }
        if redirect_uris.is_empty() || redirect_uris.len() > 20 {
            return Err(ServiceError::Refused {
                code: "oauth_redirect_uri_invalid",
                message: "Register between 1 and 20 redirect URIs.".into(),
            });
        }
        let uris = redirect_uris
            .iter()
            .map(|u| check_redirect_uri(u))
            .collect::<Result<Vec<_>, _>>()?;
        let initiate = initiate_login_uri.map(check_redirect_uri).transpose()?;
        let secret = crypto::random_token("ghcs_");
        let client = OauthClient {
            id: ids::new_id(Kind::Client),
            name: name.to_string(),
            secret_hash: client_secret_hash(&secret),
            redirect_uris: serde_json::to_string(&uris)
                .map_err(|e| ServiceError::Unexpected(e.into()))?,
            initiate_login_uri: initiate,
            created_at: self.clock.now(),
        };
        let event = NewEvent {
            organization_id: None,
            previous_organization_id: None,
            action: "oauth_client.created",
            target_type: "oauth_client",
            target_id: client.id.clone(),
            data: json!({ "name": client.name, "redirect_uris": uris }),
        };
        self.store.insert_oauth_client(&client, ctx, event).await?;
        Ok((client, secret))
    }

    /// A registered client, if `id` is well formed and names one.
    async fn oauth_client(&self, id: &str) -> ServiceResult<Option<OauthClient>> {
        if !ids::is_well_formed(Kind::Client, id) {
            return Ok(None);
        }
        if let Some(client) = self.known_clients.get(id) {
            return Ok(Some(client));
        }
        let client = self.store.get_oauth_client(id).await?;
        if let Some(client) = &client {
            self.known_clients.add(client);
        }
        Ok(client)
    }

    pub async fn list_oauth_clients(&self) -> ServiceResult<Vec<OauthClient>> {
        Ok(self.store.list_oauth_clients().await?)
    }

    /// The key that signs now, made on first use.
    async fn signing_key(&self) -> ServiceResult<(String, PKey<Private>)> {
        let now = self.clock.now();
        let current = match self.current_signing_key.get(now) {
            Some(k) => k,
            None => {
                let keys = self.store.list_signing_keys().await?;
                // Newest first. Were none to sign now (a clock set back),
                // the newest unretired one signs rather than a new key.
                let chosen = keys
                    .iter()
                    .find(|k| k.signs_at(now))
                    .or_else(|| keys.iter().find(|k| k.retired_at.is_none()))
                    .cloned();
                match chosen {
                    Some(k) => {
                        self.current_signing_key.set(&k);
                        k
                    }
                    None => self.rotate_signing_key(KeySwitch::Now).await?,
                }
            }
        };
        let context = key_context(&current.kid);
        let key = self
            .opened_keys
            .get_or_open(&context, &current.private_key, || {
                let der = seal::open(&self.secret_key, &context, &current.private_key)
                    .map_err(|e| ServiceError::Unexpected(e.into()))?;
                PKey::private_key_from_pkcs8(&der).map_err(|e| ServiceError::Unexpected(e.into()))
            })?;
        Ok((current.kid, key))
    }

    /// A new signing key, published at once. It signs from `switch`; the
    /// key signing until then stays published for `KEY_OVERLAP` after, so
    /// tokens it signed still verify.
    pub async fn rotate_signing_key(&self, switch: KeySwitch) -> ServiceResult<SigningKey> {
        let unexpected = |e: openssl::error::ErrorStack| ServiceError::Unexpected(e.into());
        let rsa = Rsa::generate(2048).map_err(unexpected)?;
        let kid = format!("gh{}", crypto::hex(&crypto::random_bytes::<8>()));
        let public_jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        });
        let pkey = PKey::from_rsa(rsa).map_err(unexpected)?;
        let now = self.clock.now();
        let key = SigningKey {
            private_key: seal::seal(
                &self.secret_key,
                &key_context(&kid),
                &pkey.private_key_to_pkcs8().map_err(unexpected)?,
            )
            .map_err(|e| ServiceError::Unexpected(e.into()))?,
            kid,
            public_jwk: public_jwk.to_string(),
            created_at: now,
            retired_at: None,
            signs_from: match switch {
                KeySwitch::Now => None,
                KeySwitch::AfterPublishing => Some(now + KEY_PUBLISHED_AHEAD),
            },
        };
        self.store.insert_signing_key(&key).await?;
        if key.signs_at(now) {
            self.current_signing_key.set(&key);
        } else {
            self.current_signing_key.clear();
        }
        Ok(key)
    }

    /// The id (`kid`) of the key that signs ID tokens now.
    pub async fn signing_key_id(&self) -> ServiceResult<String> {
        Ok(self.signing_key().await?.0)
    }

    /// The published keys: the current one and those retired recently.
    pub async fn jwks(&self) -> ServiceResult<Value> {
        let now = self.clock.now();
        let mut keys = self.store.list_signing_keys().await?;
        if keys.is_empty() {
            self.signing_key().await?;
            keys = self.store.list_signing_keys().await?;
        }
        let published: Vec<Value> = keys
            .into_iter()
            .filter(|k| k.retired_at.is_none_or(|r| now - r < KEY_OVERLAP))
            .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
            .collect();
        Ok(json!({ "keys": published }))
    }

    /// `/oauth/authorize`: checks the client and its redirect URI (without
    /// them there is no safe place to report to), then everything else as
    /// OAuth errors on that URI, then sends the browser to the identity
    /// provider of the organization the email or `organization` names.
    pub async fn authorize(
        &self,
        p: &AuthorizeParams,
        handoff: Option<Handoff>,
        request_id: Option<String>,
    ) -> ServiceResult<Authorize> {
        let client = match p.client_id.as_deref() {
            Some(id) => self.oauth_client(id).await?,
            None => None,
        };
        let Some(client) = client else {
            return Ok(Authorize::Page("oauth_client_unknown"));
        };
        let Some(redirect_uri) = p
            .redirect_uri
            .as_deref()
            .filter(|r| client.redirect_uris().iter().any(|u| u == r))
        else {
            return Ok(Authorize::Page("oauth_redirect_uri_invalid"));
        };
        let request = HostRequest {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_string(),
            state: p.state.clone(),
            nonce: p.nonce.clone(),
            code_challenge: p.code_challenge.clone(),
        };
        let refusal = match self.authorize_for(p, handoff, &request).await? {
            Ok(answer) => return Ok(answer),
            Err(refusal) => refusal,
        };
        if refusal.audited {
            self.record_sign_in_failure(
                FailedSignIn {
                    organization_id: refusal.organization_id.as_deref(),
                    connection_id: refusal.connection_id.as_deref(),
                    client_id: Some(&client.id),
                    login_hint: p.login_hint.as_deref(),
                    code: refusal.code,
                },
                request_id,
            )
            .await;
        }
        Ok(Authorize::Redirect(error_redirect(
            &self.config.public_origin(),
            &request,
            refusal.error,
            refusal.code,
        )))
    }

    /// [`Services::authorize`] once the client and its redirect URI are
    /// known: the answer, or why the host gets an OAuth error instead.
    async fn authorize_for(
        &self,
        p: &AuthorizeParams,
        handoff: Option<Handoff>,
        request: &HostRequest,
    ) -> ServiceResult<Result<Authorize, Refusal>> {
        let fail = |error: &'static str, code: &'static str| Ok(Err(Refusal::new(error, code)));
        if p.response_type.as_deref() != Some("code") {
            return fail(
                "unsupported_response_type",
                "oauth_response_type_unsupported",
            );
        }
        if !p
            .scope
            .as_deref()
            .is_some_and(|s| s.split_whitespace().any(|x| x == "openid"))
        {
            return fail("invalid_scope", "oauth_scope_invalid");
        }
        if p.code_challenge.is_some() && p.code_challenge_method.as_deref() != Some("S256") {
            return fail("invalid_request", "oauth_pkce_invalid");
        }
        if let Some(r) = authorize_request::unsupported(
            p.response_mode.as_deref(),
            p.request.as_deref(),
            p.request_uri.as_deref(),
        ) {
            return fail(r.error, r.code);
        }
        let asked = match authorize_request::asked(p.prompt.as_deref(), p.max_age.as_deref()) {
            Ok(a) => a,
            Err(r) => return fail(r.error, r.code),
        };
        let connection = match self
            .connection_for(p.login_hint.as_deref(), p.organization.as_deref())
            .await?
        {
            Ok(c) => c,
            Err((code, organization_id)) => {
                return Ok(Err(Refusal {
                    organization_id,
                    ..Refusal::new("access_denied", code)
                }));
            }
        };
        let at_connection = |code: &'static str| {
            Ok(Err(Refusal {
                organization_id: Some(connection.organization_id.clone()),
                connection_id: Some(connection.id.clone()),
                ..Refusal::new("access_denied", code)
            }))
        };
        // The identity provider already vouched for this person moments
        // ago (a sign-in started from its dashboard): no second trip,
        // unless the host asks for a fresh authentication.
        if let Some(h) = handoff.filter(|h| {
            !asked.saml_force_authn()
                && h.connection_id == connection.id
                && p.login_hint
                    .as_deref()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case(&h.person.email))
        }) {
            // Its assertion was accepted at the ACS.
            return match self
                .finish_host_sign_in(&connection, request, Vouched::checked(h.person), None)
                .await?
            {
                Ok(url) => Ok(Ok(Authorize::Redirect(url))),
                Err(refused) => at_connection(refused.code),
            };
        }
        // Every other sign-in goes through the identity provider, which
        // may have to show a page. A host checking silently whether someone
        // is signed in, say every hour per person, is no failed sign-in: the
        // audit log and the admins' Activity page stay free of it.
        if asked.interaction == Interaction::NoPages {
            return Ok(Err(Refusal {
                organization_id: Some(connection.organization_id.clone()),
                connection_id: Some(connection.id.clone()),
                audited: false,
                ..Refusal::new("login_required", "oauth_login_required")
            }));
        }
        let context = json!({ "oauth": request });
        let started = match connection.protocol() {
            Protocol::Saml => {
                self.begin_saml_sign_in(
                    &connection.id,
                    FlowPurpose::SignIn,
                    context,
                    asked.saml_force_authn(),
                )
                .await
            }
            Protocol::Oidc => self
                .begin_oidc_sign_in(
                    &connection.id,
                    FlowPurpose::SignIn,
                    context,
                    p.login_hint.as_deref(),
                    asked,
                )
                .await
                .map(SignInStart::Redirect),
        };
        match started {
            Ok(start) => Ok(Ok(Authorize::Start(start))),
            Err(ServiceError::Refused { code, .. }) => at_connection(code),
            Err(e) => Err(e),
        }
    }

    /// The active connection the email's domain (or the organization)
    /// signs in with, or the code of why there is none (with the
    /// organization, where one is known).
    async fn connection_for(
        &self,
        login_hint: Option<&str>,
        organization: Option<&str>,
    ) -> ServiceResult<Result<Connection, (&'static str, Option<String>)>> {
        let org_id = match (login_hint, organization) {
            (_, Some(org)) if ids::is_well_formed(Kind::Organization, org) => org.to_string(),
            (Some(email), _) => {
                let Some(domain) = domains::email_domain(email) else {
                    return Ok(Err(("oauth_login_hint_invalid", None)));
                };
                match self.sso_domain_owner(&domain).await? {
                    Some(org) => org,
                    None => return Ok(Err(("domain_not_verified", None))),
                }
            }
            _ => return Ok(Err(("oauth_login_hint_missing", None))),
        };
        let active = self
            .store
            .list_connections(&org_id)
            .await?
            .into_iter()
            .find(|c| c.state() == State::Active);
        if let Some(c) = active {
            return Ok(Ok(c));
        }
        // Filed under the organization only if there is one by that id.
        let known = self.store.get_organization(&org_id).await?.is_some();
        Ok(Err(("connection_inactive", known.then_some(org_id))))
    }

    /// The most specific verified domain at or above `domain`, and whether
    /// it is `domain` itself.
    async fn governing_domain(&self, domain: &str) -> ServiceResult<Option<(Domain, bool)>> {
        let domain = domain.to_ascii_lowercase();
        let mut candidate = Some(domain.clone());
        while let Some(name) = candidate {
            if let Some(d) = self.store.find_verified_domain(&name).await?
                && d.status == Status::Verified
            {
                return Ok(Some((d, name == domain)));
            }
            candidate = name
                .split_once('.')
                .map(|(_, rest)| rest.to_string())
                .filter(|r| r.contains('.'));
        }
        Ok(None)
    }

    /// The organization whose SSO covers `domain`: it verified the domain
    /// for SSO, or a parent of it where its active connection allows
    /// subdomains. A more specific verified domain decides first, so a
    /// subdomain verified on its own (say, for contractors) stays open.
    pub async fn sso_domain_owner(&self, domain: &str) -> ServiceResult<Option<String>> {
        let governing = self.governing_domain(domain).await?;
        Ok(self.sso_coverage(governing).await?.map(|(org, _)| org))
    }

    /// [`Services::sso_domain_owner`] of the domain `governing_domain`
    /// found, with the organization's active connection if it has one.
    async fn sso_coverage(
        &self,
        governing: Option<(Domain, bool)>,
    ) -> ServiceResult<Option<(String, Option<Connection>)>> {
        let Some((d, exact)) = governing else {
            return Ok(None);
        };
        if d.purpose != Purpose::Sso {
            return Ok(None);
        }
        let active = self
            .store
            .list_connections(&d.organization_id)
            .await?
            .into_iter()
            .find(|c| c.state() == State::Active);
        if exact {
            return Ok(Some((d.organization_id, active)));
        }
        Ok(active
            .filter(|c| c.allow_subdomains)
            .map(|c| (d.organization_id, Some(c))))
    }

    /// `GET /discovery`: whether a person with this email must sign in
    /// with SSO, and the organization that verified their domain. A domain
    /// with an active connection is SSO-only; every other domain, verified
    /// or not, stays open to the host's other sign-in methods.
    pub async fn discover_sign_in(&self, email: &str) -> ServiceResult<SignInDiscovery> {
        let domain = domains::email_domain(email).ok_or_else(|| ServiceError::Refused {
            code: "email_invalid",
            message: "Give the person's email address, such as alice@example.com.".into(),
        })?;
        let governing = self.governing_domain(&domain).await?;
        // Open or not, say whose verified domain it is, if it is exactly one.
        let owner = governing
            .as_ref()
            .filter(|(_, exact)| *exact)
            .map(|(d, _)| d.organization_id.clone());
        if let Some((organization_id, active)) = self.sso_coverage(governing).await? {
            return Ok(SignInDiscovery {
                sso_required: active.is_some(),
                organization_id: Some(organization_id),
                connection_id: active.map(|c| c.id),
            });
        }
        Ok(SignInDiscovery {
            sso_required: false,
            organization_id: owner,
            connection_id: None,
        })
    }

    /// The identity provider vouched for someone: provision them and answer
    /// the redirect that hands the host its code; or, if their SAML
    /// assertion is refused (used before), the error, with nothing written.
    pub async fn finish_host_sign_in(
        &self,
        connection: &Connection,
        request: &HostRequest,
        vouched: Vouched,
        request_id: Option<String>,
    ) -> ServiceResult<Result<String, SignInError>> {
        let Vouched { person, assertion } = vouched;
        // The organization is not read here: the write takes its default
        // role for a new member.
        let org_id = &connection.organization_id;
        let now = self.clock.now();
        let code = crypto::random_token("ghc_");
        let mut claims = Map::new();
        claims.insert("email".into(), json!(person.email));
        claims.insert("email_verified".into(), json!(true));
        if let Some(v) = &person.first_name {
            claims.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &person.last_name {
            claims.insert("family_name".into(), json!(v));
        }
        claims.insert("org_id".into(), json!(org_id));
        claims.insert("groups".into(), json!(person.groups));
        claims.insert("idp".into(), json!(connection.provider.as_str()));
        claims.insert("connection_id".into(), json!(connection.id));
        // Never later than now: a provider's clock may run ahead.
        let auth_time = person.authenticated_at.filter(|t| *t <= now).unwrap_or(now);
        claims.insert("auth_time".into(), json!(auth_time.timestamp()));
        if let Some(nonce) = &request.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        let mapped = mapped_role(&connection.role_mapping, &person.groups);
        let write = SignInWrite {
            organization_id: org_id.clone(),
            connection_id: connection.id.clone(),
            subject: person.subject.clone(),
            email: person.email.clone(),
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            mapped_role: mapped.map(str::to_string),
            new_user_id: ids::new_id(Kind::User),
            now,
            code: Some(CodeWrite {
                code_hash: crypto::token_hash(&code),
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                claims,
                expires_at: now + CODE_LIFETIME,
            }),
            assertion,
        };
        let ctx = ChangeContext {
            actor: Actor::System,
            request_id,
        };
        if let Err(refusal) = self.store.record_sign_in(&write, &ctx).await? {
            let assertion_id = write.assertion.map(|a| a.assertion_id).unwrap_or_default();
            return Ok(Err(super::saml_signin::refused(refusal, &assertion_id)));
        }
        let mut url = url::Url::parse(&request.redirect_uri)
            .map_err(|e| ServiceError::Unexpected(e.into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("code", &code);
            if let Some(state) = &request.state {
                q.append_pair("state", state);
            }
            q.append_pair("iss", &self.issuer());
        }
        Ok(Ok(url.to_string()))
    }

    /// A failed sign-in, in the audit log (best effort: the person is
    /// already on their way back to the host).
    pub async fn record_sign_in_failure(
        &self,
        failed: FailedSignIn<'_>,
        request_id: Option<String>,
    ) {
        let ctx = ChangeContext {
            actor: Actor::System,
            request_id,
        };
        let mut data = json!({ "error_code": failed.code });
        let mut add = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                data[k] = json!(v);
            }
        };
        add("connection_id", failed.connection_id);
        add("client_id", failed.client_id);
        // What the host passed as the person's email: unverified, so kept
        // short and shown as given.
        let hint = failed
            .login_hint
            .map(|h| h.trim().chars().take(LOGIN_HINT_KEPT).collect::<String>());
        add("login_hint", hint.as_deref());
        let (target_type, target_id) = match (failed.connection_id, failed.client_id) {
            (Some(c), _) => ("connection", c),
            (None, Some(c)) => ("oauth_client", c),
            (None, None) => ("connection", ""),
        };
        let event = NewEvent {
            organization_id: failed.organization_id.map(str::to_string),
            previous_organization_id: None,
            action: "sign_in.failed",
            target_type,
            target_id: target_id.to_string(),
            data,
        };
        if let Err(e) = self.store.record_event(&ctx, event, self.clock.now()).await {
            tracing::warn!(error = %e, "recording a failed sign-in failed");
        }
    }

    /// `/oauth/token`: the code for an ID token and an access token.
    pub async fn exchange_host_code(
        &self,
        credentials: &ClientCredentials,
        p: &TokenParams,
    ) -> Result<Value, OauthError> {
        let internal = |e: ServiceError| oauth_error(500, "server_error", e.to_string());
        let client_id = credentials
            .client_id
            .as_deref()
            .or(p.client_id.as_deref())
            .unwrap_or_default();
        let secret = credentials
            .client_secret
            .as_deref()
            .or(p.client_secret.as_deref())
            .unwrap_or_default();
        let client = self
            .oauth_client(client_id)
            .await
            .map_err(internal)?
            .filter(|c| crypto::constant_time_eq(&c.secret_hash, &client_secret_hash(secret)))
            .ok_or_else(|| oauth_error(401, "invalid_client", "client authentication failed"))?;
        if p.grant_type.as_deref() != Some("authorization_code") {
            return Err(oauth_error(
                400,
                "unsupported_grant_type",
                "only authorization_code is supported",
            ));
        }
        let now = self.clock.now();
        let code_hash = crypto::token_hash(p.code.as_deref().unwrap_or_default());
        let access_token = crypto::random_token("ghat_");
        let token = NewAccessToken {
            token_hash: crypto::token_hash(&access_token),
            expires_at: now + TOKEN_LIFETIME,
        };
        let code = match self
            .store
            .redeem_oauth_code(&code_hash, now, &token)
            .await
            .map_err(|e| internal(e.into()))?
        {
            Redemption::Taken(code) => code,
            Redemption::Used => {
                return Err(oauth_error(
                    400,
                    "invalid_grant",
                    "the code was already used",
                ));
            }
            Redemption::Unknown => return Err(oauth_error(400, "invalid_grant", "unknown code")),
        };
        let checked = token_claims(
            &code,
            &client.id,
            p.redirect_uri.as_deref(),
            p.code_verifier.as_deref(),
            &self.issuer(),
            now,
        );
        let claims = match checked {
            Ok(claims) => claims,
            Err(refused) => {
                // The code stays used; its token was never handed out, so a
                // token left behind is harmless and the refusal stands.
                if let Err(e) = self.store.forget_access_token(&token.token_hash).await {
                    tracing::warn!(error = %e, "the access token of a refused code was not deleted");
                }
                return Err(refused);
            }
        };
        let (kid, key) = self.signing_key().await.map_err(internal)?;
        let id_token =
            jwt(&key, &kid, &claims).map_err(|e| internal(ServiceError::Unexpected(e)))?;
        Ok(json!({
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME.num_seconds(),
        }))
    }

    /// `/oauth/userinfo`: the claims an access token was issued with.
    pub async fn host_userinfo(&self, access_token: &str) -> Result<Value, OauthError> {
        let claims = self
            .store
            .access_token_claims(&crypto::token_hash(access_token), self.clock.now())
            .await
            .map_err(|e| oauth_error(500, "server_error", e.to_string()))?
            .ok_or_else(|| {
                oauth_error(
                    401,
                    "invalid_token",
                    "the access token is unknown or expired",
                )
            })?;
        let mut claims: Map<String, Value> = serde_json::from_str(&claims).unwrap_or_default();
        for token_only in ["iss", "aud", "iat", "exp", "nonce", "auth_time"] {
            claims.remove(token_only);
        }
        Ok(Value::Object(claims))
    }

    /// Decodes `Authorization: Basic`, form-decoding both parts (RFC 6749).
    pub fn basic_credentials(header: &str) -> ClientCredentials {
        let decoded = header
            .strip_prefix("Basic ")
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return ClientCredentials::default();
        };
        let decode = |v: &str| {
            url::form_urlencoded::parse(format!("v={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        ClientCredentials {
            client_id: decode(id),
            client_secret: decode(secret),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(challenge: Option<&str>) -> OauthCode {
        OauthCode {
            client_id: "client_1".into(),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: challenge.map(str::to_string),
            claims: r#"{"sub":"user_1"}"#.into(),
            expires_at: chrono::Utc::now() + CODE_LIFETIME,
        }
    }

    fn redeem(code: &OauthCode, verifier: Option<&str>) -> Result<Value, &'static str> {
        token_claims(
            code,
            "client_1",
            Some("https://app.example/cb"),
            verifier,
            "https://sso.example",
            chrono::Utc::now(),
        )
        .map_err(|e| e.error)
    }

    #[test]
    fn pkce_is_all_or_nothing() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let with = code(Some(&challenge));
        assert!(redeem(&with, Some(verifier)).is_ok());
        assert_eq!(redeem(&with, Some("another")), Err("invalid_grant"));
        assert_eq!(redeem(&with, None), Err("invalid_grant"));
        let without = code(None);
        assert!(redeem(&without, None).is_ok());
        assert_eq!(
            redeem(&without, Some(verifier)),
            Err("invalid_grant"),
            "a verifier where there was no challenge: a downgrade"
        );
    }
}
