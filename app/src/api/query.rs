//! The query strings of the API's routes, one struct each: the server
//! deserializes them, the browser builds them with `to_query`.

use crate::api::access::AuditAction;
use crate::api::alerts::DeliveryStatus;
use crate::api::processes::DefinitionFormat;
use crate::api::runs::{RunOrigin, StopMode};
use crate::types::{RunState, UnknownVariant};
use serde::{Deserialize, Serialize};

/// Appends `name=value` (encoded) when there is a value.
fn pair(out: &mut form_urlencoded::Serializer<String>, name: &str, value: Option<String>) {
    if let Some(v) = value {
        out.append_pair(name, &v);
    }
}

/// `?` and the encoded pairs, or nothing when there are none.
fn finish(mut out: form_urlencoded::Serializer<String>) -> String {
    let query = out.finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

/// `GET …/processes/{process}/definition`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct DefinitionQuery {
    /// `json` (the default) or `yaml`.
    pub format: Option<DefinitionFormat>,
    /// A published version's definition; the draft's when absent.
    #[cfg_attr(feature = "ssr", param(minimum = 1))]
    pub version: Option<i64>,
}

impl DefinitionQuery {
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        pair(&mut out, "format", self.format.map(|f| f.to_string()));
        pair(&mut out, "version", self.version.map(|v| v.to_string()));
        finish(out)
    }
}

/// `POST …/processes/import`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct ImportQuery {
    /// The new process's name, instead of the file's.
    #[cfg_attr(feature = "ssr", param(min_length = 1, max_length = 200))]
    pub name: Option<String>,
}

impl ImportQuery {
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        pair(&mut out, "name", self.name.clone());
        finish(out)
    }
}

/// `GET …/processes/{process}/runs`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct RunListQuery {
    /// Only runs of this version.
    #[cfg_attr(feature = "ssr", param(minimum = 1))]
    pub version: Option<i64>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Page size, 1 to 200 (default 50).
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
    /// Runs to skip (default 0).
    #[cfg_attr(feature = "ssr", param(minimum = 0))]
    pub offset: Option<i64>,
}

impl RunListQuery {
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        pair(&mut out, "version", self.version.map(|v| v.to_string()));
        pair(&mut out, "state", self.state.map(|s| s.to_string()));
        pair(&mut out, "limit", self.limit.map(|v| v.to_string()));
        pair(&mut out, "offset", self.offset.map(|v| v.to_string()));
        finish(out)
    }
}

/// `GET …/runs` (the tenant's runs, across processes) and, without
/// `before` and `limit`, `GET …/runs/daily`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct TenantRunQuery {
    /// Only runs of this process (its id).
    pub process: Option<String>,
    /// Only runs of this version number (of `process`, or of any process).
    #[cfg_attr(feature = "ssr", param(minimum = 1))]
    pub version: Option<i64>,
    /// Only runs in these states, comma-separated (`failed,cancelled`).
    #[cfg_attr(feature = "ssr", param(value_type = Option<RunStates>))]
    pub state: Option<String>,
    /// Only runs started so, comma-separated: `manual`, `api`,
    /// `schedule`, `backfill`, `retry` (retried, or run again).
    #[cfg_attr(feature = "ssr", param(value_type = Option<RunOrigins>))]
    pub trigger: Option<String>,
    /// Only runs started by this username.
    #[cfg_attr(feature = "ssr", param(max_length = 200))]
    pub started_by: Option<String>,
    /// Only runs created at or after this time (RFC 3339).
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>, format = DateTime))]
    pub from: Option<String>,
    /// Only runs created before this time (RFC 3339).
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>, format = DateTime))]
    pub to: Option<String>,
    /// Only runs whose process's name holds this text (any case).
    #[cfg_attr(feature = "ssr", param(max_length = 200))]
    pub q: Option<String>,
    /// The page after this one: the `next` of the previous page.
    #[cfg_attr(feature = "ssr", param(pattern = r"^[^~]*~[^~]*$"))]
    pub before: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
}

impl TenantRunQuery {
    /// The states asked for (none: any); the first unknown one otherwise.
    pub fn states(&self) -> Result<Vec<RunState>, UnknownVariant> {
        list(self.state.as_deref())
    }

