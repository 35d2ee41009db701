//! The OpenID Connect settings of a connection, as stored (JSON) and shown.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How Gatehouse authenticates at the provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    ClientSecretBasic,
    ClientSecretPost,
}

impl TokenAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuth::ClientSecretBasic => "client_secret_basic",
            TokenAuth::ClientSecretPost => "client_secret_post",
        }
    }
}

/// What Gatehouse read from the provider's discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    pub token_auth: TokenAuth,
}

/// Which claims supply the identity, where the provider's usual ones do not
/// fit (the counterpart of SAML's `AttributeMapping`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMapping {
    /// The claim read for the email address; `None` follows the provider's
    /// rules. A claim other than `email` is trusted only as
    /// `oidc::identity::map` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl ClaimMapping {
    pub fn is_default(&self) -> bool {
        self.email.is_none()
    }
}

/// Everything OpenID Connect about a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcConfig {
    /// The issuer or discovery URL, as given.
    pub discovery_url: Option<String>,
    pub provider: Option<ProviderMetadata>,
    pub client_id: Option<String>,
    /// Sealed (see `crypto::seal`), bound to the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The secret's last characters, to recognise it by ("ends in …").
    pub client_secret_hint: Option<String>,
    /// Scopes asked for beyond `openid email profile`.
    #[serde(default)]
    pub extra_scopes: Vec<String>,
    /// Entra ID: the directory (tenant) the issuer is pinned to.
    pub tenant_id: Option<String>,
    /// Part of the settings version, like the rest.
    #[serde(default, skip_serializing_if = "ClaimMapping::is_default")]
    pub claim_mapping: ClaimMapping,
    pub discovered_at: Option<DateTime<Utc>>,
    /// The last failed re-fetch of the discovery document (the settings
    /// above are the last good ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_refresh_error: Option<String>,
}

/// The scopes every sign-in asks for.
pub const BASE_SCOPES: &[&str] = &["openid", "email", "profile"];

impl OidcConfig {
    /// Whether sign-ins can be attempted with these settings.
    pub fn is_complete(&self) -> bool {
        self.provider.is_some() && self.client_id.is_some() && self.client_secret.is_some()
    }

    /// The scope parameter: the base scopes and the extra ones, once each.
    pub fn scope(&self) -> String {
        let mut scopes: Vec<&str> = BASE_SCOPES.to_vec();
        for s in &self.extra_scopes {
            if !scopes.contains(&s.as_str()) {
                scopes.push(s);
            }
        }
        scopes.join(" ")
    }
}

/// `/oidc/{connection_id}/callback`, from the public origin.
pub fn redirect_uri(public_origin: &str, connection_id: &str) -> String {
    format!("{public_origin}/oidc/{connection_id}/callback")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_start_with_the_base_ones_and_never_repeat() {
        let c = OidcConfig {
            extra_scopes: vec!["groups".into(), "email".into(), "offline_access".into()],
            ..OidcConfig::default()
        };
        assert_eq!(c.scope(), "openid email profile groups offline_access");
        assert_eq!(
            redirect_uri("https://sso.example.com", "conn_1"),
            "https://sso.example.com/oidc/conn_1/callback"
        );
    }
}
