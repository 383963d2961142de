//! Slots for running tasks: a global limit and a per-tenant limit, granted
//! round-robin between tenants, so one tenant's thousand-task run cannot
//! starve another tenant's small one.

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
    waiting: HashMap<TenantId, VecDeque<oneshot::Sender<()>>>,
    /// Tenants with waiters, in the order they are served next.
    turn: VecDeque<TenantId>,
}

/// A held slot; dropping it frees the slot for the next waiter.
pub struct Slot {
    slots: Arc<Slots>,
    tenant: TenantId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.slots.state.lock().expect("slots lock");
        if let Some(n) = state.running.get_mut(&self.tenant) {
            *n -= 1;
        }
        state.free += 1;
        state.dispatch();
    }
}

impl State {
    fn can_run(&self, tenant: &TenantId) -> bool {
        let limit = self.limits.get(tenant).copied().unwrap_or(self.per_tenant);
        self.free > 0 && self.running.get(tenant).copied().unwrap_or(0) < limit
    }

    fn take(&mut self, tenant: &TenantId) {
        self.free -= 1;
        *self.running.entry(tenant.clone()).or_default() += 1;
    }

    /// Grants free slots to waiters, one tenant at a time in turn.
    fn dispatch(&mut self) {
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
                    if waiter.send(()).is_ok() {
                        self.take(&tenant);
                        passes = self.turn.len() + 1;
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
    pub fn set_limit(&self, tenant: &TenantId, limit: Option<usize>) {
        let mut state = self.state.lock().expect("slots lock");
        match limit {
            Some(n) => state.limits.insert(tenant.clone(), n.max(1)),
            None => state.limits.remove(tenant),
        };
        state.dispatch();
    }

    /// Waits for a slot for `tenant`.
    pub async fn acquire(self: &Arc<Self>, tenant: &TenantId) -> Slot {
        let granted = {
            let mut state = self.state.lock().expect("slots lock");
            if state.can_run(tenant) && !state.waiting.contains_key(tenant) {
                state.take(tenant);
                None
            } else {
                let (tx, rx) = oneshot::channel();
                if !state.waiting.contains_key(tenant) {
                    state.turn.push_back(tenant.clone());
                }
                state
                    .waiting
                    .entry(tenant.clone())
                    .or_default()
                    .push_back(tx);
                Some(rx)
            }
        };
        if let Some(rx) = granted {
            // The sender lives in the queue until it is granted.
            let _ = rx.await;
        }
        Slot {
            slots: self.clone(),
            tenant: tenant.clone(),
        }
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
