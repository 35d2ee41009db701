//! The demo's built-in identity provider, so `gatehouse demo` needs nothing
//! else. It speaks both protocols Gatehouse takes, and really signs:
//!
//! - SAML (`saml.rs`): IdP metadata, an SSO endpoint (HTTP-Redirect
//!   binding) and a signed SAML Response posted to Gatehouse's ACS;
//! - OpenID Connect (`oidc.rs`, `oidc_token.rs`): discovery, keys, the
//!   authorization code flow with PKCE, a token endpoint issuing RS256 ID
//!   tokens, userinfo.
//!
//! Both let the visitor pick one of a few demo people, on the same page.
//! It is mounted in demo mode only (see `demo.rs`). There are no passwords:
//! anyone who reaches it can sign in as any demo person. What it does guard
//! is the binding between the request it was shown and the answer it gives:
//! the choice page's fields carry a MAC under the demo's secret key, and it
//! only answers its own Gatehouse (its ACS URLs, its OIDC callback URLs).

use std::sync::{Arc, Mutex};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use openssl::pkey::{PKey, Private};

use crate::config::SecretKey;
use crate::saml::certificates::Certificate;
use crate::saml::sp_key::SpKey;
use crate::store::Store;
use crate::web::views::Layout;

pub mod oidc;
pub mod oidc_token;
pub mod saml;

pub use oidc::{OIDC_CLIENT_ID, OidcChoice};
pub use saml::{AuthnRequest, CONTINUE_PATH, Choice, METADATA_PATH, SSO_PATH};

/// The demo database's setting that keeps the signing key and certificate
/// (the key sealed under the demo's secret key), so the certificate a
/// connection imported, and the keys an OIDC connection cached, stay valid
/// across restarts. Both protocols sign with this one key pair.
const KEY_SETTING: &str = "demo_idp_signing_key";
/// What the key is sealed to (see `SpKey`).
const KEY_CONTEXT: &str = "demo-idp";
/// How long a choice page stays good.
const CHOICE_LIFETIME: Duration = Duration::minutes(10);

/// One person the demo identity provider can sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    /// Their stable identifier at the identity provider (OIDC `sub`).
    pub subject: &'static str,
    pub email: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub groups: &'static [&'static str],
    /// Shown under the name on the choice page.
    pub note: &'static str,
}

/// The demo people: two at Acme's domain, one elsewhere (whom Gatehouse
/// refuses, because `example.net` is not a verified domain of Acme).
pub const USERS: &[DemoUser] = &[
    DemoUser {
        subject: "demo-alice",
        email: "alice@acme.test",
        first_name: "Alice",
        last_name: "Liddell",
        groups: &["engineering", "admins"],
        note: "Acme's IT admin.",
    },
    DemoUser {
        subject: "demo-bob",
        email: "bob@acme.test",
        first_name: "Bob",
        last_name: "Builder",
        groups: &["engineering"],
        note: "An Acme engineer.",
    },
    DemoUser {
        subject: "demo-mallory",
        email: "mallory@example.net",
        first_name: "Mallory",
        last_name: "Meyer",
        groups: &["contractors"],
        note: "Not at an Acme domain: Gatehouse refuses her (saml_email_address_domain_mismatch, or oidc_email_address_domain_mismatch over OpenID Connect).",
    },
];

pub fn user(email: &str) -> Option<&'static DemoUser> {
    USERS
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(email.trim()))
}

/// The identity provider: its key pair and where it and its Gatehouse are.
#[derive(Clone)]
pub struct DemoIdp {
    /// The origin its routes are served from (entity ID, SSO URL, issuer).
    origin: String,
    /// The Gatehouse whose ACS and callback URLs it answers (no other).
    sp_origin: String,
    mac_key: SecretKey,
    key: PKey<Private>,
    certificate: Certificate,
    /// The OpenID Provider's codes and access tokens, in memory: the demo
    /// runs as one instance, and a restart only cuts sign-ins under way.
    grants: Arc<Mutex<oidc_token::Grants>>,
}

