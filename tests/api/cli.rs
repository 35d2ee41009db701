//! The `gatehouse` binary itself: configuration errors, key creation,
//! serving and stopping.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse::config::SecretKey;

use crate::helpers::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

fn gatehouse(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "GATEHOUSE_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("gh.db").display()),
        )
        .current_dir(dir);
    cmd
}

#[test]
fn serve_refuses_to_start_without_a_secret_key_and_says_how_to_make_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = gatehouse(dir.path()).arg("serve").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GATEHOUSE_SECRET_KEY"), "{stderr}");
    assert!(stderr.contains("openssl rand -base64 32"), "{stderr}");
}

#[test]
fn an_unknown_setting_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_PUBLIC_URRL", "https://sso.example.com")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GATEHOUSE_PUBLIC_URRL"), "{stderr}");
    assert!(
        stderr.contains("did you mean GATEHOUSE_PUBLIC_URL"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("gh.toml"),
        "bind = \"127.0.0.1:1\"\nlisten = \"x\"\n",
    )
    .expect("write");
    let out = gatehouse(dir.path())
        .args(["serve", "--config", "gh.toml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen (in gh.toml)"));
}

#[test]
fn a_malformed_value_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_BIND", "everywhere")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GATEHOUSE_BIND"));
}

#[test]
fn a_sqlite_file_is_created_unless_the_url_says_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |url: String| {
        gatehouse(dir.path())
            .arg("migrate")
            .env("GATEHOUSE_DATABASE_URL", url)
            .output()
            .expect("migrate")
    };
    let made = dir.path().join("made.db");
    let out = run(format!("sqlite://{}", made.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(made.exists());

    let out = run(format!(
        "sqlite://{}?mode=rw",
        dir.path().join("absent.db").display()
    ));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(
        !dir.path().join("absent.db").exists(),
        "mode=rw creates nothing"
    );

    let out = run(format!(
        "sqlite://{}/no/such/folder/g.db",
        dir.path().display()
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does its folder exist"), "{stderr}");
}

#[test]
fn migrate_then_api_key_create_prints_a_key_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = gatehouse(dir.path())
        .arg("migrate")
        .output()
        .expect("migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = gatehouse(dir.path())
        .args(["api-key", "create", "--name", "ci"])
        .output()
        .expect("create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(key.starts_with("gh_") && key.len() > 40, "{key}");
    let out = gatehouse(dir.path())
        .args(["api-key", "list"])
        .output()
        .expect("list");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("\tci") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(&key), "the key is never shown again");
}

#[test]
fn serve_answers_logs_json_without_secrets_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let secret = SecretKey::generate().to_base64();
    let bootstrap = "gh_cli_test_bootstrap_0123456789";
    let mut child = gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_SECRET_KEY", &secret)
        .env("GATEHOUSE_BOOTSTRAP_API_KEY", bootstrap)
        .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");

    // Wait for readiness by polling, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    assert_eq!(
        raw_http::get_status(port, "/readyz", deadline),
        Some(200),
        "the server became ready"
    );
    assert_eq!(
        raw_http::get_status(port, "/api/v1/organizations", deadline),
        Some(401)
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "a clean exit on SIGTERM: {exit:?}");

    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read");
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
    assert!(
        stderr.contains("\"route\":\"/readyz\""),
        "access log names the route"
    );
    assert!(!stderr.contains(&secret), "the secret key is never logged");
    assert!(
        !stderr.contains(bootstrap),
        "the bootstrap key is never logged"
    );
}

/// A tiny blocking HTTP GET over std, retried until `deadline`: the status, or None.
mod raw_http {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    pub fn get_status(port: u16, path: &str, deadline: Instant) -> Option<u16> {
        while Instant::now() < deadline {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let request =
                    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut response = String::new();
                    let _ = stream.read_to_string(&mut response);
                    if let Some(code) = response
                        .split_whitespace()
                        .nth(1)
                        .and_then(|c| c.parse().ok())
                    {
                        return Some(code);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

#[test]
fn signing_key_rotate_publishes_first_unless_told_now() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = SecretKey::generate();
    let run = |args: &[&str]| {
        let out = gatehouse(dir.path())
            .args(args)
            .env("GATEHOUSE_SECRET_KEY", secret.to_base64())
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let later = run(&["signing-key", "rotate"]);
    assert!(
        later.contains("is published and signs ID tokens from"),
        "{later}"
    );
    let now = run(&["signing-key", "rotate", "--now"]);
    assert!(
        now.starts_with("ID tokens are now signed with key gh"),
        "{now}"
    );
}
