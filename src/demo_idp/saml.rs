//! The SAML half of the demo identity provider: IdP metadata, an SSO
//! endpoint (HTTP-Redirect binding) that lets the visitor pick one of the
//! demo people, and a really signed SAML Response posted to Gatehouse's
//! ACS. It only answers ACS URLs of the Gatehouse it belongs to.

use std::io::Read;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use flate2::read::DeflateDecoder;
use roxmltree::{Document, ParsingOptions};
use samael::crypto::{Crypto, CryptoProvider};
use serde::Deserialize;

use super::{
    DemoIdp, DemoUser, PAGE_POLICY, Refusal, UserView, fresh, internal, page, refused, user,
    user_views,
};
use crate::crypto;
use crate::saml::sp::escape;
use crate::web::views::Layout;

/// Where the routes live, under the origin the IdP is served from.
pub const METADATA_PATH: &str = "/demo-idp/saml/metadata";
pub const SSO_PATH: &str = "/demo-idp/saml/sso";
pub const CONTINUE_PATH: &str = "/demo-idp/saml/sso/continue";

/// MAC purpose of the choice page's fields.
const CHOICE_PURPOSE: &str = "demo-idp-choice";
/// How long an assertion is good for.
const ASSERTION_LIFETIME: Duration = Duration::minutes(5);
/// Largest inflated AuthnRequest accepted.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The routes (under `/demo-idp`): metadata, the SSO endpoint and the
/// choice's answer.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/saml/metadata", web::get().to(metadata))
        .route("/saml/sso", web::get().to(sso))
        .route("/saml/sso/continue", web::post().to(continue_sign_in));
}

impl DemoIdp {
    pub fn entity_id(&self) -> String {
        self.metadata_url()
    }

    pub fn metadata_url(&self) -> String {
        format!("{}{METADATA_PATH}", self.origin)
    }

    pub fn sso_url(&self) -> String {
        format!("{}{SSO_PATH}", self.origin)
    }

