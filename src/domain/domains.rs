//! Email domains an organization claims, and how ownership is proven: a TXT
//! record at `_gatehouse-challenge.<domain>` holding the claim's token.
//!
//! Everything here is a plain function over values: normalizing what an admin
//! typed, refusing what can never be owned by one organization (IP addresses,
//! public suffixes, free-mail providers), judging what a DNS lookup saw, and
//! matching email addresses to domains.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

/// The label under which the TXT record lives.
pub const CHALLENGE_LABEL: &str = "_gatehouse-challenge";
/// The prefix of the TXT record's value.
pub const CHALLENGE_PREFIX: &str = "gatehouse-domain-verification=";

/// A domain name as stored (ASCII, punycode) and as shown (Unicode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    pub ascii: String,
    pub unicode: String,
}

/// Why a domain cannot be claimed. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Invalid(String),
    PublicSuffix,
    FreeEmailProvider,
    /// Verified by another organization (which one is never said).
    Unavailable,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Invalid(_) => "domain_invalid",
            Refusal::PublicSuffix => "domain_public_suffix",
            Refusal::FreeEmailProvider => "domain_free_email_provider",
            Refusal::Unavailable => "domain_unavailable",
        }
    }

    pub fn message(&self, domain: &str) -> String {
        match self {
            Refusal::Invalid(why) => why.clone(),
            Refusal::PublicSuffix => format!(
                "{domain} is a public suffix: many unrelated owners register names under it, so no one organization can claim it. Enter your own domain, such as example.{domain}."
            ),
            Refusal::FreeEmailProvider => format!(
                "{domain} is a public email provider: its addresses belong to many unrelated people, so it cannot be tied to your organization. Enter the domain of your organization's own email."
            ),
            Refusal::Unavailable => format!(
                "{domain} cannot be added: it is already verified and in use elsewhere. If your organization owns it, contact support."
            ),
        }
    }
}

