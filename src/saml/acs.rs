//! The assertion consumer service's validation: from a base64 SAMLResponse
//! to a validated assertion, or a named error.
//!
//! Gatehouse makes every check itself, in this order:
//! 1. Decode; refuse DOCTYPEs, malformed or truncated XML, comments and
//!    processing instructions anywhere, and more than one assertion.
//! 2. Refuse signature algorithms outside the allowlist (no SHA-1).
//! 3. Verify signatures with libxmlsec1 against the configured certificates
//!    only, and keep only the signed content: the exact canonical bytes that
//!    were digested (the rest is discarded).
//! 4. On the signed assertion: issuer, audience, recipient, destination,
//!    InResponseTo, time windows — each with its own code.
//!
//! Replay (assertion IDs) and RelayState belong to the caller, which has
//! the store.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Private};
use roxmltree::{Document, Node, ParsingOptions};
use samael::crypto::AllowedSignatureAlgorithm;

use super::certificates::Certificate;
use super::config::IdpSettings;
use super::sp::SpUrls;
use super::xmldsig::Unverified;

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// How far clocks may disagree.
pub const CLOCK_SKEW: Duration = Duration::minutes(2);
/// The oldest IssueInstant accepted, whatever the assertion's own window.
pub const MAX_AGE: Duration = Duration::hours(1);

/// Signature algorithms accepted: SHA-256 or stronger.
pub const ALLOWED_ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// A failed validation (the name the SAML code knows it by).
pub use crate::domain::sign_in::SignInError as AcsError;

fn malformed(detail: impl Into<String>) -> AcsError {
    AcsError::new("saml_response_malformed", detail)
}

/// What the response must be an answer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// An answer to our AuthnRequest with this ID.
    Solicited { request_id: String },
    /// IdP-initiated: no request, so no InResponseTo may be present.
    Unsolicited,
}

/// What the ACS checks against.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub idp: &'a IdpSettings,
    pub sp: &'a SpUrls,
    /// The connection's SP keys, for encrypted assertions (none: refused).
    pub decryption_keys: &'a [PKey<Private>],
    /// Refuse assertions that arrive unencrypted.
    pub require_encryption: bool,
}

/// The signed assertion, once every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedAssertion {
    pub assertion_id: String,
    pub issuer: String,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// When the identity provider authenticated the person
    /// (`AuthnStatement/@AuthnInstant`), if it says so readably.
    pub authn_instant: Option<DateTime<Utc>>,
    /// Every attribute, in document order, with all its values.
    pub attributes: Vec<(String, Vec<String>)>,
    /// Until when the assertion could be replayed (for the replay cache).
    pub valid_until: DateTime<Utc>,
}

pub(super) fn is(node: &Node, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

pub(super) fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is(c, ns, name))
}

fn text(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_string()
}

fn time(node: Node, attribute: &str) -> Result<Option<DateTime<Utc>>, AcsError> {
    node.attribute(attribute)
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| malformed(format!("{attribute} “{v}” is not a valid time.")))
        })
        .transpose()
}

/// Decodes the form field: base64, with the line breaks some identity
/// providers add.
pub fn decode(saml_response: &str) -> Result<String, AcsError> {
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(malformed("The request carried no SAMLResponse."));
    }
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| malformed("The SAMLResponse is not valid base64."))?;
    String::from_utf8(bytes).map_err(|_| malformed("The SAMLResponse is not UTF-8 XML."))
}

fn parse_strict(xml: &str) -> Result<Document<'_>, AcsError> {
    let lower = xml.to_ascii_lowercase();
    if lower.contains("<!doctype") || lower.contains("<!entity") {
        return Err(malformed(
            "The response contains a DOCTYPE or entity declaration, which Gatehouse never processes.",
        ));
    }
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, options)
        .map_err(|e| malformed(format!("The response is not well-formed XML ({e}).")))?;
    if doc.descendants().any(|n| n.is_comment() || n.is_pi()) {
        return Err(malformed(
            "The response contains XML comments or processing instructions; identity providers do not send them, and they can hide changes to signed values.",
        ));
    }
    Ok(doc)
}

