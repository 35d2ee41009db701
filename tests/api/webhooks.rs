//! Signed webhooks (Standard Webhooks) derived from the audit log: a real
//! receiver on loopback, signatures checked with the `standardwebhooks`
//! crate, retries on the test clock, restarts and two instances at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use gatehouse::clock::Clock;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use standardwebhooks::Webhook;

use crate::helpers::{TestApp, assert_problem, metadata_fixture, on_both, on_both_with, test_cert};

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn event_type(&self) -> String {
        self.json()["type"].as_str().expect("type").to_string()
    }
}

/// A webhook receiver on 127.0.0.1 that records every request and answers
/// 500 to the next `fail_next` of them, 200 after.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(AtomicUsize::new(0));
        let (log, fail) = (received.clone(), failures.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (log, fail) = (log.clone(), fail.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut headers = HeaderMap::new();
                    for line in head.lines().skip(1) {
                        if let Some((name, value)) = line.split_once(':') {
                            headers.append(
                                HeaderName::from_bytes(name.trim().as_bytes()).expect("name"),
                                HeaderValue::from_str(value.trim()).expect("value"),
                            );
                        }
                    }
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                    let failing = fail
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let answered = if failing { 500 } else { 200 };
                    log.lock().expect("log").push(Received {
                        headers,
                        body,
                        answered,
                    });
                    let response = format!(
                        "HTTP/1.1 {answered} Status\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            url,
            received,
            failures,
        }
    }

    fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }

    fn of_type(&self, event_type: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.event_type() == event_type)
            .collect()
    }
}

/// Registers an endpoint through the API; answers (id, secret).
async fn register(app: &TestApp, url: &str, event_types: Option<&[&str]>) -> (String, String) {
    let mut body = json!({ "url": url });
    if let Some(types) = event_types {
        body["event_types"] = json!(types);
    }
    let res = app.api_post("/webhook_endpoints", &body).await;
    assert_eq!(res.status(), 201, "endpoint created");
    let created: Value = res.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_string();
    let secret = created["secret"].as_str().expect("secret").to_string();
    assert!(id.starts_with("whk_"), "{id}");
    assert!(secret.starts_with("whsec_"), "{secret}");
    (id, secret)
}

