//! Full SAML sign-ins per second through a running `gatehouse serve`: the
//! identity provider's response posted to the ACS, the host's code out of
//! the redirect, the code exchanged at `/oauth/token` for an ID token. Run
//! on SQLite and, when one answers, on PostgreSQL, printed beside the
//! ACS-only figure measured in the same run, with p50/p99 latency at 32
//! concurrent sign-ins and the server's resident memory idle and under load.
//!
//! The server is the release binary in its own process; the load comes from
//! this process on the same machine. Before the clock starts, each sign-in's
//! authorization request is made and its SAML response signed, so the
//! figures cover what the issue names: response in, code out, token out.
//! A tenth of the sign-ins are people signing in for the first time (the
//! user, the identity and the membership are created); the rest return.
//!
//! Run with `./scripts/bench`. Under `cargo test` (no `--bench`) it signs a
//! handful of people in on SQLite and checks each ID token, as a smoke test.
//!
//! For exploring: `SIGN_IN_BENCH_COUNT` (sign-ins timed),
//! `SIGN_IN_BENCH_CONCURRENCY`, `SIGN_IN_BENCH_NEW_EVERY` (one first sign-in
//! in this many), and `SIGN_IN_BENCH_DUMP`, a file to write each sign-in's
//! total and ACS time (µs) and whether it was a first one to.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use gatehouse::config::SecretKey;
use gatehouse::demo_idp::{DemoIdp, DemoUser};
use gatehouse::dns::server::{DnsServer, Zone};
use gatehouse::saml::acs::{self, Expectation, Settings};
use gatehouse::saml::config::{Binding, IdpSettings};
use gatehouse::saml::{certificates::parse_pem, sp};
use serde_json::{Value, json};

const DOMAIN: &str = "bench.test";
const HOST_CALLBACK: &str = "https://host.bench.test/callback";
const API_KEY: &str = "gh_bench_bootstrap_key_0123456789abcdef";
const CONCURRENCY: usize = 32;

/// Concurrent sign-ins: 32, or `SIGN_IN_BENCH_CONCURRENCY` when exploring.
fn concurrency() -> usize {
    std::env::var("SIGN_IN_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CONCURRENCY)
}
/// One sign-in in this many is a first sign-in.
const NEW_PEOPLE_EVERY: usize = 10;

/// One in 10, or in `SIGN_IN_BENCH_NEW_EVERY` when exploring.
fn new_people_every() -> usize {
    std::env::var("SIGN_IN_BENCH_NEW_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(NEW_PEOPLE_EVERY)
}

/// A sign-in made ready before the clock starts.
struct Prepared {
    acs_url: String,
    saml_response: String,
    relay_state: String,
    verifier: String,
    email: &'static str,
    nonce: String,
    /// Whether it is the person's first sign-in.
    first: bool,
}

struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// p99 of first sign-ins, and of returning people's.
    p99_first: Duration,
    p99_returning: Duration,
    /// The ACS's part of the median sign-in (the rest is the token).
    acs_p50: Duration,
    idle_rss_kb: u64,
    peak_rss_kb: u64,
    idle_after_kb: u64,
    /// CPU time per sign-in during the load: the server's, and this
    /// process's (the load generator's).
    server_cpu: Duration,
    client_cpu: Duration,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(full));
}

