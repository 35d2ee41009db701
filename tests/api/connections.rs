//! Connections through the host API: SAML settings by metadata XML, URL or
//! hand, the lifecycle, the rules around domains, and what identity
//! providers publish (metadata, discovery documents) fetched again.

use serde_json::{Value, json};

use crate::helpers::{
    Answer, TestApp, assert_problem, metadata_fixture, on_both, on_both_with, serve_http, test_cert,
};

async fn org(app: &TestApp, name: &str) -> String {
    app.create_org(name, true).await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn create(app: &TestApp, org_id: &str, body: Value) -> reqwest::Response {
    app.api_post(&format!("/organizations/{org_id}/connections"), &body)
        .await
}

async fn okta_connection(app: &TestApp, org_id: &str) -> Value {
    let xml = metadata_fixture("okta", &[&test_cert("okta", 3650)]);
    let res = create(
        app,
        org_id,
        json!({ "provider": "okta", "saml": { "metadata_xml": xml } }),
    )
    .await;
    assert_eq!(res.status(), 201);
    res.json().await.expect("json")
}

/// Adds `domain` to the organization and verifies it through the test DNS.
async fn verified_domain(app: &TestApp, org_id: &str, zone: &str) -> Value {
    let res = app
        .api_post(
            &format!("/organizations/{org_id}/domains"),
            &json!({ "domain": zone }),
        )
        .await;
    let d: Value = res.json().await.expect("json");
    app.dns
        .zone(zone)
        .set_txt(
            d["txt_record"]["name"].as_str().expect("name"),
            &[&[d["txt_record"]["value"].as_str().expect("value")]],
        )
        .await
        .expect("publish");
    let res = app
        .api_post(
            &format!("/domains/{}/verify", d["id"].as_str().expect("id")),
            &json!({}),
        )
        .await;
    let d: Value = res.json().await.expect("json");
    assert_eq!(d["status"], "verified");
    d
}

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("id")
}

on_both!(
    a_connection_from_metadata_xml_shows_what_was_understood,
    |app| {
        let org_id = org(&app, "Acme").await;
        let c = okta_connection(&app, &org_id).await;
        assert!(id(&c).starts_with("conn_"));
        assert_eq!(c["provider"], "okta");
        assert_eq!(c["protocol"], "saml");
        assert_eq!(c["state"], "draft");
        assert_eq!(c["config_version"], 1);
        assert_eq!(c["allow_subdomains"], false);
        assert_eq!(c["allow_idp_initiated"], false);
        assert_eq!(
            c["idp"]["entity_id"],
            "http://www.okta.com/exk1fixture0000000"
        );
        assert_eq!(c["idp"]["binding"], "redirect");
        assert_eq!(c["idp"]["source"], "metadata_xml");
        let cert = &c["idp"]["certificates"][0];
        assert_eq!(cert["fingerprint_sha256"].as_str().expect("fp").len(), 64);
        assert!(cert["subject"].as_str().expect("subject").contains("okta"));
        assert_eq!(cert["expires_soon"], false);
        let acs = format!("{}/saml/{}/acs", app.address, id(&c));
        assert_eq!(c["sp"]["acs_url"], acs, "derived from the public URL");
        assert_eq!(
            c["sp"]["entity_id"],
            format!("{}/saml/{}/metadata", app.address, id(&c))
        );

        let fetched: Value = app
            .api_get(&format!("/connections/{}", id(&c)))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(fetched, c);
        let listed: Value = app
            .api_get(&format!("/organizations/{org_id}/connections"))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(listed["data"][0], c);
    }
);

on_both!(
    sp_metadata_is_served_per_connection_from_the_public_url,
    |app| {
        let org_id = org(&app, "Acme").await;
        let c = okta_connection(&app, &org_id).await;
        let res = app
            .api
            .get(app.url(&format!("/saml/{}/metadata", id(&c))))
            .header("host", "evil.example")
            .send()
            .await
            .expect("metadata");
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("application/samlmetadata+xml")
        );
        let xml = res.text().await.expect("xml");
        assert!(xml.contains(&format!("Location=\"{}/saml/{}/acs\"", app.address, id(&c))));
        assert!(!xml.contains("evil.example"), "never from the Host header");
        let res = app
            .api
            .get(app.url("/saml/conn_01aaaaaaaaaaaaaaaaaaaaaaaa/metadata"))
            .send()
            .await
            .expect("unknown");
        assert_eq!(res.status(), 404);
    }
);

