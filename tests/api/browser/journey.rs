//! The journeys, step by step.

use serde_json::{Value, json};

use super::driver::{Browser, ENTER, ONE_AT_A_TIME, Scheme, Scripts};
use super::peers::{HostPage, SamlIdp};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::oidc_provider::TestOidc;

/// The identity provider the admin connects.
enum Idp {
    Saml(SamlIdp),
    Oidc(TestOidc),
}

/// Where the admin works: inside the host page's iframe, or on its own
/// through a setup link.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Embedded,
    Standalone,
}

const FRAME: &str = "#gatehouse";

/// Gatehouse, an organization, the host page embedding its tab, and the
/// host's OAuth client.
struct World {
    app: TestApp,
    org_id: String,
    host: HostPage,
}

async fn world() -> World {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite");
    let org = app.create_org("Acme", true).await;
    let org_id = org["id"].as_str().expect("id").to_string();
    let (listener, host_origin) = HostPage::bind();
    let client: Value = app
        .api_post(
            "/oauth_clients",
            &json!({ "name": "Acme CRM", "redirect_uris": [HostPage::callback_url(&host_origin)] }),
        )
        .await
        .json()
        .await
        .expect("client");
    let host = HostPage::start(listener, host_origin, &app.address, &client, &org_id);
    World { app, org_id, host }
}

/// The pictures the README shows (tests/screenshots).
const README_PICTURES: &[&str] = &[
    "embedded-saml-overview",
    "embedded-saml-connection-picker",
    "embedded-saml-connection-okta",
    "embedded-saml-test-result-popup",
    "embedded-saml-test-passed",
    "embedded-saml-active",
    "embedded-saml-host-signed-in",
    "embedded-oidc-connection-oidc-saved",
    "standalone-dark-saml-domains-verified",
    "demo-signed-in",
];

/// Checks the page (axe-core) and saves its picture, named after the
/// journey and the step.
async fn checkpoint(b: &Browser, journey: &str, step: &str) {
    let name = format!("{journey}-{step}");
    b.assert_accessible(&name).await;
    picture(b, &name).await;
}

async fn picture(b: &Browser, name: &str) {
    b.screenshot(name, README_PICTURES.contains(&name)).await;
}

/// Step 1, as the admin does it: add the domain, publish the TXT record at
/// the DNS provider (the test DNS server), verify.
async fn verify_domain(b: &Browser, w: &World, j: &str) {
    b.click("a[href='/security/domains']").await;
    b.fill("#domain-input", "acme.test").await;
    b.click_text("Add domain").await;
    b.wait_for_text("Verify now").await;
    checkpoint(b, j, "domains-pending").await;
    let name = b
        .find("[id$='-name']")
        .await
        .text()
        .await
        .expect("TXT name");
    let value = b
        .find("[id$='-value']")
        .await
        .text()
        .await
        .expect("TXT value");
    w.app
        .dns
        .zone("acme.test")
        .set_txt(name.trim(), &[&[value.trim()]])
        .await
        .expect("publish");
    b.click_text("Verify now").await;
    b.wait_for_text("1 domain verified").await;
    checkpoint(b, j, "domains-verified").await;
}

/// Step 2 for Okta over SAML: pick it, read the values to copy, give the
/// identity provider's metadata URL.
async fn connect_saml(b: &Browser, w: &World, idp: &SamlIdp, j: &str) {
    b.click("a[href='/security/connection']").await;
    b.wait_for_text("Okta").await;
    checkpoint(b, j, "connection-picker").await;
    b.click("button[name='provider'][value='okta']").await;
    let acs = b.find("#sp-acs").await.text().await.expect("ACS URL");
    assert!(
        acs.starts_with(&format!("{}/saml/", w.app.address)) && acs.trim().ends_with("/acs"),
        "the instructions show the ACS URL to copy: {acs}"
    );
    checkpoint(b, j, "connection-okta").await;
    b.fill("#idp-url", &idp.metadata_url()).await;
    b.click_text("Fetch & save").await;
    b.wait_for_text("test-idp.acme.test").await;
    checkpoint(b, j, "connection-saved").await;
}

