//! Webhooks: the endpoints a host registers, and the pass that turns audit
//! events into signed deliveries (Standard Webhooks) and sends them.
//!
//! Every change already writes its audit event in the change's own
//! transaction, so the audit log is the outbox: nothing recorded is lost to
//! a restart, and every instance may run the pass (the store's unique
//! deliveries and leases keep each attempt to one instance).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use super::{ServiceError, ServiceResult, Services};
use crate::config::Secret;
use crate::crypto::{self, seal};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::webhooks::{self as rules, Delivery, Endpoint};
use crate::ids::{self, Kind};
use crate::store::webhooks::{AttemptRecord, DueDelivery, EndpointCursor, NewDelivery};
use crate::store::{Page, PageRequest};

/// Audit events read per endpoint and batch, and batches per pass.
const ENQUEUE_BATCH: u32 = 200;
const ENQUEUE_BATCHES: usize = 10;
/// Deliveries claimed per pass, and sent at once.
const DELIVERY_BATCH: u32 = 100;
const CONCURRENT_SENDS: usize = 8;
/// How long an instance holds a claimed delivery: longer than one send
/// (the fetcher gives up after `fetch::TIMEOUT`).
const LEASE: Duration = Duration::from_secs(60);
/// How far below its cursor an endpoint looks for events committed late.
/// Event ids follow the database's clock on PostgreSQL (`ids`), so this
/// covers slow commits, not machines whose clocks disagree.
const LOOKBACK: chrono::Duration = chrono::Duration::seconds(60);
/// How long finished deliveries stay listed.
const RETENTION: chrono::Duration = chrono::Duration::days(30);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WebhookPass {
    /// Deliveries created from new audit events.
    pub enqueued: u64,
    /// Attempts answered with a 2xx.
    pub delivered: usize,
    /// Attempts that failed (to be retried, or given up).
    pub failed: usize,
}

/// Whether an enqueue pass also looks below each cursor for events
/// committed late: a scan of the last `LOOKBACK` of the audit log, so the
/// quick pass leaves it to the full one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LookBack {
    Yes,
    No,
}

fn secret_context(endpoint_id: &str) -> String {
    format!("webhook-secret:{endpoint_id}")
}

/// The URL as the audit log records it: without query or fragment, which
/// some receivers use to carry a token.
fn url_for_audit(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => String::new(),
    }
}

impl Services {
    /// Registers an endpoint; answers it with its signing secret, which is
    /// shown only now.
    pub async fn create_webhook_endpoint(
        &self,
        ctx: &ChangeContext,
        url: &str,
        event_types: Vec<String>,
    ) -> ServiceResult<(Endpoint, Secret)> {
        let url =
            rules::check_url(url, self.config.allow_private_network_fetch).map_err(|message| {
                ServiceError::Refused {
                    code: "webhook_url_invalid",
                    message,
                }
            })?;
        let event_types = rules::normalize_event_types(event_types)?;
        let endpoint = Endpoint {
            id: ids::new_id(Kind::WebhookEndpoint),
            url,
            event_types,
            created_at: self.clock.now(),
            disabled_at: None,
            previous_secret_expires_at: None,
        };
        let key = crypto::random_bytes::<{ rules::SECRET_BYTES }>();
        let sealed = seal::seal(&self.secret_key, &secret_context(&endpoint.id), &key)
            .map_err(|e| ServiceError::Unexpected(e.into()))?;
        let event = NewEvent {
            organization_id: None,
            previous_organization_id: None,
            action: "webhook_endpoint.created",
            target_type: "webhook_endpoint",
            target_id: endpoint.id.clone(),
            data: json!({
                "url": url_for_audit(&endpoint.url),
                "event_types": endpoint.event_types,
            }),
        };
        self.store
            .insert_webhook_endpoint(&endpoint, &sealed, ctx, event)
            .await?;
        Ok((endpoint, Secret::new(rules::secret_string(&key))))
    }

    pub async fn get_webhook_endpoint(&self, id: &str) -> ServiceResult<Endpoint> {
        if !ids::is_well_formed(Kind::WebhookEndpoint, id) {
            return Err(ServiceError::not_found(Kind::WebhookEndpoint, id));
        }
        self.store
            .get_webhook_endpoint(id)
            .await?
            .ok_or_else(|| ServiceError::not_found(Kind::WebhookEndpoint, id))
    }

