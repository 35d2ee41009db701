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
use super::role_rules::{AddRuleForm, ProvisioningView, RolePreview, RolesView};
use super::security_tab::{
    Notice, change_context, render_tab, renders_in_place, see_other, user_message,
};
use super::session::{AdminContext, AdminForm};
use super::views::when_exact;
use crate::domain::connections::{Connection, Protocol};
use crate::domain::sign_in::SignInError;
use crate::domain::wizard::Step;
use crate::error_codes;
use crate::oidc::config::ClaimMapping;
use crate::services::Services;
use crate::services::connections::{ConnectionPatch, is_configured, saml_config};
use crate::services::oidc_settings::oidc_config;
use crate::services::saml_signin::SignInStart;
use crate::services::test_sign_in::{FlowOrigin, TestIdentity, identity_of, received_of};
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

/// What a sign-in would come to with some settings: the address, or the
/// refusal.
pub struct PreviewView {
    pub email: Option<String>,
    pub code: String,
    pub title: String,
}

impl PreviewView {
    fn new(outcome: Result<String, SignInError>) -> Self {
        match outcome {
            Ok(email) => Self {
                email: Some(email),
                code: String::new(),
                title: String::new(),
            },
            Err(e) => Self {
                email: None,
                title: error_codes::lookup(e.code)
                    .map_or("Refused", |c| c.title)
                    .to_string(),
                code: e.code.to_string(),
            },
        }
    }

    /// In a sentence, after "would".
    fn sentence(&self) -> String {
        match &self.email {
            Some(email) => format!("sign in as {email}"),
            None => format!("be refused: {} ({})", self.title, self.code),
        }
    }
}

/// One attribute or claim a test received.
pub struct ReceivedRow {
    pub name: String,
    pub value: String,
    /// Address-shaped: it may supply the email.
    pub pickable: bool,
    /// The one the settings read the email from now.
    pub picked: bool,
    /// What the test's sign-in would give with this attribute or claim
    /// picked.
    pub preview: Option<PreviewView>,
}

/// Everything the newest test that got that far received, to pick the
/// email's attribute or claim from.
pub struct ReceivedView {
    pub when: String,
    /// Whether it is the latest test (else an older one's).
    pub from_latest: bool,
    pub rows: Vec<ReceivedRow>,
    /// What the current settings make of it.
    pub current: Option<PreviewView>,
}

/// The newest test, in full.
pub struct LatestView {
    pub passed: bool,
    pub when: String,
    pub identity: Option<TestIdentity>,
    pub failure: Option<FailureView>,
    pub current: bool,
    /// A pass: what a real sign-in of that person would do now.
    pub outcome: Option<ProvisioningView>,
}

#[derive(Template)]
#[template(path = "security/test.html")]
struct TestStep {
    csrf_token: String,
    notice: Option<Notice>,
    /// Connections can take their email from any attribute (SAML) or
    /// claim (OIDC) the last test received.
    pick_email: bool,
    /// "attribute" or "claim".
    pick_kind: &'static str,
    pick_action: &'static str,
    pick_field: &'static str,
    oidc: bool,
    /// The attribute or claim the settings pick; `None`: the usual ones.
    email_source: Option<String>,
    received: Option<ReceivedView>,
    connection_name: Option<&'static str>,
    configured: bool,
    start_href: String,
    config_version: i64,
    live_version: Option<i64>,
    tested: bool,
    latest: Option<LatestView>,
    latest_id: String,
    history: Vec<TestRow>,
    roles: Option<RolesView>,
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
        outcome: None,
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
    page_full(
        req,
        services,
        ctx,
        notice,
        AddRuleForm::default(),
        StatusCode::OK,
    )
    .await
}

