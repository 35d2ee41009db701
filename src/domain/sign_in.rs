//! How a sign-in fails, whatever the protocol: a code from the catalogue
//! (`error_codes`), what went wrong, and where it helps, what Gatehouse
//! expected and what it received (shown to admins testing, never to end
//! users).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct SignInError {
    pub code: &'static str,
    pub detail: String,
    pub expected: Option<String>,
    pub received: Option<String>,
}

impl SignInError {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            expected: None,
            received: None,
        }
    }

    /// A mismatch: what was expected, and what came (or "(nothing)").
    pub fn mismatch(
        code: &'static str,
        detail: impl Into<String>,
        expected: &str,
        received: Option<&str>,
    ) -> Self {
        Self {
            expected: Some(expected.to_string()),
            received: Some(received.unwrap_or("(nothing)").to_string()),
            ..Self::new(code, detail)
        }
    }
}