/// Normalizes what an admin typed: trims, lower-cases, drops a trailing dot
/// and a leading `@`, converts international names to punycode, and checks
/// the result is a valid host name.
pub fn normalize(raw: &str) -> Result<DomainName, Refusal> {
    let invalid = |why: String| Err(Refusal::Invalid(why));
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_prefix('@').unwrap_or(trimmed);
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let shown: String = trimmed.chars().take(100).collect();
    if trimmed.is_empty() {
        return invalid("Enter a domain, such as example.com.".into());
    }
    if trimmed.contains("://") || trimmed.contains('/') {
        return invalid(format!(
            "“{shown}” looks like a web address. Enter just the domain, such as example.com."
        ));
    }
    if let Some((_, after)) = trimmed.rsplit_once('@') {
        return invalid(format!(
            "“{shown}” looks like an email address. Enter just the part after the @, such as {after}."
        ));
    }
    let unbracketed = trimmed.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<IpAddr>().is_ok() {
        return invalid(format!(
            "“{shown}” is an IP address. Enter a domain name, such as example.com."
        ));
    }
    let Ok(ascii) = idna::domain_to_ascii_strict(trimmed) else {
        return invalid(format!(
            "“{shown}” is not a valid domain name. Use letters, digits, hyphens and dots, such as example.com."
        ));
    };
    if ascii.len() > 253 {
        return invalid("That domain name is longer than DNS allows (253 characters).".into());
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return invalid(format!(
            "“{shown}” has no dot. Enter the full domain, such as example.com."
        ));
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return invalid(format!(
                "“{shown}” is not a valid domain name: each part between dots must be 1 to 63 letters, digits or inner hyphens."
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return invalid(format!("“{shown}” is not a valid domain name."));
    }
    let (unicode, _) = idna::domain_to_unicode(&ascii);
    Ok(DomainName { ascii, unicode })
}

/// The built-in list of public email and disposable address providers.
pub const FREE_EMAIL_PROVIDERS: &[&str] = &[
    // Free mail
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "live.com",
    "live.co.uk",
    "msn.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "yahoo.de",
    "yahoo.co.jp",
    "ymail.com",
    "rocketmail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "yandex.ru",
    "yandex.com",
    "mail.ru",
    "zoho.com",
    "zohomail.com",
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "naver.com",
    "daum.net",
    "hey.com",
    "fastmail.com",
    "tutanota.com",
    "tuta.io",
    "hushmail.com",
    "laposte.net",
    "orange.fr",
    "free.fr",
    "libero.it",
    "rediffmail.com",
    "seznam.cz",
    "t-online.de",
    "comcast.net",
    "att.net",
    "verizon.net",
    "btinternet.com",
    "sky.com",
    // Disposable
    "mailinator.com",
    "guerrillamail.com",
    "guerrillamail.net",
    "sharklasers.com",
    "10minutemail.com",
    "temp-mail.org",
    "tempmail.com",
    "yopmail.com",
    "trashmail.com",
    "getnada.com",
    "dispostable.com",
    "maildrop.cc",
    "throwawaymail.com",
    "mohmal.com",
    "emailondeck.com",
    "mintemail.com",
    "fakeinbox.com",
    "spamgourmet.com",
];

/// Domains that can never be claimed because their addresses belong to the
/// public: the built-in list, plus and minus what the operator configured.
#[derive(Debug, Clone, Default)]
pub struct BlockList {
    pub extra: Vec<String>,
    pub unblocked: Vec<String>,
}

impl BlockList {
    /// Whether `domain` (ASCII) is, or is under, a blocked provider.
    pub fn blocks(&self, domain: &str) -> bool {
        let is_or_under = |blocked: &str| domain_matches(domain, blocked, true);
        if self.unblocked.iter().any(|u| u == domain) {
            return false;
        }
        FREE_EMAIL_PROVIDERS.iter().any(|b| is_or_under(b))
            || self.extra.iter().any(|b| is_or_under(b))
    }
}

/// Refuses names that no single organization can own: public suffixes
/// (ICANN and private sections of the Public Suffix List) and public email
/// providers. Names under a TLD the list does not know follow its default
/// rule, so `acme.test` is claimable.
pub fn check_claimable(name: &DomainName, blocked: &BlockList) -> Result<(), Refusal> {
    if psl::domain_str(&name.ascii).is_none() {
        return Err(Refusal::PublicSuffix);
    }
    if blocked.blocks(&name.ascii) {
        return Err(Refusal::FreeEmailProvider);
    }
    Ok(())
}

/// Whether an email's domain is covered by a claimed domain: the same name,
/// or, where subdomains are allowed, a name ending in `.` + the domain.
/// `evil-example.com` is never covered by `example.com`.
pub fn domain_matches(email_domain: &str, domain: &str, allow_subdomains: bool) -> bool {
    let email_domain = email_domain.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if email_domain == domain {
        return true;
    }
    allow_subdomains
        && email_domain.len() > domain.len() + 1
        && email_domain.ends_with(&domain)
        && email_domain.as_bytes()[email_domain.len() - domain.len() - 1] == b'.'
}

/// The domain part of an email address, lower-cased, if it has one.
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    normalize(domain).ok().map(|d| d.ascii)
}

pub fn challenge_name(domain: &str) -> String {
    format!("{CHALLENGE_LABEL}.{domain}")
}

pub fn challenge_value(token: &str) -> String {
    format!("{CHALLENGE_PREFIX}{token}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Verified,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Verified => "verified",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Status::Pending),
            "verified" => Some(Status::Verified),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// What a domain is for. A domain has exactly one purpose, so one used for
/// SSO cannot also be a plain verified domain of the same organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Its people sign in through the organization's connection.
    Sso,
    /// Proven to belong to the organization, but open to the host's other
    /// sign-in methods (contractors, a subsidiary with its own IdP).
    VerifiedOnly,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Sso => "sso",
            Purpose::VerifiedOnly => "verified_only",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sso" => Some(Purpose::Sso),
            "verified_only" => Some(Purpose::VerifiedOnly),
            _ => None,
        }
    }
}

/// A claimed domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: String,
    pub organization_id: String,
    /// ASCII (punycode) form.
    pub domain: String,
    pub status: Status,
    pub purpose: Purpose,
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    /// When background checks started (the give-up window counts from here).
    pub checks_started_at: DateTime<Utc>,
    pub next_check_at: Option<DateTime<Utc>>,
}

impl Domain {
    pub fn unicode(&self) -> String {
        idna::domain_to_unicode(&self.domain).0
    }

    pub fn record_name(&self) -> String {
        challenge_name(&self.domain)
    }

    pub fn record_value(&self) -> String {
        challenge_value(&self.token)
    }
}

/// What the resolver saw at the challenge name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// TXT records, each with its character-strings joined.
    Records(Vec<String>),
    NoSuchName,
    NoTxtRecord,
    Timeout,
    ServerFailure(String),
}

/// Why a check did not verify: a contract code and a plain message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    pub code: &'static str,
    pub message: String,
}

const SHOWN_RECORDS: usize = 10;
const SHOWN_RECORD_CHARS: usize = 200;

