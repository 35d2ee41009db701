//! SAML: the identity provider's settings (from metadata or typed in), its
//! signing certificates, and Gatehouse's own service-provider side.

pub mod acs;
pub mod authn_request;
pub mod catalogue;
pub mod certificates;
pub mod config;
pub mod decrypt;
pub mod identity;
pub mod metadata;
pub mod sp;
pub mod sp_key;
pub mod xmldsig;

/// A problem with SAML settings an admin gave, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    pub code: &'static str,
    pub message: String,
}

impl SettingsError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
