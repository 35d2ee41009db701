//! Public SAML endpoints of a connection.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::PageError;
use super::sign_in_result::{Success, failure_response, success_page};
use super::{oauth, test_step};
use crate::domain::connections::Protocol;
use crate::services::Services;
use crate::services::saml_signin::SamlFailure;
use crate::services::test_sign_in::{FlowOrigin, TestIdentity};

/// `GET /saml/{connection_id}/metadata`: the SP metadata to import into the
/// identity provider.
pub async fn metadata(
    services: web::Data<Services>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let c = services.get_connection(&id).await?;
    if c.protocol() != Protocol::Saml {
        return Err(PageError::not_found());
    }
    let urls = crate::saml::sp::urls(&services.config.public_origin(), &c.id);
    // The settings being set up: the identity provider imports these.
    let config = crate::services::connections::saml_config(&c);
    let keys = crate::saml::sp::MetadataKeys {
        certificate: config.sp_key.as_ref().map(|k| k.certificate.der.as_str()),
        sign_requests: config.sign_requests,
        encrypt_assertions: config.encrypt_assertions,
    };
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"gatehouse-{}-metadata.xml\"", c.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(crate::saml::sp::metadata_xml(&urls, keys)))
}

/// `GET /saml/{connection_id}/certificate`: Gatehouse's certificate for
/// the connection (PEM), for identity providers that take it as a file.
pub async fn certificate(
    services: web::Data<Services>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let c = services.get_connection(&id).await?;
    let config = crate::services::connections::saml_config(&c);
    let Some(pair) = config.sp_key.filter(|_| c.protocol() == Protocol::Saml) else {
        return Err(PageError::not_found());
    };
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"gatehouse-{}.pem\"", c.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(pair.certificate.to_pem()))
}

/// A failed response: back to the host or the admin's test, or the error
/// page.
async fn failed(
    services: &Services,
    connection_path_id: &str,
    f: SamlFailure,
) -> Result<HttpResponse, PageError> {
    failure_response(
        services,
        connection_path_id,
        f.error,
        f.purpose.as_deref(),
        f.connection_id.as_deref(),
        &f.origin,
    )
    .await
}

/// Largest ACS body: real responses with many groups run past 100 KB.
pub const ACS_BODY_LIMIT: usize = 1024 * 1024;

/// `POST /saml/{connection_id}/acs`: the identity provider's response.
pub async fn acs(
    services: web::Data<Services>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    if body.len() > ACS_BODY_LIMIT {
        return Err(PageError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ));
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|_| {
        PageError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "saml_response_malformed",
        )
    })?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let saml_response = field("SAMLResponse").unwrap_or_default();
    let checked = match services
        .check_saml_response(&id, saml_response, field("RelayState"))
        .await
    {
        Ok(checked) => checked,
        Err(f) => return failed(&services, &id, f).await,
    };
    // A host's sign-in: the assertion is accepted in the sign-in's write.
    if let Some(request) = checked.host_request() {
        let (connection, vouched) = checked.into_vouched();
        return oauth::host_success(&services, &connection, &request, vouched).await;
    }
    let signed_in = match services.accept_saml_response(checked).await {
        Ok(signed_in) => signed_in,
        Err(f) => return failed(&services, &id, f).await,
    };
    if let Some(flow) = signed_in.flow.as_ref().filter(|f| f.purpose == "test") {
        let i = &signed_in.identity;
        let identity = TestIdentity {
            email: i.email.clone(),
            first_name: i.first_name.clone(),
            last_name: i.last_name.clone(),
            groups: i.groups.clone(),
            subject: i.name_id.clone().unwrap_or_default(),
            details: i
                .attributes
                .iter()
                .map(|(n, v)| (n.clone(), v.join(", ")))
                .collect(),
        };
        let origin = FlowOrigin::new(&flow.purpose, &flow.context);
        return test_step::finish(&services, &signed_in.connection, &origin, Ok(&identity)).await;
    }
    // Started at the identity provider: on to the host, if one takes it.
    if signed_in.flow.is_none()
        && let Some(res) =
            oauth::idp_initiated(&services, &signed_in.connection, &signed_in.person()).await
    {
        return res;
    }
    let identity = signed_in.identity;
    success_page(Success {
        provider: signed_in.connection.provider.display_name(),
        summary: "The identity provider's response was valid: signed by the configured certificate, meant for this connection, and fresh.",
        email: &identity.email,
        first_name: identity.first_name.as_deref(),
        last_name: identity.last_name.as_deref(),
        groups: &identity.groups,
        subject_label: "NameID",
        subject: identity.name_id.as_deref().unwrap_or_default(),
        details_title: "Every attribute received",
        details: identity
            .attributes
            .into_iter()
            .map(|(n, v)| (n, v.join(", ")))
            .collect(),
    })
}
