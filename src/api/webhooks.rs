//! `/api/v1/webhook_endpoints…`: where Gatehouse sends signed webhooks
//! (Standard Webhooks), and how each delivery went.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use super::body::{JsonBody, OptionalJsonBody, page_request};
use super::error::ApiError;
use super::views::{List, time};
use crate::domain::webhooks::{Delivery, Endpoint};
use crate::ids::Kind;
use crate::services::Services;

#[derive(Serialize)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// After a secret rotation: until when deliveries are signed with the
    /// previous secret too; null otherwise.
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
}

impl EndpointView {
    fn new(e: Endpoint, now: DateTime<Utc>) -> Self {
        Self {
            previous_secret_expires_at: e.overlap_until(now).map(time),
            id: e.id,
            url: e.url,
            event_types: e.event_types,
            enabled: e.disabled_at.is_none(),
            created_at: time(e.created_at),
        }
    }
}

/// The answer to creation: the only time the secret is shown.
#[derive(Serialize)]
pub struct CreatedEndpointView {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: String,
    pub created_at: String,
}

/// The answer to a rotation: the only time the new secret is shown.
#[derive(Serialize)]
pub struct RotatedSecretView {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    pub secret: String,
}

#[derive(Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: &'static str,
    pub attempts: u32,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            status: d.status().as_str(),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.map(time),
            last_attempt_at: d.last_attempt_at.map(time),
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at.map(time),
            created_at: time(d.created_at),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    url: String,
    #[serde(default)]
    event_types: Option<Vec<String>>,
}

pub async fn create(
    services: web::Data<Services>,
    caller: ApiCaller,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let (endpoint, secret) = services
        .create_webhook_endpoint(
            &caller.change_context(),
            &body.url,
            body.event_types.unwrap_or_default(),
        )
        .await?;
    Ok(HttpResponse::Created().json(CreatedEndpointView {
        id: endpoint.id,
        url: endpoint.url,
        event_types: endpoint.event_types,
        secret: secret.expose().to_string(),
        created_at: time(endpoint.created_at),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<String>,
}

pub async fn list(
    services: web::Data<Services>,
    _caller: ApiCaller,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(
        query.cursor.as_deref(),
        query.limit.as_deref(),
        Kind::WebhookEndpoint,
    )?;
    let endpoints = services.list_webhook_endpoints(&page).await?;
    let now = services.clock.now();
    Ok(HttpResponse::Ok().json(List::from_page(endpoints, |e| EndpointView::new(e, now))))
}

pub async fn get(
    services: web::Data<Services>,
    _caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = services.get_webhook_endpoint(&id).await?;
    Ok(HttpResponse::Ok().json(EndpointView::new(endpoint, services.clock.now())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    enabled: Option<bool>,
}

/// `PATCH /webhook_endpoints/{id}` `{enabled}`: pause or resume.
pub async fn update(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: JsonBody<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = match body.0.enabled {
        Some(enabled) => {
            services
                .set_webhook_endpoint_enabled(&caller.change_context(), &id, enabled)
                .await?
        }
        None => services.get_webhook_endpoint(&id).await?,
    };
    Ok(HttpResponse::Ok().json(EndpointView::new(endpoint, services.clock.now())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {}

/// `POST /webhook_endpoints/{id}/rotate_secret`: a new signing secret,
/// shown once; the old one keeps signing beside it for 24 hours.
pub async fn rotate_secret(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    _body: OptionalJsonBody<RotateBody>,
) -> Result<HttpResponse, ApiError> {
    let (endpoint, secret) = services
        .rotate_webhook_secret(&caller.change_context(), &id)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(RotatedSecretView {
            endpoint: EndpointView::new(endpoint, services.clock.now()),
            secret: secret.expose().to_string(),
        }))
}

pub async fn delete(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    services
        .delete_webhook_endpoint(&caller.change_context(), &id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn deliveries(
    services: web::Data<Services>,
    _caller: ApiCaller,
    id: web::Path<String>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(
        query.cursor.as_deref(),
        query.limit.as_deref(),
        Kind::WebhookMessage,
    )?;
    let deliveries = services.list_webhook_deliveries(&id, &page).await?;
    Ok(HttpResponse::Ok().json(List::from_page(deliveries, DeliveryView::from)))
}
