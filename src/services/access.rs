//! Admin access to the Security tab: minting setup links and embed tokens,
//! opening them into sessions, and resolving a session on each request.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{ServiceResult, Services};
use crate::crypto;
use crate::domain::access::{
    AdminSession, Link, LinkCheck, LinkKind, SessionMode, SessionPolicy, SessionState,
};
use crate::domain::audit::{Actor, ChangeContext, NewEvent};
use crate::domain::organization::Organization;
use crate::domain::origin;
use crate::ids::{self, Kind};
use crate::store::links::{Consumed, NewSession};

const PORTAL_TOKEN_PREFIX: &str = "ghp_";
const EMBED_TOKEN_PREFIX: &str = "ghe_";
const SESSION_TOKEN_PREFIX: &str = "ghs_";

/// A minted link: the URL to hand over and when it stops working.
#[derive(Debug, Clone)]
pub struct MintedLink {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Why a link did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link has already been used")]
    Used,
    #[error("this link has expired")]
    Expired,
    #[error("this link is not valid")]
    Unknown,
}

impl LinkError {
    pub fn code(self, kind: LinkKind) -> &'static str {
        match (kind, self) {
            (LinkKind::Portal, LinkError::Used) => "portal_link_used",
            (LinkKind::Portal, LinkError::Expired) => "portal_link_expired",
            (LinkKind::Portal, LinkError::Unknown) => "portal_link_invalid",
            (LinkKind::Embed, LinkError::Used) => "embed_token_used",
            (LinkKind::Embed, LinkError::Expired) => "embed_token_expired",
            (LinkKind::Embed, LinkError::Unknown) => "embed_token_invalid",
        }
    }
}

/// A link that did not open, with the parent origin of an embed token so
/// that the refusal can still be shown inside the right frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRefusal {
    pub error: LinkError,
    pub parent_origin: Option<String>,
}

/// A session just opened from a link, with the token that names it. The
/// token goes to the browser once and is stored only as a hash.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub session: AdminSession,
    pub token: String,
}

/// What a session token resolves to.
#[derive(Debug, Clone)]
pub enum SessionLookup {
    Active(AdminSession, Organization),
    /// Known but over; kept so that an embedded tab can still say so inside
    /// the frame of the right parent.
    Expired(AdminSession),
    Missing,
}

