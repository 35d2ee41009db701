//! Webhooks as the Standard Webhooks specification (standardwebhooks.com)
//! describes them: the signing secret's `whsec_` form, the `v1` signature
//! over `{id}.{timestamp}.{body}`, the payload built from an audit event,
//! the retry schedule, and the checks on what a host registers.
//!
//! Plain functions over values; the outbox (audit log → deliveries) lives in
//! the store, the sending in the service.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::ValidationError;
use super::audit::Event;
use crate::ids::Kind;

/// How a signing secret is shown to the host: `whsec_` and the base64 key.
pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a new signing key (the specification asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;
/// How long the secret before a rotation keeps signing deliveries beside
/// the new one, so that receivers can switch without missing a delivery.
pub const SECRET_OVERLAP: Duration = Duration::hours(24);
/// Most event types one endpoint may list.
pub const MAX_EVENT_TYPES: usize = 100;
/// Longest URL an endpoint may have.
pub const MAX_URL_LEN: usize = 2048;

/// The wait after each failed attempt: the first retry after 5 seconds, the
/// last about 23 hours after the first attempt. After the last, the delivery
/// is given up.
pub const RETRY_SCHEDULE: &[Duration] = &[
    Duration::seconds(5),
    Duration::seconds(30),
    Duration::minutes(2),
    Duration::minutes(10),
    Duration::minutes(30),
    Duration::hours(1),
    Duration::hours(3),
    Duration::hours(6),
    Duration::hours(6),
    Duration::hours(6),
];

/// A registered receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    /// The event types delivered; empty means every type.
    pub event_types: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// After a rotation: until when the previous secret signs deliveries
    /// too (it is forgotten afterwards).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl Endpoint {
    /// Until when the previous secret still signs, if it does at `now`.
    pub fn overlap_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.previous_secret_expires_at.filter(|t| *t > now)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet answered with a 2xx; another attempt is scheduled.
    Pending,
    Delivered,
    /// Every attempt of the schedule failed; no more are made.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One event on its way to one endpoint. Its id is the `webhook-id` header,
/// the same on every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Delivery {
    pub fn status(&self) -> DeliveryStatus {
        if self.delivered_at.is_some() {
            DeliveryStatus::Delivered
        } else if self.failed_at.is_some() {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        }
    }
}

