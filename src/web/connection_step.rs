//! Step 2 of the Security tab: choosing the identity provider, following
//! its guide, and giving Gatehouse the provider's side.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::error::PageError;
use super::guides;
use super::oidc_step::{self, OidcCard, OidcForm};
use super::security_tab::{
    Notice, change_context, render_tab, renders_in_place, see_other, user_message,
};
use super::session::{AdminContext, AdminForm};
use crate::domain::connections::{Connection, Protocol, Provider, State};
use crate::domain::wizard::Step;
use crate::oidc::catalogue as oidc_catalogue;
use crate::saml::catalogue::{self, Attributes};
use crate::saml::config::{AttributeMapping, Binding, Source};
use crate::services::Services;
use crate::services::connections::{
    ConnectionPatch, NewConnection, SamlInput, SpOptions, is_configured, saml_config,
};

pub struct PickerEntry {
    pub slug: &'static str,
    pub name: &'static str,
    pub blurb: &'static str,
}

/// The three ways of giving the provider's side, as last typed.
#[derive(Debug, Clone, Default)]
pub struct IdpForm {
    pub metadata_url: String,
    pub metadata_xml: String,
    pub sso_url: String,
    pub entity_id: String,
    pub certificate_pem: String,
    pub error: Option<String>,
}

pub struct CertCard {
    pub subject: String,
    pub fingerprint: String,
    pub not_after: String,
    pub expires_soon: bool,
}

pub struct IdpCard {
    pub entity_id: String,
    pub sso_url: String,
    pub binding: &'static str,
    pub source_label: &'static str,
    pub metadata_url: Option<String>,
    pub certificates: Vec<CertCard>,
}

pub struct MappingView {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub groups: String,
}

pub struct ConnectionCard {
    pub id: String,
    pub provider_name: &'static str,
    pub state: &'static str,
    pub state_label: &'static str,
    pub acs_url: String,
    pub entity_id: String,
    pub metadata_url: String,
    pub attributes: Attributes,
    pub guide: String,
    pub idp: Option<IdpCard>,
    pub form: IdpForm,
    pub allow_subdomains: bool,
    pub allow_idp_initiated: bool,
    pub sign_requests: bool,
    pub encrypt_assertions: bool,
    /// Gatehouse's certificate, once signing or encryption is on.
    pub sp_certificate: Option<CertCard>,
    pub mapping: MappingView,
    pub can_change_provider: bool,
}

#[derive(Template)]
#[template(path = "security/connection.html")]
struct ConnectionStep {
    csrf_token: String,
    notice: Option<Notice>,
    featured: Vec<PickerEntry>,
    others: Vec<PickerEntry>,
    oidc_providers: Vec<PickerEntry>,
    card: Option<ConnectionCard>,
    oidc: Option<OidcCard>,
    configured: bool,
    brand: super::branding::Brand,
}

/// The connection the tab works on: the active one, else the newest.
pub async fn current_connection(
    services: &Services,
    org_id: &str,
) -> Result<Option<Connection>, PageError> {
    let mut all = services.list_connections(org_id).await?;
    Ok(match all.iter().position(|c| c.state() == State::Active) {
        Some(i) => Some(all.swap_remove(i)),
        None => all.pop(),
    })
}

fn card(
    services: &Services,
    ctx: &AdminContext,
    c: &Connection,
    form: IdpForm,
) -> Result<ConnectionCard, PageError> {
    let urls = crate::saml::sp::urls(&services.config.public_origin(), &c.id);
    let entry = catalogue::entry(c.provider).ok_or_else(PageError::not_found)?;
    let config = saml_config(c);
    let now = services.clock.now();
    let guide = guides::render(
        c.provider,
        &guides::Vars {
            acs_url: &urls.acs_url,
            entity_id: &urls.entity_id,
            metadata_url: &urls.metadata_url,
            org_name: &ctx.org.name,
            app_name: &format!("{} single sign-on", ctx.org.name),
            attributes: entry.attributes,
        },
    )?;
    Ok(ConnectionCard {
        id: c.id.clone(),
        provider_name: c.provider.display_name(),
        state: c.state().as_str(),
        state_label: c.state().label(),
        acs_url: urls.acs_url,
        entity_id: urls.entity_id,
        metadata_url: urls.metadata_url,
        attributes: entry.attributes,
        guide,
        idp: config.idp.as_ref().map(|idp| IdpCard {
            entity_id: idp.entity_id.clone(),
            sso_url: idp.sso_url.clone(),
            binding: match idp.binding {
                Binding::Redirect => "HTTP-Redirect",
                Binding::Post => "HTTP-POST",
            },
            source_label: match config.source {
                Some(Source::MetadataUrl) => "from the metadata URL",
                Some(Source::MetadataXml) => "from the metadata XML",
                Some(Source::Manual) | None => "entered by hand",
            },
            metadata_url: config.metadata_url.clone(),
            certificates: idp
                .certificates
                .iter()
                .map(|cert| CertCard {
                    subject: cert.subject.clone(),
                    fingerprint: cert.fingerprint_display(),
                    not_after: cert.not_after.format("%Y-%m-%d").to_string(),
                    expires_soon: cert.expires_soon(now),
                })
                .collect(),
        }),
        form,
        allow_subdomains: c.allow_subdomains,
        allow_idp_initiated: c.allow_idp_initiated,
        sign_requests: config.sign_requests,
        encrypt_assertions: config.encrypt_assertions,
        sp_certificate: config.sp_key.as_ref().map(|k| CertCard {
            subject: k.certificate.subject.clone(),
            fingerprint: k.certificate.fingerprint_display(),
            not_after: k.certificate.not_after.format("%Y-%m-%d").to_string(),
            expires_soon: k.certificate.expires_soon(now),
        }),
        mapping: MappingView {
            email: config.attribute_mapping.email.clone().unwrap_or_default(),
            first_name: config
                .attribute_mapping
                .first_name
                .clone()
                .unwrap_or_default(),
            last_name: config
                .attribute_mapping
                .last_name
                .clone()
                .unwrap_or_default(),
            groups: config.attribute_mapping.groups.clone().unwrap_or_default(),
        },
        can_change_provider: c.state() != State::Active,
    })
}

