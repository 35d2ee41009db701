//! Who did what: the actor and the event recorded for every change.

use chrono::{DateTime, Utc};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The host backend, through an API key.
    ApiKey { id: String, name: String },
    /// An IT admin in the Security tab, through a session.
    Admin {
        session_id: String,
        organization_id: String,
    },
    /// An operator at the command line.
    Cli,
    /// Gatehouse itself (background jobs, demo seeding).
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::ApiKey { .. } => "api_key",
            Actor::Admin { .. } => "admin",
            Actor::Cli => "cli",
            Actor::System => "system",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::ApiKey { id, .. } => Some(id),
            Actor::Admin { session_id, .. } => Some(session_id),
            Actor::Cli | Actor::System => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Actor::ApiKey { name, .. } => format!("API key “{name}”"),
            Actor::Admin { .. } => "Security tab admin".to_string(),
            Actor::Cli => "command line".to_string(),
            Actor::System => "Gatehouse".to_string(),
        }
    }
}

/// One change, as written to the audit log in the same transaction as the
/// change itself.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub organization_id: Option<String>,
    /// The organization a moved connection left, whose activity shows the
    /// move too.
    pub previous_organization_id: Option<String>,
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    pub data: serde_json::Value,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub organization_id: Option<String>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub data: serde_json::Value,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The context a change is made in: who, and under which request id.
#[derive(Debug, Clone)]
pub struct ChangeContext {
    pub actor: Actor,
    pub request_id: Option<String>,
}

impl ChangeContext {
    pub fn new(actor: Actor, request_id: Option<String>) -> Self {
        Self { actor, request_id }
    }

    pub fn system() -> Self {
        Self::new(Actor::System, None)
    }
}
