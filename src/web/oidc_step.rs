//! The Connection step for OpenID Connect providers: the redirect URI to
//! register, the provider's guide, and the form for the issuer, client ID
//! and client secret. The secret is write-only: the page says whether one
//! is set and how it ends, never what it is.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::connection_step::{IdpForm, after_change, org_connection, page_with_oidc};
use super::error::PageError;
use super::guides;
use super::security_tab::{Notice, change_context, user_message};
use super::session::{AdminContext, AdminForm};
use crate::domain::connections::{Connection, State};
use crate::oidc::catalogue;
use crate::oidc::config::redirect_uri;
use crate::services::Services;
use crate::services::connections::ConnectionPatch;
use crate::services::oidc_settings::{OidcInput, oidc_config};

/// What was typed, shown again after an error (never the secret).
#[derive(Debug, Clone, Default)]
pub struct OidcForm {
    pub discovery_url: String,
    pub client_id: String,
    pub scopes: String,
    pub error: Option<String>,
}

/// What Gatehouse saved, as the admin sees it.
pub struct OidcSaved {
    pub issuer: String,
    pub client_id: String,
    /// "set, ends in …abcd", or "set".
    pub secret: String,
    pub scopes: String,
    pub token_auth: &'static str,
    pub tenant_id: Option<String>,
}

pub struct OidcCard {
    pub id: String,
    pub provider_name: &'static str,
    pub state: &'static str,
    pub state_label: &'static str,
    pub redirect_uri: String,
    pub guide: String,
    pub issuer_label: &'static str,
    pub issuer_placeholder: &'static str,
    pub saved: Option<OidcSaved>,
    pub form: OidcForm,
    pub allow_subdomains: bool,
    pub can_change_provider: bool,
}

pub fn card(
    services: &Services,
    ctx: &AdminContext,
    c: &Connection,
    form: OidcForm,
) -> Result<OidcCard, PageError> {
    let entry = catalogue::entry(c.provider).ok_or_else(PageError::not_found)?;
    let redirect = redirect_uri(&services.config.public_origin(), &c.id);
    let config = oidc_config(c);
    let guide = guides::render_oidc(
        c.provider,
        &guides::OidcVars {
            redirect_uri: &redirect,
            org_name: &ctx.org.name,
            app_name: &format!("{} single sign-on", ctx.org.name),
        },
    )?;
    let saved = match (&config.provider, &config.client_id) {
        (Some(provider), Some(client_id)) => Some(OidcSaved {
            issuer: provider.issuer.clone(),
            client_id: client_id.clone(),
            secret: match (&config.client_secret, &config.client_secret_hint) {
                (Some(_), Some(hint)) => format!("set, ends in …{hint}"),
                (Some(_), None) => "set".into(),
                (None, _) => "not set".into(),
            },
            scopes: config.scope(),
            token_auth: provider.token_auth.as_str(),
            tenant_id: config.tenant_id.clone(),
        }),
        _ => None,
    };
    let form = OidcForm {
        discovery_url: if form.discovery_url.is_empty() {
            config
                .discovery_url
                .clone()
                .or(entry.issuer_default.map(str::to_string))
                .unwrap_or_default()
        } else {
            form.discovery_url
        },
        client_id: if form.client_id.is_empty() {
            config.client_id.clone().unwrap_or_default()
        } else {
            form.client_id
        },
        scopes: if form.scopes.is_empty() {
            config.extra_scopes.join(" ")
        } else {
            form.scopes
        },
        error: form.error,
    };
    Ok(OidcCard {
        id: c.id.clone(),
        provider_name: c.provider.display_name(),
        state: c.state().as_str(),
        state_label: c.state().label(),
        redirect_uri: redirect,
        guide,
        issuer_label: entry.issuer_label,
        issuer_placeholder: entry.issuer_placeholder,
        saved,
        form,
        allow_subdomains: c.allow_subdomains,
        can_change_provider: c.state() != State::Active,
    })
}

#[derive(serde::Deserialize)]
pub struct OidcFields {
    discovery_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scopes: Option<String>,
}

/// `POST /security/connection/{id}/oidc`: the provider's side. A failure
/// shows the error, keeps what was typed (but the secret), and keeps the
/// last good settings.
pub async fn save(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<String>,
    form: AdminForm<OidcFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let c = org_connection(&services, &ctx, &id).await?;
    let f = form.data;
    let keep = |v: &Option<String>| v.clone().unwrap_or_default().chars().take(4096).collect();
    let mut typed = OidcForm {
        discovery_url: keep(&f.discovery_url),
        client_id: keep(&f.client_id),
        scopes: keep(&f.scopes),
        error: None,
    };
    let patch = ConnectionPatch {
        oidc: Some(OidcInput {
            discovery_url: f.discovery_url,
            client_id: f.client_id,
            client_secret: f.client_secret,
            scopes: f.scopes.map(|s| vec![s]),
        }),
        ..ConnectionPatch::default()
    };
    match services
        .update_connection(&change_context(&ctx), &c.id, patch)
        .await
    {
        Ok(_) => {
            after_change(
                &req,
                &services,
                &ctx,
                Notice::success(
                    "Your provider's details are saved. Check what Gatehouse read below, then run a test."
                        .into(),
                ),
            )
            .await
        }
        Err(e) => {
            typed.error = Some(user_message(e)?);
            page_with_oidc(
                &req,
                &services,
                &ctx,
                None,
                IdpForm::default(),
                Some(typed),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
