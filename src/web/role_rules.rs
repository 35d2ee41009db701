//! The Test step's role rules: organization roles from identity-provider
//! groups (first match wins), added, moved and removed in the tab, with a
//! preview of what a real sign-in of the last test's person would do.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::connection_step::current_connection;
use super::error::PageError;
use super::security_tab::{Notice, change_context, renders_in_place, see_other, user_message};
use super::session::{AdminContext, AdminForm};
use super::test_step::page_full;
use crate::domain::connections::{Connection, RoleRule};
use crate::domain::provisioning::{Provisioning, UserOutcome};
use crate::services::Services;
use crate::services::connections::{ConnectionPatch, MAX_ROLE_RULES};

/// What a real sign-in would do, in sentences for the admin.
pub struct ProvisioningView {
    /// The role they end up with.
    pub role: String,
    /// Which user signs in: created, linked, or returning.
    pub user: String,
    /// Their membership and where the role comes from.
    pub membership: String,
}

impl ProvisioningView {
    pub fn new(p: &Provisioning) -> Self {
        let user = match &p.user {
            UserOutcome::Created => {
                "No user has this email yet: a new user would be created.".to_string()
            }
            UserOutcome::Linked { email } => format!(
                "The existing user {email} would be linked to this identity-provider account (not duplicated) and signed in."
            ),
            UserOutcome::Returning { email } => format!(
                "The user {email} signed in through this connection before: the same user signs in again."
            ),
        };
        let from_rule = p
            .rule
            .as_ref()
            .map(|(i, r)| format!("rule {} (group {} → {})", i + 1, r.group, r.role));
        let membership = match (&p.previous_role, from_rule) {
            (None, Some(rule)) => format!(
                "They would be added as a member with the role {}, from {rule}.",
                p.role
            ),
            (None, None) => format!(
                "They would be added as a member with the organization's default role, {}: none of their groups matches a rule.",
                p.role
            ),
            (Some(previous), Some(rule)) if *previous != p.role => format!(
                "They are already a member with the role {previous}; this sign-in would change it to {}, from {rule}. Rules apply again at every sign-in.",
                p.role
            ),
            (Some(previous), Some(rule)) => format!(
                "They are already a member with the role {previous}, and keep it: {rule} gives the same role."
            ),
            (Some(previous), None) => format!(
                "They are already a member with the role {previous}, and keep it: none of their groups matches a rule, and then a member's role is left as it is (the default role is only for new members)."
            ),
        };
        Self {
            role: p.role.clone(),
            user,
            membership,
        }
    }
}

/// One rule, as listed.
pub struct RuleRow {
    /// From 1.
    pub position: usize,
    pub group: String,
    pub role: String,
    /// The rule that gives the preview's person their role.
    pub matched: bool,
}

/// What the admin typed into the add form (kept when it is refused).
#[derive(Default, Clone)]
pub struct AddRuleForm {
    pub group: String,
    pub role: String,
    pub error: Option<String>,
}

/// The preview: the person of the newest passing test, and what a real
/// sign-in would do for them with the current rules.
pub struct RolePreview {
    pub when: String,
    pub email: String,
    pub groups: Vec<String>,
    pub outcome: ProvisioningView,
}

/// The role rules section.
pub struct RolesView {
    pub rules: Vec<RuleRow>,
    /// Groups the last test received, to pick from.
    pub groups: Vec<String>,
    /// Roles to suggest: the default role and those of the rules.
    pub roles: Vec<String>,
    pub default_role: String,
    pub full: bool,
    pub max: usize,
    pub add: AddRuleForm,
    pub preview: Option<RolePreview>,
}

impl RolesView {
    pub fn new(
        connection: &Connection,
        default_role: &str,
        groups: Vec<String>,
        add: AddRuleForm,
        preview: Option<(RolePreview, Option<usize>)>,
    ) -> Self {
        let matched = preview.as_ref().and_then(|(_, m)| *m);
        let mut roles = vec![default_role.to_string()];
        for r in &connection.role_mapping {
            if !roles.contains(&r.role) {
                roles.push(r.role.clone());
            }
        }
        Self {
            rules: connection
                .role_mapping
                .iter()
                .enumerate()
                .map(|(i, r)| RuleRow {
                    position: i + 1,
                    group: r.group.clone(),
                    role: r.role.clone(),
                    matched: matched == Some(i),
                })
                .collect(),
            groups,
            roles,
            default_role: default_role.to_string(),
            full: connection.role_mapping.len() >= MAX_ROLE_RULES,
            max: MAX_ROLE_RULES,
            add,
            preview: preview.map(|(p, _)| p),
        }
    }
}

#[derive(serde::Deserialize)]
pub struct AddFields {
    group: Option<String>,
    role: Option<String>,
}

