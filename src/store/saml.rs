//! SAML flows (AuthnRequests sent, found again by RelayState) and the replay
//! cache of assertion IDs. Both live in the database, so they hold across
//! instances.

use chrono::{DateTime, Utc};

use super::connections::{COLUMNS as CONNECTION_COLUMNS, Row as ConnectionRow};
use super::{Backend, Store, StoreError, StoreResult, read, write};
use crate::domain::connections::Connection;

/// One use of a validated assertion: its ID is remembered until
/// `expires_at`, so it is accepted once, and the flow it answers (if any)
/// is taken, so that completes once. Both hold across instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionUse {
    pub connection_id: String,
    pub assertion_id: String,
    pub expires_at: DateTime<Utc>,
    /// The AuthnRequest answered; `None` for identity-provider-initiated.
    pub flow_id: Option<String>,
    pub now: DateTime<Utc>,
}

/// Why a validated response was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
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

/// The statements of an assertion's use, in a transaction `$tx` (a
/// `&mut` connection) of either backend: the ID remembered unless it is
/// already, then the flow taken unless it is used. Answers the refusal,
/// if any; the caller rolls back on one. Expanded where the statements
/// run, as the connection's type differs between the backends.
macro_rules! take_assertion {
    ($tx:expr, $use:expr) => {
        async {
            let u: &$crate::store::saml::AssertionUse = $use;
            let remembered = sqlx::query(
                "INSERT INTO saml_assertion_ids (connection_id, assertion_id, expires_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(&u.connection_id)
            .bind(&u.assertion_id)
            .bind(u.expires_at)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            if remembered != 1 {
                return Ok::<_, sqlx::Error>(Err($crate::store::saml::Refusal::Replayed));
            }
            if let Some(flow_id) = &u.flow_id {
                let taken = sqlx::query(
                    "UPDATE saml_requests SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
                )
                .bind(flow_id)
                .bind(u.now)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
                if taken != 1 {
                    return Ok(Err($crate::store::saml::Refusal::FlowUsed));
                }
            }
            Ok(Ok(()))
        }
    };
}
pub(crate) use take_assertion;

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

    /// Accepts a validated response on its own (an admin's test, or a
    /// sign-in started at the identity provider): `take_assertion`'s
    /// statements in one transaction. A host's sign-in accepts its response
    /// in the sign-in's own transaction instead (`record_sign_in`).
    pub async fn accept_assertion(
        &self,
        assertion: &AssertionUse,
    ) -> StoreResult<Result<(), Refusal>> {
        let assertion = assertion.clone();
        self.on_writer_thread(move |store| async move {
            Ok(write!(store, |p| async {
                let mut tx = p.begin().await?;
                let taken = take_assertion!(tx, &assertion).await?;
                if taken.is_ok() {
                    tx.commit().await?;
                }
                Ok::<_, sqlx::Error>(taken)
            }
            .await)?)
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
