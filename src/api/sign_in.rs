//! The host API of sign-in: OAuth clients, discovery by email, an
//! organization's SSO status and its members.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::auth::ApiCaller;
use super::body::JsonBody;
use super::error::ApiError;
use super::views::{List, time};
use crate::domain::connections::State;
use crate::domain::domains;
use crate::ids::{self, Kind};
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
    let domain = domains::email_domain(email).ok_or_else(|| ServiceError::Refused {
        code: "email_invalid",
        message: "Give the person's email address, such as alice@example.com.".into(),
    })?;
    let owner = services.sso_domain_owner(&domain).await?;
    let active = match &owner {
        Some(org) => services
            .list_connections(org)
            .await?
            .into_iter()
            .find(|c| c.state() == State::Active),
        None => None,
    };
    Ok(HttpResponse::Ok().json(json!({
        "sso_required": active.is_some(),
        "organization_id": owner,
        "connection_id": active.map(|c| c.id),
    })))
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

/// `GET /organizations/{id}/members`
pub async fn members(
    services: web::Data<Services>,
    _caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = services.get_organization(&id).await?;
    let members = services
        .store
        .list_members(&org.id)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(List {
        data: members
            .into_iter()
            .map(|m| {
                json!({
                    "user_id": m.user_id, "email": m.email, "first_name": m.first_name,
                    "last_name": m.last_name, "role": m.role, "source": m.source,
                    "joined_at": time(m.joined_at), "last_login_at": m.last_login_at.map(time),
                })
            })
            .collect(),
        next_cursor: None,
    }))
}

/// `DELETE /organizations/{id}/members/{user_id}`: the user stays; an SSO
/// member rejoins on their next sign-in.
pub async fn remove_member(
    services: web::Data<Services>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    let org = services.get_organization(&org_id).await?;
    let removed = ids::is_well_formed(Kind::User, &user_id)
        && services
            .store
            .remove_member(
                &org.id,
                &user_id,
                &caller.change_context(),
                services.clock.now(),
            )
            .await
            .map_err(ServiceError::from)?;
    if !removed {
        return Err(ServiceError::not_found(Kind::User, &user_id).into());
    }
    Ok(HttpResponse::NoContent().finish())
}
