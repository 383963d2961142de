//! States and kinds as enums. Each is stored as text; the SQL `CHECK`
//! constraints in `migrations/` list exactly the values of `ALL`.

use super::text_enum::text_enum;

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

    /// The run state machine of DESIGN.md: the only moves the run store
    /// accepts (`db::runs::set_run_state` takes its sources from here).
    /// Besides the design's diagram, a run that cannot start (its
    /// orchestrator refuses it) fails straight from `Queued`, and a failed or
    /// cancelled run goes back to `Queued` when it is retried (only
    /// `db::runs::retry` makes that move).
    pub fn can_become(self, next: RunState) -> bool {
        use RunState::*;
        matches!(
            (self, next),
            (Queued, Running)
                | (Queued, Failed)
                | (Queued, Cancelling)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, Cancelling)
                | (Cancelling, Cancelled)
                | (Failed, Queued)
                | (Cancelled, Queued)
        )
    }

    /// The states a run may move to `next` from.
    pub fn sources(next: RunState) -> impl Iterator<Item = RunState> {
        RunState::ALL
            .iter()
            .copied()
            .filter(move |s| s.can_become(next))
    }
}

impl TaskState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::Skipped | TaskState::Cancelled
        )
    }

    /// The task state machine of DESIGN.md: the only moves the run store
    /// accepts (`db::runs::set_task_state` takes its sources from here).
    /// Besides the design's diagram, a task that has not ended may always be
    /// skipped, as Airflow may skip it at any point (upstream failed, the
    /// task skipped itself, or the run ended without it). An ended task goes
    /// back to `Pending` only when its run is retried (only `db::runs::retry`
    /// makes that move): what failed, was cancelled or skipped, what lies
    /// downstream of it, and what a retry "from here" re-runs.
    pub fn can_become(self, next: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, next),
            (Pending, Queued)
                | (Pending, Skipped)
                | (Pending, Cancelled)
                | (Queued, Running)
                | (Queued, Skipped)
                | (Queued, Cancelled)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, UpForRetry)
                | (Running, Skipped)
                | (Running, Cancelled)
                | (UpForRetry, Queued)
                | (UpForRetry, Skipped)
                | (UpForRetry, Cancelled)
                | (Succeeded, Pending)
                | (Failed, Pending)
                | (Skipped, Pending)
                | (Cancelled, Pending)
        )
    }

    /// The states a task may move to `next` from.
    pub fn sources(next: TaskState) -> impl Iterator<Item = TaskState> {
        TaskState::ALL
            .iter()
            .copied()
            .filter(move |s| s.can_become(next))
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
        assert!(
            !Succeeded.can_become(Running),
            "an ended run never runs on by itself"
        );
        assert!(!Cancelling.can_become(Succeeded));
        for s in RunState::ALL {
            if s.is_terminal() {
                let next: Vec<_> = RunState::ALL.iter().filter(|n| s.can_become(**n)).collect();
                let retried: &[&RunState] = match s {
                    Succeeded => &[],
                    _ => &[&Queued],
                };
                assert_eq!(next, retried, "{s} moves only when retried");
            }
        }
    }

    #[test]
    fn a_retry_queues_an_ended_run_and_its_tasks_again() {
        let into_queued: Vec<_> = RunState::sources(RunState::Queued).collect();
        assert_eq!(into_queued, [RunState::Failed, RunState::Cancelled]);
        let into_pending: Vec<_> = TaskState::sources(TaskState::Pending).collect();
        assert!(
            into_pending.iter().all(|s| s.is_terminal()),
            "{into_pending:?}"
        );
        assert_eq!(into_pending.len(), 4, "every ended task: {into_pending:?}");
        assert!(!TaskState::Running.can_become(TaskState::Pending));
    }

    #[test]
    fn task_retries_go_back_through_the_queue() {
        use TaskState::*;
        assert!(Running.can_become(UpForRetry));
        assert!(UpForRetry.can_become(Queued));
        assert!(!UpForRetry.can_become(Running));
        assert!(Pending.can_become(Skipped));
        assert!(!Succeeded.can_become(Failed));
        assert!(
            !Pending.can_become(Running),
            "a task is queued before it runs"
        );
    }

    #[test]
    fn open_tasks_may_be_skipped_or_cancelled_and_ended_ones_only_go_back_to_pending() {
        for s in TaskState::ALL {
            if s.is_terminal() {
                assert!(
                    TaskState::ALL
                        .iter()
                        .all(|n| !s.can_become(*n) || *n == TaskState::Pending),
                    "{s}"
                );
            } else {
                assert!(s.can_become(TaskState::Skipped), "{s} → skipped");
                assert!(s.can_become(TaskState::Cancelled), "{s} → cancelled");
            }
        }
        let into_running: Vec<_> = TaskState::sources(TaskState::Running).collect();
        assert_eq!(into_running, [TaskState::Queued]);
    }

    #[test]
    fn a_run_that_cannot_start_fails_from_the_queue() {
        assert!(RunState::Queued.can_become(RunState::Failed));
        assert!(!RunState::Queued.can_become(RunState::Succeeded));
        let into_cancelling: Vec<_> = RunState::sources(RunState::Cancelling).collect();
        assert_eq!(into_cancelling, [RunState::Queued, RunState::Running]);
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::TenantAdmin.includes(Role::Editor));
        assert!(Role::Editor.includes(Role::Viewer));
        assert!(!Role::Viewer.includes(Role::Editor));
    }
}
