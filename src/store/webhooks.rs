//! Webhook endpoints and deliveries.
//!
//! The audit log is the outbox. Each endpoint keeps a cursor: the id of the
//! last audit event it has turned into deliveries. Enqueueing inserts one
//! delivery per (endpoint, event) — a unique pair, so instances that enqueue
//! the same events at once store each only once — and moves the cursor
//! forward in the same transaction. Deliveries are sent under a lease taken
//! with a conditional update, as domain checks are, so one instance sends
//! each attempt.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Page, PageRequest, Store, StoreError, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, Event, NewEvent};
use crate::domain::webhooks::{Delivery, Endpoint};

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    url: String,
    event_types: String,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
}

const ENDPOINT_COLUMNS: &str =
    "id, url, event_types, created_at, disabled_at, previous_secret_expires_at";

fn event_types(id: &str, raw: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Corrupt(format!("webhook endpoint {id} event_types: {e}")))
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> StoreResult<Self> {
        Ok(Endpoint {
            event_types: event_types(&r.id, &r.event_types)?,
            id: r.id,
            url: r.url,
            created_at: r.created_at,
            disabled_at: r.disabled_at,
            previous_secret_expires_at: r.previous_secret_expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    endpoint_id: String,
    event_id: String,
    event_type: String,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_attempt_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, attempts, next_attempt_at, \
    last_attempt_at, delivered_at, failed_at, last_status, last_error, created_at";

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            id: r.id,
            endpoint_id: r.endpoint_id,
            event_id: r.event_id,
            event_type: r.event_type,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            next_attempt_at: r.next_attempt_at,
            last_attempt_at: r.last_attempt_at,
            delivered_at: r.delivered_at,
            failed_at: r.failed_at,
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
            created_at: r.created_at,
        }
    }
}

