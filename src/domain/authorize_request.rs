//! What a host's authorization request asks of the sign-in beyond who signs
//! in: whether pages may be shown (`prompt`), whether the person must
//! authenticate afresh (`prompt=login`, `max_age=0`), and the parameters
//! Gatehouse does not take (request objects, response modes other than
//! `query`), which OpenID Connect says to refuse rather than ignore.

/// How the identity provider's leg of a sign-in goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    /// As usual: the identity provider may sign the person in from its own
    /// session.
    Usual,
    /// The person must authenticate again at the identity provider
    /// (SAML `ForceAuthn`, OpenID Connect `prompt=login`).
    Reauthenticate,
    /// No page may be shown (`prompt=none`).
    NoPages,
}

/// What the request asks of the identity provider's leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    pub interaction: Interaction,
    /// `max_age`: the longest the person's authentication may date back,
    /// in seconds.
    pub max_age: Option<u64>,
}

impl Asked {
    /// Whether a SAML identity provider is asked for `ForceAuthn`. It
    /// cannot be told an age, so any `max_age` asks for a fresh
    /// authentication: OpenID Connect requires one whenever the last is
    /// older, and only a fresh one is sure not to be.
    pub fn saml_force_authn(&self) -> bool {
        self.interaction == Interaction::Reauthenticate || self.max_age.is_some()
    }

    /// Whether an OpenID provider is sent `prompt=login`.
    pub fn oidc_prompt_login(&self) -> bool {
        self.interaction == Interaction::Reauthenticate
    }

    /// The `max_age` an OpenID provider is sent, which applies it itself.
    pub fn oidc_max_age(&self) -> Option<u64> {
        self.max_age.filter(|age| *age > 0)
    }
}

/// Why a request is refused: the OAuth error and Gatehouse's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRefusal {
    pub error: &'static str,
    pub code: &'static str,
}

const fn refusal(error: &'static str, code: &'static str) -> RequestRefusal {
    RequestRefusal { error, code }
}

/// The `prompt` values of OpenID Connect Core 1.0, §3.1.2.1.
const PROMPTS: &[&str] = &["none", "login", "consent", "select_account"];

/// What `prompt` and `max_age` ask for. `consent` and `select_account`
/// ask for nothing Gatehouse has to do: it shows no consent page, and the
/// identity provider chooses the account.
pub fn asked(prompt: Option<&str>, max_age: Option<&str>) -> Result<Asked, RequestRefusal> {
    let values: Vec<&str> = prompt.unwrap_or_default().split_whitespace().collect();
    if values.iter().any(|v| !PROMPTS.contains(v)) || (values.contains(&"none") && values.len() > 1)
    {
        return Err(refusal("invalid_request", "oauth_prompt_invalid"));
    }
    let max_age = match max_age.map(str::trim) {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(age) => Some(age),
            Err(_) => return Err(refusal("invalid_request", "oauth_max_age_invalid")),
        },
    };
    let interaction = if values.contains(&"none") {
        Interaction::NoPages
    } else if values.contains(&"login") || max_age == Some(0) {
        Interaction::Reauthenticate
    } else {
        Interaction::Usual
    };
    Ok(Asked {
        interaction,
        max_age,
    })
}

/// A refusal for parameters Gatehouse does not support: request objects
/// (`request`, `request_uri`; discovery says so) and any `response_mode`
/// but `query`, the only one it answers with.
pub fn unsupported(
    response_mode: Option<&str>,
    request: Option<&str>,
    request_uri: Option<&str>,
) -> Option<RequestRefusal> {
    if request.is_some() {
        Some(refusal(
            "request_not_supported",
            "oauth_request_object_unsupported",
        ))
    } else if request_uri.is_some() {
        Some(refusal(
            "request_uri_not_supported",
            "oauth_request_object_unsupported",
        ))
    } else if response_mode.is_some_and(|m| m != "query") {
        Some(refusal(
            "invalid_request",
            "oauth_response_mode_unsupported",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_and_max_age_choose_the_interaction() {
        for (prompt, max_age, expected) in [
            (None, None, Interaction::Usual),
            (Some(""), None, Interaction::Usual),
            (
                Some("consent select_account"),
                Some("3600"),
                Interaction::Usual,
            ),
            (Some("login"), None, Interaction::Reauthenticate),
            (
                Some("select_account login"),
                None,
                Interaction::Reauthenticate,
            ),
            (None, Some("0"), Interaction::Reauthenticate),
            (Some("none"), None, Interaction::NoPages),
            (Some("none"), Some("0"), Interaction::NoPages),
        ] {
            assert_eq!(
                asked(prompt, max_age).map(|a| a.interaction),
                Ok(expected),
                "{prompt:?} {max_age:?}"
            );
        }
    }

    #[test]
    fn what_each_kind_of_identity_provider_is_asked() {
        let ask = |prompt, max_age| asked(prompt, max_age).expect("valid");
        let usual = ask(None, None);
        assert!(!usual.saml_force_authn() && !usual.oidc_prompt_login());
        assert_eq!(usual.oidc_max_age(), None);
        let login = ask(Some("login"), None);
        assert!(login.saml_force_authn() && login.oidc_prompt_login());
        let zero = ask(None, Some("0"));
        assert!(zero.saml_force_authn() && zero.oidc_prompt_login());
        assert_eq!(zero.oidc_max_age(), None, "prompt=login says it");
        let hour = ask(None, Some("3600"));
        assert!(hour.saml_force_authn(), "SAML cannot be told an age");
        assert!(!hour.oidc_prompt_login());
        assert_eq!(hour.oidc_max_age(), Some(3600));
    }

    #[test]
    fn prompt_none_stands_alone_and_values_are_known() {
        for prompt in ["none login", "login none", "create", "LOGIN"] {
            assert_eq!(
                asked(Some(prompt), None).map_err(|r| r.code),
                Err("oauth_prompt_invalid"),
                "{prompt}"
            );
        }
        for max_age in ["-1", "soon", "1.5"] {
            assert_eq!(
                asked(None, Some(max_age)).map_err(|r| r.code),
                Err("oauth_max_age_invalid"),
                "{max_age}"
            );
        }
    }

    #[test]
    fn request_objects_and_other_response_modes_are_refused() {
        assert_eq!(unsupported(None, None, None), None);
        assert_eq!(unsupported(Some("query"), None, None), None);
        assert_eq!(
            unsupported(Some("form_post"), None, None).map(|r| r.error),
            Some("invalid_request")
        );
        assert_eq!(
            unsupported(Some("fragment"), None, None).map(|r| r.code),
            Some("oauth_response_mode_unsupported")
        );
        assert_eq!(
            unsupported(None, Some("eyJ…"), None).map(|r| r.error),
            Some("request_not_supported")
        );
        assert_eq!(
            unsupported(None, None, Some("https://host.example/r")).map(|r| r.error),
            Some("request_uri_not_supported")
        );
    }
}
