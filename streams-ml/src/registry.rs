//! The shared registry of the models currently serving, fed from a model topic.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::metrics::{RegistryMetrics, RegistryMetricsSnapshot};
use crate::{Model, ModelEnvelope, ModelError};

/// What [`ModelRegistry::install`] or [`ModelRegistry::load`] did with a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// The model now serves; `replaced` is the version it replaced, if any.
    Serving {
        /// The version that served before.
        replaced: Option<u64>,
    },
    /// Ignored: the same version already serves (a replay, e.g. while restoring).
    SameVersion,
    /// Ignored: a higher version already serves (`current`).
    Stale {
        /// The version serving.
        current: u64,
    },
}

/// The models currently serving, by name, shared by every task of an application instance.
///
/// Readers get an `Arc<dyn Model>` and keep scoring with it while a new version is installed:
/// a swap is atomic between two records. The scoring operator checks
/// [`generation`](Self::generation) (a lock-free counter bumped on every change) before each
/// record and only takes the read lock when it changed.
///
/// **Version rule** (as Kafka's idempotent producers treat sequence numbers): a model is
/// installed only when its version is higher than the version serving under its name; the
/// same version is ignored as a replay and a lower one as stale, both counted in
/// [`RegistryMetricsSnapshot::ignored`]. A document that fails to load changes nothing: the
/// previous model keeps serving.
///
/// ```
/// use std::sync::Arc;
/// use streams_ml::{Installed, ModelEnvelope, ModelFormat, ModelRegistry};
///
/// let registry = Arc::new(ModelRegistry::new());
/// let doc = |c: f64| format!(r#"{{"model_type": "linear", "features": ["x"], "coefficients": [{c}], "intercept": 0}}"#);
/// let v = |version, c| ModelEnvelope::new(ModelFormat::JsonLinear, version, doc(c).into_bytes()).to_bytes();
///
/// assert_eq!(registry.load("double", &v(1, 2.0))?, Installed::Serving { replaced: None });
/// assert_eq!(registry.load("double", &v(1, 9.0))?, Installed::SameVersion);
/// assert!(registry.load("double", b"not a model").is_err()); // v1 keeps serving
/// assert_eq!(registry.load("double", &v(2, 3.0))?, Installed::Serving { replaced: Some(1) });
/// assert_eq!(registry.get("double").map(|m| m.version()), Some(2));
/// assert_eq!(registry.metrics().load_errors, 1);
/// # Ok::<(), streams_ml::ModelError>(())
/// ```
#[derive(Debug, Default)]
pub struct ModelRegistry {
    models: RwLock<BTreeMap<String, Arc<dyn Model>>>,
    generation: AtomicU64,
    metrics: RegistryMetrics,
}

impl ModelRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The model serving under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Model>> {
        self.models.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    /// A counter that changes whenever a model is installed or removed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The version serving under each name.
    pub fn versions(&self) -> BTreeMap<String, u64> {
        self.models
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, m)| (name.clone(), m.version()))
            .collect()
    }

    /// The registry's counters.
    pub fn metrics(&self) -> RegistryMetricsSnapshot {
        self.metrics.snapshot()
    }

    fn current_version(&self, name: &str) -> Option<u64> {
        self.models
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(|m| m.version())
    }

    fn ignored(&self, name: &str, version: u64, current: u64) -> Installed {
        self.metrics.ignored.fetch_add(1, Ordering::Relaxed);
        if version == current {
            tracing::debug!(model = name, version, "model version already serving; ignored");
            Installed::SameVersion
        } else {
            tracing::warn!(model = name, version, current, "stale model version ignored");
            Installed::Stale { current }
        }
    }

    /// Installs `model` under its name, following the version rule.
    pub fn install(&self, model: Arc<dyn Model>) -> Installed {
        let name = model.name().to_owned();
        let version = model.version();
        let mut models = self.models.write().unwrap_or_else(|e| e.into_inner());
        let replaced = models.get(&name).map(|m| m.version());
        if let Some(current) = replaced.filter(|&current| version <= current) {
            drop(models);
            return self.ignored(&name, version, current);
        }
        models.insert(name.clone(), model);
        self.generation.fetch_add(1, Ordering::Release);
        drop(models);
        self.metrics.loaded.fetch_add(1, Ordering::Relaxed);
        tracing::info!(model = %name, version, ?replaced, "model serving");
        Installed::Serving { replaced }
    }

    /// Loads a model-topic record (`name` = key, `bytes` = a [`ModelEnvelope`]) and installs
    /// it. The envelope's version is checked before the document is parsed, so a replayed or
    /// stale version costs no model load. A load failure is logged, counted and returned; the
    /// previous model keeps serving.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Installed, ModelError> {
        let loaded = ModelEnvelope::from_bytes(bytes).and_then(|envelope| {
            if let Some(current) = self.current_version(name).filter(|&c| envelope.version <= c) {
                return Ok(Err(self.ignored(name, envelope.version, current)));
            }
            envelope.load(name).map(Ok)
        });
        match loaded {
            Ok(Ok(model)) => Ok(self.install(model)),
            Ok(Err(ignored)) => Ok(ignored),
            Err(error) => {
                self.metrics.load_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(model = name, %error, "model document failed to load; the previous model keeps serving");
                Err(error)
            }
        }
    }

    /// Removes the model serving under `name` (a tombstone on the model topic).
    pub fn remove(&self, name: &str) -> Option<Arc<dyn Model>> {
        let removed = self.models.write().unwrap_or_else(|e| e.into_inner()).remove(name);
        if let Some(model) = &removed {
            self.generation.fetch_add(1, Ordering::Release);
            self.metrics.removed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(model = name, version = model.version(), "model removed");
        }
        removed
    }
}
