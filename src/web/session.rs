//! Admin sessions on the web side: finding the session of a request,
//! checking CSRF and origin on every change, and writing session cookies.
//!
//! A session is looked for, in order, in the `X-Gatehouse-Session` header
//! (sent by htmx from the page itself, so an embedded tab keeps working where
//! third-party cookies are blocked), the `gatehouse_session` form field, and
//! the session cookie.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::error::PageError;
use crate::domain::access::{AdminSession, SessionMode};
use crate::domain::organization::Organization;
use crate::services::Services;
use crate::services::access::SessionLookup;

pub const SESSION_HEADER: &str = "x-gatehouse-session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const SESSION_FIELD: &str = "gatehouse_session";
pub const CSRF_FIELD: &str = "csrf_token";
pub const STANDALONE_COOKIE: &str = "gatehouse_session";
pub const EMBED_COOKIE: &str = "gatehouse_embed";
pub const SESSION_EXPIRED_EVENT: &str = "gatehouse:session-expired";

/// Largest form the Security tab accepts.
const FORM_LIMIT: usize = 256 * 1024;

/// The IT admin behind a request: a live session and its one organization.
#[derive(Debug, Clone)]
pub struct AdminContext {
    pub session: AdminSession,
    pub org: Organization,
    /// The session token, as presented; put in embed pages only.
    pub token: String,
    pub csrf_token: String,
}

impl AdminContext {
    pub fn new(
        services: &Services,
        session: AdminSession,
        org: Organization,
        token: String,
    ) -> Self {
        let csrf_token = services.csrf_token(&session);
        Self {
            session,
            org,
            token,
            csrf_token,
        }
    }

    pub fn is_embed(&self) -> bool {
        self.session.mode == SessionMode::Embed
    }

    /// Refuses changes when the host has not enabled self-service SSO for
    /// the organization (the pages show why; changes get this error).
    pub fn require_self_serve(self) -> Result<Self, PageError> {
        if self.org.self_serve_sso {
            Ok(self)
        } else {
            Err(PageError::new(StatusCode::FORBIDDEN, "self_serve_disabled")
                .with_frame_origin(self.frame_origin()))
        }
    }

    /// The parent origin allowed to frame this session's pages.
    pub fn frame_origin(&self) -> Option<String> {
        if self.is_embed() {
            self.session.parent_origin.clone()
        } else {
            None
        }
    }
}

fn services(req: &HttpRequest) -> Result<web::Data<Services>, PageError> {
    req.app_data::<web::Data<Services>>()
        .cloned()
        .ok_or_else(|| PageError::internal(anyhow::anyhow!("services not configured")))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The session token a request carries, if any.
fn presented_token(req: &HttpRequest, form_token: Option<String>) -> Option<String> {
    if let Some(t) = header(req, SESSION_HEADER).filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    if let Some(t) = form_token.filter(|t| !t.is_empty()) {
        return Some(t);
    }
    // A frame prefers the embed cookie; a top-level page the standalone one.
    let in_frame = header(req, "sec-fetch-dest") == Some("iframe");
    let order = if in_frame {
        [EMBED_COOKIE, STANDALONE_COOKIE]
    } else {
        [STANDALONE_COOKIE, EMBED_COOKIE]
    };
    order
        .iter()
        .find_map(|name| req.cookie(name).map(|c| c.value().to_string()))
}

async fn resolve(req: &HttpRequest, form_token: Option<String>) -> Result<AdminContext, PageError> {
    let services = services(req)?;
    let missing = || PageError::new(StatusCode::UNAUTHORIZED, "session_missing");
    let token = presented_token(req, form_token).ok_or_else(missing)?;
    match services.resolve_session(&token).await? {
        SessionLookup::Active(session, org) => {
            Ok(AdminContext::new(&services, session, org, token))
        }
        SessionLookup::Expired(session) => {
            let origin = (session.mode == SessionMode::Embed)
                .then(|| session.parent_origin.clone())
                .flatten();
            Err(PageError::new(StatusCode::UNAUTHORIZED, "session_expired")
                .with_frame_origin(origin)
                .with_event(SESSION_EXPIRED_EVENT))
        }
        SessionLookup::Missing => Err(missing()),
    }
}

/// Changes must come from our own pages: `Origin` equal to the public
/// origin, or, where a browser sends no `Origin`, `Sec-Fetch-Site:
/// same-origin`. A request with neither is refused.
fn check_origin(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
) -> Result<(), PageError> {
    let refuse = |detail: String| PageError {
        detail: Some(detail),
        ..PageError::new(StatusCode::FORBIDDEN, "csrf_origin_mismatch")
            .with_frame_origin(ctx.frame_origin())
    };
    let expected = services.config.public_origin();
    match (header(req, "origin"), header(req, "sec-fetch-site")) {
        (Some(origin), _) if origin == expected => Ok(()),
        (Some(origin), _) => Err(refuse(format!(
            "The request came from {origin}, not from {expected}."
        ))),
        (None, Some("same-origin")) => Ok(()),
        (None, Some(site)) => Err(refuse(format!(
            "The browser reported the request as {site}."
        ))),
        (None, None) => Err(refuse("The request did not say where it came from.".into())),
    }
}

fn check_csrf(
    services: &Services,
    ctx: &AdminContext,
    presented: Option<&str>,
) -> Result<(), PageError> {
    match presented {
        Some(token) if services.check_csrf_token(&ctx.session, token) => Ok(()),
        _ => Err(PageError::new(StatusCode::FORBIDDEN, "csrf_token_invalid")
            .with_frame_origin(ctx.frame_origin())),
    }
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

impl FromRequest for AdminContext {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    /// For GET and HEAD, the session. For anything else, also the origin
    /// check and the CSRF header: a handler that changes state cannot get an
    /// `AdminContext` without them.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = resolve(&req, None).await?;
            if !is_safe_method(req.method()) {
                let services = services(&req)?;
                check_origin(&req, &services, &ctx)?;
                check_csrf(&services, &ctx, header(&req, CSRF_HEADER))?;
            }
            Ok(ctx)
        })
    }
}

