//! Domains table: claims, verification results, and the leases that keep
//! background checks from running twice when instances share a database.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Store, StoreError, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::domains::{Domain, Purpose, Status};

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    organization_id: String,
    domain: String,
    status: String,
    purpose: String,
    token: String,
    created_at: DateTime<Utc>,
    verified_at: Option<DateTime<Utc>>,
    last_checked_at: Option<DateTime<Utc>>,
    last_error_code: Option<String>,
    last_error: Option<String>,
    checks_started_at: DateTime<Utc>,
    next_check_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for Domain {
    type Error = StoreError;
    fn try_from(r: Row) -> StoreResult<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("domain {} {what}", r.id));
        Ok(Domain {
            status: Status::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            purpose: Purpose::parse(&r.purpose).ok_or_else(|| corrupt("purpose"))?,
            id: r.id,
            organization_id: r.organization_id,
            domain: r.domain,
            token: r.token,
            created_at: r.created_at,
            verified_at: r.verified_at,
            last_checked_at: r.last_checked_at,
            last_error_code: r.last_error_code,
            last_error: r.last_error,
            checks_started_at: r.checks_started_at,
            next_check_at: r.next_check_at,
        })
    }
}

const COLUMNS: &str = "id, organization_id, domain, status, purpose, token, created_at, verified_at, \
    last_checked_at, last_error_code, last_error, checks_started_at, next_check_at";

fn convert(rows: Vec<Row>) -> StoreResult<Vec<Domain>> {
    rows.into_iter().map(Domain::try_from).collect()
}

/// The result of one check, as written.
#[derive(Debug, Clone)]
pub enum CheckResult {
    Verified,
    Failed {
        code: &'static str,
        message: String,
        /// When to look again; `None` with `give_up` ends the checks.
        next_check_at: Option<DateTime<Utc>>,
        /// The give-up window is over: the domain becomes `failed`.
        give_up: bool,
    },
}

/// What writing a check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckWritten {
    /// The state changed (pending → verified, or → failed).
    Changed,
    /// Recorded, but nothing changed state (another still-pending failure,
    /// or the domain was verified meanwhile by a concurrent check).
    Unchanged,
    /// Another organization verified the same domain first.
    VerifiedElsewhere,
}

impl Store {
    /// Inserts a claim; `Conflict("domain")` if the organization has it already.
    pub async fn insert_domain(
        &self,
        d: &Domain,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        let result: sqlx::Result<()> = write!(self, |p| {
            async {
            let mut tx = p.begin().await?;
            sqlx::query(&format!(
                "INSERT INTO domains ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ))
            .bind(&d.id)
            .bind(&d.organization_id)
            .bind(&d.domain)
            .bind(d.status.as_str())
            .bind(d.purpose.as_str())
            .bind(&d.token)
            .bind(d.created_at)
            .bind(d.verified_at)
            .bind(d.last_checked_at)
            .bind(d.last_error_code.as_deref())
            .bind(d.last_error.as_deref())
            .bind(d.checks_started_at)
            .bind(d.next_check_at)
            .execute(&mut *tx)
            .await?;
            insert_event!(&mut *tx, EventRow::new(ctx, event, d.created_at))?;
            tx.commit().await
        }
        .await
        });
        match result {
            Err(e) if StoreError::is_unique_violation(&e) => Err(StoreError::Conflict("domain")),
            other => Ok(other?),
        }
    }

    pub async fn get_domain(&self, id: &str) -> StoreResult<Option<Domain>> {
        let sql = format!("SELECT {COLUMNS} FROM domains WHERE id = $1");
        let row: Option<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?;
        row.map(Domain::try_from).transpose()
    }

    /// An organization's domains, oldest first.
    pub async fn list_domains(&self, organization_id: &str) -> StoreResult<Vec<Domain>> {
        let sql = format!("SELECT {COLUMNS} FROM domains WHERE organization_id = $1 ORDER BY id");
        let rows: Vec<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(organization_id)
            .fetch_all(p)
            .await)?;
        convert(rows)
    }

    /// The verified claim of a domain name, whoever holds it.
    pub async fn find_verified_domain(&self, domain: &str) -> StoreResult<Option<Domain>> {
        let sql =
            format!("SELECT {COLUMNS} FROM domains WHERE domain = $1 AND status = 'verified'");
        let row: Option<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(domain)
            .fetch_optional(p)
            .await)?;
        row.map(Domain::try_from).transpose()
    }

