//! `FeatureService`: the registry snapshot every read is served from, and applying definitions
//! (checked against their source files, planned, refused when breaking unless forced).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use galley_artifacts::ArtifactStore;
use galley_core::time::now_millis;
use galley_features::definitions::Definitions;
use galley_features::plan::{plan, Plan};
use galley_features::store::Materialization;
use galley_features::{FeatureError, FeatureRegistryStore, OnlineStore, Result};
use serde::Serialize;

use crate::sources::SourceResolver;

/// The definitions every read works from: replaced whole, never changed in place.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// 0 before the first apply.
    pub version: i64,
    pub applied_at: i64,
    pub definitions: Definitions,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ApplyOptions {
    /// Apply even if the plan breaks readers.
    pub force: bool,
    /// Only plan.
    pub dry_run: bool,
}

#[derive(Debug, Serialize)]
pub struct ApplyOutcome {
    pub plan: Plan,
    /// Whether the definitions were stored (false for a dry run or an empty plan).
    pub applied: bool,
    pub version: i64,
}

#[derive(Clone)]
pub struct FeatureService {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn FeatureRegistryStore>,
    pub(crate) online: Arc<dyn OnlineStore>,
    pub(crate) sources: SourceResolver,
    /// Readers clone the `Arc` under the lock and work from it, so a refresh that reads the
    /// store never holds the lock: the write lock is taken only to swap the pointer.
    snapshot: RwLock<Arc<Snapshot>>,
    /// Newest event time per feature view seen online (materialized or pushed), for freshness.
    pub(crate) newest_event: Mutex<HashMap<String, i64>>,
    /// Spill files of large joins and sources fetched from the artifact store.
    pub(crate) work_dir: PathBuf,
    /// Background loops watch this and end when it turns true.
    stop: tokio::sync::watch::Sender<bool>,
    loops: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl FeatureService {
    /// `work_dir` holds spill files of large joins and sources fetched from the artifact store.
    pub async fn new(
        store: Arc<dyn FeatureRegistryStore>,
        online: Arc<dyn OnlineStore>,
        artifacts: ArtifactStore,
        work_dir: PathBuf,
    ) -> Result<Self> {
        std::fs::create_dir_all(&work_dir).map_err(|e| {
            FeatureError::Unavailable(format!("cannot create {}: {e}", work_dir.display()))
        })?;
        let service = Self {
            inner: Arc::new(Inner {
                store,
                online,
                sources: SourceResolver::new(artifacts, work_dir.clone()),
                snapshot: RwLock::new(Arc::new(Snapshot::default())),
                newest_event: Mutex::new(HashMap::new()),
                work_dir,
                stop: tokio::sync::watch::channel(false).0,
                loops: Mutex::new(Vec::new()),
            }),
        };
        service.refresh().await?;
        Ok(service)
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn swap(&self, snapshot: Snapshot) {
        let mut current = self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(|e| e.into_inner());
        // Never go back: a slow refresh must not undo a newer apply made on this server.
        if snapshot.version >= current.version {
            *current = Arc::new(snapshot);
        }
    }

    /// Reloads the definitions if another replica applied newer ones.
    pub async fn refresh(&self) -> Result<()> {
        if let Some(stored) = self.inner.store.definitions().await? {
            if stored.version > self.snapshot().version {
                self.swap(Snapshot {
                    version: stored.version,
                    applied_at: stored.applied_at,
                    definitions: stored.definitions,
                });
            }
        }
        Ok(())
    }

    /// Keeps the snapshot current with other replicas' applies. Reads never wait for it.
    pub fn start_refresh(&self, interval: Duration) {
        self.every(interval, |service| async move {
            if let Err(error) = service.refresh().await {
                tracing::warn!(%error, "cannot refresh the feature definitions");
            }
        });
    }

    /// Runs `round` every `interval` (the first right away) until [`FeatureService::stop`].
    pub(crate) fn every<F, R>(&self, interval: Duration, round: F)
    where
        F: Fn(FeatureService) -> R + Send + 'static,
        R: std::future::Future<Output = ()> + Send,
    {
        let service = self.clone();
        let mut stopped = self.inner.stop.subscribe();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tokio::select! {
                    _ = tick.tick() => round(service.clone()).await,
                    _ = stopped.changed() => break,
                }
            }
        });
        self.inner
            .loops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Ends the background loops (after a round in progress) and waits for them, so the online
    /// store is released when the last handle to the service goes.
    pub async fn stop(&self) {
        self.inner.stop.send_replace(true);
        let loops =
            std::mem::take(&mut *self.inner.loops.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in loops {
            let _ = handle.await;
        }
    }

    /// Validates `definitions`, checks every feature view against its source's columns, plans
    /// the change from the stored definitions and stores the new ones in one compare-and-set:
    /// either all of it is applied or none. Online rows of views that were deleted, taken
    /// offline or re-keyed are removed afterwards.
    pub async fn apply(
        &self,
        definitions: Definitions,
        options: ApplyOptions,
    ) -> Result<ApplyOutcome> {
        let definitions = definitions.validated()?;
        self.inner.sources.check(&definitions).await?;
        let stored = self.inner.store.definitions().await?;
        let (current, version) = match stored {
            Some(s) => (s.definitions, s.version),
            None => (Definitions::default(), 0),
        };
        let plan = plan(&current, &definitions);
        let breaking = plan.breaking();
        if !breaking.is_empty() && !options.force {
            return Err(FeatureError::Conflict(format!(
                "the definitions would break readers (apply with force to do it anyway): {}",
                breaking.join("; ")
            )));
        }
        if options.dry_run || plan.is_empty() {
            return Ok(ApplyOutcome {
                plan,
                applied: false,
                version,
            });
        }
        let applied_at = now_millis();
        let version = self
            .inner
            .store
            .put_definitions(&definitions, version, applied_at)
            .await?;
        let cleared = plan.views_to_clear(&current, &definitions);
        self.swap(Snapshot {
            version,
            applied_at,
            definitions,
        });
        for view in cleared {
            // The definitions are already stored; leftover rows of a view nobody can name are
            // harmless, and the next apply that clears it tries again.
            if let Err(error) = self.inner.online.delete_view(&view).await {
                tracing::warn!(%error, view, "cannot remove a feature view's online rows");
            }
            self.inner
                .newest_event
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&view);
        }
        tracing::info!(
            version,
            changes = plan.changes.len(),
            "feature definitions applied"
        );
        Ok(ApplyOutcome {
            plan,
            applied: true,
            version,
        })
    }

    /// A view's materializations, newest first.
    pub async fn materializations(&self, view: &str, limit: u32) -> Result<Vec<Materialization>> {
        if self.snapshot().definitions.view(view).is_none() {
            return Err(FeatureError::NotFound(format!(
                "unknown feature view {view:?}"
            )));
        }
        self.inner.store.materializations(view, limit).await
    }
}
