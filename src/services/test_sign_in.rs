//! An admin's test sign-in: a ticket the Security tab hands to a popup
//! (which cannot see the tab's session cookie when the tab is embedded), the
//! real SAML or OIDC flow started from it with the test flag, and the result
//! recorded against the configuration version it ran on.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};

use super::saml_signin::{FlowPurpose, SignInStart};
use super::{ServiceError, ServiceResult, Services};
use crate::crypto;
use crate::domain::audit::{Actor, ChangeContext, NewEvent};
use crate::domain::connections::{Connection, Protocol};
use crate::domain::provisioning::{Provisioning, provision};
use crate::domain::sign_in::SignInError;
use crate::ids::{self, Kind};
use crate::store::connection_tests::ConnectionTest;

/// How long a ticket in the Test step's link stays good.
pub const TICKET_LIFETIME: Duration = Duration::minutes(30);
/// How many tests the history keeps showing.
pub const HISTORY: i64 = 10;
const TICKET_PURPOSE: &str = "test-ticket";

/// What came back from a test sign-in that passed, for the history.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct TestIdentity {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Vec<String>,
    /// NameID or subject.
    pub subject: String,
    /// Every attribute or claim, as text.
    pub details: Vec<(String, String)>,
}

impl TestIdentity {
    /// The subject a real sign-in records the person by: the NameID or
    /// subject, or (a SAML response without a NameID) the email, as
    /// `saml_signin::person` does.
    pub fn sign_in_subject(&self) -> &str {
        if self.subject.is_empty() {
            &self.email
        } else {
            &self.subject
        }
    }
}

/// The identity of a test that passed.
pub fn identity_of(test: &ConnectionTest) -> Option<TestIdentity> {
    (test.outcome == "passed")
        .then(|| serde_json::from_str(&test.result).ok())
        .flatten()
}

/// What a test received: every attribute or claim of the newest test that
/// got that far (passed, or failed after the provider's answer checked
/// out), as text.
pub fn received_of(test: &ConnectionTest) -> Option<Vec<(String, String)>> {
    let result: Value = serde_json::from_str(&test.result).ok()?;
    let details = if test.outcome == "passed" {
        result.get("details")
    } else {
        result.get("claims")
    };
    serde_json::from_value::<Vec<(String, String)>>(details?.clone())
        .ok()
        .filter(|d| !d.is_empty())
}

/// Where a flow came from: its purpose, the version it ran on, and the
/// session that asked for it.
#[derive(Debug, Clone, Default)]
pub struct FlowOrigin {
    pub purpose: Option<String>,
    pub config_version: Option<i64>,
    pub context: Value,
}

impl FlowOrigin {
    /// From a flow's stored context.
    pub fn new(purpose: &str, context: &str) -> Self {
        let context: Value = serde_json::from_str(context).unwrap_or_default();
        Self {
            purpose: Some(purpose.to_string()),
            config_version: context.get("config_version").and_then(Value::as_i64),
            context: context.get("data").cloned().unwrap_or_default(),
        }
    }

    pub fn is_test(&self) -> bool {
        self.purpose.as_deref() == Some("test")
    }

