//! Configuration: the environment (`GATEHOUSE_*`) over an optional TOML file
//! that uses the same names in lower case without the prefix.
//!
//! Every key is known here. An unknown key, or a value that does not parse, is
//! refused at start with a message that names the key, so a typo never turns
//! into a silently ignored setting. Secrets are wrapped in types whose `Debug`
//! output is redacted.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use url::Url;

/// Environment variables with this prefix are configuration.
pub const ENV_PREFIX: &str = "GATEHOUSE_";
/// Variables under this prefix belong to the test suite, not to the service.
const TEST_ENV_PREFIX: &str = "GATEHOUSE_TEST_";

/// A configuration key that is missing or wrong, named as the operator wrote it.
#[derive(Debug, thiserror::Error)]
#[error("configuration error in {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &Setting, message: impl Into<String>) -> Self {
        Self {
            key: key.env_name(),
            message: message.into(),
        }
    }
}

/// A string that must never be printed: API keys, passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The 32-byte key that encrypts secrets at rest and derives CSRF tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn generate() -> Self {
        Self(crate::crypto::random_bytes())
    }

    pub fn from_base64(value: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| "is not valid base64".to_string())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("decodes to {} bytes; it must be exactly 32", b.len()))?;
        Ok(Self(bytes))
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// A database URL whose password is hidden when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
    /// Whether a SQLite URL says how to open the file (`mode=ro`, `rw`,
    /// `rwc`, `memory`); without it, a missing file is created.
    pub fn names_sqlite_mode(&self) -> bool {
        self.0
            .split_once('?')
            .is_some_and(|(_, query)| query.split('&').any(|p| p.starts_with("mode=")))
    }
    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                // Setting a password only fails for URLs that cannot have one.
                let _ = url.set_password(Some("redacted"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => "(unparseable database URL)".to_string(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the service is configured with.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    /// External origin, without a trailing slash: `https://sso.example.com`.
    pub public_url: Url,
    pub secret_key: Option<SecretKey>,
    pub bootstrap_api_key: Option<Secret>,
    pub dns_servers: Vec<SocketAddr>,
    pub allow_private_network_fetch: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    pub portal_link_ttl: Duration,
    pub embed_token_ttl: Duration,
    pub admin_session_ttl: Duration,
    pub admin_session_idle_timeout: Duration,
    /// Per try; a verification makes at most two tries.
    pub dns_timeout: Duration,
    pub domain_recheck_interval: Duration,
    pub domain_recheck_give_up: Duration,
    /// Added to the built-in list of free-mail and disposable providers.
    pub extra_blocked_domains: Vec<String>,
    /// Taken off that list.
    pub unblocked_domains: Vec<String>,
    /// How often SAML metadata URLs and OpenID Connect discovery documents
    /// are fetched again.
    pub metadata_refresh_interval: Duration,
    /// Whether this process runs the background jobs (domain re-checks).
    /// Always on for `serve`; tests turn it off to drive jobs themselves.
    pub run_background_jobs: bool,
}

/// Every key the service understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setting {
    DatabaseUrl,
    Bind,
    PublicUrl,
    SecretKey,
    BootstrapApiKey,
    DnsServers,
    AllowPrivateNetworkFetch,
    LogFormat,
    LogLevel,
    PortalLinkTtl,
    EmbedTokenTtl,
    AdminSessionTtl,
    AdminSessionIdleTimeout,
    DnsTimeout,
    DomainRecheckInterval,
    DomainRecheckGiveUp,
    ExtraBlockedDomains,
    UnblockedDomains,
    MetadataRefreshInterval,
}

impl Setting {
    const ALL: [Setting; 19] = [
        Setting::DatabaseUrl,
        Setting::Bind,
        Setting::PublicUrl,
        Setting::SecretKey,
        Setting::BootstrapApiKey,
        Setting::DnsServers,
        Setting::AllowPrivateNetworkFetch,
        Setting::LogFormat,
        Setting::LogLevel,
        Setting::PortalLinkTtl,
        Setting::EmbedTokenTtl,
        Setting::AdminSessionTtl,
        Setting::AdminSessionIdleTimeout,
        Setting::DnsTimeout,
        Setting::DomainRecheckInterval,
        Setting::DomainRecheckGiveUp,
        Setting::ExtraBlockedDomains,
        Setting::UnblockedDomains,
        Setting::MetadataRefreshInterval,
    ];

    fn name(self) -> &'static str {
        match self {
            Setting::DatabaseUrl => "database_url",
            Setting::Bind => "bind",
            Setting::PublicUrl => "public_url",
            Setting::SecretKey => "secret_key",
            Setting::BootstrapApiKey => "bootstrap_api_key",
            Setting::DnsServers => "dns_servers",
            Setting::AllowPrivateNetworkFetch => "allow_private_network_fetch",
            Setting::LogFormat => "log_format",
            Setting::LogLevel => "log_level",
            Setting::PortalLinkTtl => "portal_link_ttl",
            Setting::EmbedTokenTtl => "embed_token_ttl",
            Setting::AdminSessionTtl => "admin_session_ttl",
            Setting::AdminSessionIdleTimeout => "admin_session_idle_timeout",
            Setting::DnsTimeout => "dns_timeout",
            Setting::DomainRecheckInterval => "domain_recheck_interval",
            Setting::DomainRecheckGiveUp => "domain_recheck_give_up",
            Setting::ExtraBlockedDomains => "extra_blocked_domains",
            Setting::UnblockedDomains => "unblocked_domains",
            Setting::MetadataRefreshInterval => "metadata_refresh_interval",
        }
    }

    fn env_name(self) -> String {
        format!("{ENV_PREFIX}{}", self.name().to_ascii_uppercase())
    }

    fn is_secret(self) -> bool {
        matches!(self, Setting::SecretKey | Setting::BootstrapApiKey)
    }

    fn from_name(name: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Where each raw value came from, so errors can name the key as it was written.
struct RawValue {
    value: String,
    source: String,
}

impl Config {
    /// Defaults for every key, with no secret key: what `serve` starts from.
    pub fn defaults() -> Self {
        Self {
            database_url: DatabaseUrl::new("sqlite://gatehouse.db?mode=rwc"),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: Url::parse("http://127.0.0.1:8080").unwrap_or_else(|_| unreachable!()),
            secret_key: None,
            bootstrap_api_key: None,
            dns_servers: Vec::new(),
            allow_private_network_fetch: false,
            log_format: LogFormat::Text,
            log_level: "info".to_string(),
            portal_link_ttl: Duration::from_secs(15 * 60),
            embed_token_ttl: Duration::from_secs(10 * 60),
            admin_session_ttl: Duration::from_secs(8 * 3600),
            admin_session_idle_timeout: Duration::from_secs(3600),
            dns_timeout: Duration::from_secs(2),
            domain_recheck_interval: Duration::from_secs(5 * 60),
            domain_recheck_give_up: Duration::from_secs(7 * 24 * 3600),
            extra_blocked_domains: Vec::new(),
            unblocked_domains: Vec::new(),
            metadata_refresh_interval: Duration::from_secs(12 * 3600),
            run_background_jobs: true,
        }
    }

    /// Loads the optional TOML file, then the environment over it.
    pub fn load(
        toml_path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut raw: BTreeMap<&'static str, RawValue> = BTreeMap::new();
        if let Some(path) = toml_path {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                key: "--config".into(),
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            read_toml(&text, &path.display().to_string(), &mut raw)?;
        }
        read_env(env, &mut raw)?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: BTreeMap<&'static str, RawValue>) -> Result<Self, ConfigError> {
        let mut config = Self::defaults();
        for key in Setting::ALL {
            let Some(raw) = raw.get(key.name()) else {
                continue;
            };
            let v = raw.value.trim();
            let fail = |message: String| ConfigError {
                key: raw.source.clone(),
                message,
            };
            match key {
                Setting::DatabaseUrl => {
                    let url = DatabaseUrl::new(v);
                    if !url.is_postgres() && !url.is_sqlite() {
                        return Err(fail(
                            "must start with sqlite:// or postgres:// (e.g. sqlite://gatehouse.db?mode=rwc)".into(),
                        ));
                    }
                    config.database_url = url;
                }
                Setting::Bind => {
                    config.bind = v.parse().map_err(|_| {
                        fail(format!(
                            "`{v}` is not an ip:port address (e.g. 127.0.0.1:8080)"
                        ))
                    })?;
                }
                Setting::PublicUrl => config.public_url = parse_public_url(v).map_err(fail)?,
                Setting::SecretKey => {
                    config.secret_key = Some(
                        SecretKey::from_base64(v)
                            .map_err(|m| fail(format!("{m}; {}", SECRET_KEY_HINT)))?,
                    )
                }
                Setting::BootstrapApiKey => {
                    if v.len() < 16 {
                        return Err(fail("must be at least 16 characters long".into()));
                    }
                    config.bootstrap_api_key = Some(Secret::new(v));
                }
                Setting::DnsServers => {
                    config.dns_servers = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| {
                            s.parse::<SocketAddr>().map_err(|_| {
                                fail(format!(
                                    "`{s}` is not an ip:port nameserver (e.g. 1.1.1.1:53)"
                                ))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                }
                Setting::AllowPrivateNetworkFetch => {
                    config.allow_private_network_fetch = parse_bool(v).map_err(fail)?
                }
                Setting::LogFormat => {
                    config.log_format = match v.to_ascii_lowercase().as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => return Err(fail(format!("`{v}` is not `text` or `json`"))),
                    }
                }
                Setting::LogLevel => {
                    tracing_subscriber::EnvFilter::try_new(v).map_err(|e| {
                        fail(format!(
                            "`{v}` is not a log filter ({e}); e.g. `info` or `gatehouse=debug`"
                        ))
                    })?;
                    config.log_level = v.to_string();
                }
                Setting::PortalLinkTtl => {
                    config.portal_link_ttl = parse_duration(v).map_err(fail)?
                }
                Setting::EmbedTokenTtl => {
                    config.embed_token_ttl = parse_duration(v).map_err(fail)?
                }
                Setting::AdminSessionTtl => {
                    config.admin_session_ttl = parse_duration(v).map_err(fail)?
                }
                Setting::AdminSessionIdleTimeout => {
                    config.admin_session_idle_timeout = parse_duration(v).map_err(fail)?
                }
                Setting::DnsTimeout => {
                    let timeout = parse_duration(v).map_err(fail)?;
                    if timeout > Duration::from_millis(2500) {
                        return Err(fail(
                            "must be at most 2.5s: a verification tries twice and answers within 5 seconds".into(),
                        ));
                    }
                    config.dns_timeout = timeout;
                }
                Setting::DomainRecheckInterval => {
                    config.domain_recheck_interval = parse_duration(v).map_err(fail)?
                }
                Setting::DomainRecheckGiveUp => {
                    config.domain_recheck_give_up = parse_duration(v).map_err(fail)?
                }
                Setting::ExtraBlockedDomains => {
                    config.extra_blocked_domains = parse_domain_list(v).map_err(fail)?
                }
                Setting::UnblockedDomains => {
                    config.unblocked_domains = parse_domain_list(v).map_err(fail)?
                }
                Setting::MetadataRefreshInterval => {
                    config.metadata_refresh_interval = parse_duration(v).map_err(fail)?
                }
            }
        }
        Ok(config)
    }

    /// The secret key, or the error `serve` gives without one.
    pub fn require_secret_key(&self) -> Result<&SecretKey, ConfigError> {
        self.secret_key.as_ref().ok_or_else(|| {
            ConfigError::new(
                &Setting::SecretKey,
                format!("is required to run the service; {SECRET_KEY_HINT}"),
            )
        })
    }

    /// `https://host[:port]`, the origin browsers send in `Origin`.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    pub fn public_url_is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// An absolute URL under the public URL; `path` starts with `/`.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{}", self.public_origin(), path)
    }
}

const SECRET_KEY_HINT: &str = "generate one with `openssl rand -base64 32` (base64 of 32 random bytes) and keep it: it decrypts stored secrets";

fn read_toml(
    text: &str,
    file: &str,
    raw: &mut BTreeMap<&'static str, RawValue>,
) -> Result<(), ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        key: file.to_string(),
        message: format!("not valid TOML: {}", e.message()),
    })?;
    for (name, value) in table {
        let Some(key) = Setting::from_name(&name) else {
            return Err(ConfigError {
                key: format!("{name} (in {file})"),
                message: unknown_key_message(&name),
            });
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => {
                return Err(ConfigError {
                    key: format!("{name} (in {file})"),
                    message: format!("unexpected {} value", other.type_str()),
                });
            }
        };
        raw.insert(
            key.name(),
            RawValue {
                value,
                source: format!("{name} (in {file})"),
            },
        );
    }
    Ok(())
}

