//! Request-wide concerns: a request id on every response and log line,
//! security headers, and one access-log line per request.
//!
//! The access log names the matched route pattern, never the raw path: setup
//! links and embed tokens travel in paths.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::crypto;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being handled, for error bodies and pages.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "req_unknown".to_string())
}

fn new_request_id() -> String {
    // 96 random bits are plenty to tell requests apart in logs.
    let bytes: [u8; 12] = crypto::random_bytes();
    format!(
        "req_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The content policy of every HTML page. `frame-ancestors` is sent on its
/// own header so that it reads exactly as configured for embeds.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: https:; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'";

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = new_request_id();
    let method = req.method().clone();
    let https = req
        .app_data::<actix_web::web::Data<crate::services::Services>>()
        .is_some_and(|s| s.config.public_url_is_https());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method);
    let started = Instant::now();

    let mut res = REQUEST_ID
        .scope(request_id.clone(), next.call(req).instrument(span.clone()))
        .await?;

    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(no route)".to_string());
    let status = res.status().as_u16();
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    add_security_headers(headers);
    if https {
        // Served over https (behind TLS termination): browsers must not
        // fall back to plain http for the next six months.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=15552000"),
        );
    }

    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _enter = span.enter();
    if status >= 500 {
        tracing::error!(status, route = %route, elapsed_ms, "request failed");
    } else {
        tracing::info!(status, route = %route, elapsed_ms, "request");
    }
    Ok(res)
}

fn add_security_headers(headers: &mut header::HeaderMap) {
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // A page that set a whole policy of its own (the SAML POST-binding page,
    // which must post elsewhere) keeps it alone.
    let own_policy = headers
        .get_all(header::CONTENT_SECURITY_POLICY)
        .any(|v| v.to_str().is_ok_and(|v| v.contains("default-src")));
    if is_html {
        if !own_policy {
            headers.append(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            );
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Nothing of ours leaks to other sites, while our own form posts keep
    // their Origin header: under `no-referrer` browsers send `Origin: null`
    // with a plain form post, which the origin check must refuse, and the
    // tab would not work without scripts.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}
