//! The SAML half of sign-in: an AuthnRequest out (with a RelayState kept
//! server-side), and the response in at the ACS, validated down to an
//! identity of the connection's organization, or a named error.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use openssl::pkey::{PKey, Private};
use serde_json::json;

use super::connections::saml_config;
use super::oauth::{HostRequest, SignedInPerson, Vouched};
use super::test_sign_in::FlowOrigin;
use super::{ServiceError, ServiceResult, Services};
use crate::crypto;
use crate::domain::connections::{Connection, Protocol, State};
use crate::domain::domains::{self, Purpose, Status};
use crate::domain::sign_in::SignInError;
use crate::ids::{self, Kind};
use crate::saml::acs::{self, AcsError, CLOCK_SKEW, Expectation, Settings, ValidatedAssertion};
use crate::saml::config::{AttributeMapping, Binding, SamlConfig};
use crate::saml::identity::{self, Identity};
use crate::saml::sp_key::SpKeyError;
use crate::saml::{authn_request, sp};
use crate::store::saml::{AssertionUse, Refusal, SamlFlow};

/// How long the identity provider has to answer a request.
pub const FLOW_LIFETIME: Duration = Duration::minutes(10);
const RELAY_STATE_PREFIX: &str = "ghr_";
/// Responses up to this size (base64, as posted) are checked on the worker
/// that received them.
const INLINE_CHECK_MAX_BYTES: usize = 48 * 1024;

/// Why a sign-in is being started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowPurpose {
    /// An admin's test sign-in, on the connection's current settings.
    Test,
    /// A live sign-in, on the settings that are active.
    SignIn,
}

impl FlowPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowPurpose::Test => "test",
            FlowPurpose::SignIn => "sign_in",
        }
    }
}

/// How the browser takes the request to the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInStart {
    /// HTTP-Redirect binding: send the browser to this URL.
    Redirect(String),
    /// HTTP-POST binding: the browser posts these fields to `url`.
    Post {
        url: String,
        saml_request: String,
        relay_state: String,
    },
}

/// A completed SAML sign-in: its response valid, its assertion accepted.
#[derive(Debug, Clone)]
pub struct SamlSignIn {
    pub connection: Connection,
    pub identity: Identity,
    /// The flow it completes; `None` for identity-provider-initiated.
    pub flow: Option<SamlFlow>,
}

impl SamlSignIn {
    /// The person, for the host.
    pub fn person(&self) -> SignedInPerson {
        person(self.identity.clone())
    }
}

fn person(i: Identity) -> SignedInPerson {
    SignedInPerson {
        subject: i.name_id.unwrap_or_else(|| i.email.clone()),
        email: i.email,
        first_name: i.first_name,
        last_name: i.last_name,
        groups: i.groups,
        authenticated_at: i.authenticated_at,
    }
}

/// A response that checked out, its assertion not yet accepted. The
/// identity is reached only through acceptance: on its own
/// (`Services::accept_saml_response`), or in the host's sign-in write
/// (`into_vouched`), so no path can skip the replay checks.
#[derive(Debug)]
#[must_use = "a checked response signs no one in until its assertion is accepted"]
pub struct CheckedSamlResponse {
    pub connection: Connection,
    /// The flow it answers; `None` for identity-provider-initiated.
    pub flow: Option<SamlFlow>,
    identity: Identity,
    assertion: AssertionUse,
}

impl CheckedSamlResponse {
    /// Where the flow came from (empty for identity-provider-initiated).
    pub fn origin(&self) -> FlowOrigin {
        self.flow
            .as_ref()
            .map(|f| FlowOrigin::new(&f.purpose, &f.context))
            .unwrap_or_default()
    }

    /// The host's authorization request, when the flow is a host's live
    /// sign-in.
    pub fn host_request(&self) -> Option<HostRequest> {
        self.flow
            .as_ref()
            .filter(|f| f.purpose == FlowPurpose::SignIn.as_str())
            .and_then(|_| self.origin().host_request())
    }

    /// The connection, and the person for the host's sign-in write, which
    /// accepts the assertion in its own transaction.
    pub fn into_vouched(self) -> (Connection, Vouched) {
        (
            self.connection,
            Vouched::with_assertion(person(self.identity), self.assertion),
        )
    }
}