fn read_env(
    env: impl IntoIterator<Item = (String, String)>,
    raw: &mut BTreeMap<&'static str, RawValue>,
) -> Result<(), ConfigError> {
    for (name, value) in env {
        let Some(stripped) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if name.starts_with(TEST_ENV_PREFIX) {
            continue;
        }
        let lower = stripped.to_ascii_lowercase();
        let Some(key) = Setting::from_name(&lower) else {
            return Err(ConfigError {
                key: name.clone(),
                message: unknown_key_message(&lower),
            });
        };
        raw.insert(
            key.name(),
            RawValue {
                value,
                source: key.env_name(),
            },
        );
    }
    Ok(())
}

fn unknown_key_message(name: &str) -> String {
    let mut message = "is not a Gatehouse setting".to_string();
    if let Some(close) = Setting::ALL
        .iter()
        .filter(|k| !k.is_secret() || edit_distance(k.name(), name) <= 3)
        .min_by_key(|k| edit_distance(k.name(), name))
        .filter(|k| edit_distance(k.name(), name) <= 3)
    {
        message.push_str(&format!(
            "; did you mean {} (`{}` in the file)?",
            close.env_name(),
            close.name()
        ));
    }
    message
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("`{v}` is not a boolean (true or false)")),
    }
}

/// `900`, `900s`, `15m`, `1h 30m`.
fn parse_duration(v: &str) -> Result<Duration, String> {
    let parsed = match v.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(v)
            .map_err(|_| format!("`{v}` is not a duration (e.g. 900, 900s, 15m, 1h)"))?,
    };
    if parsed.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(parsed)
}