/// Judges a lookup: verified only when one record equals the expected value
/// exactly (its strings joined; never a substring, never across records).
pub fn judge(lookup: &Lookup, domain: &str, expected: &str) -> Result<(), CheckFailure> {
    let name = challenge_name(domain);
    let fail = |code, message| Err(CheckFailure { code, message });
    match lookup {
        Lookup::Records(records) if records.iter().any(|r| r == expected) => Ok(()),
        Lookup::Records(records) => {
            let shown: Vec<String> = records
                .iter()
                .take(SHOWN_RECORDS)
                .map(|r| {
                    let mut s: String = r.chars().take(SHOWN_RECORD_CHARS).collect();
                    if r.chars().count() > SHOWN_RECORD_CHARS {
                        s.push('…');
                    }
                    format!("“{s}”")
                })
                .collect();
            let more = records.len().saturating_sub(SHOWN_RECORDS);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            fail(
                "dns_token_mismatch",
                format!(
                    "Found {} TXT record{} at {name}, but none is exactly the value to publish. Seen: {}{more}. Check for a typo, quotes, or spaces around the value.",
                    records.len(),
                    if records.len() == 1 { "" } else { "s" },
                    shown.join(", ")
                ),
            )
        }
        Lookup::NoSuchName => fail(
            "dns_no_such_name",
            format!(
                "The name {name} does not exist yet (the DNS answered NXDOMAIN). Add the TXT record at your DNS host; changes can take a few minutes to appear."
            ),
        ),
        Lookup::NoTxtRecord => fail(
            "dns_no_txt_record",
            format!(
                "The name {name} exists but has no TXT record. Add a record of type TXT (not CNAME or A) with the value shown."
            ),
        ),
        Lookup::Timeout => fail(
            "dns_timeout",
            format!(
                "The DNS servers did not answer for {name} in time. This is usually temporary; Gatehouse will try again."
            ),
        ),
        Lookup::ServerFailure(what) => fail(
            "dns_server_failure",
            format!(
                "The DNS server failed to answer for {name} ({what}). Check that your domain's nameservers are working; Gatehouse will try again."
            ),
        ),
    }
}

