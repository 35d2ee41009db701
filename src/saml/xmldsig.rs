//! XML signature verification with libxmlsec1, against the identity
//! provider's public keys kept parsed between responses.
//!
//! Reading a certificate into libxmlsec1 for every response (as a DER
//! certificate) decodes it and its public key each time, which cost more
//! than the signature check itself. Here each certificate's key is parsed
//! once, by OpenSSL, and libxmlsec1 gets a new reference to it per check
//! (`xmldsig.c`, compiled against the installed headers by `build.rs`).
//!
//! What comes back is only what was signed: the canonical bytes each
//! verified reference digested. Which signatures are acceptable at all
//! (references, transforms, algorithms) is decided before, in `acs.rs`;
//! here too, references must name an element by its ID and libxmlsec1 is
//! told to run nothing but SAML's transforms and algorithms.

use std::collections::HashMap;
use std::ffi::c_void;
use std::os::raw::{c_char, c_int};
use std::sync::{Once, RwLock};

use foreign_types::ForeignTypeRef;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;

use super::acs::{PROTOCOL_NS, is};
use super::certificates::Certificate;

/// Why nothing signed came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unverified {
    /// A signature, or one of its references, does not verify with any of
    /// the keys.
    Invalid,
    /// libxml2 could not read the document.
    Unreadable,
    /// An ID attribute is not an XML name, or two elements share one.
    BadId,
    /// There is no signature.
    Unsigned,
    /// Several references verified and none alone holds the response.
    Ambiguous,
    /// libxmlsec1 failed (out of memory, or not initialised).
    Failed,
}

/// What `gatehouse_dsig_verify` answers (`GATEHOUSE_DSIG_*` in xmldsig.c);
/// anything else is `GATEHOUSE_DSIG_FAILED`.
const VERIFIED: c_int = 0;
const INVALID: c_int = 1;
const UNREADABLE: c_int = 2;
const BAD_ID: c_int = 3;
const UNSIGNED: c_int = 4;

type Sink = unsafe extern "C" fn(sink: *mut c_void, data: *const u8, len: usize);

unsafe extern "C" {
    fn gatehouse_dsig_verify(
        xml: *const c_char,
        len: usize,
        keys: *const *mut c_void,
        key_count: usize,
        sink: Sink,
        sink_data: *mut c_void,
    ) -> c_int;
    fn xmlSecErrorsDefaultCallbackEnableOutput(enabled: c_int);
}

/// Receives one verified reference's canonical bytes into a
/// `Vec<Vec<u8>>`.
unsafe extern "C" fn collect(sink: *mut c_void, data: *const u8, len: usize) {
    // SAFETY: `sink` is the `&mut Vec<Vec<u8>>` `verify` passed, alive for
    // the whole call, and only one reference is reported at a time.
    let parts = unsafe { &mut *sink.cast::<Vec<Vec<u8>>>() };
    let bytes = if data.is_null() || len == 0 {
        &[][..]
    } else {
        // SAFETY: libxmlsec1's buffer holds `len` bytes at `data` until
        // its context is destroyed, after this returns.
        unsafe { std::slice::from_raw_parts(data, len) }
    };
    parts.push(bytes.to_vec());
}

/// libxmlsec1 is set up once per process, by samael, which Gatehouse also
/// signs requests with; setting it up twice would reset its registries
/// under concurrent users. samael does it before reading its first key,
/// so one (failing) key read is enough. Were that to change, libxmlsec1
/// would know no algorithm and every signature would fail to verify.
fn initialise() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
        // SAFETY: sets one process-wide flag; no pointers are passed.
        // Gatehouse reports failures itself, with codes, so libxmlsec1
        // stays quiet on stderr.
        unsafe { xmlSecErrorsDefaultCallbackEnableOutput(0) };
        let _ = Crypto::verify_signed_xml(b"<a/>", &CertificateDer::from(Vec::new()), None);
    });
}

/// At most this many keys are kept; the cache starts over when full.
const MAX_CACHED_KEYS: usize = 512;

fn cache() -> &'static RwLock<HashMap<String, PKey<Public>>> {
    static CACHE: std::sync::OnceLock<RwLock<HashMap<String, PKey<Public>>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(|| RwLock::new(HashMap::new()))
}