    /// The host's authorization request the flow carries, if a host
    /// started it.
    pub fn host_request(&self) -> Option<super::oauth::HostRequest> {
        self.context
            .get("oauth")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

impl Services {
    /// A ticket for the Test step's link: bound to the admin's session and
    /// the connection, good for `TICKET_LIFETIME`.
    pub fn test_ticket(&self, session_id: &str, connection_id: &str) -> String {
        let expires = (self.clock.now() + TICKET_LIFETIME).timestamp();
        let body = format!("{session_id}.{connection_id}.{expires}");
        let mac = crypto::mac(&self.secret_key, TICKET_PURPOSE, &body);
        format!("{body}.{mac}")
    }

    /// Starts a test sign-in from a ticket.
    pub async fn start_test_sign_in(&self, ticket: &str) -> ServiceResult<SignInStart> {
        let refused = || {
            ServiceError::Refused {
            code: "test_ticket_invalid",
            message: "This test link has expired or is not valid. Start the test again from the Security tab.".into(),
        }
        };
        let parts: Vec<&str> = ticket.split('.').collect();
        let [session_id, connection_id, expires, mac] = parts[..] else {
            return Err(refused());
        };
        let body = format!("{session_id}.{connection_id}.{expires}");
        if !crypto::constant_time_eq(mac, &crypto::mac(&self.secret_key, TICKET_PURPOSE, &body)) {
            return Err(refused());
        }
        let expires = expires
            .parse::<i64>()
            .ok()
            .and_then(|t| Utc.timestamp_opt(t, 0).single())
            .ok_or_else(refused)?;
        let now = self.clock.now();
        if now >= expires {
            return Err(refused());
        }
        let session = self
            .store
            .get_session(session_id)
            .await?
            .filter(|s| s.ended_at.is_none() && now < s.expires_at)
            .ok_or_else(refused)?;
        let connection = self
            .get_organization_connection(&session.organization_id, connection_id)
            .await?;
        let context =
            json!({ "session_id": session.id, "organization_id": session.organization_id });
        match connection.protocol() {
            Protocol::Saml => {
                self.start_saml_sign_in(&connection.id, FlowPurpose::Test, context)
                    .await
            }
            Protocol::Oidc => self
                .start_oidc_sign_in(&connection.id, FlowPurpose::Test, context, None)
                .await
                .map(SignInStart::Redirect),
        }
    }

    /// Records a finished test sign-in. A pass marks the connection tested
    /// when its settings are still the version the test ran on; a test of
    /// older settings is kept in the history but counts for nothing. A
    /// failure keeps what the provider sent, where it got that far
    /// (`received`: verified claims), so the admin can pick the email claim
    /// from it.
    pub async fn record_test(
        &self,
        connection: &Connection,
        origin: &FlowOrigin,
        outcome: Result<&TestIdentity, &SignInError>,
        received: &[(String, String)],
        request_id: Option<String>,
    ) -> ServiceResult<ConnectionTest> {
        let version = origin
            .config_version
            .unwrap_or(connection.lifecycle.config_version);
        let now = self.clock.now();
        let (passed, error_code, result) = match outcome {
            Ok(identity) => (
                true,
                None,
                serde_json::to_value(identity).map_err(|e| ServiceError::Unexpected(e.into()))?,
            ),
            Err(e) => {
                let mut result =
                    json!({ "detail": e.detail, "expected": e.expected, "received": e.received });
                if !received.is_empty() {
                    result["claims"] = json!(received);
                }
                (false, Some(e.code.to_string()), result)
            }
        };
        let test = ConnectionTest {
            id: ids::new_id(Kind::Test),
            connection_id: connection.id.clone(),
            organization_id: connection.organization_id.clone(),
            config_version: version,
            outcome: if passed { "passed" } else { "failed" }.into(),
            error_code: error_code.clone(),
            result: result.to_string(),
            created_at: now,
        };
        let lifecycle = (passed && version == connection.lifecycle.config_version)
            .then(|| connection.lifecycle.after_test_passed(version));
        let actor = match (
            origin.context.get("session_id").and_then(Value::as_str),
            origin
                .context
                .get("organization_id")
                .and_then(Value::as_str),
        ) {
            (Some(session_id), Some(organization_id)) => Actor::Admin {
                session_id: session_id.into(),
                organization_id: organization_id.into(),
            },
            _ => Actor::System,
        };
        let ctx = ChangeContext { actor, request_id };
        let event = NewEvent {
            organization_id: Some(connection.organization_id.clone()),
            previous_organization_id: None,
            action: "connection.tested",
            target_type: "connection",
            target_id: connection.id.clone(),
            data: json!({
                "test_id": test.id,
                "outcome": test.outcome,
                "error_code": error_code,
                "config_version": version,
                "counts": lifecycle.is_some(),
            }),
        };
        self.store
            .record_connection_test(&test, lifecycle.as_ref(), &ctx, event)
            .await?;
        Ok(test)
    }

    /// What a real sign-in of the person of a test would do now: which user
    /// it takes (created, linked by email, or returning) and the role they
    /// end up with, by the same rules as the sign-in's write. Nothing is
    /// written.
    pub async fn preview_provisioning(
        &self,
        connection: &Connection,
        identity: &TestIdentity,
    ) -> ServiceResult<Provisioning> {
        let org = self.get_organization(&connection.organization_id).await?;
        let known = self
            .store
            .find_sign_in_user(
                &connection.id,
                identity.sign_in_subject(),
                &identity.email,
                &org.id,
            )
            .await?;
        Ok(provision(
            known.as_ref(),
            &connection.role_mapping,
            &identity.groups,
            &org.default_role,
        ))
    }

    pub async fn list_tests(&self, connection_id: &str) -> ServiceResult<Vec<ConnectionTest>> {
        Ok(self
            .store
            .list_connection_tests(connection_id, HISTORY)
            .await?)
    }
}
