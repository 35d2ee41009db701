//! Secrets at rest: SP private keys and OIDC client secrets are sealed with
//! AES-256-GCM under a key derived from `GATEHOUSE_SECRET_KEY`.
//!
//! Each sealed value is bound to its context (what it is and which
//! connection it belongs to) as associated data, so a value copied into
//! another row or another field does not open. The stored form is
//! `v1.` followed by URL-safe base64 of nonce (12 bytes), ciphertext and tag
//! (16 bytes); the version leaves room for key rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use sha2::Sha256;

use crate::config::SecretKey;

const VERSION: &str = "v1.";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The value is not in the sealed form.
    #[error("the sealed value is malformed")]
    Malformed,
    /// Another key, another context, or changed bytes.
    #[error("the sealed value does not open with this key and context")]
    WrongKeyOrContext,
    #[error("the cipher failed: {0}")]
    Cipher(String),
}

/// The sealing key: the secret key, through HMAC, for this purpose only
/// (the same secret also keys CSRF tokens and cookies).
fn sealing_key(key: &SecretKey) -> [u8; 32] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(b"gatehouse seal v1");
    mac.finalize().into_bytes().into()
}

pub fn seal(key: &SecretKey, context: &str, plaintext: &[u8]) -> Result<String, SealError> {
    let nonce: [u8; NONCE_LEN] = super::random_bytes();
    let mut tag = [0u8; TAG_LEN];
    let ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        &sealing_key(key),
        Some(&nonce),
        context.as_bytes(),
        plaintext,
        &mut tag,
    )
    .map_err(|e| SealError::Cipher(e.to_string()))?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out.extend_from_slice(&tag);
    Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
}

pub fn open(key: &SecretKey, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
    let body = sealed.strip_prefix(VERSION).ok_or(SealError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| SealError::Malformed)?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(SealError::Malformed);
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    decrypt_aead(
        Cipher::aes_256_gcm(),
        &sealing_key(key),
        Some(nonce),
        context.as_bytes(),
        ciphertext,
        tag,
    )
    .map_err(|_| SealError::WrongKeyOrContext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_context_only() {
        let key = SecretKey::from_bytes([7; 32]);
        let sealed = seal(&key, "oidc-client-secret:conn_1", b"s3cret").expect("seal");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            open(&key, "oidc-client-secret:conn_1", &sealed).expect("open"),
            b"s3cret"
        );
        assert_eq!(
            open(&key, "oidc-client-secret:conn_2", &sealed),
            Err(SealError::WrongKeyOrContext)
        );
        let other = SecretKey::from_bytes([8; 32]);
        assert_eq!(
            open(&other, "oidc-client-secret:conn_1", &sealed),
            Err(SealError::WrongKeyOrContext)
        );
    }

    #[test]
    fn sealing_twice_gives_different_values_and_tampering_is_detected() {
        let key = SecretKey::from_bytes([7; 32]);
        let a = seal(&key, "c", b"same").expect("seal");
        let b = seal(&key, "c", b"same").expect("seal");
        assert_ne!(a, b, "a fresh nonce each time");
        let mut bytes = URL_SAFE_NO_PAD.decode(&a[3..]).expect("b64");
        bytes[NONCE_LEN] ^= 1;
        let tampered = format!("v1.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(
            open(&key, "c", &tampered),
            Err(SealError::WrongKeyOrContext)
        );
        assert_eq!(open(&key, "c", "v2.abc"), Err(SealError::Malformed));
        assert_eq!(open(&key, "c", "v1.!!"), Err(SealError::Malformed));
        assert_eq!(open(&key, "c", "v1.AAAA"), Err(SealError::Malformed));
    }
}
