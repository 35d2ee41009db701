//! Public SAML endpoints of a connection.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::PageError;
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
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"gatehouse-{}-metadata.xml\"", c.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(crate::saml::sp::metadata_xml(&urls)))
}
