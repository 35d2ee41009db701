//! The audit log: written in the same transaction as the change it records.

use chrono::{DateTime, Utc};

use super::{Page, PageRequest, Store, StoreError, StoreResult, read};
use crate::domain::audit::{ChangeContext, Event, NewEvent};
use crate::ids::{self, Kind};

/// The insert of audit rows, up to `VALUES`.
const INSERT_EVENTS_HEAD: &str = "INSERT INTO audit_events \
    (id, organization_id, previous_organization_id, actor_type, actor_id, actor_label, action, target_type, target_id, data, request_id, created_at) \
    VALUES ";
/// The values each audit row binds.
const EVENT_PARAMS: usize = 12;

/// The values of one audit row, ready to bind.
pub(crate) struct EventRow {
    pub id: String,
    pub organization_id: Option<String>,
    pub previous_organization_id: Option<String>,
    pub actor_type: &'static str,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    pub data: String,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl EventRow {
    pub fn new(ctx: &ChangeContext, event: NewEvent, now: DateTime<Utc>) -> Self {
        Self {
            id: ids::new_id(Kind::Event),
            organization_id: event.organization_id,
            previous_organization_id: event.previous_organization_id,
            actor_type: ctx.actor.kind(),
            actor_id: ctx.actor.id().map(str::to_string),
            actor_label: ctx.actor.label(),
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            data: event.data.to_string(),
            request_id: ctx.request_id.clone(),
            created_at: now,
        }
    }
}

/// Writes an audit row on `$executor` (a transaction), returning the
/// `sqlx::Result` of the insert.
macro_rules! insert_event {
    ($executor:expr, $row:expr) => {
        $crate::store::events::insert_events!($executor, vec![$row])
    };
}
pub(crate) use insert_event;

/// The insert of `rows` audit rows in one statement.
pub(crate) fn insert_events_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=EVENT_PARAMS)
                .map(|i| format!("${}", r * EVENT_PARAMS + i))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!("{INSERT_EVENTS_HEAD}{}", values.join(", "))
}

/// Writes several audit rows on `$executor` in one statement (one round
/// trip), returning the `sqlx::Result` of the insert.
macro_rules! insert_events {
    ($executor:expr, $rows:expr) => {{
        let rows: Vec<$crate::store::events::EventRow> = $rows;
        let sql = $crate::store::events::insert_events_sql(rows.len());
        let mut query = sqlx::query(&sql);
        for row in rows {
            query = query
                .bind(row.id)
                .bind(row.organization_id)
                .bind(row.previous_organization_id)
                .bind(row.actor_type)
                .bind(row.actor_id)
                .bind(row.actor_label)
                .bind(row.action)
                .bind(row.target_type)
                .bind(row.target_id)
                .bind(row.data)
                .bind(row.request_id)
                .bind(row.created_at);
        }
        query.execute($executor).await.map(|r| r.rows_affected())
    }};
}
pub(crate) use insert_events;

#[derive(sqlx::FromRow)]
struct StoredEvent {
    id: String,
    organization_id: Option<String>,
    actor_type: String,
    actor_id: Option<String>,
    actor_label: String,
    action: String,
    target_type: String,
    target_id: String,
    data: String,
    request_id: Option<String>,
    created_at: DateTime<Utc>,
}

impl StoredEvent {
    fn into_event(self) -> StoreResult<Event> {
        let data = serde_json::from_str(&self.data)
            .map_err(|e| StoreError::Corrupt(format!("event {} data: {e}", self.id)))?;
        Ok(Event {
            id: self.id,
            organization_id: self.organization_id,
            actor_type: self.actor_type,
            actor_id: self.actor_id,
            actor_label: self.actor_label,
            action: self.action,
            target_type: self.target_type,
            target_id: self.target_id,
            data,
            request_id: self.request_id,
            created_at: self.created_at,
        })
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// The organization an event concerns: the one it is filed under, or
    /// the one a moved connection left.
    pub organization_id: Option<String>,
    pub action: Option<String>,
}

/// Tables whose rows are deleted by id together with an audit event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Deletable {
    Domains,
    Connections,
}

impl Store {
    /// Deletes the row with this id and records the event, in one
    /// transaction; false (and nothing recorded) if no row has the id.
    pub(crate) async fn delete_with_event(
        &self,
        table: Deletable,
        id: &str,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<bool> {
        let sql = match table {
            Deletable::Domains => "DELETE FROM domains WHERE id = $1",
            Deletable::Connections => "DELETE FROM connections WHERE id = $1",
        };
        Ok(super::write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done = sqlx::query(sql).bind(id).execute(&mut *tx).await?;
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

    /// Records an event on its own, for actions that change nothing else.
    pub async fn record_event(
        &self,
        ctx: &ChangeContext,
        event: NewEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        super::write!(self, |p| insert_event!(p, EventRow::new(ctx, event, now)))?;
        Ok(())
    }

    /// Events, newest first.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Event>> {
        let sql = "SELECT id, organization_id, actor_type, actor_id, actor_label, action, target_type, \
                   target_id, data, request_id, created_at FROM audit_events \
                   WHERE ($1 IS NULL OR id < $1) \
                   AND ($2 IS NULL OR organization_id = $2 OR previous_organization_id = $2) \
                   AND ($3 IS NULL OR action = $3) ORDER BY id DESC LIMIT $4";
        let rows: Vec<StoredEvent> = read!(self, |p| sqlx::query_as(sql)
            .bind(page.before.as_deref())
            .bind(filter.organization_id.as_deref())
            .bind(filter.action.as_deref())
            .bind(i64::from(page.limit) + 1)
            .fetch_all(p)
            .await)?;
        let events = rows
            .into_iter()
            .map(StoredEvent::into_event)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(events, page.limit, |e| &e.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_numbers_each_rows_parameters_after_the_last() {
        let columns = INSERT_EVENTS_HEAD
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(cols, _)| cols.split(',').count());
        assert_eq!(columns, Some(EVENT_PARAMS), "one parameter per column");
        let sql = insert_events_sql(2);
        assert!(sql.ends_with("($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12), ($13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"), "{sql}");
    }
}