/// A form post from the Security tab: the session (header, field or
/// cookie), its origin and CSRF token checked, and the remaining fields.
pub struct AdminForm<T> {
    pub ctx: AdminContext,
    pub data: T,
}

#[derive(serde::Deserialize)]
struct Envelope<T> {
    csrf_token: Option<String>,
    gatehouse_session: Option<String>,
    #[serde(flatten)]
    data: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for AdminForm<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|_| PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"))?;
            if body.len() > FORM_LIMIT {
                return Err(PageError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                ));
            }
            let envelope: Envelope<T> =
                serde_urlencoded::from_bytes(&body).map_err(|e| PageError {
                    detail: Some(format!("The form could not be read: {e}.")),
                    ..PageError::new(StatusCode::BAD_REQUEST, "validation_failed")
                })?;
            let ctx = resolve(&req, envelope.gatehouse_session).await?;
            let services = services(&req)?;
            check_origin(&req, &services, &ctx)?;
            let presented = header(&req, CSRF_HEADER).or(envelope.csrf_token.as_deref());
            check_csrf(&services, &ctx, presented)?;
            Ok(AdminForm {
                ctx,
                data: envelope.data,
            })
        })
    }
}

/// The `Set-Cookie` value for a new session. Written by hand because the
/// cookie crate in use has no `Partitioned` attribute.
pub fn session_cookie(mode: SessionMode, token: &str, max_age_secs: i64, https: bool) -> String {
    match (mode, https) {
        (SessionMode::Embed, true) => format!(
            "{EMBED_COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=None; Partitioned"
        ),
        (SessionMode::Embed, false) => {
            format!(
                "{EMBED_COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax"
            )
        }
        (SessionMode::Standalone, true) => format!(
            "{STANDALONE_COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Lax"
        ),
        (SessionMode::Standalone, false) => {
            format!(
                "{STANDALONE_COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax"
            )
        }
    }
}

/// Clears a session cookie.
pub fn clear_cookie(mode: SessionMode, https: bool) -> String {
    let name = match mode {
        SessionMode::Embed => EMBED_COOKIE,
        SessionMode::Standalone => STANDALONE_COOKIE,
    };
    let secure = if https { "; Secure" } else { "" };
    format!("{name}=; Path=/; Max-Age=0; HttpOnly{secure}; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_cookies_over_https_are_partitioned_cross_site_cookies() {
        let c = session_cookie(SessionMode::Embed, "ghs_x", 60, true);
        assert!(c.contains("; Secure; SameSite=None; Partitioned"), "{c}");
        assert!(c.contains("HttpOnly"));
        let c = session_cookie(SessionMode::Standalone, "ghs_x", 60, true);
        assert!(c.contains("SameSite=Lax") && c.contains("Secure") && !c.contains("Partitioned"));
        let c = session_cookie(SessionMode::Embed, "ghs_x", 60, false);
        assert!(!c.contains("Secure") && !c.contains("SameSite=None"), "{c}");
    }
}
