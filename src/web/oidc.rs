//! Public OpenID Connect endpoint of a connection: the redirect URI the
//! provider sends the browser back to.

use actix_web::{HttpResponse, web};

use super::error::PageError;
use super::sign_in_result::{Success, failure_page, success_page};
use crate::services::Services;
use crate::services::oidc_signin::CallbackParams;

#[derive(Debug, serde::Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /oidc/{connection_id}/callback`
pub async fn callback(
    services: web::Data<Services>,
    id: web::Path<String>,
    query: web::Query<Callback>,
) -> Result<HttpResponse, PageError> {
    let q = query.into_inner();
    let params = CallbackParams {
        code: q.code,
        state: q.state,
        iss: q.iss,
        error: q.error,
        error_description: q.error_description,
    };
    let signed_in = services
        .complete_oidc_sign_in(&id, &params)
        .await
        .map_err(|f| failure_page(f.error, f.purpose.as_deref()))?;
    let identity = signed_in.identity;
    success_page(Success {
        provider: signed_in.connection.provider.display_name(),
        summary: "The provider's ID token was valid: signed with its published key, issued to this connection for this sign-in, and fresh.",
        email: &identity.email,
        first_name: identity.first_name.as_deref(),
        last_name: identity.last_name.as_deref(),
        groups: &identity.groups,
        subject_label: "Subject",
        subject: &identity.subject,
        details_title: "Every claim received",
        details: identity.claims,
    })
}
