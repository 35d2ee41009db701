//! The host's branding on the pages: read once per Security-tab request (a
//! one-row query; instances share the database, so nothing can go stale),
//! kept for the request in a task-local that `Layout::new` reads, and the
//! two same-origin resources it needs, so the content policy stays as it is:
//!
//! - `GET /branding/theme.css?v=…`: the accent colour as CSS custom
//!   properties, light and dark, with text colours computed to reach 4.5:1;
//! - `GET /branding/logo?v=…`: the logo, with its checked raster type and
//!   `nosniff`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::PageError;
use crate::domain::branding::{Branding, Theme};
use crate::services::Services;

tokio::task_local! {
    static BRAND: Brand;
}

/// What a page shows of the host's branding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Brand {
    pub product_name: Option<String>,
    /// The generated stylesheet, when the host set an accent colour.
    pub theme_css: Option<String>,
    pub logo_url: Option<String>,
}

impl Brand {
    pub fn from_branding(b: &Branding) -> Self {
        Self {
            product_name: b.product_name.clone(),
            theme_css: b.theme_version().map(|v| theme_path(&v)),
            logo_url: b.logo.as_ref().map(|l| logo_path(l.version())),
        }
    }

    /// The branding of the request being handled; the default outside the
    /// Security tab.
    pub fn current() -> Self {
        BRAND.try_with(Clone::clone).unwrap_or_default()
    }

    /// The product's name, or `default` (such as "your application").
    pub fn product_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.product_name.as_deref().unwrap_or(default)
    }
}

pub fn theme_path(version: &str) -> String {
    format!("/branding/theme.css?v={version}")
}

pub fn logo_path(version: &str) -> String {
    format!("/branding/logo?v={version}")
}

/// Whether a path renders pages of the Security tab (or their errors).
fn is_branded(path: &str) -> bool {
    path == "/security" || path.starts_with("/security/") || path.starts_with("/errors")
}

/// Middleware: loads the branding for the tab's pages. A failed read is
/// logged and the page shows Gatehouse's defaults: branding never breaks
/// the tab.
pub async fn context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let services = is_branded(req.path())
        .then(|| req.app_data::<web::Data<Services>>().cloned())
        .flatten();
    let brand = match services {
        None => Brand::default(),
        Some(services) => match services.branding().await {
            Ok(b) => Brand::from_branding(&b),
            Err(e) => {
                tracing::warn!(error = %e, "reading the branding failed; showing the defaults");
                Brand::default()
            }
        },
    };
    BRAND.scope(brand, next.call(req)).await
}

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// Headers shared by both resources: an ETag of the version, cached for a
/// year when asked for by the current version (the URL changes with it).
fn cached(req: &HttpRequest, version: &str, asked: Option<&str>) -> (HttpResponse, bool) {
    let etag = format!("\"{version}\"");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag)).insert_header((
        header::CACHE_CONTROL,
        if asked == Some(version) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        },
    ));
    (res.finish(), matches)
}

/// `GET /branding/theme.css`
pub async fn theme(
    req: HttpRequest,
    services: web::Data<Services>,
    query: web::Query<Version>,
) -> Result<HttpResponse, PageError> {
    let branding = services.branding().await?;
    let (Some(accent), Some(version)) = (branding.accent_color, branding.theme_version()) else {
        return Ok(HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body("/* No accent colour set: the built-in theme applies. */\n"));
    };
    let (res, not_modified) = cached(&req, &version, query.v.as_deref());
    if not_modified {
        return Ok(res);
    }
    let mut res = res.set_body(Theme::from_accent(accent).css());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    Ok(res.map_into_boxed_body())
}

/// `GET /branding/logo`: only ever PNG, JPEG or WebP (checked by their
/// bytes on upload), sent with that type and `nosniff`, and a policy that
/// runs nothing should the file be opened on its own.
pub async fn logo(
    req: HttpRequest,
    services: web::Data<Services>,
    query: web::Query<Version>,
) -> Result<HttpResponse, PageError> {
    let logo = services
        .branding_logo()
        .await?
        .ok_or_else(PageError::not_found)?;
    let (res, not_modified) = cached(&req, logo.info.version(), query.v.as_deref());
    let mut res = if not_modified {
        res
    } else {
        res.set_body(logo.data).map_into_boxed_body()
    };
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(logo.info.content_type.mime()),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; sandbox"),
    );
    Ok(res)
}
