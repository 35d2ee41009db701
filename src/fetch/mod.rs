//! Fetching URLs that admins typed (SAML metadata, OIDC discovery) without
//! letting them reach Gatehouse's own network.
//!
//! Only http(s); https unless private-network fetches are allowed. Every
//! address a name resolves to is checked after resolution, and the request
//! connects only to the addresses that passed, so a name cannot be
//! re-pointed between check and use. Redirects are followed by hand, each
//! hop checked the same way, at most a few. Time and size are capped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

pub const MAX_REDIRECTS: usize = 5;
pub const MAX_BYTES: usize = 1024 * 1024;
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a fetch was refused or failed, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    pub code: &'static str,
    pub message: String,
}

impl FetchError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Whether an address is one a fetch must never reach: loopback, private,
/// link-local (including cloud metadata at 169.254.169.254), carrier-grade
/// NAT, unique-local, multicast, unspecified, reserved — and the same inside
/// IPv4-mapped IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] == 0 && seg[1] == 0 && seg[2] == 0 && seg[3] == 0 && seg[4] == 0 && seg[5] == 0) // IPv4-compatible
                || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64
                || (seg[0] & 0xffc0) == 0xfec0 // deprecated site-local fec0::/10
                || seg[0] == 0x2002 // 6to4, which embeds an IPv4 address
                || (seg[0] == 0 && seg[1] == 0 && seg[2] == 0 && seg[3] == 0 && seg[4] == 0xffff && seg[5] == 0) // IPv4-translated
                || seg[0] == 0x2001 && seg[1] == 0xdb8 // documentation
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240 // reserved
}

/// Which addresses may be fetched from. Production refuses internal ones
/// unless private-network fetches are allowed; tests can mark addresses.
#[derive(Clone)]
pub struct Policy {
    pub allow_private: bool,
    pub allow_http: bool,
    pub is_internal: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
}

impl Policy {
    /// `GATEHOUSE_ALLOW_PRIVATE_NETWORK_FETCH` allows both private addresses
    /// and plain http.
    pub fn new(allow_private: bool) -> Self {
        Self {
            allow_private,
            allow_http: allow_private,
            is_internal: Arc::new(is_internal),
        }
    }

    fn refuses(&self, ip: IpAddr) -> bool {
        !self.allow_private && (self.is_internal)(ip)
    }
}

/// Resolves names and drops addresses the policy refuses.
struct FilteringResolver {
    policy: Policy,
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !policy.refuses(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves only to internal addresses", self.0)
    }
}

impl std::error::Error for Refused {}

/// The fetcher; cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Policy,
}

/// A fetched document.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub final_url: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Fetcher {
    pub fn new(policy: Policy) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(FilteringResolver {
                policy: policy.clone(),
            }))
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .build()?;
        Ok(Self { client, policy })
    }

    fn check_url(&self, raw: &str) -> Result<Url, FetchError> {
        let url = Url::parse(raw.trim()).map_err(|_| {
            FetchError::new(
                "fetch_invalid_url",
                format!(
                    "“{}” is not a valid URL.",
                    raw.chars().take(200).collect::<String>()
                ),
            )
        })?;
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allow_http => {}
            "http" => {
                return Err(FetchError::new(
                    "fetch_scheme_not_allowed",
                    "Only https:// URLs can be fetched. Use the https address of the document.",
                ));
            }
            other => {
                return Err(FetchError::new(
                    "fetch_scheme_not_allowed",
                    format!("{other}: URLs cannot be fetched; use an https:// URL."),
                ));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::new(
                "fetch_invalid_url",
                "The URL must not contain a user name or password.",
            ));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(FetchError::new("fetch_invalid_url", "The URL has no host.")),
        };
        if let Some(ip) = ip
            && self.policy.refuses(ip)
        {
            return Err(internal_refusal(&url));
        }
        Ok(url)
    }

    /// GETs `url`, following at most `MAX_REDIRECTS` checked redirects.
    pub async fn get(&self, url: &str, accept: &str) -> Result<Fetched, FetchError> {
        let mut url = self.check_url(url)?;
        for _ in 0..=MAX_REDIRECTS {
            let res = self
                .client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, accept)
                .send()
                .await
                .map_err(|e| describe(&url, &e))?;
            if res.status().is_redirection() {
                let Some(location) = res
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                else {
                    return Err(FetchError::new(
                        "fetch_failed",
                        format!("{url} answered a redirect without a Location."),
                    ));
                };
                let next = url.join(location).map_err(|_| {
                    FetchError::new(
                        "fetch_invalid_url",
                        format!("{url} redirected to an invalid address."),
                    )
                })?;
                url = self.check_url(next.as_str())?;
                continue;
            }
            if !res.status().is_success() {
                return Err(FetchError::new(
                    "fetch_http_status",
                    format!(
                        "{url} answered HTTP {}. Check the URL, and that the document is published without sign-in.",
                        res.status().as_u16()
                    ),
                ));
            }
            let (_, content_type, body) = read_capped(res, &url).await?;
            return Ok(Fetched {
                final_url: url.to_string(),
                content_type,
                body,
            });
        }
        Err(FetchError::new(
            "fetch_too_many_redirects",
            format!("The URL redirected more than {MAX_REDIRECTS} times."),
        ))
    }
}

