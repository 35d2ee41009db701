//! Random tokens, one-way token hashes and keyed MACs.
//!
//! One-time tokens (setup links, embed tokens, session tokens, API keys) carry
//! 256 random bits, so a plain SHA-256 is enough to store them: the database
//! never holds a value that opens anything.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::SecretKey;

pub mod opened_keys;
pub mod seal;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A URL-safe token with 256 random bits, behind a readable prefix.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// HMAC-SHA256 of `message` under a purpose-specific key derived from the
/// secret key, URL-safe base64.
pub fn mac(key: &SecretKey, purpose: &str, message: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_prefixed_and_distinct() {
        let a = random_token("gh_");
        let b = random_token("gh_");
        assert!(a.starts_with("gh_"));
        assert_eq!(a.len(), 3 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn macs_depend_on_key_purpose_and_message() {
        let k1 = SecretKey::from_bytes([1; 32]);
        let k2 = SecretKey::from_bytes([2; 32]);
        let m = mac(&k1, "csrf", "s1");
        assert_eq!(m, mac(&k1, "csrf", "s1"));
        assert_ne!(m, mac(&k2, "csrf", "s1"));
        assert_ne!(m, mac(&k1, "other", "s1"));
        assert_ne!(m, mac(&k1, "csrf", "s2"));
        assert!(constant_time_eq(&m, &mac(&k1, "csrf", "s1")));
        assert!(!constant_time_eq(&m, "short"));
    }
}
