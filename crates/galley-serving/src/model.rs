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

/// By default every answered request is logged for monitoring: drift detection works without
/// configuration, and a deployment that cannot afford it lowers the rate.
pub const DEFAULT_LOG_SAMPLE_RATE: f64 = 1.0;

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
    /// Share of answered requests (0 to 1) whose inputs and outputs go to monitoring.
    pub log_sample_rate: f64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a version does in a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Serving,
    Canary,
    Shadow,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Serving => "serving",
            Role::Canary => "canary",
            Role::Shadow => "shadow",
        }
    }
}

impl Deployment {
    /// The part `version` plays here, if any.
    pub fn role_of(&self, version: i64) -> Option<Role> {
        if version == self.version {
            Some(Role::Serving)
        } else if self.canary.is_some_and(|c| c.version == version) {
            Some(Role::Canary)
        } else if self.shadow.is_some_and(|s| s.version == version) {
            Some(Role::Shadow)
        } else {
            None
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_loaded_version_has_one_role() {
        let d = Deployment {
            name: "d".into(),
            model: "m".into(),
            selector: VersionSelector::Version(1),
            version: 1,
            previous_version: None,
            batch: BatchSettings::default(),
            scale: ScaleSettings::default(),
            canary: Some(TrafficShare {
                version: 2,
                percent: 10,
            }),
            shadow: Some(TrafficShare {
                version: 3,
                percent: 100,
            }),
            log_sample_rate: 1.0,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(d.versions(), vec![1, 2, 3]);
        let roles: Vec<_> = (1..=4).map(|v| d.role_of(v)).collect();
        assert_eq!(
            roles,
            [
                Some(Role::Serving),
                Some(Role::Canary),
                Some(Role::Shadow),
                None
            ]
        );
    }
}
