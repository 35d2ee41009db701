//! The Security tab: its pages, the links that open it, and signing out.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::error::{PageError, frame_ancestors};
use super::middleware::current_request_id;
use super::session::{self, AdminContext, AdminForm};
use super::views::{self, DisabledPage, Layout, Overview, SecurityFragment, SecurityPage};
use crate::domain::access::LinkKind;
use crate::domain::audit::{Actor, ChangeContext};
use crate::domain::domains::Status as DomainStatus;
use crate::domain::wizard::{self, Facts, Step};
use crate::services::Services;
use crate::services::access::{LinkError, OpenedSession};

/// A message shown above a step's content after an action.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: &'static str,
    pub text: String,
}

impl Notice {
    pub fn success(text: String) -> Self {
        Self {
            kind: "success",
            text,
        }
    }
    pub fn info(text: String) -> Self {
        Self { kind: "info", text }
    }
    pub fn error(text: String) -> Self {
        Self {
            kind: "error",
            text,
        }
    }
}

/// A refusal the admin can act on, shown in the page; anything else
/// becomes an error page.
pub fn user_message(e: crate::services::ServiceError) -> Result<String, PageError> {
    use crate::services::ServiceError;
    match e {
        ServiceError::Refused { message, .. } | ServiceError::Conflict { message, .. } => {
            Ok(message)
        }
        ServiceError::Invalid(v) => Ok(v.message),
        other => Err(other.into()),
    }
}

/// The audit context of changes made in the tab.
pub(super) fn change_context(ctx: &AdminContext) -> ChangeContext {
    ChangeContext::new(
        Actor::Admin {
            session_id: ctx.session.id.clone(),
            organization_id: ctx.org.id.clone(),
        },
        Some(current_request_id()),
    )
}

/// Whether an action answers with the page itself rather than a redirect:
/// htmx wants the fragment, and an embedded tab may have no cookie to
/// follow a redirect with (its session travels in the page).
pub(super) fn renders_in_place(req: &HttpRequest, ctx: &AdminContext) -> bool {
    wants_fragment(req) || ctx.is_embed()
}

/// Post/redirect/get for top-level pages.
pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Whether htmx asked for a fragment rather than a whole page.
pub(super) fn wants_fragment(req: &HttpRequest) -> bool {
    let has = |name: &str| req.headers().get(name).is_some_and(|v| v == "true");
    has("hx-request") && !has("hx-boosted") && !has("hx-history-restore-request")
}

fn page_layout(ctx: &AdminContext, title: String) -> Layout {
    let mut layout = Layout::new(title);
    layout.csrf = Some(ctx.csrf_token.clone());
    layout.embedded = ctx.is_embed();
    if ctx.is_embed() {
        layout.embed_session = Some(ctx.token.clone());
        layout.parent_origin = ctx.frame_origin();
    }
    layout.boost = true;
    layout
}

/// An HTML response for this session: framable by the embed's parent only.
fn html(ctx: &AdminContext, status: StatusCode, body: String) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    if let Some(csp) = ctx.frame_origin().as_deref().and_then(frame_ancestors) {
        res.insert_header((header::CONTENT_SECURITY_POLICY, csp));
    }
    res.body(body)
}

pub(super) fn disabled(ctx: &AdminContext) -> Result<HttpResponse, PageError> {
    let mut layout = page_layout(ctx, "Single sign-on · Security".to_string());
    layout.boost = false;
    let page = DisabledPage {
        layout,
        org_name: ctx.org.name.clone(),
        request_id: current_request_id(),
    };
    let mut res = html(ctx, StatusCode::FORBIDDEN, page.render()?);
    res.headers_mut().insert(
        header::HeaderName::from_static(super::error::ERROR_CODE_HEADER),
        header::HeaderValue::from_static("self_serve_disabled"),
    );
    Ok(res)
}

/// What the organization has done so far.
pub(super) async fn facts(services: &Services, ctx: &AdminContext) -> Result<Facts, PageError> {
    let domains = services.list_domains(&ctx.org.id).await?;
    let count = |status| domains.iter().filter(|d| d.status == status).count();
    let connection = super::connection_step::current_connection(services, &ctx.org.id).await?;
    let state = connection.as_ref().map(|c| c.state());
    Ok(Facts {
        verified_domains: count(DomainStatus::Verified),
        pending_domains: count(DomainStatus::Pending) + count(DomainStatus::Failed),
        has_connection: connection.is_some(),
        connection_configured: connection
            .as_ref()
            .is_some_and(crate::services::connections::is_configured),
        test_passed: connection
            .as_ref()
            .is_some_and(|c| c.lifecycle.tested_version == Some(c.lifecycle.config_version)),
        active: state == Some(crate::domain::connections::State::Active),
    })
}

