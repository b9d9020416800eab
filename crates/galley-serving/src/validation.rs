//! The rules a deployment must satisfy before anything is loaded or stored.

use crate::error::{Result, ServingError};
use crate::model::{Deployment, TrafficShare};

pub const MAX_NAME_LENGTH: usize = 63;
pub const MAX_BATCH_SIZE: u32 = 4096;
pub const MAX_BATCH_DELAY_MS: u32 = 10_000;
pub const MAX_QUEUE: u32 = 1_000_000;
/// In-process replicas are worker slots on this machine's cores; more than this only thrashes.
pub const MAX_REPLICAS: u32 = 64;

fn invalid(message: String) -> ServingError {
    ServingError::InvalidInput(message)
}

/// Deployment names appear in URL paths (`/v2/models/{name}`), so they stay path-safe.
pub fn validate_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !first_ok || !rest_ok || name.len() > MAX_NAME_LENGTH {
        return Err(invalid(format!(
            "Invalid deployment name '{name}': use 1 to {MAX_NAME_LENGTH} letters, digits, '_', '-' \
             or '.', starting with a letter or digit."
        )));
    }
    Ok(())
}

fn in_range(field: &str, value: u32, min: u32, max: u32) -> Result<()> {
    if value < min || value > max {
        return Err(invalid(format!(
            "{field} must be between {min} and {max}, got {value}."
        )));
    }
    Ok(())
}

fn share(field: &str, share: Option<TrafficShare>, primary: i64) -> Result<()> {
    let Some(share) = share else { return Ok(()) };
    if share.percent > 100 {
        return Err(invalid(format!(
            "{field} percent must be between 0 and 100, got {}.",
            share.percent
        )));
    }
    if share.version == primary {
        return Err(invalid(format!(
            "{field} version {} is the version already serving; pick another version.",
            share.version
        )));
    }
    Ok(())
}

pub fn validate_deployment(d: &Deployment) -> Result<()> {
    validate_name(&d.name)?;
    in_range("max_batch_size", d.batch.max_batch_size, 1, MAX_BATCH_SIZE)?;
    in_range(
        "max_batch_delay_ms",
        d.batch.max_batch_delay_ms,
        0,
        MAX_BATCH_DELAY_MS,
    )?;
    in_range("max_queue", d.batch.max_queue, 1, MAX_QUEUE)?;
    in_range("min_replicas", d.scale.min_replicas, 1, MAX_REPLICAS)?;
    in_range(
        "max_replicas",
        d.scale.max_replicas,
        d.scale.min_replicas,
        MAX_REPLICAS,
    )?;
    share("canary", d.canary, d.version)?;
    share("shadow", d.shadow, d.version)?;
    if !(0.0..=1.0).contains(&d.log_sample_rate) {
        return Err(ServingError::InvalidInput(format!(
            "log_sample_rate must be between 0 and 1, got {}",
            d.log_sample_rate
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BatchSettings, ScaleSettings, VersionSelector};

    fn deployment() -> Deployment {
        Deployment {
            name: "fraud-v1".into(),
            model: "fraud".into(),
            selector: VersionSelector::Version(1),
            version: 1,
            previous_version: None,
            batch: BatchSettings::default(),
            scale: ScaleSettings::default(),
            canary: None,
            shadow: None,
            log_sample_rate: 1.0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn names_stay_path_safe() {
        for ok in ["fraud", "fraud-v1.2", "a_b", "9lives"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a/b", "a b", "x?y", &"a".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_and_shares_are_bounded() {
        assert!(validate_deployment(&deployment()).is_ok());
        for rate in [-0.1, 1.5, f64::NAN] {
            let mut d = deployment();
            d.log_sample_rate = rate;
            assert!(validate_deployment(&d).is_err(), "log_sample_rate {rate}");
        }
        let mut d = deployment();
        d.batch.max_batch_size = 0;
        assert!(validate_deployment(&d).is_err());
        let mut d = deployment();
        d.scale = ScaleSettings {
            min_replicas: 4,
            max_replicas: 2,
        };
        assert!(validate_deployment(&d).is_err());
        let mut d = deployment();
        d.canary = Some(TrafficShare {
            version: 1,
            percent: 10,
        });
        assert!(
            validate_deployment(&d).is_err(),
            "canary on the serving version"
        );
        d.canary = Some(TrafficShare {
            version: 2,
            percent: 101,
        });
        assert!(validate_deployment(&d).is_err());
        d.canary = Some(TrafficShare {
            version: 2,
            percent: 10,
        });
        assert!(validate_deployment(&d).is_ok());
    }
}
