//! Group commit: the state changes of every run this server drives are
//! written in batches, one transaction per batch, by one writer task. A
//! batch is whatever arrived while the previous one was committing (up to
//! [`BATCH`] changes), so a lone change waits for nothing and a busy server
//! pays one transaction for hundreds of changes. Each change's event is
//! numbered in the transaction (gap-free per run, in the order the changes
//! arrived) and published only after the commit, in that order; the
//! writer answers each caller once its changes are durable.
//!
//! A batch that fails for a passing reason (the database busy, a lost
//! connection) answers that error to every caller, whose `durably` tries
//! again; one that fails for any other reason (a driver fenced off a run it
//! lost) is written again change by change, so the error reaches only its
//! own caller.

use crate::db::runs::{self, Epoch, TaskChange};
use crate::db::Db;
use crate::events::EventBus;
use app::api::runs::RunEvent;
use app::types::{RunId, RunState, TaskKey, TaskState, TenantId};
use sqlx::{Any, Transaction};
use tokio::sync::{mpsc, oneshot};

/// Most changes in one transaction.
const BATCH: usize = 512;

/// One state change, owned: it may wait for its batch.
#[derive(Debug, Clone)]
pub(super) enum Move {
    Run(RunState),
    Task {
        key: TaskKey,
        to: TaskState,
        attempt: Option<i64>,
        external_ref: Option<String>,
        error: Option<String>,
    },
}

impl Move {
    pub(super) fn task(key: &TaskKey, to: TaskState, change: TaskChange<'_>) -> Move {
        Move::Task {
            key: key.clone(),
            to,
            attempt: change.attempt,
            external_ref: change.external_ref.map(str::to_owned),
            error: change.error.map(str::to_owned),
        }
    }
}

/// Changes of one run from one caller, applied in order (each one as the
/// state machine allows it, like separate writes would be), under `fence`.
struct Write {
    tenant: TenantId,
    run: RunId,
    moves: Vec<Move>,
    fence: Option<Epoch>,
    reply: oneshot::Sender<sqlx::Result<Vec<bool>>>,
}

#[derive(Clone)]
pub(super) struct Committer {
    tx: mpsc::UnboundedSender<Write>,
}

impl Committer {
    /// Starts the writer; it ends when every `Committer` is dropped.
    pub(super) fn spawn(db: Db, bus: EventBus) -> Committer {
        let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut size = first.moves.len();
                let mut batch = vec![first];
                while size < BATCH {
                    let Ok(next) = rx.try_recv() else { break };
                    size += next.moves.len();
                    batch.push(next);
                }
                commit(&db, &bus, batch).await;
            }
        });
        Committer { tx }
    }

    /// Writes `moves` of `run` and publishes their events once durable;
    /// whether each one moved (the state machine allowed it).
    pub(super) async fn write(
        &self,
        tenant: &TenantId,
        run: &RunId,
        moves: Vec<Move>,
        fence: Option<Epoch>,
    ) -> sqlx::Result<Vec<bool>> {
        let (reply, answer) = oneshot::channel();
        let write = Write {
            tenant: tenant.clone(),
            run: run.clone(),
            moves,
            fence,
            reply,
        };
        self.tx.send(write).map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

async fn commit(db: &Db, bus: &EventBus, batch: Vec<Write>) {
    match apply(db, &batch).await {
        Ok(events) => {
            for (write, events) in batch.into_iter().zip(events) {
                answer(bus, write, Ok(events));
            }
        }
        Err(e) if batch.len() == 1 || db.is_transient(&e) => {
            // A passing error (a `Protocol` error is one to `Db::is_transient`).
            let why = e.to_string();
            let mut batch = batch.into_iter();
            if let Some(first) = batch.next() {
                answer(bus, first, Err(e));
            }
            for write in batch {
                let again = format!("the batch this change was in failed: {why}");
                let _ = write.reply.send(Err(sqlx::Error::Protocol(again)));
            }
        }
        Err(_) => {
            for write in batch {
                let result = apply(db, std::slice::from_ref(&write))
                    .await
                    .map(|mut events| events.pop().unwrap_or_default());
                answer(bus, write, result);
            }
        }
    }
}

/// Publishes `write`'s events (after their commit) and answers its caller.
fn answer(bus: &EventBus, write: Write, result: sqlx::Result<Vec<Option<RunEvent>>>) {
    let result = result.map(|events| {
        let moved = events.iter().map(Option::is_some).collect();
        for event in events.into_iter().flatten() {
            bus.publish(&write.tenant, event);
        }
        moved
    });
    let _ = write.reply.send(result);
}

/// Applies every write of `batch` in one transaction: each write's events
/// (`None` where the state machine refused a change).
async fn apply(db: &Db, batch: &[Write]) -> sqlx::Result<Vec<Vec<Option<RunEvent>>>> {
    let mut tx = db.pool.begin().await?;
    let mut all = Vec::with_capacity(batch.len());
    for write in batch {
        let mut events = Vec::with_capacity(write.moves.len());
        for m in &write.moves {
            events.push(apply_one(&mut tx, write, m).await?);
        }
        all.push(events);
    }
    tx.commit().await?;
    Ok(all)
}

async fn apply_one(
    tx: &mut Transaction<'static, Any>,
    write: &Write,
    m: &Move,
) -> sqlx::Result<Option<RunEvent>> {
    let (tenant, run, fence) = (&write.tenant, &write.run, write.fence);
    match m {
        Move::Run(to) => runs::run_state_in(tx, tenant, run, *to, fence).await,
        Move::Task {
            key,
            to,
            attempt,
            external_ref,
            error,
        } => {
            let change = TaskChange {
                attempt: *attempt,
                external_ref: external_ref.as_deref(),
                error: error.as_deref(),
            };
            runs::task_state_in(tx, tenant, run, key, *to, change, fence).await
        }
    }
}
