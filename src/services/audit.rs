//! Reading the audit log.

use super::{ServiceResult, Services};
use crate::domain::audit::Event;
use crate::store::events::EventFilter;
use crate::store::{Page, PageRequest};

impl Services {
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> ServiceResult<Page<Event>> {
        Ok(self.store.list_events(filter, page).await?)
    }
}
