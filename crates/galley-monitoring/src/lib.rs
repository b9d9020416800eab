//! Monitoring domain: drift statistics that match Evidently's defaults, reference profiles,
//! performance metrics from ground truth, what monitoring persists and the store port. Pure: no
//! I/O, no clock.
//!
//! - [`profile`]: a column's values summarised once (exact distinct values and counts, compressed
//!   beyond a bound) so comparisons never re-read the reference data.
//! - [`stats`]: the statistical tests and distances, each matching its scipy/Evidently definition.
//! - [`drift`]: which test applies to a column (Evidently's defaults, overridable) and the dataset verdict.
//! - [`performance`]: classification and regression metrics once labels arrive.
//! - [`alerts`]: alert rules on evaluation results and when they fire.
//! - [`model`], [`store`]: prediction files, labels, reference records, results, alert events;
//!   the store port.

pub mod alerts;
pub mod drift;
mod error;
pub mod model;
pub mod performance;
pub mod profile;
pub mod stats;
pub mod store;
pub mod validation;

pub use error::{MonitoringError, Result};
pub use store::MonitoringStore;
