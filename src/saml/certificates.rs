//! The identity provider's signing certificates: parsed from PEM or from
//! metadata, described for admins (subject, fingerprint, expiry), and checked.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::SettingsError;

/// Certificates expiring sooner than this are flagged.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// A signing certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The DER bytes, base64.
    pub der: String,
    /// Lower-case hex SHA-256 of the DER bytes.
    pub fingerprint_sha256: String,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Self, SettingsError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|_| {
            SettingsError::new(
                "saml_certificate_invalid",
                "The signing certificate could not be read as an X.509 certificate.",
            )
        })?;
        let validity = cert.validity();
        let time = |t: x509_parser::time::ASN1Time| {
            DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        Ok(Self {
            der: STANDARD.encode(der),
            fingerprint_sha256: crate::crypto::hex(&Sha256::digest(der)),
            subject: cert.subject().to_string(),
            not_before: time(validity.not_before),
            not_after: time(validity.not_after),
        })
    }

    /// From base64 as found in metadata (`<ds:X509Certificate>`), with any
    /// whitespace inside.
    pub fn from_base64(text: &str) -> Result<Self, SettingsError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = STANDARD.decode(compact).map_err(|_| {
            SettingsError::new(
                "saml_certificate_invalid",
                "The signing certificate is not valid base64.",
            )
        })?;
        Self::from_der(&der)
    }

    /// `AB:CD:…`, as identity providers display fingerprints.
    pub fn fingerprint_display(&self) -> String {
        self.fingerprint_sha256
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(":")
    }

    pub fn expires_soon(&self, now: DateTime<Utc>) -> bool {
        self.not_after - now < chrono::Duration::days(EXPIRY_WARNING_DAYS)
    }

    pub fn der_bytes(&self) -> Vec<u8> {
        STANDARD.decode(&self.der).unwrap_or_default()
    }

    /// PEM, 64 columns, as identity providers' upload forms take it.
    pub fn to_pem(&self) -> String {
        let body = self
            .der
            .as_bytes()
            .chunks(64)
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect::<Vec<_>>()
            .join("\n");
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    }
}

/// One or more certificates from what an admin pasted: PEM blocks, or the
/// bare base64 body many identity providers display.
pub fn parse_pem(text: &str) -> Result<Vec<Certificate>, SettingsError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = text.trim();
    if text.is_empty() {
        return Err(SettingsError::new(
            "saml_no_signing_certificate",
            "Paste the identity provider's signing certificate.",
        ));
    }
    if text.contains("PRIVATE KEY") {
        return Err(SettingsError::new(
            "saml_certificate_invalid",
            "That is a private key. Paste the identity provider's public certificate (it starts with -----BEGIN CERTIFICATE-----) and keep the private key secret.",
        ));
    }
    if !text.contains(BEGIN) {
        return Ok(vec![Certificate::from_base64(text)?]);
    }
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else {
            return Err(SettingsError::new(
                "saml_certificate_invalid",
                "The certificate is cut off: it has no -----END CERTIFICATE----- line.",
            ));
        };
        certs.push(Certificate::from_base64(&after[..end])?);
        rest = &after[end + END.len()..];
    }
    Ok(certs)
}

/// Keeps one of each certificate and refuses a set that cannot verify
/// anything: none at all, or all expired. Expired ones among valid ones are
/// dropped (rollover leaves old certificates in metadata).
pub fn check(
    certs: Vec<Certificate>,
    now: DateTime<Utc>,
) -> Result<Vec<Certificate>, SettingsError> {
    let mut unique: Vec<Certificate> = Vec::new();
    for cert in certs {
        if !unique
            .iter()
            .any(|c| c.fingerprint_sha256 == cert.fingerprint_sha256)
        {
            unique.push(cert);
        }
    }
    if unique.is_empty() {
        return Err(SettingsError::new(
            "saml_no_signing_certificate",
            "The identity provider's settings contain no signing certificate. Gatehouse accepts only signed responses, so it needs one.",
        ));
    }
    let (valid, expired): (Vec<_>, Vec<_>) = unique.into_iter().partition(|c| c.not_after > now);
    if valid.is_empty() {
        let c = &expired[0];
        return Err(SettingsError::new(
            "saml_certificate_expired",
            format!(
                "The signing certificate ({}, fingerprint {}) expired on {}. Download the current certificate or metadata from your identity provider.",
                c.subject,
                c.fingerprint_display(),
                c.not_after.format("%Y-%m-%d")
            ),
        ));
    }
    Ok(valid)
}
