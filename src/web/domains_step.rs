//! Step 1 of the Security tab: claiming domains and verifying them by DNS.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::error::PageError;
use super::security_tab::{Notice, render_tab, renders_in_place, see_other, user_message};
use super::session::{AdminContext, AdminForm};
use super::views::when;
use crate::domain::domains::{Domain, Purpose, Status};
use crate::domain::wizard::Step;
use crate::services::Services;

/// The add form, as the admin left it.
#[derive(Debug, Clone)]
pub struct AddForm {
    pub value: String,
    pub purpose: &'static str,
    pub error: Option<String>,
}

impl Default for AddForm {
    fn default() -> Self {
        Self {
            value: String::new(),
            purpose: Purpose::Sso.as_str(),
            error: None,
        }
    }
}

/// One domain, ready to show.
#[derive(Debug, Clone)]
pub struct DomainCard {
    pub id: String,
    pub name_unicode: String,
    pub name_ascii: String,
    pub show_ascii: bool,
    pub status: &'static str,
    pub status_label: &'static str,
    pub purpose: &'static str,
    pub purpose_label: &'static str,
    pub record_name: String,
    pub record_value: String,
    /// The record's name relative to the likely DNS zone.
    pub relative_name: String,
    pub zone: String,
    pub last_error_code: String,
    pub last_error: Option<String>,
    pub last_checked: String,
    pub next_check: Option<String>,
    pub verified_at: String,
}

/// `300s` → "5 minutes", `7d` → "7 days".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s.is_multiple_of(86_400) && s >= 86_400 {
        (s / 86_400, "day")
    } else if s.is_multiple_of(3600) && s >= 3600 {
        (s / 3600, "hour")
    } else if s.is_multiple_of(60) && s >= 60 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

