//! Slots for running tasks: a global limit and a per-tenant limit, granted
//! round-robin between tenants, so one tenant's thousand-task run cannot
//! starve another tenant's small one.
//!
//! The grant is the slot: a waiter is sent the [`Slot`] itself, so a waiter
//! that gives up (its run was stopped) between the grant and receiving it
//! drops the slot with the channel, which frees it. Counting a slot taken
//! and sending a signal instead leaked one slot per such race.

use app::types::TenantId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub struct Slots {
    state: Mutex<State>,
}

struct State {
    free: usize,
    per_tenant: usize,
    /// Tenants with a limit of their own.
    limits: HashMap<TenantId, usize>,
    running: HashMap<TenantId, usize>,
    waiting: HashMap<TenantId, VecDeque<oneshot::Sender<Slot>>>,
    /// Tenants with waiters, in the order they are served next.
    turn: VecDeque<TenantId>,
}

/// A held slot; dropping it frees the slot for the next waiter.
pub struct Slot {
    slots: Arc<Slots>,
    tenant: TenantId,
    /// Whether dropping it frees a slot: false only for a grant its waiter
    /// was gone for, which `dispatch` takes back itself (under the lock).
    counted: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut state = self.slots.state.lock().expect("slots lock");
        if let Some(n) = state.running.get_mut(&self.tenant) {
            *n -= 1;
            crate::metrics::slots_in_use(&self.tenant, *n);
        }
        state.free += 1;
        state.dispatch(&self.slots);
    }
}

impl State {
    fn can_run(&self, tenant: &TenantId) -> bool {
        let limit = self.limits.get(tenant).copied().unwrap_or(self.per_tenant);
        self.free > 0 && self.running.get(tenant).copied().unwrap_or(0) < limit
    }

    fn take(&mut self, tenant: &TenantId) {
        self.free -= 1;
        let held = self.running.entry(tenant.clone()).or_default();
        *held += 1;
        crate::metrics::slots_in_use(tenant, *held);
    }

    fn give_back(&mut self, tenant: &TenantId) {
        self.free += 1;
        if let Some(n) = self.running.get_mut(tenant) {
            *n -= 1;
            crate::metrics::slots_in_use(tenant, *n);
        }
    }

    /// Grants free slots to waiters, one tenant at a time in turn.
    fn dispatch(&mut self, slots: &Arc<Slots>) {
        let mut passes = self.turn.len();
        while self.free > 0 && passes > 0 {
            let Some(tenant) = self.turn.pop_front() else {
                break;
            };
            if !self.can_run(&tenant) {
                self.turn.push_back(tenant);
                passes -= 1;
                continue;
            }
            let queue = self
                .waiting
                .get_mut(&tenant)
                .expect("a tenant in turn has waiters");
            match queue.pop_front() {
                Some(waiter) => {
                    self.take(&tenant);
                    let slot = Slot {
                        slots: slots.clone(),
                        tenant: tenant.clone(),
                        counted: true,
                    };
                    match waiter.send(slot) {
                        Ok(()) => passes = self.turn.len() + 1,
                        Err(mut slot) => {
                            // The waiter is gone: take the slot back here,
                            // under the lock its drop would take.
                            slot.counted = false;
                            self.give_back(&tenant);
                        }
                    }
                    if self.waiting[&tenant].is_empty() {
                        self.waiting.remove(&tenant);
                    } else {
                        self.turn.push_back(tenant);
                    }
                }
                None => {
                    self.waiting.remove(&tenant);
                }
            }
        }
    }
}

impl Slots {
    pub fn new(global: usize, per_tenant: usize) -> Arc<Slots> {
        Arc::new(Slots {
            state: Mutex::new(State {
                free: global.max(1),
                per_tenant: per_tenant.max(1),
                limits: HashMap::new(),
                running: HashMap::new(),
                waiting: HashMap::new(),
                turn: VecDeque::new(),
            }),
        })
    }

    /// Gives `tenant` a limit of its own (at least 1), or (`None`) the default.
    pub fn set_limit(self: &Arc<Self>, tenant: &TenantId, limit: Option<usize>) {
        let mut state = self.state.lock().expect("slots lock");
        match limit {
            Some(n) => state.limits.insert(tenant.clone(), n.max(1)),
            None => state.limits.remove(tenant),
        };
        state.dispatch(self);
    }

    /// A slot for `tenant` now, if one is free and nothing of `tenant`'s
    /// waits for one already (those come first).
    pub fn try_acquire(self: &Arc<Self>, tenant: &TenantId) -> Option<Slot> {
        let mut state = self.state.lock().expect("slots lock");
        self.grant_now(&mut state, tenant)
    }