/// An audit row as the enqueue pass reads it.
#[derive(sqlx::FromRow)]
struct AuditRow {
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

const AUDIT_COLUMNS: &str = "e.id, e.organization_id, e.actor_type, e.actor_id, e.actor_label, \
    e.action, e.target_type, e.target_id, e.data, e.request_id, e.created_at";

fn audit_events(rows: Vec<AuditRow>) -> StoreResult<Vec<Event>> {
    rows.into_iter()
        .map(|r| {
            let data = serde_json::from_str(&r.data)
                .map_err(|e| StoreError::Corrupt(format!("event {} data: {e}", r.id)))?;
            Ok(Event {
                id: r.id,
                organization_id: r.organization_id,
                actor_type: r.actor_type,
                actor_id: r.actor_id,
                actor_label: r.actor_label,
                action: r.action,
                target_type: r.target_type,
                target_id: r.target_id,
                data,
                request_id: r.request_id,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// What the enqueue pass needs of an enabled endpoint.
#[derive(Debug, Clone)]
pub struct EndpointCursor {
    pub id: String,
    pub event_types: Vec<String>,
    /// The same list as stored (a JSON array), for matching in SQL.
    pub event_types_json: String,
    /// The last audit event turned into deliveries.
    pub cursor: String,
    /// The cursor at creation; events up to it are never delivered here.
    pub start_cursor: String,
}

#[derive(sqlx::FromRow)]
struct CursorRow {
    id: String,
    event_types: String,
    cursor: String,
    start_cursor: String,
}

/// A delivery to insert.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
}

/// A delivery claimed for one attempt, with what sending it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub url: String,
    pub secret_sealed: String,
    /// After a rotation, the previous secret and until when it signs too.
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub payload: String,
    pub attempts: i32,
}

/// What one attempt came to, as written.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
    /// When to try again; `None` (and not delivered) gives up.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Inserts an endpoint with its audit event. The event's id becomes the
    /// endpoint's cursor: it receives the events recorded after it.
    pub async fn insert_webhook_endpoint(
        &self,
        endpoint: &Endpoint,
        secret_sealed: &str,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        let types = serde_json::to_string(&endpoint.event_types)
            .map_err(|e| StoreError::Corrupt(format!("event types: {e}")))?;
        let row = EventRow::new(ctx, event, endpoint.created_at);
        let cursor = row.id.clone();
        write!(self, |p| {
            async {
                let mut tx = p.begin().await?;
                sqlx::query(
                    "INSERT INTO webhook_endpoints (id, url, secret_sealed, event_types, created_at, \
                     disabled_at, cursor, start_cursor) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(&endpoint.id)
                .bind(&endpoint.url)
                .bind(secret_sealed)
                .bind(&types)
                .bind(endpoint.created_at)
                .bind(endpoint.disabled_at)
                .bind(&cursor)
                .execute(&mut *tx)
                .await?;
                insert_event!(&mut *tx, row)?;
                tx.commit().await
            }
            .await
        })?;
        Ok(())
    }

    pub async fn get_webhook_endpoint(&self, id: &str) -> StoreResult<Option<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
        let row: Option<EndpointRow> = read!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?;
        row.map(Endpoint::try_from).transpose()
    }

    /// Endpoints, newest first.
    pub async fn list_webhook_endpoints(&self, page: &PageRequest) -> StoreResult<Page<Endpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE ($1 IS NULL OR id < $1) \
             ORDER BY id DESC LIMIT $2"
        );
        let rows: Vec<EndpointRow> = read!(self, |p| sqlx::query_as(&sql)
            .bind(page.before.as_deref())
            .bind(i64::from(page.limit) + 1)
            .fetch_all(p)
            .await)?;
        let endpoints = rows
            .into_iter()
            .map(Endpoint::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(endpoints, page.limit, |e| &e.id))
    }

    /// Deletes an endpoint and its deliveries with the audit event; false if
    /// no endpoint has the id.
    pub async fn delete_webhook_endpoint(
        &self,
        id: &str,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<bool> {
        Ok(write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
                .bind(id)
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

    /// Pauses (`Some(time)`) or resumes (`None`) an endpoint with the audit
    /// event; false if no endpoint has the id.
    pub async fn set_webhook_endpoint_disabled(
        &self,
        id: &str,
        disabled_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<bool> {
        Ok(write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done = sqlx::query("UPDATE webhook_endpoints SET disabled_at = $2 WHERE id = $1")
                .bind(id)
                .bind(disabled_at)
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

    /// Replaces an endpoint's signing secret with the audit event: the
    /// current one becomes the previous one, which signs too until
    /// `previous_expires_at` (a previous one from an earlier rotation is
    /// dropped). False if no endpoint has the id.
    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret_sealed: &str,
        previous_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<bool> {
        Ok(write!(self, |p| async {
            let mut tx = p.begin().await?;
            // The right-hand sides read the row as it was: the old secret.
            let done = sqlx::query(
                "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, \
                 previous_secret_expires_at = $3, secret_sealed = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(secret_sealed)
            .bind(previous_expires_at)
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

    /// Forgets the previous secrets whose overlap has ended; answers how
    /// many.
    pub async fn forget_expired_webhook_secrets(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(write!(self, |p| sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret_sealed = NULL, \
             previous_secret_expires_at = NULL \
             WHERE previous_secret_expires_at IS NOT NULL AND previous_secret_expires_at <= $1"
        )
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// The enabled endpoints and where each stands in the audit log.
    pub async fn webhook_endpoint_cursors(&self) -> StoreResult<Vec<EndpointCursor>> {
        let rows: Vec<CursorRow> = read!(self, |p| sqlx::query_as(
            "SELECT id, event_types, cursor, start_cursor FROM webhook_endpoints \
             WHERE disabled_at IS NULL ORDER BY id"
        )
        .fetch_all(p)
        .await)?;
        rows.into_iter()
            .map(|r| {
                Ok(EndpointCursor {
                    event_types: event_types(&r.id, &r.event_types)?,
                    event_types_json: r.event_types,
                    id: r.id,
                    cursor: r.cursor,
                    start_cursor: r.start_cursor,
                })
            })
            .collect()
    }

    /// Audit events after `cursor`, oldest first, at most `limit`.
    pub async fn audit_events_after(&self, cursor: &str, limit: u32) -> StoreResult<Vec<Event>> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2"
        );
        let rows: Vec<AuditRow> = read!(self, |p| sqlx::query_as(&sql)
            .bind(cursor)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await)?;
        audit_events(rows)
    }

    /// Audit events in (`floor`, `cursor`] of the types the endpoint wants
    /// (`types_json`, its stored list) that have no delivery to it: events
    /// committed after the cursor had moved past their id.
    pub async fn audit_events_missed(
        &self,
        endpoint: &EndpointCursor,
        floor: &str,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        // The stored list is serde_json's `["a.b","c_d"]` of names made of
        // [a-z0-9_.]; `_` is LIKE's one-character wildcard, so it is escaped.
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events e WHERE e.id > $1 AND e.id <= $2 \
             AND ($3 = '[]' OR $3 LIKE ('%\"' || replace(e.action, '_', '\\_') || '\"%') ESCAPE '\\') \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = $4 AND d.event_id = e.id) \
             ORDER BY e.id LIMIT $5"
        );
        let rows: Vec<AuditRow> = read!(self, |p| sqlx::query_as(&sql)
            .bind(floor)
            .bind(&endpoint.cursor)
            .bind(&endpoint.event_types_json)
            .bind(&endpoint.id)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await)?;
        audit_events(rows)
    }

    /// Inserts deliveries (skipping any the endpoint has for the same event)
    /// and moves the cursor forward to `cursor`, never back, in one
    /// transaction. Answers how many deliveries were new.
    pub async fn enqueue_webhook_deliveries(
        &self,
        endpoint_id: &str,
        deliveries: &[NewDelivery],
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        Ok(write!(self, |p| {
            async {
            let mut tx = p.begin().await?;
            let mut inserted = 0;
            for d in deliveries {
                inserted += sqlx::query(
                    "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, \
                     attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6) \
                     ON CONFLICT (endpoint_id, event_id) DO NOTHING",
                )
                .bind(&d.id)
                .bind(endpoint_id)
                .bind(&d.event_id)
                .bind(&d.event_type)
                .bind(&d.payload)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            if let Some(cursor) = cursor {
                sqlx::query(
                    "UPDATE webhook_endpoints SET cursor = $2 WHERE id = $1 AND cursor < $2",
                )
                .bind(endpoint_id)
                .bind(cursor)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(inserted)
        }
        .await
        })?)
    }

    /// Claims up to `limit` deliveries whose attempt is due, each with a
    /// lease until `lease_until`: one conditional update per row, so an
    /// instance only sends the deliveries it won.
    pub async fn claim_due_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let due: Vec<DueDelivery> = read!(self, |p| sqlx::query_as(
            "SELECT d.id, d.endpoint_id, w.url, w.secret_sealed, w.previous_secret_sealed, \
             w.previous_secret_expires_at, d.payload, d.attempts \
             FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id \
             WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= $1 \
             AND (d.lease_until IS NULL OR d.lease_until < $1) AND w.disabled_at IS NULL \
             ORDER BY d.next_attempt_at, d.id LIMIT $2"
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        let mut claimed = Vec::new();
        for delivery in due {
            let won = write!(self, |p| sqlx::query(
                "UPDATE webhook_deliveries SET lease_until = $2 WHERE id = $1 \
                 AND next_attempt_at IS NOT NULL AND next_attempt_at <= $3 \
                 AND (lease_until IS NULL OR lease_until < $3)"
            )
            .bind(&delivery.id)
            .bind(lease_until)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
            if won == 1 {
                claimed.push(delivery);
            }
        }
        Ok(claimed)
    }

    /// Writes the result of an attempt made under the lease `lease_until`;
    /// false if the lease was lost meanwhile (or the endpoint deleted).
    pub async fn record_webhook_attempt(
        &self,
        id: &str,
        lease_until: DateTime<Utc>,
        record: &AttemptRecord,
    ) -> StoreResult<bool> {
        let delivered_at = record.delivered.then_some(record.at);
        let failed_at =
            (!record.delivered && record.next_attempt_at.is_none()).then_some(record.at);
        let next = if record.delivered {
            None
        } else {
            record.next_attempt_at
        };
        let done = write!(self, |p| sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $2, \
             last_status = $3, last_error = $4, next_attempt_at = $5, delivered_at = $6, \
             failed_at = $7, lease_until = NULL WHERE id = $1 AND lease_until = $8"
        )
        .bind(id)
        .bind(record.at)
        .bind(record.status.map(i32::from))
        .bind(record.error.as_deref())
        .bind(next)
        .bind(delivered_at)
        .bind(failed_at)
        .bind(lease_until)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// An endpoint's deliveries, newest first.
    pub async fn list_webhook_deliveries(
        &self,
        endpoint_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 \
             AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<DeliveryRow> = read!(self, |p| sqlx::query_as(&sql)
            .bind(endpoint_id)
            .bind(page.before.as_deref())
            .bind(i64::from(page.limit) + 1)
            .fetch_all(p)
            .await)?;
        let deliveries = rows.into_iter().map(Delivery::from).collect();
        Ok(Page::from_rows(deliveries, page.limit, |d: &Delivery| {
            &d.id
        }))
    }

    /// Forgets finished deliveries (delivered or given up) created before
    /// `before`; answers how many.
    pub async fn purge_finished_webhook_deliveries(
        &self,
        before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        Ok(write!(self, |p| sqlx::query(
            "DELETE FROM webhook_deliveries WHERE next_attempt_at IS NULL AND created_at < $1"
        )
        .bind(before)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
