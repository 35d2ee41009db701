//! SSO connections: choosing a provider, giving the identity provider's
//! settings, and the lifecycle (activate, deactivate, move, delete).

use serde_json::json;

use super::oidc_settings::{OidcInput, clean_claim_mapping, oidc_config};
use super::{ServiceError, ServiceResult, Services};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::connections::{Connection, Lifecycle, Protocol, Provider, RoleRule, State};
use crate::domain::domains::{Purpose, Status};
use crate::domain::organization::parse_role;
use crate::ids::{self, Kind};
use crate::oidc::config::{ClaimMapping, OidcConfig};
use crate::saml::config::{AttributeMapping, Binding, IdpSettings, SamlConfig, Source};
use crate::saml::sp_key::SpKey;
use crate::saml::{SettingsError, certificates, metadata};
use crate::store::StoreError;

/// The identity provider's side of a SAML connection, given one of three
/// ways: a metadata URL, metadata XML, or the three fields typed in.
#[derive(Debug, Clone, Default)]
pub struct SamlInput {
    pub metadata_url: Option<String>,
    pub metadata_xml: Option<String>,
    pub sso_url: Option<String>,
    pub entity_id: Option<String>,
    pub certificate_pem: Option<String>,
}

impl SamlInput {
    pub fn is_empty(&self) -> bool {
        [
            &self.metadata_url,
            &self.metadata_xml,
            &self.sso_url,
            &self.entity_id,
            &self.certificate_pem,
        ]
        .iter()
        .all(|f| f.as_deref().is_none_or(|v| v.trim().is_empty()))
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewConnection {
    pub provider: String,
    pub saml: Option<SamlInput>,
    pub oidc: Option<OidcInput>,
    pub allow_subdomains: Option<bool>,
    pub allow_idp_initiated: Option<bool>,
    pub sp_options: SpOptions,
}

/// Gatehouse's own SAML options; `None` leaves one as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpOptions {
    pub sign_requests: Option<bool>,
    pub encrypt_assertions: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct ConnectionPatch {
    /// Organization roles from identity-provider groups (replaces the list).
    pub role_mapping: Option<Vec<RoleRule>>,
    pub saml: Option<SamlInput>,
    pub oidc: Option<OidcInput>,
    /// Which attributes supply the identity; part of the settings version.
    pub attribute_mapping: Option<AttributeMapping>,
    /// OIDC: which claims supply the identity; part of the settings version.
    pub claim_mapping: Option<ClaimMapping>,
    pub allow_subdomains: Option<bool>,
    pub allow_idp_initiated: Option<bool>,
    pub sp_options: SpOptions,
}

/// How many role rules a connection may have.
pub const MAX_ROLE_RULES: usize = 50;
const MAX_GROUP: usize = 256;

/// Role rules: a group (up to 256 characters) and a role each, the role a
/// name the organization's default role could have
/// (`organization::parse_role`); at most `MAX_ROLE_RULES`.
pub fn clean_role_mapping(rules: Vec<RoleRule>) -> ServiceResult<Vec<RoleRule>> {
    let refused = |message: String| ServiceError::Refused {
        code: "role_mapping_invalid",
        message,
    };
    if rules.len() > MAX_ROLE_RULES {
        return Err(refused(format!(
            "A connection can have at most {MAX_ROLE_RULES} role rules; remove one before adding another."
        )));
    }
    rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let group = r.group.trim();
            if group.is_empty()
                || group.chars().count() > MAX_GROUP
                || group.chars().any(char::is_control)
            {
                return Err(refused(format!(
                    "Rule {}: give the group's name as the identity provider sends it, up to {MAX_GROUP} characters.",
                    i + 1
                )));
            }
            let role = parse_role(&r.role)
                .map_err(|e| refused(format!("Rule {}: {}.", i + 1, e.message)))?;
            Ok(RoleRule {
                group: group.to_string(),
                role,
            })
        })
        .collect()
}

