//! Reading a provider's discovery document
//! (`/.well-known/openid-configuration`): where it is, and what it must say.

use serde::Deserialize;

use super::config::{ProviderMetadata, TokenAuth};
use crate::domain::connections::Provider;
use crate::saml::SettingsError;

const WELL_KNOWN: &str = "/.well-known/openid-configuration";
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const ENTRA_HOST: &str = "https://login.microsoftonline.com";
/// Entra's shared endpoints, which accept any tenant's users.
const ENTRA_SHARED_TENANTS: &[&str] = &["common", "organizations", "consumers"];

fn refused(code: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::new(code, message)
}

/// Where the discovery document of what the admin gave lives, and the
/// issuer it must name. Entra ID also takes a bare tenant ID or domain.
pub fn location(provider: Provider, given: &str) -> Result<(String, String), SettingsError> {
    let given = given.trim();
    let given = if given.is_empty() && provider == Provider::GoogleWorkspaceOidc {
        GOOGLE_ISSUER
    } else {
        given
    };
    if given.is_empty() {
        return Err(refused(
            "oidc_settings_incomplete",
            "Give the provider's issuer or discovery URL.",
        ));
    }
    let given = if provider == Provider::EntraIdOidc && !given.contains('/') {
        format!("{ENTRA_HOST}/{given}/v2.0")
    } else {
        given.to_string()
    };
    let url = url::Url::parse(&given).map_err(|_| {
        refused(
            "oidc_discovery_url_invalid",
            format!(
                "“{}” is not a URL. Give the issuer (for example https://your-company.okta.com) or its discovery URL.",
                given.chars().take(200).collect::<String>()
            ),
        )
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.query().is_some() {
        return Err(refused(
            "oidc_discovery_url_invalid",
            "The issuer or discovery URL must be an https:// address without a query.",
        ));
    }
    let text = url.as_str().trim_end_matches('/').to_string();
    let issuer = text
        .strip_suffix(WELL_KNOWN)
        .map(str::to_string)
        .unwrap_or_else(|| text.clone());
    if provider == Provider::EntraIdOidc {
        let tenant = entra_tenant_segment(&issuer).unwrap_or_default();
        if tenant.is_empty() || ENTRA_SHARED_TENANTS.contains(&tenant.to_ascii_lowercase().as_str())
        {
            return Err(refused(
                "oidc_entra_tenant_required",
                "Use your own tenant's address, https://login.microsoftonline.com/<Directory (tenant) ID>/v2.0: the shared common and organizations endpoints would let people of any Microsoft tenant in.",
            ));
        }
    }
    Ok((format!("{issuer}{WELL_KNOWN}"), issuer))
}

fn entra_tenant_segment(issuer: &str) -> Option<&str> {
    issuer
        .strip_prefix(ENTRA_HOST)?
        .trim_start_matches('/')
        .split('/')
        .next()
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    response_types_supported: Option<Vec<String>>,
}

/// The settings a discovery document gives, checked: it must name the
/// issuer it was fetched for (or, for Entra ID, a tenant's own issuer),
/// support the code flow, and take a client secret at its token endpoint.
pub fn parse(
    provider: Provider,
    body: &[u8],
    expected_issuer: &str,
) -> Result<(ProviderMetadata, Option<String>), SettingsError> {
    let doc: Document = serde_json::from_slice(body).map_err(|e| {
        refused(
            "oidc_discovery_invalid",
            format!("The discovery document is not valid OpenID Connect metadata ({e})."),
        )
    })?;
    let mut tenant_id = None;
    if provider == Provider::EntraIdOidc {
        // A tenant named by domain answers with its ID in the issuer.
        let tenant = entra_tenant_segment(&doc.issuer)
            .filter(|t| is_guid(t) && doc.issuer.ends_with("/v2.0"))
            .ok_or_else(|| {
                refused(
                    "oidc_entra_tenant_required",
                    format!(
                        "The discovery document names the issuer “{}”, not one tenant's v2.0 issuer.",
                        doc.issuer.chars().take(200).collect::<String>()
                    ),
                )
            })?;
        tenant_id = Some(tenant.to_ascii_lowercase());
    } else if doc.issuer.trim_end_matches('/') != expected_issuer.trim_end_matches('/') {
        return Err(refused(
            "oidc_discovery_issuer_mismatch",
            format!(
                "The discovery document names the issuer “{}”, but it was fetched for “{expected_issuer}”. Give the provider's exact issuer.",
                doc.issuer.chars().take(200).collect::<String>()
            ),
        ));
    }
    if doc
        .response_types_supported
        .as_ref()
        .is_some_and(|t| !t.iter().any(|t| t == "code"))
    {
        return Err(refused(
            "oidc_discovery_invalid",
            "The provider does not offer the authorization code flow.",
        ));
    }
    let methods = doc
        .token_endpoint_auth_methods_supported
        .unwrap_or_else(|| vec!["client_secret_basic".into()]);
    let token_auth = if methods.iter().any(|m| m == "client_secret_basic") {
        TokenAuth::ClientSecretBasic
    } else if methods.iter().any(|m| m == "client_secret_post") {
        TokenAuth::ClientSecretPost
    } else {
        return Err(refused(
            "oidc_client_auth_unsupported",
            format!(
                "The provider's token endpoint takes neither client_secret_basic nor client_secret_post (it lists {}).",
                methods.join(", ")
            ),
        ));
    };
    for (name, value) in [
        ("authorization_endpoint", Some(&doc.authorization_endpoint)),
        ("token_endpoint", Some(&doc.token_endpoint)),
        ("jwks_uri", Some(&doc.jwks_uri)),
        ("userinfo_endpoint", doc.userinfo_endpoint.as_ref()),
    ] {
        if let Some(v) = value
            && url::Url::parse(v).is_err()
        {
            return Err(refused(
                "oidc_discovery_invalid",
                format!("The discovery document's {name} is not a URL."),
            ));
        }
    }
    Ok((
        ProviderMetadata {
            issuer: doc.issuer,
            authorization_endpoint: doc.authorization_endpoint,
            token_endpoint: doc.token_endpoint,
            userinfo_endpoint: doc.userinfo_endpoint,
            jwks_uri: doc.jwks_uri,
            token_auth,
        },
        tenant_id,
    ))
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn the_issuer_or_the_discovery_url_is_accepted() {
        let (url, issuer) = location(Provider::OktaOidc, "https://acme.okta.com/").expect("ok");
        assert_eq!(
            url,
            "https://acme.okta.com/.well-known/openid-configuration"
        );
        assert_eq!(issuer, "https://acme.okta.com");
        let (url2, issuer2) = location(
            Provider::CustomOidc,
            "https://id.example/realms/x/.well-known/openid-configuration",
        )
        .expect("ok");
        assert_eq!(issuer2, "https://id.example/realms/x");
        assert!(url2.ends_with("/realms/x/.well-known/openid-configuration"));
        let (_, google) = location(Provider::GoogleWorkspaceOidc, "").expect("default");
        assert_eq!(google, GOOGLE_ISSUER);
        assert_eq!(
            location(Provider::CustomOidc, "not a url")
                .expect_err("bad")
                .code,
            "oidc_discovery_url_invalid"
        );
    }

    #[test]
    fn entra_needs_one_tenant() {
        let (_, issuer) = location(Provider::EntraIdOidc, TENANT).expect("bare tenant");
        assert_eq!(
            issuer,
            format!("https://login.microsoftonline.com/{TENANT}/v2.0")
        );
        for shared in [
            "common",
            "organizations",
            "https://login.microsoftonline.com/common/v2.0",
        ] {
            assert_eq!(
                location(Provider::EntraIdOidc, shared)
                    .expect_err(shared)
                    .code,
                "oidc_entra_tenant_required"
            );
        }
        let doc = serde_json::json!({
            "issuer": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
            "authorization_endpoint": "https://login.microsoftonline.com/x/oauth2/v2.0/authorize",
            "token_endpoint": "https://login.microsoftonline.com/x/oauth2/v2.0/token",
            "jwks_uri": "https://login.microsoftonline.com/x/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        });
        let (meta, tenant) = parse(
            Provider::EntraIdOidc,
            doc.to_string().as_bytes(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
        )
        .expect("a tenant named by domain answers with its ID");
        assert_eq!(tenant.as_deref(), Some(TENANT));
        assert_eq!(meta.token_auth, TokenAuth::ClientSecretBasic);
        let template = serde_json::json!({
            "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
            "authorization_endpoint": "https://a", "token_endpoint": "https://t", "jwks_uri": "https://j",
        });
        assert_eq!(
            parse(Provider::EntraIdOidc, template.to_string().as_bytes(), "x")
                .expect_err("template")
                .code,
            "oidc_entra_tenant_required"
        );
    }

    #[test]
    fn the_document_must_name_its_issuer_and_take_a_secret() {
        let doc = |issuer: &str, methods: serde_json::Value| {
            serde_json::json!({
                "issuer": issuer, "authorization_endpoint": "https://i/auth", "token_endpoint": "https://i/token",
                "jwks_uri": "https://i/jwks", "token_endpoint_auth_methods_supported": methods,
            })
            .to_string()
        };
        let ok = parse(
            Provider::CustomOidc,
            doc("https://i/", serde_json::json!(["client_secret_post"])).as_bytes(),
            "https://i",
        )
        .expect("trailing slash aside, the same");
        assert_eq!(ok.0.token_auth, TokenAuth::ClientSecretPost);
        assert_eq!(
            parse(
                Provider::CustomOidc,
                doc("https://evil", serde_json::json!([])).as_bytes(),
                "https://i"
            )
            .expect_err("mix-up")
            .code,
            "oidc_discovery_issuer_mismatch"
        );
        assert_eq!(
            parse(
                Provider::CustomOidc,
                doc("https://i", serde_json::json!(["private_key_jwt"])).as_bytes(),
                "https://i"
            )
            .expect_err("no secret")
            .code,
            "oidc_client_auth_unsupported"
        );
        assert_eq!(
            parse(Provider::CustomOidc, b"<html>", "https://i")
                .expect_err("html")
                .code,
            "oidc_discovery_invalid"
        );
    }
}
