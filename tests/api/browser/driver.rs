//! Headless Chromium (Debian's `chromium`) driven over WebDriver through
//! its `chromedriver`, with the few moves the journeys need: waiting for
//! elements, typing, clicking, switching frames and windows, screenshots,
//! and an axe-core audit of the page as it stands.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::InputSource;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::free_port;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long an element may take to appear (a page load, an htmx swap).
const WAIT: Duration = Duration::from_secs(15);
pub const TAB: char = '\u{E004}';
pub const ENTER: char = '\u{E007}';

/// One browser at a time: two Chromiums on two cores slow every other test.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the page runs scripts: the journey is also walked without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripts {
    On,
    Off,
}

/// The colour scheme the browser asks pages for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Light,
    Dark,
}

pub struct Browser {
    pub client: Client,
    pub scripts: Scripts,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    pub async fn start(scripts: Scripts, scheme: Scheme) -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists(),
            "the browser tests need Debian's chromium and chromium-driver: run ./scripts/test, which installs them"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1280,1000",
            "--force-color-profile=srgb",
            "--hide-scrollbars",
            "--lang=en-US",
        ];
        // Blink's own settings: its colour scheme (0 is dark) and scripts.
        let blink = match (scripts, scheme) {
            (Scripts::On, Scheme::Light) => None,
            (Scripts::On, Scheme::Dark) => Some("--blink-settings=preferredColorScheme=0"),
            (Scripts::Off, Scheme::Light) => Some("--blink-settings=scriptEnabled=false"),
            (Scripts::Off, Scheme::Dark) => {
                Some("--blink-settings=scriptEnabled=false,preferredColorScheme=0")
            }
        };
        args.extend(blink);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut tries = 0;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver did not start a session: {e}"),
            }
        };
        // A page that never finishes loading fails the test in seconds,
        // not after WebDriver's five-minute default.
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(20)),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts");
        Self {
            client,
            scripts,
            driver,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The element, once it is there.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Waits until the page's text contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let body = self.body_text().await;
            if body.contains(text) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the page never said {text:?}; it says:\n{body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks the button or link whose text is `text`.
    pub async fn click_text(&self, text: &str) {
        let xpath = format!(
            "//*[self::button or self::a][normalize-space(.)={}]",
            xpath_literal(text)
        );
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button or link {text:?}: {e}"))
            .click()
            .await
            .expect("click");
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.clear().await.expect("clear");
        el.send_keys(value).await.expect("type");
    }

    /// Enters the iframe the tab is embedded in.
    /// Tries again while the page is still being replaced (a form post
    /// that reloads it leaves a stale frame behind for a moment).
    pub async fn enter_frame(&self, css: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            match self.find(css).await.enter_frame().await {
                Ok(()) => return,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot enter the frame {css}: {e}"),
            }
        }
    }

    pub async fn leave_frame(&self) {
        self.client.enter_parent_frame().await.expect("leave frame");
    }

    /// Waits for a second window (a popup) and switches to it; answers the
    /// handle of the window it came from.
    pub async fn switch_to_popup(&self) -> fantoccini::wd::WindowHandle {
        let first = self.client.window().await.expect("window");
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let windows = self.client.windows().await.expect("windows");
            if let Some(popup) = windows.into_iter().find(|w| *w != first) {
                self.client
                    .switch_to_window(popup)
                    .await
                    .expect("switch to popup");
                return first;
            }
            assert!(std::time::Instant::now() < deadline, "no popup opened");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the window into target/screenshots (and, for the
    /// README's pictures, tests/screenshots when `readme` is set).
    pub async fn screenshot(&self, name: &str, readme: bool) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), &png).expect("write screenshot");
        if readme && std::env::var_os("GATEHOUSE_UPDATE_SCREENSHOTS").is_some() {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/screenshots");
            std::fs::create_dir_all(&dir).expect("screenshot dir");
            std::fs::write(dir.join(format!("{name}.png")), &png).expect("write screenshot");
        }
    }

    /// Runs axe-core on the current document (the frame the driver is in)
    /// and fails on any serious or critical violation. With scripts off
    /// the driver cannot run axe either; those journeys show the same
    /// documents, which the scripted journeys audit.
    pub async fn assert_accessible(&self, state: &str) {
        if self.scripts == Scripts::Off {
            return;
        }
        let source = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/browser/node_modules/axe-core/axe.min.js"
        ))
        .expect("axe-core is installed (./scripts/test runs npm ci in tests/browser)");
        self.client
            .execute(&format!("{source}\n;return true;"), vec![])
            .await
            .expect("inject axe-core");
        let result = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, { resultTypes: ['violations'] })
                  .then(r => done(r.violations.map(v => ({
                      id: v.id, impact: v.impact, help: v.help,
                      nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }))))
                  .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));"#,
                vec![],
            )
            .await
            .expect("axe ran");
        let bad: Vec<&Value> = result
            .as_array()
            .map(|v| {
                v.iter()
                    .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            bad.is_empty(),
            "axe-core found serious or critical problems in {state}: {}",
            serde_json::to_string_pretty(&bad).unwrap_or_default()
        );
    }

    /// The element that has keyboard focus: its tag, text (spaces
    /// collapsed), name, value, href and whether its focus is visibly drawn
    /// (an outline or a box shadow).
    pub async fn focused(&self) -> Value {
        self.client
            .execute(
                r#"const el = document.activeElement;
                if (!el || el === document.body) return null;
                const s = getComputedStyle(el);
                const drawn = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                    || (s.boxShadow && s.boxShadow !== 'none');
                return { tag: el.tagName.toLowerCase(),
                         text: (el.innerText || '').trim().split(/\s+/).join(' '),
                         name: el.getAttribute('name'), value: el.getAttribute('value'),
                         href: el.getAttribute('href'), tab_stop: el.tabIndex >= 0,
                         visible: drawn };"#,
                vec![],
            )
            .await
            .expect("focused element")
    }

    /// Presses Tab until `wanted` holds for the focused element (see
    /// `focused`), checking at every stop that the focus is drawn; panics
    /// if the keyboard never gets there.
    pub async fn tab_until(&self, what: &str, wanted: impl Fn(&Value) -> bool) {
        for _ in 0..80 {
            self.press(TAB).await;
            let f = self.focused().await;
            // Nothing yet, or the page's own landing spot after a step
            // loads (`main`, focusable by script only): not a tab stop.
            if f.is_null() || f["tab_stop"] == false {
                continue;
            }
            assert_eq!(f["visible"], true, "the keyboard focus is not drawn on {f}");
            if wanted(&f) {
                return;
            }
        }
        panic!("Tab never reached {what}");
    }

    /// Tabs to the button or link that reads `text`.
    pub async fn tab_to(&self, text: &str) {
        self.tab_until(text, |f| f["text"] == text).await;
    }

    /// Presses one key (WebDriver's key codes: `TAB`, `ENTER`).
    pub async fn press(&self, key: char) {
        use fantoccini::actions::{KeyAction, KeyActions};
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(actions)
            .await
            .expect("key press");
    }

    /// Presses keys on whatever has focus.
    pub async fn keys(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .expect("active element")
            .send_keys(keys)
            .await
            .expect("keys");
    }

    /// Ends the WebDriver session; dropping the browser stops chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