    /// The IdP metadata: entity ID, the HTTP-Redirect SSO endpoint and the
    /// signing certificate.
    pub fn metadata_xml(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="{PROTOCOL_NS}">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>{EMAIL_FORMAT}</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#,
            entity_id = escape(&self.entity_id()),
            certificate = self.certificate.der,
            sso = escape(&self.sso_url()),
        )
    }

    /// Reads an AuthnRequest as the HTTP-Redirect binding carries it
    /// (DEFLATE, base64): its ID, its ACS URL (one of our Gatehouse's) and
    /// its issuer (the SP entity ID of the same connection).
    pub fn read_request(&self, saml_request: &str) -> Result<AuthnRequest, Refusal> {
        // A `+` that was not percent-encoded arrives as a space.
        let compact: String = saml_request
            .chars()
            .filter(|c| *c != '\n' && *c != '\r')
            .map(|c| if c == ' ' { '+' } else { c })
            .collect();
        let deflated = STANDARD
            .decode(compact.trim())
            .map_err(|_| Refusal::new("The SAMLRequest is not valid base64."))?;
        let mut xml = String::new();
        DeflateDecoder::new(&deflated[..])
            .take(MAX_REQUEST_BYTES + 1)
            .read_to_string(&mut xml)
            .map_err(|_| {
                Refusal::new(
                    "The SAMLRequest is not a DEFLATE-compressed AuthnRequest (the HTTP-Redirect binding).",
                )
            })?;
        if xml.len() as u64 > MAX_REQUEST_BYTES {
            return Err(Refusal::new("The AuthnRequest is too large."));
        }
        let doc = Document::parse_with_options(
            &xml,
            ParsingOptions {
                allow_dtd: false,
                ..ParsingOptions::default()
            },
        )
        .map_err(|_| Refusal::new("The AuthnRequest is not well-formed XML."))?;
        let root = doc.root_element();
        if root.tag_name().name() != "AuthnRequest"
            || root.tag_name().namespace() != Some(PROTOCOL_NS)
        {
            return Err(Refusal::new("The SAMLRequest is not an AuthnRequest."));
        }
        let id = root
            .attribute("ID")
            .filter(|id| is_xml_id(id))
            .ok_or_else(|| Refusal::new("The AuthnRequest has no usable ID."))?
            .to_string();
        let acs_url = root
            .attribute("AssertionConsumerServiceURL")
            .ok_or_else(|| Refusal::new("The AuthnRequest names no AssertionConsumerServiceURL."))?
            .to_string();
        let issuer = root
            .children()
            .find(|n| {
                n.is_element()
                    && n.tag_name().name() == "Issuer"
                    && n.tag_name().namespace() == Some(ASSERTION_NS)
            })
            .and_then(|n| n.text())
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        self.check_sp(&acs_url, &issuer)?;
        Ok(AuthnRequest {
            id,
            acs_url,
            issuer,
        })
    }

    /// The ACS URL must be `<our Gatehouse>/saml/<connection>/acs`, and the
    /// issuer that connection's entity ID.
    fn check_sp(&self, acs_url: &str, issuer: &str) -> Result<(), Refusal> {
        let not_ours = || {
            Refusal::new(format!(
                "The demo identity provider only answers this Gatehouse ({}): the ACS URL must be {}/saml/<connection>/acs.",
                self.sp_origin, self.sp_origin
            ))
        };
        let url = url::Url::parse(acs_url).map_err(|_| not_ours())?;
        if url.origin().ascii_serialization() != self.sp_origin
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(not_ours());
        }
        let segments: Vec<&str> = url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        let connection = match segments.as_slice() {
            ["saml", connection, "acs"]
                if !connection.is_empty()
                    && connection
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                *connection
            }
            _ => return Err(not_ours()),
        };
        let expected = format!("{}/saml/{connection}/metadata", self.sp_origin);
        if issuer != expected {
            return Err(Refusal::new(format!(
                "The AuthnRequest's Issuer should be {expected}, the entity ID of the connection whose ACS it names."
            )));
        }
        Ok(())
    }

    fn choice_mac(&self, c: &Choice) -> String {
        let message =
            serde_json::json!([c.request_id, c.acs_url, c.audience, c.relay_state, c.issued])
                .to_string();
        crypto::mac(&self.mac_key, CHOICE_PURPOSE, &message)
    }

    /// The fields of the choice page, MACed.
    pub fn choice(&self, request: &AuthnRequest, relay_state: &str, now: DateTime<Utc>) -> Choice {
        let mut choice = Choice {
            request_id: request.id.clone(),
            acs_url: request.acs_url.clone(),
            audience: request.issuer.clone(),
            relay_state: relay_state.to_string(),
            issued: now.timestamp(),
            mac: String::new(),
            user: None,
        };
        choice.mac = self.choice_mac(&choice);
        choice
    }

    /// Checks a posted choice: our MAC, fresh, our Gatehouse, a demo user.
    pub fn check_choice(
        &self,
        choice: &Choice,
        now: DateTime<Utc>,
    ) -> Result<&'static DemoUser, Refusal> {
        if !crypto::constant_time_eq(&self.choice_mac(choice), &choice.mac) {
            return Err(Refusal::new(
                "This choice was not issued by the demo identity provider for this sign-in (its fields were changed).",
            ));
        }
        if !fresh(choice.issued, now) {
            return Err(Refusal::new(
                "This page is too old. Start the sign-in again from the application.",
            ));
        }
        self.check_sp(&choice.acs_url, &choice.audience)?;
        choice
            .user
            .as_deref()
            .and_then(user)
            .ok_or_else(|| Refusal::new("Choose one of the demo people."))
    }

    /// The signed SAML Response (XML) for `user`, answering `choice`.
    pub fn response_xml(
        &self,
        choice: &Choice,
        user: &DemoUser,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let response_id = xml_id("_ghdemo_r");
        let assertion_id = xml_id("_ghdemo_a");
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let (issue, not_before, not_after) = (
            time(now),
            time(now - Duration::minutes(1)),
            time(now + ASSERTION_LIFETIME),
        );
        let (issuer, acs, in_response_to, audience) = (
            escape(&self.entity_id()),
            escape(&choice.acs_url),
            escape(&choice.request_id),
            escape(&choice.audience),
        );
        let email = escape(user.email);
        let attribute = |name: &str, values: &[&str]| {
            let values: String = values
                .iter()
                .map(|v| format!("<saml:AttributeValue>{}</saml:AttributeValue>", escape(v)))
                .collect();
            format!(
                r#"<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">{values}</saml:Attribute>"#
            )
        };
        let attributes = [
            attribute("email", &[user.email]),
            attribute("firstName", &[user.first_name]),
            attribute("lastName", &[user.last_name]),
            attribute("groups", user.groups),
        ]
        .concat();
        let signature = format!(
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{RSA_SHA256}"/><ds:Reference URI="#{assertion_id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
            certificate = self.certificate.der,
        );
        let session_index = xml_id("_ghdemo_s");
        let unsigned = format!(
            r#"<samlp:Response xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="{response_id}" Version="2.0" IssueInstant="{issue}" Destination="{acs}" InResponseTo="{in_response_to}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:saml="{ASSERTION_NS}" ID="{assertion_id}" Version="2.0" IssueInstant="{issue}"><saml:Issuer>{issuer}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="{EMAIL_FORMAT}">{email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{not_after}" Recipient="{acs}" InResponseTo="{in_response_to}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issue}" SessionIndex="{session_index}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>"#
        );
        let signed = Crypto::sign_xml(unsigned, &self.key.private_key_to_der()?)
            .map_err(|e| anyhow::anyhow!("signing the demo SAML response failed: {e}"))?;
        // libxml2 writes an XML declaration; responses travel without one.
        let signed = signed.trim();
        Ok(match signed.strip_prefix("<?xml") {
            Some(rest) => rest
                .split_once("?>")
                .map_or(signed, |(_, body)| body.trim_start())
                .to_string(),
            None => signed.to_string(),
        })
    }
}

