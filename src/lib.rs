//! Gatehouse: self-serve enterprise SSO that a SaaS product runs beside itself.
//!
//! Layers, each calling only downward: `web`, `api` (HTTP) → `services` →
//! `domain` (plain rules) and `store` (SQL).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod demo_idp;
pub mod dns;
pub mod domain;
pub mod error_codes;
pub mod fetch;
pub mod ids;
pub mod oidc;
pub mod saml;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
