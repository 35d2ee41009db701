//! OpenID Connect, relying-party side: a connection's settings (from the
//! provider's discovery document), ID tokens checked down to each claim,
//! the provider's keys, and the identity each provider vouches for.
//!
//! Every check is Gatehouse's own, with OpenSSL for the signatures; see
//! `services::oidc_signin` for the flow (state, nonce and PKCE kept
//! server-side, single use).

pub mod catalogue;
pub mod config;
pub mod discovery;
pub mod id_token;
pub mod identity;
pub mod jwks;
pub mod jwt;