async fn deliveries(app: &TestApp, endpoint_id: &str) -> Vec<Value> {
    let res = app
        .api_get(&format!(
            "/webhook_endpoints/{endpoint_id}/deliveries?limit=100"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    body["data"].as_array().expect("data").clone()
}

/// Checks the request with the independent Standard Webhooks library:
/// signature, id and timestamp (within its five minutes of real time).
fn assert_signed(secret: &str, r: &Received) {
    let wh = Webhook::new(secret).expect("the secret is in whsec_ form");
    wh.verify(r.body.as_bytes(), &r.headers)
        .unwrap_or_else(|e| panic!("signature does not verify: {e}"));
}

/// Checks only the signature, for attempts whose timestamp the test clock
/// moved far from real time.
fn assert_signature_only(secret: &str, r: &Received) {
    let wh = Webhook::new(secret).expect("secret");
    let ts: i64 = r.header("webhook-timestamp").parse().expect("unix seconds");
    let expected = wh
        .sign(&r.header("webhook-id"), ts, r.body.as_bytes())
        .expect("sign");
    assert!(
        r.header("webhook-signature")
            .split(' ')
            .any(|s| s == expected),
        "signature {} is not {expected}",
        r.header("webhook-signature")
    );
}

async fn okta_connection(app: &TestApp, org_id: &str) -> Value {
    let xml = metadata_fixture("okta", &[&test_cert("okta", 3650)]);
    let res = app
        .api_post(
            &format!("/organizations/{org_id}/connections"),
            &json!({ "provider": "okta", "saml": { "metadata_xml": xml } }),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.expect("json")
}

on_both!(
    an_endpoint_receives_signed_webhooks_for_domain_verification_and_connections,
    |app| {
        let receiver = Receiver::start().await;
        let (endpoint_id, secret) = register(&app, &receiver.url, None).await;
        let org_id = app.verified_org("Acme", "acme.test").await;
        let connection = okta_connection(&app, &org_id).await;

        let pass = app.services.run_webhook_pass().await.expect("pass");
        assert_eq!(pass.failed, 0);
        assert!(pass.delivered >= 4, "{pass:?}");

        let got = receiver.received();
        let types: Vec<String> = got.iter().map(Received::event_type).collect();
        assert_eq!(
            types
                .iter()
                .filter(|t| *t == "webhook_endpoint.created")
                .count(),
            0,
            "only events after the endpoint was registered: {types:?}"
        );
        for r in &got {
            assert_signed(&secret, r);
            assert_eq!(r.header("content-type"), "application/json");
            assert!(r.header("webhook-id").starts_with("msg_"));
        }

        let verified = receiver.of_type("domain.verified");
        assert_eq!(verified.len(), 1, "{types:?}");
        let body = verified[0].json();
        assert_eq!(body["data"]["organization_id"], org_id.as_str());
        assert_eq!(body["data"]["target_type"], "domain");
        assert!(
            body["data"]["target_id"]
                .as_str()
                .expect("target")
                .starts_with("dom_")
        );
        assert!(body["data"]["id"].as_str().expect("id").starts_with("evt_"));
        assert_eq!(body["data"]["actor"]["type"], "api_key");
        assert!(
            chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().expect("ts")).is_ok()
        );
        let audit = app.events("action=domain.verified").await;
        assert_eq!(body["data"]["id"], audit[0]["id"], "the event's own id");
        assert_eq!(body["data"]["data"], audit[0]["data"]);

        let created = receiver.of_type("connection.created");
        assert_eq!(created.len(), 1, "{types:?}");
        assert_eq!(created[0].json()["data"]["target_id"], connection["id"]);

        let listed = deliveries(&app, &endpoint_id).await;
        assert_eq!(listed.len(), got.len());
        for d in &listed {
            assert_eq!(d["status"], "delivered");
            assert_eq!(d["attempts"], 1);
            assert_eq!(d["last_status"], 200);
            assert_eq!(d["next_attempt_at"], Value::Null);
            assert_eq!(d["last_error"], Value::Null);
        }
        let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
        for d in &listed {
            assert!(ids.contains(&d["id"].as_str().expect("id").to_string()));
        }

        let again = app.services.run_webhook_pass().await.expect("pass");
        assert_eq!((again.enqueued, again.delivered), (0, 0), "nothing twice");
        assert_eq!(receiver.received().len(), got.len());
    }
);

on_both!(
    a_failing_endpoint_is_retried_with_backoff_under_the_same_webhook_id,
    |app| {
        let receiver = Receiver::start().await;
        let (endpoint_id, secret) =
            register(&app, &receiver.url, Some(&["organization.created"])).await;
        receiver.fail_next(2);
        app.create_org("Acme", false).await;

        let pass = app.services.run_webhook_pass().await.expect("pass");
        assert_eq!((pass.delivered, pass.failed), (0, 1));
        let d = &deliveries(&app, &endpoint_id).await[0];
        assert_eq!(d["status"], "pending");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["last_status"], 500);
        assert!(
            d["last_error"]
                .as_str()
                .expect("error")
                .contains("HTTP 500")
        );
        let next =
            chrono::DateTime::parse_from_rfc3339(d["next_attempt_at"].as_str().expect("next"))
                .expect("time");
        let last =
            chrono::DateTime::parse_from_rfc3339(d["last_attempt_at"].as_str().expect("last"))
                .expect("time");
        assert_eq!((next - last).num_seconds(), 5, "first retry after 5 s");

        app.services.run_webhook_pass().await.expect("pass");
        assert_eq!(receiver.received().len(), 1, "not before the retry is due");

        app.clock.advance(chrono::Duration::seconds(5));
        let pass = app.services.run_webhook_pass().await.expect("pass");
        assert_eq!(pass.failed, 1);
        let d = &deliveries(&app, &endpoint_id).await[0];
        assert_eq!(d["attempts"], 2);
        app.clock.advance(chrono::Duration::seconds(10));
        app.services.run_webhook_pass().await.expect("pass");
        assert_eq!(receiver.received().len(), 2, "the second retry waits 30 s");

        app.clock.advance(chrono::Duration::seconds(20));
        let pass = app.services.run_webhook_pass().await.expect("pass");
        assert_eq!(pass.delivered, 1);

        let got = receiver.received();
        assert_eq!(
            got.iter().map(|r| r.answered).collect::<Vec<_>>(),
            vec![500, 500, 200]
        );
        let id = got[0].header("webhook-id");
        assert!(
            got.iter().all(|r| r.header("webhook-id") == id),
            "one id for every attempt"
        );
        assert!(got.iter().all(|r| r.body == got[0].body), "the same body");
        assert_ne!(
            got[0].header("webhook-timestamp"),
            got[2].header("webhook-timestamp")
        );
        for r in &got {
            assert_signature_only(&secret, r);
        }
        assert_signed(&secret, &got[2]);
        let d = &deliveries(&app, &endpoint_id).await[0];
        assert_eq!(d["status"], "delivered");
        assert_eq!(d["attempts"], 3);
        assert_eq!(d["last_status"], 200);
        assert_eq!(d["last_error"], Value::Null);
        assert_eq!(d["id"], id.as_str());
    }
);

on_both!(
    an_endpoint_that_never_answers_is_given_up_after_about_a_day,
    |app| {
        // A port nobody listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hooks", closed.local_addr().expect("addr"));
        drop(closed);
        let (endpoint_id, _) = register(&app, &url, None).await;
        app.create_org("Acme", false).await;

        let start = app.clock.now();
        let mut attempts = 0;
        for _ in 0..40 {
            let pass = app.services.run_webhook_pass().await.expect("pass");
            attempts += pass.failed;
            app.clock.advance(chrono::Duration::hours(1));
        }
        let d = &deliveries(&app, &endpoint_id).await[0];
        assert_eq!(d["status"], "failed");
        assert_eq!(d["attempts"], 11);
        assert_eq!(attempts, 11);
        assert_eq!(d["next_attempt_at"], Value::Null);
        assert_eq!(d["last_status"], Value::Null);
        assert!(
            d["last_error"].as_str().expect("error").contains("connect"),
            "{d}"
        );
        let last = chrono::DateTime::parse_from_rfc3339(d["last_attempt_at"].as_str().expect("t"))
            .expect("time")
            .with_timezone(&chrono::Utc);
        let span = last - start;
        assert!(
            span > chrono::Duration::hours(20) && span < chrono::Duration::hours(30),
            "{span}"
        );
        let pass = app.services.run_webhook_pass().await.expect("pass");
        assert_eq!(pass.failed, 0, "no attempts after giving up");
    }
);

on_both!(no_webhook_is_lost_when_an_instance_stops, |app| {
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = register(&app, &receiver.url, None).await;

    // Recorded while no pass runs.
    let org = app.create_org("Before", false).await;
    // One instance enqueues, claims the delivery and dies before sending.
    let enqueued = app.services.enqueue_webhooks().await.expect("enqueue");
    assert_eq!(enqueued, 1);
    let now = app.clock.now();
    let claimed = app
        .services
        .store
        .claim_due_webhook_deliveries(now, now + chrono::Duration::seconds(60), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    // And one more event after the last pass.
    app.create_org("After", false).await;

    let other = app.second_instance().await;
    let pass = other.services.run_webhook_pass().await.expect("pass");
    assert_eq!(pass.delivered, 1, "the leased delivery waits for its lease");
    assert_eq!(receiver.of_type("organization.created").len(), 1);

    app.clock.advance(chrono::Duration::seconds(61));
    let pass = other.services.run_webhook_pass().await.expect("pass");
    assert_eq!(pass.delivered, 1, "then the other instance sends it");

    let got = receiver.of_type("organization.created");
    assert_eq!(got.len(), 2);
    let names: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["data"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        names.contains(&"Before".to_string()) && names.contains(&"After".to_string()),
        "{names:?}"
    );
    assert!(
        got.iter()
            .any(|r| r.json()["data"]["target_id"] == org["id"])
    );
    for r in &got {
        assert_signed(&secret, r);
    }
    let listed = deliveries(&app, &endpoint_id).await;
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1)
    );
});

