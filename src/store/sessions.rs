//! Admin sessions of the Security tab.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Store, StoreError, StoreResult, read, write};
use crate::domain::access::{AdminSession, SessionMode};
use crate::domain::audit::{ChangeContext, NewEvent};

pub(crate) const INSERT_SESSION: &str = "INSERT INTO admin_sessions (id, token_hash, organization_id, mode, \
    parent_origin, return_url, link_id, created_at, last_seen_at, idle_expires_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Writes a session row on `$executor` (a transaction).
macro_rules! insert_session {
    ($executor:expr, $session:expr, $token_hash:expr) => {{
        let s: &$crate::domain::access::AdminSession = $session;
        sqlx::query($crate::store::sessions::INSERT_SESSION)
            .bind(&s.id)
            .bind($token_hash)
            .bind(&s.organization_id)
            .bind(s.mode.as_str())
            .bind(s.parent_origin.as_deref())
            .bind(s.return_url.as_deref())
            .bind(&s.link_id)
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.idle_expires_at)
            .bind(s.expires_at)
            .execute($executor)
            .await
            .map(|r| r.rows_affected())
    }};
}
pub(crate) use insert_session;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    organization_id: String,
    mode: String,
    parent_origin: Option<String>,
    return_url: Option<String>,
    link_id: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for AdminSession {
    type Error = StoreError;
    fn try_from(r: Row) -> StoreResult<Self> {
        Ok(AdminSession {
            mode: SessionMode::parse(&r.mode)
                .ok_or_else(|| StoreError::Corrupt(format!("session {} mode {}", r.id, r.mode)))?,
            id: r.id,
            organization_id: r.organization_id,
            parent_origin: r.parent_origin,
            return_url: r.return_url,
            link_id: r.link_id,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            idle_expires_at: r.idle_expires_at,
            expires_at: r.expires_at,
            ended_at: r.ended_at,
        })
    }
}

impl Store {
    pub async fn find_session(&self, token_hash: &str) -> StoreResult<Option<AdminSession>> {
        let row: Option<Row> = read!(self, |p| {
            sqlx::query_as(
            "SELECT id, organization_id, mode, parent_origin, return_url, link_id, created_at, \
             last_seen_at, idle_expires_at, expires_at, ended_at FROM admin_sessions WHERE token_hash = $1"
        )
        .bind(token_hash)
        .fetch_optional(p)
        .await
        })?;
        row.map(AdminSession::try_from).transpose()
    }

    /// Records activity: pushes the idle deadline forward.
    pub async fn get_session(&self, id: &str) -> StoreResult<Option<AdminSession>> {
        let row: Option<Row> = read!(self, |p| {
            sqlx::query_as(
                "SELECT id, organization_id, mode, parent_origin, return_url, link_id, created_at, \
                 last_seen_at, idle_expires_at, expires_at, ended_at FROM admin_sessions WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        row.map(AdminSession::try_from).transpose()
    }

    pub async fn touch_session(
        &self,
        id: &str,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        write!(self, |p| {
            sqlx::query(
            "UPDATE admin_sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1 AND ended_at IS NULL"
        )
        .bind(id)
        .bind(now)
        .bind(idle_expires_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Ends a session and records it; a session already ended is left as is.
    pub async fn end_session(
        &self,
        id: &str,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done = sqlx::query(
                "UPDATE admin_sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                insert_event!(&mut *tx, EventRow::new(ctx, event, now))?;
            }
            tx.commit().await
        }
        .await)?;
        Ok(())
    }
}
