//! Prefixed, time-ordered identifiers: `org_01jd…`, `evt_01jd…`.
//!
//! The random part is a ULID in lower case, so ids sort by creation time and
//! lists can page by id. Within one process they are strictly increasing,
//! even several in one millisecond, so "newest first" holds for what one
//! instance made. On PostgreSQL their time is the database's clock
//! (`follow_database_clock`), so the ids of several instances order by one
//! clock even where the machines' clocks disagree: the webhook fan-out,
//! which pages the audit log by id, relies on it.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

/// How many milliseconds the database's clock is ahead of this machine's.
static DATABASE_CLOCK_AHEAD_MS: AtomicI64 = AtomicI64::new(0);

/// New ids take their time from a clock `ahead` of this machine's (the
/// database's, as last measured).
pub fn follow_database_clock(ahead: chrono::Duration) {
    DATABASE_CLOCK_AHEAD_MS.store(ahead.num_milliseconds(), Ordering::Relaxed);
}

/// `now` moved `ahead_ms` milliseconds (back, if negative).
fn shifted(now: SystemTime, ahead_ms: i64) -> SystemTime {
    let by = Duration::from_millis(ahead_ms.unsigned_abs());
    let moved = if ahead_ms >= 0 {
        now.checked_add(by)
    } else {
        now.checked_sub(by)
    };
    moved.unwrap_or(now)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Organization,
    ApiKey,
    Event,
    Link,
    Session,
    Domain,
    Connection,
    User,
    Client,
    Test,
    WebhookEndpoint,
    WebhookMessage,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Organization => "org_",
            Kind::ApiKey => "key_",
            Kind::Event => "evt_",
            Kind::Link => "lnk_",
            Kind::Session => "ses_",
            Kind::Domain => "dom_",
            Kind::Connection => "conn_",
            Kind::User => "user_",
            Kind::Client => "client_",
            Kind::Test => "test_",
            Kind::WebhookEndpoint => "whk_",
            Kind::WebhookMessage => "msg_",
        }
    }

    /// What people call this kind of object, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Organization => "organization",
            Kind::ApiKey => "API key",
            Kind::Event => "event",
            Kind::Link => "link",
            Kind::Session => "session",
            Kind::Domain => "domain",
            Kind::Connection => "connection",
            Kind::User => "user",
            Kind::Client => "OAuth client",
            Kind::Test => "test sign-in",
            Kind::WebhookEndpoint => "webhook endpoint",
            Kind::WebhookMessage => "webhook message",
        }
    }
}

pub fn new_id(kind: Kind) -> String {
    format!(
        "{}{}",
        kind.prefix(),
        next_ulid().to_string().to_ascii_lowercase()
    )
}

/// The next ULID of this process: later than the last one, or, in the
/// practically impossible case that a millisecond's random part overflowed,
/// a fresh one.
fn next_ulid() -> ulid::Ulid {
    let mut generator = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let at = shifted(
        SystemTime::now(),
        DATABASE_CLOCK_AHEAD_MS.load(Ordering::Relaxed),
    );
    generator
        .generate_from_datetime(at)
        .unwrap_or_else(|_| ulid::Ulid::from_datetime(at))
}

/// Whether `id` has the shape of an id of this kind. Lookups of ids that do
/// not are answered "not found" without touching the database.
pub fn is_well_formed(kind: Kind, id: &str) -> bool {
    id.strip_prefix(kind.prefix()).is_some_and(|rest| {
        rest.len() == 26
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_well_formed_and_ordered() {
        let a = new_id(Kind::Organization);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(Kind::Organization);
        assert!(is_well_formed(Kind::Organization, &a), "{a}");
        assert!(a < b);
        assert!(!is_well_formed(Kind::Connection, &a));
        assert!(!is_well_formed(Kind::Organization, "org_../../etc"));
        assert!(!is_well_formed(Kind::Organization, "org_"));
    }

    #[test]
    fn the_database_clock_can_be_ahead_or_behind() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(shifted(now, 0), now);
        assert_eq!(shifted(now, 90_000), now + Duration::from_secs(90));
        assert_eq!(shifted(now, -90_000), now - Duration::from_secs(90));
    }

    #[test]
    fn ids_made_in_one_millisecond_still_increase() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(Kind::User)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
}
