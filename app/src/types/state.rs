//! States and kinds as enums. Each is stored as text; the SQL `CHECK`
//! constraints in `migrations/` list exactly the values of `ALL`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A text value that does not name any variant of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { kind: $kind, value: value.to_owned() }),
                }
            }
        }
    };
}

text_enum!(
    /// A member's role in a tenant. `PlatformAdmin` is global, never a membership.
    Role, "role" {
        Viewer => "viewer",
        Editor => "editor",
        TenantAdmin => "tenant_admin",
    }
);

text_enum!(
    /// The state of a run.
    RunState, "run state" {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelling => "cancelling",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// The state of one task of a run.
    TaskState, "task state" {
        Pending => "pending",
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        UpForRetry => "up_for_retry",
        Skipped => "skipped",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// What started a run.
    Trigger, "trigger" {
        Manual => "manual",
        Schedule => "schedule",
        Api => "api",
    }
);

text_enum!(
    /// The kind of a DAG task.
    TaskKind, "task kind" {
        Entry => "entry",
        Submit => "submit",
        Watch => "watch",
        Exit => "exit",
    }
);

text_enum!(
    /// Where a component executes.
    ExecutorKind, "executor" {
        Local => "local",
        Emr => "emr",
    }
);

impl Role {
    /// Whether this role includes everything `other` may do.
    pub fn includes(self, other: Role) -> bool {
        self.rank() >= other.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Editor => 1,
            Role::TenantAdmin => 2,
        }
    }
}

impl RunState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled
        )
    }

    /// The run state machine of DESIGN.md.
    pub fn can_become(self, next: RunState) -> bool {
        use RunState::*;
        matches!(
            (self, next),
            (Queued, Running)
                | (Queued, Cancelling)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, Cancelling)
                | (Cancelling, Cancelled)
        )
    }
}

impl TaskState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::Skipped | TaskState::Cancelled
        )
    }

    /// The task state machine of DESIGN.md.
    pub fn can_become(self, next: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, next),
            (Pending, Queued)
                | (Pending, Skipped)
                | (Pending, Cancelled)
                | (Queued, Running)
                | (Queued, Cancelled)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, UpForRetry)
                | (Running, Cancelled)
                | (UpForRetry, Queued)
                | (UpForRetry, Cancelled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_for_every_variant() {
        for s in TaskState::ALL {
            assert_eq!(s.as_str().parse::<TaskState>().unwrap(), *s);
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for s in RunState::ALL {
            assert_eq!(s.as_str().parse::<RunState>().unwrap(), *s);
        }
        assert_eq!(
            "tenant_admin".parse::<Role>().unwrap(),
            Role::TenantAdmin,
            "roles use the wire names of DESIGN.md"
        );
    }

    #[test]
    fn unknown_text_names_the_kind() {
        let err = "done".parse::<RunState>().unwrap_err();
        assert_eq!(err.to_string(), "unknown run state `done`");
    }

    #[test]
    fn run_states_follow_the_design() {
        use RunState::*;
        assert!(Running.can_become(Cancelling));
        assert!(Cancelling.can_become(Cancelled));
        assert!(!Succeeded.can_become(Running), "ended runs stay ended");
        assert!(!Cancelling.can_become(Succeeded));
        for s in RunState::ALL {
            if s.is_terminal() {
                assert!(RunState::ALL.iter().all(|n| !s.can_become(*n)));
            }
        }
    }

    #[test]
    fn task_retries_go_back_through_the_queue() {
        use TaskState::*;
        assert!(Running.can_become(UpForRetry));
        assert!(UpForRetry.can_become(Queued));
        assert!(!UpForRetry.can_become(Running));
        assert!(Pending.can_become(Skipped));
        assert!(!Succeeded.can_become(Failed));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::TenantAdmin.includes(Role::Editor));
        assert!(Role::Editor.includes(Role::Viewer));
        assert!(!Role::Viewer.includes(Role::Editor));
    }
}
