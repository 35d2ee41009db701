//! Connections table.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Store, StoreError, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::connections::{Connection, Lifecycle, Protocol, Provider, State};

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub(super) id: String,
    organization_id: String,
    provider: String,
    state: String,
    allow_subdomains: bool,
    allow_idp_initiated: bool,
    role_mapping: String,
    config_version: i64,
    config: String,
    tested_version: Option<i64>,
    live_version: Option<i64>,
    live_config: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    activated_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for Connection {
    type Error = StoreError;
    fn try_from(r: Row) -> StoreResult<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("connection {} {what}", r.id));
        let json = |text: &str| serde_json::from_str(text).map_err(|_| corrupt("settings"));
        let role_mapping =
            serde_json::from_str(&r.role_mapping).map_err(|_| corrupt("role mapping"))?;
        Ok(Connection {
            provider: Provider::parse(&r.provider).ok_or_else(|| corrupt("provider"))?,
            lifecycle: Lifecycle {
                state: State::parse(&r.state).ok_or_else(|| corrupt("state"))?,
                config_version: r.config_version,
                tested_version: r.tested_version,
                live_version: r.live_version,
            },
            config: json(&r.config)?,
            live_config: r.live_config.as_deref().map(json).transpose()?,
            id: r.id,
            organization_id: r.organization_id,
            allow_subdomains: r.allow_subdomains,
            allow_idp_initiated: r.allow_idp_initiated,
            role_mapping,
            created_at: r.created_at,
            updated_at: r.updated_at,
            activated_at: r.activated_at,
        })
    }
}

pub(super) const COLUMNS: &str = "id, organization_id, provider, state, allow_subdomains, allow_idp_initiated, role_mapping, \
    config_version, config, tested_version, live_version, live_config, created_at, updated_at, activated_at";

fn role_mapping_json(c: &Connection) -> String {
    serde_json::to_string(&c.role_mapping).unwrap_or_else(|_| "[]".into())
}

impl Store {
    pub async fn insert_connection(
        &self,
        c: &Connection,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO connections (id, organization_id, provider, protocol, state, allow_subdomains, \
                   allow_idp_initiated, config_version, config, tested_version, live_version, live_config, \
                   created_at, updated_at, activated_at, role_mapping) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
        write!(self, |p| async {
            let mut tx = p.begin().await?;
            sqlx::query(sql)
                .bind(&c.id)
                .bind(&c.organization_id)
                .bind(c.provider.as_str())
                .bind(c.protocol().as_str())
                .bind(c.state().as_str())
                .bind(c.allow_subdomains)
                .bind(c.allow_idp_initiated)
                .bind(c.lifecycle.config_version)
                .bind(c.config.to_string())
                .bind(c.lifecycle.tested_version)
                .bind(c.lifecycle.live_version)
                .bind(c.live_config.as_ref().map(|v| v.to_string()))
                .bind(c.created_at)
                .bind(c.updated_at)
                .bind(c.activated_at)
                .bind(role_mapping_json(c))
                .execute(&mut *tx)
                .await?;
            insert_event!(&mut *tx, EventRow::new(ctx, event, c.created_at))?;
            tx.commit().await
        }
        .await)?;
        Ok(())
    }

