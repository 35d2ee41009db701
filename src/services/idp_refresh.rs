//! Keeping what identity providers publish current without an admin: SAML
//! metadata configured by URL and OpenID Connect discovery documents are
//! fetched again every `metadata_refresh_interval`, each connection by one
//! instance (a lease in the database).
//!
//! What a refresh brings replaces the same source in the current and the
//! live settings alike, with no new version: nobody changed the settings.
//! A failed fetch keeps the last good settings and records the error. A
//! refresh that changed the settings or their error is an event
//! (`connection.metadata_refreshed`).

use serde_json::{Value, json};

use super::connections::{SamlInput, event, saml_config};
use super::oidc_settings::oidc_config;
use super::{ServiceResult, Services};
use crate::domain::audit::ChangeContext;
use crate::domain::connections::{Connection, Protocol};
use crate::oidc::config::OidcConfig;
use crate::saml::config::{SamlConfig, Source};
use crate::store::StoreError;

impl Services {
    /// Re-fetches the metadata of SAML connections configured by URL, so a
    /// certificate rotated at the identity provider is picked up. Answers
    /// how many connections this instance refreshed.
    pub async fn refresh_saml_metadata(&self) -> ServiceResult<usize> {
        let mut refreshed = 0;
        for c in self.store.list_connections_of(Protocol::Saml).await? {
            let config = saml_config(&c);
            let Some(url) = config
                .metadata_url
                .clone()
                .filter(|_| config.source == Some(Source::MetadataUrl))
            else {
                continue;
            };
            if !self.claim_refresh(&c).await? {
                continue;
            }
            refreshed += 1;
            let input = SamlInput {
                metadata_url: Some(url.clone()),
                ..SamlInput::default()
            };
            let (fresh, error) = match self.resolve_saml(&input, &config).await {
                Ok(fresh) => (Some(fresh), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let apply = |value: &Value| -> Value {
                let mut old: SamlConfig = serde_json::from_value(value.clone()).unwrap_or_default();
                if old.metadata_url.as_deref() != Some(url.as_str()) {
                    return value.clone();
                }
                match &fresh {
                    Some(f) => {
                        old.idp = f.idp.clone();
                        old.metadata_fetched_at = f.metadata_fetched_at;
                        old.metadata_refresh_error = None;
                    }
                    None => old.metadata_refresh_error = error.clone(),
                }
                serde_json::to_value(&old).unwrap_or_else(|_| value.clone())
            };
            let fingerprints = |v: &Value| -> Vec<String> {
                serde_json::from_value::<SamlConfig>(v.clone())
                    .ok()
                    .and_then(|s| s.idp)
                    .map(|i| {
                        i.certificates
                            .into_iter()
                            .map(|c| c.fingerprint_sha256)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let significant = |v: &Value| {
                let s: SamlConfig = serde_json::from_value(v.clone()).unwrap_or_default();
                json!([s.idp, s.metadata_refresh_error])
            };
            self.save_refreshed(&c.id, apply, significant, |before, after| {
                json!({ "ok": error.is_none(), "error": error, "certificates": fingerprints(&after.config), "previous_certificates": fingerprints(&before.config) })
            })
            .await?;
        }
        Ok(refreshed)
    }

    /// Re-fetches the discovery documents of OpenID Connect connections, so
    /// endpoints or a `jwks_uri` the provider moves are followed. The
    /// issuer may not change: a document naming another one is refused like
    /// a failed fetch. Answers how many connections this instance refreshed.
    pub async fn refresh_oidc_discovery(&self) -> ServiceResult<usize> {
        let mut refreshed = 0;
        for c in self.store.list_connections_of(Protocol::Oidc).await? {
            let config = oidc_config(&c);
            let (Some(url), Some(known)) = (config.discovery_url.clone(), config.provider.clone())
            else {
                continue;
            };
            if !self.claim_refresh(&c).await? {
                continue;
            }
            refreshed += 1;
            let (fresh, error) = match self.discover(c.provider, &url).await {
                Ok((_, metadata, tenant)) if metadata.issuer == known.issuer => {
                    (Some((metadata, tenant)), None)
                }
                Ok((_, metadata, _)) => (
                    None,
                    Some(format!(
                        "The discovery document now names the issuer “{}” instead of “{}”; the settings were kept. If the provider really moved, save the new issuer in the connection's settings.",
                        metadata.issuer.chars().take(200).collect::<String>(),
                        known.issuer
                    )),
                ),
                Err(e) => (None, Some(e.to_string())),
            };
            let now = self.clock.now();
            let apply = |value: &Value| -> Value {
                let mut old: OidcConfig = serde_json::from_value(value.clone()).unwrap_or_default();
                let same_source = old.discovery_url.as_deref() == Some(url.as_str())
                    && old.provider.as_ref().map(|p| p.issuer.as_str())
                        == Some(known.issuer.as_str());
                if !same_source {
                    return value.clone();
                }
                match &fresh {
                    Some((metadata, tenant)) => {
                        old.provider = Some(metadata.clone());
                        old.tenant_id = tenant.clone();
                        old.discovered_at = Some(now);
                        old.discovery_refresh_error = None;
                    }
                    None => old.discovery_refresh_error = error.clone(),
                }
                serde_json::to_value(&old).unwrap_or_else(|_| value.clone())
            };
            let jwks_uri = |v: &Value| {
                serde_json::from_value::<OidcConfig>(v.clone())
                    .ok()
                    .and_then(|o| o.provider)
                    .map(|p| p.jwks_uri)
            };
            let significant = |v: &Value| {
                let o: OidcConfig = serde_json::from_value(v.clone()).unwrap_or_default();
                json!([o.provider, o.tenant_id, o.discovery_refresh_error])
            };
            self.save_refreshed(&c.id, apply, significant, |before, after| {
                json!({ "ok": error.is_none(), "error": error, "jwks_uri": jwks_uri(&after.config), "previous_jwks_uri": jwks_uri(&before.config) })
            })
            .await?;
        }
        Ok(refreshed)
    }

    /// Whether this instance refreshes the connection now: it is due, and
    /// no other instance took it first.
    async fn claim_refresh(&self, c: &Connection) -> ServiceResult<bool> {
        let now = self.clock.now();
        let next = now
            + chrono::Duration::from_std(self.config.metadata_refresh_interval)
                .unwrap_or(chrono::Duration::hours(12));
        Ok(self.store.claim_metadata_refresh(&c.id, now, next).await?)
    }

    /// Saves what `apply` makes of the current and the live settings of
    /// the connection as it is now (read again: the fetch took time, and
    /// an admin may have acted meanwhile). Only the settings are written,
    /// and only if neither their version nor the live one moved. A refresh
    /// that changed what `significant` picks out is an event; one that only
    /// brought the same settings again is saved quietly (its fetch time).
    async fn save_refreshed(
        &self,
        id: &str,
        apply: impl Fn(&Value) -> Value,
        significant: impl Fn(&Value) -> Value,
        data: impl FnOnce(&Connection, &Connection) -> Value,
    ) -> ServiceResult<()> {
        let Some(before) = self.store.get_connection(id).await? else {
            return Ok(());
        };
        let mut updated = Connection {
            config: apply(&before.config),
            live_config: before.live_config.as_ref().map(&apply),
            ..before.clone()
        };
        if updated.config == before.config && updated.live_config == before.live_config {
            return Ok(());
        }
        let changed = significant(&updated.config) != significant(&before.config)
            || updated.live_config.as_ref().map(&significant)
                != before.live_config.as_ref().map(&significant);
        let recorded = changed.then(|| {
            updated.updated_at = self.clock.now();
            event(
                &updated,
                "connection.metadata_refreshed",
                data(&before, &updated),
            )
        });
        match self
            .store
            .save_refreshed_settings(
                &updated,
                &before.lifecycle,
                &ChangeContext::system(),
                recorded,
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => {
                tracing::info!(connection_id = %id, "the connection changed during its refresh; the next pass takes it up");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
