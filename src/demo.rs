//! `gatehouse demo`: everything on one machine with nothing to set up.
//!
//! Gatehouse runs on 127.0.0.1 and a sample host application on
//! `localhost`, a different site, so the Security tab really is embedded
//! cross-site the way a customer's product would embed it.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock::SystemClock;
use crate::config::{Config, DatabaseUrl, Secret, SecretKey};
use crate::crypto::{self, seal};
use crate::demo_idp::DemoIdp;
use crate::dns::server::{DnsServer, Zone};
use crate::domain::audit::ChangeContext;
use crate::domain::domains::{Lookup, Status};
use crate::domain::organization::Organization;
use crate::services::Services;
use crate::services::organizations::NewOrganization;
use crate::startup::{self, Application};
use crate::web::{assets, error::PageError};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// SQLite file the demo keeps its data in.
    #[arg(long, default_value = "gatehouse-demo.db")]
    pub database: PathBuf,
    /// Port of Gatehouse itself (on 127.0.0.1).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Port of the sample host application (on localhost).
    #[arg(long, default_value_t = 8081)]
    pub host_port: u16,
}

const DEMO_ORG_SLUG: &str = "acme";
/// The zones the demo's own DNS server answers for: Gatehouse looks TXT
/// records up there (and nowhere else), and the sample host page can
/// "publish" a domain's record in them.
pub const DEMO_ZONES: &[&str] = &["acme.test"];

/// What the sample host application needs to know.
#[derive(Clone)]
struct HostApp {
    services: Services,
    org_id: String,
    host_origin: String,
    gatehouse_origin: String,
    /// The demo DNS server's zones, which the host page publishes into.
    zones: Vec<Zone>,
    /// The demo identity provider's metadata URL, to paste in the tab.
    idp_metadata_url: String,
    /// What to paste in the tab for an OpenID Connect connection instead.
    idp_oidc: DemoOidc,
    /// The host's OAuth client at Gatehouse.
    client: DemoClient,
    http: reqwest::Client,
}

/// The demo identity provider's OpenID Connect side, as an IT admin gives
/// it to a "Custom OpenID Connect" connection.
#[derive(Clone)]
struct DemoOidc {
    discovery_url: String,
    client_id: String,
    client_secret: String,
}

/// The sample host's OAuth client, registered once per redirect URI.
#[derive(Clone)]
struct DemoClient {
    id: String,
    secret: Secret,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (app, host, api_key, dns) = start(&args).await?;
    let setup = app
        .services()
        .create_portal_link(&ChangeContext::system(), &host.org_id, None)
        .await?;
    let gatehouse = host.gatehouse_origin.clone();
    let host_origin = host.host_origin.clone();
    let metadata_url = host.idp_metadata_url.clone();
    let oidc = host.idp_oidc.clone();
    let host_server = host_server(host, args.host_port)?;

    println!();
    println!(
        "  Gatehouse demo is running (data in {}).",
        args.database.display()
    );
    println!();
    println!("  Sample host app, with the Security tab embedded:  {host_origin}/demo");
    println!(
        "  One-time setup link for Acme (valid 15 minutes):  {}",
        setup.url
    );
    println!("  Host API:                                         {gatehouse}/api/v1");
    println!("  Demo identity provider (SAML metadata URL):       {metadata_url}");
    println!(
        "  Demo identity provider (OIDC discovery URL):      {}",
        oidc.discovery_url
    );
    println!(
        "  Demo identity provider (OIDC client ID):          {}",
        oidc.client_id
    );
    println!(
        "  Demo identity provider (OIDC client secret):      {}",
        oidc.client_secret
    );
    println!(
        "  Demo API key:                                     {}",
        api_key.expose()
    );
    println!();
    println!(
        "  Try:  curl -H 'Authorization: Bearer {}' {gatehouse}/api/v1/organizations",
        api_key.expose()
    );
    println!();
    println!(
        "  Walk through: claim acme.test in the tab, publish its TXT record from the host page,"
    );
    println!(
        "  connect \"Custom SAML\" with the metadata URL above (or \"Custom OpenID Connect\" with the"
    );
    println!(
        "  discovery URL, client ID and secret), test as Alice, activate, then sign in on the host"
    );
    println!("  page as alice@acme.test.");
    println!();
    println!("  Press Ctrl+C to stop.");
    println!();