impl std::fmt::Debug for DemoIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoIdp")
            .field("origin", &self.origin)
            .field("sp_origin", &self.sp_origin)
            .field("certificate", &self.certificate.fingerprint_sha256)
            .finish_non_exhaustive()
    }
}

fn origin_of(raw: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(raw)?;
    Ok(url.origin().ascii_serialization())
}

impl DemoIdp {
    fn from_pair(
        origin: &str,
        sp_origin: &str,
        secret: &SecretKey,
        pair: &SpKey,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            origin: origin_of(origin)?,
            sp_origin: origin_of(sp_origin)?,
            mac_key: secret.clone(),
            key: pair.private_key(secret, KEY_CONTEXT)?,
            certificate: pair.certificate.clone(),
            grants: Arc::default(),
        })
    }

    /// A new key pair, kept nowhere (tests).
    pub fn generate(origin: &str, sp_origin: &str, secret: &SecretKey) -> anyhow::Result<Self> {
        let pair = SpKey::generate(secret, KEY_CONTEXT, Utc::now())?;
        Self::from_pair(origin, sp_origin, secret, &pair)
    }

    /// The key pair kept in the demo database, made on first start.
    pub async fn load_or_create(
        store: &Store,
        origin: &str,
        sp_origin: &str,
        secret: &SecretKey,
    ) -> anyhow::Result<Self> {
        let stored = match store.get_setting(KEY_SETTING).await? {
            Some(stored) => stored,
            None => {
                let pair = SpKey::generate(secret, KEY_CONTEXT, Utc::now())?;
                store
                    .get_or_insert_setting(KEY_SETTING, &serde_json::to_string(&pair)?)
                    .await?
            }
        };
        let pair: SpKey = serde_json::from_str(&stored)?;
        Self::from_pair(origin, sp_origin, secret, &pair)
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The routes of both halves.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.service(
            web::scope("/demo-idp")
                .app_data(web::Data::new(self.clone()))
                .configure(saml::routes)
                .configure(oidc::routes),
        );
    }
}

/// Why the demo IdP will not answer, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub detail: String,
}

impl Refusal {
    fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
        }
    }
}

/// The demo IdP's pages set their whole policy; each adds its
/// `form-action` (or none, see where).
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

fn page(status: StatusCode, body: String, policy: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, policy.to_string()))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .body(body)
}

#[derive(Template)]
#[template(path = "demo_idp/error.html")]
struct ErrorView<'a> {
    layout: Layout,
    detail: &'a str,
}

fn refused(refusal: &Refusal) -> HttpResponse {
    let view = ErrorView {
        layout: Layout::new("Demo identity provider · Gatehouse"),
        detail: &refusal.detail,
    };
    match view.render() {
        Ok(body) => page(
            StatusCode::BAD_REQUEST,
            body,
            &format!("{PAGE_POLICY}; form-action 'none'"),
        ),
        Err(_) => HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body(refusal.detail.clone()),
    }
}

fn internal(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "the demo identity provider failed");
    HttpResponse::InternalServerError()
        .content_type("text/plain; charset=utf-8")
        .body("The demo identity provider failed; see the log.")
}

/// A demo person as the choice page shows them.
struct UserView {
    email: &'static str,
    name: String,
    groups: String,
    note: &'static str,
}

fn user_views() -> Vec<UserView> {
    USERS
        .iter()
        .map(|u| UserView {
            email: u.email,
            name: format!("{} {}", u.first_name, u.last_name),
            groups: u.groups.join(", "),
            note: u.note,
        })
        .collect()
}

/// Whether a choice issued at `issued` (seconds) is still good at `now`.
fn fresh(issued: i64, now: chrono::DateTime<Utc>) -> bool {
    let issued = chrono::DateTime::<Utc>::from_timestamp(issued, 0).unwrap_or_default();
    now - issued <= CHOICE_LIFETIME && issued - now <= Duration::minutes(1)
}
