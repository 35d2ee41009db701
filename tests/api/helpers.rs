//! The one test harness: spawns the real server on port 0 against a real
//! SQLite file or a fresh Postgres database, with a clock the test controls.

use std::net::TcpListener;
use std::sync::Arc;

use gatehouse::clock::ManualClock;
use gatehouse::config::{Config, DatabaseUrl, Secret, SecretKey};
use gatehouse::dns::server::{DnsServer, Zone};
use gatehouse::services::Services;
use gatehouse::startup::Application;
use reqwest::{Client, Response, redirect};
use serde_json::{Value, json};

pub const API_KEY: &str = "gh_test_bootstrap_key_0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend: `sqlite` always, `postgres` when
/// `GATEHOUSE_TEST_POSTGRES_URL` is set.
macro_rules! on_both {
    ($(#[$meta:meta])* $name:ident, |$app:ident| $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::{Backend, spawn_app};

            #[tokio::test]
            async fn sqlite() {
                let $app = spawn_app(Backend::Sqlite).await.expect("SQLite is always available");
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some($app) = spawn_app(Backend::Postgres).await else {
                    eprintln!("skipped: GATEHOUSE_TEST_POSTGRES_URL is not set");
                    return;
                };
                $body
            }
        }
    };
}
pub(crate) use on_both;

/// Like `on_both!`, with the configuration adjusted first.
macro_rules! on_both_with {
    ($name:ident, $tweak:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::{Backend, spawn_app_with};

            #[tokio::test]
            async fn sqlite() {
                let $app = spawn_app_with(Backend::Sqlite, $tweak)
                    .await
                    .expect("SQLite is always available");
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some($app) = spawn_app_with(Backend::Postgres, $tweak).await else {
                    eprintln!("skipped: GATEHOUSE_TEST_POSTGRES_URL is not set");
                    return;
                };
                $body
            }
        }
    };
}
pub(crate) use on_both_with;

/// The host's redirect URI in the tests.
pub const HOST_CALLBACK: &str = "http://localhost:9999/callback";

/// Zones the test DNS server is authoritative for.
pub const ZONES: &[&str] = &[
    "acme.test",
    "globex.test",
    "wild.test",
    "alias.test",
    "initech.test",
];
/// A zone whose queries the server answers with SERVFAIL.
pub const BROKEN_ZONE: &str = "broken.test";

/// The real DNS server of one test, on loopback.
pub struct TestDns {
    pub server: DnsServer,
    pub zones: Vec<Zone>,
}

impl TestDns {
    pub async fn start() -> Self {
        let zones: Vec<Zone> = ZONES.iter().map(|z| Zone::new(z).expect("zone")).collect();
        let refs: Vec<&Zone> = zones.iter().collect();
        let server = DnsServer::start("127.0.0.1:0".parse().expect("addr"), &refs, &[BROKEN_ZONE])
            .await
            .expect("DNS server starts");
        Self { server, zones }
    }

    pub fn zone(&self, origin: &str) -> &Zone {
        self.zones
            .iter()
            .find(|z| z.origin() == format!("{origin}."))
            .expect("a served zone")
    }
}

pub struct TestApp {
    pub address: String,
    pub dns: Arc<TestDns>,
    pub config: Config,
    pub clock: ManualClock,
    pub services: Services,
    pub backend: Backend,
    pub database_url: String,
    /// A client with no cookies of its own, for API calls.
    pub api: Client,
    _db: TestDatabase,
}

enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime; use a thread with its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn postgres_url() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// A fresh, empty Postgres database for one test.
async fn create_postgres_database() -> Option<(String, TestDatabase)> {
    use sqlx::Connection;
    let admin_url = postgres_url()?;
    let name = format!(
        "gh_test_{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("GATEHOUSE_TEST_POSTGRES_URL is set but Postgres does not answer");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin_url).expect("valid Postgres URL");
    url.set_path(&name);
    Some((url.to_string(), TestDatabase::Postgres { admin_url, name }))
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let dns = Arc::new(TestDns::start().await);
    let (database_url, db) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("gatehouse.db").display()
            );
            (url, TestDatabase::Sqlite(dir))
        }
        Backend::Postgres => create_postgres_database().await?,
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().expect("local addr").port();
    let address = format!("http://127.0.0.1:{port}");

    capture_logs();
    let mut config = Config::defaults();
    config.database_url = DatabaseUrl::new(database_url.clone());
    config.public_url = url::Url::parse(&address).expect("url");
    config.secret_key = Some(SecretKey::generate());
    config.bootstrap_api_key = Some(Secret::new(API_KEY));
    config.dns_servers = vec![dns.server.address()];
    config.dns_timeout = std::time::Duration::from_millis(400);
    config.run_background_jobs = false;
    config.allow_private_network_fetch = true;
    tweak(&mut config);

    let clock = ManualClock::starting_now();
    let app = Application::build_with_listener(config.clone(), Arc::new(clock.clone()), listener)
        .await
        .expect("application builds");
    let services = app.services().clone();
    tokio::spawn(app.run_until_stopped());

    Some(TestApp {
        address,
        dns,
        config,
        clock,
        services,
        backend,
        database_url,
        api: client(),
        _db: db,
    })
}

