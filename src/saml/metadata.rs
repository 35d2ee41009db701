//! Reading an identity provider's SAML metadata: its entity ID, its single
//! sign-on URL and binding, and its signing certificates.
//!
//! The parser refuses DTDs outright, so no entity expansion or external
//! reference is ever processed.

use roxmltree::{Document, Node, ParsingOptions};

use super::SettingsError;
use super::certificates::Certificate;
use super::config::{Binding, IdpSettings};

pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Largest metadata document accepted.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

fn invalid(message: impl Into<String>) -> SettingsError {
    SettingsError::new("saml_metadata_invalid", message)
}

fn is(node: &Node, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

/// Parses IdP metadata. Certificates are returned as found; checking them
/// (expiry, at least one) is the caller's next step.
pub fn parse(xml: &str) -> Result<IdpSettings, SettingsError> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(invalid(
            "The metadata is larger than 1 MiB; that is not an identity provider's metadata.",
        ));
    }
    let trimmed = xml.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(invalid("The metadata is empty."));
    }
    if trimmed.starts_with('{')
        || trimmed.to_ascii_lowercase().starts_with("<!doctype html")
        || trimmed.to_ascii_lowercase().starts_with("<html")
    {
        return Err(invalid(
            "This is not SAML metadata (it looks like a web page or JSON). Download the metadata XML from your identity provider, or give its metadata URL.",
        ));
    }
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(trimmed, options).map_err(|e| {
        if matches!(e, roxmltree::Error::DtdDetected) {
            invalid("The metadata contains a DOCTYPE declaration, which Gatehouse never processes. Use the metadata exactly as your identity provider publishes it.")
        } else {
            invalid(format!("The metadata is not well-formed XML: {e}."))
        }
    })?;

    let entities: Vec<Node> = doc
        .descendants()
        .filter(|n| is(n, MD_NS, "EntityDescriptor"))
        .filter(|n| n.children().any(|c| is(&c, MD_NS, "IDPSSODescriptor")))
        .collect();
    let entity = match entities.as_slice() {
        [one] => *one,
        [] => {
            let sp_only = doc.descendants().any(|n| is(&n, MD_NS, "SPSSODescriptor"));
            return Err(invalid(if sp_only {
                "This is a service provider's metadata, not the identity provider's. Gatehouse needs your identity provider's metadata (the one with its single sign-on URL and signing certificate)."
            } else {
                "No identity provider (IDPSSODescriptor) was found in this document. Check that it is SAML 2.0 metadata from your identity provider."
            }));
        }
        many => {
            let ids: Vec<&str> = many
                .iter()
                .filter_map(|n| n.attribute("entityID"))
                .take(5)
                .collect();
            return Err(invalid(format!(
                "This metadata describes {} identity providers ({}…). Give the metadata of the one application for this connection.",
                many.len(),
                ids.join(", ")
            )));
        }
    };
    let entity_id = entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("The metadata has no entityID."))?
        .to_string();
    let Some(idp) = entity.children().find(|c| is(c, MD_NS, "IDPSSODescriptor")) else {
        return Err(invalid("No IDPSSODescriptor in the metadata."));
    };
    if !idp
        .attribute("protocolSupportEnumeration")
        .is_some_and(|p| p.split_whitespace().any(|p| p == PROTOCOL_NS))
    {
        return Err(invalid(
            "The identity provider does not declare SAML 2.0 support (protocolSupportEnumeration).",
        ));
    }

    let services: Vec<(String, String)> = idp
        .children()
        .filter(|c| is(c, MD_NS, "SingleSignOnService"))
        .filter_map(|c| {
            Some((
                c.attribute("Binding")?.to_string(),
                c.attribute("Location")?.trim().to_string(),
            ))
        })
        .collect();
    let (binding, sso_url) = services
        .iter()
        .find(|(b, _)| b == REDIRECT_BINDING)
        .map(|(_, l)| (Binding::Redirect, l.clone()))
        .or_else(|| {
            services
                .iter()
                .find(|(b, _)| b == POST_BINDING)
                .map(|(_, l)| (Binding::Post, l.clone()))
        })
        .ok_or_else(|| invalid("The metadata has no single sign-on URL for the HTTP-Redirect or HTTP-POST binding."))?;

    let mut certificates = Vec::new();
    for key in idp.children().filter(|c| is(c, MD_NS, "KeyDescriptor")) {
        // A key without `use` serves both signing and encryption.
        if key.attribute("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for cert in key
            .descendants()
            .filter(|n| is(n, DS_NS, "X509Certificate"))
        {
            let text: String = cert.children().filter_map(|t| t.text()).collect();
            certificates.push(Certificate::from_base64(&text)?);
        }
    }
    Ok(IdpSettings {
        entity_id,
        sso_url,
        binding,
        certificates,
    })
}

