//! Gatehouse's own key pair for one SAML connection: it signs AuthnRequests
//! and decrypts encrypted assertions. The certificate is public (in the SP
//! metadata, for the identity provider); the private key is stored sealed,
//! bound to the connection, and opened only while it is used.

use chrono::{DateTime, Duration, Utc};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use serde::{Deserialize, Serialize};

use super::certificates::Certificate;
use crate::config::SecretKey;
use crate::crypto::opened_keys::OpenedKeys;
use crate::crypto::seal::{self, SealError};

/// RSA modulus size: what every identity provider accepts.
const KEY_BITS: u32 = 2048;
/// Identity providers pin the certificate itself and do not check its
/// dates, but some refuse an expired one; ten years outlives a connection's
/// usual settings.
const VALIDITY_YEARS: i64 = 10;

/// The stored pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpKey {
    pub certificate: Certificate,
    /// PKCS#8 DER, sealed (see `crypto::seal`).
    pub private_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SpKeyError {
    #[error("could not make the key pair: {0}")]
    Generate(#[from] openssl::error::ErrorStack),
    #[error("the stored key does not open: {0}")]
    Sealed(#[from] SealError),
    #[error("the certificate could not be read back: {0}")]
    Certificate(String),
}

fn context(connection_id: &str) -> String {
    format!("saml-sp-key:{connection_id}")
}

impl SpKey {
    /// A new key pair and self-signed certificate for `connection_id`.
    pub fn generate(
        secret: &SecretKey,
        connection_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, SpKeyError> {
        let key = PKey::from_rsa(Rsa::generate(KEY_BITS)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("O", "Gatehouse")?;
        name.append_entry_by_text("CN", &format!("Gatehouse SAML {connection_id}"))?;
        let name = name.build();
        let mut serial = BigNum::new()?;
        serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
        let mut builder = X509Builder::new()?;
        builder.set_version(2)?;
        builder.set_serial_number(Asn1Integer::from_bn(&serial)?.as_ref())?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(&name)?;
        builder.set_pubkey(&key)?;
        builder
            .set_not_before(Asn1Time::from_unix((now - Duration::days(1)).timestamp())?.as_ref())?;
        builder.set_not_after(
            Asn1Time::from_unix((now + Duration::days(365 * VALIDITY_YEARS)).timestamp())?.as_ref(),
        )?;
        builder.sign(&key, MessageDigest::sha256())?;
        let der = builder.build().to_der()?;
        let certificate =
            Certificate::from_der(&der).map_err(|e| SpKeyError::Certificate(e.message))?;
        let private_key = seal::seal(
            secret,
            &context(connection_id),
            &key.private_key_to_pkcs8()?,
        )?;
        Ok(Self {
            certificate,
            private_key,
        })
    }

    /// Opens the private key; it belongs to `connection_id` only.
    pub fn private_key(
        &self,
        secret: &SecretKey,
        connection_id: &str,
    ) -> Result<PKey<Private>, SpKeyError> {
        let der = seal::open(secret, &context(connection_id), &self.private_key)?;
        Ok(PKey::private_key_from_pkcs8(&der)?)
    }

    /// `private_key`, opened once per instance (see `OpenedKeys`).
    pub fn private_key_once(
        &self,
        secret: &SecretKey,
        connection_id: &str,
        opened: &OpenedKeys,
    ) -> Result<PKey<Private>, SpKeyError> {
        opened.get_or_open(&context(connection_id), &self.private_key, || {
            self.private_key(secret, connection_id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_opens_for_its_connection_and_matches_its_certificate() {
        let secret = SecretKey::from_bytes([3; 32]);
        let now = Utc::now();
        let pair = SpKey::generate(&secret, "conn_1", now).expect("generate");
        assert!(pair.certificate.subject.contains("Gatehouse SAML conn_1"));
        assert!(pair.certificate.not_after > now + Duration::days(3600));
        let key = pair.private_key(&secret, "conn_1").expect("open");
        let cert = openssl::x509::X509::from_der(&pair.certificate.der_bytes()).expect("cert");
        assert!(key.public_eq(&cert.public_key().expect("public key")));
        assert!(pair.private_key(&secret, "conn_2").is_err());
        assert!(
            pair.private_key(&SecretKey::from_bytes([4; 32]), "conn_1")
                .is_err()
        );
        let pem = pair.certificate.to_pem();
        assert!(openssl::x509::X509::from_pem(pem.as_bytes()).is_ok());
    }
}
