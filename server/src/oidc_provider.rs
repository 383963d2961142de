//! The single sign-on provider's metadata and signing keys (JWKS): read at
//! first use, read again on a timer, and read again early when an ID
//! token's signature does not verify with them — the provider has rotated
//! its keys — at most once per `FORCED_GAP`, so bad tokens cannot make
//! Trellis hammer the provider.

use crate::{Error, Result};
use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The least time between two refreshes caused by signature failures.
pub const FORCED_GAP: Duration = Duration::from_secs(30);

pub struct Provider {
    issuer: String,
    every: Duration,
    cached: RwLock<Option<CoreProviderMetadata>>,
    /// Serialises reads from the provider, so a burst of sign-ins reads once.
    reading: tokio::sync::Mutex<()>,
    last_forced: Mutex<Option<Instant>>,
}

impl Provider {
    /// The provider at `issuer`, read again every `every`.
    pub fn new(issuer: &str, every: Duration) -> Self {
        Self {
            issuer: issuer.to_owned(),
            every: every.max(Duration::from_secs(1)),
            cached: RwLock::new(None),
            reading: tokio::sync::Mutex::new(()),
            last_forced: Mutex::new(None),
        }
    }

    fn cached(&self) -> Option<CoreProviderMetadata> {
        self.cached
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The metadata and keys as last read, reading them if never yet.
    pub async fn metadata(&self) -> Result<CoreProviderMetadata> {
        if let Some(found) = self.cached() {
            return Ok(found);
        }
        let _reading = self.reading.lock().await;
        match self.cached() {
            Some(found) => Ok(found),
            None => self.read().await,
        }
    }

    /// Reads the metadata and keys again. On failure the ones already held
    /// stay in use (and the error is answered).
    pub async fn refresh(&self) -> Result<CoreProviderMetadata> {
        let _reading = self.reading.lock().await;
        self.read().await
    }

    /// After an ID token's signature did not verify: the metadata and keys
    /// read again, or `None` when that was already done less than
    /// `FORCED_GAP` ago.
    pub async fn refresh_after_signature_failure(&self) -> Result<Option<CoreProviderMetadata>> {
        {
            let mut last = self.last_forced.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < FORCED_GAP) {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        tracing::info!(issuer = %self.issuer, "an ID token's signature did not verify; reading the provider's keys again");
        self.refresh().await.map(Some)
    }

    /// Refreshes every `every` until `shutdown`; a failed read is logged and
    /// the keys already held stay in use.
    pub fn spawn_refresh(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(self.every) => {}
                }
                // Failures are logged where they happen.
                let _ = self.refresh().await;
            }
        });
    }

    async fn read(&self) -> Result<CoreProviderMetadata> {
        let issuer = IssuerUrl::new(self.issuer.clone())
            .map_err(|e| Error::Unavailable(format!("the OIDC issuer URL is invalid: {e}")))?;
        let found = CoreProviderMetadata::discover_async(issuer, &http_client()?)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, issuer = %self.issuer, "OIDC discovery failed");
                Error::Unavailable(format!(
                    "the single sign-on provider at {} does not answer: {e}",
                    self.issuer
                ))
            })?;
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Some(found.clone());
        Ok(found)
    }
}

/// The client every call to the provider goes through: no redirects, a
/// bounded wait.
pub fn http_client() -> Result<openidconnect::reqwest::Client> {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::Provider;
    use std::time::Duration;

    #[tokio::test]
    async fn signature_failures_refresh_at_most_once_per_gap() {
        // Nothing listens on port 1: every read fails, and says so.
        let provider = Provider::new("http://127.0.0.1:1", Duration::from_secs(3600));
        let first = provider.refresh_after_signature_failure().await;
        assert!(
            matches!(&first, Err(crate::Error::Unavailable(m)) if m.contains("does not answer")),
            "the first failure reads the provider again"
        );
        let second = provider.refresh_after_signature_failure().await;
        assert!(
            matches!(second, Ok(None)),
            "a second failure at once does not"
        );
    }
}