    let (a, b) = futures_util::future::join(app.run_until_stopped(), host_server).await;
    dns.stop().await;
    a?;
    b?;
    Ok(())
}

/// Opens the demo database, seeds it, starts the demo DNS server and builds
/// Gatehouse on its port, with the demo identity provider mounted.
async fn start(args: &DemoArgs) -> anyhow::Result<(Application, HostApp, Secret, DnsServer)> {
    let gatehouse_origin = format!("http://127.0.0.1:{}", args.port);
    let host_origin = format!("http://localhost:{}", args.host_port);
    let mut config = Config::defaults();
    config.database_url =
        DatabaseUrl::new(format!("sqlite://{}?mode=rwc", args.database.display()));
    config.bind = SocketAddr::from(([127, 0, 0, 1], args.port));
    config.public_url = url::Url::parse(&gatehouse_origin)?;
    // The demo identity provider's SAML metadata and OpenID Connect
    // discovery, keys and token endpoint are on 127.0.0.1, over http.
    config.allow_private_network_fetch = true;

    // Domain verification asks the demo's own DNS server, whose records the
    // sample host page publishes.
    let zones = DEMO_ZONES
        .iter()
        .map(|z| Zone::new(z))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dns = DnsServer::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        &zones.iter().collect::<Vec<_>>(),
        &[],
    )
    .await
    .context("cannot start the demo DNS server")?;
    config.dns_servers = vec![dns.address()];

    let store = startup::connect(&config).await?;
    // The demo keeps its secret key and API key in its own database, so a
    // restart keeps working with what it printed before.
    let secret = store
        .get_or_insert_setting("demo_secret_key", &SecretKey::generate().to_base64())
        .await?;
    let secret_key = SecretKey::from_base64(&secret).map_err(anyhow::Error::msg)?;
    config.secret_key = Some(secret_key.clone());
    let idp = DemoIdp::load_or_create(&store, &gatehouse_origin, &gatehouse_origin, &secret_key)
        .await
        .context("cannot set up the demo identity provider")?;
    let api_key = Secret::new(
        store
            .get_or_insert_setting("demo_api_key", &crypto::random_token("gh_demo_"))
            .await?,
    );
    config.bootstrap_api_key = Some(api_key.clone());

    let listener = TcpListener::bind(config.bind).with_context(|| {
        format!(
            "cannot listen on {} (is another demo running? use --port)",
            config.bind
        )
    })?;
    let services = startup::prepare_with_store(config, Arc::new(SystemClock), store).await?;
    let org = seed(&services).await?;
    let client = oauth_client(&services, &format!("{host_origin}/demo/callback")).await?;
    let host_page_url = format!("{host_origin}/demo");
    let idp_metadata_url = idp.metadata_url();
    let idp_oidc = DemoOidc {
        discovery_url: idp.oidc_discovery_url(),
        client_id: idp.oidc_client_id().to_string(),
        client_secret: idp.oidc_client_secret(),
    };
    let app = Application::serve_with(
        services.clone(),
        listener,
        move |cfg: &mut web::ServiceConfig| {
            // The demo identity provider, on Gatehouse's own origin.
            idp.configure(cfg);
            let target = host_page_url.clone();
            // On Gatehouse's own origin, `/demo` leads to the sample host page.
            cfg.route(
                "/demo",
                web::get().to(move || {
                    let target = target.clone();
                    async move {
                        HttpResponse::SeeOther()
                            .insert_header((header::LOCATION, target))
                            .finish()
                    }
                }),
            );
        },
    )?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    Ok((
        app,
        HostApp {
            services,
            org_id: org.id,
            host_origin,
            gatehouse_origin,
            zones,
            idp_metadata_url,
            idp_oidc,
            client,
            http,
        },
        api_key,
        dns,
    ))
}