/// Renders a tab page, or its fragment for htmx, with this status.
pub(super) async fn render_tab(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    current: Option<Step>,
    title: &str,
    content: String,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    if !ctx.org.self_serve_sso {
        return disabled(ctx);
    }
    let steps = views::step_views(&facts(services, ctx).await?, current);
    let body = if wants_fragment(req) {
        SecurityFragment {
            steps,
            oob: true,
            content,
        }
        .render()?
    } else {
        SecurityPage {
            layout: page_layout(ctx, format!("{title} · Single sign-on · {}", ctx.org.name)),
            org_name: ctx.org.name.clone(),
            return_url: ctx.session.return_url.clone(),
            steps,
            oob: false,
            current_step: current.map_or("overview", Step::slug),
            csrf_token: ctx.csrf_token.clone(),
            content,
        }
        .render()?
    };
    Ok(html(ctx, status, body))
}

async fn overview_page(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
) -> Result<HttpResponse, PageError> {
    let facts = facts(services, ctx).await?;
    let next = wizard::next_step(&facts);
    let started = facts != Facts::default();
    let content = Overview {
        org_name: ctx.org.name.clone(),
        product_name: super::branding::Brand::current().product_name,
        steps: views::step_views(&facts, None),
        next_href: views::step_href(next),
        next_label: if started {
            format!("Continue with {}", next.label().to_lowercase())
        } else {
            "Start with your domains".to_string()
        },
    }
    .render()?;
    render_tab(
        req,
        services,
        ctx,
        None,
        "Overview",
        content,
        StatusCode::OK,
    )
    .await
}

/// `GET /security`
pub async fn overview(
    req: HttpRequest,
    services: web::Data<Services>,
    ctx: AdminContext,
) -> Result<HttpResponse, PageError> {
    overview_page(&req, &services, &ctx).await
}

/// `GET /security/{step}`
pub async fn step(
    req: HttpRequest,
    services: web::Data<Services>,
    ctx: AdminContext,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let step = Step::from_slug(&path)
        .ok_or_else(|| PageError::not_found().with_frame_origin(ctx.frame_origin()))?;
    match step {
        Step::Domains => super::domains_step::page(&req, &services, &ctx, None).await,
        Step::Connection => {
            super::connection_step::page(
                &req,
                &services,
                &ctx,
                None,
                super::connection_step::IdpForm::default(),
                StatusCode::OK,
            )
            .await
        }
        Step::Test => super::test_step::page(&req, &services, &ctx).await,
        Step::Activate => {
            super::activate_step::page(&req, &services, &ctx, None, StatusCode::OK).await
        }
    }
}

fn link_error(kind: LinkKind, error: LinkError, parent_origin: Option<String>) -> PageError {
    let status = match error {
        LinkError::Used | LinkError::Expired => StatusCode::GONE,
        LinkError::Unknown => StatusCode::NOT_FOUND,
    };
    PageError::new(status, error.code(kind)).with_frame_origin(parent_origin)
}

fn max_age(services: &Services) -> i64 {
    i64::try_from(services.config.admin_session_ttl.as_secs()).unwrap_or(8 * 3600)
}

/// `GET /security/portal/{token}`: opens a setup link into a session and
/// lands on the tab.
pub async fn open_portal_link(
    services: web::Data<Services>,
    token: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let opened = services
        .open_link(LinkKind::Portal, &token, Some(current_request_id()))
        .await?
        .map_err(|r| link_error(LinkKind::Portal, r.error, r.parent_origin))?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/security"))
        .insert_header((
            header::SET_COOKIE,
            session::session_cookie(
                opened.session.mode,
                &opened.token,
                max_age(&services),
                services.config.public_url_is_https(),
            ),
        ))
        .finish())
}

/// `GET /security/embed/{token}`: opens an embed token and renders the tab
/// right away, inside the frame of the origin the token was minted for. The
/// page carries the session itself, so no cookie is needed after this.
pub async fn open_embed_token(
    req: HttpRequest,
    services: web::Data<Services>,
    token: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let OpenedSession { session, token } = services
        .open_link(LinkKind::Embed, &token, Some(current_request_id()))
        .await?
        .map_err(|r| link_error(LinkKind::Embed, r.error, r.parent_origin))?;
    let org = services.get_organization(&session.organization_id).await?;
    let cookie = session::session_cookie(
        session.mode,
        &token,
        max_age(&services),
        services.config.public_url_is_https(),
    );
    let ctx = AdminContext::new(&services, session, org, token);
    let mut res = overview_page(&req, &services, &ctx).await?;
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Template)]
#[template(path = "security/signed_out.html")]
struct SignedOut {
    layout: Layout,
    return_url: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct NoFields {}

/// `POST /security/sign-out`
pub async fn sign_out(
    services: web::Data<Services>,
    form: AdminForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx;
    services
        .end_session(&ctx.session, Some(current_request_id()))
        .await?;
    let page = SignedOut {
        layout: Layout::new("Signed out · Security"),
        return_url: ctx.session.return_url.clone(),
    };
    let mut res = html(&ctx, StatusCode::OK, page.render()?);
    if let Ok(v) = header::HeaderValue::from_str(&session::clear_cookie(
        ctx.session.mode,
        services.config.public_url_is_https(),
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}
