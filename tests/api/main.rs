//! Integration tests: the real server on port 0, a real database (SQLite
//! always, Postgres when `GATEHOUSE_TEST_POSTGRES_URL` is set), real HTTP
//! with a cookie jar.

mod helpers;

mod api_keys;
mod authorize_request;
mod branding;
mod browser;
mod cli;
mod connection_page;
mod connections;
mod demo_idp;
mod discovery;
mod domains;
mod domains_page;
mod embed;
mod events;
mod fetch;
mod forms;
mod go_live;
mod health;
mod host_sign_in;
mod members;
mod oidc;
mod oidc_provider;
mod organizations;
mod portal;
mod problems;
mod saml;
mod saml_keys;
mod sign_in_failures;
mod signing_keys;
mod storage;
mod test_step;
mod webhooks;
