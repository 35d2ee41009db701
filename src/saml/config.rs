//! The SAML settings of a connection, as stored (JSON) and shown.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::certificates::Certificate;
use super::sp_key::SpKey;

/// How the identity provider's side was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    MetadataUrl,
    MetadataXml,
    Manual,
}

/// How the AuthnRequest travels to the identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    Redirect,
    Post,
}

/// What Gatehouse understood of the identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpSettings {
    pub entity_id: String,
    pub sso_url: String,
    pub binding: Binding,
    pub certificates: Vec<Certificate>,
}

/// Which attribute supplies each part of the identity; `None` means the
/// provider's usual names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeMapping {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Option<String>,
}

/// Everything SAML about a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlConfig {
    pub source: Option<Source>,
    pub metadata_url: Option<String>,
    pub idp: Option<IdpSettings>,
    #[serde(default)]
    pub attribute_mapping: AttributeMapping,
    pub metadata_fetched_at: Option<DateTime<Utc>>,
    /// The last failed re-fetch of the metadata URL (the settings above are
    /// the last good ones).
    pub metadata_refresh_error: Option<String>,
    /// Sign AuthnRequests with the connection's SP key.
    #[serde(default)]
    pub sign_requests: bool,
    /// Require assertions encrypted to the connection's SP key.
    #[serde(default)]
    pub encrypt_assertions: bool,
    /// Gatehouse's key pair for this connection, made when signing or
    /// encryption is first turned on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_key: Option<SpKey>,
}

impl SamlConfig {
    /// Whether sign-ins can be attempted with these settings.
    pub fn is_complete(&self) -> bool {
        self.idp
            .as_ref()
            .is_some_and(|idp| !idp.certificates.is_empty())
    }
}
