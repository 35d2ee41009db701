//! The whole journey in headless Chromium, as people go through it: the IT
//! admin inside the host page's iframe (another origin) adds and verifies
//! the domain, chooses the identity provider, reads the instructions, gives
//! the provider's metadata, runs the test sign-in in a popup and activates;
//! then an end user signs in to the host page through the provider. Each
//! step is checked with axe-core and saved as a screenshot
//! (target/screenshots; `GATEHOUSE_UPDATE_SCREENSHOTS=1` refreshes the
//! README's pictures in tests/screenshots).

mod driver;
mod journey;
mod peers;