fn status_message(code: &str, sub: Option<&str>, message: Option<&str>) -> String {
    let last = |s: &str| s.rsplit(':').next().unwrap_or(s).to_string();
    let friendly = match sub.map(last).as_deref() {
        Some("AuthnFailed") => "The identity provider could not authenticate the user.",
        Some("RequestDenied") => "The identity provider refused the sign-in request.",
        Some("NoPassive") => "The user is not signed in at the identity provider.",
        Some("UnknownPrincipal") => "The identity provider does not know this user.",
        Some("NoAuthnContext") => {
            "The identity provider could not meet the requested authentication context."
        }
        _ => match last(code).as_str() {
            "Requester" => {
                "The identity provider rejected the request (for example, the user is not assigned to the application)."
            }
            "Responder" => "The identity provider failed to complete the sign-in.",
            "VersionMismatch" => {
                "The identity provider does not accept SAML 2.0 requests in this form."
            }
            _ => "The identity provider did not complete the sign-in.",
        },
    };
    match message.filter(|m| !m.trim().is_empty()) {
        Some(m) => format!(
            "{friendly} It said: “{}”.",
            m.trim().chars().take(300).collect::<String>()
        ),
        None => friendly.to_string(),
    }
}

fn certificate_in(doc: &Document) -> Option<String> {
    doc.descendants()
        .find(|n| is(n, DSIG_NS, "X509Certificate"))
        .and_then(|n| Certificate::from_base64(&text(n)).ok())
        .map(|c| c.fingerprint_display())
}

/// Validates a SAMLResponse (base64, as posted) against the connection's
/// settings. Pure apart from the cryptography (libxmlsec1, OpenSSL).
pub fn validate(
    saml_response: &str,
    settings: Settings,
    expectation: &Expectation,
    now: DateTime<Utc>,
) -> Result<ValidatedAssertion, AcsError> {
    let xml = decode(saml_response)?;
    let doc = parse_strict(&xml)?;
    precheck(&doc)?;
    let Some(encrypted) = doc
        .descendants()
        .find(|n| is(n, ASSERTION_NS, "EncryptedAssertion"))
    else {
        if settings.require_encryption {
            return Err(AcsError::new(
                "saml_assertion_not_encrypted",
                "The assertion arrived unencrypted, and this connection requires encrypted assertions. Turn on assertion encryption at the identity provider with the certificate from Gatehouse's SP metadata, or turn the requirement off.",
            ));
        }
        refuse_encrypted_parts(&doc)?;
        let reduced = verify(&xml, &doc, settings)?;
        return check_signed(
            &reduced,
            doc.root_element(),
            false,
            settings,
            expectation,
            now,
        );
    };
    if settings.decryption_keys.is_empty() {
        return Err(AcsError::new(
            "saml_assertion_encrypted",
            "The assertion is encrypted, and assertion encryption is not set up for this connection.",
        ));
    }
    if child(doc.root_element(), DSIG_NS, "Signature").is_some() {
        return validate_encrypted_in_signed_response(&xml, &doc, settings, expectation, now);
    }

    // The response is not signed, so anyone could have encrypted this for
    // Gatehouse: the decrypted assertion must carry the identity provider's
    // signature, and until that signature has verified every failure reads
    // the same (no padding or parsing oracle).
    let plaintext = super::decrypt::decrypt(encrypted, settings.decryption_keys)?;
    let spliced = splice(&xml, &[(encrypted.range(), &strip_declaration(&plaintext))]);
    let verified = (|| {
        let doc = parse_strict(&spliced).ok()?;
        precheck(&doc).ok()?;
        refuse_encrypted_parts(&doc).ok()?;
        let reduced = verify(&spliced, &doc, settings).ok()?;
        Some((doc, reduced))
    })();
    let Some((doc, reduced)) = verified else {
        return Err(super::decrypt::decryption_failed());
    };
    check_signed(
        &reduced,
        doc.root_element(),
        false,
        settings,
        expectation,
        now,
    )
}

