//! Private keys opened once per instance rather than per use.
//!
//! Opening a sealed key (see `seal`) and decoding its PKCS#8 costs more than
//! the signature or decryption it is opened for, and the keys a sign-in
//! needs (the ID-token signing key, a connection's SAML SP key) change
//! rarely. Each is kept under its sealed text and the context it was
//! opened for, so a key is only ever handed out for the context it was
//! sealed to.

use std::collections::HashMap;
use std::sync::Mutex;

use openssl::pkey::{PKey, Private};

/// How many keys are kept; past that the cache starts over (a key is
/// opened again on its next use).
const CAPACITY: usize = 256;

#[derive(Default)]
pub struct OpenedKeys(Mutex<HashMap<(String, String), PKey<Private>>>);

impl OpenedKeys {
    /// The key sealed as `sealed` for `context`, opened by `open` if this
    /// instance has not opened it before. Failures are not kept.
    pub fn get_or_open<E>(
        &self,
        context: &str,
        sealed: &str,
        open: impl FnOnce() -> Result<PKey<Private>, E>,
    ) -> Result<PKey<Private>, E> {
        let id = (context.to_string(), sealed.to_string());
        if let Some(key) = self.lock().get(&id) {
            return Ok(key.clone());
        }
        let key = open()?;
        let mut keys = self.lock();
        if keys.len() >= CAPACITY {
            keys.clear();
        }
        keys.insert(id, key.clone());
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), PKey<Private>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::rsa::Rsa;

    fn key() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey")
    }

    #[test]
    fn a_key_is_opened_once_per_context_and_failures_are_not_kept() {
        let keys = OpenedKeys::default();
        let (a, b) = (key(), key());
        let mut opened = 0;
        let first = keys
            .get_or_open("ctx-1", "sealed", || {
                opened += 1;
                Ok::<_, ()>(a.clone())
            })
            .expect("opens");
        let again = keys
            .get_or_open("ctx-1", "sealed", || {
                opened += 1;
                Ok::<_, ()>(b.clone())
            })
            .expect("kept");
        assert_eq!(opened, 1);
        assert!(first.public_eq(&again));
        // The same sealed text under another context is opened (and may
        // fail) on its own.
        assert_eq!(
            keys.get_or_open("ctx-2", "sealed", || Err("wrong context"))
                .err(),
            Some("wrong context")
        );
        assert_eq!(
            keys.get_or_open("ctx-2", "sealed", || Err("still wrong"))
                .err(),
            Some("still wrong")
        );
        let other = keys
            .get_or_open("ctx-2", "sealed", || Ok::<_, ()>(b.clone()))
            .expect("opens");
        assert!(other.public_eq(&b) && !other.public_eq(&a));
    }
}
