//! Public SAML endpoints of a connection.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::PageError;
use super::sign_in_result::{Success, failure_page, success_page};
use crate::domain::connections::Protocol;
use crate::services::Services;

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
    let signed_in = services
        .complete_saml_sign_in(&id, saml_response, field("RelayState"))
        .await
        .map_err(|f| failure_page(f.error, f.purpose.as_deref()))?;
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
