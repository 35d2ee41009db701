//! Small named values the service keeps for itself (e.g. the demo's keys).

use super::{Store, StoreResult, read, write};

impl Store {
    pub async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = read!(self, |p| sqlx::query_as(
            "SELECT value FROM settings WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(v,)| v))
    }

    /// Stores `value` unless the setting exists; returns the value in force.
    pub async fn get_or_insert_setting(&self, name: &str, value: &str) -> StoreResult<String> {
        write!(self, |p| sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        )
        .bind(name)
        .bind(value)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(self
            .get_setting(name)
            .await?
            .unwrap_or_else(|| value.to_string()))
    }
}
