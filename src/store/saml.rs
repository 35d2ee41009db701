//! SAML flows (AuthnRequests sent, found again by RelayState) and the replay
//! cache of assertion IDs. Both live in the database, so they hold across
//! instances.

use chrono::{DateTime, Utc};

use super::connections::{COLUMNS as CONNECTION_COLUMNS, Row as ConnectionRow};
use super::{Backend, Store, StoreError, StoreResult, read, write};
use crate::domain::connections::Connection;

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

/// A connection's row with the columns `get_connection_for_acs` adds.
#[derive(sqlx::FromRow)]
struct ConnectionAndFlow {
    #[sqlx(flatten)]
    connection: ConnectionRow,
    flow_id: Option<String>,
    flow_connection_id: Option<String>,
    flow_purpose: Option<String>,
    flow_context: Option<String>,
    flow_created_at: Option<DateTime<Utc>>,
    flow_expires_at: Option<DateTime<Utc>>,
    flow_used_at: Option<DateTime<Utc>>,
    /// Space-separated.
    sso_domains: Option<String>,
}

/// What the ACS reads before it checks a response.
#[derive(Debug, Clone)]
pub struct ConnectionForAcs {
    pub connection: Connection,
    pub flow: Option<SamlFlow>,
    /// The organization's verified SSO domains.
    pub sso_domains: Vec<String>,
}

fn incomplete_flow(connection: &ConnectionRow) -> StoreError {
    StoreError::Corrupt(format!(
        "a SAML flow of connection {} lacks its times",
        connection.id
    ))
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

    /// A connection by id with, in the same read, the SAML flow a RelayState
    /// (by its hash) names, whichever connection that flow belongs to (the
    /// caller checks it is this one), and the verified SSO domains of the
    /// connection's organization. `None` if there is no such connection.
    pub async fn get_connection_for_acs(
        &self,
        connection_id: &str,
        relay_state_hash: Option<&str>,
    ) -> StoreResult<Option<ConnectionForAcs>> {
        // Domain names hold no spaces.
        let domains = match self.backend {
            Backend::Sqlite { .. } => "group_concat(d.domain, ' ')",
            Backend::Postgres(_) => "string_agg(d.domain, ' ')",
        };
        let sql = format!(
            "SELECT {CONNECTION_COLUMNS}, f.*, (SELECT {domains} FROM domains d \
             WHERE d.organization_id = connections.organization_id AND d.status = 'verified' \
             AND d.purpose = 'sso') AS sso_domains FROM connections LEFT JOIN (\
             SELECT id AS flow_id, connection_id AS flow_connection_id, purpose AS flow_purpose, \
             context AS flow_context, created_at AS flow_created_at, expires_at AS flow_expires_at, \
             used_at AS flow_used_at FROM saml_requests WHERE relay_state_hash = $2) f ON TRUE \
             WHERE id = $1"
        );
        let row: Option<ConnectionAndFlow> = read!(self, |p| sqlx::query_as(&sql)
            .bind(connection_id)
            .bind(relay_state_hash)
            .fetch_optional(p)
            .await)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let flow = match row.flow_id {
            Some(id) => Some(SamlFlow {
                id,
                connection_id: row.flow_connection_id.unwrap_or_default(),
                purpose: row.flow_purpose.unwrap_or_default(),
                context: row.flow_context.unwrap_or_default(),
                created_at: row
                    .flow_created_at
                    .ok_or_else(|| incomplete_flow(&row.connection))?,
                expires_at: row
                    .flow_expires_at
                    .ok_or_else(|| incomplete_flow(&row.connection))?,
                used_at: row.flow_used_at,
            }),
            None => None,
        };
        let sso_domains = row
            .sso_domains
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        Ok(Some(ConnectionForAcs {
            connection: Connection::try_from(row.connection)?,
            flow,
            sso_domains,
        }))
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
