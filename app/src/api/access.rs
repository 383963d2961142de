//! Tenants, users, memberships, API tokens and the audit log.

use crate::types::text_enum::text_enum;
use crate::types::Role;
use serde::{Deserialize, Serialize};

/// A tenant as platform admins see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub slug: String,
    pub name: String,
    /// Tasks of this tenant running at once; `null` is the server's default.
    pub max_concurrent_tasks: Option<i64>,
    /// The tenant's own disk quota in bytes (0: unlimited); `null` is the
    /// platform default.
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub quota_bytes: Option<i64>,
    /// The disk quota that applies, in bytes: the tenant's own or the
    /// platform default (0: unlimited).
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub effective_quota_bytes: i64,
    /// Bytes in the tenant's folder (datasets, data files, exports, task
    /// logs), measured at most every 30 seconds.
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub usage_bytes: i64,
    /// Days the tenant keeps its ended runs (0: forever); `null` is the
    /// platform default.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub retention_days: Option<i64>,
    /// The retention that applies, in days: the tenant's own or the
    /// platform default (0: forever).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub effective_retention_days: i64,
    /// What the last retention sweep freed in the tenant.
    #[serde(default)]
    pub last_sweep: Option<Sweep>,
    pub members: i64,
    pub created_at: String,
}

/// What one retention sweep deleted in a tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Sweep {
    pub at: String,
    /// Ended runs deleted, with their events and task logs.
    pub runs: i64,
    /// Bytes of task logs freed.
    pub bytes: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewTenant {
    /// Lower-case letters, digits and `-`, 1 to 63 characters; used in URLs.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub slug: String,
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10000))]
    pub max_concurrent_tasks: Option<i64>,
}

/// Changes to a tenant; absent fields stay as they are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TenantChange {
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: Option<String>,
    /// `null` returns the tenant to the server's default.
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<i64>, minimum = 1, maximum = 10000))]
    pub max_concurrent_tasks: Option<Option<i64>>,
    /// The tenant's own disk quota in bytes, 0 for unlimited; `null`
    /// returns the tenant to the platform default.
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<i64>, minimum = 0))]
    pub quota_bytes: Option<Option<i64>>,
    /// Days the tenant keeps its ended runs, 0 for forever; `null`
    /// returns the tenant to the platform default.
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<i64>, minimum = 0, maximum = 36500))]
    pub retention_days: Option<Option<i64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<i64>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().and_then(|v| v.as_ref()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
        Option::<i64>::deserialize(d).map(Some)
    }
}

/// A user as platform admins see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub username: String,
    pub platform_admin: bool,
    /// Whether the user can sign in with a password.
    pub has_password: bool,
    /// Whether the user is linked to a single sign-on identity.
    pub sso: bool,
    pub created_at: String,
    /// When a platform admin disabled the user; `null` while enabled. A
    /// disabled user cannot sign in and none of their sessions or API
    /// tokens is accepted.
    pub disabled_at: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewUser {
    /// 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$"))]
    pub username: String,
    /// At least 10 characters. Leave out for users who only sign in by SSO.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(min_length = 10, max_length = 1024))]
    pub password: Option<String>,
    #[serde(default)]
    pub platform_admin: bool,
}

/// A platform admin's changes to a user; absent fields stay as they are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserChange {
    /// `true` disables the user (their sessions end, their API tokens stop
    /// working, sign-in is refused); `false` enables them again.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// A new password (at least 10 characters); the user's sessions end.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(min_length = 10, max_length = 1024))]
    pub password: Option<String>,
}

/// A user's change of their own password.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 10 characters (and at most 1024).
    #[cfg_attr(feature = "ssr", schema(min_length = 10, max_length = 1024))]
    pub new_password: String,
}

/// A user's membership of a tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Member {
    pub username: String,
    pub role: Role,
    pub since: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetMember {
    pub role: Role,
}

