//! Claiming email domains and proving ownership by DNS.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{ServiceError, ServiceResult, Services};
use crate::crypto;
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::domains::{self, BlockList, Domain, Purpose, Refusal, Status};
use crate::ids::{self, Kind};
use crate::store::StoreError;
use crate::store::domains::{CheckResult, CheckWritten};

/// How many due domains one background pass takes on.
const CHECK_BATCH: u32 = 50;

fn duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn event(d: &Domain, action: &'static str, data: serde_json::Value) -> NewEvent {
    NewEvent {
        organization_id: Some(d.organization_id.clone()),
        previous_organization_id: None,
        action,
        target_type: "domain",
        target_id: d.id.clone(),
        data,
    }
}

fn refused(refusal: &Refusal, shown: &str) -> ServiceError {
    match refusal {
        Refusal::Unavailable => ServiceError::Conflict {
            code: refusal.code(),
            message: refusal.message(shown),
        },
        _ => ServiceError::Refused {
            code: refusal.code(),
            message: refusal.message(shown),
        },
    }
}

impl Services {
    pub fn block_list(&self) -> BlockList {
        BlockList {
            extra: self.config.extra_blocked_domains.clone(),
            unblocked: self.config.unblocked_domains.clone(),
        }
    }

    fn next_check(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + duration(self.config.domain_recheck_interval)
    }

