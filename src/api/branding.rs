//! `/api/v1/branding`: the host's product name, accent colour and logo on
//! the Security tab. One branding per Gatehouse (one host).
//!
//! `PUT` sets the fields it is given and leaves the others alone; `null`
//! puts one back to Gatehouse's default:
//!
//! ```json
//! {"product_name": "Acme Cloud", "accent_color": "#0f766e",
//!  "logo": {"content_type": "image/png", "data_base64": "iVBORw0…"}}
//! ```

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use super::body::{JsonBody, double_option};
use super::error::ApiError;
use super::views::time;
use crate::domain::branding::{Branding, Palette, Theme};
use crate::services::Services;
use crate::services::branding::{BrandingPatch, NewLogo};

/// The largest `PUT` body: a 256 KB logo is about 342 KB of base64.
pub const BODY_LIMIT: usize = 512 * 1024;

#[derive(Serialize)]
pub struct BrandingView {
    pub product_name: Option<String>,
    pub accent_color: Option<String>,
    pub logo: Option<LogoView>,
    /// The colours the tab uses, derived from `accent_color`; `null` for
    /// the built-in theme.
    pub theme: Option<ThemeView>,
    pub updated_at: Option<String>,
}

#[derive(Serialize)]
pub struct LogoView {
    pub content_type: &'static str,
    pub size: i64,
    pub sha256: String,
    /// Where the tab loads it from (same origin as the tab, versioned).
    pub url: String,
}

#[derive(Serialize)]
pub struct ThemeView {
    pub light: PaletteView,
    pub dark: PaletteView,
}

#[derive(Serialize)]
pub struct PaletteView {
    pub accent: String,
    pub accent_hover: String,
    /// Text on accent-coloured buttons: white or black, at least 4.5:1.
    pub text_on_accent: String,
    /// Links and accent-coloured text on the page, at least 4.5:1.
    pub accent_text: String,
}

impl From<Palette> for PaletteView {
    fn from(p: Palette) -> Self {
        Self {
            accent: p.accent.hex(),
            accent_hover: p.accent_strong.hex(),
            text_on_accent: p.accent_contrast.hex(),
            accent_text: p.accent_text.hex(),
        }
    }
}

impl BrandingView {
    fn new(services: &Services, b: Branding) -> Self {
        Self {
            product_name: b.product_name,
            accent_color: b.accent_color.map(|c| c.hex()),
            theme: b.accent_color.map(|c| {
                let t = Theme::from_accent(c);
                ThemeView {
                    light: t.light.into(),
                    dark: t.dark.into(),
                }
            }),
            logo: b.logo.map(|l| LogoView {
                content_type: l.content_type.mime(),
                size: l.size,
                url: services
                    .config
                    .url_for(&crate::web::branding::logo_path(l.version())),
                sha256: l.sha256,
            }),
            updated_at: b.updated_at.map(time),
        }
    }
}

pub async fn get(
    services: web::Data<Services>,
    _caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    let branding = services.branding().await?;
    Ok(HttpResponse::Ok().json(BrandingView::new(&services, branding)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutBody {
    #[serde(default, deserialize_with = "double_option")]
    product_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    accent_color: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    logo: Option<Option<LogoBody>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoBody {
    content_type: String,
    data_base64: String,
}

pub async fn put(
    services: web::Data<Services>,
    caller: ApiCaller,
    body: JsonBody<PutBody, false, BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let branding = services
        .update_branding(
            &caller.change_context(),
            BrandingPatch {
                product_name: b.product_name,
                accent_color: b.accent_color,
                logo: b.logo.map(|l| {
                    l.map(|l| NewLogo {
                        content_type: l.content_type,
                        data_base64: l.data_base64,
                    })
                }),
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(BrandingView::new(&services, branding)))
}
