//! SAML flows (AuthnRequests sent, found again by RelayState) and the replay
//! cache of assertion IDs. Both live in the database, so they hold across
//! instances.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, StoreResult, read, write};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SamlFlow {
    /// The AuthnRequest ID (what InResponseTo must name).
    pub id: String,
    pub connection_id: String,
    pub purpose: String,
    /// What the flow carries for later steps (JSON).
    pub context: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn insert_saml_flow(
        &self,
        flow: &SamlFlow,
        relay_state_hash: &str,
    ) -> StoreResult<()> {
        write!(self, |p| {
            sqlx::query(
            "INSERT INTO saml_requests (id, connection_id, relay_state_hash, purpose, context, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(&flow.id)
        .bind(&flow.connection_id)
        .bind(relay_state_hash)
        .bind(&flow.purpose)
        .bind(&flow.context)
        .bind(flow.created_at)
        .bind(flow.expires_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn find_saml_flow(&self, relay_state_hash: &str) -> StoreResult<Option<SamlFlow>> {
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT id, connection_id, purpose, context, created_at, expires_at, used_at \
             FROM saml_requests WHERE relay_state_hash = $1"
        )
        .bind(relay_state_hash)
        .fetch_optional(p)
        .await)?)
    }

    /// Marks a flow used; false if it was used already (by a concurrent
    /// response, on this instance or another).
    pub async fn consume_saml_flow(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = write!(self, |p| sqlx::query(
            "UPDATE saml_requests SET used_at = $2 WHERE id = $1 AND used_at IS NULL"
        )
        .bind(id)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Records an accepted assertion ID until `expires_at`; false if it was
    /// seen before (a replay).
    pub async fn remember_assertion(
        &self,
        connection_id: &str,
        assertion_id: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = write!(self, |p| {
            sqlx::query(
            "INSERT INTO saml_assertion_ids (connection_id, assertion_id, expires_at) VALUES ($1, $2, $3)"
        )
        .bind(connection_id)
        .bind(assertion_id)
        .bind(expires_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        });
        match result {
            Ok(_) => Ok(true),
            Err(e) if StoreError::is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Drops flows and replay entries that can no longer matter.
    pub async fn purge_expired_saml_state(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let flows = write!(self, |p| sqlx::query(
            "DELETE FROM saml_requests WHERE expires_at < $1"
        )
        .bind(now - chrono::Duration::days(1))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        let ids = write!(self, |p| sqlx::query(
            "DELETE FROM saml_assertion_ids WHERE expires_at < $1"
        )
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(flows + ids)
    }
}