/// A signed response around an encrypted assertion: the response signature
/// (over the ciphertext) is verified first, then the assertion decrypted
/// from the signed copy; its own signature, if any, is verified too.
fn validate_encrypted_in_signed_response(
    xml: &str,
    doc: &Document,
    settings: Settings,
    expectation: &Expectation,
    now: DateTime<Utc>,
) -> Result<ValidatedAssertion, AcsError> {
    let reduced = verify(xml, doc, settings)?;
    let signed = parse_reduced(&reduced)?;
    let root = signed.root_element();
    let encrypted = child(root, ASSERTION_NS, "EncryptedAssertion")
        .filter(|_| is(&root, PROTOCOL_NS, "Response"))
        .ok_or_else(|| {
            AcsError::new(
                "saml_signature_invalid",
                "The signature does not cover the encrypted assertion.",
            )
        })?;
    let plaintext = super::decrypt::decrypt(encrypted, settings.decryption_keys)?;
    // The signed copy is canonical XML, where namespaces are declared only
    // where used: the assertion gets the ones it may rely on.
    let plaintext = with_namespaces(&strip_declaration(&plaintext), encrypted);
    // The response signature has done its work; it would not verify over
    // the decrypted content, so it is left out of the copy checked next.
    let mut edits = vec![(encrypted.range(), plaintext.as_str())];
    if let Some(signature) = child(root, DSIG_NS, "Signature") {
        edits.push((signature.range(), ""));
    }
    let spliced = splice(&reduced, &edits);
    let inner = parse_strict(&spliced)?;
    precheck(&inner)?;
    refuse_encrypted_parts(&inner)?;
    let wrapper = inner.root_element();
    if inner.descendants().any(|n| is(&n, DSIG_NS, "Signature")) {
        let reduced = verify(&spliced, &inner, settings)?;
        return check_signed(&reduced, wrapper, true, settings, expectation, now);
    }
    let assertion = child(wrapper, ASSERTION_NS, "Assertion")
        .ok_or_else(|| malformed("The decrypted content is not an assertion."))?;
    check_contents(wrapper, true, assertion, settings, expectation, now)
}

/// Replaces byte ranges of `text` (which must not overlap).
fn splice(text: &str, edits: &[(std::ops::Range<usize>, &str)]) -> String {
    let mut edits: Vec<_> = edits.to_vec();
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_string();
    for (range, replacement) in edits {
        out.replace_range(range, replacement);
    }
    out
}

/// Declares on the root element of `fragment` the namespaces in scope at
/// `context` that the fragment does not declare there itself.
fn with_namespaces(fragment: &str, context: Node) -> String {
    let Some(open) = fragment.find('<') else {
        return fragment.to_string();
    };
    let name_end = fragment[open + 1..]
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .map_or(fragment.len(), |i| open + 1 + i);
    let tag_end = fragment[name_end..]
        .find('>')
        .map_or(fragment.len(), |i| name_end + i);
    let start_tag = &fragment[open..tag_end];
    let mut declarations = String::new();
    for ns in context.namespaces().filter(|ns| ns.name() != Some("xml")) {
        let attribute = match ns.name() {
            Some(prefix) => format!("xmlns:{prefix}="),
            None => "xmlns=".to_string(),
        };
        if !start_tag.contains(&attribute) {
            let uri = ns
                .uri()
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;");
            declarations.push_str(&format!(" {attribute}\"{uri}\""));
        }
    }
    format!(
        "{}{declarations}{}",
        &fragment[..name_end],
        &fragment[name_end..]
    )
}

/// An XML declaration in front of decrypted content.
fn strip_declaration(plaintext: &str) -> String {
    let trimmed = plaintext.trim_start_matches('\u{feff}').trim_start();
    match trimmed.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(String::new(), |(_, body)| body.to_string()),
        None => trimmed.to_string(),
    }
}