on_both!(
    settings_can_be_typed_in_and_bad_ones_are_refused_by_name,
    |app| {
        let org_id = org(&app, "Acme").await;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
            test_cert("manual", 400)
        );
        let res = create(&app, &org_id, json!({ "provider": "custom_saml", "saml": {
        "sso_url": "https://idp.acme.example/sso", "entity_id": "https://idp.acme.example", "certificate_pem": pem } })).await;
        assert_eq!(res.status(), 201);
        let c: Value = res.json().await.expect("json");
        assert_eq!(c["idp"]["source"], "manual");
        assert_eq!(c["idp"]["sso_url"], "https://idp.acme.example/sso");

        for (saml, code) in [
            (
                json!({ "sso_url": "https://idp.acme.example/sso", "entity_id": "x" }),
                "saml_settings_incomplete",
            ),
            (
                json!({ "sso_url": "https://idp.acme.example/sso", "entity_id": "x", "certificate_pem": format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----", test_cert("old", -3)) }),
                "saml_certificate_expired",
            ),
            (
                json!({ "sso_url": "https://idp.acme.example/sso", "entity_id": "x", "certificate_pem": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----" }),
                "saml_certificate_invalid",
            ),
            (
                json!({ "sso_url": "ftp://idp.acme.example/sso", "entity_id": "x", "certificate_pem": pem }),
                "saml_sso_url_invalid",
            ),
            (
                json!({ "metadata_xml": "<html>login</html>" }),
                "saml_metadata_invalid",
            ),
            (
                json!({ "metadata_xml": metadata_fixture("okta", &[&test_cert("old", -3)]) }),
                "saml_certificate_expired",
            ),
            (
                json!({ "metadata_xml": "<x/>", "sso_url": "https://a.example" }),
                "saml_settings_ambiguous",
            ),
        ] {
            let res = create(
                &app,
                &org_id,
                json!({ "provider": "custom_saml", "saml": saml }),
            )
            .await;
            let problem = assert_problem(res, 422, code).await;
            assert!(problem["detail"].as_str().expect("detail").len() > 20);
        }
        let res = create(&app, &org_id, json!({ "provider": "okta_saml" })).await;
        assert_problem(res, 422, "connection_provider_invalid").await;
        let res = create(
            &app,
            &org_id,
            json!({ "provider": "custom_oidc", "saml": { "metadata_url": "https://x.example/m" } }),
        )
        .await;
        assert_problem(res, 422, "connection_protocol_mismatch").await;
        let res = create(
            &app,
            &org_id,
            json!({ "provider": "okta", "oidc": { "client_id": "x" } }),
        )
        .await;
        assert_problem(res, 422, "connection_protocol_mismatch").await;
        let res = create(
            &app,
            &org_id,
            json!({ "provider": "entra_id_oidc", "oidc": { "discovery_url": "common", "client_id": "x", "client_secret": "y" } }),
        )
        .await;
        assert_problem(res, 422, "oidc_entra_tenant_required").await;
        let res = create(
            &app,
            &org_id,
            json!({ "provider": "okta", "saml": { "colour": "blue" } }),
        )
        .await;
        assert_problem(res, 400, "invalid_body").await;
    }
);

on_both!(
    a_provider_can_be_chosen_before_its_settings_are_known,
    |app| {
        let org_id = org(&app, "Acme").await;
        let res = create(&app, &org_id, json!({ "provider": "entra_id" })).await;
        assert_eq!(res.status(), 201);
        let c: Value = res.json().await.expect("json");
        assert_eq!(c["idp"], Value::Null);
        assert!(
            c["sp"]["acs_url"].as_str().is_some(),
            "Gatehouse's values are ready to copy at once"
        );
    }
);

on_both!(a_failed_edit_keeps_the_last_good_settings, |app| {
    let org_id = org(&app, "Acme").await;
    let c = okta_connection(&app, &org_id).await;
    let path = format!("/connections/{}", id(&c));
    let res = app
        .api_patch(
            &path,
            &json!({ "saml": { "metadata_xml": "<md:EntityDescriptor" } }),
        )
        .await;
    assert_problem(res, 422, "saml_metadata_invalid").await;
    let res = app
        .api_patch(
            &path,
            &json!({ "saml": { "metadata_url": "http://127.0.0.1:9/nothing" } }),
        )
        .await;
    assert_problem(res, 422, "fetch_failed").await;
    let after: Value = app.api_get(&path).await.json().await.expect("json");
    assert_eq!(after, c, "nothing lost");

    let res = app.api_patch(&path, &json!({ "saml": { "metadata_xml": metadata_fixture("google", &[&test_cert("google", 900)]) } })).await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.expect("json");
    assert_eq!(changed["config_version"], 2);
    assert_eq!(
        changed["idp"]["entity_id"],
        "https://accounts.google.example/o/saml2?idpid=C0fixture"
    );
    let res = app
        .api_patch(&path, &json!({ "allow_subdomains": true }))
        .await;
    let flagged: Value = res.json().await.expect("json");
    assert_eq!(flagged["allow_subdomains"], true);
    assert_eq!(
        flagged["config_version"], 2,
        "flags are not identity-provider settings"
    );
});

on_both!(metadata_is_fetched_from_a_url, |app| {
    let org_id = org(&app, "Acme").await;
    let xml = metadata_fixture(
        "adfs",
        &[
            &test_cert("adfs", 500),
            &test_cert("adfs-next", 900),
            &test_cert("enc", 900),
        ],
    );
    let base = serve_http(
        "127.0.0.1",
        vec![
            (
                "/FederationMetadata/2007-06/FederationMetadata.xml",
                Answer::Body("application/xml", xml),
            ),
            (
                "/moved",
                Answer::Redirect("/FederationMetadata/2007-06/FederationMetadata.xml".into()),
            ),
            ("/missing", Answer::Status(404)),
        ],
    )
    .await;
    let res = create(
        &app,
        &org_id,
        json!({ "provider": "adfs", "saml": { "metadata_url": format!("{base}/moved") } }),
    )
    .await;
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.expect("json");
    assert_eq!(c["idp"]["source"], "metadata_url");
    assert_eq!(
        c["idp"]["certificates"].as_array().expect("certs").len(),
        2,
        "rollover certificates both kept"
    );
    let res = create(
        &app,
        &org_id,
        json!({ "provider": "adfs", "saml": { "metadata_url": format!("{base}/missing") } }),
    )
    .await;
    assert_problem(res, 422, "fetch_http_status").await;
});

on_both_with!(
    metadata_urls_on_private_addresses_are_refused_unless_allowed,
    |c: &mut gatehouse::config::Config| c.allow_private_network_fetch = false,
    |app| {
        let org_id = org(&app, "Acme").await;
        let base = serve_http(
            "127.0.0.1",
            vec![(
                "/metadata",
                Answer::Body(
                    "application/xml",
                    metadata_fixture("okta", &[&test_cert("okta", 900)]),
                ),
            )],
        )
        .await;
        let https_local = base.replace("http://", "https://");
        for (url, code) in [
            (format!("{base}/metadata"), "fetch_scheme_not_allowed"),
            (format!("{https_local}/metadata"), "fetch_private_address"),
            (
                "https://169.254.169.254/latest/meta-data/".to_string(),
                "fetch_private_address",
            ),
            (
                "https://localhost/metadata".to_string(),
                "fetch_private_address",
            ),
            (
                "https://[::ffff:127.0.0.1]/metadata".to_string(),
                "fetch_private_address",
            ),
        ] {
            let res = create(
                &app,
                &org_id,
                json!({ "provider": "okta", "saml": { "metadata_url": url } }),
            )
            .await;
            assert_problem(res, 422, code).await;
        }
    }
);

on_both!(
    activation_needs_a_verified_domain_and_a_test_unless_skipped,
    |app| {
        let org_id = org(&app, "Acme").await;
        let c = okta_connection(&app, &org_id).await;
        let activate = format!("/connections/{}/activate", id(&c));
        let res = app.api_post(&activate, &json!({ "skip_test": true })).await;
        assert_problem(res, 422, "domain_not_verified").await;
        verified_domain(&app, &org_id, "acme.test").await;
        let res = app.api_post(&activate, &json!({})).await;
        assert_problem(res, 422, "connection_not_tested").await;
        let res = app.api_post(&activate, &json!({ "skip_test": true })).await;
        assert_eq!(res.status(), 200);
        let active: Value = res.json().await.expect("json");
        assert_eq!(active["state"], "active");
        assert_eq!(active["live_config_version"], 1);
        assert!(active["activated_at"].as_str().is_some());

        let empty = create(&app, &org_id, json!({ "provider": "okta" }))
            .await
            .json::<Value>()
            .await
            .expect("json");
        let res = app
            .api_post(
                &format!("/connections/{}/activate", id(&empty)),
                &json!({ "skip_test": true }),
            )
            .await;
        assert_problem(res, 422, "connection_incomplete").await;
        let second = okta_connection(&app, &org_id).await;
        let res = app
            .api_post(
                &format!("/connections/{}/activate", id(&second)),
                &json!({ "skip_test": true }),
            )
            .await;
        assert_problem(res, 409, "connection_already_active").await;

        // A change keeps the live version serving until it is activated.
        let res = app.api_patch(&format!("/connections/{}", id(&c)), &json!({ "saml": { "metadata_xml": metadata_fixture("google", &[&test_cert("g", 900)]) } })).await;
        let changed: Value = res.json().await.expect("json");
        assert_eq!(changed["state"], "active");
        assert_eq!(changed["config_version"], 2);
        assert_eq!(changed["live_config_version"], 1);

        let res = app
            .api_post(&format!("/connections/{}/deactivate", id(&c)), &json!({}))
            .await;
        assert_eq!(
            res.json::<Value>().await.expect("json")["state"],
            "inactive"
        );
        let res = app
            .api_post(
                &format!("/connections/{}/activate", id(&second)),
                &json!({ "skip_test": true }),
            )
            .await;
        assert_eq!(res.status(), 200, "one active at a time");
    }
);

on_both!(
    the_last_sso_domain_of_an_active_connection_cannot_be_removed,
    |app| {
        let org_id = org(&app, "Acme").await;
        let c = okta_connection(&app, &org_id).await;
        let d = verified_domain(&app, &org_id, "acme.test").await;
        app.api_post(
            &format!("/connections/{}/activate", id(&c)),
            &json!({ "skip_test": true }),
        )
        .await;
        let domain_path = format!("/domains/{}", id(&d));
        let res = app
            .api
            .delete(app.url(&format!("/api/v1{domain_path}")))
            .bearer_auth(crate::helpers::API_KEY)
            .send()
            .await
            .expect("delete");
        let problem = assert_problem(res, 422, "domain_in_use").await;
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("acme.test")
        );
        let res = app
            .api_patch(&domain_path, &json!({ "purpose": "verified_only" }))
            .await;
        assert_problem(res, 422, "domain_in_use").await;

        // With a second verified SSO domain, the first may go.
        verified_domain(&app, &org_id, "initech.test").await;
        let res = app
            .api
            .delete(app.url(&format!("/api/v1{domain_path}")))
            .bearer_auth(crate::helpers::API_KEY)
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), 204);
    }
);