/// The public key of each certificate OpenSSL can read, parsed once per
/// process (keyed by the certificate's bytes).
fn public_keys(certificates: &[Certificate]) -> Vec<PKey<Public>> {
    certificates
        .iter()
        .filter_map(|certificate| {
            if let Some(key) = cache()
                .read()
                .ok()
                .and_then(|keys| keys.get(&certificate.der).cloned())
            {
                return Some(key);
            }
            let key = X509::from_der(&certificate.der_bytes())
                .and_then(|x509| x509.public_key())
                .ok()?;
            if let Ok(mut keys) = cache().write() {
                if keys.len() >= MAX_CACHED_KEYS {
                    keys.clear();
                }
                keys.insert(certificate.der.clone(), key.clone());
            }
            Some(key)
        })
        .collect()
}

/// Verifies every signature in `xml` against the certificates' keys (each
/// signature must verify with one of them) and returns the canonical bytes
/// every verified reference digested, in document order.
fn verify(xml: &str, certificates: &[Certificate]) -> Result<Vec<String>, Unverified> {
    initialise();
    let keys = public_keys(certificates);
    let pointers: Vec<*mut c_void> = keys.iter().map(|k| k.as_ptr().cast()).collect();
    let mut parts: Vec<Vec<u8>> = Vec::new();
    // SAFETY: `xml` and `pointers` outlive the call, and `keys` holds a
    // reference to every EVP_PKEY pointed at (libxmlsec1 takes its own and
    // only reads them); `parts` is what `collect` expects.
    let outcome = unsafe {
        gatehouse_dsig_verify(
            xml.as_ptr().cast(),
            xml.len(),
            pointers.as_ptr(),
            pointers.len(),
            collect,
            (&mut parts as *mut Vec<Vec<u8>>).cast(),
        )
    };
    match outcome {
        VERIFIED => parts
            .into_iter()
            .map(|p| String::from_utf8(p).map_err(|_| Unverified::Invalid))
            .collect(),
        INVALID => Err(Unverified::Invalid),
        UNREADABLE => Err(Unverified::Unreadable),
        BAD_ID => Err(Unverified::BadId),
        UNSIGNED => Err(Unverified::Unsigned),
        _ => {
            tracing::error!(outcome, "libxmlsec1 could not check a signature");
            Err(Unverified::Failed)
        }
    }
}