async fn run(full: bool) {
    let zone = Zone::new(DOMAIN).expect("zone");
    let dns = DnsServer::start("127.0.0.1:0".parse().expect("addr"), &[&zone], &[])
        .await
        .expect("DNS server");

    let mut backends = vec![("SQLite", sqlite_url())];
    if full && let Some(url) = postgres_database().await {
        backends.push(("PostgreSQL", url));
    }
    let count = match std::env::var("SIGN_IN_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) if full => n,
        _ if full => 12_000,
        _ => 12,
    };
    let mut results = Vec::new();
    for (label, (url, _dir)) in backends {
        let figures = bench_backend(&url, &zone, dns.address(), count, full).await;
        results.push((label, figures));
    }
    dns.stop().await;
    if !full {
        println!("sign-in benchmark: smoke run passed (use ./scripts/bench for figures)");
        return;
    }

    let acs_only = acs_only_rate();
    println!(
        "Full sign-in benchmark: SAML response → ACS → host code → /oauth/token, {} concurrent, \
         release server in its own process, load from this machine ({} cores)",
        concurrency(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  ACS validation only (in process, one thread):   {acs_only:>7.0} /s  ({:.0} µs each)",
        1e6 / acs_only
    );
    for (label, f) in &results {
        println!(
            "  {label:<10} full sign-ins:                 {:>7.0} /s  ({:.2}x of ACS-only)  p50 {:.1} ms (ACS {:.1} ms)  p99 {:.1} ms",
            f.rate,
            f.rate / acs_only,
            ms(f.p50),
            ms(f.acs_p50),
            ms(f.p99)
        );
        println!(
            "  {label:<10} p99 of first sign-ins {:.1} ms, of returning people's {:.1} ms",
            ms(f.p99_first),
            ms(f.p99_returning)
        );
        println!(
            "  {label:<10} CPU per sign-in: server {:.2} ms, load generator {:.2} ms",
            ms(f.server_cpu),
            ms(f.client_cpu)
        );
        println!(
            "  {label:<10} server memory: idle {:.1} MB before, {:.1} MB after; at most {:.1} MB during the run",
            mb(f.idle_rss_kb),
            mb(f.idle_after_kb),
            mb(f.peak_rss_kb)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn sqlite_url() -> (String, Option<tempfile::TempDir>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gatehouse.db").display()
    );
    (url, Some(dir))
}

/// A fresh database on the Postgres that `GATEHOUSE_TEST_POSTGRES_URL`
/// names, or the local one, if it answers.
async fn postgres_database() -> Option<(String, Option<tempfile::TempDir>)> {
    use sqlx::Connection;
    let admin = std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
    let name = format!(
        "gh_bench_{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .ok()?;
    let mut url = url::Url::parse(&admin).ok()?;
    url.set_path(&name);
    Some((url.to_string(), None))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The server process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(database_url: &str, dns: SocketAddr, secret: &SecretKey) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env("GATEHOUSE_DATABASE_URL", database_url)
            .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_PUBLIC_URL", &base)
            .env("GATEHOUSE_SECRET_KEY", secret.to_base64())
            .env("GATEHOUSE_BOOTSTRAP_API_KEY", API_KEY)
            .env("GATEHOUSE_DNS_SERVERS", dns.to_string())
            .env(
                "GATEHOUSE_LOG_LEVEL",
                std::env::var("SIGN_IN_BENCH_SERVER_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start gatehouse serve");
        let server = Self { child, base };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = http.get(format!("{}/healthz", server.base)).send().await
                && res.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "gatehouse serve did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// The bench's API client.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> Value {
        let res = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(API_KEY)
            .json(body)
            .send()
            .await
            .expect("API call");
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }
}

/// The identity provider and the organization's connection to it.
struct Setup {
    idp: DemoIdp,
    client_id: String,
    client_secret: String,
}

async fn set_up(server: &Server, zone: &Zone, secret: &SecretKey) -> Setup {
    let api = Api {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let idp = DemoIdp::generate("https://idp.bench.test", &server.base, secret).expect("IdP");
    let org = api
        .post(
            "/organizations",
            &json!({ "name": "Bench", "self_serve_sso": true }),
        )
        .await;
    let org_id = org["id"].as_str().expect("org id");
    let domain = api
        .post(
            &format!("/organizations/{org_id}/domains"),
            &json!({ "domain": DOMAIN }),
        )
        .await;
    zone.set_txt(
        domain["txt_record"]["name"].as_str().expect("TXT name"),
        &[&[domain["txt_record"]["value"].as_str().expect("TXT value")]],
    )
    .await
    .expect("publish");
    api.post(
        &format!("/domains/{}/verify", domain["id"].as_str().expect("id")),
        &json!({}),
    )
    .await;
    let connection = api
        .post(
            &format!("/organizations/{org_id}/connections"),
            &json!({ "provider": "okta", "saml": { "metadata_xml": idp.metadata_xml() } }),
        )
        .await;
    api.post(
        &format!(
            "/connections/{}/activate",
            connection["id"].as_str().expect("id")
        ),
        &json!({ "skip_test": true }),
    )
    .await;
    let client = api
        .post(
            "/oauth_clients",
            &json!({ "name": "Bench host", "redirect_uris": [HOST_CALLBACK] }),
        )
        .await;
    Setup {
        idp,
        client_id: client["client_id"].as_str().expect("client id").into(),
        client_secret: client["client_secret"].as_str().expect("secret").into(),
    }
}

fn person(i: usize) -> DemoUser {
    let n = i / new_people_every();
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    DemoUser {
        subject: leak(format!("bench-person-{n}")),
        email: leak(format!("person{n}@{DOMAIN}")),
        first_name: leak(format!("Person{n}")),
        last_name: "Bench",
        groups: &["engineering", "everyone"],
        note: "",
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client")
}

/// Starts `count` sign-ins at the host's authorize endpoint and signs each
/// one's SAML response.
async fn prepare(server: &Server, setup: &Arc<Setup>, count: usize) -> Vec<Prepared> {
    let http = no_redirects();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, next, setup, base) = (
            http.clone(),
            next.clone(),
            setup.clone(),
            server.base.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return out;
                }
                let user = person(i);
                let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
                let challenge = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
                let mut url = url::Url::parse(&format!("{base}/oauth/authorize")).expect("url");
                url.query_pairs_mut()
                    .append_pair("response_type", "code")
                    .append_pair("client_id", &setup.client_id)
                    .append_pair("redirect_uri", HOST_CALLBACK)
                    .append_pair("scope", "openid email profile")
                    .append_pair("state", &format!("state{i}"))
                    .append_pair("nonce", &format!("nonce{i}"))
                    .append_pair("code_challenge", &challenge)
                    .append_pair("code_challenge_method", "S256")
                    .append_pair("login_hint", user.email);
                let res = http.get(url).send().await.expect("authorize");
                assert_eq!(res.status(), 303, "authorize redirects to the IdP");
                let to_idp = location(&res);
                let q: std::collections::HashMap<String, String> = url::Url::parse(&to_idp)
                    .expect("IdP URL")
                    .query_pairs()
                    .into_owned()
                    .collect();
                let (saml_request, relay_state) = (&q["SAMLRequest"], &q["RelayState"]);
                let request = setup.idp.read_request(saml_request).expect("AuthnRequest");
                let choice = setup.idp.choice(&request, relay_state, Utc::now());
                // Signing is CPU work: off the runtime's threads.
                let idp = setup.clone();
                let xml = tokio::task::spawn_blocking(move || {
                    idp.idp.response_xml(&choice, &person(i), Utc::now())
                })
                .await
                .expect("join")
                .expect("signed response");
                out.push(Prepared {
                    acs_url: request.acs_url,
                    saml_response: STANDARD.encode(xml),
                    relay_state: relay_state.clone(),
                    verifier,
                    email: user.email,
                    nonce: format!("nonce{i}"),
                    first: i % new_people_every() == 0,
                });
            }
        }));
    }
    let mut all = Vec::with_capacity(count);
    for t in tasks {
        all.extend(t.await.expect("prepare task"));
    }
    all
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    openssl::rand::rand_bytes(&mut b).expect("random");
    b
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_string()
}

