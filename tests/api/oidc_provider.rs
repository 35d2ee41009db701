//! A real, third-party OpenID Provider for the tests: the npm package
//! `oidc-provider`, run by tests/oidc/provider.mjs on 127.0.0.1 (installed
//! by ./scripts/test). One process per test; it exits when the test drops
//! it (its stdin closes).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::{Value, json};

/// How long the provider may take to start listening; it usually takes
/// under a second.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

pub struct TestOidc {
    child: Child,
    _stdin: ChildStdin,
    pub issuer: String,
    http: reqwest::Client,
}

impl TestOidc {
    /// Starts a provider with these users (the first is the default login).
    pub fn start(users: Value) -> Self {
        let dir = env!("CARGO_MANIFEST_DIR");
        assert!(
            std::path::Path::new(&format!("{dir}/tests/oidc/node_modules/oidc-provider")).exists(),
            "the OIDC tests need the test provider: run ./scripts/test, which installs it (npm ci --prefix tests/oidc)"
        );
        let config = tempfile::NamedTempFile::new().expect("config file");
        std::fs::write(
            config.path(),
            json!({ "clients": [], "users": users }).to_string(),
        )
        .expect("write config");
        // Now and then node stalls before it listens (seen once in some
        // hundreds of starts); a test then waited for ever. It gets a while
        // to start, and a second chance.
        let (child, stdin, port) = match Self::spawn(dir, config.path()) {
            Ok(started) => started,
            Err(first) => Self::spawn(dir, config.path()).unwrap_or_else(|second| {
                panic!("the test OpenID Provider did not start: {first}; then: {second}")
            }),
        };
        Self {
            child,
            _stdin: stdin,
            issuer: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// Starts node on `config` and waits for its `READY <port>` line.
    fn spawn(dir: &str, config: &std::path::Path) -> Result<(Child, ChildStdin, String), String> {
        let mut child = Command::new("node")
            .arg(format!("{dir}/tests/oidc/provider.mjs"))
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is installed (./scripts/setup)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
        });
        let line = match rx.recv_timeout(READY_WITHIN) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => format!("(unreadable: {e})"),
            Err(_) => format!("(nothing within {READY_WITHIN:?})"),
        };
        match line.trim().strip_prefix("READY ") {
            Some(port) => Ok((child, stdin, port.to_string())),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("unexpected first line from the provider: {line:?}"))
            }
        }
    }

    async fn control(&self, path: &str, body: &Value) -> Value {
        let res = self
            .http
            .post(format!("{}{path}", self.issuer))
            .json(body)
            .send()
            .await
            .expect("control request");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.expect("json")
    }

    /// Registers a confidential client with one redirect URI.
    pub async fn add_client(&self, client_id: &str, secret: &str, redirect_uri: &str) {
        self.control(
            "/_test/clients",
            &json!({ "client_id": client_id, "client_secret": secret, "redirect_uris": [redirect_uri] }),
        )
        .await;
    }

    /// Claims merged into every ID token from now on (`{}`: none).
    pub async fn control_override(&self, claims: &Value) {
        self.control("/_test/id-token-override", claims).await;
    }

    /// A new signing key; the old one leaves the JWKS.
    pub async fn rotate_keys(&self) -> String {
        self.control("/_test/rotate-keys", &json!({})).await["signing_kid"]
            .as_str()
            .expect("kid")
            .to_string()
    }

    /// How often each path was requested.
    pub async fn requests(&self) -> Value {
        self.http
            .get(format!("{}/_test/requests", self.issuer))
            .send()
            .await
            .expect("counts")
            .json()
            .await
            .expect("json")
    }

    /// Follows the provider's redirects as a browser would, up to the first
    /// address outside the provider: the callback URL with the answer.
    pub async fn authorize(&self, url: &str) -> String {
        let mut url = url.to_string();
        for _ in 0..10 {
            if !url.starts_with(&self.issuer) {
                return url;
            }
            let res = self.http.get(&url).send().await.expect("provider");
            assert!(
                res.status().is_redirection(),
                "the provider answered {} at {url}: {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
            url = res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("location")
                .to_string();
        }
        panic!("the provider redirected too often");
    }

    /// Stops the provider (to test a provider that is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestOidc {
    fn drop(&mut self) {
        self.stop();
    }
}
