//! The host API under `/api/v1`: JSON in, JSON or problem+json out, every
//! handler behind an API key (`ApiCaller`).

use actix_web::{HttpResponse, Route, web};

pub mod auth;
pub mod body;
pub mod branding;
pub mod connections;
pub mod domains;
pub mod error;
pub mod events;
pub mod organizations;
pub mod sign_in;
pub mod views;
pub mod webhooks;

use error::ApiError;

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found_route())
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed())
}

/// A resource whose other methods answer 405 as problem+json.
fn resource(path: &str, routes: Vec<Route>) -> actix_web::Resource {
    routes
        .into_iter()
        .fold(web::resource(path), |r, route| r.route(route))
        .default_service(web::to(method_not_allowed))
}

/// The route table of the API.
pub fn scope() -> actix_web::Scope {
    web::scope("/api/v1")
        .app_data(web::QueryConfig::default().error_handler(body::query_error))
        .app_data(web::PathConfig::default().error_handler(body::path_error))
        .app_data(web::PayloadConfig::new(body::JSON_LIMIT))
        .service(resource(
            "/organizations",
            vec![
                web::post().to(organizations::create),
                web::get().to(organizations::list),
            ],
        ))
        .service(resource(
            "/organizations/{id}",
            vec![
                web::get().to(organizations::get),
                web::patch().to(organizations::update),
            ],
        ))
        .service(resource(
            "/organizations/{id}/portal_links",
            vec![web::post().to(organizations::create_portal_link)],
        ))
        .service(resource(
            "/organizations/{id}/embed_tokens",
            vec![web::post().to(organizations::create_embed_token)],
        ))
        .service(resource(
            "/organizations/{id}/domains",
            vec![
                web::post().to(domains::create),
                web::get().to(domains::list),
            ],
        ))
        .service(resource(
            "/domains/{id}",
            vec![
                web::get().to(domains::get),
                web::patch().to(domains::update),
                web::delete().to(domains::delete),
            ],
        ))
        .service(resource(
            "/domains/{id}/verify",
            vec![web::post().to(domains::verify)],
        ))
        .service(resource(
            "/organizations/{id}/connections",
            vec![
                web::post().to(connections::create),
                web::get().to(connections::list),
            ],
        ))
        .service(resource(
            "/connections/{id}",
            vec![
                web::get().to(connections::get),
                web::patch().to(connections::update),
                web::delete().to(connections::delete),
            ],
        ))
        .service(resource(
            "/connections/{id}/activate",
            vec![web::post().to(connections::activate)],
        ))
        .service(resource(
            "/connections/{id}/deactivate",
            vec![web::post().to(connections::deactivate)],
        ))
        .service(resource(
            "/connections/{id}/move",
            vec![web::post().to(connections::move_to)],
        ))
        .service(resource(
            "/oauth_clients",
            vec![
                web::post().to(sign_in::create_client),
                web::get().to(sign_in::list_clients),
            ],
        ))
        .service(resource(
            "/discovery",
            vec![web::get().to(sign_in::discovery)],
        ))
        .service(resource(
            "/organizations/{id}/sso/status",
            vec![web::get().to(sign_in::sso_status)],
        ))
        .service(resource(
            "/organizations/{id}/members",
            vec![web::get().to(sign_in::members)],
        ))
        .service(resource(
            "/organizations/{id}/members/{user_id}",
            vec![web::delete().to(sign_in::remove_member)],
        ))
        .service(resource(
            "/organizations/{id}/members/{user_id}/leave",
            vec![web::post().to(sign_in::leave)],
        ))
        .service(resource("/events", vec![web::get().to(events::list)]))
        .service(
            resource(
                "/branding",
                vec![web::get().to(branding::get), web::put().to(branding::put)],
            )
            .app_data(web::PayloadConfig::new(branding::BODY_LIMIT)),
        )
        .service(resource(
            "/webhook_endpoints",
            vec![
                web::post().to(webhooks::create),
                web::get().to(webhooks::list),
            ],
        ))
        .service(resource(
            "/webhook_endpoints/{id}",
            vec![
                web::get().to(webhooks::get),
                web::patch().to(webhooks::update),
                web::delete().to(webhooks::delete),
            ],
        ))
        .service(resource(
            "/webhook_endpoints/{id}/deliveries",
            vec![web::get().to(webhooks::deliveries)],
        ))
        .service(resource(
            "/webhook_endpoints/{id}/rotate_secret",
            vec![web::post().to(webhooks::rotate_secret)],
        ))
        .default_service(web::to(not_found))
}
