//! From verified claims (the ID token's, with userinfo's added) to an
//! identity, by each provider's rules for trusting an email address:
//! `email_verified` where the provider sends it; for Entra ID the pinned
//! tenant and the object ID; for Google the hosted domain (checked against
//! the organization's domains by the caller); and for a claim the admin
//! picked to supply the email, the rules of [`map`].

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
    /// When the provider authenticated the person (`auth_time`), if it
    /// said.
    pub authenticated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Where the email came from.
    pub email_source: EmailSource,
    /// Every claim, as text, in name order (for the admin's test view).
    pub claims: Vec<(String, String)>,
}

/// Where an identity's email address came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailSource {
    /// The provider's own word: `email` with `email_verified`, or Entra's
    /// mailbox or sign-in name.
    Provider,
    /// A claim other than `email` that the connection's settings pick. The
    /// provider vouches for no mailbox there, so the caller accepts the
    /// address only at a verified domain of the organization (see [`map`]).
    Picked(String),
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

/// Whether the ID token lacks what userinfo may add: the email, from the
/// picked claim or `email`.
pub fn needs_userinfo(claims: &Map<String, Value>, email_claim: Option<&str>) -> bool {
    let name = email_claim
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or("email");
    string(claims, name).is_none()
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

/// A sign-in name in Entra's guest form (`bob_gmail.com#EXT#@…`).
fn is_guest_name(value: &str) -> bool {
    value.to_ascii_uppercase().contains("#EXT#")
}

/// The value of a picked claim other than `email`, once it passes the
/// claim's own rules (see [`map`]); `entra_tenant` for Entra ID.
fn picked_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &str,
    entra_tenant: Option<&str>,
) -> Result<&'a str, SignInError> {
    let value = string(claims, name).ok_or_else(|| SignInError {
        expected: Some(format!("an address in the claim `{name}`")),
        received: Some("(nothing)".into()),
        ..email_missing(&format!(
            "The connection reads the email from the claim `{name}`, and neither the ID token nor userinfo carries it."
        ))
    })?;
    let guest = |why: &str| SignInError {
        received: Some(value.chars().take(200).collect()),
        ..SignInError::new(
            "oidc_email_claim_guest",
            format!(
                "The claim `{name}` names a guest of the tenant ({why}), whom the tenant does not vouch for."
            ),
        )
    };
    if is_guest_name(value) {
        return Err(guest("a `#EXT#` name"));
    }
    if let Some(tenant) = entra_tenant {
        let acct_guest = match claims.get("acct") {
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => s.trim() == "1",
            _ => false,
        };
        if acct_guest {
            return Err(guest("`acct` is 1"));
        }
        // `idp` is the issuer unless the account lives elsewhere: another
        // tenant, a Microsoft account, a one-time passcode.
        if let Some(idp) = string(claims, "idp")
            && !idp
                .to_ascii_lowercase()
                .contains(&tenant.to_ascii_lowercase())
        {
            return Err(guest("its `idp` is another directory"));
        }
    }
    Ok(value)
}

