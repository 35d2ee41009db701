//! The Security tab's activity page: the organization's recent changes and
//! sign-in attempts, with the error code of each failure.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::Value;

use super::error::PageError;
use super::security_tab::render_tab;
use super::session::AdminContext;
use crate::domain::audit::Event;
use crate::services::Services;
use crate::store::PageRequest;
use crate::store::events::EventFilter;

/// How many events the page shows.
const SHOWN: u32 = 50;

pub struct Row {
    pub when: String,
    pub what: String,
    pub who: String,
    pub failed: bool,
    pub code: Option<String>,
}

#[derive(Template)]
#[template(path = "security/activity.html")]
struct Activity {
    rows: Vec<Row>,
}

fn text(data: &Value, key: &str) -> Option<String> {
    data.get(key).and_then(Value::as_str).map(str::to_string)
}

/// An event in words, as the organization `viewer` sees it, whether it is
/// a failure, and its code.
fn describe(e: &Event, viewer: &str) -> (String, bool, Option<String>) {
    let d = &e.data;
    let code = text(d, "error_code");
    let what = match e.action.as_str() {
        "domain.created" => "Domain added".into(),
        "domain.verified" => "Domain verified".into(),
        "domain.verification_failed" => "Domain check did not find the record".into(),
        "domain.failed" => "Domain verification gave up after a week".into(),
        "domain.checks_restarted" => "Domain checks restarted".into(),
        "domain.updated" => "Domain use changed".into(),
        "domain.deleted" => "Domain removed".into(),
        "connection.created" => "Connection created".into(),
        "connection.updated" => "Connection settings changed".into(),
        "connection.metadata_refreshed" => "Identity provider metadata refreshed".into(),
        "connection.tested" => match text(d, "outcome").as_deref() {
            Some("passed") => "Test sign-in passed".into(),
            _ => "Test sign-in failed".into(),
        },
        "connection.activated" => "Single sign-on activated".into(),
        "connection.deactivated" => "Single sign-on deactivated".into(),
        "connection.deleted" => "Connection removed".into(),
        "connection.moved" if e.organization_id.as_deref() == Some(viewer) => {
            "Connection moved here from another organization".into()
        }
        "connection.moved" => "Connection moved to another organization".into(),
        "user.created" => format!("New user {}", text(d, "email").unwrap_or_default()),
        "membership.created" => "Member joined through single sign-on".into(),
        "membership.removed" => "Member removed".into(),
        "sign_in.succeeded" => format!("Signed in: {}", text(d, "email").unwrap_or_default()),
        "sign_in.failed" => match text(d, "login_hint") {
            Some(who) => format!("Sign-in failed: {who}"),
            None => "Sign-in failed".into(),
        },
        "admin_session.started" => "Security settings opened".into(),
        "admin_session.ended" => "Security settings closed".into(),
        "organization.updated" => "Organization settings changed".into(),
        other => other.to_string(),
    };
    let failed = code.is_some()
        || matches!(
            e.action.as_str(),
            "sign_in.failed" | "domain.failed" | "domain.verification_failed"
        );
    (what, failed, code)
}

/// `GET /security/activity`
pub async fn page(
    req: HttpRequest,
    services: web::Data<Services>,
    ctx: AdminContext,
) -> Result<HttpResponse, PageError> {
    let events = services
        .list_events(
            &EventFilter {
                organization_id: Some(ctx.org.id.clone()),
                action: None,
            },
            &PageRequest {
                before: None,
                limit: SHOWN,
            },
        )
        .await?;
    let rows = events
        .items
        .iter()
        .map(|e| {
            let (what, failed, code) = describe(e, &ctx.org.id);
            Row {
                when: super::views::when_exact(e.created_at),
                what,
                who: e.actor_label.clone(),
                failed,
                code,
            }
        })
        .collect();
    let content = Activity { rows }.render()?;
    render_tab(
        &req,
        &services,
        &ctx,
        None,
        "Activity",
        content,
        StatusCode::OK,
    )
    .await
}
