//! The OpenID Connect half of sign-in: the authorization request out
//! (authorization code with PKCE S256; state, nonce and verifier kept
//! server-side, single use, bound to the connection and the issuer), and the
//! callback in: the code exchanged, the ID token checked claim by claim,
//! userinfo where the token lacks the email, down to an identity of the
//! connection's organization or a named error.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::oidc_settings::oidc_config;
use super::saml_signin::{FlowPurpose, live_config};
use super::test_sign_in::FlowOrigin;
use super::{ServiceError, ServiceResult, Services};
use crate::crypto::{self, seal};
use crate::domain::authorize_request::{Asked, Interaction};
use crate::domain::connections::{Connection, Protocol, Provider};
use crate::domain::domains;

use crate::domain::sign_in::SignInError;
use crate::ids::Kind;
use crate::oidc::config::{OidcConfig, ProviderMetadata, TokenAuth, redirect_uri};
use crate::oidc::id_token::{self, Expected};
use crate::oidc::identity::{self, EmailSource, OidcIdentity};
use crate::oidc::jwks;
use crate::oidc::jwt::{self, Jwk, Verified};
use crate::store::oidc::OidcFlow;

/// How long the provider has to answer.
pub const FLOW_LIFETIME: Duration = Duration::minutes(10);
const STATE_PREFIX: &str = "ghs_";

/// What the provider sent back to the callback.
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207: the issuer of the response, where the provider sends it.
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A completed OpenID Connect sign-in.
#[derive(Debug, Clone)]
pub struct OidcSignIn {
    pub connection: Connection,
    pub identity: OidcIdentity,
    pub flow: OidcFlow,
}

/// A failed one: the error, and whether an admin's test asked (who may see
/// the details) or an end user.
#[derive(Debug, Clone)]
pub struct OidcFailure {
    pub error: SignInError,
    pub purpose: Option<String>,
    pub connection_id: Option<String>,
    /// The flow it failed in, once known.
    pub origin: FlowOrigin,
    /// The verified claims, when the failure came after the ID token
    /// checked out (for an admin's test to pick the email claim from).
    pub received: Vec<(String, String)>,
}

fn fail(error: SignInError) -> OidcFailure {
    OidcFailure {
        error,
        purpose: None,
        connection_id: None,
        origin: FlowOrigin::default(),
        received: Vec::new(),
    }
}

fn verifier_context(flow_id: &str) -> String {
    format!("oidc-pkce:{flow_id}")
}

/// The settings a flow of this purpose uses.
fn settings_for(connection: &Connection, purpose: &str) -> Result<OidcConfig, SignInError> {
    match purpose {
        "test" => Ok(oidc_config(connection)),
        _ => live_config(connection),
    }
}

fn token_error(detail: impl Into<String>) -> SignInError {
    SignInError::new("oauth_token_exchange_error", detail)
}

fn shorten(s: &str) -> String {
    s.chars().take(300).collect()
}

impl Services {
    /// Starts a sign-in: stores the flow and answers the URL of the
    /// provider's authorization endpoint. `login_hint` is passed on.
    pub async fn start_oidc_sign_in(
        &self,
        connection_id: &str,
        purpose: FlowPurpose,
        context: Value,
        login_hint: Option<&str>,
    ) -> ServiceResult<String> {
        let usual = Asked {
            interaction: Interaction::Usual,
            max_age: None,
        };
        self.begin_oidc_sign_in(connection_id, purpose, context, login_hint, usual)
            .await
    }