/// Step 2 over OpenID Connect: pick "Custom OIDC", register Gatehouse's
/// redirect URI at the provider (as the admin would in its console), give
/// the issuer and the client's credentials.
async fn connect_oidc(b: &Browser, provider: &TestOidc, j: &str) {
    b.click("a[href='/security/connection']").await;
    b.click("button[name='provider'][value='custom_oidc']")
        .await;
    let redirect = b
        .find("#oidc-redirect")
        .await
        .text()
        .await
        .expect("redirect URI");
    provider
        .add_client(
            "gatehouse",
            "a-client-secret-for-the-browser",
            redirect.trim(),
        )
        .await;
    checkpoint(b, j, "connection-oidc").await;
    b.fill("#oidc-issuer", &provider.issuer).await;
    b.fill("#oidc-client-id", "gatehouse").await;
    b.fill("#oidc-client-secret", "a-client-secret-for-the-browser")
        .await;
    b.click_text("Check & save").await;
    b.wait_for_text("ends in").await;
    checkpoint(b, j, "connection-oidc-saved").await;
}

/// Signs in at the identity provider's pages, as far as they ask.
async fn at_the_identity_provider(b: &Browser, idp: &Idp, scripts: Scripts) {
    if let Idp::Saml(_) = idp {
        b.click_text("Sign in").await;
        if scripts == Scripts::Off {
            // The response form posts itself only with scripts.
            b.click_text("Continue").await;
        }
    }
}

/// Step 3: the test sign-in in a popup (a new tab without scripts); the
/// result comes back to the tab by itself, or on reload without scripts.
async fn test_sign_in(b: &Browser, idp: &Idp, mode: Mode, scripts: Scripts, j: &str) {
    b.click("a[href='/security/test']").await;
    b.wait_for_text("Test sign-in").await;
    checkpoint(b, j, "test").await;
    b.click("a[data-popup]").await;
    let tab = b.switch_to_popup().await;
    at_the_identity_provider(b, idp, scripts).await;
    b.wait_for_text("Test passed: signed in as alice@acme.test")
        .await;
    checkpoint(b, j, "test-result-popup").await;
    b.client.close_window().await.expect("close popup");
    b.client
        .switch_to_window(tab)
        .await
        .expect("back to the tab");
    if scripts == Scripts::Off {
        // Without scripts the admin reloads; the host page mints a new
        // embed session, which opens on the overview.
        b.client.refresh().await.expect("reload");
    }
    if mode == Mode::Embedded {
        b.enter_frame(FRAME).await;
    }
    if scripts == Scripts::Off {
        b.click("a[href='/security/test']").await;
    }
    b.wait_for_text("Passed").await;
    b.wait_for_text("alice@acme.test").await;
    checkpoint(b, j, "test-passed").await;
    role_rule(b, j).await;
}

/// A role rule in the Test step: a bad role is refused beside the form,
/// which keeps what was typed; corrected, the rule is listed.
async fn role_rule(b: &Browser, j: &str) {
    b.fill("#rule-group", "Engineering").await;
    b.fill("#rule-role", "two words").await;
    b.click_text("Add rule").await;
    b.wait_for_text("is not a role name").await;
    checkpoint(b, j, "role-rule-refused").await;
    let kept = b
        .find("#rule-group")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("Engineering"));
    b.fill("#rule-role", "admin").await;
    b.click_text("Add rule").await;
    let row = b.find("tr[data-rule='1']").await;
    let text = row.text().await.expect("row");
    assert!(
        text.contains("Engineering") && text.contains("admin"),
        "{text}"
    );
}

/// Step 4.
async fn activate(b: &Browser, j: &str) {
    b.click("a[href='/security/activate']").await;
    b.wait_for_text("Activate single sign-on").await;
    checkpoint(b, j, "activate").await;
    b.click_text("Activate single sign-on").await;
    b.wait_for_text("Deactivate").await;
    checkpoint(b, j, "active").await;
}