/// The sample host's OAuth client for `redirect_uri`: registered through
/// the services on first start, and kept (secret sealed) in the demo
/// database.
async fn oauth_client(services: &Services, redirect_uri: &str) -> anyhow::Result<DemoClient> {
    const CONTEXT: &str = "demo-oauth-client";
    let setting = format!("demo_oauth_client {redirect_uri}");
    let stored = match services.store.get_setting(&setting).await? {
        Some(stored) => stored,
        None => {
            let (client, secret) = services
                .create_oauth_client(
                    &ChangeContext::system(),
                    "Sample host app (demo)",
                    &[redirect_uri.to_string()],
                    None,
                )
                .await?;
            let sealed = seal::seal(&services.secret_key, CONTEXT, secret.as_bytes())?;
            let value = json!({ "client_id": client.id, "client_secret": sealed }).to_string();
            services
                .store
                .get_or_insert_setting(&setting, &value)
                .await?
        }
    };
    let stored: Value = serde_json::from_str(&stored)?;
    let field = |name: &str| {
        stored[name]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("the demo's OAuth client setting has no {name}"))
    };
    let secret = seal::open(&services.secret_key, CONTEXT, &field("client_secret")?)?;
    Ok(DemoClient {
        id: field("client_id")?,
        secret: Secret::new(String::from_utf8(secret)?),
    })
}

/// Organization "Acme" with self-serve SSO on.
async fn seed(services: &Services) -> anyhow::Result<Organization> {
    if let Some(org) = services
        .store
        .find_organization_by_slug(DEMO_ORG_SLUG)
        .await?
    {
        return Ok(org);
    }
    Ok(services
        .create_organization(
            &ChangeContext::system(),
            NewOrganization {
                name: "Acme".into(),
                slug: Some(DEMO_ORG_SLUG.into()),
                external_id: Some("demo-acme".into()),
                self_serve_sso: Some(true),
                default_role: None,
            },
        )
        .await?)
}

fn host_server(host: HostApp, port: u16) -> anyhow::Result<actix_web::dev::Server> {
    let data = web::Data::new(host);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(
                "/",
                web::get().to(|| async {
                    HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, "/demo"))
                        .finish()
                }),
            )
            .route("/demo", web::get().to(host_page))
            .route("/demo/setup-link", web::get().to(setup_link))
            .route("/demo/dns/publish", web::post().to(publish_dns))
            .route("/demo/login", web::post().to(login))
            .route("/demo/callback", web::get().to(callback))
            .route("/demo/logout", web::post().to(logout))
            .route("/static/{path:.*}", web::get().to(assets::serve))
    })
    .workers(1)
    .listen(
        TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("cannot listen on 127.0.0.1:{port} (use --host-port)"))?,
    )?
    .run())
}

#[derive(Template)]
#[template(path = "demo/host.html")]
struct HostPage {
    css: String,
    script: String,
    embed_url: String,
    gatehouse_origin: String,
    metadata_url: String,
    oidc: DemoOidc,
    zones: String,
    domains: Vec<DomainRow>,
    dns_notice: Option<String>,
    signed_in: Option<SignedIn>,
    sign_in_error: Option<SignInProblem>,
}

/// A domain of the demo organization, as the demo DNS box shows it.
struct DomainRow {
    name: String,
    status: &'static str,
    record_name: String,
    record_value: String,
    /// Under one of the demo zones, so it can be published here.
    in_demo_dns: bool,
    /// The demo DNS answers the expected record now.
    published: bool,
}

/// Who signed in to the sample host, from the ID token.
struct SignedIn {
    name: String,
    email: String,
    organization: String,
    role: String,
    groups: String,
    claims: String,
}