on_both!(
    two_instances_running_passes_at_once_deliver_each_event_once,
    |app| {
        let receiver = Receiver::start().await;
        let (endpoint_id, _) = register(&app, &receiver.url, Some(&["organization.created"])).await;
        let other = app.second_instance().await;
        for i in 0..12 {
            app.create_org(&format!("Org {i}"), false).await;
        }
        for _ in 0..3 {
            let (a, b) = tokio::join!(
                app.services.run_webhook_pass(),
                other.services.run_webhook_pass()
            );
            a.expect("pass a");
            b.expect("pass b");
        }
        let got = receiver.received();
        assert_eq!(got.len(), 12, "each event exactly once");
        let mut ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        let mut events: Vec<String> = got
            .iter()
            .map(|r| r.json()["data"]["id"].as_str().expect("id").to_string())
            .collect();
        events.sort();
        events.dedup();
        assert_eq!(events.len(), 12, "twelve different events");
        assert_eq!(deliveries(&app, &endpoint_id).await.len(), 12);
        let stored = app
            .text_column("SELECT event_id FROM webhook_deliveries")
            .await;
        assert_eq!(stored.len(), 12, "one delivery row per event");
    }
);

on_both!(event_types_choose_what_an_endpoint_receives, |app| {
    let only_verified = Receiver::start().await;
    let everything = Receiver::start().await;
    register(&app, &everything.url, Some(&[])).await;
    let (_, secret) = register(
        &app,
        &only_verified.url,
        Some(&["domain.verified", "user.created"]),
    )
    .await;
    app.verified_org("Acme", "acme.test").await;
    app.services.run_webhook_pass().await.expect("pass");

    let types: Vec<String> = only_verified
        .received()
        .iter()
        .map(Received::event_type)
        .collect();
    assert_eq!(types, vec!["domain.verified"]);
    assert_signed(&secret, &only_verified.received()[0]);
    let all: Vec<String> = everything
        .received()
        .iter()
        .map(Received::event_type)
        .collect();
    for t in [
        "webhook_endpoint.created",
        "organization.created",
        "domain.created",
        "domain.verified",
    ] {
        assert!(all.contains(&t.to_string()), "{t} in {all:?}");
    }

    let listed: Value = app
        .api_get("/webhook_endpoints")
        .await
        .json()
        .await
        .expect("json");
    let lists: Vec<Value> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["event_types"].clone())
        .collect();
    assert_eq!(
        lists,
        vec![json!(["domain.verified", "user.created"]), json!([])]
    );

    for bad in [
        json!(["Domain.Verified"]),
        json!([""]),
        json!(["a b"]),
        json!("domain.verified"),
    ] {
        let res = app
            .api_post(
                "/webhook_endpoints",
                &json!({ "url": only_verified.url, "event_types": bad }),
            )
            .await;
        assert!(
            res.status() == 422 || res.status() == 400,
            "{bad}: {}",
            res.status()
        );
    }
});

