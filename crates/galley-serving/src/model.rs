//! Deployments: a registered model version served under a name, with its batching, scaling and
//! traffic settings. What is persisted; the running state lives in `service`.

use serde::{Deserialize, Serialize};

/// Which version a deployment asked for: a number, or an alias resolved when the deployment is
/// created or updated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionSelector {
    Version(i64),
    Alias(String),
}

/// A share of traffic sent to another version of the same model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficShare {
    pub version: i64,
    /// 0 to 100.
    pub percent: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSettings {
    pub max_batch_size: u32,
    pub max_batch_delay_ms: u32,
    /// Requests waiting per version at most; more are refused with 429.
    pub max_queue: u32,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max_batch_size: 32,
            max_batch_delay_ms: 2,
            max_queue: 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleSettings {
    pub min_replicas: u32,
    pub max_replicas: u32,
}

impl Default for ScaleSettings {
    fn default() -> Self {
        ScaleSettings {
            min_replicas: 1,
            max_replicas: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub name: String,
    pub model: String,
    pub selector: VersionSelector,
    /// The version taking the traffic (the selector, resolved).
    pub version: i64,
    /// The version served before the last change, for `rollback`.
    pub previous_version: Option<i64>,
    pub batch: BatchSettings,
    pub scale: ScaleSettings,
    /// Requests routed to another version instead of `version`.
    pub canary: Option<TrafficShare>,
    /// Requests copied to another version whose answers are recorded, never returned.
    pub shadow: Option<TrafficShare>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Deployment {
    /// Every version this deployment keeps loaded.
    pub fn versions(&self) -> Vec<i64> {
        let mut versions = vec![self.version];
        for share in [self.canary, self.shadow].into_iter().flatten() {
            if !versions.contains(&share.version) {
                versions.push(share.version);
            }
        }
        versions
    }
}
