//! The feature store domain: what features are (definitions), what applying a file changes
//! (plan), which features a request reads (selection), what an online value is and how stores
//! keep them (value, online), statistics, and the ports the feature store persists through.
//! Pure: no I/O, no clock, no Arrow.

pub mod definitions;
pub mod error;
pub mod online;
pub mod plan;
pub mod selection;
pub mod stats;
pub mod store;
pub mod value;

pub use error::{FeatureError, Result};
pub use online::OnlineStore;
pub use store::FeatureRegistryStore;
