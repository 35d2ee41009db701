//! SAML flows (AuthnRequests sent, found again by RelayState) and the replay
//! cache of assertion IDs. Both live in the database, so they hold across
//! instances.

use chrono::{DateTime, Utc};

use super::{Backend, Store, StoreError, StoreResult, read, write};

/// What became of a validated response at the replay checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    Accepted,
    /// Its assertion was accepted before.
    Replayed,
    /// The flow it answers was completed before.
    FlowUsed,
}

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

const REMEMBER_ASSERTION: &str =
    "INSERT INTO saml_assertion_ids (connection_id, assertion_id, expires_at) VALUES ($1, $2, $3)";
const TAKE_FLOW: &str = "UPDATE saml_requests SET used_at = $2 WHERE id = $1 AND used_at IS NULL";
/// Both, as one batch for SQLite.
const REMEMBER_ASSERTION_AND_TAKE_FLOW: &str = "\
    INSERT INTO saml_assertion_ids (connection_id, assertion_id, expires_at) VALUES ($1, $2, $3); \
    UPDATE saml_requests SET used_at = $5 WHERE id = $4 AND used_at IS NULL";

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

    /// Accepts a validated response: records its assertion ID until
    /// `expires_at` (replay protection), then marks the flow it answers
    /// used, in one hold of the writer (on SQLite, in one round trip). Each
    /// holds across instances: the assertion ID is unique, and the flow is
    /// taken only if unused. A replayed assertion takes no flow.
    pub async fn accept_assertion(
        &self,
        connection_id: &str,
        assertion_id: &str,
        expires_at: DateTime<Utc>,
        flow_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Acceptance> {
        let (connection_id, assertion_id) = (connection_id.to_string(), assertion_id.to_string());
        let flow_id = flow_id.map(str::to_string);
        self.on_writer_thread(move |store| async move {
            let sqlite = matches!(store.backend, Backend::Sqlite { .. });
            let done = write!(store, |p| async {
                let remember = || {
                    sqlx::query(REMEMBER_ASSERTION)
                        .bind(&connection_id)
                        .bind(&assertion_id)
                        .bind(expires_at)
                };
                let changed = match &flow_id {
                    None => remember().execute(p).await?.rows_affected(),
                    // SQLite runs both statements of a batch, the second
                    // only if the first succeeded.
                    Some(flow_id) if sqlite => sqlx::query(REMEMBER_ASSERTION_AND_TAKE_FLOW)
                        .bind(&connection_id)
                        .bind(&assertion_id)
                        .bind(expires_at)
                        .bind(flow_id)
                        .bind(now)
                        .execute(p)
                        .await?
                        .rows_affected(),
                    Some(flow_id) => {
                        // One connection for both statements.
                        #[allow(unused_mut)]
                        let mut conn = sqlx::Acquire::acquire(p).await?;
                        let remembered = remember().execute(&mut *conn).await?.rows_affected();
                        remembered
                            + sqlx::query(TAKE_FLOW)
                                .bind(flow_id)
                                .bind(now)
                                .execute(&mut *conn)
                                .await?
                                .rows_affected()
                    }
                };
                Ok::<_, sqlx::Error>(changed)
            }
            .await);
            let wanted = if flow_id.is_some() { 2 } else { 1 };
            match done {
                Ok(n) if n == wanted => Ok(Acceptance::Accepted),
                Ok(_) => Ok(Acceptance::FlowUsed),
                Err(e) if StoreError::is_unique_violation(&e) => Ok(Acceptance::Replayed),
                Err(e) => Err(e.into()),
            }
        })
        .await
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
