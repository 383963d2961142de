//! The tenant's folder on this server (input files, datasets, exports, task
//! logs) and the disk quota its steps and uploads write within.

use super::Engine;
use app::types::TenantId;
use std::path::PathBuf;

impl Engine {
    /// The tenant's folder: input files, datasets, exports, task logs.
    pub fn tenant_dir(&self, tenant: &TenantId) -> PathBuf {
        self.inner
            .settings
            .data_dir
            .join("tenants")
            .join(tenant.as_str())
    }

    /// Bytes under the tenant's folder, measured at most every
    /// [`crate::quota::USAGE_TTL`].
    pub async fn disk_usage(&self, tenant: &TenantId) -> u64 {
        self.inner.usage.of(tenant, &self.tenant_dir(tenant)).await
    }

    /// The disk quota of a tenant whose own is `own` (`None`: the platform
    /// default); 0 is unlimited.
    pub fn quota_of(&self, own: Option<i64>) -> u64 {
        own.map_or(self.inner.settings.tenant_quota_bytes, |n| {
            u64::try_from(n).unwrap_or(0)
        })
    }

    /// The tenant's files changed outside a step: its usage is measured
    /// again at the next look.
    pub fn forget_usage(&self, tenant: &TenantId) {
        self.inner.usage.forget(tenant);
    }

    /// What a step (or an upload) of `tenant` may write (`None`: no quota
    /// applies).
    pub async fn allowance(
        &self,
        tenant: &TenantId,
    ) -> sqlx::Result<Option<crate::quota::Allowance>> {
        let own = crate::db::tenants::quota_bytes(&self.inner.db, tenant).await?;
        Ok(match self.quota_of(own) {
            0 => None,
            quota => Some(crate::quota::Allowance {
                quota,
                used: self.disk_usage(tenant).await,
            }),
        })
    }
}
