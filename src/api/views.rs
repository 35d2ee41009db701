//! The JSON shapes the API answers with.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::audit::Event;
use crate::domain::organization::Organization;
use crate::store::Page;

/// RFC 3339 in UTC with a `Z`, to the second.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    pub fn from_page<S>(page: Page<S>, f: impl Fn(S) -> T) -> Self {
        Self {
            data: page.items.into_iter().map(f).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Serialize)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub external_id: Option<String>,
    pub self_serve_sso: bool,
    pub default_role: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id,
            name: o.name,
            slug: o.slug,
            external_id: o.external_id,
            self_serve_sso: o.self_serve_sso,
            default_role: o.default_role,
            created_at: time(o.created_at),
            updated_at: time(o.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct LinkView {
    pub url: String,
    pub expires_at: String,
}

#[derive(Serialize)]
pub struct ActorView {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub label: String,
}

#[derive(Serialize)]
pub struct EventView {
    pub id: String,
    pub action: String,
    pub organization_id: Option<String>,
    pub actor: ActorView,
    pub target: TargetView,
    pub data: serde_json::Value,
    pub request_id: Option<String>,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct TargetView {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            action: e.action,
            organization_id: e.organization_id,
            actor: ActorView {
                kind: e.actor_type,
                id: e.actor_id,
                label: e.actor_label,
            },
            target: TargetView {
                kind: e.target_type,
                id: e.target_id,
            },
            data: e.data,
            request_id: e.request_id,
            created_at: time(e.created_at),
        }
    }
}

#[derive(Serialize)]
pub struct TxtRecordView {
    pub name: String,
    pub value: String,
}

#[derive(Serialize)]
pub struct DomainView {
    pub id: String,
    pub organization_id: String,
    pub domain: String,
    /// The international form, where it differs from `domain`.
    pub domain_unicode: String,
    pub status: &'static str,
    pub purpose: &'static str,
    pub txt_record: TxtRecordView,
    pub verified_at: Option<String>,
    pub last_checked_at: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub next_check_at: Option<String>,
    pub created_at: String,
}

impl From<crate::domain::domains::Domain> for DomainView {
    fn from(d: crate::domain::domains::Domain) -> Self {
        Self {
            domain_unicode: d.unicode(),
            txt_record: TxtRecordView {
                name: d.record_name(),
                value: d.record_value(),
            },
            status: d.status.as_str(),
            purpose: d.purpose.as_str(),
            verified_at: d.verified_at.map(time),
            last_checked_at: d.last_checked_at.map(time),
            next_check_at: d.next_check_at.map(time),
            created_at: time(d.created_at),
            id: d.id,
            organization_id: d.organization_id,
            domain: d.domain,
            last_error_code: d.last_error_code,
            last_error: d.last_error,
        }
    }
}

#[derive(Serialize)]
pub struct SpView {
    pub acs_url: String,
    pub entity_id: String,
    pub metadata_url: String,
    /// AuthnRequests are signed with the SP certificate.
    pub sign_requests: bool,
    /// Assertions must come encrypted to the SP certificate.
    pub encrypt_assertions: bool,
    /// Gatehouse's certificate for this connection, once signing or
    /// encryption was turned on (the private key never leaves).
    pub certificate: Option<SpCertificateView>,
}

/// An OIDC connection's settings; the client secret never comes back, only
/// whether it is set and its last characters.
#[derive(Serialize)]
pub struct OidcView {
    pub discovery_url: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_set: bool,
    pub client_secret_hint: Option<String>,
    pub scopes: String,
    pub token_endpoint_auth_method: Option<&'static str>,
    pub tenant_id: Option<String>,
}

#[derive(Serialize)]
pub struct ClaimMappingView {
    /// The claim the email is read from; null: the provider's rules.
    pub email: Option<String>,
}

#[derive(Serialize)]
pub struct SpCertificateView {
    pub pem: String,
    pub fingerprint_sha256: String,
    pub not_after: String,
}

#[derive(Serialize)]
pub struct CertificateView {
    pub fingerprint_sha256: String,
    pub not_after: String,
    pub subject: String,
    pub expires_soon: bool,
}

#[derive(Serialize)]
pub struct IdpView {
    pub entity_id: String,
    pub sso_url: String,
    pub binding: &'static str,
    pub source: Option<&'static str>,
    pub metadata_url: Option<String>,
    pub certificates: Vec<CertificateView>,
}