/// Checks a single sign-on URL typed by an admin.
pub fn parse_sso_url(raw: &str, allow_http: bool) -> Result<String, SettingsError> {
    let bad = |m: &str| SettingsError::new("saml_sso_url_invalid", m.to_string());
    let url = url::Url::parse(raw.trim()).map_err(|_| bad("The single sign-on URL is not a valid URL. Copy it from your identity provider; it starts with https://."))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(bad("The single sign-on URL must start with https://.")),
    }
    if url.host_str().is_none() {
        return Err(bad("The single sign-on URL has no host."));
    }
    Ok(url.to_string())
}

pub fn parse_entity_id(raw: &str) -> Result<String, SettingsError> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
        return Err(SettingsError::new(
            "saml_entity_id_invalid",
            "Enter the identity provider's entity ID (sometimes called Issuer or Identity Provider Issuer), exactly as shown there.",
        ));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use chrono::{Datelike, Duration, Utc};

    use super::*;
    use crate::saml::certificates::{self, parse_pem};

    /// A self-signed certificate (base64 DER) valid until `days` from now.
    pub(crate) fn cert(cn: &str, days: i64) -> String {
        let mut params =
            rcgen::CertificateParams::new(vec![format!("{cn}.example")]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let start = Utc::now() - Duration::days(400);
        let end = Utc::now() + Duration::days(days);
        params.not_before =
            rcgen::date_time_ymd(start.year(), start.month() as u8, start.day() as u8);
        params.not_after = rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
        let key = rcgen::KeyPair::generate().expect("key");
        let c = params.self_signed(&key).expect("cert");
        base64::engine::general_purpose::STANDARD.encode(c.der())
    }

    fn fixture(name: &str, certs: &[&str]) -> String {
        let path = format!(
            "{}/tests/fixtures/metadata/{name}.xml",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut xml = std::fs::read_to_string(path).expect("fixture");
        for (i, c) in certs.iter().enumerate() {
            xml = xml.replace(&format!("CERTIFICATE_{}", i + 1), c);
        }
        xml
    }

    #[test]
    fn okta_metadata_parses_preferring_the_redirect_binding() {
        let idp = parse(&fixture("okta", &[&cert("okta", 3650)])).expect("parses");
        assert_eq!(idp.entity_id, "http://www.okta.com/exk1fixture0000000");
        assert_eq!(idp.binding, Binding::Redirect);
        assert!(idp.sso_url.ends_with("/sso/saml"));
        assert_eq!(idp.certificates.len(), 1);
        assert!(idp.certificates[0].subject.contains("okta"));
    }

    #[test]
    fn entra_metadata_with_its_signature_and_role_descriptors_parses() {
        let c = cert("entra", 1000);
        let idp = parse(&fixture("entra", &[&c])).expect("parses");
        assert_eq!(
            idp.entity_id,
            "https://sts.windows.net/00000000-0000-4000-8000-00000000fixt/"
        );
        assert!(idp.sso_url.ends_with("/saml2"));
        assert_eq!(
            idp.certificates.len(),
            1,
            "only the IDPSSODescriptor's keys count"
        );
    }

    #[test]
    fn google_metadata_parses() {
        let idp = parse(&fixture("google", &[&cert("google", 1800)])).expect("parses");
        assert_eq!(
            idp.entity_id,
            "https://accounts.google.example/o/saml2?idpid=C0fixture"
        );
        assert_eq!(idp.binding, Binding::Redirect);
    }

    #[test]
    fn adfs_metadata_yields_both_rollover_signing_certificates_and_no_encryption_key() {
        let (signing, rollover, encryption) = (
            cert("adfs-signing", 300),
            cert("adfs-next", 700),
            cert("adfs-enc", 700),
        );
        let idp = parse(&fixture("adfs", &[&signing, &rollover, &encryption])).expect("parses");
        assert_eq!(
            idp.entity_id,
            "http://adfs.acme.example/adfs/services/trust"
        );
        assert_eq!(idp.certificates.len(), 2);
        let subjects: Vec<_> = idp.certificates.iter().map(|c| c.subject.clone()).collect();
        assert!(subjects.iter().any(|s| s.contains("adfs-signing")));
        assert!(subjects.iter().any(|s| s.contains("adfs-next")));
        assert!(!subjects.iter().any(|s| s.contains("adfs-enc")));
    }

    #[test]
    fn expired_certificates_are_refused_and_soon_expiring_ones_flagged() {
        let now = Utc::now();
        let expired = parse(&fixture("okta", &[&cert("old", -5)])).expect("parses");
        let err = certificates::check(expired.certificates, now).expect_err("refused");
        assert_eq!(err.code, "saml_certificate_expired");
        assert!(err.message.contains("expired on"));

        let soon = parse(&fixture("okta", &[&cert("soon", 10)])).expect("parses");
        let kept = certificates::check(soon.certificates, now).expect("still usable");
        assert!(kept[0].expires_soon(now));

        let mixed = parse(&fixture(
            "adfs",
            &[&cert("old", -5), &cert("new", 700), &cert("enc", 700)],
        ))
        .expect("parses");
        let kept = certificates::check(mixed.certificates, now).expect("one valid");
        assert_eq!(
            kept.len(),
            1,
            "the expired one of a rollover pair is dropped"
        );
        assert!(!kept[0].expires_soon(now));
    }

    #[test]
    fn metadata_without_a_signing_certificate_is_refused() {
        let xml = fixture("google", &[]).replace(
            "<md:KeyDescriptor use=\"signing\">",
            "<md:KeyDescriptor use=\"encryption\">",
        );
        let xml = xml.replace("CERTIFICATE_1", &cert("enc", 100));
        let idp = parse(&xml).expect("parses");
        let err = certificates::check(idp.certificates, Utc::now()).expect_err("no signing key");
        assert_eq!(err.code, "saml_no_signing_certificate");
    }

    #[test]
    fn doctypes_and_entities_are_never_processed() {
        let billion_laughs = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>{}",
            fixture("okta", &[&cert("okta", 100)])
                .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        );
        let err = parse(&billion_laughs).expect_err("refused");
        assert!(err.message.contains("DOCTYPE"), "{}", err.message);
        let external = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><x>&xxe;</x>";
        assert!(
            parse(external)
                .expect_err("refused")
                .message
                .contains("DOCTYPE")
        );
    }

    #[test]
    fn wrong_documents_get_a_helpful_message() {
        assert!(parse("").is_err());
        assert!(
            parse("<html><body>Sign in</body></html>")
                .expect_err("html")
                .message
                .contains("not SAML metadata")
        );
        assert!(
            parse("<md:EntityDescriptor")
                .expect_err("truncated")
                .message
                .contains("not well-formed")
        );
        let sp = crate::saml::sp::metadata_xml(
            &crate::saml::sp::urls("https://x", "conn_1"),
            crate::saml::sp::MetadataKeys::default(),
        );
        assert!(
            parse(&sp)
                .expect_err("sp")
                .message
                .contains("service provider")
        );
        let two = format!(
            "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{}{}</md:EntitiesDescriptor>",
            fixture("google", &[&cert("a", 100)]).replace(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>",
                ""
            ),
            fixture("google", &[&cert("b", 100)])
                .replace(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>",
                    ""
                )
                .replace("C0fixture\" validUntil", "C0other\" validUntil")
        );
        assert!(
            parse(&two)
                .expect_err("two")
                .message
                .contains("2 identity providers")
        );
    }

    #[test]
    fn pasted_certificates_parse_with_or_without_pem_armour() {
        let body = cert("pasted", 365);
        let wrapped: String = body
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned() + "\r\n")
            .collect();
        let pem = format!("-----BEGIN CERTIFICATE-----\n{wrapped}-----END CERTIFICATE-----\n");
        assert_eq!(parse_pem(&pem).expect("pem").len(), 1);
        assert_eq!(parse_pem(&body).expect("bare").len(), 1);
        let two = format!("{pem}\n{}", pem.replace(&wrapped, &cert("second", 365)));
        assert_eq!(parse_pem(&two).expect("two").len(), 2);
        assert_eq!(
            parse_pem("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----")
                .expect_err("key")
                .code,
            "saml_certificate_invalid"
        );
        assert_eq!(
            parse_pem("not base64 at all!").expect_err("junk").code,
            "saml_certificate_invalid"
        );
        assert_eq!(
            parse_pem("-----BEGIN CERTIFICATE-----\nMIIB")
                .expect_err("cut")
                .code,
            "saml_certificate_invalid"
        );
        let c = &parse_pem(&pem).expect("pem")[0];
        assert_eq!(c.fingerprint_display().len(), 32 * 3 - 1);
    }
}