/// A further instance of the service.
pub struct Instance {
    pub address: String,
    pub services: Services,
}

/// A client that does not follow redirects; with a cookie jar, like a browser.
pub fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

impl TestApp {
    /// Another instance of Gatehouse on the same database, DNS, clock and
    /// public URL, as when several instances run behind a load balancer.
    pub async fn second_instance(&self) -> Instance {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let address = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let mut config = self.config.clone();
        config.bootstrap_api_key = None;
        let app = Application::build_with_listener(config, Arc::new(self.clock.clone()), listener)
            .await
            .expect("second instance builds");
        let services = app.services().clone();
        tokio::spawn(app.run_until_stopped());
        Instance { address, services }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A new browser: its own cookie jar.
    pub fn browser(&self) -> Client {
        client()
    }

    pub async fn api_get(&self, path: &str) -> Response {
        self.api
            .get(self.url(&format!("/api/v1{path}")))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("request")
    }

    pub async fn api_send(&self, method: reqwest::Method, path: &str, body: &Value) -> Response {
        self.api
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(API_KEY)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn api_post(&self, path: &str, body: &Value) -> Response {
        self.api_send(reqwest::Method::POST, path, body).await
    }

    pub async fn api_patch(&self, path: &str, body: &Value) -> Response {
        self.api_send(reqwest::Method::PATCH, path, body).await
    }

    /// Creates an organization and returns its JSON.
    pub async fn create_org(&self, name: &str, self_serve: bool) -> Value {
        let res = self
            .api_post(
                "/organizations",
                &json!({ "name": name, "self_serve_sso": self_serve }),
            )
            .await;
        assert_eq!(res.status(), 201, "create organization");
        res.json().await.expect("json")
    }

    pub async fn portal_link(&self, org_id: &str) -> String {
        let res = self
            .api_post(&format!("/organizations/{org_id}/portal_links"), &json!({}))
            .await;
        assert_eq!(res.status(), 201, "portal link");
        let body: Value = res.json().await.expect("json");
        body["url"].as_str().expect("url").to_string()
    }

    pub async fn embed_url(&self, org_id: &str, parent_origin: &str) -> String {
        let res = self
            .api_post(
                &format!("/organizations/{org_id}/embed_tokens"),
                &json!({ "parent_origin": parent_origin }),
            )
            .await;
        assert_eq!(res.status(), 201, "embed token");
        let body: Value = res.json().await.expect("json");
        body["url"].as_str().expect("url").to_string()
    }

    /// A browser signed in to the tab of `org_id` through a setup link.
    pub async fn admin_browser(&self, org_id: &str) -> Client {
        let browser = self.browser();
        let res = browser
            .get(self.portal_link(org_id).await)
            .send()
            .await
            .expect("open link");
        assert_eq!(res.status(), 303, "setup link opens");
        browser
    }

    /// One text column of every row a query returns, read straight from the
    /// database (to check what is and is not stored).
    pub async fn text_column(&self, sql: &str) -> Vec<String> {
        use sqlx::Connection;
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url)
                    .await
                    .expect("open SQLite");
                sqlx::query_scalar(sql)
                    .fetch_all(&mut conn)
                    .await
                    .expect("query")
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url)
                    .await
                    .expect("open Postgres");
                sqlx::query_scalar(sql)
                    .fetch_all(&mut conn)
                    .await
                    .expect("query")
            }
        }
    }

    /// Runs one statement straight on the database (to stage what a test
    /// cannot reach through the service); answers the rows changed.
    pub async fn execute(&self, sql: &str) -> u64 {
        use sqlx::Connection;
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url)
                    .await
                    .expect("open SQLite");
                sqlx::query(sql)
                    .execute(&mut conn)
                    .await
                    .expect("statement")
                    .rows_affected()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url)
                    .await
                    .expect("open Postgres");
                sqlx::query(sql)
                    .execute(&mut conn)
                    .await
                    .expect("statement")
                    .rows_affected()
            }
        }
    }

    /// A new self-serve organization with `domain` verified for SSO
    /// (published on the test DNS server); answers its id.
    pub async fn verified_org(&self, name: &str, domain: &str) -> String {
        let org = self.create_org(name, true).await;
        let org_id = org["id"].as_str().expect("id").to_string();
        self.verified_domain(&org_id, domain, "sso").await;
        org_id
    }

    /// A draft Okta SAML connection of the organization to the shared
    /// test identity provider (`TestIdp`).
    pub async fn saml_connection(&self, org_id: &str) -> Value {
        let res = self
            .api_post(
                &format!("/organizations/{org_id}/connections"),
                &json!({ "provider": "okta", "saml": { "sso_url": "https://idp.acme.test/sso",
                    "entity_id": "https://idp.acme.test/metadata",
                    "certificate_pem": TestIdp::shared().cert_pem } }),
            )
            .await;
        assert_eq!(res.status(), 201);
        res.json().await.expect("json")
    }

    /// The host's OAuth client "Acme app", registered for
    /// [`HOST_CALLBACK`]: its JSON, with the secret.
    pub async fn oauth_client(&self) -> Value {
        let res = self
            .api_post(
                "/oauth_clients",
                &json!({ "name": "Acme app", "redirect_uris": [HOST_CALLBACK] }),
            )
            .await;
        assert_eq!(res.status(), 201);
        res.json().await.expect("json")
    }

    /// Activates a connection without a test, as a host may
    /// (`skip_test`).
    pub async fn activate_untested(&self, conn: &Value) {
        let res = self
            .api_post(
                &format!("/connections/{}/activate", conn["id"].as_str().expect("id")),
                &json!({ "skip_test": true }),
            )
            .await;
        assert_eq!(res.status(), 200);
    }

    /// Adds `domain` to the organization for `purpose` (`sso` or
    /// `verified_only`) and verifies it through the test DNS server.
    pub async fn verified_domain(&self, org_id: &str, domain: &str, purpose: &str) -> Value {
        let res = self
            .api_post(
                &format!("/organizations/{org_id}/domains"),
                &json!({ "domain": domain, "purpose": purpose }),
            )
            .await;
        let d: Value = res.json().await.expect("json");
        let zone = ZONES
            .iter()
            .find(|z| domain == **z || domain.ends_with(&format!(".{z}")))
            .expect("a domain in a served zone");
        self.dns
            .zone(zone)
            .set_txt(
                d["txt_record"]["name"].as_str().expect("n"),
                &[&[d["txt_record"]["value"].as_str().expect("v")]],
            )
            .await
            .expect("publish");
        let res = self
            .api_post(
                &format!("/domains/{}/verify", d["id"].as_str().expect("id")),
                &json!({}),
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.expect("json")
    }

    /// Every log line of this test process so far (all tests share it), at
    /// debug level, for checks that a secret is never logged.
    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&log_buffer().lock().expect("logs")).into_owned()
    }

    /// Audit events, newest first, optionally filtered by action.
    pub async fn events(&self, query: &str) -> Vec<Value> {
        let res = self.api_get(&format!("/events?limit=100&{query}")).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        body["data"].as_array().expect("data").clone()
    }
}

