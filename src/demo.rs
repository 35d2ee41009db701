//! `gatehouse demo`: everything on one machine with nothing to set up.
//!
//! Gatehouse runs on 127.0.0.1 and a sample host application on
//! `localhost`, a different site, so the Security tab really is embedded
//! cross-site the way a customer's product would embed it.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use askama::Template;

use crate::clock::SystemClock;
use crate::config::{Config, DatabaseUrl, Secret, SecretKey};
use crate::crypto;
use crate::domain::audit::ChangeContext;
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

/// What the sample host application needs to know.
#[derive(Clone)]
struct HostApp {
    services: Services,
    org_id: String,
    host_origin: String,
    gatehouse_origin: String,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (app, host, api_key) = start(&args).await?;
    let setup = app
        .services()
        .create_portal_link(&ChangeContext::system(), &host.org_id, None)
        .await?;
    let gatehouse = host.gatehouse_origin.clone();
    let host_origin = host.host_origin.clone();
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
    println!("  Press Ctrl+C to stop.");
    println!();

    let (a, b) = futures_util::future::join(app.run_until_stopped(), host_server).await;
    a?;
    b?;
    Ok(())
}

/// Opens the demo database, seeds it, and builds Gatehouse on its port.
async fn start(args: &DemoArgs) -> anyhow::Result<(Application, HostApp, Secret)> {
    let gatehouse_origin = format!("http://127.0.0.1:{}", args.port);
    let host_origin = format!("http://localhost:{}", args.host_port);
    let mut config = Config::defaults();
    config.database_url =
        DatabaseUrl::new(format!("sqlite://{}?mode=rwc", args.database.display()));
    config.bind = SocketAddr::from(([127, 0, 0, 1], args.port));
    config.public_url = url::Url::parse(&gatehouse_origin)?;
    config.allow_private_network_fetch = true;

    let store = startup::connect(&config).await?;
    // The demo keeps its secret key and API key in its own database, so a
    // restart keeps working with what it printed before.
    let secret = store
        .get_or_insert_setting("demo_secret_key", &SecretKey::generate().to_base64())
        .await?;
    config.secret_key = Some(SecretKey::from_base64(&secret).map_err(anyhow::Error::msg)?);
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
    let host_page_url = format!("{host_origin}/demo");
    let app = Application::serve_with(
        services.clone(),
        listener,
        move |cfg: &mut web::ServiceConfig| {
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
    Ok((
        app,
        HostApp {
            services,
            org_id: org.id,
            host_origin,
            gatehouse_origin,
        },
        api_key,
    ))
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
}

/// The sample host page: mints a fresh embed token on every view, the way a
/// host's settings page would, and frames the Security tab with it.
async fn host_page(host: web::Data<HostApp>) -> Result<HttpResponse, PageError> {
    let embed = host
        .services
        .create_embed_token(&ChangeContext::system(), &host.org_id, &host.host_origin)
        .await?;
    let page = HostPage {
        css: assets::url("demo-host.css"),
        script: assets::url("demo-host.js"),
        embed_url: embed.url,
        gatehouse_origin: host.gatehouse_origin.clone(),
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
