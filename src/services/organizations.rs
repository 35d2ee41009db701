//! Creating, reading and changing organizations.

use serde_json::json;

use super::{ServiceError, ServiceResult, Services};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::organization::{self, Organization};
use crate::ids::{self, Kind};
use crate::store::{Page, PageRequest, StoreError};

#[derive(Debug, Clone, Default)]
pub struct NewOrganization {
    pub name: String,
    pub slug: Option<String>,
    pub external_id: Option<String>,
    pub self_serve_sso: Option<bool>,
    pub default_role: Option<String>,
}

/// A partial update; `external_id: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub external_id: Option<Option<String>>,
    pub self_serve_sso: Option<bool>,
    pub default_role: Option<String>,
}

/// How many derived slugs to try (`acme`, `acme-2`, …) before giving up.
const SLUG_ATTEMPTS: u32 = 20;

impl Services {
    pub async fn create_organization(
        &self,
        ctx: &ChangeContext,
        input: NewOrganization,
    ) -> ServiceResult<Organization> {
        let name = organization::parse_name(&input.name)?;
        let given_slug = input
            .slug
            .as_deref()
            .map(organization::parse_slug)
            .transpose()?;
        let external_id = input
            .external_id
            .as_deref()
            .map(organization::parse_external_id)
            .transpose()?;
        let default_role = match input.default_role.as_deref() {
            Some(role) => organization::parse_role(role)?,
            None => organization::DEFAULT_ROLE.to_string(),
        };
        let now = self.clock.now();
        let base_slug = given_slug
            .clone()
            .unwrap_or_else(|| organization::slugify(&name));
        let attempts = if given_slug.is_some() {
            1
        } else {
            SLUG_ATTEMPTS
        };

        for attempt in 1..=attempts {
            let org = Organization {
                id: ids::new_id(Kind::Organization),
                name: name.clone(),
                slug: organization::slug_candidate(&base_slug, attempt),
                external_id: external_id.clone(),
                self_serve_sso: input.self_serve_sso.unwrap_or(false),
                default_role: default_role.clone(),
                created_at: now,
                updated_at: now,
            };
            let event = NewEvent {
                organization_id: Some(org.id.clone()),
                previous_organization_id: None,
                action: "organization.created",
                target_type: "organization",
                target_id: org.id.clone(),
                data: json!({
                    "name": org.name, "slug": org.slug, "external_id": org.external_id,
                    "self_serve_sso": org.self_serve_sso, "default_role": org.default_role,
                }),
            };
            match self.store.insert_organization(&org, ctx, event).await {
                Ok(()) => return Ok(org),
                Err(StoreError::Conflict("slug")) if given_slug.is_none() => continue,
                Err(e) => return Err(conflict_or(e, &org)),
            }
        }
        Err(ServiceError::Conflict {
            code: "slug_taken",
            message: format!(
                "every slug from `{base_slug}` to `{base_slug}-{SLUG_ATTEMPTS}` is taken; give a slug"
            ),
        })
    }

    pub async fn get_organization(&self, id: &str) -> ServiceResult<Organization> {
        if !ids::is_well_formed(Kind::Organization, id) {
            return Err(ServiceError::not_found(Kind::Organization, id));
        }
        self.store
            .get_organization(id)
            .await?
            .ok_or_else(|| ServiceError::not_found(Kind::Organization, id))
    }

    pub async fn list_organizations(
        &self,
        page: &PageRequest,
    ) -> ServiceResult<Page<Organization>> {
        Ok(self.store.list_organizations(page).await?)
    }

    pub async fn find_organization_by_external_id(
        &self,
        external_id: &str,
    ) -> ServiceResult<Option<Organization>> {
        Ok(self
            .store
            .find_organization_by_external_id(external_id)
            .await?)
    }

    pub async fn update_organization(
        &self,
        ctx: &ChangeContext,
        id: &str,
        patch: OrganizationPatch,
    ) -> ServiceResult<Organization> {
        let before = self.get_organization(id).await?;
        let mut org = before.clone();
        if let Some(name) = &patch.name {
            org.name = organization::parse_name(name)?;
        }
        if let Some(slug) = &patch.slug {
            org.slug = organization::parse_slug(slug)?;
        }
        if let Some(external_id) = &patch.external_id {
            org.external_id = external_id
                .as_deref()
                .map(organization::parse_external_id)
                .transpose()?;
        }
        if let Some(on) = patch.self_serve_sso {
            org.self_serve_sso = on;
        }
        if let Some(role) = &patch.default_role {
            org.default_role = organization::parse_role(role)?;
        }

        let mut changes = serde_json::Map::new();
        let mut note = |field: &str, old: serde_json::Value, new: serde_json::Value| {
            if old != new {
                changes.insert(field.to_string(), json!({ "from": old, "to": new }));
            }
        };
        note("name", json!(before.name), json!(org.name));
        note("slug", json!(before.slug), json!(org.slug));
        note(
            "external_id",
            json!(before.external_id),
            json!(org.external_id),
        );
        note(
            "self_serve_sso",
            json!(before.self_serve_sso),
            json!(org.self_serve_sso),
        );
        note(
            "default_role",
            json!(before.default_role),
            json!(org.default_role),
        );
        if changes.is_empty() {
            return Ok(before);
        }

        org.updated_at = self.clock.now();
        let event = NewEvent {
            organization_id: Some(org.id.clone()),
            previous_organization_id: None,
            action: "organization.updated",
            target_type: "organization",
            target_id: org.id.clone(),
            data: json!({ "changes": changes }),
        };
        match self.store.update_organization(&org, ctx, event).await {
            Ok(()) => Ok(org),
            Err(StoreError::NotFound) => Err(ServiceError::not_found(Kind::Organization, id)),
            Err(e) => Err(conflict_or(e, &org)),
        }
    }
}

fn conflict_or(e: StoreError, org: &Organization) -> ServiceError {
    match e {
        StoreError::Conflict("slug") => ServiceError::Conflict {
            code: "slug_taken",
            message: format!("another organization already has the slug `{}`", org.slug),
        },
        StoreError::Conflict("external_id") => ServiceError::Conflict {
            code: "external_id_taken",
            message: format!(
                "another organization already has the external_id `{}`",
                org.external_id.as_deref().unwrap_or_default()
            ),
        },
        other => other.into(),
    }
}