/// Whether a domain may be removed. The last SSO domain of an organization
/// whose connection is active cannot be: its people would lose their way in.
pub fn may_remove(
    domain: &Domain,
    has_active_connection: bool,
    other_verified_sso_domains: usize,
) -> Result<(), String> {
    let carries_sso = domain.status == Status::Verified && domain.purpose == Purpose::Sso;
    if carries_sso && has_active_connection && other_verified_sso_domains == 0 {
        return Err(format!(
            "{} is the last domain of your active single sign-on connection. Deactivate the connection first, or add and verify another domain.",
            domain.unicode()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> DomainName {
        normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e:?}"))
    }

    #[test]
    fn names_are_trimmed_lowercased_and_stripped_of_the_root_dot() {
        assert_eq!(ok("  Example.COM. ").ascii, "example.com");
        assert_eq!(ok("@acme.test").ascii, "acme.test");
    }

    #[test]
    fn international_names_are_stored_as_punycode_and_shown_in_unicode() {
        let d = ok("Bücher.example");
        assert_eq!(d.ascii, "xn--bcher-kva.example");
        assert_eq!(d.unicode, "bücher.example");
        assert_eq!(ok("xn--bcher-kva.example").unicode, "bücher.example");
    }

    #[test]
    fn malformed_names_are_refused_with_a_reason() {
        for raw in [
            "",
            "localhost",
            "exa mple.com",
            "-acme.com",
            "acme-.com",
            "a..b",
            "https://acme.com",
            "acme.com/path",
            "me@acme.com",
            "acme_corp.com",
            "acme.123",
        ] {
            match normalize(raw) {
                Err(Refusal::Invalid(why)) => assert!(!why.is_empty()),
                other => panic!("{raw:?} gave {other:?}"),
            }
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(normalize(&long).is_err());
    }

    #[test]
    fn ip_addresses_are_refused() {
        for raw in ["192.0.2.1", "::1", "[2001:db8::1]"] {
            match normalize(raw) {
                Err(Refusal::Invalid(why)) => assert!(why.contains("IP address"), "{why}"),
                other => panic!("{raw} gave {other:?}"),
            }
        }
    }

    #[test]
    fn public_suffixes_are_refused_including_the_private_section() {
        let blocks = BlockList::default();
        for raw in ["com", "co.uk", "github.io", "herokuapp.com", "blogspot.com"] {
            let name = DomainName {
                ascii: raw.into(),
                unicode: raw.into(),
            };
            assert_eq!(
                check_claimable(&name, &blocks),
                Err(Refusal::PublicSuffix),
                "{raw}"
            );
        }
        for raw in ["acme.co.uk", "acme.github.io", "acme.test", "eu.acme.com"] {
            assert_eq!(check_claimable(&ok(raw), &blocks), Ok(()), "{raw}");
        }
    }

    #[test]
    fn free_email_providers_are_refused_and_the_list_is_configurable() {
        let default = BlockList::default();
        for raw in [
            "gmail.com",
            "outlook.com",
            "yahoo.com",
            "mailinator.com",
            "mail.gmail.com",
        ] {
            assert_eq!(
                check_claimable(&ok(raw), &default),
                Err(Refusal::FreeEmailProvider),
                "{raw}"
            );
        }
        let custom = BlockList {
            extra: vec!["freemail.test".into()],
            unblocked: vec!["gmx.de".into()],
        };
        assert_eq!(
            check_claimable(&ok("freemail.test"), &custom),
            Err(Refusal::FreeEmailProvider)
        );
        assert_eq!(check_claimable(&ok("gmx.de"), &custom), Ok(()));
        assert_eq!(check_claimable(&ok("notgmail.com"), &default), Ok(()));
    }

    #[test]
    fn email_domains_match_by_equality_or_a_dot_boundary_never_a_bare_suffix() {
        assert!(domain_matches("example.com", "example.com", false));
        assert!(domain_matches("Example.COM", "example.com", false));
        assert!(!domain_matches("eu.example.com", "example.com", false));
        assert!(domain_matches("eu.example.com", "example.com", true));
        assert!(!domain_matches("evil-example.com", "example.com", true));
        assert!(!domain_matches("evilexample.com", "example.com", true));
        assert!(!domain_matches(
            "example.com.evil.test",
            "example.com",
            true
        ));
        assert!(!domain_matches("com", "example.com", true));
        assert_eq!(
            email_domain("Alice@Acme.Test").as_deref(),
            Some("acme.test")
        );
        assert_eq!(email_domain("no-at-sign"), None);
        assert_eq!(email_domain("@acme.test"), None);
    }

    #[test]
    fn only_an_exact_record_verifies() {
        let expected = challenge_value("tok123");
        let records = |rs: &[&str]| Lookup::Records(rs.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            judge(
                &records(&["v=spf1 -all", &expected]),
                "acme.test",
                &expected
            ),
            Ok(())
        );
        for seen in [
            records(&[&format!("{expected}x")]),
            records(&[&format!(" {expected}")]),
            records(&["gatehouse-domain-verification=", "tok123"]),
            records(&["gatehouse-domain-verification=other"]),
        ] {
            let failure = judge(&seen, "acme.test", &expected).expect_err("no exact match");
            assert_eq!(failure.code, "dns_token_mismatch");
            assert!(failure.message.contains("Seen:"), "{}", failure.message);
        }
    }

    #[test]
    fn each_lookup_outcome_has_its_own_code_and_says_what_was_seen() {
        let v = challenge_value("t");
        let code = |l: Lookup| judge(&l, "acme.test", &v).expect_err("fails").code;
        assert_eq!(code(Lookup::NoSuchName), "dns_no_such_name");
        assert_eq!(code(Lookup::NoTxtRecord), "dns_no_txt_record");
        assert_eq!(code(Lookup::Timeout), "dns_timeout");
        assert_eq!(
            code(Lookup::ServerFailure("SERVFAIL".into())),
            "dns_server_failure"
        );
        let failure = judge(&Lookup::NoSuchName, "acme.test", &v).expect_err("fails");
        assert!(failure.message.contains("_gatehouse-challenge.acme.test"));
    }

    #[test]
    fn the_last_sso_domain_of_an_active_connection_cannot_be_removed() {
        let now = Utc::now();
        let d = Domain {
            id: "dom_1".into(),
            organization_id: "org_1".into(),
            domain: "acme.test".into(),
            status: Status::Verified,
            purpose: Purpose::Sso,
            token: "t".into(),
            created_at: now,
            verified_at: Some(now),
            last_checked_at: None,
            last_error_code: None,
            last_error: None,
            checks_started_at: now,
            next_check_at: None,
        };
        assert!(may_remove(&d, true, 0).is_err());
        assert!(may_remove(&d, true, 1).is_ok());
        assert!(may_remove(&d, false, 0).is_ok());
        let only_verified = Domain {
            purpose: Purpose::VerifiedOnly,
            ..d.clone()
        };
        assert!(may_remove(&only_verified, true, 0).is_ok());
        let pending = Domain {
            status: Status::Pending,
            ..d
        };
        assert!(may_remove(&pending, true, 0).is_ok());
    }
}
