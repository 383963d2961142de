//! Live streams (run and tenant event streams, log following) are bounded:
//! each user may hold so many open at once, and each re-checks its caller's
//! access while it runs, ending when that access is gone or the server stops.

use crate::access::{AuthState, TenantAccess};
use crate::config::StreamSettings;
use crate::db::Db;
use crate::{Error, Result};
use app::types::UserId;
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// How many live streams each user has open on this server.
#[derive(Clone)]
pub struct Streams {
    settings: StreamSettings,
    open: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl Streams {
    pub fn new(settings: StreamSettings) -> Self {
        Self {
            settings,
            open: Arc::default(),
        }
    }

    /// Takes one of `user`'s stream slots; 429 naming the cap when all are
    /// taken. The slot is given back when the returned guard is dropped.
    pub fn take(&self, user: &UserId) -> Result<Slot> {
        let max = self.settings.max_per_user;
        let mut open = self.open.lock().expect("streams lock");
        let count = open.entry(user.clone()).or_default();
        if *count >= max {
            return Err(Error::TooManyRequests {
                message: format!("at most {max} live streams per user; close one"),
                retry_after: 5,
            });
        }
        *count += 1;
        crate::metrics::live_streams(1.0);
        Ok(Slot {
            streams: self.clone(),
            user: user.clone(),
        })
    }

    /// How many streams `user` has open.
    pub fn open(&self, user: &UserId) -> usize {
        let open = self.open.lock().expect("streams lock");
        open.get(user).copied().unwrap_or(0)
    }

    /// Opens a live stream for `access`: takes a slot (429 when none is
    /// left) and re-checks the caller's access every `recheck` until the
    /// lease is dropped.
    pub fn lease(
        &self,
        access: &TenantAccess,
        db: &Db,
        auth: &Arc<AuthState>,
        shutdown: &CancellationToken,
    ) -> Result<Lease> {
        let slot = self.take(&access.caller.user_id)?;
        let ended = shutdown.child_token();
        let every = self.settings.recheck;
        let (access, db, auth, end) = (access.clone(), db.clone(), auth.clone(), ended.clone());
        let checker = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = access.recheck(&db, &auth).await {
                    tracing::debug!(user = %access.caller.username, error = %e, "a live stream's access is gone");
                    end.cancel();
                    return;
                }
            }
        });
        Ok(Lease {
            _slot: slot,
            ended,
            checker: checker.abort_handle(),
        })
    }
}

/// One of a user's stream slots, given back on drop (the client went away,
/// or the stream ended).
pub struct Slot {
    streams: Streams,
    user: UserId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        crate::metrics::live_streams(-1.0);
        let mut open = self.streams.open.lock().expect("streams lock");
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// A live stream's hold: its slot, and the re-check of its access.
pub struct Lease {
    _slot: Slot,
    /// Cancelled when the access is gone or the server stops.
    ended: CancellationToken,
    checker: tokio::task::AbortHandle,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.checker.abort();
    }
}

impl Lease {
    /// `stream`, ended when the lease ends; the lease (and its slot) is held
    /// as long as the stream lives.
    pub fn hold<S>(self, stream: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
    {
        futures::stream::unfold((Box::pin(stream), self), |(mut stream, lease)| async move {
            let next = tokio::select! {
                biased;
                _ = lease.ended.cancelled() => None,
                next = stream.next() => next,
            };
            next.map(|item| (item, (stream, lease)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn streams(max: usize) -> Streams {
        Streams::new(StreamSettings {
            max_per_user: max,
            recheck: Duration::from_secs(30),
        })
    }

    #[test]
    fn each_user_has_their_own_slots_and_a_dropped_one_is_free_again() {
        let streams = streams(2);
        let (ann, bob) = (UserId::new("ann"), UserId::new("bob"));
        let first = streams.take(&ann).unwrap();
        let _second = streams.take(&ann).unwrap();
        let refused = streams.take(&ann).err().expect("a third is refused");
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(
            refused
                .to_string()
                .contains("at most 2 live streams per user"),
            "{refused}"
        );
        let _bobs = streams.take(&bob).expect("bob has his own");
        drop(first);
        assert_eq!(streams.open(&ann), 1);
        let _third = streams.take(&ann).expect("a closed stream frees its slot");
        assert_eq!(streams.open(&ann), 2);
    }

    #[test]
    fn no_slots_leave_nothing_behind() {
        let streams = streams(3);
        let ann = UserId::new("ann");
        let slots: Vec<_> = (0..3).map(|_| streams.take(&ann).unwrap()).collect();
        drop(slots);
        assert_eq!(streams.open(&ann), 0);
        assert!(streams.open.lock().unwrap().is_empty());
    }
}