impl Services {
    fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            lifetime: chrono::Duration::from_std(self.config.admin_session_ttl)
                .unwrap_or(chrono::Duration::hours(8)),
            idle_timeout: chrono::Duration::from_std(self.config.admin_session_idle_timeout)
                .unwrap_or(chrono::Duration::hours(1)),
        }
    }

    /// A one-time setup link for the organization's IT admin.
    pub async fn create_portal_link(
        &self,
        ctx: &ChangeContext,
        organization_id: &str,
        return_url: Option<&str>,
    ) -> ServiceResult<MintedLink> {
        let return_url = return_url.map(origin::parse_return_url).transpose()?;
        self.mint_link(ctx, organization_id, LinkKind::Portal, None, return_url)
            .await
    }

    /// A one-time token that opens the tab in an iframe on `parent_origin`.
    pub async fn create_embed_token(
        &self,
        ctx: &ChangeContext,
        organization_id: &str,
        parent_origin: &str,
    ) -> ServiceResult<MintedLink> {
        let parent_origin = origin::parse_parent_origin(parent_origin)?;
        self.mint_link(
            ctx,
            organization_id,
            LinkKind::Embed,
            Some(parent_origin),
            None,
        )
        .await
    }

    async fn mint_link(
        &self,
        ctx: &ChangeContext,
        organization_id: &str,
        kind: LinkKind,
        parent_origin: Option<String>,
        return_url: Option<String>,
    ) -> ServiceResult<MintedLink> {
        let org = self.get_organization(organization_id).await?;
        let now = self.clock.now();
        let (ttl, prefix, path, action) = match kind {
            LinkKind::Portal => (
                self.config.portal_link_ttl,
                PORTAL_TOKEN_PREFIX,
                "/security/portal/",
                "portal_link.created",
            ),
            LinkKind::Embed => (
                self.config.embed_token_ttl,
                EMBED_TOKEN_PREFIX,
                "/security/embed/",
                "embed_token.created",
            ),
        };
        let expires_at =
            now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15));
        let token = crypto::random_token(prefix);
        let link = Link {
            id: ids::new_id(Kind::Link),
            kind,
            organization_id: org.id.clone(),
            parent_origin,
            return_url,
            created_at: now,
            expires_at,
            used_at: None,
        };
        let event = NewEvent {
            organization_id: Some(org.id.clone()),
            previous_organization_id: None,
            action,
            target_type: "link",
            target_id: link.id.clone(),
            data: json!({
                "expires_at": expires_at,
                "parent_origin": link.parent_origin,
                "return_url": link.return_url,
            }),
        };
        self.store
            .insert_link(&link, &crypto::token_hash(&token), ctx, event)
            .await?;
        Ok(MintedLink {
            url: self.config.url_for(&format!("{path}{token}")),
            expires_at,
        })
    }

    /// Opens a link: marks it used and starts an admin session scoped to its
    /// organization.
    pub async fn open_link(
        &self,
        kind: LinkKind,
        token: &str,
        request_id: Option<String>,
    ) -> ServiceResult<Result<OpenedSession, LinkRefusal>> {
        let now = self.clock.now();
        let policy = self.session_policy();
        let session_token = crypto::random_token(SESSION_TOKEN_PREFIX);
        let session_hash = crypto::token_hash(&session_token);
        let consumed = self
            .store
            .consume_link(&crypto::token_hash(token), kind, now, |link| {
                let expires_at = now + policy.lifetime;
                let session = AdminSession {
                    id: ids::new_id(Kind::Session),
                    organization_id: link.organization_id.clone(),
                    mode: kind.session_mode(),
                    parent_origin: link.parent_origin.clone(),
                    return_url: link.return_url.clone(),
                    link_id: link.id.clone(),
                    created_at: now,
                    last_seen_at: now,
                    idle_expires_at: policy.idle_deadline(now, expires_at),
                    expires_at,
                    ended_at: None,
                };
                let ctx = ChangeContext::new(
                    Actor::Admin {
                        session_id: session.id.clone(),
                        organization_id: session.organization_id.clone(),
                    },
                    request_id,
                );
                let event = NewEvent {
                    organization_id: Some(link.organization_id.clone()),
                    previous_organization_id: None,
                    action: "admin_session.started",
                    target_type: "admin_session",
                    target_id: session.id.clone(),
                    data: json!({ "mode": session.mode.as_str(), "link_id": link.id }),
                };
                NewSession {
                    session,
                    token_hash: session_hash,
                    ctx,
                    event,
                }
            })
            .await?;
        Ok(match consumed {
            Consumed::Opened(_, session) => Ok(OpenedSession {
                session,
                token: session_token,
            }),
            Consumed::Refused(link) => Err(LinkRefusal {
                error: match link.check(now) {
                    LinkCheck::Used => LinkError::Used,
                    LinkCheck::Expired => LinkError::Expired,
                    // Valid by the clock yet refused: a concurrent opening
                    // used it a moment ago.
                    LinkCheck::Valid => LinkError::Used,
                },
                parent_origin: link.parent_origin,
            }),
            Consumed::Unknown => Err(LinkRefusal {
                error: LinkError::Unknown,
                parent_origin: None,
            }),
        })
    }

    /// Resolves a session token, extending its idle deadline on activity.
    pub async fn resolve_session(&self, token: &str) -> ServiceResult<SessionLookup> {
        if !token.starts_with(SESSION_TOKEN_PREFIX) {
            return Ok(SessionLookup::Missing);
        }
        let Some(mut session) = self.store.find_session(&crypto::token_hash(token)).await? else {
            return Ok(SessionLookup::Missing);
        };
        let now = self.clock.now();
        if session.state(now) == SessionState::Expired {
            return Ok(SessionLookup::Expired(session));
        }
        let Some(org) = self
            .store
            .get_organization(&session.organization_id)
            .await?
        else {
            return Ok(SessionLookup::Missing);
        };
        let policy = self.session_policy();
        if policy.should_touch(&session, now) {
            session.last_seen_at = now;
            session.idle_expires_at = policy.idle_deadline(now, session.expires_at);
            self.store
                .touch_session(&session.id, now, session.idle_expires_at)
                .await?;
        }
        Ok(SessionLookup::Active(session, org))
    }

    /// Signs the admin out.
    pub async fn end_session(
        &self,
        session: &AdminSession,
        request_id: Option<String>,
    ) -> ServiceResult<()> {
        let ctx = ChangeContext::new(
            Actor::Admin {
                session_id: session.id.clone(),
                organization_id: session.organization_id.clone(),
            },
            request_id,
        );
        let event = NewEvent {
            organization_id: Some(session.organization_id.clone()),
            previous_organization_id: None,
            action: "admin_session.ended",
            target_type: "admin_session",
            target_id: session.id.clone(),
            data: json!({}),
        };
        self.store
            .end_session(&session.id, self.clock.now(), &ctx, event)
            .await?;
        Ok(())
    }

    /// The CSRF token of a session: a MAC of its id, so nothing extra is stored.
    pub fn csrf_token(&self, session: &AdminSession) -> String {
        crypto::mac(&self.secret_key, "csrf", &session.id)
    }

    pub fn check_csrf_token(&self, session: &AdminSession, presented: &str) -> bool {
        crypto::constant_time_eq(&self.csrf_token(session), presented)
    }
}

impl SessionMode {
    pub fn is_embed(self) -> bool {
        self == SessionMode::Embed
    }
}