fn picker(featured: bool) -> Vec<PickerEntry> {
    catalogue::SAML
        .iter()
        .filter(|e| e.featured == featured)
        .map(|e| PickerEntry {
            slug: e.provider.as_str(),
            name: e.provider.display_name(),
            blurb: e.blurb,
        })
        .collect()
}

/// Renders the step with this notice, form state and status.
pub async fn page(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Option<Notice>,
    form: IdpForm,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    page_with_oidc(req, services, ctx, notice, form, None, status).await
}

/// `page`, with what was typed in the OIDC form.
pub async fn page_with_oidc(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Option<Notice>,
    form: IdpForm,
    oidc_form: Option<OidcForm>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let current = current_connection(services, &ctx.org.id).await?;
    let configured = current.as_ref().is_some_and(is_configured);
    let saml = current.as_ref().filter(|c| c.protocol() == Protocol::Saml);
    let oidc = current.as_ref().filter(|c| c.protocol() == Protocol::Oidc);
    let content = ConnectionStep {
        csrf_token: ctx.csrf_token.clone(),
        notice,
        featured: picker(true),
        others: picker(false),
        oidc_providers: oidc_catalogue::OIDC
            .iter()
            .map(|e| PickerEntry {
                slug: e.provider.as_str(),
                name: e.provider.display_name(),
                blurb: e.blurb,
            })
            .collect(),
        card: saml.map(|c| card(services, ctx, c, form)).transpose()?,
        oidc: oidc
            .map(|c| oidc_step::card(services, ctx, c, oidc_form.unwrap_or_default()))
            .transpose()?,
        configured,
        brand: super::branding::Brand::current(),
    }
    .render()?;
    render_tab(
        req,
        services,
        ctx,
        Some(Step::Connection),
        "Connection",
        content,
        status,
    )
    .await
}

pub(super) async fn after_change(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Notice,
) -> Result<HttpResponse, PageError> {
    if renders_in_place(req, ctx) {
        return page(
            req,
            services,
            ctx,
            Some(notice),
            IdpForm::default(),
            StatusCode::OK,
        )
        .await;
    }
    Ok(see_other("/security/connection"))
}

/// A connection of this session's organization; another's is "not found".
pub(super) async fn org_connection(
    services: &Services,
    ctx: &AdminContext,
    id: &str,
) -> Result<Connection, PageError> {
    services
        .get_organization_connection(&ctx.org.id, id)
        .await
        .map_err(|e| PageError::from(e).with_frame_origin(ctx.frame_origin()))
}

#[derive(serde::Deserialize)]
pub struct ChooseFields {
    provider: Option<String>,
}