/// Checks that need no cryptography: the document is a Response with
/// exactly one assertion, a Success status, and allowed algorithms.
fn precheck(doc: &Document) -> Result<(), AcsError> {
    let response = doc.root_element();
    if !is(&response, PROTOCOL_NS, "Response") {
        return Err(malformed("The document is not a SAML 2.0 Response."));
    }
    let assertions = doc
        .descendants()
        .filter(|n| is(n, ASSERTION_NS, "Assertion") || is(n, ASSERTION_NS, "EncryptedAssertion"))
        .count();
    if assertions != 1 {
        return Err(AcsError::new(
            "saml_assertion_count_invalid",
            format!("The response holds {assertions} assertions; exactly one is accepted."),
        ));
    }

    // The status may come unsigned (identity providers often do not sign
    // errors); a failure is reported, never acted on.
    let status = child(response, PROTOCOL_NS, "Status");
    let code_node = status.and_then(|s| child(s, PROTOCOL_NS, "StatusCode"));
    let code = code_node
        .and_then(|c| c.attribute("Value"))
        .unwrap_or_default();
    if code != SUCCESS {
        let sub = code_node
            .and_then(|c| child(c, PROTOCOL_NS, "StatusCode"))
            .and_then(|c| c.attribute("Value"));
        let message = status
            .and_then(|s| child(s, PROTOCOL_NS, "StatusMessage"))
            .map(text);
        return Err(AcsError {
            received: Some(code.to_string()),
            ..AcsError::new(
                "saml_status_not_success",
                status_message(code, sub, message.as_deref()),
            )
        });
    }

    // Algorithms, before any cryptography.
    for method in doc
        .descendants()
        .filter(|n| is(n, DSIG_NS, "SignatureMethod") || is(n, DSIG_NS, "DigestMethod"))
        .filter(|n| n.ancestors().any(|a| is(&a, DSIG_NS, "Signature")))
    {
        let algorithm = method.attribute("Algorithm").unwrap_or_default();
        let allowed = ALLOWED_ALGORITHMS
            .iter()
            .any(|a| a.signature_uri() == algorithm || a.digest_uri() == algorithm);
        if !allowed {
            return Err(AcsError {
                received: Some(algorithm.to_string()),
                expected: Some("RSA or ECDSA with SHA-256, SHA-384 or SHA-512".into()),
                ..AcsError::new(
                    "saml_signature_algorithm_not_allowed",
                    "The response is signed with an algorithm Gatehouse does not accept (SHA-1 is too weak).",
                )
            });
        }
    }
    Ok(())
}

/// Encrypted names or attributes (outside an encrypted assertion), which
/// Gatehouse does not decrypt.
fn refuse_encrypted_parts(doc: &Document) -> Result<(), AcsError> {
    if doc
        .descendants()
        .any(|n| n.is_element() && n.tag_name().namespace() == Some(super::decrypt::XMLENC_NS))
    {
        return Err(AcsError::new(
            "saml_assertion_encrypted",
            "The response contains encrypted content (an encrypted NameID or attribute) that Gatehouse does not decrypt; encrypt the whole assertion instead.",
        ));
    }
    Ok(())
}

/// Verifies the signatures against the configured certificates only and
/// answers the signed content alone.
fn verify(xml: &str, doc: &Document, settings: Settings) -> Result<String, AcsError> {
    if !doc.descendants().any(|n| is(&n, DSIG_NS, "Signature")) {
        return Err(AcsError::new(
            "saml_signature_missing",
            "Neither the response nor its assertion is signed.",
        ));
    }
    check_signature_shape(doc)?;
    let invalid = |detail: &str| AcsError::new("saml_signature_invalid", detail);
    super::xmldsig::signed_content(xml, &settings.idp.certificates).map_err(|unverified| match unverified {
        Unverified::BadId => invalid("An ID in the response is not a valid XML name or is used twice, so a signature cannot be tied to what it signs."),
        Unverified::Ambiguous => invalid("Several parts of the response are signed separately and none of them holds the whole response."),
        _ => AcsError {
            expected: Some(settings.idp.certificates.iter().map(Certificate::fingerprint_display).collect::<Vec<_>>().join(", ")),
            received: Some(certificate_in(doc).unwrap_or_else(|| "(no certificate in the response)".into())),
            ..invalid("The signature does not verify with the identity provider's signing certificate, or the signed content was changed.")
        },
    })
}

fn parse_reduced(reduced: &str) -> Result<Document<'_>, AcsError> {
    Document::parse_with_options(
        reduced,
        ParsingOptions {
            allow_dtd: false,
            ..ParsingOptions::default()
        },
    )
    .map_err(|_| malformed("The signed part of the response could not be read."))
}

