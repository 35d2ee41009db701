//! The ACS against responses built and signed by an independent
//! implementation (signxml, tests/saml/idp.py): a full SP-initiated round
//! trip, IdP-initiated sign-in, and every known attack, each rejected with
//! its code.

use std::io::Read;

use base64::Engine;
use chrono::{Duration, SecondsFormat, Utc};
use gatehouse::services::saml_signin::{FlowPurpose, SignInStart};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestIdp, error_code, on_both};

const IDP_ENTITY: &str = "https://idp.acme.test/metadata";

/// A SAML connection of organization Acme with a verified domain acme.test.
pub(crate) struct Saml {
    pub org: String,
    pub conn: String,
    pub acs: String,
    pub audience: String,
}

impl Saml {
    pub async fn new(app: &TestApp, extra: Value) -> Self {
        let org_id = app.verified_org("Acme", "acme.test").await;
        Self::for_org(app, &org_id, extra).await
    }

    pub async fn for_org(app: &TestApp, org_id: &str, extra: Value) -> Self {
        let mut body = json!({ "provider": "custom_saml", "saml": {
            "sso_url": "https://idp.acme.test/sso", "entity_id": IDP_ENTITY, "certificate_pem": TestIdp::shared().cert_pem } });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let res = app
            .api_post(&format!("/organizations/{org_id}/connections"), &body)
            .await;
        assert_eq!(res.status(), 201);
        let c: Value = res.json().await.expect("json");
        Self {
            org: org_id.to_string(),
            conn: c["id"].as_str().expect("id").to_string(),
            acs: c["sp"]["acs_url"].as_str().expect("acs").to_string(),
            audience: c["sp"]["entity_id"].as_str().expect("entity").to_string(),
        }
    }

    /// Starts a sign-in the way the browser would; answers the AuthnRequest
    /// ID and the RelayState.
    pub async fn start(&self, app: &TestApp, purpose: FlowPurpose) -> (String, String) {
        let start = app
            .services
            .start_saml_sign_in(&self.conn, purpose, json!({}))
            .await
            .expect("start");
        let SignInStart::Redirect(url) = start else {
            panic!("expected the redirect binding: {start:?}");
        };
        let url = url::Url::parse(&url).expect("url");
        assert!(url.as_str().starts_with("https://idp.acme.test/sso?"));
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(&pairs["SAMLRequest"])
            .expect("b64");
        let mut request = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut request)
            .expect("inflate");
        let doc = roxmltree::Document::parse(&request).expect("xml");
        assert_eq!(
            doc.root_element().attribute("AssertionConsumerServiceURL"),
            Some(self.acs.as_str())
        );
        (
            doc.root_element().attribute("ID").expect("ID").to_string(),
            pairs["RelayState"].clone(),
        )
    }

    /// The parameters of a valid response; tests change one thing.
    fn params(&self, in_response_to: Option<&str>) -> Value {
        json!({
            "issuer": IDP_ENTITY, "destination": self.acs, "audience": self.audience,
            "in_response_to": in_response_to, "name_id": "alice@acme.test",
            "attributes": { "email": ["alice@acme.test"], "firstName": ["Alice"], "lastName": ["Liddell"], "groups": ["admins", "staff"] },
        })
    }

    pub fn sign(&self, in_response_to: Option<&str>, changes: Value) -> String {
        let mut p = self.params(in_response_to);
        if let (Some(b), Some(e)) = (p.as_object_mut(), changes.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        TestIdp::shared().response(&p)
    }

    /// Posts to the ACS: status, error code header, body.
    pub async fn post(
        &self,
        app: &TestApp,
        saml_response: &str,
        relay: Option<&str>,
    ) -> (u16, Option<String>, String) {
        self.post_to(app, &self.conn, saml_response, relay).await
    }

    async fn post_to(
        &self,
        app: &TestApp,
        conn: &str,
        saml_response: &str,
        relay: Option<&str>,
    ) -> (u16, Option<String>, String) {
        let mut form = vec![("SAMLResponse", saml_response.to_string())];
        if let Some(r) = relay {
            form.push(("RelayState", r.to_string()));
        }
        let res = app
            .browser()
            .post(app.url(&format!("/saml/{conn}/acs")))
            .form(&form)
            .send()
            .await
            .expect("post");
        let status = res.status().as_u16();
        let code = error_code(&res);
        (status, code, res.text().await.expect("body"))
    }

    /// A full test flow with one change; answers the error code.
    pub async fn rejects(&self, app: &TestApp, changes: Value) -> String {
        let (request_id, relay) = self.start(app, FlowPurpose::Test).await;
        let response = self.sign(Some(&request_id), changes);
        let (status, code, body) = self.post(app, &response, Some(&relay)).await;
        assert_eq!(status, 400, "rejected: {body}");
        code.expect("an error code")
    }
}

fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

on_both!(a_full_sp_initiated_round_trip_yields_the_identity, |app| {
    let saml = Saml::new(&app, json!({})).await;
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let response = saml.sign(Some(&request_id), json!({}));
    let (status, code, body) = saml.post(&app, &response, Some(&relay)).await;
    assert_eq!(status, 200, "{code:?} {body}");
    assert!(body.contains("Test passed: signed in as alice@acme.test"));
    assert!(body.contains("Liddell") && body.contains("admins, staff"));

    // The clean function the test and sign-in steps build on.
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let response = saml.sign(
        Some(&request_id),
        json!({ "sign": "both", "algorithm": "rsa-sha512", "line_breaks": true }),
    );
    let done = app
        .services
        .complete_saml_sign_in(&saml.conn, &response, Some(&relay))
        .await
        .expect("valid");
    assert_eq!(done.identity.email, "alice@acme.test");
    assert_eq!(done.identity.first_name.as_deref(), Some("Alice"));
    assert_eq!(done.identity.groups, vec!["admins", "staff"]);
    assert_eq!(done.identity.name_id.as_deref(), Some("alice@acme.test"));
    assert!(done.identity.session_index.is_some());
    assert_eq!(done.flow.expect("flow").purpose, "test");
});

on_both!(responses_signed_on_the_response_alone_are_accepted, |app| {
    let saml = Saml::new(&app, json!({})).await;
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let response = saml.sign(Some(&request_id), json!({ "sign": "response" }));
    assert_eq!(saml.post(&app, &response, Some(&relay)).await.0, 200);
});

