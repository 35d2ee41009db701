//! Services: the operations the API, the pages and the CLI call. Each checks
//! the domain rules, writes through the store (change and audit event in one
//! transaction) and answers typed results or a `ServiceError`.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::{Config, SecretKey};
use crate::dns::TxtResolver;
use crate::domain::ValidationError;
use crate::fetch::Fetcher;
use crate::ids::Kind;
use crate::store::{Store, StoreError};

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod branding;
pub mod connections;
pub mod domains;
pub mod idp_refresh;
pub mod members;
pub mod oauth;
pub mod oidc_settings;
pub mod oidc_signin;
pub mod organizations;
pub mod saml_signin;
pub mod test_sign_in;
pub mod webhooks;

/// Everything a service needs; cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub clock: SharedClock,
    pub config: Arc<Config>,
    pub secret_key: SecretKey,
    pub dns: TxtResolver,
    pub fetcher: Fetcher,
    /// OIDC providers' signing keys, cached on this instance.
    pub jwks: Arc<crate::oidc::jwks::JwksCache>,
    /// Private keys (ID-token signing, SAML SP) opened once rather than
    /// per use; the database still says which keys are current.
    pub(crate) opened_keys: Arc<crate::crypto::opened_keys::OpenedKeys>,
    /// Which ID-token signing key is current, read at most once a second.
    pub(crate) current_signing_key: Arc<oauth::CurrentKey>,
    /// OAuth clients, read once each (they never change).
    pub(crate) known_clients: Arc<oauth::KnownClients>,
}

impl Services {
    pub fn new(
        store: Store,
        clock: SharedClock,
        config: Arc<Config>,
        secret_key: SecretKey,
        dns: TxtResolver,
        fetcher: Fetcher,
    ) -> Self {
        Self {
            store,
            clock,
            config,
            secret_key,
            dns,
            fetcher,
            jwks: Arc::default(),
            opened_keys: Arc::default(),
            current_signing_key: Arc::default(),
            known_clients: Arc::default(),
        }
    }
}

/// Why an operation was refused. Every variant but `Unexpected` is caused by
/// the caller and carries a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("no {kind} with id {id}")]
    NotFound { kind: Kind, id: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The request breaks a rule (e.g. a public suffix as a domain).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("unexpected: {0}")]
    Unexpected(#[source] anyhow::Error),
}

impl ServiceError {
    pub fn not_found(kind: Kind, id: &str) -> Self {
        Self::NotFound {
            kind,
            id: id.chars().take(100).collect(),
        }
    }

    /// The stable code clients see.
    pub fn code(&self) -> String {
        match self {
            ServiceError::Invalid(_) => "validation_failed".into(),
            ServiceError::NotFound { kind, .. } => {
                format!(
                    "{}_not_found",
                    kind.noun().to_ascii_lowercase().replace(' ', "_")
                )
            }
            ServiceError::Conflict { code, .. } | ServiceError::Refused { code, .. } => {
                (*code).into()
            }
            ServiceError::Unexpected(_) => "internal_error".into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Unexpected(e.into())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
