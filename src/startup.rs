//! Building and running the service: storage, services, the HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::dns::TxtResolver;
use crate::fetch::{Fetcher, Policy};
use crate::services::Services;
use crate::store::Store;
use crate::{api, web as pages};

/// A built, bound service, ready to run.
pub struct Application {
    server: Server,
    address: SocketAddr,
    services: Services,
    /// The background jobs, and the webhook sender.
    jobs: Option<(tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>)>,
}

impl Application {
    /// Binds `config.bind` and builds the service.
    pub async fn build(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        Self::build_with_listener(config, clock, listener).await
    }

    /// Builds the service on a listener bound by the caller (tests bind port 0).
    pub async fn build_with_listener(
        config: Config,
        clock: SharedClock,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let services = prepare(config, clock).await?;
        Self::serve(services, listener)
    }

    /// Serves already prepared services on a listener.
    pub fn serve(services: Services, listener: TcpListener) -> anyhow::Result<Self> {
        Self::serve_with(services, listener, |_: &mut web::ServiceConfig| {})
    }

    /// Serves with extra routes (the demo adds its own).
    pub fn serve_with(
        services: Services,
        listener: TcpListener,
        extra: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    ) -> anyhow::Result<Self> {
        let address = listener.local_addr()?;
        let data = web::Data::new(services.clone());
        let server = HttpServer::new(move || {
            let extra = extra.clone();
            App::new()
                .app_data(data.clone())
                // Inside the request context, so its logs carry the request id.
                .wrap(from_fn(pages::branding::context))
                .wrap(from_fn(pages::middleware::request_context))
                .service(api::scope())
                .configure(pages::configure)
                .configure(move |cfg| extra(cfg))
                .default_service(web::to(pages::pages::not_found))
        })
        .shutdown_timeout(30)
        .client_request_timeout(Duration::from_secs(30))
        .listen(listener)?
        .run();
        let jobs = services.config.run_background_jobs.then(|| {
            (
                tokio::spawn(background_jobs(services.clone())),
                tokio::spawn(webhook_jobs(services.clone())),
            )
        });
        Ok(Self {
            server,
            address,
            services,
            jobs,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGTERM or SIGINT, finishing requests in flight first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some((jobs, webhooks)) = self.jobs {
            jobs.abort();
            webhooks.abort();
        }
        self.services.store.close().await;
        result
    }
}

/// How often the background jobs look for due work.
const JOB_TICK: Duration = Duration::from_secs(20);
/// How often webhooks look for new events and due retries; every
/// `WEBHOOK_FULL_PASS_EVERY`th time, the full pass runs instead.
const WEBHOOK_TICK: Duration = Duration::from_secs(1);
const WEBHOOK_FULL_PASS_EVERY: u32 = 20;

/// Sends webhooks: every second the events new since the last look and the
/// retries that are due; every 20 seconds also the events committed late,
/// and the purge of old deliveries. Every instance runs it; leases on
/// deliveries make sure each attempt is made by one.
async fn webhook_jobs(services: Services) {
    let mut tick = tokio::time::interval(WEBHOOK_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut until_full_pass = 0;
    loop {
        tick.tick().await;
        let pass = if until_full_pass == 0 {
            until_full_pass = WEBHOOK_FULL_PASS_EVERY;
            services.run_webhook_pass().await
        } else {
            services.send_new_webhooks().await
        };
        until_full_pass -= 1;
        match pass {
            Ok(pass) if pass == Default::default() => {}
            Ok(pass) => tracing::info!(
                enqueued = pass.enqueued,
                delivered = pass.delivered,
                failed = pass.failed,
                "webhook pass"
            ),
            Err(e) => tracing::warn!(error = %e, "webhook pass failed"),
        }
    }
}

/// Background work: following the database's clock, re-checking pending
/// domains, re-fetching SAML metadata and OpenID Connect discovery
/// documents, forgetting expired sign-in state. Every instance runs it;
/// leases in the database keep two instances from doing the same domain or
/// refreshing the same connection.
async fn background_jobs(services: Services) {
    let mut tick = tokio::time::interval(JOB_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut clock_off = false;
    loop {
        tick.tick().await;
        clock_off = follow_database_clock(&services.store, clock_off).await;
        match services.run_due_domain_checks().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(checked = n, "re-checked pending domains"),
            Err(e) => tracing::warn!(error = %e, "domain re-check pass failed"),
        }
        match services.refresh_saml_metadata().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(refreshed = n, "re-fetched SAML metadata"),
            Err(e) => tracing::warn!(error = %e, "metadata refresh pass failed"),
        }
        match services.refresh_oidc_discovery().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                refreshed = n,
                "re-fetched OpenID Connect discovery documents"
            ),
            Err(e) => tracing::warn!(error = %e, "discovery refresh pass failed"),
        }
        if let Err(e) = services
            .store
            .purge_expired_saml_state(services.clock.now())
            .await
        {
            tracing::warn!(error = %e, "purging expired SAML state failed");
        }
        if let Err(e) = services
            .store
            .purge_expired_oidc_flows(services.clock.now())
            .await
        {
            tracing::warn!(error = %e, "purging expired OIDC flows failed");
        }
        if let Err(e) = services
            .store
            .purge_expired_oauth(services.clock.now())
            .await
        {
            tracing::warn!(error = %e, "purging expired OAuth codes and tokens failed");
        }
    }
}

