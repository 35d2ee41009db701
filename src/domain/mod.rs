//! Domain rules as plain functions over values: no HTTP, no SQL.

pub mod access;
pub mod audit;
pub mod authorize_request;
pub mod branding;
pub mod connections;
pub mod domains;
pub mod organization;
pub mod origin;
pub mod provisioning;
pub mod sign_in;
pub mod webhooks;
pub mod wizard;

/// A value a caller gave that breaks a rule; `field` names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
