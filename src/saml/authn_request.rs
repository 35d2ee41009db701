//! AuthnRequests: what Gatehouse sends the identity provider to start a
//! sign-in, by HTTP-Redirect (DEFLATE, base64, query string; signed over the
//! query string) or, for identity providers that take only that, by
//! HTTP-POST (base64 in a form; signed inside the XML).

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use samael::crypto::{Crypto, CryptoProvider};
use url::form_urlencoded;

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

pub fn xml(
    id: &str,
    issue_instant: DateTime<Utc>,
    sso_url: &str,
    sp: &SpUrls,
    force_authn: bool,
) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"{force}><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#,
        force = if force_authn {
            r#" ForceAuthn="true""#
        } else {
            ""
        },
        id = escape(id),
        instant = issue_instant.to_rfc3339_opts(SecondsFormat::Secs, true),
        destination = escape(sso_url),
        acs = escape(&sp.acs_url),
        issuer = escape(&sp.entity_id),
    )
}

/// RSA-SHA256, the signature algorithm of signed requests.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The URL that sends the browser to the identity provider with the
/// request (HTTP-Redirect binding) and the RelayState. With a key, the
/// request is signed as that binding requires: over the exact encoded
/// `SAMLRequest=…&RelayState=…&SigAlg=…` that the URL carries.
pub fn redirect_url(
    sso_url: &str,
    request_xml: &str,
    relay_state: &str,
    signer: Option<&PKey<Private>>,
) -> anyhow::Result<String> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(request_xml.as_bytes())?;
    let deflated = encoder.finish()?;
    let mut query = format!(
        "SAMLRequest={}&RelayState={}",
        encode(&STANDARD.encode(deflated)),
        encode(relay_state)
    );
    if let Some(key) = signer {
        query.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
        let signature =
            Signer::new(MessageDigest::sha256(), key)?.sign_oneshot_to_vec(query.as_bytes())?;
        query.push_str(&format!(
            "&Signature={}",
            encode(&STANDARD.encode(signature))
        ));
    }
    let mut url = url::Url::parse(sso_url)?;
    let full = match url.query().filter(|q| !q.is_empty()) {
        Some(own) => format!("{own}&{query}"),
        None => query,
    };
    url.set_query(Some(&full));
    Ok(url.to_string())
}

/// The request signed inside the XML (enveloped signature right after the
/// Issuer, as the schema orders it), for the HTTP-POST binding.
pub fn sign_xml(request_xml: &str, id: &str, key: &PKey<Private>) -> anyhow::Result<String> {
    let template = format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{RSA_SHA256}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"##,
        id = escape(id),
    );
    let (head, tail) = request_xml
        .split_once("</saml:Issuer>")
        .ok_or_else(|| anyhow::anyhow!("the request has no Issuer"))?;
    let unsigned = format!("{head}</saml:Issuer>{template}{tail}");
    let signed = Crypto::sign_xml(unsigned, &key.private_key_to_der()?)
        .map_err(|e| anyhow::anyhow!("signing the request failed: {e}"))?;
    // libxml2 writes an XML declaration; the request travels without one.
    Ok(match signed.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(signed.clone(), |(_, body)| body.trim_start().to_string()),
        None => signed,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_redirect_carries_a_deflated_request_that_names_our_acs() {
        let sp = super::super::sp::urls("https://sso.example.com", "conn_1");
        let id = new_request_id();
        let request = xml(&id, Utc::now(), "https://idp.example/sso?app=1", &sp, false);
        let url =
            redirect_url("https://idp.example/sso?app=1", &request, "ghr_abc", None).expect("url");
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
        assert!(!pairs.contains_key("Signature"));
        assert_eq!(doc.root_element().attribute("ForceAuthn"), None);
    }

    fn key() -> PKey<Private> {
        PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("rsa")).expect("pkey")
    }

    #[test]
    fn a_signed_redirect_signs_exactly_the_query_it_carries() {
        let key = key();
        let sp = super::super::sp::urls("https://sso.example.com", "conn_1");
        let request = xml("_r1", Utc::now(), "https://idp.example/sso", &sp, false);
        let url = redirect_url(
            "https://idp.example/sso?app=1",
            &request,
            "ghr_a+b/c",
            Some(&key),
        )
        .expect("url");
        let query = url.split_once('?').expect("query").1;
        let (signed, signature) = query
            .strip_prefix("app=1&")
            .expect("the IdP's own parameter first")
            .split_once("&Signature=")
            .expect("signature last");
        assert!(signed.ends_with(&format!("&SigAlg={}", encode(RSA_SHA256))));
        let signature: String = form_urlencoded::parse(format!("s={signature}").as_bytes())
            .next()
            .expect("pair")
            .1
            .into_owned();
        let signature = STANDARD.decode(signature).expect("base64");
        let mut verifier =
            openssl::sign::Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
        assert!(
            verifier
                .verify_oneshot(&signature, signed.as_bytes())
                .expect("verify")
        );
        assert!(
            !verifier
                .verify_oneshot(&signature, signed.replace("ghr_", "ghx_").as_bytes())
                .expect("verify")
        );
    }

    #[test]
    fn a_post_request_carries_an_enveloped_signature_after_the_issuer() {
        let sp = super::super::sp::urls("https://sso.example.com", "conn_1");
        let request = xml("_r2", Utc::now(), "https://idp.example/sso", &sp, true);
        let signed = sign_xml(&request, "_r2", &key()).expect("signed");
        let doc = roxmltree::Document::parse(&signed).expect("xml");
        let names: Vec<&str> = doc
            .root_element()
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect();
        assert_eq!(names, ["Issuer", "Signature", "NameIDPolicy"]);
        assert_eq!(doc.root_element().attribute("ForceAuthn"), Some("true"));
        let value = doc
            .descendants()
            .find(|n| n.tag_name().name() == "SignatureValue")
            .and_then(|n| n.text())
            .unwrap_or_default();
        assert!(value.trim().len() > 300, "signed: {signed}");
    }
}
