//! Web origins and return URLs given by the host.

use url::Url;

use super::ValidationError;

/// The origin of the host page that may frame the Security tab, exactly as a
/// browser serializes it: `https://app.example.com` or `http://localhost:3000`.
pub fn parse_parent_origin(raw: &str) -> Result<String, ValidationError> {
    let fail = |why: &str| {
        ValidationError::new(
            "parent_origin",
            format!(
                "`{}` is not an origin: {why} (expected scheme://host[:port], e.g. https://app.example.com)",
                raw.chars().take(200).collect::<String>()
            ),
        )
    };
    let url = Url::parse(raw.trim()).map_err(|_| fail("it does not parse as a URL"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(fail("only http and https origins can embed the tab"));
    }
    if url.host_str().is_none_or(|h| h.contains('*')) {
        return Err(fail("it needs a single, exact host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(fail("it must not have a path, query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail("it must not contain credentials"));
    }
    // The serialization browsers send: lower-case host, default port dropped.
    Ok(url.origin().ascii_serialization())
}

/// Where the "back" link of the Security tab leads: an absolute http(s) URL.
pub fn parse_return_url(raw: &str) -> Result<String, ValidationError> {
    let fail = |why: &str| ValidationError::new("return_url", why.to_string());
    if raw.len() > 2048 {
        return Err(fail("must be at most 2048 bytes"));
    }
    let url = Url::parse(raw.trim()).map_err(|_| fail("must be an absolute URL"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(fail("must be an http or https URL"));
    }
    if url.host_str().is_none() {
        return Err(fail("must have a host"));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_as_browsers_send_them() {
        assert_eq!(
            parse_parent_origin("https://App.Example.com:443").as_deref(),
            Ok("https://app.example.com")
        );
        assert_eq!(
            parse_parent_origin("http://localhost:3000/").as_deref(),
            Ok("http://localhost:3000")
        );
    }

    #[test]
    fn anything_but_a_plain_origin_is_refused() {
        for bad in [
            "",
            "app.example.com",
            "https://app.example.com/settings",
            "https://*.example.com",
            "javascript:alert(1)",
            "null",
            "https://u:p@app.example.com",
            "ftp://app.example.com",
            "https://app.example.com?x=1",
        ] {
            assert!(parse_parent_origin(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn return_urls_must_be_web_urls() {
        assert!(parse_return_url("https://app.example.com/settings?tab=sso").is_ok());
        assert!(parse_return_url("javascript:alert(1)").is_err());
        assert!(parse_return_url("/relative").is_err());
    }
}
