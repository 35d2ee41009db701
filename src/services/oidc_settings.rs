//! The settings of an OpenID Connect connection: the provider's discovery
//! document fetched and checked, the client ID, and the client secret
//! sealed at rest (never shown again, only its last characters).

use super::{ServiceError, ServiceResult, Services};
use crate::crypto::seal;
use crate::domain::connections::{Connection, Provider};
use crate::oidc::config::{ClaimMapping, OidcConfig, ProviderMetadata};
use crate::oidc::discovery;

/// The provider's side of an OIDC connection, as given; what is left out
/// keeps its saved value.
#[derive(Debug, Clone, Default)]
pub struct OidcInput {
    pub discovery_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
}

impl OidcInput {
    pub fn is_empty(&self) -> bool {
        [&self.discovery_url, &self.client_id, &self.client_secret]
            .iter()
            .all(|f| f.as_deref().is_none_or(|v| v.trim().is_empty()))
            && self.scopes.is_none()
    }
}

/// The OIDC settings of a connection's current version.
pub fn oidc_config(c: &Connection) -> OidcConfig {
    serde_json::from_value(c.config.clone()).unwrap_or_default()
}

/// What the client secret is sealed for.
pub fn secret_context(connection_id: &str) -> String {
    format!("oidc-client-secret:{connection_id}")
}

fn refused(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Refused {
        code,
        message: message.into(),
    }
}

/// Extra scopes: OAuth scope tokens, once each, a handful at most.
fn clean_scopes(scopes: &[String]) -> ServiceResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for scope in scopes.iter().flat_map(|s| s.split_whitespace()) {
        let valid = scope.len() <= 100
            && scope
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
        if !valid {
            return Err(refused(
                "oidc_scope_invalid",
                format!(
                    "“{}” is not a valid scope.",
                    scope.chars().take(100).collect::<String>()
                ),
            ));
        }
        if !out.iter().any(|s| s == scope) {
            out.push(scope.to_string());
        }
    }
    if out.len() > 20 {
        return Err(refused("oidc_scope_invalid", "Give at most 20 scopes."));
    }
    Ok(out)
}

/// A claim mapping as given: a claim name (up to 256 visible characters,
/// no spaces) or nothing, which keeps the provider's rules.
pub fn clean_claim_mapping(mapping: ClaimMapping) -> ServiceResult<ClaimMapping> {
    let email = mapping
        .email
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(claim) = &email
        && (claim.len() > 256 || claim.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(refused(
            "oidc_email_claim_invalid",
            format!(
                "“{}” is not a claim name: give the name as the provider sends it, such as `upn` or `preferred_username`.",
                claim.chars().take(100).collect::<String>()
            ),
        ));
    }
    Ok(ClaimMapping { email })
}

impl Services {
    /// Fetches and checks the discovery document of the issuer or
    /// discovery URL an admin gave: the issuer it must name, the provider's
    /// settings, and the Entra ID tenant the issuer is pinned to.
    pub(super) async fn discover(
        &self,
        provider: Provider,
        given: &str,
    ) -> ServiceResult<(String, ProviderMetadata, Option<String>)> {
        let (location, issuer) =
            discovery::location(provider, given).map_err(|e| refused(e.code, e.message))?;
        let fetched = self
            .fetcher
            .get(&location, "application/json")
            .await
            .map_err(|e| refused(e.code, e.message))?;
        let (metadata, tenant) = discovery::parse(provider, &fetched.body, &issuer)
            .map_err(|e| refused(e.code, e.message))?;
        Ok((issuer, metadata, tenant))
    }

    /// Turns what the admin gave into checked settings, keeping what was
    /// not given. Nothing is stored here: on any error the caller keeps the
    /// last good settings.
    pub async fn resolve_oidc(
        &self,
        provider: Provider,
        connection_id: &str,
        input: &OidcInput,
        current: &OidcConfig,
    ) -> ServiceResult<OidcConfig> {
        let given = |f: &Option<String>| {
            f.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let mut config = current.clone();
        let new_url = given(&input.discovery_url);
        if new_url.is_some() || current.provider.is_none() {
            let url = new_url
                .or_else(|| current.discovery_url.clone())
                .unwrap_or_default();
            let (issuer, metadata, tenant) = self.discover(provider, &url).await?;
            config.discovery_url = Some(if url.is_empty() { issuer } else { url });
            config.provider = Some(metadata);
            config.tenant_id = tenant;
            config.discovered_at = Some(self.clock.now());
            config.discovery_refresh_error = None;
        }
        if let Some(client_id) = given(&input.client_id) {
            if client_id.len() > 512 {
                return Err(refused(
                    "oidc_settings_invalid",
                    "The client ID is longer than 512 characters.",
                ));
            }
            config.client_id = Some(client_id);
        }
        if let Some(secret) = given(&input.client_secret) {
            if secret.len() > 2048 {
                return Err(refused(
                    "oidc_settings_invalid",
                    "The client secret is longer than 2048 characters.",
                ));
            }
            let same = current
                .client_secret
                .as_deref()
                .and_then(|s| seal::open(&self.secret_key, &secret_context(connection_id), s).ok())
                .is_some_and(|old| old == secret.as_bytes());
            if !same {
                config.client_secret = Some(
                    seal::seal(
                        &self.secret_key,
                        &secret_context(connection_id),
                        secret.as_bytes(),
                    )
                    .map_err(|e| ServiceError::Unexpected(e.into()))?,
                );
                let chars: Vec<char> = secret.chars().collect();
                config.client_secret_hint =
                    (chars.len() >= 16).then(|| chars[chars.len() - 4..].iter().collect());
            }
        }
        if let Some(scopes) = &input.scopes {
            config.extra_scopes = clean_scopes(scopes)?;
        }
        let missing: Vec<&str> = [
            ("client ID", config.client_id.is_none()),
            ("client secret", config.client_secret.is_none()),
        ]
        .iter()
        .filter(|(_, absent)| *absent)
        .map(|(name, _)| *name)
        .collect();
        if !missing.is_empty() {
            return Err(refused(
                "oidc_settings_incomplete",
                format!("Also give the {}.", missing.join(" and ")),
            ));
        }
        Ok(config)
    }

    /// The client secret, opened.
    pub fn client_secret(&self, connection_id: &str, config: &OidcConfig) -> Option<String> {
        let sealed = config.client_secret.as_deref()?;
        let bytes = seal::open(&self.secret_key, &secret_context(connection_id), sealed).ok()?;
        String::from_utf8(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_names_are_trimmed_and_checked() {
        let clean = |c: &str| {
            clean_claim_mapping(ClaimMapping {
                email: Some(c.into()),
            })
        };
        assert_eq!(clean(" upn ").expect("ok").email.as_deref(), Some("upn"));
        assert_eq!(clean("  ").expect("ok").email, None, "the provider's rules");
        for bad in ["two words", "a\nb", &"x".repeat(257)] {
            assert!(matches!(
                clean(bad),
                Err(ServiceError::Refused {
                    code: "oidc_email_claim_invalid",
                    ..
                })
            ));
        }
    }

    #[test]
    fn scopes_are_tokens_once_each() {
        let scopes = clean_scopes(&["groups offline_access".into(), "groups".into()]).expect("ok");
        assert_eq!(scopes, ["groups", "offline_access"]);
        assert_eq!(
            clean_scopes(&["a\"b".into()])
                .expect_err("quote")
                .to_string(),
            "“a\"b” is not a valid scope."
        );
    }
}