    /// Claims a domain for an organization; it starts `pending`.
    pub async fn add_domain(
        &self,
        ctx: &ChangeContext,
        organization_id: &str,
        raw: &str,
        purpose: Purpose,
    ) -> ServiceResult<Domain> {
        let org = self.get_organization(organization_id).await?;
        let name = domains::normalize(raw).map_err(|r| refused(&r, raw.trim()))?;
        domains::check_claimable(&name, &self.block_list())
            .map_err(|r| refused(&r, &name.unicode))?;
        if let Some(owner) = self.store.find_verified_domain(&name.ascii).await?
            && owner.organization_id != org.id
        {
            return Err(refused(&Refusal::Unavailable, &name.unicode));
        }
        let now = self.clock.now();
        let token: String = crypto::random_bytes::<20>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let domain = Domain {
            id: ids::new_id(Kind::Domain),
            organization_id: org.id.clone(),
            domain: name.ascii.clone(),
            status: Status::Pending,
            purpose,
            token,
            created_at: now,
            verified_at: None,
            last_checked_at: None,
            last_error_code: None,
            last_error: None,
            checks_started_at: now,
            next_check_at: Some(self.next_check(now)),
        };
        let e = event(
            &domain,
            "domain.created",
            json!({ "domain": domain.domain, "purpose": purpose.as_str() }),
        );
        match self.store.insert_domain(&domain, ctx, e).await {
            Ok(()) => Ok(domain),
            Err(StoreError::Conflict(_)) => Err(ServiceError::Conflict {
                code: "domain_exists",
                message: format!("{} is already in your organization's list.", name.unicode),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_domains(&self, organization_id: &str) -> ServiceResult<Vec<Domain>> {
        let org = self.get_organization(organization_id).await?;
        Ok(self.store.list_domains(&org.id).await?)
    }

    pub async fn get_domain(&self, id: &str) -> ServiceResult<Domain> {
        if !ids::is_well_formed(Kind::Domain, id) {
            return Err(ServiceError::not_found(Kind::Domain, id));
        }
        self.store
            .get_domain(id)
            .await?
            .ok_or_else(|| ServiceError::not_found(Kind::Domain, id))
    }

    /// A domain of this organization; another organization's is "not found".
    pub async fn get_organization_domain(
        &self,
        organization_id: &str,
        id: &str,
    ) -> ServiceResult<Domain> {
        let domain = self.get_domain(id).await?;
        if domain.organization_id != organization_id {
            return Err(ServiceError::not_found(Kind::Domain, id));
        }
        Ok(domain)
    }

    /// Looks the TXT record up once and records what was seen. A `failed`
    /// domain starts a new round of background checks. Answers the domain
    /// as it is afterwards.
    pub async fn verify_domain(
        &self,
        ctx: &ChangeContext,
        domain: Domain,
    ) -> ServiceResult<Domain> {
        if domain.status == Status::Verified {
            return Ok(domain);
        }
        if domain.status == Status::Failed {
            let e = event(
                &domain,
                "domain.checks_restarted",
                json!({ "domain": domain.domain }),
            );
            self.store
                .restart_domain_checks(&domain.id, self.clock.now(), ctx, e)
                .await?;
        }
        self.check_domain(ctx, &domain, true).await?;
        self.get_domain(&domain.id).await
    }

    /// One check: lookup, judgement, record. `audit_failure` records a failed
    /// check as an event (an admin asked for it); background failures are
    /// recorded on the domain only, until the give-up.
    async fn check_domain(
        &self,
        ctx: &ChangeContext,
        domain: &Domain,
        audit_failure: bool,
    ) -> ServiceResult<CheckWritten> {
        let lookup = self.dns.lookup(&domain.record_name()).await;
        let now = self.clock.now();
        match domains::judge(&lookup, &domain.domain, &domain.record_value()) {
            Ok(()) => {
                if let Some(owner) = self.store.find_verified_domain(&domain.domain).await?
                    && owner.organization_id != domain.organization_id
                {
                    return Err(refused(&Refusal::Unavailable, &domain.unicode()));
                }
                let e = event(
                    domain,
                    "domain.verified",
                    json!({ "domain": domain.domain }),
                );
                let written = self
                    .store
                    .record_domain_check(&domain.id, now, &CheckResult::Verified, ctx, Some(e))
                    .await?;
                if written == CheckWritten::VerifiedElsewhere {
                    return Err(refused(&Refusal::Unavailable, &domain.unicode()));
                }
                Ok(written)
            }
            Err(failure) => {
                let give_up = !audit_failure
                    && now
                        >= domain.checks_started_at + duration(self.config.domain_recheck_give_up);
                let (action, record) = if give_up {
                    ("domain.failed", true)
                } else {
                    ("domain.verification_failed", audit_failure)
                };
                let e = event(
                    domain,
                    action,
                    json!({ "domain": domain.domain, "code": failure.code, "message": failure.message }),
                );
                let result = CheckResult::Failed {
                    code: failure.code,
                    message: failure.message,
                    next_check_at: (!give_up).then(|| self.next_check(now)),
                    give_up,
                };
                Ok(self
                    .store
                    .record_domain_check(&domain.id, now, &result, ctx, record.then_some(e))
                    .await?)
            }
        }
    }

    /// One pass of the background re-check: claims the due pending domains
    /// (each instance gets its own) and checks them. Answers how many it
    /// checked.
    pub async fn run_due_domain_checks(&self) -> ServiceResult<usize> {
        let now = self.clock.now();
        let lease = now + chrono::Duration::seconds(60);
        let due = self
            .store
            .claim_due_domains(now, lease, CHECK_BATCH)
            .await?;
        let ctx = ChangeContext::system();
        for domain in &due {
            if let Err(e) = self.check_domain(&ctx, domain, false).await {
                tracing::warn!(domain_id = %domain.id, error = %e, "background domain check failed");
            }
        }
        Ok(due.len())
    }

    pub async fn set_domain_purpose(
        &self,
        ctx: &ChangeContext,
        domain: &Domain,
        purpose: Purpose,
    ) -> ServiceResult<Domain> {
        if domain.purpose == purpose {
            return Ok(domain.clone());
        }
        self.check_removable(domain).await?;
        let e = event(
            domain,
            "domain.updated",
            json!({ "changes": { "purpose": { "from": domain.purpose.as_str(), "to": purpose.as_str() } } }),
        );
        self.store
            .set_domain_purpose(&domain.id, purpose, self.clock.now(), ctx, e)
            .await?;
        self.get_domain(&domain.id).await
    }

    /// Refuses to take away the last SSO domain of an active connection.
    async fn check_removable(&self, domain: &Domain) -> ServiceResult<()> {
        let others = self
            .store
            .list_domains(&domain.organization_id)
            .await?
            .iter()
            .filter(|d| {
                d.id != domain.id && d.status == Status::Verified && d.purpose == Purpose::Sso
            })
            .count();
        let active = self
            .organization_has_active_connection(&domain.organization_id)
            .await?;
        domains::may_remove(domain, active, others).map_err(|message| ServiceError::Refused {
            code: "domain_in_use",
            message,
        })
    }

    /// Whether the organization has an active SSO connection.
    pub async fn organization_has_active_connection(
        &self,
        organization_id: &str,
    ) -> ServiceResult<bool> {
        Ok(self.store.has_active_connection(organization_id).await?)
    }

    pub async fn remove_domain(&self, ctx: &ChangeContext, domain: &Domain) -> ServiceResult<()> {
        self.check_removable(domain).await?;
        let e = event(
            domain,
            "domain.deleted",
            json!({ "domain": domain.domain, "status": domain.status.as_str() }),
        );
        if !self
            .store
            .delete_domain(&domain.id, self.clock.now(), ctx, e)
            .await?
        {
            return Err(ServiceError::not_found(Kind::Domain, &domain.id));
        }
        Ok(())
    }
}
