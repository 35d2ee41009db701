//! ACS validations per second for a realistic assertion-signed response,
//! printed beside baselines measured in the same run: libxmlsec1's own
//! parse-and-verify of the same document in process (samael, no Gatehouse
//! checks), and the `xmlsec1 --verify` command line per document.
//!
//! Run with `./scripts/bench` (it installs what this needs).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{SecondsFormat, Utc};
use gatehouse::saml::acs::{self, Expectation, Settings};
use gatehouse::saml::certificates::parse_pem;
use gatehouse::saml::config::{Binding, IdpSettings};
use gatehouse::saml::sp;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};

fn python() -> String {
    std::env::var("GATEHOUSE_TEST_PYTHON")
        .unwrap_or_else(|_| format!("{}/target/pyenv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=bench-idp",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl made a key");
    let key_pem = std::fs::read_to_string(&key).expect("key");
    let cert_pem = std::fs::read_to_string(&cert).expect("cert");

    let sp = sp::urls("https://sso.example.com", "conn_bench");
    let now = Utc::now();
    let groups: Vec<String> = (0..4).map(|i| format!("engineering-team-{i}")).collect();
    let input = serde_json::json!({
        "key_pem": key_pem, "cert_pem": cert_pem, "issuer": "https://idp.example.com/metadata",
        "destination": sp.acs_url, "audience": sp.entity_id, "in_response_to": "_bench_request",
        "name_id": "alice@acme.test",
        "attributes": { "email": ["alice@acme.test"], "firstName": ["Alice"], "lastName": ["Liddell"], "groups": groups },
        "issue_instant": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "sign": "assertion",
    });
    let mut child = Command::new(python())
        .arg(format!("{}/tests/saml/idp.py", env!("CARGO_MANIFEST_DIR")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the Python signer (run ./scripts/bench or ./scripts/test once)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    let out: serde_json::Value =
        serde_json::from_slice(&child.wait_with_output().expect("signer").stdout).expect("json");
    let response = out["saml_response"].as_str().expect("response").to_string();
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&response)
            .expect("b64"),
    )
    .expect("utf8");

    let idp = IdpSettings {
        entity_id: "https://idp.example.com/metadata".into(),
        sso_url: "https://idp.example.com/sso".into(),
        binding: Binding::Redirect,
        certificates: parse_pem(&cert_pem).expect("cert"),
    };
    let settings = Settings {
        idp: &idp,
        sp: &sp,
        decryption_keys: &[],
        require_encryption: false,
    };
    let expectation = Expectation::Solicited {
        request_id: "_bench_request".into(),
    };
    acs::validate(&response, settings, &expectation, Utc::now())
        .expect("the benchmark response is valid");
    // `cargo test --all-targets` runs this too, unoptimized: there it only
    // checks that the benchmark's document validates. Figures come from
    // `cargo bench`, which passes --bench.
    if !std::env::args().any(|a| a == "--bench") {
        println!("acs benchmark: smoke run passed (use ./scripts/bench for figures)");
        return;
    }

    let run = |budget: Duration, f: &mut dyn FnMut()| -> f64 {
        for _ in 0..50 {
            f();
        }
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            f();
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    };

    // libxmlsec1 through samael, doing nothing but parse the document and
    // verify its signature: the floor under any SP built on it. The two are
    // measured in alternating batches, so that the machine's load drifts
    // over both alike and their ratio holds even when the rates move.
    let idp_cert = CertificateDer::from(idp.certificates[0].der_bytes());
    let validate = || {
        acs::validate(&response, settings, &expectation, Utc::now()).expect("valid");
    };
    let verify_only = || {
        Crypto::verify_signed_xml(&xml, &idp_cert, Some("ID")).expect("verifies");
    };
    for _ in 0..50 {
        validate();
        verify_only();
    }
    const BATCH: u32 = 20;
    let (mut acs_time, mut xmlsec_time, mut batches) = (Duration::ZERO, Duration::ZERO, 0u32);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(6) {
        let t = Instant::now();
        for _ in 0..BATCH {
            validate();
        }
        acs_time += t.elapsed();
        let t = Instant::now();
        for _ in 0..BATCH {
            verify_only();
        }
        xmlsec_time += t.elapsed();
        batches += 1;
    }
    let acs_rate = f64::from(batches * BATCH) / acs_time.as_secs_f64();
    let xmlsec_rate = f64::from(batches * BATCH) / xmlsec_time.as_secs_f64();

    let doc = dir.path().join("response.xml");
    std::fs::write(&doc, &xml).expect("write");
    let cli = |d: &std::path::Path| {
        Command::new("xmlsec1")
            .args(["--verify", "--pubkey-cert-pem"])
            .arg(&cert)
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            ])
            .arg(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let cli_rate = if cli(&doc) {
        Some(run(Duration::from_secs(3), &mut || {
            cli(&doc);
        }))
    } else {
        None
    };

    println!(
        "ACS benchmark: assertion-signed response, RSA-2048/SHA-256, {} bytes of XML, one thread",
        xml.len()
    );
    println!(
        "  Gatehouse ACS validation (all checks):       {acs_rate:>8.0} /s  ({:.0} µs each)",
        1e6 / acs_rate
    );
    println!(
        "  baseline: libxmlsec1 parse+verify only:      {xmlsec_rate:>8.0} /s  (Gatehouse at {:.2}x of it)",
        acs_rate / xmlsec_rate
    );
    match cli_rate {
        Some(r) => println!(
            "  baseline: xmlsec1 --verify, per document:    {r:>8.0} /s  (Gatehouse at {:.1}x of it)",
            acs_rate / r
        ),
        None => {
            println!("  baseline: xmlsec1 command line not installed (apt-get install xmlsec1)")
        }
    }
}
