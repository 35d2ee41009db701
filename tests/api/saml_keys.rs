//! Gatehouse's own SAML keys: signed AuthnRequests (checked by an
//! independent verifier, tests/saml/verify_request.py) and encrypted
//! assertions (encrypted by the xmlsec1 command line through
//! tests/saml/idp.py), with the key stored sealed.

use base64::Engine;
use gatehouse::services::saml_signin::{FlowPurpose, SignInStart};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestIdp, on_both, spawn_app};
use crate::saml::Saml;

async fn sqlite() -> TestApp {
    spawn_app(Backend::Sqlite).await.expect("SQLite")
}

/// Turns options on or off through the host API; answers the connection.
async fn set(app: &TestApp, saml: &Saml, options: Value) -> Value {
    let res = app
        .api_patch(
            &format!("/connections/{}", saml.conn),
            &json!({ "saml": options }),
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

fn certificate(connection: &Value) -> String {
    connection["sp"]["certificate"]["pem"]
        .as_str()
        .expect("an SP certificate")
        .to_string()
}

async fn sp_metadata(app: &TestApp, saml: &Saml) -> String {
    let res = app
        .browser()
        .get(app.url(&format!("/saml/{}/metadata", saml.conn)))
        .send()
        .await
        .expect("metadata");
    assert_eq!(res.status(), 200);
    res.text().await.expect("body")
}

fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[tokio::test]
async fn signed_redirect_requests_verify_with_the_published_certificate() {
    let app = sqlite().await;
    let saml = Saml::new(&app, json!({})).await;
    let before = sp_metadata(&app, &saml).await;
    assert!(before.contains(r#"AuthnRequestsSigned="false""#) && !before.contains("KeyDescriptor"));

    let c = set(&app, &saml, json!({ "sign_requests": true })).await;
    assert_eq!(c["sp"]["sign_requests"], true);
    assert_eq!(c["config_version"], 2, "a new version to test");
    let cert = certificate(&c);
    let metadata = sp_metadata(&app, &saml).await;
    assert!(metadata.contains(r#"AuthnRequestsSigned="true""#));
    assert!(metadata.contains(r#"use="signing""#) && !metadata.contains(r#"use="encryption""#));
    assert!(metadata.contains(&pem_body(&cert)), "the same certificate");

    let start = app
        .services
        .start_saml_sign_in(&saml.conn, FlowPurpose::Test, json!({}))
        .await
        .expect("start");
    let SignInStart::Redirect(url) = start else {
        panic!("redirect binding expected");
    };
    let checked = TestIdp::script(
        "verify_request.py",
        &json!({ "binding": "redirect", "url": url, "cert_pem": cert }),
    );
    assert_eq!(checked["verified"], true, "{checked}");
    // Changed on the way, it no longer verifies.
    let forged = url.replacen("RelayState=ghr_", "RelayState=ghx_", 1);
    let checked = TestIdp::script(
        "verify_request.py",
        &json!({ "binding": "redirect", "url": forged, "cert_pem": cert }),
    );
    assert_eq!(checked["verified"], false, "{checked}");
    // The round trip still completes.
    let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
    let response = saml.sign(Some(&request_id), json!({}));
    assert_eq!(saml.post(&app, &response, Some(&relay)).await.0, 200);
}

#[tokio::test]
async fn identity_providers_that_take_only_post_get_a_signed_form() {
    let app = sqlite().await;
    let idp_cert = pem_body(&TestIdp::shared().cert_pem);
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.acme.test/metadata"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{idp_cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.acme.test/sso/post"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    );
    let saml = Saml::new(&app, json!({})).await;
    let c = set(
        &app,
        &saml,
        json!({ "metadata_xml": metadata, "sign_requests": true }),
    )
    .await;
    assert_eq!(c["idp"]["binding"], "post");
    let start = app
        .services
        .start_saml_sign_in(&saml.conn, FlowPurpose::Test, json!({}))
        .await
        .expect("start");
    let SignInStart::Post {
        url,
        saml_request,
        relay_state,
    } = start
    else {
        panic!("post binding expected");
    };
    assert_eq!(url, "https://idp.acme.test/sso/post");
    assert!(relay_state.starts_with("ghr_"));
    let checked = TestIdp::script(
        "verify_request.py",
        &json!({ "binding": "post", "saml_request": saml_request, "cert_pem": certificate(&c) }),
    );
    assert_eq!(checked["verified"], true, "{checked}");
    // Signed by Gatehouse's key, not anyone's: the IdP's certificate fails.
    let checked = TestIdp::script(
        "verify_request.py",
        &json!({ "binding": "post", "saml_request": saml_request, "cert_pem": TestIdp::shared().cert_pem }),
    );
    assert_eq!(checked["verified"], false, "{checked}");
}

#[tokio::test]
async fn encrypted_assertions_are_decrypted_in_every_supported_form() {
    let app = sqlite().await;
    let saml = Saml::new(&app, json!({})).await;
    let c = set(&app, &saml, json!({ "encrypt_assertions": true })).await;
    let cert = certificate(&c);
    let metadata = sp_metadata(&app, &saml).await;
    assert!(metadata.contains(r#"use="encryption""#) && metadata.contains("aes256-gcm"));

    for (encryption, sign, placement) in [
        ("aes256-gcm", "assertion", "key_info"),
        ("aes128-gcm", "response", "key_info"),
        ("aes256-cbc", "both", "key_info"),
        ("aes128-cbc", "assertion", "sibling"),
        ("aes256-gcm", "response", "sibling"),
    ] {
        let (request_id, relay) = saml.start(&app, FlowPurpose::Test).await;
        let response = saml.sign(
            Some(&request_id),
            json!({ "encrypt_cert_pem": cert, "encryption": encryption, "sign": sign, "key_placement": placement }),
        );
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(&response)
                .expect("b64"),
        )
        .expect("utf8");
        assert!(xml.contains("EncryptedAssertion") && !xml.contains("alice@acme.test"));
        let done = app
            .services
            .complete_saml_sign_in(&saml.conn, &response, Some(&relay))
            .await
            .unwrap_or_else(|f| panic!("{encryption} {sign} {placement}: {:?}", f.error));
        assert_eq!(done.identity.email, "alice@acme.test");
        assert_eq!(done.identity.groups, vec!["admins", "staff"]);
    }
}

#[tokio::test]
async fn encryption_failures_are_named() {
    let app = sqlite().await;
    let plain = Saml::new(&app, json!({})).await;
    let encrypted = Saml::for_org(&app, &plain.org, json!({})).await;
    let cert = certificate(&set(&app, &encrypted, json!({ "encrypt_assertions": true })).await);

    // Encrypted, for a connection that does not decrypt.
    assert_eq!(
        plain
            .rejects(&app, json!({ "encrypt_cert_pem": cert }))
            .await,
        "saml_assertion_encrypted"
    );
    // In the clear, for one that requires encryption.
    assert_eq!(
        encrypted.rejects(&app, json!({})).await,
        "saml_assertion_not_encrypted"
    );
    // Unsafe algorithms, refused by name before any decryption.
    for unsafe_choice in [
        json!({ "key_transport": "rsa-1_5" }),
        json!({ "encryption": "tripledes-cbc" }),
    ] {
        let mut changes = json!({ "encrypt_cert_pem": cert });
        for (k, v) in unsafe_choice.as_object().expect("object") {
            changes[k] = v.clone();
        }
        assert_eq!(
            encrypted.rejects(&app, changes).await,
            "saml_encryption_algorithm_not_allowed"
        );
    }
    // Encrypted for another certificate (here the IdP's own).
    assert_eq!(
        encrypted
            .rejects(
                &app,
                json!({ "encrypt_cert_pem": TestIdp::shared().cert_pem })
            )
            .await,
        "saml_assertion_decryption_failed"
    );
    // A changed ciphertext in an unsigned response reads like any other
    // decryption failure, CBC and GCM alike (no padding oracle) ...
    for encryption in ["aes256-cbc", "aes128-gcm"] {
        assert_eq!(
            encrypted
                .rejects(
                    &app,
                    json!({ "encrypt_cert_pem": cert, "encryption": encryption, "encrypt_tamper": true })
                )
                .await,
            "saml_assertion_decryption_failed",
            "{encryption}"
        );
    }
    // ... and so does an assertion anyone could have encrypted: unsigned.
    assert_eq!(
        encrypted
            .rejects(&app, json!({ "encrypt_cert_pem": cert, "sign": "none" }))
            .await,
        "saml_assertion_decryption_failed"
    );
    // In a signed response, the signature over the ciphertext catches it.
    assert_eq!(
        encrypted
            .rejects(
                &app,
                json!({ "encrypt_cert_pem": cert, "sign": "response", "encrypt_tamper": true })
            )
            .await,
        "saml_signature_invalid"
    );
}

on_both!(
    the_sp_key_is_stored_sealed_and_survives_as_long_as_it_is_used,
    |app| {
        let saml = Saml::new(&app, json!({})).await;
        let c = set(
            &app,
            &saml,
            json!({ "sign_requests": true, "encrypt_assertions": true }),
        )
        .await;
        let cert = certificate(&c);
        let body = app
            .api_get(&format!("/connections/{}", saml.conn))
            .await
            .text()
            .await
            .expect("body");
        assert!(!body.contains("private_key") && !body.contains("PRIVATE KEY"));
        let stored = app
            .text_column(&format!(
                "SELECT config FROM connections WHERE id = '{}'",
                saml.conn
            ))
            .await
            .join("");
        let config: Value = serde_json::from_str(&stored).expect("json");
        let sealed = config["sp_key"]["private_key"]
            .as_str()
            .expect("sealed key");
        assert!(sealed.starts_with("v1.") && !stored.contains("PRIVATE KEY"));
        // It opens with the instance's secret key, for this connection only.
        let key = gatehouse::saml::sp_key::SpKey {
            certificate: serde_json::from_value(config["sp_key"]["certificate"].clone())
                .expect("cert"),
            private_key: sealed.to_string(),
        };
        assert!(
            key.private_key(&app.services.secret_key, &saml.conn)
                .is_ok()
        );
        assert!(
            key.private_key(&app.services.secret_key, "conn_other")
                .is_err()
        );

        // One option off keeps the key; both off drop it; on again makes anew.
        let c = set(&app, &saml, json!({ "sign_requests": false })).await;
        assert_eq!(certificate(&c), cert);
        let c = set(&app, &saml, json!({ "encrypt_assertions": false })).await;
        assert!(c["sp"]["certificate"].is_null());
        let c = set(&app, &saml, json!({ "encrypt_assertions": true })).await;
        assert_ne!(certificate(&c), cert);
    }
);

on_both!(while_an_edit_waits_the_live_key_still_decrypts, |app| {
    let saml = Saml::new(&app, json!({})).await;
    let live_cert = certificate(&set(&app, &saml, json!({ "encrypt_assertions": true })).await);
    let res = app
        .api_post(
            &format!("/connections/{}/activate", saml.conn),
            &json!({ "skip_test": true }),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A new key in the draft: the identity provider may still use the old
    // certificate (live sign-ins) or already the new one (tests).
    set(&app, &saml, json!({ "encrypt_assertions": false })).await;
    let draft_cert = certificate(&set(&app, &saml, json!({ "encrypt_assertions": true })).await);
    assert_ne!(draft_cert, live_cert);
    for (purpose, cert) in [
        (FlowPurpose::SignIn, &live_cert),
        (FlowPurpose::Test, &live_cert),
        (FlowPurpose::Test, &draft_cert),
    ] {
        let (request_id, relay) = saml.start(&app, purpose).await;
        let response = saml.sign(Some(&request_id), json!({ "encrypt_cert_pem": cert }));
        let done = app
            .services
            .complete_saml_sign_in(&saml.conn, &response, Some(&relay))
            .await;
        assert!(
            done.is_ok(),
            "{purpose:?}: {:?}",
            done.err().map(|f| f.error)
        );
    }
});