    pub async fn list_webhook_endpoints(
        &self,
        page: &PageRequest,
    ) -> ServiceResult<Page<Endpoint>> {
        Ok(self.store.list_webhook_endpoints(page).await?)
    }

    /// Deletes an endpoint; its pending deliveries go with it.
    pub async fn delete_webhook_endpoint(
        &self,
        ctx: &ChangeContext,
        id: &str,
    ) -> ServiceResult<()> {
        let endpoint = self.get_webhook_endpoint(id).await?;
        let event = NewEvent {
            organization_id: None,
            previous_organization_id: None,
            action: "webhook_endpoint.deleted",
            target_type: "webhook_endpoint",
            target_id: endpoint.id.clone(),
            data: json!({ "url": url_for_audit(&endpoint.url) }),
        };
        if self
            .store
            .delete_webhook_endpoint(&endpoint.id, self.clock.now(), ctx, event)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::not_found(Kind::WebhookEndpoint, id))
        }
    }

    /// Pauses or resumes an endpoint. While paused nothing is enqueued or
    /// sent; resumed, it catches up on what happened meanwhile.
    pub async fn set_webhook_endpoint_enabled(
        &self,
        ctx: &ChangeContext,
        id: &str,
        enabled: bool,
    ) -> ServiceResult<Endpoint> {
        let endpoint = self.get_webhook_endpoint(id).await?;
        if endpoint.disabled_at.is_none() == enabled {
            return Ok(endpoint);
        }
        let now = self.clock.now();
        let event = NewEvent {
            organization_id: None,
            previous_organization_id: None,
            action: if enabled {
                "webhook_endpoint.enabled"
            } else {
                "webhook_endpoint.disabled"
            },
            target_type: "webhook_endpoint",
            target_id: endpoint.id.clone(),
            data: json!({ "url": url_for_audit(&endpoint.url) }),
        };
        let disabled_at = (!enabled).then_some(now);
        if !self
            .store
            .set_webhook_endpoint_disabled(&endpoint.id, disabled_at, now, ctx, event)
            .await?
        {
            return Err(ServiceError::not_found(Kind::WebhookEndpoint, id));
        }
        self.get_webhook_endpoint(id).await
    }

    /// Gives an endpoint a new signing secret, answered only now. For
    /// `SECRET_OVERLAP` (24 hours) deliveries carry two signatures, under
    /// the new secret and the one it replaces, so the receiver can switch
    /// whenever it likes; then the old secret is forgotten. Rotating again
    /// within the overlap drops the oldest secret at once.
    pub async fn rotate_webhook_secret(
        &self,
        ctx: &ChangeContext,
        id: &str,
    ) -> ServiceResult<(Endpoint, Secret)> {
        let endpoint = self.get_webhook_endpoint(id).await?;
        let now = self.clock.now();
        let previous_expires_at = now + rules::SECRET_OVERLAP;
        let key = crypto::random_bytes::<{ rules::SECRET_BYTES }>();
        let sealed = seal::seal(&self.secret_key, &secret_context(&endpoint.id), &key)
            .map_err(|e| ServiceError::Unexpected(e.into()))?;
        let event = NewEvent {
            organization_id: None,
            previous_organization_id: None,
            action: "webhook_endpoint.secret_rotated",
            target_type: "webhook_endpoint",
            target_id: endpoint.id.clone(),
            data: json!({
                "url": url_for_audit(&endpoint.url),
                "previous_secret_expires_at":
                    previous_expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
        };
        if !self
            .store
            .rotate_webhook_secret(&endpoint.id, &sealed, previous_expires_at, now, ctx, event)
            .await?
        {
            return Err(ServiceError::not_found(Kind::WebhookEndpoint, id));
        }
        let endpoint = self.get_webhook_endpoint(id).await?;
        Ok((endpoint, Secret::new(rules::secret_string(&key))))
    }

    /// An endpoint's deliveries, newest first.
    pub async fn list_webhook_deliveries(
        &self,
        endpoint_id: &str,
        page: &PageRequest,
    ) -> ServiceResult<Page<Delivery>> {
        let endpoint = self.get_webhook_endpoint(endpoint_id).await?;
        Ok(self
            .store
            .list_webhook_deliveries(&endpoint.id, page)
            .await?)
    }

    /// One pass: enqueue new events for every endpoint, and those committed
    /// late below its cursor; send what is due; forget old finished
    /// deliveries. Every instance may run it at once.
    pub async fn run_webhook_pass(&self) -> ServiceResult<WebhookPass> {
        let pass = self.enqueue_and_deliver(LookBack::Yes).await?;
        self.store
            .purge_finished_webhook_deliveries(self.clock.now() - RETENTION)
            .await?;
        self.store
            .forget_expired_webhook_secrets(self.clock.now())
            .await?;
        Ok(pass)
    }

    /// The quick pass, run every second: enqueue the events after each
    /// endpoint's cursor and send what is due, so a webhook leaves moments
    /// after its event and a retry when its schedule says.
    pub async fn send_new_webhooks(&self) -> ServiceResult<WebhookPass> {
        self.enqueue_and_deliver(LookBack::No).await
    }

    async fn enqueue_and_deliver(&self, look_back: LookBack) -> ServiceResult<WebhookPass> {
        let enqueued = self.enqueue(look_back).await?;
        let (delivered, failed) = self.deliver_due_webhooks().await?;
        Ok(WebhookPass {
            enqueued,
            delivered,
            failed,
        })
    }

    /// Turns the audit events after each endpoint's cursor, and those
    /// committed late below it, into deliveries.
    pub async fn enqueue_webhooks(&self) -> ServiceResult<u64> {
        self.enqueue(LookBack::Yes).await
    }

    async fn enqueue(&self, look_back: LookBack) -> ServiceResult<u64> {
        let mut total = 0;
        for endpoint in self.store.webhook_endpoint_cursors().await? {
            match self.enqueue_for(endpoint, look_back).await {
                Ok(n) => total += n,
                Err(e) => tracing::warn!(error = %e, "enqueueing webhooks for an endpoint failed"),
            }
        }
        Ok(total)
    }

    async fn enqueue_for(
        &self,
        mut endpoint: EndpointCursor,
        look_back: LookBack,
    ) -> ServiceResult<u64> {
        let mut total = 0;
        for _ in 0..ENQUEUE_BATCHES {
            let events = self
                .store
                .audit_events_after(&endpoint.cursor, ENQUEUE_BATCH)
                .await?;
            let Some(last) = events.last().map(|e| e.id.clone()) else {
                break;
            };
            let deliveries: Vec<NewDelivery> = events
                .iter()
                .filter(|e| rules::wants(&endpoint.event_types, &e.action))
                .map(new_delivery)
                .collect();
            total += self
                .store
                .enqueue_webhook_deliveries(
                    &endpoint.id,
                    &deliveries,
                    Some(&last),
                    self.clock.now(),
                )
                .await?;
            endpoint.cursor = last;
            if events.len() < ENQUEUE_BATCH as usize {
                break;
            }
        }
        if look_back == LookBack::No {
            return Ok(total);
        }
        // Events whose transaction committed after the cursor passed their id.
        let floor = rules::cursor_floor(&endpoint.cursor, LOOKBACK)
            .filter(|f| *f > endpoint.start_cursor)
            .unwrap_or_else(|| endpoint.start_cursor.clone());
        let missed = self
            .store
            .audit_events_missed(&endpoint, &floor, ENQUEUE_BATCH)
            .await?;
        if !missed.is_empty() {
            let deliveries: Vec<NewDelivery> = missed
                .iter()
                .filter(|e| rules::wants(&endpoint.event_types, &e.action))
                .map(new_delivery)
                .collect();
            total += self
                .store
                .enqueue_webhook_deliveries(&endpoint.id, &deliveries, None, self.clock.now())
                .await?;
        }
        Ok(total)
    }

    /// Sends the deliveries that are due; answers (delivered, failed).
    pub async fn deliver_due_webhooks(&self) -> ServiceResult<(usize, usize)> {
        let now = self.clock.now();
        let lease_until = now
            + chrono::Duration::from_std(LEASE).map_err(|e| ServiceError::Unexpected(e.into()))?;
        let claimed = self
            .store
            .claim_due_webhook_deliveries(now, lease_until, DELIVERY_BATCH)
            .await?;
        let results: Vec<bool> = futures_util::stream::iter(claimed)
            .map(|d| self.attempt_delivery(d, lease_until))
            .buffer_unordered(CONCURRENT_SENDS)
            .collect()
            .await;
        let delivered = results.iter().filter(|ok| **ok).count();
        Ok((delivered, results.len() - delivered))
    }

    /// Sends one claimed delivery and records the result; answers whether
    /// the endpoint took it.
    async fn attempt_delivery(
        &self,
        d: DueDelivery,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        let at = self.clock.now();
        let (status, error) = match self.send_delivery(&d, at).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (
                Some(status),
                Some(format!("The endpoint answered HTTP {status}.")),
            ),
            Err(message) => (None, Some(message)),
        };
        let delivered = error.is_none();
        let attempts = u32::try_from(d.attempts).unwrap_or(0).saturating_add(1);
        let next_attempt_at = if delivered {
            None
        } else {
            rules::next_attempt_after_failure(attempts, self.clock.now())
        };
        if !delivered && next_attempt_at.is_none() {
            tracing::info!(delivery_id = %d.id, endpoint_id = %d.endpoint_id, attempts, "webhook delivery given up");
        }
        let record = AttemptRecord {
            at,
            status,
            error,
            delivered,
            next_attempt_at,
        };
        match self
            .store
            .record_webhook_attempt(&d.id, lease_until, &record)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(delivery_id = %d.id, "webhook lease lost before the attempt was recorded")
            }
            Err(e) => {
                tracing::warn!(delivery_id = %d.id, error = %e, "recording a webhook attempt failed")
            }
        }
        delivered
    }

    /// POSTs the payload with the Standard Webhooks headers, signed with
    /// the endpoint's secret and, during a rotation's overlap (still at
    /// `at`), the previous one; answers the HTTP status, or why there was
    /// none.
    async fn send_delivery(
        &self,
        d: &DueDelivery,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<u16, String> {
        let timestamp = at.timestamp();
        let open =
            |sealed: &str| seal::open(&self.secret_key, &secret_context(&d.endpoint_id), sealed);
        let key = open(&d.secret_sealed).map_err(|_| {
            "The endpoint's signing secret cannot be opened with this instance's secret key."
                .to_string()
        })?;
        let previous = match (&d.previous_secret_sealed, d.previous_secret_expires_at) {
            (Some(sealed), Some(until)) if at < until => match open(sealed) {
                Ok(old) => Some(old),
                Err(_) => {
                    tracing::warn!(endpoint_id = %d.endpoint_id, "the previous webhook secret cannot be opened; signing with the new one only");
                    None
                }
            },
            _ => None,
        };
        let mut keys: Vec<&[u8]> = vec![key.as_slice()];
        if let Some(old) = &previous {
            keys.push(old.as_slice());
        }
        let signature = rules::sign_all(&keys, &d.id, timestamp, &d.payload);
        let answer = self
            .fetcher
            .send(reqwest::Method::POST, &d.url, |request| {
                request
                    .header("webhook-id", &d.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(d.payload.clone())
            })
            .await
            .map_err(|e| e.message)?;
        Ok(answer.status)
    }
}

fn new_delivery(event: &crate::domain::audit::Event) -> NewDelivery {
    NewDelivery {
        id: ids::new_id(Kind::WebhookMessage),
        event_id: event.id.clone(),
        event_type: event.action.clone(),
        payload: rules::payload(event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_log_keeps_no_query_string_of_an_endpoint_url() {
        assert_eq!(
            url_for_audit("https://hooks.example.com/in?token=s3cret#x"),
            "https://hooks.example.com/in"
        );
    }

    #[test]
    fn the_lease_outlasts_a_send() {
        assert!(LEASE > crate::fetch::TIMEOUT * 2);
    }
}
