//! The Connection step of the Security tab.

use serde_json::Value;

use crate::helpers::{
    TestApp, form_post as post, metadata_fixture, on_both, signed_in_admin as admin, test_cert,
};

async fn page(app: &TestApp, browser: &reqwest::Client) -> String {
    browser
        .get(app.url("/security/connection"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html")
}

async fn connection(app: &TestApp, org_id: &str) -> Value {
    let body: Value = app
        .api_get(&format!("/organizations/{org_id}/connections"))
        .await
        .json()
        .await
        .expect("json");
    body["data"][0].clone()
}

on_both!(
    every_provider_in_the_catalogue_has_its_guide_with_our_values,
    |app| {
        let (browser, csrf, org_id) = admin(&app, "Acme").await;
        let html = page(&app, &browser).await;
        for entry in gatehouse::saml::catalogue::SAML {
            assert!(
                html.contains(&format!("value=\"{}\"", entry.provider.as_str())),
                "{:?} offered",
                entry.provider
            );
        }
        for entry in gatehouse::saml::catalogue::SAML {
            let res = post(
                &app,
                &browser,
                "/security/connection",
                &[("csrf_token", &csrf), ("provider", entry.provider.as_str())],
            )
            .await;
            assert_eq!(res.status(), 303, "{:?}", entry.provider);
            let html = page(&app, &browser).await;
            let c = connection(&app, &org_id).await;
            let acs = c["sp"]["acs_url"].as_str().expect("acs");
            assert!(
                html.contains("class=\"guide\""),
                "{:?} guide",
                entry.provider
            );
            assert!(
                html.matches(acs).count() >= 2,
                "{:?}: the ACS URL in the table and in the guide",
                entry.provider
            );
            assert!(
                html.contains(entry.attributes.email),
                "{:?} attribute table",
                entry.provider
            );
            assert!(html.contains("data-copy=\"#sp-acs\""));
            let res = post(
                &app,
                &browser,
                &format!(
                    "/security/connection/{}/delete",
                    c["id"].as_str().expect("id")
                ),
                &[("csrf_token", &csrf)],
            )
            .await;
            assert_eq!(res.status(), 303);
        }
        let res = post(
            &app,
            &browser,
            "/security/connection",
            &[("csrf_token", &csrf), ("provider", "okta_saml")],
        )
        .await;
        assert_eq!(res.status(), 422, "only providers of the catalogue");
    }
);

on_both!(
    metadata_saved_from_the_page_shows_what_was_understood,
    |app| {
        let (browser, csrf, org_id) = admin(&app, "Acme").await;
        post(
            &app,
            &browser,
            "/security/connection",
            &[("csrf_token", &csrf), ("provider", "okta")],
        )
        .await;
        let id = connection(&app, &org_id).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let xml = metadata_fixture("okta", &[&test_cert("okta-signing", 20)]);
        let res = post(
            &app,
            &browser,
            &format!("/security/connection/{id}/idp"),
            &[
                ("csrf_token", &csrf),
                ("method", "xml"),
                ("metadata_xml", &xml),
            ],
        )
        .await;
        assert_eq!(res.status(), 303);
        let html = page(&app, &browser).await;
        assert!(html.contains("http://www.okta.com/exk1fixture0000000"));
        assert!(html.contains("okta-signing"), "the certificate's subject");
        assert!(
            html.contains("cert-warning") && html.contains("soon"),
            "expiry under 30 days is flagged"
        );
        assert!(html.contains("Configured"), "the stepper follows");

        // A bad certificate: the error, what was typed, and the saved settings all stay.
        let old = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
            test_cert("old", -1)
        );
        let res = post(
            &app,
            &browser,
            &format!("/security/connection/{id}/idp"),
            &[
                ("csrf_token", &csrf),
                ("method", "manual"),
                ("sso_url", "https://idp.acme.test/sso"),
                ("entity_id", "https://idp.acme.test"),
                ("certificate_pem", &old),
            ],
        )
        .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.expect("html");
        assert!(html.contains("expired on"));
        assert!(
            html.contains("value=\"https://idp.acme.test/sso\""),
            "typed values kept"
        );
        assert!(
            html.contains("http://www.okta.com/exk1fixture0000000"),
            "the last good settings still shown"
        );
        assert_eq!(
            connection(&app, &org_id).await["config_version"],
            2,
            "unchanged by the failure"
        );
    }
);

on_both!(options_and_attribute_names_are_saved_from_the_page, |app| {
    let (browser, csrf, org_id) = admin(&app, "Acme").await;
    post(
        &app,
        &browser,
        "/security/connection",
        &[("csrf_token", &csrf), ("provider", "entra_id")],
    )
    .await;
    let id = connection(&app, &org_id).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    post(
        &app,
        &browser,
        &format!("/security/connection/{id}/options"),
        &[("csrf_token", &csrf), ("allow_subdomains", "on")],
    )
    .await;
    let c = connection(&app, &org_id).await;
    assert_eq!(c["allow_subdomains"], true);
    assert_eq!(c["allow_idp_initiated"], false);
    post(
        &app,
        &browser,
        &format!("/security/connection/{id}/mapping"),
        &[
            ("csrf_token", &csrf),
            ("email", "mail"),
            ("first_name", ""),
            ("last_name", ""),
            ("groups", ""),
        ],
    )
    .await;
    let html = page(&app, &browser).await;
    assert!(html.contains("id=\"map-email\" name=\"email\" type=\"text\" value=\"mail\""));
    assert!(!html.contains("Download certificate"));
    let certificate_url = app.url(&format!("/saml/{id}/certificate"));
    let res = browser.get(&certificate_url).send().await.expect("get");
    assert_eq!(res.status(), 404, "no certificate before it is needed");

    // Signing and encryption: a certificate to download appears.
    post(
        &app,
        &browser,
        &format!("/security/connection/{id}/options"),
        &[
            ("csrf_token", &csrf),
            ("allow_subdomains", "on"),
            ("sign_requests", "on"),
            ("encrypt_assertions", "on"),
        ],
    )
    .await;
    let c = connection(&app, &org_id).await;
    assert_eq!(c["allow_subdomains"], true, "kept");
    assert_eq!(c["sp"]["sign_requests"], true);
    assert_eq!(c["sp"]["encrypt_assertions"], true);
    let html = page(&app, &browser).await;
    assert!(html.contains("Download certificate"));
    assert!(html.contains("to verify Gatehouse's signed requests and to encrypt assertions"));
    let res = browser.get(&certificate_url).send().await.expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.expect("pem"),
        c["sp"]["certificate"]["pem"].as_str().expect("pem")
    );

    let events = app
        .events(&format!(
            "organization_id={org_id}&action=connection.updated"
        ))
        .await;
    assert_eq!(events.len(), 3);
});