/// The secret as the host stores it: `whsec_<base64 of the key>`.
pub fn secret_string(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` value: `v1,<base64 HMAC-SHA256>` of
/// `{msg_id}.{timestamp}.{body}` under the key.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` value under several keys (the current one
/// first, then the previous one during a rotation's overlap): their `v1`
/// signatures separated by spaces, as the specification allows, so that a
/// receiver holding either secret verifies it.
pub fn sign_all(keys: &[&[u8]], msg_id: &str, timestamp: i64, body: &str) -> String {
    keys.iter()
        .map(|key| sign(key, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// When to try again after `attempts` failed attempts; `None` when the
/// schedule is over and the delivery is given up.
pub fn next_attempt_after_failure(attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_SCHEDULE.get(index).map(|wait| now + *wait)
}

/// The body sent for an audit event: `{type, timestamp, data}` as Standard
/// Webhooks recommends, with the event itself under `data`.
pub fn payload(event: &Event) -> String {
    json!({
        "type": event.action,
        "timestamp": event.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "data": {
            "id": event.id,
            "organization_id": event.organization_id,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "actor": {
                "type": event.actor_type,
                "id": event.actor_id,
                "label": event.actor_label,
            },
            "data": event.data,
        },
    })
    .to_string()
}

/// Whether an endpoint listing `types` receives events of `action`.
pub fn wants(types: &[String], action: &str) -> bool {
    types.is_empty() || types.iter().any(|t| t == action)
}

/// Checks the event types an endpoint asks for: any action name (lower-case
/// words of letters, digits and `_`, joined by dots), each once.
pub fn normalize_event_types(types: Vec<String>) -> Result<Vec<String>, ValidationError> {
    if types.len() > MAX_EVENT_TYPES {
        return Err(ValidationError::new(
            "event_types",
            format!("must list at most {MAX_EVENT_TYPES} types"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for t in types {
        let t = t.trim().to_string();
        let well_formed = !t.is_empty()
            && t.len() <= 100
            && t.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        if !well_formed {
            return Err(ValidationError::new(
                "event_types",
                format!(
                    "`{}` is not an event type; use names such as `domain.verified` or `connection.created`",
                    t.chars().take(100).collect::<String>()
                ),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Checks an endpoint URL: absolute, https (http only where private-network
/// fetches are allowed), no credentials, and no internal address literal
/// unless allowed. Names are checked again, after resolution, at each send.
pub fn check_url(raw: &str, allow_private: bool) -> Result<String, String> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(format!("The URL is longer than {MAX_URL_LEN} characters."));
    }
    let url = url::Url::parse(raw).map_err(|_| {
        format!(
            "“{}” is not a valid absolute URL.",
            raw.chars().take(200).collect::<String>()
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("The URL must start with https://.".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("The URL must not contain a user name or password.".into());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err("The URL has no host.".into()),
    };
    if let Some(ip) = ip
        && !allow_private
        && crate::fetch::is_internal(ip)
    {
        return Err(
            "The URL points to a private or internal network address; use a publicly reachable one."
                .into(),
        );
    }
    Ok(url.to_string())
}

/// The lowest event id that could have been written `lookback` before the
/// event id `cursor` (event ids are ULIDs: their first part is a time).
/// Transactions commit in a different order than they took their ids, and
/// ids of one millisecond are not ordered, so events just below a cursor
/// may appear after it moved; the enqueue pass looks back this far for them.
pub fn cursor_floor(cursor: &str, lookback: Duration) -> Option<String> {
    let ulid = cursor.strip_prefix(Kind::Event.prefix())?;
    let ulid = ulid::Ulid::from_string(&ulid.to_ascii_uppercase()).ok()?;
    let back = u64::try_from(lookback.num_milliseconds()).ok()?;
    let floor = ulid::Ulid::from_parts(ulid.timestamp_ms().saturating_sub(back), 0);
    Some(format!(
        "{}{}",
        Kind::Event.prefix(),
        floor.to_string().to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_specification_test_vector() {
        // From the Standard Webhooks reference libraries.
        let key = STANDARD
            .decode("C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
            .expect("key");
        assert_eq!(
            sign(
                &key,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                r#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn signatures_depend_on_key_id_timestamp_and_body() {
        let s = sign(b"key", "msg_1", 1, "{}");
        assert_ne!(s, sign(b"other", "msg_1", 1, "{}"));
        assert_ne!(s, sign(b"key", "msg_2", 1, "{}"));
        assert_ne!(s, sign(b"key", "msg_1", 2, "{}"));
        assert_ne!(s, sign(b"key", "msg_1", 1, "{ }"));
    }

    #[test]
    fn during_a_rotation_each_key_signs_once_separated_by_spaces() {
        let both = sign_all(&[b"new", b"old"], "msg_1", 1, "{}");
        assert_eq!(
            both,
            format!(
                "{} {}",
                sign(b"new", "msg_1", 1, "{}"),
                sign(b"old", "msg_1", 1, "{}")
            )
        );
        assert_eq!(
            sign_all(&[b"new"], "msg_1", 1, "{}"),
            sign(b"new", "msg_1", 1, "{}")
        );
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let endpoint = Endpoint {
            id: "whk_1".into(),
            url: "https://hooks.example.com/".into(),
            event_types: Vec::new(),
            created_at: t0,
            disabled_at: None,
            previous_secret_expires_at: Some(t0 + SECRET_OVERLAP),
        };
        assert_eq!(endpoint.overlap_until(t0), Some(t0 + SECRET_OVERLAP));
        assert_eq!(endpoint.overlap_until(t0 + SECRET_OVERLAP), None);
    }

    #[test]
    fn secrets_are_prefixed_standard_base64() {
        let s = secret_string(&[0xfb; SECRET_BYTES]);
        let key = STANDARD
            .decode(s.strip_prefix(SECRET_PREFIX).expect("prefix"))
            .expect("base64");
        assert_eq!(key, vec![0xfb; SECRET_BYTES]);
    }

    #[test]
    fn retries_back_off_and_give_up_after_about_a_day() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(next_attempt_after_failure(0, t0), None);
        assert_eq!(
            next_attempt_after_failure(1, t0),
            Some(t0 + Duration::seconds(5))
        );
        assert_eq!(
            next_attempt_after_failure(2, t0),
            Some(t0 + Duration::seconds(30))
        );
        let mut waits = Vec::new();
        let mut attempts = 1;
        while let Some(next) = next_attempt_after_failure(attempts, t0) {
            waits.push(next - t0);
            attempts += 1;
        }
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "never shorter");
        let total: Duration = waits.iter().copied().sum();
        assert!(
            total > Duration::hours(20) && total < Duration::hours(25),
            "{total}"
        );
        assert_eq!(attempts as usize, RETRY_SCHEDULE.len() + 1);
    }

    #[test]
    fn urls_must_be_https_public_and_without_credentials() {
        assert_eq!(
            check_url(" https://hooks.example.com/in ", false).as_deref(),
            Ok("https://hooks.example.com/in")
        );
        for bad in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "hooks.example.com",
            "https://user:pw@hooks.example.com/",
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://10.0.0.8/hook",
            "https://169.254.169.254/latest",
            "",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url(&format!("https://a.example/{}", "x".repeat(3000)), false).is_err());
    }

    #[test]
    fn event_types_are_action_names_each_once() {
        assert_eq!(
            normalize_event_types(vec![
                "domain.verified".into(),
                " sign_in.failed ".into(),
                "domain.verified".into()
            ]),
            Ok(vec!["domain.verified".into(), "sign_in.failed".into()])
        );
        for bad in [
            "",
            "Domain.Verified",
            "domain..verified",
            ".x",
            "a b",
            "a\"b",
            "a%",
        ] {
            assert!(normalize_event_types(vec![bad.into()]).is_err(), "{bad}");
        }
        assert!(wants(&[], "anything.at_all"));
        let types = vec!["domain.verified".to_string()];
        assert!(wants(&types, "domain.verified"));
        assert!(!wants(&types, "domain.failed"));
    }

    #[test]
    fn the_cursor_floor_is_an_event_id_the_lookback_earlier() {
        let id = crate::ids::new_id(Kind::Event);
        let floor = cursor_floor(&id, Duration::seconds(60)).expect("floor");
        assert!(floor < id);
        let ms = |s: &str| {
            ulid::Ulid::from_string(&s[4..].to_ascii_uppercase())
                .expect("ulid")
                .timestamp_ms()
        };
        assert_eq!(ms(&id) - ms(&floor), 60_000);
        assert_eq!(cursor_floor("org_x", Duration::seconds(1)), None);
    }

    #[test]
    fn the_payload_carries_type_timestamp_and_the_event() {
        let event = Event {
            id: "evt_1".into(),
            organization_id: Some("org_1".into()),
            actor_type: "api_key".into(),
            actor_id: Some("key_1".into()),
            actor_label: "API key “ci”".into(),
            action: "domain.verified".into(),
            target_type: "domain".into(),
            target_id: "dom_1".into(),
            data: json!({ "domain": "acme.test" }),
            request_id: Some("req_1".into()),
            created_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .expect("t")
                .with_timezone(&Utc),
        };
        let body: serde_json::Value = serde_json::from_str(&payload(&event)).expect("json");
        assert_eq!(
            body,
            json!({
                "type": "domain.verified",
                "timestamp": "2026-01-02T03:04:05Z",
                "data": {
                    "id": "evt_1",
                    "organization_id": "org_1",
                    "target_type": "domain",
                    "target_id": "dom_1",
                    "actor": { "type": "api_key", "id": "key_1", "label": "API key “ci”" },
                    "data": { "domain": "acme.test" },
                },
            })
        );
    }
}
