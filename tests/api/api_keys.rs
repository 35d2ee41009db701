use gatehouse::domain::audit::{Actor, ChangeContext};

use crate::helpers::{API_KEY, assert_problem, on_both};

on_both!(requests_without_a_valid_api_key_are_refused, |app| {
    let url = app.url("/api/v1/organizations");
    let res = app.api.get(&url).send().await.expect("no key");
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_problem(res, 401, "unauthorized").await;

    let res = app
        .api
        .get(&url)
        .header("authorization", format!("Basic {API_KEY}"))
        .send()
        .await
        .expect("basic");
    assert_problem(res, 401, "unauthorized").await;

    let res = app
        .api
        .get(&url)
        .bearer_auth("gh_not_a_real_key")
        .send()
        .await
        .expect("bad key");
    assert_problem(res, 401, "unauthorized").await;

    let res = app
        .api
        .get(&url)
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("good key");
    assert_eq!(res.status(), 200);
});

on_both!(a_created_key_works_until_it_is_revoked, |app| {
    let ctx = ChangeContext::new(Actor::Cli, None);
    let (key, value) = app
        .services
        .create_api_key(&ctx, "ci")
        .await
        .expect("create");
    assert!(value.expose().starts_with("gh_"));
    let url = app.url("/api/v1/organizations");
    let res = app
        .api
        .get(&url)
        .bearer_auth(value.expose())
        .send()
        .await
        .expect("new key");
    assert_eq!(res.status(), 200);

    app.services
        .revoke_api_key(&ctx, &key.id)
        .await
        .expect("revoke");
    let res = app
        .api
        .get(&url)
        .bearer_auth(value.expose())
        .send()
        .await
        .expect("revoked key");
    assert_problem(res, 401, "unauthorized").await;

    let listed = app.services.list_api_keys().await.expect("list");
    let stored = listed.iter().find(|k| k.id == key.id).expect("listed");
    assert!(stored.revoked_at.is_some());
    assert!(!stored.key_prefix.is_empty() && value.expose().starts_with(&stored.key_prefix));
});

on_both!(keys_are_stored_only_as_hashes, |app| {
    let ctx = ChangeContext::new(Actor::Cli, None);
    let (_, value) = app
        .services
        .create_api_key(&ctx, "hashed")
        .await
        .expect("create");
    let rows = app
        .text_column(
            "SELECT id || ' ' || name || ' ' || key_hash || ' ' || key_prefix FROM api_keys",
        )
        .await;
    assert_eq!(rows.len(), 2, "bootstrap key and the new one");
    let hash = gatehouse::crypto::token_hash(value.expose());
    assert!(
        rows.iter().any(|r| r.contains(&hash)),
        "stored as its SHA-256"
    );
    for row in rows {
        assert!(!row.contains(value.expose()), "the key value is not stored");
        assert!(
            !row.contains(API_KEY),
            "the bootstrap key value is not stored"
        );
    }
});
