//! The feature store at work: `FeatureService` serves every read from an in-memory snapshot of
//! the definitions, applies new ones all or nothing, builds training sets through the offline
//! engine, materializes views into the online store (on demand and on a schedule), answers
//! online reads with ttl and statuses, takes pushed rows, and reports freshness.

mod arrow_values;
mod freshness;
mod historical;
mod materialize;
mod online_reads;
mod service;
mod sources;

pub use arrow_values::{format_time, parse_time};
pub use historical::HistoricalRequest;
pub use materialize::MaterializeRequest;
pub use online_reads::{FeatureStatus, OnlineAnswer, OnlineColumn};
pub use service::{ApplyOptions, ApplyOutcome, FeatureService, Snapshot};