    /// The origins asked for (none: any); the first unknown one otherwise.
    pub fn triggers(&self) -> Result<Vec<RunOrigin>, UnknownVariant> {
        list(self.trigger.as_deref())
    }

    /// The same filters, another page.
    pub fn page(&self, before: Option<String>) -> Self {
        Self {
            before,
            ..self.clone()
        }
    }

    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        let text = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        pair(&mut out, "process", text(&self.process));
        pair(&mut out, "version", self.version.map(|v| v.to_string()));
        pair(&mut out, "state", text(&self.state));
        pair(&mut out, "trigger", text(&self.trigger));
        pair(&mut out, "started_by", text(&self.started_by));
        pair(&mut out, "from", text(&self.from));
        pair(&mut out, "to", text(&self.to));
        pair(&mut out, "q", text(&self.q));
        pair(&mut out, "before", text(&self.before));
        pair(&mut out, "limit", self.limit.map(|v| v.to_string()));
        finish(out)
    }
}

/// A comma-separated list of `T`s; empty (or left out) for none.
fn list<T: std::str::FromStr<Err = UnknownVariant>>(
    text: Option<&str>,
) -> Result<Vec<T>, UnknownVariant> {
    text.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// How the document states a comma-separated list of run states.
#[cfg(feature = "ssr")]
pub struct RunStates;

/// How the document states a comma-separated list of run origins.
#[cfg(feature = "ssr")]
pub struct RunOrigins;

/// A string schema: `values` joined by commas, or empty.
#[cfg(feature = "ssr")]
fn comma_list<'a>(
    values: impl IntoIterator<Item = &'a str>,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let one = values.into_iter().collect::<Vec<_>>().join("|");
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(format!("^(({one})(,({one}))*)?$")))
        .description(Some(description))
        .into()
}

#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for RunStates {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        comma_list(
            RunState::ALL.iter().map(|s| s.as_str()),
            "Run states, comma-separated; empty for any.",
        )
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for RunStates {}

#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for RunOrigins {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        comma_list(
            RunOrigin::ALL.iter().map(|s| s.as_str()),
            "What started the runs, comma-separated; empty for any.",
        )
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for RunOrigins {}

/// `POST …/runs/{run}/stop`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct StopQuery {
    /// `force` kills at once instead of SIGTERM then SIGKILL after the grace
    /// period (`graceful`, the default). Text rather than [`StopMode`], so
    /// that an unknown mode is a validation error naming the field.
    #[cfg_attr(feature = "ssr", param(value_type = Option<StopMode>))]
    pub mode: Option<String>,
}

impl StopQuery {
    /// The mode asked for; graceful when none is.
    pub fn mode(&self) -> Result<StopMode, UnknownVariant> {
        self.mode
            .as_deref()
            .map_or(Ok(StopMode::default()), str::parse)
    }

    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        pair(&mut out, "mode", self.mode.clone());
        finish(out)
    }
}

/// `GET …/audit`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// Only what this username did.
    pub user: Option<String>,
    /// Only this action (left out or empty: any, as a form sends "any").
    /// Text rather than [`AuditAction`], so that an unknown action is a
    /// validation error naming the field.
    #[cfg_attr(feature = "ssr", param(value_type = Option<AuditActionFilter>))]
    pub action: Option<String>,
    /// Only entries older than this entry id (the last one of the previous page).
    pub before: Option<String>,
    /// At most this many entries (1–500, default 100).
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 500))]
    pub limit: Option<i64>,
}

/// How the document states the audit `action` filter: an action, or empty.
#[cfg(feature = "ssr")]
pub struct AuditActionFilter;

#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for AuditActionFilter {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let values = std::iter::once("").chain(AuditAction::ALL.iter().map(|a| a.as_str()));
        crate::api::timing::text_choice(values, "An audit action; empty for any.")
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for AuditActionFilter {}