/// `POST /security/test/roles`: a rule at the end of the list. Refused
/// (a bad role name, too many rules), the page says why and keeps what
/// was typed.
pub async fn add(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<AddFields>,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let connection = connection_of(&services, &ctx).await?;
    let typed = AddRuleForm {
        group: form
            .data
            .group
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect(),
        role: form
            .data
            .role
            .unwrap_or_default()
            .chars()
            .take(100)
            .collect(),
        error: None,
    };
    let mut rules = connection.role_mapping.clone();
    let position = rules.len() + 1;
    rules.push(RoleRule {
        group: typed.group.clone(),
        role: typed.role.clone(),
    });
    match save(&services, &ctx, &connection, rules).await? {
        Ok(saved) => {
            let rule = saved.role_mapping.get(position - 1);
            let text = match rule {
                Some(r) => format!(
                    "Added rule {position}: people in the group {} get the role {}, unless an earlier rule matches first.",
                    r.group, r.role
                ),
                None => "Saved.".into(),
            };
            after_change(&req, &services, &ctx, Notice::success(text)).await
        }
        Err(message) => {
            // The reason shows beside the form, which keeps what was typed.
            let add = AddRuleForm {
                error: Some(message),
                ..typed
            };
            page_full(
                &req,
                &services,
                &ctx,
                None,
                add,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct RuleFields {
    /// From 1 (text: the form's fields arrive flattened, as strings).
    position: Option<String>,
    group: Option<String>,
    role: Option<String>,
}

/// `POST /security/test/roles/remove`: removes the rule (named by its
/// position, group and role, so a list changed meanwhile loses no other).
pub async fn remove(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<RuleFields>,
) -> Result<HttpResponse, PageError> {
    change_rule(req, services, form, |rules, at| {
        let removed = rules.remove(at);
        format!(
            "Removed the rule for the group {} (role {}).",
            removed.group, removed.role
        )
    })
    .await
}

/// `POST /security/test/roles/up`: moves the rule one place earlier, so it
/// is tried before the one above it.
pub async fn move_up(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<RuleFields>,
) -> Result<HttpResponse, PageError> {
    change_rule(req, services, form, |rules, at| {
        let to = at.saturating_sub(1);
        rules.swap(at, to);
        format!(
            "Moved the rule for the group {} to position {}: it is tried before the ones below it.",
            rules.get(to).map_or("", |r| r.group.as_str()),
            to + 1
        )
    })
    .await
}

async fn change_rule(
    req: HttpRequest,
    services: web::Data<Services>,
    form: AdminForm<RuleFields>,
    change: impl FnOnce(&mut Vec<RoleRule>, usize) -> String,
) -> Result<HttpResponse, PageError> {
    let ctx = form.ctx.require_self_serve()?;
    let connection = connection_of(&services, &ctx).await?;
    let f = form.data;
    let wanted = RoleRule {
        group: f.group.unwrap_or_default(),
        role: f.role.unwrap_or_default(),
    };
    let mut rules = connection.role_mapping.clone();
    // The rule at the position given, else the same rule wherever it went.
    let at = f
        .position
        .and_then(|p| p.trim().parse::<usize>().ok())
        .and_then(|p| p.checked_sub(1))
        .filter(|&i| rules.get(i) == Some(&wanted))
        .or_else(|| rules.iter().position(|r| *r == wanted));
    let Some(at) = at else {
        let notice = Notice::error(
            "That rule is no longer in the list: someone changed the rules a moment ago. Here they are as they are now.".into(),
        );
        return refused(&req, &services, &ctx, notice, StatusCode::CONFLICT).await;
    };
    let text = change(&mut rules, at);
    match save(&services, &ctx, &connection, rules).await? {
        Ok(_) => after_change(&req, &services, &ctx, Notice::success(text)).await,
        Err(message) => {
            let notice = Notice::error(message);
            refused(
                &req,
                &services,
                &ctx,
                notice,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// A refused change: the page itself, with the notice, whether or not the
/// form came by htmx (a redirect would lose the notice).
async fn refused(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Notice,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    page_full(
        req,
        services,
        ctx,
        Some(notice),
        AddRuleForm::default(),
        status,
    )
    .await
}

/// Saves the rules (audited as `connection.updated`); a refusal is the
/// admin's to read.
async fn save(
    services: &Services,
    ctx: &AdminContext,
    connection: &Connection,
    rules: Vec<RoleRule>,
) -> Result<Result<Connection, String>, PageError> {
    let patch = ConnectionPatch {
        role_mapping: Some(rules),
        ..ConnectionPatch::default()
    };
    match services
        .update_connection(&change_context(ctx), &connection.id, patch)
        .await
    {
        Ok(c) => Ok(Ok(c)),
        Err(e) => Ok(Err(user_message(e)?)),
    }
}

async fn connection_of(services: &Services, ctx: &AdminContext) -> Result<Connection, PageError> {
    current_connection(services, &ctx.org.id)
        .await?
        .ok_or_else(|| PageError::not_found().with_frame_origin(ctx.frame_origin()))
}

async fn after_change(
    req: &HttpRequest,
    services: &Services,
    ctx: &AdminContext,
    notice: Notice,
) -> Result<HttpResponse, PageError> {
    if renders_in_place(req, ctx) {
        return page_full(
            req,
            services,
            ctx,
            Some(notice),
            AddRuleForm::default(),
            StatusCode::OK,
        )
        .await;
    }
    Ok(see_other("/security/test#roles"))
}
