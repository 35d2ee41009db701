//! Organizations: the host's customers, each with its own Security tab.

use chrono::{DateTime, Utc};

use super::ValidationError;

pub const DEFAULT_ROLE: &str = "member";
const MAX_NAME: usize = 200;
const MAX_SLUG: usize = 64;
const MAX_EXTERNAL_ID: usize = 255;
const MAX_ROLE: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub external_id: Option<String>,
    pub self_serve_sso: bool,
    pub default_role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn parse_name(raw: &str) -> Result<String, ValidationError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ValidationError::new("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(ValidationError::new(
            "name",
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

/// Lower-case letters, digits and single hyphens: `acme`, `acme-eu-2`.
pub fn parse_slug(raw: &str) -> Result<String, ValidationError> {
    let slug = raw.trim();
    let shape_ok = !slug.is_empty()
        && slug.len() <= MAX_SLUG
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !shape_ok {
        return Err(ValidationError::new(
            "slug",
            format!(
                "`{}` is not a slug: use 1 to {MAX_SLUG} lower-case letters, digits and single hyphens, e.g. `acme-corp`",
                truncate(slug, 80)
            ),
        ));
    }
    Ok(slug.to_string())
}

/// A slug derived from a name: `Acme, Inc.` → `acme-inc`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug = slug.trim_end_matches('-').to_string();
    slug.truncate(MAX_SLUG - 8);
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        "org".to_string()
    } else {
        slug
    }
}

/// The next candidate when a derived slug is taken: `acme-2`, `acme-3`, …
pub fn slug_candidate(base: &str, attempt: u32) -> String {
    if attempt <= 1 {
        base.to_string()
    } else {
        format!("{base}-{attempt}")
    }
}

pub fn parse_external_id(raw: &str) -> Result<String, ValidationError> {
    if raw.is_empty() || raw.len() > MAX_EXTERNAL_ID {
        return Err(ValidationError::new(
            "external_id",
            format!("must be 1 to {MAX_EXTERNAL_ID} bytes"),
        ));
    }
    if raw.trim() != raw || raw.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "external_id",
            "must not start or end with spaces or contain control characters",
        ));
    }
    Ok(raw.to_string())
}

/// Roles are the host's own names (`member`, `admin`, `org:viewer`).
pub fn parse_role(raw: &str) -> Result<String, ValidationError> {
    let role = raw.trim();
    let ok = !role.is_empty()
        && role.len() <= MAX_ROLE
        && role
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'));
    if !ok {
        return Err(ValidationError::new(
            "default_role",
            format!(
                "`{}` is not a role name: use up to {MAX_ROLE} letters, digits, `_`, `:`, `.` or `-`, e.g. `member` or `org:member`",
                truncate(role, 80)
            ),
        ));
    }
    Ok(role.to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Acme  ").as_deref(), Ok("Acme"));
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"a".repeat(201)).is_err());
        assert!(parse_name("Acme\u{0}").is_err());
    }

    #[test]
    fn slugs_have_one_shape() {
        assert!(parse_slug("acme-eu-2").is_ok());
        for bad in ["", "Acme", "acme--eu", "-acme", "acme-", "ac me", "acmé"] {
            assert!(parse_slug(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn slugify_makes_a_valid_slug_from_any_name() {
        assert_eq!(slugify("Acme, Inc."), "acme-inc");
        assert_eq!(slugify("  Ünïcode Corp "), "n-code-corp");
        assert_eq!(slugify("日本"), "org");
        assert!(parse_slug(&slugify(&"x y ".repeat(100))).is_ok());
        assert_eq!(slug_candidate("acme", 1), "acme");
        assert_eq!(slug_candidate("acme", 3), "acme-3");
    }

    #[test]
    fn roles_follow_host_conventions() {
        assert!(parse_role("member").is_ok());
        assert!(parse_role("org:admin").is_ok());
        assert!(parse_role("").is_err());
        assert!(parse_role(":admin").is_err());
        assert!(parse_role("a b").is_err());
    }

    #[test]
    fn external_ids_are_kept_exactly() {
        assert_eq!(parse_external_id("cus_123").as_deref(), Ok("cus_123"));
        assert!(parse_external_id(" cus").is_err());
        assert!(parse_external_id("").is_err());
    }
}
