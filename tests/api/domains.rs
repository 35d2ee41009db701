//! Domains through the host API, verified against a real DNS server.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, on_both, on_both_with};

async fn add(app: &TestApp, org_id: &str, domain: &str) -> Value {
    let res = app
        .api_post(
            &format!("/organizations/{org_id}/domains"),
            &json!({ "domain": domain }),
        )
        .await;
    assert_eq!(res.status(), 201, "add {domain}");
    res.json().await.expect("json")
}

async fn verify(app: &TestApp, domain: &Value) -> Value {
    let res = app
        .api_post(
            &format!("/domains/{}/verify", domain["id"].as_str().expect("id")),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "verify answers the domain");
    res.json().await.expect("json")
}

fn record(domain: &Value) -> (String, String) {
    (
        domain["txt_record"]["name"]
            .as_str()
            .expect("name")
            .to_string(),
        domain["txt_record"]["value"]
            .as_str()
            .expect("value")
            .to_string(),
    )
}

async fn org(app: &TestApp, name: &str) -> String {
    app.create_org(name, true).await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

on_both!(a_new_domain_is_pending_with_the_record_to_publish, |app| {
    let org_id = org(&app, "Acme").await;
    let d = add(&app, &org_id, "  ACME.test. ").await;
    assert!(d["id"].as_str().expect("id").starts_with("dom_"));
    assert_eq!(d["domain"], "acme.test");
    assert_eq!(d["status"], "pending");
    assert_eq!(d["purpose"], "sso");
    assert_eq!(d["organization_id"], org_id);
    let (name, value) = record(&d);
    assert_eq!(name, "_gatehouse-challenge.acme.test");
    let token = value
        .strip_prefix("gatehouse-domain-verification=")
        .expect("prefix");
    assert!(token.len() * 4 >= 128, "at least 128 bits: {token}");
    assert_eq!(d["verified_at"], Value::Null);
    let listed: Value = app
        .api_get(&format!("/organizations/{org_id}/domains"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["data"][0], d);
    let other = add(&app, &org(&app, "Other").await, "acme.test").await;
    assert_ne!(record(&other).1, value, "each claim has its own token");
});

on_both!(publishing_the_record_verifies_the_domain, |app| {
    let org_id = org(&app, "Acme").await;
    let d = add(&app, &org_id, "acme.test").await;
    let (name, value) = record(&d);
    let before = verify(&app, &d).await;
    assert_eq!(before["status"], "pending");
    assert_eq!(before["last_error_code"], "dns_no_such_name");
    assert!(
        before["last_error"]
            .as_str()
            .expect("message")
            .contains(&name)
    );

    app.dns
        .zone("acme.test")
        .set_txt(&name, &[&["v=spf1 -all"], &[&value]])
        .await
        .expect("publish");
    let after = verify(&app, &d).await;
    assert_eq!(after["status"], "verified", "{after}");
    assert!(after["verified_at"].as_str().is_some());
    assert_eq!(after["last_error_code"], Value::Null);
    assert_eq!(app.events("action=domain.verified").await.len(), 1);
    assert_eq!(
        app.events("action=domain.verification_failed").await.len(),
        1
    );
    let again = verify(&app, &d).await;
    assert_eq!(again["status"], "verified");
    assert_eq!(
        app.events("action=domain.verified").await.len(),
        1,
        "verified once"
    );
});

on_both!(a_record_with_the_wrong_token_is_refused_and_shown, |app| {
    let d = add(&app, &org(&app, "Acme").await, "acme.test").await;
    let (name, _) = record(&d);
    app.dns
        .zone("acme.test")
        .set_txt(&name, &[&["gatehouse-domain-verification=0000000000"]])
        .await
        .expect("publish");
    let after = verify(&app, &d).await;
    assert_eq!(after["status"], "pending");
    assert_eq!(after["last_error_code"], "dns_token_mismatch");
    assert!(
        after["last_error"]
            .as_str()
            .expect("message")
            .contains("gatehouse-domain-verification=0000000000"),
        "says what was seen: {after}"
    );
});

on_both!(
    the_token_must_be_in_one_record_not_spread_over_several,
    |app| {
        let d = add(&app, &org(&app, "Acme").await, "acme.test").await;
        let (name, value) = record(&d);
        let (head, tail) = value.split_at(20);
        let zone = app.dns.zone("acme.test");
        zone.set_txt(&name, &[&[head], &[tail]])
            .await
            .expect("publish");
        assert_eq!(
            verify(&app, &d).await["last_error_code"],
            "dns_token_mismatch"
        );
        zone.set_txt(&name, &[&[&format!("prefix {value}")]])
            .await
            .expect("publish");
        assert_eq!(
            verify(&app, &d).await["last_error_code"],
            "dns_token_mismatch",
            "no substring match"
        );
        // One record made of several character-strings is joined.
        zone.set_txt(&name, &[&[head, tail]])
            .await
            .expect("publish");
        assert_eq!(verify(&app, &d).await["status"], "verified");
    }
);

on_both!(a_name_without_a_txt_record_says_so, |app| {
    let d = add(&app, &org(&app, "Acme").await, "acme.test").await;
    let (name, _) = record(&d);
    app.dns
        .zone("acme.test")
        .set_a(&name, "192.0.2.10".parse().expect("ip"))
        .await
        .expect("publish");
    let after = verify(&app, &d).await;
    assert_eq!(after["last_error_code"], "dns_no_txt_record", "{after}");
});

on_both!(a_wildcard_txt_record_counts, |app| {
    let d = add(&app, &org(&app, "Wild").await, "wild.test").await;
    let (_, value) = record(&d);
    app.dns
        .zone("wild.test")
        .set_txt("*.wild.test", &[&[&value]])
        .await
        .expect("publish");
    assert_eq!(verify(&app, &d).await["status"], "verified");
});

on_both!(a_cname_to_a_name_holding_the_token_counts, |app| {
    let d = add(&app, &org(&app, "Alias").await, "alias.test").await;
    let (name, value) = record(&d);
    let zone = app.dns.zone("alias.test");
    zone.set_txt("tokens.alias.test", &[&[&value]])
        .await
        .expect("target");
    zone.set_cname(&name, "tokens.alias.test")
        .await
        .expect("alias");
    assert_eq!(verify(&app, &d).await["status"], "verified");

    // Across zones too: the alias may point at a name in another zone.
    let d = add(&app, &org(&app, "Globex").await, "globex.test").await;
    let (name, value) = record(&d);
    app.dns
        .zone("acme.test")
        .set_txt("globex-token.acme.test", &[&[&value]])
        .await
        .expect("target");
    app.dns
        .zone("globex.test")
        .set_cname(&name, "globex-token.acme.test")
        .await
        .expect("alias");
    assert_eq!(verify(&app, &d).await["status"], "verified");
});

on_both!(a_failing_nameserver_is_a_server_failure, |app| {
    let org_id = org(&app, "Broken").await;
    let d = add(&app, &org_id, "broken.test").await;
    let after = verify(&app, &d).await;
    assert_eq!(
        after["last_error_code"], "dns_server_failure",
        "SERVFAIL: {after}"
    );
    let d = add(&app, &org_id, "elsewhere.example").await;
    let after = verify(&app, &d).await;
    assert_eq!(
        after["last_error_code"], "dns_server_failure",
        "REFUSED: {after}"
    );
    assert!(
        after["last_error"]
            .as_str()
            .expect("message")
            .contains("REFUSED")
            || after["last_error"].as_str().expect("m").contains("Refused")
    );
});

/// A nameserver that takes queries and never answers, on UDP and TCP.
async fn silent_nameserver() -> std::net::SocketAddr {
    // UDP picks the port; if TCP cannot have the same one, try another.
    let (udp, tcp) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp");
        if let Ok(tcp) = tokio::net::TcpListener::bind(udp.local_addr().expect("addr")).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            let _ = udp.recv_from(&mut buf).await;
        }
    });
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = tcp.accept().await {
            held.push(s);
        }
    });
    addr
}

