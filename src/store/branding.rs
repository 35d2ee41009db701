//! The host's branding: one row. Pages read its small columns on every
//! request (instances share the database, so there is nothing to
//! invalidate); the logo's bytes are read only to serve the logo.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Store, StoreError, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::branding::{Branding, LogoInfo, LogoType, Rgb};

/// The id of the one row.
const ROW_ID: &str = "host";

#[derive(sqlx::FromRow)]
struct Row {
    product_name: Option<String>,
    accent_color: Option<String>,
    logo_content_type: Option<String>,
    logo_sha256: Option<String>,
    logo_size: Option<i64>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for Branding {
    type Error = StoreError;
    fn try_from(r: Row) -> StoreResult<Self> {
        let accent_color = r
            .accent_color
            .as_deref()
            .map(Rgb::parse)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("branding accent: {}", e.message)))?;
        let logo = match (r.logo_content_type, r.logo_sha256, r.logo_size) {
            (Some(content_type), Some(sha256), Some(size)) => Some(LogoInfo {
                content_type: LogoType::from_mime(&content_type).ok_or_else(|| {
                    StoreError::Corrupt(format!("branding logo type {content_type}"))
                })?,
                sha256,
                size,
            }),
            _ => None,
        };
        Ok(Branding {
            product_name: r.product_name,
            accent_color,
            logo,
            updated_at: Some(r.updated_at),
        })
    }
}

/// What a branding write does to the logo.
#[derive(Debug, Clone)]
pub enum LogoWrite {
    Keep,
    Remove,
    Set { info: LogoInfo, data: Vec<u8> },
}

/// A stored logo with its bytes.
#[derive(Debug, Clone)]
pub struct StoredLogo {
    pub info: LogoInfo,
    pub data: Vec<u8>,
}

impl Store {
    /// The branding in force; the default when none was ever set.
    pub async fn get_branding(&self) -> StoreResult<Branding> {
        let row: Option<Row> = read!(self, |p| sqlx::query_as(
            "SELECT product_name, accent_color, logo_content_type, logo_sha256, logo_size, \
             updated_at FROM branding WHERE id = $1"
        )
        .bind(ROW_ID)
        .fetch_optional(p)
        .await)?;
        row.map_or(Ok(Branding::default()), Branding::try_from)
    }

    /// The logo and its bytes, if one is set.
    pub async fn get_branding_logo(&self) -> StoreResult<Option<StoredLogo>> {
        #[derive(sqlx::FromRow)]
        struct LogoRow {
            logo_content_type: Option<String>,
            logo_sha256: Option<String>,
            logo_size: Option<i64>,
            logo_data: Option<Vec<u8>>,
        }
        let row: Option<LogoRow> = read!(self, |p| {
            sqlx::query_as(
            "SELECT logo_content_type, logo_sha256, logo_size, logo_data FROM branding WHERE id = $1"
        )
        .bind(ROW_ID)
        .fetch_optional(p)
        .await
        })?;
        let Some(LogoRow {
            logo_content_type: Some(content_type),
            logo_sha256: Some(sha256),
            logo_size: Some(size),
            logo_data: Some(data),
        }) = row
        else {
            return Ok(None);
        };
        let content_type = LogoType::from_mime(&content_type)
            .ok_or_else(|| StoreError::Corrupt(format!("branding logo type {content_type}")))?;
        Ok(Some(StoredLogo {
            info: LogoInfo {
                content_type,
                sha256,
                size,
            },
            data,
        }))
    }

    /// Writes the product name and accent (and the logo as `logo` says)
    /// with the audit event, in one transaction.
    pub async fn save_branding(
        &self,
        branding: &Branding,
        logo: LogoWrite,
        now: DateTime<Utc>,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        let accent = branding.accent_color.map(Rgb::hex);
        write!(self, |p| async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO branding (id, product_name, accent_color, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET \
                 product_name = excluded.product_name, accent_color = excluded.accent_color, \
                 updated_at = excluded.updated_at",
            )
            .bind(ROW_ID)
            .bind(branding.product_name.as_deref())
            .bind(accent.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            match &logo {
                LogoWrite::Keep => {}
                LogoWrite::Remove => {
                    sqlx::query(
                        "UPDATE branding SET logo_content_type = NULL, logo_sha256 = NULL, \
                         logo_size = NULL, logo_data = NULL WHERE id = $1",
                    )
                    .bind(ROW_ID)
                    .execute(&mut *tx)
                    .await?;
                }
                LogoWrite::Set { info, data } => {
                    sqlx::query(
                        "UPDATE branding SET logo_content_type = $2, logo_sha256 = $3, \
                         logo_size = $4, logo_data = $5 WHERE id = $1",
                    )
                    .bind(ROW_ID)
                    .bind(info.content_type.mime())
                    .bind(&info.sha256)
                    .bind(info.size)
                    .bind(data.as_slice())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            insert_event!(&mut *tx, EventRow::new(ctx, event, now))?;
            tx.commit().await
        }
        .await)?;
        Ok(())
    }
}
