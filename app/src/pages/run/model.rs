//! The run page's state: the run as last loaded with the live events applied
//! in order, and every task's transitions as the events told them. Pure, so
//! tests drive it without a browser, like [`crate::editor::Editor`].

use crate::api::runs::{Run, RunEvent, TaskRun};
use crate::types::{RunState, TaskKey, TaskKind, TaskState};
use std::collections::BTreeMap;

/// What applying one event did, and what the page must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Seen before (the stream resent it after a reconnect): nothing changed.
    Repeated,
    Changed,
    /// The run reached an end: reload it for durations and errors.
    Ended,
    /// Events before this one never arrived: reload the run to catch up.
    Gap,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunModel {
    pub run: Run,
    /// Every task's transitions as the events told them: (state, time).
    pub history: BTreeMap<TaskKey, Vec<(String, String)>>,
    /// The number of the last event applied (events count from 1).
    last_seq: i64,
}

impl RunModel {
    pub fn new(run: Run) -> RunModel {
        RunModel {
            run,
            history: BTreeMap::new(),
            last_seq: 0,
        }
    }

    /// Takes a freshly loaded run; the history and the events seen stay.
    pub fn reloaded(&mut self, run: Run) {
        self.run = run;
    }

    /// Applies the next event of the stream. The stream starts at the first
    /// event, so events older than the loaded run replay onto it in order
    /// and leave it as it was.
    pub fn apply(&mut self, event: &RunEvent) -> Applied {
        if event.seq <= self.last_seq {
            return Applied::Repeated;
        }
        let gap = event.seq > self.last_seq + 1;
        self.last_seq = event.seq;
        // `to_string` so this reads the state whether it comes typed or as text.
        let state = event.state.to_string();
        let mut ended = false;
        match &event.task {
            Some(key) => {
                self.history
                    .entry(key.clone())
                    .or_default()
                    .push((state.clone(), event.at.to_string()));
                let task = self.run.tasks.iter_mut().find(|t| &t.key == key);
                if let (Some(task), Ok(state)) = (task, state.parse::<TaskState>()) {
                    task.state = state;
                }
            }
            None => {
                if let Ok(state) = state.parse::<RunState>() {
                    self.run.state = state;
                    ended = state.is_terminal();
                }
            }
        }
        if gap {
            Applied::Gap
        } else if ended {
            Applied::Ended
        } else {
            Applied::Changed
        }
    }

    pub fn finished(&self) -> bool {
        self.run.state.is_terminal()
    }

    /// Tasks that have ended, and all tasks (at least one, for a progress bar).
    pub fn progress(&self) -> (usize, usize) {
        let done = self
            .run
            .tasks
            .iter()
            .filter(|t| t.state.is_terminal())
            .count();
        (done, self.run.tasks.len().max(1))
    }

    /// The state each node shows: its watch task's, unless that has not
    /// started and its submit task has.
    pub fn node_states(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for t in &self.run.tasks {
            let Some(node) = &t.node else { continue };
            let shown = match out.get(node) {
                None => true,
                Some(_) => t.kind == TaskKind::Watch && t.state != TaskState::Pending,
            };
            if shown {
                out.insert(node.clone(), t.state.to_string());
            }
        }
        out
    }

    /// The tasks of `node`.
    pub fn tasks_of(&self, node: &str) -> Vec<TaskRun> {
        self.run
            .tasks
            .iter()
            .filter(|t| t.node.as_deref() == Some(node))
            .cloned()
            .collect()
    }