    /// [`Services::start_oidc_sign_in`], passing on what the host's
    /// request `asked`: a fresh authentication (`prompt=login`) or one no
    /// older than `max_age`.
    pub(crate) async fn begin_oidc_sign_in(
        &self,
        connection_id: &str,
        purpose: FlowPurpose,
        context: Value,
        login_hint: Option<&str>,
        asked: Asked,
    ) -> ServiceResult<String> {
        let connection = self.get_connection(connection_id).await?;
        if connection.protocol() != Protocol::Oidc {
            return Err(ServiceError::not_found(Kind::Connection, connection_id));
        }
        let config =
            settings_for(&connection, purpose.as_str()).map_err(|e| ServiceError::Refused {
                code: e.code,
                message: e.detail,
            })?;
        let (Some(provider), Some(client_id), true) = (
            config.provider.as_ref(),
            config.client_id.as_deref(),
            config.is_complete(),
        ) else {
            return Err(ServiceError::Refused {
                code: "connection_incomplete",
                message: "The provider's settings are not complete yet.".into(),
            });
        };
        let now = self.clock.now();
        let state = crypto::random_token(STATE_PREFIX);
        let nonce = crypto::random_token("");
        let verifier = crypto::random_token("");
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let flow_id = crypto::random_token("oflow_");
        let flow = OidcFlow {
            code_verifier: seal::seal(
                &self.secret_key,
                &verifier_context(&flow_id),
                verifier.as_bytes(),
            )
            .map_err(|e| ServiceError::Unexpected(e.into()))?,
            id: flow_id,
            connection_id: connection.id.clone(),
            purpose: purpose.as_str().into(),
            context:
                json!({ "config_version": connection.lifecycle.config_version, "data": context })
                    .to_string(),
            nonce: nonce.clone(),
            issuer: provider.issuer.clone(),
            created_at: now,
            expires_at: now + FLOW_LIFETIME,
            used_at: None,
        };
        self.store
            .insert_oidc_flow(&flow, &crypto::token_hash(&state))
            .await?;
        let mut url = url::Url::parse(&provider.authorization_endpoint)
            .map_err(|e| ServiceError::Unexpected(e.into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair(
                    "redirect_uri",
                    &redirect_uri(&self.config.public_origin(), &connection.id),
                )
                .append_pair("scope", &config.scope())
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = login_hint.map(str::trim).filter(|h| !h.is_empty()) {
                q.append_pair("login_hint", hint);
            }
            if asked.oidc_prompt_login() {
                q.append_pair("prompt", "login");
            }
            if let Some(age) = asked.oidc_max_age() {
                q.append_pair("max_age", &age.to_string());
            }
        }
        Ok(url.to_string())
    }

    /// Completes a sign-in at the callback of `connection_id`.
    pub async fn complete_oidc_sign_in(
        &self,
        connection_id: &str,
        params: &CallbackParams,
    ) -> Result<OidcSignIn, OidcFailure> {
        let unexpected = |e: ServiceError| fail(SignInError::new("internal_error", e.to_string()));
        let connection = match self.get_connection(connection_id).await {
            Ok(c) if c.protocol() == Protocol::Oidc => c,
            Ok(_) | Err(ServiceError::NotFound { .. }) => {
                return Err(fail(SignInError::new(
                    "oidc_connection_unknown",
                    "No OpenID Connect connection has the id in this callback URL.",
                )));
            }
            Err(e) => return Err(unexpected(e)),
        };
        let now = self.clock.now();

        // The state: ours, for this connection, fresh, and used once.
        let state = params
            .state
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                fail(SignInError::new(
                    "oidc_state_missing",
                    "The provider's answer carries no state, so it cannot be matched to a sign-in started here.",
                ))
            })?;
        let flow = self
            .store
            .find_oidc_flow(&crypto::token_hash(state))
            .await
            .map_err(|e| unexpected(e.into()))?
            .ok_or_else(|| {
                fail(SignInError::new(
                    "oidc_state_mismatch",
                    "The state was not issued by Gatehouse, or has been cut off.",
                ))
            })?;
        if flow.connection_id != connection.id {
            return Err(fail(SignInError::mismatch(
                "oidc_state_mismatch",
                "The answer came to another connection's callback than the one the sign-in started with.",
                &flow.connection_id,
                Some(&connection.id),
            )));
        }
        let origin = FlowOrigin::new(&flow.purpose, &flow.context);
        let with_context = |error: SignInError| OidcFailure {
            error,
            purpose: Some(flow.purpose.clone()),
            connection_id: Some(connection.id.clone()),
            origin: origin.clone(),
            received: Vec::new(),
        };
        if flow.used_at.is_some()
            || !self
                .store
                .consume_oidc_flow(&flow.id, now)
                .await
                .map_err(|e| unexpected(e.into()))?
        {
            return Err(with_context(SignInError::new(
                "oidc_state_replayed",
                "This sign-in was already completed; its answer can be used once.",
            )));
        }
        if now >= flow.expires_at {
            return Err(with_context(SignInError::new(
                "oidc_request_expired",
                "The sign-in took too long (over 10 minutes) and has expired. Start it again.",
            )));
        }
        if let Some(iss) = params.iss.as_deref()
            && iss != flow.issuer
        {
            return Err(with_context(SignInError::mismatch(
                "oidc_issuer_mismatch",
                "The answer names another issuer than the provider this sign-in was sent to.",
                &flow.issuer,
                Some(iss),
            )));
        }
        if let Some(error) = params.error.as_deref() {
            let description = params
                .error_description
                .as_deref()
                .map(|d| format!(" It said: “{}”.", shorten(d)))
                .unwrap_or_default();
            return Err(with_context(if error == "access_denied" {
                SignInError {
                    received: Some(error.into()),
                    ..SignInError::new(
                        "oauth_access_denied",
                        format!(
                            "The provider did not let the user sign in (for example, the user is not assigned to the application, or declined).{description}"
                        ),
                    )
                }
            } else {
                SignInError {
                    received: Some(shorten(error)),
                    ..SignInError::new(
                        "oauth_authorization_error",
                        format!("The provider refused the sign-in request.{description}"),
                    )
                }
            }));
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                with_context(SignInError::new(
                    "oauth_authorization_error",
                    "The provider's answer carries neither a code nor an error.",
                ))
            })?;

        let config = settings_for(&connection, &flow.purpose).map_err(&with_context)?;
        let (Some(provider), Some(client_id), Some(secret)) = (
            config.provider.as_ref(),
            config.client_id.as_deref(),
            self.client_secret(&connection.id, &config),
        ) else {
            return Err(with_context(SignInError::new(
                "connection_incomplete",
                "The provider's settings are not complete, or the client secret no longer opens (was GATEHOUSE_SECRET_KEY changed?).",
            )));
        };
        if provider.issuer != flow.issuer {
            return Err(with_context(SignInError::mismatch(
                "oidc_issuer_mismatch",
                "The connection's provider changed while this sign-in was under way.",
                &flow.issuer,
                Some(&provider.issuer),
            )));
        }
        let verifier = seal::open(
            &self.secret_key,
            &verifier_context(&flow.id),
            &flow.code_verifier,
        )
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| {
            unexpected(ServiceError::Unexpected(anyhow::anyhow!(
                "the PKCE verifier does not open"
            )))
        })?;

        let tokens = self
            .exchange_code(&connection, provider, client_id, &secret, code, &verifier)
            .await
            .map_err(&with_context)?;
        let id_token = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                with_context(token_error(
                    "The provider's token answer carries no ID token; is the `openid` scope allowed for this client?",
                ))
            })?;
        let mut claims = self
            .verified_claims(provider, id_token)
            .await
            .map_err(&with_context)?;
        id_token::check(
            &claims,
            Expected {
                issuer: &flow.issuer,
                client_id,
                nonce: &flow.nonce,
            },
            now,
        )
        .map_err(&with_context)?;
        let email_claim = config.claim_mapping.email.as_deref();
        if identity::needs_userinfo(&claims, email_claim)
            && let (Some(endpoint), Some(access_token)) = (
                provider.userinfo_endpoint.as_deref(),
                tokens.get("access_token").and_then(Value::as_str),
            )
        {
            let userinfo = self
                .userinfo(endpoint, access_token)
                .await
                .map_err(&with_context)?;
            identity::merge_userinfo(&mut claims, userinfo).map_err(&with_context)?;
        }
        let identity = self
            .oidc_identity(&connection, &config, &claims)
            .await
            .map_err(|e| match e {
                Ok(error) => OidcFailure {
                    received: identity::claims_text(&claims),
                    ..with_context(error)
                },
                Err(e) => unexpected(e),
            })?;
        Ok(OidcSignIn {
            connection,
            identity,
            flow,
        })
    }

    /// From verified claims to a person of the connection's organization:
    /// the provider's rules with the email claim these settings pick
    /// (`identity::map`), then the domains. Google Workspace's hosted domain
    /// and the email's domain must be verified SSO domains of the
    /// organization; an email from a picked claim other than `email`, which
    /// the provider does not vouch for, is refused with its own code.
    pub(crate) async fn oidc_identity(
        &self,
        connection: &Connection,
        config: &OidcConfig,
        claims: &Map<String, Value>,
    ) -> Result<OidcIdentity, Result<SignInError, ServiceError>> {
        let identity = identity::map(
            connection.provider,
            claims,
            config.tenant_id.as_deref(),
            config.claim_mapping.email.as_deref(),
        )
        .map_err(Ok)?;
        if connection.provider == Provider::GoogleWorkspaceOidc {
            // Google Workspace: the account's hosted domain must be one of
            // the organization's verified SSO domains.
            self.check_verified_domain(
                connection,
                identity.hosted_domain.as_deref(),
                "oidc_hosted_domain_mismatch",
                "The user's Google Workspace (hosted domain) is not one of this organization's verified domains.",
            )
            .await?;
        }
        match &identity.email_source {
            EmailSource::Provider => {
                self.check_email_domain(
                    connection,
                    &identity.email,
                    "oidc_email_address_domain_mismatch",
                )
                .await?;
            }
            EmailSource::Picked(claim) => {
                let domain = domains::email_domain(&identity.email).unwrap_or_default();
                self.check_verified_domain(
                    connection,
                    Some(&domain),
                    "oidc_email_claim_domain_mismatch",
                    &format!(
                        "The email comes from the claim `{claim}`, which the provider does not vouch for as a verified address; Gatehouse accepts it only at a verified domain of this organization, and {} is not one.",
                        identity.email
                    ),
                )
                .await?;
            }
        }
        Ok(identity)
    }

    /// What a sign-in with these claims (a test's record) would give if the
    /// email came from `email_claim` (`None`: the provider's rules): the
    /// address, or the error. The same rules as a sign-in.
    pub async fn preview_oidc_email(
        &self,
        connection: &Connection,
        received: &[(String, String)],
        email_claim: Option<&str>,
    ) -> ServiceResult<Result<String, SignInError>> {
        let mut config = oidc_config(connection);
        config.claim_mapping.email = email_claim.map(str::to_string);
        let claims = identity::claims_from_text(received);
        match self.oidc_identity(connection, &config, &claims).await {
            Ok(identity) => Ok(Ok(identity.email)),
            Err(Ok(error)) => Ok(Err(error)),
            Err(Err(e)) => Err(e),
        }
    }

    /// The code for tokens at the token endpoint, with the client's secret.
    async fn exchange_code(
        &self,
        connection: &Connection,
        provider: &ProviderMetadata,
        client_id: &str,
        secret: &str,
        code: &str,
        verifier: &str,
    ) -> Result<Map<String, Value>, SignInError> {
        let redirect = redirect_uri(&self.config.public_origin(), &connection.id);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier),
        ];
        let auth = provider.token_auth;
        if auth == TokenAuth::ClientSecretPost {
            form.push(("client_id", client_id));
            form.push(("client_secret", secret));
        }
        // RFC 6749 2.3.1: both parts form-encoded before base64.
        let encode =
            |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", encode(client_id), encode(secret)))
        );
        let answer = self
            .fetcher
            .send(reqwest::Method::POST, &provider.token_endpoint, |r| {
                let r = r
                    .header(reqwest::header::ACCEPT, "application/json")
                    .form(&form);
                match auth {
                    TokenAuth::ClientSecretBasic => {
                        r.header(reqwest::header::AUTHORIZATION, &basic)
                    }
                    TokenAuth::ClientSecretPost => r,
                }
            })
            .await
            .map_err(|e| {
                token_error(format!(
                    "Gatehouse could not reach the provider's token endpoint: {}",
                    e.message
                ))
            })?;
        let body: Option<Map<String, Value>> = serde_json::from_slice(&answer.body).ok();
        if answer.status != 200 {
            let field = |name: &str| {
                body.as_ref()
                    .and_then(|b| b.get(name))
                    .and_then(Value::as_str)
                    .map(shorten)
            };
            let said = match (field("error"), field("error_description")) {
                (Some(e), Some(d)) => format!(" It said: {e}: “{d}”."),
                (Some(e), None) => format!(" It said: {e}."),
                _ => String::new(),
            };
            let hint = match field("error").as_deref() {
                Some("invalid_client") => {
                    " Check the client ID and client secret (a secret may have expired)."
                }
                Some("invalid_grant") => {
                    " The code was already used or has expired; start the sign-in again."
                }
                _ => "",
            };
            return Err(SignInError {
                received: field("error").or(Some(format!("HTTP {}", answer.status))),
                ..token_error(format!(
                    "The provider refused to exchange the code for tokens (HTTP {}).{said}{hint}",
                    answer.status
                ))
            });
        }
        let body = body.ok_or_else(|| token_error("The provider's token answer is not JSON."))?;
        if let Some(kind) = body.get("token_type").and_then(Value::as_str)
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(token_error(format!(
                "The provider issued a “{}” token; Gatehouse expects a bearer token.",
                shorten(kind)
            )));
        }
        Ok(body)
    }

    /// The ID token's claims once its signature verified with the
    /// provider's keys (fetched again once on an unknown key ID).
    async fn verified_claims(
        &self,
        provider: &ProviderMetadata,
        id_token: &str,
    ) -> Result<Map<String, Value>, SignInError> {
        let jws = jwt::parse(id_token)?;
        let now = self.clock.now();
        let mut keys = match self.jwks.fresh(&provider.jwks_uri, now) {
            Some(keys) => keys,
            None => self.fetch_keys(&provider.jwks_uri).await?,
        };
        let mut outcome = jws.verify(&keys);
        if outcome == Verified::UnknownKey && self.jwks.may_refetch(&provider.jwks_uri, now) {
            keys = self.fetch_keys(&provider.jwks_uri).await?;
            outcome = jws.verify(&keys);
        }
        match outcome {
            Verified::Valid => Ok(jws.claims),
            Verified::UnknownKey => Err(SignInError {
                received: Some(jws.kid.unwrap_or_else(|| "(no kid)".into())),
                expected: Some(
                    keys.iter()
                        .filter_map(|k| k.kid.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                ..SignInError::new(
                    "oidc_id_token_key_unknown",
                    "The ID token is signed with a key the provider does not publish at its jwks_uri.",
                )
            }),
            Verified::Invalid => Err(SignInError::new(
                "oidc_id_token_signature_invalid",
                "The ID token's signature does not verify with the provider's published key.",
            )),
        }
    }

    async fn fetch_keys(&self, uri: &str) -> Result<Vec<Jwk>, SignInError> {
        let fetched = self
            .fetcher
            .get(uri, "application/jwk-set+json, application/json")
            .await
            .map_err(|e| {
                SignInError::new(
                    "oidc_jwks_unavailable",
                    format!(
                        "Gatehouse could not fetch the provider's signing keys: {}",
                        e.message
                    ),
                )
            })?;
        let keys = jwks::parse(&fetched.body)?;
        self.jwks.put(uri, keys.clone(), self.clock.now());
        Ok(keys)
    }

    async fn userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
    ) -> Result<Map<String, Value>, SignInError> {
        let bearer = format!("Bearer {access_token}");
        let answer = self
            .fetcher
            .send(reqwest::Method::GET, endpoint, |r| {
                r.header(reqwest::header::AUTHORIZATION, &bearer)
                    .header(reqwest::header::ACCEPT, "application/json")
            })
            .await
            .map_err(|e| {
                SignInError::new(
                    "oauth_fetch_user_error",
                    format!(
                        "Gatehouse could not reach the provider's userinfo endpoint: {}",
                        e.message
                    ),
                )
            })?;
        if answer.status != 200 {
            return Err(SignInError {
                received: Some(format!("HTTP {}", answer.status)),
                ..SignInError::new(
                    "oauth_fetch_user_error",
                    "The provider's userinfo endpoint refused to describe the user.",
                )
            });
        }
        serde_json::from_slice(&answer.body).map_err(|_| {
            SignInError::new(
                "oauth_fetch_user_error",
                "The provider's userinfo answer is not a JSON object (signed userinfo is not supported).",
            )
        })
    }
}
