//! One-time links (setup links and embed tokens), consumed atomically into a
//! new admin session.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Store, StoreError, StoreResult, read, write};
use crate::domain::access::{AdminSession, Link, LinkKind};
use crate::domain::audit::{ChangeContext, NewEvent};

#[derive(sqlx::FromRow)]
pub(crate) struct LinkRow {
    id: String,
    kind: String,
    organization_id: String,
    parent_origin: Option<String>,
    return_url: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

impl TryFrom<LinkRow> for Link {
    type Error = StoreError;
    fn try_from(r: LinkRow) -> StoreResult<Link> {
        Ok(Link {
            kind: LinkKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("link {} kind {}", r.id, r.kind)))?,
            id: r.id,
            organization_id: r.organization_id,
            parent_origin: r.parent_origin,
            return_url: r.return_url,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        })
    }
}

/// What consuming a link did.
#[derive(Debug)]
pub enum Consumed {
    /// The link was valid; it is now used and this session was created.
    Opened(Link, AdminSession),
    /// The link exists but cannot be used (already used, or expired).
    Refused(Link),
    /// No link of this kind has this token.
    Unknown,
}

/// The session a link opens, built once the link is known.
pub struct NewSession {
    pub session: AdminSession,
    pub token_hash: String,
    pub ctx: ChangeContext,
    pub event: NewEvent,
}

impl Store {
    pub async fn insert_link(
        &self,
        link: &Link,
        token_hash: &str,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        write!(self, |p| async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO one_time_links (id, kind, organization_id, token_hash, parent_origin, \
                 return_url, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&link.id)
            .bind(link.kind.as_str())
            .bind(&link.organization_id)
            .bind(token_hash)
            .bind(link.parent_origin.as_deref())
            .bind(link.return_url.as_deref())
            .bind(link.created_at)
            .bind(link.expires_at)
            .execute(&mut *tx)
            .await?;
            insert_event!(&mut *tx, EventRow::new(ctx, event, link.created_at))?;
            tx.commit().await
        }
        .await)?;
        Ok(())
    }

    /// Marks the link used and creates the session it opens, in one
    /// transaction. The conditional update is the single-use guarantee: of
    /// two concurrent openings, exactly one changes the row.
    pub async fn consume_link(
        &self,
        token_hash: &str,
        kind: LinkKind,
        now: DateTime<Utc>,
        open: impl FnOnce(&Link) -> NewSession,
    ) -> StoreResult<Consumed> {
        let opened: Option<(Link, AdminSession)> = write!(self, |p| async {
            let mut tx = p.begin().await?;
            let row: Option<LinkRow> = sqlx::query_as(&format!(
                "UPDATE one_time_links SET used_at = $1 \
                 WHERE token_hash = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1 \
                 RETURNING {LINK_COLUMNS}"
            ))
            .bind(now)
            .bind(token_hash)
            .bind(kind.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                tx.rollback().await?;
                return Ok::<_, StoreError>(None);
            };
            let link = Link::try_from(row)?;
            let new = open(&link);
            super::sessions::insert_session!(&mut *tx, &new.session, &new.token_hash)?;
            insert_event!(&mut *tx, EventRow::new(&new.ctx, new.event, now))?;
            tx.commit().await?;
            Ok(Some((link, new.session)))
        }
        .await)?;
        if let Some((link, session)) = opened {
            return Ok(Consumed::Opened(link, session));
        }
        let row: Option<LinkRow> = read!(self, |p| sqlx::query_as(&format!(
            "SELECT {LINK_COLUMNS} FROM one_time_links WHERE token_hash = $1 AND kind = $2"
        ))
        .bind(token_hash)
        .bind(kind.as_str())
        .fetch_optional(p)
        .await)?;
        match row {
            Some(row) => Ok(Consumed::Refused(Link::try_from(row)?)),
            None => Ok(Consumed::Unknown),
        }
    }
}

const LINK_COLUMNS: &str =
    "id, kind, organization_id, parent_origin, return_url, created_at, expires_at, used_at";
