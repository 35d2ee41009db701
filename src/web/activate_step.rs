//! Step 4 of the Security tab: turning single sign-on on (only with a
//! passing test of the current settings) and off, one click each.
//!
//! The page that answers a successful action carries a marker,
//! `data-gatehouse-event="gatehouse:connection-activated"` (or
//! `…-deactivated`) with the connection's id and provider, that
//! `static/app.js` posts to the embedding host page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::connection_step::current_connection;
use super::error::PageError;
use super::security_tab::{
    Notice, change_context, render_tab, renders_in_place, see_other, user_message,
};
use super::session::{AdminContext, AdminForm};
use crate::domain::connections::State;
use crate::domain::domains::{Purpose, Status};
use crate::domain::wizard::Step;
use crate::services::Services;
use crate::services::connections::is_configured;

#[derive(Template)]
#[template(path = "security/activate.html")]
struct ActivateStep {
    csrf_token: String,
    notice: Option<Notice>,
    connection_name: Option<&'static str>,
    active: bool,
    /// Tested settings waiting to replace the live ones.
    pending_version: Option<i64>,
    can_activate: bool,
    /// Why activation is not possible yet, in words.
    blocked: Option<&'static str>,
    domains: Vec<String>,
    activated_at: Option<String>,
    event: Option<ChangeEvent>,
}

/// What a successful activation or deactivation tells the host page.
struct ChangeEvent {
    name: &'static str,
    connection_id: String,
    provider: &'static str,
}

pub const ACTIVATED_EVENT: &str = "gatehouse:connection-activated";
pub const DEACTIVATED_EVENT: &str = "gatehouse:connection-deactivated";

/// `GET /security/activate`, or after an action.
pub async fn page(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    render(req, services, ctx, notice, None, status).await
}

async fn render(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Option<Notice>,
    event: Option<ChangeEvent>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let connection = current_connection(services, &ctx.org.id).await?;
    let domains: Vec<String> = services
        .list_domains(&ctx.org.id)
        .await?
        .into_iter()
        .filter(|d| d.status == Status::Verified && d.purpose == Purpose::Sso)
        .map(|d| d.domain)
        .collect();
    let (active, tested_current) = connection.as_ref().map_or((false, false), |c| {
        (
            c.state() == State::Active,
            c.lifecycle.tested_version == Some(c.lifecycle.config_version),
        )
    });
    let blocked = match &connection {
        None => Some("Choose and set up your identity provider in the connection step first."),
        Some(c) if !is_configured(c) => Some(
            "Finish the connection step first: the identity provider's details are not complete.",
        ),
        Some(_) if domains.is_empty() => Some(
            "Verify at least one domain used for single sign-on first: without one, nobody could sign in through this connection.",
        ),
        Some(_) if !tested_current => Some(
            "Run a passing test sign-in on the current settings first (step 3). The settings changed since the last passing test, or no test has passed yet.",
        ),
        _ => None,
    };
    let pending_version = connection
        .as_ref()
        .filter(|c| c.lifecycle.has_unreleased_changes() && tested_current)
        .map(|c| c.lifecycle.config_version);
    let content = ActivateStep {
        csrf_token: ctx.csrf_token.clone(),
        notice,
        connection_name: connection.as_ref().map(|c| c.provider.display_name()),
        active,
        pending_version,
        can_activate: blocked.is_none() && (!active || pending_version.is_some()),
        blocked,
        domains,
        activated_at: connection
            .as_ref()
            .and_then(|c| c.activated_at)
            .map(super::views::when),
        event,
    }
    .render()?;
    render_tab(
        req,
        services,
        ctx,
        Some(Step::Activate),
        Step::Activate.label(),
        content,
        status,
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct NoFields {}

async fn act(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<NoFields>,
    activate: bool,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let Some(connection) = current_connection(&services, &ctx.org.id).await? else {
        return page(
            &req,
            &services,
            &ctx,
            Some(Notice::error("There is no connection to change.".into())),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let done = if activate {
        services
            .activate_connection(&change_context(&ctx), &connection.id, false)
            .await
    } else {
        services
            .deactivate_connection(&change_context(&ctx), &connection.id)
            .await
    };
    let event = |name, c: &crate::domain::connections::Connection| ChangeEvent {
        name,
        connection_id: c.id.clone(),
        provider: c.provider.as_str(),
    };
    let refused_code = done.as_ref().err().map(|e| e.code());
    let (notice, event, status) = match done {
        Ok(c) if activate => (
            Notice::success(format!(
                "Single sign-on through {} is on. People at your verified domains now sign in through it.",
                c.provider.display_name()
            )),
            Some(event(ACTIVATED_EVENT, &c)),
            StatusCode::OK,
        ),
        Ok(c) => (
            Notice::success(
                "Single sign-on is off. People sign in the way they did before.".into(),
            ),
            Some(event(DEACTIVATED_EVENT, &c)),
            StatusCode::OK,
        ),
        Err(e) => (
            Notice::error(user_message(e)?),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    // A top-level page follows the redirect; it has no host page to tell.
    if status == StatusCode::OK && !renders_in_place(&req, &ctx) {
        return Ok(see_other("/security/activate"));
    }
    let mut res = render(&req, &services, &ctx, Some(notice), event, status).await?;
    // The same code the host API would answer, as error pages carry it.
    if let Some(code) = refused_code
        && let Ok(value) = header::HeaderValue::from_str(&code)
    {
        res.headers_mut().insert(
            header::HeaderName::from_static("gatehouse-error-code"),
            value,
        );
    }
    Ok(res)
}

/// `POST /security/activate`
pub async fn activate(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    act(req, services, form, true).await
}

/// `POST /security/deactivate`
pub async fn deactivate(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    act(req, services, form, false).await
}
