//! The run store accepts exactly the moves of the state machines in
//! `app::types::state`: an illegal move is refused with nothing stored (no
//! state change, no event), a legal one is stored with its event.

use crate::common::{Backend, TestApp};
use crate::run_store::start_run;
use app::types::{RunId, RunState, TaskKey, TaskState, TenantId};
use server::db::runs::{self, TaskChange};

on_both_backends!(
    illegal_moves_are_refused_and_store_nothing,
    the_store_accepts_exactly_the_tables_moves,
);

async fn event_count(app: &TestApp, tenant: &TenantId, run: &RunId) -> usize {
    runs::events_after(&app.db, tenant, run, 0)
        .await
        .unwrap()
        .len()
}

async fn task_state(app: &TestApp, tenant: &TenantId, run: &RunId, key: &str) -> TaskState {
    let stored = runs::get(&app.db, tenant, run).await.unwrap().unwrap();
    stored.tasks.iter().find(|t| t.key == key).unwrap().state
}

async fn run_state(app: &TestApp, tenant: &TenantId, run: &RunId) -> RunState {
    runs::get(&app.db, tenant, run)
        .await
        .unwrap()
        .unwrap()
        .state
}

async fn move_task(
    app: &TestApp,
    tenant: &TenantId,
    run: &RunId,
    key: &str,
    to: TaskState,
) -> bool {
    let key = TaskKey::from(key);
    runs::set_task_state(&app.db, tenant, run, &key, to, TaskChange::default(), None)
        .await
        .unwrap()
        .is_some()
}

async fn illegal_moves_are_refused_and_store_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (tenant, run) = start_run(&app).await;
    let (t, r) = (&tenant, &run);

    assert!(
        !move_task(&app, t, r, "C_a", TaskState::Running).await,
        "a pending task is queued before it runs"
    );
    assert_eq!(task_state(&app, t, r, "C_a").await, TaskState::Pending);
    assert_eq!(
        event_count(&app, t, r).await,
        1,
        "no event for a refused move"
    );

    let queued = runs::set_task_state(
        &app.db,
        t,
        r,
        &TaskKey::from("C_a"),
        TaskState::Queued,
        TaskChange::default(),
        None,
    )
    .await
    .unwrap()
    .expect("pending → queued is legal");
    assert_eq!(
        (
            queued.seq,
            queued.task.as_ref().map(TaskKey::as_str),
            queued.state
        ),
        (2, Some("C_a"), TaskState::Queued.into())
    );
    assert!(move_task(&app, t, r, "C_a", TaskState::Running).await);
    assert!(move_task(&app, t, r, "C_a", TaskState::Succeeded).await);
    assert!(
        !move_task(&app, t, r, "C_a", TaskState::Running).await,
        "a task that succeeded never runs again"
    );
    assert_eq!(task_state(&app, t, r, "C_a").await, TaskState::Succeeded);
    assert_eq!(event_count(&app, t, r).await, 4);

    let refused = runs::set_run_state(&app.db, t, r, RunState::Succeeded, None)
        .await
        .unwrap();
    assert!(
        refused.is_none(),
        "a queued run cannot succeed without running"
    );
    assert!(runs::set_run_state(&app.db, t, r, RunState::Running, None)
        .await
        .unwrap()
        .is_some());
    assert!(
        runs::set_run_state(&app.db, t, r, RunState::Succeeded, None)
            .await
            .unwrap()
            .is_some()
    );
    for to in [RunState::Running, RunState::Cancelling, RunState::Failed] {
        let moved = runs::set_run_state(&app.db, t, r, to, None).await.unwrap();
        assert!(moved.is_none(), "an ended run stays ended, not {to}");
    }
    assert_eq!(run_state(&app, t, r).await, RunState::Succeeded);
    assert_eq!(event_count(&app, t, r).await, 6);
    let last = runs::events_after(&app.db, t, r, 0)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((last.task, last.state), (None, RunState::Succeeded.into()));
}

/// Puts a stored task or run straight into a state, as if earlier moves had
/// led there.
async fn place(app: &TestApp, run: &RunId, task: Option<&str>, state: &str) {
    let query = match task {
        Some(key) => {
            sqlx::query("UPDATE task_runs SET state = $1 WHERE run_id = $2 AND task_key = $3")
                .bind(state)
                .bind(run)
                .bind(key)
        }
        None => sqlx::query("UPDATE runs SET state = $1 WHERE id = $2")
            .bind(state)
            .bind(run),
    };
    query.execute(&app.db.pool).await.unwrap();
}

async fn the_store_accepts_exactly_the_tables_moves(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (tenant, run) = start_run(&app).await;
    let (t, r) = (&tenant, &run);
    let mut events = event_count(&app, t, r).await;
    for from in TaskState::ALL {
        for to in TaskState::ALL {
            place(&app, r, Some("C_b"), from.as_str()).await;
            let moved = move_task(&app, t, r, "C_b", *to).await;
            assert_eq!(moved, from.can_become(*to), "task {from} → {to}");
            let now = task_state(&app, t, r, "C_b").await;
            assert_eq!(now, if moved { *to } else { *from }, "task {from} → {to}");
            events += usize::from(moved);
            assert_eq!(event_count(&app, t, r).await, events, "task {from} → {to}");
        }
    }
    for from in RunState::ALL {
        for to in RunState::ALL {
            place(&app, r, None, from.as_str()).await;
            let moved = runs::set_run_state(&app.db, t, r, *to, None)
                .await
                .unwrap()
                .is_some();
            assert_eq!(moved, from.can_become(*to), "run {from} → {to}");
            let now = run_state(&app, t, r).await;
            assert_eq!(now, if moved { *to } else { *from }, "run {from} → {to}");
            events += usize::from(moved);
            assert_eq!(event_count(&app, t, r).await, events, "run {from} → {to}");
        }
    }
}