/// The end user on the host page: SSO through the identity provider, and
/// the identity the host received.
async fn end_user_signs_in(b: &Browser, w: &World, idp: &Idp, scripts: Scripts, j: &str) {
    b.goto(&w.host.origin).await;
    b.fill("#sso-email", "alice@acme.test").await;
    b.click_text("Continue with SSO").await;
    at_the_identity_provider(b, idp, scripts).await;
    b.wait_for_text("Welcome, Alice").await;
    let email = b.find("#email").await.text().await.expect("email");
    assert_eq!(email, "alice@acme.test");
    let org = b.find("#org").await.text().await.expect("org");
    assert_eq!(org, w.org_id);
    picture(b, &format!("{j}-host-signed-in")).await;
}

/// The host page's record of what the tab told it.
async fn events(b: &Browser) -> Vec<String> {
    let v = b
        .client
        .execute(
            "return (window.gatehouseEvents || []).map(e => e.type);",
            vec![],
        )
        .await
        .expect("events");
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The admin's whole journey, then an end user's sign-in.
async fn walk(idp: Idp, mode: Mode, scripts: Scripts, scheme: Scheme, j: &str) {
    let _one = ONE_AT_A_TIME.lock().await;
    let w = world().await;
    let b = Browser::start(scripts, scheme).await;
    match mode {
        Mode::Embedded => {
            b.goto(&w.host.origin).await;
            b.enter_frame(FRAME).await;
        }
        Mode::Standalone => b.goto(&w.app.portal_link(&w.org_id).await).await,
    }
    b.wait_for_text("Set up single sign-on").await;
    checkpoint(&b, j, "overview").await;
    verify_domain(&b, &w, j).await;
    match &idp {
        Idp::Saml(saml) => connect_saml(&b, &w, saml, j).await,
        Idp::Oidc(provider) => connect_oidc(&b, provider, j).await,
    }
    test_sign_in(&b, &idp, mode, scripts, j).await;
    activate(&b, j).await;
    if mode == Mode::Embedded {
        b.leave_frame().await;
        picture(&b, &format!("{j}-host-page")).await;
        if scripts == Scripts::On {
            let told = events(&b).await;
            for event in [
                "gatehouse:height",
                "gatehouse:step",
                "gatehouse:connection-tested",
                "gatehouse:connection-activated",
            ] {
                assert!(
                    told.iter().any(|t| t == event),
                    "the host page heard {event}: {told:?}"
                );
            }
        }
    }
    end_user_signs_in(&b, &w, &idp, scripts, j).await;
    b.close().await;
}

fn alice() -> serde_json::Value {
    json!([{ "sub": "alice-at-the-provider", "email": "alice@acme.test", "email_verified": true,
        "given_name": "Alice", "family_name": "Liddell" }])
}

#[tokio::test]
async fn saml_inside_the_host_page() {
    walk(
        Idp::Saml(SamlIdp::start()),
        Mode::Embedded,
        Scripts::On,
        Scheme::Light,
        "embedded-saml",
    )
    .await;
}

#[tokio::test]
async fn oidc_inside_the_host_page() {
    walk(
        Idp::Oidc(TestOidc::start(alice())),
        Mode::Embedded,
        Scripts::On,
        Scheme::Light,
        "embedded-oidc",
    )
    .await;
}

#[tokio::test]
async fn saml_through_a_setup_link_in_dark_mode() {
    walk(
        Idp::Saml(SamlIdp::start()),
        Mode::Standalone,
        Scripts::On,
        Scheme::Dark,
        "standalone-dark-saml",
    )
    .await;
}

#[tokio::test]
async fn oidc_through_a_setup_link_without_scripts() {
    walk(
        Idp::Oidc(TestOidc::start(alice())),
        Mode::Standalone,
        Scripts::Off,
        Scheme::Light,
        "noscript-oidc",
    )
    .await;
}

#[tokio::test]
async fn saml_inside_the_host_page_without_scripts() {
    walk(
        Idp::Saml(SamlIdp::start()),
        Mode::Embedded,
        Scripts::Off,
        Scheme::Light,
        "noscript-embedded-saml",
    )
    .await;
}

/// The whole wizard with the keyboard alone: every stop on the way has its
/// focus drawn, and Enter does what a click does.
#[tokio::test]
async fn the_wizard_works_by_keyboard_alone() {
    let _one = ONE_AT_A_TIME.lock().await;
    let w = world().await;
    let idp = SamlIdp::start();
    let b = Browser::start(Scripts::On, Scheme::Light).await;
    let href = |h: &'static str| move |f: &Value| f["href"] == h;
    b.goto(&w.app.portal_link(&w.org_id).await).await;
    b.wait_for_text("Set up single sign-on").await;

    b.tab_until("the Domains step", href("/security/domains"))
        .await;
    b.press(ENTER).await;
    b.tab_until("the domain field", |f| f["name"] == "domain")
        .await;
    b.keys("acme.test").await;
    b.press(ENTER).await;
    b.wait_for_text("Verify now").await;
    let name = b
        .find("[id$='-name']")
        .await
        .text()
        .await
        .expect("TXT name");
    let value = b
        .find("[id$='-value']")
        .await
        .text()
        .await
        .expect("TXT value");
    w.app
        .dns
        .zone("acme.test")
        .set_txt(name.trim(), &[&[value.trim()]])
        .await
        .expect("publish");
    b.tab_to("Verify now").await;
    b.press(ENTER).await;
    b.wait_for_text("1 domain verified").await;

    b.tab_until("the Connection step", href("/security/connection"))
        .await;
    b.press(ENTER).await;
    b.tab_until("Okta", |f| f["name"] == "provider" && f["value"] == "okta")
        .await;
    b.press(ENTER).await;
    b.tab_until("the metadata URL field", |f| f["name"] == "metadata_url")
        .await;
    b.keys(&idp.metadata_url()).await;
    b.press(ENTER).await;
    b.wait_for_text("test-idp.acme.test").await;

    b.tab_until("the Test step", href("/security/test")).await;
    b.press(ENTER).await;
    b.tab_to("Test sign-in").await;
    b.press(ENTER).await;
    let tab = b.switch_to_popup().await;
    b.tab_to("Sign in").await;
    b.press(ENTER).await;
    b.wait_for_text("Test passed: signed in as alice@acme.test")
        .await;
    b.client.close_window().await.expect("close popup");
    b.client
        .switch_to_window(tab)
        .await
        .expect("back to the tab");
    b.wait_for_text("Passed").await;

    b.tab_until("the Activate step", href("/security/activate"))
        .await;
    b.press(ENTER).await;
    b.tab_to("Activate single sign-on").await;
    b.press(ENTER).await;
    b.wait_for_text("Deactivate").await;
    b.close().await;
}

/// A session that ends inside the iframe says so in the tab (no sign-in
/// page) and tells the host page, which can mint a new embed token.
#[tokio::test]
async fn a_session_that_ends_inside_the_iframe_says_so_and_tells_the_host() {
    let _one = ONE_AT_A_TIME.lock().await;
    let w = world().await;
    let b = Browser::start(Scripts::On, Scheme::Light).await;
    b.goto(&w.host.origin).await;
    b.enter_frame(FRAME).await;
    b.wait_for_text("Set up single sign-on").await;
    w.app.clock.advance(
        chrono::Duration::from_std(w.app.config.admin_session_ttl).expect("ttl")
            + chrono::Duration::minutes(1),
    );
    b.click("a[href='/security/domains']").await;
    b.wait_for_text("Your session has ended").await;
    let text = b.body_text().await;
    assert!(
        !text.to_lowercase().contains("password"),
        "no sign-in form: {text}"
    );
    checkpoint(&b, "embedded", "session-ended").await;
    b.leave_frame().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !events(&b)
        .await
        .iter()
        .any(|e| e == "gatehouse:session-expired")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the host page never heard gatehouse:session-expired: {:?}",
            events(&b).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.close().await;
}

/// The host's product name and accent colour reach the tab, in light and
/// dark mode, and the colours pass axe-core's contrast checks.
#[tokio::test]
async fn the_tab_wears_the_hosts_branding() {
    let _one = ONE_AT_A_TIME.lock().await;
    let w = world().await;
    let res = w
        .app
        .api_send(
            reqwest::Method::PUT,
            "/branding",
            &json!({ "product_name": "Acme CRM", "accent_color": "#0b7a75" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    for scheme in [Scheme::Light, Scheme::Dark] {
        let b = Browser::start(Scripts::On, scheme).await;
        b.goto(&w.app.portal_link(&w.org_id).await).await;
        b.wait_for_text("Acme CRM").await;
        let accent = b
            .client
            .execute(
                "return getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();",
                vec![],
            )
            .await
            .expect("accent");
        let accent = accent.as_str().unwrap_or_default().to_ascii_lowercase();
        match scheme {
            Scheme::Light => assert_eq!(accent, "#0b7a75"),
            Scheme::Dark => assert!(
                accent.starts_with('#') && accent != "#0b7a75",
                "a lighter accent for dark mode: {accent}"
            ),
        }
        let name = match scheme {
            Scheme::Light => "branded-light",
            Scheme::Dark => "branded-dark",
        };
        checkpoint(&b, name, "overview").await;
        b.click("a[href='/security/connection']").await;
        b.wait_for_text("Okta").await;
        checkpoint(&b, name, "connection-picker").await;
        b.close().await;
    }
}

/// What the README promises a newcomer: `gatehouse demo`, nothing else
/// installed, and the four steps in the sample host page's iframe lead to a
/// signed-in user on that page.
#[tokio::test]
async fn a_newcomer_walks_the_demo_to_a_signed_in_user() {
    let _one = ONE_AT_A_TIME.lock().await;
    let demo = crate::demo_idp::Demo::start();
    let started = std::time::Instant::now();
    let b = Browser::start(Scripts::On, Scheme::Light).await;
    let page = format!("{}/demo", demo.host);
    let frame = "#gatehouse-frame";
    b.goto(&page).await;
    let metadata_url = b
        .find("#demo-metadata-url")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("the metadata URL is shown");

    b.enter_frame(frame).await;
    b.click("a[href='/security/domains']").await;
    b.fill("#domain-input", "acme.test").await;
    b.click_text("Add domain").await;
    b.wait_for_text("Verify now").await;
    b.leave_frame().await;
    b.click_text("Publish my TXT records").await;
    b.enter_frame(frame).await;
    b.click("a[href='/security/domains']").await;
    b.click_text("Verify now").await;
    b.wait_for_text("1 domain verified").await;

    b.click("a[href='/security/connection']").await;
    b.click("button[name='provider'][value='custom_saml']")
        .await;
    b.fill("#idp-url", &metadata_url).await;
    b.click_text("Fetch & save").await;
    b.wait_for_text("Configured").await;

    b.click("a[href='/security/test']").await;
    b.click("a[data-popup]").await;
    let tab = b.switch_to_popup().await;
    b.click("button[name='user'][value='alice@acme.test']")
        .await;
    b.wait_for_text("Test passed: signed in as alice@acme.test")
        .await;
    b.client.close_window().await.expect("close popup");
    b.client.switch_to_window(tab).await.expect("back");
    b.enter_frame(frame).await;
    b.wait_for_text("Passed").await;

    b.click("a[href='/security/activate']").await;
    b.wait_for_text("Activate single sign-on").await;
    b.click_text("Activate single sign-on").await;
    b.wait_for_text("Deactivate").await;
    b.leave_frame().await;

    b.click("form.host-login button[type='submit']").await;
    b.click("button[name='user'][value='alice@acme.test']")
        .await;
    b.wait_for_text("Signed in as Alice Liddell").await;
    picture(&b, "demo-signed-in").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(300),
        "the demo walkthrough took {:?}",
        started.elapsed()
    );
    b.close().await;
}