impl AuditQuery {
    /// The action asked for; `None` for any.
    pub fn action(&self) -> Result<Option<AuditAction>, UnknownVariant> {
        match self.action.as_deref() {
            None | Some("") => Ok(None),
            Some(action) => action.parse().map(Some),
        }
    }

    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        pair(&mut out, "limit", self.limit.map(|v| v.to_string()));
        pair(&mut out, "user", self.user.clone());
        pair(&mut out, "action", self.action.clone());
        pair(&mut out, "before", self.before.clone());
        finish(out)
    }
}

/// `GET …/schedules/preview`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct PreviewQuery {
    /// The cron expression. Required: without one the answer is 422 naming
    /// `cron` (an `Option` so that the problem names the field).
    #[cfg_attr(
        feature = "ssr",
        param(required = true, value_type = crate::api::timing::CronExpression)
    )]
    pub cron: Option<String>,
    /// An IANA time zone (default `UTC`).
    #[cfg_attr(feature = "ssr", param(value_type = Option<crate::api::timing::TimeZoneName>))]
    pub timezone: Option<String>,
}

impl PreviewQuery {
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        pair(&mut out, "cron", self.cron.clone());
        pair(&mut out, "timezone", self.timezone.clone());
        finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_leave_out_what_is_not_set_and_encode_the_rest() {
        assert_eq!(RunListQuery::default().to_query(), "");
        let runs = RunListQuery {
            version: Some(2),
            state: Some(RunState::Failed),
            ..Default::default()
        };
        assert_eq!(runs.to_query(), "?version=2&state=failed");
        let audit = AuditQuery {
            user: Some("a&b".into()),
            limit: Some(50),
            ..Default::default()
        };
        assert_eq!(audit.to_query(), "?limit=50&user=a%26b");
        let preview = PreviewQuery {
            cron: Some("0 6 * * *".into()),
            timezone: Some("UTC".into()),
        };
        assert_eq!(preview.to_query(), "?cron=0+6+*+*+*&timezone=UTC");
        let filtered = AuditQuery {
            action: Some(AuditAction::RunStart.to_string()),
            ..Default::default()
        };
        assert_eq!(filtered.to_query(), "?action=run.start");
    }

    #[test]
    fn a_stop_is_graceful_unless_forced_and_refuses_other_modes() {
        let stop = |mode: Option<&str>| {
            StopQuery {
                mode: mode.map(str::to_owned),
            }
            .mode()
        };
        assert_eq!(stop(None), Ok(StopMode::Graceful));
        assert_eq!(stop(Some("graceful")), Ok(StopMode::Graceful));
        assert_eq!(stop(Some("force")), Ok(StopMode::Force));
        assert_eq!(
            stop(Some("now")).unwrap_err().to_string(),
            "unknown stop mode `now`"
        );
    }

    #[test]
    fn the_audit_filter_reads_dotted_actions_and_refuses_unknown_ones() {
        let read = |q: serde_json::Value| serde_json::from_value::<AuditQuery>(q).unwrap();
        assert_eq!(
            read(serde_json::json!({"action": "sign_in.failed"})).action(),
            Ok(Some(AuditAction::SignInFailed))
        );
        assert_eq!(
            read(serde_json::json!({"user": "eddie"})).action(),
            Ok(None)
        );
        assert_eq!(read(serde_json::json!({"action": ""})).action(), Ok(None));
        let unknown = read(serde_json::json!({"action": "launch"})).action();
        assert_eq!(unknown.unwrap_err().value, "launch");
    }
}

/// `GET …/alerts/deliveries`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct DeliveryQuery {
    /// Only deliveries to this channel.
    pub channel: Option<String>,
    /// Only deliveries about this run.
    pub run: Option<String>,
    /// Only deliveries in this state.
    pub status: Option<DeliveryStatus>,
    /// How many, newest first: 1 to 500 (default 100).
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 500))]
    pub limit: Option<i64>,
}

impl DeliveryQuery {
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        pair(&mut out, "channel", self.channel.clone());
        pair(&mut out, "run", self.run.clone());
        pair(
            &mut out,
            "status",
            self.status.map(|s| s.as_str().to_owned()),
        );
        pair(&mut out, "limit", self.limit.map(|l| l.to_string()));
        finish(out)
    }
}