/// Connects to the database, applies migrations and makes sure the bootstrap
/// API key exists.
pub async fn prepare(config: Config, clock: SharedClock) -> anyhow::Result<Services> {
    config.require_secret_key()?;
    let store = connect(&config).await?;
    prepare_with_store(config, clock, store).await
}

/// Like `prepare`, on a store that is already open and migrated.
pub async fn prepare_with_store(
    config: Config,
    clock: SharedClock,
    store: Store,
) -> anyhow::Result<Services> {
    let secret_key = config.require_secret_key()?.clone();
    let dns = TxtResolver::new(&config.dns_servers, config.dns_timeout)
        .context("cannot set up the DNS resolver")?;
    let fetcher = Fetcher::new(Policy::new(config.allow_private_network_fetch))
        .context("cannot set up the HTTP client")?;
    let services = Services::new(store, clock, Arc::new(config), secret_key, dns, fetcher);
    if let Some(key) = services.config.bootstrap_api_key.clone() {
        services
            .ensure_bootstrap_api_key(&key)
            .await
            .context("cannot store the bootstrap API key")?;
    }
    Ok(services)
}

/// Opens the database and applies migrations.
pub async fn connect(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url)
        .await
        .with_context(|| {
            let hint = if config.database_url.is_sqlite() {
                " (does its folder exist, and may this user write there?)"
            } else {
                ""
            };
            format!(
                "cannot open the database {}{hint}",
                config.database_url.redacted()
            )
        })?;
    store.migrate().await.context("cannot apply migrations")?;
    follow_database_clock(&store, false).await;
    tracing::info!(backend = store.backend_name(), "database ready");
    Ok(store)
}

/// How far this machine's clock may be from the database's before it is
/// reported: SAML and OpenID Connect time checks use this machine's clock.
const CLOCK_DISAGREEMENT_REPORTED: chrono::Duration = chrono::Duration::seconds(10);

/// On PostgreSQL, makes new ids follow the database's clock, and reports a
/// machine clock far from it when it first is (`was_off` false); answers
/// whether it is.
async fn follow_database_clock(store: &Store, was_off: bool) -> bool {
    let ahead = match store.database_clock_ahead().await {
        Ok(Some(ahead)) => ahead,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "reading the database's clock failed");
            return was_off;
        }
    };
    crate::ids::follow_database_clock(ahead);
    let off = ahead.abs() > CLOCK_DISAGREEMENT_REPORTED;
    if off && !was_off {
        tracing::error!(
            database_clock_ahead_ms = ahead.num_milliseconds(),
            "this machine's clock disagrees with the database's by more than {} s; \
             keep every instance's clock in sync (NTP): expiry and the time checks \
             of SAML and OpenID Connect use this machine's clock",
            CLOCK_DISAGREEMENT_REPORTED.num_seconds()
        );
    } else if !off && was_off {
        tracing::info!(
            database_clock_ahead_ms = ahead.num_milliseconds(),
            "this machine's clock agrees with the database's again"
        );
    }
    off
}