/// An API token, without its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: String,
    pub tenant: String,
    /// Who created it (tenant admins see every member's tokens).
    pub user: String,
    pub name: String,
    pub role: Role,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewApiToken {
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: String,
    /// No higher than the creator's own role in the tenant.
    pub role: Role,
    /// Days until the token stops working (1 to 3650); absent for no expiry.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 3650))]
    pub expires_in_days: Option<i64>,
}

/// A new token: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// Send as `Authorization: Bearer <secret>`. Not retrievable later.
    pub secret: String,
}

/// One audit log entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: String,
    pub at: String,
    /// The username of who did it.
    pub actor: String,
    /// How they were signed in.
    pub via: AuditVia,
    /// What they did.
    pub action: AuditAction,
    /// What it was done to (a process id, a run id, a username …).
    pub target: Option<String>,
    /// What else is worth knowing (the new role, the run's version …);
    /// `null` when there is nothing.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub detail: Option<serde_json::Value>,
}

text_enum!(
    /// How the one who did something was signed in.
    AuditVia, "audit channel" {
        /// A signed-in session.
        Session => "session",
        /// An API token.
        Token => "token",
        /// A password sign-in (the sign-in itself).
        Password => "password",
        /// A single sign-on sign-in (the sign-in itself).
        Oidc => "oidc",
        /// Trellis itself.
        System => "system",
    }
);

text_enum!(
    /// How a user proved who they are when a session was opened.
    SignInMethod, "sign-in method" {
        Password => "password",
        Oidc => "oidc",
    }
);

impl From<SignInMethod> for AuditVia {
    fn from(method: SignInMethod) -> Self {
        match method {
            SignInMethod::Password => AuditVia::Password,
            SignInMethod::Oidc => AuditVia::Oidc,
        }
    }
}

text_enum!(
    /// What the audit log records. The text is the action's stored and
    /// wire name, dotted by what it acts on.
    AuditAction, "audit action" {
        SignIn => "sign_in",
        #[serde(rename = "sign_in.failed")]
        SignInFailed => "sign_in.failed",
        SignOut => "sign_out",
        /// A user changed their own password.
        #[serde(rename = "password.change")]
        PasswordChange => "password.change",
        #[serde(rename = "process.create")]
        ProcessCreate => "process.create",
        #[serde(rename = "process.archive")]
        ProcessArchive => "process.archive",
        #[serde(rename = "template.create")]
        TemplateCreate => "template.create",
        #[serde(rename = "template.delete")]
        TemplateDelete => "template.delete",
        Publish => "publish",
        #[serde(rename = "run.start")]
        RunStart => "run.start",
        #[serde(rename = "run.stop")]
        RunStop => "run.stop",
        #[serde(rename = "run.retry")]
        RunRetry => "run.retry",
        #[serde(rename = "run.rerun")]
        RunRerun => "run.rerun",
        #[serde(rename = "member.set")]
        MemberSet => "member.set",
        #[serde(rename = "member.remove")]
        MemberRemove => "member.remove",
        #[serde(rename = "token.create")]
        TokenCreate => "token.create",
        #[serde(rename = "token.revoke")]
        TokenRevoke => "token.revoke",
        #[serde(rename = "connection.create")]
        ConnectionCreate => "connection.create",
        #[serde(rename = "connection.change")]
        ConnectionChange => "connection.change",
        #[serde(rename = "connection.delete")]
        ConnectionDelete => "connection.delete",
        #[serde(rename = "schedule.set")]
        ScheduleSet => "schedule.set",
        #[serde(rename = "schedule.delete")]
        ScheduleDelete => "schedule.delete",
        #[serde(rename = "backfill.start")]
        BackfillStart => "backfill.start",
        #[serde(rename = "backfill.cancel")]
        BackfillCancel => "backfill.cancel",
        #[serde(rename = "alert_channel.create")]
        AlertChannelCreate => "alert_channel.create",
        #[serde(rename = "alert_channel.delete")]
        AlertChannelDelete => "alert_channel.delete",
        #[serde(rename = "alert_rule.create")]
        AlertRuleCreate => "alert_rule.create",
        #[serde(rename = "alert_rule.delete")]
        AlertRuleDelete => "alert_rule.delete",
        #[serde(rename = "alert_secret.rotate")]
        AlertSecretRotate => "alert_secret.rotate",
        /// A platform admin's action, in no tenant's log.
        #[serde(rename = "tenant.create")]
        TenantCreate => "tenant.create",
        /// A platform admin's action, in no tenant's log.
        #[serde(rename = "tenant.change")]
        TenantChange => "tenant.change",
        /// A platform admin's action, in no tenant's log.
        #[serde(rename = "user.create")]
        UserCreate => "user.create",
        /// A platform admin's action, in no tenant's log.
        #[serde(rename = "user.disable")]
        UserDisable => "user.disable",
        /// A platform admin's action, in no tenant's log.
        #[serde(rename = "user.enable")]
        UserEnable => "user.enable",
        /// A platform admin's action, in no tenant's log.
        #[serde(rename = "user.password_reset")]
        UserPasswordReset => "user.password_reset",
    }
);

