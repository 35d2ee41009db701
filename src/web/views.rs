//! Template structs: what each page shows, and nothing else.

use askama::Template;

use super::assets;
use super::branding::Brand;
use crate::domain::wizard::{self, Facts, Step};

/// What every page's `<head>` needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub css: String,
    pub icon: String,
    pub js: String,
    pub htmx: String,
    pub csrf: Option<String>,
    /// Embed sessions carry their token in the page, for browsers that block
    /// third-party cookies; htmx sends it back as a header.
    pub embed_session: Option<String>,
    /// The only origin `postMessage` events go to.
    pub parent_origin: Option<String>,
    /// An event the page posts to its parent on load.
    pub event: Option<&'static str>,
    pub embedded: bool,
    pub boost: bool,
    /// The host's product name, theme and logo (the defaults outside the
    /// Security tab).
    pub brand: Brand,
}

impl Layout {
    /// A page of this title; in the Security tab, the host's product name
    /// ends it (in place of "Gatehouse" where that does).
    pub fn new(title: impl Into<String>) -> Self {
        let brand = Brand::current();
        let title = title.into();
        let title = match &brand.product_name {
            None => title,
            Some(product) => match title.strip_suffix(" · Gatehouse") {
                Some(rest) => format!("{rest} · {product}"),
                None => format!("{title} · {product}"),
            },
        };
        Self {
            title,
            css: assets::url(assets::APP_CSS),
            icon: assets::url("favicon.svg"),
            js: assets::url(assets::APP_JS),
            htmx: assets::url(assets::HTMX),
            csrf: None,
            embed_session: None,
            parent_origin: None,
            event: None,
            embedded: false,
            boost: false,
            brand,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub layout: Layout,
    pub status: u16,
    pub title: &'a str,
    pub cause: &'a str,
    pub fix: std::borrow::Cow<'a, str>,
    pub detail: Option<String>,
    pub code: &'a str,
    pub request_id: String,
}

#[derive(Template)]
#[template(path = "security/disabled.html")]
pub struct DisabledPage {
    pub layout: Layout,
    pub org_name: String,
    pub request_id: String,
}

/// One entry of the stepper.
#[derive(Debug, Clone)]
pub struct StepView {
    pub number: usize,
    pub label: &'static str,
    pub summary: &'static str,
    pub status: String,
    pub state: &'static str,
    pub href: String,
    pub current: bool,
}

pub fn step_views(facts: &Facts, current: Option<Step>) -> Vec<StepView> {
    Step::ALL
        .into_iter()
        .map(|step| {
            let (state, status) = wizard::status(step, facts);
            StepView {
                number: step.number(),
                label: step.label(),
                summary: step.summary(),
                status,
                state: state.as_str(),
                href: step_href(step),
                current: current == Some(step),
            }
        })
        .collect()
}

pub fn step_href(step: Step) -> String {
    format!("/security/{}", step.slug())
}

#[derive(Template)]
#[template(path = "security/layout.html")]
pub struct SecurityPage {
    pub layout: Layout,
    pub org_name: String,
    pub return_url: Option<String>,
    pub steps: Vec<StepView>,
    pub oob: bool,
    pub current_step: &'static str,
    pub csrf_token: String,
    pub content: String,
}

/// The htmx answer for a step: the stepper (swapped out of band) and the
/// step's content.
#[derive(Template)]
#[template(path = "security/fragment.html")]
pub struct SecurityFragment {
    pub steps: Vec<StepView>,
    pub oob: bool,
    pub content: String,
}

#[derive(Template)]
#[template(path = "security/overview.html")]
pub struct Overview {
    pub org_name: String,
    pub product_name: Option<String>,
    pub steps: Vec<StepView>,
    pub next_href: String,
    pub next_label: String,
}

/// A time as the tab shows it, to the minute.
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A time as the tab shows it, to the second (histories, activity).
pub fn when_exact(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