/// `a.com, b.org` → normalized names.
fn parse_domain_list(v: &str) -> Result<Vec<String>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            crate::domain::domains::normalize(s)
                .map(|d| d.ascii)
                .map_err(|_| format!("`{s}` is not a domain name"))
        })
        .collect()
}

fn parse_public_url(v: &str) -> Result<Url, String> {
    let url = Url::parse(v).map_err(|e| format!("`{v}` is not a URL ({e})"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("`{v}` must be an http:// or https:// URL"));
    }
    if url.host_str().is_none() {
        return Err(format!("`{v}` has no host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{v}` must be an origin such as https://sso.example.com, without a path"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{v}` must not contain credentials"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = Config::load(None, env(&[])).expect("defaults load");
        assert_eq!(c.database_url.expose(), "sqlite://gatehouse.db?mode=rwc");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_origin(), "http://127.0.0.1:8080");
        assert!(c.secret_key.is_none());
        assert!(!c.allow_private_network_fetch);
        assert_eq!(c.portal_link_ttl, Duration::from_secs(900));
    }

    #[test]
    fn an_unknown_environment_key_is_refused_with_a_suggestion() {
        let err = Config::load(None, env(&[("GATEHOUSE_PUBLC_URL", "http://x")]))
            .expect_err("typo refused");
        assert_eq!(err.key, "GATEHOUSE_PUBLC_URL");
        assert!(
            err.message.contains("GATEHOUSE_PUBLIC_URL"),
            "{}",
            err.message
        );
    }

    #[test]
    fn test_suite_variables_are_not_configuration() {
        Config::load(
            None,
            env(&[("GATEHOUSE_TEST_POSTGRES_URL", "postgres://x")]),
        )
        .expect("test variables ignored");
    }

    #[test]
    fn a_malformed_value_names_its_key() {
        let err = Config::load(None, env(&[("GATEHOUSE_BIND", "nowhere")])).expect_err("bad bind");
        assert_eq!(err.key, "GATEHOUSE_BIND");
        let err = Config::load(None, env(&[("GATEHOUSE_SECRET_KEY", "c2hvcnQ=")]))
            .expect_err("short key");
        assert_eq!(err.key, "GATEHOUSE_SECRET_KEY");
        assert!(err.message.contains("32"));
        let err = Config::load(
            None,
            env(&[("GATEHOUSE_PUBLIC_URL", "https://x.example/app")]),
        )
        .expect_err("path refused");
        assert_eq!(err.key, "GATEHOUSE_PUBLIC_URL");
        let err = Config::load(None, env(&[("GATEHOUSE_PORTAL_LINK_TTL", "soon")]))
            .expect_err("bad duration");
        assert_eq!(err.key, "GATEHOUSE_PORTAL_LINK_TTL");
    }

    #[test]
    fn the_toml_file_uses_lower_case_names_and_the_environment_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gatehouse.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:9000\"\nportal_link_ttl = \"5m\"\ndns_servers = [\"127.0.0.1:5353\"]\n",
        )
        .expect("write");
        let c =
            Config::load(Some(&path), env(&[("GATEHOUSE_BIND", "127.0.0.1:9001")])).expect("loads");
        assert_eq!(c.bind.to_string(), "127.0.0.1:9001");
        assert_eq!(c.portal_link_ttl, Duration::from_secs(300));
        assert_eq!(c.dns_servers.len(), 1);

        std::fs::write(&path, "secret_keys = \"x\"\n").expect("write");
        let err = Config::load(Some(&path), env(&[])).expect_err("unknown key");
        assert!(err.key.starts_with("secret_keys"), "{}", err.key);
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let c = Config::load(
            None,
            env(&[
                (
                    "GATEHOUSE_SECRET_KEY",
                    &SecretKey::from_bytes([7; 32]).to_base64(),
                ),
                ("GATEHOUSE_BOOTSTRAP_API_KEY", "gh_bootstrap_value_123"),
                ("GATEHOUSE_DATABASE_URL", "postgres://u:hunter2@db/gh"),
            ]),
        )
        .expect("loads");
        let debug = format!("{c:?}");
        assert!(!debug.contains("gh_bootstrap_value_123"));
        assert!(!debug.contains("hunter2"));
        assert!(!debug.contains(&SecretKey::from_bytes([7; 32]).to_base64()));
    }

    #[test]
    fn serve_explains_how_to_make_a_secret_key() {
        let c = Config::defaults();
        let err = c.require_secret_key().expect_err("required");
        assert_eq!(err.key, "GATEHOUSE_SECRET_KEY");
        assert!(err.message.contains("openssl rand -base64 32"));
    }
}
