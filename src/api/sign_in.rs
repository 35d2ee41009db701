//! The host API of sign-in: OAuth clients, discovery by email, an
//! organization's SSO status and its members.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::auth::ApiCaller;
use super::body::{JsonBody, page_request};
use super::error::ApiError;
use super::views::{List, time};
use crate::domain::connections::State;
use crate::ids::Kind;
use crate::services::members::can_leave;
use crate::services::{ServiceError, Services};
use crate::store::oauth::OauthClient;

fn client_view(c: &OauthClient) -> serde_json::Value {
    json!({
        "client_id": c.id, "name": c.name, "redirect_uris": c.redirect_uris(),
        "initiate_login_uri": c.initiate_login_uri, "created_at": time(c.created_at),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    name: String,
    redirect_uris: Vec<String>,
    initiate_login_uri: Option<String>,
}

/// `POST /oauth_clients`: the secret is in this answer only.
pub async fn create_client(
    services: web::Data<Services>,
    caller: ApiCaller,
    body: JsonBody<ClientBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let (client, secret) = services
        .create_oauth_client(
            &caller.change_context(),
            &b.name,
            &b.redirect_uris,
            b.initiate_login_uri.as_deref(),
        )
        .await?;
    let mut view = client_view(&client);
    view["client_secret"] = json!(secret);
    Ok(HttpResponse::Created().json(view))
}

/// `GET /oauth_clients`
pub async fn list_clients(
    services: web::Data<Services>,
    _caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    let clients = services.list_oauth_clients().await?;
    Ok(HttpResponse::Ok().json(List {
        data: clients.iter().map(client_view).collect(),
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize)]
pub struct DiscoveryQuery {
    email: Option<String>,
}

/// `GET /discovery?email=`: whether this person must sign in with SSO. A
/// domain with an active connection is SSO-only; other domains stay open.
pub async fn discovery(
    services: web::Data<Services>,
    _caller: ApiCaller,
    query: web::Query<DiscoveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let email = query.email.as_deref().unwrap_or_default();
    Ok(HttpResponse::Ok().json(services.discover_sign_in(email).await?))
}

/// `GET /organizations/{id}/sso/status`
pub async fn sso_status(
    services: web::Data<Services>,
    _caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let connections = services.list_connections(&id).await?;
    let current = connections
        .iter()
        .find(|c| c.state() == State::Active)
        .or(connections.last());
    let (last_login, total) = services
        .store
        .sso_activity(&id)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(json!({
        "sso_enabled": current.is_some_and(|c| c.state() == State::Active),
        "provider": current.map(|c| c.provider.as_str()),
        "connection_state": current.map_or("none", |c| c.state().as_str()),
        "last_login": last_login.map(time),
        "total_sso_users": total,
    })))
}

#[derive(Debug, Deserialize)]
pub struct MembersQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

/// `GET /organizations/{id}/members`: newest user first, paged.
pub async fn members(
    services: web::Data<Services>,
    _caller: ApiCaller,
    id: web::Path<String>,
    query: web::Query<MembersQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.cursor.as_deref(), query.limit.as_deref(), Kind::User)?;
    let members = services.list_members(&id, &page).await?;
    Ok(HttpResponse::Ok().json(List::from_page(members, |m| {
        json!({
            "user_id": m.user_id, "email": m.email, "first_name": m.first_name,
            "last_name": m.last_name, "role": m.role, "source": m.source,
            "can_leave": can_leave(&m),
            "joined_at": time(m.joined_at), "last_login_at": m.last_login_at.map(time),
        })
    })))
}

/// `DELETE /organizations/{id}/members/{user_id}`: an admin removes a
/// member; the user stays, and an SSO member rejoins on their next sign-in.
pub async fn remove_member(
    services: web::Data<Services>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    services
        .remove_member(&caller.change_context(), &org_id, &user_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /organizations/{id}/members/{user_id}/leave`: the member asks to
/// leave; 409 `member_joined_through_sso` for one who joined through SSO.
pub async fn leave(
    services: web::Data<Services>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    services
        .leave(&caller.change_context(), &org_id, &user_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
