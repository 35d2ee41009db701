//! Host API authentication: `Authorization: Bearer <api key>`.
//!
//! Every API handler takes an `ApiCaller`, so no handler can be reached
//! without a valid key.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::error::ApiError;
use crate::domain::audit::{Actor, ChangeContext};
use crate::services::Services;
use crate::store::api_keys::ApiKey;
use crate::web::middleware::current_request_id;

/// The API key a request was made with.
pub struct ApiCaller {
    pub key: ApiKey,
}

impl ApiCaller {
    /// The audit context for changes made by this caller.
    pub fn change_context(&self) -> ChangeContext {
        ChangeContext::new(
            Actor::ApiKey {
                id: self.key.id.clone(),
                name: self.key.name.clone(),
            },
            Some(current_request_id()),
        )
    }
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let services = req.app_data::<web::Data<Services>>().cloned();
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_string));
        Box::pin(async move {
            let services = services.ok_or_else(|| ApiError::unauthorized("not configured"))?;
            let token = match authorization {
                None => {
                    return Err(ApiError::unauthorized(
                        "Send your API key as `Authorization: Bearer <api key>`.",
                    ));
                }
                Some(Err(_)) => {
                    return Err(ApiError::unauthorized(
                        "The Authorization header is not readable text.",
                    ));
                }
                Some(Ok(value)) => {
                    let mut parts = value.splitn(2, ' ');
                    match (parts.next(), parts.next()) {
                        (Some(scheme), Some(token)) if scheme.eq_ignore_ascii_case("bearer") => {
                            token.trim().to_string()
                        }
                        _ => {
                            return Err(ApiError::unauthorized(
                                "The Authorization header must be `Bearer <api key>`.",
                            ));
                        }
                    }
                }
            };
            match services.authenticate_api_key(&token).await? {
                Some(key) => Ok(ApiCaller { key }),
                None => Err(ApiError::unauthorized(
                    "This API key is not valid or has been revoked.",
                )),
            }
        })
    }
}