mod timeout {
    use super::*;
    use crate::helpers::{Backend, spawn_app_with};

    async fn run(backend: Backend) {
        let silent = silent_nameserver().await;
        let Some(app) = spawn_app_with(backend, |c| c.dns_servers = vec![silent]).await else {
            return;
        };
        let d = add(&app, &org(&app, "Acme").await, "acme.test").await;
        let started = std::time::Instant::now();
        let after = verify(&app, &d).await;
        assert_eq!(after["last_error_code"], "dns_timeout", "{after}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "answers within 5 s"
        );
    }

    #[tokio::test]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}

on_both!(
    public_suffixes_free_mail_and_non_domains_are_refused,
    |app| {
        let org_id = org(&app, "Acme").await;
        let path = format!("/organizations/{org_id}/domains");
        for (domain, code) in [
            ("co.uk", "domain_public_suffix"),
            ("github.io", "domain_public_suffix"),
            ("com", "domain_invalid"),
            ("gmail.com", "domain_free_email_provider"),
            ("outlook.com", "domain_free_email_provider"),
            ("yahoo.com", "domain_free_email_provider"),
            ("mailinator.com", "domain_free_email_provider"),
            ("192.0.2.1", "domain_invalid"),
            ("https://acme.test/", "domain_invalid"),
            ("alice@acme.test", "domain_invalid"),
            ("not a domain", "domain_invalid"),
        ] {
            let res = app.api_post(&path, &json!({ "domain": domain })).await;
            let problem = assert_problem(res, 422, code).await;
            assert!(
                problem["detail"].as_str().expect("detail").len() > 20,
                "{domain}: a plain reason"
            );
        }
        let res = app
            .api_post(&path, &json!({ "domain": "acme.github.io" }))
            .await;
        assert_eq!(
            res.status(),
            201,
            "a name under a private suffix is someone's own"
        );
        let d = add(&app, &org_id, "Bücher.test").await;
        assert_eq!(d["domain"], "xn--bcher-kva.test");
        assert_eq!(d["domain_unicode"], "bücher.test");
        assert_eq!(
            d["txt_record"]["name"],
            "_gatehouse-challenge.xn--bcher-kva.test"
        );
    }
);

on_both_with!(
    the_free_mail_list_is_configurable,
    |c: &mut gatehouse::config::Config| {
        c.extra_blocked_domains = vec!["freemail.test".into()];
        c.unblocked_domains = vec!["gmx.de".into()];
    },
    |app| {
        let path = format!("/organizations/{}/domains", org(&app, "Acme").await);
        let res = app
            .api_post(&path, &json!({ "domain": "freemail.test" }))
            .await;
        assert_problem(res, 422, "domain_free_email_provider").await;
        let res = app.api_post(&path, &json!({ "domain": "gmx.de" })).await;
        assert_eq!(res.status(), 201);
    }
);

on_both!(a_verified_domain_belongs_to_one_organization, |app| {
    let acme = org(&app, "Acme").await;
    let rival = org(&app, "Rival").await;
    let mine = add(&app, &acme, "acme.test").await;
    let theirs = add(&app, &rival, "acme.test").await;
    assert_eq!(
        theirs["status"], "pending",
        "a pending claim never blocks another"
    );

    let (name, value) = record(&mine);
    app.dns
        .zone("acme.test")
        .set_txt(&name, &[&[&value]])
        .await
        .expect("publish");
    assert_eq!(verify(&app, &mine).await["status"], "verified");

    // The rival publishes its own token too, but the domain is taken.
    app.dns
        .zone("acme.test")
        .set_txt(&name, &[&[&value], &[&record(&theirs).1]])
        .await
        .expect("publish");
    let res = app
        .api_post(
            &format!("/domains/{}/verify", theirs["id"].as_str().expect("id")),
            &json!({}),
        )
        .await;
    let problem = assert_problem(res, 409, "domain_unavailable").await;
    assert!(
        !problem["detail"].as_str().expect("detail").contains("Acme"),
        "never says who has it"
    );

    let third = org(&app, "Third").await;
    let res = app
        .api_post(
            &format!("/organizations/{third}/domains"),
            &json!({ "domain": "acme.test" }),
        )
        .await;
    let problem = assert_problem(res, 409, "domain_unavailable").await;
    assert!(!problem["detail"].as_str().expect("detail").contains(&acme));

    // A look-alike is a different domain: no bare suffix matching.
    let res = app
        .api_post(
            &format!("/organizations/{third}/domains"),
            &json!({ "domain": "evil-acme.test" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .api_post(
            &format!("/organizations/{acme}/domains"),
            &json!({ "domain": "acme.test" }),
        )
        .await;
    assert_problem(res, 409, "domain_exists").await;
});

on_both!(
    two_instances_verifying_at_once_record_one_verification,
    |app| {
        let second = app.second_instance().await;
        let d = add(&app, &org(&app, "Acme").await, "acme.test").await;
        let (name, value) = record(&d);
        app.dns
            .zone("acme.test")
            .set_txt(&name, &[&[&value]])
            .await
            .expect("publish");
        let id = d["id"].as_str().expect("id").to_string();
        let call = |base: String| {
            let url = format!("{base}/api/v1/domains/{id}/verify");
            async move {
                crate::helpers::client()
                    .post(url)
                    .bearer_auth(crate::helpers::API_KEY)
                    .send()
                    .await
                    .expect("verify")
                    .json::<Value>()
                    .await
                    .expect("json")
            }
        };
        let results = futures_util::future::join_all((0..4).map(|i| {
            call(if i % 2 == 0 {
                app.address.clone()
            } else {
                second.address.clone()
            })
        }))
        .await;
        for r in &results {
            assert_eq!(r["status"], "verified", "{r}");
        }
        assert_eq!(
            app.events("action=domain.verified").await.len(),
            1,
            "one verification recorded"
        );
    }
);

on_both!(
    background_checks_verify_and_run_once_across_instances,
    |app| {
        let second = app.second_instance().await;
        let org_id = org(&app, "Acme").await;
        let d = add(&app, &org_id, "acme.test").await;
        add(&app, &org_id, "globex.test").await;
        let (name, value) = record(&d);
        app.dns
            .zone("acme.test")
            .set_txt(&name, &[&[&value]])
            .await
            .expect("publish");

        assert_eq!(
            app.services.run_due_domain_checks().await.expect("pass"),
            0,
            "not due yet"
        );
        app.clock.advance(chrono::Duration::minutes(5));
        let (a, b) = tokio::join!(
            app.services.run_due_domain_checks(),
            second.services.run_due_domain_checks()
        );
        assert_eq!(
            a.expect("a") + b.expect("b"),
            2,
            "each due domain checked exactly once"
        );
        let fetched: Value = app
            .api_get(&format!("/domains/{}", d["id"].as_str().expect("id")))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(fetched["status"], "verified");
        let events = app.events("action=domain.verified").await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["actor"]["type"], "system");
        assert_eq!(
            app.services.run_due_domain_checks().await.expect("pass"),
            0,
            "next check not due yet"
        );
        assert!(
            app.events("action=domain.verification_failed")
                .await
                .is_empty(),
            "background failures are not audited one by one"
        );
    }
);

on_both!(
    after_seven_days_without_the_record_a_domain_fails_and_can_be_retried,
    |app| {
        let d = add(&app, &org(&app, "Acme").await, "acme.test").await;
        let id = d["id"].as_str().expect("id");
        for _ in 0..3 {
            app.clock.advance(chrono::Duration::days(3));
            app.services.run_due_domain_checks().await.expect("pass");
        }
        let failed: Value = app
            .api_get(&format!("/domains/{id}"))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(failed["status"], "failed", "{failed}");
        assert_eq!(failed["last_error_code"], "dns_no_such_name");
        assert_eq!(
            failed["next_check_at"],
            Value::Null,
            "no more automatic checks"
        );
        assert_eq!(app.events("action=domain.failed").await.len(), 1);
        app.clock.advance(chrono::Duration::minutes(10));
        assert_eq!(app.services.run_due_domain_checks().await.expect("pass"), 0);

        let (name, value) = record(&d);
        app.dns
            .zone("acme.test")
            .set_txt(&name, &[&[&value]])
            .await
            .expect("publish");
        assert_eq!(
            verify(&app, &d).await["status"],
            "verified",
            "checking again restarts and succeeds"
        );
        assert_eq!(app.events("action=domain.checks_restarted").await.len(), 1);
    }
);

on_both!(domains_can_change_purpose_and_be_removed, |app| {
    let org_id = org(&app, "Acme").await;
    let d = add(&app, &org_id, "acme.test").await;
    let path = format!("/domains/{}", d["id"].as_str().expect("id"));
    let res = app
        .api_patch(&path, &json!({ "purpose": "verified_only" }))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.expect("json")["purpose"],
        "verified_only"
    );
    let res = app.api_patch(&path, &json!({ "purpose": "both" })).await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(problem["field"], "purpose");

    let res = app
        .api
        .delete(app.url(&format!("/api/v1{path}")))
        .bearer_auth(crate::helpers::API_KEY)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    assert_problem(app.api_get(&path).await, 404, "domain_not_found").await;
    let actions: Vec<_> = app
        .events(&format!("organization_id={org_id}"))
        .await
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect();
    assert_eq!(
        &actions[..3],
        ["domain.deleted", "domain.updated", "domain.created"]
    );
    assert_problem(
        app.api_get("/domains/dom_nonsense").await,
        404,
        "domain_not_found",
    )
    .await;
    assert_problem(
        app.api_get("/organizations/org_01aaaaaaaaaaaaaaaaaaaaaaaa/domains")
            .await,
        404,
        "organization_not_found",
    )
    .await;
});
