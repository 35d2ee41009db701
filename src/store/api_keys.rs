//! Host API keys, stored as SHA-256 hashes.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Store, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, NewEvent};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it in a list.
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, key_prefix, created_at, last_used_at, revoked_at";

impl Store {
    /// Inserts a key unless one with the same hash exists (the bootstrap key
    /// is inserted on every start). Returns whether a row was written.
    pub async fn insert_api_key(
        &self,
        key: &ApiKey,
        key_hash: &str,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<bool> {
        let inserted = write!(self, |p| {
            async {
            let mut tx = p.begin().await?;
            let done = sqlx::query(
                "INSERT INTO api_keys (id, name, key_hash, key_prefix, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (key_hash) DO NOTHING",
            )
            .bind(&key.id)
            .bind(&key.name)
            .bind(key_hash)
            .bind(&key.key_prefix)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok::<bool, sqlx::Error>(false);
            }
            insert_event!(&mut *tx, EventRow::new(ctx, event, key.created_at))?;
            tx.commit().await?;
            Ok(true)
        }
        .await
        })?;
        Ok(inserted)
    }

    /// The live (not revoked) key with this hash.
    pub async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        let sql =
            format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL");
        Ok(read!(self, |p| sqlx::query_as(&sql)
            .bind(key_hash)
            .fetch_optional(p)
            .await)?)
    }

    pub async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY id");
        Ok(read!(self, |p| sqlx::query_as(&sql).fetch_all(p).await)?)
    }

    /// Records use, at most once a minute per key.
    pub async fn touch_api_key(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        write!(self, |p| {
            sqlx::query(
            "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)"
        )
        .bind(id)
        .bind(now)
        .bind(now - chrono::Duration::seconds(60))
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Revokes a key; returns false when no live key has this id.
    pub async fn revoke_api_key(
        &self,
        id: &str,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<bool> {
        Ok(write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done = sqlx::query(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok::<bool, sqlx::Error>(false);
            }
            insert_event!(&mut *tx, EventRow::new(ctx, event, now))?;
            tx.commit().await?;
            Ok(true)
        }
        .await)?)
    }
}
