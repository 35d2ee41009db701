//! The SSRF-safe fetcher against real HTTP servers on loopback: 127.0.0.1
//! plays a public server and 127.0.0.2 an internal one.

use std::net::IpAddr;
use std::sync::Arc;

use gatehouse::fetch::{Fetcher, Policy};

use crate::helpers::{Answer, serve_http};

fn pretend_public_except_127_0_0_2() -> Fetcher {
    Fetcher::new(Policy {
        allow_private: false,
        allow_http: true,
        is_internal: Arc::new(|ip: IpAddr| ip == IpAddr::from([127, 0, 0, 2])),
    })
    .expect("fetcher")
}

#[tokio::test]
async fn a_redirect_to_an_internal_address_is_refused() {
    let internal = serve_http(
        "127.0.0.2",
        vec![("/secret", Answer::Body("text/plain", "internal".into()))],
    )
    .await;
    let public = serve_http(
        "127.0.0.1",
        vec![
            ("/metadata", Answer::Redirect(format!("{internal}/secret"))),
            ("/fine", Answer::Body("application/xml", "<ok/>".into())),
        ],
    )
    .await;
    let fetcher = pretend_public_except_127_0_0_2();
    let ok = fetcher
        .get(&format!("{public}/fine"), "*/*")
        .await
        .expect("public fetch works");
    assert_eq!(ok.body, b"<ok/>");
    let err = fetcher
        .get(&format!("{public}/metadata"), "*/*")
        .await
        .expect_err("refused");
    assert_eq!(err.code, "fetch_private_address");
    let err = fetcher
        .get(&format!("{internal}/secret"), "*/*")
        .await
        .expect_err("refused");
    assert_eq!(err.code, "fetch_private_address");
}

#[tokio::test]
async fn redirects_are_capped() {
    let base = serve_http(
        "127.0.0.1",
        vec![
            ("/a", Answer::Redirect("/b".into())),
            ("/b", Answer::Redirect("/a".into())),
        ],
    )
    .await;
    let err = pretend_public_except_127_0_0_2()
        .get(&format!("{base}/a"), "*/*")
        .await
        .expect_err("loop");
    assert_eq!(err.code, "fetch_too_many_redirects");
}

#[tokio::test]
async fn oversized_documents_are_refused() {
    let big = "x".repeat(gatehouse::fetch::MAX_BYTES + 10);
    let base = serve_http(
        "127.0.0.1",
        vec![("/big", Answer::Body("application/xml", big))],
    )
    .await;
    let err = pretend_public_except_127_0_0_2()
        .get(&format!("{base}/big"), "*/*")
        .await
        .expect_err("too big");
    assert_eq!(err.code, "fetch_too_large");
}

#[tokio::test]
async fn by_default_loopback_is_refused_even_by_name() {
    let base = serve_http(
        "127.0.0.1",
        vec![("/x", Answer::Body("text/plain", "x".into()))],
    )
    .await;
    let strict = Fetcher::new(Policy {
        allow_http: true,
        ..Policy::new(false)
    })
    .expect("fetcher");
    let err = strict
        .get(&format!("{base}/x"), "*/*")
        .await
        .expect_err("literal");
    assert_eq!(err.code, "fetch_private_address");
    let by_name = base.replace("127.0.0.1", "localhost");
    let err = strict
        .get(&format!("{by_name}/x"), "*/*")
        .await
        .expect_err("name");
    assert_eq!(err.code, "fetch_private_address");
    let relaxed = Fetcher::new(Policy::new(true)).expect("fetcher");
    assert!(
        relaxed.get(&format!("{base}/x"), "*/*").await.is_ok(),
        "allowed when configured"
    );
}
