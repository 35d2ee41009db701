//! From a validated assertion to the identity Gatehouse provisions: email,
//! names, groups, and every raw attribute.

use super::acs::{AcsError, ValidatedAssertion};
use super::config::AttributeMapping;

/// Attribute names that usually carry each part, across the catalogue's
/// providers (Okta, Entra ID, Google, AD FS, OneLogin, JumpCloud, PingOne,
/// Keycloak, Auth0). Compared without regard to case.
pub const EMAIL: &[&str] = &[
    "email",
    "mail",
    "emailAddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "User.email",
    "urn:oid:0.9.2342.19200300.100.1.3",
];
pub const FIRST_NAME: &[&str] = &[
    "firstName",
    "givenName",
    "given_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "User.FirstName",
    "firstname",
    "urn:oid:2.5.4.42",
];
pub const LAST_NAME: &[&str] = &[
    "lastName",
    "surname",
    "family_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "User.LastName",
    "lastname",
    "sn",
    "urn:oid:2.5.4.4",
];
pub const GROUPS: &[&str] = &[
    "groups",
    "memberOf",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    "http://schemas.xmlsoap.org/claims/Group",
    "Role",
];

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Vec<String>,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// When the identity provider authenticated the person, if it said.
    pub authenticated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub attributes: Vec<(String, Vec<String>)>,
}

fn values<'a>(
    assertion: &'a ValidatedAssertion,
    mapped: Option<&str>,
    defaults: &[&str],
) -> Option<&'a Vec<String>> {
    let find = |name: &str| {
        assertion
            .attributes
            .iter()
            .find(|(n, v)| n.eq_ignore_ascii_case(name) && !v.is_empty())
            .map(|(_, v)| v)
    };
    match mapped {
        Some(name) => find(name),
        None => defaults.iter().find_map(|d| find(d)),
    }
}

fn looks_like_email(s: &str) -> bool {
    normalize_email(s).is_some()
}

/// `local@domain` with exactly one `@`, no quotes, spaces or control
/// characters in the local part, and a valid domain, returned with the
/// domain in its checked ASCII form: the address handed on is exactly the
/// one whose domain was checked.
pub fn normalize_email(s: &str) -> Option<String> {
    let s = s.trim();
    let (local, domain) = s.split_once('@')?;
    let forbidden = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '"' | '@' | '<' | '>' | '(' | ')' | ',' | ';' | ':' | '\\' | '[' | ']'
            )
    };
    if local.is_empty() || local.len() > 64 || local.chars().any(forbidden) || domain.contains('@')
    {
        return None;
    }
    let domain = crate::domain::domains::normalize(domain).ok()?;
    Some(format!("{}@{}", local.to_lowercase(), domain.ascii))
}

/// Picks the identity out of the assertion. The email comes from the mapped
/// attribute (or the usual names), else from an email-shaped NameID.
pub fn map(
    assertion: &ValidatedAssertion,
    mapping: &AttributeMapping,
) -> Result<Identity, AcsError> {
    let from_attribute = match mapping.email.as_deref() {
        Some("NameID") => None,
        other => values(assertion, other, EMAIL)
            .and_then(|v| v.first())
            .cloned(),
    };
    let email = from_attribute
        .or_else(|| assertion.name_id.clone().filter(|n| looks_like_email(n)))
        .and_then(|e| normalize_email(&e))
        .ok_or_else(|| AcsError {
            expected: Some(match mapping.email.as_deref() {
                Some(name) => format!("an email address in “{name}”"),
                None => format!(
                    "an email address in one of: {}, or an email-shaped NameID",
                    EMAIL.join(", ")
                ),
            }),
            received: Some(
                std::iter::once(format!(
                    "NameID: {}",
                    assertion.name_id.as_deref().unwrap_or("(none)")
                ))
                .chain(
                    assertion
                        .attributes
                        .iter()
                        .map(|(n, v)| format!("{n}: {}", v.join(", "))),
                )
                .collect::<Vec<_>>()
                .join("; "),
            ),
            ..AcsError::new(
                "saml_user_attribute_missing",
                "The response does not say the user's email address.",
            )
        })?;
    let first = |defaults, mapped: &Option<String>| {
        values(assertion, mapped.as_deref(), defaults)
            .and_then(|v| v.first())
            .cloned()
    };
    Ok(Identity {
        email,
        first_name: first(FIRST_NAME, &mapping.first_name),
        last_name: first(LAST_NAME, &mapping.last_name),
        groups: values(assertion, mapping.groups.as_deref(), GROUPS)
            .cloned()
            .unwrap_or_default(),
        name_id: assertion.name_id.clone(),
        name_id_format: assertion.name_id_format.clone(),
        session_index: assertion.session_index.clone(),
        authenticated_at: assertion.authn_instant,
        attributes: assertion.attributes.clone(),
    })
}

