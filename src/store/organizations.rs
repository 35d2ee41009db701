//! Organizations table.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Page, PageRequest, Store, StoreError, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::organization::Organization;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    slug: String,
    external_id: Option<String>,
    self_serve_sso: bool,
    default_role: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Organization {
    fn from(r: Row) -> Self {
        Organization {
            id: r.id,
            name: r.name,
            slug: r.slug,
            external_id: r.external_id,
            self_serve_sso: r.self_serve_sso,
            default_role: r.default_role,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str =
    "id, name, slug, external_id, self_serve_sso, default_role, created_at, updated_at";

impl Store {
    /// Inserts an organization and its audit event. A taken slug or external
    /// id is `Conflict("slug")` / `Conflict("external_id")`.
    pub async fn insert_organization(
        &self,
        org: &Organization,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO organizations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        let result: sqlx::Result<()> = write!(self, |p| async {
            let mut tx = p.begin().await?;
            sqlx::query(&sql)
                .bind(&org.id)
                .bind(&org.name)
                .bind(&org.slug)
                .bind(org.external_id.as_deref())
                .bind(org.self_serve_sso)
                .bind(&org.default_role)
                .bind(org.created_at)
                .bind(org.updated_at)
                .execute(&mut *tx)
                .await?;
            insert_event!(&mut *tx, EventRow::new(ctx, event, org.created_at))?;
            tx.commit().await
        }
        .await);
        self.map_organization_conflict(result, org).await
    }

    /// Writes every field of `org` and its audit event.
    pub async fn update_organization(
        &self,
        org: &Organization,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        let sql = "UPDATE organizations SET name = $2, slug = $3, external_id = $4, \
                   self_serve_sso = $5, default_role = $6, updated_at = $7 WHERE id = $1";
        let result: sqlx::Result<()> = write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done = sqlx::query(sql)
                .bind(&org.id)
                .bind(&org.name)
                .bind(&org.slug)
                .bind(org.external_id.as_deref())
                .bind(org.self_serve_sso)
                .bind(&org.default_role)
                .bind(org.updated_at)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(sqlx::Error::RowNotFound);
            }
            insert_event!(&mut *tx, EventRow::new(ctx, event, org.updated_at))?;
            tx.commit().await
        }
        .await);
        self.map_organization_conflict(result, org).await
    }

    /// Tells which unique column a failed write collided on, asking the
    /// database rather than reading its error text.
    async fn map_organization_conflict(
        &self,
        result: sqlx::Result<()>,
        org: &Organization,
    ) -> StoreResult<()> {
        match result {
            Ok(()) => Ok(()),
            Err(sqlx::Error::RowNotFound) => Err(StoreError::NotFound),
            Err(e) if StoreError::is_unique_violation(&e) => {
                if let Some(other) = self.find_organization_by_slug(&org.slug).await?
                    && other.id != org.id
                {
                    return Err(StoreError::Conflict("slug"));
                }
                if let Some(external_id) = &org.external_id
                    && let Some(other) = self.find_organization_by_external_id(external_id).await?
                    && other.id != org.id
                {
                    return Err(StoreError::Conflict("external_id"));
                }
                Err(StoreError::Conflict("organization"))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_organization(&self, id: &str) -> StoreResult<Option<Organization>> {
        self.find_organization_by("id", id).await
    }

    pub async fn find_organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        self.find_organization_by("slug", slug).await
    }

    pub async fn find_organization_by_external_id(
        &self,
        external_id: &str,
    ) -> StoreResult<Option<Organization>> {
        self.find_organization_by("external_id", external_id).await
    }

    async fn find_organization_by(
        &self,
        column: &'static str,
        value: &str,
    ) -> StoreResult<Option<Organization>> {
        let sql = format!("SELECT {COLUMNS} FROM organizations WHERE {column} = $1");
        let row: Option<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(p)
            .await)?;
        Ok(row.map(Organization::from))
    }

    /// Organizations, newest first.
    pub async fn list_organizations(&self, page: &PageRequest) -> StoreResult<Page<Organization>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
        );
        let rows: Vec<Row> = read!(self, |p| sqlx::query_as(&sql)
            .bind(page.before.as_deref())
            .bind(i64::from(page.limit) + 1)
            .fetch_all(p)
            .await)?;
        let orgs = rows.into_iter().map(Organization::from).collect();
        Ok(Page::from_rows(orgs, page.limit, |o: &Organization| &o.id))
    }
}
