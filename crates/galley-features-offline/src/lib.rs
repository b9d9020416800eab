//! The feature store's offline engine, over Arrow record batches: the point-in-time join of an
//! entity dataframe onto feature sources (`asof`, with `runs` sorting and spilling its feature
//! side), the latest row per entity in a window for materialization (`latest`), sources that
//! are a file or a folder of files (`source`), and answers written as Parquet or CSV
//! (`output`). Synchronous; knows nothing of the registry, YAML or HTTP.

mod asof;
mod error;
mod keys;
mod latest;
mod output;
mod runs;
mod source;
mod times;

pub use asof::{point_in_time_join, EntityFrame, FeatureColumn, JoinOptions, Joined, ViewJoin};
pub use error::OfflineError;
pub use latest::{latest_per_entity, LatestRows, LatestSpec, LATEST_CHUNK_ROWS};
pub use output::{write_batches, write_output, write_output_file, OutputFormat};
pub use source::OfflineSource;
pub use times::{is_time, time_at};
