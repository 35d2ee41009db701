//! `GET /api/v1/events`: the audit log, newest first.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::ApiCaller;
use super::body::page_request;
use super::error::ApiError;
use super::views::{EventView, List};
use crate::ids::Kind;
use crate::services::Services;
use crate::store::events::EventFilter;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    cursor: Option<String>,
    limit: Option<String>,
    organization_id: Option<String>,
    action: Option<String>,
}

pub async fn list(
    services: web::Data<Services>,
    _caller: ApiCaller,
    query: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.cursor.as_deref(), query.limit.as_deref(), Kind::Event)?;
    let filter = EventFilter {
        organization_id: query.organization_id.clone(),
        action: query.action.clone(),
    };
    let events = services.list_events(&filter, &page).await?;
    Ok(HttpResponse::Ok().json(List::from_page(events, EventView::from)))
}