fn protocol_mismatch(provider: Provider) -> ServiceError {
    let (wanted, other) = match provider.protocol() {
        Protocol::Saml => ("saml", "oidc"),
        Protocol::Oidc => ("oidc", "saml"),
    };
    ServiceError::Refused {
        code: "connection_protocol_mismatch",
        message: format!(
            "{} connections take `{wanted}` settings, not `{other}` ones.",
            provider.display_name()
        ),
    }
}

fn settings_error(e: SettingsError) -> ServiceError {
    ServiceError::Refused {
        code: e.code,
        message: e.message,
    }
}

pub(super) fn event(c: &Connection, action: &'static str, data: serde_json::Value) -> NewEvent {
    NewEvent {
        organization_id: Some(c.organization_id.clone()),
        previous_organization_id: None,
        action,
        target_type: "connection",
        target_id: c.id.clone(),
        data,
    }
}

/// Whether the current version's settings are complete enough to sign in.
pub fn is_configured(c: &Connection) -> bool {
    match c.protocol() {
        Protocol::Saml => saml_config(c).is_complete(),
        Protocol::Oidc => oidc_config(c).is_complete(),
    }
}

/// The SAML settings of a connection's current version.
pub fn saml_config(c: &Connection) -> SamlConfig {
    serde_json::from_value(c.config.clone()).unwrap_or_default()
}