/// Asserts a problem+json answer with this status and code; returns its body.
pub async fn assert_problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status for {code}");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = res.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        body["request_id"]
            .as_str()
            .is_some_and(|t| t.starts_with("req_"))
    );
    body
}

/// The `Gatehouse-Error-Code` header of a page answer.
pub fn error_code(res: &Response) -> Option<String> {
    res.headers()
        .get("gatehouse-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The first `Content-Security-Policy` header: the frame-ancestors policy.
pub fn frame_policy(res: &Response) -> String {
    res.headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The content of `<meta name="NAME" content="...">` in a page.
pub fn meta(html: &str, name: &str) -> Option<String> {
    let marker = format!("<meta name=\"{name}\" content=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// A self-signed certificate (base64 DER) valid until `days` from now.
pub fn test_cert(cn: &str, days: i64) -> String {
    use base64::Engine;
    use chrono::Datelike;
    let mut params = rcgen::CertificateParams::new(vec![format!("{cn}.example")]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let start = chrono::Utc::now() - chrono::Duration::days(400);
    let end = chrono::Utc::now() + chrono::Duration::days(days);
    params.not_before = rcgen::date_time_ymd(start.year(), start.month() as u8, start.day() as u8);
    params.not_after = rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    base64::engine::general_purpose::STANDARD.encode(cert.der())
}

/// A metadata fixture with its certificate placeholders filled.
pub fn metadata_fixture(name: &str, certs: &[&str]) -> String {
    let path = format!(
        "{}/tests/fixtures/metadata/{name}.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut xml = std::fs::read_to_string(path).expect("fixture");
    for (i, c) in certs.iter().enumerate() {
        xml = xml.replace(&format!("CERTIFICATE_{}", i + 1), c);
    }
    xml
}

/// What the little HTTP server answers for a path.
#[derive(Clone)]
pub enum Answer {
    Body(&'static str, String),
    /// A body the test can change while the server runs.
    Shared(Arc<std::sync::Mutex<String>>),
    Redirect(String),
    Status(u16),
}

/// A minimal HTTP/1.1 server on `ip`, answering each path from `routes`
/// (others 404); returns its base URL.
pub async fn serve_http(ip: &str, routes: Vec<(&'static str, Answer)>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while read < buf.len() {
                    let Ok(n) = stream.read(&mut buf[read..]).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    read += n;
                    if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let request = String::from_utf8_lossy(&buf[..read]).to_string();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let answer = routes
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, a)| a.clone());
                let response = match answer {
                    Some(Answer::Body(content_type, body)) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Some(Answer::Shared(body)) => {
                        let body = body.lock().map(|b| b.clone()).unwrap_or_default();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    Some(Answer::Redirect(to)) => format!(
                        "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                    Some(Answer::Status(code)) => format!(
                        "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string()
                    }
                };
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    base
}

/// The independent SAML identity provider of the tests: a Python tool built
/// on signxml (`tests/saml/idp.py`) and an RSA key made by the openssl CLI.
pub struct TestIdp {
    pub key_pem: String,
    pub cert_pem: String,
}

impl TestIdp {
    /// One key pair per test process.
    pub fn shared() -> &'static TestIdp {
        static IDP: std::sync::OnceLock<TestIdp> = std::sync::OnceLock::new();
        IDP.get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
            let status = std::process::Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "30",
                    "-subj",
                    "/CN=test-idp.acme.test",
                ])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(std::process::Stdio::null())
                .status()
                .expect("the openssl command line is installed (./scripts/setup)");
            assert!(status.success(), "openssl made a key");
            TestIdp {
                key_pem: std::fs::read_to_string(key).expect("key"),
                cert_pem: std::fs::read_to_string(cert).expect("cert"),
            }
        })
    }

    /// The Python with signxml that `./scripts/test` installs.
    fn python() -> String {
        if let Ok(p) = std::env::var("GATEHOUSE_TEST_PYTHON") {
            return p;
        }
        let p = format!("{}/target/pyenv/bin/python", env!("CARGO_MANIFEST_DIR"));
        assert!(
            std::path::Path::new(&p).exists(),
            "the SAML tests need the Python signer: run ./scripts/test, which installs it into target/pyenv"
        );
        p
    }

    /// A SAMLResponse (base64) built and signed by the Python tool.
    pub fn response(&self, params: &Value) -> String {
        let mut input = json!({ "key_pem": self.key_pem, "cert_pem": self.cert_pem });
        if let (Some(base), Some(extra)) = (input.as_object_mut(), params.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        Self::script("idp.py", &input)["saml_response"]
            .as_str()
            .expect("saml_response")
            .to_string()
    }

    /// Runs one of the Python tools in tests/saml: a JSON object in, one out.
    pub fn script(name: &str, input: &Value) -> Value {
        use std::io::Write;
        let mut child = std::process::Command::new(Self::python())
            .arg(format!("{}/tests/saml/{name}", env!("CARGO_MANIFEST_DIR")))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run the Python tool");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.to_string().as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("the tool ran");
        assert!(
            out.status.success(),
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the tool answers JSON")
    }
}

/// An IT admin signed in to the tab of a new organization (self-serve on):
/// the browser, the session's CSRF token, the organization id.
pub async fn signed_in_admin(app: &TestApp, name: &str) -> (Client, String, String) {
    let org = app.create_org(name, true).await;
    let id = org["id"].as_str().expect("id").to_string();
    let browser = app.admin_browser(&id).await;
    let html = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    (browser, meta(&html, "gatehouse-csrf").expect("csrf"), id)
}

/// An IT admin signed in to the tab of an existing organization: the
/// browser and the session's CSRF token.
pub async fn admin_of(app: &TestApp, org_id: &str) -> (Client, String) {
    let browser = app.admin_browser(org_id).await;
    let html = browser
        .get(app.url("/security"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    (browser, meta(&html, "gatehouse-csrf").expect("csrf"))
}

/// A plain form post from the tab's own origin.
pub async fn form_post(
    app: &TestApp,
    browser: &Client,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    browser
        .post(app.url(path))
        .header("origin", &app.address)
        .form(fields)
        .send()
        .await
        .expect("post")
}

fn log_buffer() -> &'static Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(Arc::default)
}

/// A writer that appends to the shared log buffer.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = log_buffer().lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the process's logs (debug level, every crate) to the buffer.
fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .try_init();
    });
}

/// A free port on 127.0.0.1, for a process a test starts on its own.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
