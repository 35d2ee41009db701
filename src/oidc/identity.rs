//! From verified claims (the ID token's, with userinfo's added) to an
//! identity, by each provider's rules for trusting an email address:
//! `email_verified` where the provider sends it; for Entra ID the pinned
//! tenant and the object ID; for Google the hosted domain (checked against
//! the organization's domains by the caller).

use serde_json::{Map, Value};

use crate::domain::connections::Provider;
use crate::domain::sign_in::SignInError;
use crate::saml::identity::normalize_email;

/// A signed-in person, as the provider vouches for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// Stable at the provider: `sub`, or for Entra ID `tid:oid`.
    pub subject: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Vec<String>,
    /// Google Workspace's hosted domain (`hd`).
    pub hosted_domain: Option<String>,
    /// Every claim, as text, in name order (for the admin's test view).
    pub claims: Vec<(String, String)>,
}

fn string<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `true`, or the string "true" some providers send.
fn is_true(claims: &Map<String, Value>, name: &str) -> bool {
    match claims.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Whether the ID token lacks what userinfo may add.
pub fn needs_userinfo(claims: &Map<String, Value>) -> bool {
    string(claims, "email").is_none()
}

/// Adds userinfo's claims to the ID token's; the token's own stay (userinfo
/// is not signed, and its `sub` must be the token's).
pub fn merge_userinfo(
    claims: &mut Map<String, Value>,
    userinfo: Map<String, Value>,
) -> Result<(), SignInError> {
    let sub = string(claims, "sub").unwrap_or_default().to_string();
    if string(&userinfo, "sub") != Some(sub.as_str()) {
        return Err(SignInError::mismatch(
            "oauth_fetch_user_error",
            "The provider's userinfo answer is about another user than the ID token.",
            &sub,
            string(&userinfo, "sub"),
        ));
    }
    for (name, value) in userinfo {
        claims.entry(name).or_insert(value);
    }
    Ok(())
}

fn email_missing(detail: &str) -> SignInError {
    SignInError::new("oidc_email_missing", detail)
}

/// The identity, or why the provider's word on the email is not enough.
pub fn map(
    provider: Provider,
    claims: &Map<String, Value>,
    tenant_id: Option<&str>,
) -> Result<OidcIdentity, SignInError> {
    let sub = string(claims, "sub").unwrap_or_default();
    let (subject, email) = if provider == Provider::EntraIdOidc {
        let tid = string(claims, "tid");
        let expected = tenant_id.unwrap_or_default();
        if !tid.is_some_and(|t| t.eq_ignore_ascii_case(expected)) {
            return Err(SignInError::mismatch(
                "oidc_tenant_mismatch",
                "The user belongs to another Microsoft Entra tenant than the one this connection is pinned to.",
                expected,
                tid,
            ));
        }
        let oid = string(claims, "oid").ok_or_else(|| {
            SignInError::new(
                "oidc_id_token_invalid",
                "The Entra ID token carries no object ID (`oid`).",
            )
        })?;
        // `email` is the mailbox unless Entra says it is unverified
        // (`xms_edov`); else the sign-in name, if it is an address and not a
        // guest's (`#EXT#`).
        let email_claim = string(claims, "email")
            .filter(|_| !matches!(claims.get("xms_edov"), Some(Value::Bool(false))));
        let sign_in_name = ["preferred_username", "upn"]
            .iter()
            .filter_map(|n| string(claims, n))
            .find(|v| !v.to_ascii_uppercase().contains("#EXT#"));
        let email = email_claim.or(sign_in_name).ok_or_else(|| {
            email_missing("The Entra ID token carries no email address: add the optional `email` claim to the ID token (Token configuration), or give the user a mailbox.")
        })?;
        (format!("{}:{oid}", expected.to_ascii_lowercase()), email)
    } else {
        let email = string(claims, "email").ok_or_else(|| {
            email_missing("The provider sent no email address, in the ID token or at userinfo; ask for the `email` scope and release the claim.")
        })?;
        if !is_true(claims, "email_verified") {
            return Err(SignInError {
                received: Some(
                    claims
                        .get("email_verified")
                        .map_or("(nothing)".to_string(), Value::to_string),
                ),
                expected: Some("true".into()),
                ..SignInError::new(
                    "oidc_email_not_verified",
                    "The provider does not vouch for the user's email address (`email_verified` is not true).",
                )
            });
        }
        (sub.to_string(), email)
    };
    let email = normalize_email(email).ok_or_else(|| SignInError {
        received: Some(email.chars().take(200).collect()),
        ..email_missing("The email address the provider sent is not a valid address.")
    })?;
    let hosted_domain = string(claims, "hd").map(str::to_ascii_lowercase);
    if provider == Provider::GoogleWorkspaceOidc && hosted_domain.is_none() {
        return Err(SignInError::mismatch(
            "oidc_hosted_domain_mismatch",
            "The user signed in with a personal Google account, not one of the organization's Google Workspace.",
            "a Google Workspace account (`hd` claim)",
            None,
        ));
    }
    let mut all: Vec<(String, String)> = claims
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text.chars().take(2000).collect())
        })
        .collect();
    all.sort();
    Ok(OidcIdentity {
        subject,
        email,
        first_name: string(claims, "given_name").map(str::to_string),
        last_name: string(claims, "family_name").map(str::to_string),
        groups: match claims.get("groups") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        },
        hosted_domain,
        claims: all,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn email_must_be_verified_except_where_the_provider_has_its_own_rule() {
        let ok = map(
            Provider::CustomOidc,
            &claims(
                json!({ "sub": "u1", "email": "Alice@Acme.test", "email_verified": true,
                            "given_name": "Alice", "groups": ["a", "b"] }),
            ),
            None,
        )
        .expect("ok");
        assert_eq!(ok.email, "alice@acme.test");
        assert_eq!(ok.groups, ["a", "b"]);
        assert_eq!(ok.subject, "u1");
        for unverified in [json!(false), json!("false"), Value::Null] {
            let mut c = json!({ "sub": "u1", "email": "a@acme.test" });
            if !unverified.is_null() {
                c["email_verified"] = unverified;
            }
            assert_eq!(
                map(Provider::OktaOidc, &claims(c), None)
                    .expect_err("unverified")
                    .code,
                "oidc_email_not_verified"
            );
        }
        assert_eq!(
            map(Provider::CustomOidc, &claims(json!({ "sub": "u1" })), None)
                .expect_err("none")
                .code,
            "oidc_email_missing"
        );
    }

    #[test]
    fn entra_pins_the_tenant_and_skips_guest_names() {
        let t = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let base =
            json!({ "sub": "s", "tid": t, "oid": "o1", "preferred_username": "bob@acme.test" });
        let id = map(Provider::EntraIdOidc, &claims(base.clone()), Some(t)).expect("ok");
        assert_eq!(id.subject, format!("{t}:o1"));
        assert_eq!(id.email, "bob@acme.test");
        let mut other = base.clone();
        other["tid"] = json!("00000000-0000-0000-0000-000000000000");
        assert_eq!(
            map(Provider::EntraIdOidc, &claims(other), Some(t))
                .expect_err("tenant")
                .code,
            "oidc_tenant_mismatch"
        );
        let mut guest = base.clone();
        guest["preferred_username"] = json!("bob_gmail.com#EXT#@acme.onmicrosoft.com");
        assert_eq!(
            map(Provider::EntraIdOidc, &claims(guest), Some(t))
                .expect_err("guest")
                .code,
            "oidc_email_missing"
        );
        let mut unverified = base;
        unverified["email"] = json!("ceo@elsewhere.test");
        unverified["xms_edov"] = json!(false);
        assert_eq!(
            map(Provider::EntraIdOidc, &claims(unverified), Some(t))
                .expect("falls back")
                .email,
            "bob@acme.test"
        );
    }

    #[test]
    fn google_needs_a_workspace_account_and_userinfo_must_match() {
        let personal = json!({ "sub": "g", "email": "a@gmail.com", "email_verified": true });
        assert_eq!(
            map(Provider::GoogleWorkspaceOidc, &claims(personal), None)
                .expect_err("personal")
                .code,
            "oidc_hosted_domain_mismatch"
        );
        let mut c = claims(json!({ "sub": "u1", "email_verified": false }));
        assert!(needs_userinfo(&c));
        assert_eq!(
            merge_userinfo(&mut c, claims(json!({ "sub": "u2", "email": "x@y.test" })))
                .expect_err("other user")
                .code,
            "oauth_fetch_user_error"
        );
        merge_userinfo(
            &mut c,
            claims(json!({ "sub": "u1", "email": "x@y.test", "email_verified": true })),
        )
        .expect("merged");
        assert_eq!(c["email"], "x@y.test");
        assert_eq!(c["email_verified"], false, "the token's own claim stays");
    }
}
