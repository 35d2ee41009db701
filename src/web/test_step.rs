//! Step 3 of the Security tab: a real test sign-in through the identity
//! provider, in a popup (top level: identity providers refuse to be framed,
//! and it works the same from the embedded tab), its result, and a short
//! history of tests.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::Value;

use super::connection_step::current_connection;
use super::error::PageError;
use super::middleware::current_request_id;
use super::security_tab::{
    Notice, change_context, render_tab, renders_in_place, see_other, user_message,
};
use super::session::{AdminContext, AdminForm};
use super::views::when_exact;
use crate::domain::connections::{Connection, Protocol};
use crate::domain::sign_in::SignInError;
use crate::domain::wizard::Step;
use crate::error_codes;
use crate::services::Services;
use crate::services::connections::{ConnectionPatch, is_configured, saml_config};
use crate::services::saml_signin::SignInStart;
use crate::services::test_sign_in::{FlowOrigin, TestIdentity};
use crate::store::connection_tests::ConnectionTest;

/// A failure as the admin sees it: the catalogue's words and the details.
pub struct FailureView {
    pub code: String,
    pub title: String,
    pub cause: String,
    pub fix: String,
    pub detail: String,
    pub expected: Option<String>,
    pub received: Option<String>,
}

impl FailureView {
    fn new(code: &str, detail: &str, expected: Option<String>, received: Option<String>) -> Self {
        let entry = error_codes::lookup(code);
        Self {
            code: code.to_string(),
            title: entry.map_or("The test failed", |e| e.title).to_string(),
            cause: entry.map_or("", |e| e.cause).to_string(),
            fix: entry.map_or("", |e| e.fix).to_string(),
            detail: detail.to_string(),
            expected,
            received,
        }
    }

    fn from_error(e: &SignInError) -> Self {
        Self::new(e.code, &e.detail, e.expected.clone(), e.received.clone())
    }
}

/// One test of the history.
pub struct TestRow {
    pub when: String,
    pub passed: bool,
    pub summary: String,
    /// Whether it ran on the current settings.
    pub current: bool,
    pub version: i64,
}

/// The newest test, in full.
pub struct LatestView {
    pub passed: bool,
    pub when: String,
    pub identity: Option<TestIdentity>,
    pub failure: Option<FailureView>,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "security/test.html")]
struct TestStep {
    csrf_token: String,
    notice: Option<Notice>,
    /// SAML connections can take their email from any attribute the last
    /// test received.
    pick_email: bool,
    email_attribute: Option<String>,
    connection_name: Option<&'static str>,
    configured: bool,
    start_href: String,
    config_version: i64,
    live_version: Option<i64>,
    tested: bool,
    latest: Option<LatestView>,
    latest_id: String,
    history: Vec<TestRow>,
}

fn latest_view(t: &ConnectionTest, current_version: i64) -> LatestView {
    let result: Value = serde_json::from_str(&t.result).unwrap_or_default();
    let text = |k: &str| result.get(k).and_then(Value::as_str).map(str::to_string);
    LatestView {
        passed: t.outcome == "passed",
        when: when_exact(t.created_at),
        identity: (t.outcome == "passed")
            .then(|| serde_json::from_value(result.clone()).ok())
            .flatten(),
        failure: t.error_code.as_deref().map(|code| {
            FailureView::new(
                code,
                &text("detail").unwrap_or_default(),
                text("expected"),
                text("received"),
            )
        }),
        current: t.config_version == current_version,
    }
}

/// `GET /security/test`
pub async fn page(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
) -> Result<HttpResponse, PageError> {
    page_with(req, services, ctx, None).await
}