/// The signed content of a response: the one verified reference, or,
/// where the response and its assertion are both signed, the response's.
pub fn signed_content(xml: &str, certificates: &[Certificate]) -> Result<String, Unverified> {
    let mut parts = verify(xml, certificates)?;
    if parts.len() == 1 {
        return Ok(parts.remove(0));
    }
    let mut responses = parts.into_iter().filter(|part| {
        roxmltree::Document::parse(part).is_ok_and(|doc| {
            let root = doc.root_element();
            is(&root, PROTOCOL_NS, "Response")
        })
    });
    match (responses.next(), responses.next()) {
        (Some(response), None) => Ok(response),
        _ => Err(Unverified::Ambiguous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::Private;
    use openssl::rsa::Rsa;
    use openssl::x509::X509Builder;
    use samael::crypto::{Crypto, CryptoProvider};

    const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

    /// An RSA key and its self-signed certificate.
    fn identity_provider() -> (PKey<Private>, Certificate) {
        let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("key");
        let mut builder = X509Builder::new().expect("builder");
        builder.set_pubkey(&key).expect("pubkey");
        builder
            .set_not_before(&Asn1Time::days_from_now(0).expect("time"))
            .expect("not before");
        builder
            .set_not_after(&Asn1Time::days_from_now(30).expect("time"))
            .expect("not after");
        builder.sign(&key, MessageDigest::sha256()).expect("sign");
        let der = builder.build().to_der().expect("der");
        (key, Certificate::from_der(&der).expect("certificate"))
    }

    /// A signature template over `#id` (libxmlsec1 fills in the values).
    fn template(id: &str, uri: &str, signature: &str, digest: &str) -> String {
        format!(
            r#"<ds:Signature xmlns:ds="{DSIG}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{signature}"/><ds:Reference URI="{uri}"><ds:Transforms><ds:Transform Algorithm="{DSIG}enveloped-signature"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"#
        )
        .replace("{id}", id)
    }

    fn response(assertion_signature: &str) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="{PROTOCOL_NS}" ID="_r"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"><saml:Subject>alice@acme.test</saml:Subject>{assertion_signature}</saml:Assertion></samlp:Response>"#
        )
    }

    /// Signs the first signature template in `xml` with a third-party
    /// signer (samael's, through libxmlsec1's signing code).
    fn sign(xml: &str, key: &PKey<Private>) -> String {
        Crypto::sign_xml(xml, &key.private_key_to_der().expect("der")).expect("signs")
    }

    fn signed_assertion(key: &PKey<Private>) -> String {
        sign(&response(&template("_a", "#_a", RSA_SHA256, SHA256)), key)
    }

    #[test]
    fn the_signed_assertion_comes_back_with_any_of_the_configured_keys() {
        let (key, certificate) = identity_provider();
        let (_, other) = identity_provider();
        let xml = signed_assertion(&key);
        for certificates in [
            vec![certificate.clone()],
            vec![other.clone(), certificate.clone()],
            vec![certificate.clone(), other.clone()],
        ] {
            let signed = signed_content(&xml, &certificates).expect("verifies");
            assert!(
                signed.starts_with("<saml:Assertion") && signed.contains("alice@acme.test"),
                "{signed}"
            );
            assert!(
                !signed.contains("Signature"),
                "the enveloped signature is left out"
            );
        }
        // Again, from the parsed keys kept since.
        assert!(signed_content(&xml, &[certificate]).is_ok());
        assert_eq!(
            signed_content(&xml, &[other]),
            Err(Unverified::Invalid),
            "another key"
        );
        assert_eq!(
            signed_content(&xml, &[]),
            Err(Unverified::Invalid),
            "no key"
        );
    }

    #[test]
    fn a_change_after_signing_does_not_verify() {
        let (key, certificate) = identity_provider();
        let xml = signed_assertion(&key).replace("alice@acme.test", "mallory@acme.test");
        assert_eq!(
            signed_content(&xml, &[certificate]),
            Err(Unverified::Invalid)
        );
    }

    #[test]
    fn ids_must_be_names_and_unique() {
        let (key, certificate) = identity_provider();
        let xml = signed_assertion(&key);
        let twice = xml.replace(
            "<saml:Subject>",
            r#"<saml:Subject><x ID="_a"/></saml:Subject><saml:Subject>"#,
        );
        assert_eq!(
            signed_content(&twice, std::slice::from_ref(&certificate)),
            Err(Unverified::BadId)
        );
        let not_a_name = xml.replace(r#"ID="_r""#, r#"ID="1 r""#);
        assert_eq!(
            signed_content(&not_a_name, &[certificate]),
            Err(Unverified::BadId)
        );
    }

    #[test]
    fn libxmlsec1_runs_only_what_saml_signatures_use() {
        let (key, certificate) = identity_provider();
        let certificates = [certificate];
        // Validly signed, but with SHA-1, over the whole document, or by
        // an XPointer reference: refused here, whatever the checks before
        // do.
        for (uri, signature, digest) in [
            ("#_a", "http://www.w3.org/2000/09/xmldsig#rsa-sha1", SHA256),
            ("#_a", RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#sha1"),
            ("", RSA_SHA256, SHA256),
            ("#xpointer(id('_a'))", RSA_SHA256, SHA256),
        ] {
            let xml = sign(&response(&template("_a", uri, signature, digest)), &key);
            assert_eq!(
                signed_content(&xml, &certificates),
                Err(Unverified::Invalid),
                "{uri} {signature} {digest}"
            );
        }
        assert_eq!(
            signed_content(&response(""), &certificates),
            Err(Unverified::Unsigned)
        );
        assert_eq!(
            signed_content("<unclosed>", &certificates),
            Err(Unverified::Unreadable)
        );
    }

    #[test]
    fn with_the_response_and_its_assertion_signed_the_response_is_kept() {
        let (key, certificate) = identity_provider();
        let inner = signed_assertion(&key);
        let both = sign(
            &inner.replacen(
                "<saml:Assertion",
                &format!(
                    "{}<saml:Assertion",
                    template("_r", "#_r", RSA_SHA256, SHA256)
                ),
                1,
            ),
            &key,
        );
        let signed = signed_content(&both, &[certificate]).expect("verifies");
        assert!(
            signed.starts_with("<samlp:Response") && signed.contains("<saml:Assertion"),
            "{signed}"
        );
    }
}