/// An answer of any status, from `Fetcher::send`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Fetcher {
    /// One request to an endpoint a provider named (token, userinfo), with
    /// the same address checks and caps as `get` but no redirects followed:
    /// such endpoints answer directly, and a redirect would carry the
    /// client's credentials elsewhere. Any status is answered, with its body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Answer, FetchError> {
        let checked = self.check_url(url)?;
        let res = build(self.client.request(method, checked.clone()))
            .send()
            .await
            .map_err(|e| describe(&checked, &e))?;
        let (status, content_type, body) = read_capped(res, &checked).await?;
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }
}

/// Status, content type and body of an answer, the body capped at
/// `MAX_BYTES` (whatever length it announces).
async fn read_capped(
    mut res: reqwest::Response,
    url: &Url,
) -> Result<(u16, Option<String>, Vec<u8>), FetchError> {
    if res.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
        return Err(too_large(url));
    }
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| describe(url, &e))? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(too_large(url));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, content_type, body))
}

fn internal_refusal(url: &Url) -> FetchError {
    FetchError::new(
        "fetch_private_address",
        format!(
            "{} points to a private or internal network address, which Gatehouse does not fetch from. Use the publicly reachable URL of the document.",
            url.host_str().unwrap_or("The URL")
        ),
    )
}

fn too_large(url: &Url) -> FetchError {
    FetchError::new(
        "fetch_too_large",
        format!(
            "The document at {url} is larger than {} KiB.",
            MAX_BYTES / 1024
        ),
    )
}

fn describe(url: &Url, e: &reqwest::Error) -> FetchError {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if err.is::<Refused>() {
            return internal_refusal(url);
        }
        source = err.source();
    }
    if e.is_timeout() {
        FetchError::new(
            "fetch_timeout",
            format!("{url} did not answer within {} seconds.", TIMEOUT.as_secs()),
        )
    } else if e.is_connect() {
        FetchError::new(
            "fetch_failed",
            format!(
                "Could not connect to {}. Check the address and that the server is up.",
                url.host_str().unwrap_or("the server")
            ),
        )
    } else {
        FetchError::new("fetch_failed", format!("Fetching {url} failed."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_request() {
        let strict = Fetcher::new(Policy::new(false)).expect("fetcher");
        for (url, code) in [
            ("http://metadata.example/x", "fetch_scheme_not_allowed"),
            ("file:///etc/passwd", "fetch_scheme_not_allowed"),
            ("gopher://x.example/", "fetch_scheme_not_allowed"),
            ("https://127.0.0.1/x", "fetch_private_address"),
            (
                "https://169.254.169.254/latest/meta-data/",
                "fetch_private_address",
            ),
            ("https://[::ffff:127.0.0.1]/", "fetch_private_address"),
            ("https://0x7f000001/", "fetch_private_address"),
            ("https://user:pw@idp.example/", "fetch_invalid_url"),
            ("not a url", "fetch_invalid_url"),
        ] {
            assert_eq!(strict.check_url(url).expect_err(url).code, code, "{url}");
        }
        let relaxed = Fetcher::new(Policy::new(true)).expect("fetcher");
        assert!(relaxed.check_url("http://127.0.0.1:8080/metadata").is_ok());
    }
}
