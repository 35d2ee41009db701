//! The SAML identity providers the Connection step offers, and the
//! attribute names each sends when set up as Gatehouse's guide says.

use crate::domain::connections::Provider;

/// The names of the attributes Gatehouse expects from a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    pub email: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub groups: &'static str,
}

const CLAIMS: Attributes = Attributes {
    email: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    first_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    last_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    groups: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
};

const PLAIN: Attributes = Attributes {
    email: "email",
    first_name: "firstName",
    last_name: "lastName",
    groups: "groups",
};

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub provider: Provider,
    /// One line under the name in the picker.
    pub blurb: &'static str,
    pub attributes: Attributes,
    /// Shown first in the picker.
    pub featured: bool,
}

pub const SAML: &[Entry] = &[
    Entry {
        provider: Provider::Okta,
        blurb: "Okta Workforce Identity Cloud, with a SAML 2.0 app integration.",
        attributes: PLAIN,
        featured: true,
    },
    Entry {
        provider: Provider::GoogleWorkspace,
        blurb: "A custom SAML app in the Google Admin console.",
        attributes: PLAIN,
        featured: true,
    },
    Entry {
        provider: Provider::EntraId,
        blurb: "A non-gallery enterprise application in Microsoft Entra ID (formerly Azure AD).",
        attributes: CLAIMS,
        featured: true,
    },
    Entry {
        provider: Provider::CustomSaml,
        blurb: "Any other identity provider that speaks SAML 2.0.",
        attributes: PLAIN,
        featured: true,
    },
    Entry {
        provider: Provider::OneLogin,
        blurb: "The SAML Custom Connector (Advanced) in OneLogin.",
        attributes: PLAIN,
        featured: false,
    },
    Entry {
        provider: Provider::JumpCloud,
        blurb: "A custom SAML application in the JumpCloud Admin Portal.",
        attributes: Attributes {
            email: "email",
            first_name: "firstname",
            last_name: "lastname",
            groups: "memberOf",
        },
        featured: false,
    },
    Entry {
        provider: Provider::PingOne,
        blurb: "A SAML application in the PingOne admin console.",
        attributes: Attributes {
            email: "email",
            first_name: "given_name",
            last_name: "family_name",
            groups: "groups",
        },
        featured: false,
    },
    Entry {
        provider: Provider::Adfs,
        blurb: "A relying party trust in Active Directory Federation Services.",
        attributes: Attributes {
            groups: "http://schemas.xmlsoap.org/claims/Group",
            ..CLAIMS
        },
        featured: false,
    },
    Entry {
        provider: Provider::Keycloak,
        blurb: "A SAML client in a Keycloak realm.",
        attributes: PLAIN,
        featured: false,
    },
    Entry {
        provider: Provider::Auth0,
        blurb: "The SAML2 Web App addon of an Auth0 application.",
        attributes: Attributes {
            groups: "http://schemas.xmlsoap.org/claims/Group",
            ..CLAIMS
        },
        featured: false,
    },
];

pub fn entry(provider: Provider) -> Option<&'static Entry> {
    SAML.iter().find(|e| e.provider == provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::connections::Protocol;

    #[test]
    fn every_saml_provider_has_exactly_one_entry() {
        for p in Provider::ALL
            .into_iter()
            .filter(|p| p.protocol() == Protocol::Saml)
        {
            assert_eq!(SAML.iter().filter(|e| e.provider == p).count(), 1, "{p:?}");
        }
        assert_eq!(SAML.iter().filter(|e| e.featured).count(), 4);
    }

    #[test]
    fn the_expected_names_are_ones_the_identity_mapping_reads_by_default() {
        use crate::saml::identity::{EMAIL, FIRST_NAME, GROUPS, LAST_NAME};
        let known = |list: &[&str], name: &str| list.iter().any(|n| n.eq_ignore_ascii_case(name));
        for e in SAML {
            assert!(known(EMAIL, e.attributes.email), "{:?} email", e.provider);
            assert!(
                known(FIRST_NAME, e.attributes.first_name),
                "{:?} first",
                e.provider
            );
            assert!(
                known(LAST_NAME, e.attributes.last_name),
                "{:?} last",
                e.provider
            );
            assert!(
                known(GROUPS, e.attributes.groups),
                "{:?} groups",
                e.provider
            );
        }
    }
}
