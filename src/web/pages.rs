//! Pages outside the Security tab: the index, health checks and the error
//! code reference.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::error::PageError;
use super::views::Layout;
use crate::error_codes::{self, ErrorCode};
use crate::services::Services;

#[derive(Template)]
#[template(path = "index.html")]
struct Index {
    layout: Layout,
    public_url: String,
}

#[derive(Template)]
#[template(path = "errors_index.html")]
struct ErrorsIndex {
    layout: Layout,
    codes: &'static [ErrorCode],
}

#[derive(Template)]
#[template(path = "error_code.html")]
struct ErrorCodePage {
    layout: Layout,
    entry: &'static ErrorCode,
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

pub async fn index(services: web::Data<Services>) -> Result<HttpResponse, PageError> {
    Ok(html(
        Index {
            layout: Layout::new("Gatehouse"),
            public_url: services.config.public_origin(),
        }
        .render()?,
    ))
}

pub async fn errors_index() -> Result<HttpResponse, PageError> {
    Ok(html(
        ErrorsIndex {
            layout: Layout::new("Error codes · Gatehouse"),
            codes: error_codes::ALL,
        }
        .render()?,
    ))
}

pub async fn error_code(code: web::Path<String>) -> Result<HttpResponse, PageError> {
    let entry = error_codes::lookup(&code).ok_or_else(PageError::not_found)?;
    Ok(html(
        ErrorCodePage {
            layout: Layout::new(format!("{} · Gatehouse", entry.code)),
            entry,
        }
        .render()?,
    ))
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers.
pub async fn readyz(services: web::Data<Services>) -> HttpResponse {
    match services.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "reason": "database" }))
        }
    }
}

/// Any path no route matched.
pub async fn not_found() -> Result<HttpResponse, PageError> {
    Err(PageError::not_found())
}