/// From the signed content: the assertion, and the wrapper's checks from
/// the signed copy when the response is signed. `wrapper_trusted` says the
/// unsigned wrapper passed is itself from verified content.
fn check_signed(
    reduced: &str,
    wrapper: Node,
    wrapper_trusted: bool,
    settings: Settings,
    expectation: &Expectation,
    now: DateTime<Utc>,
) -> Result<ValidatedAssertion, AcsError> {
    let signed = parse_reduced(reduced)?;
    let signed_root = signed.root_element();
    let response_signed = is(&signed_root, PROTOCOL_NS, "Response");
    let assertion = signed
        .descendants()
        .find(|n| is(n, ASSERTION_NS, "Assertion"))
        .ok_or_else(|| {
            AcsError::new(
                "saml_signature_invalid",
                "The signature does not cover the assertion.",
            )
        })?;
    if response_signed {
        check_contents(signed_root, true, assertion, settings, expectation, now)
    } else {
        check_contents(
            wrapper,
            wrapper_trusted,
            assertion,
            settings,
            expectation,
            now,
        )
    }
}

/// The checks on what was signed: the wrapper's Destination, InResponseTo,
/// Issuer and IssueInstant, then the assertion's.
fn check_contents(
    wrapper: Node,
    response_signed: bool,
    assertion: Node,
    settings: Settings,
    expectation: &Expectation,
    now: DateTime<Utc>,
) -> Result<ValidatedAssertion, AcsError> {
    if let Some(destination) = wrapper.attribute("Destination")
        && destination != settings.sp.acs_url
    {
        return Err(AcsError::mismatch(
            "saml_destination_mismatch",
            "The response was sent to another address than this connection's ACS URL.",
            &settings.sp.acs_url,
            Some(destination),
        ));
    }
    if response_signed && wrapper.attribute("Destination").is_none() {
        return Err(AcsError::mismatch(
            "saml_destination_mismatch",
            "A signed response must name its Destination.",
            &settings.sp.acs_url,
            None,
        ));
    }
    check_in_response_to(wrapper.attribute("InResponseTo"), expectation)?;
    if let Some(issuer) = child(wrapper, ASSERTION_NS, "Issuer").map(text)
        && issuer != settings.idp.entity_id
    {
        return Err(AcsError::mismatch(
            "saml_issuer_mismatch",
            "The response comes from another identity provider than the one configured.",
            &settings.idp.entity_id,
            Some(&issuer),
        ));
    }
    check_issue_instant(time(wrapper, "IssueInstant")?, now)?;

    // The assertion.
    let assertion_id = assertion
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| malformed("The assertion has no ID."))?
        .to_string();
    let issuer = child(assertion, ASSERTION_NS, "Issuer").map(text);
    if issuer.as_deref() != Some(settings.idp.entity_id.as_str()) {
        return Err(AcsError::mismatch(
            "saml_issuer_mismatch",
            "The assertion comes from another identity provider than the one configured.",
            &settings.idp.entity_id,
            issuer.as_deref(),
        ));
    }
    check_issue_instant(time(assertion, "IssueInstant")?, now)?;

    let subject = child(assertion, ASSERTION_NS, "Subject")
        .ok_or_else(|| malformed("The assertion has no Subject."))?;
    let name_id_node = child(subject, ASSERTION_NS, "NameID");
    let mut valid_until: Option<DateTime<Utc>> = None;
    let mut confirmation_error = AcsError::new(
        "saml_subject_confirmation_invalid",
        "The assertion has no bearer subject confirmation.",
    );
    let mut confirmed = false;
    for confirmation in subject
        .children()
        .filter(|c| is(c, ASSERTION_NS, "SubjectConfirmation"))
    {
        if confirmation.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = child(confirmation, ASSERTION_NS, "SubjectConfirmationData") else {
            continue;
        };
        match check_confirmation(data, settings, expectation, now) {
            Ok(until) => {
                confirmed = true;
                valid_until = Some(until);
                break;
            }
            Err(e) => confirmation_error = e,
        }
    }
    if !confirmed {
        return Err(confirmation_error);
    }

    let conditions = child(assertion, ASSERTION_NS, "Conditions").ok_or_else(|| {
        AcsError::mismatch(
            "saml_audience_mismatch",
            "The assertion has no Conditions, so it is not restricted to this connection.",
            &settings.sp.entity_id,
            None,
        )
    })?;
    if let Some(not_before) = time(conditions, "NotBefore")?
        && now + CLOCK_SKEW < not_before
    {
        return Err(AcsError::mismatch(
            "saml_response_not_yet_valid",
            "The assertion is not valid yet; check the identity provider's clock.",
            &format!("after {}", not_before.to_rfc3339()),
            Some(&now.to_rfc3339()),
        ));
    }
    if let Some(not_on_or_after) = time(conditions, "NotOnOrAfter")? {
        if now - CLOCK_SKEW >= not_on_or_after {
            return Err(AcsError::mismatch(
                "saml_response_expired",
                "The assertion has expired.",
                &format!("before {}", not_on_or_after.to_rfc3339()),
                Some(&now.to_rfc3339()),
            ));
        }
        valid_until = Some(valid_until.map_or(not_on_or_after, |v| v.max(not_on_or_after)));
    }
    let restrictions: Vec<Node> = conditions
        .children()
        .filter(|c| is(c, ASSERTION_NS, "AudienceRestriction"))
        .collect();
    if restrictions.is_empty() {
        return Err(AcsError::mismatch(
            "saml_audience_mismatch",
            "The assertion has no AudienceRestriction, so it is not restricted to this connection.",
            &settings.sp.entity_id,
            None,
        ));
    }
    for restriction in restrictions {
        let audiences: Vec<String> = restriction
            .children()
            .filter(|c| is(c, ASSERTION_NS, "Audience"))
            .map(text)
            .collect();
        if !audiences.iter().any(|a| a == &settings.sp.entity_id) {
            return Err(AcsError::mismatch(
                "saml_audience_mismatch",
                "The assertion is meant for another service provider (its Audience is not this connection's entity ID).",
                &settings.sp.entity_id,
                Some(&audiences.join(", ")),
            ));
        }
    }

    let authn_statement = child(assertion, ASSERTION_NS, "AuthnStatement");
    let session_index = authn_statement
        .and_then(|a| a.attribute("SessionIndex"))
        .map(str::to_string);
    let authn_instant = authn_statement
        .and_then(|a| a.attribute("AuthnInstant"))
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in assertion
        .children()
        .filter(|c| is(c, ASSERTION_NS, "AttributeStatement"))
    {
        for attribute in statement
            .children()
            .filter(|c| is(c, ASSERTION_NS, "Attribute"))
        {
            let Some(name) = attribute.attribute("Name") else {
                continue;
            };
            let values: Vec<String> = attribute
                .children()
                .filter(|c| is(c, ASSERTION_NS, "AttributeValue"))
                .map(text)
                .collect();
            match attributes.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => existing.extend(values),
                None => attributes.push((name.to_string(), values)),
            }
        }
    }

    Ok(ValidatedAssertion {
        assertion_id,
        issuer: settings.idp.entity_id.clone(),
        name_id: name_id_node.map(text).filter(|v| !v.is_empty()),
        name_id_format: name_id_node
            .and_then(|n| n.attribute("Format"))
            .map(str::to_string),
        session_index,
        authn_instant,
        attributes,
        valid_until: valid_until.unwrap_or(now + Duration::minutes(5)),
    })
}

