//! Errors of the HTML pages: a page with the right status, the code, its
//! explanation and the request id an admin can quote. Internal causes are
//! logged, never shown.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::middleware::current_request_id;
use super::views::{ErrorPage, Layout};
use crate::error_codes;
use crate::services::ServiceError;

pub const ERROR_CODE_HEADER: &str = "gatehouse-error-code";

#[derive(Debug, thiserror::Error)]
#[error("{code} ({status})")]
pub struct PageError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Option<String>,
    /// For pages inside an embed: the parent that may frame this error.
    pub frame_origin: Option<String>,
    /// An event posted to the parent frame (e.g. session expired).
    pub event: Option<&'static str>,
    #[source]
    pub cause: Option<anyhow::Error>,
}

impl PageError {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            code,
            detail: None,
            frame_origin: None,
            event: None,
            cause: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found")
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }

    pub fn with_frame_origin(mut self, origin: Option<String>) -> Self {
        self.frame_origin = origin;
        self
    }

    pub fn with_event(mut self, event: &'static str) -> Self {
        self.event = Some(event);
        self
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound { .. } => PageError::not_found(),
            ServiceError::Unexpected(cause) => PageError::internal(cause),
            ServiceError::Refused { code, message } => PageError {
                detail: Some(message),
                ..PageError::new(StatusCode::UNPROCESSABLE_ENTITY, code)
            },
            ServiceError::Conflict { code, message } => PageError {
                detail: Some(message),
                ..PageError::new(StatusCode::CONFLICT, code)
            },
            other => PageError {
                detail: Some(other.to_string()),
                ..PageError::new(StatusCode::BAD_REQUEST, "validation_failed")
            },
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::internal(e)
    }
}

/// `Content-Security-Policy: frame-ancestors <origin>` for an embed page.
pub fn frame_ancestors(origin: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("frame-ancestors {origin}")).ok()
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        if let Some(cause) = &self.cause {
            tracing::error!(request_id = %request_id, code = self.code, error = format!("{cause:#}"), "page error");
        }
        let entry =
            error_codes::lookup(self.code).or_else(|| error_codes::lookup("internal_error"));
        let (title, cause, fix) = entry.map_or(("Error", "", ""), |e| (e.title, e.cause, e.fix));
        let mut layout = Layout::new(format!("{title} · Gatehouse"));
        layout.parent_origin = self.frame_origin.clone();
        layout.embedded = self.frame_origin.is_some();
        layout.event = self.event;
        let ends_session = matches!(self.code, "session_expired" | "session_missing");
        // Where the session is gone, say where to reopen the tab: the host's
        // product, by name when it set one.
        let fix = if ends_session {
            let product = layout.brand.product_or("your application");
            std::borrow::Cow::Owned(if layout.embedded {
                format!("Reopen the Security settings from {product}: reload the page there.")
            } else {
                format!("Reopen the Security settings from {product}, or ask for a new setup link.")
            })
        } else {
            std::borrow::Cow::Borrowed(fix)
        };
        let page = ErrorPage {
            layout,
            status: self.status.as_u16(),
            title,
            cause,
            fix,
            detail: self.detail.clone(),
            code: self.code,
            request_id,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{title} ({})", self.code));
        let mut res = HttpResponse::build(self.status);
        res.content_type("text/html; charset=utf-8")
            .insert_header((ERROR_CODE_HEADER, self.code));
        if let Some(csp) = self.frame_origin.as_deref().and_then(frame_ancestors) {
            res.insert_header((header::CONTENT_SECURITY_POLICY, csp));
        }
        if ends_session {
            // An htmx request swaps the whole page for this one, not just
            // its target: nothing of the tab stays on screen to click.
            res.insert_header(("hx-retarget", "body"))
                .insert_header(("hx-reswap", "innerHTML"));
        }
        res.body(body)
    }
}
