//! `/api/v1/organizations/{id}/connections` and `/api/v1/connections/{id}…`

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::ApiCaller;
use super::body::{JsonBody, OptionalJsonBody};
use super::error::ApiError;
use super::views::{ConnectionView, List};
use crate::domain::connections::Connection;
use crate::services::Services;
use crate::services::connections::{ConnectionPatch, NewConnection, SamlInput, SpOptions};
use crate::services::oidc_settings::OidcInput;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlBody {
    metadata_xml: Option<String>,
    metadata_url: Option<String>,
    sso_url: Option<String>,
    entity_id: Option<String>,
    certificate_pem: Option<String>,
    allow_idp_initiated: Option<bool>,
    sign_requests: Option<bool>,
    encrypt_assertions: Option<bool>,
}

impl SamlBody {
    fn input(&self) -> SamlInput {
        SamlInput {
            metadata_url: self.metadata_url.clone(),
            metadata_xml: self.metadata_xml.clone(),
            sso_url: self.sso_url.clone(),
            entity_id: self.entity_id.clone(),
            certificate_pem: self.certificate_pem.clone(),
        }
    }

    fn sp_options(body: Option<&Self>) -> SpOptions {
        SpOptions {
            sign_requests: body.and_then(|s| s.sign_requests),
            encrypt_assertions: body.and_then(|s| s.encrypt_assertions),
        }
    }
}

/// Scopes as a list or one space-separated string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Scopes {
    List(Vec<String>),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcBody {
    discovery_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scopes: Option<Scopes>,
}

impl OidcBody {
    fn input(self) -> OidcInput {
        OidcInput {
            discovery_url: self.discovery_url,
            client_id: self.client_id,
            client_secret: self.client_secret,
            scopes: self.scopes.map(|s| match s {
                Scopes::List(list) => list,
                Scopes::Text(text) => vec![text],
            }),
        }
    }
}

fn view(services: &Services, c: Connection) -> ConnectionView {
    ConnectionView::new(c, &services.config.public_origin(), services.clock.now())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    provider: String,
    saml: Option<SamlBody>,
    oidc: Option<OidcBody>,
    allow_subdomains: Option<bool>,
    allow_idp_initiated: Option<bool>,
}

pub async fn create(
    services: web::Data<Services>,
    caller: ApiCaller,
    org_id: web::Path<String>,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let input = NewConnection {
        provider: b.provider,
        allow_idp_initiated: b
            .allow_idp_initiated
            .or(b.saml.as_ref().and_then(|s| s.allow_idp_initiated)),
        saml: b.saml.as_ref().map(SamlBody::input),
        oidc: b.oidc.map(OidcBody::input),
        allow_subdomains: b.allow_subdomains,
        sp_options: SamlBody::sp_options(b.saml.as_ref()),
    };
    let c = services
        .create_connection(&caller.change_context(), &org_id, input)
        .await?;
    Ok(HttpResponse::Created().json(view(&services, c)))
}

pub async fn list(
    services: web::Data<Services>,
    _caller: ApiCaller,
    org_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let connections = services.list_connections(&org_id).await?;
    Ok(HttpResponse::Ok().json(List {
        data: connections
            .into_iter()
            .map(|c| view(&services, c))
            .collect(),
        next_cursor: None,
    }))
}

pub async fn get(
    services: web::Data<Services>,
    _caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = services.get_connection(&id).await?;
    Ok(HttpResponse::Ok().json(view(&services, c)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingBody {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    groups: Option<String>,
}

/// OIDC: which claims supply the identity (`email`: a claim name, or null
/// for the provider's rules).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMappingBody {
    email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    saml: Option<SamlBody>,
    attribute_mapping: Option<MappingBody>,
    claim_mapping: Option<ClaimMappingBody>,
    role_mapping: Option<Vec<crate::domain::connections::RoleRule>>,
    oidc: Option<OidcBody>,
    allow_subdomains: Option<bool>,
    allow_idp_initiated: Option<bool>,
}

pub async fn update(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: JsonBody<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let patch = ConnectionPatch {
        role_mapping: b.role_mapping,
        oidc: b.oidc.map(OidcBody::input),
        attribute_mapping: b
            .attribute_mapping
            .map(|m| crate::saml::config::AttributeMapping {
                email: m.email,
                first_name: m.first_name,
                last_name: m.last_name,
                groups: m.groups,
            }),
        claim_mapping: b
            .claim_mapping
            .map(|m| crate::oidc::config::ClaimMapping { email: m.email }),
        allow_idp_initiated: b
            .allow_idp_initiated
            .or(b.saml.as_ref().and_then(|s| s.allow_idp_initiated)),
        saml: b.saml.as_ref().map(SamlBody::input),
        allow_subdomains: b.allow_subdomains,
        sp_options: SamlBody::sp_options(b.saml.as_ref()),
    };
    let c = services
        .update_connection(&caller.change_context(), &id, patch)
        .await?;
    Ok(HttpResponse::Ok().json(view(&services, c)))
}

pub async fn delete(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    services
        .delete_connection(&caller.change_context(), &id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    skip_test: Option<bool>,
}

pub async fn activate(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: OptionalJsonBody<ActivateBody>,
) -> Result<HttpResponse, ApiError> {
    let c = services
        .activate_connection(
            &caller.change_context(),
            &id,
            body.0.skip_test.unwrap_or(false),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(&services, c)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

pub async fn deactivate(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    _body: OptionalJsonBody<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let c = services
        .deactivate_connection(&caller.change_context(), &id)
        .await?;
    Ok(HttpResponse::Ok().json(view(&services, c)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    organization_id: String,
}

pub async fn move_to(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: JsonBody<MoveBody>,
) -> Result<HttpResponse, ApiError> {
    let c = services
        .move_connection(&caller.change_context(), &id, &body.0.organization_id)
        .await?;
    Ok(HttpResponse::Ok().json(view(&services, c)))
}
