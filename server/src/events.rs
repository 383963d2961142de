//! The in-process event bus: committed run events fan out to live streams.
//! Only events that are already committed are published, so a subscriber
//! that replays from the database and then follows the bus misses nothing.

use app::api::runs::RunEvent;
use app::types::TenantId;
use tokio::sync::broadcast;

#[derive(Clone, Debug)]
pub struct Published {
    pub tenant: TenantId,
    pub event: RunEvent,
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Published>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
        }
    }

    /// Publishes a committed event (no one listening is fine).
    pub fn publish(&self, tenant: &TenantId, event: RunEvent) {
        let _ = self.tx.send(Published {
            tenant: tenant.clone(),
            event,
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.tx.subscribe()
    }
}