struct SignInProblem {
    message: String,
    code: String,
    /// Gatehouse's page about the code, for Gatehouse's own codes.
    link: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct HostQuery {
    dns: Option<String>,
    error: Option<String>,
}

/// The sample host page: mints a fresh embed token on every view, the way a
/// host's settings page would, and frames the Security tab with it. Around
/// it: the demo walkthrough, the demo DNS box and a "Sign in with SSO" form.
async fn host_page(
    req: HttpRequest,
    host: web::Data<HostApp>,
    query: web::Query<HostQuery>,
) -> Result<HttpResponse, PageError> {
    let embed = host
        .services
        .create_embed_token(&ChangeContext::system(), &host.org_id, &host.host_origin)
        .await?;
    let mut domains = Vec::new();
    for d in host.services.list_domains(&host.org_id).await? {
        let in_demo_dns = host.zone_for(&d.domain).is_some();
        let published = in_demo_dns
            && matches!(
                host.services.dns.lookup(&d.record_name()).await,
                Lookup::Records(records) if records.contains(&d.record_value())
            );
        domains.push(DomainRow {
            name: d.unicode(),
            status: d.status.as_str(),
            record_name: d.record_name(),
            record_value: d.record_value(),
            in_demo_dns,
            published,
        });
    }
    let dns_notice = query.dns.as_deref().map(|n| match n.parse::<usize>() {
        Ok(0) | Err(_) => format!(
            "Nothing to publish: add a domain under {} in the Security tab first (names elsewhere cannot be published in the demo DNS).",
            DEMO_ZONES.join(", ")
        ),
        Ok(1) => "Published 1 TXT record in the demo DNS. Now press Verify on the domain in the Security tab.".to_string(),
        Ok(n) => format!("Published {n} TXT records in the demo DNS. Now press Verify on the domains in the Security tab."),
    });
    let signed_in = match read_cookie(&req, &host, SESSION_COOKIE) {
        Some(claims) => Some(signed_in_view(&host, claims).await),
        None => None,
    };
    let page = HostPage {
        css: assets::url("demo-host.css"),
        script: assets::url("demo-host.js"),
        embed_url: embed.url,
        gatehouse_origin: host.gatehouse_origin.clone(),
        metadata_url: host.idp_metadata_url.clone(),
        oidc: host.idp_oidc.clone(),
        zones: DEMO_ZONES.join(", "),
        domains,
        dns_notice,
        signed_in,
        sign_in_error: query.error.as_deref().map(|c| sign_in_problem(&host, c)),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'self'; frame-src {}; img-src 'self' data:; frame-ancestors 'none'",
                host.gatehouse_origin
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

impl HostApp {
    /// The demo zone `domain` is in, if any.
    fn zone_for(&self, domain: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| {
            let origin = z.origin();
            let origin = origin.trim_end_matches('.');
            domain == origin || domain.ends_with(&format!(".{origin}"))
        })
    }

    fn redirect_uri(&self) -> String {
        format!("{}/demo/callback", self.host_origin)
    }
}

/// Form posts to the sample host come from its own page. (A browser always
/// sends `Origin` with a POST; `curl` does not, and is let through.)
fn check_origin(req: &HttpRequest, host: &HostApp) -> Result<(), PageError> {
    match req
        .headers()
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => Ok(()),
        Some(origin) if origin == host.host_origin => Ok(()),
        Some(_) => Err(PageError::new(
            StatusCode::FORBIDDEN,
            "csrf_origin_mismatch",
        )),
    }
}

fn see_other(location: &str, cookies: &[String]) -> HttpResponse {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for cookie in cookies {
        res.append_header((header::SET_COOKIE, cookie.clone()));
    }
    res.finish()
}

/// `POST /demo/dns/publish`: demo only. Puts the expected TXT record of
/// each of Acme's unverified domains under a demo zone into the demo DNS
/// server, as the IT admin would at their DNS provider.
async fn publish_dns(
    req: HttpRequest,
    host: web::Data<HostApp>,
) -> Result<HttpResponse, PageError> {
    check_origin(&req, &host)?;
    let mut published = 0;
    for d in host.services.list_domains(&host.org_id).await? {
        if d.status == Status::Verified {
            continue;
        }
        if let Some(zone) = host.zone_for(&d.domain) {
            zone.set_txt(&d.record_name(), &[&[&d.record_value()]])
                .await
                .map_err(PageError::internal)?;
            tracing::info!(name = %d.record_name(), "demo DNS: published a TXT record");
            published += 1;
        }
    }
    Ok(see_other(&format!("/demo?dns={published}#demo-dns"), &[]))
}

const LOGIN_COOKIE: &str = "demo_host_login";
const SESSION_COOKIE: &str = "demo_host_session";

/// A cookie value the sample host wrote itself: JSON, base64url, and a MAC
/// under the demo's secret key.
fn cookie_value(host: &HostApp, name: &str, value: &Value) -> String {
    let payload = URL_SAFE_NO_PAD.encode(value.to_string());
    let mac = crypto::mac(
        &host.services.secret_key,
        &format!("demo-host-cookie {name}"),
        &payload,
    );
    format!("{payload}.{mac}")
}

fn read_cookie(req: &HttpRequest, host: &HostApp, name: &str) -> Option<Value> {
    let cookie = req.cookie(name)?;
    let (payload, mac) = cookie.value().split_once('.')?;
    let expected = crypto::mac(
        &host.services.secret_key,
        &format!("demo-host-cookie {name}"),
        payload,
    );
    if !crypto::constant_time_eq(&expected, mac) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/demo; Max-Age={max_age}; HttpOnly; SameSite=Lax")
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
}

/// `POST /demo/login`: "Sign in with SSO". Off to Gatehouse's authorization
/// endpoint with the email as `login_hint`, a state, a nonce and PKCE; the
/// three are kept in a cookie for the callback.
async fn login(
    req: HttpRequest,
    host: web::Data<HostApp>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    check_origin(&req, &host)?;
    let email = form.email.trim();
    if email.len() > 254 || !email.contains('@') {
        return Ok(see_other("/demo?error=email_invalid#sign-in", &[]));
    }
    let state = crypto::random_token("");
    let nonce = crypto::random_token("");
    let verifier = crypto::random_token("");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(&format!("{}/oauth/authorize", host.gatehouse_origin))
        .map_err(PageError::internal)?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &host.client.id)
        .append_pair("redirect_uri", &host.redirect_uri())
        .append_pair("scope", "openid email profile")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("login_hint", email);
    let kept = json!({ "state": state, "nonce": nonce, "verifier": verifier });
    let cookie = set_cookie(LOGIN_COOKIE, &cookie_value(&host, LOGIN_COOKIE, &kept), 600);
    Ok(see_other(url.as_str(), &[cookie]))
}