/// The step with a notice, the role rule form as the admin left it, and
/// the status to answer with.
pub(super) async fn page_full(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Option<Notice>,
    add_rule: AddRuleForm,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let connection = current_connection(services, &ctx.org.id).await?;
    let tests = match &connection {
        Some(c) => services.list_tests(&c.id).await?,
        None => Vec::new(),
    };
    let version = connection
        .as_ref()
        .map_or(0, |c| c.lifecycle.config_version);
    let oidc = connection
        .as_ref()
        .is_some_and(|c| c.protocol() == Protocol::Oidc);
    let email_source = connection.as_ref().and_then(email_source);
    let received = match &connection {
        Some(c) => received_view(services, c, &tests, email_source.as_deref()).await?,
        None => None,
    };
    // The newest test that passed: who the previews are about.
    let passed = tests.iter().find_map(|t| identity_of(t).map(|i| (t, i)));
    let provisioning = match (&connection, &passed) {
        (Some(c), Some((_, identity))) => Some(services.preview_provisioning(c, identity).await?),
        _ => None,
    };
    let mut latest = tests.first().map(|t| latest_view(t, version));
    if let (Some(l), Some((t, _)), Some(p)) = (&mut latest, &passed, &provisioning)
        && tests.first().is_some_and(|first| first.id == t.id)
    {
        l.outcome = Some(ProvisioningView::new(p));
    }
    let roles = connection.as_ref().map(|c| {
        let preview = match (&passed, &provisioning) {
            (Some((t, identity)), Some(p)) => Some((
                RolePreview {
                    when: when_exact(t.created_at),
                    email: identity.email.clone(),
                    groups: identity.groups.clone(),
                    outcome: ProvisioningView::new(p),
                },
                p.rule.as_ref().map(|(i, _)| *i),
            )),
            _ => None,
        };
        let groups = passed
            .as_ref()
            .map(|(_, i)| i.groups.clone())
            .unwrap_or_default();
        RolesView::new(c, &ctx.org.default_role, groups, add_rule, preview)
    });
    let (pick_kind, pick_action, pick_field) = if oidc {
        ("claim", "/security/test/email-claim", "claim")
    } else {
        ("attribute", "/security/test/email-attribute", "attribute")
    };
    let content = TestStep {
        csrf_token: ctx.csrf_token.clone(),
        notice,
        pick_email: connection.is_some(),
        pick_kind,
        pick_action,
        pick_field,
        oidc,
        email_source,
        received,
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
        latest,
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
        roles,
    }
    .render()?;
    render_tab(
        req,
        services,
        ctx,
        Some(Step::Test),
        Step::Test.label(),
        content,
        status,
    )
    .await
}

/// The attribute or claim a connection's settings read the email from.
fn email_source(c: &Connection) -> Option<String> {
    match c.protocol() {
        Protocol::Saml => saml_config(c).attribute_mapping.email,
        Protocol::Oidc => oidc_config(c).claim_mapping.email,
    }
}

/// What the newest test that got that far received, with what each
/// address-shaped attribute or claim would give, and what the current
/// settings give.
async fn received_view(
    services: &Services,
    connection: &Connection,
    tests: &[ConnectionTest],
    email_source: Option<&str>,
) -> Result<Option<ReceivedView>, PageError> {
    let Some((at, test, received)) = tests
        .iter()
        .enumerate()
        .find_map(|(at, t)| received_of(t).map(|r| (at, t, r)))
    else {
        return Ok(None);
    };
    // A SAML test's NameID, which supplies the email when no attribute
    // does.
    let name_id = identity_of(test).map(|i| i.subject);
    let name_id = name_id.as_deref();
    let mut rows = Vec::with_capacity(received.len());
    for (name, value) in &received {
        let pickable = value.contains('@');
        let preview = if pickable {
            Some(email_preview(services, connection, &received, name_id, Some(name)).await?)
        } else {
            None
        };
        rows.push(ReceivedRow {
            picked: email_source == Some(name.as_str()),
            name: name.clone(),
            value: value.clone(),
            pickable,
            preview,
        });
    }
    let current =
        Some(email_preview(services, connection, &received, name_id, email_source).await?);
    Ok(Some(ReceivedView {
        when: when_exact(test.created_at),
        from_latest: at == 0,
        rows,
        current,
    }))
}