on_both!(
    another_organizations_connection_cannot_be_touched_from_the_tab,
    |app| {
        let (acme_browser, acme_csrf, acme) = admin(&app, "Acme").await;
        post(
            &app,
            &acme_browser,
            "/security/connection",
            &[("csrf_token", &acme_csrf), ("provider", "okta")],
        )
        .await;
        let id = connection(&app, &acme).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let (browser, csrf, _) = admin(&app, "Globex").await;
        for action in ["idp", "options", "mapping", "delete"] {
            let res = post(
                &app,
                &browser,
                &format!("/security/connection/{id}/{action}"),
                &[
                    ("csrf_token", &csrf),
                    ("method", "url"),
                    ("metadata_url", "https://x.example/m"),
                ],
            )
            .await;
            assert_eq!(res.status(), 404, "{action}");
        }
        assert!(!page(&app, &browser).await.contains(&id));
        assert_eq!(connection(&app, &acme).await["id"], id.as_str());
    }
);

on_both!(
    oidc_providers_are_set_up_from_the_page_and_the_secret_never_comes_back,
    |app| {
        let provider = crate::oidc_provider::TestOidc::start(serde_json::json!([]));
        let (browser, csrf, org_id) = admin(&app, "Acme").await;
        let html = page(&app, &browser).await;
        for entry in gatehouse::oidc::catalogue::OIDC {
            assert!(html.contains(&format!("value=\"{}\"", entry.provider.as_str())));
        }
        let res = post(
            &app,
            &browser,
            "/security/connection",
            &[("csrf_token", &csrf), ("provider", "custom_oidc")],
        )
        .await;
        assert_eq!(res.status(), 303);
        let c = connection(&app, &org_id).await;
        let id = c["id"].as_str().expect("id").to_string();
        let redirect = c["oidc_redirect_uri"].as_str().expect("redirect uri");
        let html = page(&app, &browser).await;
        assert!(html.contains("id=\"guide-custom_oidc\""));
        assert!(
            html.matches(redirect).count() >= 2,
            "shown and in the guide"
        );
        assert!(html.contains("name=\"client_secret\" type=\"password\" value=\"\""));

        // A bad issuer: the error, what was typed (never the secret).
        let secret = "page-secret-value-ending-in-9876";
        let res = post(
            &app,
            &browser,
            &format!("/security/connection/{id}/oidc"),
            &[
                ("csrf_token", &csrf),
                ("discovery_url", "not a url"),
                ("client_id", "typed-client"),
                ("client_secret", secret),
                ("scopes", ""),
            ],
        )
        .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.expect("html");
        assert!(html.contains("is not a URL"), "{html}");
        assert!(html.contains("value=\"typed-client\"") && !html.contains(secret));

        let res = post(
            &app,
            &browser,
            &format!("/security/connection/{id}/oidc"),
            &[
                ("csrf_token", &csrf),
                ("discovery_url", &provider.issuer),
                ("client_id", "typed-client"),
                ("client_secret", secret),
                ("scopes", "groups"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303);
        let html = page(&app, &browser).await;
        assert!(html.contains("set, ends in …9876") && !html.contains(secret));
        assert!(html.contains("openid email profile groups"));
        assert!(html.contains(&provider.issuer));
        let c = connection(&app, &org_id).await;
        assert_eq!(c["oidc"]["client_id"], "typed-client");

        // Saving again without a secret keeps the saved one.
        let res = post(
            &app,
            &browser,
            &format!("/security/connection/{id}/oidc"),
            &[
                ("csrf_token", &csrf),
                ("discovery_url", &provider.issuer),
                ("client_id", "other-client"),
                ("client_secret", ""),
                ("scopes", "groups"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303);
        let c = connection(&app, &org_id).await;
        assert_eq!(c["oidc"]["client_id"], "other-client");
        assert_eq!(c["oidc"]["client_secret_hint"], "9876");

        post(
            &app,
            &browser,
            &format!("/security/connection/{id}/options"),
            &[("csrf_token", &csrf), ("allow_subdomains", "on")],
        )
        .await;
        assert_eq!(connection(&app, &org_id).await["allow_subdomains"], true);
    }
);