on_both!(
    events_committed_below_the_cursor_are_still_delivered,
    |app| {
        let receiver = Receiver::start().await;
        let (endpoint_id, _) =
            register(&app, &receiver.url, Some(&["late.event", "early.event"])).await;
        app.create_org("Acme", false).await;
        app.services.run_webhook_pass().await.expect("pass");
        let cursor = app
            .text_column(&format!(
                "SELECT cursor FROM webhook_endpoints WHERE id = '{endpoint_id}'"
            ))
            .await
            .remove(0);
        let start = app
            .text_column(&format!(
                "SELECT start_cursor FROM webhook_endpoints WHERE id = '{endpoint_id}'"
            ))
            .await
            .remove(0);
        assert!(cursor > start, "the cursor moved");
        let ulid = |id: &str| ulid::Ulid::from_string(&id[4..].to_ascii_uppercase()).expect("ulid");
        let event_id = |u: ulid::Ulid| format!("evt_{}", u.to_string().to_ascii_lowercase());
        // An event whose transaction took its id before the cursor moved past
        // it, and committed after; and one from before the endpoint existed.
        let late = event_id(ulid::Ulid(ulid(&cursor).0 - 1));
        let early = event_id(ulid::Ulid::from_parts(
            ulid(&start).timestamp_ms() - 5_000,
            1,
        ));
        let now = app.clock.now().to_rfc3339();
        for (id, action) in [(&late, "late.event"), (&early, "early.event")] {
            app.execute(&format!(
            "INSERT INTO audit_events (id, organization_id, actor_type, actor_id, actor_label, action, \
             target_type, target_id, data, request_id, created_at) VALUES ('{id}', NULL, 'system', NULL, \
             'Gatehouse', '{action}', 'test', 'x', '{{}}', NULL, '{now}')"
        ))
        .await;
        }
        assert!(
            late <= cursor && late > start,
            "{late} in ({start}, {cursor}]"
        );
        app.services.run_webhook_pass().await.expect("pass");
        let types: Vec<String> = receiver
            .received()
            .iter()
            .map(Received::event_type)
            .collect();
        assert_eq!(
            types,
            vec!["late.event"],
            "the late one, not the one from before"
        );
    }
);