#[derive(Serialize)]
pub struct ConnectionView {
    pub id: String,
    pub organization_id: String,
    pub provider: &'static str,
    pub protocol: &'static str,
    pub state: &'static str,
    pub allow_subdomains: bool,
    pub allow_idp_initiated: bool,
    pub role_mapping: Vec<crate::domain::connections::RoleRule>,
    pub config_version: i64,
    pub live_config_version: Option<i64>,
    pub sp: Option<SpView>,
    pub idp: Option<IdpView>,
    /// OIDC: the redirect URI to register at the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_redirect_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcView>,
    /// OIDC: which claims supply the identity, as `PATCH` takes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_mapping: Option<ClaimMappingView>,
    pub created_at: String,
    pub activated_at: Option<String>,
}

impl ConnectionView {
    pub fn new(
        c: crate::domain::connections::Connection,
        public_origin: &str,
        now: DateTime<Utc>,
    ) -> Self {
        use crate::domain::connections::Protocol;
        use crate::saml::config::{Binding, Source};
        let (oidc_redirect_uri, oidc, claim_mapping) = match c.protocol() {
            Protocol::Oidc => {
                let o = crate::services::oidc_settings::oidc_config(&c);
                let claim_mapping = ClaimMappingView {
                    email: o.claim_mapping.email.clone(),
                };
                (
                    Some(crate::oidc::config::redirect_uri(public_origin, &c.id)),
                    Some(OidcView {
                        scopes: o.scope(),
                        discovery_url: o.discovery_url,
                        issuer: o.provider.as_ref().map(|p| p.issuer.clone()),
                        client_id: o.client_id,
                        client_secret_set: o.client_secret.is_some(),
                        client_secret_hint: o.client_secret_hint,
                        token_endpoint_auth_method: o
                            .provider
                            .as_ref()
                            .map(|p| p.token_auth.as_str()),
                        tenant_id: o.tenant_id,
                    }),
                    Some(claim_mapping),
                )
            }
            Protocol::Saml => (None, None, None),
        };
        let (sp, idp) = match c.protocol() {
            Protocol::Saml => {
                let urls = crate::saml::sp::urls(public_origin, &c.id);
                let saml = crate::services::connections::saml_config(&c);
                let idp = saml.idp.as_ref().map(|idp| IdpView {
                    entity_id: idp.entity_id.clone(),
                    sso_url: idp.sso_url.clone(),
                    binding: match idp.binding {
                        Binding::Redirect => "redirect",
                        Binding::Post => "post",
                    },
                    source: saml.source.map(|s| match s {
                        Source::MetadataUrl => "metadata_url",
                        Source::MetadataXml => "metadata_xml",
                        Source::Manual => "manual",
                    }),
                    metadata_url: saml.metadata_url.clone(),
                    certificates: idp
                        .certificates
                        .iter()
                        .map(|cert| CertificateView {
                            fingerprint_sha256: cert.fingerprint_sha256.clone(),
                            not_after: time(cert.not_after),
                            subject: cert.subject.clone(),
                            expires_soon: cert.expires_soon(now),
                        })
                        .collect(),
                });
                (
                    Some(SpView {
                        acs_url: urls.acs_url,
                        entity_id: urls.entity_id,
                        metadata_url: urls.metadata_url,
                        sign_requests: saml.sign_requests,
                        encrypt_assertions: saml.encrypt_assertions,
                        certificate: saml.sp_key.as_ref().map(|k| SpCertificateView {
                            pem: k.certificate.to_pem(),
                            fingerprint_sha256: k.certificate.fingerprint_sha256.clone(),
                            not_after: time(k.certificate.not_after),
                        }),
                    }),
                    idp,
                )
            }
            Protocol::Oidc => (None, None),
        };
        Self {
            protocol: c.protocol().as_str(),
            provider: c.provider.as_str(),
            state: c.state().as_str(),
            config_version: c.lifecycle.config_version,
            live_config_version: c.lifecycle.live_version,
            sp,
            idp,
            oidc_redirect_uri,
            oidc,
            claim_mapping,
            created_at: time(c.created_at),
            activated_at: c.activated_at.map(time),
            id: c.id,
            organization_id: c.organization_id,
            allow_subdomains: c.allow_subdomains,
            allow_idp_initiated: c.allow_idp_initiated,
            role_mapping: c.role_mapping,
        }
    }
}
