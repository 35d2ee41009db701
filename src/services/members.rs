//! An organization's members: listing them, and the two ways one goes:
//! removed by the host on an admin's behalf, or leaving of their own accord,
//! which a member who joined through SSO cannot do (their identity provider
//! decides, and they would rejoin on their next sign-in anyway).

use super::{ServiceError, ServiceResult, Services};
use crate::domain::audit::ChangeContext;
use crate::ids::{self, Kind};
use crate::store::users::Member;
use crate::store::{Page, PageRequest};

/// How a member joined when they joined by signing in through a connection.
pub const SSO_SOURCE: &str = "sso";

/// Whether a member may leave the organization by themselves.
pub fn can_leave(member: &Member) -> bool {
    member.source != SSO_SOURCE
}

impl Services {
    pub async fn list_members(
        &self,
        organization_id: &str,
        page: &PageRequest,
    ) -> ServiceResult<Page<Member>> {
        let org = self.get_organization(organization_id).await?;
        Ok(self.store.list_members(&org.id, page).await?)
    }

    /// An admin removes a member (the user stays). One who joined through
    /// SSO rejoins on their next sign-in unless the identity provider stops
    /// signing them in or the connection leaves the organization.
    pub async fn remove_member(
        &self,
        ctx: &ChangeContext,
        organization_id: &str,
        user_id: &str,
    ) -> ServiceResult<()> {
        let org = self.get_organization(organization_id).await?;
        self.remove_from(ctx, &org.id, user_id).await
    }

    /// Removes a member of an organization known to exist.
    async fn remove_from(
        &self,
        ctx: &ChangeContext,
        organization_id: &str,
        user_id: &str,
    ) -> ServiceResult<()> {
        let removed = ids::is_well_formed(Kind::User, user_id)
            && self
                .store
                .remove_member(organization_id, user_id, ctx, self.clock.now())
                .await?;
        if !removed {
            return Err(ServiceError::not_found(Kind::User, user_id));
        }
        Ok(())
    }

    /// A member asks to leave. Refused for one who joined through SSO:
    /// only an admin can remove them.
    pub async fn leave(
        &self,
        ctx: &ChangeContext,
        organization_id: &str,
        user_id: &str,
    ) -> ServiceResult<()> {
        let org = self.get_organization(organization_id).await?;
        let member = match ids::is_well_formed(Kind::User, user_id) {
            true => self.store.get_member(&org.id, user_id).await?,
            false => None,
        }
        .ok_or_else(|| ServiceError::not_found(Kind::User, user_id))?;
        if !can_leave(&member) {
            return Err(ServiceError::Conflict {
                code: "member_joined_through_sso",
                message: format!(
                    "{} joined {} by signing in through its identity provider, so they cannot leave by themselves. An admin can remove them (DELETE this membership), and they join again on their next sign-in unless the identity provider no longer signs them in.",
                    member.email, org.name
                ),
            });
        }
        self.remove_from(ctx, &org.id, user_id).await
    }
}