impl Services {
    /// Turns what the admin gave into checked settings. Nothing is stored
    /// here: on any error the caller keeps the last good settings.
    pub async fn resolve_saml(
        &self,
        input: &SamlInput,
        current: &SamlConfig,
    ) -> ServiceResult<SamlConfig> {
        let given = |f: &Option<String>| {
            f.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let (url, xml) = (given(&input.metadata_url), given(&input.metadata_xml));
        let manual = [
            given(&input.sso_url),
            given(&input.entity_id),
            given(&input.certificate_pem),
        ];
        let ways = usize::from(url.is_some())
            + usize::from(xml.is_some())
            + usize::from(manual.iter().any(Option::is_some));
        if ways > 1 {
            return Err(ServiceError::Refused {
                code: "saml_settings_ambiguous",
                message: "Give the identity provider's settings one way: a metadata URL, the metadata XML, or the single sign-on URL, entity ID and certificate.".into(),
            });
        }
        let now = self.clock.now();
        // Gatehouse's own side is kept; the identity provider's is replaced.
        let mut config = SamlConfig {
            attribute_mapping: current.attribute_mapping.clone(),
            sign_requests: current.sign_requests,
            encrypt_assertions: current.encrypt_assertions,
            sp_key: current.sp_key.clone(),
            ..SamlConfig::default()
        };
        let idp = if let Some(url) = url {
            let fetched = self
                .fetcher
                .get(
                    &url,
                    "application/samlmetadata+xml, application/xml, text/xml;q=0.9, */*;q=0.1",
                )
                .await
                .map_err(|e| ServiceError::Refused {
                    code: e.code,
                    message: e.message,
                })?;
            let text = String::from_utf8(fetched.body).map_err(|_| {
                settings_error(SettingsError::new(
                    "saml_metadata_invalid",
                    "The metadata at that URL is not UTF-8 text.",
                ))
            })?;
            config.source = Some(Source::MetadataUrl);
            config.metadata_url = Some(url);
            config.metadata_fetched_at = Some(now);
            metadata::parse(&text).map_err(settings_error)?
        } else if let Some(xml) = xml {
            config.source = Some(Source::MetadataXml);
            metadata::parse(&xml).map_err(settings_error)?
        } else {
            let [sso_url, entity_id, pem] = manual;
            let missing: Vec<&str> = [
                ("single sign-on URL", &sso_url),
                ("entity ID", &entity_id),
                ("signing certificate", &pem),
            ]
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
            if !missing.is_empty() {
                return Err(ServiceError::Refused {
                    code: "saml_settings_incomplete",
                    message: format!(
                        "Also give the identity provider's {}.",
                        missing.join(" and ")
                    ),
                });
            }
            config.source = Some(Source::Manual);
            IdpSettings {
                sso_url: metadata::parse_sso_url(
                    sso_url.as_deref().unwrap_or_default(),
                    self.config.allow_private_network_fetch,
                )
                .map_err(settings_error)?,
                entity_id: metadata::parse_entity_id(entity_id.as_deref().unwrap_or_default())
                    .map_err(settings_error)?,
                binding: Binding::Redirect,
                certificates: certificates::parse_pem(pem.as_deref().unwrap_or_default())
                    .map_err(settings_error)?,
            }
        };
        let certificates = certificates::check(idp.certificates, now).map_err(settings_error)?;
        config.idp = Some(IdpSettings {
            certificates,
            ..idp
        });
        Ok(config)
    }

    pub async fn create_connection(
        &self,
        ctx: &ChangeContext,
        organization_id: &str,
        input: NewConnection,
    ) -> ServiceResult<Connection> {
        let org = self.get_organization(organization_id).await?;
        let provider =
            Provider::parse(input.provider.trim()).ok_or_else(|| ServiceError::Refused {
                code: "connection_provider_invalid",
                message: format!(
                    "`{}` is not a provider Gatehouse knows. Use one of: {}.",
                    input.provider.chars().take(60).collect::<String>(),
                    Provider::ALL
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        let id = ids::new_id(Kind::Connection);
        let saml_given = input.saml.as_ref().is_some_and(|s| !s.is_empty())
            || input.sp_options.sign_requests.is_some()
            || input.sp_options.encrypt_assertions.is_some();
        let config = match provider.protocol() {
            Protocol::Saml => {
                if input.oidc.is_some() {
                    return Err(protocol_mismatch(provider));
                }
                let mut config = match input.saml.as_ref().filter(|s| !s.is_empty()) {
                    Some(saml) => self.resolve_saml(saml, &SamlConfig::default()).await?,
                    None => SamlConfig::default(),
                };
                self.apply_sp_options(&mut config, &id, input.sp_options)
                    .await?;
                serde_json::to_value(&config)
            }
            Protocol::Oidc => {
                if saml_given {
                    return Err(protocol_mismatch(provider));
                }
                let config = match input.oidc.as_ref().filter(|o| !o.is_empty()) {
                    Some(oidc) => {
                        self.resolve_oidc(provider, &id, oidc, &OidcConfig::default())
                            .await?
                    }
                    None => OidcConfig::default(),
                };
                serde_json::to_value(&config)
            }
        }
        .map_err(|e| ServiceError::Unexpected(e.into()))?;
        let now = self.clock.now();
        let connection = Connection {
            id,
            organization_id: org.id,
            provider,
            lifecycle: Lifecycle::new(),
            allow_subdomains: input.allow_subdomains.unwrap_or(false),
            allow_idp_initiated: input.allow_idp_initiated.unwrap_or(false),
            role_mapping: Vec::new(),
            config,
            live_config: None,
            created_at: now,
            updated_at: now,
            activated_at: None,
        };
        let e = event(
            &connection,
            "connection.created",
            json!({ "provider": provider.as_str() }),
        );
        self.store.insert_connection(&connection, ctx, e).await?;
        Ok(connection)
    }

    pub async fn get_connection(&self, id: &str) -> ServiceResult<Connection> {
        if !ids::is_well_formed(Kind::Connection, id) {
            return Err(ServiceError::not_found(Kind::Connection, id));
        }
        self.store
            .get_connection(id)
            .await?
            .ok_or_else(|| ServiceError::not_found(Kind::Connection, id))
    }

    /// A connection of this organization; another organization's is
    /// "not found".
    pub async fn get_organization_connection(
        &self,
        organization_id: &str,
        id: &str,
    ) -> ServiceResult<Connection> {
        let connection = self.get_connection(id).await?;
        if connection.organization_id != organization_id {
            return Err(ServiceError::not_found(Kind::Connection, id));
        }
        Ok(connection)
    }

    pub async fn list_connections(&self, organization_id: &str) -> ServiceResult<Vec<Connection>> {
        let org = self.get_organization(organization_id).await?;
        Ok(self.store.list_connections(&org.id).await?)
    }

    /// Saves a changed connection, mapping the store's conflicts to codes.
    async fn save(
        &self,
        c: &Connection,
        expected_version: i64,
        ctx: &ChangeContext,
        e: NewEvent,
    ) -> ServiceResult<()> {
        match self.store.save_connection(c, expected_version, ctx, e).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict("stale")) => Err(ServiceError::Conflict {
                code: "connection_changed",
                message: "The connection was changed by someone else a moment ago. Reload it and try again.".into(),
            }),
            Err(StoreError::Conflict("active")) => Err(ServiceError::Conflict {
                code: "connection_already_active",
                message: "Another connection of this organization is active. Deactivate it first: one connection at a time signs people in.".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_connection(
        &self,
        ctx: &ChangeContext,
        id: &str,
        patch: ConnectionPatch,
    ) -> ServiceResult<Connection> {
        let before = self.get_connection(id).await?;
        let mut c = before.clone();
        let mut changes = serde_json::Map::new();
        let is_oidc = before.protocol() == Protocol::Oidc;
        let saml_given = patch.saml.as_ref().is_some_and(|s| !s.is_empty())
            || patch.attribute_mapping.is_some()
            || patch.sp_options.sign_requests.is_some()
            || patch.sp_options.encrypt_assertions.is_some();
        let oidc_given = patch.oidc.is_some() || patch.claim_mapping.is_some();
        if (is_oidc && saml_given) || (!is_oidc && oidc_given) {
            return Err(protocol_mismatch(before.provider));
        }
        if let Some(oidc) = patch.oidc.as_ref().filter(|o| !o.is_empty()) {
            let config = self
                .resolve_oidc(before.provider, &before.id, oidc, &oidc_config(&before))
                .await?;
            c.config =
                serde_json::to_value(&config).map_err(|e| ServiceError::Unexpected(e.into()))?;
            if c.config != before.config {
                c.lifecycle = before.lifecycle.after_config_change();
                changes.insert(
                    "idp_settings".into(),
                    json!({ "config_version": c.lifecycle.config_version }),
                );
            }
        }
        if let Some(saml) = patch.saml.as_ref().filter(|s| !s.is_empty()) {
            let config = self.resolve_saml(saml, &saml_config(&before)).await?;
            c.config =
                serde_json::to_value(&config).map_err(|e| ServiceError::Unexpected(e.into()))?;
            if c.config != before.config {
                c.lifecycle = before.lifecycle.after_config_change();
                changes.insert(
                    "idp_settings".into(),
                    json!({ "config_version": c.lifecycle.config_version }),
                );
            }
        }
        let mut config = saml_config(&c);
        if !is_oidc
            && self
                .apply_sp_options(&mut config, &c.id, patch.sp_options)
                .await?
        {
            c.config =
                serde_json::to_value(&config).map_err(|e| ServiceError::Unexpected(e.into()))?;
            if c.lifecycle.config_version == before.lifecycle.config_version {
                c.lifecycle = before.lifecycle.after_config_change();
            }
            changes.insert(
                "sp_options".into(),
                json!({
                    "sign_requests": config.sign_requests,
                    "encrypt_assertions": config.encrypt_assertions,
                    "config_version": c.lifecycle.config_version,
                }),
            );
        }
        if let Some(mapping) = patch.attribute_mapping {
            let clean = |v: Option<String>| {
                v.map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty() && s.len() <= 512)
            };
            let mapping = AttributeMapping {
                email: clean(mapping.email),
                first_name: clean(mapping.first_name),
                last_name: clean(mapping.last_name),
                groups: clean(mapping.groups),
            };
            let mut config = saml_config(&c);
            if config.attribute_mapping != mapping {
                config.attribute_mapping = mapping;
                c.config = serde_json::to_value(&config)
                    .map_err(|e| ServiceError::Unexpected(e.into()))?;
                if c.lifecycle.config_version == before.lifecycle.config_version {
                    c.lifecycle = before.lifecycle.after_config_change();
                }
                changes.insert(
                    "attribute_mapping".into(),
                    json!({ "config_version": c.lifecycle.config_version }),
                );
            }
        }
        if let Some(mapping) = patch.claim_mapping {
            let mapping = clean_claim_mapping(mapping)?;
            let mut config = oidc_config(&c);
            if config.claim_mapping != mapping {
                config.claim_mapping = mapping;
                c.config = serde_json::to_value(&config)
                    .map_err(|e| ServiceError::Unexpected(e.into()))?;
                if c.lifecycle.config_version == before.lifecycle.config_version {
                    c.lifecycle = before.lifecycle.after_config_change();
                }
                changes.insert(
                    "claim_mapping".into(),
                    json!({
                        "email": config.claim_mapping.email,
                        "config_version": c.lifecycle.config_version,
                    }),
                );
            }
        }
        if let Some(v) = patch.allow_subdomains
            && v != c.allow_subdomains
        {
            c.allow_subdomains = v;
            changes.insert("allow_subdomains".into(), json!({ "from": !v, "to": v }));
        }
        if let Some(rules) = patch.role_mapping {
            let rules = clean_role_mapping(rules)?;
            if rules != c.role_mapping {
                changes.insert("role_mapping".into(), json!({ "to": rules }));
                c.role_mapping = rules;
            }
        }
        if let Some(v) = patch.allow_idp_initiated
            && v != c.allow_idp_initiated
        {
            c.allow_idp_initiated = v;
            changes.insert("allow_idp_initiated".into(), json!({ "from": !v, "to": v }));
        }
        if changes.is_empty() {
            return Ok(before);
        }
        c.updated_at = self.clock.now();
        let e = event(&c, "connection.updated", json!({ "changes": changes }));
        self.save(&c, before.lifecycle.config_version, ctx, e)
            .await?;
        Ok(c)
    }

    /// Sets Gatehouse's signing and encryption options, making the
    /// connection's SP key pair when one of them is turned on and there is
    /// none.
    /// Answers whether anything changed.
    async fn apply_sp_options(
        &self,
        config: &mut SamlConfig,
        connection_id: &str,
        options: SpOptions,
    ) -> ServiceResult<bool> {
        let sign = options.sign_requests.unwrap_or(config.sign_requests);
        let encrypt = options
            .encrypt_assertions
            .unwrap_or(config.encrypt_assertions);
        if sign == config.sign_requests && encrypt == config.encrypt_assertions {
            return Ok(false);
        }
        if (sign || encrypt) && config.sp_key.is_none() {
            let secret = self.secret_key.clone();
            let id = connection_id.to_string();
            let now = self.clock.now();
            // RSA key generation takes a while: off the async workers.
            let pair = tokio::task::spawn_blocking(move || SpKey::generate(&secret, &id, now))
                .await
                .map_err(|e| ServiceError::Unexpected(e.into()))?
                .map_err(|e| ServiceError::Unexpected(e.into()))?;
            config.sp_key = Some(pair);
        }
        config.sign_requests = sign;
        config.encrypt_assertions = encrypt;
        // With both off the key has no use; turning one on again makes a
        // new one (the way out when the old one no longer opens).
        if !sign && !encrypt {
            config.sp_key = None;
        }
        Ok(true)
    }

    /// Makes a connection live. The host may skip the test requirement.
    pub async fn activate_connection(
        &self,
        ctx: &ChangeContext,
        id: &str,
        skip_test: bool,
    ) -> ServiceResult<Connection> {
        let before = self.get_connection(id).await?;
        if before.state() == State::Active && !before.lifecycle.has_unreleased_changes() {
            return Ok(before);
        }
        let verified_sso = self
            .store
            .list_domains(&before.organization_id)
            .await?
            .iter()
            .filter(|d| d.status == Status::Verified && d.purpose == Purpose::Sso)
            .count();
        let complete = is_configured(&before);
        let lifecycle = before
            .lifecycle
            .activate(complete, verified_sso, skip_test)
            .map_err(|r| ServiceError::Refused {
                code: r.code(),
                message: r.message().into(),
            })?;
        let now = self.clock.now();
        let c = Connection {
            lifecycle,
            live_config: Some(before.config.clone()),
            activated_at: Some(now),
            updated_at: now,
            ..before.clone()
        };
        let e = event(
            &c,
            "connection.activated",
            json!({ "config_version": c.lifecycle.config_version, "skip_test": skip_test }),
        );
        self.save(&c, before.lifecycle.config_version, ctx, e)
            .await?;
        Ok(c)
    }

    pub async fn deactivate_connection(
        &self,
        ctx: &ChangeContext,
        id: &str,
    ) -> ServiceResult<Connection> {
        let before = self.get_connection(id).await?;
        if before.state() != State::Active {
            return Ok(before);
        }
        let c = Connection {
            lifecycle: before.lifecycle.deactivate(),
            updated_at: self.clock.now(),
            ..before.clone()
        };
        let e = event(&c, "connection.deactivated", json!({}));
        self.save(&c, before.lifecycle.config_version, ctx, e)
            .await?;
        Ok(c)
    }

    /// Moves a connection to another organization. Members stay where they
    /// are; an active connection arrives inactive, since the new
    /// organization's domains are not the old one's.
    pub async fn move_connection(
        &self,
        ctx: &ChangeContext,
        id: &str,
        organization_id: &str,
    ) -> ServiceResult<Connection> {
        let before = self.get_connection(id).await?;
        let target = self.get_organization(organization_id).await?;
        if target.id == before.organization_id {
            return Ok(before);
        }
        let c = Connection {
            organization_id: target.id.clone(),
            lifecycle: before.lifecycle.deactivate(),
            updated_at: self.clock.now(),
            ..before.clone()
        };
        let e = NewEvent {
            organization_id: Some(target.id.clone()),
            previous_organization_id: Some(before.organization_id.clone()),
            ..event(
                &c,
                "connection.moved",
                json!({ "from": before.organization_id, "to": target.id }),
            )
        };
        self.save(&c, before.lifecycle.config_version, ctx, e)
            .await?;
        Ok(c)
    }

    /// Deletes a connection; no user is deleted with it.
    pub async fn delete_connection(&self, ctx: &ChangeContext, id: &str) -> ServiceResult<()> {
        let c = self.get_connection(id).await?;
        let e = event(
            &c,
            "connection.deleted",
            json!({ "provider": c.provider.as_str(), "state": c.state().as_str() }),
        );
        if !self
            .store
            .delete_connection(&c.id, self.clock.now(), ctx, e)
            .await?
        {
            return Err(ServiceError::not_found(Kind::Connection, id));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(group: &str, role: &str) -> RoleRule {
        RoleRule {
            group: group.into(),
            role: role.into(),
        }
    }

    #[test]
    fn role_rules_are_trimmed_and_their_roles_checked_like_the_default_role() {
        let clean = clean_role_mapping(vec![rule(" Admins ", " org:admin ")]).expect("valid");
        assert_eq!(clean, vec![rule("Admins", "org:admin")]);
        for bad in [
            rule("", "admin"),
            rule("admins", "two words"),
            rule("admins", ":x"),
        ] {
            let Err(ServiceError::Refused { code, message }) = clean_role_mapping(vec![bad]) else {
                panic!("accepted");
            };
            assert_eq!(code, "role_mapping_invalid");
            assert!(message.starts_with("Rule 1:"), "{message}");
        }
        let too_many = vec![rule("g", "member"); MAX_ROLE_RULES + 1];
        assert!(clean_role_mapping(too_many).is_err());
        assert!(clean_role_mapping(vec![rule("g", "member"); MAX_ROLE_RULES]).is_ok());
    }
}