/// The identity, or why the provider's word on the email is not enough.
///
/// `email_claim` is the claim the connection's settings pick for the email
/// (`None`: the provider's rules below). The rules:
///
/// - No pick: `email`, which `email_verified` must vouch for; for Entra ID
///   the mailbox unless `xms_edov` says it is unverified, else a sign-in name
///   (`preferred_username`, `upn`) that is not a guest's.
/// - `email` picked: the same, except that Entra ID falls back to no
///   sign-in name (an unverified mailbox is refused).
/// - Any other claim (`upn`, `preferred_username`, `unique_name`, …):
///   `email_verified` speaks only of `email`, so the provider vouches for no
///   mailbox here; the claim is the name the identity provider's
///   administrators gave the account (for Entra ID, `upn` and
///   `preferred_username` of members are set by the tenant and limited to
///   domains verified in the tenant). It is accepted only if:
///   1. it is an address, and not a guest's: no `#EXT#` name, and for Entra
///      ID neither `acct` = 1 nor an `idp` outside the pinned tenant
///      (`oidc_email_claim_guest`);
///   2. every other rule of the provider holds (Entra's tenant and object
///      ID, Google's hosted domain);
///   3. its domain is a verified SSO domain of the organization, which the
///      caller checks with the organization's domains and refuses with
///      `oidc_email_claim_domain_mismatch` (the organization proved it owns
///      the domain, and its own identity provider names the accounts there).
///
///   The identity says so ([`EmailSource::Picked`]), so that the caller
///   never treats such an address as one the provider verified. Admins pick
///   only claims that users cannot edit themselves.
pub fn map(
    provider: Provider,
    claims: &Map<String, Value>,
    tenant_id: Option<&str>,
    email_claim: Option<&str>,
) -> Result<OidcIdentity, SignInError> {
    let sub = string(claims, "sub").unwrap_or_default();
    let picked = email_claim.map(str::trim).filter(|c| !c.is_empty());
    let other_claim = picked.filter(|c| *c != "email");
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
        let unverified_mailbox = matches!(claims.get("xms_edov"), Some(Value::Bool(false)));
        let email_claim = string(claims, "email").filter(|_| !unverified_mailbox);
        let email = match (picked, other_claim) {
            (_, Some(name)) => picked_claim(claims, name, Some(expected))?,
            (Some(_), None) => email_claim.ok_or_else(|| {
                if unverified_mailbox {
                    SignInError::mismatch(
                        "oidc_email_not_verified",
                        "Entra does not vouch for the user's mailbox address (`xms_edov` is false), and the connection reads the email from `email` only.",
                        "true",
                        Some("false"),
                    )
                } else {
                    email_missing("The Entra ID token carries no `email` claim, which the connection reads the email from: add the optional `email` claim to the ID token (Token configuration), or give the user a mailbox.")
                }
            })?,
            (None, _) => {
                let sign_in_name = ["preferred_username", "upn"]
                    .iter()
                    .filter_map(|n| string(claims, n))
                    .find(|v| !is_guest_name(v));
                email_claim.or(sign_in_name).ok_or_else(|| {
                    email_missing("The Entra ID token carries no email address: add the optional `email` claim to the ID token (Token configuration), or give the user a mailbox.")
                })?
            }
        };
        (format!("{}:{oid}", expected.to_ascii_lowercase()), email)
    } else if let Some(name) = other_claim {
        (sub.to_string(), picked_claim(claims, name, None)?)
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
        ..email_missing(&match other_claim {
            Some(name) => format!("The claim `{name}`, which the connection reads the email from, is not an email address."),
            None => "The email address the provider sent is not a valid address.".into(),
        })
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
        authenticated_at: claims
            .get("auth_time")
            .and_then(Value::as_i64)
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        email_source: other_claim.map_or(EmailSource::Provider, |c| EmailSource::Picked(c.into())),
        claims: claims_text(claims),
    })
}

/// Every claim as text, in name order (for the admin's test view).
pub fn claims_text(claims: &Map<String, Value>) -> Vec<(String, String)> {
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
    all
}

