//! Admin access to the Security tab: one-time links and the sessions they
//! open. Pure rules over values; storage and HTTP live elsewhere.

use chrono::{DateTime, Utc};

/// How a one-time link opens the tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// A setup link the host sends to the IT admin: opens the tab top level.
    Portal,
    /// A short-lived token the host puts in an iframe on its own page.
    Embed,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Portal => "portal",
            LinkKind::Embed => "embed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "portal" => Some(LinkKind::Portal),
            "embed" => Some(LinkKind::Embed),
            _ => None,
        }
    }

    pub fn session_mode(self) -> SessionMode {
        match self {
            LinkKind::Portal => SessionMode::Standalone,
            LinkKind::Embed => SessionMode::Embed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: String,
    pub kind: LinkKind,
    pub organization_id: String,
    pub parent_origin: Option<String>,
    pub return_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// What opening a link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck {
    Valid,
    Used,
    Expired,
}

impl Link {
    /// Used beats expired: a link that was opened once says so, whenever.
    pub fn check(&self, now: DateTime<Utc>) -> LinkCheck {
        if self.used_at.is_some() {
            LinkCheck::Used
        } else if now >= self.expires_at {
            LinkCheck::Expired
        } else {
            LinkCheck::Valid
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    Standalone,
    Embed,
}

impl SessionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionMode::Standalone => "standalone",
            SessionMode::Embed => "embed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standalone" => Some(SessionMode::Standalone),
            "embed" => Some(SessionMode::Embed),
            _ => None,
        }
    }
}

/// An IT admin's session, scoped to exactly one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub id: String,
    pub organization_id: String,
    pub mode: SessionMode,
    /// For embed sessions: the only origin allowed to frame the tab.
    pub parent_origin: Option<String>,
    pub return_url: Option<String>,
    pub link_id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    /// Idle too long, past its absolute lifetime, or ended.
    Expired,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub lifetime: chrono::Duration,
    pub idle_timeout: chrono::Duration,
}

impl SessionPolicy {
    /// The idle deadline after activity at `now`, never past the absolute end.
    pub fn idle_deadline(&self, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> DateTime<Utc> {
        (now + self.idle_timeout).min(expires_at)
    }

    /// Whether a request at `now` should push the idle deadline forward;
    /// done at most once a minute so reads do not all become writes.
    pub fn should_touch(&self, session: &AdminSession, now: DateTime<Utc>) -> bool {
        now - session.last_seen_at >= chrono::Duration::seconds(60)
    }
}

impl AdminSession {
    pub fn state(&self, now: DateTime<Utc>) -> SessionState {
        if self.ended_at.is_some() || now >= self.expires_at || now >= self.idle_expires_at {
            SessionState::Expired
        } else {
            SessionState::Active
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn link(used: bool) -> Link {
        let t = Utc::now();
        Link {
            id: "lnk_1".into(),
            kind: LinkKind::Portal,
            organization_id: "org_1".into(),
            parent_origin: None,
            return_url: None,
            created_at: t,
            expires_at: t + Duration::minutes(15),
            used_at: used.then_some(t),
        }
    }

    #[test]
    fn a_link_is_valid_once_and_until_it_expires() {
        let l = link(false);
        assert_eq!(l.check(l.created_at), LinkCheck::Valid);
        assert_eq!(l.check(l.expires_at), LinkCheck::Expired);
        assert_eq!(link(true).check(l.created_at), LinkCheck::Used);
        assert_eq!(
            link(true).check(l.expires_at + Duration::days(1)),
            LinkCheck::Used
        );
    }

    #[test]
    fn sessions_end_when_idle_or_too_old_or_ended() {
        let t = Utc::now();
        let policy = SessionPolicy {
            lifetime: Duration::hours(8),
            idle_timeout: Duration::hours(1),
        };
        let s = AdminSession {
            id: "ses_1".into(),
            organization_id: "org_1".into(),
            mode: SessionMode::Standalone,
            parent_origin: None,
            return_url: None,
            link_id: "lnk_1".into(),
            created_at: t,
            last_seen_at: t,
            idle_expires_at: policy.idle_deadline(t, t + policy.lifetime),
            expires_at: t + policy.lifetime,
            ended_at: None,
        };
        assert_eq!(s.state(t + Duration::minutes(59)), SessionState::Active);
        assert_eq!(s.state(t + Duration::minutes(60)), SessionState::Expired);
        assert_eq!(
            policy.idle_deadline(t + Duration::hours(7) + Duration::minutes(30), s.expires_at),
            s.expires_at
        );
        let ended = AdminSession {
            ended_at: Some(t),
            ..s.clone()
        };
        assert_eq!(ended.state(t), SessionState::Expired);
        assert!(!policy.should_touch(&s, t + Duration::seconds(30)));
        assert!(policy.should_touch(&s, t + Duration::seconds(61)));
    }
}