/// The error a refused assertion gets.
pub(super) fn refused(refusal: Refusal, assertion_id: &str) -> AcsError {
    match refusal {
        Refusal::Replayed => AcsError {
            received: Some(assertion_id.to_string()),
            ..AcsError::new(
                "saml_replayed_assertion",
                "This assertion was already used to sign in; each can be used once.",
            )
        },
        Refusal::FlowUsed => AcsError::new(
            "saml_in_response_to_invalid",
            "This sign-in was already completed; a response can be used once.",
        ),
    }
}

/// A failed one: the error, and whether an admin's test asked (who may see
/// the details) or an end user.
#[derive(Debug, Clone)]
pub struct SamlFailure {
    pub error: AcsError,
    pub purpose: Option<String>,
    pub connection_id: Option<String>,
    /// The flow it failed in, once known.
    pub origin: FlowOrigin,
}

fn fail(error: AcsError) -> SamlFailure {
    SamlFailure {
        error,
        purpose: None,
        connection_id: None,
        origin: FlowOrigin::default(),
    }
}

impl Services {
    /// Starts a sign-in: stores the request and answers how the browser
    /// takes it to the identity provider.
    pub async fn start_saml_sign_in(
        &self,
        connection_id: &str,
        purpose: FlowPurpose,
        context: serde_json::Value,
    ) -> ServiceResult<SignInStart> {
        self.begin_saml_sign_in(connection_id, purpose, context, false)
            .await
    }

    /// [`Services::start_saml_sign_in`], asking the identity provider to
    /// authenticate the person afresh (`ForceAuthn`) if `force_authn`.
    pub(crate) async fn begin_saml_sign_in(
        &self,
        connection_id: &str,
        purpose: FlowPurpose,
        context: serde_json::Value,
        force_authn: bool,
    ) -> ServiceResult<SignInStart> {
        let connection = self.get_connection(connection_id).await?;
        if connection.protocol() != Protocol::Saml {
            return Err(ServiceError::not_found(Kind::Connection, connection_id));
        }
        let config = match purpose {
            FlowPurpose::Test => saml_config(&connection),
            FlowPurpose::SignIn => live_config(&connection).map_err(|e| ServiceError::Refused {
                code: e.code,
                message: e.detail,
            })?,
        };
        let complete = config.is_complete();
        let signer = match config.sp_key.as_ref().filter(|_| config.sign_requests) {
            Some(pair) => Some(
                pair.private_key_once(&self.secret_key, &connection.id, &self.opened_keys)
                    .map_err(|e| ServiceError::Refused {
                        code: "saml_sp_key_unavailable",
                        message: format!("{}. {SP_KEY_FIX}", sp_key_problem(&e)),
                    })?,
            ),
            None => None,
        };
        let Some(idp) = config.idp.filter(|_| complete) else {
            return Err(ServiceError::Refused {
                code: "connection_incomplete",
                message: "The identity provider's settings are not complete yet.".into(),
            });
        };
        let now = self.clock.now();
        let relay_state = crypto::random_token(RELAY_STATE_PREFIX);
        let flow = SamlFlow {
            id: authn_request::new_request_id(),
            connection_id: connection.id.clone(),
            purpose: purpose.as_str().into(),
            context:
                json!({ "config_version": connection.lifecycle.config_version, "data": context })
                    .to_string(),
            created_at: now,
            expires_at: now + FLOW_LIFETIME,
            used_at: None,
        };
        self.store
            .insert_saml_flow(&flow, &crypto::token_hash(&relay_state))
            .await?;
        let urls = sp::urls(&self.config.public_origin(), &connection.id);
        let request = authn_request::xml(&flow.id, now, &idp.sso_url, &urls, force_authn);
        match idp.binding {
            Binding::Redirect => {
                authn_request::redirect_url(&idp.sso_url, &request, &relay_state, signer.as_ref())
                    .map(SignInStart::Redirect)
                    .map_err(ServiceError::Unexpected)
            }
            Binding::Post => {
                let request = match &signer {
                    Some(key) => authn_request::sign_xml(&request, &flow.id, key)
                        .map_err(ServiceError::Unexpected)?,
                    None => request,
                };
                Ok(SignInStart::Post {
                    url: idp.sso_url,
                    saml_request: STANDARD.encode(request),
                    relay_state,
                })
            }
        }
    }