on_both!(idp_initiated_sign_in_works_only_when_allowed, |app| {
    let saml = Saml::new(&app, json!({ "allow_idp_initiated": true })).await;
    let res = app
        .api_post(
            &format!("/connections/{}/activate", saml.conn),
            &json!({ "skip_test": true }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let response = saml.sign(None, json!({}));
    let (status, _, body) = saml.post(&app, &response, None).await;
    assert_eq!(status, 200, "{body}");
    let (_, code, _) = saml.post(&app, &response, None).await;
    assert_eq!(
        code.as_deref(),
        Some("saml_replayed_assertion"),
        "an unsolicited assertion is also used once"
    );

    let strict = Saml::for_org(&app, &saml.org, json!({})).await;
    let response = strict.sign(None, json!({}));
    let (_, code, _) = strict.post(&app, &response, None).await;
    assert_eq!(code.as_deref(), Some("saml_response_relaystate_missing"));
    let (_, code, _) = strict.post(&app, &response, Some("ghr_not_ours")).await;
    assert_eq!(code.as_deref(), Some("saml_response_relaystate_invalid"));
    for unknown in ["conn_01jzzzzzzzzzzzzzzzzzzzzzzz", "not-an-id"] {
        let (_, code, _) = strict
            .post_to(&app, unknown, &response, Some("ghr_not_ours"))
            .await;
        assert_eq!(
            code.as_deref(),
            Some("saml_connection_unknown"),
            "an ACS URL naming no connection: {unknown}"
        );
    }
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let _ = request_id;
    let (_, code, _) = saml
        .post(
            &app,
            &saml.sign(None, json!({ "in_response_to": "_made_up" })),
            Some(&relay),
        )
        .await;
    assert_eq!(code.as_deref(), Some("saml_in_response_to_invalid"));
});

on_both!(a_replayed_response_is_refused_on_every_instance, |app| {
    // SP-initiated: the flow completes once.
    let saml = Saml::new(&app, json!({ "allow_idp_initiated": true })).await;
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let response = saml.sign(Some(&request_id), json!({}));
    assert_eq!(saml.post(&app, &response, Some(&relay)).await.0, 200);
    let (status, code, _) = saml.post(&app, &response, Some(&relay)).await;
    assert_eq!(
        (status, code.as_deref()),
        (400, Some("saml_in_response_to_invalid"))
    );

    // IdP-initiated, where only the assertion ID can tell: the replay cache
    // is in the database, so another instance refuses it too.
    app.api_post(
        &format!("/connections/{}/activate", saml.conn),
        &json!({ "skip_test": true }),
    )
    .await;
    let unsolicited = saml.sign(None, json!({}));
    assert_eq!(saml.post(&app, &unsolicited, None).await.0, 200);
    let second = app.second_instance().await;
    let res = crate::helpers::client()
        .post(format!("{}/saml/{}/acs", second.address, saml.conn))
        .form(&[("SAMLResponse", unsolicited.as_str())])
        .send()
        .await
        .expect("post");
    let code = error_code(&res);
    let body = res.text().await.expect("body");
    assert_eq!(code.as_deref(), Some("saml_replayed_assertion"), "{body}");
});

on_both!(xml_signature_wrapping_variants_are_all_refused, |app| {
    let saml = Saml::new(&app, json!({})).await;
    for (attack, sign) in [
        ("xsw1", "response"),
        ("xsw2", "response"),
        ("xsw3", "assertion"),
        ("xsw4", "assertion"),
        ("xsw5", "assertion"),
        ("xsw6", "assertion"),
        ("xsw7", "assertion"),
        ("xsw8", "assertion"),
    ] {
        let code = saml
            .rejects(&app, json!({ "attack": attack, "sign": sign }))
            .await;
        assert!(
            [
                "saml_assertion_count_invalid",
                "saml_signature_invalid",
                "saml_response_malformed"
            ]
            .contains(&code.as_str()),
            "{attack}: {code}"
        );
    }
});

on_both!(an_extra_unsigned_assertion_is_refused, |app| {
    let saml = Saml::new(&app, json!({})).await;
    assert_eq!(
        saml.rejects(&app, json!({ "attack": "extra_assertion" }))
            .await,
        "saml_assertion_count_invalid"
    );
});

on_both!(
    a_stripped_signature_with_an_edited_name_id_is_refused,
    |app| {
        let saml = Saml::new(&app, json!({})).await;
        assert_eq!(
            saml.rejects(&app, json!({ "attack": "strip_signature" }))
                .await,
            "saml_signature_missing"
        );
        assert_eq!(
            saml.rejects(&app, json!({ "sign": "none" })).await,
            "saml_signature_missing"
        );
    }
);

on_both!(an_edit_after_signing_is_refused, |app| {
    let saml = Saml::new(&app, json!({})).await;
    assert_eq!(
        saml.rejects(&app, json!({ "attack": "edit_after_signing" }))
            .await,
        "saml_signature_invalid"
    );
});

on_both!(
    a_response_signed_by_another_key_is_refused_showing_both_fingerprints,
    |app| {
        let saml = Saml::new(&app, json!({})).await;
        let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
        let response = saml.sign(Some(&request_id), json!({ "attack": "other_key" }));
        let (status, code, body) = saml.post(&app, &response, Some(&relay)).await;
        assert_eq!(status, 400);
        assert_eq!(code.as_deref(), Some("saml_signature_invalid"));
        assert!(
            body.contains("Expected:") && body.contains("Received:"),
            "a test shows the fingerprints"
        );
    }
);

on_both!(
    comments_and_processing_instructions_in_signed_values_are_refused,
    |app| {
        let saml = Saml::new(&app, json!({})).await;
        assert_eq!(
            saml.rejects(&app, json!({ "attack": "comment_in_name_id" }))
                .await,
            "saml_response_malformed"
        );
        assert_eq!(
            saml.rejects(&app, json!({ "attack": "processing_instruction" }))
                .await,
            "saml_response_malformed"
        );
    }
);

on_both!(doctypes_entities_and_truncated_xml_are_refused, |app| {
    let saml = Saml::new(&app, json!({})).await;
    for attack in ["doctype", "external_entity", "truncate"] {
        assert_eq!(
            saml.rejects(&app, json!({ "attack": attack })).await,
            "saml_response_malformed",
            "{attack}"
        );
    }
    let (_, relay) = saml.start(&app, FlowPurpose::Test).await;
    for junk in [
        "",
        "not base64 !!!",
        &base64::engine::general_purpose::STANDARD.encode("<x/>"),
    ] {
        let (status, code, _) = saml.post(&app, junk, Some(&relay)).await;
        assert_eq!(
            (status, code.as_deref()),
            (400, Some("saml_response_malformed")),
            "{junk:?}"
        );
    }
});

on_both!(sha1_signatures_are_refused, |app| {
    let saml = Saml::new(&app, json!({})).await;
    assert_eq!(
        saml.rejects(&app, json!({ "algorithm": "rsa-sha1" })).await,
        "saml_signature_algorithm_not_allowed"
    );
});

on_both!(
    audience_destination_recipient_and_issuer_are_checked,
    |app| {
        let saml = Saml::new(&app, json!({})).await;
        assert_eq!(
            saml.rejects(&app, json!({ "omit_audience": true })).await,
            "saml_audience_mismatch"
        );
        assert_eq!(
            saml.rejects(
                &app,
                json!({ "audience": "https://other-sp.example/metadata" })
            )
            .await,
            "saml_audience_mismatch"
        );
        assert_eq!(
            saml.rejects(
                &app,
                json!({ "destination": "https://other-sp.example/acs" })
            )
            .await,
            "saml_destination_mismatch"
        );
        assert_eq!(
            saml.rejects(&app, json!({ "omit_recipient": true })).await,
            "saml_recipient_mismatch"
        );
        assert_eq!(
            saml.rejects(&app, json!({ "issuer": "https://evil-idp.example" }))
                .await,
            "saml_issuer_mismatch"
        );
    }
);

on_both!(a_response_for_another_connection_is_refused, |app| {
    let saml = Saml::new(&app, json!({})).await;
    let other = Saml::for_org(&app, &saml.org, json!({})).await;
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let response = saml.sign(Some(&request_id), json!({}));
    let (_, code, _) = saml
        .post_to(&app, &other.conn, &response, Some(&relay))
        .await;
    assert_eq!(code.as_deref(), Some("saml_connection_mismatch"));
    let (_, code, _) = other.post(&app, &saml.sign(None, json!({})), None).await;
    assert_eq!(code.as_deref(), Some("saml_response_relaystate_missing"));
});

on_both!(in_response_to_must_name_this_browsers_request, |app| {
    let saml = Saml::new(&app, json!({})).await;
    let (_, relay_one) = saml.start(&app, FlowPurpose::Test).await;
    let (request_two, _) = saml.start(&app, FlowPurpose::Test).await;
    let (_, code, _) = saml
        .post(
            &app,
            &saml.sign(Some(&request_two), json!({})),
            Some(&relay_one),
        )
        .await;
    assert_eq!(
        code.as_deref(),
        Some("saml_in_response_to_invalid"),
        "another flow's request"
    );
    let (_, code, _) = saml
        .post(
            &app,
            &saml.sign(Some("_unknown_request"), json!({})),
            Some(&relay_one),
        )
        .await;
    assert_eq!(
        code.as_deref(),
        Some("saml_in_response_to_invalid"),
        "an unknown request"
    );
    let (_, code, _) = saml
        .post(&app, &saml.sign(None, json!({})), Some(&relay_one))
        .await;
    assert_eq!(
        code.as_deref(),
        Some("saml_in_response_to_invalid"),
        "unsolicited in a started flow"
    );

    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    assert_eq!(
        saml.post(&app, &saml.sign(Some(&request_id), json!({})), Some(&relay))
            .await
            .0,
        200
    );
    let (_, code, _) = saml
        .post(&app, &saml.sign(Some(&request_id), json!({})), Some(&relay))
        .await;
    assert_eq!(
        code.as_deref(),
        Some("saml_in_response_to_invalid"),
        "a flow is completed once"
    );
});

on_both!(time_windows_are_enforced, |app| {
    let saml = Saml::new(&app, json!({})).await;
    assert_eq!(
        saml.rejects(&app, json!({ "issue_instant": at(Duration::minutes(-20)), "not_before": at(Duration::minutes(-20)), "not_on_or_after": at(Duration::minutes(-10)) })).await,
        "saml_response_expired"
    );
    assert_eq!(
        saml.rejects(&app, json!({ "not_before": at(Duration::minutes(10)), "not_on_or_after": at(Duration::minutes(20)) })).await,
        "saml_response_not_yet_valid"
    );
    assert_eq!(
        saml.rejects(&app, json!({ "issue_instant": at(Duration::minutes(10)), "not_before": at(Duration::minutes(-1)), "not_on_or_after": at(Duration::minutes(20)) })).await,
        "saml_issue_instant_invalid"
    );
    // One minute of clock difference is tolerated.
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let response = saml.sign(Some(&request_id), json!({ "issue_instant": at(Duration::minutes(1)), "not_before": at(Duration::minutes(1)) }));
    assert_eq!(saml.post(&app, &response, Some(&relay)).await.0, 200);
    // A flow the identity provider took too long to answer.
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    app.clock.advance(Duration::minutes(11));
    let response = saml.sign(Some(&request_id), json!({ "issue_instant": at(Duration::minutes(11)), "not_before": at(Duration::minutes(11)), "not_on_or_after": at(Duration::minutes(16)) }));
    let (_, code, _) = saml.post(&app, &response, Some(&relay)).await;
    assert_eq!(code.as_deref(), Some("saml_request_expired"));
});

on_both!(a_failed_status_is_explained, |app| {
    let saml = Saml::new(&app, json!({})).await;
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let response = saml.sign(
        Some(&request_id),
        json!({
        "status": "urn:oasis:names:tc:SAML:2.0:status:Requester",
        "sub_status": "urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
        "status_message": "User is not assigned to this application" }),
    );
    let (status, code, body) = saml.post(&app, &response, Some(&relay)).await;
    assert_eq!(
        (status, code.as_deref()),
        (400, Some("saml_status_not_success"))
    );
    assert!(
        body.contains("not assigned"),
        "the identity provider's words reach the admin"
    );
});

on_both!(
    large_responses_and_wrapped_base64_are_accepted_but_not_without_limit,
    |app| {
        let saml = Saml::new(&app, json!({})).await;
        let groups: Vec<String> = (0..3000)
            .map(|i| format!("CN=Group number {i},OU=Groups,DC=acme,DC=test"))
            .collect();
        let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
        let response = saml.sign(Some(&request_id), json!({ "line_breaks": true, "attributes": { "email": ["alice@acme.test"], "groups": groups } }));
        assert!(
            response.len() > 100_000,
            "a realistic large response: {} bytes",
            response.len()
        );
        let (status, _, body) = saml.post(&app, &response, Some(&relay)).await;
        assert_eq!(status, 200, "{body}");
        let huge = "A".repeat(1_100_000);
        let res = app
            .browser()
            .post(app.url(&format!("/saml/{}/acs", saml.conn)))
            .form(&[("SAMLResponse", huge.as_str())])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 413);
    }
);

on_both!(
    the_identity_must_have_an_email_at_a_verified_domain,
    |app| {
        let saml = Saml::new(&app, json!({})).await;
        assert_eq!(
            saml.rejects(
                &app,
                json!({ "name_id": "00u1opaque", "attributes": { "department": ["R&D"] } })
            )
            .await,
            "saml_user_attribute_missing"
        );
        assert_eq!(
            saml.rejects(
                &app,
                json!({ "name_id": "mallory@evil-acme.test", "attributes": {} })
            )
            .await,
            "saml_email_address_domain_mismatch"
        );
        assert_eq!(
            saml.rejects(
                &app,
                json!({ "name_id": "bob@eu.acme.test", "attributes": {} })
            )
            .await,
            "saml_email_address_domain_mismatch",
            "subdomains only when allowed"
        );
        app.api_patch(
            &format!("/connections/{}", saml.conn),
            &json!({ "allow_subdomains": true }),
        )
        .await;
        let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
        let response = saml.sign(
            Some(&request_id),
            json!({ "name_id": "bob@eu.acme.test", "attributes": {} }),
        );
        assert_eq!(saml.post(&app, &response, Some(&relay)).await.0, 200);
    }
);

on_both!(
    end_users_see_the_code_and_request_id_but_no_internals,
    |app| {
        let saml = Saml::new(&app, json!({})).await;
        app.api_post(
            &format!("/connections/{}/activate", saml.conn),
            &json!({ "skip_test": true }),
        )
        .await;
        let (request_id, relay) = saml.start(&app, FlowPurpose::SignIn).await;
        let response = saml.sign(Some(&request_id), json!({ "attack": "other_key" }));
        let (status, code, body) = saml.post(&app, &response, Some(&relay)).await;
        assert_eq!(
            (status, code.as_deref()),
            (400, Some("saml_signature_invalid"))
        );
        assert!(
            !body.contains("Expected:") && !body.contains("Received:"),
            "no internals for end users"
        );
        assert!(body.contains("req_"), "a request id to quote");
    }
);