/// An assertion again from a test's record (each attribute's values
/// joined with ", ", and the NameID), for previewing what other attribute
/// settings would make of it with `map`. Only what `map` reads is
/// restored: it is not an assertion anyone could sign in with.
pub fn recorded_assertion(
    attributes: &[(String, String)],
    name_id: Option<&str>,
) -> ValidatedAssertion {
    ValidatedAssertion {
        assertion_id: String::new(),
        issuer: String::new(),
        name_id: name_id.filter(|n| !n.is_empty()).map(str::to_string),
        name_id_format: None,
        session_index: None,
        authn_instant: None,
        attributes: attributes
            .iter()
            .map(|(n, v)| (n.clone(), v.split(", ").map(str::to_string).collect()))
            .collect(),
        valid_until: chrono::DateTime::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn assertion(name_id: &str, attributes: &[(&str, &[&str])]) -> ValidatedAssertion {
        ValidatedAssertion {
            assertion_id: "_a".into(),
            issuer: "idp".into(),
            name_id: Some(name_id.into()),
            name_id_format: None,
            session_index: None,
            authn_instant: None,
            attributes: attributes
                .iter()
                .map(|(n, v)| (n.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            valid_until: Utc::now(),
        }
    }

    #[test]
    fn entra_claims_are_understood_by_default() {
        let a = assertion(
            "b7c1-opaque-id",
            &[
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                    &["Alice@Acme.test"],
                ),
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                    &["Alice"],
                ),
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                    &["Liddell"],
                ),
                (
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                    &["g1", "g2"],
                ),
            ],
        );
        let id = map(&a, &AttributeMapping::default()).expect("maps");
        assert_eq!(id.email, "alice@acme.test");
        assert_eq!(id.first_name.as_deref(), Some("Alice"));
        assert_eq!(id.groups, vec!["g1", "g2"]);
    }

    #[test]
    fn a_recorded_test_maps_as_its_assertion_did() {
        let recorded = [
            (
                "mail".to_string(),
                "Alice@Acme.test, alice@old.test".to_string(),
            ),
            ("upn".to_string(), "alice.l@acme.test".to_string()),
        ];
        let a = recorded_assertion(&recorded, Some("opaque"));
        let id = map(&a, &AttributeMapping::default()).expect("maps");
        assert_eq!(id.email, "alice@acme.test", "the first value");
        let upn = AttributeMapping {
            email: Some("upn".into()),
            ..AttributeMapping::default()
        };
        assert_eq!(map(&a, &upn).expect("maps").email, "alice.l@acme.test");
        let none = recorded_assertion(&[], Some(""));
        assert_eq!(none.name_id, None);
    }

    #[test]
    fn the_name_id_is_used_when_it_is_an_email_and_no_attribute_is() {
        let id = map(
            &assertion("bob@acme.test", &[]),
            &AttributeMapping::default(),
        )
        .expect("maps");
        assert_eq!(id.email, "bob@acme.test");
        let err = map(
            &assertion("opaque-123", &[("department", &["R&D"])]),
            &AttributeMapping::default(),
        )
        .expect_err("no email");
        assert_eq!(err.code, "saml_user_attribute_missing");
        assert!(err.received.expect("received").contains("department: R&D"));
    }

    #[test]
    fn an_address_with_two_at_signs_is_not_an_email() {
        for bad in [
            "ceo@victim.test@attacker.test",
            "\"a@b\"@acme.test",
            "a b@acme.test",
            "@acme.test",
            "alice@",
        ] {
            let a = assertion(bad, &[("email", &[bad])]);
            assert_eq!(
                map(&a, &AttributeMapping::default()).expect_err(bad).code,
                "saml_user_attribute_missing",
                "{bad}"
            );
        }
        let id = map(
            &assertion("x", &[("email", &["Zoë@Bücher.Test"])]),
            &AttributeMapping::default(),
        )
        .expect("maps");
        assert_eq!(id.email, "zoë@xn--bcher-kva.test", "the domain as checked");
    }

    #[test]
    fn a_mapping_picks_the_attribute() {
        let a = assertion(
            "x#EXT#@tenant.onmicrosoft.example",
            &[
                ("mail", &["carol@acme.test"]),
                ("upn", &["carol_ext@acme.test"]),
            ],
        );
        let mapping = AttributeMapping {
            email: Some("upn".into()),
            ..AttributeMapping::default()
        };
        assert_eq!(
            map(&a, &mapping).expect("maps").email,
            "carol_ext@acme.test"
        );
    }
}