/// `POST /security/connection`: choose a provider.
pub async fn choose(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<ChooseFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    if let Some(existing) = current_connection(&services, &ctx.org.id).await? {
        let notice = Notice::info(format!(
            "This organization already has a {} connection; remove it first to choose another provider.",
            existing.provider.display_name()
        ));
        return page(
            &req,
            &services,
            &ctx,
            Some(notice),
            IdpForm::default(),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let provider = form.data.provider.unwrap_or_default();
    let chosen = Provider::parse(&provider)
        .filter(|p| catalogue::entry(*p).is_some() || oidc_catalogue::entry(*p).is_some());
    let Some(chosen) = chosen else {
        let notice = Notice::error("Choose one of the identity providers listed.".into());
        return page(
            &req,
            &services,
            &ctx,
            Some(notice),
            IdpForm::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let input = NewConnection {
        provider: chosen.as_str().into(),
        ..NewConnection::default()
    };
    match services
        .create_connection(&change_context(&ctx), &ctx.org.id, input)
        .await
    {
        Ok(c) => {
            after_change(
                &req,
                &services,
                &ctx,
                Notice::success(format!(
                    "{} chosen. Follow the steps below.",
                    c.provider.display_name()
                )),
            )
            .await
        }
        Err(e) => {
            let notice = Notice::error(user_message(e)?);
            page(
                &req,
                &services,
                &ctx,
                Some(notice),
                IdpForm::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct IdpFields {
    method: Option<String>,
    metadata_url: Option<String>,
    metadata_xml: Option<String>,
    sso_url: Option<String>,
    entity_id: Option<String>,
    certificate_pem: Option<String>,
}

/// `POST /security/connection/{id}/idp`: the provider's side, one of three
/// ways. A failure shows the error, keeps what was typed, and keeps the
/// last good settings.
pub async fn save_idp(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<String>,
    form: AdminForm<IdpFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let c = org_connection(&services, &ctx, &id).await?;
    let f = form.data;
    let keep = |v: &Option<String>| {
        v.clone()
            .unwrap_or_default()
            .chars()
            .take(1024 * 1024)
            .collect::<String>()
    };
    let mut typed = IdpForm {
        metadata_url: keep(&f.metadata_url),
        metadata_xml: keep(&f.metadata_xml),
        sso_url: keep(&f.sso_url),
        entity_id: keep(&f.entity_id),
        certificate_pem: keep(&f.certificate_pem),
        error: None,
    };
    let input = match f.method.as_deref() {
        Some("url") => SamlInput {
            metadata_url: f.metadata_url,
            ..SamlInput::default()
        },
        Some("xml") => SamlInput {
            metadata_xml: f.metadata_xml,
            ..SamlInput::default()
        },
        _ => SamlInput {
            sso_url: f.sso_url,
            entity_id: f.entity_id,
            certificate_pem: f.certificate_pem,
            ..SamlInput::default()
        },
    };
    if input.is_empty() {
        typed.error = Some(
            "Give your identity provider's metadata URL, its metadata XML, or the three fields."
                .into(),
        );
        return page(
            &req,
            &services,
            &ctx,
            None,
            typed,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let patch = ConnectionPatch {
        saml: Some(input),
        ..ConnectionPatch::default()
    };
    match services.update_connection(&change_context(&ctx), &c.id, patch).await {
        Ok(_) => after_change(&req, &services, &ctx, Notice::success("Your identity provider's details are saved. Check what Gatehouse understood below, then run a test.".into())).await,
        Err(e) => {
            typed.error = Some(user_message(e)?);
            page(&req, &services, &ctx, None, typed, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct OptionFields {
    allow_subdomains: Option<String>,
    allow_idp_initiated: Option<String>,
    sign_requests: Option<String>,
    encrypt_assertions: Option<String>,
}

/// `POST /security/connection/{id}/options`
pub async fn save_options(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<String>,
    form: AdminForm<OptionFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let c = org_connection(&services, &ctx, &id).await?;
    let patch = match c.protocol() {
        Protocol::Saml => ConnectionPatch {
            allow_subdomains: Some(form.data.allow_subdomains.is_some()),
            allow_idp_initiated: Some(form.data.allow_idp_initiated.is_some()),
            sp_options: SpOptions {
                sign_requests: Some(form.data.sign_requests.is_some()),
                encrypt_assertions: Some(form.data.encrypt_assertions.is_some()),
            },
            ..ConnectionPatch::default()
        },
        Protocol::Oidc => ConnectionPatch {
            allow_subdomains: Some(form.data.allow_subdomains.is_some()),
            ..ConnectionPatch::default()
        },
    };
    let notice = match services
        .update_connection(&change_context(&ctx), &c.id, patch)
        .await
    {
        Ok(_) => Notice::success("Options saved.".into()),
        Err(e) => Notice::error(user_message(e)?),
    };
    after_change(&req, &services, &ctx, notice).await
}

#[derive(serde::Deserialize)]
pub struct MappingFields {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    groups: Option<String>,
}

/// `POST /security/connection/{id}/mapping`
pub async fn save_mapping(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<String>,
    form: AdminForm<MappingFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let c = org_connection(&services, &ctx, &id).await?;
    let f = form.data;
    let patch = ConnectionPatch {
        attribute_mapping: Some(AttributeMapping {
            email: f.email,
            first_name: f.first_name,
            last_name: f.last_name,
            groups: f.groups,
        }),
        ..ConnectionPatch::default()
    };
    let notice = match services
        .update_connection(&change_context(&ctx), &c.id, patch)
        .await
    {
        Ok(_) => Notice::success("Attribute names saved.".into()),
        Err(e) => Notice::error(user_message(e)?),
    };
    after_change(&req, &services, &ctx, notice).await
}

#[derive(serde::Deserialize)]
pub struct NoFields {}

/// `POST /security/connection/{id}/delete`: start over with another
/// provider. An active connection cannot be removed from the tab.
pub async fn delete(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<String>,
    form: AdminForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let c = org_connection(&services, &ctx, &id).await?;
    let notice = if c.state() == State::Active {
        Notice::error("Deactivate the connection before choosing another provider, so nobody loses their way in.".into())
    } else {
        services
            .delete_connection(&change_context(&ctx), &c.id)
            .await?;
        Notice::success(format!(
            "The {} connection was removed. Choose your identity provider.",
            c.provider.display_name()
        ))
    };
    after_change(&req, &services, &ctx, notice).await
}
