//! Sign-in and "who am I".

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// Local usernames have at most 64 characters; longer ones are refused
    /// (422) before anything else.
    #[cfg_attr(feature = "ssr", schema(max_length = 64))]
    pub username: String,
    pub password: String,
}

/// The signed-in user and the tenants they belong to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    pub username: String,
    pub platform_admin: bool,
    pub tenants: Vec<TenantMembership>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TenantMembership {
    pub slug: String,
    pub name: String,
    pub role: crate::types::Role,
}
