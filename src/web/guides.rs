//! The step-by-step guide of each identity provider: one template per
//! provider under `templates/security/providers/`. Adding a provider is a
//! catalogue entry, its template, and one line here: in `guides!` for a
//! SAML provider, in `oidc_guides!` for an OpenID Connect one.

use askama::Template;

use super::error::PageError;
use crate::domain::connections::Provider;
use crate::saml::catalogue::Attributes;

/// What every SAML guide can show.
pub struct Vars<'a> {
    pub acs_url: &'a str,
    pub entity_id: &'a str,
    pub metadata_url: &'a str,
    pub org_name: &'a str,
    pub app_name: &'a str,
    pub attributes: Attributes,
}

macro_rules! guides {
    ($($provider:ident => $name:ident, $path:literal;)*) => {
        $(
            // Every guide may use every variable; not all of them do.
            #[allow(dead_code)]
            #[derive(Template)]
            #[template(path = $path)]
            struct $name<'a> {
                acs_url: &'a str,
                entity_id: &'a str,
                metadata_url: &'a str,
                org_name: &'a str,
                app_name: &'a str,
                email_attr: &'a str,
                first_name_attr: &'a str,
                last_name_attr: &'a str,
                groups_attr: &'a str,
            }
        )*

        /// The guide of `provider`, rendered.
        pub fn render(provider: Provider, v: &Vars) -> Result<String, PageError> {
            match provider {
                $(
                    Provider::$provider => Ok($name {
                        acs_url: v.acs_url,
                        entity_id: v.entity_id,
                        metadata_url: v.metadata_url,
                        org_name: v.org_name,
                        app_name: v.app_name,
                        email_attr: v.attributes.email,
                        first_name_attr: v.attributes.first_name,
                        last_name_attr: v.attributes.last_name,
                        groups_attr: v.attributes.groups,
                    }
                    .render()?),
                )*
                _ => Err(PageError::not_found()),
            }
        }
    };
}

guides! {
    Okta => OktaGuide, "security/providers/okta.html";
    GoogleWorkspace => GoogleWorkspaceGuide, "security/providers/google_workspace.html";
    EntraId => EntraIdGuide, "security/providers/entra_id.html";
    OneLogin => OneLoginGuide, "security/providers/onelogin.html";
    JumpCloud => JumpCloudGuide, "security/providers/jumpcloud.html";
    PingOne => PingOneGuide, "security/providers/pingone.html";
    Adfs => AdfsGuide, "security/providers/adfs.html";
    Keycloak => KeycloakGuide, "security/providers/keycloak.html";
    Auth0 => Auth0Guide, "security/providers/auth0.html";
    CustomSaml => CustomSamlGuide, "security/providers/custom_saml.html";
}

/// What every OpenID Connect guide can show.
pub struct OidcVars<'a> {
    pub redirect_uri: &'a str,
    pub org_name: &'a str,
    pub app_name: &'a str,
}

macro_rules! oidc_guides {
    ($($provider:ident => $name:ident, $path:literal;)*) => {
        $(
            // Every guide may use every variable; not all of them do.
            #[allow(dead_code)]
            #[derive(Template)]
            #[template(path = $path)]
            struct $name<'a> {
                redirect_uri: &'a str,
                org_name: &'a str,
                app_name: &'a str,
            }
        )*

        /// The OpenID Connect guide of `provider`, rendered; not found for
        /// a SAML provider.
        pub fn render_oidc(provider: Provider, v: &OidcVars) -> Result<String, PageError> {
            match provider {
                $(
                    Provider::$provider => Ok($name {
                        redirect_uri: v.redirect_uri,
                        org_name: v.org_name,
                        app_name: v.app_name,
                    }
                    .render()?),
                )*
                _ => Err(PageError::not_found()),
            }
        }
    };
}

oidc_guides! {
    OktaOidc => OktaOidcGuide, "security/providers/okta_oidc.html";
    GoogleWorkspaceOidc => GoogleWorkspaceOidcGuide, "security/providers/google_workspace_oidc.html";
    EntraIdOidc => EntraIdOidcGuide, "security/providers/entra_id_oidc.html";
    CustomOidc => CustomOidcGuide, "security/providers/custom_oidc.html";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::connections::Protocol;

    const REDIRECT_URI: &str = "https://sso.example.com/oidc/conn_1/callback?x=1&y=2";

    fn vars() -> OidcVars<'static> {
        OidcVars {
            redirect_uri: REDIRECT_URI,
            org_name: "Acme <Labs>",
            app_name: "Acme <Labs> single sign-on",
        }
    }

    #[test]
    fn every_oidc_provider_has_a_guide_with_the_redirect_uri_escaped() {
        let oidc: Vec<Provider> = Provider::ALL
            .into_iter()
            .filter(|p| p.protocol() == Protocol::Oidc)
            .collect();
        assert_eq!(oidc.len(), 4);
        for provider in oidc {
            let html = render_oidc(provider, &vars()).expect("the guide renders");
            assert!(
                html.contains(&format!("id=\"guide-{}\"", provider.as_str())),
                "{provider:?}: heading id"
            );
            assert!(
                html.contains("https://sso.example.com/oidc/conn_1/callback?x=1&#38;y=2"),
                "{provider:?}: escaped redirect URI in {html}"
            );
            assert!(
                !html.contains(REDIRECT_URI),
                "{provider:?}: unescaped redirect URI"
            );
            assert!(!html.contains("<Labs>"), "{provider:?}: unescaped app name");
            assert!(html.contains("Give Gatehouse the details"), "{provider:?}");
        }
    }

    #[test]
    fn saml_providers_have_no_oidc_guide() {
        for provider in Provider::ALL {
            if provider.protocol() == Protocol::Saml {
                let err = render_oidc(provider, &vars()).expect_err("no OIDC guide");
                assert_eq!(err.code, "not_found", "{provider:?}");
            }
        }
    }

    #[test]
    fn oidc_providers_have_no_saml_guide() {
        let v = Vars {
            acs_url: "https://sso.example.com/saml/conn_1/acs",
            entity_id: "https://sso.example.com/saml/conn_1",
            metadata_url: "https://sso.example.com/saml/conn_1/metadata",
            org_name: "Acme",
            app_name: "Acme single sign-on",
            attributes: Attributes {
                email: "email",
                first_name: "firstName",
                last_name: "lastName",
                groups: "groups",
            },
        };
        for provider in Provider::ALL {
            if provider.protocol() == Protocol::Oidc {
                assert!(render(provider, &v).is_err(), "{provider:?}");
            }
        }
    }
}
