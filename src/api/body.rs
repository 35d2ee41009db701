//! Request bodies and query strings of the API, with every way they can be
//! wrong answered by a clear 4xx.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest JSON body the API accepts.
pub const JSON_LIMIT: usize = 64 * 1024;

/// A JSON object body. With `OPTIONAL`, an empty body is the default value.
/// `LIMIT` is the largest body accepted; a route with a larger one must also
/// raise its `PayloadConfig` to match.
pub struct JsonBody<T, const OPTIONAL: bool = false, const LIMIT: usize = JSON_LIMIT>(pub T);

/// A body that may be left out entirely (`{}` is assumed).
pub type OptionalJsonBody<T> = JsonBody<T, true>;

impl<T, const OPTIONAL: bool, const LIMIT: usize> FromRequest for JsonBody<T, OPTIONAL, LIMIT>
where
    T: DeserializeOwned + Default + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let too_large = || {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("The body is over the {LIMIT}-byte limit."),
                )
            };
            if declared_length.is_some_and(|n| n > LIMIT) {
                return Err(too_large());
            }
            let body = body.await.map_err(|_| too_large())?;
            if body.len() > LIMIT {
                return Err(too_large());
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                if OPTIONAL {
                    return Ok(JsonBody(T::default()));
                }
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    "The body is empty; send a JSON object.",
                ));
            }
            let is_json = content_type.as_deref().is_some_and(|ct| {
                let essence = ct.split(';').next().unwrap_or_default().trim();
                essence == "application/json" || essence.ends_with("+json")
            });
            if !is_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as JSON with `Content-Type: application/json`.",
                ));
            }
            // Syntax first, so a truncated document is reported as such even
            // where its beginning already has the wrong shape.
            let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    format!("The body is not valid JSON: {e}."),
                )
            })?;
            serde_json::from_value::<T>(value)
                .map(JsonBody)
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_body",
                        format!("The body has the wrong shape: {e}."),
                    )
                })
        })
    }
}

/// Distinguishes "absent" from "null" in a PATCH body.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// The paging request of a list from its `?cursor=&limit=`, checking `limit`
/// and that `cursor` has the shape of an id of the listed kind.
pub fn page_request(
    cursor: Option<&str>,
    limit: Option<&str>,
    kind: crate::ids::Kind,
) -> Result<crate::store::PageRequest, ApiError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_query(format!(
                    "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{}`.",
                    raw.chars().take(40).collect::<String>()
                )));
            }
        },
    };
    if let Some(cursor) = cursor
        && !crate::ids::is_well_formed(kind, cursor)
    {
        return Err(ApiError::bad_query(
            "`cursor` is not valid; pass the `next_cursor` of the previous page unchanged.",
        ));
    }
    Ok(crate::store::PageRequest {
        before: cursor.map(str::to_string),
        limit,
    })
}

/// Query-string errors as problem+json.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_query(format!("The query string is not valid: {err}.")).into()
}

/// Path errors (a segment that cannot be read) as 404.
pub fn path_error(_: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found_route().into()
}