on_both!(the_secret_is_shown_once_and_sealed_at_rest, |app| {
    let receiver = Receiver::start().await;
    let (id, secret) = register(&app, &receiver.url, None).await;
    let key_b64 = secret.trim_start_matches("whsec_").to_string();

    let list = app
        .api_get("/webhook_endpoints")
        .await
        .text()
        .await
        .expect("text");
    let one = app
        .api_get(&format!("/webhook_endpoints/{id}"))
        .await
        .text()
        .await
        .expect("text");
    for text in [&list, &one] {
        assert!(
            !text.contains("whsec_") && !text.contains(&key_b64),
            "{text}"
        );
        assert!(!text.contains("\"secret\""), "{text}");
    }
    let stored = app
        .text_column("SELECT secret_sealed FROM webhook_endpoints")
        .await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("v1."), "sealed");
    assert!(!stored[0].contains(&key_b64));
    let everything = app
        .text_column("SELECT url || event_types || cursor FROM webhook_endpoints")
        .await
        .join(" ");
    assert!(!everything.contains(&key_b64));
    let events = app
        .text_column("SELECT data FROM audit_events")
        .await
        .join(" ");
    assert!(!events.contains(&key_b64) && !events.contains("whsec_"));
    // Opening it with another instance's key fails, so delivery reports it.
    app.execute(&format!(
        "UPDATE webhook_endpoints SET secret_sealed = 'v1.AAAA' WHERE id = '{id}'"
    ))
    .await;
    app.create_org("Acme", false).await;
    let pass = app.services.run_webhook_pass().await.expect("pass");
    assert_eq!(pass.failed, 1);
    assert!(receiver.received().is_empty(), "nothing unsigned is sent");
    let d = &deliveries(&app, &id).await[0];
    assert!(d["last_error"].as_str().expect("error").contains("secret"));
    assert!(!app.logs().contains(&key_b64), "never logged");
});