/// What the sign-in of a test's record would give with the email taken
/// from `picked` (`None`: the usual names), by the sign-in's own rules.
async fn email_preview(
    services: &Services,
    connection: &Connection,
    received: &[(String, String)],
    name_id: Option<&str>,
    picked: Option<&str>,
) -> Result<PreviewView, PageError> {
    let outcome = match connection.protocol() {
        Protocol::Oidc => {
            services
                .preview_oidc_email(connection, received, picked)
                .await?
        }
        Protocol::Saml => {
            services
                .preview_saml_email(connection, received, name_id, picked)
                .await?
        }
    };
    Ok(PreviewView::new(outcome))
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
        Ok(updated) => {
            let source = saml_config(&updated).attribute_mapping.email;
            let tests = services.list_tests(&updated.id).await?;
            let preview = match tests.iter().find_map(|t| received_of(t).map(|r| (t, r))) {
                Some((test, received)) => {
                    let name_id = identity_of(test).map(|i| i.subject);
                    Some(
                        email_preview(
                            &services,
                            &updated,
                            &received,
                            name_id.as_deref(),
                            source.as_deref(),
                        )
                        .await?,
                    )
                }
                None => None,
            };
            let from = match &source {
                Some(a) => format!("the attribute `{a}`"),
                None => "the usual attribute names".into(),
            };
            let would = preview.map_or(String::new(), |p| {
                format!(": the person of the last test would {}", p.sentence())
            });
            Notice::success(format!(
                "Saved. Gatehouse now reads the email from {from}{would}. Run the test again so it counts for these settings."
            ))
        }
        Err(e) => Notice::error(user_message(e)?),
    };
    if renders_in_place(&req, &ctx) {
        return page_with(&req, &services, &ctx, Some(notice)).await;
    }
    Ok(see_other("/security/test"))
}

#[derive(serde::Deserialize)]
pub struct EmailClaimFields {
    claim: Option<String>,
}

/// `POST /security/test/email-claim`: take the email from this claim of
/// what the last test received (`upn` or `preferred_username` where Entra's
/// `email` is missing or a guest's address); empty: back to the provider's
/// rules. A settings change: test again afterwards. Such a claim is trusted
/// only as `oidc::identity::map` says (at verified domains, never a guest).
pub async fn use_email_claim(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<EmailClaimFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let Some(connection) = current_connection(&services, &ctx.org.id)
        .await?
        .filter(|c| c.protocol() == Protocol::Oidc)
    else {
        return Err(PageError::not_found().with_frame_origin(ctx.frame_origin()));
    };
    let patch = ConnectionPatch {
        claim_mapping: Some(ClaimMapping {
            email: form.data.claim.filter(|c| !c.trim().is_empty()),
        }),
        ..ConnectionPatch::default()
    };
    let notice = match services
        .update_connection(&change_context(&ctx), &connection.id, patch)
        .await
    {
        Ok(updated) => {
            let source = oidc_config(&updated).claim_mapping.email;
            let tests = services.list_tests(&updated.id).await?;
            let preview = match tests.iter().find_map(received_of) {
                Some(received) => Some(PreviewView::new(
                    services
                        .preview_oidc_email(&updated, &received, source.as_deref())
                        .await?,
                )),
                None => None,
            };
            let from = match &source {
                Some(c) => format!("the claim `{c}`"),
                None => "the provider's usual claims".into(),
            };
            let would = preview.map_or(String::new(), |p| {
                format!(": the person of the last test would {}", p.sentence())
            });
            Notice::success(format!(
                "Saved. Gatehouse now reads the email from {from}{would}. Run the test again so it counts for these settings."
            ))
        }
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
    /// A pass: what a real sign-in would do.
    outcome: Option<ProvisioningView>,
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
    finish_received(services, connection, origin, outcome, &[]).await
}

/// [`finish`], keeping what a failed test received (verified claims).
pub async fn finish_received(
    services: &Services,
    connection: &Connection,
    origin: &FlowOrigin,
    outcome: Result<&TestIdentity, &SignInError>,
    received: &[(String, String)],
) -> Result<HttpResponse, PageError> {
    let request_id = current_request_id();
    let test = services
        .record_test(
            connection,
            origin,
            outcome,
            received,
            Some(request_id.clone()),
        )
        .await?;
    let org = services
        .get_organization(&connection.organization_id)
        .await?;
    let provisioning = match outcome {
        Ok(identity) => Some(services.preview_provisioning(connection, identity).await?),
        Err(_) => None,
    };
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
        outcome: provisioning.as_ref().map(ProvisioningView::new),
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
