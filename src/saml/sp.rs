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

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The SP metadata document.
pub fn metadata_xml(urls: &SpUrls) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity_id = escape(&urls.entity_id),
        acs = escape(&urls.acs_url),
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
        let xml = metadata_xml(&u);
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
}
