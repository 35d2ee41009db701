//! Test sign-ins: the history an admin sees, and the lifecycle change a
//! passing one makes, written together with its audit event.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Store, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::connections::Lifecycle;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConnectionTest {
    pub id: String,
    pub connection_id: String,
    pub organization_id: String,
    pub config_version: i64,
    /// `passed` or `failed`.
    pub outcome: String,
    pub error_code: Option<String>,
    /// What came back, or what went wrong (JSON).
    pub result: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Records a test; a passing one marks the connection tested, but only
    /// if its settings are still the version the test ran on.
    pub async fn record_connection_test(
        &self,
        test: &ConnectionTest,
        passed: Option<&Lifecycle>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        write!(self, |p| async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO connection_tests (id, connection_id, organization_id, config_version, \
                 outcome, error_code, result, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&test.id)
            .bind(&test.connection_id)
            .bind(&test.organization_id)
            .bind(test.config_version)
            .bind(&test.outcome)
            .bind(test.error_code.as_deref())
            .bind(&test.result)
            .bind(test.created_at)
            .execute(&mut *tx)
            .await?;
            if let Some(lifecycle) = passed {
                sqlx::query(
                    "UPDATE connections SET state = $2, tested_version = $3, updated_at = $4 \
                     WHERE id = $1 AND config_version = $5",
                )
                .bind(&test.connection_id)
                .bind(lifecycle.state.as_str())
                .bind(lifecycle.tested_version)
                .bind(test.created_at)
                .bind(test.config_version)
                .execute(&mut *tx)
                .await?;
            }
            insert_event!(&mut *tx, EventRow::new(ctx, event, test.created_at))?;
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        }
        .await)?;
        Ok(())
    }

    /// The latest tests of a connection, newest first.
    pub async fn list_connection_tests(
        &self,
        connection_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<ConnectionTest>> {
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT id, connection_id, organization_id, config_version, outcome, error_code, \
             result, created_at FROM connection_tests WHERE connection_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        )
        .bind(connection_id)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }
}