    /// The transitions of each of `tasks`, in their order.
    pub fn transitions(&self, tasks: &[TaskRun]) -> Vec<(TaskKey, Vec<(String, String)>)> {
        tasks
            .iter()
            .map(|t| {
                let steps = self.history.get(&t.key).cloned().unwrap_or_default();
                (t.key.clone(), steps)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Trigger;

    fn task(key: &str, kind: TaskKind, node: &str) -> TaskRun {
        TaskRun {
            key: key.into(),
            kind,
            node: Some(node.into()),
            state: TaskState::Pending,
            attempt: 1,
            external_ref: None,
            error: None,
            started_at: None,
            finished_at: None,
            duration_ms: None,
        }
    }

    fn run() -> Run {
        Run {
            id: "r1".into(),
            process: "p1".into(),
            version: 1,
            state: RunState::Queued,
            trigger: Trigger::Manual,
            params: serde_json::json!({}),
            created_by: Some("ada".into()),
            created_at: "2024-03-01T10:00:00.000Z".into(),
            started_at: None,
            finished_at: None,
            scheduled_for: None,
            backfill: None,
            resolved: None,
            retries: 0,
            retried_by: None,
            retried_at: None,
            rerun_of: None,
            process_name: "Daily".into(),
            number: 1,
            tasks: vec![
                task("a.submit", TaskKind::Submit, "a"),
                task("a.watch", TaskKind::Watch, "a"),
                task("b.watch", TaskKind::Watch, "b"),
            ],
        }
    }

    fn event(seq: i64, task: Option<&str>, state: &str) -> RunEvent {
        serde_json::from_value(serde_json::json!({
            "seq": seq,
            "run": "r1",
            "task": task,
            "state": state,
            "at": format!("2024-03-01T10:00:{seq:02}.000Z"),
        }))
        .unwrap()
    }

    fn state_of(m: &RunModel, key: &str) -> TaskState {
        m.run.tasks.iter().find(|t| t.key == key).unwrap().state
    }

    #[test]
    fn events_move_tasks_and_the_run_and_are_remembered() {
        let mut m = RunModel::new(run());
        assert_eq!(m.apply(&event(1, None, "running")), Applied::Changed);
        assert_eq!(
            m.apply(&event(2, Some("a.submit"), "running")),
            Applied::Changed
        );
        assert_eq!(
            m.apply(&event(3, Some("a.submit"), "succeeded")),
            Applied::Changed
        );
        assert_eq!(m.run.state, RunState::Running);
        assert_eq!(state_of(&m, "a.submit"), TaskState::Succeeded);
        assert_eq!(m.progress(), (1, 3));
        let steps: Vec<_> = m.history["a.submit"].iter().map(|s| s.0.as_str()).collect();
        assert_eq!(steps, ["running", "succeeded"]);
        assert_eq!(m.history["a.submit"][1].1, "2024-03-01T10:00:03.000Z");
        assert!(!m.finished());
    }

    #[test]
    fn a_node_shows_its_submit_task_until_its_watch_task_starts() {
        let mut m = RunModel::new(run());
        m.apply(&event(1, Some("a.submit"), "running"));
        assert_eq!(m.node_states()["a"], "running");
        assert_eq!(m.node_states()["b"], "pending");
        m.apply(&event(2, Some("a.submit"), "succeeded"));
        assert_eq!(m.node_states()["a"], "succeeded");
        m.apply(&event(3, Some("a.watch"), "queued"));
        assert_eq!(m.node_states()["a"], "queued");
        assert_eq!(m.tasks_of("a").len(), 2);
        let transitions = m.transitions(&m.tasks_of("a"));
        assert_eq!(transitions[0].0, "a.submit");
        assert_eq!(transitions[0].1.len(), 2);
        assert_eq!(transitions[1].1.len(), 1);
    }

    #[test]
    fn the_run_ending_asks_for_a_reload_which_keeps_the_history() {
        let mut m = RunModel::new(run());
        m.apply(&event(1, Some("b.watch"), "failed"));
        assert_eq!(m.apply(&event(2, None, "failed")), Applied::Ended);
        assert!(m.finished());
        let mut fresh = run();
        fresh.state = RunState::Failed;
        fresh.tasks[2].state = TaskState::Failed;
        fresh.tasks[2].error = Some("exit 1".into());
        m.reloaded(fresh);
        assert_eq!(m.run.tasks[2].error.as_deref(), Some("exit 1"));
        assert_eq!(m.history["b.watch"].len(), 1);
    }

    #[test]
    fn events_sent_again_after_a_reconnect_change_nothing() {
        let mut m = RunModel::new(run());
        m.apply(&event(1, Some("a.submit"), "running"));
        m.apply(&event(2, Some("a.submit"), "succeeded"));
        let before = m.clone();
        assert_eq!(
            m.apply(&event(1, Some("a.submit"), "running")),
            Applied::Repeated
        );
        assert_eq!(
            m.apply(&event(2, Some("a.submit"), "succeeded")),
            Applied::Repeated
        );
        assert_eq!(m, before);
        assert_eq!(
            m.apply(&event(3, Some("a.watch"), "running")),
            Applied::Changed
        );
    }

    #[test]
    fn a_missing_event_asks_for_a_reload_but_the_newer_one_still_counts() {
        let mut m = RunModel::new(run());
        m.apply(&event(1, Some("a.submit"), "running"));
        assert_eq!(m.apply(&event(4, Some("a.watch"), "running")), Applied::Gap);
        assert_eq!(state_of(&m, "a.watch"), TaskState::Running);
        // The missing ones arriving late are old news.
        assert_eq!(
            m.apply(&event(2, Some("a.submit"), "succeeded")),
            Applied::Repeated
        );
        assert_eq!(m.apply(&event(5, None, "succeeded")), Applied::Ended);
    }

    #[test]
    fn events_of_unknown_tasks_or_states_change_no_task() {
        let mut m = RunModel::new(run());
        assert_eq!(
            m.apply(&event(1, Some("ghost"), "running")),
            Applied::Changed
        );
        let unknown = serde_json::json!({"seq": 2, "run": "r1", "task": "a.watch",
            "state": "exploded", "at": "2024-03-01T10:00:02.000Z"});
        assert!(
            serde_json::from_value::<RunEvent>(unknown).is_err(),
            "an unknown state never reaches the model"
        );
        assert_eq!(state_of(&m, "a.watch"), TaskState::Pending);
        assert_eq!(m.run.state, RunState::Queued);
    }

    #[test]
    fn replaying_from_the_first_event_onto_a_newer_run_leaves_it_as_loaded() {
        let mut loaded = run();
        loaded.state = RunState::Running;
        loaded.tasks[0].state = TaskState::Succeeded;
        let mut m = RunModel::new(loaded.clone());
        m.apply(&event(1, None, "running"));
        m.apply(&event(2, Some("a.submit"), "running"));
        m.apply(&event(3, Some("a.submit"), "succeeded"));
        assert_eq!(m.run, loaded);
    }
}
