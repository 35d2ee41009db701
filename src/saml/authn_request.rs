//! AuthnRequests: what Gatehouse sends the identity provider to start a
//! sign-in, by HTTP-Redirect (DEFLATE, base64, query string).

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::sp::SpUrls;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A fresh request ID: an XML ID (starts with a letter or underscore).
pub fn new_request_id() -> String {
    let bytes: [u8; 20] = crate::crypto::random_bytes();
    format!(
        "_gh{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

pub fn xml(id: &str, issue_instant: DateTime<Utc>, sso_url: &str, sp: &SpUrls) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#,
        id = escape(id),
        instant = issue_instant.to_rfc3339_opts(SecondsFormat::Secs, true),
        destination = escape(sso_url),
        acs = escape(&sp.acs_url),
        issuer = escape(&sp.entity_id),
    )
}

/// The URL that sends the browser to the identity provider with the
/// request (HTTP-Redirect binding) and the RelayState.
pub fn redirect_url(sso_url: &str, request_xml: &str, relay_state: &str) -> anyhow::Result<String> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(request_xml.as_bytes())?;
    let deflated = encoder.finish()?;
    let mut url = url::Url::parse(sso_url)?;
    url.query_pairs_mut()
        .append_pair("SAMLRequest", &STANDARD.encode(deflated))
        .append_pair("RelayState", relay_state);
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_redirect_carries_a_deflated_request_that_names_our_acs() {
        let sp = super::super::sp::urls("https://sso.example.com", "conn_1");
        let id = new_request_id();
        let request = xml(&id, Utc::now(), "https://idp.example/sso?app=1", &sp);
        let url = redirect_url("https://idp.example/sso?app=1", &request, "ghr_abc").expect("url");
        let parsed = url::Url::parse(&url).expect("valid");
        let pairs: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(pairs["app"], "1", "the IdP's own query is kept");
        assert_eq!(pairs["RelayState"], "ghr_abc");
        let deflated = STANDARD.decode(&pairs["SAMLRequest"]).expect("base64");
        let mut inflated = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut inflated)
            .expect("inflate");
        assert_eq!(inflated, request);
        let doc = roxmltree::Document::parse(&inflated).expect("xml");
        assert_eq!(doc.root_element().attribute("ID"), Some(id.as_str()));
        assert_eq!(
            doc.root_element().attribute("AssertionConsumerServiceURL"),
            Some(sp.acs_url.as_str())
        );
        assert!(id.starts_with('_') && id.len() > 40);
    }
}
