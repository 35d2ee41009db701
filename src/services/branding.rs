//! Reading and changing the host's branding of the Security tab.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ServiceError, ServiceResult, Services};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::branding::{self, Branding, BrandingError, LogoInfo, Rgb};
use crate::store::branding::{LogoWrite, StoredLogo};

/// A change: `None` leaves a value alone, `Some(None)` goes back to the
/// default (no product name, the built-in accent, no logo).
#[derive(Debug, Clone, Default)]
pub struct BrandingPatch {
    pub product_name: Option<Option<String>>,
    pub accent_color: Option<Option<String>>,
    pub logo: Option<Option<NewLogo>>,
}

/// A logo as the host sends it.
#[derive(Debug, Clone)]
pub struct NewLogo {
    pub content_type: String,
    pub data_base64: String,
}

impl From<BrandingError> for ServiceError {
    fn from(e: BrandingError) -> Self {
        ServiceError::Refused {
            code: e.code,
            message: e.message,
        }
    }
}

fn logo_json(logo: Option<&LogoInfo>) -> Value {
    logo.map_or(
        Value::Null,
        |l| json!({ "content_type": l.content_type.mime(), "size": l.size, "sha256": l.sha256 }),
    )
}

impl Services {
    pub async fn branding(&self) -> ServiceResult<Branding> {
        Ok(self.store.get_branding().await?)
    }

    pub async fn branding_logo(&self) -> ServiceResult<Option<StoredLogo>> {
        Ok(self.store.get_branding_logo().await?)
    }

    /// Checks every value first, then writes the change and its audit event
    /// (`branding.updated`, with what changed) together. Nothing changed,
    /// nothing written.
    pub async fn update_branding(
        &self,
        ctx: &ChangeContext,
        patch: BrandingPatch,
    ) -> ServiceResult<Branding> {
        let product_name = patch
            .product_name
            .map(|v| v.as_deref().map(branding::parse_product_name).transpose())
            .transpose()?;
        let accent_color = patch
            .accent_color
            .map(|v| v.as_deref().map(Rgb::parse).transpose())
            .transpose()?;
        let logo = match patch.logo {
            None => LogoWrite::Keep,
            Some(None) => LogoWrite::Remove,
            Some(Some(l)) => {
                let (content_type, data) = branding::parse_logo(&l.content_type, &l.data_base64)?;
                let info = LogoInfo {
                    content_type,
                    sha256: crate::crypto::hex(&Sha256::digest(&data)),
                    size: i64::try_from(data.len()).unwrap_or(i64::MAX),
                };
                LogoWrite::Set { info, data }
            }
        };

        let before = self.branding().await?;
        let mut after = before.clone();
        if let Some(name) = product_name {
            after.product_name = name;
        }
        if let Some(accent) = accent_color {
            after.accent_color = accent;
        }
        after.logo = match &logo {
            LogoWrite::Keep => before.logo.clone(),
            LogoWrite::Remove => None,
            LogoWrite::Set { info, .. } => Some(info.clone()),
        };

        let mut changes = serde_json::Map::new();
        let mut note = |field: &str, old: Value, new: Value| {
            if old != new {
                changes.insert(field.to_string(), json!({ "from": old, "to": new }));
            }
        };
        note(
            "product_name",
            json!(before.product_name),
            json!(after.product_name),
        );
        note(
            "accent_color",
            json!(before.accent_color.map(Rgb::hex)),
            json!(after.accent_color.map(Rgb::hex)),
        );
        note(
            "logo",
            logo_json(before.logo.as_ref()),
            logo_json(after.logo.as_ref()),
        );
        if changes.is_empty() {
            return Ok(before);
        }

        let now = self.clock.now();
        after.updated_at = Some(now);
        let event = NewEvent {
            organization_id: None,
            previous_organization_id: None,
            action: "branding.updated",
            target_type: "branding",
            target_id: "host".to_string(),
            data: json!({ "changes": changes }),
        };
        self.store
            .save_branding(&after, logo, now, ctx, event)
            .await?;
        Ok(after)
    }
}
