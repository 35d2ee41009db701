//! The OpenID Connect providers the Connection step offers, and how each
//! names the one address Gatehouse needs from it.

use crate::domain::connections::Provider;

#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub provider: Provider,
    /// One line under the name in the picker.
    pub blurb: &'static str,
    /// The label of the issuer field.
    pub issuer_label: &'static str,
    pub issuer_placeholder: &'static str,
    /// Filled in for the admin where there is only one right answer.
    pub issuer_default: Option<&'static str>,
}

pub const OIDC: &[Entry] = &[
    Entry {
        provider: Provider::OktaOidc,
        blurb: "An OIDC web app integration in Okta",
        issuer_label: "Okta issuer (your Okta domain)",
        issuer_placeholder: "https://your-company.okta.com",
        issuer_default: None,
    },
    Entry {
        provider: Provider::GoogleWorkspaceOidc,
        blurb: "An OAuth client in Google Cloud for your Workspace",
        issuer_label: "Issuer",
        issuer_placeholder: "https://accounts.google.com",
        issuer_default: Some(crate::oidc::discovery::GOOGLE_ISSUER),
    },
    Entry {
        provider: Provider::EntraIdOidc,
        blurb: "An app registration in your Entra tenant",
        issuer_label: "Directory (tenant) ID, or the tenant's issuer URL",
        issuer_placeholder: "00000000-0000-0000-0000-000000000000",
        issuer_default: None,
    },
    Entry {
        provider: Provider::CustomOidc,
        blurb: "Any OpenID Connect provider",
        issuer_label: "Issuer or discovery URL",
        issuer_placeholder: "https://id.example.com",
        issuer_default: None,
    },
];

pub fn entry(provider: Provider) -> Option<&'static Entry> {
    OIDC.iter().find(|e| e.provider == provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::connections::Protocol;

    #[test]
    fn every_oidc_provider_has_exactly_one_entry() {
        for p in Provider::ALL
            .into_iter()
            .filter(|p| p.protocol() == Protocol::Oidc)
        {
            assert_eq!(OIDC.iter().filter(|e| e.provider == p).count(), 1, "{p:?}");
        }
    }
}