#[derive(Debug, Default, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /demo/callback`: Gatehouse's answer. Checks the state, exchanges
/// the code (with the PKCE verifier) at the token endpoint, checks the ID
/// token (signature against the JWKS, issuer, audience, expiry, nonce) and
/// keeps its claims in the sample host's session cookie.
async fn callback(
    req: HttpRequest,
    host: web::Data<HostApp>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let clear = set_cookie(LOGIN_COOKIE, "", 0);
    let fail = |code: &str| {
        see_other(
            &format!("/demo?error={code}#sign-in"),
            std::slice::from_ref(&clear),
        )
    };
    let Some(kept) = read_cookie(&req, &host, LOGIN_COOKIE) else {
        return fail("login_expired");
    };
    let field = |name: &str| kept[name].as_str().unwrap_or_default().to_string();
    let state_matches = query
        .state
        .as_deref()
        .is_some_and(|s| crypto::constant_time_eq(s, &field("state")));
    if !state_matches {
        return fail("state_mismatch");
    }
    if let Some(error) = &query.error {
        return fail(&error_code(
            query.error_description.as_deref().unwrap_or(error),
        ));
    }
    let Some(code) = query.code.as_deref() else {
        return fail("code_missing");
    };
    let claims = match sign_in(&host, code, &field("verifier"), &field("nonce")).await {
        Ok(claims) => claims,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "demo host: the sign-in did not check out"
            );
            return fail("id_token_invalid");
        }
    };
    let session = set_cookie(
        SESSION_COOKIE,
        &cookie_value(&host, SESSION_COOKIE, &claims),
        3600,
    );
    see_other("/demo#sign-in", &[clear, session])
}

/// `POST /demo/logout`
async fn logout(req: HttpRequest, host: web::Data<HostApp>) -> Result<HttpResponse, PageError> {
    check_origin(&req, &host)?;
    Ok(see_other(
        "/demo#sign-in",
        &[set_cookie(SESSION_COOKIE, "", 0)],
    ))
}

/// An error code as Gatehouse writes them, or `unknown`.
fn error_code(raw: &str) -> String {
    if !raw.is_empty()
        && raw.len() <= 64
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        raw.to_string()
    } else {
        "unknown".to_string()
    }
}

fn sign_in_problem(host: &HostApp, raw: &str) -> SignInProblem {
    let code = error_code(raw);
    let own = match code.as_str() {
        "email_invalid" => Some("Type an email address, such as alice@acme.test."),
        "login_expired" => {
            Some("The sign-in took too long, or was started in another browser. Start it again.")
        }
        "state_mismatch" => Some(
            "The answer did not match the sign-in this page started (its state differs), so it was ignored.",
        ),
        "code_missing" => Some("Gatehouse's answer carried no code."),
        "id_token_invalid" => Some(
            "Exchanging the code or checking the ID token failed (signature, issuer, audience, expiry or nonce); the demo's log says why.",
        ),
        _ => None,
    };
    match own {
        Some(message) => SignInProblem {
            message: message.to_string(),
            code,
            link: None,
        },
        None => SignInProblem {
            message:
                "Gatehouse did not sign this person in, and sent the sample host this error code:"
                    .to_string(),
            link: Some(format!("{}/errors/{code}", host.gatehouse_origin)),
            code,
        },
    }
}