on_both!(connections_move_and_are_deleted_with_audit, |app| {
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    let c = okta_connection(&app, &acme).await;
    verified_domain(&app, &acme, "acme.test").await;
    app.api_post(
        &format!("/connections/{}/activate", id(&c)),
        &json!({ "skip_test": true }),
    )
    .await;
    let res = app
        .api_post(
            &format!("/connections/{}/move", id(&c)),
            &json!({ "organization_id": globex }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let moved: Value = res.json().await.expect("json");
    assert_eq!(moved["organization_id"], globex);
    assert_eq!(moved["state"], "inactive", "it arrives switched off");
    let res = app
        .api_post(
            &format!("/connections/{}/move", id(&c)),
            &json!({ "organization_id": "org_01aaaaaaaaaaaaaaaaaaaaaaaa" }),
        )
        .await;
    assert_problem(res, 404, "organization_not_found").await;

    let res = app
        .api
        .delete(app.url(&format!("/api/v1/connections/{}", id(&c))))
        .bearer_auth(crate::helpers::API_KEY)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    assert_problem(
        app.api_get(&format!("/connections/{}", id(&c))).await,
        404,
        "connection_not_found",
    )
    .await;
    let actions: Vec<String> = app
        .events(&format!("organization_id={globex}"))
        .await
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect();
    assert_eq!(&actions[..2], ["connection.deleted", "connection.moved"]);
    let acme_actions: Vec<String> = app
        .events(&format!("organization_id={acme}"))
        .await
        .iter()
        .map(|e| e["action"].as_str().expect("a").to_string())
        .collect();
    assert_eq!(
        &acme_actions[..2],
        ["connection.moved", "connection.activated"],
        "the organization it left sees the move too, and not what followed"
    );
    assert!(acme_actions.contains(&"connection.created".to_string()));
    for (org_id, words) in [
        (&acme, "Connection moved to another organization"),
        (&globex, "Connection moved here from another organization"),
    ] {
        let activity = app
            .admin_browser(org_id)
            .await
            .get(app.url("/security/activity"))
            .send()
            .await
            .expect("activity")
            .text()
            .await
            .expect("html");
        assert!(activity.contains(words), "{activity}");
    }
});

on_both!(
    metadata_urls_are_refetched_so_certificate_rotation_needs_no_admin,
    |app| {
        let org_id = org(&app, "Acme").await;
        let served = std::sync::Arc::new(std::sync::Mutex::new(metadata_fixture(
            "okta",
            &[&test_cert("first", 900)],
        )));
        let base = serve_http(
            "127.0.0.1",
            vec![("/metadata", Answer::Shared(served.clone()))],
        )
        .await;
        let res = create(
            &app,
            &org_id,
            json!({ "provider": "okta", "saml": { "metadata_url": format!("{base}/metadata") } }),
        )
        .await;
        let c: Value = res.json().await.expect("json");
        verified_domain(&app, &org_id, "acme.test").await;
        app.api_post(
            &format!("/connections/{}/activate", id(&c)),
            &json!({ "skip_test": true }),
        )
        .await;

        // The identity provider rotates its certificate.
        *served.lock().expect("lock") = metadata_fixture("okta", &[&test_cert("second", 900)]);
        let second = app.second_instance().await;
        app.clock.advance(chrono::Duration::hours(13));
        let (a, b) = tokio::join!(
            app.services.refresh_saml_metadata(),
            second.services.refresh_saml_metadata()
        );
        assert_eq!(
            a.expect("a") + b.expect("b"),
            1,
            "one instance refreshes each connection"
        );
        let after: Value = app
            .api_get(&format!("/connections/{}", id(&c)))
            .await
            .json()
            .await
            .expect("json");
        assert!(
            after["idp"]["certificates"][0]["subject"]
                .as_str()
                .expect("subject")
                .contains("second")
        );
        assert_eq!(after["state"], "active");
        assert_eq!(
            after["config_version"], c["config_version"],
            "not a change by anyone"
        );
        assert_eq!(
            after["live_config_version"], after["config_version"],
            "the live settings carry the new certificate"
        );
        assert_eq!(
            app.events("action=connection.metadata_refreshed")
                .await
                .len(),
            1
        );
        assert_eq!(
            app.services.refresh_saml_metadata().await.expect("pass"),
            0,
            "not due again yet"
        );

        // A broken fetch keeps the last good settings.
        *served.lock().expect("lock") = "<html>maintenance</html>".into();
        app.clock.advance(chrono::Duration::hours(13));
        assert_eq!(app.services.refresh_saml_metadata().await.expect("pass"), 1);
        let kept: Value = app
            .api_get(&format!("/connections/{}", id(&c)))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(kept["idp"], after["idp"]);
        let events = app.events("action=connection.metadata_refreshed").await;
        assert_eq!(events[0]["data"]["ok"], false);
    }
);

/// A discovery document naming `issuer`, its endpoints under `base`.
fn discovery_document(issuer: &str, base: &str, keys: &str) -> String {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/{keys}"),
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    })
    .to_string()
}

