//! The keys ID tokens are signed with: a rotated key is published before it
//! signs (hosts cache the key set), the key it replaces stays published
//! after it stops, and an urgent rotation switches at once.

use chrono::Duration;
use gatehouse::services::oauth::{KEY_OVERLAP, KEY_PUBLISHED_AHEAD, KeySwitch};
use serde_json::Value;

use crate::helpers::{TestApp, on_both};

/// The published key ids, as the host fetches them, and the cache header.
async fn published(app: &TestApp) -> (Vec<String>, String) {
    let res = app
        .api
        .get(app.url("/oauth/jwks"))
        .send()
        .await
        .expect("jwks");
    let cache = res
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = res.json().await.expect("json");
    let kids = body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect();
    (kids, cache)
}

async fn signing(app: &TestApp) -> String {
    app.services.signing_key_id().await.expect("a signing key")
}

on_both!(
    a_rotated_key_is_published_before_it_signs_and_after_it_stops,
    |app| {
        let first = signing(&app).await;
        let (kids, cache) = published(&app).await;
        assert_eq!(kids, vec![first.clone()], "a key is made on first use");
        assert_eq!(cache, "public, max-age=300");
        assert!(
            KEY_PUBLISHED_AHEAD >= Duration::seconds(300),
            "longer than the key set may be cached"
        );

        app.clock.advance(Duration::minutes(1));
        let next = app
            .services
            .rotate_signing_key(KeySwitch::AfterPublishing)
            .await
            .expect("rotate");
        assert_eq!(
            published(&app).await.0,
            vec![next.kid.clone(), first.clone()],
            "published at once"
        );
        assert_eq!(signing(&app).await, first, "but not signing yet");
        app.clock
            .advance(KEY_PUBLISHED_AHEAD - Duration::seconds(1));
        assert_eq!(signing(&app).await, first);
        app.clock.advance(Duration::seconds(1));
        assert_eq!(signing(&app).await, next.kid, "signing from its time");
        assert_eq!(
            published(&app).await.0,
            vec![next.kid.clone(), first.clone()],
            "the old key still verifies what it signed"
        );
        app.clock.advance(KEY_OVERLAP);
        assert_eq!(published(&app).await.0, vec![next.kid.clone()]);

        // An urgent rotation signs at once; the key it replaces stays
        // published, and a key waiting to sign is passed over.
        let waiting = app
            .services
            .rotate_signing_key(KeySwitch::AfterPublishing)
            .await
            .expect("rotate");
        let urgent = app
            .services
            .rotate_signing_key(KeySwitch::Now)
            .await
            .expect("rotate");
        assert_eq!(signing(&app).await, urgent.kid);
        app.clock
            .advance(KEY_PUBLISHED_AHEAD + Duration::minutes(1));
        assert_eq!(
            signing(&app).await,
            urgent.kid,
            "the passed-over key never signs"
        );
        let mut kids = published(&app).await.0;
        kids.sort();
        let mut expected = vec![urgent.kid, waiting.kid, next.kid];
        expected.sort();
        assert_eq!(kids, expected, "made at the same moment: any order");
    }
);
