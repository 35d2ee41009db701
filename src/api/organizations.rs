//! `/api/v1/organizations…`

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::ApiCaller;
use super::body::{JsonBody, OptionalJsonBody, double_option, page_request};
use super::error::ApiError;
use super::views::{LinkView, List, OrganizationView, time};
use crate::ids::Kind;
use crate::services::Services;
use crate::services::organizations::{NewOrganization, OrganizationPatch};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    slug: Option<String>,
    external_id: Option<String>,
    self_serve_sso: Option<bool>,
    default_role: Option<String>,
}

pub async fn create(
    services: web::Data<Services>,
    caller: ApiCaller,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let org = services
        .create_organization(
            &caller.change_context(),
            NewOrganization {
                name: b.name,
                slug: b.slug,
                external_id: b.external_id,
                self_serve_sso: b.self_serve_sso,
                default_role: b.default_role,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(OrganizationView::from(org)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<String>,
    external_id: Option<String>,
}

pub async fn list(
    services: web::Data<Services>,
    _caller: ApiCaller,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    if let Some(external_id) = &query.external_id {
        let found = services
            .find_organization_by_external_id(external_id)
            .await?;
        return Ok(HttpResponse::Ok().json(List {
            data: found.into_iter().map(OrganizationView::from).collect(),
            next_cursor: None,
        }));
    }
    let page = page_request(
        query.cursor.as_deref(),
        query.limit.as_deref(),
        Kind::Organization,
    )?;
    let orgs = services.list_organizations(&page).await?;
    Ok(HttpResponse::Ok().json(List::from_page(orgs, OrganizationView::from)))
}

pub async fn get(
    services: web::Data<Services>,
    _caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = services.get_organization(&id).await?;
    Ok(HttpResponse::Ok().json(OrganizationView::from(org)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    name: Option<String>,
    slug: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    external_id: Option<Option<String>>,
    self_serve_sso: Option<bool>,
    default_role: Option<String>,
}

pub async fn update(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: JsonBody<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let org = services
        .update_organization(
            &caller.change_context(),
            &id,
            OrganizationPatch {
                name: b.name,
                slug: b.slug,
                external_id: b.external_id,
                self_serve_sso: b.self_serve_sso,
                default_role: b.default_role,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(OrganizationView::from(org)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalLinkBody {
    return_url: Option<String>,
}

pub async fn create_portal_link(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: OptionalJsonBody<PortalLinkBody>,
) -> Result<HttpResponse, ApiError> {
    let link = services
        .create_portal_link(&caller.change_context(), &id, body.0.return_url.as_deref())
        .await?;
    Ok(HttpResponse::Created().json(LinkView {
        url: link.url,
        expires_at: time(link.expires_at),
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedTokenBody {
    parent_origin: String,
}

pub async fn create_embed_token(
    services: web::Data<Services>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: JsonBody<EmbedTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let link = services
        .create_embed_token(&caller.change_context(), &id, &body.0.parent_origin)
        .await?;
    Ok(HttpResponse::Created().json(LinkView {
        url: link.url,
        expires_at: time(link.expires_at),
    }))
}