/// One full sign-in: the response in, the code out, the token exchanged.
/// Answers the ID token's payload and how long the ACS took.
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    setup: &Setup,
    p: &Prepared,
) -> (Value, Duration) {
    let started = Instant::now();
    let res = http
        .post(&p.acs_url)
        .form(&[
            ("SAMLResponse", p.saml_response.as_str()),
            ("RelayState", p.relay_state.as_str()),
        ])
        .send()
        .await
        .expect("ACS");
    assert_eq!(
        res.status(),
        303,
        "the ACS sends the browser back to the host"
    );
    let acs_time = started.elapsed();
    let back = location(&res);
    let code = url::Url::parse(&back)
        .expect("callback URL")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {back}"));
    let res = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&setup.client_id, Some(&setup.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", HOST_CALLBACK),
            ("code_verifier", p.verifier.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200, "the code exchanges");
    let tokens: Value = res.json().await.expect("token JSON");
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let payload = id_token.split('.').nth(1).expect("JWT payload");
    let claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims");
    (claims, acs_time)
}

async fn bench_backend(
    database_url: &str,
    zone: &Zone,
    dns: SocketAddr,
    count: usize,
    full: bool,
) -> Figures {
    let secret = SecretKey::generate();
    let server = Server::start(database_url, dns, &secret).await;
    let setup = Arc::new(set_up(&server, zone, &secret).await);
    tokio::time::sleep(Duration::from_secs(if full { 2 } else { 0 })).await;
    let idle_rss_kb = server.rss_kb();

    let warmup = if full { 400 } else { 0 };
    let prepared = Arc::new(prepare(&server, &setup, count + warmup).await);
    let http = no_redirects();
    // At the load's concurrency, so its connections are open before the
    // clock starts.
    drive(&http, &server.base, &setup, &prepared, 0..warmup).await;

    // Memory is sampled from another thread while the load runs.
    let running = Arc::new(AtomicBool::new(true));
    let pid = server.child.id();
    let sampler = {
        let running = running.clone();
        std::thread::spawn(move || {
            let probe = |pid: u32| {
                std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("VmRSS:"))
                            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                    })
                    .unwrap_or(0u64)
            };
            let mut peak = 0;
            while running.load(Ordering::Relaxed) {
                peak = peak.max(probe(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(probe(pid))
        })
    };

    // For profiling: `perf record -p <pid>` from here on sees only the load.
    if full {
        eprintln!("sign-in benchmark: load starts (server pid {pid})");
    }
    let cpu_before = (cpu_time("self"), cpu_time(&pid.to_string()));
    let started = Instant::now();
    let latencies = drive(
        &http,
        &server.base,
        &setup,
        &prepared,
        warmup..warmup + count,
    )
    .await;
    let elapsed = started.elapsed();
    let per_sign_in = |before: Duration, after: Duration| {
        after.saturating_sub(before) / u32::try_from(count).unwrap_or(u32::MAX)
    };
    let client_cpu = per_sign_in(cpu_before.0, cpu_time("self"));
    let server_cpu = per_sign_in(cpu_before.1, cpu_time(&pid.to_string()));
    running.store(false, Ordering::Relaxed);
    let peak_rss_kb = sampler.join().expect("sampler");
    assert_eq!(latencies.len(), count, "every sign-in completed");
    tokio::time::sleep(Duration::from_secs(if full { 2 } else { 0 })).await;
    let idle_after_kb = server.rss_kb();

    if let Ok(path) = std::env::var("SIGN_IN_BENCH_DUMP") {
        let lines: Vec<String> = latencies
            .iter()
            .map(|l| format!("{} {} {}", l.total.as_micros(), l.acs.as_micros(), l.first))
            .collect();
        std::fs::write(path, lines.join("\n")).expect("dump");
    }
    let sorted = |pick: &dyn Fn(&Latency) -> Option<Duration>| {
        let mut v: Vec<Duration> = latencies.iter().filter_map(pick).collect();
        v.sort();
        v
    };
    let totals = sorted(&|l| Some(l.total));
    let acs = sorted(&|l| Some(l.acs));
    let first = sorted(&|l| l.first.then_some(l.total));
    let returning = sorted(&|l| (!l.first).then_some(l.total));
    let at = |v: &[Duration], q: f64| {
        v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        rate: count as f64 / elapsed.as_secs_f64(),
        p50: at(&totals, 0.50),
        p99: at(&totals, 0.99),
        p99_first: at(&first, 0.99),
        p99_returning: at(&returning, 0.99),
        acs_p50: at(&acs, 0.50),
        idle_rss_kb,
        peak_rss_kb,
        idle_after_kb,
        server_cpu,
        client_cpu,
    }
}

/// How long one sign-in took.
struct Latency {
    total: Duration,
    /// The ACS's part.
    acs: Duration,
    /// Whether it was the person's first.
    first: bool,
}

/// The sign-ins `range` of `prepared`, made by concurrent tasks; answers
/// each one's latency.
async fn drive(
    http: &reqwest::Client,
    base: &str,
    setup: &Arc<Setup>,
    prepared: &Arc<Vec<Prepared>>,
    range: std::ops::Range<usize>,
) -> Vec<Latency> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let mut tasks = Vec::new();
    for _ in 0..concurrency().min(range.len()) {
        let (http, next, setup, prepared, base, end) = (
            http.clone(),
            next.clone(),
            setup.clone(),
            prepared.clone(),
            base.to_string(),
            range.end,
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = prepared.get(i).filter(|_| i < end) else {
                    return latencies;
                };
                let t = Instant::now();
                let (claims, acs_time) = sign_in(&http, &base, &setup, p).await;
                latencies.push(Latency {
                    total: t.elapsed(),
                    acs: acs_time,
                    first: p.first,
                });
                assert_eq!(claims["email"], p.email, "the right person");
                assert_eq!(claims["nonce"], p.nonce.as_str());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(range.len());
    for t in tasks {
        latencies.extend(t.await.expect("load task"));
    }
    latencies
}

/// User and system CPU time a process has used so far (`/proc/<pid>/stat`,
/// in clock ticks of 1/100 s, Linux's usual rate).
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime: fields 14 and 15, the 12th and 13th after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// ACS validations per second on one thread for a response of the same
/// shape, as `benches/acs.rs` measures it in detail.
fn acs_only_rate() -> f64 {
    let secret = SecretKey::generate();
    let base = "https://sso.bench.test";
    let idp = DemoIdp::generate("https://idp.bench.test", base, &secret).expect("IdP");
    let sp = sp::urls(base, "conn_bench");
    let request = gatehouse::demo_idp::AuthnRequest {
        id: "_bench_request".into(),
        acs_url: sp.acs_url.clone(),
        issuer: sp.entity_id.clone(),
    };
    let choice = idp.choice(&request, "", Utc::now());
    let xml = idp
        .response_xml(&choice, &person(0), Utc::now())
        .expect("signed");
    let response = STANDARD.encode(&xml);
    let settings_idp = IdpSettings {
        entity_id: idp.entity_id(),
        sso_url: idp.sso_url(),
        binding: Binding::Redirect,
        certificates: parse_pem(&pem(&idp.certificate().der)).expect("certificate"),
    };
    let settings = Settings {
        idp: &settings_idp,
        sp: &sp,
        decryption_keys: &[],
        require_encryption: false,
    };
    let expectation = Expectation::Solicited {
        request_id: "_bench_request".into(),
    };
    let validate = || {
        acs::validate(&response, settings, &expectation, Utc::now()).expect("valid");
    };
    for _ in 0..50 {
        validate();
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(3) {
        validate();
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

fn pem(der_base64: &str) -> String {
    let lines: Vec<&str> = der_base64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
