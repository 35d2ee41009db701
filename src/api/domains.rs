//! `/api/v1/organizations/{id}/domains` and `/api/v1/domains/{id}…`

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::ApiCaller;
use super::body::{JsonBody, OptionalJsonBody};
use super::error::ApiError;
use super::views::{DomainView, List};
use crate::domain::ValidationError;
use crate::domain::domains::Purpose;
use crate::services::Services;

fn parse_purpose(raw: Option<&str>) -> Result<Purpose, ApiError> {
    match raw {
        None => Ok(Purpose::Sso),
        Some(p) => Purpose::parse(p).ok_or_else(|| {
            ValidationError::new("purpose", "must be `sso` or `verified_only`").into()
        }),
    }
}

impl From<ValidationError> for ApiError {
    fn from(v: ValidationError) -> Self {
        crate::services::ServiceError::Invalid(v).into()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    domain: String,
    purpose: Option<String>,
}

pub async fn create(
    services: web::Data<Services>,
    caller: ApiCaller,
    org_id: web::Path<String>,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let purpose = parse_purpose(body.0.purpose.as_deref())?;
    let domain = services
        .add_domain(&caller.change_context(), &org_id, &body.0.domain, purpose)
        .await?;
    Ok(HttpResponse::Created().json(DomainView::from(domain)))
}

pub async fn list(
    services: web::Data<Services>,
    _caller: ApiCaller,
    org_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let domains = services.list_domains(&org_id).await?;
    Ok(HttpResponse::Ok().json(List {
        data: domains.into_iter().map(DomainView::from).collect(),
        next_cursor: None,
    }))
}

pub async fn get(
    services: web::Data<Services>,
    _caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(DomainView::from(services.get_domain(&id).await?)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    purpose: Option<String>,
}

pub async fn update(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: JsonBody<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let domain = services.get_domain(&id).await?;
    let domain = match body.0.purpose.as_deref() {
        Some(p) => {
            let purpose = parse_purpose(Some(p))?;
            services
                .set_domain_purpose(&caller.change_context(), &domain, purpose)
                .await?
        }
        None => domain,
    };
    Ok(HttpResponse::Ok().json(DomainView::from(domain)))
}

pub async fn delete(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let domain = services.get_domain(&id).await?;
    services
        .remove_domain(&caller.change_context(), &domain)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {}

/// Looks the record up once and answers the domain as it is then.
pub async fn verify(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    _body: OptionalJsonBody<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    let domain = services.get_domain(&id).await?;
    let domain = services
        .verify_domain(&caller.change_context(), domain)
        .await?;
    Ok(HttpResponse::Ok().json(DomainView::from(domain)))
}