/// The token exchange and the ID token's checks; answers its claims.
async fn sign_in(host: &HostApp, code: &str, verifier: &str, nonce: &str) -> anyhow::Result<Value> {
    let res = host
        .http
        .post(format!("{}/oauth/token", host.gatehouse_origin))
        .basic_auth(&host.client.id, Some(host.client.secret.expose()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &host.redirect_uri()),
            ("code_verifier", verifier),
        ])
        .send()
        .await?;
    let status = res.status();
    let body: Value = res.json().await?;
    anyhow::ensure!(
        status.is_success(),
        "the token endpoint answered {status}: {body}"
    );
    let token = body["id_token"]
        .as_str()
        .context("the token response has no id_token")?;
    let claims = verify_id_token(host, token).await?;
    anyhow::ensure!(
        claims["nonce"]
            .as_str()
            .is_some_and(|n| crypto::constant_time_eq(n, nonce)),
        "the ID token is for another nonce"
    );
    Ok(claims)
}

/// RS256 against Gatehouse's published keys, then issuer, audience, expiry.
async fn verify_id_token(host: &HostApp, token: &str) -> anyhow::Result<Value> {
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;

    let parts: Vec<&str> = token.split('.').collect();
    let [head, payload, signature] = parts.as_slice() else {
        anyhow::bail!("the ID token is not a JWS");
    };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head)?)?;
    anyhow::ensure!(header["alg"] == "RS256", "the ID token is not RS256");
    let jwks: Value = host
        .http
        .get(format!("{}/oauth/jwks", host.gatehouse_origin))
        .send()
        .await?
        .json()
        .await?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == header["kid"]))
        .context("no published key has the ID token's kid")?;
    let component = |name: &str| -> anyhow::Result<BigNum> {
        let bytes = URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap_or_default())?;
        Ok(BigNum::from_slice(&bytes)?)
    };
    let key = PKey::from_rsa(Rsa::from_public_components(
        component("n")?,
        component("e")?,
    )?)?;
    let valid = Verifier::new(MessageDigest::sha256(), &key)?.verify_oneshot(
        &URL_SAFE_NO_PAD.decode(signature)?,
        format!("{head}.{payload}").as_bytes(),
    )?;
    anyhow::ensure!(valid, "the ID token's signature does not verify");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?;
    anyhow::ensure!(
        claims["iss"] == host.gatehouse_origin.as_str(),
        "the ID token is from another issuer"
    );
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => *aud == host.client.id,
        Value::Array(auds) => auds.iter().any(|a| *a == host.client.id.as_str()),
        _ => false,
    };
    anyhow::ensure!(audience_ok, "the ID token is for another client");
    anyhow::ensure!(
        claims["exp"]
            .as_i64()
            .is_some_and(|exp| exp > chrono::Utc::now().timestamp()),
        "the ID token has expired"
    );
    Ok(claims)
}

async fn signed_in_view(host: &HostApp, claims: Value) -> SignedIn {
    let text = |name: &str| claims[name].as_str().unwrap_or_default().to_string();
    let org_id = text("org_id");
    let organization = match host.services.get_organization(&org_id).await {
        Ok(org) => org.name,
        Err(_) => org_id,
    };
    let name = format!("{} {}", text("given_name"), text("family_name"))
        .trim()
        .to_string();
    SignedIn {
        name: if name.is_empty() { text("email") } else { name },
        email: text("email"),
        organization,
        role: text("org_role"),
        groups: claims["groups"]
            .as_array()
            .map(|g| {
                g.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        claims: serde_json::to_string_pretty(&claims).unwrap_or_default(),
    }
}

/// "Open the setup link": mints a one-time link and goes there.
async fn setup_link(host: web::Data<HostApp>) -> Result<HttpResponse, PageError> {
    let link = host
        .services
        .create_portal_link(
            &ChangeContext::system(),
            &host.org_id,
            Some(&format!("{}/demo", host.host_origin)),
        )
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, link.url))
        .finish())
}
