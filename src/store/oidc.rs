//! OpenID Connect flows: what a sign-in sent the provider (nonce, PKCE
//! verifier, expected issuer), found again by the hash of its `state`.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, read, write};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OidcFlow {
    pub id: String,
    pub connection_id: String,
    pub purpose: String,
    /// What the flow carries for later steps (JSON).
    pub context: String,
    pub nonce: String,
    /// Sealed (see `crypto::seal`).
    pub code_verifier: String,
    /// The issuer the answer must come from.
    pub issuer: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn insert_oidc_flow(&self, flow: &OidcFlow, state_hash: &str) -> StoreResult<()> {
        write!(self, |p| {
            sqlx::query(
                "INSERT INTO oidc_flows (id, connection_id, state_hash, purpose, context, nonce, \
                 code_verifier, issuer, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&flow.id)
            .bind(&flow.connection_id)
            .bind(state_hash)
            .bind(&flow.purpose)
            .bind(&flow.context)
            .bind(&flow.nonce)
            .bind(&flow.code_verifier)
            .bind(&flow.issuer)
            .bind(flow.created_at)
            .bind(flow.expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn find_oidc_flow(&self, state_hash: &str) -> StoreResult<Option<OidcFlow>> {
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT id, connection_id, purpose, context, nonce, code_verifier, issuer, \
             created_at, expires_at, used_at FROM oidc_flows WHERE state_hash = $1"
        )
        .bind(state_hash)
        .fetch_optional(p)
        .await)?)
    }

    /// Marks a flow used; false if it was used already (a replayed state,
    /// on this instance or another).
    pub async fn consume_oidc_flow(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = write!(self, |p| sqlx::query(
            "UPDATE oidc_flows SET used_at = $2 WHERE id = $1 AND used_at IS NULL"
        )
        .bind(id)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Drops flows that can no longer matter.
    pub async fn purge_expired_oidc_flows(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(write!(self, |p| sqlx::query(
            "DELETE FROM oidc_flows WHERE expires_at < $1"
        )
        .bind(now - chrono::Duration::days(1))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