/// Claims again from their text (a test's record), for previewing what
/// other settings would make of them: `true`, `false`, arrays and objects
/// as JSON, everything else as strings.
pub fn claims_from_text(text: &[(String, String)]) -> Map<String, Value> {
    text.iter()
        .map(|(k, v)| {
            let value = match v.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                t if t.starts_with('[') || t.starts_with('{') => {
                    serde_json::from_str(t).unwrap_or_else(|_| Value::String(v.clone()))
                }
                _ => Value::String(v.clone()),
            };
            (k.clone(), value)
        })
        .collect()
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
                map(Provider::OktaOidc, &claims(c), None, None)
                    .expect_err("unverified")
                    .code,
                "oidc_email_not_verified"
            );
        }
        assert_eq!(
            map(
                Provider::CustomOidc,
                &claims(json!({ "sub": "u1" })),
                None,
                None
            )
            .expect_err("none")
            .code,
            "oidc_email_missing"
        );
    }

    #[test]
    fn auth_time_says_when_the_person_authenticated() {
        let person = |extra: Value| {
            let mut c = json!({ "sub": "u1", "email": "a@acme.test", "email_verified": true });
            if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
                c.extend(extra.clone());
            }
            map(Provider::CustomOidc, &claims(c), None, None).expect("ok")
        };
        assert_eq!(
            person(json!({ "auth_time": 1_800_000_000 })).authenticated_at,
            chrono::DateTime::from_timestamp(1_800_000_000, 0)
        );
        assert_eq!(person(json!({})).authenticated_at, None);
        assert_eq!(
            person(json!({ "auth_time": "yesterday" })).authenticated_at,
            None
        );
    }

    #[test]
    fn entra_pins_the_tenant_and_skips_guest_names() {
        let t = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let base =
            json!({ "sub": "s", "tid": t, "oid": "o1", "preferred_username": "bob@acme.test" });
        let id = map(Provider::EntraIdOidc, &claims(base.clone()), Some(t), None).expect("ok");
        assert_eq!(id.subject, format!("{t}:o1"));
        assert_eq!(id.email, "bob@acme.test");
        let mut other = base.clone();
        other["tid"] = json!("00000000-0000-0000-0000-000000000000");
        assert_eq!(
            map(Provider::EntraIdOidc, &claims(other), Some(t), None)
                .expect_err("tenant")
                .code,
            "oidc_tenant_mismatch"
        );
        let mut guest = base.clone();
        guest["preferred_username"] = json!("bob_gmail.com#EXT#@acme.onmicrosoft.com");
        assert_eq!(
            map(Provider::EntraIdOidc, &claims(guest), Some(t), None)
                .expect_err("guest")
                .code,
            "oidc_email_missing"
        );
        let mut unverified = base;
        unverified["email"] = json!("ceo@elsewhere.test");
        unverified["xms_edov"] = json!(false);
        assert_eq!(
            map(Provider::EntraIdOidc, &claims(unverified), Some(t), None)
                .expect("falls back")
                .email,
            "bob@acme.test"
        );
    }

    #[test]
    fn google_needs_a_workspace_account_and_userinfo_must_match() {
        let personal = json!({ "sub": "g", "email": "a@gmail.com", "email_verified": true });
        assert_eq!(
            map(Provider::GoogleWorkspaceOidc, &claims(personal), None, None)
                .expect_err("personal")
                .code,
            "oidc_hosted_domain_mismatch"
        );
        let mut c = claims(json!({ "sub": "u1", "email_verified": false }));
        assert!(needs_userinfo(&c, None));
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

    #[test]
    fn a_picked_claim_is_read_instead_of_email_and_says_where_it_came_from() {
        let c = claims(
            json!({ "sub": "u1", "email": "alice@gmail.test", "email_verified": true,
            "preferred_username": "Alice.Liddell@Acme.test" }),
        );
        let id = map(Provider::CustomOidc, &c, None, Some("preferred_username")).expect("ok");
        assert_eq!(id.email, "alice.liddell@acme.test");
        assert_eq!(
            id.email_source,
            EmailSource::Picked("preferred_username".into())
        );
        // `email` picked, or nothing: the provider's rules, as before.
        for pick in [None, Some("email"), Some(" ")] {
            let id = map(Provider::CustomOidc, &c, None, pick).expect("ok");
            assert_eq!(id.email, "alice@gmail.test");
            assert_eq!(id.email_source, EmailSource::Provider);
        }
        // `email_verified` speaks of `email` only: no help, no hindrance.
        let unverified = claims(
            json!({ "sub": "u1", "email": "bob@home.test", "email_verified": false, "upn": "bob@acme.test" }),
        );
        let id = map(Provider::OktaOidc, &unverified, None, Some("upn")).expect("ok");
        assert_eq!(id.email, "bob@acme.test");
        assert_eq!(
            map(Provider::OktaOidc, &unverified, None, Some("email"))
                .expect_err("email picked, unverified")
                .code,
            "oidc_email_not_verified"
        );
        // Missing, or not an address.
        assert_eq!(
            map(Provider::CustomOidc, &c, None, Some("upn"))
                .expect_err("absent")
                .code,
            "oidc_email_missing"
        );
        let not_an_address = claims(json!({ "sub": "u1", "preferred_username": "alice" }));
        let e = map(
            Provider::CustomOidc,
            &not_an_address,
            None,
            Some("preferred_username"),
        )
        .expect_err("no @");
        assert_eq!(e.code, "oidc_email_missing");
        assert!(e.detail.contains("`preferred_username`"), "{}", e.detail);
        assert!(!needs_userinfo(&c, Some("preferred_username")));
        assert!(needs_userinfo(&c, Some("upn")));
    }

    #[test]
    fn entra_sign_in_names_are_picked_for_members_only() {
        let t = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let member = json!({ "sub": "s", "tid": t, "oid": "o1", "email": "bob_personal@outlook.test",
            "upn": "bob@acme.test", "preferred_username": "bob@acme.test" });
        for claim in ["upn", "preferred_username"] {
            let id = map(
                Provider::EntraIdOidc,
                &claims(member.clone()),
                Some(t),
                Some(claim),
            )
            .expect("member");
            assert_eq!(id.email, "bob@acme.test");
            assert_eq!(id.subject, format!("{t}:o1"));
            assert_eq!(id.email_source, EmailSource::Picked(claim.into()));
        }
        // Same tenant's own `idp` is fine.
        let mut own_idp = member.clone();
        own_idp["idp"] = json!(format!("https://sts.windows.net/{t}/"));
        assert!(
            map(
                Provider::EntraIdOidc,
                &claims(own_idp),
                Some(t),
                Some("upn")
            )
            .is_ok()
        );
        // Guests, by name, by `acct`, or by `idp`.
        let mut by_name = member.clone();
        by_name["upn"] = json!("bob_gmail.com#EXT#@acme.onmicrosoft.com");
        let mut by_acct = member.clone();
        by_acct["acct"] = json!(1);
        let mut by_idp = member.clone();
        by_idp["idp"] = json!("https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/");
        for guest in [by_name, by_acct, by_idp] {
            assert_eq!(
                map(Provider::EntraIdOidc, &claims(guest), Some(t), Some("upn"))
                    .expect_err("guest")
                    .code,
                "oidc_email_claim_guest"
            );
        }
        // The tenant pin still holds for a picked claim.
        let mut other = member.clone();
        other["tid"] = json!("00000000-0000-0000-0000-000000000000");
        assert_eq!(
            map(Provider::EntraIdOidc, &claims(other), Some(t), Some("upn"))
                .expect_err("tenant")
                .code,
            "oidc_tenant_mismatch"
        );
        // `email` picked: the mailbox only, never silently the sign-in name.
        let mut unverified = member;
        unverified["xms_edov"] = json!(false);
        assert_eq!(
            map(
                Provider::EntraIdOidc,
                &claims(unverified.clone()),
                Some(t),
                None
            )
            .expect("falls back")
            .email,
            "bob@acme.test"
        );
        assert_eq!(
            map(
                Provider::EntraIdOidc,
                &claims(unverified),
                Some(t),
                Some("email")
            )
            .expect_err("no fallback")
            .code,
            "oidc_email_not_verified"
        );
    }

    #[test]
    fn claims_survive_their_text_form_for_the_preview() {
        let c = claims(
            json!({ "sub": "1234", "email_verified": true, "groups": ["a", "b"],
            "acct": 0, "xms_edov": false, "name": "Alice" }),
        );
        let back = claims_from_text(&claims_text(&c));
        assert_eq!(back["email_verified"], json!(true));
        assert_eq!(back["xms_edov"], json!(false));
        assert_eq!(back["groups"], json!(["a", "b"]));
        assert_eq!(back["sub"], json!("1234"), "strings stay strings");
        assert_eq!(back["name"], json!("Alice"));
    }
}