    /// Writes every mutable field, provided nobody changed the connection
    /// since it was read at `expected_version` (else `Conflict("stale")`);
    /// a second active connection in the organization is `Conflict("active")`.
    pub async fn save_connection(
        &self,
        c: &Connection,
        expected_version: i64,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        let sql = "UPDATE connections SET organization_id = $2, state = $3, allow_subdomains = $4, \
                   allow_idp_initiated = $5, config_version = $6, config = $7, tested_version = $8, \
                   live_version = $9, live_config = $10, updated_at = $11, activated_at = $12, \
                   role_mapping = $14 WHERE id = $1 AND config_version = $13";
        let result: sqlx::Result<u64> = write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done = sqlx::query(sql)
                .bind(&c.id)
                .bind(&c.organization_id)
                .bind(c.state().as_str())
                .bind(c.allow_subdomains)
                .bind(c.allow_idp_initiated)
                .bind(c.lifecycle.config_version)
                .bind(c.config.to_string())
                .bind(c.lifecycle.tested_version)
                .bind(c.lifecycle.live_version)
                .bind(c.live_config.as_ref().map(|v| v.to_string()))
                .bind(c.updated_at)
                .bind(c.activated_at)
                .bind(expected_version)
                .bind(role_mapping_json(c))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 1 {
                insert_event!(&mut *tx, EventRow::new(ctx, event, c.updated_at))?;
            }
            tx.commit().await?;
            Ok(done)
        }
        .await);
        match result {
            Ok(1) => Ok(()),
            Ok(_) => Err(StoreError::Conflict("stale")),
            Err(e) if StoreError::is_unique_violation(&e) => Err(StoreError::Conflict("active")),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_connection(&self, id: &str) -> StoreResult<Option<Connection>> {
        let sql = format!("SELECT {COLUMNS} FROM connections WHERE id = $1");
        let row: Option<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?;
        row.map(Connection::try_from).transpose()
    }

    /// An organization's connections, oldest first.
    pub async fn list_connections(&self, organization_id: &str) -> StoreResult<Vec<Connection>> {
        let sql =
            format!("SELECT {COLUMNS} FROM connections WHERE organization_id = $1 ORDER BY id");
        let rows: Vec<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(organization_id)
            .fetch_all(p)
            .await)?;
        rows.into_iter().map(Connection::try_from).collect()
    }

    /// Writes what a refresh of the identity provider's published settings
    /// brought: the current and the live settings, and nothing else, provided
    /// neither the settings version nor the live version changed since they
    /// were read (else `Conflict("stale")`). The event is written with it,
    /// if there is one.
    pub async fn save_refreshed_settings(
        &self,
        c: &Connection,
        read: &Lifecycle,
        ctx: &ChangeContext,
        event: Option<NewEvent>,
    ) -> StoreResult<()> {
        let sql = "UPDATE connections SET config = $2, live_config = $3, updated_at = $4 \
                   WHERE id = $1 AND config_version = $5 AND live_version IS NOT DISTINCT FROM $6";
        let done = write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done = sqlx::query(sql)
                .bind(&c.id)
                .bind(c.config.to_string())
                .bind(c.live_config.as_ref().map(|v| v.to_string()))
                .bind(c.updated_at)
                .bind(read.config_version)
                .bind(read.live_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 1
                && let Some(event) = event
            {
                insert_event!(&mut *tx, EventRow::new(ctx, event, c.updated_at))?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        }
        .await)?;
        match done {
            1 => Ok(()),
            _ => Err(StoreError::Conflict("stale")),
        }
    }

    /// Claims a connection's metadata refresh: it is due when its
    /// `refresh_lease_until` has passed, which is then moved to `next`.
    /// Exactly one instance wins each round.
    pub async fn claim_metadata_refresh(
        &self,
        id: &str,
        now: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let won = write!(self, |p| sqlx::query(
            "UPDATE connections SET refresh_lease_until = $3 WHERE id = $1 \
             AND (refresh_lease_until IS NULL OR refresh_lease_until <= $2)"
        )
        .bind(id)
        .bind(now)
        .bind(next)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(won == 1)
    }

    /// Every connection of one protocol (for the refresh job).
    pub async fn list_connections_of(&self, protocol: Protocol) -> StoreResult<Vec<Connection>> {
        let sql = format!("SELECT {COLUMNS} FROM connections WHERE protocol = $1 ORDER BY id");
        let rows: Vec<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(protocol.as_str())
            .fetch_all(p)
            .await)?;
        rows.into_iter().map(Connection::try_from).collect()
    }

    pub async fn has_active_connection(&self, organization_id: &str) -> StoreResult<bool> {
        let row: Option<(String,)> = read!(self, |p| sqlx::query_as(
            "SELECT id FROM connections WHERE organization_id = $1 AND state = 'active' LIMIT 1"
        )
        .bind(organization_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.is_some())
    }

    /// Deletes a connection (never its users) and records it.
    pub async fn delete_connection(
        &self,
        id: &str,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<bool> {
        self.delete_with_event(super::events::Deletable::Connections, id, now, ctx, event)
            .await
    }
}