    fn grant_now(self: &Arc<Self>, state: &mut State, tenant: &TenantId) -> Option<Slot> {
        if !state.can_run(tenant) || state.waiting.contains_key(tenant) {
            return None;
        }
        state.take(tenant);
        Some(Slot {
            slots: self.clone(),
            tenant: tenant.clone(),
            counted: true,
        })
    }

    /// Waits for a slot for `tenant`. Dropping the future at any point
    /// (a stop) leaves no slot taken.
    pub async fn acquire(self: &Arc<Self>, tenant: &TenantId) -> Slot {
        let granted = {
            let mut state = self.state.lock().expect("slots lock");
            if let Some(slot) = self.grant_now(&mut state, tenant) {
                return slot;
            }
            let (tx, rx) = oneshot::channel();
            if !state.waiting.contains_key(tenant) {
                state.turn.push_back(tenant.clone());
            }
            state
                .waiting
                .entry(tenant.clone())
                .or_default()
                .push_back(tx);
            rx
        };
        // The sender lives in the queue until it is granted, and the queue
        // lives as long as `self`.
        granted.await.expect("a queued waiter is always granted")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_tenant_limit_of_its_own_overrides_the_default() {
        let slots = Slots::new(8, 4);
        let small = t("small");
        slots.set_limit(&small, Some(1));
        let held = slots.acquire(&small).await;
        let second = tokio::time::timeout(Duration::from_millis(50), slots.acquire(&small));
        assert!(second.await.is_err(), "the second task waits");
        let mut big = Vec::new();
        for _ in 0..4 {
            big.push(slots.acquire(&t("big")).await);
        }
        slots.set_limit(&small, None);
        let second = tokio::time::timeout(Duration::from_millis(50), slots.acquire(&small));
        assert!(second.await.is_ok(), "back to the default of 4");
        drop(held);
    }

    /// A stop that wins the race against a grant (the waiter is granted a
    /// slot, then dropped before it receives it) frees that slot: after a
    /// thousand such races the whole limit is still there.
    #[tokio::test]
    async fn a_grant_racing_a_stop_never_leaks_the_slot() {
        let slots = Slots::new(2, 2);
        let tenant = t("a");
        let mut held = slots.acquire(&tenant).await;
        let _other = slots.acquire(&tenant).await;
        for _ in 0..1000 {
            let mut waiter = Box::pin(slots.acquire(&tenant));
            assert!(
                futures::poll!(&mut waiter).is_pending(),
                "both slots are held"
            );
            drop(held); // the grant goes to the waiter …
            drop(waiter); // … whose run is stopped before it receives it
            held = tokio::time::timeout(Duration::from_millis(500), slots.acquire(&tenant))
                .await
                .expect("the slot came back");
        }
        drop(held);
        drop(_other);
        let mut all = Vec::new();
        for _ in 0..2 {
            all.push(
                tokio::time::timeout(Duration::from_millis(500), slots.acquire(&tenant))
                    .await
                    .expect("the full limit is still available"),
            );
        }
        let state = slots.state.lock().unwrap();
        assert_eq!((state.free, state.running[&tenant]), (0, 2));
    }

    fn t(name: &str) -> TenantId {
        TenantId::new(name)
    }

    #[tokio::test]
    async fn limits_hold_and_turns_alternate_between_tenants() {
        let slots = Slots::new(2, 2);
        let a1 = slots.acquire(&t("a")).await;
        let a2 = slots.acquire(&t("a")).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (i, tenant) in ["a", "a", "a", "b"].into_iter().enumerate() {
            let (slots, order) = (slots.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let slot = slots.acquire(&t(tenant)).await;
                order.lock().unwrap().push(format!("{tenant}{i}"));
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(slot);
            }));
            tokio::time::sleep(Duration::from_millis(5)).await; // queue in this order
        }
        assert!(order.lock().unwrap().is_empty(), "both slots are taken");
        drop(a1);
        drop(a2);
        for w in waiters {
            w.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(
            order[..2],
            ["a0".to_owned(), "b3".to_owned()],
            "b is served as soon as a slot frees: {order:?}"
        );
    }

    #[tokio::test]
    async fn a_tenant_never_exceeds_its_own_limit() {
        let slots = Slots::new(10, 1);
        let first = slots.acquire(&t("a")).await;
        let blocked = tokio::time::timeout(Duration::from_millis(50), slots.acquire(&t("a"))).await;
        assert!(blocked.is_err(), "a second slot for a waits");
        let other = tokio::time::timeout(Duration::from_millis(50), slots.acquire(&t("b"))).await;
        assert!(other.is_ok(), "another tenant is not held up");
        drop(first);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slots.acquire(&t("a")))
                .await
                .is_ok()
        );
    }
}