/// What the demo IdP read from an AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    pub acs_url: String,
    /// The SP's entity ID: the assertion's audience.
    pub issuer: String,
}

/// The choice page's fields, as posted back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Choice {
    pub request_id: String,
    pub acs_url: String,
    pub audience: String,
    #[serde(default)]
    pub relay_state: String,
    pub issued: i64,
    pub mac: String,
    /// The person chosen (the button pressed).
    pub user: Option<String>,
}

/// An XML ID as Gatehouse's requests use them: a letter or underscore,
/// then name characters.
fn is_xml_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && id.len() <= 256
}

fn xml_id(prefix: &str) -> String {
    let bytes: [u8; 16] = crypto::random_bytes();
    format!(
        "{prefix}{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// `GET /demo-idp/saml/metadata`
async fn metadata(idp: web::Data<DemoIdp>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/samlmetadata+xml; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(idp.metadata_xml())
}

#[derive(Debug, Deserialize)]
struct SsoQuery {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

#[derive(Template)]
#[template(path = "demo_idp/sso.html")]
struct SsoView<'a> {
    layout: Layout,
    choice: &'a Choice,
    continue_url: &'static str,
    users: Vec<UserView>,
}

/// `GET /demo-idp/saml/sso?SAMLRequest=…&RelayState=…`: who to sign in as.
async fn sso(idp: web::Data<DemoIdp>, query: web::Query<SsoQuery>) -> HttpResponse {
    let Some(saml_request) = query.saml_request.as_deref().filter(|r| !r.is_empty()) else {
        return refused(&Refusal::new(
            "This is the demo identity provider's single sign-on URL: Gatehouse sends people here with a SAMLRequest. Start a test sign-in from the Security tab, or sign in from the sample host page.",
        ));
    };
    let request = match idp.read_request(saml_request) {
        Ok(r) => r,
        Err(refusal) => return refused(&refusal),
    };
    let relay_state = query.relay_state.clone().unwrap_or_default();
    let choice = idp.choice(&request, &relay_state, Utc::now());
    let view = SsoView {
        layout: Layout::new("Sign in · Demo identity provider"),
        choice: &choice,
        continue_url: CONTINUE_PATH,
        users: user_views(),
    };
    match view.render() {
        Ok(body) => page(
            StatusCode::OK,
            body,
            &format!("{PAGE_POLICY}; form-action 'self'"),
        ),
        Err(e) => internal(e),
    }
}

#[derive(Template)]
#[template(path = "demo_idp/post.html")]
struct PostView<'a> {
    layout: Layout,
    email: &'a str,
    acs_url: &'a str,
    saml_response: &'a str,
    relay_state: &'a str,
}

/// `POST /demo-idp/saml/sso/continue`: the signed response, auto-posted to
/// the ACS.
async fn continue_sign_in(idp: web::Data<DemoIdp>, form: web::Form<Choice>) -> HttpResponse {
    let choice = form.into_inner();
    let now = Utc::now();
    let user = match idp.check_choice(&choice, now) {
        Ok(user) => user,
        Err(refusal) => return refused(&refusal),
    };
    // Signing is CPU work in a C library: off the async workers.
    let signer = idp.clone();
    let answered = choice.clone();
    let xml = match web::block(move || signer.response_xml(&answered, user, now)).await {
        Ok(Ok(xml)) => xml,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    let saml_response = STANDARD.encode(xml);
    let view = PostView {
        layout: Layout::new("Signing in · Demo identity provider"),
        email: user.email,
        acs_url: &choice.acs_url,
        saml_response: &saml_response,
        relay_state: &choice.relay_state,
    };
    // No `form-action` here: the ACS answers a sign-in with a redirect to
    // the host application, which browsers check against it.
    match view.render() {
        Ok(body) => page(StatusCode::OK, body, PAGE_POLICY),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::DeflateEncoder;

    use super::*;
    use crate::config::SecretKey;
    use crate::demo_idp::CHOICE_LIFETIME;
    use crate::saml::acs::{self, Expectation, Settings};
    use crate::saml::sp;

    const GATEHOUSE: &str = "http://127.0.0.1:8080";

    fn idp() -> DemoIdp {
        DemoIdp::generate(GATEHOUSE, GATEHOUSE, &SecretKey::from_bytes([7; 32])).expect("idp")
    }

    fn encoded(xml: &str) -> String {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(xml.as_bytes()).expect("deflate");
        STANDARD.encode(encoder.finish().expect("deflate"))
    }

    fn request(acs: &str, issuer: &str) -> String {
        encoded(&format!(
            r#"<samlp:AuthnRequest xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="_r1" Version="2.0" AssertionConsumerServiceURL="{acs}"><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"#
        ))
    }

    #[test]
    fn metadata_parses_with_gatehouses_own_parser() {
        let idp = idp();
        let parsed = crate::saml::metadata::parse(&idp.metadata_xml()).expect("metadata");
        assert_eq!(
            parsed.entity_id,
            "http://127.0.0.1:8080/demo-idp/saml/metadata"
        );
        assert_eq!(parsed.sso_url, "http://127.0.0.1:8080/demo-idp/saml/sso");
        assert_eq!(parsed.certificates, vec![idp.certificate().clone()]);
    }

    #[test]
    fn only_acs_urls_of_its_own_gatehouse_are_answered() {
        let idp = idp();
        let urls = sp::urls(GATEHOUSE, "conn_1");
        let read = idp
            .read_request(&request(&urls.acs_url, &urls.entity_id))
            .expect("ours");
        assert_eq!(read.id, "_r1");
        assert_eq!(read.acs_url, urls.acs_url);
        assert_eq!(read.issuer, urls.entity_id);
        for (acs, issuer) in [
            (
                "https://evil.example/saml/conn_1/acs",
                urls.entity_id.as_str(),
            ),
            (
                "http://127.0.0.1:8081/saml/conn_1/acs",
                urls.entity_id.as_str(),
            ),
            ("http://127.0.0.1:8080/oauth/token", urls.entity_id.as_str()),
            (
                "http://127.0.0.1:8080/saml/conn_1/acs?x=1",
                urls.entity_id.as_str(),
            ),
            (
                urls.acs_url.as_str(),
                "http://127.0.0.1:8080/saml/conn_2/metadata",
            ),
        ] {
            assert!(
                idp.read_request(&request(acs, issuer)).is_err(),
                "{acs} {issuer}"
            );
        }
        assert!(idp.read_request("not base64!").is_err());
        assert!(idp.read_request(&STANDARD.encode("<x/>")).is_err());
    }

    #[test]
    fn a_choice_is_bound_to_its_request_and_expires() {
        let idp = idp();
        let urls = sp::urls(GATEHOUSE, "conn_1");
        let now = Utc::now();
        let read = idp
            .read_request(&request(&urls.acs_url, &urls.entity_id))
            .expect("ours");
        let mut choice = idp.choice(&read, "ghr_1", now);
        choice.user = Some("bob@acme.test".into());
        assert_eq!(
            idp.check_choice(&choice, now).expect("good").first_name,
            "Bob"
        );
        let later = now + CHOICE_LIFETIME + Duration::seconds(1);
        assert!(idp.check_choice(&choice, later).is_err(), "expired");
        for tamper in [
            |c: &mut Choice| c.request_id = "_other".into(),
            |c: &mut Choice| c.acs_url = c.acs_url.replace("conn_1", "conn_2"),
            |c: &mut Choice| c.audience = c.audience.replace("conn_1", "conn_2"),
            |c: &mut Choice| c.relay_state = "ghr_2".into(),
            |c: &mut Choice| c.issued += 1,
            |c: &mut Choice| c.user = Some("eve@acme.test".into()),
        ] {
            let mut changed = choice.clone();
            tamper(&mut changed);
            assert!(idp.check_choice(&changed, now).is_err(), "{changed:?}");
        }
        let other =
            DemoIdp::generate(GATEHOUSE, GATEHOUSE, &SecretKey::from_bytes([8; 32])).expect("idp");
        assert!(other.check_choice(&choice, now).is_err(), "another key");
    }

    #[test]
    fn its_response_passes_gatehouses_strict_acs() {
        let idp = idp();
        let urls = sp::urls(GATEHOUSE, "conn_1");
        let now = Utc::now();
        let read = idp
            .read_request(&request(&urls.acs_url, &urls.entity_id))
            .expect("ours");
        let mut choice = idp.choice(&read, "ghr_1", now);
        choice.user = Some("alice@acme.test".into());
        let user = idp.check_choice(&choice, now).expect("good");
        let xml = idp.response_xml(&choice, user, now).expect("signed");
        assert!(!xml.starts_with("<?xml"), "{xml}");
        let settings = crate::saml::metadata::parse(&idp.metadata_xml()).expect("metadata");
        let validated = acs::validate(
            &STANDARD.encode(&xml),
            Settings {
                idp: &settings,
                sp: &urls,
                decryption_keys: &[],
                require_encryption: false,
            },
            &Expectation::Solicited {
                request_id: "_r1".into(),
            },
            now,
        )
        .expect("accepted");
        assert_eq!(validated.name_id.as_deref(), Some("alice@acme.test"));
        assert!(validated.session_index.is_some());
        let groups = validated
            .attributes
            .iter()
            .find(|(n, _)| n == "groups")
            .map(|(_, v)| v.clone());
        assert_eq!(groups, Some(vec!["engineering".into(), "admins".into()]));

        // Any change to the signed assertion breaks the signature.
        let tampered = xml.replace("alice@acme.test", "bob@acme.test");
        let refused = acs::validate(
            &STANDARD.encode(&tampered),
            Settings {
                idp: &settings,
                sp: &urls,
                decryption_keys: &[],
                require_encryption: false,
            },
            &Expectation::Solicited {
                request_id: "_r1".into(),
            },
            now,
        )
        .expect_err("tampered");
        assert_eq!(refused.code, "saml_signature_invalid");
    }
}