impl From<&Domain> for DomainCard {
    fn from(d: &Domain) -> Self {
        let unicode = d.unicode();
        let zone = psl::domain_str(&d.domain).unwrap_or(&d.domain).to_string();
        let record_name = d.record_name();
        let relative_name = record_name
            .strip_suffix(&format!(".{zone}"))
            .unwrap_or(&record_name)
            .to_string();
        Self {
            id: d.id.clone(),
            show_ascii: unicode != d.domain,
            name_unicode: unicode,
            name_ascii: d.domain.clone(),
            status: d.status.as_str(),
            status_label: match d.status {
                Status::Pending => "Awaiting verification",
                Status::Verified => "Verified",
                Status::Failed => "Not verified",
            },
            purpose: d.purpose.as_str(),
            purpose_label: match d.purpose {
                Purpose::Sso => "Single sign-on",
                Purpose::VerifiedOnly => "Verified only",
            },
            record_value: d.record_value(),
            record_name,
            relative_name,
            zone,
            last_error_code: d.last_error_code.clone().unwrap_or_default(),
            last_error: d.last_error.clone(),
            last_checked: d.last_checked_at.map(when).unwrap_or_default(),
            next_check: d.next_check_at.map(when),
            verified_at: d.verified_at.map(when).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "security/domains.html")]
struct DomainsStep {
    csrf_token: String,
    add: AddForm,
    domains: Vec<DomainCard>,
    notice: Option<Notice>,
    has_verified: bool,
    recheck_every: String,
    give_up_after: String,
    brand: super::branding::Brand,
}

/// Renders the step, with the add form and a notice as given.
pub async fn page(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    state: Option<(AddForm, Option<Notice>, StatusCode)>,
) -> Result<HttpResponse, PageError> {
    let (add, notice, status) = state.unwrap_or((AddForm::default(), None, StatusCode::OK));
    let domains = services.list_domains(&ctx.org.id).await?;
    let content = DomainsStep {
        csrf_token: ctx.csrf_token.clone(),
        add,
        has_verified: domains.iter().any(|d| d.status == Status::Verified),
        domains: domains.iter().map(DomainCard::from).collect(),
        notice,
        recheck_every: human(services.config.domain_recheck_interval),
        give_up_after: human(services.config.domain_recheck_give_up),
        brand: super::branding::Brand::current(),
    }
    .render()?;
    render_tab(
        req,
        services,
        ctx,
        Some(Step::Domains),
        "Domains",
        content,
        status,
    )
    .await
}

/// After a change: htmx and embedded tabs get the page right away (an
/// embedded tab may have no cookie to follow a redirect with); a top-level
/// page follows post/redirect/get.
async fn after_change(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Notice,
    anchor: Option<&str>,
) -> Result<HttpResponse, PageError> {
    if renders_in_place(req, ctx) {
        return page(
            req,
            services,
            ctx,
            Some((AddForm::default(), Some(notice), StatusCode::OK)),
        )
        .await;
    }
    let location = match anchor {
        Some(id) => format!("/security/domains#{id}"),
        None => "/security/domains".to_string(),
    };
    Ok(see_other(&location))
}

#[derive(serde::Deserialize)]
pub struct AddFields {
    domain: Option<String>,
    purpose: Option<String>,
}

/// `POST /security/domains`
pub async fn add(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<AddFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let raw = form.data.domain.unwrap_or_default();
    let purpose = form
        .data
        .purpose
        .as_deref()
        .and_then(Purpose::parse)
        .unwrap_or(Purpose::Sso);
    match services
        .add_domain(
            &super::security_tab::change_context(&ctx),
            &ctx.org.id,
            &raw,
            purpose,
        )
        .await
    {
        Ok(d) => {
            let notice = Notice::success(format!(
                "Added {}. Publish its TXT record, then verify.",
                d.unicode()
            ));
            after_change(&req, &services, &ctx, notice, Some(&d.id)).await
        }
        Err(e) => {
            let add = AddForm {
                value: raw.chars().take(300).collect(),
                purpose: purpose.as_str(),
                error: Some(user_message(e)?),
            };
            page(
                &req,
                &services,
                &ctx,
                Some((add, None, StatusCode::UNPROCESSABLE_ENTITY)),
            )
            .await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct NoFields {}

async fn org_domain(
    services: &Services,
    ctx: &AdminContext,
    id: &str,
) -> Result<Domain, PageError> {
    services
        .get_organization_domain(&ctx.org.id, id)
        .await
        .map_err(|e| PageError::from(e).with_frame_origin(ctx.frame_origin()))
}

/// `POST /security/domains/{id}/verify`
pub async fn verify(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<String>,
    form: AdminForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let domain = org_domain(&services, &ctx, &id).await?;
    let notice = match services
        .verify_domain(&super::security_tab::change_context(&ctx), domain.clone())
        .await
    {
        Ok(d) if d.status == Status::Verified => {
            Notice::success(format!("{} is verified.", d.unicode()))
        }
        Ok(d) => Notice::info(format!(
            "{} is not verified yet. {}",
            d.unicode(),
            d.last_error.unwrap_or_default()
        )),
        Err(e) => Notice::error(user_message(e)?),
    };
    after_change(&req, &services, &ctx, notice, Some(&domain.id)).await
}

/// `POST /security/domains/{id}/remove`
pub async fn remove(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<String>,
    form: AdminForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let domain = org_domain(&services, &ctx, &id).await?;
    let notice = match services
        .remove_domain(&super::security_tab::change_context(&ctx), &domain)
        .await
    {
        Ok(()) => Notice::success(format!("Removed {}.", domain.unicode())),
        Err(e) => Notice::error(user_message(e)?),
    };
    after_change(&req, &services, &ctx, notice, None).await
}

#[derive(serde::Deserialize)]
pub struct PurposeFields {
    purpose: Option<String>,
}

/// `POST /security/domains/{id}/purpose`
pub async fn set_purpose(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<String>,
    form: AdminForm<PurposeFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let domain = org_domain(&services, &ctx, &id).await?;
    let Some(purpose) = form.data.purpose.as_deref().and_then(Purpose::parse) else {
        let notice = Notice::error("Choose single sign-on or verified only.".to_string());
        return page(
            &req,
            &services,
            &ctx,
            Some((
                AddForm::default(),
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
            )),
        )
        .await;
    };
    let notice = match services
        .set_domain_purpose(&super::security_tab::change_context(&ctx), &domain, purpose)
        .await
    {
        Ok(d) => Notice::success(format!(
            "{} is now used for {}.",
            d.unicode(),
            match d.purpose {
                Purpose::Sso => "single sign-on",
                Purpose::VerifiedOnly => "verification only",
            }
        )),
        Err(e) => Notice::error(user_message(e)?),
    };
    after_change(&req, &services, &ctx, notice, Some(&domain.id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(300)), "5 minutes");
        assert_eq!(human(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(human(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
    }
}
