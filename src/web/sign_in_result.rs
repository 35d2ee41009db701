//! The page that ends a sign-in at Gatehouse itself (until the host's
//! OpenID Connect flow takes over): what came back, or the named error.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use super::error::PageError;
use crate::domain::sign_in::SignInError;
use crate::services::oauth::FailedSignIn;

#[derive(askama::Template)]
#[template(path = "sign_in_result.html")]
struct SignInResult<'a> {
    layout: super::views::Layout,
    provider: &'a str,
    summary: &'a str,
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    groups: String,
    subject_label: &'a str,
    subject: &'a str,
    details_title: &'a str,
    details: Vec<(String, String)>,
}

/// What a successful sign-in shows.
pub struct Success<'a> {
    pub provider: &'a str,
    pub summary: &'a str,
    pub email: &'a str,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub groups: &'a [String],
    pub subject_label: &'a str,
    pub subject: &'a str,
    pub details_title: &'a str,
    pub details: Vec<(String, String)>,
}

pub fn success_page(s: Success) -> Result<HttpResponse, PageError> {
    let page = SignInResult {
        layout: super::views::Layout::new("Signed in · Gatehouse"),
        provider: s.provider,
        summary: s.summary,
        email: s.email,
        first_name: s.first_name.unwrap_or_default(),
        last_name: s.last_name.unwrap_or_default(),
        groups: s.groups.join(", "),
        subject_label: s.subject_label,
        subject: s.subject,
        details_title: s.details_title,
        details: s.details,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(askama::Template::render(&page)?))
}

/// The error page of a failed sign-in: 404 for an unknown connection, 400
/// for the rest. Only an admin's test sees the details; end users get the
/// code and the request id.
pub fn failure_page(error: SignInError, purpose: Option<&str>) -> PageError {
    let status = match error.code {
        "saml_connection_unknown" | "oidc_connection_unknown" => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    if error.code == "internal_error" {
        return PageError::internal(anyhow::anyhow!(error.detail));
    }
    let detail = (purpose == Some("test")).then(|| {
        let mut d = error.detail.clone();
        if let Some(expected) = &error.expected {
            d.push_str(&format!(" Expected: {expected}."));
        }
        if let Some(received) = &error.received {
            d.push_str(&format!(" Received: {received}."));
        }
        d
    });
    let code = crate::error_codes::lookup(error.code).map_or("internal_error", |c| c.code);
    PageError {
        detail,
        ..PageError::new(status, code)
    }
}

/// Where a failed sign-in goes: an admin's test records it and shows it in
/// the popup; a host's sign-in goes back to the host with the OAuth error;
/// anything else gets the error page.
pub async fn failure_response(
    services: &crate::services::Services,
    connection_path_id: &str,
    error: SignInError,
    purpose: Option<&str>,
    connection_id: Option<&str>,
    origin: &crate::services::test_sign_in::FlowOrigin,
) -> Result<HttpResponse, PageError> {
    failure_response_with(
        services,
        connection_path_id,
        error,
        purpose,
        connection_id,
        origin,
        &[],
    )
    .await
}

/// [`failure_response`], with what the provider sent (verified claims) for
/// an admin's test to keep.
pub async fn failure_response_with(
    services: &crate::services::Services,
    connection_path_id: &str,
    error: SignInError,
    purpose: Option<&str>,
    connection_id: Option<&str>,
    origin: &crate::services::test_sign_in::FlowOrigin,
    received: &[(String, String)],
) -> Result<HttpResponse, PageError> {
    if origin.is_test()
        && let Ok(connection) = services.get_connection(connection_path_id).await
    {
        return super::test_step::finish_received(
            services,
            &connection,
            origin,
            Err(&error),
            received,
        )
        .await;
    }
    if let Some(res) = super::oauth::host_failure(services, connection_id, origin, &error).await {
        return Ok(res);
    }
    // Neither a test nor the host's: one started at the identity provider
    // (or a stray post). Filed under the connection it was sent to.
    if error.code != "internal_error"
        && let Ok(connection) = services.get_connection(connection_path_id).await
    {
        services
            .record_sign_in_failure(
                FailedSignIn::at(&connection, error.code),
                Some(super::middleware::current_request_id()),
            )
            .await;
    }
    Err(failure_page(error, purpose))
}