async fn page_with(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let connection = current_connection(services, &ctx.org.id).await?;
    let tests = match &connection {
        Some(c) => services.list_tests(&c.id).await?,
        None => Vec::new(),
    };
    let version = connection
        .as_ref()
        .map_or(0, |c| c.lifecycle.config_version);
    let saml = connection
        .as_ref()
        .filter(|c| c.protocol() == Protocol::Saml);
    let content = TestStep {
        csrf_token: ctx.csrf_token.clone(),
        notice,
        pick_email: saml.is_some(),
        email_attribute: saml.and_then(|c| saml_config(c).attribute_mapping.email),
        connection_name: connection.as_ref().map(|c| c.provider.display_name()),
        configured: connection.as_ref().is_some_and(is_configured),
        start_href: connection.as_ref().map_or(String::new(), |c| {
            format!(
                "/security/test/start?ticket={}",
                services.test_ticket(&ctx.session.id, &c.id)
            )
        }),
        config_version: version,
        live_version: connection.as_ref().and_then(|c| c.lifecycle.live_version),
        tested: connection
            .as_ref()
            .is_some_and(|c| c.lifecycle.tested_version == Some(version)),
        latest: tests.first().map(|t| latest_view(t, version)),
        latest_id: tests.first().map(|t| t.id.clone()).unwrap_or_default(),
        history: tests
            .iter()
            .map(|t| TestRow {
                when: when_exact(t.created_at),
                passed: t.outcome == "passed",
                summary: match t.error_code.as_deref() {
                    Some(code) => format!(
                        "{} ({code})",
                        error_codes::lookup(code).map_or("Failed", |e| e.title)
                    ),
                    None => serde_json::from_str::<TestIdentity>(&t.result)
                        .map(|i| format!("Signed in as {}", i.email))
                        .unwrap_or_else(|_| "Passed".into()),
                },
                current: t.config_version == version,
                version: t.config_version,
            })
            .collect(),
    }
    .render()?;
    render_tab(
        req,
        services,
        ctx,
        Some(Step::Test),
        Step::Test.label(),
        content,
        StatusCode::OK,
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct EmailAttributeFields {
    attribute: Option<String>,
}

/// `POST /security/test/email-attribute`: take the email from this
/// attribute of what the last test received (Entra's UPN instead of mail,
/// or the other way round). A settings change: test again afterwards.
pub async fn use_email_attribute(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<EmailAttributeFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let Some(connection) = current_connection(&services, &ctx.org.id)
        .await?
        .filter(|c| c.protocol() == Protocol::Saml)
    else {
        return Err(PageError::not_found().with_frame_origin(ctx.frame_origin()));
    };
    let mut mapping = saml_config(&connection).attribute_mapping;
    mapping.email = form.data.attribute.filter(|a| !a.trim().is_empty());
    let patch = ConnectionPatch {
        attribute_mapping: Some(mapping),
        ..ConnectionPatch::default()
    };
    let notice = match services
        .update_connection(&change_context(&ctx), &connection.id, patch)
        .await
    {
        Ok(_) => Notice::success(
            "Saved. Gatehouse now reads the email from that attribute: run the test again so it counts for these settings.".into(),
        ),
        Err(e) => Notice::error(user_message(e)?),
    };
    if renders_in_place(&req, &ctx) {
        return page_with(&req, &services, &ctx, Some(notice)).await;
    }
    Ok(see_other("/security/test"))
}

/// `GET /security/test/latest`: the newest test's id, for the tab to notice
/// a result when the popup cannot tell it (identity providers that cut the
/// popup's link to its opener).
pub async fn latest(
    services: web::Data<Services>,
    ctx: AdminContext,
) -> Result<HttpResponse, PageError> {
    let connection = current_connection(&services, &ctx.org.id).await?;
    let id = match connection {
        Some(c) => services
            .list_tests(&c.id)
            .await?
            .first()
            .map(|t| t.id.clone()),
        None => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "id": id })))
}

#[derive(serde::Deserialize)]
pub struct StartQuery {
    ticket: Option<String>,
}

#[derive(Template)]
#[template(path = "saml_post.html")]
struct SamlPost<'a> {
    layout: super::views::Layout,
    url: &'a str,
    saml_request: &'a str,
    relay_state: &'a str,
}

/// The page that carries an AuthnRequest by the HTTP-POST binding: a form
/// the browser submits to the identity provider (by script, or a button).
pub fn post_binding_page(
    url: &str,
    saml_request: &str,
    relay_state: &str,
) -> Result<HttpResponse, PageError> {
    let page = SamlPost {
        layout: super::views::Layout::new("Signing in · Gatehouse"),
        url,
        saml_request,
        relay_state,
    };
    let target = url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    // This page alone may post to the identity provider (and wherever it
    // redirects the post: https only).
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         form-action {target} https:; base-uri 'none'; frame-ancestors 'none'"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(page.render()?))
}

/// `GET /security/test/start?ticket=…`: the popup's first stop, straight on
/// to the identity provider.
pub async fn start(
    services: web::Data<Services>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    let ticket = query.ticket.as_deref().unwrap_or_default();
    match services.start_test_sign_in(ticket).await? {
        SignInStart::Redirect(url) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .finish()),
        SignInStart::Post {
            url,
            saml_request,
            relay_state,
        } => post_binding_page(&url, &saml_request, &relay_state),
    }
}

#[derive(Template)]
#[template(path = "test_result.html")]
struct TestResult<'a> {
    layout: super::views::Layout,
    provider: &'a str,
    passed: bool,
    counts: bool,
    organization: String,
    role: String,
    identity: Option<&'a TestIdentity>,
    failure: Option<FailureView>,
    request_id: String,
}

/// Records a finished test and answers the popup's result page.
pub async fn finish(
    services: &Services,
    connection: &Connection,
    origin: &FlowOrigin,
    outcome: Result<&TestIdentity, &SignInError>,
) -> Result<HttpResponse, PageError> {
    let request_id = current_request_id();
    let test = services
        .record_test(connection, origin, outcome, Some(request_id.clone()))
        .await?;
    let org = services
        .get_organization(&connection.organization_id)
        .await?;
    let role = outcome
        .ok()
        .and_then(|i| crate::domain::connections::mapped_role(&connection.role_mapping, &i.groups))
        .unwrap_or(&org.default_role)
        .to_string();
    let organization = org.name;
    let page = TestResult {
        layout: super::views::Layout::new(if outcome.is_ok() {
            "Test passed · Gatehouse"
        } else {
            "Test failed · Gatehouse"
        }),
        provider: connection.provider.display_name(),
        passed: outcome.is_ok(),
        counts: test.config_version == connection.lifecycle.config_version,
        organization,
        role,
        identity: outcome.ok(),
        failure: outcome.err().map(FailureView::from_error),
        request_id,
    };
    let status = if outcome.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    if let Err(e) = outcome {
        res.insert_header(("Gatehouse-Error-Code", e.code));
    }
    Ok(res.body(page.render()?))
}
