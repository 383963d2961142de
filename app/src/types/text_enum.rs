//! The one way to write an enum that travels as text (JSON, query strings,
//! database columns): [`text_enum!`] and its parse error, [`UnknownVariant`].

/// A text value that does not name any variant of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// Defines a fieldless enum whose every variant has one text form, used
/// alike by `as_str`, `Display`, `FromStr` (failing with [`UnknownVariant`])
/// and serde (snake_case); `ALL` lists the variants for `CHECK` constraints,
/// forms and tests. Attributes before the name (docs, extra derives such as
/// `Default`) and before each variant (docs, `#[default]`) are kept.
///
/// ```ignore
/// text_enum!(
///     /// Where a component executes.
///     ExecutorKind, "executor" {
///         Local => "local",
///         Emr => "emr",
///     }
/// );
/// ```
///
/// The text must be the snake_case form of the variant's name (or the variant
/// carries the same text in `#[serde(rename = "…")]`, for texts such as
/// `run.start`), so that serde and the OpenAPI schema agree with `as_str`;
/// each enum's tests check it.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text form: on the wire, in the database and in messages.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::types::UnknownVariant;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::types::UnknownVariant {
                        kind: $kind,
                        value: value.to_owned(),
                    }),
                }
            }
        }
    };
}

pub(crate) use text_enum;

/// Asserts that every variant of a [`text_enum!`] enum reads back from its
/// text and serialises to the same text.
#[cfg(test)]
pub(crate) fn assert_round_trips<T>(all: &[T])
where
    T: Copy + std::fmt::Debug + PartialEq + std::str::FromStr + serde::Serialize + ToString,
    T::Err: std::fmt::Debug,
{
    for v in all {
        let text = v.to_string();
        assert_eq!(text.parse::<T>().unwrap(), *v, "`{text}` parses back");
        assert_eq!(
            serde_json::to_string(v).unwrap(),
            format!("\"{text}\""),
            "serde writes {v:?} as its text"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    text_enum!(
        /// A test enum with docs and a default.
        #[derive(Default)]
        Light, "light" {
            /// Stop.
            #[default]
            Red => "red",
            Amber => "amber",
            GreenArrow => "green_arrow",
        }
    );

    #[test]
    fn every_form_agrees() {
        assert_round_trips(Light::ALL);
        assert_eq!(Light::ALL.len(), 3);
        assert_eq!(Light::default(), Light::Red);
        assert_eq!(
            serde_json::from_str::<Light>("\"green_arrow\"").unwrap(),
            Light::GreenArrow
        );
    }

    #[test]
    fn unknown_text_is_refused_with_the_kind() {
        let err = "blue".parse::<Light>().unwrap_err();
        assert_eq!(
            err,
            UnknownVariant {
                kind: "light",
                value: "blue".into()
            }
        );
        assert_eq!(err.to_string(), "unknown light `blue`");
        assert!("Red".parse::<Light>().is_err(), "text is case-sensitive");
    }

    /// `'a', 'b'` for a `CHECK (column IN (…))` list.
    fn sql_list<T: ToString>(all: &[T]) -> String {
        let quoted: Vec<String> = all.iter().map(|v| format!("'{}'", v.to_string())).collect();
        format!("IN ({})", quoted.join(", "))
    }

    #[test]
    fn every_text_enum_of_the_crate_round_trips() {
        use crate::api::access::{AuditAction, AuditVia, SignInMethod};
        use crate::api::datasets::ColumnType;
        use crate::api::processes::DeployState;
        use crate::api::runs::StopMode;
        use crate::api::schedules::{Catchup, FireOutcome, WhenBusy};
        use crate::types::graph::Orchestrator;
        use crate::types::{ExecutorKind, Role, RunState, TaskKind, TaskState, Trigger};
        assert_round_trips(Role::ALL);
        assert_round_trips(RunState::ALL);
        assert_round_trips(TaskState::ALL);
        assert_round_trips(Trigger::ALL);
        assert_round_trips(TaskKind::ALL);
        assert_round_trips(ExecutorKind::ALL);
        assert_round_trips(Orchestrator::ALL);
        assert_round_trips(DeployState::ALL);
        assert_round_trips(Catchup::ALL);
        assert_round_trips(WhenBusy::ALL);
        assert_round_trips(FireOutcome::ALL);
        assert_round_trips(ColumnType::ALL);
        assert_round_trips(StopMode::ALL);
        assert_round_trips(AuditVia::ALL);
        assert_round_trips(SignInMethod::ALL);
        assert_round_trips(AuditAction::ALL);
        assert_round_trips(crate::api::backfills::BackfillOrder::ALL);
        assert_round_trips(crate::api::backfills::BackfillState::ALL);
        assert_eq!(StopMode::default(), StopMode::Graceful);
        assert_eq!(Catchup::default(), Catchup::None);
        assert_eq!(WhenBusy::default(), WhenBusy::Skip);
        assert_eq!(
            "sometimes".parse::<Catchup>().unwrap_err().to_string(),
            "unknown catch-up policy `sometimes`"
        );
    }

    #[test]
    fn stored_enums_match_their_sql_checks() {
        use crate::api::access::AuditVia;
        use crate::api::processes::DeployState;
        use crate::api::runs::StopMode;
        use crate::api::schedules::{Catchup, FireOutcome, WhenBusy};
        use crate::types::{Role, RunState, TaskKind, TaskState, Trigger};
        let migrations = [
            include_str!("../../../migrations/0001_initial.sql"),
            include_str!("../../../migrations/0003_run_events.sql"),
            include_str!("../../../migrations/0005_access.sql"),
            include_str!("../../../migrations/0007_schedules.sql"),
            include_str!("../../../migrations/0008_airflow.sql"),
            include_str!("../../../migrations/0009_params_and_retry.sql"),
            include_str!("../../../migrations/0017_deployments_retired.sql"),
        ]
        .concat();
        for list in [
            sql_list(Role::ALL),
            sql_list(RunState::ALL),
            sql_list(TaskState::ALL),
            sql_list(Trigger::ALL),
            sql_list(TaskKind::ALL),
            sql_list(DeployState::ALL),
            sql_list(Catchup::ALL),
            sql_list(WhenBusy::ALL),
            sql_list(FireOutcome::ALL),
            sql_list(StopMode::ALL),
            sql_list(AuditVia::ALL),
            sql_list(crate::api::backfills::BackfillOrder::ALL),
            sql_list(crate::api::backfills::BackfillState::ALL),
        ] {
            assert!(
                migrations.contains(&list),
                "no CHECK constraint lists exactly {list}"
            );
        }
    }
}