/// Canonicalizations and transforms a SAML signature uses; nothing else is
/// handed to libxmlsec1, which would run it before checking the signature.
const ALLOWED_TRANSFORMS: &[&str] = &[
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/2006/12/xml-c14n11",
];

/// Refuses signatures libxmlsec1 must never process: a Reference that is
/// not a same-document pointer to the Response or the Assertion (the library
/// would fetch a URL or open a file before verifying anything), transforms
/// other than SAML's (XSLT, XPath, base64), and key retrieval by reference.
fn check_signature_shape(doc: &Document) -> Result<(), AcsError> {
    let refuse = |detail: String| AcsError::new("saml_signature_invalid", detail);
    let signed_ids: Vec<&str> = doc
        .descendants()
        .filter(|n| is(n, PROTOCOL_NS, "Response") || is(n, ASSERTION_NS, "Assertion"))
        .filter_map(|n| n.attribute("ID"))
        .collect();
    // Only signatures reach libxmlsec1's verification; the KeyInfo of
    // encrypted data (which may use RetrievalMethod) is Gatehouse's to read.
    for node in doc.descendants().filter(|n| {
        n.is_element()
            && n.tag_name().namespace() == Some(DSIG_NS)
            && n.ancestors().any(|a| is(&a, DSIG_NS, "Signature"))
    }) {
        match node.tag_name().name() {
            "Reference" => {
                let target = node.attribute("URI").and_then(|u| u.strip_prefix('#'));
                if !target.is_some_and(|id| signed_ids.contains(&id)) {
                    return Err(refuse(format!(
                        "A signature reference points at “{}”; only the response or its assertion may be signed.",
                        node.attribute("URI")
                            .unwrap_or("(nothing)")
                            .chars()
                            .take(200)
                            .collect::<String>()
                    )));
                }
            }
            "Transform" | "CanonicalizationMethod" => {
                let algorithm = node.attribute("Algorithm").unwrap_or_default();
                if !ALLOWED_TRANSFORMS.contains(&algorithm) {
                    return Err(refuse(format!(
                        "The signature uses the transform “{}”, which SAML signatures do not use.",
                        algorithm.chars().take(200).collect::<String>()
                    )));
                }
            }
            "RetrievalMethod" => {
                return Err(refuse(
                    "The signature asks to retrieve its key from elsewhere.".into(),
                ));
            }
            _ => {}
        }
    }
    if doc.descendants().any(|n| {
        n.is_element()
            && n.tag_name().namespace() == Some(super::decrypt::XMLENC_NS)
            && n.ancestors().any(|a| is(&a, DSIG_NS, "Signature"))
    }) {
        return Err(refuse(
            "The signature carries an encrypted key, which SAML signatures do not use.".into(),
        ));
    }
    Ok(())
}

