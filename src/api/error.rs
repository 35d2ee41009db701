//! API errors: `application/problem+json` (RFC 9457) with a stable `code`
//! and the request id. Internal causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::error_codes;
use crate::services::ServiceError;
use crate::web::middleware::current_request_id;

#[derive(Debug, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    pub field: Option<&'static str>,
    #[source]
    pub cause: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            field: None,
            cause: None,
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn bad_query(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", detail)
    }

    pub fn not_found_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No API endpoint at this path; see the API reference in the README.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This endpoint does not accept that method.",
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let code = e.code();
        match e {
            ServiceError::Invalid(v) => Self {
                field: Some(v.field),
                ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, v.to_string())
            },
            ServiceError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, code, e.to_string()),
            ServiceError::Refused { message, .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            ServiceError::Conflict { message, .. } => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            ServiceError::Unexpected(cause) => Self {
                cause: Some(cause),
                ..Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "Something went wrong on our side; quote the request_id to support.",
                )
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        if let Some(cause) = &self.cause {
            tracing::error!(request_id = %request_id, code = %self.code, error = format!("{cause:#}"), "API error");
        }
        let title = error_codes::lookup(&self.code).map_or("Error", |c| c.title);
        let mut body = json!({
            "type": format!("/errors/{}", self.code),
            "title": title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
            "request_id": request_id,
        });
        if let (Some(field), Some(map)) = (self.field, body.as_object_mut()) {
            map.insert("field".into(), json!(field));
        }
        let mut res = HttpResponse::build(self.status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.body(body.to_string())
    }
}