    /// The SP private keys a response may be encrypted to: the one of the
    /// settings in use, and the other version's while an edit of an active
    /// connection waits (the identity provider may already have the new
    /// certificate, or still the old one).
    fn decryption_keys(
        &self,
        connection: &Connection,
        config: &SamlConfig,
    ) -> Result<Vec<PKey<Private>>, AcsError> {
        let other = [Some(&connection.config), connection.live_config.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|v| serde_json::from_value::<SamlConfig>(v.clone()).ok())
            .filter_map(|c| c.sp_key);
        let mut pairs = config.sp_key.iter().cloned().collect::<Vec<_>>();
        for pair in other {
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
        pairs
            .iter()
            .map(|p| p.private_key_once(&self.secret_key, &connection.id, &self.opened_keys))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                AcsError::new(
                    "saml_sp_key_unavailable",
                    format!("{}. {SP_KEY_FIX}", sp_key_problem(&e)),
                )
            })
    }

    /// Validates a response posted to the ACS of `connection_id` and
    /// accepts its assertion: a sign-in complete but for what the caller
    /// does with it (an admin's test, or one started at the identity
    /// provider). A host's sign-in goes through `check_saml_response` and
    /// `into_vouched` instead, to accept it in the sign-in's own write.
    pub async fn complete_saml_sign_in(
        &self,
        connection_id: &str,
        saml_response: &str,
        relay_state: Option<&str>,
    ) -> Result<SamlSignIn, SamlFailure> {
        let checked = self
            .check_saml_response(connection_id, saml_response, relay_state)
            .await?;
        self.accept_saml_response(checked).await
    }

    /// Accepts a checked response's assertion on its own.
    pub async fn accept_saml_response(
        &self,
        checked: CheckedSamlResponse,
    ) -> Result<SamlSignIn, SamlFailure> {
        let taken = self.store.accept_assertion(&checked.assertion).await;
        let failure = |error: AcsError| SamlFailure {
            error,
            purpose: checked.flow.as_ref().map(|f| f.purpose.clone()),
            connection_id: Some(checked.connection.id.clone()),
            origin: checked.origin(),
        };
        match taken {
            Ok(Ok(())) => Ok(SamlSignIn {
                connection: checked.connection,
                identity: checked.identity,
                flow: checked.flow,
            }),
            Ok(Err(refusal)) => Err(failure(refused(refusal, &checked.assertion.assertion_id))),
            Err(e) => Err(failure(AcsError::new("internal_error", e.to_string()))),
        }
    }

    /// Validates a response posted to the ACS of `connection_id`, down to
    /// the identity; its assertion is not accepted yet.
    pub async fn check_saml_response(
        &self,
        connection_id: &str,
        saml_response: &str,
        relay_state: Option<&str>,
    ) -> Result<CheckedSamlResponse, SamlFailure> {
        let unexpected = |e: ServiceError| fail(AcsError::new("internal_error", e.to_string()));
        // RelayState: ours, for this connection, unused and fresh; or absent
        // for identity-provider-initiated sign-in where allowed. The flow it
        // names is read with the connection.
        let relay_state = relay_state.map(str::trim).filter(|r| !r.is_empty());
        let found = match ids::is_well_formed(Kind::Connection, connection_id) {
            true => self
                .store
                .get_connection_for_acs(
                    connection_id,
                    relay_state.map(crypto::token_hash).as_deref(),
                )
                .await
                .map_err(|e| unexpected(e.into()))?,
            false => None,
        };
        let (connection, flow, sso_domains) = match found {
            Some(found) if found.connection.protocol() == Protocol::Saml => {
                (found.connection, found.flow, found.sso_domains)
            }
            _ => {
                return Err(fail(AcsError::new(
                    "saml_connection_unknown",
                    "No SAML connection has the id in this ACS URL.",
                )));
            }
        };
        let now = self.clock.now();

        let flow = match (relay_state, flow) {
            (Some(_), Some(flow)) => {
                if flow.connection_id != connection.id {
                    return Err(fail(AcsError {
                        expected: Some(flow.connection_id.clone()),
                        received: Some(connection.id.clone()),
                        ..AcsError::new(
                            "saml_connection_mismatch",
                            "The response was posted to another connection's ACS than the one the sign-in started with.",
                        )
                    }));
                }
                Some(flow)
            }
            (Some(_), None) => {
                return Err(fail(AcsError::new(
                    "saml_response_relaystate_invalid",
                    "The RelayState was not issued by Gatehouse, or has been cut off.",
                )));
            }
            (None, _) if connection.allow_idp_initiated => None,
            (None, _) => {
                return Err(fail(AcsError::new(
                    "saml_response_relaystate_missing",
                    "The response carries no RelayState, so it cannot be matched to a sign-in started here. Start the sign-in from the application; signing in from the identity provider's dashboard is not enabled for this connection.",
                )));
            }
        };
        let purpose = flow.as_ref().map(|f| f.purpose.clone());
        let origin = flow
            .as_ref()
            .map(|f| FlowOrigin::new(&f.purpose, &f.context))
            .unwrap_or_default();
        let with_context = |error: AcsError| SamlFailure {
            error,
            purpose: purpose.clone(),
            connection_id: Some(connection.id.clone()),
            origin: origin.clone(),
        };
        if let Some(flow) = &flow {
            if flow.used_at.is_some() {
                return Err(with_context(AcsError::new(
                    "saml_in_response_to_invalid",
                    "This sign-in was already completed; a response can be used once.",
                )));
            }
            if now >= flow.expires_at {
                return Err(with_context(AcsError::new(
                    "saml_request_expired",
                    "The sign-in took too long (over 10 minutes) and has expired. Start it again.",
                )));
            }
        }

        let config = match purpose.as_deref() {
            Some("test") => saml_config(&connection),
            _ => live_config(&connection).map_err(&with_context)?,
        };
        let Some(idp) = config.idp.clone() else {
            return Err(with_context(AcsError::new(
                "connection_incomplete",
                "The identity provider's settings are not complete.",
            )));
        };
        let urls = sp::urls(&self.config.public_origin(), &connection.id);
        let keys = self
            .decryption_keys(&connection, &config)
            .map_err(&with_context)?;
        let require_encryption = config.encrypt_assertions;
        let expectation = match &flow {
            Some(f) => Expectation::Solicited {
                request_id: f.id.clone(),
            },
            None => Expectation::Unsolicited,
        };
        let check = move |response: &str| {
            acs::validate(
                response,
                Settings {
                    idp: &idp,
                    sp: &urls,
                    decryption_keys: &keys,
                    require_encryption,
                },
                &expectation,
                now,
            )
        };
        // Checking a response of ordinary size takes a fraction of a
        // millisecond, less than handing it to another thread and back
        // costs; a large one (a great many groups, or an attacker's) goes to
        // the blocking pool, so the requests sharing this worker do not wait
        // behind it.
        let validated = if saml_response.len() <= INLINE_CHECK_MAX_BYTES {
            check(saml_response)
        } else {
            let response = saml_response.to_string();
            tokio::task::spawn_blocking(move || check(&response))
                .await
                .map_err(|e| unexpected(ServiceError::Unexpected(e.into())))?
        }
        .map_err(&with_context)?;

        // Replay: an assertion is accepted once, and a flow completed once,
        // whichever instance sees them; checked when it is accepted.
        let assertion = AssertionUse {
            connection_id: connection.id.clone(),
            assertion_id: validated.assertion_id.clone(),
            expires_at: validated.valid_until + CLOCK_SKEW,
            flow_id: flow.as_ref().map(|f| f.id.clone()),
            now,
        };
        let identity = saml_identity(
            &connection,
            &validated,
            &config.attribute_mapping,
            &sso_domains,
        )
        .map_err(&with_context)?;
        Ok(CheckedSamlResponse {
            connection,
            flow,
            identity,
            assertion,
        })
    }

    /// What a sign-in with these attributes (a test's record) would give if
    /// the email came from `email_attribute` (`None`: the usual names):
    /// the address, or the error. The same rules as a sign-in
    /// (`saml_identity`), on the current settings.
    pub async fn preview_saml_email(
        &self,
        connection: &Connection,
        received: &[(String, String)],
        name_id: Option<&str>,
        email_attribute: Option<&str>,
    ) -> ServiceResult<Result<String, SignInError>> {
        let mut mapping = saml_config(connection).attribute_mapping;
        mapping.email = email_attribute.map(str::to_string);
        let assertion = identity::recorded_assertion(received, name_id);
        let sso = self
            .verified_sso_domains(&connection.organization_id)
            .await?;
        Ok(saml_identity(connection, &assertion, &mapping, &sso).map(|i| i.email))
    }

    /// The organization's verified SSO domains.
    async fn verified_sso_domains(&self, organization_id: &str) -> ServiceResult<Vec<String>> {
        Ok(self
            .store
            .list_domains(organization_id)
            .await?
            .into_iter()
            .filter(|d| d.status == Status::Verified && d.purpose == Purpose::Sso)
            .map(|d| d.domain)
            .collect())
    }

    /// The email's domain must be a verified SSO domain of the connection's
    /// organization (or under one, where subdomains are allowed).
    pub(super) async fn check_email_domain(
        &self,
        connection: &Connection,
        email: &str,
        code: &'static str,
    ) -> Result<(), Result<AcsError, ServiceError>> {
        let email_domain = domains::email_domain(email).unwrap_or_default();
        self.check_verified_domain(connection, Some(&email_domain), code, EMAIL_DOMAIN_MISMATCH)
            .await
    }

    /// `domain` must be a verified SSO domain of the connection's
    /// organization (or under one, where subdomains are allowed).
    pub(super) async fn check_verified_domain(
        &self,
        connection: &Connection,
        domain: Option<&str>,
        code: &'static str,
        detail: &str,
    ) -> Result<(), Result<AcsError, ServiceError>> {
        let sso = self
            .verified_sso_domains(&connection.organization_id)
            .await
            .map_err(Err)?;
        verified_domain_check(connection, &sso, domain, code, detail).map_err(Ok)
    }
}

