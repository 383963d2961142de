//! Alerts: where a tenant's notifications go (channels), when they are sent
//! (rules, per process or as the tenant's default) and what became of each
//! one (deliveries). Tenant admins manage them.

use crate::types::text_enum::text_enum;
use crate::types::{ProcessId, RunId};
use serde::{Deserialize, Serialize};

text_enum!(
    /// How a channel delivers.
    ChannelKind, "channel kind" {
        /// An HTTP POST of the alert as JSON, signed with the tenant's
        /// signing secret (`X-Trellis-Signature-256: sha256=<hex>`).
        Webhook => "webhook",
        /// An email over the platform's SMTP server, plain text and HTML.
        Email => "email",
        /// A Slack-style incoming webhook (`{"text": …}`).
        Slack => "slack",
    }
);

text_enum!(
    /// What a rule waits for.
    AlertTrigger, "alert trigger" {
        /// A run failed.
        Failure => "failure",
        /// A run succeeded.
        Success => "success",
        /// A run is still unfinished `threshold` minutes after it was started.
        Overdue => "overdue",
        /// A run failed and so did the `threshold - 1` runs before it (sent
        /// when the streak reaches `threshold`, once per streak).
        FailureStreak => "failure_streak",
        /// A run succeeded after the run before it failed.
        Recovery => "recovery",
    }
);

impl AlertTrigger {
    /// What the rule's `threshold` counts, if it has one.
    pub fn threshold_unit(self) -> Option<&'static str> {
        match self {
            AlertTrigger::Overdue => Some("minutes"),
            AlertTrigger::FailureStreak => Some("failures"),
            _ => None,
        }
    }

    /// The trigger in words, for lists and messages.
    pub fn describe(self, threshold: Option<i64>) -> String {
        let n = threshold.unwrap_or(0);
        match self {
            AlertTrigger::Failure => "a run fails".into(),
            AlertTrigger::Success => "a run succeeds".into(),
            AlertTrigger::Overdue => format!("a run is still unfinished after {n} minutes"),
            AlertTrigger::FailureStreak => format!("{n} runs in a row fail"),
            AlertTrigger::Recovery => "a run succeeds after a failure".into(),
        }
    }
}

text_enum!(
    /// Where a delivery stands.
    DeliveryStatus, "delivery status" {
        /// Not sent yet, or sent and to be tried again (`next_attempt_at`).
        Pending => "pending",
        /// The channel accepted it.
        Delivered => "delivered",
        /// Every attempt failed (`last_error` says why).
        Failed => "failed",
    }
);

/// A channel as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// The URL (webhook, Slack) or the comma-separated email addresses.
    pub target: String,
    pub created_at: String,
    /// The tenant's signing secret, only in the answer that created it
    /// (the first webhook channel makes one): shown once, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

/// A new channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelInput {
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: String,
    pub kind: ChannelKind,
    /// An http(s) URL for `webhook` and `slack`; one or more email
    /// addresses, comma-separated, for `email`.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 2000))]
    pub target: String,
}

/// A rule: when a run of its process (or, for a tenant default, of any
/// process without rules of its own) does `trigger`, a delivery goes to
/// `channel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Rule {
    pub id: String,
    /// `null`: the tenant default, for every process that has no rules of
    /// its own.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub process: Option<ProcessId>,
    pub process_name: Option<String>,
    pub trigger: AlertTrigger,
    /// Minutes for `overdue`, runs for `failure_streak`; `null` otherwise.
    pub threshold: Option<i64>,
    pub channel: String,
    pub channel_name: String,
    pub created_at: String,
}

/// A new rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RuleInput {
    /// The process's id; absent or `null` for the tenant default.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub process: Option<String>,
    pub trigger: AlertTrigger,
    /// Required for `overdue` (1 to 10080 minutes) and `failure_streak`
    /// (2 to 100 runs); must be absent otherwise.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10080))]
    pub threshold: Option<i64>,
    /// The channel's id.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    pub channel: String,
}

/// One notification to one channel, and what became of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: String,
    pub channel: String,
    pub channel_name: String,
    pub channel_kind: ChannelKind,
    /// What the rule waited for; `null` for a test ("send a test").
    pub trigger: Option<AlertTrigger>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub run: Option<RunId>,
    pub process_name: Option<String>,
    /// The run's number within its process.
    pub run_number: Option<i64>,
    /// The one-line summary the channel received.
    pub summary: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// Whether the tenant has a webhook signing secret, and since when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SigningSecretState {
    pub created_at: Option<String>,
}

/// A new signing secret: shown once. Webhooks are signed with it from now
/// on (`X-Trellis-Signature-256: sha256=<hex of HMAC-SHA256(secret, body)>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SigningSecret {
    pub secret: String,
    pub created_at: String,
}
