//! The command line: `serve`, `demo`, `migrate`, `api-key`, `signing-key`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::audit::{Actor, ChangeContext};
use crate::services::oauth::KeySwitch;
use crate::startup::{self, Application};
use crate::{demo, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Self-serve enterprise SSO for your SaaS product"
)]
pub struct Cli {
    /// TOML configuration file; environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service from configuration.
    Serve,
    /// Run everything locally with nothing to set up.
    Demo(demo::DemoArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage host API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage the keys ID tokens are signed with.
    #[command(subcommand, name = "signing-key")]
    SigningKey(SigningKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Make a new key. It is published at once and signs ID tokens ten
    /// minutes later, so hosts that cache the key set know it first; the
    /// key it replaces signs until then and stays published two days more,
    /// so tokens it signed still verify.
    Rotate {
        /// Sign with the new key at once (for a key that must stop signing
        /// now): hosts that cached the key set may refuse new ID tokens
        /// until they fetch it again.
        #[arg(long)]
        now: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print it (it is shown only once).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List keys (their prefixes, never their values).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

/// Runs the command; the error is printed by `main`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Demo(args) = cli.command {
        telemetry::init(crate::config::LogFormat::Text, "info,sqlx=warn");
        return demo::run(args).await;
    }
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    telemetry::init(config.log_format, &config.log_level);
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            startup::connect(&config).await?;
            println!("Migrations applied to {}.", config.database_url.redacted());
            Ok(())
        }
        Command::ApiKey(cmd) => api_key(config, cmd).await,
        Command::SigningKey(SigningKeyCommand::Rotate { now }) => {
            config.require_secret_key()?;
            let store = startup::connect(&config).await?;
            let services =
                startup::prepare_with_store(config, Arc::new(SystemClock), store).await?;
            let switch = if now {
                KeySwitch::Now
            } else {
                KeySwitch::AfterPublishing
            };
            let key = services.rotate_signing_key(switch).await?;
            match key.signs_from {
                Some(at) => println!(
                    "Key {} is published and signs ID tokens from {} (UTC); the current key signs until then.",
                    key.kid,
                    at.format("%Y-%m-%d %H:%M:%S")
                ),
                None => println!("ID tokens are now signed with key {}.", key.kid),
            }
            services.store.close().await;
            Ok(())
        }
        Command::Demo(_) => Ok(()),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    config.require_secret_key()?;
    let public = config.public_origin();
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    tracing::info!(address = %app.address(), public_url = %public, "Gatehouse is listening");
    app.run_until_stopped().await?;
    tracing::info!("Gatehouse stopped");
    Ok(())
}

async fn api_key(mut config: Config, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    // Key management needs the database, not the secret key.
    if config.secret_key.is_none() {
        config.secret_key = Some(crate::config::SecretKey::generate());
    }
    config.bootstrap_api_key = None;
    let store = startup::connect(&config).await?;
    let services = startup::prepare_with_store(config, Arc::new(SystemClock), store).await?;
    let ctx = ChangeContext::new(Actor::Cli, None);
    match cmd {
        ApiKeyCommand::Create { name } => {
            let (key, value) = services.create_api_key(&ctx, &name).await?;
            eprintln!(
                "Created API key {} ({}). Store it now: it is not shown again.",
                key.id, key.name
            );
            println!("{}", value.expose());
        }
        ApiKeyCommand::List => {
            for key in services.list_api_keys().await? {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}…\t{}\t{}", key.id, key.key_prefix, state, key.name);
            }
        }
        ApiKeyCommand::Revoke { id } => {
            services.revoke_api_key(&ctx, &id).await?;
            println!("Revoked {id}.");
        }
    }
    services.store.close().await;
    Ok(())
}
