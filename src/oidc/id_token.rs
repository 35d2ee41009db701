//! The checks on a verified ID token's claims, each with its own code:
//! issuer (the one the flow started with: the mix-up defence), audience and
//! authorized party, expiry, issue time with a small skew, and the nonce.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::domain::sign_in::SignInError;

/// How far clocks may disagree.
pub const CLOCK_SKEW: Duration = Duration::minutes(2);
/// The oldest issue time accepted, whatever the token's own expiry.
pub const MAX_AGE: Duration = Duration::hours(1);

/// What the token must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

fn time(claims: &Map<String, Value>, name: &str) -> Result<Option<DateTime<Utc>>, SignInError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .and_then(|n| Utc.timestamp_opt(n as i64, 0).single())
            .map(Some)
            .ok_or_else(|| {
                SignInError::new(
                    "oidc_id_token_invalid",
                    format!("The ID token's `{name}` is not a time in seconds."),
                )
            }),
    }
}

fn string<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// Checks the claims of a token whose signature verified.
pub fn check(
    claims: &Map<String, Value>,
    expected: Expected,
    now: DateTime<Utc>,
) -> Result<(), SignInError> {
    let iss = string(claims, "iss");
    if iss != Some(expected.issuer) {
        return Err(SignInError::mismatch(
            "oidc_issuer_mismatch",
            "The ID token comes from another issuer than the provider this sign-in was sent to.",
            expected.issuer,
            iss,
        ));
    }
    if string(claims, "sub").is_none_or(str::is_empty) {
        return Err(SignInError::new(
            "oidc_id_token_invalid",
            "The ID token names no subject (`sub`).",
        ));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(SignInError::mismatch(
            "oidc_audience_mismatch",
            "The ID token was issued to another application (its audience is not this connection's client ID).",
            expected.client_id,
            Some(&audiences.join(", ")),
        ));
    }
    let azp = string(claims, "azp");
    if (audiences.len() > 1 || azp.is_some()) && azp != Some(expected.client_id) {
        return Err(SignInError::mismatch(
            "oidc_audience_mismatch",
            "The ID token has several audiences and was not issued to this connection's client (`azp`).",
            expected.client_id,
            azp,
        ));
    }
    let Some(exp) = time(claims, "exp")? else {
        return Err(SignInError::new(
            "oidc_id_token_invalid",
            "The ID token has no expiry (`exp`).",
        ));
    };
    if now - CLOCK_SKEW >= exp {
        return Err(SignInError::mismatch(
            "oidc_id_token_expired",
            "The ID token has expired; check the clocks, or sign in again.",
            &format!("before {}", exp.to_rfc3339()),
            Some(&now.to_rfc3339()),
        ));
    }
    let Some(iat) = time(claims, "iat")? else {
        return Err(SignInError::new(
            "oidc_id_token_invalid",
            "The ID token has no issue time (`iat`).",
        ));
    };
    if iat > now + CLOCK_SKEW {
        return Err(SignInError::mismatch(
            "oidc_id_token_iat_invalid",
            "The ID token claims to be issued in the future; check the provider's clock.",
            &format!("before {}", (now + CLOCK_SKEW).to_rfc3339()),
            Some(&iat.to_rfc3339()),
        ));
    }
    if iat < now - MAX_AGE {
        return Err(SignInError::mismatch(
            "oidc_id_token_expired",
            "The ID token was issued too long ago.",
            &format!("after {}", (now - MAX_AGE).to_rfc3339()),
            Some(&iat.to_rfc3339()),
        ));
    }
    if let Some(nbf) = time(claims, "nbf")?
        && nbf > now + CLOCK_SKEW
    {
        return Err(SignInError::mismatch(
            "oidc_id_token_iat_invalid",
            "The ID token is not valid yet; check the provider's clock.",
            &format!("after {}", nbf.to_rfc3339()),
            Some(&now.to_rfc3339()),
        ));
    }
    let nonce = string(claims, "nonce");
    if !nonce.is_some_and(|n| crate::crypto::constant_time_eq(n, expected.nonce)) {
        return Err(SignInError::mismatch(
            "oidc_nonce_mismatch",
            "The ID token does not carry the nonce of this sign-in: it was issued for another one.",
            "(this sign-in's nonce)",
            Some(if nonce.is_some() {
                "another nonce"
            } else {
                "(nothing)"
            }),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn base(now: DateTime<Utc>) -> Value {
        json!({ "iss": "https://idp", "sub": "u1", "aud": "client", "exp": now.timestamp() + 300,
                "iat": now.timestamp(), "nonce": "n1" })
    }

    const EXPECTED: Expected = Expected {
        issuer: "https://idp",
        client_id: "client",
        nonce: "n1",
    };

    fn code(now: DateTime<Utc>, change: Value) -> &'static str {
        let mut c = base(now);
        for (k, v) in change.as_object().cloned().unwrap_or_default() {
            if v.is_null() {
                c.as_object_mut().map(|o| o.remove(&k));
            } else {
                c[k] = v;
            }
        }
        match check(&claims(c), EXPECTED, now) {
            Ok(()) => "ok",
            Err(e) => e.code,
        }
    }

    #[test]
    fn each_claim_has_its_code() {
        let now = Utc::now();
        let t = now.timestamp();
        assert_eq!(code(now, json!({})), "ok");
        assert_eq!(
            code(now, json!({ "iss": "https://evil" })),
            "oidc_issuer_mismatch"
        );
        assert_eq!(
            code(now, json!({ "aud": "other" })),
            "oidc_audience_mismatch"
        );
        assert_eq!(
            code(now, json!({ "aud": ["client", "other"] })),
            "oidc_audience_mismatch"
        );
        assert_eq!(
            code(now, json!({ "aud": ["client", "other"], "azp": "client" })),
            "ok"
        );
        assert_eq!(
            code(now, json!({ "azp": "other" })),
            "oidc_audience_mismatch"
        );
        assert_eq!(
            code(now, json!({ "exp": t - 200 })),
            "oidc_id_token_expired"
        );
        assert_eq!(code(now, json!({ "exp": t - 60 })), "ok", "within the skew");
        assert_eq!(code(now, json!({ "exp": null })), "oidc_id_token_invalid");
        assert_eq!(
            code(now, json!({ "iat": t + 600 })),
            "oidc_id_token_iat_invalid"
        );
        assert_eq!(
            code(now, json!({ "iat": t - 7200, "exp": t + 60 })),
            "oidc_id_token_expired"
        );
        assert_eq!(
            code(now, json!({ "nbf": t + 600 })),
            "oidc_id_token_iat_invalid"
        );
        assert_eq!(code(now, json!({ "nonce": "n2" })), "oidc_nonce_mismatch");
        assert_eq!(code(now, json!({ "nonce": null })), "oidc_nonce_mismatch");
        assert_eq!(code(now, json!({ "sub": "" })), "oidc_id_token_invalid");
        assert_eq!(
            code(now, json!({ "exp": "tomorrow" })),
            "oidc_id_token_invalid"
        );
    }
}
