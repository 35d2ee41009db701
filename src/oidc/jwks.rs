//! Providers' signing keys (JWKS), cached per instance: kept for an hour,
//! and fetched again early when a token names a key the cache does not
//! know (the provider rotated its keys), at most once per `REFETCH_AFTER`
//! per provider, so tokens with made-up key IDs cannot make Gatehouse
//! hammer the provider.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::jwt::Jwk;
use crate::domain::sign_in::SignInError;

/// How long fetched keys are used before they are fetched again.
pub const MAX_AGE: Duration = Duration::hours(1);
/// The shortest time between two fetches of one provider's keys.
pub const REFETCH_AFTER: Duration = Duration::seconds(30);

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

/// The keys of a JWKS document; entries Gatehouse cannot use are skipped.
pub fn parse(body: &[u8]) -> Result<Vec<Jwk>, SignInError> {
    let set: KeySet = serde_json::from_slice(body).map_err(|_| {
        SignInError::new(
            "oidc_jwks_invalid",
            "The provider's key set (jwks_uri) is not a JSON Web Key Set.",
        )
    })?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value(k).ok())
        .collect())
}

struct Entry {
    keys: Vec<Jwk>,
    fetched_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwksCache")
    }
}

impl JwksCache {
    /// The cached keys of `uri`, if they are fresh enough.
    pub fn fresh(&self, uri: &str, now: DateTime<Utc>) -> Option<Vec<Jwk>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(uri)
            .filter(|e| now - e.fetched_at < MAX_AGE)
            .map(|e| e.keys.clone())
    }

    /// Whether the keys of `uri` may be fetched again now.
    pub fn may_refetch(&self, uri: &str, now: DateTime<Utc>) -> bool {
        self.entries
            .lock()
            .map(|entries| {
                entries
                    .get(uri)
                    .is_none_or(|e| now - e.fetched_at >= REFETCH_AFTER)
            })
            .unwrap_or(true)
    }

    pub fn put(&self, uri: &str, keys: Vec<Jwk>, now: DateTime<Utc>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                uri.to_string(),
                Entry {
                    keys,
                    fetched_at: now,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_an_hour_and_refetched_at_most_every_half_minute() {
        let cache = JwksCache::default();
        let now = Utc::now();
        assert!(cache.fresh("u", now).is_none());
        assert!(cache.may_refetch("u", now));
        let keys =
            parse(br#"{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"},{"bogus":1}]}"#)
                .expect("parse");
        assert_eq!(keys.len(), 1, "unusable entries are skipped");
        cache.put("u", keys, now);
        assert!(cache.fresh("u", now + Duration::minutes(59)).is_some());
        assert!(cache.fresh("u", now + Duration::minutes(61)).is_none());
        assert!(!cache.may_refetch("u", now + Duration::seconds(10)));
        assert!(cache.may_refetch("u", now + Duration::seconds(31)));
        assert_eq!(
            parse(b"[]").expect_err("not a set").code,
            "oidc_jwks_invalid"
        );
    }
}