fn check_in_response_to(value: Option<&str>, expectation: &Expectation) -> Result<(), AcsError> {
    match (expectation, value) {
        (Expectation::Solicited { request_id }, Some(v)) if v == request_id => Ok(()),
        (Expectation::Solicited { request_id }, received) => Err(AcsError::mismatch(
            "saml_in_response_to_invalid",
            "The response answers another sign-in request than the one this browser started.",
            request_id,
            received,
        )),
        (Expectation::Unsolicited, None) => Ok(()),
        (Expectation::Unsolicited, Some(v)) => Err(AcsError::mismatch(
            "saml_in_response_to_invalid",
            "The response claims to answer a sign-in request Gatehouse has no record of.",
            "(none: identity-provider-initiated)",
            Some(v),
        )),
    }
}

fn check_issue_instant(instant: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), AcsError> {
    let Some(instant) = instant else {
        return Err(malformed("IssueInstant is missing."));
    };
    if instant > now + CLOCK_SKEW {
        return Err(AcsError::mismatch(
            "saml_issue_instant_invalid",
            "The response claims to be issued in the future; check the identity provider's clock.",
            &format!("before {}", (now + CLOCK_SKEW).to_rfc3339()),
            Some(&instant.to_rfc3339()),
        ));
    }
    if instant < now - MAX_AGE {
        return Err(AcsError::mismatch(
            "saml_response_expired",
            "The response was issued too long ago.",
            &format!("after {}", (now - MAX_AGE).to_rfc3339()),
            Some(&instant.to_rfc3339()),
        ));
    }
    Ok(())
}

