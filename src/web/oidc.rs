//! Public OpenID Connect endpoint of a connection: the redirect URI the
//! provider sends the browser back to.

use actix_web::{HttpResponse, web};

use super::error::PageError;
use super::sign_in_result::{Success, failure_response_with, success_page};
use super::{oauth, test_step};
use crate::services::Services;
use crate::services::oauth::{SignedInPerson, Vouched};
use crate::services::oidc_signin::CallbackParams;
use crate::services::test_sign_in::{FlowOrigin, TestIdentity};

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
    let signed_in = match services.complete_oidc_sign_in(&id, &params).await {
        Ok(signed_in) => signed_in,
        Err(f) => {
            return failure_response_with(
                &services,
                &id,
                f.error,
                f.purpose.as_deref(),
                f.connection_id.as_deref(),
                &f.origin,
                &f.received,
            )
            .await;
        }
    };
    if signed_in.flow.purpose == "test" {
        let i = &signed_in.identity;
        let identity = TestIdentity {
            email: i.email.clone(),
            first_name: i.first_name.clone(),
            last_name: i.last_name.clone(),
            groups: i.groups.clone(),
            subject: i.subject.clone(),
            details: i.claims.clone(),
        };
        let origin = FlowOrigin::new(&signed_in.flow.purpose, &signed_in.flow.context);
        return test_step::finish(&services, &signed_in.connection, &origin, Ok(&identity)).await;
    }
    let i = &signed_in.identity;
    let person = SignedInPerson {
        subject: i.subject.clone(),
        email: i.email.clone(),
        first_name: i.first_name.clone(),
        last_name: i.last_name.clone(),
        groups: i.groups.clone(),
        authenticated_at: i.authenticated_at,
    };
    let origin = FlowOrigin::new(&signed_in.flow.purpose, &signed_in.flow.context);
    if let Some(request) = origin.host_request() {
        // The flow's state was used once, when the callback was checked.
        return oauth::host_success(
            &services,
            &signed_in.connection,
            &request,
            Vouched::checked(person),
        )
        .await;
    }
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