/// From a valid assertion to the person of the connection's organization:
/// the attribute settings pick the email (`identity::map`, which
/// normalizes it), and its domain must be a verified SSO domain (`sso`).
fn saml_identity(
    connection: &Connection,
    assertion: &ValidatedAssertion,
    mapping: &AttributeMapping,
    sso: &[String],
) -> Result<Identity, AcsError> {
    let identity = identity::map(assertion, mapping)?;
    let email_domain = domains::email_domain(&identity.email).unwrap_or_default();
    verified_domain_check(
        connection,
        sso,
        Some(&email_domain),
        "saml_email_address_domain_mismatch",
        EMAIL_DOMAIN_MISMATCH,
    )?;
    Ok(identity)
}

const EMAIL_DOMAIN_MISMATCH: &str =
    "The user's email address is not at a verified domain of this organization.";

/// `domain` must be one of `sso` (the organization's verified SSO domains)
/// or, where the connection allows subdomains, under one of them. The error
/// lists them sorted.
fn verified_domain_check(
    connection: &Connection,
    sso: &[String],
    domain: Option<&str>,
    code: &'static str,
    detail: &str,
) -> Result<(), AcsError> {
    if let Some(domain) = domain
        && sso
            .iter()
            .any(|d| domains::domain_matches(domain, d, connection.allow_subdomains))
    {
        return Ok(());
    }
    let expected = if sso.is_empty() {
        "(no verified SSO domain)".to_string()
    } else {
        let mut sorted = sso.to_vec();
        sorted.sort();
        sorted.join(", ")
    };
    Err(AcsError::mismatch(code, detail, &expected, domain))
}

const SP_KEY_FIX: &str = "Gatehouse's secret key (GATEHOUSE_SECRET_KEY) may have changed since this connection's SP key was made; restore it, or turn request signing and assertion encryption off and on again to make a new key, then give the identity provider the new certificate";

fn sp_key_problem(e: &SpKeyError) -> String {
    tracing::error!(error = %e, "a connection's SP key could not be opened");
    "Gatehouse could not open this connection's SP key".into()
}

/// The settings sign-ins use: the live version of an active connection.
pub(super) fn live_config<T: serde::de::DeserializeOwned>(
    connection: &Connection,
) -> Result<T, AcsError> {
    if connection.state() != State::Active {
        return Err(AcsError::new(
            "connection_inactive",
            "Single sign-on through this connection is not active.",
        ));
    }
    connection
        .live_config
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| {
            AcsError::new(
                "connection_inactive",
                "The connection has no live settings.",
            )
        })
}