on_both_with!(
    endpoint_urls_must_be_public_https,
    |c| c.allow_private_network_fetch = false,
    |app| {
        for url in [
            "http://hooks.example.com/in",
            "https://127.0.0.1/in",
            "https://10.1.2.3/in",
            "https://[::1]/in",
            "https://user:pw@hooks.example.com/in",
            "hooks.example.com/in",
            "",
        ] {
            let res = app
                .api_post("/webhook_endpoints", &json!({ "url": url }))
                .await;
            assert_problem(res, 422, "webhook_url_invalid").await;
        }
        let res = app
            .api_post(
                "/webhook_endpoints",
                &json!({ "url": "https://hooks.example.com/in" }),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
);

on_both!(endpoints_are_listed_deleted_and_audited, |app| {
    let receiver = Receiver::start().await;
    let (first, _) = register(&app, &format!("{}?token=abc", receiver.url), None).await;
    let (second, _) = register(&app, &receiver.url, Some(&["domain.verified"])).await;

    let page: Value = app
        .api_get("/webhook_endpoints?limit=1")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["data"][0]["id"], second.as_str(), "newest first");
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let page: Value = app
        .api_get(&format!("/webhook_endpoints?limit=1&cursor={cursor}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["data"][0]["id"], first.as_str());
    assert_eq!(page["next_cursor"], Value::Null);
    let one: Value = app
        .api_get(&format!("/webhook_endpoints/{first}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["url"], format!("{}?token=abc", receiver.url));
    assert_eq!(one["event_types"], json!([]));

    app.create_org("Acme", false).await;
    app.services.enqueue_webhooks().await.expect("enqueue");
    assert_eq!(
        deliveries(&app, &first).await.len(),
        2,
        "org and second endpoint"
    );

    let res = app
        .api_send(
            reqwest::Method::DELETE,
            &format!("/webhook_endpoints/{first}"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        app.api_get(&format!("/webhook_endpoints/{first}")).await,
        404,
        "webhook_endpoint_not_found",
    )
    .await;
    assert_problem(
        app.api_get(&format!("/webhook_endpoints/{first}/deliveries"))
            .await,
        404,
        "webhook_endpoint_not_found",
    )
    .await;
    assert_problem(
        app.api_send(
            reqwest::Method::DELETE,
            &format!("/webhook_endpoints/{first}"),
            &json!({}),
        )
        .await,
        404,
        "webhook_endpoint_not_found",
    )
    .await;
    assert_problem(
        app.api_get("/webhook_endpoints/nope").await,
        404,
        "webhook_endpoint_not_found",
    )
    .await;
    let stored = app
        .text_column(&format!(
            "SELECT id FROM webhook_deliveries WHERE endpoint_id = '{first}'"
        ))
        .await;
    assert!(stored.is_empty(), "its deliveries went with it");
    let pass = app.services.run_webhook_pass().await.expect("pass");
    assert_eq!(pass.delivered + pass.failed, 0);
    assert!(receiver.received().is_empty());

    let created = app.events("action=webhook_endpoint.created").await;
    assert_eq!(created.len(), 2);
    let audited = created
        .iter()
        .find(|e| e["target"]["id"] == first.as_str())
        .expect("first endpoint's event");
    assert_eq!(audited["actor"]["type"], "api_key");
    assert_eq!(
        audited["data"]["url"],
        receiver.url.as_str(),
        "no query string in the log"
    );
    let deleted = app.events("action=webhook_endpoint.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["target"]["id"], first.as_str());

    let res = app
        .api
        .get(app.url("/api/v1/webhook_endpoints"))
        .send()
        .await
        .expect("no key");
    assert_eq!(res.status(), 401);
    assert_problem(
        app.api_send(reqwest::Method::PUT, "/webhook_endpoints", &json!({}))
            .await,
        405,
        "method_not_allowed",
    )
    .await;
    assert_problem(
        app.api_post(
            "/webhook_endpoints",
            &json!({ "url": receiver.url, "secret": "x" }),
        )
        .await,
        400,
        "invalid_body",
    )
    .await;
});

on_both!(a_paused_endpoint_catches_up_when_resumed, |app| {
    let receiver = Receiver::start().await;
    let (id, secret) = register(&app, &receiver.url, Some(&["organization.created"])).await;
    let res = app
        .api_patch(
            &format!("/webhook_endpoints/{id}"),
            &json!({ "enabled": false }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["enabled"], false);
    app.create_org("Paused Co", false).await;
    app.services.run_webhook_pass().await.expect("pass");
    assert!(receiver.received().is_empty(), "nothing while paused");

    let res = app
        .api_patch(
            &format!("/webhook_endpoints/{id}"),
            &json!({ "enabled": true }),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.services.run_webhook_pass().await.expect("pass");
    let received = receiver.received();
    assert_eq!(received.len(), 1, "what happened meanwhile arrives");
    assert_eq!(received[0].event_type(), "organization.created");
    assert_signed(&secret, &received[0]);
    assert_eq!(
        app.events("action=webhook_endpoint.disabled").await.len(),
        1
    );
});

/// Rotates an endpoint's secret through the API; answers the body.
async fn rotate(app: &TestApp, endpoint_id: &str) -> Value {
    let res = app
        .api_post(
            &format!("/webhook_endpoints/{endpoint_id}/rotate_secret"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "secret rotated");
    res.json().await.expect("json")
}

/// Whether the request carries a signature under this secret (whatever its
/// timestamp).
fn signed_with(secret: &str, r: &Received) -> bool {
    let wh = Webhook::new(secret).expect("secret");
    let ts: i64 = r.header("webhook-timestamp").parse().expect("unix seconds");
    let expected = wh
        .sign(&r.header("webhook-id"), ts, r.body.as_bytes())
        .expect("sign");
    r.header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

on_both!(a_rotated_secret_signs_beside_the_old_one_for_a_day, |app| {
    let receiver = Receiver::start().await;
    let (id, old) = register(
        &app,
        &receiver.url,
        Some(&["organization.created", "webhook_endpoint.secret_rotated"]),
    )
    .await;

    // The new secret, shown once, in the creation's form.
    let rotated_at = app.clock.now();
    let body = rotate(&app, &id).await;
    let new = body["secret"].as_str().expect("secret").to_string();
    assert!(new.starts_with("whsec_"), "{new}");
    assert_ne!(new, old);
    let key = base64::engine::general_purpose::STANDARD
        .decode(new.trim_start_matches("whsec_"))
        .expect("base64");
    assert_eq!(key.len(), 32);
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["url"], receiver.url.as_str());
    let until = chrono::DateTime::parse_from_rfc3339(
        body["previous_secret_expires_at"]
            .as_str()
            .expect("overlap end"),
    )
    .expect("time");
    let overlap = until.with_timezone(&chrono::Utc) - rotated_at;
    assert!(
        (24 * 3600 - 1..=24 * 3600).contains(&overlap.num_seconds()),
        "24 hours (the view shows whole seconds): {overlap}"
    );
    let one = app
        .api_get(&format!("/webhook_endpoints/{id}"))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        !one.contains("whsec_") && !one.contains("\"secret\""),
        "{one}"
    );
    let one: Value = serde_json::from_str(&one).expect("json");
    assert_eq!(
        one["previous_secret_expires_at"],
        body["previous_secret_expires_at"]
    );

    // Both secrets sealed at rest, neither in the clear anywhere.
    let old_b64 = old.trim_start_matches("whsec_");
    let new_b64 = new.trim_start_matches("whsec_");
    let stored = app
        .text_column("SELECT secret_sealed || ' ' || previous_secret_sealed FROM webhook_endpoints")
        .await;
    assert_eq!(stored.len(), 1);
    let (current, previous) = stored[0].split_once(' ').expect("two sealed secrets");
    assert!(current.starts_with("v1.") && previous.starts_with("v1."));
    assert!(!stored[0].contains(old_b64) && !stored[0].contains(new_b64));

    // Audited, without the secret.
    let events = app.events("action=webhook_endpoint.secret_rotated").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["target"]["id"], id.as_str());
    assert_eq!(events[0]["actor"]["type"], "api_key");
    assert_eq!(
        events[0]["data"]["previous_secret_expires_at"],
        body["previous_secret_expires_at"]
    );
    let logged = app
        .text_column("SELECT data FROM audit_events")
        .await
        .join(" ");
    assert!(!logged.contains("whsec_") && !logged.contains(new_b64) && !logged.contains(old_b64));

    // During the overlap, every delivery verifies with either secret.
    app.create_org("During", false).await;
    let pass = app.services.run_webhook_pass().await.expect("pass");
    assert_eq!((pass.delivered, pass.failed), (2, 0), "{pass:?}");
    for r in receiver.received() {
        assert_eq!(r.header("webhook-signature").split(' ').count(), 2, "{r:?}");
        assert!(r.header("webhook-signature").starts_with("v1,"));
        assert_signed(&new, &r);
        assert_signed(&old, &r);
    }
    assert_eq!(receiver.of_type("webhook_endpoint.secret_rotated").len(), 1);

    // Just before the end, still both.
    app.clock
        .advance(chrono::Duration::hours(24) - chrono::Duration::seconds(1));
    app.create_org("Late", false).await;
    app.services.run_webhook_pass().await.expect("pass");
    let late = receiver.of_type("organization.created");
    assert_eq!(late.len(), 2);
    assert!(signed_with(&new, &late[1]) && signed_with(&old, &late[1]));

    // After it, the new secret alone; the old one is forgotten.
    app.clock.advance(chrono::Duration::seconds(1));
    app.create_org("After", false).await;
    let pass = app.services.run_webhook_pass().await.expect("pass");
    assert_eq!(pass.delivered, 1);
    let after = receiver.of_type("organization.created");
    assert_eq!(after.len(), 3);
    assert_eq!(
        after[2].json()["data"]["data"]["name"],
        "After",
        "{}",
        after[2].body
    );
    assert_eq!(after[2].header("webhook-signature").split(' ').count(), 1);
    assert_signature_only(&new, &after[2]);
    assert!(
        !signed_with(&old, &after[2]),
        "the old secret no longer signs"
    );
    let forgotten = app
        .text_column(&format!(
            "SELECT COALESCE(previous_secret_sealed, 'none') FROM webhook_endpoints WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(forgotten, ["none"]);
    let one: Value = app
        .api_get(&format!("/webhook_endpoints/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["previous_secret_expires_at"], Value::Null);
});

on_both!(
    rotating_again_drops_the_oldest_secret_and_unknown_endpoints_are_not_found,
    |app| {
        let receiver = Receiver::start().await;
        let (id, first) = register(&app, &receiver.url, Some(&["organization.created"])).await;
        let second = rotate(&app, &id).await["secret"]
            .as_str()
            .expect("secret")
            .to_string();
        let third = rotate(&app, &id).await["secret"]
            .as_str()
            .expect("secret")
            .to_string();
        app.create_org("Acme", false).await;
        app.services.run_webhook_pass().await.expect("pass");
        let got = receiver.received();
        assert_eq!(got.len(), 1);
        assert_signed(&third, &got[0]);
        assert_signed(&second, &got[0]);
        assert!(!signed_with(&first, &got[0]), "only one previous secret");
        assert_eq!(
            app.events("action=webhook_endpoint.secret_rotated")
                .await
                .len(),
            2
        );

        // Unknown endpoints: the API's problem answer.
        assert_problem(
            app.api_post("/webhook_endpoints/nope/rotate_secret", &json!({}))
                .await,
            404,
            "webhook_endpoint_not_found",
        )
        .await;
        let res = app
            .api_send(
                reqwest::Method::DELETE,
                &format!("/webhook_endpoints/{id}"),
                &json!({}),
            )
            .await;
        assert_eq!(res.status(), 204);
        assert_problem(
            app.api_post(
                &format!("/webhook_endpoints/{id}/rotate_secret"),
                &json!({}),
            )
            .await,
            404,
            "webhook_endpoint_not_found",
        )
        .await;
        assert_problem(
            app.api_get(&format!("/webhook_endpoints/{id}/rotate_secret"))
                .await,
            405,
            "method_not_allowed",
        )
        .await;
    }
);

on_both!(ids_follow_the_database_clock, |app| {
    // The fan-out pages the audit log by id and looks back only a minute
    // for late commits: on PostgreSQL, several instances' ids must order
    // by one clock, the database's.
    let ahead = app
        .services
        .store
        .database_clock_ahead()
        .await
        .expect("the database's clock");
    match app.backend {
        crate::helpers::Backend::Sqlite => assert_eq!(ahead, None, "one machine, one clock"),
        crate::helpers::Backend::Postgres => {
            let ahead = ahead.expect("measured");
            assert!(ahead.abs() < chrono::Duration::seconds(2), "{ahead}");
        }
    }
});

/// Waits (up to 8 s, well under the 20 s full pass) until the receiver has
/// `n` requests.
async fn receives(receiver: &Receiver, n: usize) -> Vec<Received> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    loop {
        let got = receiver.received();
        if got.len() >= n || std::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

on_both_with!(
    webhooks_leave_moments_after_their_event_and_retries_on_schedule,
    |c| c.run_background_jobs = true,
    |app| {
        let receiver = Receiver::start().await;
        register(&app, &receiver.url, Some(&["organization.created"])).await;
        receiver.fail_next(1);
        app.api_post("/organizations", &json!({ "name": "Acme" }))
            .await;
        let got = receives(&receiver, 1).await;
        assert_eq!(
            got.len(),
            1,
            "sent by the background sender, not a test call"
        );
        assert_eq!(got[0].answered, 500);

        // The first retry is due 5 s later, by the service's clock.
        app.clock.advance(chrono::Duration::seconds(6));
        let got = receives(&receiver, 2).await;
        assert_eq!(got.len(), 2, "retried when due");
        assert_eq!(got[1].answered, 200);
        assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"));
    }
);