    pub async fn delete_domain(
        &self,
        id: &str,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<bool> {
        self.delete_with_event(super::events::Deletable::Domains, id, now, ctx, event)
            .await
    }

    pub async fn set_domain_purpose(
        &self,
        id: &str,
        purpose: Purpose,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        write!(self, |p| async {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE domains SET purpose = $2 WHERE id = $1")
                .bind(id)
                .bind(purpose.as_str())
                .execute(&mut *tx)
                .await?;
            insert_event!(&mut *tx, EventRow::new(ctx, event, now))?;
            tx.commit().await
        }
        .await)?;
        Ok(())
    }

    /// Writes the result of a check. The move to `verified` is conditional on
    /// the domain not being verified yet, so of two concurrent successful
    /// checks exactly one changes it and records the event; the unique index
    /// refuses it when another organization got there first.
    pub async fn record_domain_check(
        &self,
        id: &str,
        now: DateTime<Utc>,
        result: &CheckResult,
        ctx: &ChangeContext,
        event: Option<NewEvent>,
    ) -> StoreResult<CheckWritten> {
        let written: sqlx::Result<CheckWritten> = write!(self, |p| {
            async {
            let mut tx = p.begin().await?;
            let changed = match result {
                CheckResult::Verified => {
                    sqlx::query(
                        "UPDATE domains SET status = 'verified', verified_at = $2, last_checked_at = $2, \
                         last_error_code = NULL, last_error = NULL, next_check_at = NULL, lease_until = NULL \
                         WHERE id = $1 AND status <> 'verified'",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1
                }
                CheckResult::Failed { code, message, next_check_at, give_up } => {
                    let status = if *give_up { "failed" } else { "pending" };
                    let moved = sqlx::query(
                        "UPDATE domains SET last_checked_at = $2, last_error_code = $3, last_error = $4, \
                         next_check_at = $5, status = $6, lease_until = NULL \
                         WHERE id = $1 AND status <> 'verified'",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(*code)
                    .bind(message.as_str())
                    .bind(*next_check_at)
                    .bind(status)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    moved == 1 && *give_up
                }
            };
            let written = if changed { CheckWritten::Changed } else { CheckWritten::Unchanged };
            // A failed check by an admin is recorded even though nothing moved.
            let record = changed || matches!(result, CheckResult::Failed { .. });
            if let Some(event) = event.filter(|_| record) {
                insert_event!(&mut *tx, EventRow::new(ctx, event, now))?;
            }
            tx.commit().await?;
            Ok(written)
        }
        .await
        });
        match written {
            Err(e) if StoreError::is_unique_violation(&e) => Ok(CheckWritten::VerifiedElsewhere),
            other => Ok(other?),
        }
    }

    /// Starts the background checks of a domain over (after `failed`).
    pub async fn restart_domain_checks(
        &self,
        id: &str,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        write!(self, |p| {
            async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "UPDATE domains SET status = 'pending', checks_started_at = $2, next_check_at = $2, \
                 last_error_code = NULL, last_error = NULL, lease_until = NULL WHERE id = $1 AND status = 'failed'",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_event!(&mut *tx, EventRow::new(ctx, event, now))?;
            tx.commit().await
        }
        .await
        })?;
        Ok(())
    }

    /// Claims up to `limit` pending domains whose check is due, each with a
    /// lease until `lease_until`. The claim is one conditional update per
    /// row, so an instance only checks the domains it won.
    pub async fn claim_due_domains(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Domain>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM domains WHERE status = 'pending' AND next_check_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_check_at LIMIT $2"
        );
        let due: Vec<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await)?;
        let mut claimed = Vec::new();
        for domain in convert(due)? {
            let won = write!(self, |p| sqlx::query(
                "UPDATE domains SET lease_until = $2 WHERE id = $1 AND status = 'pending' \
                 AND next_check_at <= $3 AND (lease_until IS NULL OR lease_until < $3)"
            )
            .bind(&domain.id)
            .bind(lease_until)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
            if won == 1 {
                claimed.push(domain);
            }
        }
        Ok(claimed)
    }
}