on_both!(
    discovery_documents_are_refetched_so_moved_endpoints_need_no_admin,
    |app| {
        use gatehouse::services::oidc_settings::oidc_config;
        let org_id = org(&app, "Acme").await;
        let served = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let base = serve_http(
            "127.0.0.1",
            vec![(
                "/.well-known/openid-configuration",
                Answer::Shared(served.clone()),
            )],
        )
        .await;
        *served.lock().expect("lock") = discovery_document(&base, &base, "jwks");
        let res = create(
            &app,
            &org_id,
            json!({ "provider": "custom_oidc", "oidc": { "discovery_url": base, "client_id": "gatehouse", "client_secret": "s3cret" } }),
        )
        .await;
        assert_eq!(res.status(), 201);
        let c: Value = res.json().await.expect("json");
        verified_domain(&app, &org_id, "acme.test").await;
        let res = app
            .api_post(
                &format!("/connections/{}/activate", id(&c)),
                &json!({ "skip_test": true }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let jwks_uris = |c: &gatehouse::domain::connections::Connection| {
            let live: gatehouse::oidc::config::OidcConfig =
                serde_json::from_value(c.live_config.clone().expect("live")).expect("oidc");
            (
                oidc_config(c).provider.expect("provider").jwks_uri,
                live.provider.expect("provider").jwks_uri,
            )
        };

        // The provider moves its keys; one instance picks that up.
        *served.lock().expect("lock") = discovery_document(&base, &base, "keys/v2");
        let second = app.second_instance().await;
        app.clock.advance(chrono::Duration::hours(13));
        let (a, b) = tokio::join!(
            app.services.refresh_oidc_discovery(),
            second.services.refresh_oidc_discovery()
        );
        assert_eq!(
            a.expect("a") + b.expect("b"),
            1,
            "one instance refreshes each connection"
        );
        let after = app.services.get_connection(id(&c)).await.expect("read");
        let moved = format!("{base}/keys/v2");
        assert_eq!(jwks_uris(&after), (moved.clone(), moved.clone()));
        assert_eq!(after.lifecycle.config_version, c["config_version"]);
        let read: Value = app
            .api_get(&format!("/connections/{}", id(&c)))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(read["state"], "active");
        assert_eq!(
            read["config_version"], c["config_version"],
            "not a change by anyone"
        );
        let events = app.events("action=connection.metadata_refreshed").await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["data"]["ok"], true);
        assert_eq!(events[0]["data"]["jwks_uri"], moved.as_str());
        assert_eq!(
            events[0]["data"]["previous_jwks_uri"],
            format!("{base}/jwks").as_str()
        );
        assert_eq!(
            app.services.refresh_oidc_discovery().await.expect("pass"),
            0,
            "not due again yet"
        );

        // The same document again: saved quietly, with no event.
        app.clock.advance(chrono::Duration::hours(13));
        assert_eq!(
            app.services.refresh_oidc_discovery().await.expect("pass"),
            1
        );
        assert_eq!(
            app.events("action=connection.metadata_refreshed")
                .await
                .len(),
            1
        );

        // A refresh writes the settings alone: an admin's deactivation
        // between its read and its write stands.
        let read = app.services.get_connection(id(&c)).await.expect("read");
        let res = app
            .api_post(&format!("/connections/{}/deactivate", id(&c)), &json!({}))
            .await;
        assert_eq!(res.status(), 200);
        app.services
            .store
            .save_refreshed_settings(
                &read,
                &read.lifecycle,
                &gatehouse::domain::audit::ChangeContext::system(),
                None,
            )
            .await
            .expect("the settings are written");
        let read: Value = app
            .api_get(&format!("/connections/{}", id(&c)))
            .await
            .json()
            .await
            .expect("json");
        assert_ne!(read["state"], "active", "still deactivated: {read}");

        // Another issuer, or a broken document: the last good settings stay.
        for (body, says) in [
            (
                discovery_document("https://elsewhere.example", &base, "keys/v3"),
                "issuer",
            ),
            ("<html>maintenance</html>".to_string(), "discovery document"),
        ] {
            *served.lock().expect("lock") = body;
            app.clock.advance(chrono::Duration::hours(13));
            assert_eq!(
                app.services.refresh_oidc_discovery().await.expect("pass"),
                1
            );
            let kept = app.services.get_connection(id(&c)).await.expect("read");
            assert_eq!(jwks_uris(&kept), (moved.clone(), moved.clone()));
            let error = oidc_config(&kept)
                .discovery_refresh_error
                .expect("the error is kept");
            assert!(error.contains(says), "{error}");
            let events = app.events("action=connection.metadata_refreshed").await;
            assert_eq!(events[0]["data"]["ok"], false);
        }
    }
);
