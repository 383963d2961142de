//! The per-cluster poller behind every EMR watch: the steps of one cluster
//! that are due are read ten at a time with `ListSteps`, each at its own
//! growing interval with jitter.

use super::*;

impl EmrExecutor {
    /// Waits until the step ends. One poller per cluster reads the states
    /// of the watched steps that are due with `ListSteps`, ten step ids a
    /// call; each step is read again after its own interval, from
    /// `polling.min` growing by half per read up to `polling.max`, varied by
    /// ±20 % so thousands of watches spread out.
    pub(super) async fn watch(self: &Arc<Self>, tenant: &TenantId, step: &StepRef) -> Outcome {
        let key = ClusterKey {
            tenant: tenant.clone(),
            connection: step.connection.clone(),
            cluster: step.cluster.clone(),
        };
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut watched = self.watched.lock().expect("watched steps");
            let entry = watched.entry(key.clone()).or_insert_with(|| Watched {
                generation: self
                    .generations
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                ..Watched::default()
            });
            let interval = self.polling.min;
            entry
                .steps
                .entry(step.step.clone())
                .or_insert_with(|| Watch {
                    waiting: Vec::new(),
                    interval,
                    due: tokio::time::Instant::now() + interval,
                })
                .waiting
                .push(tx);
            (!std::mem::replace(&mut entry.polling, true)).then_some(entry.generation)
        };
        if let Some(generation) = start {
            let executor = self.clone();
            tokio::spawn(async move { executor.poll(key, generation).await });
        }
        rx.await.unwrap_or(Outcome::Failed {
            error: "the EMR poller stopped".into(),
        })
    }

    /// Follows one cluster's watched steps until none is left, or until
    /// they were ended (their connection was deleted).
    async fn poll(self: Arc<Self>, key: ClusterKey, generation: u64) {
        let mut errors = 0;
        loop {
            let now = tokio::time::Instant::now();
            let due: Vec<String> = {
                let mut watched = self.watched.lock().expect("watched steps");
                let Some(entry) = watched.get_mut(&key).filter(|e| e.generation == generation)
                else {
                    return;
                };
                entry.steps.retain(|_, w| {
                    w.waiting.retain(|s| !s.is_closed());
                    !w.waiting.is_empty()
                });
                if entry.steps.is_empty() {
                    watched.remove(&key);
                    return;
                }
                entry
                    .steps
                    .iter()
                    .filter(|(_, w)| w.due <= now)
                    .map(|(id, _)| id.clone())
                    .collect()
            };
            if !due.is_empty() {
                match self.read_states(&key, &due).await {
                    Ok(ended) => {
                        errors = 0;
                        let mut watched = self.watched.lock().expect("watched steps");
                        let Some(entry) =
                            watched.get_mut(&key).filter(|e| e.generation == generation)
                        else {
                            return;
                        };
                        for (id, outcome) in ended {
                            for sender in entry
                                .steps
                                .remove(&id)
                                .map(|w| w.waiting)
                                .unwrap_or_default()
                            {
                                let _ = sender.send(outcome.clone());
                            }
                        }
                        let mut rng = rand::thread_rng();
                        for id in &due {
                            if let Some(w) = entry.steps.get_mut(id) {
                                w.interval = w.interval.mul_f64(1.5).min(self.polling.max);
                                w.due = tokio::time::Instant::now()
                                    + w.interval.mul_f64(rng.gen_range(0.8..1.2));
                            }
                        }
                    }
                    Err(ConnError::Deleted) => {
                        self.end_watches(&key.tenant, &key.connection);
                        return;
                    }
                    Err(ConnError::Failed(error)) => {
                        errors += 1;
                        self.forget(&key.tenant, &key.connection);
                        tracing::warn!(%error, cluster = %key.cluster, "reading EMR step states failed; trying again");
                        if errors >= 10 {
                            let mut watched = self.watched.lock().expect("watched steps");
                            let ours = watched
                                .get(&key)
                                .is_some_and(|e| e.generation == generation);
                            if let Some(entry) = ours.then(|| watched.remove(&key)).flatten() {
                                for sender in entry.steps.into_values().flat_map(|w| w.waiting) {
                                    let _ = sender.send(Outcome::Failed {
                                        error: format!("lost track of the step: {error}"),
                                    });
                                }
                            }
                            return;
                        }
                    }
                }
            }
            // Sleep until the next step is due, but never past the shortest
            // interval, so steps added meanwhile are read on time.
            let next = {
                let watched = self.watched.lock().expect("watched steps");
                watched
                    .get(&key)
                    .and_then(|e| e.steps.values().map(|w| w.due).min())
            };
            let latest = tokio::time::Instant::now() + self.polling.min;
            let wake = next
                .map_or(latest, |n| n.min(latest))
                .max(tokio::time::Instant::now() + Duration::from_millis(10));
            tokio::time::sleep_until(wake).await;
        }
    }

    /// The steps of `ids` that have ended, with how.
    async fn read_states(
        &self,
        key: &ClusterKey,
        ids: &[String],
    ) -> Result<Vec<(String, Outcome)>, ConnError> {
        let (client, _) = self.client(&key.tenant, &key.connection).await?;
        let mut ended = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let out = client
                .list_steps()
                .cluster_id(&key.cluster)
                .set_step_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| {
                    ConnError::Failed(format!(
                        "listing steps: {}",
                        aws_sdk_emr::error::DisplayErrorContext(&e)
                    ))
                })?;
            for summary in out.steps() {
                let (Some(id), Some(status)) = (summary.id(), summary.status()) else {
                    continue;
                };
                if let Some(outcome) = outcome(id, status) {
                    ended.push((id.to_owned(), outcome));
                }
            }
            // A step EMR does not know ends its watch.
            for id in chunk {
                if !out.steps().iter().any(|s| s.id() == Some(id.as_str())) {
                    ended.push((
                        id.clone(),
                        Outcome::Failed {
                            error: format!(
                                "EMR does not know step {id} on cluster {}",
                                key.cluster
                            ),
                        },
                    ));
                }
            }
        }
        Ok(ended)
    }
}
