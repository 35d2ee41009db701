//! Gatehouse's side of a SAML connection: its URLs, always derived from the
//! configured public URL (never from a request's Host header), and the SP
//! metadata document identity providers import.

/// The service-provider URLs of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpUrls {
    /// Audience / SP entity ID.
    pub entity_id: String,
    /// Where the identity provider posts responses (Recipient, Destination).
    pub acs_url: String,
    pub metadata_url: String,
}

pub fn urls(public_origin: &str, connection_id: &str) -> SpUrls {
    let base = format!("{public_origin}/saml/{connection_id}");
    SpUrls {
        entity_id: format!("{base}/metadata"),
        acs_url: format!("{base}/acs"),
        metadata_url: format!("{base}/metadata"),
    }
}

/// Text for XML content or a double-quoted attribute.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// What the SP metadata says about Gatehouse's keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetadataKeys<'a> {
    /// Base64 DER of the connection's SP certificate, if it has one.
    pub certificate: Option<&'a str>,
    pub sign_requests: bool,
    pub encrypt_assertions: bool,
}

fn key_descriptor(usage: &str, certificate: &str, extra: &str) -> String {
    format!(
        r#"
    <md:KeyDescriptor use="{usage}">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>{extra}
    </md:KeyDescriptor>"#
    )
}

/// The encryption algorithms Gatehouse takes, strongest first.
const ENCRYPTION_METHODS: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
];

/// The SP metadata document.
pub fn metadata_xml(urls: &SpUrls, keys: MetadataKeys) -> String {
    let mut descriptors = String::new();
    if let Some(cert) = keys.certificate.map(escape) {
        if keys.sign_requests {
            descriptors.push_str(&key_descriptor("signing", &cert, ""));
        }
        if keys.encrypt_assertions {
            let methods: String = ENCRYPTION_METHODS
                .iter()
                .map(|m| format!("\n      <md:EncryptionMethod Algorithm=\"{m}\"/>"))
                .collect();
            descriptors.push_str(&key_descriptor("encryption", &cert, &methods));
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{descriptors}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity_id = escape(&urls.entity_id),
        acs = escape(&urls.acs_url),
        signed = keys.sign_requests && keys.certificate.is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_come_from_the_public_origin_and_the_connection() {
        let u = urls("https://sso.example.com", "conn_01abc");
        assert_eq!(u.acs_url, "https://sso.example.com/saml/conn_01abc/acs");
        assert_eq!(
            u.entity_id,
            "https://sso.example.com/saml/conn_01abc/metadata"
        );
    }

    #[test]
    fn metadata_names_the_acs_and_parses_as_sp_metadata() {
        let u = urls("https://sso.example.com", "conn_01abc");
        let xml = metadata_xml(&u, MetadataKeys::default());
        assert!(!xml.contains("KeyDescriptor"));
        assert!(xml.contains(r#"AuthnRequestsSigned="false""#));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let acs = doc
            .descendants()
            .find(|n| n.tag_name().name() == "AssertionConsumerService")
            .expect("acs");
        assert_eq!(acs.attribute("Location"), Some(u.acs_url.as_str()));
        assert_eq!(
            doc.root_element().attribute("entityID"),
            Some(u.entity_id.as_str())
        );
        // It is not mistaken for identity-provider metadata.
        let err = super::super::metadata::parse(&xml).expect_err("not an IdP");
        assert!(err.message.contains("service provider's metadata"));
    }

    #[test]
    fn metadata_publishes_the_certificate_for_each_use_turned_on() {
        let u = urls("https://sso.example.com", "conn_01abc");
        let keys = MetadataKeys {
            certificate: Some("MIIBcert"),
            sign_requests: true,
            encrypt_assertions: false,
        };
        let xml = metadata_xml(&u, keys);
        assert!(xml.contains(r#"AuthnRequestsSigned="true""#));
        assert!(xml.contains(r#"use="signing""#) && !xml.contains(r#"use="encryption""#));
        let xml = metadata_xml(
            &u,
            MetadataKeys {
                sign_requests: false,
                encrypt_assertions: true,
                ..keys
            },
        );
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let descriptor = doc
            .descendants()
            .find(|n| n.tag_name().name() == "KeyDescriptor")
            .expect("descriptor");
        assert_eq!(descriptor.attribute("use"), Some("encryption"));
        assert!(xml.contains("MIIBcert") && xml.contains("aes256-gcm"));
        assert!(xml.contains(r#"AuthnRequestsSigned="false""#));
    }
}
