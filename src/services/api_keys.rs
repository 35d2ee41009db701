//! Host API keys: created once and shown once, stored hashed.

use serde_json::json;

use super::{ServiceError, ServiceResult, Services};
use crate::config::Secret;
use crate::crypto;
use crate::domain::ValidationError;
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::ids::{self, Kind};
use crate::store::api_keys::ApiKey;

/// Every key starts with this, so a leaked one is easy to recognise and scan for.
pub const API_KEY_PREFIX: &str = "gh_";

impl Services {
    /// Creates a key and returns it with its value, which is never shown again.
    pub async fn create_api_key(
        &self,
        ctx: &ChangeContext,
        name: &str,
    ) -> ServiceResult<(ApiKey, Secret)> {
        let value = crypto::random_token(API_KEY_PREFIX);
        let key = self.store_api_key(ctx, name, &value).await?;
        Ok((key, Secret::new(value)))
    }

    /// Makes sure the configured bootstrap key exists.
    pub async fn ensure_bootstrap_api_key(&self, value: &Secret) -> ServiceResult<()> {
        self.store_api_key(&ChangeContext::system(), "bootstrap", value.expose())
            .await?;
        Ok(())
    }

    async fn store_api_key(
        &self,
        ctx: &ChangeContext,
        name: &str,
        value: &str,
    ) -> ServiceResult<ApiKey> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ValidationError::new("name", "must be 1 to 100 characters").into());
        }
        let key = ApiKey {
            id: ids::new_id(Kind::ApiKey),
            name: name.to_string(),
            key_prefix: value.chars().take(API_KEY_PREFIX.len() + 6).collect(),
            created_at: self.clock.now(),
            last_used_at: None,
            revoked_at: None,
        };
        let event = NewEvent {
            organization_id: None,
            previous_organization_id: None,
            action: "api_key.created",
            target_type: "api_key",
            target_id: key.id.clone(),
            data: json!({ "name": key.name, "prefix": key.key_prefix }),
        };
        self.store
            .insert_api_key(&key, &crypto::token_hash(value), ctx, event)
            .await?;
        Ok(key)
    }

    /// The live key a bearer token names, if any.
    pub async fn authenticate_api_key(&self, token: &str) -> ServiceResult<Option<ApiKey>> {
        let Some(key) = self.store.find_api_key(&crypto::token_hash(token)).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        // Keep the hot path read-only: record use at most once a minute.
        if key
            .last_used_at
            .is_none_or(|t| now - t >= chrono::Duration::seconds(60))
        {
            self.store.touch_api_key(&key.id, now).await?;
        }
        Ok(Some(key))
    }

    pub async fn list_api_keys(&self) -> ServiceResult<Vec<ApiKey>> {
        Ok(self.store.list_api_keys().await?)
    }

    pub async fn revoke_api_key(&self, ctx: &ChangeContext, id: &str) -> ServiceResult<()> {
        let event = NewEvent {
            organization_id: None,
            previous_organization_id: None,
            action: "api_key.revoked",
            target_type: "api_key",
            target_id: id.to_string(),
            data: json!({}),
        };
        if self
            .store
            .revoke_api_key(id, self.clock.now(), ctx, event)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::not_found(Kind::ApiKey, id))
        }
    }
}