fn check_confirmation(
    data: Node,
    settings: Settings,
    expectation: &Expectation,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, AcsError> {
    let recipient = data.attribute("Recipient");
    if recipient != Some(settings.sp.acs_url.as_str()) {
        return Err(AcsError::mismatch(
            "saml_recipient_mismatch",
            "The assertion's Recipient is not this connection's ACS URL.",
            &settings.sp.acs_url,
            recipient,
        ));
    }
    check_in_response_to(data.attribute("InResponseTo"), expectation)?;
    if let Some(not_before) = time(data, "NotBefore")?
        && now + CLOCK_SKEW < not_before
    {
        return Err(AcsError::mismatch(
            "saml_response_not_yet_valid",
            "The assertion is not valid yet; check the identity provider's clock.",
            &format!("after {}", not_before.to_rfc3339()),
            Some(&now.to_rfc3339()),
        ));
    }
    let Some(not_on_or_after) = time(data, "NotOnOrAfter")? else {
        return Err(malformed("The subject confirmation has no NotOnOrAfter."));
    };
    if now - CLOCK_SKEW >= not_on_or_after {
        return Err(AcsError::mismatch(
            "saml_response_expired",
            "The assertion has expired.",
            &format!("before {}", not_on_or_after.to_rfc3339()),
            Some(&now.to_rfc3339()),
        ));
    }
    Ok(not_on_or_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_with_line_breaks_decodes() {
        let encoded = STANDARD.encode("<x/>");
        let wrapped = format!("{}\r\n{}", &encoded[..2], &encoded[2..]);
        assert_eq!(decode(&wrapped).expect("decodes"), "<x/>");
        assert_eq!(
            decode("%%%").expect_err("junk").code,
            "saml_response_malformed"
        );
    }

    #[test]
    fn doctypes_comments_and_truncation_are_refused_before_anything_else() {
        for xml in [
            "<!DOCTYPE r [<!ENTITY a \"b\">]><r/>",
            "<r><!-- hidden --></r>",
            "<r><?pi x?></r>",
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"><saml:Assert",
        ] {
            assert_eq!(
                parse_strict(xml).expect_err(xml).code,
                "saml_response_malformed",
                "{xml}"
            );
        }
    }

    /// A response whose forged signature points elsewhere: the checks must
    /// refuse it before libxmlsec1 could follow the reference.
    fn forged(reference_uri: &str, transform: &str) -> String {
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{reference_uri}"><ds:Transforms><ds:Transform Algorithm="{transform}"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature></saml:Assertion></samlp:Response>"#
        );
        STANDARD.encode(xml)
    }

    /// Settings with a real certificate, so that libxmlsec1 would process
    /// the signature if the checks let it through.
    fn settings() -> (IdpSettings, SpUrls) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["idp.example".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        (
            IdpSettings {
                entity_id: "idp".into(),
                sso_url: "https://idp.example/sso".into(),
                binding: super::super::config::Binding::Redirect,
                certificates: vec![Certificate::from_der(cert.der()).expect("parses")],
            },
            super::super::sp::urls("https://sso.example", "conn_1"),
        )
    }

    #[test]
    fn references_that_leave_the_document_are_refused_before_any_fetch() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let probe = format!("http://{}/probe", listener.local_addr().expect("addr"));
        let (idp, sp) = settings();
        let enveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
        for uri in [
            probe.as_str(),
            "file:///dev/zero",
            "file:///etc/hostname",
            "",
            "#_elsewhere",
        ] {
            let err = validate(
                &forged(uri, enveloped),
                Settings {
                    idp: &idp,
                    sp: &sp,
                    decryption_keys: &[],
                    require_encryption: false,
                },
                &Expectation::Unsolicited,
                Utc::now(),
            )
            .expect_err("refused");
            assert_eq!(err.code, "saml_signature_invalid", "{uri}: {err:?}");
            assert!(
                err.detail.contains("reference points at"),
                "refused by our check, before the library: {err:?}"
            );
        }
        assert!(listener.accept().is_err(), "nothing connected to the probe");
        for transform in [
            "http://www.w3.org/TR/1999/REC-xslt-19991116",
            "http://www.w3.org/2000/09/xmldsig#base64",
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
        ] {
            let err = validate(
                &forged("#_a", transform),
                Settings {
                    idp: &idp,
                    sp: &sp,
                    decryption_keys: &[],
                    require_encryption: false,
                },
                &Expectation::Unsolicited,
                Utc::now(),
            )
            .expect_err("refused");
            assert_eq!(err.code, "saml_signature_invalid", "{transform}");
            assert!(err.detail.contains("transform"), "{transform}");
        }
    }

    #[test]
    fn status_failures_are_explained() {
        let m = status_message(
            "urn:oasis:names:tc:SAML:2.0:status:Requester",
            Some("urn:oasis:names:tc:SAML:2.0:status:RequestDenied"),
            Some("User not assigned"),
        );
        assert!(
            m.contains("refused") && m.contains("User not assigned"),
            "{m}"
        );
    }
}