impl AuditAction {
    /// The sign-ins, sign-outs and password changes, recorded in no tenant
    /// and shown in the log of every tenant the user belongs to.
    pub const SESSION: &'static [AuditAction] = &[
        AuditAction::SignIn,
        AuditAction::SignOut,
        AuditAction::SignInFailed,
        AuditAction::PasswordChange,
    ];
}

/// The actions a tenant's audit log can show, for filters.
pub const AUDIT_ACTIONS: &[AuditAction] = &[
    AuditAction::SignIn,
    AuditAction::SignInFailed,
    AuditAction::SignOut,
    AuditAction::PasswordChange,
    AuditAction::ProcessCreate,
    AuditAction::ProcessArchive,
    AuditAction::TemplateCreate,
    AuditAction::TemplateDelete,
    AuditAction::Publish,
    AuditAction::RunStart,
    AuditAction::RunStop,
    AuditAction::RunRetry,
    AuditAction::RunRerun,
    AuditAction::MemberSet,
    AuditAction::MemberRemove,
    AuditAction::TokenCreate,
    AuditAction::TokenRevoke,
    AuditAction::ConnectionCreate,
    AuditAction::ConnectionChange,
    AuditAction::ConnectionDelete,
    AuditAction::ScheduleSet,
    AuditAction::ScheduleDelete,
    AuditAction::BackfillStart,
    AuditAction::BackfillCancel,
    AuditAction::AlertChannelCreate,
    AuditAction::AlertChannelDelete,
    AuditAction::AlertRuleCreate,
    AuditAction::AlertRuleDelete,
    AuditAction::AlertSecretRotate,
];

/// How the single sign-on button is shown on the sign-in page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuthMethods {
    pub password: bool,
    /// The label of the SSO button, when single sign-on is configured.
    pub sso: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_offers_every_action_a_tenant_log_can_hold() {
        let platform = [
            AuditAction::TenantCreate,
            AuditAction::TenantChange,
            AuditAction::UserCreate,
            AuditAction::UserDisable,
            AuditAction::UserEnable,
            AuditAction::UserPasswordReset,
        ];
        for action in AuditAction::ALL {
            assert_ne!(
                AUDIT_ACTIONS.contains(action),
                platform.contains(action),
                "{action} is offered exactly when a tenant's log can hold it"
            );
        }
        assert!(AuditAction::SESSION
            .iter()
            .all(|a| AUDIT_ACTIONS.contains(a)));
    }

    #[test]
    fn a_sign_in_is_audited_as_its_method() {
        assert_eq!(AuditVia::from(SignInMethod::Password), AuditVia::Password);
        assert_eq!(AuditVia::from(SignInMethod::Oidc), AuditVia::Oidc);
    }
}
