//! The step-by-step guide of each identity provider: one template per
//! provider under `templates/security/providers/`. Adding a provider is a
//! catalogue entry, its template, and one line here.

use askama::Template;

use super::error::PageError;
use crate::domain::connections::Provider;
use crate::saml::catalogue::Attributes;

/// What every guide can show.
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
